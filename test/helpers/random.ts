/** Seeded randomness for tests: the one PRNG of the repository. */
export { rng, randInt } from '../../examples/random.js';

/** An integer in [lo, hi). */
export function randBetween(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo));
}
