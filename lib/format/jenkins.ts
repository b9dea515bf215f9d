/**
 * The Jenkins hash as CMPH uses it (Bob Jenkins' 1996 lookup2 with three
 * outputs, spec §6.4). `legacy` reproduces CMPH before 2013, which read key
 * bytes through a signed char and so sign-extended most of them.
 */

/** Writes (h0, h1, h2) for `key` under `seed` into `out[0..2]`. Allocation-free. */
export function jenkinsHash(seed: number, key: Uint8Array, out: Uint32Array, legacy = false): void {
  jenkinsHashAt(seed, key, 0, key.length, out, legacy);
}

/**
 * {@link jenkinsHash} of the key `buf[start, start + len)`, without a view of it.
 * Allocation-free.
 */
export function jenkinsHashAt(seed: number, key: Uint8Array, start: number, len: number, out: Uint32Array, legacy = false): void {
  if (legacy) {
    jenkinsLegacy(seed, key, start, len, out);
    return;
  }
  let a = 0x9e3779b9 | 0;
  let b = 0x9e3779b9 | 0;
  let c = seed | 0;
  let p = start;
  let rem = len;
  while (rem >= 12) {
    a = (a + (key[p]! | (key[p + 1]! << 8) | (key[p + 2]! << 16) | (key[p + 3]! << 24))) | 0;
    b = (b + (key[p + 4]! | (key[p + 5]! << 8) | (key[p + 6]! << 16) | (key[p + 7]! << 24))) | 0;
    c = (c + (key[p + 8]! | (key[p + 9]! << 8) | (key[p + 10]! << 16) | (key[p + 11]! << 24))) | 0;
    // mix(a, b, c)
    a = (a - b - c) ^ (c >>> 13);
    b = (b - c - a) ^ (a << 8);
    c = (c - a - b) ^ (b >>> 13);
    a = (a - b - c) ^ (c >>> 12);
    b = (b - c - a) ^ (a << 16);
    c = (c - a - b) ^ (b >>> 5);
    a = (a - b - c) ^ (c >>> 3);
    b = (b - c - a) ^ (a << 10);
    c = (c - a - b) ^ (b >>> 15);
    p += 12;
    rem -= 12;
  }
  c = (c + len) | 0;
  // The tail, top byte first (the C switch falls through).
  if (rem >= 11) c = (c + (key[p + 10]! << 24)) | 0;
  if (rem >= 10) c = (c + (key[p + 9]! << 16)) | 0;
  if (rem >= 9) c = (c + (key[p + 8]! << 8)) | 0;
  if (rem >= 8) b = (b + (key[p + 7]! << 24)) | 0;
  if (rem >= 7) b = (b + (key[p + 6]! << 16)) | 0;
  if (rem >= 6) b = (b + (key[p + 5]! << 8)) | 0;
  if (rem >= 5) b = (b + key[p + 4]!) | 0;
  if (rem >= 4) a = (a + (key[p + 3]! << 24)) | 0;
  if (rem >= 3) a = (a + (key[p + 2]! << 16)) | 0;
  if (rem >= 2) a = (a + (key[p + 1]! << 8)) | 0;
  if (rem >= 1) a = (a + key[p]!) | 0;
  a = (a - b - c) ^ (c >>> 13);
  b = (b - c - a) ^ (a << 8);
  c = (c - a - b) ^ (b >>> 13);
  a = (a - b - c) ^ (c >>> 12);
  b = (b - c - a) ^ (a << 16);
  c = (c - a - b) ^ (b >>> 5);
  a = (a - b - c) ^ (c >>> 3);
  b = (b - c - a) ^ (a << 10);
  c = (c - a - b) ^ (b >>> 15);
  out[0] = a;
  out[1] = b;
  out[2] = c;
}

/** CMPH before 2013: key bytes read through a signed char (sign-extended), except k[0] and k[4] of the tail. */
function jenkinsLegacy(seed: number, key: Uint8Array, start: number, len: number, out: Uint32Array): void {
  let a = 0x9e3779b9 | 0;
  let b = 0x9e3779b9 | 0;
  let c = seed | 0;
  let p = start;
  let rem = len;
  const byteAt = signedByte;
  while (rem >= 12) {
    a = (a + (byteAt(key, p) + (byteAt(key, p + 1) << 8) + (byteAt(key, p + 2) << 16) + (byteAt(key, p + 3) << 24))) | 0;
    b = (b + (byteAt(key, p + 4) + (byteAt(key, p + 5) << 8) + (byteAt(key, p + 6) << 16) + (byteAt(key, p + 7) << 24))) | 0;
    c = (c + (byteAt(key, p + 8) + (byteAt(key, p + 9) << 8) + (byteAt(key, p + 10) << 16) + (byteAt(key, p + 11) << 24))) | 0;
    a = (a - b - c) ^ (c >>> 13);
    b = (b - c - a) ^ (a << 8);
    c = (c - a - b) ^ (b >>> 13);
    a = (a - b - c) ^ (c >>> 12);
    b = (b - c - a) ^ (a << 16);
    c = (c - a - b) ^ (b >>> 5);
    a = (a - b - c) ^ (c >>> 3);
    b = (b - c - a) ^ (a << 10);
    c = (c - a - b) ^ (b >>> 15);
    p += 12;
    rem -= 12;
  }
  c = (c + len) | 0;
  // The tail: k[0] and k[4] were always zero-extended, even in the legacy variant.
  if (rem >= 11) c = (c + (byteAt(key, p + 10) << 24)) | 0;
  if (rem >= 10) c = (c + (byteAt(key, p + 9) << 16)) | 0;
  if (rem >= 9) c = (c + (byteAt(key, p + 8) << 8)) | 0;
  if (rem >= 8) b = (b + (byteAt(key, p + 7) << 24)) | 0;
  if (rem >= 7) b = (b + (byteAt(key, p + 6) << 16)) | 0;
  if (rem >= 6) b = (b + (byteAt(key, p + 5) << 8)) | 0;
  if (rem >= 5) b = (b + key[p + 4]!) | 0;
  if (rem >= 4) a = (a + (byteAt(key, p + 3) << 24)) | 0;
  if (rem >= 3) a = (a + (byteAt(key, p + 2) << 16)) | 0;
  if (rem >= 2) a = (a + (byteAt(key, p + 1) << 8)) | 0;
  if (rem >= 1) a = (a + key[p]!) | 0;
  a = (a - b - c) ^ (c >>> 13);
  b = (b - c - a) ^ (a << 8);
  c = (c - a - b) ^ (b >>> 13);
  a = (a - b - c) ^ (c >>> 12);
  b = (b - c - a) ^ (a << 16);
  c = (c - a - b) ^ (b >>> 5);
  a = (a - b - c) ^ (c >>> 3);
  b = (b - c - a) ^ (a << 10);
  c = (c - a - b) ^ (b >>> 15);
  out[0] = a;
  out[1] = b;
  out[2] = c;
}

function signedByte(key: Uint8Array, i: number): number {
  return (key[i]! << 24) >> 24;
}

/** True when the legacy and modern hashes can differ for this key (it has a byte ≥ 0x80). */
export function hasHighByte(key: Uint8Array): boolean {
  return hasHighByteAt(key, key.length);
}

/** {@link hasHighByte} of `key[0, len)`. */
export function hasHighByteAt(key: Uint8Array, len: number): boolean {
  for (let i = 0; i < len; i++) if (key[i]! >= 0x80) return true;
  return false;
}
