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
 * Scratch arrays of one sort (positions lo..hi of a range use the same positions here).
 * (w1, w2) is a string's digit at the range's depth, (w3, w4) the next one: both are
 * read in one sequential pass over the entries, so that the second level of the sort
 * (strings of up to 12 bytes are then fully ordered) touches no string bytes again —
 * once sorted on the first digit, the entries are visited in random order and every
 * read of a string's bytes would be a cache miss.
 */
class Scratch {
  readonly w1: Uint32Array;
  readonly w2: Uint32Array;
  readonly w3: Uint32Array;
  readonly w4: Uint32Array;
  readonly t1: Uint32Array;
  readonly t2: Uint32Array;
  readonly t3: Uint32Array;
  readonly t4: Uint32Array;
  readonly ti: Uint32Array;
  readonly count = new Uint32Array(257);

  constructor(n: number) {
    this.w1 = new Uint32Array(n);
    this.w2 = new Uint32Array(n);
    this.w3 = new Uint32Array(n);
    this.w4 = new Uint32Array(n);
    this.t1 = new Uint32Array(n);
    this.t2 = new Uint32Array(n);
    this.t3 = new Uint32Array(n);
    this.t4 = new Uint32Array(n);
    this.ti = new Uint32Array(n);
  }
}

/** Entry numbers of `d` in byte order of their strings (all distinct). Scratch memory: 36 bytes per entry. */
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

/**
 * The digit of `a[s, s + len)` at `depth` as two u32: bytes 0..3 big-endian, and bytes
 * 4, 5 in the top 16 bits with the number of bytes present (0..6) below.
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

/** Sorts idx[lo, hi) (distinct strings) from byte `depth` on. */
function sortRange(d: ByteDict, idx: Uint32Array, sc: Scratch | null, lo: number, hi: number, depth: number): void {
  if (hi - lo <= SMALL || sc === null) {
    insertionSort(d, idx, lo, hi, depth);
    return;
  }
  const a = d.arena;
  const offs = d.offs;
  const { w1, w2, w3, w4 } = sc;
  for (let i = lo; i < hi; i++) {
    const e = idx[i]!;
    const s = offs[e]!;
    const len = offs[e + 1]! - s;
    packAt(a, s, len, depth, w1, w2, i);
    packAt(a, s, len, depth + 6, w3, w4, i);
  }
  // First digit (moving the second along), then within runs of equal first digits the second.
  sortPairs(sc, idx, lo, hi, true);
  let i = lo;
  while (i < hi) {
    const x = w1[i]!;
    const y = w2[i]!;
    let j = i + 1;
    while (j < hi && w1[j] === x && w2[j] === y) j++;
    if (j - i > 1 && (y & 7) === 6) {
      sortPairs(sc, idx, i, j, false);
      let k = i;
      while (k < j) {
        const u = w3[k]!;
        const v = w4[k]!;
        let l = k + 1;
        while (l < j && w3[l] === u && w4[l] === v) l++;
        // Equal 12 bytes and more to come: on from depth + 12 (this overwrites positions k..l only).
        if (l - k > 1 && (v & 7) === 6) sortRange(d, idx, sc, k, l, depth + 12);
        k = l;
      }
    }
    i = j;
  }
}

/**
 * Sorts positions [lo, hi) on the first digit (w1, w2), moving w3, w4 along, or
 * (`first` false) on the second (w3, w4) alone.
 */
function sortPairs(sc: Scratch, idx: Uint32Array, lo: number, hi: number, first: boolean): void {
  const hiW = first ? sc.w1 : sc.w3;
  const loW = first ? sc.w2 : sc.w4;
  if (hi - lo <= MEDIUM) {
    // Insertion on the packed digits (numbers, no string compares).
    const { w1, w2, w3, w4 } = sc;
    for (let i = lo + 1; i < hi; i++) {
      const e = idx[i]!;
      const x = hiW[i]!;
      const y = loW[i]!;
      const p = w1[i]!;
      const q = w2[i]!;
      const r = w3[i]!;
      const t = w4[i]!;
      let j = i - 1;
      while (j >= lo && (hiW[j]! > x || (hiW[j] === x && loW[j]! > y))) {
        idx[j + 1] = idx[j]!;
        w1[j + 1] = w1[j]!;
        w2[j + 1] = w2[j]!;
        w3[j + 1] = w3[j]!;
        w4[j + 1] = w4[j]!;
        j--;
      }
      idx[j + 1] = e;
      w1[j + 1] = p;
      w2[j + 1] = q;
      w3[j + 1] = r;
      w4[j + 1] = t;
    }
    return;
  }
  // LSD radix, byte digits, least significant first; constant digits are skipped.
  radixPass(sc, idx, lo, hi, loW, 0, first);
  radixPass(sc, idx, lo, hi, loW, 16, first);
  radixPass(sc, idx, lo, hi, loW, 24, first);
  radixPass(sc, idx, lo, hi, hiW, 0, first);
  radixPass(sc, idx, lo, hi, hiW, 8, first);
  radixPass(sc, idx, lo, hi, hiW, 16, first);
  radixPass(sc, idx, lo, hi, hiW, 24, first);
}

/**
 * One stable counting pass on byte `shift` of `key` over [lo, hi), moving idx and the
 * digit arrays together (all four when `all`, else only the second digit's).
 */
function radixPass(sc: Scratch, idx: Uint32Array, lo: number, hi: number, key: Uint32Array, shift: number, all: boolean): void {
  const count = sc.count;
  count.fill(0);
  for (let i = lo; i < hi; i++) count[((key[i]! >>> shift) & 0xff) + 1]!++;
  const n = hi - lo;
  for (let b = 1; b <= 256; b++) if (count[b] === n) return; // every string has the same digit
  count[0] = lo;
  for (let b = 1; b <= 256; b++) count[b]! += count[b - 1]!;
  const { w1, w2, w3, w4, t1, t2, t3, t4, ti } = sc;
  if (all) {
    for (let i = lo; i < hi; i++) {
      const p = count[(key[i]! >>> shift) & 0xff]!++;
      ti[p] = idx[i]!;
      t1[p] = w1[i]!;
      t2[p] = w2[i]!;
      t3[p] = w3[i]!;
      t4[p] = w4[i]!;
    }
    w1.set(t1.subarray(lo, hi), lo);
    w2.set(t2.subarray(lo, hi), lo);
  } else {
    for (let i = lo; i < hi; i++) {
      const p = count[(key[i]! >>> shift) & 0xff]!++;
      ti[p] = idx[i]!;
      t3[p] = w3[i]!;
      t4[p] = w4[i]!;
    }
  }
  idx.set(ti.subarray(lo, hi), lo);
  w3.set(t3.subarray(lo, hi), lo);
  w4.set(t4.subarray(lo, hi), lo);
}
