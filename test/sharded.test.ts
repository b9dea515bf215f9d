/**
 * Sharded dbs: a directory of shard files plus a manifest must answer exactly what the one db
 * built from the same records answers (as sets), under both partitionings and several shard
 * counts; shard files must be the plain writer's builds of their records; the manifest must
 * catch missing or changed shards.
 */
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DiscoDB } from '../lib/discodb.js';
import { DiscoDBError } from '../lib/errors.js';
import { buildBuffer } from '../lib/writer/index.js';
import { Q } from '../lib/query/index.js';
import {
  ShardedDiscoDB,
  buildSharded,
  readManifest,
  shardOf,
  writeShardedManifest,
  type PartitionBy,
} from '../lib/sharded/index.js';
import { cli, cliAsync } from './helpers/cli.js';
import { corpusCases, corpusInput } from './helpers/corpus.js';
import { rng, randInt } from './helpers/random.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-sharded-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirNo = 0;
const freshDir = (): string => path.join(tmp, `db${dirNo++}`);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sortedHex = (it: Iterable<Uint8Array>): string[] => Array.from(it, hex).sort();
const setHex = (it: Iterable<Uint8Array>): string[] => [...new Set(Array.from(it, hex))].sort();

t.test('shardOf equals Python zlib.crc32(b) % n', async (t) => {
  // Computed with:
  //   /usr/bin/python3 -c "import zlib; [print(v.hex(), [zlib.crc32(v) % n for n in (1,2,4,7,1000)]) for v in
  //     [b'', b'a', b'hello', b'discodb', bytes([0xff,0,0x80]), 'é'.encode(), b'key-123',
  //      b'The quick brown fox jumps over the lazy dog']]"
  const vectors: Array<[string, number[]]> = [
    ['', [0, 0, 0, 0, 0]],
    ['61', [0, 1, 3, 4, 907]],
    ['68656c6c6f', [0, 0, 2, 2, 870]],
    ['646973636f6462', [0, 0, 2, 3, 706]],
    ['ff0080', [0, 1, 3, 0, 527]],
    ['c3a9', [0, 0, 2, 4, 326]],
    ['6b65792d313233', [0, 1, 1, 0, 349]],
    ['54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f67', [0, 1, 1, 1, 169]],
  ];
  const ns = [1, 2, 4, 7, 1000];
  for (const [h, expected] of vectors) {
    t.same(
      ns.map((n) => shardOf(Buffer.from(h, 'hex'), n)),
      expected,
      `bytes ${h || '(empty)'}`,
    );
  }
  t.equal(shardOf('é', 7), 4, 'a string is hashed as UTF-8');
  t.throws(() => shardOf(Buffer.from('a'), 0), { code: 'ERR_DISCODB_ARGUMENT' });
});

// ---------------------------------------------------------------------------
// Random data: keys that are also values (so dereferences lead somewhere), repeated values
// (multisets), key-only records, multi-value records.

type Rec = { key: string; value?: string } | { key: string; values: string[] } | [string, string];

function randomRecords(seed: number, count: number, nKeys: number, nValues: number): Rec[] {
  const r = rng(seed);
  const name = (): string => (randInt(r, 4) === 0 ? `k${randInt(r, nKeys)}` : `v${randInt(r, nValues)}`);
  const recs: Rec[] = [];
  for (let i = 0; i < count; i++) {
    const key = `k${randInt(r, nKeys)}`;
    const kind = randInt(r, 10);
    if (kind === 0) recs.push({ key });
    else if (kind <= 2) recs.push({ key, values: Array.from({ length: randInt(r, 4) }, name) });
    else if (kind === 3) recs.push([key, name()]);
    else recs.push({ key, value: name() });
  }
  return recs;
}

/** Random queries over the key names: negations, disjunctions, dereferences (nested too). */
function randomQueries(seed: number, nKeys: number, count: number): string[] {
  const r = rng(seed);
  const term = (): string => {
    const k = `k${randInt(r, nKeys + 3)}`; // a few absent keys
    switch (randInt(r, 8)) {
      case 0:
        return `~${k}`;
      case 1:
        return `*${k}`;
      case 2:
        return `~*${k}`;
      case 3:
        return `*(${k} | k${randInt(r, nKeys)})`;
      default:
        return k;
    }
  };
  const clause = (): string => Array.from({ length: 1 + randInt(r, 3) }, term).join(' | ');
  const qs = ['', '()', 'k0', '~k0', '*k1', '**k2', '~*k3 & k1', '*~k0', 'k0 | ~k0', '~nokey', '*nokey', '~*nokey'];
  for (let i = 0; i < count; i++) qs.push(Array.from({ length: 1 + randInt(r, 3) }, () => `(${clause()})`).join(' & '));
  return qs;
}

/** Compares every reading answer of `sharded` with `single`. */
function compareAll(t: TapTest, single: DiscoDB<Buffer>, sharded: ShardedDiscoDB<Buffer>, queries: string[], viewValues: string[]): void {
  t.equal(sharded.size, single.size, 'size');
  t.equal(sharded.numUniqueValues, single.numUniqueValues, 'numUniqueValues');
  const si = single.info();
  const di = sharded.info();
  t.same([di.numKeys, di.numUniqueValues, di.numValues, di.multiset], [si.numKeys, si.numUniqueValues, si.numValues, si.multiset], 'info counts');
  t.equal(sharded.isMultiset, single.isMultiset, 'isMultiset');

  const keys = sharded.keys().toArray();
  t.equal(keys.length, single.size, 'keys() yields each key once');
  t.same(sortedHex(keys), sortedHex(single.keys()), 'keys()');
  t.equal(sharded.keys().count(), single.keys().count(), 'keys().count()');
  t.same(sortedHex(sharded.uniqueValues()), sortedHex(single.uniqueValues()), 'uniqueValues() (distinct)');
  t.equal(sharded.uniqueValues().count(), single.uniqueValues().count(), 'uniqueValues().count()');
  t.same(sortedHex(sharded.values()), sortedHex(single.values()), 'values() (multiset)');
  t.equal(sharded.values().count(), single.values().count(), 'values().count()');

  const items = new Map(Array.from(sharded.items(), ([k, vs]) => [hex(k), sortedHex(vs)]));
  const expectedItems = new Map(Array.from(single.items(), ([k, vs]) => [hex(k), sortedHex(vs)]));
  t.same(items, expectedItems, 'items()');

  let bad = 0;
  for (const k of [...single.keys(), Buffer.from('absent'), Buffer.from('')]) {
    const want = sortedHex(single.get(k));
    const got = sortedHex(sharded.get(k));
    const peek = sharded.peek(k, null);
    if (
      sharded.has(k) !== single.has(k) ||
      JSON.stringify(got) !== JSON.stringify(want) ||
      sharded.get(k).count() !== single.get(k).count() ||
      (peek === null ? want.length !== 0 : !want.includes(hex(peek)))
    ) {
      bad++;
      t.fail(`get/has/peek/count of key ${k.toString()}`);
    }
  }
  t.equal(bad, 0, 'every has, get, get().count() and peek');

  const view = sharded.makeView(viewValues);
  const singleView = single.makeView(viewValues);
  t.equal(view.size, singleView.size, 'makeView().size');
  let badQ = 0;
  for (const q of queries) {
    const want = sortedHex(single.query(q));
    const got = Array.from(sharded.query(q), hex);
    const wantView = sortedHex(single.query(q, { view: singleView }));
    if (
      JSON.stringify([...got].sort()) !== JSON.stringify(want) ||
      new Set(got).size !== got.length ||
      sharded.query(q).count() !== want.length ||
      JSON.stringify(sortedHex(sharded.query(q, { view }))) !== JSON.stringify(wantView) ||
      JSON.stringify(sortedHex(sharded.query(Q.parse(q), { view: viewValues }))) !== JSON.stringify(wantView) ||
      sharded.query(q, { view }).count() !== wantView.length
    ) {
      badQ++;
      t.fail(`query ${JSON.stringify(q)}`, { got: [...got].sort(), want });
    }
  }
  t.equal(badQ, 0, `${queries.length} queries (plain, with a view, counts) equal the single db's`);

  for (const q of ['*k1 | k2', '~*k0 & (k1 | *k3)', 'k4']) {
    const norm = (it: Iterable<[Q, Iterable<Uint8Array>]>): string[] =>
      Array.from(it, ([x, vs]) => `${x.toString()} => ${sortedHex(vs).join(',')}`).sort();
    t.same(norm(sharded.metaquery(q)), norm(single.metaquery(q)), `metaquery ${q}`);
  }
}

const RECORDS = randomRecords(7, 2000, 80, 300);
const QUERIES = randomQueries(11, 80, 80);
const VIEW = ['v1', 'v2', 'v3', 'v10', 'v77', 'v200', 'k5', 'k6', 'nope', 'v399'];

for (const partitionBy of ['value', 'key'] as PartitionBy[]) {
  for (const n of [1, 2, 4, 7]) {
    t.test(`random records, ${n} shard(s) by ${partitionBy}`, async (t) => {
      const single = DiscoDB.fromBuffer(buildBuffer(RECORDS), { encoding: 'buffer' });
      const dir = freshDir();
      const manifest = await buildSharded(RECORDS, dir, { shards: n, partitionBy });
      t.equal(manifest.shards, n);
      t.equal(manifest.partitionBy, partitionBy);
      t.same(readManifest(dir), manifest, 'the manifest on disk is the one returned');
      const db = ShardedDiscoDB.open(dir, { encoding: 'buffer' });
      t.teardown(() => db.close());
      compareAll(t, single, db, QUERIES, VIEW);
      t.same(db.check(), { keys: single.size, uniqueValues: single.numUniqueValues, values: single.info().numValues, bytes: db.info().totalSize }, 'check()');

      // Each shard file opens alone and is the plain writer's build of that shard's items.
      const items: Array<[string, string | null]> = [];
      for (const rec of RECORDS) {
        if (Array.isArray(rec)) items.push([rec[0], rec[1]]);
        else if ('values' in rec) {
          if (rec.values.length === 0) items.push([rec.key, null]);
          for (const v of rec.values) items.push([rec.key, v]);
        } else items.push([rec.key, rec.value ?? null]);
      }
      for (let i = 0; i < n; i++) {
        const mine = items.filter(([k, v]) => zlib.crc32(partitionBy === 'key' || v === null ? k : v) % n === i);
        const expected = buildBuffer(mine.map(([k, v]) => (v === null ? { key: k } : { key: k, value: v })));
        const file = path.join(dir, `part-${i}.ddb`);
        t.ok(fs.readFileSync(file).equals(expected), `part-${i}.ddb is byte-identical to the plain build of its records`);
        const alone = DiscoDB.open(file);
        alone.close();
      }
    });
  }
}

t.test('utf8 encoding, laziness, close and dispose', async (t) => {
  const dir = freshDir();
  await buildSharded(RECORDS, dir, { shards: 3 });
  const single = DiscoDB.fromBuffer(buildBuffer(RECORDS));
  const db = ShardedDiscoDB.open(dir);
  t.same([...db.get('k1')].sort(), [...single.get('k1')].sort(), 'get as strings');
  t.type(db.keys().first(), 'string');
  const stream = db.query('k1 | k2').stream();
  const streamed: string[] = [];
  for await (const v of stream) streamed.push(String(v));
  t.same(streamed.sort(), [...single.query('k1 | k2')].sort(), 'query().stream()');
  // Results are lazy: made before close, iterated after, they fail as closed.
  const pending = db.query('k1');
  const pendingKeys = db.keys();
  db.close();
  t.throws(() => pending.toArray(), { code: 'ERR_DISCODB_CLOSED' });
  t.throws(() => pendingKeys.toArray(), { code: 'ERR_DISCODB_CLOSED' });
  t.throws(() => db.has('k1'), { code: 'ERR_DISCODB_CLOSED' });
  db.close();
  let outer: ShardedDiscoDB | undefined;
  {
    using d2 = ShardedDiscoDB.open(dir);
    t.ok(d2.has('k1'));
    outer = d2;
  }
  t.ok(outer.isClosed, 'disposed at the end of its scope');
  t.throws(() => db.query('(a'), { code: 'ERR_DISCODB_QUERY' }, 'syntax errors throw at query()');
});

t.test('corpus inputs', async (t) => {
  for (const c of corpusCases().filter((c) => fs.existsSync(path.join(c.dir, 'input.jsonl')))) {
    const recs = corpusInput(c).map((r) => (r.value === null ? { key: r.key } : { key: r.key, value: r.value }));
    const single = DiscoDB.fromBuffer(buildBuffer(recs), { encoding: 'buffer' });
    const keys = Array.from(single.keys(), (k) => k);
    const queries = keys.slice(0, 6).flatMap((k) => [Q.term(k), Q.term(k).not(), Q.term(k).deref(), Q.term(k).or(Q.term(keys[0]!).not())]);
    for (const partitionBy of ['value', 'key'] as PartitionBy[]) {
      const dir = freshDir();
      await buildSharded(recs, dir, { shards: 4, partitionBy });
      const db = ShardedDiscoDB.open(dir, { encoding: 'buffer' });
      t.equal(db.size, single.size, `${c.name} by ${partitionBy}: size`);
      t.same(sortedHex(db.keys()), sortedHex(single.keys()), `${c.name} by ${partitionBy}: keys`);
      t.same(sortedHex(db.values()), sortedHex(single.values()), `${c.name} by ${partitionBy}: values`);
      let bad = 0;
      for (const k of keys) if (JSON.stringify(sortedHex(db.get(k))) !== JSON.stringify(sortedHex(single.get(k)))) bad++;
      for (const q of queries) if (JSON.stringify(setHex(db.query(q))) !== JSON.stringify(setHex(single.query(q)))) bad++;
      t.equal(bad, 0, `${c.name} by ${partitionBy}: gets and queries`);
      db.check();
      db.close();
    }
  }
});

t.test('jobs > 1 builds the same files', async (t) => {
  const a = freshDir();
  const b = freshDir();
  await buildSharded(RECORDS, a, { shards: 4 });
  await buildSharded(RECORDS, b, { shards: 4, jobs: 2 });
  for (let i = 0; i < 4; i++) {
    t.ok(fs.readFileSync(path.join(a, `part-${i}.ddb`)).equals(fs.readFileSync(path.join(b, `part-${i}.ddb`))), `part-${i}.ddb`);
  }
  t.same(readManifest(a), readManifest(b), 'same manifest');
  t.same(fs.readdirSync(b).sort(), ['discodb.json', 'part-0.ddb', 'part-1.ddb', 'part-2.ddb', 'part-3.ddb'], 'no partition file left');
});

/** Asserts that `fn` throws ERR_DISCODB_CORRUPT with a message containing every one of `parts`. */
function throwsCorrupt(t: TapTest, fn: () => unknown, parts: string[], what: string): void {
  try {
    fn();
    t.fail(`${what}: did not throw`);
  } catch (err) {
    t.ok(err instanceof DiscoDBError && err.code === 'ERR_DISCODB_CORRUPT' && parts.every((p) => err.message.includes(p)), what, { err });
  }
}

t.test('a missing or changed shard fails open/check naming it', async (t) => {
  const dir = freshDir();
  await buildSharded(RECORDS, dir, { shards: 3 });
  const part1 = path.join(dir, 'part-1.ddb');
  const original = fs.readFileSync(part1);

  fs.rmSync(part1);
  throwsCorrupt(t, () => ShardedDiscoDB.open(dir), [part1, 'missing'], 'missing shard');

  fs.writeFileSync(part1, original.subarray(0, original.length - 1));
  throwsCorrupt(t, () => ShardedDiscoDB.open(dir), [part1, 'bytes'], 'size changed');

  // Same size, one value byte changed: open succeeds (it checks sizes only), check() fails on the hash.
  const changed = Buffer.from(original);
  changed[changed.length - 20] = changed[changed.length - 20]! ^ 0x01;
  fs.writeFileSync(part1, changed);
  const db = ShardedDiscoDB.open(dir);
  throwsCorrupt(t, () => db.check(), [part1, 'SHA-256'], 'content changed');
  db.close();

  fs.writeFileSync(part1, original);
  t.doesNotThrow(() => ShardedDiscoDB.open(dir).check(), 'restored');

  fs.writeFileSync(path.join(dir, 'discodb.json'), '{"format":"discodb-sharded"');
  t.throws(() => ShardedDiscoDB.open(dir), { code: 'ERR_DISCODB_CORRUPT' }, 'a torn manifest');
  fs.rmSync(path.join(dir, 'discodb.json'));
  t.throws(() => ShardedDiscoDB.open(dir), { code: 'ERR_DISCODB_IO' }, 'no manifest: not a db');
});

t.test('writeShardedManifest checks the placement of shard files', async (t) => {
  const dir = freshDir();
  await buildSharded(RECORDS, dir, { shards: 4, partitionBy: 'key' });
  fs.rmSync(path.join(dir, 'discodb.json'));
  await t.rejects(writeShardedManifest(dir, { shards: 4, partitionBy: 'value' }), { code: 'ERR_DISCODB_CORRUPT' }, 'wrong partitioning');
  await t.rejects(writeShardedManifest(dir, { shards: 3, partitionBy: 'key' }), { code: 'ERR_DISCODB_CORRUPT' }, 'wrong count');
  await t.rejects(writeShardedManifest(dir, { shards: 5, partitionBy: 'key' }), { code: 'ERR_DISCODB_CORRUPT' }, 'a missing shard');
  t.notOk(fs.existsSync(path.join(dir, 'discodb.json')), 'no manifest written on failure');
  const m = await writeShardedManifest(dir, { shards: 4, partitionBy: 'key' });
  t.equal(m.totals.keys, new Set(RECORDS.map((r) => (Array.isArray(r) ? r[0] : r.key))).size);
});

t.test('bad arguments and bad records', async (t) => {
  await t.rejects(buildSharded(RECORDS, freshDir(), { shards: 0 }), { code: 'ERR_DISCODB_ARGUMENT' });
  await t.rejects(buildSharded(RECORDS, freshDir(), { shards: 2, partitionBy: 'nope' as PartitionBy }), { code: 'ERR_DISCODB_ARGUMENT' });
  await t.rejects(buildSharded(RECORDS, freshDir(), { shards: 2, jobs: 0 }), { code: 'ERR_DISCODB_ARGUMENT' });
  for (const jobs of [1, 2]) {
    const dir = freshDir();
    await t.rejects(buildSharded([{ key: 'a', value: 'b' }, { key: 3 }], dir, { shards: 2, jobs }), { code: 'ERR_DISCODB_INPUT', record: 2 });
    t.same(fs.readdirSync(dir), [], `jobs ${jobs}: nothing left behind`);
  }
});

// ---------------------------------------------------------------------------
// The CLI (dist/: `npm test` builds first)

/** Output lines in a canonical order: sorted, and in JSON lines (items) the values sorted too. */
const sortedLines = (s: string): string[] =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      if (l.includes('\t')) {
        const [q, ...vs] = l.split('\t');
        return [q, ...vs.sort()].join('\t'); // metaquery: the query, then its values
      }
      if (!l.startsWith('{')) return l;
      const o = JSON.parse(l) as { key: string; values: string[] };
      return JSON.stringify({ key: o.key, values: [...o.values].sort() });
    })
    .sort();

t.test('CLI: create --shards, --shard I/N + manifest, and every reading command on a directory', async (t) => {
  const input = path.join(tmp, 'cli-input.jsonl');
  const r = rng(5);
  const lines: string[] = [];
  for (let i = 0; i < 1500; i++) lines.push(JSON.stringify({ key: `k${randInt(r, 60)}`, value: randInt(r, 3) === 0 ? `k${randInt(r, 60)}` : `v${randInt(r, 300)}` }));
  fs.writeFileSync(input, lines.join('\n') + '\n');
  const single = path.join(tmp, 'cli-single.ddb');
  t.equal(cli(['create', '-q', single, input]).code, 0);
  for (const partitionBy of ['value', 'key']) {
    const dir = path.join(tmp, `cli-${partitionBy}`);
    const made = cli(['create', dir, '--shards', '4', '--jobs', '2', '--partition-by', partitionBy, input]);
    t.equal(made.code, 0, made.err);
    t.match(made.err, /4 shards/);
    // The same shards one at a time, as an engine would build them, then the manifest.
    const eng = path.join(tmp, `cli-eng-${partitionBy}`);
    fs.mkdirSync(eng);
    const parts = await Promise.all([0, 1, 2, 3].map((i) => cliAsync(['create', '-q', path.join(eng, `part-${i}.ddb`), '--shard', `${i}/4`, '--partition-by', partitionBy, input])));
    t.same(parts.map((p) => p.code), [0, 0, 0, 0], 'shards built one by one');
    t.equal(cli(['manifest', '-q', eng, '--shards', '4', '--partition-by', partitionBy]).code, 0);
    for (let i = 0; i < 4; i++) {
      t.ok(fs.readFileSync(path.join(eng, `part-${i}.ddb`)).equals(fs.readFileSync(path.join(dir, `part-${i}.ddb`))), `${partitionBy}: part-${i}.ddb the same both ways`);
    }
    t.same(readManifest(eng), readManifest(dir), `${partitionBy}: same manifest`);
    // Every reading command on the value-partitioned directory; the key-partitioned one (whose
    // code paths the library tests cover) gets a few, to keep the spawns down.
    const reads =
      partitionBy === 'value'
        ? [['keys'], ['values'], ['unique-values'], ['query', 'k1 | ~k2'], ['query', '*k3 & ~k4'], ['query', '~*k5'], ['get', 'k7'], ['items'], ['query', '-c', 'k1 | ~k2'], ['get', '-c', 'k7'], ['metaquery', '*k8']]
        : [['keys'], ['query', '*k3 & ~k4'], ['items']];
    const [want, got] = await Promise.all([single, dir].map((db) => Promise.all(reads.map((args) => cliAsync([args[0]!, db, ...args.slice(1)])))));
    reads.forEach((args, i) => t.same([got![i]!.code, sortedLines(got![i]!.out)], [want![i]!.code, sortedLines(want![i]!.out)], `${partitionBy}: ${args.join(' ')}`));
    const info = JSON.parse(cli(['info', '--json', dir]).out) as { numKeys: number; shards: number };
    t.same([info.numKeys, info.shards], [JSON.parse(cli(['info', '--json', single]).out).numKeys, 4], `${partitionBy}: info`);
    t.equal(cli(['check', dir]).code, 0, `${partitionBy}: check`);
    t.equal(cli(['get', dir, 'absent']).code, 1, `${partitionBy}: an absent key exits 1`);
  }
  // Misuse and damage.
  t.equal(cli(['create', path.join(tmp, 'x.ddb'), '--shard', '4/4', input]).code, 2, '--shard 4/4');
  t.equal(cli(['create', path.join(tmp, 'x'), '--shards', '2', '--shard', '0/2', input]).code, 2, '--shards with --shard');
  t.equal(cli(['create', path.join(tmp, 'x'), '--shards', '2', '--partition-by', 'both', input]).code, 2, 'bad --partition-by');
  t.equal(cli(['manifest', path.join(tmp, 'cli-value')]).code, 2, 'manifest needs --shards');
  const wrong = cli(['manifest', path.join(tmp, 'cli-eng-key'), '--shards', '4', '--partition-by', 'value']);
  t.equal(wrong.code, 1, 'manifest with the wrong partitioning');
  t.match(wrong.err, /part-0\.ddb/);
  fs.rmSync(path.join(tmp, 'cli-value', 'part-2.ddb'));
  const broken = cli(['keys', path.join(tmp, 'cli-value')]);
  t.equal(broken.code, 1, 'a missing shard');
  t.match(broken.err, /part-2\.ddb/);
  t.equal(cli(['keys', tmp]).code, 1, 'a directory without a manifest');
});
