/**
 * Evaluation of a packed CMPH CHD minimal perfect hash (spec §6.3–§6.7), the
 * `cmph_search_packed` of the C library. The section is parsed once into
 * offsets (O(1), no per-key work); each lookup hashes the key and does two
 * select queries and one rank query on the packed bit vectors.
 *
 * A db that is looked up often gets flat tables instead (see {@link ChdHash.flatten}):
 * the displacements decoded into one u32 per bucket, and the empty-bin set as
 * a bitmap with a running count per 32 bins (interleaved, so one rank is one
 * cache line). A lookup then touches two cache lines of ~1.5 bytes per key
 * of tables instead of six to eight of the packed structure, and a probe
 * landing in an empty bin is known absent without reading any record.
 */
import { corrupt } from '../errors.js';
import { readBits } from './bits.js';
import { jenkinsHashAt } from './jenkins.js';
import { binOfDisplacement, modSmall } from './arith.js';

const CMPH_CHD = 8;
const CMPH_CHD_PH = 7;


/** Parsed, bounds-checked layout of a CHD section. */
export class ChdHash {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  readonly seed: number;
  readonly n: number;
  readonly nbuckets: number;
  // compressed_rank
  private readonly crMaxVal: number;
  private readonly crK: number;
  private readonly crRemR: number;
  private readonly crSel: Select;
  private readonly crRems: number;
  private readonly crRemsEnd: number;
  // compressed_seq
  private readonly csRemR: number;
  private readonly csSel: Select;
  private readonly csRems: number;
  private readonly csRemsEnd: number;
  private readonly csStore: number;
  private readonly csStoreEnd: number;
  private readonly triple = new Uint32Array(3);
  /** Decoded displacement per bucket (after {@link flatten}). */
  private disp: Uint32Array | null = null;
  /** Per 32 bins: [empty bins before them, bitmap of the empty ones] (after {@link flatten}). */
  private bins: Int32Array | null = null;

  /**
   * Parses the section at `start` of `buf`, which must end by `limit`. Throws
   * ERR_DISCODB_CORRUPT when any part lies outside or is inconsistent.
   */
  constructor(buf: Uint8Array, start: number, limit: number) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const u32 = (off: number, what: string): number => {
      if (off + 4 > limit) throw corrupt(`hash section: ${what} lies past the end of the section`, off);
      return this.view.getUint32(off, true);
    };
    if (u32(start, 'algorithm') !== CMPH_CHD) throw corrupt('hash section: not a CMPH CHD structure', start);
    const crSize = u32(start + 4, 'rank size');
    const cr = start + 8;
    const crEnd = cr + crSize;
    if (crEnd + 4 > limit) throw corrupt('hash section: compressed rank runs past the section', start + 4);
    this.crMaxVal = u32(cr, 'rank max');
    this.crK = u32(cr + 4, 'rank count');
    this.crRemR = u32(cr + 8, 'rank width');
    const crSelBytes = u32(cr + 12, 'rank select size');
    if (this.crRemR > 31) throw corrupt('hash section: rank width over 31 bits', cr + 8);
    this.crSel = parseSelect(this.view, cr + 16, cr + 16 + crSelBytes, crEnd);
    this.crRems = cr + 16 + crSelBytes;
    this.crRemsEnd = this.crRems + 4 * Math.ceil((this.crK * this.crRemR) / 32);
    if (this.crRemsEnd > crEnd) throw corrupt('hash section: rank remainders run past their blob', this.crRems);

    const phSize = u32(crEnd, 'inner size');
    const ph = crEnd + 4;
    const phEnd = ph + phSize;
    if (phEnd > limit) throw corrupt('hash section: inner CHD blob runs past the section', crEnd);
    if (u32(ph, 'inner algorithm') !== CMPH_CHD_PH) throw corrupt('hash section: inner blob is not CHD_PH', ph);
    if (u32(ph + 4, 'hash type') !== 0) throw corrupt('hash section: unknown hash function (only Jenkins exists)', ph + 4);
    this.seed = u32(ph + 8, 'seed');
    this.n = u32(ph + 12, 'bin count');
    this.nbuckets = u32(ph + 16, 'bucket count');
    if (this.n < 2) throw corrupt(`hash section: ${this.n} bins is too few`, ph + 12);
    if (this.nbuckets < 1) throw corrupt('hash section: zero buckets', ph + 16);
    const cs = ph + 20;
    const csN = u32(cs, 'displacement count');
    if (csN !== this.nbuckets) throw corrupt('hash section: displacement count differs from bucket count', cs);
    this.csRemR = u32(cs + 4, 'displacement width');
    const csTotal = u32(cs + 8, 'displacement bits');
    const csSelBytes = u32(cs + 12, 'displacement select size');
    if (this.csRemR > 31) throw corrupt('hash section: displacement width over 31 bits', cs + 4);
    this.csSel = parseSelect(this.view, cs + 16, cs + 16 + csSelBytes, phEnd);
    if (this.csSel.nOnes !== csN) throw corrupt('hash section: displacement select has the wrong size', cs + 16);
    this.csRems = cs + 16 + csSelBytes;
    this.csRemsEnd = this.csRems + 4 * Math.ceil((csN * this.csRemR) / 32);
    this.csStore = this.csRemsEnd;
    this.csStoreEnd = this.csStore + 4 * Math.ceil(csTotal / 32);
    if (this.csStoreEnd > phEnd) throw corrupt('hash section: displacement table runs past its blob', this.csRems);
  }

  /** Record index for `key` (only meaningful when the key is stored; callers compare). */
  lookup(key: Uint8Array, legacy = false): number {
    return this.lookupAt(key, key.length, legacy);
  }

  /**
   * {@link lookup} of the key `key[0, len)` (a prefix of a scratch buffer).
   * Allocation-free. -1 when the key lands in an empty bin (flat tables only):
   * no stored key does, so it is absent.
   */
  lookupAt(key: Uint8Array, len: number, legacy: boolean): number {
    const t = this.triple;
    jenkinsHashAt(this.seed, key, 0, len, t, legacy);
    const n = this.n;
    // The words are u32 (not int32): modSmall, not `%` (arith.ts).
    const g = modSmall(t[0]!, this.nbuckets);
    const f = modSmall(t[1]!, n);
    const h = modSmall(t[2]!, n - 1) + 1;
    const disp = this.disp;
    const bin = binOfDisplacement(f, h, disp !== null ? disp[g]! : this.displacement(g), n);
    const bins = this.bins;
    if (bins === null) return bin - this.rank(bin);
    const w = 2 * (bin >>> 5);
    const empty = bins[w + 1]!;
    const b = bin & 31;
    if (((empty >>> b) & 1) !== 0) return -1;
    return bin - (bins[w]! + popcount(empty & ((1 << b) - 1)));
  }

  /**
   * A fingerprint (1..255) of the key last hashed by {@link lookupAt} or
   * {@link fingerprintOf}: a function of its bytes only (the standard
   * Jenkins hash under this seed), from bits of all three words of the hash
   * that the bin does not depend on alone, so two keys that land in the same
   * bin still differ in it about 254 times in 255.
   */
  fingerprint(): number {
    const t = this.triple;
    // No modulo (a float one for uint32 operands in V8): 0 folds onto 1.
    const x = ((t[0]! >>> 24) ^ (t[1]! >>> 16) ^ (t[2]! >>> 8)) & 0xff;
    return x === 0 ? 1 : x;
  }

  /** The {@link fingerprint} of the key `buf[start, start + len)`. */
  fingerprintOf(buf: Uint8Array, start: number, len: number): number {
    jenkinsHashAt(this.seed, buf, start, len, this.triple, false);
    return this.fingerprint();
  }

  /** True once {@link flatten} has built the flat tables. */
  get flat(): boolean {
    return this.bins !== null;
  }

  /**
   * Builds the flat tables (about 1.5 bytes per key; one pass over the
   * packed structure) when they would take at most `maxBytes`. Only a
   * well-formed structure is flattened (displacements below 2^32; empty bins
   * strictly increasing, as many as it says, the last its maximum, all below
   * n), where both give the same answers (spec §6.7: rank(x) is the number of
   * empty bins below x); otherwise lookups keep using it as it is. Returns
   * whether the tables are in use.
   */
  flatten(maxBytes: number): boolean {
    if (this.bins !== null) return true;
    const nb = this.nbuckets;
    const words = Math.ceil(this.n / 32);
    if (4 * nb + 8 * words > maxBytes) return false;
    const disp = this.displacements();
    if (disp === null) return false;
    const bins = this.emptyBins(words);
    if (bins === null) return false;
    this.disp = disp;
    this.bins = bins;
    return true;
  }

  /**
   * Every displacement, in one walk of the select vector (what
   * {@link displacement} gives for each bucket when the vector holds all its
   * set bits); null when it does not, or when one is 2^32 or more.
   */
  private displacements(): Uint32Array | null {
    const buf = this.buf;
    const sel = this.csSel;
    const nbits = sel.nbits;
    const nb = this.nbuckets;
    const disp = new Uint32Array(nb);
    const remR = this.csRemR;
    const scale = 2 ** remR;
    const rems = this.csRems * 8;
    const remsEnd = this.csRemsEnd;
    const store = this.csStore * 8;
    const storeEnd = this.csStoreEnd;
    const first = sel.bits;
    const last = Math.min(sel.bitsEnd, first + Math.ceil(nbits / 8));
    let i = 0;
    let start = 0;
    // Set bit i lies at X_i + i (spec §6.6): X_i is the high part of the end of value i.
    for (let byte = first; byte < last && i < nb; byte++) {
      let v = buf[byte]!;
      while (v !== 0 && i < nb) {
        const low = v & -v;
        const pos = (byte - first) * 8 + (31 - Math.clz32(low));
        if (pos >= nbits) break;
        const end = (pos - i) * scale + readBits(buf, remsEnd, rems + i * remR, remR);
        const len = end - start;
        const d = len <= 0 || len > 32 ? 0 : readBits(buf, storeEnd, store + start, len) + 2 ** len - 1;
        if (d >= 4294967296) return null;
        disp[i++] = d;
        start = end;
        v ^= low;
      }
    }
    return i === nb ? disp : null;
  }

  /** The empty-bin bitmap and running counts, decoded in one walk of the rank structure; null when it is not well-formed. */
  private emptyBins(words: number): Int32Array | null {
    const sel = this.crSel;
    const buf = this.buf;
    const remR = this.crRemR;
    const scale = 2 ** remR;
    const k = this.crK;
    const n = this.n;
    const nbits = sel.nbits;
    if (k < 1 || sel.nOnes !== Math.floor(this.crMaxVal / scale)) return null;
    const bins = new Int32Array(2 * words);
    const rems = this.crRems * 8;
    const remsEnd = this.crRemsEnd;
    const first = sel.bits;
    const last = Math.min(sel.bitsEnd, first + Math.ceil(nbits / 8));
    let j = 0;
    let q = 0;
    let prev = -1;
    // The high part of empty bin j is the number of set bits before the j-th clear bit (spec §6.7).
    for (let byte = first; byte < last && j < k; byte++) {
      const v = buf[byte]!;
      const here = Math.min(8, nbits - (byte - first) * 8);
      for (let b = 0; b < here && j < k; b++) {
        if (((v >>> b) & 1) !== 0) {
          q++;
          continue;
        }
        const e = q * scale + readBits(buf, remsEnd, rems + j * remR, remR);
        if (e <= prev || e >= n) return null;
        bins[2 * (e >>> 5) + 1]! |= 1 << (e & 31);
        prev = e;
        j++;
      }
    }
    if (j !== k || prev !== this.crMaxVal) return null;
    let before = 0;
    for (let w = 0; w < words; w++) {
      bins[2 * w] = before;
      before += popcount(bins[2 * w + 1]!);
    }
    return bins;
  }

  /** compressed_seq lookup of value i (spec §6.6). */
  private displacement(i: number): number {
    const sel = this.csSel;
    const buf = this.buf;
    const remR = this.csRemR;
    const scale = 2 ** remR;
    const rems = this.csRems * 8;
    let start: number;
    let s: number;
    if (i === 0) {
      start = 0;
      s = sel.select(buf, 0);
    } else {
      const prev = sel.select(buf, i - 1);
      start = (prev - (i - 1)) * scale + readBits(buf, this.csRemsEnd, rems + (i - 1) * remR, remR);
      s = sel.next(buf, prev);
    }
    const end = (s - i) * scale + readBits(buf, this.csRemsEnd, rems + i * remR, remR);
    const len = end - start;
    if (len <= 0 || len > 32) return 0;
    return readBits(buf, this.csStoreEnd, this.csStore * 8 + start, len) + 2 ** len - 1;
  }

  /** Number of empty bins below `x` (spec §6.7). */
  private rank(x: number): number {
    if (x > this.crMaxVal) return this.crK;
    const remR = this.crRemR;
    const scale = 2 ** remR;
    const q = Math.floor(x / scale);
    const r = x - q * scale;
    const sel = this.crSel;
    const buf = this.buf;
    let pos: number;
    let rank: number;
    if (q === 0) {
      pos = 0;
      rank = 0;
    } else {
      pos = sel.select(buf, q - 1) + 1;
      rank = pos - q;
    }
    const base = this.crRems * 8;
    const k = this.crK;
    const nbits = sel.nbits;
    // Bounded by the vector length and by k, so corrupt data cannot loop forever.
    while (pos < nbits && rank < k) {
      if (sel.bit(buf, pos)) break;
      if (readBits(buf, this.crRemsEnd, base + rank * remR, remR) >= r) break;
      pos++;
      rank++;
    }
    return rank;
  }
}

/** Number of set bits of a 32-bit integer. */
function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Set bits per byte value. */
const POPCOUNT = new Uint8Array(256);
/** SELECT_IN_BYTE[b * 8 + k] = position of the k-th set bit of byte b. */
const SELECT_IN_BYTE = new Uint8Array(256 * 8);
for (let b = 0; b < 256; b++) {
  let k = 0;
  for (let i = 0; i < 8; i++) {
    if ((b >> i) & 1) SELECT_IN_BYTE[b * 8 + k++] = i;
  }
  POPCOUNT[b] = k;
}

/** One in FINE_STEP set bits has its position in the in-memory index. */
const FINE_SHIFT = 4;
const FINE_STEP = 1 << FINE_SHIFT;

/**
 * A select structure (spec §6.6): a bit vector with `nOnes` set bits. On its
 * first query it builds an in-memory index of every 16th set bit's position
 * (one pass over the vector; 4 bytes per 16 set bits), so that a select
 * scans at most 15 set bits — a byte or two — instead of up to 127 from the
 * on-disk samples. The answers are the same (select is defined by the bits).
 */
class Select {
  readonly nOnes: number;
  /** Byte offset of the bit vector in the image. */
  readonly bits: number;
  /** Byte just past the bit vector (reads beyond are zero). */
  readonly bitsEnd: number;
  /** Number of valid bits (n_ones + m). */
  readonly nbits: number;
  private fine: Uint32Array | null = null;

  constructor(nOnes: number, bits: number, bitsEnd: number, nbits: number) {
    this.nOnes = nOnes;
    this.bits = bits;
    this.bitsEnd = bitsEnd;
    this.nbits = nbits;
  }

  /** Positions of set bits 0, 16, 32, ... (bits past nbits are not counted). */
  private build(buf: Uint8Array): Uint32Array {
    const fine = new Uint32Array(Math.ceil(this.nOnes / FINE_STEP));
    const nbits = this.nbits;
    let seen = 0;
    let t = 0;
    const first = this.bits;
    const last = Math.min(this.bitsEnd, first + Math.ceil(nbits / 8));
    for (let byte = first; byte < last && t < fine.length; byte++) {
      let v = buf[byte]!;
      while (v !== 0) {
        const low = v & -v;
        const pos = (byte - first) * 8 + (31 - Math.clz32(low));
        if (pos >= nbits) break;
        if ((seen & (FINE_STEP - 1)) === 0) fine[t++] = pos;
        seen++;
        v ^= low;
      }
    }
    // Missing set bits (corrupt data): the rest point past the vector, so answers stay inside it.
    for (; t < fine.length; t++) fine[t] = nbits;
    this.fine = fine;
    return fine;
  }

  /** True when bit `pos` is set. */
  bit(buf: Uint8Array, pos: number): boolean {
    const byte = this.bits + Math.floor(pos / 8);
    return byte < this.bitsEnd && ((buf[byte]! >>> (pos & 7)) & 1) === 1;
  }

  /** Position of set bit number j; nbits when there is none (never an out-of-image answer). */
  select(buf: Uint8Array, j: number): number {
    if (j >= this.nOnes) return this.nbits;
    const fine = this.fine ?? this.build(buf);
    const pos = fine[j >>> FINE_SHIFT]!;
    const skip = j & (FINE_STEP - 1);
    return skip === 0 ? pos : this.scan(buf, pos + 1, skip - 1);
  }

  /** Position of the first set bit after `p`; nbits when there is none. */
  next(buf: Uint8Array, p: number): number {
    return this.scan(buf, p + 1, 0);
  }

  /** Position of the (skip+1)-th set bit at or after bit `pos`, or nbits. */
  private scan(buf: Uint8Array, pos: number, skip: number): number {
    const nbits = this.nbits;
    if (pos >= nbits) return nbits;
    const bits = this.bits;
    let byte = bits + Math.floor(pos / 8);
    const last = this.bitsEnd;
    if (byte >= last) return nbits;
    let v = (buf[byte]! & (0xff << (pos & 7))) & 0xff;
    for (;;) {
      const c = POPCOUNT[v]!;
      if (skip < c) {
        const found = (byte - bits) * 8 + SELECT_IN_BYTE[v * 8 + skip]!;
        return found < nbits ? found : nbits;
      }
      skip -= c;
      if (++byte >= last) return nbits;
      v = buf[byte]!;
    }
  }
}

function parseSelect(view: DataView, at: number, end: number, limit: number): Select {
  if (end > limit || at + 8 > end) throw corrupt('hash section: select structure runs past its blob', at);
  const nOnes = view.getUint32(at, true);
  const m = view.getUint32(at + 4, true);
  const nbits = nOnes + m;
  const bits = at + 8;
  const bitsEnd = bits + 4 * Math.ceil(nbits / 32);
  const numSamples = Math.floor(nOnes / 128) + 1;
  if (bitsEnd + 4 * numSamples > end) throw corrupt('hash section: select bit vector runs past its blob', at);
  return new Select(nOnes, bits, bitsEnd, nbits);
}
