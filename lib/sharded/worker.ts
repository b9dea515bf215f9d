/**
 * Worker thread of `buildSharded` with `jobs > 1`: builds one shard file from its partition
 * file with the plain writer, and reports back.
 */
import { parentPort } from 'node:worker_threads';
import { DiscoDBError } from '../errors.js';
import { buildFile, type WriterOptions } from '../writer/index.js';
import { readPartitionFile } from './spill.js';

/** A job sent by the parent. */
export interface ShardJob {
  input: string;
  output: string;
  options: WriterOptions;
}

/** The answer: done, or the error's code and message. */
export type ShardJobResult = { ok: true } | { ok: false; code: string; message: string };

parentPort?.on('message', (job: ShardJob) => {
  buildFile(readPartitionFile(job.input), job.output, job.options).then(
    () => parentPort!.postMessage({ ok: true } satisfies ShardJobResult),
    (err: unknown) =>
      parentPort!.postMessage({
        ok: false,
        code: err instanceof DiscoDBError ? err.code : 'ERR_DISCODB_IO',
        message: err instanceof Error ? err.message : String(err),
      } satisfies ShardJobResult),
  );
});
