/**
 * Writer throughput and peak memory, against lmdb loading the same records.
 *
 *   npm run build && node dist/bench/build.js [--keys 1000000] [--sets 1x,10x] [--only discodb|lmdb|source] [--threads 0,2]
 *                                             [--limits 128M,256M] [--no-iter] [--repeat 1]
 *
 * Data sets, generated on the fly (deterministic, nothing stored):
 * - `1x`:  1M keys × 1 value  — 1M `{ key, value }` records;
 * - `10x`: 1M keys × 10 values — 10M `{ key, value }` records, values drawn from 1M distinct ones;
 * - any `<n>x` likewise (e.g. `--sets 30x` to see that peak RSS stays flat as records grow).
 * Keys are `k` + the decimal digits of a bijective 32-bit mix of the key number (~11
 * bytes; byte order differs from insertion order), values likewise `v` + digits (~11
 * bytes, so the C rule compresses them: ≥ 5 MiB of distinct values, ≥ 6 bytes average).
 *
 * Each task runs in a fresh child process so that its peak RSS
 * (`process.resourceUsage().maxRSS`) is its own:
 * - `source`: generating the records and draining them through an object-mode stream (the floor);
 * - `discodb`: `pipeline(Readable.from(records), new DiscoDBWriter(file, { memoryLimit, threads }))`,
 *   with memoryLimit 128M and the default (256M) (or each of `--limits`), for each `--threads`
 *   value (default `0,2`: the one-thread path and worker threads);
 * - `discodb-iter`: `buildFile(records, file)` (no stream), default limit (`--no-iter`: skipped);
 * `--repeat n` runs the discodb tasks n times, interleaved (the machine's noise shows).
 * `--baseline path/to/other/dist/bench/build.js` runs each discodb task of another build
 * too (e.g. main's, as "before"), right after this build's, as `base:discodb…` rows.
 * - `lmdb`: the same records put into an lmdb `dupSort` database (one key, many values),
 *   in synchronous transactions of 100k puts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { mix } from './prng.js';

const HERE = fileURLToPath(import.meta.url);
const MB = 1024 * 1024;

type Task = 'source' | 'discodb' | 'discodb-iter' | 'lmdb';
/** `<n>x`: 1M keys (or --keys) × n values each. */
type DataSet = string;

/** The records of a data set, lazily. */
function* records(set: DataSet, keys: number): Generator<{ key: string; value: string }> {
  const perKey = parseInt(set, 10);
  const uniqueValues = keys;
  let r = 12345;
  for (let i = 0; i < keys; i++) {
    const key = 'k' + mix(i);
    for (let j = 0; j < perKey; j++) {
      r = mix(r + 0x9e3779b9);
      yield { key, value: 'v' + mix((r % uniqueValues) ^ 0x5bd1e995) };
    }
  }
}

async function child(task: Task, set: DataSet, keys: number, memory: string | undefined, threads: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-bench-'));
  const file = path.join(dir, 'out.ddb');
  const count = keys * parseInt(set, 10);
  const start = performance.now();
  let size = 0;
  try {
    switch (task) {
      case 'source': {
        let n = 0;
        const sink = new Writable({
          objectMode: true,
          highWaterMark: 1024,
          writev(chunks, cb) {
            n += chunks.length;
            cb();
          },
        });
        await pipeline(Readable.from(records(set, keys)), sink);
        if (n !== count) throw new Error(`counted ${n} records`);
        break;
      }
      case 'discodb': {
        const { DiscoDBWriter } = await import('../lib/writer/index.js');
        const w = new DiscoDBWriter(file, memory === undefined ? { threads } : { memoryLimit: memory, threads });
        await pipeline(Readable.from(records(set, keys)), w);
        size = fs.statSync(file).size;
        process.stderr.write(`  ${JSON.stringify(w.stats)}\n`);
        break;
      }
      case 'discodb-iter': {
        const { buildFile } = await import('../lib/writer/index.js');
        await buildFile(records(set, keys), file, memory === undefined ? { threads } : { memoryLimit: memory, threads });
        size = fs.statSync(file).size;
        break;
      }
      case 'lmdb': {
        const { open } = await import('lmdb');
        const db = open<string, string>({ path: path.join(dir, 'lmdb'), dupSort: true, encoding: 'string' });
        const it = records(set, keys);
        let done = false;
        while (!done) {
          db.transactionSync(() => {
            for (let i = 0; i < 100000; i++) {
              const r = it.next();
              if (r.done === true) {
                done = true;
                return;
              }
              db.putSync(r.value.key, r.value.value);
            }
          });
        }
        await db.close();
        for (const f of fs.readdirSync(path.join(dir, 'lmdb'))) size += fs.statSync(path.join(dir, 'lmdb', f)).size;
        break;
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - start) / 1000;
  const ru = process.resourceUsage();
  const maxRssMB = ru.maxRSS / 1024;
  // All threads of the process (workers included), in seconds.
  const cpu = (ru.userCPUTime + ru.systemCPUTime) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, records: count, maxRssMB, size, cpu }) + '\n');
}

interface Result {
  seconds: number;
  records: number;
  maxRssMB: number;
  size: number;
  cpu: number;
}

function runChild(script: string, task: Task, set: DataSet, keys: number, memory: string | undefined, threads: number): Result {
  const args = [...process.execArgv, script, '--child', task, set, String(keys), memory ?? '-', String(threads)];
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * MB });
  if (res.status !== 0) throw new Error(`${task} ${set} failed with status ${res.status}`);
  const line = res.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Result;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await child(argv[1] as Task, argv[2] as DataSet, Number(argv[3]), argv[4] === '-' ? undefined : argv[4], Number(argv[5]));
    return;
  }
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const keys = Number(opt('--keys') ?? 1_000_000);
  const only = opt('--only');
  const configs: [Task, DataSet, string | undefined, number, string][] = [];
  const baseline = opt('--baseline');
  const sets = (opt('--sets') ?? '1x,10x').split(',');
  const threadCounts = (opt('--threads') ?? '0,2').split(',').map(Number);
  const limits = (opt('--limits') ?? '128M,256M').split(',').map((l) => (l === '256M' ? undefined : l));
  const iter = !argv.includes('--no-iter');
  const repeat = Number(opt('--repeat') ?? 1);
  for (const set of sets) {
    configs.push(['source', set, undefined, 0, HERE]);
    for (let r = 0; r < repeat; r++) {
      for (const th of threadCounts) {
        for (const limit of limits) {
          configs.push(['discodb', set, limit, th, HERE]);
          if (baseline !== undefined) configs.push(['discodb', set, limit, th, baseline]);
        }
        if (iter) {
          configs.push(['discodb-iter', set, undefined, th, HERE]);
          if (baseline !== undefined) configs.push(['discodb-iter', set, undefined, th, baseline]);
        }
      }
    }
    configs.push(['lmdb', set, undefined, 0, HERE]);
  }
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${keys} keys`);
  if (baseline !== undefined) console.log(`base: ${baseline}`);
  console.log('task               data  limit   threads   records      seconds   records/s   cpu/wall   peak RSS MB   output MB');
  for (const [task, set, memory, threads, script] of configs) {
    if (only !== undefined && !task.startsWith(only)) continue;
    const r = runChild(script, task, set, keys, memory, threads);
    const limit = task.startsWith('discodb') ? (memory ?? '256M') : '-';
    const label = script === HERE ? task : `base:${task}`;
    console.log(
      `${label.padEnd(18)} ${set.padEnd(5)} ${limit.padEnd(7)} ${(task.startsWith('discodb') ? String(threads) : '-').padStart(7)} ${String(r.records).padStart(9)} ${r.seconds
        .toFixed(2)
        .padStart(12)} ${Math.round(r.records / r.seconds)
        .toLocaleString('en-US')
        .padStart(11)} ${(r.cpu / r.seconds).toFixed(2).padStart(10)} ${r.maxRssMB.toFixed(0).padStart(13)} ${(r.size / MB).toFixed(1).padStart(11)}`,
    );
  }
}

await main();
