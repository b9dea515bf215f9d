/**
 * The worker thread of a threaded build. A build is a session: its batches of
 * encoded items go into the session's run, which is sorted and spilled when full,
 * and at the end the runs are merged and the image written — with the same code
 * the one-thread path runs, so the bytes are the same.
 */
import { parentPort } from 'node:worker_threads';
import { DiscoDBError } from '../errors.js';
import { RunBuffer } from './arena.js';
import type { ChdBuildResult } from '../format/chd-build.js';
import { BatchIngest } from './batch.js';
import type { WriterPhase } from './build.js';
import { finishImage, imageBuffers } from './finish.js';
import type { LentKeys } from './image.js';
import { answerTransfer, hashLentKeys, lendKeys, takeAnswer } from './hash-elsewhere.js';
import { FileSink, TempDir } from './io.js';
import { spillRun, type RunFile } from './runs.js';
import { serializeError, type BatchJob, type BeginJob, type ChdAnswerJob, type ChdBuildJob, type EndJob, type Job, type Reply } from './worker-protocol.js';

const port = parentPort!;

/** Steps within a phase cross to the main thread at most this often (ms), besides a phase's last. */
const STEP_MS = 100;

const aborted = (): DiscoDBError => new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (destroy() before it finished): nothing was written');

/** A job as received: with its build's abort flag (1 = abort), shared with the main thread. */
type Received = Job & { abort: Int32Array };

function post(r: Reply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(r, transfer);
}

/** `report`, called at most every STEP_MS, besides a phase's last step (done = total). */
function throttled(report: (done: number, total: number) => void): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < STEP_MS) return;
    last = now;
    report(done, total);
  };
}

/** One build on this thread. */
class Session {
  private readonly run: RunBuffer;
  private readonly ingest: BatchIngest;
  private readonly runs: RunFile[] = [];
  private readonly tmp: TempDir;
  /** The job being served (phase messages are addressed to it). */
  private jobId: number;
  /** Set once a job failed: the session only waits for its end. */
  private failed = false;
  /** Runs spilled so far. */
  private spilled = 0;
  /** The phase last posted. */
  private current: WriterPhase = 'ingest';
  /** The CHD asked of the build's other thread (hash-elsewhere.ts), until the answer comes back. */
  private chdWait: { keys: LentKeys; lent: boolean; resolve: (r: ChdBuildResult) => void; reject: (e: unknown) => void } | null = null;

  constructor(
    private readonly job: BeginJob,
    private readonly abort: Int32Array,
  ) {
    this.jobId = job.id;
    this.tmp = TempDir.within(job.dir, `s${job.session}-`);
    this.run = new RunBuffer(job.runBudget);
    this.ingest = new BatchIngest(this.run, () => this.spill());
  }

  private check(): void {
    if (Atomics.load(this.abort, 0) !== 0) throw aborted();
    if (this.failed) throw new DiscoDBError('ERR_DISCODB_WORKER', 'the build failed earlier');
  }

  private phase(phase: WriterPhase): void {
    this.current = phase;
    post({ id: this.jobId, kind: 'phase', phase, runs: this.spilled, done: -1, total: -1 });
  }

  /** How far the finish's current phase is; posted at most every STEP_MS, and at its end. */
  private readonly step = throttled((done, total) => post({ id: this.jobId, kind: 'phase', phase: this.current, runs: this.spilled, done, total }));

  private spill(): void {
    this.check();
    this.phase('spill');
    const o = this.job.opts;
    this.runs.push(spillRun(this.run, this.tmp, o.uniqueItems, this.ingest.lastRecord, imageBuffers(o.memoryLimit).io));
    this.run.clear();
    this.spilled++;
    if (this.job.failSpill) throw new Error('injected failure after a spill (test hook)');
    this.phase('ingest');
  }

  batch(job: BatchJob): void {
    this.jobId = job.id;
    try {
      this.check();
      // A Buffer like the arenas, so that the copy and compare loops see one array type.
      this.ingest.apply(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.length), job.meta, job.n, job.more);
    } catch (err) {
      this.failed = true;
      throw err;
    }
    post({ id: job.id, kind: 'applied', bytes: job.bytes, meta: job.meta }, [job.bytes.buffer as ArrayBuffer, job.meta.buffer as ArrayBuffer]);
  }

  /** Asks for the CHD of `keys` to be built on the build's other thread (an arena is lent meanwhile). */
  private readonly hashElsewhere = (keys: LentKeys): Promise<ChdBuildResult> =>
    new Promise<ChdBuildResult>((resolve, reject) => {
      const { request, transfer, lent } = lendKeys(keys, this.jobId);
      this.chdWait = { keys, lent, resolve, reject };
      post(request, transfer);
    });

  /** The answer to {@link hashElsewhere}, relayed by the main thread. */
  answerChd(answer: ChdAnswerJob): void {
    const w = this.chdWait;
    if (w === null) return;
    this.chdWait = null;
    try {
      w.resolve(takeAnswer(w.keys, w.lent, answer));
    } catch (err) {
      w.reject(err);
    }
  }

  /** Merges and writes the image into `job.outFd`. */
  async finish(job: EndJob): Promise<void> {
    this.jobId = job.id;
    this.check();
    const ingest = this.ingest;
    if (ingest.receiving) throw new DiscoDBError('ERR_DISCODB_WORKER', 'the build ended in the middle of a value sent in pieces');
    ingest.flush();
    if (!this.run.isEmpty() && this.runs.length > 0) this.spill();
    if (this.runs.length > 0) this.run.release();
    const abort = this.abort;
    const stats = await finishImage({
      run: this.run,
      runs: this.runs.splice(0),
      tmp: this.tmp,
      opts: this.job.opts,
      sink: new FileSink(job.outFd),
      tick: async () => {
        if (Atomics.load(abort, 0) !== 0) throw aborted();
      },
      setPhase: (phase) => {
        if (Atomics.load(abort, 0) !== 0) throw aborted();
        if (job.failAt === phase) throw new Error(`injected failure in the ${phase} phase (test hook)`);
        this.phase(phase);
      },
      progress: this.step,
      ...(job.hashElsewhere ? { hashElsewhere: this.hashElsewhere } : {}),
    });
    post({ id: job.id, kind: 'finished', stats });
  }

  /** Closes the session's files (the main thread removes the directory). */
  close(): void {
    this.tmp.cleanup();
    this.run.release();
  }
}

const sessions = new Map<number, Session>();

/** The jobs of each session run one after the other (an end waits for a finish in progress). */
const chains = new Map<number, Promise<void>>();

async function serve(job: Received): Promise<void> {
  switch (job.kind) {
    case 'begin':
      sessions.set(job.session, new Session(job, job.abort));
      post({ id: job.id, kind: 'ok' });
      return;
    case 'batch': {
      const s = sessions.get(job.session);
      if (s === undefined) throw new DiscoDBError('ERR_DISCODB_WORKER', `no build session ${job.session}`);
      s.batch(job);
      return;
    }
    case 'chd-answer':
    case 'chd-build':
      return;
    case 'end': {
      const s = sessions.get(job.session);
      if (s === undefined) {
        post({ id: job.id, kind: 'ok' });
        return;
      }
      try {
        if (job.outFd >= 0) await s.finish(job);
        else post({ id: job.id, kind: 'ok' });
      } finally {
        sessions.delete(job.session);
        chains.delete(job.session);
        s.close();
      }
    }
  }
}

/** Builds the CHD another worker's session asked for (hash-elsewhere.ts), telling its progress as a `hash` phase. */
async function buildChdFor(job: ChdBuildJob & { abort: Int32Array }): Promise<void> {
  const abort = job.abort;
  const answer = await hashLentKeys(
    job.request,
    job.session,
    job.bufSize,
    async () => {
      if (Atomics.load(abort, 0) !== 0) throw aborted();
    },
    throttled((done, total) => post({ id: job.id, kind: 'phase', phase: 'hash', runs: 0, done, total })),
  );
  post({ id: job.id, kind: 'chd-built', answer }, answerTransfer(answer));
}

port.on('message', (job: Received) => {
  // Neither is queued behind a session's jobs: the end job a CHD is for waits for it.
  if (job.kind === 'chd-answer') {
    sessions.get(job.session)?.answerChd(job);
    return;
  }
  if (job.kind === 'chd-build') {
    buildChdFor(job).catch((err: unknown) => post({ id: job.id, kind: 'error', error: serializeError(err) }));
    return;
  }
  const prev = chains.get(job.session) ?? Promise.resolve();
  const done = prev.then(() => serve(job)).catch((err: unknown) => post({ id: job.id, kind: 'error', error: serializeError(err) }));
  if (job.kind !== 'end') chains.set(job.session, done);
});
