/**
 * Writer side of the 4-gram Huffman value compression (spec §5.1, §5.2, §5.4),
 * reproducing `ddb_huffman.c` and `maybe_disable_compression` bit for bit:
 * 4-gram counting in first-seen order, a stable count-descending selection of
 * at most 65 536 symbols, the two-queue tree, LSB-first codes capped at depth
 * 16, and the C encoder's greedy tokenisation.
 */
import { DiscoDBError } from '../errors.js';
import { CODEBOOK_SIZE } from './header.js';
import { writtenInt32 } from './pages.js';

/** Compression needs at least this many bytes of distinct values (`COMPRESS_MIN_TOTAL_SIZE`). */
export const COMPRESS_MIN_TOTAL_SIZE = 5 * 1024 * 1024;
/** ... and at least this average distinct-value length (`COMPRESS_MIN_AVG_VALUE_SIZE`). */
export const COMPRESS_MIN_AVG_VALUE_SIZE = 6;
/** The C frequency map holds at most this many distinct 4-grams (`MAX_CANDIDATES`). */
export const MAX_FOUR_GRAMS = 16777216;
/** Codebook entries, and so the maximum number of coded symbols (`DDB_CODEBOOK_SIZE`). */
const CODEBOOK_ENTRIES = 65536;
/** Longest code: deeper symbols get no code and are written as literals. */
const MAX_CODE_BITS = 16;
/** Fibonacci hashing multiplier for the u32 open-addressing tables. */
const HASH_MUL = 0x9e3779b1;

/**
 * The C writer's decision (`maybe_disable_compression`): compress unless told
 * not to, or the distinct values total less than 5 MiB, or average under 6 bytes.
 */
export function shouldCompress(
  totalUniqueValueBytes: number,
  numUniqueValues: number,
  disableCompression: boolean,
): boolean {
  if (disableCompression) return false;
  if (totalUniqueValueBytes < COMPRESS_MIN_TOTAL_SIZE) return false;
  return totalUniqueValueBytes / numUniqueValues >= COMPRESS_MIN_AVG_VALUE_SIZE;
}

/**
 * Counts 4-grams (little-endian u32 symbols) over distinct values the way
 * `collect_frequencies` does: positions 0 .. L−5 of each value (the last
 * 4-gram is not counted), overlapping occurrences included. Symbols keep their
 * first-seen order, which decides ties later. An open-addressing table over
 * typed arrays: no per-symbol objects.
 */
export class FourGramCounter {
  /** Symbols in first-seen order, as int32 (small integers stay unboxed in V8). */
  private symbols = new Int32Array(1024);
  /** Counts by first-seen index; u32 like the C `sortpair.freq` (wraps at 2^32 as it does). */
  private counts = new Uint32Array(1024);
  /**
   * Hash table slots: first-seen index + 1 (0 = empty). Storing the symbol in
   * the slot too measured no faster (the table miss dominates) at twice the memory.
   */
  private table = new Int32Array(1 << 12);
  private shift = 32 - 12;
  private size = 0;
  private readonly limit: number;

  /** `limit` is the C cap on distinct 4-grams; lower it only to test the failure. */
  constructor(limit = MAX_FOUR_GRAMS) {
    this.limit = limit;
  }

  /** Number of distinct 4-grams seen so far. */
  get distinct(): number {
    return this.size;
  }

  /**
   * Counts the 4-grams of one value; call once per distinct value in value-id
   * order. Throws `ERR_DISCODB_LIMIT` past 2^24 distinct 4-grams, where the C
   * library's finalize fails.
   */
  add(value: Uint8Array): void {
    this.addRange(value, 0, value.length);
  }

  /** {@link add} for the value `buf[s, e)`, without a view of it. */
  addRange(value: Uint8Array, s: number, e: number): void {
    const len = e - s;
    if (len < 5) return;
    // Rolling little-endian window: the byte at p + 3 enters at the top.
    let word = (value[s]! | (value[s + 1]! << 8) | (value[s + 2]! << 16)) << 8;
    for (let p = s; p < e - 4; p++) {
      word = (word >>> 8) | (value[p + 3]! << 24);
      this.bump(word);
    }
  }

  /** Count of the i-th symbol in first-seen order. */
  countAt(i: number): number {
    return this.counts[i]!;
  }

  /** The i-th symbol in first-seen order (the 4 bytes read little-endian). */
  symbolAt(i: number): number {
    return this.symbols[i]! >>> 0;
  }

  /** Counts one occurrence of `symbol` (an int32). */
  private bump(symbol: number): void {
    const table = this.table;
    const mask = table.length - 1;
    const symbols = this.symbols;
    let slot = Math.imul(symbol, HASH_MUL) >>> this.shift;
    for (;;) {
      const entry = table[slot]!;
      if (entry === 0) break;
      if (symbols[entry - 1] === symbol) {
        this.counts[entry - 1]!++;
        return;
      }
      slot = (slot + 1) & mask;
    }
    this.insert(symbol, slot);
  }

  private insert(symbol: number, slot: number): void {
    if (this.size >= this.limit) {
      throw new DiscoDBError(
        'ERR_DISCODB_LIMIT',
        `too many distinct 4-byte sequences in the values for Huffman compression (more than ${this.limit}); ` +
          'the C library fails here too: disable compression',
      );
    }
    const index = this.size++;
    if (index === this.symbols.length) this.growArrays();
    this.symbols[index] = symbol;
    this.counts[index] = 1;
    this.table[slot] = index + 1;
    if (this.size * 2 > this.table.length) this.rehash();
  }

  private growArrays(): void {
    const cap = this.symbols.length * 2;
    const symbols = new Int32Array(cap);
    symbols.set(this.symbols);
    const counts = new Uint32Array(cap);
    counts.set(this.counts);
    this.symbols = symbols;
    this.counts = counts;
  }

  /** Doubles the table, keeping the load factor at most 1/2. */
  private rehash(): void {
    // Faulted in by writes first: the probes below read before they write, in random order (pages.ts).
    const table = writtenInt32(this.table.length * 2);
    const mask = table.length - 1;
    this.shift--;
    for (let i = 0; i < this.size; i++) {
      let slot = Math.imul(this.symbols[i]!, HASH_MUL) >>> this.shift;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    this.table = table;
  }
}

/**
 * The code of one value set: the codebook section and the C encoder.
 * Build it with {@link HuffmanEncoder.fromCounter}.
 */
export class HuffmanEncoder {
  /** Coded symbols (code length > 0). */
  private readonly symbols: Uint32Array;
  /** code | length << 16, parallel to `symbols`. */
  private readonly codes: Uint32Array;
  /** symbol → code | length << 16 (0 = no code), open addressing. */
  private readonly lookupKeys: Uint32Array;
  private readonly lookupCodes: Uint32Array;
  private readonly lookupShift: number;
  private scratch = new Uint8Array(256);

  private constructor(symbols: Uint32Array, codes: Uint32Array) {
    this.symbols = symbols;
    this.codes = codes;
    // At least twice as many slots as symbols keeps probes short.
    let bits = 4;
    while (1 << bits < symbols.length * 2) bits++;
    this.lookupKeys = new Uint32Array(1 << bits);
    this.lookupCodes = new Uint32Array(1 << bits);
    this.lookupShift = 32 - bits;
    const mask = (1 << bits) - 1;
    for (let i = 0; i < symbols.length; i++) {
      let slot = Math.imul(symbols[i]!, HASH_MUL) >>> this.lookupShift;
      while (this.lookupCodes[slot] !== 0) slot = (slot + 1) & mask;
      this.lookupKeys[slot] = symbols[i]!;
      this.lookupCodes[slot] = codes[i]!;
    }
  }

  /** Builds the C library's code from the 4-gram counts (spec §5.2). */
  static fromCounter(c: FourGramCounter): HuffmanEncoder {
    const chosen = selectSymbols(c);
    const k = chosen.length;
    const weights = new Float64Array(k);
    for (let i = 0; i < k; i++) weights[i] = c.countAt(chosen[i]!);
    const lengthsAndCodes = huffmanCodes(weights);
    let coded = 0;
    for (let i = 0; i < k; i++) if (lengthsAndCodes[i]! !== 0) coded++;
    const symbols = new Uint32Array(coded);
    const codes = new Uint32Array(coded);
    for (let i = 0, j = 0; i < k; i++) {
      if (lengthsAndCodes[i]! === 0) continue;
      symbols[j] = c.symbolAt(chosen[i]!);
      codes[j++] = lengthsAndCodes[i]!;
    }
    return new HuffmanEncoder(symbols, codes);
  }

  /** The 524 288-byte codebook section: 65 536 × {u32 symbol, u32 code length}, little-endian. */
  codebook(): Uint8Array {
    const out = new Uint8Array(CODEBOOK_SIZE);
    const view = new DataView(out.buffer);
    for (let i = 0; i < this.symbols.length; i++) {
      const symbol = this.symbols[i]!;
      const code = this.codes[i]! & 0xffff;
      const bits = this.codes[i]! >>> 16;
      // Every index whose low `bits` bits are the code decodes to this symbol.
      for (let idx = code; idx < CODEBOOK_ENTRIES; idx += 1 << bits) {
        view.setUint32(idx * 8, symbol, true);
        view.setUint32(idx * 8 + 4, bits, true);
      }
    }
    return out;
  }

  /** compressed bytes of one value, exactly the C encoder's tokenisation */
  encode(value: Uint8Array): Uint8Array {
    const need = maxEncodedLength(value.length);
    if (this.scratch.length < need) this.scratch = new Uint8Array(Math.max(need, this.scratch.length * 2));
    const size = this.encodeInto(value, this.scratch, 0);
    return this.scratch.slice(0, size);
  }

  /**
   * Encodes `value` into `out` at `offset` (which must have
   * {@link maxEncodedLength} bytes of room) and returns the encoded size.
   * Every byte of the result is written (no need to zero `out`). Allocation-free.
   */
  encodeInto(value: Uint8Array, out: Uint8Array, offset: number): number {
    return this.encodeRangeInto(value, 0, value.length, out, offset);
  }

  /** {@link encodeInto} for the value `value[s, e)`, without a view of it. */
  encodeRangeInto(value: Uint8Array, s: number, e: number, out: Uint8Array, offset: number): number {
    const len = e - s;
    // 3 bits reserved for the pad count; tokens are at most 17 bits, so 24 + 7 bits never overflow.
    let acc = 0;
    let accBits = 3;
    let pos = offset;
    let i = s;
    if (len >= 4) {
      for (; i < e - 4; i++) {
        const symbol = (value[i]! | (value[i + 1]! << 8) | (value[i + 2]! << 16) | (value[i + 3]! << 24)) >>> 0;
        const entry = this.lookup(symbol);
        if (entry !== 0) {
          // Codeword token: a 1 bit, then the code LSB first.
          acc |= (1 | ((entry & 0xffff) << 1)) << accBits;
          accBits += (entry >>> 16) + 1;
          i += 3;
        } else {
          acc |= value[i]! << (accBits + 1);
          accBits += 9;
        }
        while (accBits >= 8) {
          out[pos++] = acc & 0xff;
          acc >>>= 8;
          accBits -= 8;
        }
      }
    }
    for (; i < e; i++) {
      acc |= value[i]! << (accBits + 1);
      accBits += 9;
      while (accBits >= 8) {
        out[pos++] = acc & 0xff;
        acc >>>= 8;
        accBits -= 8;
      }
    }
    if (accBits > 0) {
      out[pos++] = acc & 0xff;
      // The pad: unused bits at the end of the last byte.
      out[offset]! |= 8 - accBits;
    }
    return pos - offset;
  }

  /**
   * {@link encodeRangeInto} for a value too large for one output buffer: the bytes go
   * to `out.buf` from `out.n` on, and `out.flush()` is called whenever fewer than 8
   * bytes of room are left (it must empty the buffer: `n` back to 0). The first
   * byte's pad bits are known only at the end: it is returned with them (`first`),
   * for the caller to write again at the value's first position.
   */
  encodeRangeStreamed(value: Uint8Array, s: number, e: number, out: ByteOut): { bytes: number; first: number } {
    let acc = 0;
    let accBits = 3;
    let buf = out.buf;
    let pos = out.n;
    let limit = buf.length - 8;
    let written = 0;
    let first = -1;
    let i = s;
    const emit = (): void => {
      if (first < 0) first = acc & 0xff;
      buf[pos++] = acc & 0xff;
      acc >>>= 8;
      accBits -= 8;
      written++;
    };
    for (; i < e; i++) {
      if (pos > limit) {
        out.n = pos;
        out.flush();
        buf = out.buf;
        pos = out.n;
        limit = buf.length - 8;
      }
      if (i < e - 4) {
        const symbol = (value[i]! | (value[i + 1]! << 8) | (value[i + 2]! << 16) | (value[i + 3]! << 24)) >>> 0;
        const entry = this.lookup(symbol);
        if (entry !== 0) {
          acc |= (1 | ((entry & 0xffff) << 1)) << accBits;
          accBits += (entry >>> 16) + 1;
          i += 3;
        } else {
          acc |= value[i]! << (accBits + 1);
          accBits += 9;
        }
      } else {
        acc |= value[i]! << (accBits + 1);
        accBits += 9;
      }
      while (accBits >= 8) emit();
    }
    if (pos > limit) {
      out.n = pos;
      out.flush();
      buf = out.buf;
      pos = out.n;
    }
    let pad = 0;
    if (accBits > 0) {
      pad = 8 - accBits;
      accBits = 8;
      emit();
    }
    out.n = pos;
    return { bytes: written, first: first < 0 ? 0 : first | pad };
  }

  /** code | length << 16 for a symbol, 0 when it has no code. */
  private lookup(symbol: number): number {
    const keys = this.lookupKeys;
    const codes = this.lookupCodes;
    const mask = keys.length - 1;
    let slot = Math.imul(symbol, HASH_MUL) >>> this.lookupShift;
    for (;;) {
      const entry = codes[slot]!;
      if (entry === 0 || keys[slot] === symbol) return entry;
      slot = (slot + 1) & mask;
    }
  }
}

/** Where {@link HuffmanEncoder.encodeRangeStreamed} writes: a buffer, its fill, and a flush that empties it. */
export interface ByteOut {
  buf: Uint8Array;
  n: number;
  flush(): void;
}

/** Upper bound of the encoded size of an L-byte value: 3 pad bits + 9 bits per byte. */
export function maxEncodedLength(len: number): number {
  return Math.ceil((3 + 9 * len) / 8);
}

/**
 * The first min(65 536, d) symbols of a stable count-descending sort of the
 * first-seen list (glibc's `qsort` is a merge sort: stable), as first-seen
 * indices, heaviest first.
 */
function selectSymbols(c: FourGramCounter): Uint32Array {
  const d = c.distinct;
  const k = Math.min(CODEBOOK_ENTRIES, d);
  let chosen: Uint32Array;
  if (d <= k) {
    chosen = new Uint32Array(d);
    for (let i = 0; i < d; i++) chosen[i] = i;
  } else {
    // Everything above the k-th largest count, then the earliest ties.
    const threshold = kthLargestCount(c, k);
    let above = 0;
    for (let i = 0; i < d; i++) if (c.countAt(i) > threshold) above++;
    let ties = k - above;
    chosen = new Uint32Array(k);
    for (let i = 0, j = 0; i < d && j < k; i++) {
      const count = c.countAt(i);
      if (count > threshold) chosen[j++] = i;
      else if (count === threshold && ties > 0) {
        chosen[j++] = i;
        ties--;
      }
    }
  }
  return chosen.sort((a, b) => c.countAt(b) - c.countAt(a) || a - b);
}

/** The k-th largest count (1-based), by a two-pass radix select on the 16-bit halves. */
function kthLargestCount(c: FourGramCounter, k: number): number {
  const d = c.distinct;
  const hist = new Uint32Array(65536);
  for (let i = 0; i < d; i++) hist[c.countAt(i) >>> 16]!++;
  let high = 65535;
  let rest = k;
  while (hist[high]! < rest) rest -= hist[high--]!;
  hist.fill(0);
  for (let i = 0; i < d; i++) {
    const count = c.countAt(i);
    if (count >>> 16 === high) hist[count & 0xffff]!++;
  }
  let low = 65535;
  while (hist[low]! < rest) rest -= hist[low--]!;
  return high * 65536 + low;
}

/**
 * `huffman_code` + `allocate_codewords` over weights sorted heaviest first.
 * Returns, per symbol, code | length << 16 (0 for symbols left without code
 * below a depth-16 internal node).
 */
function huffmanCodes(weights: Float64Array): Uint32Array {
  const k = weights.length;
  const result = new Uint32Array(k);
  if (k === 0) return result;
  // Children: 0..k−1 are leaves, k + j internal node j, −1 none.
  const left = new Int32Array(k);
  const right = new Int32Array(k);
  const internalWeight = new Float64Array(k);
  let leaves = k;
  let head = 0;
  let tail = 0;
  // `pop_min_weight`: the FIFO head only when strictly lighter than the lightest leaf left.
  const popMin = (): number => {
    if (leaves === 0 || (head < tail && internalWeight[head]! < weights[leaves - 1]!)) {
      return head < tail ? k + head++ : -1;
    }
    return --leaves;
  };
  const weightOf = (node: number): number =>
    node < 0 ? 0 : node < k ? weights[node]! : internalWeight[node - k]!;
  while (leaves > 0 || tail - head > 1) {
    const l = popMin();
    const r = popMin();
    left[tail] = l;
    right[tail] = r;
    internalWeight[tail] = weightOf(l) + weightOf(r);
    tail++;
  }
  assignCodes(k + head, 0, 0, k, left, right, result);
  return result;
}

/** `allocate_codewords`: left keeps the code, right sets bit `depth`; stops at depth 16. */
function assignCodes(
  node: number,
  code: number,
  depth: number,
  k: number,
  left: Int32Array,
  right: Int32Array,
  result: Uint32Array,
): void {
  if (node < 0) return;
  if (node >= k) {
    // Internal nodes reached at depth 16 get a code in C too, but no symbol uses it.
    if (depth >= MAX_CODE_BITS) return;
    assignCodes(left[node - k]!, code, depth + 1, k, left, right, result);
    assignCodes(right[node - k]!, code | (1 << depth), depth + 1, k, left, right, result);
    return;
  }
  result[node] = code | (depth << 16);
}
