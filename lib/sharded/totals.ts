/** Counting the distinct keys of value-partitioned shards without holding the keys. */
import type { DiscoDB } from '../discodb.js';

/**
 * The keys of shard `s` that no earlier shard holds: under value partitioning a key may be in
 * several shards, and is counted where it is first met. Costs one lookup per key and earlier
 * shard at most (one when the key is in shard 0, the common case).
 */
export function newKeysIn(parts: ReadonlyArray<DiscoDB<Buffer>>, s: number): number {
  let n = 0;
  next: for (const k of parts[s]!.keys()) {
    for (let t = 0; t < s; t++) if (parts[t]!.has(k)) continue next;
    n++;
  }
  return n;
}
