/**
 * The in-memory part of a build: the records buffered since the last spill, held
 * as two byte dictionaries (distinct keys, distinct values) plus one (key, value)
 * pair of u32 indices per item. No JS object per record survives `add`.
 *
 * Dictionary entries are numbered in order of first appearance inside the run, so
 * for a build that never spills the entry numbers already are the final key order
 * and the final value ids (minus one).
 */

import { sortWords, type WordSource } from './sort.js';
import { drainSteps, STEP_WORK } from './steps.js';
import { grownBytes, grownUint32, mappedBytes, mappedUint32, mappedWrittenInt32 } from '../format/pages.js';

export { drainSteps, STEP_WORK };

/**
 * In a stepped build, tables of more slots than this are rehashed in steps (see
 * {@link RunBuffer.deferRehash}): 2^20 slots (8 MiB) rehash in ~10 ms. A test hook may lower it.
 */
let STEPPED_REHASH_SLOTS = 1 << 20;

/** Test hook: the table size above which a stepped build rehashes in steps (returns the previous one). */
export function setSteppedRehashSlots(slots: number): number {
  const was = STEPPED_REHASH_SLOTS;
  STEPPED_REHASH_SLOTS = slots;
  return was;
}

/** Largest arena: offsets are u32. */
const ARENA_MAX = 0xffffffff;
const INITIAL_ENTRIES = 1024;
const INITIAL_ARENA = 64 * 1024;
const INITIAL_PAIRS = 4096;

/** 32-bit FNV-1a over bytes, finished with murmur3's fmix32 so that low bits are well mixed. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 16777619);
  return fmix(h);
}

/** Inserts the entries of the slots old[from, to) (pairs of words) into `table` (linear probing under `mask`). */
function rehashInto(old: Int32Array, from: number, to: number, table: Int32Array, mask: number): void {
  for (let i = from; i < to; i += 2) {
    const e = old[i]!;
    if (e === 0) continue;
    const h = old[i + 1]!;
    let s = h & mask;
    while (table[2 * s] !== 0) s = (s + 1) & mask;
    table[2 * s] = e;
    table[2 * s + 1] = h;
  }
}

/** Copies a[s, e) to a[d..] with d < s (a forward copy is safe). */
function copyDown(a: Uint8Array, s: number, e: number, d: number): void {
  if (e - s <= 32) {
    for (let i = s; i < e; i++) a[d++] = a[i]!;
  } else {
    a.copyWithin(d, s, e);
  }
}

/** murmur3's fmix32 finaliser (see {@link hashBytes}). */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A set of distinct byte strings numbered 0, 1, 2, … in order of insertion:
 * entry i is `arena[offs[i], offs[i + 1])`. Lookup is open addressing with linear
 * probing; a slot holds (entry + 1, hash) side by side so that one cache line
 * answers most probes. Load ≤ 1/2 while the capacity doubles; a run whose next
 * doubling does not fit its budget takes a last step to load 3/4 (more entries, same
 * table, no rehash). Memory: the bytes plus 20 bytes per entry at load 1/2 (4 for the
 * offset, 2 × 8 for the table).
 */
export class ByteDict {
  arena: Buffer;
  /** Bytes of the arena in use (= offs[n]). */
  used = 0;
  /** Number of entries. */
  n = 0;
  /** Entry capacity before the arrays must grow. */
  cap: number;
  offs: Uint32Array;
  /** {@link slotsFor}(cap) slots of (entry + 1, hash); entry + 1 = 0 marks an empty slot. */
  table: Int32Array;
  /** Slot mask (slots - 1). */
  mask: number;

  constructor(entries = INITIAL_ENTRIES, arenaBytes = INITIAL_ARENA) {
    this.arena = Buffer.allocUnsafe(arenaBytes);
    this.cap = entries;
    this.offs = new Uint32Array(entries + 1);
    const slots = ByteDict.slotsFor(entries);
    this.table = new Int32Array(2 * slots);
    this.mask = slots - 1;
  }

  /** Table slots for an entry capacity: a power of two, load ≤ 3/4 (≤ 1/2 for a power-of-two capacity). */
  static slotsFor(cap: number): number {
    let s = 2;
    while (3 * s < 4 * cap) s *= 2;
    return s;
  }

  /** The most entries the current table takes (load 3/4). */
  fullCap(): number {
    return Math.floor((3 * (this.mask + 1)) / 4);
  }

  /** Bytes allocated by this dictionary. */
  footprint(): number {
    return this.arena.length + ByteDict.entryBytes(this.cap);
  }

  /** Bytes of the per-entry arrays for an entry capacity `cap`. */
  static entryBytes(cap: number): number {
    return 4 * (cap + 1) + 8 * ByteDict.slotsFor(cap);
  }

  /** Forgets every entry, keeping the allocations. */
  clear(): void {
    this.used = 0;
    this.n = 0;
    this.table.fill(0);
  }

  /** Drops every entry and the allocations (the dictionary must not be used again). */
  release(): void {
    this.arena = Buffer.allocUnsafe(0);
    this.used = 0;
    this.n = 0;
    this.cap = 0;
    this.offs = new Uint32Array(1);
    this.table = new Int32Array(0);
    this.mask = 0;
  }

  /** Start offset of entry i in the arena. */
  start(i: number): number {
    return this.offs[i]!;
  }

  /** Byte length of entry i. */
  length(i: number): number {
    return this.offs[i + 1]! - this.offs[i]!;
  }

  /** A view of entry i (allocates a view object). */
  view(i: number): Buffer {
    return this.arena.subarray(this.offs[i]!, this.offs[i + 1]!);
  }

  /** Grows the arena to `size` bytes (in place while its allocation has room: pages.ts). */
  growArena(size: number): void {
    this.arena = grownBytes(this.arena, size, this.used);
  }

  /** Grows the entry capacity to `cap`, rehashing when that needs a larger table. */
  growEntries(cap: number): void {
    drainSteps(this.growEntriesSteps(cap));
  }

  /** True when growing the entry capacity to `cap` rehashes a table of more than `slots` slots. */
  rehashes(cap: number, slots: number): boolean {
    return ByteDict.slotsFor(cap) !== this.mask + 1 && this.mask + 1 > slots;
  }

  /**
   * {@link growEntries} in steps: the rehash yields every {@link STEP_WORK} slots. No
   * entry may be added until it is done (the old table answers lookups until then).
   */
  *growEntriesSteps(cap: number): Generator<void, void, void> {
    this.offs = grownUint32(this.offs, cap + 1, this.n + 1);
    this.cap = cap;
    const slots = ByteDict.slotsFor(cap);
    if (slots === this.mask + 1) return;
    const old = this.table;
    // Faulted in by writes first: the rehash's probes read before they write (pages.ts).
    const table = mappedWrittenInt32(2 * slots);
    for (let i = 0; i < old.length; i += 2 * STEP_WORK) {
      rehashInto(old, i, Math.min(old.length, i + 2 * STEP_WORK), table, slots - 1);
      if (i + 2 * STEP_WORK < old.length) yield;
    }
    this.table = table;
    this.mask = slots - 1;
  }

  /**
   * Interns the UTF-8 bytes of `s`. The caller guarantees `used + 3 * s.length`
   * bytes of arena and one free entry.
   */
  internString(s: string): number {
    const a = this.arena;
    const start = this.used;
    const sl = s.length;
    let h = 0x811c9dc5 | 0;
    let i = 0;
    for (; i < sl; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      a[start + i] = c;
      h = Math.imul(h ^ c, 16777619);
    }
    if (i === sl) return this.commit(start, sl, fmix(h));
    const len = a.write(s, start, 'utf8');
    return this.commit(start, len, hashBytes(a, start, start + len));
  }

  /** Interns a copy of `b`. The caller guarantees `used + b.length` bytes of arena and one free entry. */
  internBytes(b: Uint8Array): number {
    const a = this.arena;
    const start = this.used;
    const len = b.length;
    if (len <= 32) {
      let h = 0x811c9dc5 | 0;
      for (let i = 0; i < len; i++) {
        const c = b[i]!;
        a[start + i] = c;
        h = Math.imul(h ^ c, 16777619);
      }
      return this.commit(start, len, fmix(h));
    }
    a.set(b, start);
    return this.commit(start, len, hashBytes(a, start, start + len));
  }

  /**
   * Encodes `s` (UTF-8) at `pos` (past `used`: the staging area) and returns its
   * length; its hash is left in `stagedHash`. The caller guarantees 3 × s.length bytes.
   */
  stageString(s: string, pos: number): number {
    const a = this.arena;
    const sl = s.length;
    let h = 0x811c9dc5 | 0;
    let i = 0;
    for (; i < sl; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      a[pos + i] = c;
      h = Math.imul(h ^ c, 16777619);
    }
    if (i === sl) {
      this.stagedHash = fmix(h);
      return sl;
    }
    const len = a.write(s, pos, 'utf8');
    this.stagedHash = hashBytes(a, pos, pos + len);
    return len;
  }

  /** Copies `b` to `pos` (the staging area) and returns its length; its hash is left in `stagedHash`. */
  stageBytes(b: Uint8Array, pos: number): number {
    const a = this.arena;
    const len = b.length;
    if (len <= 32) {
      let h = 0x811c9dc5 | 0;
      for (let i = 0; i < len; i++) {
        const c = b[i]!;
        a[pos + i] = c;
        h = Math.imul(h ^ c, 16777619);
      }
      this.stagedHash = fmix(h);
      return len;
    }
    a.set(b, pos);
    this.stagedHash = hashBytes(a, pos, pos + len);
    return len;
  }

  /** Hash of the last staged string. */
  stagedHash = 0;
  private cand = new Int32Array(64);
  /** Sink for the touch loop (keeps it from being optimised away). */
  touched = 0;

  /**
   * Resolves n staged candidates, in order: candidate i is `arena[off[i], off[i] +
   * len[i])` with hash `hash[i]`, staged consecutively from `used` on. Writes each
   * one's entry number to `out[i]`, adding the new ones (first appearance order is
   * kept). Done in passes over the batch so that the cache misses of different
   * candidates overlap instead of queueing one after another.
   */
  resolve(off: Uint32Array, len: Uint32Array, hash: Int32Array, n: number, out: Int32Array): void {
    const a = this.arena;
    this.match(a, off, len, hash, n, out);
    // 4. The rest, in order: full probe, then insert (moving the bytes down to `used`).
    for (let i = 0; i < n; i++) {
      if (out[i]! >= 0) continue;
      const st = off[i]!;
      const l = len[i]!;
      const w = this.used;
      if (st !== w) copyDown(a, st, st + l, w);
      out[i] = this.commit(w, l, hash[i]!);
    }
  }

  /**
   * {@link resolve} for candidates that sit in another buffer (`src`, a worker's batch):
   * only the new ones are copied into the arena, which has room for all of them.
   */
  resolveFrom(src: Uint8Array, off: Uint32Array, len: Uint32Array, hash: Int32Array, n: number, out: Int32Array): void {
    this.match(src, off, len, hash, n, out);
    for (let i = 0; i < n; i++) {
      if (out[i]! >= 0) continue;
      out[i] = this.commitFrom(src, off[i]!, len[i]!, hash[i]!);
    }
  }

  /**
   * Passes 1–3 of {@link resolve} over candidates in `src` (the arena itself or a batch):
   * `out[i]` becomes the entry number of an existing equal entry, or −1.
   */
  private match(src: Uint8Array, off: Uint32Array, len: Uint32Array, hash: Int32Array, n: number, out: Int32Array): void {
    const a = this.arena;
    const table = this.table;
    const offs = this.offs;
    const mask = this.mask;
    if (this.cand.length < n) this.cand = new Int32Array(Math.max(n, 2 * this.cand.length));
    const cand = this.cand;
    // 1. Probe: the first slot with a matching hash (entry + 1), or 0 at an empty
    //    slot or after a few probes. Independent loads, so their misses overlap.
    for (let i = 0; i < n; i++) {
      const h = hash[i]!;
      let s = h & mask;
      let e = table[2 * s]!;
      let left = 4;
      while (e !== 0 && table[2 * s + 1] !== h && --left > 0) {
        s = (s + 1) & mask;
        e = table[2 * s]!;
      }
      out[i] = left > 0 && e !== 0 ? e : 0;
    }
    // 2. The candidate entry's offset (when the length matches).
    for (let i = 0; i < n; i++) {
      const e = out[i]!;
      let o = -1;
      if (e !== 0) {
        o = offs[e - 1]!;
        if (offs[e]! - o !== len[i]!) o = -1;
      }
      cand[i] = o;
    }
    // 3. Touch the candidates' bytes (overlapping misses), then compare them.
    let touch = 0;
    for (let i = 0; i < n; i++) {
      const o = cand[i]!;
      if (o >= 0) touch ^= a[o]!;
    }
    this.touched = touch;
    for (let i = 0; i < n; i++) {
      const o = cand[i]!;
      if (o < 0) {
        out[i] = -1;
        continue;
      }
      const st = off[i]!;
      const l = len[i]!;
      let j = 0;
      if (l <= 64) {
        while (j < l && a[o + j] === src[st + j]) j++;
      } else if (a.compare(src, st, st + l, o, o + l) === 0) {
        j = l;
      }
      out[i] = j === l ? out[i]! - 1 : -1;
    }
  }

  /** `commit` of bytes in `src`: copied to the arena tail only when absent. */
  private commitFrom(src: Uint8Array, st: number, len: number, h: number): number {
    const a = this.arena;
    const table = this.table;
    const offs = this.offs;
    const mask = this.mask;
    let s = h & mask;
    for (;;) {
      const e = table[2 * s]!;
      if (e === 0) break;
      if (table[2 * s + 1] === h) {
        const id = e - 1;
        const o = offs[id]!;
        if (offs[id + 1]! - o === len) {
          let j = 0;
          while (j < len && a[o + j] === src[st + j]) j++;
          if (j === len) return id;
        }
      }
      s = (s + 1) & mask;
    }
    const w = this.used;
    if (len <= 32) for (let i = 0; i < len; i++) a[w + i] = src[st + i]!;
    else a.set(src.subarray(st, st + len), w);
    const id = this.n++;
    table[2 * s] = id + 1;
    table[2 * s + 1] = h;
    this.used = w + len;
    offs[id + 1] = this.used;
    return id;
  }

  /** Looks up the candidate bytes at the arena tail; keeps them as a new entry if absent. */
  private commit(start: number, len: number, h: number): number {
    const a = this.arena;
    const table = this.table;
    const offs = this.offs;
    const mask = this.mask;
    let s = h & mask;
    for (;;) {
      const e = table[2 * s]!;
      if (e === 0) break;
      if (table[2 * s + 1] === h) {
        const id = e - 1;
        const o = offs[id]!;
        if (offs[id + 1]! - o === len) {
          if (len <= 64) {
            let j = 0;
            while (j < len && a[o + j] === a[start + j]) j++;
            if (j === len) return id;
          } else if (a.compare(a, start, start + len, o, o + len) === 0) {
            return id;
          }
        }
      }
      s = (s + 1) & mask;
    }
    const id = this.n++;
    table[2 * s] = id + 1;
    table[2 * s + 1] = h;
    this.used = start + len;
    offs[id + 1] = this.used;
    return id;
  }
}

/**
 * Reserving the pairs up front only pays where the C allocator maps a zero-filled
 * allocation fresh from the OS (untouched pages cost nothing): glibc does from 32 MiB on
 * (its largest dynamic mmap threshold), whatever was freed before.
 */
const RESERVE_MIN = 32 * 1024 * 1024;
/** Most pairs reserved (see {@link reservePairs}). */
const PAIRS_MAX = 1 << 28;

/**
 * The pair arrays of a run with this budget: as many pairs as the budget could hold
 * when each array takes at least {@link RESERVE_MIN} bytes, else `pairs`. An
 * allocation the OS refuses (strict overcommit) falls back to `pairs`.
 */
function reservePairs(pairs: number, budget: number): [Uint32Array, Uint32Array] {
  const most = Number.isFinite(budget) ? Math.min(PAIRS_MAX, Math.floor(budget / 8)) : 0;
  if (4 * most >= RESERVE_MIN) {
    try {
      return [new Uint32Array(most), new Uint32Array(most)];
    } catch {
      // Not granted: grow by copy instead.
    }
  }
  return [new Uint32Array(pairs), new Uint32Array(pairs)];
}

/**
 * The share of `memoryLimit` a file build gives its run ({@link RunBuffer}): 3/4. The
 * quarter left covers what the writer holds besides the run's arrays — the spill's
 * write buffer (≤ 4 MiB), the staging batch, its JS heap — and the allocator's slack,
 * so that peak RSS stays within `memoryLimit` plus node's own memory and the
 * records the caller holds in flight (README, "Bounded memory").
 */
export function runBudget(memoryLimit: number): number {
  return Math.floor((memoryLimit / 4) * 3);
}

/**
 * u32 words a spill needs beyond the hash tables of its run (`valueTable`, `keyTable`
 * words, which it borrows as scratch: see {@link RunBuffer.spillWords}) for `nv`
 * values, `nk` keys: the three steps of a spill (sorting the values, sorting the
 * keys, grouping the pairs by key next to the keys' order), each placed first-fit.
 * `inPlace`: how the pairs are grouped (by default the way that needs less).
 */
export function spillExtraWords(
  valueTable: number,
  keyTable: number,
  nv: number,
  nk: number,
  np: number,
  inPlace = groupsInPlace(valueTable, keyTable, nk, np),
): number {
  const phases = [sortWords(nv), sortWords(nk), groupWords(nk, np, inPlace)];
  let extra = 0;
  for (const chunks of phases) extra = Math.max(extra, overflow(valueTable, keyTable, chunks));
  return extra;
}

/** The arrays of u32 words grouping takes next to the keys' order (see {@link RunBuffer.groupByKeySteps}). */
function groupWords(nk: number, np: number, inPlace: boolean): number[] {
  return [nk, nk + 1, inPlace ? nk : np];
}

/** The words placed first-fit in two regions that do not fit there. */
function overflow(valueTable: number, keyTable: number, chunks: number[]): number {
  let v = valueTable;
  let k = keyTable;
  let e = 0;
  for (const c of chunks) {
    if (c <= v) v -= c;
    else if (c <= k) k -= c;
    else e += c;
  }
  return e;
}

/**
 * Whether a spill groups the pairs in place (a cursor per key, slower: chains of
 * dependent loads) rather than into a new array of ids (4 bytes per pair): in place
 * only when the ids would not fit in the hash tables.
 */
export function groupsInPlace(valueTable: number, keyTable: number, nk: number, np: number): boolean {
  return overflow(valueTable, keyTable, groupWords(nk, np, false)) > overflow(valueTable, keyTable, groupWords(nk, np, true));
}

/**
 * u32 words handed out first-fit from a few regions: the memory a spill works in
 * (the run's hash tables, dead until the run is cleared, and one extra array).
 */
export class WordPool {
  private readonly used: number[];

  /** @param onFresh hears the words allocated because no region had room (none when the footprint was right). */
  constructor(
    private readonly regions: Uint32Array[],
    private readonly onFresh: (words: number) => void = () => undefined,
  ) {
    this.used = regions.map(() => 0);
  }

  /** A region of `n` words (contents undefined); a fresh array if none has room. */
  readonly take: WordSource = (n) => {
    const regions = this.regions;
    for (let r = 0; r < regions.length; r++) {
      const u = this.used[r]!;
      if (regions[r]!.length - u >= n) {
        this.used[r] = u + n;
        return regions[r]!.subarray(u, u + n);
      }
    }
    this.onFresh(n);
    return new Uint32Array(n);
  };

  /** Where the pool is (for {@link WordPool.reset}). */
  mark(): number[] {
    return this.used.slice();
  }

  /** Gives back everything taken since `mark` (all of it without one). */
  reset(mark?: number[]): void {
    for (let r = 0; r < this.used.length; r++) this.used[r] = mark === undefined ? 0 : mark[r]!;
  }
}

/**
 * Records buffered since the last spill: distinct keys, distinct values, and the
 * (key entry, value entry) pair of every item that has a value. Everything it
 * allocates stays within the budget, transients included: `reserve` answers false
 * when the next item does not fit, and the caller spills the run and clears it.
 * What is counted ({@link RunBuffer.footprint}): the arenas, offsets, hash tables and
 * pairs, plus what a spill needs beyond the hash tables it borrows; while an array
 * grows, the old one and the new one side by side.
 */
export class RunBuffer {
  readonly keys: ByteDict;
  readonly values: ByteDict;
  /**
   * The pairs, `pairCap` of them at most. With a large budget both arrays are
   * allocated once at the most pairs the budget could hold ({@link reservePairs}): a
   * large zero-filled allocation is only address space until written (the OS commits
   * its pages as they are touched), so they grow without a copy and what they take
   * follows `pairCap`.
   */
  pairKey: Uint32Array;
  pairVal: Uint32Array;
  /** Pairs the run may hold before it must grow (the memory counted for them: 8 bytes each). */
  pairCap: number;
  /** Number of pairs. */
  np = 0;
  /** The spill's scratch beyond the hash tables, kept from one spill to the next. */
  private extra = new Uint32Array(0);
  /** The spill's write buffer, kept from one spill to the next. */
  private spillBuf: Buffer | null = null;
  /** The largest {@link RunBuffer.bytes} or growth transient seen (test and bench hook). */
  peakBytes = 0;
  /** Words the spills' pools had to allocate beyond the counted memory (0 when the footprint is right; test hook). */
  freshWords = 0;

  /**
   * @param budget bytes the run may use; `Infinity` for an unbounded in-memory build.
   * Initial allocations are scaled down for small budgets.
   */
  constructor(private readonly budget: number) {
    let entries = INITIAL_ENTRIES;
    while (entries > 2 && RunBuffer.footprint(entries, entries, entries, entries, entries) * 4 > budget) entries >>= 1;
    const arena = Math.max(16, Math.min(INITIAL_ARENA, Math.floor(budget / 16)));
    this.keys = new ByteDict(entries, arena);
    this.values = new ByteDict(entries, arena);
    const pairs = Math.max(4, Math.min(INITIAL_PAIRS, entries * 4));
    this.pairCap = pairs;
    [this.pairKey, this.pairVal] = reservePairs(pairs, budget);
    this.peakBytes = this.bytes();
  }

  /** True when nothing at all is buffered. */
  isEmpty(): boolean {
    return this.keys.n === 0;
  }

  clear(): void {
    this.keys.clear();
    this.values.clear();
    this.np = 0;
  }

  /** Drops the pairs (after `groupByKey`, when finishing). */
  releasePairs(): void {
    this.np = 0;
    this.pairCap = 0;
    this.pairKey = new Uint32Array(0);
    this.pairVal = new Uint32Array(0);
  }

  /** Drops everything and gives the memory back (the run will not be used again). */
  release(): void {
    this.keys.release();
    this.values.release();
    this.np = 0;
    this.pairCap = 0;
    this.pairKey = new Uint32Array(0);
    this.pairVal = new Uint32Array(0);
    this.extra = new Uint32Array(0);
    this.spillBuf = null;
  }

  /**
   * Bytes a run with these allocations holds at most: the arenas, the offsets, the
   * hash tables and the pairs, plus the scratch a spill needs beyond the hash tables
   * (sorting: 32 bytes per entry, see sort.ts; grouping the pairs by key, in place:
   * 12 bytes per key with the keys' order).
   */
  static footprint(keyArena: number, keyCap: number, valArena: number, valCap: number, pairCap: number): number {
    const kt = 2 * ByteDict.slotsFor(keyCap);
    const vt = 2 * ByteDict.slotsFor(valCap);
    const dicts = keyArena + 4 * (keyCap + 1) + 4 * kt + valArena + 4 * (valCap + 1) + 4 * vt;
    return dicts + 8 * pairCap + 4 * spillExtraWords(vt, kt, valCap, keyCap, pairCap);
  }

  /** The current footprint (see {@link RunBuffer.footprint}); the spill's scratch kept from the last spill, if larger. */
  bytes(): number {
    const k = this.keys;
    const v = this.values;
    const f = RunBuffer.footprint(k.arena.length, k.cap, v.arena.length, v.cap, this.pairCap);
    const extra = 4 * spillExtraWords(v.table.length, k.table.length, v.cap, k.cap, this.pairCap);
    return f + Math.max(0, this.extra.byteLength - extra);
  }

  /**
   * Bytes of memory the run's arrays hold now (what {@link RunBuffer.bytes} bounds;
   * test hook): their lengths, but the pairs' reserved arrays only as far as `pairCap`
   * (beyond it they are never written, so never committed).
   */
  allocated(): number {
    const k = this.keys;
    const v = this.values;
    const dicts = k.arena.length + k.offs.byteLength + k.table.byteLength + v.arena.length + v.offs.byteLength + v.table.byteLength;
    return dicts + 8 * this.pairCap + this.extra.byteLength;
  }

  /**
   * The memory a spill works in: the hash tables (the run must be cleared or released
   * after the spill) and the extra scratch the footprint counts, allocated once.
   */
  spillWords(): WordPool {
    const k = this.keys;
    const v = this.values;
    const need = spillExtraWords(v.table.length, k.table.length, v.cap, k.cap, this.pairCap, this.spillGroupsInPlace());
    if (this.extra.length < need) this.extra = mappedUint32(need);
    const words = (t: Int32Array): Uint32Array => new Uint32Array(t.buffer, t.byteOffset, t.length);
    this.peakBytes = Math.max(this.peakBytes, this.allocated());
    // The pool is not kept: its views would keep the tables alive after they are replaced or released.
    return new WordPool([words(v.table), words(k.table), this.extra], (n) => {
      this.freshWords += n;
    });
  }

  /**
   * Whether a spill of this run groups its pairs in place (see {@link groupsInPlace}).
   * Scattering them into a new array is several times faster (independent writes, not
   * chains of dependent loads), so it is taken whenever its scratch fits the budget,
   * even where the footprint counted only the in-place grouping's.
   */
  spillGroupsInPlace(): boolean {
    const k = this.keys;
    const v = this.values;
    const vt = v.table.length;
    const kt = k.table.length;
    if (!groupsInPlace(vt, kt, k.cap, this.pairCap)) return false;
    const scatter = spillExtraWords(vt, kt, v.cap, k.cap, this.pairCap, false);
    return this.allocated() + 4 * Math.max(0, scatter - this.extra.length) > this.budget;
  }

  /** The spill's write buffer of `size` bytes, reused from spill to spill. */
  spillBuffer(size: number): Buffer {
    if (this.spillBuf === null || this.spillBuf.length !== size) this.spillBuf = mappedBytes(size);
    return this.spillBuf;
  }

  /**
   * True when `kEntries` more keys of at most `kBytes` bytes and `vEntries` more
   * values (and pairs) of at most `vBytes` bytes fit in the current allocations.
   */
  fits(kBytes: number, kEntries: number, vBytes: number, vEntries: number): boolean {
    const k = this.keys;
    const v = this.values;
    return (
      k.used + kBytes <= k.arena.length &&
      k.n + kEntries <= k.cap &&
      v.used + vBytes <= v.arena.length &&
      v.n + vEntries <= v.cap &&
      this.np + vEntries <= this.pairCap
    );
  }

  /**
   * Makes room for one item whose key takes at most `kMax` bytes and whose value
   * takes at most `vMax` bytes (`vMax < 0`: no value). Returns false when that would
   * exceed the budget; an empty run always grows (a single huge item is allowed).
   */
  reserve(kMax: number, vMax: number): boolean {
    const k = this.keys;
    const v = this.values;
    if (k.used + kMax <= k.arena.length && k.n < k.cap) {
      if (vMax < 0) return true;
      if (v.used + vMax <= v.arena.length && v.n < v.cap && this.np < this.pairCap) return true;
    }
    return this.grow(kMax, vMax);
  }

  /**
   * Bytes held at the peak of growing to these allocations: the larger of the new
   * footprint and, while each array is copied, the new arrays next to the old ones
   * they replace (the spill's scratch is not in use then).
   */
  private growthPeak(kArena: number, kCap: number, vArena: number, vCap: number, pCap: number): number {
    const k = this.keys;
    const v = this.values;
    const after = RunBuffer.footprint(kArena, kCap, vArena, vCap, pCap);
    const kt = 2 * ByteDict.slotsFor(kCap);
    const vt = 2 * ByteDict.slotsFor(vCap);
    let live = kArena + 4 * (kCap + 1) + 4 * kt + vArena + 4 * (vCap + 1) + 4 * vt + 8 * pCap + this.extra.byteLength;
    // An array that grows in place (pages.ts) is not copied, but counting it twice anyway keeps
    // the runs as large as before: values200 at 64M built in 19 runs in 11 s at 149 MB, and in 12 runs
    // in 13-14 s at 190 MB when in-place growth was not counted (larger hash tables, slower probes).
    if (kArena !== k.arena.length) live += k.arena.length;
    if (vArena !== v.arena.length) live += v.arena.length;
    if (kCap !== k.cap) live += k.offs.byteLength + (kt !== k.table.length ? k.table.byteLength : 0);
    if (vCap !== v.cap) live += v.offs.byteLength + (vt !== v.table.length ? v.table.byteLength : 0);
    // Past the reserved arrays the pairs are copied into new ones.
    if (pCap > this.pairKey.length) live += 8 * this.pairCap;
    return Math.max(after, live);
  }

  /**
   * With this set (a stepped build), a growth that would rehash a hash table of more
   * than {@link STEPPED_REHASH_SLOTS} slots is not done by `reserve`, which answers false
   * with {@link growthPending} set: the caller runs {@link growSteps} (as it would a
   * spill, between turns of the event loop) and tries again.
   */
  deferRehash = false;
  /** A growth `reserve` left to {@link growSteps}: the new sizes. */
  private pendingGrowth: { kArena: number; kCap: number; vArena: number; vCap: number; pCap: number; peak: number } | null = null;

  /** Whether `reserve` answered false for a growth to do in steps (not because the run is full). */
  get growthPending(): boolean {
    return this.pendingGrowth !== null;
  }

  /** Does the growth `reserve` deferred, the rehashes in steps. */
  *growSteps(): Generator<void, void, void> {
    const g = this.pendingGrowth;
    if (g === null) return;
    this.pendingGrowth = null;
    yield* this.applyGrowth(g.kArena, g.kCap, g.vArena, g.vCap, g.pCap, g.peak);
  }

  private grow(kMax: number, vMax: number): boolean {
    const k = this.keys;
    const v = this.values;
    const force = this.isEmpty();
    const kNeed = k.used + kMax;
    const vNeed = vMax < 0 ? v.used : v.used + vMax;
    if (kNeed > ARENA_MAX || vNeed > ARENA_MAX) {
      if (force) throw new RangeError('a single record exceeds the 4 GiB arena');
      return false;
    }
    let kArena = k.arena.length;
    let vArena = v.arena.length;
    let kCap = k.cap;
    let vCap = v.cap;
    let pCap = this.pairCap;
    if (kNeed > kArena) kArena = Math.min(ARENA_MAX, Math.max(kNeed, 2 * kArena));
    if (k.n >= kCap) kCap *= 2;
    if (vMax >= 0) {
      if (vNeed > vArena) vArena = Math.min(ARENA_MAX, Math.max(vNeed, 2 * vArena));
      if (v.n >= vCap) vCap *= 2;
      if (this.np >= pCap) {
        // Within the reserved arrays growing is free: by 1/8, so that the count follows the pairs.
        const room = this.pairKey.length;
        pCap = pCap < room ? Math.min(room, pCap < INITIAL_PAIRS ? 2 * pCap : pCap + (pCap >>> 3)) : 2 * pCap;
      }
    }
    let peak = this.growthPeak(kArena, kCap, vArena, vCap, pCap);
    if (!force && peak > this.budget) {
      // Doubling does not fit: try growing the arenas and the pair arrays by 1/8 instead.
      if (kNeed > k.arena.length) kArena = Math.min(ARENA_MAX, Math.max(kNeed, Math.ceil(k.arena.length * 1.125)));
      if (vNeed > v.arena.length) vArena = Math.min(ARENA_MAX, Math.max(vNeed, Math.ceil(v.arena.length * 1.125)));
      if (vMax >= 0 && this.np >= this.pairCap) pCap = Math.ceil(this.pairCap * 1.125);
      // ... and the entry capacities to what their current tables take (load 3/4, no rehash).
      if (kCap !== k.cap) kCap = Math.max(k.cap, k.fullCap());
      if (vCap !== v.cap) vCap = Math.max(v.cap, v.fullCap());
      if (k.n >= kCap || (vMax >= 0 && v.n >= vCap)) return false;
      peak = this.growthPeak(kArena, kCap, vArena, vCap, pCap);
      if (peak > this.budget) return false;
    }
    if (this.deferRehash && (k.rehashes(kCap, STEPPED_REHASH_SLOTS) || v.rehashes(vCap, STEPPED_REHASH_SLOTS))) {
      this.pendingGrowth = { kArena, kCap, vArena, vCap, pCap, peak };
      return false;
    }
    drainSteps(this.applyGrowth(kArena, kCap, vArena, vCap, pCap, peak));
    return true;
  }

  /** Grows the arrays to these sizes (`peak`: the bytes held while they are copied). */
  private *applyGrowth(kArena: number, kCap: number, vArena: number, vCap: number, pCap: number, peak: number): Generator<void, void, void> {
    const k = this.keys;
    const v = this.values;
    if (kArena !== k.arena.length) k.growArena(kArena);
    if (vArena !== v.arena.length) v.growArena(vArena);
    if (kCap !== k.cap) yield* k.growEntriesSteps(kCap);
    if (vCap !== v.cap) yield* v.growEntriesSteps(vCap);
    if (pCap > this.pairKey.length) {
      this.pairKey = grownUint32(this.pairKey, pCap, this.np);
      this.pairVal = grownUint32(this.pairVal, pCap, this.np);
    }
    this.pairCap = pCap;
    if (peak > this.peakBytes) this.peakBytes = peak;
  }

  /** Appends the pair (key entry, value entry). Room was reserved. */
  pair(key: number, value: number): void {
    const i = this.np++;
    this.pairKey[i] = key;
    this.pairVal[i] = value;
  }

  /**
   * Groups the pairs by key: returns `start` (nk + 1 entries) and `ids` such that
   * key k's value entries + 1, sorted ascending, are `ids[start[k], start[k + 1])`.
   * With `unique`, repeated ids are dropped (start is adjusted). `start` and `ids`
   * come from `take`; with `inPlace`, `ids` is the memory of the pairs instead, and
   * `take` gives a cursor per key. By default both come from the run's hash tables
   * and spill scratch ({@link RunBuffer.spillWords}), in place as a spill would. Either
   * way the pairs and the hash tables are gone (the run must be cleared or released).
   */
  groupByKey(unique: boolean, take?: WordSource, inPlace?: boolean): GroupedPairs {
    return drainSteps(this.groupByKeySteps(unique, take, inPlace));
  }

  /**
   * Permutes the pairs into key order in place; then each value entry + 1. `start`:
   * where each key's pairs go. The cursors come from `take`.
   */
  private *permuteByKey(start: Uint32Array, take: WordSource): Generator<void, void, void> {
    const nk = this.keys.n;
    const np = this.np;
    const pk = this.pairKey;
    const pv = this.pairVal;
    // Permute the pairs into key order in place (each bucket's cursor `next[b]`: the
    // pairs before it are placed): a pair taken from a wrong place goes to its bucket's
    // cursor and the pair found there moves on, until one belongs where it was taken.
    // Two passes, as an MSD radix sort on the key number: first into buckets of
    // 2^shift keys (at most PERMUTE_BUCKETS cursors, so the moves go to a few
    // thousand places that stay in cache), then into keys, each move inside its
    // bucket's (small) region — instead of one pass of nk cursors, where every move
    // is a cache miss in a chain of dependent loads.
    const next = take(nk);
    let shift = 0;
    while (nk > PERMUTE_BUCKETS << shift) shift++;
    for (const s of shift > 0 ? [shift, 0] : [0]) {
      const buckets = bucketCursors(start, nk, s, next);
      // One cycle can run through most of the pairs: the steps are counted in moves, and
      // a plain function does them (a generator's loops are not optimised while they run).
      const at: PermuteCursor = { b: 0, i: buckets > 0 ? next[0]! : 0, k: 0, v: 0, carrying: false };
      // A move is a random access (a cache miss, where a pass's step is a sequential one): a quarter of a step's work.
      while (!permuteSome(pk, pv, s, start, nk, next, buckets, at, STEP_WORK >>> 2)) yield;
    }
    for (let i0 = 0; i0 < np; i0 += STEP_WORK) {
      const i1 = Math.min(np, i0 + STEP_WORK);
      for (let i = i0; i < i1; i++) pv[i]!++;
      yield;
    }
  }

  /**
   * {@link groupByKey} in steps: yields after about {@link STEP_WORK} units of work
   * (pairs or keys visited), so that a caller can give the event loop a turn.
   */
  *groupByKeySteps(unique: boolean, take?: WordSource, inPlace?: boolean): Generator<void, GroupedPairs, void> {
    // By default in the run's own counted memory, as a spill does (the hash tables are not needed any more).
    if (take === undefined) {
      take = this.spillWords().take;
      inPlace ??= this.spillGroupsInPlace();
    }
    inPlace ??= false;
    const nk = this.keys.n;
    const np = this.np;
    const start = take(nk + 1);
    start.fill(0);
    const pk = this.pairKey;
    const pv = this.pairVal;
    for (let i0 = 0; i0 < np; i0 += STEP_WORK) {
      const i1 = Math.min(np, i0 + STEP_WORK);
      for (let i = i0; i < i1; i++) start[pk[i]! + 1]!++;
      yield;
    }
    for (let k = 0; k < nk; k++) start[k + 1]! += start[k]!;
    const ids = inPlace ? pv.subarray(0, np) : take(np);
    if (inPlace) yield* this.permuteByKey(start, take);
    else yield* scatterByKey(pk, pv, np, start, ids);
    let work = 0;
    this.np = 0;
    for (let k = 0; k < nk; k++) {
      const e = start[k + 1]!;
      sortIds(ids, start[k]!, e);
      // A list of n ids costs about n log n; counted as n + 1 (sorts of long lists are rare here).
      work += e - start[k]! + 1;
      if (work >= STEP_WORK) {
        work = 0;
        yield;
      }
    }
    if (unique) {
      let w = 0;
      let s = 0;
      for (let k = 0; k < nk; k++) {
        const e = start[k + 1]!;
        work += e - s + 1;
        if (work >= STEP_WORK) {
          work = 0;
          yield;
        }
        start[k] = w;
        let prev = 0;
        for (let i = s; i < e; i++) {
          const id = ids[i]!;
          if (id !== prev) ids[w++] = id;
          prev = id;
        }
        s = e;
      }
      start[nk] = w;
      return { start, ids: ids.subarray(0, w) };
    }
    return { start, ids };
  }
}

/** Where {@link permuteSome} stopped: key b's slot i, and the pair (k, v) in hand when a cycle was cut short. */
interface PermuteCursor {
  b: number;
  i: number;
  k: number;
  v: number;
  carrying: boolean;
}

/** Sets `next[b]` to where bucket b of 2^shift keys starts, for each bucket; returns their number. */
function bucketCursors(start: Uint32Array, nk: number, shift: number, next: Uint32Array): number {
  const width = 2 ** shift;
  const buckets = Math.ceil(nk / width);
  for (let b = 0, k = 0; b < buckets; b++, k += width) next[b] = start[k]!;
  return buckets;
}

/** The first pass of the in-place grouping sorts into at most this many buckets of keys (see `permuteByKey`). */
const PERMUTE_BUCKETS = 4096;

/**
 * Up to `budget` moves of the in-place permutation of the pairs into `buckets` buckets
 * of 2^shift keys (shift 0: into key order; see `permuteByKey`), resumed from and saved
 * to `at`; true when every bucket is done. Bucket b's region ends where key
 * (b + 1) · 2^shift starts (`start`, nk + 1 entries); its cursor is `next[b]`.
 */
function permuteSome(
  pk: Uint32Array,
  pv: Uint32Array,
  shift: number,
  start: Uint32Array,
  nk: number,
  next: Uint32Array,
  buckets: number,
  at: PermuteCursor,
  budget: number,
): boolean {
  let { b, i, k, v, carrying } = at;
  let work = 0;
  const width = 2 ** shift;
  while (b < buckets && work < budget) {
    const end = start[Math.min(nk, (b + 1) * width)]!;
    if (!carrying) {
      if (i >= end) {
        next[b] = end;
        b++;
        if (b < buckets) i = next[b]!;
        work++;
        continue;
      }
      k = pk[i]!;
      work++;
      if ((k >>> shift) === b) {
        i++;
        continue;
      }
      v = pv[i]!;
      carrying = true;
    }
    while ((k >>> shift) !== b && work < budget) {
      const j = next[k >>> shift]!++;
      const k2 = pk[j]!;
      const v2 = pv[j]!;
      pk[j] = k;
      pv[j] = v;
      k = k2;
      v = v2;
      work++;
    }
    if ((k >>> shift) !== b) break;
    pk[i] = k;
    pv[i] = v;
    carrying = false;
    i++;
  }
  at.b = b;
  at.i = i;
  at.k = k;
  at.v = v;
  at.carrying = carrying;
  return b >= buckets;
}

/** Scatters the pairs into key order: `ids[start[k]..]` gets key k's value entries + 1 (`start` is left as it was). */
function* scatterByKey(pk: Uint32Array, pv: Uint32Array, np: number, start: Uint32Array, ids: Uint32Array): Generator<void, void, void> {
  // start[k] serves as key k's cursor, then is shifted back.
  for (let i0 = 0; i0 < np; i0 += STEP_WORK) {
    const i1 = Math.min(np, i0 + STEP_WORK);
    for (let i = i0; i < i1; i++) ids[start[pk[i]!]!++] = pv[i]! + 1;
    yield;
  }
  const nk = start.length - 1;
  for (let k = nk; k > 0; k--) start[k] = start[k - 1]!;
  start[0] = 0;
}

/** Key k's value entries + 1, sorted, are `ids[start[k], start[k + 1])`. */
export interface GroupedPairs {
  start: Uint32Array;
  ids: Uint32Array;
}


/** Sorts ids[s, e) ascending (insertion sort for short ranges). */
export function sortIds(ids: Uint32Array, s: number, e: number): void {
  const n = e - s;
  if (n < 2) return;
  if (n <= 16) {
    for (let i = s + 1; i < e; i++) {
      const x = ids[i]!;
      let j = i - 1;
      while (j >= s && ids[j]! > x) {
        ids[j + 1] = ids[j]!;
        j--;
      }
      ids[j + 1] = x;
    }
    return;
  }
  // Already sorted is common (values given in first-appearance order).
  let sorted = true;
  for (let i = s + 1; i < e; i++) {
    if (ids[i - 1]! > ids[i]!) {
      sorted = false;
      break;
    }
  }
  if (!sorted) ids.subarray(s, e).sort();
}
