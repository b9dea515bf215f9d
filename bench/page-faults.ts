/**
 * What the first touch of a fresh typed array's pages costs in a worker thread, by the
 * kind of first access, with the main thread idle and busy (as in a threaded build).
 * The evidence behind lib/format/pages.ts.
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/page-faults.js [--mib 64] [--rounds 3]
 *
 * For each round, three fresh zeroed Int32Arrays of `--mib` MiB, one access per 4 KiB page:
 * - `write first`: a write to each page (one fault per page);
 * - `read, then write`: a read then a write to each page, as a hash-table probe or a
 *   counter's `++` does (the read maps the shared zero page, the write faults again);
 * - `faultIn, then read and write`: lib/format/pages.ts's `faultIn` first, then the same.
 * Prints ns per page, median over the rounds.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { faultIn } from '../lib/format/pages.js';
import { arg } from './args.js';
import { median } from './stats.js';

interface Job {
  mib: number;
  rounds: number;
}

type Timings = Record<'write first' | 'read, then write' | 'faultIn, then read and write', number[]>;

/** The worker's side: times each kind of first touch. */
function measure({ mib, rounds }: Job): Timings {
  const words = (mib * 1024 * 1024) / 4;
  const pages = words / 1024;
  const out: Timings = { 'write first': [], 'read, then write': [], 'faultIn, then read and write': [] };
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    let a = new Int32Array(words);
    let t = performance.now();
    for (let i = 0; i < words; i += 1024) a[i] = 1;
    out['write first'].push(((performance.now() - t) * 1e6) / pages);
    a = new Int32Array(words);
    t = performance.now();
    for (let i = 0; i < words; i += 1024) {
      sink += a[i]!;
      a[i] = 1;
    }
    out['read, then write'].push(((performance.now() - t) * 1e6) / pages);
    a = new Int32Array(words);
    t = performance.now();
    faultIn(a);
    for (let i = 0; i < words; i += 1024) {
      sink += a[i]!;
      a[i] = 1;
    }
    out['faultIn, then read and write'].push(((performance.now() - t) * 1e6) / pages);
  }
  if (sink !== 0) throw new Error('fresh memory was not zero');
  return out;
}

/** Runs the measurement in a worker, the main thread allocating (like a build's ingest) when `busy`. */
async function run(job: Job, busy: boolean): Promise<Timings> {
  const w = new Worker(new URL(import.meta.url), { workerData: job });
  let done = false;
  let kept = 0;
  const spin = (): void => {
    const until = Date.now() + 20;
    while (Date.now() < until) {
      const objects: { i: number }[] = [];
      for (let i = 0; i < 1000; i++) objects.push({ i });
      kept += objects.length;
    }
    if (!done) setImmediate(spin);
  };
  if (busy) spin();
  try {
    return await new Promise<Timings>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  } finally {
    done = true;
    await w.terminate();
  }
}

if (!isMainThread) {
  parentPort!.postMessage(measure(workerData as Job));
} else {
  const job: Job = { mib: Number(arg('mib', '64')), rounds: Number(arg('rounds', '3')) };
  console.log(`first touch of fresh pages in a worker, ${job.mib} MiB per array, median of ${job.rounds} rounds, Node ${process.version}`);
  console.log('| first access of each page | main thread idle (ns/page) | main thread busy (ns/page) |');
  console.log('|---|---:|---:|');
  const idle = await run(job, false);
  const busy = await run(job, true);
  for (const k of Object.keys(idle) as (keyof Timings)[]) {
    console.log(`| ${k} | ${median(idle[k]).toFixed(0)} | ${median(busy[k]).toFixed(0)} |`);
  }
}
