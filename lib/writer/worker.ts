/**
 * The worker thread of a threaded build: spills runs and finishes builds with the
 * same code the one-thread path runs, so the bytes are the same.
 */
import { parentPort } from 'node:worker_threads';
import { DiscoDBError } from '../errors.js';
import { RunBuffer } from './arena.js';
import type { WriterPhase } from './build.js';
import { finishImage } from './finish.js';
import { FileSink, TempDir } from './io.js';
import { spillRun } from './runs.js';
import { serializeError, type FinishJob, type Job, type Reply, type SpillJob } from './worker-protocol.js';

const port = parentPort!;

const aborted = (): DiscoDBError => new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (destroy() before it finished): nothing was written');

/** A job as received: with its build's abort flag (1 = abort), shared with the main thread. */
type Received = Job & { abort: Int32Array };

function post(r: Reply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(r, transfer);
}

function spill(job: SpillJob & { abort: Int32Array }): void {
  if (Atomics.load(job.abort, 0) !== 0) throw aborted();
  const tmp = TempDir.within(job.dir, `s${job.id}-`);
  try {
    const run = spillRun(RunBuffer.fromParts(job.run), tmp, job.unique, job.lastRecord, job.bufSize);
    if (job.fail) throw new Error('injected failure after a spill (test hook)');
    // The run's buffers go back (moved) for the next run: no garbage here, no regrowth there.
    const p = job.run;
    const back = [p.keys.arena.buffer, p.keys.offs.buffer, p.values.arena.buffer, p.values.offs.buffer, p.pairKey.buffer, p.pairVal.buffer] as ArrayBuffer[];
    post({ id: job.id, kind: 'spilled', run, buffers: p }, back);
  } finally {
    tmp.cleanup();
  }
}

async function finish(job: FinishJob & { abort: Int32Array }): Promise<void> {
  const abort = job.abort;
  const tick = async (): Promise<void> => {
    if (Atomics.load(abort, 0) !== 0) throw aborted();
  };
  const tmp = TempDir.within(job.dir, `f${job.id}-`);
  try {
    const setPhase = (phase: WriterPhase): void => {
      if (Atomics.load(abort, 0) !== 0) throw aborted();
      if (job.failAt === phase) throw new Error(`injected failure in the ${phase} phase (test hook)`);
      post({ id: job.id, kind: 'phase', phase });
    };
    const stats = await finishImage({
      run: job.run === null ? null : RunBuffer.fromParts(job.run),
      runs: job.runs,
      tmp,
      opts: job.opts,
      sink: new FileSink(job.outFd),
      tick,
      setPhase,
    });
    post({ id: job.id, kind: 'finished', stats });
  } finally {
    tmp.cleanup();
  }
}

port.on('message', (job: Received) => {
  const done = job.kind === 'spill' ? Promise.resolve().then(() => spill(job)) : finish(job);
  done.catch((err: unknown) => post({ id: job.id, kind: 'error', error: serializeError(err) }));
});
