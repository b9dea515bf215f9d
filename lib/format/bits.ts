/**
 * LSB-first bit streams (spec §0): bit k of a stream starting at byte B is bit
 * (k mod 8) of byte B + floor(k / 8). Bytes past `end` read as zero, so a
 * corrupt stream can never make us read outside its section.
 */

/** Reads `width` (0..32) bits starting at absolute bit `bit` of `buf`, treating bytes at or past `end` as 0. */
export function readBits(buf: Uint8Array, end: number, bit: number, width: number): number {
  const byte = Math.floor(bit / 8);
  if (width <= 24 && byte + 3 < end) {
    // Fast path (small enough to be inlined): shift + width ≤ 31 bits fit in one 32-bit load.
    const word = buf[byte]! | (buf[byte + 1]! << 8) | (buf[byte + 2]! << 16) | (buf[byte + 3]! << 24);
    return (word >>> (bit & 7)) & ((1 << width) - 1);
  }
  return readBitsSlow(buf, end, bit, width);
}

/** {@link readBits} near the end of a stream or for widths over 24. */
function readBitsSlow(buf: Uint8Array, end: number, bit: number, width: number): number {
  if (width === 0) return 0;
  let byte = Math.floor(bit / 8);
  const shift = bit & 7;
  // Gather up to 5 bytes (40 bits) in a float-safe way: 32 + 7 bits fit in 2^53.
  let acc = 0;
  let mul = 1;
  const need = (shift + width + 7) >> 3;
  for (let i = 0; i < need; i++, byte++) {
    const b = byte < end ? buf[byte]! : 0;
    acc += b * mul;
    mul *= 256;
  }
  acc = Math.floor(acc / 2 ** shift);
  return width === 32 ? acc % 4294967296 : acc % 2 ** width;
}

/** Number of bits needed to write `x` (x ≥ 0); 0 for x = 0. */
export function bitLength(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}
