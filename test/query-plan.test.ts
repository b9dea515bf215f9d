/**
 * The planner (issue 8): keys are looked up before any list is opened (but
 * one-key clauses', opened as they are met, so that one-id lists that differ
 * end an AND early), so an AND with an absent term opens almost nothing;
 * counts come from the opened lists; plans of one query do not disturb those of another (shared scratch), and a
 * query's cached flat form serves any db.
 */
import t from 'tap';
import { DiscoDB } from '../lib/discodb.js';
import type { IdCursor } from '../lib/reader/cursor.js';
import { Q, queryCount, queryIds, type QueryableDB } from '../lib/query/index.js';

const db = DiscoDB.from({
  a: ['1', '2', '3', '4'],
  b: ['2', '3', '5'],
  c: ['3', '4', '5', '6'],
  empty: null,
});

/** The real db, counting the lookups and the lists opened through it. */
function counting(inner: DiscoDB<string>): QueryableDB<string> & { finds: number; opened: number; counted: number } {
  const spy = {
    finds: 0,
    opened: 0,
    counted: 0,
    get numUniqueValues(): number {
      return inner.numUniqueValues;
    },
    get isMultiset(): boolean {
      return inner.isMultiset;
    },
    findKey(key: Uint8Array): number {
      spy.finds++;
      return inner.findKey(key);
    },
    listCount(record: number): number {
      spy.counted++;
      return inner.listCount(record);
    },
    idCursor(record: number): IdCursor {
      spy.opened++;
      return inner.idCursor(record);
    },
    valueById: (id: number): string => inner.valueById(id),
    valueBytes: (id: number): Uint8Array => inner.valueBytes(id),
  };
  return spy;
}

const drain = (c: IdCursor): number[] => {
  const out: number[] = [];
  for (let id = c.next(); id !== 0; id = c.next()) out.push(id);
  return out;
};

t.test('an AND with an absent (or empty) term opens no list but those of one-key clauses met before it', async (t) => {
  // A one-key clause's list is opened right after its lookup (the record was just read), so that two
  // such keys with one differing id each end the AND early; the lists of other clauses wait for phase 2.
  for (const [s, most] of [['a & b & absent', 2], ['absent & a & b', 2], ['a & (absent | gone) & b', 2], ['(absent | gone) & (a | b)', 0], ['a & empty & b', 3]] as const) {
    const spy = counting(db);
    t.equal(queryCount(spy, Q.parse(s)), 0, s);
    t.ok(spy.opened <= most, `${s}: opened ${spy.opened} (at most ${most})`);
  }
  // The lookups stop at the first clause that matches nothing.
  const spy = counting(db);
  t.equal(queryCount(spy, Q.parse('a & absent & b & c')), 0);
  t.equal(spy.finds, 2, 'a, then absent (clauses in canonical order): b and c never looked up');
  t.end();
});

t.test('each term costs one lookup and one list; counts come from the lists', async (t) => {
  const spy = counting(db);
  t.same(drain(queryIds(spy, Q.parse('a & b & c'))), [3]);
  t.equal(spy.finds, 3);
  t.equal(spy.opened, 3);
  t.equal(spy.counted, 0, 'no separate listCount');
  const one = counting(db);
  t.equal(queryCount(one, Q.parse('b')), 3);
  t.equal(queryCount(one, Q.parse('~b')), db.numUniqueValues - 3);
  // A negated absent key makes its clause always true: its other keys need no list.
  const always = counting(db);
  t.equal(queryCount(always, Q.parse('(~absent | a) & b')), 3);
  t.equal(always.opened, 1, 'only b opened');
  t.end();
});

t.test('negations grouped by De Morgan give the same answers', async (t) => {
  const u = db.numUniqueValues;
  const all = Array.from({ length: u }, (_, i) => i + 1);
  const ids = (s: string): number[] => drain(queryIds(db, Q.parse(s)));
  const set = (s: string): Set<number> => new Set(ids(s));
  const A = set('a');
  const B = set('b');
  const C = set('c');
  t.same(ids('~a & ~b'), all.filter((x) => !A.has(x) && !B.has(x)));
  t.same(ids('~a & ~b & c'), all.filter((x) => !A.has(x) && !B.has(x) && C.has(x)));
  t.same(ids('~a | ~b'), all.filter((x) => !(A.has(x) && B.has(x))));
  t.same(ids('~a | ~b | c'), all.filter((x) => !(A.has(x) && B.has(x)) || C.has(x)));
  t.same(ids('(~a | ~b | ~c) & (~a & ~c | b)'), all.filter((x) => !(A.has(x) && B.has(x) && C.has(x)) && ((!A.has(x) && !C.has(x)) || B.has(x))));
  t.same(ids('~a & ~empty'), all.filter((x) => !A.has(x)));
  t.end();
});

t.test('plans do not share state: interleaved iterations, one Q on two dbs', async (t) => {
  const q1 = Q.parse('a | c');
  const q2 = Q.parse('~a & ~b | c');
  const want1 = drain(queryIds(db, q1));
  const want2 = drain(queryIds(db, q2));
  const c1 = queryIds(db, q1);
  const c2 = queryIds(db, q2);
  const got1: number[] = [];
  const got2: number[] = [];
  for (;;) {
    const x = c1.next();
    const y = c2.next();
    if (x !== 0) got1.push(x);
    if (y !== 0) got2.push(y);
    if (x === 0 && y === 0) break;
    // A third plan in the middle of both iterations.
    t.equal(queryCount(db, Q.parse('b & c')), 2);
  }
  t.same(got1, want1);
  t.same(got2, want2);
  // The same Q object against another db (its cached flat form holds keys only).
  const other = DiscoDB.from({ a: ['x'], c: ['y', 'x'] });
  t.same(other.query(q1).toArray(), ['x', 'y']);
  t.same(db.query(q1).count(), want1.length);
  t.end();
});

t.test('an AND of keys with one id each stops looking up once two ids differ', async (t) => {
  const single = DiscoDB.from({ x: ['1'], y: ['2'], z: ['3'], x2: ['1'], many: ['1', '2', '3'], none: null });
  const spy = counting(single);
  t.equal(queryCount(spy, Q.parse('x & y & z')), 0);
  t.equal(spy.finds, 2, 'x, then y: z never looked up');
  t.equal(spy.counted, 0, 'no separate listCount');
  const same = counting(single);
  t.same(drain(queryIds(same, Q.parse('x & x2 & many'))), [single.get('x').first() === '1' ? 1 : drain(queryIds(single, Q.parse('x')))[0]]);
  t.equal(same.finds, 3, 'equal ids: every key looked up');
  t.equal(same.opened, 3, 'each list opened once');
  t.equal(queryCount(single, Q.parse('x & (y | z)')), 0);
  t.equal(queryCount(single, Q.parse('x & ~y')), 1);
  t.equal(queryCount(single, Q.parse('x & none')), 0);
  t.equal(queryCount(single, Q.parse('x')), 1);
  t.end();
});

t.test('ANDs of one-id keys against a model (random dbs, set and multiset)', async (t) => {
  let seed = 99;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  for (const multiset of [false, true]) {
    const values = new Map<string, string[]>();
    for (let i = 0; i < 60; i++) {
      const n = rand() < 0.6 ? 1 : 1 + Math.floor(rand() * 4);
      const vs = Array.from({ length: n }, () => `v${Math.floor(rand() * 6)}`);
      values.set(`k${i}`, multiset ? vs : [...new Set(vs)]);
    }
    const d = DiscoDB.from([...values].map(([key, vs]) => ({ key, values: vs })), { uniqueItems: !multiset });
    t.equal(d.isMultiset, multiset);
    const keys = [...values.keys()];
    let wrong = 0;
    for (let q = 0; q < 400; q++) {
      const terms = Array.from({ length: 2 + Math.floor(rand() * 3) }, () => (rand() < 0.1 ? 'absent' : keys[Math.floor(rand() * keys.length)]!));
      const neg = rand() < 0.2;
      const text = terms.map((k, i) => (neg && i === terms.length - 1 ? `~${k}` : k)).join(' & ');
      const all = new Set([...values.values()].flat());
      const sets = terms.map((term, i): Set<string> => {
        const has = new Set(values.get(term) ?? []);
        return neg && i === terms.length - 1 ? new Set([...all].filter((v) => !has.has(v))) : has;
      });
      const want = sets.reduce((acc, s) => new Set([...acc].filter((v) => s.has(v))));
      const got = d.query(Q.parse(text)).toArray().sort();
      if (JSON.stringify(got) !== JSON.stringify([...want].sort()) || d.query(Q.parse(text)).count() !== want.size) {
        wrong++;
        t.fail(`${multiset ? 'multiset' : 'set'}: ${text}: ${JSON.stringify(got)} want ${JSON.stringify([...want].sort())}`);
      }
    }
    t.equal(wrong, 0, `${multiset ? 'multiset' : 'set'} db: 400 queries`);
  }
  t.end();
});
