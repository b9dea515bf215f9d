/**
 * Reader reliability (issue 10 items 9, 10, 13, 14; issue 11 item 7): corrupt
 * compressed extents, flags against sections, bounded shared mappings, files
 * modified in place, and the pread fallback when the mmap addon is missing.
 */
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import * as child from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoDB, DiscoDBError, mmapAvailable } from '../lib/index.js';
import { corpusCases } from './helpers/corpus.js';

const cases = corpusCases();
const byName = (name: string) => cases.find((c) => c.name === name)!;
const animals = byName('01_animals').dbPath;
const compressed = byName('06c_compress_threshold_exact').dbPath;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function tmpdir(t: TapTest, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a corrupt compressed extent fails with ERR_DISCODB_CORRUPT before anything is allocated', async (t) => {
  const dir = tmpdir(t, 'ddb-extent-');
  const image = Buffer.from(fs.readFileSync(compressed));
  const u = image.readUInt32LE(20);
  const valToc = Number(image.readBigUInt64LE(48));
  const firstKey = DiscoDB.fromBuffer(image, { encoding: 'buffer' });
  // A key whose first value is value 1.
  let key: Buffer | null = null;
  for (const [k, vs] of firstKey.items()) {
    const c = firstKey.idCursor(firstKey.findKey(k));
    if (c.next() === 1) {
      key = k;
      vs.count();
      break;
    }
  }
  t.ok(key, 'found the key of value 1');
  // Value 1 now claims [TOC[0], big): ~16x that in decoded bytes would not fit in any Buffer.
  for (const [route, big] of [['mmap', 1.9 * 2 ** 30], ['pread', 6 * 2 ** 30]] as const) {
    const end = Math.floor(big);
    const bad = Buffer.from(image);
    bad.writeBigUInt64LE(BigInt(end), valToc + 8); // end of value 1
    bad.writeBigUInt64LE(BigInt(end), valToc + 8 * u); // end of all values
    bad.writeBigUInt64LE(BigInt(end + 4), 8); // image size
    const file = path.join(dir, `${route}.ddb`);
    fs.writeFileSync(file, bad);
    fs.truncateSync(file, end + 4); // sparse
    const db = DiscoDB.open(file, { encoding: 'buffer' });
    t.equal(db.route, mmapAvailable() || route === 'pread' ? route : 'pread');
    const before = process.memoryUsage().arrayBuffers;
    t.throws(() => db.get(key!).first(), { code: 'ERR_DISCODB_CORRUPT', message: /could decode to/ }, `${route}: corrupt, not a RangeError`);
    t.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, `${route}: nothing large was allocated`);
    t.throws(() => db.check(), { code: 'ERR_DISCODB_CORRUPT' });
    db.close();
  }
});

t.test('check() cross-checks the flags against the sections and rejects unknown flag bits', async (t) => {
  for (const c of cases) t.doesNotThrow(() => DiscoDB.open(c.dbPath).check(), `${c.name} passes`);
  const image = fs.readFileSync(compressed);
  const cleared = Buffer.from(image);
  cleared.writeUInt32LE(image.readUInt32LE(32) & ~4, 32); // compressed flag cleared, codebook still there
  t.throws(() => DiscoDB.fromBuffer(cleared).check(), { code: 'ERR_DISCODB_CORRUPT', message: /codebook offset .* compressed flag is clear/ });
  const unknown = Buffer.from(image);
  unknown.writeUInt32LE(image.readUInt32LE(32) | 8, 32);
  t.throws(() => DiscoDB.fromBuffer(unknown).check(), { code: 'ERR_DISCODB_CORRUPT', message: /unknown flag bits/ });
  const high = Buffer.from(fs.readFileSync(animals));
  high.writeUInt32LE(1, 36); // a bit in the upper 32 bits of the u64 flags
  t.throws(() => DiscoDB.fromBuffer(high).check(), { code: 'ERR_DISCODB_CORRUPT', message: /unknown flag bits/ });
});

t.test('open/close in a tight loop shares one mapping per file and never exhausts the map count', async (t) => {
  let routes = 0;
  for (let i = 0; i < 70_000; i++) {
    const db = DiscoDB.open(animals);
    if (db.route === 'mmap') routes++;
    if (i % 10_000 === 0) t.same(db.get('pets').toArray(), ['dog', 'cat', 'goldfish']);
    db.close();
  }
  t.equal(routes, mmapAvailable() ? 70_000 : 0, 'every open was mapped (one shared mapping)');
  const a = DiscoDB.open(animals, { encoding: 'buffer' });
  const b = DiscoDB.open(animals, { encoding: 'buffer' });
  if (mmapAvailable()) t.equal(a.toBuffer().buffer, b.toBuffer().buffer, 'two dbs on one file share the mapping');
  const kept = a.get('pets').first()!;
  a.close();
  t.same(b.get('pets').toArray().map(String), ['dog', 'cat', 'goldfish'], 'closing one leaves the other working');
  t.equal(kept.toString(), 'dog', 'a value kept after close stays valid');
  b.close();
});

t.test('past the cap of live mappings, files open on the pread route with the same answers', async (t) => {
  const dir = tmpdir(t, 'ddb-many-');
  const image = fs.readFileSync(animals);
  const dbs: DiscoDB[] = [];
  let pread = 0;
  for (let i = 0; i < 1100; i++) {
    const file = path.join(dir, `${i}.ddb`);
    fs.writeFileSync(file, image);
    const db = DiscoDB.open(file);
    if (db.route === 'pread') pread++;
    dbs.push(db);
  }
  t.ok(pread >= 1100 - 1024, `${pread} of 1100 distinct files opened by pread`);
  for (const db of [dbs[0]!, dbs[1099]!]) t.same(db.get('aquatic').toArray(), ['whale', 'goldfish']);
  for (const db of dbs) db.close();
});

t.test('a file modified in place is reported by check(), never read past its end', async (t) => {
  const dir = tmpdir(t, 'ddb-inplace-');
  const other = DiscoDB.from({ a: ['1'], b: ['2', '3'] }).toBuffer();
  for (const mmap of [true, false]) {
    const file = path.join(dir, `live-${mmap}.ddb`);
    fs.copyFileSync(animals, file);
    const db = DiscoDB.open(file, { mmap });
    t.same(db.check().keys, 3);
    fs.truncateSync(file, 100);
    t.throws(() => db.check(), { code: 'ERR_DISCODB_CORRUPT', message: /modified in place/ }, `truncated (mmap: ${mmap})`);
    db.close();
    t.throws(() => DiscoDB.open(file), { code: 'ERR_DISCODB_CORRUPT', message: /truncated image/ }, 'open verifies the size against the header');
    fs.copyFileSync(animals, file);
    const again = DiscoDB.open(file, { mmap });
    fs.writeFileSync(file, other); // like `cp other.ddb live.ddb`: same inode, new bytes
    t.throws(() => again.check(), { code: 'ERR_DISCODB_CORRUPT', message: /modified in place/ }, `rewritten (mmap: ${mmap})`);
    again.close();
    const fresh = DiscoDB.open(file, { mmap });
    t.same(fresh.get('b').toArray(), ['2', '3'], 'a reopen sees the new file (a new mapping, not the stale one)');
    fresh.close();
  }
  // A rename over the file (what the writer and CLI do) is not a modification of the opened image.
  const file = path.join(dir, 'renamed.ddb');
  fs.copyFileSync(animals, file);
  const db = DiscoDB.open(file);
  fs.writeFileSync(`${file}.new`, other);
  fs.renameSync(`${file}.new`, file);
  t.same(db.check().keys, 3);
  t.same(db.get('pets').toArray(), ['dog', 'cat', 'goldfish']);
  db.close();
});

t.test('without the mmap addon (DISCODB_DISABLE_MMAP_ADDON=1), files open by pread and a warning says so once', async (t) => {
  const script = `
    import { DiscoDB, mmapAvailable } from ${JSON.stringify(path.join(repo, 'dist/lib/index.js'))};
    const codes = [];
    process.on('warning', (w) => codes.push(w.code));
    const a = DiscoDB.open(${JSON.stringify(animals)});
    const b = DiscoDB.open(${JSON.stringify(animals)});
    setImmediate(() => console.log(JSON.stringify({ available: mmapAvailable(), routes: [a.route, b.route], pets: a.get('pets').toArray(), codes })));
  `;
  const run = (env: NodeJS.ProcessEnv) =>
    JSON.parse(child.execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }));
  const off = run({ DISCODB_DISABLE_MMAP_ADDON: '1' });
  t.same(off, { available: false, routes: ['pread', 'pread'], pets: ['dog', 'cat', 'goldfish'], codes: ['DISCODB_NO_MMAP'] });
  if (mmapAvailable()) {
    const on = run({ DISCODB_DISABLE_MMAP_ADDON: '' });
    t.same(on, { available: true, routes: ['mmap', 'mmap'], pets: ['dog', 'cat', 'goldfish'], codes: [] });
  }
});

t.test('errors stay DiscoDBErrors', async (t) => {
  t.throws(() => DiscoDB.open(new URL('http://example.com/x.ddb')), DiscoDBError);
  t.throws(() => DiscoDB.open(42 as unknown as string), { code: 'ERR_DISCODB_ARGUMENT' });
});
