/**
 * Stepwise passes: long synchronous work written as generators that yield now and
 * then, so that a caller on the main thread can give the event loop a turn between
 * steps (and a caller that cannot wait runs them to the end with {@link drainSteps}).
 */

/** Units of work (pairs, keys, entries visited) between two yields of a stepwise pass: a few ms each. */
export const STEP_WORK = 1 << 18;

/** Runs a stepwise pass to its end without yielding (for synchronous callers). */
export function drainSteps<T>(steps: Generator<void, T, void>): T {
  let r = steps.next();
  while (r.done !== true) r = steps.next();
  return r.value;
}
