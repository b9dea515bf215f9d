/**
 * Worker threads for threaded builds. The threads are shared by the builds of the
 * process (starting one costs tens of milliseconds): started on first use,
 * referenced (keeping the process alive) only while they have a job, terminated
 * after a few idle seconds. Each build sees them through a {@link WorkerPool}.
 * An abort is cooperative — a flag shared with the build's jobs, checked at every
 * checkpoint, so that a worker closes its own files — and then the threads that
 * ran the aborted build are terminated.
 */
import { Worker } from 'node:worker_threads';
import { DiscoDBError } from '../errors.js';
import type { WriterPhase } from './build.js';
import { deserializeError, type ChdJobRequest, type Job, type Reply } from './worker-protocol.js';

/** The worker's module: the compiled `.js` next to this file (or the `.ts` when run from sources). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
/** An idle thread is terminated after this long (ms). */
const IDLE_MS = 5000;

/** Test hooks: make a worker fail (after its first spill, or on entering a phase of the finish). */
export const threadTestHooks: { failSpill: boolean; failAt: WriterPhase | null } = {
  failSpill: false,
  failAt: null,
};

/** Hears a job's phase changes and steps (`done`/`total` −1 when unknown). */
export type PhaseListener = (phase: WriterPhase, runs: number, done: number, total: number) => void;

/** What a job's sender hears before its result: phase changes, and requests to build a CHD here (hash-elsewhere.ts). */
export interface JobListeners {
  onPhase?: PhaseListener;
  onChd?: (request: ChdJobRequest) => void;
}

interface Pending {
  slot: number;
  resolve: (r: Reply) => void;
  reject: (e: DiscoDBError) => void;
  listeners: JobListeners;
}

interface Slot {
  worker: Worker | null;
  busy: number;
  idle: NodeJS.Timeout | null;
}

const slots: Slot[] = [];
const pending = new Map<number, Pending>();
let nextJobId = 1;

function fail(i: number, w: Worker, err: unknown): void {
  const slot = slots[i]!;
  if (slot.worker !== w) return;
  slot.worker = null;
  slot.busy = 0;
  const e = new DiscoDBError('ERR_DISCODB_WORKER', `a worker thread of the build failed: ${err instanceof Error ? err.message : String(err)}`);
  for (const [id, p] of pending) {
    if (p.slot !== i) continue;
    pending.delete(id);
    p.reject(e);
  }
}

function workerAt(i: number): Worker {
  while (slots.length <= i) slots.push({ worker: null, busy: 0, idle: null });
  const slot = slots[i]!;
  if (slot.worker !== null) return slot.worker;
  const w = new Worker(WORKER_URL);
  w.unref();
  w.on('message', (r: Reply) => onReply(r));
  w.on('error', (err) => fail(i, w, err));
  w.on('exit', (code) => fail(i, w, new Error(`it exited with code ${code}`)));
  slot.worker = w;
  return w;
}

function onReply(r: Reply): void {
  const p = pending.get(r.id);
  if (p === undefined) return;
  if (r.kind === 'phase') {
    p.listeners.onPhase?.(r.phase, r.runs, r.done, r.total);
    return;
  }
  if (r.kind === 'chd') {
    const onChd = p.listeners.onChd;
    if (onChd !== undefined) onChd(r);
    else p.reject(new DiscoDBError('ERR_DISCODB_WORKER', 'a worker asked for a hash nobody builds'));
    return;
  }
  pending.delete(r.id);
  release(p.slot);
  if (r.kind === 'error') p.reject(deserializeError(r.error));
  else p.resolve(r);
}

function release(i: number): void {
  const slot = slots[i]!;
  if (--slot.busy > 0) return;
  slot.busy = 0;
  const w = slot.worker;
  if (w === null) return;
  w.unref();
  slot.idle = setTimeout(() => terminate(i), IDLE_MS);
  slot.idle.unref();
}

/** Terminates the thread of slot i (its pending jobs are rejected). */
function terminate(i: number): Promise<void> {
  const slot = slots[i];
  const w = slot?.worker ?? null;
  if (slot === undefined || w === null) return Promise.resolve();
  if (slot.idle !== null) clearTimeout(slot.idle);
  slot.idle = null;
  fail(i, w, new Error('it was terminated'));
  return w.terminate().then(
    () => undefined,
    () => undefined,
  );
}

/** Live worker threads of the process (for tests and diagnostics). */
export function liveThreads(): number {
  return slots.filter((s) => s.worker !== null).length;
}

/** One build's use of the shared threads: jobs, abort, close. */
export class WorkerPool {
  private rr = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly jobs = new Set<number>();
  private readonly used = new Set<number>();
  /** Shared with this build's jobs: 1 = abort. */
  readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));

  constructor(readonly size: number) {}

  private next(): number {
    const i = this.rr;
    this.rr = (this.rr + 1) % this.size;
    return i;
  }

  /** A fresh job id. */
  id(): number {
    return nextJobId++;
  }

  /** The least busy of this build's threads (a build session stays on one). */
  pick(): number {
    let best = 0;
    for (let i = 1; i < this.size; i++) if ((slots[i]?.busy ?? 0) < (slots[best]?.busy ?? 0)) best = i;
    return best;
  }

  /**
   * Runs `job` on thread `i` (default: the next of this build's threads, round robin),
   * moving the buffers in `transfer`. Resolves with its result reply; rejects with a DiscoDBError.
   */
  run(job: Job, transfer: ArrayBuffer[], listeners: JobListeners = {}, i = this.next()): Promise<Reply> {
    if (this.closed) return Promise.reject(new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted'));
    let w: Worker;
    try {
      w = workerAt(i);
    } catch (err) {
      return Promise.reject(new DiscoDBError('ERR_DISCODB_WORKER', `cannot start a worker thread: ${(err as Error).message} (use threads: 0)`, { cause: err }));
    }
    const slot = slots[i]!;
    if (slot.idle !== null) clearTimeout(slot.idle);
    slot.idle = null;
    this.used.add(i);
    this.jobs.add(job.id);
    return new Promise<Reply>((resolve, reject) => {
      const done = (): void => {
        this.jobs.delete(job.id);
      };
      pending.set(job.id, {
        slot: i,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        listeners,
      });
      if (slot.busy++ === 0) w.ref();
      w.postMessage({ ...job, abort: this.abortFlag }, transfer);
    });
  }

  /**
   * Starts thread `i` now unless it runs, so that a later job need not wait tens of ms for
   * it; like any idle thread it is terminated after a few idle seconds (or with this build's).
   */
  warm(i: number): void {
    if (this.closed) return;
    try {
      workerAt(i);
    } catch {
      return; // The job that needs it reports the failure.
    }
    this.used.add(i);
    const slot = slots[i]!;
    if (slot.busy === 0 && slot.idle === null) {
      slot.idle = setTimeout(() => terminate(i), IDLE_MS);
      slot.idle.unref();
    }
  }

  /**
   * Posts `message` (moving `transfer`) to thread `i`, expecting no reply: an answer to
   * a request of a running job. Dropped when that thread is gone (and its jobs failed).
   */
  tell(message: Job, transfer: ArrayBuffer[], i: number): void {
    const w = slots[i]?.worker ?? null;
    if (w !== null) w.postMessage({ ...message, abort: this.abortFlag }, transfer);
  }

  /** Asks every job of this build to stop at its next checkpoint. */
  abort(): void {
    Atomics.store(this.abortFlag, 0, 1);
  }

  /**
   * Ends this build's use of the threads. After a success (nothing running) they stay
   * for the next build. Otherwise the jobs are aborted, given up to 10 s to stop at a
   * checkpoint (so that they close their files), and the threads this build used are
   * terminated. Idempotent; never rejects.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    if (this.jobs.size === 0 && Atomics.load(this.abortFlag, 0) === 0) {
      this.closing = Promise.resolve();
      return this.closing;
    }
    this.abort();
    this.closing = (async () => {
      const deadline = Date.now() + 10_000;
      while (this.jobs.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
      await Promise.all([...this.used].map((i) => terminate(i)));
    })();
    return this.closing;
  }
}
