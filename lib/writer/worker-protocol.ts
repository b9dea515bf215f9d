/**
 * Messages between a threaded build and its worker thread. Records travel as
 * batches of bytes in transferred ArrayBuffers (moved, never cloned per record);
 * everything else is a handful of numbers and paths.
 */
import { DiscoDBError, type DiscoDBErrorCode } from '../errors.js';
import type { WriterPhase } from './build.js';
import type { ImageStats } from './image.js';
import type { ResolvedOptions } from './options.js';

/**
 * Starts a build session on a worker: it owns the run (of `runBudget` bytes), spills
 * it to run files in `dir` when full, and finishes the image.
 */
export interface BeginJob {
  kind: 'begin';
  id: number;
  session: number;
  dir: string;
  opts: ResolvedOptions;
  runBudget: number;
  /** Test hook: fail after the first run file was written. */
  failSpill: boolean;
}

/** Applies a batch of encoded items (see batch.ts) to the session's run; the buffers come back. */
export interface BatchJob {
  kind: 'batch';
  id: number;
  session: number;
  bytes: Uint8Array;
  meta: Uint32Array;
  n: number;
  /** Bytes of the batch's last value still to come in the next batches (0: none; see batch.ts). */
  more: number;
}

/**
 * Ends a session. With `outFd` ≥ 0: merge the runs (or take the in-memory run) and
 * write the image to that open descriptor. With −1: just drop it (closing its files).
 */
export interface EndJob {
  kind: 'end';
  id: number;
  session: number;
  outFd: number;
  /** Ask for the in-memory CHD to be built on another worker, beside the writing (hash-elsewhere.ts). */
  hashElsewhere: boolean;
  /** Test hook: fail on entering this phase. */
  failAt: WriterPhase | null;
}

/**
 * The answer to a worker's `chd` request (see hash-elsewhere.ts): the CHD, or why it
 * failed; `bytes` is the key arena the worker lent, moved back (null when it sent a copy).
 */
export interface ChdAnswerJob {
  kind: 'chd-answer';
  id: number;
  session: number;
  bytes: Uint8Array | null;
  section: Uint8Array | null;
  slots: Uint32Array | null;
  error: SerializedError | null;
}

/** Builds, on a second worker, the CHD another worker asked for (its reply: `chd-built`). */
export interface ChdBuildJob {
  kind: 'chd-build';
  id: number;
  session: number;
  request: ChdJobRequest;
  /** Read buffer for a run file's keys. */
  bufSize: number;
}

export type Job = BeginJob | BatchJob | EndJob | ChdAnswerJob | ChdBuildJob;

/** A worker's request, during an end job, that this side build the in-memory CHD of its keys. */
export interface ChdJobRequest {
  id: number;
  kind: 'chd';
  numKeys: number;
  keys: ArenaKeys | RunKeys;
}

/** Keys in memory: key k at `bytes[offs[k], offs[k + 1])`. */
export interface ArenaKeys {
  kind: 'arena';
  bytes: Uint8Array;
  offs: Uint32Array;
  /** The bytes are the worker's own arena, to be sent back with the answer. */
  lent: boolean;
}

/** Keys in the key section `[start, end)` of a run file (see `keysInRun`). */
export interface RunKeys {
  kind: 'run';
  path: string;
  start: number;
  end: number;
}

/**
 * A worker's answers: phase changes and steps within a phase (with the runs spilled so far, and
 * `done` of `total` as in `WriterProgress`, −1 when the phase has not told), then one result or
 * error per job.
 */
export type Reply =
  | { id: number; kind: 'phase'; phase: WriterPhase; runs: number; done: number; total: number }
  | { id: number; kind: 'ok' }
  | { id: number; kind: 'applied'; bytes: Uint8Array; meta: Uint32Array }
  | { id: number; kind: 'finished'; stats: ImageStats }
  | ChdJobRequest
  | { id: number; kind: 'chd-built'; answer: ChdAnswerJob }
  | { id: number; kind: 'error'; error: SerializedError };

/** An error as it crosses the thread boundary. */
export interface SerializedError {
  message: string;
  /** A DiscoDBError's code, or a Node system error's (`ENOSPC`). */
  code?: string;
  syscall?: string;
  discodb: boolean;
  record?: number;
  path?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof DiscoDBError) {
    const out: SerializedError = { message: err.message, code: err.code, discodb: true };
    if (err.record !== undefined) out.record = err.record;
    if (err.path !== undefined) out.path = err.path;
    return out;
  }
  const e = err as NodeJS.ErrnoException;
  const out: SerializedError = { message: e instanceof Error ? e.message : String(err), discodb: false };
  if (e !== null && typeof e === 'object') {
    if (typeof e.code === 'string') out.code = e.code;
    if (typeof e.syscall === 'string') out.syscall = e.syscall;
    if (typeof e.path === 'string') out.path = e.path;
  }
  return out;
}

/** The error on this side: DiscoDBErrors keep their code; a system error is an ERR_DISCODB_IO; anything else an ERR_DISCODB_WORKER. */
export function deserializeError(s: SerializedError): DiscoDBError {
  if (s.discodb) {
    const details: { record?: number; path?: string } = {};
    if (s.record !== undefined) details.record = s.record;
    if (s.path !== undefined) details.path = s.path;
    return new DiscoDBError(s.code as DiscoDBErrorCode, s.message, details);
  }
  if (s.syscall !== undefined) {
    return new DiscoDBError('ERR_DISCODB_IO', `${s.syscall} failed${s.path === undefined ? '' : ` for ${s.path}`}: ${s.message}`, s.path === undefined ? {} : { path: s.path });
  }
  return new DiscoDBError('ERR_DISCODB_WORKER', `a worker thread of the build failed: ${s.message}`);
}
