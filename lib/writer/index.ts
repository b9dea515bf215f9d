/** The discodb writer: streams, whole-collection builds, options. */
export { DiscoDBWriter } from './writer.js';
export type { WriterStats } from './writer.js';
export type { WriterPhase, WriterProgress } from './build.js';
export { buildBuffer, buildFile } from './from.js';
export type { BuildInput } from './from.js';
export { parseMemoryLimit, resolveOptions, checkOptionNames, closestName, DEFAULT_MEMORY_LIMIT, WRITER_OPTION_NAMES } from './options.js';
export { OPEN_OPTION_NAMES } from './from.js';
export { writeFileAtomic } from './atomic-file.js';
export type { WriterOptions, ResolvedOptions } from './options.js';
export type { Bytes, Scalar, WriterRecord } from './records.js';
