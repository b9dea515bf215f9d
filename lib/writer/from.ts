/**
 * Whole-collection builds: `buildBuffer` (synchronous, in memory — what
 * `DiscoDB.from` and `toBuffer` of a new db use) and `buildFile` (an iterable or
 * async iterable of records into a file, bounded memory — `DiscoDB.build`).
 */
import { DiscoDBError } from '../errors.js';
import { Builder } from './build.js';
import { fileBuilder, mustWait, makeRoom } from './threaded-build.js';
import { resolveOptions, type WriterOptions } from './options.js';
import type { Bytes, Scalar, WriterRecord } from './records.js';

/**
 * What `buildBuffer` accepts: an iterable of records (see {@link WriterRecord}; a
 * `Map` gives `[key, values]` tuples), or a plain object mapping keys to a value,
 * an iterable of values, or null (the key alone) — like Python's `DiscoDB(data)`.
 */
export type BuildInput =
  | Iterable<WriterRecord | unknown>
  | Map<Bytes, Scalar | Iterable<Scalar> | null | undefined>
  | { [key: string]: Scalar | Iterable<Scalar> | null | undefined };

/**
 * Options of the reader's `DiscoDB.from` / `DiscoDB.build` that arrive in the same
 * object as the writer options (`OpenOptions`): allowed here, used by the reader.
 */
export const OPEN_OPTION_NAMES: readonly string[] = ['encoding', 'mmap', 'offset'];

function recordsOf(data: BuildInput): Iterable<unknown> {
  if (data === null || data === undefined || typeof data !== 'object') {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `expected records, a Map or an object, got ${data === null ? 'null' : typeof data}`);
  }
  if (typeof (data as Iterable<unknown>)[Symbol.iterator] === 'function') return data as Iterable<unknown>;
  return Object.entries(data);
}

/**
 * Builds a discodb image in memory, synchronously. Keys, value ids and (with more
 * than 25 keys) the perfect hash are exactly what the C library would produce
 * for the same adds in the same order. `memoryLimit` and `tmpDir` are ignored:
 * everything stays in memory. Throws `ERR_DISCODB_INPUT` for a bad record.
 */
export function buildBuffer(data: BuildInput, options?: WriterOptions): Buffer {
  const b = new Builder(resolveOptions(options, OPEN_OPTION_NAMES), false);
  for (const rec of recordsOf(data)) b.add(rec);
  return b.buildBuffer();
}

/**
 * Builds a discodb file at `path` from an iterable or async iterable of records
 * (a Readable in object mode works), in bounded memory — the same as piping the
 * records into a {@link DiscoDBWriter}, without the stream overhead. The file
 * appears atomically; on failure nothing is left at `path` and temporary files
 * are removed.
 */
export async function buildFile(
  records: Iterable<unknown> | AsyncIterable<unknown>,
  path: string,
  options?: WriterOptions,
): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'buildFile needs an output path');
  const b = fileBuilder(resolveOptions(options, OPEN_OPTION_NAMES));
  try {
    if (records !== null && typeof records === 'object' && typeof (records as Iterable<unknown>)[Symbol.iterator] === 'function') {
      // A synchronous source: give the event loop a turn every ~10 ms.
      let next = 4096;
      let slice = performance.now();
      for (const rec of records as Iterable<unknown>) {
        if (!b.add(rec)) {
          await makeRoom(b);
          slice = performance.now();
        }
        if (mustWait(b)) await b.whenRoom();
        if (b.ingest.records >= next) {
          next = b.ingest.records + 4096;
          if (performance.now() - slice >= 10) {
            await new Promise((resolve) => setImmediate(resolve));
            slice = performance.now();
          }
        }
      }
    } else if (records !== null && typeof records === 'object' && typeof (records as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const rec of records as AsyncIterable<unknown>) {
        if (!b.add(rec)) await makeRoom(b);
        if (mustWait(b)) await b.whenRoom();
      }
    } else {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'buildFile needs an iterable or async iterable of records');
    }
    await b.buildFile(path);
  } finally {
    await b.dispose();
  }
}
