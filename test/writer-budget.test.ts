/**
 * The run's memory budget is a bound on what it allocates: the footprint a run
 * accounts (RunBuffer.bytes) covers every array it holds, the peak while an array
 * grows (old and new side by side) and a spill's scratch, which works in the run's
 * hash tables and its counted extra without allocating; and builds that spill at
 * tiny budgets (many runs, both ways of grouping the pairs) keep the bytes of the
 * in-memory build.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { RunBuffer, runBudget } from '../lib/writer/arena.js';
import { TempDir } from '../lib/writer/io.js';
import { RecordIngest } from '../lib/writer/records.js';
import { longListsInChunks, spillRun } from '../lib/writer/runs.js';
import { DiscoDBWriter, buildBuffer } from '../lib/writer/index.js';
import { checkAgainstModel } from './helpers/model.js';
import { randInt, rng } from './helpers/random.js';

const sha256 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');

interface Shape {
  name: string;
  keys: number;
  values: number;
  keyLen: [number, number];
  valueLen: [number, number];
  noValue: number;
}

const SHAPES: Shape[] = [
  { name: 'one value per key', keys: 1e9, values: 1e9, keyLen: [4, 12], valueLen: [4, 12], noValue: 0 },
  { name: 'many values per key', keys: 40, values: 5000, keyLen: [1, 8], valueLen: [1, 6], noValue: 0 },
  { name: 'long values', keys: 300, values: 1e9, keyLen: [2, 10], valueLen: [50, 400], noValue: 0.1 },
  { name: 'keys only', keys: 1e9, values: 10, keyLen: [3, 20], valueLen: [0, 3], noValue: 0.9 },
  { name: 'few values, repeated pairs', keys: 2000, values: 30, keyLen: [1, 5], valueLen: [0, 4], noValue: 0.02 },
];

function text(r: () => number, n: number, [lo, hi]: [number, number]): string {
  return `${n.toString(36)}:`.padEnd(lo + randInt(r, hi - lo + 1), 'x');
}

t.test('a run spills before what it allocates exceeds its budget; a spill allocates nothing', (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-budget-test-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tmp = new TempDir(dir);
  const r = rng(99);
  const grouped = { inPlace: 0, scattered: 0 };
  for (const shape of SHAPES) {
    for (const budget of [24 * 1024, 96 * 1024, 384 * 1024]) {
      const run = new RunBuffer(budget);
      let spills = 0;
      let worst = 0;
      const check = (): void => {
        // Every array the run holds is within the footprint it accounts, and that within the budget.
        worst = Math.max(worst, run.allocated(), run.bytes());
      };
      const ingest = new RecordIngest(run, () => {
        check();
        if (run.spillGroupsInPlace()) grouped.inPlace++;
        else grouped.scattered++;
        spillRun(run, tmp, false, ingest.records, 64 * 1024);
        check();
        run.clear();
        spills++;
      });
      const n = 20000 + randInt(r, 20000);
      for (let i = 0; i < n; i++) {
        const key = text(r, randInt(r, Math.min(shape.keys, 1e6)), shape.keyLen);
        const value = r() < shape.noValue ? null : text(r, randInt(r, Math.min(shape.values, 1e6)), shape.valueLen);
        ingest.add(value === null ? { key } : { key, value });
        if ((i & 255) === 0) check();
      }
      ingest.flush();
      check();
      const label = `${shape.name} @ ${budget}`;
      tt.ok(spills > 1, `${label}: ${spills} spills`);
      tt.ok(worst <= budget, `${label}: allocated ${worst} ≤ budget ${budget}`);
      tt.ok(run.peakBytes <= budget, `${label}: peak while growing and spilling ${run.peakBytes} ≤ ${budget}`);
      tt.equal(run.freshWords, 0, `${label}: the spills took all their scratch from the run's counted memory`);
    }
  }
  // At these budgets the pairs grow by copying, and the copy's peak keeps room for the
  // scattering's array: runs that fill up with pairs are grouped in place only when the
  // pairs are reserved (large budgets: the next test).
  tt.ok(grouped.scattered > 0, `pairs scattered (${JSON.stringify(grouped)})`);
  tmp.cleanup();
  tt.end();
});

t.test('the run share of the budget', (tt) => {
  tt.equal(runBudget(256 * 1024 * 1024), 192 * 1024 * 1024);
  tt.ok(runBudget(1000) <= 1000);
  tt.end();
});

t.test('tiny budgets: many runs, bytes of the in-memory build', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-budget-test-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = rng(7);
  for (const [i, shape] of SHAPES.entries()) {
    for (const uniqueItems of [false, true]) {
      const n = 3000 + randInt(r, 5000);
      const recs: { key: string; value?: string }[] = [];
      const model = new Map<string, string[]>();
      for (let j = 0; j < n; j++) {
        const key = text(r, randInt(r, Math.min(shape.keys, 1e6)), shape.keyLen);
        const value = r() < shape.noValue ? null : text(r, randInt(r, Math.min(shape.values, 1e6)), shape.valueLen);
        recs.push(value === null ? { key } : { key, value });
        const list = model.get(key) ?? [];
        if (value !== null && !(uniqueItems && list.includes(value))) list.push(value);
        model.set(key, list);
      }
      const out = path.join(dir, `${i}-${uniqueItems}.ddb`);
      const w = new DiscoDBWriter(out, { memoryLimit: 4000 + randInt(r, 12000), uniqueItems, tmpDir: dir });
      await pipeline(Readable.from(recs), w);
      const label = `${shape.name}, uniqueItems ${uniqueItems}`;
      tt.ok(w.stats!.runs > 3, `${label}: ${w.stats!.runs} runs`);
      tt.equal(sha256(fs.readFileSync(out)), sha256(buildBuffer(recs, { uniqueItems })), `${label}: spilled = in memory`);
      checkAgainstModel(tt, out, model, label);
    }
  }
  tt.end();
});

t.test('a merge of merged runs renumbers a long list, and gathers a key\'s lists, a chunk at a time: bytes of the in-memory build', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-budget-test-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = rng(11);
  // At 64 KiB the fan-in is 8 and a chunk 4096 ids. 60k records: ~78 runs, merged in passes, the
  // merged runs' lists of the first two keys longer than a chunk. 6k records: ~8 runs, one merge,
  // whose short lists of the first key add up past a chunk (set aside, sorted, then merged).
  for (const [records, passes] of [[60_000, true], [6_000, false]] as const) {
    for (const uniqueItems of [false, true]) {
      // Values repeat: a multiset, or duplicates to drop.
      const recs: { key: string; value: string }[] = [];
      const model = new Map<string, string[]>();
      for (let j = 0; j < records; j++) {
        const pick = r();
        const key = pick < 0.85 ? 'the-long-one' : pick < 0.93 ? 'another' : `k${randInt(r, 2000)}`;
        const value = `v${randInt(r, 40_000)}`;
        recs.push({ key, value });
        const list = model.get(key) ?? [];
        if (!(uniqueItems && list.includes(value))) list.push(value);
        model.set(key, list);
      }
      const before = longListsInChunks();
      const out = path.join(dir, `long-${records}-${uniqueItems}.ddb`);
      const w = new DiscoDBWriter(out, { memoryLimit: 64 * 1024, uniqueItems, tmpDir: dir });
      await pipeline(Readable.from(recs), w);
      const label = `${records} records, uniqueItems ${uniqueItems}`;
      const runs = w.stats!.runs;
      tt.ok(passes ? runs > 16 : runs > 3 && runs <= 8, `${label}: ${runs} runs, ${passes ? 'more than one merge pass' : 'one merge'}`);
      const after = longListsInChunks();
      if (passes) tt.ok(after.renumbered - before.renumbered >= 2, `${label}: ${after.renumbered - before.renumbered} lists renumbered in chunks`);
      tt.ok(after.setAside - before.setAside >= 1, `${label}: short lists set aside ${after.setAside - before.setAside} times`);
      tt.equal(sha256(fs.readFileSync(out)), sha256(buildBuffer(recs, { uniqueItems })), `${label}: spilled = in memory`);
      checkAgainstModel(tt, out, model, label);
    }
  }
  tt.equal(fs.readdirSync(dir).filter((f) => !f.endsWith('.ddb')).length, 0, 'no temporary file left');
});

t.test('a large budget reserves the pairs once: they grow without a copy, counted as far as used', (tt) => {
  const budget = 96 * 1024 * 1024;
  const run = new RunBuffer(budget);
  const reserved = run.pairKey;
  tt.equal(reserved.length, budget / 8, 'reserved for the most pairs the budget holds');
  const ingest = new RecordIngest(run, () => tt.fail('no spill expected'));
  const r = rng(5);
  const model = new Map<string, Set<string>>();
  for (let i = 0; i < 60000; i++) {
    const key = `k${randInt(r, 3000)}`;
    const value = `v${randInt(r, 20000)}`;
    ingest.add({ key, value });
    if (!model.has(key)) model.set(key, new Set());
    model.get(key)!.add(value);
  }
  ingest.flush();
  tt.equal(run.pairKey, reserved, 'the same arrays: no copy');
  tt.ok(run.pairCap >= 60000 && run.pairCap < 2 * 60000, `counted capacity ${run.pairCap} follows the pairs`);
  tt.ok(run.allocated() <= run.bytes() && run.bytes() <= budget, 'within the footprint and the budget');
  const { start, ids } = run.groupByKey(true);
  let bad = 0;
  for (let k = 0; k < run.keys.n; k++) {
    const got = Array.from(ids.subarray(start[k]!, start[k + 1]!), (id) => run.values.view(id - 1).toString());
    const want = [...model.get(run.keys.view(k).toString())!].sort();
    if (got.sort().join() !== want.join()) bad++;
  }
  tt.equal(bad, 0, 'grouped as the model');
  tt.equal(run.freshWords, 0, 'grouped in the counted memory');
  tt.end();
});

t.test('a large run full of pairs spills grouping them in place, within its counted memory', (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-budget-test-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tmp = new TempDir(dir);
  // Reserved pair arrays grow without a copy up to the budget; then only the in-place grouping fits.
  const budget = 64 * 1024 * 1024;
  const run = new RunBuffer(budget);
  let inPlace: boolean | null = null;
  const ingest = new RecordIngest(run, () => {
    inPlace = run.spillGroupsInPlace();
    spillRun(run, tmp, false, ingest.records, 1 << 20);
    run.clear();
  });
  for (let i = 0; inPlace === null; i++) ingest.add({ key: `k${i % 50}`, value: `v${i % 37}` });
  tt.equal(inPlace, true, 'the full run was grouped in place');
  tt.ok(run.peakBytes <= budget, `peak ${run.peakBytes} ≤ budget ${budget}`);
  tt.equal(run.freshWords, 0, 'the spill took its scratch from the counted memory');
  tmp.cleanup();
  tt.end();
});

t.test('pairs grouped in place in steps (cycles longer than a step) = pairs scattered', (tt) => {
  // More pairs than a step's moves (2^18), keys in random order: the permutation's
  // cycles run through most pairs, so steps cut them and resume in mid-cycle.
  const build = (): RunBuffer => {
    const run = new RunBuffer(256 * 1024 * 1024);
    const ingest = new RecordIngest(run, () => tt.fail('no spill expected'));
    const r = rng(77);
    for (let i = 0; i < 700_000; i++) ingest.add({ key: `k${randInt(r, 200_000)}`, value: `v${randInt(r, 50_000)}` });
    ingest.flush();
    return run;
  };
  const a = build();
  const b = build();
  const steps = a.groupByKeySteps(false, undefined, true);
  let yields = 0;
  let step = steps.next();
  for (; step.done !== true; step = steps.next()) yields++;
  const inPlace = step.value;
  const scattered = b.groupByKey(false, undefined, false);
  tt.ok(yields > 4, `the grouping yielded ${yields} times`);
  tt.ok(Buffer.from(inPlace.start.buffer, inPlace.start.byteOffset, inPlace.start.byteLength).equals(Buffer.from(scattered.start.buffer, scattered.start.byteOffset, scattered.start.byteLength)), 'same key boundaries');
  tt.ok(Buffer.from(inPlace.ids.buffer, inPlace.ids.byteOffset, inPlace.ids.byteLength).equals(Buffer.from(scattered.ids.buffer, scattered.ids.byteOffset, scattered.ids.byteLength)), 'same ids');
  tt.end();
});
