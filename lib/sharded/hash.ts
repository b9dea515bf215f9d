/**
 * The partition rule every engine can compute the same way: CRC-32 (IEEE 802.3, the
 * `zlib.crc32` of Node ≥ 20.15 and Python, `crc32()` of Spark SQL and Hive) of the partition
 * field's bytes, modulo the number of shards.
 */
import * as zlib from 'node:zlib';
import { DiscoDBError } from '../errors.js';

/** The hash recorded in manifests. */
export const SHARD_HASH = 'crc32-ieee';

/** Largest shard count accepted (a sanity bound: each shard is an open file). */
export const MAX_SHARDS = 4096;

/** Throws ERR_DISCODB_ARGUMENT unless `n` is a shard count (an integer 1..MAX_SHARDS). */
export function checkShardCount(n: unknown, what = 'shards'): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what} must be an integer from 1 to ${MAX_SHARDS}, got ${String(n)}`);
  }
  return n;
}

/**
 * The shard (0..n-1) of a partition field: `crc32(bytes) % n`. A string is taken as UTF-8,
 * as everywhere else in discodb.
 */
export function shardOf(bytes: Uint8Array | string, n: number): number {
  checkShardCount(n, 'n');
  return zlib.crc32(bytes) % n;
}
