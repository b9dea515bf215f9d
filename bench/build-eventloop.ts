/**
 * Event-loop blocking during a `DiscoDBWriter` pipeline (issue 9: no synchronous slice
 * longer than 50 ms on the main thread).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/build-eventloop.js [--records 5000000] [--memory 256M] [--keys 1000000] [--threads 0,1]
 *
 * The records (`{ key, value }`, `--keys` distinct keys, values drawn from as many distinct
 * ones, the shape of bench/build.ts) come from `Readable.from(generator)`, as in the issue.
 * Two tasks in the same process, one after the other:
 * - `plain`: the same source piped into a plain object-mode Writable that drops the
 *   records (the peer: what the stream machinery alone costs the loop);
 * - `discodb`: the same source piped into `new DiscoDBWriter(file, { memoryLimit, threads })`,
 *   once per `--threads` value (default `0,1`: the one-thread path, then one worker).
 * For each: `perf_hooks.monitorEventLoopDelay` (10 ms resolution) max and p99, and, from a
 * 5 ms interval timer, the longest gap between two of its ticks and the writer phase
 * it started in.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DiscoDBWriter, type WriterProgress } from '../lib/writer/index.js';
import { arg } from './args.js';
import { mix } from './prng.js';

const RECORDS = Number(arg('records', '5000000'));
const KEYS = Number(arg('keys', '1000000'));
const MEMORY = arg('memory', '256M');
const THREADS = arg('threads', '0,1').split(',').map(Number);

function* records(): Generator<{ key: string; value: string }> {
  let r = 12345;
  for (let i = 0; i < RECORDS; i++) {
    r = mix(r + 0x9e3779b9);
    yield { key: 'k' + mix(i % KEYS), value: 'v' + mix((r % KEYS) ^ 0x5bd1e995) };
  }
}

interface Result {
  task: string;
  seconds: number;
  maxMs: number;
  p99Ms: number;
  maxGapMs: number;
  gapPhase: string;
  /** Longest gap per phase. */
  perPhase: Map<string, number>;
}

async function measure(task: string, sink: () => Writable, phaseOf: () => string): Promise<Result> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  let last = performance.now();
  let maxGap = 0;
  let gapPhase = '';
  let phaseAtLast = phaseOf();
  const perPhase = new Map<string, number>();
  const timer = setInterval(() => {
    const now = performance.now();
    const gap = now - last - 5;
    const ph = phaseAtLast === phaseOf() ? phaseAtLast : `${phaseAtLast}→${phaseOf()}`;
    perPhase.set(ph, Math.max(perPhase.get(ph) ?? 0, gap));
    if (gap > maxGap) {
      maxGap = gap;
      gapPhase = phaseAtLast === phaseOf() ? phaseAtLast : `${phaseAtLast}→${phaseOf()}`;
    }
    last = now;
    phaseAtLast = phaseOf();
  }, 5);
  h.enable();
  const t0 = performance.now();
  await pipeline(Readable.from(records()), sink());
  const end = performance.now();
  const seconds = (end - t0) / 1000;
  h.disable();
  clearInterval(timer);
  // A loop blocked until the end never ran the timer: count that last gap too.
  if (end - last - 5 > maxGap) {
    maxGap = end - last - 5;
    gapPhase = phaseAtLast === phaseOf() ? phaseAtLast : `${phaseAtLast}→${phaseOf()}`;
  }
  return { task, seconds, maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, maxGapMs: Math.max(0, maxGap), gapPhase, perPhase };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-bench-el-'));
try {
  const results: Result[] = [];
  results.push(
    await measure(
      'plain Writable (peer)',
      () => new Writable({ objectMode: true, write: (_c, _e, cb) => cb() }),
      () => 'ingest',
    ),
  );
  for (const threads of THREADS) {
    let phase = 'ingest';
    results.push(
      await measure(
        `DiscoDBWriter (memoryLimit ${MEMORY}, threads ${threads})`,
        () => {
          const w = new DiscoDBWriter(path.join(dir, 'out.ddb'), { memoryLimit: MEMORY, tmpDir: dir, threads });
          w.on('progress', (p: WriterProgress) => (phase = p.phase));
          return w;
        },
        () => phase,
      ),
    );
  }
  console.log(`${RECORDS} records over ${KEYS} keys, Node ${process.version}, ${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism()}`);
  console.log('| task | time (s) | loop delay max (ms) | p99 (ms) | longest timer gap (ms) | in phase | longest gap per phase (ms) |');
  console.log('|---|---:|---:|---:|---:|---|---|');
  for (const r of results) {
    const per = [...r.perPhase].map(([p, g]) => `${p} ${g.toFixed(0)}`).join(', ');
    console.log(`| ${r.task} | ${r.seconds.toFixed(2)} | ${r.maxMs.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.maxGapMs.toFixed(1)} | ${r.gapPhase} | ${per} |`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
