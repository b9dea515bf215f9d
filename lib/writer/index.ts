/** The discodb writer: streams, whole-collection builds, options. */
export { DiscoDBWriter } from './writer.js';
export type { WriterStats } from './writer.js';
export type { WriterPhase, WriterProgress } from './build.js';
export { buildBuffer, buildFile } from './from.js';
export type { BuildInput } from './from.js';
export { parseMemoryLimit, resolveOptions, DEFAULT_MEMORY_LIMIT } from './options.js';
export type { WriterOptions, ResolvedOptions } from './options.js';
export type { Bytes, WriterRecord } from './records.js';
