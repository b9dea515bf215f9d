/**
 * The threaded writer (issue 9): byte identity with the C library on every corpus case
 * with threads 0, 1 and 2, in memory and with forced spills through the workers; a
 * random model test through the threaded path; a worker that throws fails the build
 * with a DiscoDBError and leaves nothing; destroy() in every phase terminates the workers.
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
import { DiscoDBWriter, buildBuffer, buildFile, type WriterPhase, type WriterProgress } from '../lib/writer/index.js';
import { BatchEncoder, type BatchBuffers } from '../lib/writer/batch.js';
import { hashesBuiltElsewhere } from '../lib/writer/threaded-build.js';
import { liveThreads, threadTestHooks } from '../lib/writer/threads.js';
import { corpusCases, corpusInput } from './helpers/corpus.js';
import { randBetween, rng } from './helpers/random.js';

const sha256 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');

/** Waits for the idle threads of earlier tests to stop (after 5 idle seconds), so that a count of live threads is this test's. */
async function noIdleThreads(): Promise<void> {
  for (let i = 0; i < 80 && liveThreads() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
}

type Rec = { key: string | Uint8Array; value?: string | Uint8Array };

/**
 * Streams `recs` into a one-worker build at each limit, with and without uniqueItems: each
 * output must be the one-thread in-memory image; `also` then tries another path to `out`.
 */
async function sameBytesThroughWorker(
  tt: TapTest,
  recs: Rec[],
  out: string,
  tmpDir: string,
  limits: string[],
  also?: (out: string, opts: { uniqueItems: boolean; memoryLimit: string; tmpDir: string }, expected: Buffer) => Promise<void>,
): Promise<void> {
  for (const uniqueItems of [false, true]) {
    const expected = buildBuffer(recs, { uniqueItems });
    for (const memoryLimit of limits) {
      const w = new DiscoDBWriter(out, { uniqueItems, memoryLimit, threads: 1, tmpDir });
      await pipeline(Readable.from(recs), w);
      tt.ok(fs.readFileSync(out).equals(expected), `stream, uniqueItems ${uniqueItems} @ ${memoryLimit}: same bytes (${w.stats!.runs} runs)`);
      tt.equal(w.stats!.records, recs.length);
      await also?.(out, { uniqueItems, memoryLimit, tmpDir }, expected);
    }
  }
}

function scratch(tt: TapTest): { dir: string; tmp: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-threads-'));
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, tmp };
}

t.test('corpus: byte-identical with threads 0, 1 and 2, in memory and with spills through the workers', async (tt) => {
  const { dir, tmp } = scratch(tt);
  for (const c of corpusCases()) {
    const recs = corpusInput(c).map((r) => (r.value === null ? { key: r.key } : { key: r.key, value: r.value }));
    const f = c.expected.build_flags_value as number;
    const flags = { disableCompression: (f & 1) !== 0, uniqueItems: (f & 2) !== 0 };
    const limits = recs.length > 10000 ? ['256M', '4M'] : ['256M', '3000'];
    for (const threads of [0, 1, 2]) {
      for (const memoryLimit of limits) {
        const out = path.join(dir, `${c.name}.ddb`);
        const w = new DiscoDBWriter(out, { ...flags, memoryLimit, threads, tmpDir: tmp });
        await pipeline(Readable.from(recs), w);
        tt.equal(sha256(fs.readFileSync(out)), c.expected.ddb_sha256, `${c.name} threads ${threads} @ ${memoryLimit} (${w.stats!.runs} runs)`);
        if (memoryLimit !== '256M' && threads > 0 && recs.length > 40) tt.ok(w.stats!.runs > 1, `${c.name} threads ${threads} @ ${memoryLimit} spilled`);
        fs.rmSync(out);
      }
    }
  }
  tt.same(fs.readdirSync(tmp), [], 'no temporary files left');
  tt.same(fs.readdirSync(dir), ['tmp']);
});

t.test('random data through the threaded path = the one-thread in-memory image, and the reader agrees with a model', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(20261202);
  for (let round = 0; round < 6; round++) {
    const model = new Map<string, string[]>();
    const recs: { key: string; value?: string }[] = [];
    const nk = randBetween(r, 1, 3000);
    const n = randBetween(r, 1, 20000);
    for (let i = 0; i < n; i++) {
      const key = `k${randBetween(r, 0, nk)}`;
      if (randBetween(r, 0, 20) === 0) {
        recs.push({ key });
        if (!model.has(key)) model.set(key, []);
      } else {
        const value = `v${randBetween(r, 0, 5000)}`.repeat(randBetween(r, 1, 4));
        recs.push({ key, value });
        const l = model.get(key) ?? [];
        l.push(value);
        model.set(key, l);
      }
    }
    const uniqueItems = round % 2 === 1;
    const expected = buildBuffer(recs, { uniqueItems });
    const out = path.join(dir, `r${round}.ddb`);
    await buildFile(recs, out, { uniqueItems, threads: 1 + (round % 2), memoryLimit: randBetween(r, 2000, 200000), tmpDir: tmp });
    tt.ok(fs.readFileSync(out).equals(expected), `round ${round}: same bytes`);
    const db = DiscoDB.open(out);
    tt.equal(db.size, model.size);
    for (const [k, vs] of [...model].slice(0, 200)) {
      const want = uniqueItems ? [...new Set(vs)] : vs;
      tt.same(db.get(k).toArray().sort(), [...want].sort(), `round ${round}: ${k}`);
    }
    db.close();
  }
  tt.same(fs.readdirSync(tmp), []);
});

/** Records that spill several runs at `64k` and hash (> 25 keys). */
function records(n: number): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i < n; i++) out.push({ key: `key${i % 3000}`, value: `value${i}` });
  return out;
}

t.test('a worker that throws fails the build with a DiscoDBError and leaves nothing', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'w.ddb');
  fs.writeFileSync(out, 'previous');
  const faults: [string, () => void][] = [
    ['spill', () => (threadTestHooks.failSpill = true)],
    ['merge', () => (threadTestHooks.failAt = 'merge')],
    ['hash', () => (threadTestHooks.failAt = 'hash')],
    ['write', () => (threadTestHooks.failAt = 'write')],
  ];
  for (const [where, arm] of faults) {
    // 64k: an external hash on the worker; 256k: spilled, the hash on the other thread; 256M: in memory, likewise.
    for (const memoryLimit of where === 'spill' || where === 'merge' ? ['64k'] : ['64k', '256k', '256M']) {
      arm();
      try {
        await tt.rejects(
          pipeline(Readable.from(records(20000)), new DiscoDBWriter(out, { memoryLimit, threads: 2, tmpDir: tmp })),
          { name: 'DiscoDBError', code: 'ERR_DISCODB_WORKER', message: new RegExp(`injected failure.*${where === 'spill' ? 'spill' : where}`) },
          `${where} @ ${memoryLimit}`,
        );
      } finally {
        threadTestHooks.failSpill = false;
        threadTestHooks.failAt = null;
      }
      tt.same(fs.readdirSync(tmp), [], `${where} @ ${memoryLimit}: no spill files`);
      tt.same(fs.readdirSync(dir).sort(), ['tmp', 'w.ddb'], `${where} @ ${memoryLimit}: no temp output`);
      tt.equal(fs.readFileSync(out, 'utf8'), 'previous', `${where} @ ${memoryLimit}: target untouched`);
    }
  }
  // The next build works.
  await buildFile(records(100), out, { threads: 2, tmpDir: tmp });
  tt.equal(DiscoDB.open(out).size, 100);
});

t.test('destroy() in every phase of a threaded build rejects, removes every temp file and terminates the workers', async (tt) => {
  const { dir, tmp } = scratch(tt);
  await noIdleThreads();
  const out = path.join(dir, 'd.ddb');
  const cases: { phase: WriterPhase; memoryLimit: string }[] = [
    { phase: 'spill', memoryLimit: '64k' },
    { phase: 'merge', memoryLimit: '64k' },
    { phase: 'hash', memoryLimit: '64k' },
    { phase: 'write', memoryLimit: '64k' },
    { phase: 'hash', memoryLimit: '256k' },
    { phase: 'write', memoryLimit: '256k' },
    { phase: 'hash', memoryLimit: '256M' },
    { phase: 'write', memoryLimit: '256M' },
  ];
  for (const c of cases) {
    const label = `${c.phase} @ ${c.memoryLimit}`;
    const w = new DiscoDBWriter(out, { memoryLimit: c.memoryLimit, threads: 2, tmpDir: tmp });
    w.on('progress', (p: WriterProgress) => {
      if (p.phase === c.phase && !w.destroyed && (c.phase !== 'spill' || p.runs > 1)) w.destroy();
    });
    await tt.rejects(pipeline(Readable.from(records(20000)), w), { code: 'ERR_DISCODB_ABORTED' }, label);
    await new Promise((resolve) => (w.closed ? resolve(undefined) : w.once('close', resolve)));
    tt.equal(liveThreads(), 0, `${label}: the workers were terminated`);
    tt.same(fs.readdirSync(tmp), [], `${label}: no spill files`);
    tt.same(fs.readdirSync(dir), ['tmp'], `${label}: no output`);
  }
});

t.test('with two threads the hash is built on the other one, beside the writing: the same bytes, in memory and spilled', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const recs = records(20000);
  const want = sha256(buildBuffer(recs));
  // 256M: never spills; 256k: spills, the in-memory hash fits; 64k: spills, the external hash (on the worker).
  for (const [memoryLimit, elsewhere] of [['256M', true], ['256k', true], ['64k', false]] as const) {
    for (const threads of [1, 2]) {
      const out = path.join(dir, `h${threads}.ddb`);
      const before = hashesBuiltElsewhere();
      const w = new DiscoDBWriter(out, { memoryLimit, threads, tmpDir: tmp });
      await pipeline(Readable.from(recs), w);
      const label = `threads ${threads} @ ${memoryLimit} (${w.stats!.runs} runs)`;
      tt.equal(hashesBuiltElsewhere() - before, threads > 1 && elsewhere ? 1 : 0, `${label}: hashes built on the other thread`);
      tt.equal(sha256(fs.readFileSync(out)), want, `${label}: the one-thread in-memory image`);
      if (memoryLimit !== '256M') tt.ok(w.stats!.runs > 1, `${label}: spilled`);
      fs.rmSync(out);
    }
  }
  tt.same(fs.readdirSync(tmp), [], 'no temporary files left');
});

t.test('values larger than a batch travel in pieces: every boundary, duplicates, keys alone around them, both ingest paths', async (tt) => {
  const { dir, tmp } = scratch(tt);
  // At 64k the batches hold 1 KiB: anything over it is sent in pieces of ≤ 1 KiB.
  const r = rng(77);
  const recs: Rec[] = [];
  // A string of multi-byte characters and surrogate pairs, shifted so that a piece ends at every offset within a character.
  const wide = 'aé€😀'.repeat(400);
  recs.push({ key: 'first', value: crypto.randomBytes(5000) });
  for (let shift = 0; shift < 12; shift++) recs.push({ key: `wide${shift}`, value: 'x'.repeat(shift) + wide });
  const shared = crypto.randomBytes(2500);
  for (let i = 0; i < 300; i++) {
    const kind = randBetween(r, 0, 5);
    const key = `k${randBetween(r, 0, 40)}`;
    if (kind === 0) recs.push({ key, value: shared }); // one value, sent in pieces each time, stored once
    else if (kind === 1) recs.push({ key, value: Buffer.from(shared) });
    else if (kind === 2) recs.push({ key }); // the key alone, right after a chunked value of the same key
    else if (kind === 3) recs.push({ key, value: crypto.randomBytes(randBetween(r, 1000, 4000)) });
    else recs.push({ key, value: `small${randBetween(r, 0, 9)}` });
  }
  // A key too large for half a batch: its item keeps a batch of its own size.
  recs.push({ key: 'K'.repeat(3000), value: crypto.randomBytes(3000) });
  recs.push({ key: 'last', value: 'é'.repeat(3000) });
  await sameBytesThroughWorker(tt, recs, path.join(dir, 'c.ddb'), tmp, ['64k', '256k'], async (out, opts, expected) => {
    await buildFile(recs, out, { ...opts, threads: 2 });
    tt.ok(fs.readFileSync(out).equals(expected), `buildFile, uniqueItems ${opts.uniqueItems} @ ${opts.memoryLimit}: same bytes`);
  });
  const db = DiscoDB.open(path.join(dir, 'c.ddb'));
  tt.equal(db.peek('wide5'), 'xxxxx' + wide, 'a string sent in pieces reads back whole');
  db.close();
  const raw = DiscoDB.open(path.join(dir, 'c.ddb'), { encoding: 'buffer' });
  tt.ok(raw.peek('first')!.equals(recs[0]!.value as Uint8Array), 'bytes sent in pieces read back whole');
  raw.close();
  tt.same(fs.readdirSync(tmp), []);
});

t.test('at the end of the ingest the encoder gives up every batch buffer it holds, to be moved to the worker', async (tt) => {
  const sent: BatchBuffers[] = [];
  const enc = new BatchEncoder(4096, 64, (b) => sent.push(b));
  for (let i = 0; i < 500; i++) enc.item(i, `key-${i}`, `value-${i}`);
  enc.flush();
  tt.ok(sent.length > 3, `${sent.length} batches sent`);
  // The worker gives them back as it applies them; all of them are back at the end.
  for (const b of sent) enc.recycle(b);
  const held = new Set(sent.flatMap((b) => [b.bytes.buffer, b.meta.buffer]));
  const given = enc.surrender();
  tt.equal(new Set(given).size, given.length, 'each buffer once');
  tt.ok([...held].every((b) => given.includes(b as ArrayBuffer)), 'every buffer it was given back, and its current one');
  tt.equal(given.length, held.size + 2, 'and nothing else');
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, given);
  port1.close();
  port2.close();
  tt.ok(given.every((b) => b.byteLength === 0), 'moved away: detached here');
  tt.same(enc.surrender(), [], 'nothing is held afterwards');
});

t.test('bytes, multi-byte strings and items larger than a batch go through the worker unchanged', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const r = rng(9);
  const recs: Rec[] = [];
  for (let i = 0; i < 4000; i++) {
    const kind = randBetween(r, 0, 6);
    const n = randBetween(r, 0, 50);
    const key = kind === 0 ? crypto.randomBytes(randBetween(r, 0, 80)) : `k${n}-é€😀`.repeat(1 + (n % 3));
    let value: string | Uint8Array | undefined;
    if (kind === 1) value = crypto.randomBytes(randBetween(r, 33, 200));
    else if (kind === 2) value = `big${i}`.repeat(randBetween(r, 300, 900)); // > the 1 KiB batches of a 64k budget
    else if (kind === 3) value = undefined;
    else value = `v${randBetween(r, 0, 300)}ü`;
    recs.push(value === undefined ? { key } : { key, value });
  }
  recs.push({ key: 'huge', value: Buffer.alloc(3 * 1024 * 1024, 7) });
  // After a huge item's batch (room for exactly one item): items that add no bytes at all.
  recs.push({ key: 'huge' }, { key: 'huge' }, { key: '' }, { key: '' }, { key: 'after', value: 'x' });
  await sameBytesThroughWorker(tt, recs, path.join(dir, 'b.ddb'), tmp, ['64k', '256M']);
  tt.same(fs.readdirSync(tmp), []);
});

t.test('destroy() during ingest (before and after spills) stops the worker and leaves nothing', async (tt) => {
  const { dir, tmp } = scratch(tt);
  await noIdleThreads();
  const out = path.join(dir, 'i.ddb');
  for (const [memoryLimit, after] of [
    ['256M', 70000], // after the first batch went to the worker, before any spill
    ['64k', 15000],
  ] as const) {
    const w = new DiscoDBWriter(out, { memoryLimit, threads: 1, tmpDir: tmp });
    let n = 0;
    const src = Readable.from(
      (function* () {
        for (const rec of records(120000)) {
          if (++n === after) w.destroy();
          yield rec;
        }
      })(),
    );
    await tt.rejects(pipeline(src, w), { code: 'ERR_DISCODB_ABORTED' }, `${memoryLimit}: rejects`);
    await new Promise((resolve) => (w.closed ? resolve(undefined) : w.once('close', resolve)));
    tt.equal(liveThreads(), 0, `${memoryLimit}: the worker was terminated`);
    tt.same(fs.readdirSync(tmp), [], `${memoryLimit}: no spill files`);
    tt.same(fs.readdirSync(dir), ['tmp'], `${memoryLimit}: no output`);
  }
});
