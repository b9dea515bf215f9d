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

/** Deltas between two samples of a {@link SkipIndex}. */
export const SKIP_STEP = 128;
/** Lists shorter than this are never sampled: decoding them is as cheap as searching. */
export const SKIP_MIN_COUNT = 8 * SKIP_STEP;

/**
 * Sampled positions of one long delta list, so that a seek can jump instead of
 * decoding every delta before its target (delta lists have no skip pointers on
 * disk). Sample k is the state after (k + 1)·SKIP_STEP deltas: the id reached
 * and the bit where the next delta starts. 12 bytes per 128 ids.
 */
export class SkipIndex {
  constructor(
    readonly ids: Uint32Array,
    readonly bits: Float64Array,
  ) {}

  /** Memory held, for cache accounting. */
  get bytes(): number {
    return this.ids.byteLength + this.bits.byteLength;
  }

  /** Samples a list by decoding it once. */
  static build(cursor: DeltaCursor): SkipIndex {
    const n = Math.floor(cursor.remaining / SKIP_STEP);
    const ids = new Uint32Array(n);
    const bits = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let id = 0;
      for (let j = 0; j < SKIP_STEP; j++) id = cursor.next();
      ids[k] = id;
      bits[k] = cursor.position;
    }
    return new SkipIndex(ids, bits);
  }
}

/** Who builds and caches skip indexes (the db), by record. */
export interface SkipIndexSource {
  skipIndex(record: number): SkipIndex;
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
  private readonly count: number;
  private readonly skipSource: SkipIndexSource | null;
  private readonly record: number;
  private skip: SkipIndex | null = null;

  /**
   * `start` is the byte where the stream begins, `end` the byte just past it;
   * `count` deltas follow. With a `skipSource`, long seeks jump through the
   * record's (cached) {@link SkipIndex}.
   */
  constructor(buf: Uint8Array, start: number, end: number, count: number, width: number, skipSource: SkipIndexSource | null = null, record = -1) {
    this.buf = buf;
    this.end = end;
    this.width = width;
    this.mask = width >= 32 ? 0 : (1 << width) - 1;
    this.bit = start * 8 + 5;
    this.left = count;
    this.count = count;
    this.skipSource = count >= SKIP_MIN_COUNT ? skipSource : null;
    this.record = record;
  }

  /** Bit where the next delta starts (for {@link SkipIndex.build}). */
  get position(): number {
    return this.bit;
  }

  /** Jumps to the last sample whose id is below `target`, when that is ahead of us. */
  private jump(target: number): void {
    const skip = (this.skip ??= this.skipSource!.skipIndex(this.record));
    const ids = skip.ids;
    // Largest k with ids[k] < target (binary search).
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    const k = lo - 1;
    if (k < 0) return;
    const left = this.count - (k + 1) * SKIP_STEP;
    if (left >= this.left) return; // that sample is behind us
    this.id = ids[k]!;
    this.bit = skip.bits[k]!;
    this.left = left;
  }

  next(): number {
    if (this.left === 0) {
      this.id = 0; // exhausted: seek() must not report the last id again
      return 0;
    }
    this.left--;
    const bit = this.bit;
    this.bit = bit + this.width;
    this.id += this.delta(bit);
    return this.id;
  }

  /** The delta at stream bit `bit`. */
  private delta(bit: number): number {
    return deltaAt(this.buf, this.end, bit, this.width, this.mask);
  }

  seek(target: number): number {
    if (this.id >= target && this.id !== 0) return this.id;
    // Far targets: jump through the skip index instead of decoding everything before them.
    if (this.skipSource !== null && this.left > SKIP_STEP && target - this.id > SKIP_STEP) this.jump(target);
    // Decode in locals (no call to next() per delta): the ids between here and the target must all be read.
    const width = this.width;
    let id = this.id;
    let bit = this.bit;
    let left = this.left;
    while (left > 0) {
      id += this.delta(bit);
      bit += width;
      left--;
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

  /** Deltas not yet returned. */
  get remaining(): number {
    return this.left;
  }
}

/**
 * The `width`-bit delta at absolute bit `bit` of `buf` (bytes at or past `end`
 * read as zero): one 32-bit load when it fits, else the generic reader.
 * `mask` is `(1 << width) - 1` (0 for width 32).
 */
export function deltaAt(buf: Uint8Array, end: number, bit: number, width: number, mask: number): number {
  const byte = Math.floor(bit / 8); // not `bit >>> 3`: past 512 MiB of image, bit offsets pass 2^32
  if (width <= 24 && byte + 3 < end) {
    return ((buf[byte]! | (buf[byte + 1]! << 8) | (buf[byte + 2]! << 16) | (buf[byte + 3]! << 24)) >>> (bit & 7)) & mask;
  }
  return readBits(buf, end, bit, width);
}

/** A cursor with nothing in it. */
export const EMPTY_CURSOR: IdCursor = {
  next: () => 0,
  seek: () => 0,
};
