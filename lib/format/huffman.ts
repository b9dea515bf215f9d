/**
 * Decoding of Huffman-compressed values (spec §5.3, §5.4): a 3-bit pad, then
 * tokens — `1` + code bits (a 4-byte symbol from the codebook) or `0` + 8
 * literal bits.
 *
 * Table-driven: one 17-bit peek per token resolves it (the codebook is a
 * replicated 16-bit table), so each step consumes a whole token and emits 4
 * bytes or 1, never a bit at a time.
 */
import { constants } from 'node:buffer';
import { corrupt } from '../errors.js';
import { CODEBOOK_SIZE } from './header.js';

const PRIMARY_BITS = 11;
const PRIMARY_SIZE = 1 << PRIMARY_BITS;

/** Largest Buffer this process can allocate. */
const MAX_OUTPUT = constants.MAX_LENGTH;

/** The 65 536-entry decoding table, unpacked once from the image. */
export class Codebook {
  /** Symbol bytes as u32 (little-endian), per 16-bit index. */
  private readonly symbols: Uint32Array;
  /** Code length per index (0 = unused). */
  private readonly lengths: Uint8Array;
  /**
   * The codes of up to PRIMARY_BITS bits, by the low PRIMARY_BITS bits of the
   * index, as [symbol, length] pairs (16 KiB, so hot codes stay in L1); length 0
   * sends the token to the full table. Filled only where the full table is
   * replicated as the format says, so both give the same answers.
   */
  private readonly primary: Int32Array;
  /** Output bytes per input bit at most: 4 / (shortest code + 1), or 1/9 for literals. */
  readonly maxBytesPerBit: number;
  /** Output of the last {@link decodeInto} (grows as needed; reused). */
  out: Buffer = Buffer.allocUnsafe(4096);

  constructor(buf: Uint8Array, offset: number) {
    this.symbols = new Uint32Array(65536);
    this.lengths = new Uint8Array(65536);
    const view = new DataView(buf.buffer, buf.byteOffset + offset, CODEBOOK_SIZE);
    let shortest = 16;
    for (let i = 0; i < 65536; i++) {
      this.symbols[i] = view.getUint32(i * 8, true);
      const len = view.getUint32(i * 8 + 4, true);
      if (len > 16) throw corrupt(`codebook entry ${i} has code length ${len} (over 16)`, offset + i * 8 + 4);
      this.lengths[i] = len;
      if (len !== 0 && len < shortest) shortest = len;
    }
    this.maxBytesPerBit = Math.max(4 / (shortest + 1), 1 / 9);
    this.primary = new Int32Array(2 * PRIMARY_SIZE);
    for (let low = 0; low < PRIMARY_SIZE; low++) {
      const len = this.lengths[low]!;
      if (len === 0 || len > PRIMARY_BITS) continue;
      const sym = this.symbols[low]!;
      let replicated = true;
      for (let idx = low + PRIMARY_SIZE; idx < 65536 && replicated; idx += PRIMARY_SIZE) {
        replicated = this.lengths[idx] === len && this.symbols[idx] === sym;
      }
      if (!replicated) continue;
      this.primary[2 * low] = sym | 0;
      this.primary[2 * low + 1] = len;
    }
  }

  /**
   * Most bytes the compressed value `[start, end)` can decode to, from the
   * shortest code of this codebook. Corrupt when no Buffer could hold it
   * (checked before anything is allocated).
   */
  bound(start: number, end: number): number {
    const bits = (end - start) * 8;
    const bound = Math.ceil(Math.max(0, bits - 3) * this.maxBytesPerBit);
    if (bound > MAX_OUTPUT) {
      throw corrupt(`compressed value of ${end - start} bytes could decode to ${bound} bytes, more than any buffer holds`, start);
    }
    return bound;
  }

  /**
   * Decodes the compressed value `buf[start, end)` into {@link out} and
   * returns its length. Reads past `end` are zero, never the next value.
   */
  decodeInto(buf: Uint8Array, start: number, end: number): number {
    const size = end - start;
    if (size <= 0) throw corrupt('compressed value is empty (it needs at least its 3-bit pad)', start);
    const bound = this.bound(start, end);
    // Grow on demand, never to the bound up front: a corrupt extent costs what it decodes, not 16×.
    if (this.out.length < bound && this.out.length < 65536) this.out = Buffer.allocUnsafe(Math.min(bound, 65536));
    const totalBits = size * 8 - (buf[start]! & 7);
    if (totalBits > 2 ** 32 - 64) return this.decodeLong(buf, start, end, totalBits, bound);
    const lengths = this.lengths;
    const symbols = this.symbols;
    const primary = this.primary;
    let out = this.out;
    let room = out.length - 4;
    const safeEnd = end - 3; // bytes [byte, byte + 3] all lie inside the value
    let o = 0;
    let p = 3;
    while (p < totalBits) {
      const byte = start + (p >>> 3);
      let w: number;
      if (byte < safeEnd) w = buf[byte]! | (buf[byte + 1]! << 8) | (buf[byte + 2]! << 16) | (buf[byte + 3]! << 24);
      else w = peekTail(buf, byte, end);
      const v = (w >>> (p & 7)) & 0x1ffff;
      if (o > room) {
        out = this.grow(o, bound);
        room = out.length - 4;
      }
      if ((v & 1) !== 0) {
        const low = (v >>> 1) & (PRIMARY_SIZE - 1);
        let n = primary[2 * low + 1]!;
        let sym: number;
        if (n !== 0) sym = primary[2 * low]!;
        else {
          const idx = v >>> 1;
          n = lengths[idx]!;
          if (n === 0) throw corrupt('compressed value uses a code that is not in the codebook', start + (p >>> 3));
          sym = symbols[idx]!;
        }
        out[o] = sym;
        out[o + 1] = sym >>> 8;
        out[o + 2] = sym >>> 16;
        out[o + 3] = sym >>> 24;
        o += 4;
        p += n + 1;
      } else {
        out[o++] = v >>> 1;
        p += 9;
      }
    }
    if (p !== totalBits) throw corrupt('compressed value: last token runs past the end of the value', end - 1);
    return o;
  }

  /** The same decoding for values of 512 MiB and more (bit positions past 2^32). */
  private decodeLong(buf: Uint8Array, start: number, end: number, totalBits: number, bound: number): number {
    let out = this.out;
    let o = 0;
    let p = 3;
    while (p < totalBits) {
      const byte = start + Math.floor(p / 8);
      const v = (peekTail(buf, byte, end) >>> (p % 8)) & 0x1ffff;
      if (o + 4 > out.length) out = this.grow(o, bound);
      if ((v & 1) !== 0) {
        const idx = v >>> 1;
        const n = this.lengths[idx]!;
        if (n === 0) throw corrupt('compressed value uses a code that is not in the codebook', byte);
        const sym = this.symbols[idx]!;
        out[o] = sym;
        out[o + 1] = sym >>> 8;
        out[o + 2] = sym >>> 16;
        out[o + 3] = sym >>> 24;
        o += 4;
        p += n + 1;
      } else {
        out[o++] = v >>> 1;
        p += 9;
      }
    }
    if (p !== totalBits) throw corrupt('compressed value: last token runs past the end of the value', end - 1);
    return o;
  }

  /** Doubles the output buffer (capped at the value's bound plus a token), keeping its first `used` bytes. */
  private grow(used: number, bound: number): Buffer {
    const next = Buffer.allocUnsafe(Math.max(used + 8, Math.min(2 * this.out.length, bound + 8)));
    this.out.copy(next, 0, 0, used);
    this.out = next;
    return next;
  }

  /** Decodes the compressed value `buf[start, end)` into a new Buffer. */
  decode(buf: Uint8Array, start: number, end: number): Buffer {
    const n = this.decodeInto(buf, start, end);
    return Buffer.from(this.out.subarray(0, n));
  }
}

/** Up to 4 bytes at `byte`, zero past `end`. */
function peekTail(buf: Uint8Array, byte: number, end: number): number {
  let w = 0;
  for (let k = 0; k < 4; k++) if (byte + k < end) w |= buf[byte + k]! << (8 * k);
  return w;
}
