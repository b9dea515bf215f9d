/**
 * The core every record parser stands on: a Duplex from bytes to records with per-record
 * backpressure (stream-chain's `asStream`), which drops a leading byte-order mark, checks each
 * chunk as UTF-8 and decodes it once; and a list of text pieces joined once (never
 * re-concatenated per chunk).
 *
 * Parsers scan only the text of each new chunk: the work per character is constant, so time
 * is linear in the input and memory a small multiple of the longest line or cell.
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
type ChunkParser = (chunk: Buffer | null) => DiscoDBRecord[];

const BOM = [0xef, 0xbb, 0xbf];

/**
 * Makes the Duplex around `parse`: bytes in (strings are taken as UTF-8), records out, one
 * at a time so that a slow reader holds the parser back however many records a chunk holds.
 * A leading UTF-8 byte-order mark is dropped before `parse` sees the bytes.
 */
function byteRecordStream(parse: ChunkParser, highWaterMark?: number): Duplex {
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
 * A parser of decoded text: `text` gets each piece of the input in order (whole characters,
 * never a split one), `end` is called once at the end. `invalidUtf8` makes the error for an
 * ill-formed byte found right after the text given so far (so the parser's own current line
 * is the line of that byte).
 */
export interface TextParser {
  text(text: string, out: DiscoDBRecord[]): void;
  end(out: DiscoDBRecord[]): void;
  invalidUtf8(byte: number): Error;
}

/**
 * Makes the Duplex around a {@link TextParser}: each chunk is checked as UTF-8 and decoded
 * once (a character split across chunks is carried over, never replaced by U+FFFD), and only
 * its text is handed on: the parser never sees a byte twice.
 */
export function textRecordStream(parser: TextParser, highWaterMark?: number): Duplex {
  let carry: Buffer | null = null; // the start of a character cut by the end of the last chunk
  return byteRecordStream((chunk) => {
    const out: DiscoDBRecord[] = [];
    if (chunk === null) {
      if (carry !== null) throw parser.invalidUtf8(carry[0] as number); // a truncated last character
      parser.end(out);
      return out;
    }
    const bytes = carry === null ? chunk : Buffer.concat([carry, chunk]);
    carry = null;
    const cut = completePrefix(bytes);
    const whole = cut === bytes.length ? bytes : bytes.subarray(0, cut);
    if (isValidUtf8(whole)) {
      if (cut > 0) parser.text(whole.toString('utf8'), out);
      if (cut < bytes.length) carry = Buffer.from(bytes.subarray(cut));
      return out;
    }
    const bad = Math.max(firstInvalidUtf8(bytes), 0);
    if (bad > 0) parser.text(bytes.toString('utf8', 0, bad), out); // whatever precedes it (an earlier error wins)
    throw parser.invalidUtf8(bytes[bad] as number);
  }, highWaterMark);
}

/** The length of `bytes` without a multi-byte character that its end cuts short (at most 3 bytes). */
function completePrefix(bytes: Buffer): number {
  const n = bytes.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const b = bytes[n - k] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > k ? n - k : n;
  }
  return n;
}

/** The error message of an ill-formed UTF-8 byte. */
export function invalidUtf8Text(byte: number): string {
  return `invalid UTF-8 (byte 0x${byte.toString(16).padStart(2, '0')}); use the hex or base64 encoding for binary data`;
}

/** The pieces of a line or cell that arrive in several chunks, joined once when it is complete. */
export class TextPieces {
  #parts: string[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(piece: string): void {
    if (piece.length === 0) return;
    this.#parts.push(piece);
    this.#length += piece.length;
  }

  /** Joins the pieces plus `last` and empties the list. */
  take(last = ''): string {
    if (this.#parts.length === 0) return last;
    if (last.length > 0) this.#parts.push(last);
    const joined = this.#parts.length === 1 ? (this.#parts[0] as string) : this.#parts.join('');
    this.#parts = [];
    this.#length = 0;
    return joined;
  }
}

/** Whether `bytes` is well-formed UTF-8 (simdutf underneath: one call per chunk). */
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
