/**
 * A threaded file build: the calling thread validates records and encodes them
 * into batches of bytes (batch.ts), moved to one worker thread that does all the
 * rest — looking keys and values up in its run, sorting and spilling runs, merging,
 * the perfect hash and the image — into a temporary file next to the target that
 * this side fsyncs and renames. Batches on their way take up to a sixteenth of the
 * budget (so that the caller goes on while the worker spills a run); past that the
 * caller waits ({@link ThreadedBuilder.whenRoom}), so memory stays within the budget:
 * the worker's run gets the run share of `memoryLimit` (`runBudget`: 3/4) minus the
 * batch buffers and minus {@link WORKER_OVERHEAD} for the second isolate (the worker's heap and the main
 * thread's, which a one-thread build shares), at most an eighth of the budget.
 */
import { DiscoDBError } from '../errors.js';
import { AtomicFile } from './atomic-file.js';
import { RunBuffer, runBudget } from './arena.js';
import { BatchEncoder, type BatchBuffers } from './batch.js';
import { asDiscoDBError, Builder, progressEvent, type WriterPhase, type WriterProgress } from './build.js';
import type { ImageStats } from './image.js';
import { TempDir } from './io.js';
import type { ResolvedOptions } from './options.js';
import { RecordIngest } from './records.js';
import { threadTestHooks, WorkerPool } from './threads.js';
import { imageBuffers } from './finish.js';
import { answerTransfer, failedAnswer, requestTransfer } from './hash-elsewhere.js';
import type { ChdJobRequest, Job, Reply } from './worker-protocol.js';

/** Batches sent and not yet applied, at most (and at least), whatever the budget. */
const MAX_IN_FLIGHT = 32;
const MIN_IN_FLIGHT = 2;
/** What a second isolate costs (measured: ~40 MB more peak RSS than one thread at the same run size). */
const WORKER_OVERHEAD = 24 * 1024 * 1024;

const ABORTED = (): DiscoDBError => new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (destroy() before it finished): nothing was written');

let nextSession = 1;
/** CHD requests this process passed from a build's worker to its other thread (for tests and diagnostics). */
let forwardedHashes = 0;

/** How many hashes of threaded builds were asked of a second thread in this process (hash-elsewhere.ts). */
export function hashesBuiltElsewhere(): number {
  return forwardedHashes;
}

/** The same surface as the one-thread `Builder` for file builds (writer.ts, from.ts). */
export class ThreadedBuilder {
  readonly ingest: RecordIngest;
  onProgress: ((p: WriterProgress) => void) | null = null;
  stats: ImageStats | null = null;
  phase: WriterPhase = 'ingest';
  private readonly pool: WorkerPool;
  private readonly tmp: TempDir;
  private readonly encoder: BatchEncoder;
  private readonly session = nextSession++;
  /** The thread of this build's session, and the one that builds its hash (−1: none, the session's thread does). */
  private readonly slot: number;
  private readonly hashSlot: number;
  private readonly runBudget: number;
  private readonly maxInFlight: number;
  private began = false;
  private ended = false;
  private inFlight = 0;
  /** Batches sent, until applied (awaited before the finish). */
  private readonly pending = new Set<Promise<unknown>>();
  private wake: (() => void) | null = null;
  private error: unknown = null;
  private spillCount = 0;
  /** The current phase's `done` / `total` as the worker last told (−1: not known). */
  private done = -1;
  private total = -1;
  private aborted = false;
  private out: AtomicFile | null = null;
  private disposed: Promise<void> | null = null;
  /** How far the hash on the other thread is (`hashTotal` 0: not started). */
  private hashDone = 0;
  private hashTotal = 0;

  constructor(readonly opts: ResolvedOptions) {
    const limit = opts.memoryLimit;
    this.pool = new WorkerPool(opts.threads);
    this.slot = this.pool.pick();
    this.hashSlot = opts.threads > 1 ? (this.slot + 1) % opts.threads : -1;
    this.tmp = new TempDir(opts.tmpDir);
    const byteCap = Math.max(1024, Math.min(1024 * 1024, Math.floor(limit / 128)));
    this.encoder = new BatchEncoder(byteCap, Math.max(64, Math.floor(byteCap / 20)), (b, n, more) => this.send(b, n, more));
    const batch = this.encoder.batchBytes;
    this.maxInFlight = Math.max(MIN_IN_FLIGHT, Math.min(MAX_IN_FLIGHT, Math.floor(limit / 16 / batch)));
    const overhead = Math.min(WORKER_OVERHEAD, Math.floor(limit / 8));
    const share = runBudget(limit);
    this.runBudget = Math.max(Math.floor(share / 2), share - (this.maxInFlight + 1) * batch - overhead);
    this.ingest = new RecordIngest(new RunBuffer(0), () => undefined, this.encoder);
    // Now, so that the worker starts (tens of ms) while the first batch fills.
    this.begin();
  }

  /** Adds one record (see records.ts for the accepted shapes). Always true: the worker spills, this thread never waits for it here. */
  add(rec: unknown): boolean {
    if (this.aborted) throw ABORTED();
    if (this.error !== null) throw this.error;
    // A caller that did not wait for a value sent in pieces: the rest goes now, whatever is in flight.
    while (this.encoder.pending) this.encoder.pump();
    return this.ingest.add(rec);
  }

  /**
   * True when the caller must wait ({@link whenRoom}) before adding more: the worker is
   * behind, or a value larger than a batch still has pieces to send.
   */
  get mustWait(): boolean {
    return this.inFlight >= this.maxInFlight || this.encoder.pending;
  }

  /**
   * Resolves once fewer than the maximum of batches are in flight and a value sent in
   * pieces has all of them sent, a piece whenever there is room (rejects if the worker failed).
   */
  async whenRoom(): Promise<void> {
    for (;;) {
      if (this.error !== null) throw this.error;
      while (this.encoder.pending && this.inFlight < this.maxInFlight) this.encoder.pump();
      if (this.inFlight < this.maxInFlight) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  get spilledTotal(): number {
    return this.spillCount;
  }

  progress(): WriterProgress {
    return progressEvent(this.phase, this.ingest, this.spillCount, this.done, this.total);
  }

  /** The worker's phase changes and steps (rate-limited there), as the one-thread builder emits them. */
  private readonly onPhase = (phase: WriterPhase, runs: number, done: number, total: number): void => {
    if (this.aborted) return;
    this.spillCount = runs;
    this.phase = phase;
    // The worker waits for the hash of the other thread: as far as it got (it may have finished before).
    if (phase === 'hash' && done < 0 && this.hashTotal > 0) {
      done = this.hashDone;
      total = this.hashTotal;
    }
    this.done = done;
    this.total = total;
    this.onProgress?.(this.progress());
  };

  /**
   * The worker's request for its CHD (hash-elsewhere.ts): passed on to this build's other
   * thread, whose answer goes back to the worker; both hops move the buffers.
   */
  private readonly hashForWorker = (req: ChdJobRequest): void => {
    forwardedHashes++;
    const job: Job = { kind: 'chd-build', id: this.pool.id(), session: this.session, request: req, bufSize: imageBuffers(this.opts.memoryLimit).io };
    const onPhase = (_phase: WriterPhase, _runs: number, done: number, total: number): void => this.onHashPlaced(done, total);
    void this.pool.run(job, requestTransfer(req), { onPhase }, this.hashSlot).then(
      (r) => {
        const answer = r.kind === 'chd-built' ? r.answer : failedAnswer(req, this.session, new Error(`unexpected worker reply ${r.kind}`));
        this.pool.tell(answer, answerTransfer(answer), this.slot);
      },
      (err: unknown) => this.pool.tell(failedAnswer(req, this.session, err), [], this.slot),
    );
  };

  /** The hash's progress, while the worker waits for it (its `hash` phase). */
  private readonly onHashPlaced = (done: number, total: number): void => {
    this.hashDone = done;
    this.hashTotal = total;
    if (this.phase !== 'hash' || this.aborted) return;
    this.done = done;
    this.total = total;
    this.onProgress?.(this.progress());
  };

  private fail(err: unknown): void {
    if (this.error === null) this.error = err;
  }

  /** Starts the worker's session (once). */
  private begin(): void {
    if (this.began) return;
    this.began = true;
    const p = this.pool.run(
      {
        kind: 'begin',
        id: this.pool.id(),
        session: this.session,
        dir: this.tmp.ensureDir(),
        opts: this.opts,
        runBudget: this.runBudget,
        failSpill: threadTestHooks.failSpill,
      },
      [],
      {},
      this.slot,
    );
    this.track(p.then(() => undefined));
    if (this.hashSlot >= 0) this.pool.warm(this.hashSlot);
  }

  private track(p: Promise<unknown>): void {
    const settled: Promise<void> = p.then(
      () => undefined,
      (err: unknown) => this.fail(err),
    );
    const done = settled.then(() => {
      this.pending.delete(done);
    });
    this.pending.add(done);
  }

  /** Moves a full batch to the worker. */
  private send(b: BatchBuffers, n: number, more: number): void {
    this.begin();
    this.inFlight++;
    const p = this.pool
      .run({ kind: 'batch', id: this.pool.id(), session: this.session, bytes: b.bytes, meta: b.meta, n, more }, [b.bytes.buffer as ArrayBuffer, b.meta.buffer as ArrayBuffer], { onPhase: this.onPhase }, this.slot)
      .then((r: Reply) => {
        if (r.kind === 'applied') this.encoder.recycle({ bytes: r.bytes, meta: r.meta });
      });
    const back = (): void => {
      this.inFlight--;
      const w = this.wake;
      this.wake = null;
      w?.();
    };
    this.track(p.finally(back));
  }

  /**
   * Finishes into `target` (see `Builder.buildFile`): the last batch, then the merge and
   * image on the worker, written into a temporary file next to `target`, fsynced, renamed.
   */
  async buildFile(target: string): Promise<void> {
    try {
      if (this.aborted) throw ABORTED();
      if (this.encoder.pending) await this.whenRoom();
      this.encoder.flush();
      this.begin();
      while (this.pending.size > 0) await Promise.all(this.pending);
      if (this.error !== null) throw this.error;
      if (this.aborted) throw ABORTED();
      this.tmp.sweep();
      const out = AtomicFile.open(target);
      this.out = out;
      this.ended = true;
      let r: Reply;
      try {
        r = await this.pool.run(
          { kind: 'end', id: this.pool.id(), session: this.session, outFd: out.fd, hashElsewhere: this.hashSlot >= 0, failAt: threadTestHooks.failAt },
          // The batch buffers go with it (detached here, collected there: see BatchEncoder.surrender).
          this.encoder.surrender(),
          { onPhase: this.onPhase, onChd: this.hashForWorker },
          this.slot,
        );
      } catch (err) {
        // A write error in the worker names no file: it is the output's.
        if (err instanceof DiscoDBError && err.code === 'ERR_DISCODB_IO' && err.path === undefined) {
          throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${target}: ${err.message}`, { path: target, cause: err });
        }
        throw err;
      }
      if (r.kind !== 'finished') throw new DiscoDBError('ERR_DISCODB_WORKER', `unexpected worker reply ${r.kind}`);
      this.stats = r.stats;
      if (this.aborted) throw ABORTED();
      await out.syncAsync();
      if (this.aborted) throw ABORTED();
      out.commit(this.stats.size);
      this.out = null;
      this.phase = 'done';
      this.done = this.total = -1;
      this.onProgress?.(this.progress());
    } catch (err) {
      throw this.aborted ? ABORTED() : asDiscoDBError(err, target);
    } finally {
      await this.dispose();
    }
  }

  /** Makes the build stop at the worker's next checkpoint. */
  abort(): void {
    this.aborted = true;
    this.pool.abort();
  }

  /**
   * Removes every temporary file (and the unfinished output), ends the worker's
   * session and, after a failure or an abort, terminates the threads. Idempotent,
   * never rejects; the files are gone when it returns, the workers when it settles.
   */
  dispose(): Promise<void> {
    if (this.disposed !== null) return this.disposed;
    this.out?.discard();
    this.out = null;
    this.tmp.cleanup();
    const failed = this.error !== null || this.stats === null;
    if (failed) this.pool.abort();
    this.disposed = (async () => {
      if (this.began && !this.ended) {
        this.ended = true;
        await this.pool.run({ kind: 'end', id: this.pool.id(), session: this.session, outFd: -1, hashElsewhere: false, failAt: null }, [], {}, this.slot).catch(() => undefined);
      }
      await this.pool.close();
    })();
    return this.disposed;
  }
}

/** A file build: on worker threads when `threads` > 0, else on the calling thread. */
export type FileBuilder = Builder | ThreadedBuilder;

/**
 * The builder for `opts`. A one-thread build spills (and rehashes large tables) in
 * steps: its `add` returns false when the run is full, the caller awaits {@link makeRoom},
 * so that a stream or an async source keeps the event loop turning meanwhile.
 */
export function fileBuilder(opts: ResolvedOptions): FileBuilder {
  return opts.threads > 0 ? new ThreadedBuilder(opts) : new Builder(opts, true);
}

/** After `add` returned false: grows or spills the run in steps and stages the rest of the record. */
export async function makeRoom(b: FileBuilder): Promise<void> {
  if (b instanceof Builder) await b.makeRoom();
}

/** True when the caller must await `b.whenRoom()` before adding more records. */
export function mustWait(b: FileBuilder): b is ThreadedBuilder {
  return b instanceof ThreadedBuilder && b.mustWait;
}
