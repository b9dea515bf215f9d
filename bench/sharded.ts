/**
 * Sharded dbs: build time and peak RSS of one file vs 4 shards, and the fan-out cost of
 * reading 4 shards as one db vs one file.
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/sharded.js [--records 20000000] [--lookup-records 1000000]
 *
 * Build: `--records` records `{ key, value }` (keys from records/10 names, values from
 * records/10 names with a skew, ~8 bytes each: ~10 values per key), generated on the fly by
 * the same seeded generator in every task; each task in
 * a fresh child process, so peak RSS (`maxRSS`, worker threads included) is the task's own:
 * - `buildFile` into one file (the peer);
 * - `buildSharded` 4 shards, `jobs: 1` (one pass, 4 writers fed directly);
 * - `buildSharded` 4 shards, `jobs: 2` (the pass streams each shard's records to 1 of 2 worker threads);
 * - the same by key (no key is in two shards, so no key-total pass and no repeated key tables).
 *
 * Reads: `--lookup-records` records into one file and into 4 shards by value and by key;
 * `get` of random present keys (all values read), `has` of absent keys, and small queries
 * (`a & b`, `a | b`, `a & ~b`), in operations per second, same process, same keys.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng as prng } from '../examples/random.js';

const HERE = fileURLToPath(import.meta.url);
type Task = 'file' | 'shards-jobs1' | 'shards-jobs2' | 'key-shards-jobs2';

/** The records of every build task: the same sequence for a given count (n/10 key names, n/10 value names, skewed values). */
function* records(n: number, seed = 42): Generator<{ key: string; value: string }> {
  const r = prng(seed);
  const names = Math.max(1, Math.floor(n / 10));
  const rec = { key: '', value: '' };
  for (let i = 0; i < n; i++) {
    rec.key = `k${Math.floor(r() * names)}`;
    rec.value = `v${Math.floor(r() ** 2 * names)}`;
    yield rec;
  }
}

interface BuildResult {
  seconds: number;
  maxRssMB: number;
  outputMB: number;
}

async function child(task: Task, n: number, memory: string): Promise<void> {
  const { buildFile } = await import('../lib/writer/index.js');
  const { buildSharded } = await import('../lib/sharded/index.js');
  const out = path.join(os.tmpdir(), `discodb-bench-sharded-${process.pid}`);
  const start = performance.now();
  if (task === 'file') await buildFile(records(n), `${out}.ddb`, { memoryLimit: memory });
  else {
    const partitionBy = task === 'key-shards-jobs2' ? 'key' : 'value';
    await buildSharded(records(n), out, { shards: 4, jobs: task === 'shards-jobs1' ? 1 : 2, partitionBy, memoryLimit: memory });
  }
  const seconds = (performance.now() - start) / 1000;
  let bytes = 0;
  if (task === 'file') {
    bytes = fs.statSync(`${out}.ddb`).size;
    fs.rmSync(`${out}.ddb`);
  } else {
    for (const f of fs.readdirSync(out)) bytes += fs.statSync(path.join(out, f)).size;
    fs.rmSync(out, { recursive: true });
  }
  const result: BuildResult = { seconds, maxRssMB: process.resourceUsage().maxRSS / 1024, outputMB: bytes / 1024 / 1024 };
  console.log(JSON.stringify(result));
}

function runChild(task: Task, n: number, memory: string): BuildResult {
  const r = spawnSync(process.execPath, [HERE, '--child', task, String(n), memory], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${task} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as BuildResult;
}

/** Operations per second of `fn` over `ops` calls (after a short warm-up). */
function rate(ops: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(ops, 1000); i++) fn(i);
  const start = performance.now();
  for (let i = 0; i < ops; i++) fn(i);
  return ops / ((performance.now() - start) / 1000);
}

async function reads(n: number): Promise<string[][]> {
  const { buildFile } = await import('../lib/writer/index.js');
  const { DiscoDB } = await import('../lib/discodb.js');
  const { buildSharded, ShardedDiscoDB } = await import('../lib/sharded/index.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-bench-fanout-'));
  try {
    const file = path.join(dir, 'one.ddb');
    // Fewer key names than the build: ~10 values per key, so that gets and queries read lists.
    const recs = (): Generator<{ key: string; value: string }> =>
      (function* () {
        const r = prng(7);
        for (let i = 0; i < n; i++) yield { key: `k${Math.floor(r() * (n / 10))}`, value: `v${Math.floor(r() * n)}` };
      })();
    await buildFile(recs(), file);
    await buildSharded(recs(), path.join(dir, 'by-value'), { shards: 4 });
    await buildSharded(recs(), path.join(dir, 'by-key'), { shards: 4, partitionBy: 'key' });
    const dbs: Array<[string, { get(k: string): Iterable<string>; has(k: string): boolean; query(q: string): Iterable<string> }]> = [
      ['one file', DiscoDB.open(file)],
      ['4 shards by value', ShardedDiscoDB.open(path.join(dir, 'by-value'))],
      ['4 shards by key', ShardedDiscoDB.open(path.join(dir, 'by-key'))],
    ];
    const r = prng(99);
    const keys = Array.from({ length: 4096 }, () => `k${Math.floor(r() * (n / 10))}`);
    const absent = Array.from({ length: 4096 }, (_, i) => `absent${i}`);
    const drain = (it: Iterable<string>): number => {
      let c = 0;
      for (const _ of it) c++;
      return c;
    };
    const rows: string[][] = [];
    for (const [label, db] of dbs) {
      const k = (i: number): string => keys[i & 4095]!;
      const row = [
        label,
        rate(100_000, (i) => drain(db.get(k(i)))),
        rate(100_000, (i) => db.has(absent[i & 4095]!)),
        rate(20_000, (i) => drain(db.query(`${k(i)} & ${k(i + 1)}`))),
        rate(20_000, (i) => drain(db.query(`${k(i)} | ${k(i + 1)}`))),
        rate(20_000, (i) => drain(db.query(`${k(i)} & ~${k(i + 1)}`))),
      ];
      rows.push([row[0] as string, ...(row.slice(1) as number[]).map((x) => Math.round(x).toLocaleString('en-US'))]);
      console.log(`  reads: ${label} done`);
    }
    for (const [, db] of dbs) (db as unknown as { close(): void }).close();
    const base = rows[0]!;
    for (const row of rows.slice(1)) {
      rows.push([`${row[0]} / one file`, ...row.slice(1).map((x, c) => (Number(x.replace(/,/g, '')) / Number(base[c + 1]!.replace(/,/g, ''))).toFixed(2))]);
    }
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]): string => `| ${r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
  };
  const n = Number(opt('records', '20000000'));
  const lookupN = Number(opt('lookup-records', '1000000'));
  const memory = opt('memory', '256M');
  const skipBuild = args.includes('--reads-only');
  console.log(`Node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}`);
  if (!skipBuild) {
    const rows: string[][] = [];
    let base = 0;
    for (const [label, task] of [
      ['buildFile, 1 file', 'file'],
      ['buildSharded, 4 shards, jobs 1', 'shards-jobs1'],
      ['buildSharded, 4 shards, jobs 2', 'shards-jobs2'],
      ['buildSharded, 4 shards by key, jobs 2', 'key-shards-jobs2'],
    ] as Array<[string, Task]>) {
      const r = runChild(task, n, memory);
      if (task === 'file') base = r.seconds;
      rows.push([label, r.seconds.toFixed(1), Math.round(n / r.seconds).toLocaleString('en-US'), (base / r.seconds).toFixed(2), r.maxRssMB.toFixed(0), r.outputMB.toFixed(1)]);
      console.log(`  build: ${label}: ${r.seconds.toFixed(1)} s`);
    }
    console.log(`\nBuild of ${n.toLocaleString('en-US')} records, memoryLimit ${memory}\n`);
    console.log(table(['task', 's', 'records/s', 'speed-up', 'peak RSS MB', 'output MB'], rows));
  }
  const readRows = await reads(lookupN);
  console.log(`\nReads over ${lookupN.toLocaleString('en-US')} records (~10 values per key), operations/s\n`);
  console.log(table(['db', 'get (all values)', 'has (absent)', 'a & b', 'a | b', 'a & ~b'], readRows));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Task, Number(process.argv[4]), process.argv[5] as string);
} else {
  await main();
}
