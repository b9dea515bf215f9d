/**
 * Worker thread of `buildSharded` with `jobs > 1`: builds one shard file from its partition
 * file with the plain writer, or counts the keys of one shard that earlier shards lack (for
 * the manifest's totals), and reports back.
 */
import { parentPort } from 'node:worker_threads';
import { DiscoDBError } from '../errors.js';
import { DiscoDB } from '../reader/discodb.js';
import { buildFile, type WriterOptions } from '../writer/index.js';
import { readPartitionFile } from './spill.js';
import { newKeysIn } from './totals.js';

/** A job sent by the parent. */
export type ShardJob =
  | { kind: 'build'; input: string; output: string; options: WriterOptions }
  /** Count the keys of the last file that none of the files before it holds. */
  | { kind: 'count'; files: string[] };

/** The answer: done (with the count of a count job), or the error's code and message. */
export type ShardJobResult = { ok: true; count: number } | { ok: false; code: string; message: string };

async function run(job: ShardJob): Promise<number> {
  if (job.kind === 'build') {
    await buildFile(readPartitionFile(job.input), job.output, job.options);
    return 0;
  }
  const parts = job.files.map((f) => DiscoDB.open(f, { encoding: 'buffer' }));
  try {
    return newKeysIn(parts, parts.length - 1);
  } finally {
    for (const p of parts) p.close();
  }
}

parentPort?.on('message', (job: ShardJob) => {
  run(job).then(
    (count) => parentPort!.postMessage({ ok: true, count } satisfies ShardJobResult),
    (err: unknown) =>
      parentPort!.postMessage({
        ok: false,
        code: err instanceof DiscoDBError ? err.code : 'ERR_DISCODB_IO',
        message: err instanceof Error ? err.message : String(err),
      } satisfies ShardJobResult),
  );
});
