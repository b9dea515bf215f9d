/** A sink for parser benchmarks: counts the objects it is given and drops them. */
import { Writable } from 'node:stream';

export function counter(): Writable & { n: number } {
  const w = new Writable({
    objectMode: true,
    highWaterMark: 1024,
    writev(chunks, cb) {
      w.n += chunks.length;
      cb();
    },
  }) as Writable & { n: number };
  w.n = 0;
  return w;
}
