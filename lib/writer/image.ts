/**
 * Writing the discodb image (spec §1–§5, §8) from either the in-memory run (a
 * build that never spilled) or the single run a merge produced.
 *
 * The writers are generators so that one body serves a synchronous in-memory
 * build and an asynchronous file build: they yield `TICK` now and then (the async
 * driver lets the event loop run and honours aborts) and a {@link ChdRequest} when
 * the perfect hash must be built (the driver calls `buildChd`).
 */
import * as fs from 'node:fs';
import {
  buildChd,
  buildChdMap,
  buildChdMapSync,
  buildChdSync,
  type ChdBuildResult,
  type ChdExternal,
  type ChdMapResult,
  type ChdProgress,
  type KeySource,
  type Scratch,
  type ScratchFile,
} from '../format/chd-build.js';
import { ListReader, SpillLists } from '../format/spill-lists.js';
import { GlibcRandom } from '../format/glibc-rand.js';
import {
  CODEBOOK_SIZE,
  F_COMPRESSED,
  F_HASH,
  F_MULTISET,
  HASH_MIN_KEYS,
  HEADER_SIZE,
  serializeHeader,
} from '../format/header.js';
import { DiscoDBError } from '../errors.js';
import { FourGramCounter, HuffmanEncoder, maxEncodedLength, shouldCompress } from '../format/huffman-build.js';
import { jenkinsHashAt } from '../format/jenkins.js';
import { STEP_WORK, type ByteDict, type RunBuffer } from './arena.js';
import { BufReader, BufWriter, copyBytes, FileSink, MemSink, readU32Section, type Sink, type TempDir } from './io.js';
import { ListEncoder } from './lists.js';
import type { ResolvedOptions } from './options.js';
import type { RunFile, Section } from './runs.js';

/**
 * Asks the driver for the CHD over `numKeys` keys, pulled (in a fixed order) from
 * `keys`: with a slot per key ({@link ChdBuildResult}) or, when `map`, a slot map
 * ({@link ChdMapResult}); with the pairs on disk when `external` is set.
 */
export interface ChdRequest {
  kind: 'chd';
  numKeys: number;
  keys: KeySource;
  map: boolean;
  external: ChdExternal | null;
}

/** What the driver answers a {@link ChdRequest} with. */
export type ChdAnswer = ChdBuildResult | ChdMapResult;

/**
 * Where the keys of a {@link ChdAheadRequest} are, for a driver that builds its CHD on
 * another thread: an in-memory dictionary (`dict`), whose arena the generator leaves
 * alone until the answer (the driver may lend it), or the key section of a run file.
 */
export type LentKeys =
  | { kind: 'dict'; dict: ByteDict }
  | { kind: 'run'; path: string; start: number; end: number; numKeys: number };

/**
 * Tells the driver the in-memory CHD of `request` will be wanted, so that it can start
 * building it elsewhere (the second worker of a threaded build: hash-elsewhere.ts)
 * from `keys` while the generator goes on; answered `undefined`. The answer is asked
 * for with {@link CHD_AWAIT}.
 */
export interface ChdAheadRequest {
  kind: 'chd-ahead';
  request: ChdRequest;
  keys: LentKeys;
}

/** Asks for the answer to the {@link ChdAheadRequest} made before. */
export interface ChdAwaitRequest {
  kind: 'chd-await';
}

/** Asks the driver for a chance to yield to the event loop. */
export interface TickRequest {
  kind: 'tick';
}

/** What an image generator can ask its driver for. */
export type Step = ChdRequest | ChdAheadRequest | ChdAwaitRequest | TickRequest;
/** The one tick request. */
export const TICK: TickRequest = { kind: 'tick' };
const CHD_AWAIT: ChdAwaitRequest = { kind: 'chd-await' };

/** Builds, somewhere else, the in-memory CHD of some keys (see {@link ChdAheadRequest}). */
export type HashElsewhere = (keys: LentKeys) => Promise<ChdBuildResult>;

/** The keys `[0, nk)` of a dictionary's arena and offsets (key k at `bytes[offs[k], offs[k + 1])`), as the CHD pulls them. */
export function keysInMemory(bytes: Uint8Array, offs: Uint32Array, nk: number): KeySource {
  // A plain Uint8Array view, so that the hash loop sees one array type.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const t = new Uint32Array(3);
  return {
    open: (seed) => {
      let k = 0;
      return {
        next: (chunk): number => {
          const per = chunk.length / 3;
          let c = 0;
          for (; c < per && k < nk; c++, k++) {
            const ks = offs[k]!;
            jenkinsHashAt(seed, view, ks, offs[k + 1]! - ks, t);
            const o = 3 * c;
            chunk[o] = t[0]!;
            chunk[o + 1] = t[1]!;
            chunk[o + 2] = t[2]!;
          }
          return c;
        },
      };
    },
  };
}

/**
 * The keys of a run file's key section `[start, end)` (records of u32 key length, key,
 * u32 count, count u32 ids; `nk` of them, in byte order), as the CHD pulls them.
 */
export function keysInRun(fd: number, start: number, end: number, nk: number, bufSize: number): KeySource {
  let reader: BufReader | null = null;
  const t = new Uint32Array(3);
  return {
    open: (seed) => {
      const r = (reader ??= new BufReader(fd, start, end, bufSize));
      r.rewind(start);
      let k = 0;
      return {
        next: (chunk): number => {
          const per = chunk.length / 3;
          let c = 0;
          for (; c < per && k < nk; c++, k++) {
            r.ensure(4);
            const kl = peekU32(r.buf, r.p);
            r.ensure(8 + kl);
            jenkinsHashAt(seed, r.buf, r.p + 4, kl, t);
            const o = 3 * c;
            chunk[o] = t[0]!;
            chunk[o + 1] = t[1]!;
            chunk[o + 2] = t[2]!;
            r.skip(8 + kl + 4 * peekU32(r.buf, r.p + 4 + kl));
          }
          return c;
        },
      };
    },
  };
}

/** Facts about a written image. */
export interface ImageStats {
  size: number;
  numKeys: number;
  numUniqueValues: number;
  numValues: number;
  flags: number;
}

/**
 * Told how far the current phase is: `done` of `total` in the phase's unit (bytes of the
 * image while writing, keys placed while hashing, run entries while merging).
 */
export type ProgressReport = (done: number, total: number) => void;

/**
 * Counts the bytes of the image written so far against its size. The size is exact
 * once the offsets are known, except for Huffman-coded values: counted at their raw
 * size at first, then at the ratio coded so far ({@link codedSoFar}); `done` reaches
 * `total` only in `finish()`.
 */
class ImageMeter {
  done = 0;
  /** The size without the values' data (whose raw size the first estimate holds). */
  private readonly rest: number;

  constructor(
    public total: number,
    private readonly report: ProgressReport | null,
    rawValueBytes = 0,
  ) {
    this.rest = total - rawValueBytes;
  }

  /** Re-estimates the size: `coded` bytes so far for `raw` of `rawTotal` raw value bytes. */
  codedSoFar(raw: number, rawTotal: number, coded: number): void {
    if (raw <= 0) return;
    this.total = Math.max(this.done + 1, Math.round(this.rest + coded + ((rawTotal - raw) * coded) / raw));
  }

  add(bytes: number): void {
    this.done += bytes;
    // Coded values beyond their raw size: not done until finish().
    if (this.done >= this.total) this.total = this.done + 1;
    this.report?.(this.done, this.total);
  }

  /** The image is complete: `size` bytes of `size`. */
  finish(size: number): void {
    this.done = this.total = size;
    this.report?.(size, size);
  }
}

/** A sink that counts what goes through it on an {@link ImageMeter}. */
class MeteredSink implements Sink {
  constructor(
    private readonly inner: Sink,
    private readonly meter: ImageMeter,
  ) {}

  writeAt(src: Uint8Array, start: number, end: number, pos: number): void {
    this.inner.writeAt(src, start, end, pos);
    this.meter.add(end - start);
  }
}

/** Sizes the writers use for their buffers. */
export interface ImageBuffers {
  /** Sequential read/write buffers. */
  io: number;
  /** Largest window of key records assembled in memory (spilled path). */
  window: number;
}

type ImageGen = Generator<Step, ImageStats, ChdAnswer | undefined>;

/** Runs a stepwise pass, asking for a turn of the event loop at each of its steps. */
function* ticking<T>(steps: Generator<void, T, void>): Generator<Step, T, ChdAnswer | undefined> {
  let r = steps.next();
  while (r.done !== true) {
    yield TICK;
    r = steps.next();
  }
  return r.value;
}

/** The CHD a request asks for, built synchronously with a fresh `rand()` state (like a fresh C process). */
export function chdSync(req: ChdRequest, onPlaced?: ChdProgress): ChdAnswer {
  const options = { external: req.external };
  return req.map
    ? buildChdMapSync(req.numKeys, req.keys, new GlibcRandom(), onPlaced, options)
    : buildChdSync(req.numKeys, req.keys, new GlibcRandom(), onPlaced, options);
}

/** Runs an image generator to completion synchronously; `chd` builds the hash (one asked for ahead: when awaited). */
export function driveSync(gen: ImageGen, chd: (req: ChdRequest) => ChdAnswer): ImageStats {
  let ahead: ChdRequest | null = null;
  let r = gen.next();
  while (!r.done) {
    const step = r.value;
    switch (step.kind) {
      case 'tick':
        r = gen.next();
        break;
      case 'chd':
        r = gen.next(chd(step));
        break;
      case 'chd-ahead':
        ahead = step.request;
        r = gen.next();
        break;
      case 'chd-await':
        r = gen.next(chd(ahead!));
        ahead = null;
    }
  }
  return r.value;
}

/**
 * Runs an image generator asynchronously: `tick` on ticks (also inside the hash build,
 * every ~2^16 keys or buckets), `buildChd` (with a fresh `rand()` state, like a fresh
 * C process) for the hash, `onHash(true/false)` around it; `onPlaced` hears the hash's progress.
 */
export async function driveAsync(
  gen: ImageGen,
  tick: () => Promise<void>,
  onHash?: (hashing: boolean) => void,
  onPlaced?: ChdProgress,
  elsewhere?: HashElsewhere,
): Promise<ImageStats> {
  const build = (step: ChdRequest): Promise<ChdAnswer> => {
    const options = { tick, external: step.external };
    return step.map
      ? buildChdMap(step.numKeys, step.keys, new GlibcRandom(), onPlaced, options)
      : buildChd(step.numKeys, step.keys, new GlibcRandom(), onPlaced, options);
  };
  let ahead: ChdRequest | null = null;
  let started: Promise<ChdAnswer> | null = null;
  try {
    let r = gen.next();
    while (!r.done) {
      const step = r.value;
      switch (step.kind) {
        case 'tick':
          await tick();
          r = gen.next();
          break;
        case 'chd-ahead':
          if (elsewhere !== undefined) {
            started = elsewhere(step.keys);
            // Awaited at `chd-await`; should the generator fail first, its failure is the one that counts.
            started.catch(() => undefined);
          } else ahead = step.request;
          r = gen.next();
          break;
        case 'chd':
        case 'chd-await': {
          onHash?.(true);
          const res = await (step.kind === 'chd' ? build(step) : (started ?? build(ahead!)));
          started = ahead = null;
          onHash?.(false);
          r = gen.next(res);
        }
      }
    }
    return r.value;
  } finally {
    gen.return(undefined as never);
  }
}

/** Distinct values in id order, as (buf, s, e) ranges. */
interface ValueSource {
  readonly count: number;
  readonly totalBytes: number;
  rewind(): void;
  next(): boolean;
  buf: Uint8Array;
  s: number;
  e: number;
}

class DictValues implements ValueSource {
  buf: Uint8Array;
  s = 0;
  e = 0;
  private i = 0;
  readonly count: number;
  readonly totalBytes: number;

  constructor(private readonly d: ByteDict) {
    // A plain Uint8Array view: its subarrays are cheaper than a Buffer's.
    this.buf = new Uint8Array(d.arena.buffer, d.arena.byteOffset, d.arena.length);
    this.count = d.n;
    this.totalBytes = d.used;
  }

  rewind(): void {
    this.i = 0;
  }

  next(): boolean {
    if (this.i >= this.count) return false;
    this.s = this.d.offs[this.i]!;
    this.e = this.d.offs[++this.i]!;
    return true;
  }
}

class FileValues implements ValueSource {
  buf: Uint8Array = new Uint8Array(0);
  private raw: Buffer | null = null;
  s = 0;
  e = 0;
  private r: BufReader | null = null;

  constructor(
    private readonly fd: number,
    private readonly sec: Section,
    readonly count: number,
    readonly totalBytes: number,
    private readonly bufSize: number,
  ) {}

  rewind(): void {
    this.r = new BufReader(this.fd, this.sec.start, this.sec.end, this.bufSize);
  }

  next(): boolean {
    const r = this.r!;
    if (r.remaining() === 0) return false;
    const len = r.readU32();
    r.ensure(len);
    if (r.buf !== this.raw) {
      // A plain Uint8Array view: its subarrays are cheaper than a Buffer's.
      this.raw = r.buf;
      this.buf = new Uint8Array(r.buf.buffer, r.buf.byteOffset, r.buf.length);
    }
    this.s = r.p;
    this.e = r.p + len;
    r.p += len;
    return true;
  }
}

/** The values' Huffman code (spec §5.2) when the C rule compresses them, else null: one pass over the values. */
function* valueCode(src: ValueSource, opts: ResolvedOptions): Generator<Step, HuffmanEncoder | null, ChdAnswer | undefined> {
  if (!shouldCompress(src.totalBytes, src.count, opts.disableCompression)) return null;
  const counter = new FourGramCounter();
  let i = 0;
  src.rewind();
  while (src.next()) {
    counter.addRange(src.buf, src.s, src.e);
    if ((++i & 0xfff) === 0) yield TICK;
  }
  return HuffmanEncoder.fromCounter(counter);
}

/** The id2value section (and codebook) at `pos`, coded with `enc` ({@link valueCode}). Returns the end offset, flags and codebook offset. */
function* writeValues(
  src: ValueSource,
  enc: HuffmanEncoder | null,
  sink: Sink,
  pos: number,
  bufSize: number,
  meter: ImageMeter | null = null,
): Generator<Step, { end: number; flags: number; codebookOffset: number }, ChdAnswer | undefined> {
  const count = src.count;
  let i = 0;
  const toc = new BufWriter(sink, pos, Math.min(bufSize, 8 * (count + 1)));
  const data = new BufWriter(sink, pos + 8 * (count + 1), Math.min(bufSize, Math.max(4096, src.totalBytes + 4)));
  src.rewind();
  const dataStart = data.offset;
  let raw = 0;
  while (src.next()) {
    toc.u64(data.offset);
    if (enc === null) {
      data.write(src.buf, src.s, src.e);
    } else if (maxEncodedLength(src.e - src.s) <= data.buf.length) {
      const o = data.reserve(maxEncodedLength(src.e - src.s));
      data.n += enc.encodeRangeInto(src.buf, src.s, src.e, data.buf, o);
      raw += src.e - src.s;
    } else {
      // A value larger than the buffer: coded through it, then its first byte again with the pad bits.
      const at = data.offset;
      const { first } = enc.encodeRangeStreamed(src.buf, src.s, src.e, data);
      data.flush();
      sink.writeAt(Uint8Array.of(first), 0, 1, at);
      raw += src.e - src.s;
    }
    if ((++i & 0xfff) === 0) {
      if (enc !== null) meter?.codedSoFar(raw, src.totalBytes, data.offset - dataStart);
      yield TICK;
    }
  }
  toc.u64(data.offset);
  data.write(ZERO4, 0, 4);
  toc.flush();
  data.flush();
  let end = data.offset;
  let codebookOffset = 0;
  if (enc !== null) {
    codebookOffset = end;
    sink.writeAt(enc.codebook(), 0, CODEBOOK_SIZE, end);
    end += CODEBOOK_SIZE;
  }
  return { end, flags: enc === null ? 0 : F_COMPRESSED, codebookOffset };
}

const ZERO4 = new Uint8Array(4);

function writeHeader(
  sink: Sink,
  stats: ImageStats,
  k2v: number,
  id2v: number,
  codebookOffset: number,
): void {
  const h = serializeHeader({
    size: stats.size,
    numKeys: stats.numKeys,
    numUniqueValues: stats.numUniqueValues,
    numValues: stats.numValues,
    flags: stats.flags,
    key2valuesOffset: k2v,
    id2valueOffset: id2v,
    hashOffset: HEADER_SIZE,
    codebookOffset,
  });
  sink.writeAt(h, 0, HEADER_SIZE, 0);
}

/** Exact image size without the hash, when values are stored raw. */
function plainSize(nk: number, recordBytes: number, nv: number, valueBytes: number): number {
  return HEADER_SIZE + 8 * (nk + 1) + recordBytes + 8 * (nv + 1) + valueBytes + 4;
}

/** Per-key facts gathered before writing: record sizes and header counts. */
interface KeyMeasure {
  recSize: Uint32Array;
  recordBytes: number;
  numValues: number;
  multiset: boolean;
}

/** Measures every key record of the in-memory run (keys in insertion order). */
function* measureMemoryKeys(keys: ByteDict, start: Uint32Array, ids: Uint32Array, enc: ListEncoder): Generator<void, KeyMeasure, void> {
  const nk = keys.n;
  const ko = keys.offs;
  const recSize = new Uint32Array(nk);
  let numValues = 0;
  let multiset = false;
  let recordBytes = 0;
  let work = 0;
  for (let k = 0; k < nk; k++) {
    const s = start[k]!;
    const e = start[k + 1]!;
    work += e - s + 1;
    if (work >= STEP_WORK) {
      work = 0;
      yield;
    }
    enc.measure(ids, s, e);
    const size = 8 + (ko[k + 1]! - ko[k]!) + enc.bytes;
    recSize[k] = size;
    recordBytes += size;
    numValues += enc.count;
    if (enc.dup) multiset = true;
  }
  return { recSize, recordBytes, numValues, multiset };
}

/** recStart[s] = offset of the record in slot s from the first record; recStart[nk] = total. In steps. */
function* slotStarts(recSize: Uint32Array, slots: Uint32Array | null): Generator<void, Float64Array, void> {
  const nk = recSize.length;
  const recStart = new Float64Array(nk + 1);
  for (let k0 = 0; k0 < nk; k0 += TABLE_STEP) {
    const k1 = Math.min(nk, k0 + TABLE_STEP);
    if (slots === null) for (let k = k0; k < k1; k++) recStart[k + 1] = recSize[k]!;
    else for (let k = k0; k < k1; k++) recStart[slots[k]! + 1] = recSize[k]!;
    yield;
  }
  for (let s0 = 0; s0 < nk; s0 += TABLE_STEP) {
    const s1 = Math.min(nk, s0 + TABLE_STEP);
    for (let s = s0; s < s1; s++) recStart[s + 1]! += recStart[s]!;
    yield;
  }
  return recStart;
}

/** The key TOC: nk + 1 absolute offsets, in steps. */
function* writeKeyToc(sink: Sink, k2v: number, recStart: Float64Array, bufSize: number): Generator<void, number, void> {
  const nk = recStart.length - 1;
  const recBase = k2v + 8 * (nk + 1);
  const w = new BufWriter(sink, k2v, Math.min(bufSize, 8 * (nk + 1)));
  for (let s0 = 0; s0 <= nk; s0 += TABLE_STEP) {
    const s1 = Math.min(nk + 1, s0 + TABLE_STEP);
    for (let s = s0; s < s1; s++) w.u64(recBase + recStart[s]!);
    yield;
  }
  w.flush();
  return recBase;
}

/** Entries of a per-key table handled between two ticks (a few ms). */
const TABLE_STEP = 1 << 17;

/**
 * The end (exclusive) of the window of slots from `s0`: the largest s1 in [s0 + 1, end]
 * with starts[s1] − starts[s0] ≤ `window` bytes, so at least one slot.
 */
function windowEnd(starts: Float64Array, s0: number, end: number, window: number): number {
  const limit = starts[s0]! + window;
  let lo = s0 + 1;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Encodes the records of keys [k0, k1) whose slot lies in [s0, s1) into `out`, at
 * recStart[slot] − base. Keys are visited in insertion order: reads are sequential,
 * writes scattered (measured faster than the other way round, or than grouping the
 * keys by slot range first).
 */
function encodeMemoryRecords(
  keys: ByteDict,
  start: Uint32Array,
  ids: Uint32Array,
  enc: ListEncoder,
  slots: Uint32Array | null,
  recStart: Float64Array,
  k0: number,
  k1: number,
  s0: number,
  s1: number,
  out: Uint8Array,
): void {
  const ka = keys.arena;
  const ko = keys.offs;
  const base = recStart[s0]!;
  const at = RECORD_AT;
  let touch = 0;
  for (let b0 = k0; b0 < k1; b0 += RECORD_BATCH) {
    const b1 = Math.min(k1, b0 + RECORD_BATCH);
    // In passes over a batch, so that the cache misses of different records overlap:
    // 1. each record's place (a scattered read of recStart) …
    for (let k = b0; k < b1; k++) {
      const p = slots === null ? k : slots[k]!;
      at[k - b0] = p < s0 || p >= s1 ? -1 : recStart[p]! - base;
    }
    // 2. … bring the destination lines in (scattered reads) …
    for (let k = b0; k < b1; k++) {
      const o = at[k - b0]!;
      if (o >= 0) touch ^= out[o]!;
    }
    // 3. … then write the records.
    for (let k = b0; k < b1; k++) {
      const o = at[k - b0]!;
      if (o < 0) continue;
      const ks = ko[k]!;
      const kl = ko[k + 1]! - ks;
      putU32(out, o, kl);
      copyBytes(ka, ks, ks + kl, out, o + 4);
      enc.measure(ids, start[k]!, start[k + 1]!);
      putU32(out, o + 4 + kl, enc.count);
      enc.write(ids, start[k]!, start[k + 1]!, out, o + 8 + kl);
    }
  }
  touchSink ^= touch;
}

/** Records placed per pass of {@link encodeMemoryRecords}. */
const RECORD_BATCH = 256;
/** Scratch: the place of each record of a batch in the window (−1: outside). */
const RECORD_AT = new Float64Array(RECORD_BATCH);
/** Sink for the touch loop (keeps it from being optimised away). */
let touchSink = 0;

/**
 * Writes the image of a build that never spilled: keys in first-insertion order
 * (or CHD slot order), values in first-appearance order. `sinkFor(sizeHint)` is
 * called once the size is (nearly) known; from then on `report` hears the bytes
 * written of that size.
 */
export function* writeMemoryImage(
  run: RunBuffer,
  opts: ResolvedOptions,
  sinkFor: (sizeHint: number) => Sink,
  buffers: ImageBuffers,
  report: ProgressReport | null = null,
): ImageGen {
  const keys = run.keys;
  const nk = keys.n;
  const nv = run.values.n;
  const valueBytes = run.values.used;
  const hashed = nk > HASH_MIN_KEYS;
  // The hash needs only the keys: asked for first, so that a driver with another thread
  // builds it there while this one groups the lists, measures the records and counts
  // the values' 4-grams (none of which reads the key bytes).
  if (hashed) {
    const request: ChdRequest = { kind: 'chd', numKeys: nk, map: false, external: null, keys: keysInMemory(keys.arena, keys.offs, nk) };
    yield { kind: 'chd-ahead', request, keys: { kind: 'dict', dict: keys } };
  }
  // Stepwise, with a tick at each step: one pass over millions of pairs takes a few hundred ms.
  const { start, ids } = yield* ticking(run.groupByKeySteps(opts.uniqueItems));
  run.releasePairs();
  const enc = new ListEncoder(opts.uniqueItems);
  const m = yield* ticking(measureMemoryKeys(keys, start, ids, enc));
  const values = new DictValues(run.values);
  const code = yield* valueCode(values, opts);
  let hash: Uint8Array | null = null;
  let slots: Uint32Array | null = null;
  if (hashed) {
    const res = (yield CHD_AWAIT) as ChdBuildResult;
    hash = res.section;
    slots = res.slots;
  }
  const recStart = yield* ticking(slotStarts(m.recSize, slots));
  const hashLen = hash === null ? 0 : hash.length;
  const compressing = shouldCompress(valueBytes, nv, opts.disableCompression);
  const sizeHint = plainSize(nk, m.recordBytes, nv, valueBytes) + hashLen + (compressing ? CODEBOOK_SIZE : 0);
  const raw = sinkFor(sizeHint);
  const meter = new ImageMeter(sizeHint, report, compressing ? valueBytes : 0);
  const sink = new MeteredSink(raw, meter);
  if (hash !== null) sink.writeAt(hash, 0, hashLen, HEADER_SIZE);
  const k2v = HEADER_SIZE + hashLen;
  const recBase = k2v + 8 * (nk + 1);
  const id2v = recBase + recStart[nk]!;
  // Values first (their offset is known): then their memory can go before the key records are assembled.
  const v = yield* writeValues(values, code, sink, id2v, buffers.io, meter);
  run.values.release();
  yield* ticking(writeKeyToc(sink, k2v, recStart, buffers.io));
  const direct = raw instanceof MemSink;
  let win: Uint8Array | null = null;
  for (let s0 = 0; s0 < nk; ) {
    // The key dictionary and lists are still in memory here: half the spilled path's window.
    const s1 = direct ? nk : windowEnd(recStart, s0, nk, buffers.window / 2);
    const base = recStart[s0]!;
    const wlen = recStart[s1]! - base;
    let out: Uint8Array;
    if (direct) {
      out = raw.region(recBase + base, wlen);
    } else {
      if (win === null || win.length < wlen) {
        win = Buffer.allocUnsafe(Math.max(wlen, Math.min(buffers.window / 2, m.recordBytes)));
        // Its pages faulted in now, a slice at a time, not by the first scattered writes.
        for (let at = 0; at < win.length; at += WRITE_SLICE) {
          win.fill(0, at, Math.min(win.length, at + WRITE_SLICE));
          yield TICK;
        }
      }
      out = win;
    }
    for (let k0 = 0; k0 < nk; k0 += CHUNK) {
      const k1 = Math.min(nk, k0 + CHUNK);
      encodeMemoryRecords(keys, start, ids, enc, slots, recStart, k0, k1, s0, s1, out);
      // Written in place (every record: the one window is all of them); else counted by the sink.
      if (direct) meter.add(bytesOf(m.recSize, k0, k1));
      yield TICK;
    }
    if (!direct) {
      for (let at = 0; at < wlen; at += WRITE_SLICE) {
        sink.writeAt(out, at, Math.min(wlen, at + WRITE_SLICE), recBase + base + at);
        yield TICK;
      }
    }
    s0 = s1;
  }
  win = null;
  const stats: ImageStats = {
    size: v.end,
    numKeys: nk,
    numUniqueValues: nv,
    numValues: m.numValues,
    flags: (hash === null ? 0 : F_HASH) | (m.multiset ? F_MULTISET : 0) | v.flags,
  };
  writeHeader(sink, stats, k2v, id2v, v.codebookOffset);
  meter.finish(stats.size);
  return stats;
}

/** Sum of sizes[k0, k1). */
function bytesOf(sizes: Uint32Array, k0: number, k1: number): number {
  let n = 0;
  for (let k = k0; k < k1; k++) n += sizes[k]!;
  return n;
}

/** Keys (or values) handled between two ticks. */
const CHUNK = 1 << 14;
/** Bytes of a window written (or first touched) between two ticks. */
const WRITE_SLICE = 4 << 20;

function putU32(b: Uint8Array, o: number, x: number): void {
  b[o] = x;
  b[o + 1] = x >>> 8;
  b[o + 2] = x >>> 16;
  b[o + 3] = x >>> 24;
}

/**
 * Writes the image from the single run left after merging (or the only spilled
 * run): its KS lists hold final value ids, its VF the values in id order (and its
 * KSL the first-insertion order of the keys, read only when there is no hash).
 * Key records are encoded into a temporary file in byte order, hashed from there
 * (the CHD depends on the set of keys, not on their order: see chd-build.ts), and
 * copied into slot order through partitions by slot range ({@link writeInSlotOrder}).
 *
 * Memory per distinct key: while hashing, the in-memory CHD's ~15 bytes when they fit
 * half of `memoryLimit` (then 4 bytes, every key's slot, while the records are copied
 * into slot order), else the external CHD's ~1.5 bytes (displacements, bucket sizes,
 * the occupied bitmap) plus buffers of a quarter of the budget, then ~1.5 bytes (the
 * slot map: displacements, bitmap, ranks) while the records are copied; through
 * partitions of ~1 MiB and a window of at most a quarter of the budget. A list longer than the I/O buffer is read and
 * encoded in chunks, and a record larger than the window is copied in chunks.
 * `report` hears the bytes of key lists read until the hash, then the bytes of the
 * image written of its size (two stints, with the hash phase between them).
 */
export function* writeRunImage(
  run: RunFile,
  opts: ResolvedOptions,
  out: Sink,
  tmp: TempDir,
  buffers: ImageBuffers,
  report: ProgressReport | null = null,
): ImageGen {
  const nk = run.nk;
  const bufSize = buffers.io;
  const hashed = nk > HASH_MIN_KEYS;
  const external = hashed ? chdExternal(nk, opts.memoryLimit, tmp) : null;
  // The in-memory hash needs only the keys, which the run has: asked for first, so that a
  // driver with another thread builds it there while this one encodes the records and
  // counts the values' 4-grams. (The external one hashes the records file, afterwards.)
  if (hashed && external === null) {
    const request: ChdRequest = { kind: 'chd', numKeys: nk, map: false, external: null, keys: keysInRun(run.fd, run.ks.start, run.ks.end, nk, bufSize) };
    yield { kind: 'chd-ahead', request, keys: { kind: 'run', path: run.path, start: run.ks.start, end: run.ks.end, numKeys: nk } };
  }
  const enc = new ListEncoder(opts.uniqueItems);
  let numValues = 0;
  let multiset = false;
  let recordBytes = 0;
  // Records in byte order, and their sizes (u32 each) beside them.
  const kf = tmp.create('records');
  const sf = tmp.create('sizes');
  const kw = new BufWriter(new FileSink(kf.fd), 0, bufSize);
  const sw = new BufWriter(new FileSink(sf.fd), 0, Math.min(bufSize, 4 * nk + 4));
  // Without a hash the image follows at once, in the same phase: one stint only.
  const preReport = hashed ? report : null;
  const ksBytes = run.ks.end - run.ks.start;
  {
    const rd = new BufReader(run.fd, run.ks.start, run.ks.end, bufSize);
    /** Lists up to this many ids are read whole; longer ones in chunks of it. */
    const chunk = Math.max(1024, bufSize >>> 3);
    let ids = new Uint32Array(1024);
    for (let b = 0; b < nk; b++) {
      const at = rd.offset;
      rd.ensure(4);
      const kl = peekU32(rd.buf, rd.p);
      rd.ensure(8 + kl);
      const count = peekU32(rd.buf, rd.p + 4 + kl);
      let size: number;
      if (count <= chunk) {
        rd.ensure(8 + kl + 4 * count);
        const buf = rd.buf;
        const ks = rd.p + 4;
        if (ids.length < count) ids = new Uint32Array(Math.max(count, 2 * ids.length));
        for (let i = 0, o = ks + kl + 4; i < count; i++, o += 4) ids[i] = peekU32(buf, o);
        enc.measure(ids, 0, count);
        size = 8 + kl + enc.bytes;
        const o = kw.reserve(size);
        putU32(kw.buf, o, kl);
        copyBytes(buf, ks, ks + kl, kw.buf, o + 4);
        putU32(kw.buf, o + 4 + kl, enc.count);
        enc.write(ids, 0, count, kw.buf, o + 8 + kl);
        kw.n += size;
        rd.p += 8 + kl + 4 * count;
      } else {
        // A long list: measured, then encoded, from a second reader, one chunk at a time.
        const listAt = at + 8 + kl;
        if (ids.length < chunk) ids = new Uint32Array(chunk);
        const ks = rd.p + 4;
        kw.u32(kl);
        kw.write(rd.buf, ks, ks + kl);
        rd.skip(8 + kl + 4 * count);
        enc.measureBegin();
        const lr = new BufReader(run.fd, listAt, listAt + 4 * count, bufSize);
        for (let i = 0; i < count; i += chunk) {
          const n = Math.min(chunk, count - i);
          lr.u32s(ids, 0, n);
          enc.measureFeed(ids, 0, n);
          yield TICK; // a long list is one key: a turn for the loop per chunk
        }
        enc.measureEnd();
        size = 8 + kl + enc.bytes;
        kw.u32(enc.count);
        const listStart = kw.offset;
        enc.writeBegin();
        const lw = new BufReader(run.fd, listAt, listAt + 4 * count, bufSize);
        for (let i = 0; i < count; i += chunk) {
          const n = Math.min(chunk, count - i);
          lw.u32s(ids, 0, n);
          const o = kw.reserve(enc.feedBytes(n));
          kw.n = enc.writeFeed(ids, 0, n, kw.buf, o);
          yield TICK;
        }
        kw.n = enc.writeEnd(kw.buf, kw.reserve(1));
        if (kw.offset - listStart !== enc.bytes) throw new Error(`delta list: wrote ${kw.offset - listStart} bytes, expected ${enc.bytes}`);
      }
      sw.u32(size);
      recordBytes += size;
      numValues += enc.count;
      if (enc.dup) multiset = true;
      // Every 2^14 records (~25 ms of measuring and encoding): a tick (a turn for the event loop when due).
      if ((b & 0x3fff) === 0x3fff) {
        preReport?.(rd.offset - run.ks.start, ksBytes);
        yield TICK;
      }
    }
    preReport?.(ksBytes, ksBytes);
  }
  kw.flush();
  sw.flush();
  const kEnd = kw.offset;
  // One reader of the records and one of their sizes (in byte order), rewound for every pass.
  const recReader = new BufReader(kf.fd, 0, kEnd, bufSize);
  const sizeReader = new BufReader(sf.fd, 0, 4 * nk, Math.min(bufSize, 1 << 20));
  const t = new Uint32Array(3);

  const values = new FileValues(run.fd, run.vf, run.nv, run.valueBytes, bufSize);
  const code = yield* valueCode(values, opts);

  // nextSlots(out, n): the slots of the next n records in byte order (from a reader of their own).
  let nextSlots: (out: Uint32Array, n: number) => void;
  let hash: Uint8Array | null = null;
  if (hashed) {
    const keys: KeySource = {
      open: (seed) => {
        recReader.rewind(0);
        sizeReader.rewind(0);
        let b = 0;
        return {
          next: (chunk): number => {
            const per = chunk.length / 3;
            let c = 0;
            for (; c < per && b < nk; c++, b++) {
              const size = sizeReader.readU32();
              hashRecordKey(recReader, seed, t);
              const o = 3 * c;
              chunk[o] = t[0]!;
              chunk[o + 1] = t[1]!;
              chunk[o + 2] = t[2]!;
              recReader.skip(size);
            }
            return c;
          },
        };
      },
    };
    // The in-memory CHD hands every key's slot over (4 bytes per key, within what it took);
    // the external one a slot map, the slots then hashed again in batches.
    const res = (external === null ? yield CHD_AWAIT : yield { kind: 'chd', numKeys: nk, keys, map: true, external }) as ChdAnswer;
    hash = res.section;
    if (res.slots instanceof Uint32Array) {
      const all = res.slots;
      let b = 0;
      nextSlots = (out, n) => {
        out.set(all.subarray(b, b + n));
        b += n;
      };
    } else {
      const map = res.slots;
      // Hashed in batches, then mapped to slots a batch at a time (the lookups' cache misses overlap).
      const hr = new BufReader(kf.fd, 0, kEnd, Math.min(bufSize, 1 << 20));
      const hs = new BufReader(sf.fd, 0, 4 * nk, Math.min(bufSize, 1 << 16));
      let triples = new Uint32Array(3 * SLOT_BATCH);
      nextSlots = (out, n) => {
        if (triples.length < 3 * n) triples = new Uint32Array(3 * n);
        for (let i = 0; i < n; i++) {
          const size = hs.readU32();
          hashRecordKey(hr, map.seed, t);
          triples[3 * i] = t[0]!;
          triples[3 * i + 1] = t[1]!;
          triples[3 * i + 2] = t[2]!;
          hr.skip(size);
        }
        map.slotsOf(triples, n, out, 0);
      };
    }
  } else {
    // No hash: records in first-insertion order (the run's KSL; at most HASH_MIN_KEYS of them).
    const pos = readU32Section(run.fd, run.ksl.start, nk);
    let b = 0;
    nextSlots = (out, n) => {
      out.set(pos.subarray(b, b + n));
      b += n;
    };
  }

  const hashLen = hash === null ? 0 : hash.length;
  const compressing = shouldCompress(run.valueBytes, run.nv, opts.disableCompression);
  const meter = new ImageMeter(
    plainSize(nk, recordBytes, run.nv, run.valueBytes) + hashLen + (compressing ? CODEBOOK_SIZE : 0),
    report,
    compressing ? run.valueBytes : 0,
  );
  const sink = new MeteredSink(out, meter);
  if (hash !== null) sink.writeAt(hash, 0, hashLen, HEADER_SIZE);
  hash = null;
  const k2v = HEADER_SIZE + hashLen;
  const recBase = k2v + 8 * (nk + 1);
  yield* writeInSlotOrder({
    nk,
    recordBytes,
    records: recReader,
    sizes: sizeReader,
    recordsFd: kf.fd,
    nextSlots,
    sink,
    out,
    meter,
    k2v,
    recBase,
    tmp,
    window: imageTestHooks().window ?? buffers.window,
    bufSize,
  });
  tmp.remove(kf.fd);
  tmp.remove(sf.fd);
  const id2v = recBase + recordBytes;
  const v = yield* writeValues(values, code, sink, id2v, bufSize, meter);
  const stats: ImageStats = {
    size: v.end,
    numKeys: nk,
    numUniqueValues: run.nv,
    numValues,
    flags: (hashed ? F_HASH : 0) | (multiset ? F_MULTISET : 0) | v.flags,
  };
  writeHeader(sink, stats, k2v, id2v, v.codebookOffset);
  meter.finish(stats.size);
  return stats;
}

/** Copies the next `size` bytes of `r` to `sink` at `pos`, one buffer at a time. */
function* copyThrough(r: BufReader, size: number, sink: Sink, pos: number): Generator<Step, void, ChdAnswer | undefined> {
  let left = size;
  while (left > 0) {
    const n = Math.min(left, r.buf.length);
    r.ensure(n);
    sink.writeAt(r.buf, r.p, r.p + n, pos);
    r.p += n;
    pos += n;
    left -= n;
    yield TICK;
  }
}

/** Hashes the key of the record at the reader (u32 key length, key bytes) into `t`, leaving the reader there. */
function hashRecordKey(r: BufReader, seed: number, t: Uint32Array): void {
  r.ensure(4);
  const kl = peekU32(r.buf, r.p);
  r.ensure(4 + kl);
  jenkinsHashAt(seed, r.buf, r.p + 4, kl, t);
}

/** What {@link writeInSlotOrder} works on. */
interface SlotOrderJob {
  nk: number;
  recordBytes: number;
  /** The records in byte order (u32 size each in `sizes`), in the file `recordsFd`. */
  records: BufReader;
  sizes: BufReader;
  recordsFd: number;
  /** The slots of the next `n` records in byte order (n ≤ {@link SLOT_BATCH}), into out[0, n). */
  nextSlots: (out: Uint32Array, n: number) => void;
  /** The metered sink, and the raw one under it (for window writes, counted by hand). */
  sink: Sink;
  out: Sink;
  meter: ImageMeter;
  k2v: number;
  recBase: number;
  tmp: TempDir;
  window: number;
  bufSize: number;
}

/**
 * The key TOC and the key records in slot order, without per-key arrays: one pass over
 * the byte-order records appends each (slot, size) and its bytes to the partition of
 * its slot range (partitions of about half a window, in one temporary file), then
 * each partition, in slot order: its records' offsets from their sizes (8 bytes per
 * slot of the partition), its part of the TOC, its records placed into the window and
 * written. A partition larger than the window (skewed record sizes) is placed in
 * several windows, one pass over the partition each; a record larger than the window
 * never goes through a partition: it is copied from the records file to its place.
 */
function* writeInSlotOrder(job: SlotOrderJob): Generator<Step, void, ChdAnswer | undefined> {
  const { nk, recordBytes, records, sizes, nextSlots, sink, out, meter, k2v, recBase, tmp, bufSize } = job;
  const win = Math.max(1, Math.min(job.window, recordBytes));
  // Partitions of at most half a window, and small enough for the scattered placing of a
  // partition's records (and its offsets) to stay in cache; at most MAX_PARTS of them.
  const partBytes = Math.max(1, Math.min(Math.floor(win / 2), Math.max(PART_BYTES, Math.ceil(recordBytes / MAX_PARTS))));
  const per = Math.max(1, Math.ceil(nk / Math.max(1, Math.ceil(recordBytes / partBytes))));
  const parts = Math.ceil(nk / per);
  const file = tmp.create('slots');
  const lists = new SpillLists(scratchFile(file.fd), 2 * parts, Math.max(512, Math.min(1 << 20, Math.floor(win / 4 / (2 * parts)))));
  const hdr = new Uint32Array(4);
  const hdr8 = new Uint8Array(hdr.buffer);
  const slots = new Uint32Array(SLOT_BATCH);
  records.rewind(0);
  sizes.rewind(0);
  for (let b0 = 0; b0 < nk; b0 += SLOT_BATCH) {
    const n = Math.min(SLOT_BATCH, nk - b0);
    nextSlots(slots, n);
    for (let i = 0; i < n; i++) {
      const size = sizes.readU32();
      const at = records.offset;
      const slot = slots[i]!;
      const p = Math.floor(slot / per);
      hdr[0] = slot;
      hdr[1] = size;
      if (size > win) {
        hdr[2] = at % 4294967296;
        hdr[3] = Math.floor(at / 4294967296);
        lists.write(2 * p, hdr8, 0, 16);
        records.skip(size);
      } else {
        lists.write(2 * p, hdr8, 0, 8);
        for (let left = size; left > 0; ) {
          const m = Math.min(left, records.buf.length);
          records.ensure(m);
          lists.write(2 * p + 1, records.buf, records.p, records.p + m);
          records.p += m;
          left -= m;
        }
      }
    }
    if (((b0 + n) & 0x3fff) === 0) yield TICK;
  }
  lists.flushAll();
  const headers = new ListReader(lists, Math.min(bufSize, 1 << 16));
  const bytes = new ListReader(lists, bufSize);
  const local = new Float64Array(Math.min(per, nk) + 1);
  // A partition's headers, read whole: (slot, size) and, for a record larger than the window, its u64 place.
  let hd = new Uint32Array(2 * Math.min(per, nk));
  const window = Buffer.allocUnsafe(win);
  const toc = new BufWriter(sink, k2v, Math.min(bufSize, 8 * (nk + 1)));
  let base = 0;
  for (let p = 0; p < parts; p++) {
    const s0 = p * per;
    // The slots are a bijection: partition p holds exactly the records of slots [s0, s0 + count).
    const count = Math.min(per, nk - s0);
    const hlen = lists.size[2 * p]!;
    if (hd.byteLength < hlen) hd = new Uint32Array(Math.max(hlen >>> 2, 2 * hd.length));
    headers.open(2 * p);
    headers.copyTo(new Uint8Array(hd.buffer, 0, hlen), 0, hlen);
    const hw = hlen >>> 2;
    local.fill(0, 0, count + 1);
    for (let q = 0; q < hw; ) {
      const size = hd[q + 1]!;
      local[hd[q]! - s0 + 1] = size;
      q += size > win ? 4 : 2;
    }
    for (let i = 0; i < count; i++) {
      local[i + 1]! += local[i]!;
      toc.u64(recBase + base + local[i]!);
    }
    for (let a = 0; a < count; ) {
      const e = windowEnd(local, a, count, win);
      const wbytes = local[e]! - local[a]!;
      const wa = local[a]!;
      bytes.open(2 * p + 1);
      for (let q = 0, i = 0; q < hw; i++) {
        const li = hd[q]! - s0;
        const size = hd[q + 1]!;
        if (size > win) {
          if (li >= a && li < e) {
            const from = hd[q + 2]! + hd[q + 3]! * 4294967296;
            yield* copyThrough(new BufReader(job.recordsFd, from, from + size, bufSize), size, sink, recBase + base + local[li]!);
          }
          q += 4;
        } else {
          if (li >= a && li < e) bytes.copyTo(window, local[li]! - wa, size);
          else bytes.skip(size);
          q += 2;
        }
        if ((i & 0xffff) === 0xffff) yield TICK;
      }
      if (wbytes <= win) {
        for (let at = 0; at < wbytes; at += WRITE_SLICE) {
          const end = Math.min(wbytes, at + WRITE_SLICE);
          out.writeAt(window, at, end, recBase + base + wa + at);
          meter.add(end - at);
          yield TICK;
        }
      }
      a = e;
    }
    base += local[count]!;
    if ((p & 15) === 15) yield TICK;
  }
  toc.u64(recBase + base);
  toc.flush();
  tmp.remove(file.fd);
}

/** Records per slot batch of the spilled path's permutation. */
const SLOT_BATCH = 4096;
/** Target bytes of records per partition of {@link writeInSlotOrder} (about half of a core's L2 here). */
const PART_BYTES = 1 << 20;
/** At most this many partitions (two spill lists each). */
const MAX_PARTS = 1024;

/** Bytes per key the in-memory CHD needs (its pairs, their keys' order and per-bucket arrays, ~15, rounded up). */
const CHD_BYTES_PER_KEY = 16;

/**
 * Test hooks, read from `DISCODB_TEST_EXTERNAL` (so that worker threads see them too):
 * `1` forces the external CHD with 4 KiB of buffers and a 512-byte copy window.
 */
export function imageTestHooks(): { external: boolean; chdMemory?: number; window?: number } {
  return process.env['DISCODB_TEST_EXTERNAL'] === '1' ? { external: true, chdMemory: 4096, window: 512 } : { external: false };
}

/**
 * The external CHD build, or null for the in-memory one: external when the in-memory
 * one's ~16 bytes per key would take more than half of `memoryLimit`; then its
 * buffers get a quarter of it.
 */
export function chdExternal(nk: number, memoryLimit: number, tmp: TempDir): ChdExternal | null {
  const hooks = imageTestHooks();
  if (!hooks.external && CHD_BYTES_PER_KEY * nk <= memoryLimit / 2) return null;
  return { scratch: tempScratch(tmp), memory: hooks.chdMemory ?? Math.max(256 * 1024, Math.floor(memoryLimit / 4)) };
}

/** A {@link ScratchFile} over an open file descriptor. */
function scratchFile(fd: number): ScratchFile & { fd: number } {
  const sink = new FileSink(fd);
  return {
    fd,
    write: (src, start, end, pos) => sink.writeAt(src, start, end, pos),
    read: (dst, start, end, pos) => {
      while (start < end) {
        const got = fs.readSync(fd, dst, start, end - start, pos);
        if (got <= 0) throw new DiscoDBError('ERR_DISCODB_IO', 'unexpected end of a temporary file');
        start += got;
        pos += got;
      }
    },
  };
}

/** Scratch files in the build's temporary directory (removed with it on any failure). */
function tempScratch(tmp: TempDir): Scratch {
  return {
    create: (tag) => scratchFile(tmp.create(tag).fd),
    remove: (file) => tmp.remove((file as ScratchFile & { fd: number }).fd),
  };
}

function peekU32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}
