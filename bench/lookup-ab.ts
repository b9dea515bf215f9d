/**
 * This build's reader against another build's, in one process, on the same file and
 * keys: for changes to the lookup path smaller than the run-to-run noise of
 * bench/lookup.ts (the host's noise moves whole processes; alternating rounds in one
 * process cancels most of it).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/lookup-ab.js --base /other/clone/dist/lib/index.js [--rounds 15]
 *
 * The file is bench/lookup.ts's `one-1M` db (1M keys × 1 compressed 16-byte value,
 * bench/data/one-1M.ddb: run bench/lookup.ts once to build it). Workloads: `has` and
 * `get(k)` + iterate on 1 000 keys in cache (the computation alone) and on random keys
 * (computation and memory misses). Rounds alternate between the two readers; the first
 * three are warm-up. Prints each side's median ns per call and the median of the
 * per-round ratios (this build / base).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DiscoDB as Reader } from '../lib/index.js';
import { arg } from './args.js';
import { mix } from './prng.js';
import { median } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FILE = path.resolve(here, '../../bench/data/one-1M.ddb');
const base = arg('base', '');
const rounds = Number(arg('rounds', '15'));
if (base === '') throw new Error('--base path/to/other/dist/lib/index.js is required');
if (!fs.existsSync(FILE)) throw new Error(`${FILE} is missing: run node dist/bench/lookup.js once to build it`);

type Module = { DiscoDB: { open(file: string): Reader } };
const mine = (await import('../lib/index.js')) as unknown as Module;
const theirs = (await import(pathToFileURL(path.resolve(base)).href)) as Module;
const dbs = [mine.DiscoDB.open(FILE), theirs.DiscoDB.open(FILE)] as const;

const keys: string[] = [];
for (const k of dbs[0].keys()) keys.push(k as string);
const hot = keys.filter((_, i) => i % 997 === 0).slice(0, 1000);
const random = Array.from({ length: 200_000 }, (_, i) => keys[mix(i + 7) % keys.length]!);

let sink = 0;
/** ns per call of `op` over `probes`, `reps` times. */
function time(db: Reader, probes: string[], reps: number, op: (db: Reader, k: string) => void): number {
  const t = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) for (let i = 0; i < probes.length; i++) op(db, probes[i]!);
  return Number(process.hrtime.bigint() - t) / (reps * probes.length);
}
const has = (db: Reader, k: string): void => {
  if (db.has(k)) sink++;
};
const getIterate = (db: Reader, k: string): void => {
  for (const v of db.get(k)) sink += (v as string).length;
};

const workloads: [string, string[], number, (db: Reader, k: string) => void][] = [
  ['has, 1 000 keys in cache', hot, 200, has],
  ['get + iterate, 1 000 keys in cache', hot, 200, getIterate],
  ['has, random keys', random, 1, has],
  ['get + iterate, random keys', random, 1, getIterate],
];
console.log(`this build vs ${base}, ${path.basename(FILE)}, ${rounds} alternating rounds (3 warm-up), Node ${process.version}`);
console.log('| workload | this build (ns) | base (ns) | ratio (median of rounds) |');
console.log('|---|---:|---:|---:|');
for (const [name, probes, reps, op] of workloads) {
  const a: number[] = [];
  const b: number[] = [];
  const ratio: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = time(dbs[0], probes, reps, op);
    const y = time(dbs[1], probes, reps, op);
    if (r < 3) continue;
    a.push(x);
    b.push(y);
    ratio.push(x / y);
  }
  console.log(`| ${name} | ${median(a).toFixed(0)} | ${median(b).toFixed(0)} | ${median(ratio).toFixed(3)} |`);
}
if (sink === 0) throw new Error('nothing was found');
