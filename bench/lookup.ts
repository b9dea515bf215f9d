/**
 * Lookup benchmark (issue 8): discodb against lmdb-js in the same process, on
 * the same keys, for the workloads:
 *   - 1M keys × 1 value (16-byte values, Huffman-compressed by default):
 *     `get(k)` + iterate vs lmdb `get(k)`;
 *   - 1M keys × 10 values (compressed): `get(k)` + iterate vs lmdb `dupSort`
 *     `getValues(k)` iterated;
 *   - `has` on existing and absent keys, with p50/p99/p999 per operation
 *     (`perf_hooks.createHistogram`), timed two ways: each call on its own
 *     (the timer's own cost, measured on an empty call and printed, is
 *     included) and in samples of 16 consecutive calls (the sample's mean per
 *     call: the timer's cost is spread over 16 calls, and so is an outlier);
 *   - every discodb workload again on the pread route (`{ mmap: false }`).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/lookup.js [--ops N] [--rounds R] [--only get1,get10,has,pread]
 *
 * The dbs are built once with the writer (`buildFile`) and lmdb into
 * bench/data/ (gitignored) and reused by later runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { DiscoDB, buildFile } from '../lib/index.js';
import { prng } from './prng.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.resolve(here, '../../bench/data');
const N = 1_000_000;
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const OPS = Number(arg('ops') ?? 1_000_000);
const ROUNDS = Number(arg('rounds') ?? 3);
const ONLY = new Set((arg('only') ?? 'get1,get10,has,pread').split(','));

const keyOf = (i: number): string => `key:${i.toString(36)}`;
/** 16 bytes, as in the workload. */
const valueOf = (id: number): string => `value-${String(id).padStart(10, '0')}`;


function tenValues(i: number): string[] {
  const r = prng(i * 2654435761 + 1);
  const ids = new Set<number>();
  while (ids.size < 10) ids.add(1 + Math.floor(r() * N));
  return [...ids].map(valueOf);
}

async function ensureDiscodb(name: string, records: () => Iterable<{ key: string; values: string[] }>): Promise<string> {
  const file = path.join(DATA, `${name}.ddb`);
  if (!fs.existsSync(file)) {
    const t0 = Date.now();
    await buildFile(records(), file);
    console.log(`built ${file} with the writer in ${Date.now() - t0} ms`);
  }
  return file;
}

function ensureLmdb(name: string, dupSort: boolean, fill: (db: RootDatabase<string, string>) => void): RootDatabase<string, string> {
  const dir = path.join(DATA, `${name}.lmdb`);
  const done = path.join(DATA, `${name}.lmdb.done`);
  const fresh = !fs.existsSync(done);
  if (fresh) fs.rmSync(dir, { recursive: true, force: true });
  const db = openLmdb<string, string>({ path: dir, dupSort, encoding: dupSort ? 'ordered-binary' : 'string', compression: false, noSync: true });
  if (fresh) {
    const t0 = Date.now();
    db.transactionSync(() => fill(db));
    fs.writeFileSync(done, '');
    console.log(`built ${dir} in ${Date.now() - t0} ms`);
  }
  return db;
}

function* oneEach(): Generator<{ key: string; values: string[] }> {
  for (let i = 0; i < N; i++) yield { key: keyOf(i), values: [valueOf(i + 1)] };
}

function* tenEach(): Generator<{ key: string; values: string[] }> {
  for (let i = 0; i < N; i++) yield { key: keyOf(i), values: tenValues(i) };
}

let sink = 0;

/** ns per op of one pass of `fn` over the probes. */
function pass(probes: string[], fn: (k: string) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < probes.length; i++) fn(probes[i]!);
  return Number(process.hrtime.bigint() - t0) / probes.length;
}

/**
 * ns per op of `fn` and of its peer over the same probes: after a warm-up,
 * rounds alternate between the two (so that a noisy neighbour hits both
 * alike) and the best round of each counts.
 */
function versus(probes: string[], fn: (k: string) => void, peer: (k: string) => void, rounds = ROUNDS): [number, number] {
  const warm = probes.slice(0, Math.min(100_000, probes.length));
  pass(warm, fn);
  pass(warm, peer);
  let a = Infinity;
  let b = Infinity;
  for (let r = 0; r < rounds; r++) {
    a = Math.min(a, pass(probes, fn));
    b = Math.min(b, pass(probes, peer));
  }
  return [a, b];
}

interface Latency {
  p50: number;
  p99: number;
  p999: number;
  mean: number;
}

/**
 * p50/p99/p999 (ns) per operation, from samples of `per` consecutive calls
 * each timed with hrtime (a sample records its mean per call; `per` = 1
 * times every call on its own, the timer's own cost included).
 */
function latency(probes: string[], fn: (k: string) => void, per = 1): Latency {
  const h = createHistogram();
  for (let i = 0; i < Math.min(100_000, probes.length); i++) fn(probes[i]!);
  const n = probes.length - (probes.length % per);
  for (let i = 0; i < n; i += per) {
    const t0 = process.hrtime.bigint();
    for (let j = i; j < i + per; j++) fn(probes[j]!);
    h.record(Math.max(1, Math.round(Number(process.hrtime.bigint() - t0) / per)));
  }
  return { p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9), mean: Math.round(h.mean) };
}

const show = (l: Latency): string => `p50 ${l.p50}, p99 ${l.p99}, p999 ${l.p999}, mean ${l.mean}`;

/**
 * ns per dependent random read (each address depends on the last value read,
 * as in a lookup's chain: hash tables → key TOC → record → value TOC → value)
 * in `bytes` of memory: what one step of the chain costs on this machine.
 */
function chase(mem: Uint8Array, reads = 1 << 20): number {
  const r = prng(7);
  const idx = Uint32Array.from({ length: reads }, () => Math.floor(r() * 4294967296));
  const n = mem.length;
  let x = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reads; i++) x = mem[(idx[i]! + x) % n]! & 1;
  const ns = Number(process.hrtime.bigint() - t0) / reads;
  sink += x;
  return ns;
}

const rows: Array<Record<string, string | number>> = [];
const row = (workload: string, discodb: number, peerName: string, peer: number | null): void => {
  rows.push({ workload, 'discodb ns/op': Math.round(discodb), peer: peerName, 'peer ns/op': peer === null ? '' : Math.round(peer), ratio: peer === null ? '' : (discodb / peer).toFixed(2) });
};

fs.mkdirSync(DATA, { recursive: true });
console.log(`${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, ${new Date().toISOString()}, ${OPS} probes per round`);
const file1 = await ensureDiscodb('one-1M', oneEach);
const file10 = await ensureDiscodb('ten-1M', tenEach);
const r = prng(42);
const probes = Array.from({ length: OPS }, () => keyOf(Math.floor(r() * N)));
const absent = Array.from({ length: OPS }, () => `absent:${Math.floor(r() * N).toString(36)}`);

if (ONLY.has('get1') || ONLY.has('has') || ONLY.has('pread')) {
  const db = DiscoDB.open(file1);
  console.log(`one-1M: ${db.size} keys, ${db.header.numValues} values, compressed ${db.info().compressed}, ${(db.header.size / 2 ** 20).toFixed(1)} MiB, route ${db.route}`);
  {
    const image = db.toBuffer();
    chase(image, 1 << 16);
    const arrays = [0.5, 2, 8].map((mib) => new Uint8Array(mib * 2 ** 20).fill(1));
    const parts = arrays.map((a) => `${a.length / 2 ** 20} MiB array ${chase(a).toFixed(0)} ns`);
    console.log(`one dependent random read: ${chase(image).toFixed(0)} ns in the ${(image.length / 2 ** 20).toFixed(0)} MiB mapping; ${parts.join(', ')}`);
  }
  const getIter = (k: string): void => {
    for (const v of db.get(k)) sink += v.length;
  };
  const hasIt = (k: string): void => {
    if (db.has(k)) sink++;
  };
  if (ONLY.has('get1')) {
    const lm = ensureLmdb('one-1M', false, (l) => {
      for (let i = 0; i < N; i++) l.put(keyOf(i), valueOf(i + 1));
    });
    const lmGet = (k: string): void => {
      sink += lm.get(k)!.length;
    };
    let [ours, peer] = versus(probes, getIter, lmGet);
    row('1M×1 get + iterate', ours, 'lmdb get', peer);
    [ours, peer] = versus(probes, (k) => {
      sink += db.peek(k)!.length;
    }, lmGet);
    row('1M×1 peek', ours, 'lmdb get', peer);
    [ours, peer] = versus(probes, (k) => {
      sink += db.get(k).count();
    }, lmGet);
    row('1M×1 get(k).count()', ours, 'lmdb get', peer);
    [ours, peer] = versus(probes, hasIt, (k) => {
      if (lm.doesExist(k)) sink++;
    });
    row('1M×1 has (existing)', ours, 'lmdb doesExist', peer);
    [ours, peer] = versus(absent, hasIt, (k) => {
      if (lm.doesExist(k)) sink++;
    });
    row('1M×1 has (absent)', ours, 'lmdb doesExist', peer);
    await lm.close();
  }
  if (ONLY.has('has')) {
    const mixed = probes.map((k, i) => (i % 2 === 0 ? k : absent[i]!));
    const timer = latency(mixed, () => {});
    console.log(`the timer alone (an empty call, ns): ${show(timer)}`);
    console.log(`has latency, existing and absent alternating, ${mixed.length} ops (ns):`);
    console.log(`  each call timed (timer included): ${show(latency(mixed, hasIt))}`);
    console.log(`  samples of 16 calls, mean per call: ${show(latency(mixed, hasIt, 16))}`);
    console.log(`  existing only, samples of 16: ${show(latency(probes, hasIt, 16))}`);
    console.log(`  absent only, samples of 16: ${show(latency(absent, hasIt, 16))}`);
    console.log(`1M×1 get + iterate latency (ns): each call ${show(latency(probes, getIter))}; samples of 16 ${show(latency(probes, getIter, 16))}`);
  }
  if (ONLY.has('pread')) {
    const pr = DiscoDB.open(file1, { mmap: false });
    let [ours, mm] = versus(probes, (k) => {
      for (const v of pr.get(k)) sink += v.length;
    }, getIter);
    row('1M×1 get + iterate, pread route', ours, 'same, mmap route', mm);
    [ours, mm] = versus(probes, (k) => {
      if (pr.has(k)) sink++;
    }, hasIt);
    row('1M×1 has (existing), pread route', ours, 'same, mmap route', mm);
    [ours, mm] = versus(absent, (k) => {
      if (pr.has(k)) sink++;
    }, hasIt);
    row('1M×1 has (absent), pread route', ours, 'same, mmap route', mm);
    pr.close();
  }
  db.close();
}

if (ONLY.has('get10') || ONLY.has('pread')) {
  const db = DiscoDB.open(file10);
  console.log(`ten-1M: ${db.size} keys, ${db.header.numValues} values (${db.numUniqueValues} distinct), compressed ${db.info().compressed}, ${(db.header.size / 2 ** 20).toFixed(1)} MiB`);
  const getIter = (k: string): void => {
    for (const v of db.get(k)) sink += v.length;
  };
  if (ONLY.has('get10')) {
    const lm = ensureLmdb('ten-1M', true, (l) => {
      for (let i = 0; i < N; i++) for (const v of tenValues(i)) l.put(keyOf(i), v);
    });
    const [ours, peer] = versus(probes, getIter, (k) => {
      for (const v of lm.getValues(k)) sink += v.length;
    });
    row('1M×10 get + iterate', ours, 'lmdb dupSort getValues', peer);
    await lm.close();
  }
  if (ONLY.has('pread')) {
    const pr = DiscoDB.open(file10, { mmap: false });
    const [ours, mm] = versus(probes, (k) => {
      for (const v of pr.get(k)) sink += v.length;
    }, getIter);
    row('1M×10 get + iterate, pread route', ours, 'same, mmap route', mm);
    pr.close();
  }
  db.close();
}

console.table(rows);
console.log(`(sink ${sink > 0})`);
