/**
 * The writer's byte-order sort of a run's distinct strings (`sortEntries`, the CPU core
 * of every spill and of an in-memory image), against GNU sort on the same strings.
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/sort.js [--keys 2000000] [--rounds 9]
 *                                                 [--baseline path/to/other/dist/lib/writer/sort.js]
 *
 * Shapes: `k` — the build benchmark's keys (`k` + decimal digits of a 32-bit mix, ~11
 * bytes); `url` — `http://example.com/path/<mix>/<i % 100>` (a 24-byte shared prefix, so
 * the sort goes three 6-byte digits deep before the strings differ).
 * Rows, per shape:
 * - `discodb`: `sortEntries` over a dictionary of the strings, in process (median and
 *   best of `--rounds`);
 * - `base`: with `--baseline`, another build's `sortEntries` on the same dictionary,
 *   alternating with this build's round by round, and the median of the paired ratios
 *   (the machine's noise hits both alike);
 * - `GNU sort`: `LC_ALL=C sort -S 1G --parallel=1` and `--parallel=2` of the same strings,
 *   one per line, from a file in the temp dir to another (whole process: it also reads,
 *   splits and writes lines, which the in-process sort does not; the best of 3 runs).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ByteDict } from '../lib/writer/arena.js';
import { sortEntries } from '../lib/writer/sort.js';
import { mix } from './prng.js';
import { median } from './stats.js';

type SortFn = (d: ByteDict) => Uint32Array;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const SHAPES: Record<string, (i: number) => string> = {
  k: (i) => 'k' + mix(i),
  url: (i) => `http://example.com/path/${mix(i)}/${i % 100}`,
};

function dictionaryOf(strings: string[]): ByteDict {
  const bytes = strings.reduce((n, s) => n + Buffer.byteLength(s), 0);
  const d = new ByteDict(strings.length, bytes);
  for (const s of strings) d.internBytes(Buffer.from(s));
  if (d.n !== strings.length) throw new Error(`the dictionary took ${d.n} of ${strings.length} strings`);
  return d;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** Best wall time of `runs` GNU sort processes over `input` with `parallel` threads (ms), or null without `sort`. */
function gnuSort(input: string, output: string, parallel: number, runs: number): number | null {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const res = spawnSync('sort', ['-S', '1G', `--parallel=${parallel}`, '-o', output, input], { env: { ...process.env, LC_ALL: 'C' } });
    const ms = performance.now() - t;
    if (res.error !== undefined || res.status !== 0) return null;
    best = Math.min(best, ms);
  }
  return best;
}

/** Whether sortEntries' order is the one GNU sort wrote (LC_ALL=C: plain byte order). */
function sameOrder(d: ByteDict, order: Uint32Array, sorted: string): boolean {
  const lines = sorted.split('\n');
  for (let i = 0; i < order.length; i++) if (d.view(order[i]!).toString() !== lines[i]) return false;
  return true;
}

const keys = Number(arg('--keys') ?? 2_000_000);
const rounds = Number(arg('--rounds') ?? 9);
const baselinePath = arg('--baseline');
const baseline: SortFn | null = baselinePath === undefined ? null : ((await import(pathToFileURL(path.resolve(baselinePath)).href)) as { sortEntries: SortFn }).sortEntries;

console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${keys} strings per shape, ${rounds} rounds`);
console.log('shape  row                          median ms    best ms   ratio');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-sort-bench-'));
try {
  for (const [shape, make] of Object.entries(SHAPES)) {
    const strings = Array.from({ length: keys }, (_, i) => make(i));
    const d = dictionaryOf(strings);
    const mine: number[] = [];
    const base: number[] = [];
    const ratios: number[] = [];
    let order: Uint32Array = new Uint32Array(0);
    for (let r = 0; r < rounds; r++) {
      const a = timed(() => (order = sortEntries(d)));
      mine.push(a);
      if (baseline !== null) {
        let other: Uint32Array = new Uint32Array(0);
        const b = timed(() => (other = baseline(d)));
        base.push(b);
        ratios.push(a / b);
        if (r === 0 && other.some((x, i) => x !== order[i])) throw new Error(`${shape}: the baseline sorts differently`);
      }
    }
    const row = (name: string, ms: number[], ratio: string): void =>
      console.log(`${shape.padEnd(6)} ${name.padEnd(28)} ${median(ms).toFixed(0).padStart(9)} ${Math.min(...ms).toFixed(0).padStart(10)}   ${ratio}`);
    row('discodb sortEntries', mine, '');
    if (baseline !== null) row('base sortEntries', base, `discodb/base paired median ${median(ratios).toFixed(3)}`);
    const input = path.join(dir, `${shape}.txt`);
    const output = path.join(dir, `${shape}.sorted`);
    fs.writeFileSync(input, strings.join('\n') + '\n');
    for (const parallel of [1, 2]) {
      const ms = gnuSort(input, output, parallel, 3);
      if (ms === null) {
        console.log(`${shape.padEnd(6)} GNU sort is not available: its rows are skipped`);
        break;
      }
      if (parallel === 1 && !sameOrder(d, order, fs.readFileSync(output, 'utf8'))) throw new Error(`${shape}: GNU sort's order differs`);
      console.log(`${shape.padEnd(6)} ${`GNU sort --parallel=${parallel}`.padEnd(28)} ${''.padStart(9)} ${ms.toFixed(0).padStart(10)}   discodb best/GNU ${(Math.min(...mine) / ms).toFixed(2)}`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
