/** Sharded dbs: a directory of discodb files and a manifest, built and read as one db. */
export { shardOf, SHARD_HASH, MAX_SHARDS } from './hash.js';
export { splitRecord, normaliseRecord, shardRecords, checkPartitionBy, PARTITIONINGS } from './partition.js';
export type { PartitionBy, ItemRecord } from './partition.js';
export { readManifest, isShardedDir, shardFileName, manifestPath, MANIFEST_NAME, MANIFEST_FORMAT, MANIFEST_VERSION } from './manifest.js';
export type { Manifest, ShardEntry, ShardCounts } from './manifest.js';
export { ShardedDiscoDB, ShardedView } from './sharded.js';
export type { ShardedInfo, ShardedQueryOptions } from './sharded.js';
export { buildSharded, writeShardedManifest } from './build.js';
export type { ShardedBuildOptions, ManifestOptions } from './build.js';
export { openAny } from './open.js';
export type { AnyDiscoDB } from './open.js';
