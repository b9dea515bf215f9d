/**
 * Worker thread of `buildSharded` with `jobs > 1`. It owns some shards: it receives their
 * records in chunks while the splitting pass runs, writes them into one `DiscoDBWriter` per
 * shard, acknowledges each chunk (the parent's flow control), and builds the files at `end`.
 * It can also count the keys of one shard that earlier shards lack (the manifest's totals).
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { parentPort } from 'node:worker_threads';
import { DiscoDBError } from '../errors.js';
import { DiscoDB } from '../discodb.js';
import { DiscoDBWriter, type WriterOptions } from '../writer/index.js';
import { decodeChunk } from './spill.js';
import { newKeysIn } from './totals.js';

/** A message from the parent. */
export type ToWorker =
  | { kind: 'open'; shards: Array<{ shard: number; output: string }>; options: WriterOptions }
  | { kind: 'chunk'; shard: number; data: ArrayBuffer; length: number }
  /** Build the files; answered by a result. */
  | { kind: 'end' }
  /** Drop everything (temporary files included); answered by a result. */
  | { kind: 'abort' }
  /** Count the keys of the last file that none of the files before it holds; answered by a result. */
  | { kind: 'count'; files: string[] };

/** A message to the parent: a chunk taken, or the outcome of end/abort/count. */
export type FromWorker = { kind: 'ack' } | { kind: 'result'; ok: true; count: number } | { kind: 'result'; ok: false; code: string; message: string };

const writers = new Map<number, DiscoDBWriter>();
const done: Array<Promise<void>> = [];
let failure: unknown = null;
/** Chunks are written one after another, in the order they came. */
let queue: Promise<void> = Promise.resolve();

function post(m: FromWorker): void {
  parentPort!.postMessage(m);
}

function fail(err: unknown): void {
  post({
    kind: 'result',
    ok: false,
    code: err instanceof DiscoDBError ? err.code : 'ERR_DISCODB_IO',
    message: err instanceof Error ? err.message : String(err),
  });
}

async function take(shard: number, chunk: Buffer): Promise<void> {
  const w = writers.get(shard);
  if (w === undefined || failure !== null) return;
  try {
    for (const rec of decodeChunk(chunk)) {
      if (!w.write(rec)) {
        if (w.errored) throw w.errored;
        await once(w, 'drain');
      }
    }
  } catch (err) {
    failure ??= err;
  }
}

parentPort?.on('message', (m: ToWorker) => {
  switch (m.kind) {
    case 'open':
      for (const { shard, output } of m.shards) {
        const w = new DiscoDBWriter(output, m.options);
        writers.set(shard, w);
        const d = finished(w);
        d.catch((err: unknown) => (failure ??= err));
        done.push(d);
      }
      return;
    case 'chunk': {
      const chunk = Buffer.from(m.data, 0, m.length);
      queue = queue.then(() => take(m.shard, chunk)).then(() => post({ kind: 'ack' }));
      return;
    }
    case 'end':
      queue = queue.then(async () => {
        try {
          if (failure !== null) throw failure;
          for (const w of writers.values()) w.end();
          await Promise.all(done);
          if (failure !== null) throw failure;
          post({ kind: 'result', ok: true, count: 0 });
        } catch (err) {
          for (const w of writers.values()) w.destroy();
          await Promise.all(done.map((d) => d.catch(() => undefined)));
          fail(err);
        }
      });
      return;
    case 'abort':
      queue = queue.then(async () => {
        for (const w of writers.values()) w.destroy();
        await Promise.all(done.map((d) => d.catch(() => undefined)));
        post({ kind: 'result', ok: true, count: 0 });
      });
      return;
    case 'count': {
      const parts: DiscoDB<Buffer>[] = [];
      try {
        for (const f of m.files) parts.push(DiscoDB.open(f, { encoding: 'buffer' }));
        post({ kind: 'result', ok: true, count: newKeysIn(parts, parts.length - 1) });
      } catch (err) {
        fail(err);
      } finally {
        for (const p of parts) p.close();
      }
      return;
    }
  }
});
