/**
 * Peak RSS of a build against its `memoryLimit` for the shapes of issue 9, each in a
 * fresh child process (`process.resourceUsage().maxRSS`, all threads included).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/build-memory.js [--scale 0.25] [--limit 64M] [--threads 0,2] [--only SHAPE] [--phases]
 *
 * `--phases` adds, per build phase, the largest RSS / heap / array-buffer figures seen
 * (sampled at the writer's progress events and every 10 ms when the loop is free).
 *
 * Shapes (`--scale` multiplies the record counts; 1 = the sizes):
 * - `values200`: 2M unique 200-byte values over 200k keys;
 * - `onekey`: one key with 20M values (values drawn from 1M distinct);
 * - `bigvalue`: one 64 MiB value (not scaled);
 * - `keysonly`: 20M distinct keys without values;
 * - `fivem`: 5M keys × 1 value (bench/build.ts's `1x` records at 5M keys; not scaled), always
 *   at the default budget (256 MiB) whatever `--limit` says.
 * Peer in the same run: `node` doing nothing but generating the same records into a
 * draining Writable (`source`), the floor of any build fed the same way.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { arg } from './args.js';
import { mix } from './prng.js';

const HERE = fileURLToPath(import.meta.url);
type Shape = 'values200' | 'onekey' | 'bigvalue' | 'keysonly' | 'fivem';
const SHAPES: Shape[] = ['values200', 'onekey', 'bigvalue', 'keysonly', 'fivem'];

function* records(shape: Shape, scale: number): Generator<{ key: string; value?: string | Uint8Array }> {
  switch (shape) {
    case 'values200': {
      const n = Math.round(2_000_000 * scale);
      const pad = 'x'.repeat(190);
      for (let i = 0; i < n; i++) yield { key: `key${i % Math.max(1, Math.round(200_000 * scale))}`, value: `${i}`.padStart(10, '0') + pad };
      return;
    }
    case 'onekey': {
      const n = Math.round(20_000_000 * scale);
      for (let i = 0; i < n; i++) yield { key: 'the-key', value: `v${(i * 7919) % 1_000_000}` };
      return;
    }
    case 'bigvalue': {
      const big = new Uint8Array(64 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
      yield { key: 'big', value: big };
      return;
    }
    case 'keysonly': {
      const n = Math.round(20_000_000 * scale);
      for (let i = 0; i < n; i++) yield { key: `k${i}` };
      return;
    }
    case 'fivem': {
      const n = 5_000_000;
      let r = 12345;
      for (let i = 0; i < n; i++) {
        r = mix(r + 0x9e3779b9);
        yield { key: 'k' + mix(i), value: 'v' + mix((r % n) ^ 0x5bd1e995) };
      }
      return;
    }
  }
}

/** Per phase: the largest RSS, V8 heap used and ArrayBuffer bytes seen (MB). */
class PhasePeaks {
  private readonly peaks = new Map<string, { rss: number; heap: number; ab: number }>();
  phase = 'ingest';

  sample(): void {
    const m = process.memoryUsage();
    const p = this.peaks.get(this.phase) ?? { rss: 0, heap: 0, ab: 0 };
    p.rss = Math.max(p.rss, m.rss / MB);
    p.heap = Math.max(p.heap, m.heapUsed / MB);
    p.ab = Math.max(p.ab, m.arrayBuffers / MB);
    this.peaks.set(this.phase, p);
  }

  toString(): string {
    return [...this.peaks].map(([ph, p]) => `${ph} ${p.rss.toFixed(0)}/${p.heap.toFixed(0)}/${p.ab.toFixed(0)}`).join(', ');
  }
}

const MB = 1024 * 1024;

async function child(task: string, shape: Shape, scale: number, limit: string, threads: number, phases: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-bench-mem-'));
  const t0 = performance.now();
  let info = '';
  try {
    if (task === 'source') {
      await pipeline(Readable.from(records(shape, scale)), new Writable({ objectMode: true, write: (_c, _e, cb) => cb() }));
    } else {
      const { DiscoDBWriter } = await import('../lib/writer/index.js');
      const { DiscoDB } = await import('../lib/discodb.js');
      const file = path.join(dir, 'out.ddb');
      const w = new DiscoDBWriter(file, { memoryLimit: limit, threads, tmpDir: dir });
      const peaks = phases ? new PhasePeaks() : null;
      const timer = peaks === null ? null : setInterval(() => peaks.sample(), 10);
      if (peaks !== null) {
        w.on('progress', (p) => {
          peaks.sample();
          peaks.phase = p.phase;
          peaks.sample();
        });
      }
      await pipeline(Readable.from(records(shape, scale)), w);
      if (timer !== null) clearInterval(timer);
      const db = DiscoDB.open(file, { mmap: false });
      // Correct answers: spot checks.
      if (shape === 'onekey' && db.get('the-key').count() !== Math.round(20_000_000 * scale)) throw new Error('wrong count');
      if (shape === 'bigvalue' && db.get('big').count() !== 1) throw new Error('big value missing');
      if (shape === 'keysonly' && db.size !== Math.round(20_000_000 * scale)) throw new Error('wrong key count');
      if (shape === 'fivem' && db.size !== 5_000_000) throw new Error('wrong key count');
      db.close();
      info = `${w.stats!.runs} runs, ${(w.stats!.size / 1024 / 1024).toFixed(0)} MB file`;
      if (peaks !== null) info += `; peak MB rss/heap/arraybuffers by phase: ${peaks.toString()}`;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ru = process.resourceUsage();
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssMB: ru.maxRSS / 1024, info }) + '\n');
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4] as Shape, Number(process.argv[5]), process.argv[6]!, Number(process.argv[7]), process.argv[8] === 'phases');
} else {
  const scale = Number(arg('scale', '0.25'));
  const limit = arg('limit', '64M');
  const threadCounts = arg('threads', '0,2').split(',').map(Number);
  const only = arg('only', '');
  console.log(`node ${process.version}, ${os.availableParallelism()} CPUs, scale ${scale}, memoryLimit ${limit}`);
  console.log('| shape | task | threads | seconds | peak RSS MB | notes |');
  console.log('|---|---|---:|---:|---:|---|');
  for (const shape of SHAPES) {
    if (only !== '' && shape !== only) continue;
    for (const [task, th] of [['source', 0] as const, ...threadCounts.map((t) => ['discodb', t] as const)]) {
      const res = spawnSync(process.execPath, [HERE, '--child', task, shape, String(scale), shape === 'fivem' ? '256M' : limit, String(th), process.argv.includes('--phases') ? 'phases' : ''], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (res.status !== 0) {
        console.log(`| ${shape} | ${task} | ${th} | failed (status ${res.status}) | | |`);
        continue;
      }
      const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as { seconds: number; maxRssMB: number; info: string };
      console.log(`| ${shape} | ${task} | ${task === 'source' ? '-' : th} | ${r.seconds.toFixed(2)} | ${r.maxRssMB.toFixed(0)} | ${r.info} |`);
    }
  }
}
