/**
 * Cursors over ascending value ids: the one iterator protocol inside discodb.
 * Query operators (lib/query) compose these; arrays, streams and counts are
 * built on top of them.
 */
import { readBits } from '../format/bits.js';

/** Ascending value ids; `0` means exhausted. */
export interface IdCursor {
  /** The next id, or 0 when there is none. */
  next(): number;
  /** Advances to the first id ≥ `target` and returns it (0 when none). */
  seek(target: number): number;
}

/**
 * Decodes one key's delta list (spec §3.2) lazily. Duplicates (multisets)
 * are returned as they are stored, adjacent.
 */
export class DeltaCursor implements IdCursor {
  private readonly buf: Uint8Array;
  private readonly end: number;
  private readonly width: number;
  private readonly mask: number;
  private bit: number;
  private left: number;
  private id = 0;

  /** `start` is the byte where the stream begins, `end` the byte just past it; `count` deltas follow. */
  constructor(buf: Uint8Array, start: number, end: number, count: number, width: number) {
    this.buf = buf;
    this.end = end;
    this.width = width;
    this.mask = width >= 32 ? 0 : (1 << width) - 1;
    this.bit = start * 8 + 5;
    this.left = count;
  }

  next(): number {
    if (this.left === 0) {
      this.id = 0; // exhausted: seek() must not report the last id again
      return 0;
    }
    this.left--;
    const bit = this.bit;
    const byte = bit >>> 3;
    const shift = bit & 7;
    const buf = this.buf;
    let delta: number;
    if (this.width <= 24 && byte + 3 < this.end) {
      // Fast path: 4 whole bytes hold shift + width ≤ 31 bits.
      delta = ((buf[byte]! | (buf[byte + 1]! << 8) | (buf[byte + 2]! << 16) | (buf[byte + 3]! << 24)) >>> shift) & this.mask;
    } else {
      delta = readBits(buf, this.end, bit, this.width);
    }
    this.bit = bit + this.width;
    this.id += delta;
    return this.id;
  }

  seek(target: number): number {
    let id = this.id;
    if (id >= target && id !== 0) return id;
    // Decode inline (no call per delta): without skip pointers a seek must read every delta before the target.
    const buf = this.buf;
    const width = this.width;
    const mask = this.mask;
    const fastEnd = this.end - 3;
    let bit = this.bit;
    let left = this.left;
    if (width <= 24) {
      while (left > 0) {
        const byte = bit >>> 3;
        const delta =
          byte < fastEnd
            ? ((buf[byte]! | (buf[byte + 1]! << 8) | (buf[byte + 2]! << 16) | (buf[byte + 3]! << 24)) >>> (bit & 7)) & mask
            : readBits(buf, this.end, bit, width);
        bit += width;
        left--;
        id += delta;
        if (id >= target) {
          this.bit = bit;
          this.left = left;
          this.id = id;
          return id;
        }
      }
      this.bit = bit;
      this.left = 0;
      this.id = 0;
      return 0;
    }
    do {
      id = this.next();
    } while (id !== 0 && id < target);
    return id;
  }

  /** Deltas not yet returned. */
  get remaining(): number {
    return this.left;
  }
}

/** A cursor with nothing in it. */
export const EMPTY_CURSOR: IdCursor = {
  next: () => 0,
  seek: () => 0,
};
