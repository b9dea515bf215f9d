/**
 * One-thread file builds spill in steps between turns of the event loop: `add`
 * holds back the rest of a record that fills the run, the run is spilled, and the
 * rest is staged after. The output must be the bytes of the in-memory build whatever
 * the record shapes — a `{ key, values }` record whose values fill the run once or
 * several times over, tuples, key-only records, byte keys — through a stream
 * (`DiscoDBWriter`, `_write` and `_writev`) and through `buildFile` from sync and
 * async iterables.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { DiscoDB } from '../lib/discodb.js';
import { setSteppedRehashSlots } from '../lib/writer/arena.js';
import { DiscoDBWriter, buildBuffer, buildFile, type WriterProgress, type WriterRecord } from '../lib/writer/index.js';
import { randBetween, rng } from './helpers/random.js';
import { checkAgainstModel } from './helpers/model.js';

const sha256 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');

/** Records of mixed shapes; some carry hundreds to thousands of values. */
function records(seed: number, n: number): WriterRecord[] {
  const r = rng(seed);
  const out: WriterRecord[] = [];
  for (let i = 0; i < n; i++) {
    const key = `k${randBetween(r, 0, 400)}`;
    const pick = randBetween(r, 0, 10);
    if (pick === 0) {
      const values = Array.from({ length: randBetween(r, 200, 4000) }, () => `v${randBetween(r, 0, 20000)}-${'x'.repeat(randBetween(r, 0, 6))}`);
      out.push({ key, values });
    } else if (pick === 1) out.push([Buffer.from(key), `t${randBetween(r, 0, 500)}`]);
    else if (pick === 2) out.push({ key });
    else if (pick === 3) out.push([key, [`a${randBetween(r, 0, 50)}`, `b${randBetween(r, 0, 50)}`]]);
    else out.push({ key, value: `v${randBetween(r, 0, 3000)}` });
  }
  return out;
}

/** What the records say each key holds (values in any order). */
function model(recs: WriterRecord[], uniqueItems: boolean): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const add = (k: unknown, v: unknown): void => {
    const key = Buffer.isBuffer(k) ? k.toString() : String(k);
    const list = m.get(key) ?? [];
    if (v !== null && v !== undefined && !(uniqueItems && list.includes(String(v)))) list.push(String(v));
    m.set(key, list);
  };
  for (const rec of recs) {
    const o = rec as { key?: unknown; value?: unknown; values?: unknown };
    const [k, slot] = Array.isArray(rec) ? [rec[0], rec[1]] : 'values' in o ? [o.key, o.values] : [o.key, o.value];
    if (Array.isArray(slot)) {
      if (slot.length === 0) add(k, null);
      for (const v of slot) add(k, v);
    } else add(k, slot);
  }
  return m;
}

t.test('stepped spills: a record that fills the run is held back and staged after the spill', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-stepped-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [seed, uniqueItems, memoryLimit] of [
    [1, false, 24000],
    [2, true, 24000],
    [3, false, 60000],
  ] as const) {
    const recs = records(seed, 600);
    const want = sha256(buildBuffer(recs, { uniqueItems }));
    const label = `seed ${seed}, uniqueItems ${uniqueItems}, memoryLimit ${memoryLimit}`;

    // A stream, one record per write (`_write`) ...
    const a = path.join(dir, `a${seed}.ddb`);
    const w = new DiscoDBWriter(a, { memoryLimit, uniqueItems, tmpDir: dir, threads: 0 });
    const phases: string[] = [];
    w.on('progress', (p: WriterProgress) => phases.push(p.phase));
    await pipeline(Readable.from(recs), w);
    tt.ok(w.stats!.runs > 5, `${label}: ${w.stats!.runs} runs`);
    tt.ok(phases.filter((p) => p === 'spill').length >= w.stats!.runs - 1, `${label}: a spill phase per run spilled during ingest`);
    tt.equal(sha256(fs.readFileSync(a)), want, `${label}: stream = in memory`);
    tt.equal(w.stats!.records, recs.length, `${label}: every record counted once`);

    // ... many records per write (`_writev`: the writer corked, then uncorked) ...
    const b = path.join(dir, `b${seed}.ddb`);
    const wv = new DiscoDBWriter(b, { memoryLimit, uniqueItems, tmpDir: dir, threads: 0 });
    const finished = new Promise<void>((resolve, reject) => {
      wv.on('finish', resolve);
      wv.on('error', reject);
    });
    wv.cork();
    for (const rec of recs) wv.write(rec);
    wv.uncork();
    wv.end();
    await finished;
    tt.equal(sha256(fs.readFileSync(b)), want, `${label}: corked writes = in memory`);

    // ... and buildFile from a sync and an async iterable.
    const c = path.join(dir, `c${seed}.ddb`);
    await buildFile(recs, c, { memoryLimit, uniqueItems, tmpDir: dir, threads: 0 });
    tt.equal(sha256(fs.readFileSync(c)), want, `${label}: buildFile(iterable) = in memory`);
    const d = path.join(dir, `d${seed}.ddb`);
    await buildFile(Readable.from(recs), d, { memoryLimit, uniqueItems, tmpDir: dir, threads: 0 });
    tt.equal(sha256(fs.readFileSync(d)), want, `${label}: buildFile(async iterable) = in memory`);
    checkAgainstModel(tt, a, model(recs, uniqueItems), label);
  }
  tt.same(fs.readdirSync(dir).filter((f) => !f.endsWith('.ddb')), [], 'no temporary files left');
  tt.end();
});

t.test('stepped spills: one record with more values than several runs hold', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-stepped-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const values = Array.from({ length: 30000 }, (_, i) => `value-${i % 9000}`);
  const recs: WriterRecord[] = [{ key: 'first', value: 'x' }, { key: 'big', values }, { key: 'last', values: ['y', 'z'] }];
  const out = path.join(dir, 'big.ddb');
  const w = new DiscoDBWriter(out, { memoryLimit: 16000, tmpDir: dir, threads: 0 });
  await pipeline(Readable.from(recs), w);
  tt.ok(w.stats!.runs >= 3, `${w.stats!.runs} runs for one record`);
  tt.equal(w.stats!.items, values.length + 3, 'every value counted once');
  tt.equal(sha256(fs.readFileSync(out)), sha256(buildBuffer(recs)), 'bytes of the in-memory build');
  const db = DiscoDB.open(out);
  tt.equal(db.get('big').count(), values.length, 'the long list whole');
  tt.same([...db.get('last')].map(String), ['y', 'z'], 'the record after it');
  db.close();
  tt.end();
});

t.test('stepped spills: destroy() during a spill fails the stream and leaves no file', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-stepped-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'gone.ddb');
  const w = new DiscoDBWriter(out, { memoryLimit: 16000, tmpDir: dir, threads: 0 });
  w.on('progress', (p: WriterProgress) => {
    if (p.phase === 'spill' && p.runs === 2) setImmediate(() => w.destroy());
  });
  const err = await pipeline(Readable.from(records(9, 2000)), w).then(
    () => null,
    (e: unknown) => e as { code?: string },
  );
  tt.equal(err?.code, 'ERR_DISCODB_ABORTED', 'the pipeline rejects with ERR_DISCODB_ABORTED');
  tt.same(fs.readdirSync(dir), [], 'nothing at the target, no temporary files');
  tt.end();
});

t.test('stepped builds rehash large tables in steps: the record waits, the bytes stay', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-stepped-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Tables of more than 64 slots are rehashed in steps, so every doubling past them goes
  // through the held-record path (with and without spills).
  const was = setSteppedRehashSlots(64);
  tt.teardown(() => setSteppedRehashSlots(was));
  for (const memoryLimit of [64000, 4 * 1024 * 1024]) {
    const recs = records(11, 3000);
    const want = sha256(buildBuffer(recs));
    const out = path.join(dir, `grow-${memoryLimit}.ddb`);
    const w = new DiscoDBWriter(out, { memoryLimit, tmpDir: dir, threads: 0 });
    await pipeline(Readable.from(recs), w);
    tt.equal(sha256(fs.readFileSync(out)), want, `memoryLimit ${memoryLimit} (${w.stats!.runs} runs): bytes of the in-memory build`);
    tt.equal(w.stats!.records, recs.length, `memoryLimit ${memoryLimit}: every record counted once`);
    const viaFile = path.join(dir, `grow-file-${memoryLimit}.ddb`);
    await buildFile(recs, viaFile, { memoryLimit, tmpDir: dir, threads: 0 });
    tt.equal(sha256(fs.readFileSync(viaFile)), want, `memoryLimit ${memoryLimit}: buildFile, the same bytes`);
    checkAgainstModel(tt, out, model(recs, false), `memoryLimit ${memoryLimit}`);
  }
  tt.end();
});
