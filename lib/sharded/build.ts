/**
 * Building a sharded db on one machine (`buildSharded`) and writing the manifest of shard
 * files built elsewhere (`writeShardedManifest`, what `discodb manifest` runs).
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { DiscoDBError, type DiscoDBErrorCode } from '../errors.js';
import { DiscoDB } from '../discodb.js';
import { DiscoDBWriter, parseMemoryLimit, type WriterOptions } from '../writer/index.js';
import { checkShardCount, SHARD_HASH, shardOf } from './hash.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  manifestPath,
  sha256File,
  shardFileName,
  writeManifest,
  type Manifest,
  type ShardEntry,
} from './manifest.js';
import { checkPartitionBy, normaliseRecord, splitRecord, type ItemRecord, type PartitionBy } from './partition.js';
import { RecordChunker } from './spill.js';
import { newKeysIn } from './totals.js';
import { valueKey } from './sets.js';
import type { FromWorker, ToWorker } from './worker.js';

/** Options of {@link buildSharded}: the shard layout, parallelism, and the writer's options. */
export interface ShardedBuildOptions extends WriterOptions {
  /** Number of shards (1..4096). */
  shards: number;
  /** `value` (default) or `key`. */
  partitionBy?: PartitionBy;
  /**
   * Parallel shard builds. 1 (default): one pass feeds the N writers directly. J > 1: the pass
   * streams each shard's records (in 1 MiB chunks, with flow control) to one of J worker
   * threads, which writes and then builds its shards while the pass goes on. `memoryLimit` is
   * shared by the N writers.
   */
  jobs?: number;
}

/** Smallest memory budget given to one shard's writer. */
const MIN_SHARD_MEMORY = 4 * 1024 * 1024;

function checkJobs(j: unknown): number {
  if (j === undefined) return 1;
  if (typeof j !== 'number' || !Number.isInteger(j) || j < 1 || j > 256) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `jobs must be an integer from 1 to 256, got ${String(j)}`);
  }
  return j;
}

function writerOptionsOf(options: ShardedBuildOptions, memoryShare: number): WriterOptions {
  const { shards: _s, partitionBy: _p, jobs: _j, ...writer } = options;
  const budget = parseMemoryLimit(writer.memoryLimit);
  return { ...writer, memoryLimit: Math.max(MIN_SHARD_MEMORY, Math.floor(budget / memoryShare)) };
}

/**
 * Builds a sharded db in `dir` (created if needed) from records (an iterable, async iterable
 * or object-mode Readable of anything the writer accepts): one pass over the records splits
 * them by `shardOf` (see `splitRecord`) into N shard files `part-I.ddb`, each exactly what the
 * plain writer builds from that shard's records; then the manifest is written, last and
 * atomically. An existing manifest is removed first, so an interrupted build never leaves a
 * valid-looking db; on failure the shard files written are removed.
 */
export async function buildSharded(
  records: Iterable<unknown> | AsyncIterable<unknown>,
  dir: string,
  options: ShardedBuildOptions,
): Promise<Manifest> {
  if (typeof dir !== 'string' || dir === '') throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'buildSharded needs an output directory');
  if (options === null || typeof options !== 'object') throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'buildSharded needs { shards }');
  const n = checkShardCount(options.shards);
  const partitionBy = checkPartitionBy(options.partitionBy);
  const jobs = Math.min(checkJobs(options.jobs), n);
  writerOptionsOf(options, 1); // validates memoryLimit now
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.rm(manifestPath(dir), { force: true });
  const outputs = Array.from({ length: n }, (_, i) => path.join(dir, shardFileName(i)));
  let totalKeys: number | undefined;
  try {
    if (jobs === 1) await buildDirect(records, outputs, partitionBy, writerOptionsOf(options, n));
    else {
      await buildInJobs(records, outputs, partitionBy, jobs, options);
      if (partitionBy === 'value' && n > 1) totalKeys = await countKeysInJobs(outputs, jobs);
    }
  } catch (err) {
    await Promise.all(outputs.map((o) => fs.promises.rm(o, { force: true }).catch(() => undefined)));
    throw err;
  }
  // The shards were split here by the rule itself: no need to re-check their placement.
  return writeShardedManifest(dir, { shards: n, partitionBy, checkPlacement: false, ...(totalKeys === undefined ? {} : { totalKeys }) });
}

/** Records between two turns of the event loop when the input is a synchronous iterable. */
const YIELD_EVERY = 16384;

/**
 * Calls `fn` on every record (normalised, with its 1-based number). A synchronous iterable is
 * walked synchronously (no promise per record), with a turn of the event loop every
 * YIELD_EVERY records and whenever `fn` returns a promise (backpressure).
 */
async function forEachRecord(records: Iterable<unknown> | AsyncIterable<unknown>, fn: (rec: ItemRecord) => Promise<void> | undefined): Promise<void> {
  if (records === null || typeof records !== 'object' || (!(Symbol.iterator in records) && !(Symbol.asyncIterator in records))) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'buildSharded needs an iterable or async iterable of records');
  }
  let no = 0;
  if (Symbol.iterator in records) {
    for (const rec of records) {
      const wait = fn(normaliseRecord(rec, ++no));
      if (wait !== undefined) await wait;
      else if (no % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return;
  }
  for await (const rec of records) {
    const wait = fn(normaliseRecord(rec, ++no));
    if (wait !== undefined) await wait;
  }
}

/** Resolves when `w` may take more writes; rejects with its error if it failed. */
async function drained(w: DiscoDBWriter): Promise<void> {
  if (w.errored) throw w.errored;
  if (w.writableNeedDrain) await once(w, 'drain');
}

/** One pass, N writers fed directly (with backpressure). */
async function buildDirect(
  records: Iterable<unknown> | AsyncIterable<unknown>,
  outputs: string[],
  partitionBy: PartitionBy,
  writerOptions: WriterOptions,
): Promise<void> {
  const n = outputs.length;
  const writers = outputs.map((o) => new DiscoDBWriter(o, writerOptions));
  const done = writers.map((w) => finished(w));
  for (const d of done) d.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
  try {
    const full: DiscoDBWriter[] = [];
    const write = (s: number, piece: ItemRecord): void => {
      const w = writers[s]!;
      if (!w.write(piece)) full.push(w);
    };
    await forEachRecord(records, (rec) => {
      splitRecord(rec, n, partitionBy, write);
      if (full.length === 0) return undefined;
      const waits = full.map(drained);
      full.length = 0;
      return Promise.all(waits).then(() => undefined);
    });
    for (const w of writers) if (w.errored) throw w.errored;
    for (const w of writers) w.end();
    await Promise.all(done);
  } catch (err) {
    for (const w of writers) w.destroy();
    await Promise.all(done.map((d) => d.catch(() => undefined)));
    throw err;
  }
}

/** Chunks in flight to one worker before the splitting pass waits for it. */
const MAX_IN_FLIGHT = 8;

/** The worker script next to this module (`.ts` when run from source by the tests). */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
}

/** One worker thread: posts messages, counts chunks in flight, waits for acks and results. */
class ShardWorker {
  readonly thread = new Worker(workerUrl());
  private inFlight = 0;
  private onAck: (() => void) | null = null;
  private onResult: ((r: FromWorker) => void) | null = null;
  private crash: unknown = null;
  private closing = false;

  constructor() {
    this.thread.on('message', (m: FromWorker) => {
      if (m.kind === 'ack') {
        this.inFlight--;
        const a = this.onAck;
        this.onAck = null;
        a?.();
      } else {
        const r = this.onResult;
        this.onResult = null;
        r?.(m);
      }
    });
    const died = (err: unknown): void => {
      this.crash ??= err;
      this.onAck?.();
      this.onResult?.({ kind: 'result', ok: false, code: 'ERR_DISCODB_IO', message: `a shard build worker failed: ${String(err)}` });
    };
    this.thread.on('error', died);
    this.thread.on('exit', (code) => {
      if (!this.closing) died(new Error(`exited with code ${code}`));
    });
  }

  send(m: ToWorker, transfer?: ArrayBuffer[]): void {
    if (this.crash !== null) throw new DiscoDBError('ERR_DISCODB_IO', `a shard build worker failed: ${String(this.crash)}`);
    this.thread.postMessage(m, transfer);
  }

  /** Sends a chunk of shard `shard`'s records (the bytes move to the worker). */
  chunk(shard: number, chunk: Buffer): void {
    this.inFlight++;
    this.send({ kind: 'chunk', shard, data: chunk.buffer as ArrayBuffer, length: chunk.length }, [chunk.buffer as ArrayBuffer]);
  }

  get busy(): boolean {
    return this.inFlight > MAX_IN_FLIGHT;
  }

  /** Resolves once fewer chunks are in flight (or the worker died). */
  async drained(): Promise<void> {
    while (this.inFlight > MAX_IN_FLIGHT && this.crash === null) await new Promise<void>((r) => (this.onAck = r));
    if (this.crash !== null) throw new DiscoDBError('ERR_DISCODB_IO', `a shard build worker failed: ${String(this.crash)}`);
  }

  /** Sends a request answered by a result; resolves with its count, rejects with its error. */
  async request(m: ToWorker, what: string): Promise<number> {
    const r = await new Promise<FromWorker>((resolve) => {
      this.onResult = resolve;
      try {
        this.send(m);
      } catch (err) {
        resolve({ kind: 'result', ok: false, code: 'ERR_DISCODB_IO', message: (err as Error).message });
      }
    });
    if (r.kind !== 'result') throw new DiscoDBError('ERR_DISCODB_IO', `${what}: unexpected answer from a worker`);
    if (!r.ok) throw new DiscoDBError(r.code as DiscoDBErrorCode, `${what}: ${r.message}`, { path: what });
    return r.count;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.thread.terminate();
  }
}

/**
 * One pass splits the records and streams each shard's records, in chunks, to the worker
 * thread that owns it (shard I to worker I mod J), which feeds them to that shard's writer
 * while the pass goes on; then every worker builds its files.
 */
async function buildInJobs(
  records: Iterable<unknown> | AsyncIterable<unknown>,
  outputs: string[],
  partitionBy: PartitionBy,
  jobs: number,
  options: ShardedBuildOptions,
): Promise<void> {
  const n = outputs.length;
  const workers = Array.from({ length: jobs }, () => new ShardWorker());
  const owner = (s: number): ShardWorker => workers[s % jobs]!;
  const writerOptions = writerOptionsOf(options, n);
  try {
    workers.forEach((w, j) =>
      w.send({ kind: 'open', options: writerOptions, shards: outputs.flatMap((output, shard) => (shard % jobs === j ? [{ shard, output }] : [])) }),
    );
    const chunkers = outputs.map((_, s) => new RecordChunker((chunk) => owner(s).chunk(s, chunk)));
    const write = (s: number, piece: ItemRecord): void => chunkers[s]!.write(piece);
    await forEachRecord(records, (rec) => {
      splitRecord(rec, n, partitionBy, write);
      if (!workers.some((w) => w.busy)) return undefined;
      return Promise.all(workers.map((w) => w.drained())).then(() => undefined);
    });
    for (const c of chunkers) c.flush();
    await Promise.all(workers.map((w, j) => w.request({ kind: 'end' }, outputs[j]!)));
  } catch (err) {
    // Let every worker remove its writers' temporary files before it goes.
    await Promise.all(workers.map((w) => w.request({ kind: 'abort' }, 'abort').catch(() => undefined)));
    throw err;
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** The distinct keys of value-partitioned shards, counted by J worker threads (the largest jobs first). */
async function countKeysInJobs(outputs: string[], jobs: number): Promise<number> {
  const queue: number[] = [];
  for (let s = outputs.length - 1; s >= 1; s--) queue.push(s);
  const workers = Array.from({ length: Math.min(jobs, queue.length) }, () => new ShardWorker());
  let total = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
          const count = await w.request({ kind: 'count', files: outputs.slice(0, s + 1) }, outputs[s]!);
          total += count; // (not `total += await ...`: that would read total before the wait)
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
  const first = DiscoDB.open(outputs[0]!, { encoding: 'buffer' });
  try {
    return total + first.size;
  } finally {
    first.close();
  }
}

/** Options of {@link writeShardedManifest}. */
export interface ManifestOptions {
  shards: number;
  partitionBy?: PartitionBy;
  /** Check that every key/value is in the shard its hash names (default true). */
  checkPlacement?: boolean;
  /** @internal The distinct keys, when already counted (value partitioning). */
  totalKeys?: number;
}

/**
 * Checks the shard files `DIR/part-I.ddb` (I = 0..N-1) and writes `DIR/discodb.json`: each
 * file must open as a discodb and hold only records of its shard (every key under key
 * partitioning, every value under value partitioning, in the shard its CRC-32 names), which
 * catches a wrong `--shards` or `--partition-by`. Records sizes, SHA-256s and counts, and the
 * totals a single db would report. Throws ERR_DISCODB_CORRUPT naming the first bad file.
 */
export async function writeShardedManifest(dir: string, options: ManifestOptions): Promise<Manifest> {
  const n = checkShardCount(options.shards);
  const partitionBy = checkPartitionBy(options.partitionBy);
  const parts: DiscoDB<Buffer>[] = [];
  try {
    const entries: ShardEntry[] = [];
    for (let i = 0; i < n; i++) {
      const name = shardFileName(i);
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) throw new DiscoDBError('ERR_DISCODB_CORRUPT', `shard ${file} is missing`, { path: file });
      const p = DiscoDB.open(file, { encoding: 'buffer' });
      parts.push(p);
      if (n > 1 && options.checkPlacement !== false) {
        const items = partitionBy === 'key' ? p.keys() : p.uniqueValues();
        for (const b of items) {
          const s = shardOf(b, n);
          if (s !== i) {
            throw new DiscoDBError(
              'ERR_DISCODB_CORRUPT',
              `shard ${file} holds the ${partitionBy} ${JSON.stringify(b.toString('utf8'))}, which belongs to shard ${s} of ${n} ` +
                `by CRC-32: the shards were not built as ${n} shards by ${partitionBy} (--shard I/${n} --partition-by ${partitionBy})`,
              { path: file },
            );
          }
        }
      }
      const h = p.header;
      entries.push({
        file: name,
        size: fs.statSync(file).size,
        sha256: sha256File(file),
        keys: h.numKeys,
        uniqueValues: h.numUniqueValues,
        values: h.numValues,
      });
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      shards: n,
      partitionBy,
      hash: SHARD_HASH,
      totals: totalsOf(parts, partitionBy, entries, options.totalKeys),
      files: entries,
    };
    await writeManifest(dir, manifest);
    return manifest;
  } finally {
    for (const p of parts) p.close();
  }
}

/** The counts one db of all the records would have. */
function totalsOf(parts: DiscoDB<Buffer>[], partitionBy: PartitionBy, entries: ShardEntry[], knownKeys?: number): Manifest['totals'] {
  const values = entries.reduce((a, e) => a + e.values, 0);
  if (parts.length === 1) return { keys: entries[0]!.keys, uniqueValues: entries[0]!.uniqueValues, values };
  if (partitionBy === 'key') {
    // Keys are disjoint; a value may be in several shards.
    const seen = new Set<string>();
    for (const p of parts) for (const v of p.uniqueValues()) seen.add(valueKey(v));
    return { keys: entries.reduce((a, e) => a + e.keys, 0), uniqueValues: seen.size, values };
  }
  // Values are disjoint; a key may be in several shards: count it where it is first met.
  let keys = knownKeys ?? 0;
  if (knownKeys === undefined) for (let s = 0; s < parts.length; s++) keys += newKeysIn(parts, s);
  return { keys, uniqueValues: entries.reduce((a, e) => a + e.uniqueValues, 0), values };
}
