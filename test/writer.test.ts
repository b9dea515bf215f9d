/**
 * The writer: byte-identity with the C library on the reference corpus (in
 * memory and with forced spills / multi-pass merges), random round trips through
 * the reader against a Map model, record validation, atomic output and cleanup.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { DiscoDB } from '../lib/discodb.js';
import { encodeDeltaList } from '../lib/format/deltalist.js';
import { ByteDict } from '../lib/writer/arena.js';
import { ListEncoder } from '../lib/writer/lists.js';
import { sortEntries } from '../lib/writer/sort.js';
import {
  DiscoDBWriter,
  buildBuffer,
  buildFile,
  parseMemoryLimit,
  resolveOptions,
  type WriterOptions,
  type WriterProgress,
} from '../lib/writer/index.js';
import { corpusCases, corpusInput, type CorpusCase } from './helpers/corpus.js';
import { randInt, rng } from './helpers/random.js';

const sha256 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** A fresh directory for one test's outputs and temporary files, removed at the end. */
function scratch(tt: TapTest): { dir: string; tmp: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-writer-test-'));
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, tmp };
}

/** The corpus records as writer records (key-only lines become `{ key }`). */
function records(c: CorpusCase): { key: Buffer; value?: Buffer }[] {
  return corpusInput(c).map((r) => (r.value === null ? { key: r.key } : { key: r.key, value: r.value }));
}

function flagOptions(c: CorpusCase): WriterOptions {
  const f = c.expected.build_flags_value as number;
  return { disableCompression: (f & 1) !== 0, uniqueItems: (f & 2) !== 0 };
}

const cases = corpusCases();
const inputs = new Map(cases.map((c) => [c.name, records(c)]));
const big = (c: CorpusCase): boolean => inputs.get(c.name)!.length > 10000;

t.test('memory limits parse', async (tt) => {
  tt.equal(parseMemoryLimit(undefined), 256 * 1024 * 1024);
  tt.equal(parseMemoryLimit('256M'), 256 * 1024 * 1024);
  tt.equal(parseMemoryLimit('1G'), 1024 ** 3);
  tt.equal(parseMemoryLimit('512k'), 512 * 1024);
  tt.equal(parseMemoryLimit('1.5GiB'), 1.5 * 1024 ** 3);
  tt.equal(parseMemoryLimit('64MB'), 64 * 1024 * 1024);
  tt.equal(parseMemoryLimit(' 100 '), 100);
  tt.equal(parseMemoryLimit(4096), 4096);
  for (const bad of ['', 'lots', '-1M', '1X', '0', 0, -5, Number.NaN, Infinity]) {
    tt.throws(() => parseMemoryLimit(bad as string | number), { code: 'ERR_DISCODB_ARGUMENT' }, String(bad));
  }
  tt.throws(() => parseMemoryLimit({} as unknown as string), { code: 'ERR_DISCODB_ARGUMENT' });
  tt.throws(() => resolveOptions({ uniqueItems: 1 as unknown as boolean }), { code: 'ERR_DISCODB_ARGUMENT' });
  tt.throws(() => resolveOptions({ tmpDir: '' }), { code: 'ERR_DISCODB_ARGUMENT' });
  tt.throws(() => new DiscoDBWriter(''), { code: 'ERR_DISCODB_ARGUMENT' });
  tt.throws(() => new DiscoDBWriter('x.ddb', { memoryLimit: 'huge' }), { code: 'ERR_DISCODB_ARGUMENT' });
  const r = resolveOptions(undefined);
  tt.same([r.uniqueItems, r.disableCompression, r.memoryLimit], [false, false, 256 * 1024 * 1024]);
});

t.test('corpus: byte-identical with the C library, in memory', async (tt) => {
  const { dir, tmp } = scratch(tt);
  for (const c of cases) {
    const out = path.join(dir, `${c.name}.ddb`);
    await buildFile(inputs.get(c.name)!, out, { ...flagOptions(c), tmpDir: tmp });
    tt.equal(sha256(fs.readFileSync(out)), c.expected.ddb_sha256, c.name);
    fs.rmSync(out);
  }
  tt.same(fs.readdirSync(tmp), [], 'no temporary files left');
  tt.same(fs.readdirSync(dir), ['tmp'], 'only the outputs were written, and no stray temp output');
});

t.test('corpus: byte-identical with forced spills and multi-pass merges', async (tt) => {
  const { dir, tmp } = scratch(tt);
  for (const c of cases) {
    // Tiny budgets make runs of a few records (dozens of runs, merged in several
    // passes of fan-in 8); the large cases spill several ~4 MiB runs.
    const limits = big(c) ? ['4M'] : [300, 2000];
    for (const memoryLimit of limits) {
      const out = path.join(dir, `${c.name}.ddb`);
      const w = new DiscoDBWriter(out, { ...flagOptions(c), memoryLimit, tmpDir: tmp });
      await pipeline(Readable.from(inputs.get(c.name)!), w);
      tt.equal(sha256(fs.readFileSync(out)), c.expected.ddb_sha256, `${c.name} @ ${memoryLimit}`);
      const n = inputs.get(c.name)!.length;
      if (n > 40 || big(c)) tt.ok(w.stats!.runs > 1, `${c.name} @ ${memoryLimit} spilled ${w.stats!.runs} runs`);
      tt.equal(w.stats!.size, c.expected.file_size);
      tt.equal(w.stats!.keys, c.expected.header.num_keys);
      tt.equal(w.stats!.uniqueValues, c.expected.header.num_uniq_values);
      tt.equal(w.stats!.values, c.expected.header.num_values);
      fs.rmSync(out);
    }
  }
  tt.same(fs.readdirSync(tmp), [], 'no temporary files left');
});

t.test('corpus: buildBuffer (synchronous, in memory)', async (tt) => {
  for (const c of cases) {
    if (c.name.startsWith('06e')) continue; // 1M records: the file builds above cover it
    const image = buildBuffer(inputs.get(c.name)!, flagOptions(c));
    tt.equal(sha256(image), c.expected.ddb_sha256, c.name);
  }
});

t.test('empty input, key-only records, empty and binary strings', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'e.ddb');
  await pipeline(Readable.from([]), new DiscoDBWriter(out, { tmpDir: tmp }));
  tt.equal(fs.statSync(out).size, 92, 'the empty db is 92 bytes');
  tt.equal(buildBuffer([]).length, 92);
  tt.equal(buildBuffer({}).length, 92);
  // §12.3: one empty key with one empty value.
  const one = buildBuffer([{ key: '', value: '' }]);
  tt.equal(one.length, 117);
  tt.equal(hex(one.subarray(88, 97)), '000000000100000020');
  const db = DiscoDB.fromBuffer(buildBuffer([{ key: 'a' }, ['b'], ['c', null], { key: 'd', values: [] }, { key: 'e', value: null }]));
  tt.same(db.keys().toArray(), ['a', 'b', 'c', 'd', 'e']);
  tt.equal(db.info().numUniqueValues, 0);
  tt.same(db.get('c').toArray(), []);
  const bin = DiscoDB.fromBuffer(buildBuffer([[Buffer.from([0, 255, 0]), Buffer.from([0xc3])]]), { encoding: 'buffer' });
  tt.same(bin.keys().toArray().map(hex), ['00ff00']);
  tt.same(bin.get(Buffer.from([0, 255, 0])).toArray().map(hex), ['c3']);
});

t.test('record shapes are equivalent to plain adds', async (tt) => {
  const shapes = [
    { key: 'mammals', values: ['cow', 'dog'] },
    ['mammals', 'cat'],
    ['pets', new Set(['dog', 'cat'])],
    { key: Buffer.from('pets'), value: Buffer.from('goldfish') },
    { key: 'aquatic', values: (function* () {
      yield 'goldfish';
      yield new TextEncoder().encode('whale');
    })() },
    { key: 'mammals', value: 'whale' },
    { key: 'none' },
    ['none2', []],
    { key: 'one', values: 'single' },
  ];
  const flat = [
    ['mammals', 'cow'], ['mammals', 'dog'], ['mammals', 'cat'], ['pets', 'dog'], ['pets', 'cat'], ['pets', 'goldfish'],
    ['aquatic', 'goldfish'], ['aquatic', 'whale'], ['mammals', 'whale'], ['none'], ['none2'], ['one', 'single'],
  ];
  tt.equal(hex(buildBuffer(shapes)), hex(buildBuffer(flat)));
  const obj = buildBuffer({ mammals: ['cow', 'dog'], pets: 'dog', none: null, empty: [] });
  const db = DiscoDB.fromBuffer(obj);
  tt.same(db.items().toArray().map(([k, v]) => [k, v.toArray()]), [['mammals', ['cow', 'dog']], ['pets', ['dog']], ['none', []], ['empty', []]]);
  const map = buildBuffer(new Map<string, string[]>([['mammals', ['cow', 'dog']], ['pets', ['dog']]]));
  tt.equal(hex(map), hex(buildBuffer({ mammals: ['cow', 'dog'], pets: ['dog'] })));
  // The C docs' animals example, Python insertion order: 226 bytes, spec §12.1.
  const animals = buildBuffer([
    ['mammals', ['cow', 'dog', 'cat', 'whale']],
    ['aquatic', ['goldfish', 'whale']],
    ['pets', ['dog', 'cat', 'goldfish']],
  ]);
  tt.equal(animals.length, 226);
  tt.equal(hex(animals.subarray(0x68, 0x79)), '070000006d616d6d616c7304000000e001');
});

t.test('bad records fail with ERR_DISCODB_INPUT naming the record', async (tt) => {
  const bad: [unknown, RegExp][] = [
    [null, /expected/],
    [42, /expected/],
    ['key', /expected/],
    [{ value: 'v' }, /key must be/],
    [{ key: NaN, value: 'v' }, /key must be/],
    [{ key: 'k', value: Infinity }, /value must be/],
    [{ key: 'k', value: Symbol('v') }, /value must be/],
    [{ key: 'k', value: ['a'] }, /use "values"/],
    [{ key: 'k', value: 'a', values: ['b'] }, /both/],
    [{ key: 'k', values: ['a', {}] }, /values\[1\]/],
    [{ key: 'k', values: NaN }, /values must be/],
    [[], /tuple/],
    [['k', 'v', 'w'], /tuple/],
    [[{}, 'v'], /key must be/],
  ];
  for (const [rec, msg] of bad) {
    tt.throws(() => buildBuffer([{ key: 'a', value: 'b' }, ['c', 'd'], rec]), { code: 'ERR_DISCODB_INPUT', record: 3, message: msg }, String(JSON.stringify(rec, (_k, v: unknown) => (typeof v === 'symbol' ? String(v) : v))));
  }
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'bad.ddb');
  fs.writeFileSync(out, 'previous contents');
  const recs: unknown[] = [];
  for (let i = 0; i < 5000; i++) recs.push({ key: `k${i % 300}`, value: `v${i}` });
  recs.push({ key: 'x', value: { not: 'a value' } });
  const w = new DiscoDBWriter(out, { memoryLimit: '16k', tmpDir: tmp });
  await tt.rejects(pipeline(Readable.from(recs), w), { code: 'ERR_DISCODB_INPUT', record: 5001 });
  tt.equal(fs.readFileSync(out, 'utf8'), 'previous contents', 'an existing file is untouched on failure');
  tt.same(fs.readdirSync(tmp), [], 'temporary runs removed');
  tt.same(fs.readdirSync(dir).sort(), ['bad.ddb', 'tmp']);
  await tt.rejects(buildFile(recs, out, { tmpDir: tmp }), { code: 'ERR_DISCODB_INPUT', record: 5001 });
  tt.same(fs.readdirSync(tmp), []);
  // Success replaces it.
  await buildFile(recs.slice(0, 10), out, { tmpDir: tmp });
  tt.equal(DiscoDB.open(out).keys().count(), 10);
  await tt.rejects(buildFile(recs, path.join(dir, 'no', 'such', 'dir', 'x.ddb'), { tmpDir: tmp }), { code: 'ERR_DISCODB_INPUT' });
  await tt.rejects(buildFile([], path.join(dir, 'no', 'such', 'dir', 'x.ddb'), { tmpDir: tmp }), { code: 'ERR_DISCODB_IO' });
  await tt.rejects(buildFile(42 as unknown as Iterable<unknown>, out), { code: 'ERR_DISCODB_ARGUMENT' });
  tt.same(fs.readdirSync(tmp), []);
});

t.test('destroy() leaves nothing behind', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'd.ddb');
  // During ingest, after spills.
  {
    const w = new DiscoDBWriter(out, { memoryLimit: '8k', tmpDir: tmp });
    for (let i = 0; i < 3000; i++) w.write({ key: `key${i}`, value: `value${i % 777}` });
    // (A worker thread spills asynchronously: wait for the first run.)
    await new Promise<void>((resolve) => {
      const check = (): unknown => (w.progress().runs > 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    tt.ok(w.progress().runs > 0, 'runs were spilled');
    tt.ok(fs.readdirSync(tmp).length > 0, 'temporary files exist meanwhile');
    const failed = new Promise((resolve) => w.once('error', resolve));
    w.destroy();
    tt.match(await failed, { code: 'ERR_DISCODB_ABORTED' });
    await new Promise((resolve) => (w.closed ? resolve(undefined) : w.once('close', resolve)));
    tt.same(fs.readdirSync(tmp), []);
    tt.notOk(fs.existsSync(out));
  }
  // During the build (merging), via the progress event.
  {
    const w = new DiscoDBWriter(out, { memoryLimit: '64k', tmpDir: tmp });
    const phases: string[] = [];
    let errored: unknown = null;
    w.on('error', (err) => (errored = err));
    w.on('progress', (p: WriterProgress) => {
      phases.push(p.phase);
      if (p.phase === 'merge') w.destroy();
    });
    for (let i = 0; i < 60000; i++) w.write([`key${i % 5000}`, `value${i}`]);
    w.end();
    await new Promise((resolve) => w.once('close', resolve));
    tt.ok(phases.includes('merge'));
    tt.notOk(phases.includes('done'));
    tt.match(errored, { code: 'ERR_DISCODB_ABORTED' }, 'destroy() before the end fails the stream with ERR_DISCODB_ABORTED');
    tt.same(fs.readdirSync(tmp), []);
    tt.same(fs.readdirSync(dir).sort(), ['tmp'], 'no output, no temp output');
  }
  // With an error: it is reported as is.
  {
    const w = new DiscoDBWriter(out, { tmpDir: tmp });
    w.write({ key: 'a', value: 'b' });
    const boom = new Error('boom');
    const seen = new Promise((resolve) => w.once('error', resolve));
    w.destroy(boom);
    tt.equal(await seen, boom);
    tt.same(fs.readdirSync(tmp), []);
    tt.notOk(fs.existsSync(out));
  }
});

t.test('progress events and stats', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'p.ddb');
  const events: WriterProgress[] = [];
  const w = new DiscoDBWriter(out, { memoryLimit: '32k', tmpDir: tmp });
  w.on('progress', (p: WriterProgress) => events.push(p));
  const recs = Array.from({ length: 20000 }, (_, i) => ({ key: `k${i % 1000}`, value: `v${i % 3000}` }));
  await pipeline(Readable.from(recs), w);
  const phases = [...new Set(events.map((e) => e.phase))];
  for (const p of ['ingest', 'spill', 'merge', 'write', 'hash', 'done'] as const) tt.ok(phases.includes(p), `phase ${p}`);
  const last = events[events.length - 1]!;
  tt.same({ phase: last.phase, records: last.records, items: last.items }, { phase: 'done', records: 20000, items: 20000 });
  tt.ok(last.bytes > 0 && last.runs > 1);
  tt.match(w.stats, { records: 20000, items: 20000, keys: 1000, uniqueValues: 3000, hashed: true, compressed: false, multiset: true });
  tt.equal(w.stats!.size, fs.statSync(out).size);
});

/**
 * Checks the `done`/`total` of the progress events: in each stint of a phase (consecutive
 * events of that phase), done only grows, done ≤ total, and the stint ends with
 * done === total. Returns the phases that reported how far they were.
 */
function checkPhaseProgress(tt: TapTest, events: WriterProgress[]): Set<string> {
  const reported = new Set<string>();
  let bad = '';
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.done === undefined || e.total === undefined) continue;
    reported.add(e.phase);
    const prev = events[i - 1];
    if (prev !== undefined && prev.phase === e.phase && prev.done !== undefined) {
      if (e.done < prev.done) bad ||= `${e.phase}: ${prev.done}/${prev.total} then ${e.done}/${e.total}`;
    }
    if (!(e.done >= 0 && e.done <= e.total)) bad ||= `${e.phase}: ${e.done}/${e.total}`;
    const next = events[i + 1];
    if ((next === undefined || next.phase !== e.phase) && e.done !== e.total) bad ||= `${e.phase} ended at ${e.done}/${e.total}`;
  }
  tt.equal(bad, '', 'done grows within a phase, never passes total, and reaches it at the end');
  const others = events.filter((e) => !['merge', 'hash', 'write'].includes(e.phase) && e.done !== undefined);
  tt.same(others, [], 'only merge, hash and write carry done/total');
  return reported;
}

t.test('progress events: done/total of the merge, hash and write phases', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const cases: { name: string; opts: WriterOptions; recs: () => Iterable<unknown> }[] = [
    // Spilled: a multi-pass merge (many runs), the hash, both write stints.
    { name: 'spilled', opts: { memoryLimit: '64k', tmpDir: tmp }, recs: () => Array.from({ length: 60000 }, (_, i) => ({ key: `k${i % 20000}`, value: `v${i}` })) },
    // Never spilled, Huffman-coded values (their coded size is not known ahead).
    {
      name: 'in memory, compressed',
      opts: { tmpDir: tmp },
      recs: function* () {
        const r = rng(7);
        for (let i = 0; i < 70000; i++) yield { key: `k${i % 5000}`, value: `value ${i} ${'abcdefgh'.repeat(8 + (r() % 8))}` };
      },
    },
  ];
  // threads 1: the merge, hash and write run on a worker, which posts the steps across.
  const runs = [0, 1].flatMap((threads) => cases.map((c) => ({ ...c, threads })));
  for (const c of runs) {
    const threads = c.threads;
    const out = path.join(dir, 'p.ddb');
    const events: WriterProgress[] = [];
    const w = new DiscoDBWriter(out, { ...c.opts, threads });
    w.on('progress', (p: WriterProgress) => events.push(p));
    await pipeline(Readable.from(c.recs()), w);
    tt.test(`${c.name}, threads ${threads}`, async (t2) => {
      const reported = checkPhaseProgress(t2, events);
      const want = c.name === 'spilled' ? ['hash', 'merge', 'write'] : ['hash', 'write'];
      t2.same([...reported].sort(), want, 'these phases said how far they were');
      const lastWrite = events.filter((e) => e.phase === 'write').at(-1)!;
      t2.equal(lastWrite.total, fs.statSync(out).size, 'the write phase ends at the image size');
      if (c.name !== 'spilled') t2.ok(w.stats!.compressed, 'values were compressed');
      else t2.ok(w.stats!.runs > 64, `${w.stats!.runs} runs: more than one merge pass`);
    });
  }
});

/** The C library's semantics as a plain model: key order, value ids, sorted lists. */
function model(adds: [Buffer, Buffer | null][], unique: boolean) {
  const valueId = new Map<string, number>();
  const uniq: string[] = [];
  const keys = new Map<string, number[]>();
  for (const [k, v] of adds) {
    const kh = hex(k);
    if (!keys.has(kh)) keys.set(kh, []);
    if (v === null) continue;
    const vh = hex(v);
    let id = valueId.get(vh);
    if (id === undefined) {
      id = uniq.length;
      valueId.set(vh, id);
      uniq.push(vh);
    }
    keys.get(kh)!.push(id);
  }
  const items = new Map<string, string[]>();
  for (const [k, ids] of keys) {
    let s = [...ids].sort((a, b) => a - b);
    if (unique) s = s.filter((x, i) => i === 0 || s[i - 1] !== x);
    items.set(k, s.map((i) => uniq[i]!));
  }
  return { keyOrder: [...keys.keys()], items, uniq };
}

function randomBytes(r: () => number, maxLen: number, alphabet: number): Buffer {
  const len = randInt(r, maxLen + 1);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = alphabet >= 256 ? randInt(r, 256) : [0, 1, 0x61, 0xff, 0x80][randInt(r, alphabet)]!;
  return b;
}

function checkAgainstModel(tt: TapTest, image: Uint8Array, adds: [Buffer, Buffer | null][], unique: boolean, label: string): void {
  const m = model(adds, unique);
  const db = DiscoDB.fromBuffer(image, { encoding: 'buffer' });
  const keys = db.keys().toArray().map(hex);
  if (m.keyOrder.length <= 25) tt.same(keys, m.keyOrder, `${label}: key order`);
  else tt.same([...keys].sort(), [...m.keyOrder].sort(), `${label}: keys`);
  tt.same(db.uniqueValues().toArray().map(hex), m.uniq, `${label}: unique values in first-appearance order`);
  let ok = true;
  for (const [k, vs] of m.items) {
    const got = db.get(Buffer.from(k, 'hex')).toArray().map(hex);
    if (JSON.stringify(got) !== JSON.stringify(vs)) {
      ok = false;
      tt.same(got, vs, `${label}: values of ${k}`);
      break;
    }
  }
  tt.ok(ok, `${label}: every key's values`);
  tt.notOk(db.has(Buffer.from('not a key at all, surely')), `${label}: a missing key`);
}

t.test('random round trips against a Map model; spilled bytes = in-memory bytes', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(20240611);
  for (let round = 0; round < 12; round++) {
    const n = 200 + randInt(r, 4000);
    const nKeys = 1 + randInt(r, round % 3 === 0 ? 24 : 2000);
    const nVals = 1 + randInt(r, 3000);
    const keyPool = Array.from({ length: nKeys }, () => randomBytes(r, 1 + randInt(r, 12), round % 2 ? 256 : 5));
    const valPool = Array.from({ length: nVals }, () => randomBytes(r, randInt(r, 20), round % 2 ? 256 : 5));
    const adds: [Buffer, Buffer | null][] = [];
    for (let i = 0; i < n; i++) adds.push([keyPool[randInt(r, nKeys)]!, r() < 0.05 ? null : valPool[randInt(r, nVals)]!]);
    const opts = { uniqueItems: r() < 0.5, disableCompression: r() < 0.5 };
    const recs = adds.map(([key, value]) => (value === null ? { key } : { key, value }));
    const label = `round ${round}: ${n} adds, ${nKeys} key pool, ${JSON.stringify(opts)}`;
    const a = path.join(dir, 'a.ddb');
    const b = path.join(dir, 'b.ddb');
    await buildFile(recs, a, { ...opts, tmpDir: tmp });
    const w = new DiscoDBWriter(b, { ...opts, memoryLimit: 1000 + randInt(r, 20000), tmpDir: tmp });
    await pipeline(Readable.from(recs), w);
    const imageA = fs.readFileSync(a);
    tt.ok(w.stats!.runs > 1, `${label}: spilled ${w.stats!.runs} runs`);
    tt.equal(sha256(fs.readFileSync(b)), sha256(imageA), `${label}: spilled = in memory`);
    tt.equal(sha256(buildBuffer(recs, opts)), sha256(imageA), `${label}: buildBuffer = file`);
    checkAgainstModel(tt, imageA, adds, opts.uniqueItems, label);
  }
  tt.same(fs.readdirSync(tmp), []);
});

t.test('spilled: lists longer than the I/O buffer, a record larger than the window', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(99);
  const hugeKey = Buffer.alloc(3 * 1024 * 1024, 0x41); // a 3 MiB key: its record exceeds the 1 MiB window
  const adds: [Buffer, Buffer | null][] = [];
  for (let i = 0; i < 60000; i++) {
    // 'long' gets ~40k values (repeats included: zero deltas across the chunks of a multiset list).
    const key = i % 3 === 0 ? 'other' + randInt(r, 2000) : 'long';
    adds.push([Buffer.from(key), Buffer.from(`v${randInt(r, 30000)}`)]);
    if (i % 10000 === 0) adds.push([hugeKey, Buffer.from(`h${i}`)]);
  }
  const recs = adds.map(([key, value]) => ({ key, value: value! }));
  for (const uniqueItems of [false, true]) {
    const out = path.join(dir, `l${uniqueItems}.ddb`);
    const w = new DiscoDBWriter(out, { memoryLimit: '256k', tmpDir: tmp, uniqueItems });
    await pipeline(Readable.from(recs), w);
    tt.ok(w.stats!.runs > 1, `spilled ${w.stats!.runs} runs`);
    const image = fs.readFileSync(out);
    tt.equal(sha256(image), sha256(buildBuffer(recs, { uniqueItems })), `uniqueItems ${uniqueItems}: spilled = in memory`);
    checkAgainstModel(tt, image, adds, uniqueItems, `uniqueItems ${uniqueItems}`);
  }
  tt.same(fs.readdirSync(tmp), []);
});

t.test('spilled: one key whose list in each run is longer than the merge buffer', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(4242);
  const adds: [Buffer, Buffer | null][] = [];
  for (let i = 0; i < 400_000; i++) {
    const key = i % 50 === 0 ? `k${randInt(r, 300)}` : 'one';
    adds.push([Buffer.from(key), Buffer.from(`v${i % 7 === 0 ? randInt(r, 500) : randInt(r, 60000)}`)]);
  }
  const recs = adds.map(([key, value]) => ({ key, value: value! }));
  for (const uniqueItems of [false, true]) {
    const out = path.join(dir, `o${uniqueItems}.ddb`);
    const w = new DiscoDBWriter(out, { memoryLimit: '2M', tmpDir: tmp, uniqueItems });
    await pipeline(Readable.from(recs), w);
    tt.ok(w.stats!.runs > 2, `spilled ${w.stats!.runs} runs`);
    const image = fs.readFileSync(out);
    tt.equal(sha256(image), sha256(buildBuffer(recs, { uniqueItems })), `uniqueItems ${uniqueItems}: spilled = in memory`);
    checkAgainstModel(tt, image, adds, uniqueItems, `uniqueItems ${uniqueItems}`);
  }
  tt.same(fs.readdirSync(tmp), []);
});

t.test('a compressed value larger than the write buffer (coded through it)', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(123);
  const words = Array.from({ length: 50 }, () => Buffer.from(Array.from({ length: 6 }, () => randInt(r, 256))));
  const parts: Buffer[] = [];
  for (let i = 0; i < 1_200_000; i++) parts.push(i % 4 === 0 ? Buffer.of(randInt(r, 256)) : words[randInt(r, 50)]!);
  const big = Buffer.concat(parts); // ~5.7 MB: compressed, and more than the 4 MiB buffer
  const adds: [Buffer, Buffer | null][] = [
    [Buffer.from('big'), big],
    [Buffer.from('small'), Buffer.from('a small value')],
    [Buffer.from('big'), Buffer.from('after it')],
  ];
  const out = path.join(dir, 'big.ddb');
  await buildFile(adds.map(([key, value]) => ({ key, value: value! })), out, { tmpDir: tmp });
  const image = fs.readFileSync(out);
  tt.ok(DiscoDB.fromBuffer(image).info().compressed, 'compressed');
  tt.ok(image.length < big.length, 'smaller than the value');
  checkAgainstModel(tt, image, adds, false, 'big value');
});

t.test('random round trip with compression (≥ 5 MiB of distinct values)', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(77);
  const adds: [Buffer, Buffer | null][] = [];
  const words = Array.from({ length: 200 }, () => Buffer.from(Array.from({ length: 8 }, () => randInt(r, 256))));
  for (let i = 0; i < 80000; i++) {
    // ~70 bytes: a unique counter, then 8-byte words (repeated 4-grams, so the code is not trivial).
    const parts = [Buffer.from(String(i))];
    for (let j = 0; j < 8; j++) parts.push(words[randInt(r, 200)]!);
    adds.push([Buffer.from(`key${randInt(r, 3000)}`), Buffer.concat(parts)]);
  }
  const recs = adds.map(([key, value]) => ({ key, value: value! }));
  const out = path.join(dir, 'c.ddb');
  await buildFile(recs, out, { tmpDir: tmp });
  const image = fs.readFileSync(out);
  const db = DiscoDB.fromBuffer(image);
  tt.ok(db.info().compressed, 'compressed');
  checkAgainstModel(tt, image, adds, false, 'compressed');
  const spilled = path.join(dir, 'c2.ddb');
  const w = new DiscoDBWriter(spilled, { memoryLimit: '1M', tmpDir: tmp });
  await pipeline(Readable.from(recs), w);
  tt.ok(w.stats!.runs > 1);
  tt.equal(sha256(fs.readFileSync(spilled)), sha256(image), 'spilled = in memory');
  tt.same(fs.readdirSync(tmp), []);
});

t.test('entries larger than the budget and the buffers; one key with many values', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(9);
  const adds: [Buffer, Buffer | null][] = [];
  const huge = (n: number, seed: number): Buffer => Buffer.alloc(n, seed);
  for (let i = 0; i < 40; i++) adds.push([Buffer.from(`k${i % 7}`), huge(100_000 + randInt(r, 300_000), i % 13)]);
  adds.push([huge(200_000, 1), huge(5, 2)]);
  adds.push([huge(200_000, 1), null]);
  for (let i = 0; i < 30000; i++) adds.push([Buffer.from('hot'), Buffer.from(`v${randInt(r, 20000)}`)]);
  const recs = adds.map(([key, value]) => (value === null ? { key } : { key, value }));
  const a = path.join(dir, 'a.ddb');
  await buildFile(recs, a, { tmpDir: tmp });
  for (const memoryLimit of [20_000, '256k']) {
    const w = new DiscoDBWriter(path.join(dir, 'b.ddb'), { memoryLimit, tmpDir: tmp });
    await pipeline(Readable.from(recs), w);
    tt.ok(w.stats!.runs > 10, `${w.stats!.runs} runs`);
    tt.equal(sha256(fs.readFileSync(path.join(dir, 'b.ddb'))), sha256(fs.readFileSync(a)), `spilled at ${memoryLimit} = in memory`);
  }
  checkAgainstModel(tt, fs.readFileSync(a), adds, false, 'large entries');
  tt.same(fs.readdirSync(tmp), []);
});

t.test('the writer is a proper Writable: backpressure-friendly, _writev, async sources', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'w.ddb');
  async function* source(): AsyncGenerator<[string, string]> {
    for (let i = 0; i < 5000; i++) {
      if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
      yield [`k${i % 100}`, `v${i % 250}`];
    }
  }
  await pipeline(source, new DiscoDBWriter(out, { uniqueItems: true, tmpDir: tmp }));
  const db = DiscoDB.open(out);
  tt.equal(db.keys().count(), 100);
  tt.equal(db.info().numValues, 100 * 5, 'key k gets v(k + 100j mod 250): 5 distinct values');
  tt.notOk(db.info().multiset);
  // cork/uncork batches through _writev.
  const w = new DiscoDBWriter(path.join(dir, 'v.ddb'), { tmpDir: tmp });
  w.cork();
  for (let i = 0; i < 100; i++) w.write({ key: `k${i}`, value: 'v' });
  w.uncork();
  w.end();
  await new Promise((resolve) => w.once('finish', resolve));
  tt.equal(DiscoDB.open(path.join(dir, 'v.ddb')).keys().count(), 100);
  // buildFile takes async iterables and object-mode Readables.
  await buildFile(Readable.from(source()), path.join(dir, 'x.ddb'), { uniqueItems: true, tmpDir: tmp });
  tt.equal(sha256(fs.readFileSync(path.join(dir, 'x.ddb'))), sha256(fs.readFileSync(out)));
});

t.test('building blocks', async (tt) => {
  const r = rng(5);
  // The allocation-free list encoder writes what encodeDeltaList writes.
  const enc = new ListEncoder(false);
  const encU = new ListEncoder(true);
  for (let i = 0; i < 3000; i++) {
    const n = 1 + randInt(r, 40);
    const span = [10, 1000, 2 ** 20, 2 ** 26, 2 ** 32 - 2][i % 5]!;
    const ids = Array.from({ length: n }, () => 1 + randInt(r, span)).sort((a, b) => a - b);
    if (i % 7 === 0) ids.push(ids[ids.length - 1]!);
    for (const [e, unique] of [[enc, false], [encU, true]] as const) {
      const ref = encodeDeltaList(ids, unique);
      e.measure(ids, 0, ids.length);
      const out = new Uint8Array(e.bytes + 2).fill(0xaa);
      const end = e.write(ids, 0, ids.length, out, 1);
      if (end !== 1 + ref.bytes.length || hex(out.subarray(1, end)) !== hex(ref.bytes) || e.count !== ref.count || e.dup !== ref.hasDuplicate) {
        tt.fail(`list ${ids.join(',')} unique=${unique}`);
        return;
      }
    }
  }
  tt.pass('3000 lists encode like encodeDeltaList');
  // Fed in chunks (the long lists of a spilled build), it writes the same bytes.
  for (let i = 0; i < 1000; i++) {
    const n = 1 + randInt(r, 300);
    const span = [10, 1000, 2 ** 20, 2 ** 26, 2 ** 32 - 2][i % 5]!;
    const ids = Array.from({ length: n }, () => 1 + randInt(r, span)).sort((a, b) => a - b);
    if (i % 3 === 0) for (let k = 0; k < 5; k++) ids.splice(randInt(r, ids.length), 0, ids[randInt(r, ids.length)]!);
    ids.sort((a, b) => a - b);
    const chunk = 1 + randInt(r, 40);
    for (const [e, unique] of [[enc, false], [encU, true]] as const) {
      const ref = encodeDeltaList(ids, unique);
      e.measureBegin();
      for (let s0 = 0; s0 < ids.length; s0 += chunk) e.measureFeed(ids, s0, Math.min(ids.length, s0 + chunk));
      e.measureEnd();
      const out = new Uint8Array(e.bytes + 64);
      let o = 0;
      e.writeBegin();
      for (let s0 = 0; s0 < ids.length; s0 += chunk) o = e.writeFeed(ids, s0, Math.min(ids.length, s0 + chunk), out, o);
      o = e.writeEnd(out, o);
      if (o !== ref.bytes.length || hex(out.subarray(0, o)) !== hex(ref.bytes) || e.count !== ref.count || e.dup !== ref.hasDuplicate) {
        tt.fail(`chunked list ${ids.join(',')} unique=${unique} chunk=${chunk}`);
        return;
      }
    }
  }
  tt.pass('1000 lists fed in chunks encode like encodeDeltaList');
  // Byte-order sort of dictionary entries.
  for (const [n, maxLen, alphabet] of [[3000, 3, 5], [20000, 14, 5], [5000, 30, 256], [400, 9, 2]] as const) {
    const d = new ByteDict(1 << 15, 1 << 20);
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const b = randomBytes(r, maxLen, alphabet);
      if (maxLen > 12 && i % 3 === 0) b.write('common-prefix-', 0);
      if (d.used + b.length > d.arena.length || d.n >= d.cap) break;
      d.internBytes(b);
      seen.add(hex(b));
    }
    const got = Array.from(sortEntries(d), (i) => hex(d.view(i)));
    const want = [...seen].map((h) => Buffer.from(h, 'hex')).sort(Buffer.compare).map(hex);
    tt.same(got, want, `sorted ${seen.size} strings`);
  }
});
