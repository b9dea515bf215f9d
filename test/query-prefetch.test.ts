/**
 * Query results read ahead of their values (issue 8: up to 8 ids at a time,
 * their values loaded together): same values in the same order, an error at
 * the same item as without reading ahead, and iterations in flight that do
 * not disturb each other or interleaved lookups.
 */
import t from 'tap';
import { DiscoDB, Q, queryIds } from '../lib/index.js';

const a = Array.from({ length: 40 }, (_, i) => `a-value-${i}`);
const b = Array.from({ length: 25 }, (_, i) => `b-value-${i}`);
const shared = ['both-1', 'both-2', 'both-3'];

function image(): Buffer {
  const db = DiscoDB.from(
    [
      { key: 'a', values: [...a, ...shared] },
      { key: 'b', values: [...b, ...shared] },
      ...Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, values: [`v${i}`] })),
    ],
    { disableCompression: true },
  );
  return Buffer.from(db.toBuffer());
}

t.test('query results read ahead: the same values, in id order, on every route', async (t) => {
  const img = image();
  const db = DiscoDB.fromBuffer(img);
  // Enough lookups first that the lookup tables (and the value TOC copy) are in use.
  for (let i = 0; i < 300; i++) db.get(`k${i % 100}`).first();
  const ids = (q: string): string[] => {
    const out: string[] = [];
    const c = queryIds(db, q);
    for (let id = c.next(); id !== 0; id = c.next()) out.push(db.valueById(id));
    return out;
  };
  for (const q of ['a | b', 'a & b', 'a & ~b', '~a', 'k1 | k2 | k3 | a', '*a | k5']) {
    const want = ids(q);
    t.same(db.query(q).toArray(), want, q);
    t.equal(db.query(q).count(), want.length);
    t.same(db.query(Q.parse(q)).toArray(), want, `${q} as a Q`);
  }
  t.same(new Set(db.query('a | b').toArray()), new Set([...a, ...b, ...shared]));
});

t.test('a corrupt value mid-result: the values before it, then the error', async (t) => {
  const good = image();
  const ref = DiscoDB.fromBuffer(good);
  const all = ref.query('a | b').toArray();
  for (const bad of [3, 9, 17]) {
    const img = Buffer.from(good);
    const valToc = Number(img.readBigUInt64LE(48));
    const victim = ref.query('a | b').toArray()[bad - 1]!;
    // The id of the bad-th result (results are in id order).
    let id = 0;
    for (let i = 1; i <= ref.numUniqueValues; i++) if (ref.valueById(i) === victim) id = i;
    img.writeBigUInt64LE(BigInt(Number(img.readBigUInt64LE(valToc + 8 * (id - 1))) - 1), valToc + 8 * id); // ends before it starts
    const db = DiscoDB.fromBuffer(img);
    for (let i = 0; i < 300; i++) db.has(`k${i % 100}`);
    const seen: string[] = [];
    t.throws(() => {
      for (const v of db.query('a | b')) seen.push(v);
    }, { code: 'ERR_DISCODB_CORRUPT', message: new RegExp(`value ${id} has an invalid extent`) });
    t.same(seen, all.slice(0, bad - 1), `the ${bad - 1} values before it came out`);
  }
});

t.test('query iterations in flight, interleaved with lookups and each other', async (t) => {
  const db = DiscoDB.fromBuffer(image());
  const want = db.query('a | b').toArray();
  const its = Array.from({ length: 20 }, () => db.query('a | b')[Symbol.iterator]());
  const got = its.map(() => [] as string[]);
  for (let step = 0; step < want.length + 1; step++) {
    its.forEach((it, j) => {
      if (j % 4 === 0 && step >= 5) return; // abandoned mid-way
      const r = it.next();
      if (!r.done) got[j]!.push(r.value);
      t.equal(db.peek(`k${(step * 7 + j) % 100}`), `v${(step * 7 + j) % 100}`);
    });
  }
  got.forEach((g, j) => t.same(g, j % 4 === 0 ? want.slice(0, 5) : want, `iterator ${j}`));
});

t.test('read-ahead buffers given back by finished iterations never reach one still in flight', async (t) => {
  const db = DiscoDB.fromBuffer(image());
  const queries = ['a | b', 'k1 | k2 | k3', 'a & b', 'k5', 'absent', 'b | k7'];
  const want = queries.map((q) => db.query(q).toArray());
  const live: Array<{ q: number; it: Iterator<string>; got: string[] }> = [];
  let started = 0;
  for (let step = 0; step < 400; step++) {
    // Start a new iteration every few steps (taking buffers finished ones gave back), advance all by one.
    if (step % 3 === 0) {
      const q = started++ % queries.length;
      live.push({ q, it: db.query(queries[q]!)[Symbol.iterator](), got: [] });
    }
    for (const l of live) {
      const r = l.it.next();
      if (!r.done) l.got.push(r.value);
      else t.ok(l.it.next().done, 'done stays done');
    }
  }
  for (const l of live) for (let r = l.it.next(); !r.done; r = l.it.next()) l.got.push(r.value);
  let wrong = 0;
  for (const l of live) if (JSON.stringify(l.got) !== JSON.stringify(want[l.q])) wrong++;
  t.equal(wrong, 0, `${live.length} iterations, each its query's values`);
});
