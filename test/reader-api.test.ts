/**
 * Reader API polish (issue 11 item 10) and the lookup fast paths (issue 8):
 * dispose, toJSON, filter/take, inspect, URL paths, encoding unions; the
 * reused key scratch buffer across interleaved lookups and iterations, long,
 * non-ASCII and empty keys, and Huffman decoding on every corpus case and route.
 */
import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as util from 'node:util';
import { pathToFileURL } from 'node:url';
import { DiscoDB, Inquiry, type Encoding } from '../lib/index.js';
import { corpusCases } from './helpers/corpus.js';

const cases = corpusCases();
const animals = cases.find((c) => c.name === '01_animals')!.dbPath;

t.test('Symbol.dispose closes, toJSON, filter and take are lazy and re-iterable', async (t) => {
  const db = DiscoDB.open(animals);
  const pets = db.get('pets');
  t.equal(JSON.stringify({ pets }), '{"pets":["dog","cat","goldfish"]}');
  let calls = 0;
  const short = pets.filter((v) => {
    calls++;
    return v.length === 3;
  });
  t.equal(calls, 0, 'filter is lazy');
  t.same(short.toArray(), ['dog', 'cat']);
  t.same(short.toArray(), ['dog', 'cat'], 're-iterable');
  t.equal(short.count(), 2);
  const firstTwo = db.values().take(2);
  t.same(firstTwo.toArray(), firstTwo.toArray());
  t.equal(firstTwo.toArray().length, 2);
  t.equal(firstTwo.count(), 2);
  t.equal(db.keys().take(10).count(), 3);
  t.same(db.get('birds').take(3).toArray(), []);
  t.same(pets.map((v) => v.length).filter((n) => n > 3).take(1).toArray(), [8]);
  t.throws(() => pets.take(-1), { code: 'ERR_DISCODB_ARGUMENT' });
  db[Symbol.dispose]();
  t.ok(db.isClosed, 'disposed = closed');
  t.throws(() => db.get('pets'), { code: 'ERR_DISCODB_CLOSED' });
});

t.test('util.inspect shows a summary, not internals', async (t) => {
  const db = DiscoDB.open(animals);
  const shown = util.inspect(db);
  t.match(shown, /^DiscoDB ".*db\.ddb" \{ route: '(mmap|pread)', encoding: 'utf8', keys: 3, uniqueValues: \d+, values: 9, bytes: 226 \}$/);
  t.notMatch(shown, /backend|records|src/);
  t.equal(util.inspect(db.get('pets')), 'RecordValues [lazy]');
  t.equal(util.inspect(new Inquiry(() => [1][Symbol.iterator]())), 'Inquiry [lazy]');
  db.close();
  t.match(util.inspect(db), /\[closed\]$/);
  t.match(util.inspect(DiscoDB.from({ a: 'b' })), /^DiscoDB \{ route: 'buffer'/);
});

t.test('open accepts file: URLs; encoding accepts a union', async (t) => {
  const db = DiscoDB.open(pathToFileURL(animals));
  t.same(db.get('pets').toArray(), ['dog', 'cat', 'goldfish']);
  db.close();
  for (const encoding of ['utf8', 'buffer'] as Encoding[]) {
    const d = DiscoDB.open(animals, { encoding });
    const v: string | Buffer | undefined = d.peek('pets');
    t.equal(String(v), 'dog');
    t.equal(typeof v, encoding === 'utf8' ? 'string' : 'object');
    d.close();
  }
});

/** A hashed db with awkward keys: long (past the scratch buffer), non-ASCII, empty, and many plain ones. */
function awkwardDb(): { db: DiscoDB; expect: Map<string, string[]> } {
  const expect = new Map<string, string[]>();
  expect.set('', ['empty key']);
  expect.set('k'.repeat(5000), ['long ascii']);
  expect.set('é'.repeat(2000) + '€', ['long non-ascii']);
  expect.set('ü'.repeat(40), ['short non-ascii']);
  expect.set('日本語', ['cjk']);
  expect.set('x'.repeat(100_000), ['very long']);
  expect.set('🙂', ['astral']);
  for (let i = 0; i < 200; i++) expect.set(`key${i}`, [`v${i}`, `w${i % 7}`]);
  const db = DiscoDB.from(expect);
  return { db, expect };
}

t.test('lookups: long, non-ASCII and empty keys, absent neighbours', async (t) => {
  const { db, expect } = awkwardDb();
  t.ok(db.info().hashed);
  for (const [k, vs] of expect) {
    t.ok(db.has(k), `has ${k.slice(0, 12)}`);
    t.same(db.get(k).toArray(), db.get(Buffer.from(k)).toArray(), 'string and bytes keys agree');
    t.same(new Set(db.get(k).toArray()), new Set(vs));
    t.equal(db.peek(k), db.get(k).first());
    if (!expect.has(k + 'z')) t.notOk(db.has(k + 'z'), 'a longer absent key');
    if (k.length > 0 && !expect.has(k.slice(0, -1))) t.notOk(db.has(k.slice(0, -1)), 'a shorter absent key');
  }
  t.notOk(db.has('k'.repeat(4999) + 'j'), 'same length as a long key, one byte differs');
  t.notOk(db.has('\ud800'), 'a lone surrogate is encoded like Buffer.from does and not found');
});

t.test('the key scratch buffer is reused safely: lookups interleaved with iterations in flight', async (t) => {
  const { db, expect } = awkwardDb();
  const keys = [...expect.keys()];
  // Start an iteration on every key, then advance them all while looking other keys up.
  const its = keys.map((k) => [k, db.get(k)[Symbol.iterator]()] as const);
  const seen = new Map<string, string[]>(keys.map((k) => [k, []]));
  for (let round = 0; round < 3; round++) {
    for (const [k, it] of its) {
      const r = it.next();
      if (!r.done) seen.get(k)!.push(r.value);
      // A lookup of another (long or short) key between two steps of this iteration.
      const other = keys[(keys.indexOf(k) * 7 + round) % keys.length]!;
      t.equal(db.has(other), true);
      t.equal(db.peek(other), db.get(other).first());
    }
  }
  for (const [k, vs] of seen) t.same(new Set(vs), new Set(expect.get(k)), `values of ${k.slice(0, 12)} intact`);
  // Lookups inside a for-of over another key's values, and inside items().
  const outer: string[] = [];
  for (const v of db.get('key1')) {
    outer.push(v);
    t.same(db.get('x'.repeat(100_000)).toArray(), ['very long']);
  }
  t.same(new Set(outer), new Set(expect.get('key1')));
  let n = 0;
  for (const [k, vs] of db.items()) {
    t.same(db.get(k).toArray(), vs.toArray());
    n++;
  }
  t.equal(n, expect.size);
});

function sha(values: Iterable<Uint8Array>): string {
  const h = crypto.createHash('sha256');
  for (const v of values) h.update(v).update('|');
  return h.digest('hex');
}

t.test('value decoding (Huffman tables included) agrees on every corpus case and route', async (t) => {
  for (const c of cases) {
    const image = fs.readFileSync(c.dbPath);
    const routes = [
      DiscoDB.open(c.dbPath, { encoding: 'buffer' }),
      DiscoDB.open(c.dbPath, { encoding: 'buffer', mmap: false }),
      DiscoDB.fromBuffer(image, { encoding: 'buffer' }),
    ];
    const expected = c.expected;
    const head: string[] = expected.unique_values ?? null;
    const sums = routes.map((db) => sha(db.uniqueValues()));
    t.equal(new Set(sums).size, 1, `${c.name}: same values on ${routes.map((r) => r.route).join(', ')}`);
    if (head) {
      const hex = (b: Uint8Array) => (c.hex ? Buffer.from(b).toString('hex') : Buffer.from(b).toString('utf8'));
      t.same(routes[1]!.uniqueValues().toArray().map(hex), head, `${c.name}: the C library's values`);
    }
    // Strings straight from the bytes equal Buffer-then-string.
    const text = DiscoDB.open(c.dbPath, { mmap: false });
    let i = 0;
    for (const v of text.uniqueValues()) {
      if (i++ > 2000) break;
      t.equal(v, routes[0]!.valueById(i).toString('utf8'));
    }
    for (const db of [...routes, text]) db.close();
  }
});

t.test('batched value iteration: a corrupt extent mid-list yields the values before it, then the error', async (t) => {
  const vs = Array.from({ length: 40 }, (_, i) => `value-${i}`);
  const good = DiscoDB.from([{ key: 'k', values: vs }, { key: 'one', values: ['value-3'] }], { disableCompression: true }).toBuffer();
  t.same(DiscoDB.fromBuffer(good).get('k').toArray(), vs);
  for (const bad of [5, 20]) {
    const image = Buffer.from(good);
    const valToc = Number(image.readBigUInt64LE(48));
    // Value id `bad` ends before it starts.
    image.writeBigUInt64LE(BigInt(Number(image.readBigUInt64LE(valToc + 8 * (bad - 1))) - 1), valToc + 8 * bad);
    const db = DiscoDB.fromBuffer(image);
    const seen: string[] = [];
    t.throws(() => {
      for (const v of db.get('k')) seen.push(v);
    }, { code: 'ERR_DISCODB_CORRUPT', message: new RegExp(`value ${bad} has an invalid extent`) });
    t.same(seen, vs.slice(0, bad - 1), `the ${bad - 1} values before id ${bad} came out`);
    t.equal(db.get('k').count(), 40, 'count decodes no value');
  }
  // Many iterators in flight at once, abandoned, returned and finished: none disturbs another.
  const db = DiscoDB.fromBuffer(good);
  const its = Array.from({ length: 100 }, () => db.get('k')[Symbol.iterator]());
  const got = its.map(() => [] as string[]);
  for (let step = 0; step < 40; step++) {
    its.forEach((it, j) => {
      if (j % 3 === 0 && step === 17) it.return?.();
      const r = it.next();
      if (!r.done) got[j]!.push(r.value);
    });
  }
  got.forEach((g, j) => t.same(g, j % 3 === 0 ? vs.slice(0, 17) : vs, `iterator ${j}`));
});
