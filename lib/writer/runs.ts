/**
 * Spilled runs and their k-way merge.
 *
 * A run covers a contiguous stretch of the input. Inside it, distinct values are
 * numbered by first appearance (local value number lv, 0-based; a list holds
 * lv + 1), and so are distinct keys (lk). A run file holds, one after the other:
 *
 *   VS   distinct values in byte order:        u32 len, bytes
 *   VSL  the lv of each VS entry:              u32 each
 *   VF   distinct values in lv order:          u32 len, bytes
 *   KS   distinct keys in byte order:          u32 len, key, u32 count, count × u32 (lv + 1, ascending)
 *   KSL  the lk of each KS entry:              u32 each
 *
 * Merging consecutive runs yields a run of the same shape (multi-pass merges
 * reuse it); for the last merge VS and VSL are skipped, and so is KSL (left empty)
 * when there are more keys than HASH_MIN_KEYS (the hash orders them). Because input order is
 * run order, then lv (or lk) order, "first appearance in the merged run" is "first
 * run that has it, at its local number": the merge finds, per group of equal
 * values, a byte-order rank p, then each run is replayed in lv order and claims
 * the p it sees first. That gives every value its merged number with 4 bytes per
 * distinct value (`lvPrime[p]`) plus one run's map at a time. Keys likewise.
 */
import { DiscoDBError } from '../errors.js';
import { HASH_MIN_KEYS } from '../format/header.js';
import { grownUint32, mappedBytes, mappedUint32 } from '../format/pages.js';
import { sortIds, type RunBuffer } from './arena.js';
import { drainSteps, STEP_WORK } from './steps.js';
import { BufReader, BufWriter, copyBytes, FileSink, type TempDir } from './io.js';
import { compareFrom, digitAt, sortEntriesSteps } from './sort.js';

/** A byte range of a run file. */
export interface Section {
  start: number;
  end: number;
}

/** A run on disk (see the module comment for the layout). */
export interface RunFile {
  /** The file; closed at rest (`fd` is -1) so that many runs need no descriptors. */
  path: string;
  fd: number;
  /** Distinct values / keys. */
  nv: number;
  nk: number;
  /** Total bytes of the distinct values. */
  valueBytes: number;
  /** Absent in the result of a final merge. */
  vs: Section | null;
  vsl: Section | null;
  vf: Section;
  ks: Section;
  ksl: Section;
  /** Number of the last input record in the run. */
  lastRecord: number;
}

const U32_MAX = 0xffffffff;
const UNSET = 0xffffffff;

/** Hooks a long merge calls now and then: to yield to the event loop and honour an abort. */
export interface MergeContext {
  tmp: TempDir;
  unique: boolean;
  /** Read/write buffer size for a merge of `m` runs. */
  bufferSize(m: number): number;
  /** Called every few thousand entries. */
  tick(): Promise<void>;
  /**
   * Hears how far the whole merge is, in run entries visited (see {@link mergeWork}):
   * every few thousand entries and at the end of each merge.
   */
  progress?: (done: number, total: number) => void;
}

/** Entries visited so far by the merges of one {@link mergeAll}, and the estimated total. */
interface MergeMeter {
  done: number;
  total: number;
}

/** Sizes of a run as far as the merge's work goes. */
interface RunSize {
  nv: number;
  nk: number;
}

/**
 * Entries one merge visits: each input value twice (byte-order merge, replay) and
 * each input key three times (list rewrite, byte-order merge, numbering).
 */
function mergeCost(inputs: readonly RunSize[]): number {
  let c = 0;
  for (const r of inputs) c += 2 * r.nv + 3 * r.nk;
  return c;
}

/**
 * Entries all the merges of {@link mergeAll} will visit from `level` on. Later
 * passes are estimated as if no value or key repeated across runs (the most they
 * can be), so that the estimate only falls as merges finish.
 */
export function mergeWork(level: readonly RunSize[], fanIn: number): number {
  let work = 0;
  while (level.length > 1) {
    if (level.length <= fanIn) return work + mergeCost(level);
    const next: RunSize[] = [];
    for (let i = 0; i < level.length; i += fanIn) {
      const group = level.slice(i, i + fanIn);
      if (group.length === 1) {
        next.push(group[0]!);
        continue;
      }
      work += mergeCost(group);
      let nv = 0;
      let nk = 0;
      for (const r of group) {
        nv += r.nv;
        nk += r.nk;
      }
      next.push({ nv, nk });
    }
    level = next;
  }
  return work;
}

/**
 * Writes the buffered run to a new temporary file (sorting keys and values by
 * bytes) and returns its description. The sorts and the grouping work in the run's
 * hash tables and its spill scratch ({@link RunBuffer.spillWords}), the writes go
 * through its spill buffer: a spill allocates nothing the run's footprint did not
 * count. The run must be cleared (or released) afterwards.
 */
export function spillRun(run: RunBuffer, tmp: TempDir, unique: boolean, lastRecord: number, bufSize: number): RunFile {
  return drainSteps(spillRunSteps(run, tmp, unique, lastRecord, bufSize));
}

/**
 * {@link spillRun} in steps: yields after about {@link STEP_WORK} units of work (the
 * sorts, the grouping, every {@link SPILL_CHUNK} entries copied), so that a build on
 * the main thread can give the event loop a turn while a run spills. The run must not
 * change until the steps are done.
 */
export function* spillRunSteps(run: RunBuffer, tmp: TempDir, unique: boolean, lastRecord: number, bufSize: number): Generator<void, RunFile, void> {
  const f = tmp.create('run');
  const w = new BufWriter(new FileSink(f.fd), 0, bufSize, run.spillBuffer(bufSize));
  const pool = run.spillWords();
  const vals = run.values;
  const nv = vals.n;
  const va = vals.arena;
  const vo = vals.offs;
  let order = yield* sortEntriesSteps(vals, pool.take);
  yield;
  const vs = { start: w.offset, end: 0 };
  for (let c = 0; c < nv; c += SPILL_CHUNK) {
    writeSortedValues(w, va, vo, order, c, Math.min(nv, c + SPILL_CHUNK));
    yield;
  }
  vs.end = w.offset;
  const vsl = { start: w.offset, end: 0 };
  w.u32s(order);
  vsl.end = w.offset;
  const vf = { start: w.offset, end: 0 };
  for (let c = 0; c < nv; c += SPILL_CHUNK) {
    writeValuesInEntryOrder(w, va, vo, c, Math.min(nv, c + SPILL_CHUNK));
    yield;
  }
  vf.end = w.offset;

  const keys = run.keys;
  const nk = keys.n;
  // The keys' order stays while the pairs are grouped; the sort's scratch goes back to the pool.
  pool.reset();
  let afterOrder: number[] | undefined;
  order = yield* sortEntriesSteps(keys, (n) => {
    const a = pool.take(n);
    afterOrder ??= pool.mark();
    return a;
  });
  pool.reset(afterOrder);
  yield;
  const { start, ids } = yield* run.groupByKeySteps(unique, pool.take, run.spillGroupsInPlace());
  const ks = { start: w.offset, end: 0 };
  for (let c = 0; c < nk; c += SPILL_CHUNK) {
    writeSortedKeys(w, keys.arena, keys.offs, order, start, ids, c, Math.min(nk, c + SPILL_CHUNK));
    yield;
  }
  ks.end = w.offset;
  const ksl = { start: w.offset, end: 0 };
  w.u32s(order);
  ksl.end = w.offset;
  w.flush();
  tmp.close(f.fd);
  return { path: f.path, fd: -1, nv, nk, valueBytes: vals.used, vs, vsl, vf, ks, ksl, lastRecord };
}

/** Entries a step of {@link spillRunSteps} copies (random reads of the arena: a quarter of a step's work). */
const SPILL_CHUNK = STEP_WORK >>> 2;

/** VS entries [from, to): the values in byte order (`order`), each as u32 length and bytes. */
function writeSortedValues(w: BufWriter, va: Uint8Array, vo: Uint32Array, order: Uint32Array, from: number, to: number): void {
  const bs = SPILL_S;
  const be = SPILL_E;
  let touch = 0;
  for (let b0 = from; b0 < to; b0 += SPILL_BATCH) {
    const b1 = Math.min(to, b0 + SPILL_BATCH);
    // In passes over a batch, so that the cache misses of different entries overlap:
    // their offsets, then their first bytes, then the copy.
    for (let b = b0; b < b1; b++) {
      const e = order[b]!;
      bs[b - b0] = vo[e]!;
      be[b - b0] = vo[e + 1]!;
    }
    for (let i = 0; i < b1 - b0; i++) if (bs[i]! < be[i]!) touch ^= va[bs[i]!]!;
    for (let i = 0; i < b1 - b0; i++) {
      const st = bs[i]!;
      const en = be[i]!;
      w.u32(en - st);
      w.write(va, st, en);
    }
  }
  touchSink ^= touch;
}

/** VF entries [from, to): the values in entry (first appearance) order. */
function writeValuesInEntryOrder(w: BufWriter, va: Uint8Array, vo: Uint32Array, from: number, to: number): void {
  for (let e = from; e < to; e++) {
    w.u32(vo[e + 1]! - vo[e]!);
    w.write(va, vo[e]!, vo[e + 1]!);
  }
}

/** KS entries [from, to): the keys in byte order (`order`), each with its list `ids[start[k], start[k + 1])`. */
function writeSortedKeys(w: BufWriter, ka: Uint8Array, ko: Uint32Array, order: Uint32Array, start: Uint32Array, ids: Uint32Array, from: number, to: number): void {
  const bs = SPILL_S;
  const be = SPILL_E;
  const ls = SPILL_LS;
  const le = SPILL_LE;
  let touch = 0;
  for (let b0 = from; b0 < to; b0 += SPILL_BATCH) {
    const b1 = Math.min(to, b0 + SPILL_BATCH);
    // Batched passes as for the values: offsets, first bytes (key and list), then the copy.
    for (let b = b0; b < b1; b++) {
      const k = order[b]!;
      const i = b - b0;
      bs[i] = ko[k]!;
      be[i] = ko[k + 1]!;
      ls[i] = start[k]!;
      le[i] = start[k + 1]!;
    }
    for (let i = 0; i < b1 - b0; i++) {
      if (bs[i]! < be[i]!) touch ^= ka[bs[i]!]!;
      if (ls[i]! < le[i]!) touch ^= ids[ls[i]!]!;
    }
    for (let i = 0; i < b1 - b0; i++) {
      const st = bs[i]!;
      const en = be[i]!;
      w.u32(en - st);
      w.write(ka, st, en);
      const s = ls[i]!;
      const e = le[i]!;
      w.u32(e - s);
      w.u32s(ids, s, e);
    }
  }
  touchSink ^= touch;
}

/** Entries copied per pass of the batched loops of {@link spillRun}. */
const SPILL_BATCH = 256;
/** Scratch for those passes: arena start/end and list start/end of each entry of a batch. */
const SPILL_S = new Uint32Array(SPILL_BATCH);
const SPILL_E = new Uint32Array(SPILL_BATCH);
const SPILL_LS = new Uint32Array(SPILL_BATCH);
const SPILL_LE = new Uint32Array(SPILL_BATCH);
/** Sink for the touch loops (keeps them from being optimised away). */
let touchSink = 0;

/**
 * Sequential reader of the entries of a VS or KS section. After `next()` the
 * current entry's string is `buf[ks, ks + kl)` and, for KS, its list is `count`
 * u32 at `buf[ls..]`; they stay valid until the following `next()`.
 */
export class EntryReader {
  private readonly r: BufReader;
  buf: Buffer;
  ks = 0;
  kl = 0;
  /** Packed first 6 bytes (see `digitAt`). */
  dg = 0;
  ls = 0;
  count = 0;
  /** File offset of the current entry's list when it was too long to load (then `ls` is -1). */
  listPos = 0;

  constructor(
    fd: number,
    sec: Section,
    bufSize: number,
    private readonly withList: boolean,
    /** Position of the run among the merge's inputs (the tie-break). */
    readonly id: number,
    /** Lists of more bytes than this are not loaded (see `listPos`). */
    private readonly longList = Infinity,
  ) {
    this.r = new BufReader(fd, sec.start, sec.end, bufSize);
    this.buf = this.r.buf;
  }

  /** Loads the next entry; false at the end. */
  next(): boolean {
    const r = this.r;
    if (r.remaining() === 0) return false;
    r.ensure(4);
    let b = r.buf;
    const kl = (b[r.p]! | (b[r.p + 1]! << 8) | (b[r.p + 2]! << 16) | (b[r.p + 3]! << 24)) >>> 0;
    if (this.withList) {
      r.ensure(8 + kl);
      b = r.buf;
      const c = r.p + 4 + kl;
      const count = (b[c]! | (b[c + 1]! << 8) | (b[c + 2]! << 16) | (b[c + 3]! << 24)) >>> 0;
      const size = 8 + kl + 4 * count;
      this.count = count;
      if (4 * count > this.longList) {
        // Only the key is loaded; it stays in the buffer until the next read.
        this.ls = -1;
        this.listPos = r.offset + 8 + kl;
        this.ks = r.p + 4;
        r.skip(size);
      } else {
        r.ensure(size);
        this.ls = r.p + 8 + kl;
        this.ks = r.p + 4;
        r.p += size;
      }
    } else {
      r.ensure(4 + kl);
      this.ks = r.p + 4;
      r.p += 4 + kl;
    }
    this.buf = b = r.buf;
    this.kl = kl;
    this.dg = digitAt(b, this.ks, kl, 0);
    return true;
  }
}

/** a < b in (bytes, run position) order. */
function entryLess(a: EntryReader, b: EntryReader): boolean {
  if (a.dg !== b.dg) return a.dg < b.dg;
  if (a.dg % 8 === 6) {
    const c = compareFrom(a.buf, a.ks, a.kl, b.buf, b.ks, b.kl, 6);
    if (c !== 0) return c < 0;
  }
  return a.id < b.id;
}

/** A binary min-heap of entry readers over an Int32Array. */
class MergeHeap {
  private readonly h: Int32Array;
  size = 0;

  /** `started[i]`: reader i is at its first entry (false: it has none). */
  private constructor(
    private readonly rs: EntryReader[],
    started: boolean[],
  ) {
    this.h = new Int32Array(rs.length);
    for (let i = 0; i < rs.length; i++) if (started[i]) this.h[this.size++] = i;
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /**
   * The heap of `rs`, each moved to its first entry: a buffer's worth of reading per
   * reader (megabytes), so the event loop gets a turn (`tick`) between them.
   */
  static async of(rs: EntryReader[], tick: () => Promise<void>): Promise<MergeHeap> {
    const started: boolean[] = [];
    for (const r of rs) {
      started.push(r.next());
      await tick();
    }
    return new MergeHeap(rs, started);
  }

  top(): EntryReader {
    return this.rs[this.h[0]!]!;
  }

  /** Moves the top reader to its next entry (or drops it) and restores the heap. */
  advance(): void {
    if (!this.rs[this.h[0]!]!.next()) {
      this.size--;
      this.h[0] = this.h[this.size]!;
    }
    if (this.size > 1) this.down(0);
  }

  private down(i: number): void {
    const h = this.h;
    const rs = this.rs;
    const n = this.size;
    const x = h[i]!;
    const rx = rs[x]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && entryLess(rs[h[c + 1]!]!, rs[h[c]!]!)) c++;
      if (!entryLess(rs[h[c]!]!, rx)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = x;
  }
}

/** Remembers the string of the current group to recognise its other members. */
class GroupKey {
  buf = Buffer.allocUnsafe(256);
  len = -1;
  dg = -1;

  set(e: EntryReader): void {
    if (e.kl > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(e.kl, 2 * this.buf.length));
    copyBytes(e.buf, e.ks, e.ks + e.kl, this.buf, 0); // not Buffer#copy: its wrapper costs more than a short copy
    this.len = e.kl;
    this.dg = e.dg;
  }

  matches(e: EntryReader): boolean {
    if (e.dg !== this.dg) return false;
    if (e.dg % 8 !== 6) return true;
    return e.kl === this.len && compareFrom(e.buf, e.ks, e.kl, this.buf, 0, this.len, 6) === 0;
  }
}

function limitError(what: string, record: number): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_INPUT', `record ${record}: more than 2^32-1 distinct ${what} (the format's limit)`, { record });
}

/**
 * Merges consecutive runs into one. With `final`, the VS/VSL sections are not
 * written (only the image writer reads the result). The input runs are deleted.
 */
export async function mergeRuns(inputs: RunFile[], ctx: MergeContext, final: boolean, meter?: MergeMeter): Promise<RunFile> {
  const { tmp, unique } = ctx;
  const m0 = meter ?? { done: 0, total: mergeCost(inputs) };
  const base = m0.done;
  const report = ctx.progress;
  // `ticks` counts the entries visited (see mergeCost): the progress of this merge.
  const step = async (): Promise<void> => {
    report?.(base + ticks, m0.total);
    await ctx.tick();
  };
  const m = inputs.length;
  const bufSize = ctx.bufferSize(m);
  const lastRecord = inputs[m - 1]!.lastRecord;
  for (const r of inputs) r.fd = tmp.reopen(r.path);
  const out = tmp.create('merged');
  const ow = new BufWriter(new FileSink(out.fd), 0, bufSize);

  // 1. Values in byte order: group rank p for every (run, VS entry), written per run.
  const vmaps = inputs.map(() => tmp.create('vmap'));
  const vmw = vmaps.map((f) => new BufWriter(new FileSink(f.fd), 0, bufSize));
  const readers = inputs.map((r, j) => new EntryReader(r.fd, r.vs!, bufSize, false, j));
  const heap = await MergeHeap.of(readers, ctx.tick);
  const group = new GroupKey();
  const vs = { start: ow.offset, end: 0 };
  let nv = 0;
  let valueBytes = 0;
  let ticks = 0;
  // Passes that are not merge entries (so not progress) give the loop a turn too: every PULSE + 1 entries.
  let beat = 0;
  while (heap.size > 0) {
    const e = heap.top();
    if (nv === 0 || !group.matches(e)) {
      group.set(e);
      nv++;
      valueBytes += e.kl;
      if (!final) {
        ow.u32(e.kl);
        ow.write(e.buf, e.ks, e.ks + e.kl);
      }
    }
    vmw[e.id]!.u32(nv - 1);
    heap.advance();
    if ((++ticks & 0xfff) === 0) await step();
  }
  vs.end = ow.offset;
  if (nv > U32_MAX) throw limitError('values', lastRecord);
  // Flushes and removals of whole files (megabytes each): a turn for the event loop between them.
  for (const w of vmw) {
    w.flush();
    await ctx.tick();
  }

  // 2. Replay each run in lv order: claim merged numbers, copy the new values (VF),
  //    and rewrite its key lists with merged numbers.
  // The merge's arrays are mapped (pages.ts): freed, they leave malloc's threshold where it was.
  const lvPrime = mappedUint32(nv).fill(UNSET);
  let next = 0;
  const vf = { start: ow.offset, end: 0 };
  const keyFiles: { fd: number; sec: Section }[] = [];
  let scratch = new Uint32Array(1024);
  const chunkWords = longListChunk(ctx);
  const longKey = new GroupKey();
  // Sorted segments of the long lists renumbered here and of the lists gathered in step 3.
  const aside = new AsideFile(tmp, bufSize);
  for (let j = 0; j < m; j++) {
    const run = inputs[j]!;
    const pl = mappedUint32(run.nv);
    {
      const lvs = new BufReader(run.fd, run.vsl!.start, run.vsl!.end, bufSize);
      const ps = new BufReader(vmaps[j]!.fd, 0, 4 * run.nv, bufSize);
      for (let b = 0; b < run.nv; b++) {
        pl[lvs.readU32()] = ps.readU32();
        if ((++beat & PULSE) === 0) await ctx.tick();
      }
    }
    tmp.remove(vmaps[j]!.fd);
    await ctx.tick();
    const isNew = mappedBytes(run.nv);
    for (let lv = 0; lv < run.nv; lv++) {
      const p = pl[lv]!;
      let g = lvPrime[p]!;
      if (g === UNSET) {
        g = next++;
        lvPrime[p] = g;
        isNew[lv] = 1;
      }
      pl[lv] = g;
      if ((++beat & PULSE) === 0) await ctx.tick();
    }
    const vr = new BufReader(run.fd, run.vf.start, run.vf.end, bufSize);
    for (let lv = 0; lv < run.nv; lv++) {
      const len = vr.readU32();
      if (isNew[lv] === 1) {
        vr.ensure(len);
        ow.u32(len);
        ow.write(vr.buf, vr.p, vr.p + len);
        vr.p += len;
      } else {
        vr.skip(len);
      }
      if ((++ticks & 0xfff) === 0) await step();
    }
    // Rewrite KS with merged value numbers (lists re-sorted). A list longer than a chunk (a run
    // merged before holds lists of any length) is renumbered and sorted a chunk at a time.
    const kf = tmp.create('keys');
    const kw = new BufWriter(new FileSink(kf.fd), 0, bufSize);
    const kr = new EntryReader(run.fd, run.ks, bufSize, true, j, 4 * chunkWords);
    while (kr.next()) {
      const count = kr.count;
      if (kr.ls < 0) {
        if (scratch.length < chunkWords) scratch = grownUint32(scratch, chunkWords, 0);
        longKey.set(kr);
        await renumberLongList(kw, longKey, run.fd, kr.listPos, count, pl, scratch, chunkWords, aside, bufSize, step);
        ++ticks;
        continue;
      }
      if (scratch.length < count) scratch = grownUint32(scratch, Math.max(count, 2 * scratch.length), 0);
      const b = kr.buf;
      for (let i = 0, o = kr.ls; i < count; i++, o += 4) {
        const id = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
        scratch[i] = pl[id - 1]! + 1;
      }
      sortIds(scratch, 0, count);
      kw.u32(kr.kl);
      kw.write(b, kr.ks, kr.ks + kr.kl);
      kw.u32(count);
      kw.u32s(scratch, 0, count);
      if ((++ticks & 0xfff) === 0) await step();
    }
    kw.flush();
    keyFiles.push({ fd: kf.fd, sec: { start: 0, end: kw.offset } });
  }
  vf.end = ow.offset;
  if (next !== nv) throw new Error(`merge: ${next} values claimed, ${nv} expected`);
  let vsl: Section | null = null;
  if (!final) {
    vsl = { start: ow.offset, end: 0 };
    ow.u32s(lvPrime);
    vsl.end = ow.offset;
  }

  // 3. Keys in byte order: concatenate the lists of equal keys; group rank q per (run, KS entry).
  const kmaps = inputs.map(() => tmp.create('kmap'));
  const kmw = kmaps.map((f) => new BufWriter(new FileSink(f.fd), 0, bufSize));
  // Lists longer than the buffer are not loaded but merged from their files when the key is written.
  const kreaders = keyFiles.map((f, j) => new EntryReader(f.fd, f.sec, bufSize, true, j, bufSize));
  const kheap = await MergeHeap.of(kreaders, ctx.tick);
  const ks = { start: ow.offset, end: 0 };
  let nk = 0;
  let n = 0;
  let members = 0;
  const longs: LongList[] = [];
  // A key's short lists gathered past a chunk are sorted and set aside as one more long list.
  const setAside = (): void => {
    inChunks.setAside++;
    longs.push(aside.segment(scratch, n));
    n = 0;
  };
  const flushKey = async (): Promise<void> => {
    if (longs.length > 0) {
      sortIds(scratch, 0, n);
      aside.flush();
      await writeMergedList(ow, out.fd, group, scratch, n, longs.splice(0), unique, bufSize, ctx.tick);
      aside.rewind();
      return;
    }
    if (members > 1) sortIds(scratch, 0, n);
    if (unique && members > 1) {
      let w = 0;
      let prev = 0;
      for (let i = 0; i < n; i++) {
        const id = scratch[i]!;
        if (id !== prev) scratch[w++] = id;
        prev = id;
      }
      n = w;
    }
    ow.u32(group.len);
    ow.write(group.buf, 0, group.len);
    ow.u32(n);
    ow.u32s(scratch, 0, n);
  };
  while (kheap.size > 0) {
    const e = kheap.top();
    if (nk === 0 || !group.matches(e)) {
      if (nk > 0) await flushKey();
      group.set(e);
      nk++;
      n = 0;
      members = 0;
    }
    kmw[e.id]!.u32(nk - 1);
    const count = e.count;
    members++;
    if (e.ls < 0) {
      longs.push({ fd: keyFiles[e.id]!.fd, pos: e.listPos, count });
      kheap.advance();
      if ((++ticks & 0xfff) === 0) await step();
      continue;
    }
    // Sorted in memory a chunk at most at a time (a sort is one slice of the event loop).
    if (n > 0 && n + count > chunkWords) setAside();
    if (scratch.length < n + count) {
      scratch = grownUint32(scratch, Math.max(n + count, 2 * scratch.length), n);
    }
    const b = e.buf;
    for (let i = 0, o = e.ls; i < count; i++, o += 4) {
      scratch[n + i] = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    }
    n += count;
    kheap.advance();
    if ((++ticks & 0xfff) === 0) await step();
  }
  if (nk > 0) await flushKey();
  aside.remove();
  ks.end = ow.offset;
  if (nk > U32_MAX) throw limitError('keys', lastRecord);
  for (const w of kmw) {
    w.flush();
    await ctx.tick();
  }
  for (const f of keyFiles) {
    tmp.remove(f.fd);
    await ctx.tick();
  }

  // 4. Replay each run in lk order to number the merged keys by first appearance.
  //    The image of a hashed db orders its keys by the hash: a final merge of more
  //    than HASH_MIN_KEYS keys leaves KSL empty (and saves 4 bytes per key).
  const numbered = !final || nk <= HASH_MIN_KEYS;
  const lkPrime = mappedUint32(numbered ? nk : 0).fill(UNSET);
  let nextK = numbered ? 0 : nk;
  for (let j = 0; j < m; j++) {
    if (!numbered) {
      tmp.remove(kmaps[j]!.fd);
      ticks += inputs[j]!.nk;
      await ctx.tick();
      continue;
    }
    const run = inputs[j]!;
    const ql = mappedUint32(run.nk);
    const lks = new BufReader(run.fd, run.ksl.start, run.ksl.end, bufSize);
    const qs = new BufReader(kmaps[j]!.fd, 0, 4 * run.nk, bufSize);
    for (let b = 0; b < run.nk; b++) {
      ql[lks.readU32()] = qs.readU32();
      if ((++beat & PULSE) === 0) await ctx.tick();
    }
    tmp.remove(kmaps[j]!.fd);
    for (let lk = 0; lk < run.nk; lk++) {
      const q = ql[lk]!;
      if (lkPrime[q] === UNSET) lkPrime[q] = nextK++;
      if ((++beat & PULSE) === 0) await ctx.tick();
    }
    ticks += run.nk;
    await step();
  }
  if (nextK !== nk) throw new Error(`merge: ${nextK} keys claimed, ${nk} expected`);
  const ksl = { start: ow.offset, end: 0 };
  ow.u32s(lkPrime);
  ksl.end = ow.offset;
  ow.flush();
  for (const r of inputs) {
    tmp.remove(r.fd);
    r.fd = -1;
    await ctx.tick();
  }
  if (!final) tmp.close(out.fd);
  m0.done = base + ticks;
  report?.(m0.done, m0.total);
  return { path: out.path, fd: final ? out.fd : -1, nv, nk, valueBytes, vs: final ? null : vs, vsl, vf, ks, ksl, lastRecord };
}

/** Mask of the entry count at which the merge's map passes call `tick` (every 2^16: a few ms of random accesses). */
const PULSE = 0xffff;

/** A key's list left in a run's key file (too long to load). */
interface LongList {
  fd: number;
  pos: number;
  count: number;
}

/** Most ids sorted at once by a merge's long-list paths: sorting 2^18 random ids takes ~14 ms here (2^20: ~59 ms, past the loop's 50 ms). */
const CHUNK_IDS_MAX = 1 << 18;

/** Ids of a long list renumbered, or of a key's gathered lists sorted, at a time: the buffer of a one-input merge (a quarter of the budget), at most {@link CHUNK_IDS_MAX}. */
function longListChunk(ctx: MergeContext): number {
  return Math.max(1024, Math.min(CHUNK_IDS_MAX, ctx.bufferSize(1) >>> 2));
}

/** What merges of this process did a chunk at a time (test hook): lists renumbered, and a key's short lists set aside once gathered past a chunk. */
const inChunks = { renumbered: 0, setAside: 0 };

/** A copy of {@link inChunks} (test hook). */
export function longListsInChunks(): { renumbered: number; setAside: number } {
  return { ...inChunks };
}

/** Sorted segments of key lists set aside in one temporary file of a merge, each a {@link LongList} for {@link writeMergedList}. */
class AsideFile {
  private fd = -1;
  private w: BufWriter | null = null;

  constructor(
    private readonly tmp: TempDir,
    private readonly bufSize: number,
  ) {}

  /** Sorts `ids[0, n)` and appends them (the file is made at the first). */
  segment(ids: Uint32Array, n: number): LongList {
    if (this.w === null) {
      this.fd = this.tmp.create('aside').fd;
      this.w = new BufWriter(new FileSink(this.fd), 0, this.bufSize);
    }
    sortIds(ids, 0, n);
    const list = { fd: this.fd, pos: this.w.offset, count: n };
    this.w.u32s(ids, 0, n);
    return list;
  }

  /** Writes out what is buffered, so that the segments can be read. */
  flush(): void {
    this.w?.flush();
  }

  /** Starts over at the file's start, once every segment was merged (the next ones write over them). */
  rewind(): void {
    if (this.w !== null) this.w = new BufWriter(new FileSink(this.fd), 0, this.bufSize, this.w.buf);
  }

  /** Deletes the file, if one was made. */
  remove(): void {
    if (this.w === null) return;
    this.tmp.remove(this.fd);
    this.w = null;
  }
}

/**
 * Writes the key file entry of `key` whose list, `count` ids at `pos` of `fd`, is
 * renumbered through `pl` (local id − 1 → merged number) and sorted, without holding it
 * whole: each chunk of `chunkWords` ids is renumbered in `scratch` and set aside sorted,
 * then the chunks are merged into the entry ({@link writeMergedList}).
 */
async function renumberLongList(
  kw: BufWriter,
  key: GroupKey,
  fd: number,
  pos: number,
  count: number,
  pl: Uint32Array,
  scratch: Uint32Array,
  chunkWords: number,
  aside: AsideFile,
  bufSize: number,
  step: () => Promise<void>,
): Promise<void> {
  inChunks.renumbered++;
  const lr = new BufReader(fd, pos, pos + 4 * count, bufSize);
  const chunks: LongList[] = [];
  for (let done = 0; done < count; ) {
    const c = Math.min(chunkWords, count - done);
    for (let i = 0; i < c; i++) scratch[i] = pl[lr.readU32() - 1]! + 1;
    chunks.push(aside.segment(scratch, c));
    done += c;
    await step();
  }
  aside.flush();
  // Renumbering keeps every id (a multiset's repeats too): nothing is dropped here.
  await writeMergedList(kw, -1, key, scratch, 0, chunks, false, bufSize, step);
  aside.rewind();
}

/**
 * Writes the entry of `key` whose list is the merge of the sorted `ids[0, n)` and the
 * sorted long lists, read from their files through small buffers: a k-way merge (the
 * lists hold distinct ids, but a repeated value of a multiset repeats across them),
 * without the whole list in memory. With `unique`, repeats are dropped and the count
 * is written once known.
 */
async function writeMergedList(
  ow: BufWriter,
  fd: number,
  key: GroupKey,
  ids: Uint32Array,
  n: number,
  longs: LongList[],
  unique: boolean,
  bufSize: number,
  tick: () => Promise<void>,
): Promise<void> {
  const small = Math.min(bufSize, 1 << 16);
  const readers = longs.map((l) => new BufReader(l.fd, l.pos, l.pos + 4 * l.count, small));
  const left = longs.map((l) => l.count);
  // Heads: source 0 is `ids`, source j + 1 the j-th long list; a heap of sources by head.
  const k = readers.length + 1;
  const head = new Float64Array(k);
  const heap = new Int32Array(k);
  let size = 0;
  let at = 0;
  const load = (src: number): boolean => {
    if (src === 0) {
      if (at >= n) return false;
      head[0] = ids[at++]!;
      return true;
    }
    if (left[src - 1]! === 0) return false;
    left[src - 1]!--;
    head[src] = readers[src - 1]!.readU32();
    return true;
  };
  const down = (i: number): void => {
    const x = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && (head[heap[c + 1]!]! < head[heap[c]!]! || (head[heap[c + 1]!] === head[heap[c]!] && heap[c + 1]! < heap[c]!))) c++;
      const hc = head[heap[c]!]!;
      const hx = head[x]!;
      if (hc > hx || (hc === hx && heap[c]! > x)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = x;
  };
  for (let src = 0; src < k; src++) if (load(src)) heap[size++] = src;
  for (let i = (size >> 1) - 1; i >= 0; i--) down(i);
  let total = n;
  for (const l of longs) total += l.count;
  ow.u32(key.len);
  ow.write(key.buf, 0, key.len);
  let countAt = -1;
  if (unique) {
    ow.flush();
    countAt = ow.offset;
  }
  ow.u32(total);
  let written = 0;
  let prev = 0;
  let beat = 0;
  while (size > 0) {
    const src = heap[0]!;
    const id = head[src]!;
    if (!unique || id !== prev) {
      ow.u32(id);
      written++;
    }
    prev = id;
    if (!load(src)) heap[0] = heap[--size]!;
    if (size > 1) down(0);
    if ((++beat & PULSE) === 0) await tick();
  }
  if (unique && written !== total) {
    ow.flush();
    const b = Buffer.alloc(4);
    b.writeUInt32LE(written);
    new FileSink(fd).writeAt(b, 0, 4, countAt);
  }
}

/**
 * Merges all runs into one: a single pass when they fit the fan-in, otherwise
 * groups of consecutive runs first (the input order must be kept).
 */
export async function mergeAll(runs: RunFile[], ctx: MergeContext, fanIn: number): Promise<RunFile> {
  let level = runs;
  const meter: MergeMeter = { done: 0, total: mergeWork(level, fanIn) };
  while (level.length > 1) {
    if (level.length <= fanIn) return mergeRuns(level, ctx, true, meter);
    const next: RunFile[] = [];
    for (let i = 0; i < level.length; i += fanIn) {
      const group = level.slice(i, i + fanIn);
      next.push(group.length === 1 ? group[0]! : await mergeRuns(group, ctx, false, meter));
    }
    level = next;
    // The merged runs' true sizes replace the estimate of the passes left.
    meter.total = meter.done + mergeWork(level, fanIn);
  }
  return level[0]!;
}

