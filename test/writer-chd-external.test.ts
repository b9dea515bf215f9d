/**
 * The external-memory CHD build (issue 9): the same section and slots as the
 * in-memory build for every key set, with the pairs on disk in many partitions and
 * many pending rounds; its scratch files are removed, on success and on failure.
 * Then the writer with the external CHD and the external permutation of the records
 * forced (tiny buffers, a 512-byte copy window) and forced spills: corpus byte identity
 * with threads 0 and 1, a random model test, temp files removed on success and on
 * destroy() mid-hash.
 */
// Before any worker thread starts: they copy the environment.
process.env['DISCODB_TEST_EXTERNAL'] = '1';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { DiscoDB } from '../lib/discodb.js';
import { DiscoDBWriter, buildBuffer, buildFile, type WriterProgress } from '../lib/writer/index.js';
import { corpusCases, corpusInput } from './helpers/corpus.js';
import {
  buildChd,
  buildChdMap,
  buildChdMapSync,
  buildChdSync,
  type KeySource,
  type Scratch,
  type ScratchFile,
} from '../lib/format/chd-build.js';
import { GlibcRandom } from '../lib/format/glibc-rand.js';
import { jenkinsHash } from '../lib/format/jenkins.js';
import { randBetween, randInt, rng } from './helpers/random.js';

/** An integer in [lo, hi). */

/** Scratch files in a directory, counting what is created and removed. */
function fileScratch(dir: string): Scratch & { live: number; made: number } {
  let seq = 0;
  const files = new Map<ScratchFile, { fd: number; file: string }>();
  const s = {
    live: 0,
    made: 0,
    create(tag: string): ScratchFile {
      const file = path.join(dir, `${++seq}-${tag}`);
      const fd = fs.openSync(file, 'w+');
      const f: ScratchFile = {
        write: (src, start, end, pos) => {
          while (start < end) {
            const n = fs.writeSync(fd, src, start, end - start, pos);
            start += n;
            pos += n;
          }
        },
        read: (dst, start, end, pos) => {
          while (start < end) {
            const n = fs.readSync(fd, dst, start, end - start, pos);
            if (n <= 0) throw new Error('short read');
            start += n;
            pos += n;
          }
        },
      };
      files.set(f, { fd, file });
      s.live++;
      s.made++;
      return f;
    },
    remove(f: ScratchFile): void {
      const e = files.get(f)!;
      files.delete(f);
      fs.closeSync(e.fd);
      fs.rmSync(e.file);
      s.live--;
    },
  };
  return s;
}

/** A KeySource over in-memory keys, in chunks of at most `per` keys. */
function sourceOf(keys: Uint8Array[], per = 1000): KeySource {
  const triple = new Uint32Array(3);
  return {
    open(seed) {
      let i = 0;
      return {
        next(chunk) {
          const n = Math.min(per, chunk.length / 3, keys.length - i);
          for (let c = 0; c < n; c++, i++) {
            jenkinsHash(seed, keys[i]!, triple);
            chunk.set(triple, 3 * c);
          }
          return n;
        },
      };
    },
  };
}

/** `rand()` replay that counts its draws (one per seed tried). */
class CountingRandom extends GlibcRandom {
  draws = 0;
  override next(): number {
    this.draws++;
    return super.next();
  }
}

function randomKeys(r: () => number, count: number): Uint8Array[] {
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  while (keys.length < count) {
    const len = randBetween(r, 0, 12);
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = randInt(r, 256);
    const k = Buffer.from(b).toString('hex');
    if (seen.has(k)) continue;
    seen.add(k);
    keys.push(b);
  }
  return keys;
}

const scratchDir = (tt: TapTest): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-chdx-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test('external CHD = in-memory CHD: same section and slots, many partitions and rounds on disk', async (tt) => {
  const dir = scratchDir(tt);
  const r = rng(9009);
  let retried = 0;
  const cases: [Uint8Array[], number][] = [];
  for (const count of [1, 2, 3, 4, 5, 7, 9, 12, 26, 100, 1000, 4000, 30000]) cases.push([randomKeys(r, count), 1 + cases.length]);
  for (let i = 0; i < 40; i++) cases.push([randomKeys(r, randBetween(r, 1, 40)), 1 + cases.length]);
  // Six keys whose first seed maps two of them to the same (bucket, f, h) under these rand() states.
  const six = Array.from({ length: 6 }, (_, i) => Buffer.from(`key${i}`));
  for (const seed of [2, 3, 12]) cases.push([six, seed]);
  for (const [i, [keys, seed]] of cases.entries()) {
    const count = keys.length;
    const inMem = new CountingRandom(seed);
    const want = buildChdSync(count, sourceOf(keys), inMem);
    if (inMem.draws > 1) retried++;
    const scratch = fileScratch(dir);
    // Tiny buffers: partitions of 64 keys, list buffers of a few records, small in-memory pending sets.
    const memory = i % 2 === 0 ? 1024 : 64 * 1024;
    const ext = new CountingRandom(seed);
    const got =
      i % 3 === 0
        ? await buildChd(count, sourceOf(keys, 7), ext, undefined, { external: { scratch, memory } })
        : buildChdSync(count, sourceOf(keys), ext, undefined, { external: { scratch, memory } });
    tt.equal(ext.draws, inMem.draws, `${count} keys: same seeds tried`);
    tt.ok(Buffer.from(got.section).equals(Buffer.from(want.section)), `${count} keys: same section`);
    tt.same(Array.from(got.slots), Array.from(want.slots), `${count} keys: same slots`);
    tt.equal(scratch.live, 0, `${count} keys: scratch files removed`);
    tt.equal(scratch.made, 2);
    // The slot map gives the same slots, in memory and on disk.
    const mapped = i % 2 === 0 ? buildChdMapSync(count, sourceOf(keys), new GlibcRandom(seed)) : await buildChdMap(count, sourceOf(keys), new GlibcRandom(seed), undefined, { external: { scratch, memory } });
    tt.ok(Buffer.from(mapped.section).equals(Buffer.from(want.section)));
    const triple = new Uint32Array(3);
    const viaMap = keys.map((k) => {
      jenkinsHash(mapped.slots.seed, k, triple);
      return mapped.slots.slotOf(triple, 0);
    });
    tt.same(viaMap, Array.from(want.slots), `${count} keys: slot map = slots`);
  }
  tt.ok(retried > 0, `some key sets needed another seed (${retried})`);
});

t.test('external CHD: the async build yields to the event loop and removes its files when it fails', async (tt) => {
  const dir = scratchDir(tt);
  const keys = randomKeys(rng(77), 200000);
  const scratch = fileScratch(dir);
  let ticks = 0;
  let failAfter = -1;
  const tick = async (): Promise<void> => {
    ticks++;
    if (ticks === failAfter) throw new Error('stop');
    await new Promise((resolve) => setImmediate(resolve));
  };
  const want = buildChdSync(keys.length, sourceOf(keys));
  const got = await buildChd(keys.length, sourceOf(keys), new GlibcRandom(), undefined, { tick, external: { scratch, memory: 1 << 20 } });
  tt.ok(Buffer.from(got.section).equals(Buffer.from(want.section)));
  tt.ok(ticks >= 8, `ticked ${ticks} times`);
  const all = ticks;
  for (const at of [1, Math.floor(all / 2), all - 1]) {
    ticks = 0;
    failAfter = at;
    await tt.rejects(buildChd(keys.length, sourceOf(keys), new GlibcRandom(), undefined, { tick, external: { scratch, memory: 1 << 20 } }), /stop/);
    tt.equal(scratch.live, 0, `failed at tick ${at}: scratch files removed`);
  }
  tt.same(fs.readdirSync(dir), []);
  // The in-memory async build of a KeySource ticks too.
  ticks = 0;
  failAfter = -1;
  await buildChd(keys.length, sourceOf(keys), new GlibcRandom(), undefined, { tick });
  tt.ok(ticks >= 8, `in-memory build ticked ${ticks} times`);
});

const sha256 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');

/** Every file name under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

t.test('writer, external CHD and permutation forced, spills forced: corpus byte identity with threads 0 and 1', async (tt) => {
  const dir = scratchDir(tt);
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  let spilledHashed = 0;
  for (const c of corpusCases()) {
    const recs = corpusInput(c).map((r) => (r.value === null ? { key: r.key } : { key: r.key, value: r.value }));
    const f = c.expected.build_flags_value as number;
    const flags = { disableCompression: (f & 1) !== 0, uniqueItems: (f & 2) !== 0 };
    const memoryLimit = recs.length > 10000 ? '4M' : '3000';
    // The 1M-record case through the worker too would add ~5 s: threads 0 only.
    for (const threads of recs.length > 100000 ? [0] : [0, 1]) {
      const out = path.join(dir, `${c.name}.ddb`);
      const w = new DiscoDBWriter(out, { ...flags, memoryLimit, threads, tmpDir: tmp });
      let external = false;
      w.on('progress', (p: WriterProgress) => {
        if (p.phase === 'hash' && filesUnder(tmp).some((n) => n.endsWith('chd-pairs'))) external = true;
      });
      await pipeline(Readable.from(recs), w);
      tt.equal(sha256(fs.readFileSync(out)), c.expected.ddb_sha256, `${c.name} threads ${threads} (${w.stats!.runs} runs)`);
      if (external && w.stats!.runs > 0) spilledHashed++;
      fs.rmSync(out);
    }
  }
  tt.ok(spilledHashed > 4, `the external CHD ran on spilled builds (${spilledHashed})`);
  tt.same(fs.readdirSync(tmp), [], 'no temporary files left');
});

t.test('writer through the external path: random data = the in-memory image, answers = a Map model', async (tt) => {
  const dir = scratchDir(tt);
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const r = rng(4242);
  for (let round = 0; round < 4; round++) {
    const model = new Map<string, string[]>();
    const recs: { key: string; value?: string }[] = [];
    const nk = randBetween(r, 30, 4000);
    const n = randBetween(r, nk, 20000);
    for (let i = 0; i < n; i++) {
      const key = `k${randInt(r, nk)}`.repeat(1 + randInt(r, 3));
      if (randInt(r, 20) === 0) {
        recs.push({ key });
        if (!model.has(key)) model.set(key, []);
      } else {
        // Now and then a long list: records larger than the 512-byte copy window.
        const value = randInt(r, 50) === 0 ? `big${randInt(r, 3)}` : `v${randInt(r, 5000)}`.repeat(1 + randInt(r, 4));
        recs.push({ key, value });
        const l = model.get(key) ?? [];
        l.push(value);
        model.set(key, l);
      }
    }
    const uniqueItems = round % 2 === 1;
    const expected = buildBuffer(recs, { uniqueItems });
    const out = path.join(dir, `r${round}.ddb`);
    await buildFile(recs, out, { uniqueItems, threads: round % 2, memoryLimit: randBetween(r, 20000, 200000), tmpDir: tmp });
    tt.ok(fs.readFileSync(out).equals(expected), `round ${round}: same bytes`);
    const db = DiscoDB.open(out);
    tt.equal(db.size, model.size, `round ${round}: key count`);
    for (const [k, vs] of model) {
      const want = uniqueItems ? [...new Set(vs)] : vs;
      tt.same(db.get(k).toArray().sort(), [...want].sort(), `round ${round}: ${k}`);
    }
    db.close();
  }
  tt.same(fs.readdirSync(tmp), []);
});

t.test('writer through the external path: destroy() mid-hash and mid-write removes every temp file', async (tt) => {
  const dir = scratchDir(tt);
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const out = path.join(dir, 'd.ddb');
  const recs = Array.from({ length: 12000 }, (_, i) => ({ key: `key${i % 4000}`, value: `value${i}` }));
  for (const threads of [0, 1]) {
    for (const phase of ['hash', 'write']) {
      const w = new DiscoDBWriter(out, { memoryLimit: '64k', threads, tmpDir: tmp });
      let sawExternal = false;
      let hashed = false;
      w.on('progress', (p: WriterProgress) => {
        if (p.phase === 'hash') hashed = true;
        // Mid-hash: at a report of keys placed (not at the phase change).
        if (p.phase !== phase || w.destroyed || !hashed || (phase === 'hash' && !(typeof p.done === 'number' && p.done >= 0))) return;
        // On the one-thread path the files are there while the progress event is emitted.
        if (filesUnder(tmp).some((n) => n.endsWith(phase === 'hash' ? 'chd-buckets' : 'slots'))) sawExternal = true;
        w.destroy();
      });
      await tt.rejects(pipeline(Readable.from(recs), w), { code: 'ERR_DISCODB_ABORTED' }, `${phase} threads ${threads}`);
      await new Promise((resolve) => (w.closed ? resolve(undefined) : w.once('close', resolve)));
      if (threads === 0 && phase === 'hash') tt.ok(sawExternal, `${phase} threads ${threads}: destroyed while its files existed`);
      tt.same(fs.readdirSync(tmp), [], `${phase} threads ${threads}: no temp files`);
      tt.same(fs.readdirSync(dir), ['tmp'], `${phase} threads ${threads}: no output`);
    }
  }
});
