/**
 * glibc's `rand()` as a fresh process sees it (no `srand`, so seed 1), spec §6.9.
 *
 * CMPH draws its CHD seeds from `rand()`, so reproducing the C library's hash
 * section byte for byte means replaying exactly this sequence. glibc's default
 * generator is the TYPE_3 additive feedback generator:
 * r[0] = 1; r[i] = 16807·r[i−1] mod (2^31−1) for i = 1..30; r[i] = r[i−31] for
 * i = 31..33; r[i] = r[i−31] + r[i−3] (mod 2^32) for i ≥ 34; output k is
 * r[k + 344] >> 1.
 */

/** Degree of the TYPE_3 generator (its state is 31 words). */
const DEGREE = 31;
/** Distance between the two taps (r[i−31] + r[i−3]). */
const SEPARATION = 3;
/** glibc discards 10·DEGREE outputs after seeding. */
const DISCARD = 10 * DEGREE;

/** A replay of glibc `rand()` from a fresh process; `next()` returns the k-th `rand()` result. */
export class GlibcRandom {
  /** Ring buffer: slot i mod 31 holds r[i] for the 31 most recent i. */
  private readonly state = new Uint32Array(DEGREE);
  /** Index i of the next r[i] to produce. */
  private i: number;

  /** Seeds like `srand(seed)`; the default 1 is what a process that never calls `srand` uses. */
  constructor(seed = 1) {
    const s = this.state;
    // glibc maps seed 0 to 1.
    let word = seed >>> 0 === 0 ? 1 : seed >>> 0;
    s[0] = word;
    for (let k = 1; k < DEGREE; k++) {
      // Schrage's method, exactly as glibc computes 16807·word mod (2^31 − 1) on signed 32-bit words.
      const w = word | 0;
      const hi = Math.trunc(w / 127773);
      const lo = w % 127773;
      word = 16807 * lo - 2836 * hi;
      if (word < 0) word += 2147483647;
      s[k] = word;
    }
    // r[31..33] = r[0..2]: the ring already holds them in those slots.
    this.i = DEGREE + SEPARATION;
    for (let k = 0; k < DISCARD; k++) this.step();
  }

  /** The next `rand()` value, in 0..2^31−1. */
  next(): number {
    return this.step() >>> 1;
  }

  /** Produces r[i] and advances. */
  private step(): number {
    const s = this.state;
    const slot = this.i % DEGREE;
    const v = (s[slot]! + s[(this.i - SEPARATION) % DEGREE]!) >>> 0;
    s[slot] = v;
    this.i++;
    return v;
  }
}
