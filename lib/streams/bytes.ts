/**
 * The byte-level core every record parser stands on: a Duplex from bytes to records with
 * per-record backpressure (stream-chain's `asStream`), a byte-order-mark filter, a list of
 * pieces that is joined once (never re-concatenated per chunk), and strict UTF-8 checks.
 *
 * Parsers scan only the bytes of each new chunk: the work per byte is constant, so time is
 * linear in the input and memory a small multiple of the longest line or cell.
 */
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { asStream } from 'stream-chain';
import { flushable, many, none } from 'stream-chain/defs.js';
import type { DiscoDBRecord } from './fields.js';

/**
 * Turns one chunk of bytes into records; `null` marks the end of the input (flush). May throw
 * (a `DiscoDBError`), which fails the stream.
 */
export type ChunkParser = (chunk: Buffer | null) => DiscoDBRecord[];

const BOM = [0xef, 0xbb, 0xbf];

/**
 * Makes the Duplex around `parse`: bytes in (strings are taken as UTF-8), records out, one
 * at a time so that a slow reader holds the parser back however many records a chunk holds.
 * A leading UTF-8 byte-order mark is dropped before `parse` sees the bytes.
 */
export function byteRecordStream(parse: ChunkParser, highWaterMark?: number): Duplex {
  let head: Buffer | null = Buffer.alloc(0); // bytes held until the BOM question is settled
  const feed = (chunk: Buffer | null): DiscoDBRecord[] => {
    if (head !== null) {
      const joined = chunk === null ? head : head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      let same = 0;
      while (same < joined.length && same < 3 && joined[same] === BOM[same]) same++;
      if (same === joined.length && same < 3 && chunk !== null) {
        head = joined; // still a possible BOM prefix: wait for more bytes
        return [];
      }
      head = null;
      const body = same === 3 ? joined.subarray(3) : joined;
      if (chunk === null) return body.length === 0 ? parse(null) : [...parse(body), ...parse(null)];
      return parse(body);
    }
    return parse(chunk);
  };
  const stage = flushable((chunk: Uint8Array | string | typeof none) => {
    const out =
      chunk === none ? feed(null) : feed(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
    return out.length === 0 ? none : out.length === 1 ? out[0] : many(out);
  });
  return asStream(stage, {
    writableObjectMode: false,
    readableObjectMode: true,
    ...(highWaterMark === undefined ? {} : { readableHighWaterMark: highWaterMark }),
  });
}

/**
 * The bytes of a line or cell that arrive in several chunks: the pieces are kept as they
 * came and joined once, when the line or cell is complete.
 */
export class Pieces {
  #parts: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#parts.push(piece);
    this.#length += piece.length;
  }

  /** Joins the pieces plus `last` (a part of the current chunk) and empties the list. */
  take(last?: Buffer): Buffer {
    if (last !== undefined) this.push(last);
    const parts = this.#parts;
    const joined = parts.length === 0 ? Buffer.alloc(0) : parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.#length);
    this.#parts = [];
    this.#length = 0;
    return joined;
  }
}

/** Whether `bytes` is well-formed UTF-8 (simdutf underneath: cheap enough for every line). */
export function isValidUtf8(bytes: Buffer): boolean {
  return bytes.length === 0 || isUtf8(bytes);
}

/**
 * The offset of the first byte of `bytes` that is not part of a well-formed UTF-8 sequence
 * (overlong forms, surrogates and code points past U+10FFFF are ill-formed too), or -1.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Describes an invalid UTF-8 byte for an error message: `invalid UTF-8 (byte 0xff at byte 3 of the line)`. */
export function invalidUtf8Message(bytes: Uint8Array, where: string): string {
  const at = firstInvalidUtf8(bytes);
  const byte = at >= 0 ? (bytes[at] as number).toString(16).padStart(2, '0') : '??';
  return `invalid UTF-8 (byte 0x${byte} at byte ${at + 1} of the ${where}); use the hex or base64 encoding for binary data`;
}

/** Counts the line feeds in `bytes[start, end)`. */
export function countLineFeeds(bytes: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (bytes[i] === 10) n++;
  return n;
}
