/** Exact 32-bit modular arithmetic in doubles (no BigInt in hot paths). */

/** a·b mod n for a, b, n < 2^32, exact: b is split into 16-bit halves when a·b exceeds 2^53. */
export function mulMod(a: number, b: number, n: number): number {
  const product = a * b;
  if (product <= Number.MAX_SAFE_INTEGER) return product % n; // the common case (n < 2^26)
  const hi = Math.floor(b / 65536);
  const lo = b % 65536;
  // (a·hi mod n)·65536 < 2^48 and a·lo < 2^48: the sum stays exact.
  return (((a * hi) % n) * 65536 + a * lo) % n;
}
