/**
 * One build, from the first record to the renamed output file: ingest into the
 * bounded in-memory run, spill sorted runs when it is full, merge them, write the
 * image into a temporary file next to the target, fsync, rename.
 */
import { buildChdSync, type ChdBuildResult } from '../format/chd-build.js';
import { GlibcRandom } from '../format/glibc-rand.js';
import { DiscoDBError } from '../errors.js';
import { RunBuffer } from './arena.js';
import { finishImage, imageBuffers } from './finish.js';
import { driveSync, writeMemoryImage, type ChdRequest, type ImageBuffers, type ImageStats } from './image.js';
import { AtomicFile } from './atomic-file.js';
import { MemSink, TempDir } from './io.js';
import type { ResolvedOptions } from './options.js';
import { RecordIngest } from './records.js';
import { spillRun, type RunFile } from './runs.js';
import { threadTestHooks, WorkerPool } from './threads.js';
import type { FinishJob, SpillJob } from './worker-protocol.js';

/** What a build is doing. */
export type WriterPhase = 'ingest' | 'spill' | 'merge' | 'write' | 'hash' | 'done';

/** Payload of the writer's `progress` events. */
export interface WriterProgress {
  phase: WriterPhase;
  /** Records accepted so far. */
  records: number;
  /** Items (key–value adds and key-only adds) so far; a `{ key, values }` record counts each value. */
  items: number;
  /** Key and value bytes accepted so far (UTF-8 for strings). */
  bytes: number;
  /** Runs spilled to disk so far. */
  runs: number;
  /**
   * How far the current phase is, `done` of `total`, in the phase's own unit; present
   * once the phase knows its extent (`merge`, `hash`, `write` of a build on this thread),
   * absent otherwise. `done` only grows, never passes `total`, and reaches it at the
   * phase's end; a phase entered again starts over. Units:
   * `merge`: run entries visited (for a merge in several passes the total is an estimate,
   * lowered as passes finish); `hash`: keys placed in the perfect hash (a failed placement
   * attempt, rare, raises the total: the next one starts over); `write`: bytes of the image
   * written of its size (while Huffman-coded values are written, the total is an estimate
   * from the ratio so far) — in a build that spilled, the stint before the hash counts the
   * bytes of merged key lists read instead. Emitted at most every 100 ms, and at a phase's end.
   */
  done?: number;
  total?: number;
}

/** Phase progress events are emitted at most this often (ms), besides the last one of a phase. */
const STEP_INTERVAL = 100;

const ABORTED = (): DiscoDBError => new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (destroy() before it finished): nothing was written');

/** Turns fs failures into `ERR_DISCODB_IO`; other errors pass through. */
export function asDiscoDBError(err: unknown, file?: string): unknown {
  if (err instanceof DiscoDBError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e !== null && typeof e === 'object' && typeof e.syscall === 'string') {
    const where = e.path ?? file;
    return new DiscoDBError('ERR_DISCODB_IO', `${e.syscall} failed${where === undefined ? '' : ` for ${where}`}: ${e.message}`, {
      cause: err,
      ...(where === undefined ? {} : { path: where }),
    });
  }
  return err;
}

/** The synchronous CHD build of in-memory keys, with a fresh rand() state like a fresh C process. */
function chdSync(req: ChdRequest, onPlaced: (done: number, total: number) => void): ChdBuildResult {
  return buildChdSync(req.numKeys, req.hashKeys, new GlibcRandom(), onPlaced);
}

/**
 * Runs in flight at most. With threads, each run gets half of the budget; the ingest
 * goes on into the other half while a worker sorts and spills the previous run. When
 * a run fills up before that spill is done, it is handed over too and the stream stops
 * taking records (the next run stays empty) until one spill is done: at most two full
 * runs exist at any time. A worker gives a spilled run's buffers back and the next run
 * reuses them (no regrowth, no garbage in the worker).
 */
const MAX_IN_FLIGHT = 2;

/**
 * A single build. `spillable` builds (files) keep the buffered records within
 * `memoryLimit` and spill runs to `tmpDir`; the in-memory build never spills.
 * With `threads` > 0 the spills and the whole finish run on worker threads.
 */
export class Builder {
  run: RunBuffer;
  readonly ingest: RecordIngest;
  /** Called on phase changes (and by the stream during ingest). */
  onProgress: ((p: WriterProgress) => void) | null = null;
  /** Facts about the image, once written. */
  stats: ImageStats | null = null;
  phase: WriterPhase = 'ingest';
  private readonly runs: RunFile[] = [];
  private readonly tmp: TempDir | null;
  private aborted = false;
  private lastYield = 0;
  private spillCount = 0;
  private out: AtomicFile | null = null;
  /** The worker threads (threaded file builds only). */
  private readonly pool: WorkerPool | null;
  /** Spills handed to workers, in input order (threaded builds). */
  private readonly spilling: Promise<RunFile>[] = [];
  /** The spills still running. */
  private readonly running = new Set<Promise<unknown>>();
  private spillError: unknown = null;
  private readonly runBudget: number;
  /** An emptied run whose buffers a worker gave back, for the next run. */
  private spare: RunBuffer | null = null;
  /** Spills go to the workers (a threaded build whose runs are not tiny). */
  private readonly workerSpills: boolean;
  private disposed: Promise<void> | null = null;
  /** The current phase's `done` / `total` (−1: not known) and when they were last emitted. */
  private done = -1;
  private total = -1;
  private lastStep = 0;

  constructor(
    readonly opts: ResolvedOptions,
    spillable: boolean,
  ) {
    this.pool = spillable && opts.threads > 0 ? new WorkerPool(opts.threads) : null;
    const half = Math.floor(opts.memoryLimit / 2);
    this.workerSpills = this.pool !== null && half >= threadTestHooks.minWorkerRun;
    this.runBudget = !spillable ? Infinity : this.workerSpills ? half : opts.memoryLimit;
    this.run = new RunBuffer(this.runBudget);
    this.tmp = spillable ? new TempDir(opts.tmpDir) : null;
    this.ingest = new RecordIngest(this.run, () => this.spill());
  }

  /** Adds one record (see records.ts for the accepted shapes). */
  add(rec: unknown): void {
    if (this.aborted) throw ABORTED();
    if (this.spillError !== null) throw this.spillError;
    try {
      this.ingest.add(rec);
    } catch (err) {
      // A spill that failed (disk full, ...) is an ERR_DISCODB_IO.
      throw asDiscoDBError(err);
    }
  }

  /** True when the caller must wait ({@link whenRoom}) before adding more: workers are behind. */
  get mustWait(): boolean {
    return this.running.size >= MAX_IN_FLIGHT;
  }

  /** Resolves once fewer than the maximum of runs are in flight (rejects if a spill failed). */
  async whenRoom(): Promise<void> {
    while (this.running.size >= MAX_IN_FLIGHT) {
      await Promise.race(this.running);
      if (this.spillError !== null) throw this.spillError;
    }
  }

  /** Number of runs spilled so far. */
  get spilledTotal(): number {
    return this.spillCount;
  }

  progress(): WriterProgress {
    const i = this.ingest;
    const p: WriterProgress = { phase: this.phase, records: i.records, items: i.items, bytes: i.bytes, runs: this.spillCount };
    if (this.total >= 0) {
      p.done = this.done;
      p.total = this.total;
    }
    return p;
  }

  private setPhase(phase: WriterPhase): void {
    this.phase = phase;
    this.done = this.total = -1;
    this.onProgress?.(this.progress());
  }

  /** How far the current phase is: emitted at a bounded rate, and always when it completes. */
  private readonly step = (done: number, total: number): void => {
    if (done === this.done && total === this.total) return;
    this.done = done;
    this.total = total;
    const now = Date.now();
    if (done < total && now - this.lastStep < STEP_INTERVAL) return;
    this.lastStep = now;
    this.onProgress?.(this.progress());
  };

  /** Buffer sizes derived from the budget. */
  private buffers(): ImageBuffers {
    return imageBuffers(this.opts.memoryLimit);
  }

  private spill(): void {
    if (this.tmp === null) throw new Error('spill in an in-memory build');
    this.setPhase('spill');
    if (this.aborted) throw ABORTED();
    if (this.workerSpills) {
      this.spillToWorker();
    } else {
      const run = spillRun(this.run, this.tmp, this.opts.uniqueItems, this.ingest.records, this.buffers().io);
      this.runs.push(run);
      this.run.clear();
    }
    this.spillCount++;
    this.setPhase('ingest');
  }

  /** Moves the full run to a worker (no copy) and continues into a fresh one. */
  private spillToWorker(): void {
    const pool = this.pool!;
    const transfer: ArrayBuffer[] = [];
    const job: SpillJob = {
      kind: 'spill',
      id: pool.id(),
      run: this.run.toParts(transfer),
      dir: this.tmp!.ensureDir(),
      unique: this.opts.uniqueItems,
      lastRecord: this.ingest.records,
      bufSize: this.buffers().io,
      fail: threadTestHooks.failSpill,
    };
    const handed = this.run;
    const done = pool.run(job, transfer).then(
      (r) => {
        if (r.kind !== 'spilled') throw new DiscoDBError('ERR_DISCODB_WORKER', `unexpected worker reply ${r.kind}`);
        // Keep the buffers for the next run only if that keeps two full runs at most.
        if (this.spare === null && this.running.size <= 1 && !this.aborted) {
          handed.adoptBack(r.buffers);
          this.spare = handed;
        }
        return r.run;
      },
      (err: unknown) => {
        if (this.spillError === null) this.spillError = err;
        throw err;
      },
    );
    const settled: Promise<boolean> = done.then(
      () => this.running.delete(settled),
      () => this.running.delete(settled),
    );
    this.running.add(settled);
    done.catch(() => undefined); // reported through spillError / the final await
    this.spilling.push(done);
    // The spare run (emptied, full-sized) when one spill at most is in flight; else a small new one.
    if (this.spare !== null && this.running.size <= 1) {
      this.run = this.spare;
    } else {
      this.run = new RunBuffer(this.runBudget);
    }
    this.spare = null;
    this.ingest.switchRun(this.run);
  }

  /** Finishes an in-memory build: the image bytes. */
  buildBuffer(): Buffer {
    this.ingest.flush();
    let sink: MemSink | null = null;
    this.setPhase('write');
    this.stats = driveSync(
      writeMemoryImage(
        this.run,
        this.opts,
        (hint) => (sink = new MemSink(hint)),
        this.buffers(),
        this.step,
      ),
      (req) => {
        this.setPhase('hash');
        const res = chdSync(req, this.step);
        this.setPhase('write');
        return res;
      },
    );
    this.run.release();
    this.setPhase('done');
    return (sink as MemSink | null)!.bytes();
  }

  /** Yields to the event loop every ~25 ms of work; throws once aborted. */
  private readonly tick = async (): Promise<void> => {
    if (this.aborted) throw ABORTED();
    const now = Date.now();
    if (now - this.lastYield < 25) return;
    this.lastYield = now;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.aborted) throw ABORTED();
  };

  /**
   * Finishes a spillable build into `target`: written to a temporary file in the
   * same directory, fsynced, then renamed over `target`. On failure nothing is left
   * at `target` (an existing file there stays untouched) and every temporary file
   * is removed.
   */
  async buildFile(target: string): Promise<void> {
    const tmp = this.tmp!;
    try {
      this.ingest.flush();
      if (this.aborted) throw ABORTED();
      tmp.sweep();
      const out = AtomicFile.open(target);
      this.out = out;
      if (this.pool !== null) {
        this.stats = await this.finishOnWorker(out, target);
      } else {
        if (!this.run.isEmpty() && this.runs.length > 0) this.spill();
        if (this.runs.length > 0) this.run.release();
        this.stats = await finishImage({
          run: this.run,
          runs: this.runs.splice(0),
          tmp,
          opts: this.opts,
          sink: out,
          tick: this.tick,
          setPhase: (phase) => {
            this.setPhase(phase);
            if (this.aborted) throw ABORTED();
          },
          progress: this.step,
        });
      }
      if (this.aborted) throw ABORTED();
      await out.syncAsync();
      if (this.aborted) throw ABORTED();
      out.commit(this.stats.size);
      this.out = null;
      this.setPhase('done');
    } catch (err) {
      throw asDiscoDBError(err, target);
    } finally {
      await this.dispose();
    }
  }

  /** The threaded finish: the last spill, then merge and image on a worker writing into `out`'s descriptor. */
  private async finishOnWorker(out: AtomicFile, target: string): Promise<ImageStats> {
    const pool = this.pool!;
    if ((this.spilling.length > 0 || this.runs.length > 0) && !this.run.isEmpty()) this.spill();
    const runs = [...this.runs.splice(0), ...(await Promise.all(this.spilling.splice(0)))];
    this.spare = null;
    if (this.aborted) throw ABORTED();
    const transfer: ArrayBuffer[] = [];
    const job: FinishJob = {
      kind: 'finish',
      id: pool.id(),
      runs,
      run: runs.length === 0 ? this.run.toParts(transfer) : null,
      dir: this.tmp!.ensureDir(),
      opts: this.opts,
      outFd: out.fd,
      failAt: threadTestHooks.failAt,
    };
    this.run = new RunBuffer(0);
    this.ingest.switchRun(this.run);
    try {
      const r = await pool.run(job, transfer, (phase) => {
        if (!this.aborted) this.setPhase(phase);
      });
      if (r.kind !== 'finished') throw new DiscoDBError('ERR_DISCODB_WORKER', `unexpected worker reply ${r.kind}`);
      return r.stats;
    } catch (err) {
      // A write error in the worker names no file: it is the output's.
      if (err instanceof DiscoDBError && err.code === 'ERR_DISCODB_IO' && err.path === undefined) {
        throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${target}: ${err.message}`, { path: target, cause: err });
      }
      throw err;
    }
  }

  /** Makes a running `buildFile` stop at its next checkpoint (workers included). */
  abort(): void {
    this.aborted = true;
    this.pool?.abort();
  }

  /**
   * Removes every temporary file (and the unfinished output) and stops the worker
   * threads. Idempotent, never rejects; the files are gone when it returns, the
   * workers when the promise settles.
   */
  dispose(): Promise<void> {
    if (this.disposed !== null) return this.disposed;
    this.out?.discard();
    this.out = null;
    this.tmp?.cleanup();
    this.runs.length = 0;
    this.disposed = this.pool === null ? Promise.resolve() : this.pool.close();
    return this.disposed;
  }
}
