/**
 * The key records (spec §3.1): the key TOC and, for record i, its extent,
 * key bytes and value-id list. One locator validates a record in place
 * (extent inside the key section, key length inside the record) without
 * allocating; everything that reads a record goes through it.
 */
import { corrupt } from '../errors.js';
import type { Header } from '../format/header.js';
import { DeltaCursor, EMPTY_CURSOR, type IdCursor, type SkipIndexSource } from './cursor.js';
import type { ImageSource } from './source.js';
import { TocCopy } from './toc.js';

/** Where record i's list lies, for decoders that keep their own state. */
export interface ListExtent {
  /** Buffer holding the stream (the image, or a copy on the pread route). */
  buf: Uint8Array;
  /** First byte of the stream in `buf`. */
  start: number;
  /** Reads stop here: just past the list's bytes, or up to 3 bytes further inside the image. */
  end: number;
  count: number;
  width: number;
}

/** What {@link RecordLocator.hashKey} hashes a key with (the perfect hash's fingerprint). */
export interface KeyHash {
  fingerprintOf(buf: Uint8Array, start: number, len: number): number;
}

export class RecordLocator {
  private readonly src: ImageSource;
  private readonly toc: number;
  private readonly tocEnd: number;
  private readonly size: number;
  readonly numKeys: number;
  /** The record last located: validated [start, end) and key length. */
  start = 0;
  end = 0;
  keyLength = 0;
  /** Index of the record last located (start/end/keyLength hold it), or -1. */
  private located = -1;

  constructor(src: ImageSource, header: Header) {
    this.src = src;
    this.toc = header.key2valuesOffset;
    this.tocEnd = header.key2valuesOffset + 8 * (header.numKeys + 1);
    this.size = header.size;
    this.numKeys = header.numKeys;
  }

  /**
   * The key TOC copied into memory once the db is looked up often (see
   * {@link index}): record i spans [offsets[i], offsets[i + 1]). Entries that
   * do not fit are stored as 0xffffffff, which fails validation and sends
   * that record to the image read (and its error).
   */
  private offsets: TocCopy | null = null;

  /**
   * Copies the key TOC into memory (2–4 bytes per key, read sequentially) when
   * it takes at most `maxBytes` and the image is under 4 GiB, so that a lookup
   * reads one small in-memory entry instead of two u64 of the image (a cache
   * and TLB miss on a mapping, a system call on the pread route). Returns
   * whether the copy is in use.
   */
  index(maxBytes: number): boolean {
    if (this.offsets !== null) return true;
    const n = this.numKeys;
    const src = this.src;
    if (this.size >= 0xffffffff || 4 * (n + 1) > maxBytes || !(this.tocEnd <= src.length)) return false;
    this.offsets = TocCopy.copy(src, this.toc, n + 1);
    return true;
  }

  /** Drops the in-memory TOC (at close). */
  dropIndex(): void {
    this.offsets = null;
    this.located = -1;
  }

  /** Validates record `i` into start/end/keyLength. */
  locate(i: number): void {
    // The image is immutable: a record validated once stays valid (a `get` locates it for the key compare, then for its list).
    if (i === this.located) return;
    const t = this.offsets;
    if (t !== null && i >= 0 && i < this.numKeys) {
      const start = t.at(i);
      const end = t.at(i + 1);
      if (start >= this.tocEnd && end >= start + 8 && end <= this.size) {
        const len = this.src.u32(start);
        if (len <= end - start - 8) {
          this.start = start;
          this.end = end;
          this.keyLength = len;
          this.located = i;
          return;
        }
      }
    }
    this.locateInImage(i);
  }

  /** {@link locate} from the TOC in the image (and the error, when it is corrupt). */
  private locateInImage(i: number): void {
    const src = this.src;
    const at = this.toc + 8 * i;
    const start = src.u64(at);
    const end = src.u64(at + 8);
    if (start < this.tocEnd || end < start + 8 || end > this.size) {
      throw corrupt(`key record ${i} has an invalid extent [${start}, ${end})`, at);
    }
    const len = src.u32(start);
    if (len > end - start - 8) throw corrupt(`key record ${i}: key length ${len} overruns the record`, start);
    this.start = start;
    this.end = end;
    this.keyLength = len;
    this.located = i;
  }

  /** True when record `i`'s key is `key[0, len)`, compared in place. */
  keyEquals(i: number, key: Uint8Array, len: number): boolean {
    this.locate(i);
    if (this.keyLength !== len) return false;
    const stored = this.src.window(this.start + 4, len);
    const at = this.src.at;
    for (let j = 0; j < len; j++) if (stored[at + j] !== key[j]) return false;
    return true;
  }

  /** `hash(bytes, at, len)` of record `i`'s key, read in place (for the key fingerprint table). */
  hashKey(i: number, hash: KeyHash): number {
    this.locate(i);
    const len = this.keyLength;
    const w = this.src.window(this.start + 4, len);
    return hash.fingerprintOf(w, this.src.at, len);
  }

  /** Key bytes of record `i` (a view of a memory image, a copy on pread). */
  keyBytes(i: number): Buffer {
    this.locate(i);
    return this.src.bytes(this.start + 4, this.keyLength);
  }

  /** Key of record `i` as a string, made once from the bytes. */
  keyString(i: number): string {
    this.locate(i);
    const whole = this.src.whole;
    if (whole !== null) return whole.toString('utf8', this.start + 4, this.start + 4 + this.keyLength);
    return this.src.bytes(this.start + 4, this.keyLength).toString('utf8');
  }

  /** Number of ids stored in record `i` (duplicates included, as the C resultset size). */
  listCount(i: number): number {
    this.locate(i);
    return this.src.u32(this.start + 4 + this.keyLength);
  }

  /**
   * Validates record `i`'s list and fills `out` with where it lies; false for
   * an empty list. The bit stream must hold `count` deltas of its width.
   */
  list(i: number, out: ListExtent): boolean {
    this.locate(i);
    const src = this.src;
    const countAt = this.start + 4 + this.keyLength;
    const count = src.u32(countAt);
    if (count === 0) return false;
    const streamStart = countAt + 4;
    const streamLen = this.end - streamStart;
    if (streamLen < 1) throw corrupt(`key record ${i}: ${count} ids but no bit stream`, countAt);
    const width = (src.u8(streamStart) & 31) + 1;
    const needed = Math.ceil((5 + count * width) / 8);
    if (needed > streamLen) {
      throw corrupt(`key record ${i}: ${count} ids of ${width} bits need ${needed} bytes, the record has ${streamLen}`, countAt);
    }
    out.count = count;
    out.width = width;
    // `end` is where reads stop (bytes past it read as zero). Letting a 32-bit load run up to 3 bytes
    // past the list (into the next record or section, never past the image) keeps every delta on the
    // one-load path; the masked delta never depends on those bytes.
    const readable = Math.min(needed + 3, src.length - streamStart);
    const whole = src.whole;
    if (whole !== null) {
      out.buf = whole;
      out.start = streamStart;
      out.end = streamStart + readable;
    } else {
      out.buf = copyOut(src, streamStart, readable);
      out.start = 0;
      out.end = readable;
    }
    return true;
  }

  private readonly scratch: ListExtent = { buf: new Uint8Array(0), start: 0, end: 0, count: 0, width: 1 };

  /** A fresh cursor over record `i`'s ascending value ids (empty for -1). */
  idCursor(i: number, skipSource: SkipIndexSource | null): IdCursor {
    if (i < 0) return EMPTY_CURSOR;
    const l = this.scratch;
    if (!this.list(i, l)) return EMPTY_CURSOR;
    const c = new DeltaCursor(l.buf, l.start, l.end, l.count, l.width, skipSource, i);
    l.buf = EMPTY;
    return c;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * A copy of image bytes [off, off + len) for a decoder that outlives the
 * pread route's block cache: short ranges (most lists) by a loop into a
 * plain Uint8Array, which costs a fraction of `Buffer.from(subarray)`.
 */
function copyOut(src: ImageSource, off: number, len: number): Uint8Array {
  if (len > 64) return src.bytes(off, len);
  const w = src.window(off, len);
  const at = src.at;
  const out = new Uint8Array(len);
  for (let j = 0; j < len; j++) out[j] = w[at + j]!;
  return out;
}
