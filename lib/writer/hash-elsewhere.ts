/**
 * The perfect hash of a threaded build, built on a second worker thread while the
 * first one writes. The writer's steps after the records are in — grouping the value
 * lists, measuring and encoding the records, counting the values' 4-grams — do not need
 * the hash. So the writing worker asks for it first: it lends its key arena (moved, not
 * copied, when the arena owns its memory) with a copy of the offsets, or names the run
 * file whose key section holds the keys; the main thread passes the request on to the
 * other worker, which builds the CHD with the same code and the same fresh `rand()`
 * state as the first would (the same bytes); the slots (and the arena) come back the
 * same way, moved at each hop. Only the in-memory CHD is built this way (the external
 * one stays where its scratch files are), and only with two threads or more: the main
 * thread itself never builds it, so that its event loop stays free.
 */
import * as fs from 'node:fs';
import { buildChd, type ChdBuildResult, type KeySource } from '../format/chd-build.js';
import { GlibcRandom } from '../format/glibc-rand.js';
import { ownsItsBuffer } from '../format/pages.js';
import { keysInMemory, keysInRun, type LentKeys } from './image.js';
import { deserializeError, serializeError, type ChdAnswerJob, type ChdJobRequest } from './worker-protocol.js';

/** Put in a lent arena's place until it comes back: any read of it in between fails loudly. */
const LENT = Buffer.alloc(0);

/** Worker side: what a request for job `id` carries, and moves, for the CHD of `keys` (a dictionary's arena is lent when it can be moved). */
export function lendKeys(keys: LentKeys, id: number): { request: ChdJobRequest; transfer: ArrayBuffer[]; lent: boolean } {
  if (keys.kind === 'run') {
    const { path, start, end, numKeys } = keys;
    return { request: { id, kind: 'chd', numKeys, keys: { kind: 'run', path, start, end } }, transfer: [], lent: false };
  }
  const dict = keys.dict;
  const nk = dict.n;
  const arena = dict.arena;
  const lent = ownsItsBuffer(arena);
  const bytes = lent ? arena : Uint8Array.prototype.slice.call(arena, 0, dict.used);
  const offs = dict.offs.slice(0, nk + 1);
  if (lent) dict.arena = LENT;
  const request: ChdJobRequest = { id, kind: 'chd', numKeys: nk, keys: { kind: 'arena', bytes, offs, lent } };
  return { request, transfer: requestTransfer(request), lent };
}

/** What a request moves: the key bytes and offsets it carries (owned by it alone). */
export function requestTransfer(req: ChdJobRequest): ArrayBuffer[] {
  const k = req.keys;
  return k.kind === 'arena' ? [k.bytes.buffer as ArrayBuffer, k.offs.buffer as ArrayBuffer] : [];
}

/** What an answer moves: the lent arena and the slots (typed arrays of their own, never pooled Buffers). */
export function answerTransfer(answer: ChdAnswerJob): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  if (answer.bytes !== null) out.push(answer.bytes.buffer as ArrayBuffer);
  const slots = answer.slots;
  if (slots !== null && slots.buffer instanceof ArrayBuffer && !out.includes(slots.buffer)) out.push(slots.buffer);
  return out;
}

/** The answer to `req` when it could not be built at all (the arena, if it was lent, is lost with the build). */
export function failedAnswer(req: ChdJobRequest, session: number, err: unknown): ChdAnswerJob {
  return { kind: 'chd-answer', id: req.id, session, bytes: null, section: null, slots: null, error: serializeError(err) };
}

/** Worker side: puts a lent arena back from `answer` and returns the CHD (or throws its error). */
export function takeAnswer(keys: LentKeys, lent: boolean, answer: ChdAnswerJob): ChdBuildResult {
  if (lent && answer.bytes !== null && keys.kind === 'dict') {
    keys.dict.arena = Buffer.from(answer.bytes.buffer, answer.bytes.byteOffset, answer.bytes.byteLength);
  }
  if (answer.error !== null) throw deserializeError(answer.error);
  if (lent && answer.bytes === null) throw new Error('the key arena lent for the hash did not come back');
  return { section: answer.section!, slots: answer.slots!, spare: new Uint32Array(0) };
}

/**
 * Builds the CHD a worker asked for, on another worker (`tick` is awaited every ~2^16
 * keys or buckets and may throw to stop it; `onPlaced` hears the progress; a run file
 * is read through a buffer of `bufSize` bytes). Never rejects: a failure is the
 * answer's `error`. The answer carries the lent arena back ({@link answerTransfer}).
 */
export async function hashLentKeys(
  req: ChdJobRequest,
  session: number,
  bufSize: number,
  tick: () => Promise<void>,
  onPlaced?: (done: number, total: number) => void,
): Promise<ChdAnswerJob> {
  const k = req.keys;
  const answer: ChdAnswerJob = { kind: 'chd-answer', id: req.id, session, bytes: k.kind === 'arena' && k.lent ? k.bytes : null, section: null, slots: null, error: null };
  let fd = -1;
  try {
    let source: KeySource;
    if (k.kind === 'arena') source = keysInMemory(k.bytes, k.offs, req.numKeys);
    else {
      fd = fs.openSync(k.path, 'r');
      source = keysInRun(fd, k.start, k.end, req.numKeys, bufSize);
    }
    const res = await buildChd(req.numKeys, source, new GlibcRandom(), onPlaced, { tick });
    answer.section = res.section;
    answer.slots = res.slots;
  } catch (err) {
    answer.error = serializeError(err);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  return answer;
}
