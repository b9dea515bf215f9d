/**
 * How long each phase of one build takes (the writer's `progress` events), for paired
 * runs of two builds of the writer when the whole build's time is too noisy to compare.
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/build-phases.js [--keys 1000000] [--per-key 1] [--threads 2] [--memory 256M]
 *                                                   [--writer /other/clone/dist/lib/writer/index.js]
 *
 * The records are bench/build.ts's `<n>x` set (`--keys` keys × `--per-key` values) from `Readable.from(generator)`
 * into a `DiscoDBWriter`. `--writer` times another build's writer (e.g. main's, as "before").
 * Prints one JSON line: total and CPU ms, minor page faults, then ms per phase (a phase entered several times is summed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { DiscoDBWriter as Writer, WriterOptions, WriterProgress } from '../lib/writer/index.js';
import { arg } from './args.js';
import { mix } from './prng.js';

const keys = Number(arg('keys', '1000000'));
const perKey = Number(arg('per-key', '1'));
const threads = Number(arg('threads', '2'));
const memoryLimit = arg('memory', '256M');
const writerModule = arg('writer', '');

/** bench/build.ts's `<perKey>x` records: `keys` keys × `perKey` values drawn from `keys` distinct ones. */
function* records(): Generator<{ key: string; value: string }> {
  let r = 12345;
  for (let i = 0; i < keys; i++) {
    const key = 'k' + mix(i);
    for (let j = 0; j < perKey; j++) {
      r = mix(r + 0x9e3779b9);
      yield { key, value: 'v' + mix((r % keys) ^ 0x5bd1e995) };
    }
  }
}

const { DiscoDBWriter } = (await import(writerModule === '' ? '../lib/writer/index.js' : pathToFileURL(path.resolve(writerModule)).href)) as {
  DiscoDBWriter: new (file: string, opts: WriterOptions) => Writer;
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-phases-'));
try {
  const w = new DiscoDBWriter(path.join(dir, 'out.ddb'), { memoryLimit, threads });
  const ms: Record<string, number> = {};
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const faults0 = process.resourceUsage().minorPageFault;
  let phase = 'ingest';
  let since = t0;
  w.on('progress', (p: WriterProgress) => {
    if (p.phase === phase) return;
    const now = performance.now();
    ms[phase] = (ms[phase] ?? 0) + now - since;
    phase = p.phase;
    since = now;
  });
  await pipeline(Readable.from(records()), w);
  const end = performance.now();
  ms[phase] = (ms[phase] ?? 0) + end - since;
  const cpu = process.cpuUsage(c0);
  // Page faults of all the process's threads: first touches of fresh memory (see lib/format/pages.ts).
  const faults = process.resourceUsage().minorPageFault - faults0;
  const round = (x: number): number => Math.round(x);
  console.log(JSON.stringify({ keys, perKey, threads, memoryLimit, total: round(end - t0), cpu: round((cpu.user + cpu.system) / 1000), faults, ...Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(v)])) }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
