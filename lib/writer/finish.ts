/**
 * The end of a build, shared by the one-thread path and the worker thread: merge
 * the spilled runs (or take the in-memory run) and write the image into a sink.
 */
import type { WriterPhase } from './build.js';
import type { RunBuffer } from './arena.js';
import { driveAsync, writeMemoryImage, writeRunImage, type HashElsewhere, type ImageBuffers, type ImageStats, type ProgressReport } from './image.js';
import type { Sink, TempDir } from './io.js';
import type { ResolvedOptions } from './options.js';
import { mergeAll, type MergeContext, type RunFile } from './runs.js';

/** The largest fan-in of one merge pass (bounded by file descriptors as much as by memory). */
const MAX_FAN_IN = 64;
/**
 * The smallest: below it a tiny budget would cost merge passes out of proportion;
 * 8 inputs × 2 buffers × 4 KiB is noise next to the process itself.
 */
const MIN_FAN_IN = 8;
const MIN_MERGE_BUFFER = 4 * 1024;
const MAX_MERGE_BUFFER = 4 * 1024 * 1024;

/** Buffer sizes derived from the budget. */
export function imageBuffers(limit: number): ImageBuffers {
  return {
    io: Math.max(64 * 1024, Math.min(4 * 1024 * 1024, Math.floor(limit / 16))),
    // A quarter: the window sits next to the write's per-key arrays and, until V8 collects it, the run's garbage.
    window: Math.max(1024 * 1024, Math.floor(limit / 4)),
  };
}

/** What finishing needs. */
export interface FinishJob {
  /** The in-memory run, when nothing was spilled (then `runs` is empty). */
  run: RunBuffer | null;
  /** The spilled runs, in input order. */
  runs: RunFile[];
  tmp: TempDir;
  opts: ResolvedOptions;
  sink: Sink;
  /** Yields and honours aborts; called every few thousand entries. */
  tick: () => Promise<void>;
  setPhase: (phase: WriterPhase) => void;
  /** Hears how far the current phase is (`WriterProgress.done` / `total`); often, unthrottled. */
  progress?: ProgressReport;
  /** Builds the in-memory run's hash on another thread, beside the writing (see `ChdAheadRequest`). */
  hashElsewhere?: HashElsewhere;
}

/** Merges (if there are runs) and writes the image; returns its facts. */
export async function finishImage(job: FinishJob): Promise<ImageStats> {
  const { opts, sink, tmp, tick, setPhase } = job;
  const report = job.progress ?? null;
  const onPlaced = job.progress;
  const limit = opts.memoryLimit;
  const buffers = imageBuffers(limit);
  const onHash = (hashing: boolean): void => setPhase(hashing ? 'hash' : 'write');
  if (job.runs.length === 0) {
    setPhase('write');
    return driveAsync(writeMemoryImage(job.run!, opts, () => sink, buffers, report), tick, onHash, onPlaced, job.hashElsewhere);
  }
  setPhase('merge');
  const ctx: MergeContext = {
    tmp,
    unique: opts.uniqueItems,
    bufferSize: (m) => Math.max(MIN_MERGE_BUFFER, Math.min(MAX_MERGE_BUFFER, Math.floor(limit / (2 * m + 2)))),
    tick,
    ...(job.progress === undefined ? {} : { progress: job.progress }),
  };
  const fanIn = Math.max(MIN_FAN_IN, Math.min(MAX_FAN_IN, Math.floor(limit / (2 * 32 * 1024))));
  const final = await mergeAll(job.runs, ctx, fanIn);
  if (final.fd < 0) final.fd = tmp.reopen(final.path);
  setPhase('write');
  const stats = await driveAsync(writeRunImage(final, opts, sink, tmp, buffers, report), tick, onHash, onPlaced, job.hashElsewhere);
  tmp.remove(final.fd);
  return stats;
}
