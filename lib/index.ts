/**
 * discodb: immutable key → values databases, file-compatible with the C
 * discodb, with CNF queries and streaming construction.
 */
export { DiscoDBError } from './errors.js';
export type { DiscoDBErrorCode, DiscoDBErrorDetails } from './errors.js';
import { DiscoDB, setDirectoryOpener } from './discodb.js';
import { openShardedBackend } from './sharded/backend.js';

// DiscoDB.open(dir) opens a sharded db: the sharded layer sits above the facade, so the
// package entry (the top floor) hands it in.
setDirectoryOpener(openShardedBackend);

export { DiscoDB };
export type { Bytes, Encoding, OpenOptions, DiscoDBInfo, CheckReport, Route } from './discodb.js';
export { mmapAvailable } from './reader/mmap.js';
export { Inquiry } from './reader/inquiry.js';
export type { InquiryStreamOptions } from './reader/inquiry.js';
export type { IdCursor } from './reader/cursor.js';
export { Q, Clause, Literal, DiscoDBView, queryIds, queryCount, MAX_CLAUSES, MAX_DEPTH, MAX_DEREF_DEPTH, MAX_LITERALS } from './query/index.js';
export type { QueryLike, QueryOptions } from './query/index.js';
export * from './streams/index.js';
export * from './sharded/index.js';
export * from './combine/index.js';
export { DiscoDBWriter, buildBuffer, buildFile, parseMemoryLimit, DEFAULT_MEMORY_LIMIT } from './writer/index.js';
export type { WriterStats, WriterPhase, WriterProgress, BuildInput, WriterOptions, WriterRecord } from './writer/index.js';
