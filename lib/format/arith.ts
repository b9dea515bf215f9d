/**
 * Exact 32-bit modular arithmetic in doubles (no BigInt in hot paths). V8's `%` on
 * numbers past int32 (a u32 from a Uint32Array, a product) is a call to fmod, several
 * times slower than the float division {@link modSmall} does; the perfect hash's
 * lookups and placement do a handful per key.
 */

/** Up to this n, f + h·p0 + p1 < n² ≤ 2^52, so {@link binOf} needs one {@link modSmall}. */
const FAST_N_MAX = 2 ** 26;

/**
 * x mod n for integers 0 ≤ x < 2^52, 0 < n: a float quotient is off by at most
 * one, and one correction step fixes it.
 */
export function modSmall(x: number, n: number): number {
  const r = x - Math.floor(x / n) * n;
  return r < 0 ? r + n : r >= n ? r - n : r;
}

/** a·b mod n for a, b, n < 2^32, exact: b is split into 16-bit halves when a·b reaches 2^52. */
export function mulMod(a: number, b: number, n: number): number {
  const product = a * b;
  if (product < 2 ** 52) return modSmall(product, n); // the common case (n < 2^26)
  const hi = Math.floor(b / 65536);
  const lo = b % 65536;
  // (a·hi mod n)·65536 < 2^48 and a·lo < 2^48: the sum stays below 2^52.
  return modSmall(modSmall(a * hi, n) * 65536 + a * lo, n);
}

/** (f + h·p0 + p1) mod n for f, h, p0, p1 < n < 2^32, exactly (the C code's 64-bit intermediate): a key's CHD bin. */
export function binOf(f: number, h: number, p0: number, p1: number, n: number): number {
  if (n <= FAST_N_MAX) return modSmall(f + h * p0 + p1, n);
  return modSmall(mulMod(h, p0, n) + f + p1, n);
}

/** {@link binOf} with the displacement `d` = p1·n + p0 (d < 2^52) as stored: a key's CHD bin. */
export function binOfDisplacement(f: number, h: number, d: number, n: number): number {
  const p1 = Math.floor(d / n);
  return binOf(f, h, d - p1 * n, p1, n);
}
