/**
 * Sorting byte strings and comparing them in merges. Order is plain unsigned
 * lexicographic byte order (a proper prefix sorts first), as `Buffer.compare`.
 *
 * Sorting is MSD on 6-byte digits: a string's 6 bytes from `depth` on (zero padded)
 * plus how many of them exist (0..6) are packed into two u32 words; the strings are
 * radix-sorted (LSD, byte digits) on those words; each run of equal words with all
 * 6 bytes present is then sorted on the next digit, read in the same pass as the
 * first, and runs equal on both go on from `depth + 12`. Small ranges use insertion
 * sort (on the packed digits, or with full compares for the smallest).
 */
import type { ByteDict } from './arena.js';
import { drainSteps, STEP_WORK } from './steps.js';

/**
 * The packed digit of `buf[s, s + len)` at `depth` as one exact number: the 6 bytes
 * from `depth` (zero padded) times 8, plus the number of bytes present (0..6). Two
 * strings whose digits differ compare like their digits; equal digits with fewer
 * than 6 bytes present mean equal strings.
 */
export function digitAt(buf: Uint8Array, s: number, len: number, depth: number): number {
  const rem = len - depth;
  const m = rem < 0 ? 0 : rem < 6 ? rem : 6;
  let p = 0;
  const o = s + depth;
  for (let j = 0; j < m; j++) p = p * 256 + buf[o + j]!;
  for (let j = m; j < 6; j++) p *= 256;
  return p * 8 + m;
}

/** Compares a[as, as + al) with b[bs, bs + bl) from byte `from` on. */
export function compareFrom(a: Uint8Array, as: number, al: number, b: Uint8Array, bs: number, bl: number, from: number): number {
  const n = al < bl ? al : bl;
  for (let i = from; i < n; i++) {
    const x = a[as + i]!;
    const y = b[bs + i]!;
    if (x !== y) return x - y;
  }
  return al - bl;
}

/** Up to this many strings a range is insertion-sorted with full compares (no digits). */
const SMALL = 16;
/** Up to this many, sorted on their packed digits by insertion; above, radix-sorted. */
const MEDIUM = 48;

/**
 * Scratch arrays of one sort. (w1, w2) hold the digit being sorted on, at the positions
 * of the range; (s3, s4) the next digit of each entry (by entry number), read in the
 * same sequential pass as the first: once the entries are sorted on the first digit
 * they are visited in random order, and every read of a string's bytes would be a
 * cache miss, while s3/s4 are compact (strings of up to 12 bytes are ordered without
 * reading their bytes again).
 */
class Scratch {
  readonly w1: Uint32Array;
  readonly w2: Uint32Array;
  readonly s3: Uint32Array;
  readonly s4: Uint32Array;
  readonly t1: Uint32Array;
  readonly t2: Uint32Array;
  readonly ti: Uint32Array;
  /** Running positions of one radix pass. */
  readonly count = new Uint32Array(257);
  /** The histograms of all 7 digits of a range (see countDigits). */
  readonly hist = new Uint32Array(7 * 257);

  constructor(n: number, take: WordSource) {
    this.w1 = take(n);
    this.w2 = take(n);
    this.s3 = take(n);
    this.s4 = take(n);
    this.t1 = take(n);
    this.t2 = take(n);
    this.ti = take(n);
  }
}

/**
 * Where a sort gets its arrays of u32 words (contents undefined): fresh ones by
 * default, or regions of memory the caller has to spare (a spilling run's hash tables,
 * see `RunBuffer.spillWords`), so that a spill allocates nothing.
 */
export type WordSource = (n: number) => Uint32Array;

const freshWords: WordSource = (n) => new Uint32Array(n);

/** Arrays of u32 words {@link sortEntries} takes from its source for `n` entries: the result, then the scratch. */
export function sortWords(n: number): number[] {
  return n < 2 ? [n] : n > SMALL ? [n, n, n, n, n, n, n, n] : [n];
}

/**
 * Entry numbers of `d` in byte order of their strings (all distinct). The result
 * and the scratch (28 bytes per entry) come from `take` in the order of
 * {@link sortWords}; the scratch is dead when this returns.
 */
export function sortEntries(d: ByteDict, take: WordSource = freshWords): Uint32Array {
  return drainSteps(sortEntriesSteps(d, take));
}

/**
 * {@link sortEntries} in steps: yields after about {@link STEP_WORK} entries visited,
 * so that a caller on the main thread can give the event loop a turn. Ranges of up to
 * {@link PIECE} entries are sorted in one go by plain functions (a generator's own
 * loops run slower); only the passes over larger ranges are cut into steps.
 */
export function* sortEntriesSteps(d: ByteDict, take: WordSource = freshWords): Generator<void, Uint32Array, void> {
  const n = d.n;
  const idx = take(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n < 2) return idx;
  const sc = n > SMALL ? new Scratch(n, take) : null;
  if (sc === null) insertionSort(d, idx, 0, n, 0);
  else yield* sortRangeSteps(d, idx, sc, 0, n, 0, { work: 0 });
  return idx;
}

/** Ranges up to this many entries are sorted without a yield (a few ms at most). */
const PIECE = 1 << 14;

/** Work done since the last yield of a stepwise sort, in entries visited. */
interface SortMeter {
  work: number;
}

/** Adds `work` to the meter; true (and the meter reset) when a step's worth is done: time to yield. */
function due(m: SortMeter, work: number): boolean {
  m.work += work;
  if (m.work < STEP_WORK) return false;
  m.work = 0;
  return true;
}

function insertionSort(d: ByteDict, idx: Uint32Array, lo: number, hi: number, depth: number): void {
  const a = d.arena;
  const offs = d.offs;
  for (let i = lo + 1; i < hi; i++) {
    const x = idx[i]!;
    const xs = offs[x]!;
    const xl = offs[x + 1]! - xs;
    let j = i - 1;
    while (j >= lo) {
      const y = idx[j]!;
      const ys = offs[y]!;
      if (compareFrom(a, ys, offs[y + 1]! - ys, a, xs, xl, depth) <= 0) break;
      idx[j + 1] = y;
      j--;
    }
    idx[j + 1] = x;
  }
}

/**
 * The digit of `a[s, s + len)` at `depth` as two u32, stored at `i`: bytes 0..3
 * big-endian, and bytes 4, 5 in the top 16 bits with the number present (0..6) below.
 */
function packAt(a: Uint8Array, s: number, len: number, depth: number, hiOut: Uint32Array, loOut: Uint32Array, i: number): void {
  const rem = len - depth;
  const m = rem < 0 ? 0 : rem < 6 ? rem : 6;
  const o = s + depth;
  let x = 0;
  let y = 0;
  if (m === 6) {
    x = ((a[o]! << 24) | (a[o + 1]! << 16) | (a[o + 2]! << 8) | a[o + 3]!) >>> 0;
    y = ((a[o + 4]! << 24) | (a[o + 5]! << 16)) >>> 0;
  } else {
    for (let j = 0; j < 4; j++) x = (x << 8) | (j < m ? a[o + j]! : 0);
    x >>>= 0;
    y = (((m > 4 ? a[o + 4]! : 0) << 24) | ((m > 5 ? a[o + 5]! : 0) << 16)) >>> 0;
  }
  hiOut[i] = x;
  loOut[i] = (y | m) >>> 0;
}

/**
 * Packs the first digit (at `depth`, into w1/w2 at the positions) and the second (at
 * `depth + 6`, into s3/s4 by entry) of the entries at positions [lo, hi).
 */
function packRange(d: ByteDict, idx: Uint32Array, sc: Scratch, lo: number, hi: number, depth: number): void {
  const a = d.arena;
  const offs = d.offs;
  const { w1, w2, s3, s4 } = sc;
  for (let i = lo; i < hi; i++) {
    const e = idx[i]!;
    const s = offs[e]!;
    const len = offs[e + 1]! - s;
    packAt(a, s, len, depth, w1, w2, i);
    packAt(a, s, len, depth + 6, s3, s4, e);
  }
}

/** End of the run of equal digits (w1, w2) that starts at position i (before hi). */
function digitRunEnd(sc: Scratch, i: number, hi: number): number {
  const { w1, w2 } = sc;
  const x = w1[i]!;
  const y = w2[i]!;
  let j = i + 1;
  while (j < hi && w1[j] === x && w2[j] === y) j++;
  return j;
}

/** Whether positions [i, j) (equal digits) need sorting on what follows: several entries, all 6 bytes present. */
function tiedFull(sc: Scratch, i: number, j: number): boolean {
  return j - i > 1 && (sc.w2[i]! & 7) === 6;
}

/** Moves the carried second digits (s3/s4, by entry) of positions [i, j) into w1/w2 (overwriting i..j only). */
function loadSecondDigit(sc: Scratch, idx: Uint32Array, i: number, j: number): void {
  const { w1, w2, s3, s4 } = sc;
  for (let p = i; p < j; p++) {
    const e = idx[p]!;
    w1[p] = s3[e]!;
    w2[p] = s4[e]!;
  }
}

/** Sorts idx[lo, hi) (distinct strings) from byte `depth` on. */
function sortRange(d: ByteDict, idx: Uint32Array, sc: Scratch | null, lo: number, hi: number, depth: number): void {
  if (hi - lo <= SMALL || sc === null) {
    insertionSort(d, idx, lo, hi, depth);
    return;
  }
  packRange(d, idx, sc, lo, hi, depth);
  sortDigits(sc, idx, lo, hi);
  for (let i = lo, j = lo; i < hi; i = j) {
    j = digitRunEnd(sc, i, hi);
    if (tiedFull(sc, i, j)) sortTie(d, idx, sc, i, j, depth);
  }
}

/** Sorts positions [i, j), equal on their first digit (at `depth`), on from the second. */
function sortTie(d: ByteDict, idx: Uint32Array, sc: Scratch, i: number, j: number, depth: number): void {
  loadSecondDigit(sc, idx, i, j);
  sortDigits(sc, idx, i, j);
  for (let k = i, l = i; k < j; k = l) {
    l = digitRunEnd(sc, k, j);
    // Equal 12 bytes and more to come: on from depth + 12 (overwriting k..l only).
    if (tiedFull(sc, k, l)) sortRange(d, idx, sc, k, l, depth + 12);
  }
}

/** {@link sortRange} in steps (see {@link sortEntriesSteps}). */
function* sortRangeSteps(d: ByteDict, idx: Uint32Array, sc: Scratch, lo: number, hi: number, depth: number, m: SortMeter): Generator<void, void, void> {
  if (hi - lo <= PIECE) {
    sortRange(d, idx, sc, lo, hi, depth);
    // Packing reads each string (a cache miss), then up to 7 radix passes and the scans.
    if (due(m, 8 * (hi - lo))) yield;
    return;
  }
  for (let a = lo; a < hi; a += PIECE) {
    const b = Math.min(hi, a + PIECE);
    packRange(d, idx, sc, a, b, depth);
    if (due(m, 4 * (b - a))) yield;
  }
  yield* sortDigitsSteps(sc, idx, lo, hi, m);
  for (let i = lo, j = lo; i < hi; i = j) {
    j = digitRunEnd(sc, i, hi);
    if (due(m, j - i)) yield;
    if (!tiedFull(sc, i, j)) continue;
    if (j - i <= PIECE) {
      // A small tie: in one go.
      sortTie(d, idx, sc, i, j, depth);
      if (due(m, 4 * (j - i))) yield;
      continue;
    }
    loadSecondDigit(sc, idx, i, j);
    yield* sortDigitsSteps(sc, idx, i, j, m);
    for (let k = i, l = i; k < j; k = l) {
      l = digitRunEnd(sc, k, j);
      if (!tiedFull(sc, k, l)) continue;
      // (A generator per small tie would cost more than its sort.)
      if (l - k <= PIECE) {
        sortRange(d, idx, sc, k, l, depth + 12);
        if (due(m, 8 * (l - k))) yield;
      } else {
        yield* sortRangeSteps(d, idx, sc, k, l, depth + 12, m);
      }
    }
  }
}

/**
 * The byte digits of (w1, w2) that LSD radix passes sort on, least significant first:
 * the word and the shift of each. (Bits 8..15 of w2 are always zero: no pass.)
 */
const DIGITS: ReadonlyArray<readonly [1 | 2, number]> = [[2, 0], [2, 16], [2, 24], [1, 0], [1, 8], [1, 16], [1, 24]];
const NUM_DIGITS = DIGITS.length;

/**
 * {@link sortDigits} of a range larger than {@link PIECE}, with a yield between radix passes when a step's work is done.
 */
function* sortDigitsSteps(sc: Scratch, idx: Uint32Array, lo: number, hi: number, m: SortMeter): Generator<void, void, void> {
  countDigits(sc, lo, hi);
  if (due(m, hi - lo)) yield;
  let inScratch = false;
  for (let d = 0; d < NUM_DIGITS; d++) {
    if (radixPass(sc, idx, lo, hi, d, inScratch)) inScratch = !inScratch;
    if (due(m, 2 * (hi - lo))) yield;
  }
  if (inScratch) copyBack(sc, idx, lo, hi);
}

/** Sorts positions [lo, hi) on the digit (w1, w2), moving idx along. */
function sortDigits(sc: Scratch, idx: Uint32Array, lo: number, hi: number): void {
  const { w1, w2 } = sc;
  if (hi - lo <= MEDIUM) {
    // Insertion on the packed digits (numbers, no string compares).
    for (let i = lo + 1; i < hi; i++) {
      const e = idx[i]!;
      const x = w1[i]!;
      const y = w2[i]!;
      let j = i - 1;
      while (j >= lo && (w1[j]! > x || (w1[j] === x && w2[j]! > y))) {
        idx[j + 1] = idx[j]!;
        w1[j + 1] = w1[j]!;
        w2[j + 1] = w2[j]!;
        j--;
      }
      idx[j + 1] = e;
      w1[j + 1] = x;
      w2[j + 1] = y;
    }
    return;
  }
  // LSD radix on (w1, w2), byte digits, least significant first; constant digits are skipped.
  countDigits(sc, lo, hi);
  let inScratch = false;
  for (let d = 0; d < NUM_DIGITS; d++) if (radixPass(sc, idx, lo, hi, d, inScratch)) inScratch = !inScratch;
  if (inScratch) copyBack(sc, idx, lo, hi);
}

/**
 * The histograms of all the digits of [lo, hi) in one pass (a pass permutes the
 * entries, not their digits): digit d's count of byte b at `hist[257 * d + b + 1]`.
 */
function countDigits(sc: Scratch, lo: number, hi: number): void {
  const h = sc.hist;
  h.fill(0);
  const { w1, w2 } = sc;
  for (let i = lo; i < hi; i++) {
    const x = w1[i]!;
    const y = w2[i]!;
    h[(y & 0xff) + 1]!++;
    h[257 + ((y >>> 16) & 0xff) + 1]!++;
    h[514 + (y >>> 24) + 1]!++;
    h[771 + (x & 0xff) + 1]!++;
    h[1028 + ((x >>> 8) & 0xff) + 1]!++;
    h[1285 + ((x >>> 16) & 0xff) + 1]!++;
    h[1542 + (x >>> 24) + 1]!++;
  }
}

/**
 * One stable counting pass on digit `d` over [lo, hi) (histogram from {@link countDigits}),
 * moving idx, w1 and w2 together from the arrays that hold them now (`inScratch`: ti, t1,
 * t2) into the others — ping-pong, no copy back per pass. False (nothing moved) when every
 * entry has the same digit.
 */
function radixPass(sc: Scratch, idx: Uint32Array, lo: number, hi: number, d: number, inScratch: boolean): boolean {
  const h = sc.hist;
  const base = 257 * d;
  const n = hi - lo;
  for (let b = 1; b <= 256; b++) if (h[base + b] === n) return false; // every string has the same digit
  const count = sc.count;
  count[0] = lo;
  for (let b = 1; b <= 256; b++) count[b] = count[b - 1]! + h[base + b]!;
  const [word, shift] = DIGITS[d]!;
  const si = inScratch ? sc.ti : idx;
  const s1 = inScratch ? sc.t1 : sc.w1;
  const s2 = inScratch ? sc.t2 : sc.w2;
  const di = inScratch ? idx : sc.ti;
  const d1 = inScratch ? sc.w1 : sc.t1;
  const d2 = inScratch ? sc.w2 : sc.t2;
  const key = word === 1 ? s1 : s2;
  for (let i = lo; i < hi; i++) {
    const p = count[(key[i]! >>> shift) & 0xff]!++;
    di[p] = si[i]!;
    d1[p] = s1[i]!;
    d2[p] = s2[i]!;
  }
  return true;
}

/** Moves [lo, hi) of ti, t1, t2 (where an odd number of passes left it) back into idx, w1, w2. */
function copyBack(sc: Scratch, idx: Uint32Array, lo: number, hi: number): void {
  idx.set(sc.ti.subarray(lo, hi), lo);
  sc.w1.set(sc.t1.subarray(lo, hi), lo);
  sc.w2.set(sc.t2.subarray(lo, hi), lo);
}
