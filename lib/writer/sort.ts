/**
 * Sorting byte strings and comparing them in merges. Order is plain unsigned
 * lexicographic byte order (a proper prefix sorts first), as `Buffer.compare`.
 *
 * Sorting is MSD on 6-byte digits: a string's 6 bytes from `depth` on (zero padded)
 * plus how many of them exist (0..6) are packed into two u32 words; the strings are
 * radix-sorted (LSD, byte digits) on those words; each run of equal words with all
 * 6 bytes present is then sorted the same way from `depth + 6`. Small ranges use
 * insertion sort with a full compare.
 */
import type { ByteDict } from './arena.js';

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

/** Up to this many strings a range is insertion-sorted. */
const SMALL = 16;
/** Up to this many, sorted by comparing packed digits; above, radix-sorted. */
const MEDIUM = 512;

/** Scratch arrays of one sort (positions lo..hi of a range use the same positions here). */
class Scratch {
  readonly w1: Uint32Array;
  readonly w2: Uint32Array;
  readonly t1: Uint32Array;
  readonly t2: Uint32Array;
  readonly ti: Uint32Array;
  readonly count = new Uint32Array(257);
  /** Packed digit per entry (medium ranges). */
  readonly dg: Float64Array;

  constructor(n: number) {
    this.dg = new Float64Array(n);
    this.w1 = new Uint32Array(n);
    this.w2 = new Uint32Array(n);
    this.t1 = new Uint32Array(n);
    this.t2 = new Uint32Array(n);
    this.ti = new Uint32Array(n);
  }
}

/** Entry numbers of `d` in byte order of their strings. Scratch memory: 28 bytes per entry. */
export function sortEntries(d: ByteDict): Uint32Array {
  const n = d.n;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n < 2) return idx;
  const sc = n > SMALL ? new Scratch(n) : null;
  sortRange(d, idx, sc, 0, n, 0);
  return idx;
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

function sortRange(d: ByteDict, idx: Uint32Array, sc: Scratch | null, lo: number, hi: number, depth: number): void {
  if (hi - lo <= SMALL || sc === null) {
    insertionSort(d, idx, lo, hi, depth);
    return;
  }
  const a = d.arena;
  const offs = d.offs;
  if (hi - lo <= MEDIUM) {
    const dg = sc.dg;
    for (let i = lo; i < hi; i++) {
      const e = idx[i]!;
      const s = offs[e]!;
      dg[e] = digitAt(a, s, offs[e + 1]! - s, depth);
    }
    idx.subarray(lo, hi).sort((x, y) => dg[x]! - dg[y]!);
    let i = lo;
    while (i < hi) {
      const k = dg[idx[i]!]!;
      let j = i + 1;
      while (j < hi && dg[idx[j]!] === k) j++;
      if (j - i > 1 && k % 8 === 6) sortRange(d, idx, sc, i, j, depth + 6);
      i = j;
    }
    return;
  }
  const { w1, w2 } = sc;
  // w1 = bytes 0..3 big-endian, w2 = bytes 4, 5 in the top 16 bits and the count below.
  for (let i = lo; i < hi; i++) {
    const e = idx[i]!;
    const s = offs[e]! + depth;
    const rem = offs[e + 1]! - s;
    const m = rem < 0 ? 0 : rem < 6 ? rem : 6;
    let x = 0;
    let y = 0;
    if (m >= 6) {
      x = ((a[s]! << 24) | (a[s + 1]! << 16) | (a[s + 2]! << 8) | a[s + 3]!) >>> 0;
      y = ((a[s + 4]! << 24) | (a[s + 5]! << 16)) >>> 0;
    } else {
      for (let j = 0; j < 4; j++) x = (x << 8) | (j < m ? a[s + j]! : 0);
      x >>>= 0;
      y = (((m > 4 ? a[s + 4]! : 0) << 24) | ((m > 5 ? a[s + 5]! : 0) << 16)) >>> 0;
    }
    w1[i] = x;
    w2[i] = (y | m) >>> 0;
  }
  // LSD radix on (w1, w2), byte digits, least significant first; constant digits are skipped.
  radixPass(sc, idx, lo, hi, sc.w2, 0);
  radixPass(sc, idx, lo, hi, sc.w2, 16);
  radixPass(sc, idx, lo, hi, sc.w2, 24);
  radixPass(sc, idx, lo, hi, sc.w1, 0);
  radixPass(sc, idx, lo, hi, sc.w1, 8);
  radixPass(sc, idx, lo, hi, sc.w1, 16);
  radixPass(sc, idx, lo, hi, sc.w1, 24);
  // Runs of equal digits with all 6 bytes present: on to the next digit.
  let i = lo;
  while (i < hi) {
    const x = w1[i]!;
    const y = w2[i]!;
    let j = i + 1;
    while (j < hi && w1[j] === x && w2[j] === y) j++;
    if (j - i > 1 && (y & 7) === 6) sortRange(d, idx, sc, i, j, depth + 6);
    i = j;
  }
}

/** One stable counting pass on byte `shift` of `key` over [lo, hi), moving idx, w1 and w2 together. */
function radixPass(sc: Scratch, idx: Uint32Array, lo: number, hi: number, key: Uint32Array, shift: number): void {
  const count = sc.count;
  count.fill(0);
  for (let i = lo; i < hi; i++) count[((key[i]! >>> shift) & 0xff) + 1]!++;
  const n = hi - lo;
  for (let b = 1; b <= 256; b++) if (count[b] === n) return; // every string has the same digit
  count[0] = lo;
  for (let b = 1; b <= 256; b++) count[b]! += count[b - 1]!;
  const { w1, w2, t1, t2, ti } = sc;
  for (let i = lo; i < hi; i++) {
    const p = count[(key[i]! >>> shift) & 0xff]!++;
    ti[p] = idx[i]!;
    t1[p] = w1[i]!;
    t2[p] = w2[i]!;
  }
  idx.set(ti.subarray(lo, hi), lo);
  w1.set(t1.subarray(lo, hi), lo);
  w2.set(t2.subarray(lo, hi), lo);
}
