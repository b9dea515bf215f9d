/**
 * Value-id lists (spec §3.2): sorted ids as fixed-width deltas after a 5-bit
 * width field, LSB-first. Encoding here, decoding in `DeltaCursor`.
 */
import { bitLength } from './bits.js';

/** Result of encoding one list: the stream bytes and facts the header needs. */
export interface EncodedList {
  /** Number of deltas written (the record's count field). */
  count: number;
  /** The bit stream (empty when count is 0). */
  bytes: Uint8Array;
  /** True when a zero delta was written (a duplicate id: the db is a multiset). */
  hasDuplicate: boolean;
}

/**
 * Encodes ascending ids (duplicates adjacent) as the C writer does. With
 * `uniqueItems`, zero deltas are skipped. `ids` must already be sorted.
 */
export function encodeDeltaList(ids: ArrayLike<number>, uniqueItems: boolean): EncodedList {
  const n = ids.length;
  if (n === 0) return { count: 0, bytes: new Uint8Array(0), hasDuplicate: false };
  // Width from all deltas, duplicates included (they are 0 and never raise it).
  let maxDelta = ids[0]!;
  for (let i = 1; i < n; i++) {
    const d = ids[i]! - ids[i - 1]!;
    if (d > maxDelta) maxDelta = d;
  }
  const width = Math.max(1, bitLength(maxDelta));
  let count = 0;
  let hasDuplicate = false;
  for (let i = 0; i < n; i++) {
    if (i > 0 && ids[i] === ids[i - 1]) {
      if (uniqueItems) continue;
      hasDuplicate = true;
    }
    count++;
  }
  const bytes = new Uint8Array(Math.ceil((5 + count * width) / 8));
  let bit = 0;
  const put = (value: number, w: number): void => {
    // Writes w ≤ 32 bits LSB-first; split so shifts stay below 32.
    let v = value;
    let left = w;
    while (left > 0) {
      const byte = Math.floor(bit / 8); // not `>> 3`: a long list passes 2^31 bits
      const shift = bit & 7;
      const take = Math.min(8 - shift, left);
      bytes[byte]! |= (v & ((1 << take) - 1)) << shift;
      v = Math.floor(v / 2 ** take);
      bit += take;
      left -= take;
    }
  };
  put(width - 1, 5);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (i > 0 && id === prev && uniqueItems) continue;
    put(id - prev, width);
    prev = id;
  }
  return { count, bytes, hasDuplicate };
}
