import { DiscoDBError, corrupt } from '../errors.js';

/** Magic number of every discodb image (spec §2), as its 8 little-endian bytes. */
export const MAGIC_BYTES = Uint8Array.of(0x5b, 0xde, 0x14, 0x1d, 0xe6, 0x5b, 0xd8, 0x04);
export const HEADER_SIZE = 72;

/** Header flag bits (spec §2). */
export const F_HASH = 1;
export const F_MULTISET = 2;
export const F_COMPRESSED = 4;

/** Finalize option bits of the C library (spec §8). */
export const OPT_DISABLE_COMPRESSION = 1;
export const OPT_UNIQUE_ITEMS = 2;

/** Keys above this count get a CHD perfect hash (the C writer hashes iff N > 25). */
export const HASH_MIN_KEYS = 25;

/** Size of the Huffman codebook section: 65 536 entries of 8 bytes. */
export const CODEBOOK_SIZE = 65536 * 8;

/** The 72-byte header, with every u64 as a number (checked < 2^53). */
export interface Header {
  size: number;
  numKeys: number;
  numUniqueValues: number;
  numValues: number;
  flags: number;
  key2valuesOffset: number;
  id2valueOffset: number;
  hashOffset: number;
  codebookOffset: number;
}

/** Reads a u64 at `off` as a number; corrupt if it does not fit in 2^53. */
export function readU64(view: DataView, off: number, what: string): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  if (hi >= 0x200000) throw corrupt(`${what} does not fit in 53 bits`, off);
  return hi * 4294967296 + lo;
}

/** Writes a u64 (a number < 2^53) at `off`. */
export function writeU64(view: DataView, off: number, value: number): void {
  view.setUint32(off, value % 4294967296, true);
  view.setUint32(off + 4, Math.floor(value / 4294967296), true);
}

/**
 * Parses and sanity-checks the header of an image of `available` bytes. Checks
 * what the C reader checks (length, magic, size) and, unlike it, that every
 * section offset lies inside the image.
 */
export function parseHeader(view: DataView, available: number): Header {
  if (available < HEADER_SIZE) {
    throw new DiscoDBError(
      'ERR_DISCODB_CORRUPT',
      `not a discodb: ${available} bytes is smaller than the ${HEADER_SIZE}-byte header (at byte offset 0)`,
      { offset: 0 },
    );
  }
  for (let i = 0; i < 8; i++) {
    if (view.getUint8(i) !== MAGIC_BYTES[i]) throw corrupt('not a discodb: wrong magic number', 0);
  }
  const header: Header = {
    size: readU64(view, 8, 'image size'),
    numKeys: view.getUint32(16, true),
    numUniqueValues: view.getUint32(20, true),
    numValues: readU64(view, 24, 'num_values'),
    flags: readU64(view, 32, 'flags') % 4294967296,
    key2valuesOffset: readU64(view, 40, 'key2values offset'),
    id2valueOffset: readU64(view, 48, 'id2value offset'),
    hashOffset: readU64(view, 56, 'hash offset'),
    codebookOffset: readU64(view, 64, 'codebook offset'),
  };
  if (header.size > available) {
    throw corrupt(`truncated image: header says ${header.size} bytes but only ${available} are available`, 8);
  }
  if (header.size < HEADER_SIZE) throw corrupt(`image size ${header.size} is smaller than the header`, 8);
  const inside = (off: number, len: number, what: string, at: number): void => {
    if (off < HEADER_SIZE || off + len > header.size) {
      throw corrupt(`${what} [${off}, ${off + len}) lies outside the image of ${header.size} bytes`, at);
    }
  };
  inside(header.key2valuesOffset, (header.numKeys + 1) * 8, 'key table', 40);
  inside(header.id2valueOffset, (header.numUniqueValues + 1) * 8, 'value table', 48);
  if (header.flags & F_HASH) inside(header.hashOffset, 12, 'hash section', 56);
  if (header.flags & F_COMPRESSED) inside(header.codebookOffset, CODEBOOK_SIZE, 'codebook', 64);
  return header;
}

/** Serialises a header into 72 bytes. */
export function serializeHeader(h: Header): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  out.set(MAGIC_BYTES, 0);
  writeU64(view, 8, h.size);
  view.setUint32(16, h.numKeys, true);
  view.setUint32(20, h.numUniqueValues, true);
  writeU64(view, 24, h.numValues);
  writeU64(view, 32, h.flags);
  writeU64(view, 40, h.key2valuesOffset);
  writeU64(view, 48, h.id2valueOffset);
  writeU64(view, 56, h.hashOffset);
  writeU64(view, 64, h.codebookOffset);
  return out;
}
