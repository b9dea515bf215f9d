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
