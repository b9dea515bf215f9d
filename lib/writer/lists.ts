/**
 * Allocation-free delta-list encoding (spec §3.2) straight into an output buffer:
 * the same bits as `encodeDeltaList` in lib/format/deltalist.ts, without a new
 * array per key.
 */

/** Measures, then writes, the delta list of sorted ids. Reused for every key. */
export class ListEncoder {
  /** Deltas that will be written (the record's count). */
  count = 0;
  /** Bits per delta. */
  width = 0;
  /** Bytes of the bit stream (0 when count is 0). */
  bytes = 0;
  /** A zero delta will be written (the db becomes a multiset). */
  dup = false;

  constructor(private readonly unique: boolean) {}

  // State of a streamed measure / write (a list fed in chunks: see measureFeed, writeFeed).
  private prev = 0;
  private max = 0;
  private acc = 0;
  private nbits = 0;

  /** Starts measuring a list fed in chunks ({@link measureFeed}, then {@link measureEnd}). */
  measureBegin(): void {
    this.prev = 0;
    this.max = 0;
    this.count = 0;
    this.dup = false;
  }

  /** Measures the next chunk `ids[s, e)` of the list (the whole list ascending, ids ≥ 1). */
  measureFeed(ids: ArrayLike<number>, s: number, e: number): void {
    let prev = this.prev;
    let max = this.max;
    let count = this.count;
    let dup = this.dup;
    for (let i = s; i < e; i++) {
      const id = ids[i]!;
      const d = id - prev;
      // ids ≥ 1: a zero delta is never the list's first.
      if (d === 0) {
        if (this.unique) continue;
        dup = true;
      }
      if (d > max) max = d;
      count++;
      prev = id;
    }
    this.prev = prev;
    this.max = max;
    this.count = count;
    this.dup = dup;
  }

  /** Ends a streamed measure: the same `count`, `width`, `bytes` and `dup` as {@link measure}. */
  measureEnd(): void {
    if (this.count === 0) {
      this.width = 0;
      this.bytes = 0;
      return;
    }
    this.width = this.max === 0 ? 1 : 32 - Math.clz32(this.max);
    this.bytes = Math.ceil((5 + this.count * this.width) / 8);
  }

  /** Starts writing the list measured last, fed again in the same chunks ({@link writeFeed}). */
  writeBegin(): void {
    this.prev = 0;
    this.acc = this.width - 1;
    this.nbits = 5;
  }

  /**
   * Writes the whole bytes of the next chunk `ids[s, e)` into `out` at `o` (room for
   * {@link feedBytes}`(e - s)` bytes) and returns the offset after them; the last
   * partial byte waits for the next chunk or {@link writeEnd}.
   */
  writeFeed(ids: ArrayLike<number>, s: number, e: number, out: Uint8Array, o: number): number {
    if (this.count === 0) return o;
    const w = this.width;
    const unique = this.unique;
    let prev = this.prev;
    let acc = this.acc;
    let nbits = this.nbits;
    for (let i = s; i < e; i++) {
      const id = ids[i]!;
      const d = id - prev;
      if (d === 0 && unique) continue;
      if (w <= 24) {
        acc |= d << nbits;
        nbits += w;
        while (nbits >= 8) {
          out[o++] = acc & 0xff;
          acc >>>= 8;
          nbits -= 8;
        }
      } else {
        acc += d * 2 ** nbits;
        nbits += w;
        while (nbits >= 8) {
          out[o++] = acc % 256;
          acc = Math.floor(acc / 256);
          nbits -= 8;
        }
      }
      prev = id;
    }
    this.prev = prev;
    this.acc = acc;
    this.nbits = nbits;
    return o;
  }

  /** Bytes {@link writeFeed} may write for a chunk of `n` ids. */
  feedBytes(n: number): number {
    return Math.ceil((n * this.width) / 8) + 1;
  }

  /** Writes the last partial byte of a streamed write (room for 1 byte); returns the offset after it. */
  writeEnd(out: Uint8Array, o: number): number {
    if (this.count === 0 || this.nbits === 0) return o;
    out[o++] = this.width <= 24 ? this.acc & 0xff : this.acc % 256;
    return o;
  }

  /** Measures the list `ids[s, e)` (ascending, ids ≥ 1). */
  measure(ids: ArrayLike<number>, s: number, e: number): void {
    if (e <= s) {
      this.count = 0;
      this.width = 0;
      this.bytes = 0;
      this.dup = false;
      return;
    }
    let prev = 0;
    let max = 0;
    let count = 0;
    let dup = false;
    for (let i = s; i < e; i++) {
      const id = ids[i]!;
      const d = id - prev;
      if (d === 0 && i > s) {
        if (this.unique) continue;
        dup = true;
      }
      if (d > max) max = d;
      count++;
      prev = id;
    }
    const width = max === 0 ? 1 : 32 - Math.clz32(max);
    this.count = count;
    this.width = width;
    this.bytes = Math.ceil((5 + count * width) / 8);
    this.dup = dup;
  }

  /** Writes the stream measured last into `out` at `o` (zero-filled first). Returns the offset after it. */
  write(ids: ArrayLike<number>, s: number, e: number, out: Uint8Array, o: number): number {
    const end = o + this.bytes;
    if (this.count === 0) return o;
    const w = this.width;
    const unique = this.unique;
    let prev = 0;
    if (w <= 24) {
      // acc holds < 8 pending bits plus one field of ≤ 24 bits: stays below 2^31.
      let acc = w - 1;
      let nbits = 5;
      for (let i = s; i < e; i++) {
        const id = ids[i]!;
        const d = id - prev;
        if (d === 0 && unique && i > s) continue;
        acc |= d << nbits;
        nbits += w;
        while (nbits >= 8) {
          out[o++] = acc & 0xff;
          acc >>>= 8;
          nbits -= 8;
        }
        prev = id;
      }
      if (nbits > 0) out[o++] = acc & 0xff;
    } else {
      // Wide fields: accumulate in a double (< 8 + 32 bits, exact).
      let acc = w - 1;
      let nbits = 5;
      for (let i = s; i < e; i++) {
        const id = ids[i]!;
        const d = id - prev;
        if (d === 0 && unique && i > s) continue;
        acc += d * 2 ** nbits;
        nbits += w;
        while (nbits >= 8) {
          out[o++] = acc % 256;
          acc = Math.floor(acc / 256);
          nbits -= 8;
        }
        prev = id;
      }
      if (nbits > 0) out[o++] = acc % 256;
    }
    if (o !== end) throw new Error(`delta list: wrote ${o - end + this.bytes} bytes, expected ${this.bytes}`);
    return o;
  }
}
