/**
 * A fast path for short compressed values (spec §5.3, §5.4), in front of the
 * format's decoder (`Codebook.decodeInto`, lib/format/huffman.ts): the same
 * token rules, with a bit accumulator that loads each input byte once (the
 * format's decoder loads four per token) and the output's ASCII-ness tracked
 * while decoding, so the value's string is made without scanning the bytes
 * again.
 *
 * It resolves only codes of up to {@link PRIMARY_BITS} bits that the codebook
 * replicates as the format says (the same rule as the format decoder's
 * primary table); anything else (a longer code, a code not in the codebook, a
 * last token running past the end, an output longer than its scratch) makes
 * {@link ShortInflater.decode} return -1 and the caller decodes the value
 * with the format's decoder, which gives the answer or the error. So both
 * paths give the same answers and the same errors.
 */
import { CODEBOOK_SIZE } from '../format/header.js';
import { asciiFrom, SHORT_ASCII_MAX } from './text.js';

const PRIMARY_BITS = 11;
const PRIMARY_SIZE = 1 << PRIMARY_BITS;
/** Longest compressed value (bytes) taken by the fast path. */
export const SHORT_COMPRESSED_MAX = 32;
/** Output scratch: a value of SHORT_COMPRESSED_MAX bytes decodes to at most 4 bytes per 2 bits. */
const OUT_BYTES = 4 * 4 * SHORT_COMPRESSED_MAX + 8;

interface Utf8Sliceable extends Buffer {
  utf8Slice(start: number, end: number): string;
}
const HAS_UTF8_SLICE = typeof (Buffer.prototype as Partial<Utf8Sliceable>).utf8Slice === 'function';

export class ShortInflater {
  /** [symbol, code length] by the low PRIMARY_BITS bits of a code (length 0: not resolved here). */
  private readonly primary: Int32Array;
  /** Output of the last {@link decode}. */
  readonly out: Buffer = Buffer.allocUnsafe(OUT_BYTES);
  /** OR of every output byte of the last {@link decode} (≥ 0x80 in some byte: not ASCII). */
  private or = 0;

  private constructor(primary: Int32Array) {
    this.primary = primary;
  }

  /** The primary table from the codebook at `buf[off, off + CODEBOOK_SIZE)` (checked by the caller to lie inside it). */
  static fromCodebook(buf: Uint8Array, off: number): ShortInflater {
    const view = new DataView(buf.buffer, buf.byteOffset + off, CODEBOOK_SIZE);
    const primary = new Int32Array(2 * PRIMARY_SIZE);
    for (let low = 0; low < PRIMARY_SIZE; low++) {
      const len = view.getUint32(low * 8 + 4, true);
      if (len === 0 || len > PRIMARY_BITS) continue;
      const sym = view.getUint32(low * 8, true);
      let replicated = true;
      for (let idx = low + PRIMARY_SIZE; idx < 65536 && replicated; idx += PRIMARY_SIZE) {
        replicated = view.getUint32(idx * 8 + 4, true) === len && view.getUint32(idx * 8, true) === sym;
      }
      if (!replicated) continue;
      primary[2 * low] = sym | 0;
      primary[2 * low + 1] = len;
    }
    return new ShortInflater(primary);
  }

  /**
   * Decodes the compressed value `buf[start, end)` (at most
   * SHORT_COMPRESSED_MAX bytes) into {@link out}; returns its length, or -1
   * when the format's decoder must do it. Bytes past `end` read as zero.
   */
  decode(buf: Uint8Array, start: number, end: number): number {
    if (!(end > start && end - start <= SHORT_COMPRESSED_MAX)) return -1;
    const primary = this.primary;
    const out = this.out;
    const first = buf[start]!;
    const totalBits = (end - start) * 8 - (first & 7);
    let acc = first >>> 3;
    let nb = 5;
    let i = start + 1;
    let p = 3;
    let o = 0;
    let or = 0;
    while (p < totalBits) {
      while (nb < 17) {
        if (i < end) acc |= buf[i]! << nb;
        i++;
        nb += 8;
      }
      if ((acc & 1) !== 0) {
        const low = (acc >>> 1) & (PRIMARY_SIZE - 1);
        const n = primary[2 * low + 1]!;
        if (n === 0 || o > OUT_BYTES - 4) return -1;
        const sym = primary[2 * low]!;
        out[o] = sym;
        out[o + 1] = sym >>> 8;
        out[o + 2] = sym >>> 16;
        out[o + 3] = sym >>> 24;
        or |= sym;
        o += 4;
        acc >>>= n + 1;
        nb -= n + 1;
        p += n + 1;
      } else {
        if (o > OUT_BYTES - 1) return -1;
        const c = (acc >>> 1) & 0xff;
        out[o++] = c;
        or |= c;
        acc >>>= 9;
        nb -= 9;
        p += 9;
      }
    }
    if (p !== totalBits) return -1;
    this.or = or;
    return o;
  }

  /** The last {@link decode}'s `n` bytes as a UTF-8 string. */
  text(n: number): string {
    if (n <= SHORT_ASCII_MAX && (this.or & 0x80808080) === 0) return asciiFrom(this.out, 0, n);
    return HAS_UTF8_SLICE ? (this.out as Utf8Sliceable).utf8Slice(0, n) : this.out.toString('utf8', 0, n);
  }
}
