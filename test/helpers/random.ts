/** Seeded randomness for tests: the one PRNG of the repository. */
export { rng, randInt } from '../../examples/random.js';
