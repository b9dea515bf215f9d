/**
 * Decoding of Huffman-compressed values (spec §5.3, §5.4): a 3-bit pad, then
 * tokens — `1` + code bits (a 4-byte symbol from the codebook) or `0` + 8
 * literal bits.
 */
import { corrupt } from '../errors.js';
import { CODEBOOK_SIZE } from './header.js';

/** The 65 536-entry decoding table, unpacked once from the image. */
export class Codebook {
  /** Symbol bytes as u32 (little-endian), per 16-bit index. */
  private readonly symbols: Uint32Array;
  /** Code length per index (0 = unused). */
  private readonly lengths: Uint8Array;
  private scratch = new Uint8Array(256);

  constructor(buf: Uint8Array, offset: number) {
    this.symbols = new Uint32Array(65536);
    this.lengths = new Uint8Array(65536);
    const view = new DataView(buf.buffer, buf.byteOffset + offset, CODEBOOK_SIZE);
    for (let i = 0; i < 65536; i++) {
      this.symbols[i] = view.getUint32(i * 8, true);
      const len = view.getUint32(i * 8 + 4, true);
      if (len > 16) throw corrupt(`codebook entry ${i} has code length ${len} (over 16)`, offset + i * 8 + 4);
      this.lengths[i] = len;
    }
  }

  /**
   * Decodes the compressed value `buf[start, end)`. `at` is its image offset,
   * for error messages. Reads past `end` are zero, never the next value.
   */
  decode(buf: Uint8Array, start: number, end: number): Buffer {
    const size = end - start;
    if (size === 0) throw corrupt('compressed value is empty (it needs at least its 3-bit pad)', start);
    const pad = buf[start]! & 7;
    const totalBits = size * 8 - pad;
    // Every token is ≥ 2 bits and yields ≤ 4 bytes: a hard bound on the output.
    const bound = totalBits * 2;
    if (this.scratch.length < bound) this.scratch = new Uint8Array(Math.max(bound, this.scratch.length * 2));
    const out = this.scratch;
    let o = 0;
    let p = 3;
    while (p < totalBits) {
      // 17 bits at p: the flag and 16 bits of index or 8 of literal.
      let v = 0;
      const byte = start + (p >>> 3);
      for (let k = 0; k < 4; k++) {
        const b = byte + k < end ? buf[byte + k]! : 0;
        v |= b << (8 * k);
      }
      v = (v >>> (p & 7)) & 0x1ffff;
      if (v & 1) {
        const idx = v >>> 1;
        const n = this.lengths[idx]!;
        if (n === 0) throw corrupt('compressed value uses a code that is not in the codebook', start + (p >>> 3));
        const sym = this.symbols[idx]!;
        out[o] = sym & 0xff;
        out[o + 1] = (sym >>> 8) & 0xff;
        out[o + 2] = (sym >>> 16) & 0xff;
        out[o + 3] = sym >>> 24;
        o += 4;
        p += n + 1;
      } else {
        out[o++] = (v >>> 1) & 0xff;
        p += 9;
      }
    }
    if (p !== totalBits) throw corrupt('compressed value: last token runs past the end of the value', end - 1);
    return Buffer.from(out.subarray(0, o));
  }
}
