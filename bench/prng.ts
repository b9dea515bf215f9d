/** A small PRNG (xorshift32) for benchmarks: the same seed gives every store the same probe sequence. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * A bijection on u32 (so distinct inputs give distinct outputs): the benchmarks' keys and
 * values are `k`/`v` + the decimal digits of it, in an order unlike insertion order.
 */
export function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}
