import t from 'tap';
import * as fs from 'node:fs';
import { DiscoDB } from '../lib/discodb.js';
import { DiscoDBError } from '../lib/errors.js';
import { encodeDeltaList } from '../lib/format/deltalist.js';
import type { IdCursor } from '../lib/reader/cursor.js';
import {
  AndCursor,
  Clause,
  DedupCursor,
  DiscoDBView,
  HeapOrCursor,
  Literal,
  NotCursor,
  OrCursor,
  Q,
  RangeCursor,
  ViewCursor,
  countIds,
  makeView,
  metaquery,
  query,
  queryCount,
  queryIds,
} from '../lib/query/index.js';
import { corpusCases, fromExpected, toExpected } from './helpers/corpus.js';
import { rng, randInt } from './helpers/random.js';

// ---------------------------------------------------------------------------
// A tiny image builder (spec §2–§4): unhashed, uncompressed, keys in first
// insertion order, value ids in first appearance order.

type Bytesish = string | Uint8Array;
const bytes = (x: Bytesish): Buffer => (typeof x === 'string' ? Buffer.from(x, 'utf8') : Buffer.from(x));

function buildImage(items: Array<[Bytesish, Bytesish[]]>, uniqueItems = true): Buffer {
  const keyIndex = new Map<string, number>();
  const keys: Buffer[] = [];
  const lists: number[][] = [];
  const valueIds = new Map<string, number>();
  const values: Buffer[] = [];
  for (const [k, vs] of items) {
    const kb = bytes(k);
    let ki = keyIndex.get(kb.toString('latin1'));
    if (ki === undefined) {
      ki = keys.length;
      keyIndex.set(kb.toString('latin1'), ki);
      keys.push(kb);
      lists.push([]);
    }
    for (const v of vs) {
      const vb = bytes(v);
      let id = valueIds.get(vb.toString('latin1'));
      if (id === undefined) {
        values.push(vb);
        id = values.length;
        valueIds.set(vb.toString('latin1'), id);
      }
      lists[ki]!.push(id);
    }
  }
  const records: Buffer[] = [];
  let numValues = 0;
  let multiset = false;
  for (let i = 0; i < keys.length; i++) {
    const ids = lists[i]!.slice().sort((a, b) => a - b);
    const enc = encodeDeltaList(ids, uniqueItems);
    numValues += enc.count;
    multiset ||= enc.hasDuplicate;
    const head = Buffer.alloc(4);
    head.writeUInt32LE(keys[i]!.length);
    const cnt = Buffer.alloc(4);
    cnt.writeUInt32LE(enc.count);
    records.push(Buffer.concat([head, keys[i]!, cnt, Buffer.from(enc.bytes)]));
  }
  const n = keys.length;
  const u = values.length;
  const k2v = 72;
  const recStart = k2v + 8 * (n + 1);
  const recBytes = records.reduce((s, r) => s + r.length, 0);
  const i2v = recStart + recBytes;
  const valStart = i2v + 8 * (u + 1);
  const valBytes = values.reduce((s, v) => s + v.length, 0);
  const size = valStart + valBytes + 4;
  const img = Buffer.alloc(size);
  Buffer.from([0x5b, 0xde, 0x14, 0x1d, 0xe6, 0x5b, 0xd8, 0x04]).copy(img, 0);
  img.writeBigUInt64LE(BigInt(size), 8);
  img.writeUInt32LE(n, 16);
  img.writeUInt32LE(u, 20);
  img.writeBigUInt64LE(BigInt(numValues), 24);
  img.writeBigUInt64LE(BigInt(multiset ? 2 : 0), 32);
  img.writeBigUInt64LE(BigInt(k2v), 40);
  img.writeBigUInt64LE(BigInt(i2v), 48);
  img.writeBigUInt64LE(72n, 56);
  let off = recStart;
  for (let i = 0; i < n; i++) {
    img.writeBigUInt64LE(BigInt(off), k2v + 8 * i);
    records[i]!.copy(img, off);
    off += records[i]!.length;
  }
  img.writeBigUInt64LE(BigInt(off), k2v + 8 * n);
  off = valStart;
  for (let v = 0; v < u; v++) {
    img.writeBigUInt64LE(BigInt(off), i2v + 8 * v);
    values[v]!.copy(img, off);
    off += values[v]!.length;
  }
  img.writeBigUInt64LE(BigInt(off), i2v + 8 * u);
  return img;
}

/** The Python doctest db. */
const DOCTEST_ITEMS: Array<[string, string[]]> = [
  ['A', ['B', 'C']],
  ['B', ['D']],
  ['C', ['E']],
  ['D', ['F']],
  ['E', ['G']],
];

const sorted = (xs: Iterable<string>): string[] => Array.from(xs).sort();

// ---------------------------------------------------------------------------

t.test('the test image builder reproduces the C animals file byte for byte', async (t) => {
  const img = buildImage([
    ['mammals', ['cow', 'dog', 'cat', 'whale']],
    ['pets', ['dog', 'cat', 'goldfish']],
    ['aquatic', ['goldfish', 'whale']],
  ]);
  t.same(img, fs.readFileSync(new URL('./fixtures/corpus/01_animals/db.ddb', import.meta.url)));
});

t.test('parser: Python doctests and CNF normalisation', async (t) => {
  t.ok(Q.parse('~(B | C)').equals(Q.parse('~B & ~C')));
  t.ok(Q.parse('(A & B) | C').equals(Q.parse('(A | C) & (B | C)')));
  t.ok(Q.parse('A & (B | (D & E))').equals(Q.parse('A & (B | D) & (B | E)')));
  const abcde = Q.parse('a | b | c & d | e');
  t.ok(Q.parse(abcde.toString()).equals(abcde));
  t.ok(Q.urlscan(Q.parse('(a | b) & ~c').urlformat()).equals(Q.parse('~c & (a | b)')));
  // ~(a | b | c) raises in Python; here it is De Morgan.
  t.ok(Q.parse('~(a | b | c)').equals(Q.parse('~a & ~b & ~c')));
  t.ok(Q.parse('~(a & b & c)').equals(Q.parse('~a | ~b | ~c')));
  t.ok(Q.parse('~~a').equals(Q.parse('a')));
  t.ok(Q.parse('~(~a | ~b)').equals(Q.parse('a & b')));
  // Precedence: ~ then & then |.
  t.ok(Q.parse('a | b & c').equals(Q.parse('a | (b & c)')));
  t.notOk(Q.parse('a | b & c').equals(Q.parse('(a | b) & c')));
  t.ok(Q.parse('~a & b').equals(Q.parse('(~a) & b')));
  // Set semantics: order and repeats do not matter.
  t.ok(Q.parse('b | a | a').equals(Q.parse('a | b')));
  t.ok(Q.parse('x & y & x').equals(Q.parse('y & x')));
  t.equal(Q.parse('x & y & x').clauses.length, 2);
  // The exact CNF of a distribution (no absorption, as in Python).
  t.equal(Q.parse('(a & b) | (c & d)').clauses.length, 4);
  t.equal(Q.parse('a & (a | b)').clauses.length, 2);
  // * and + are the same operator.
  t.ok(Q.parse('*A').equals(Q.parse('+A')));
  t.ok(Q.parse('**A | *B').equals(Q.deref(Q.deref(Q.term('A'))).or(Q.deref(Q.term('B')))));
  t.ok(Q.parse('*A').clauses[0]!.literals[0]!.isDereference);
  t.ok(Q.parse('~*(a | b)').equals(Q.not(Q.deref(Q.or(Q.term('a'), Q.term('b'))))));
  t.end();
});

t.test('parser: terms', async (t) => {
  const key = (q: Q): string => q.clauses[0]!.literals[0]!.key!.toString('utf8');
  t.equal(key(Q.parse('  hello world  ')), 'hello world', 'inner spaces kept, outer trimmed');
  t.equal(key(Q.parse('\tx\n')), 'x');
  t.equal(key(Q.parse('a"b')), 'a"b', 'quotes inside a plain term are literal');
  t.equal(key(Q.parse('"abc')), '"abc', 'an unterminated quote is a plain term (as Python)');
  t.equal(key(Q.parse('"x" y')), '"x" y', 'a quote followed by more text is a plain term (as Python)');
  t.equal(key(Q.parse('a\\nb')), 'a\\nb', 'no escapes outside quotes');
  t.equal(key(Q.parse('日本語')), '日本語');
  t.equal(key(Q.parse('"a & b | (c)"')), 'a & b | (c)', 'quoted term');
  t.equal(key(Q.parse('"q\\"\\\\\\n\\t\\r\\x41"')), 'q"\\\n\t\rA');
  t.same(Q.parse('"\\xff\\x00"').clauses[0]!.literals[0]!.key, Buffer.from([0xff, 0]));
  t.equal(key(Q.parse('""')), '', 'the empty key');
  t.ok(Q.parse('"a&b" & ~"c|d"').equals(Q.term('a&b').and(Q.term('c|d').not())));
  t.ok(Q.parse('a & b').equals(Q.term('a').and(Q.term('b'))));
  t.ok(Q.parse('').equals(Q.and()), 'empty string → no clauses');
  t.equal(Q.parse('').clauses.length, 0);
  t.equal(Q.parse('   ').clauses.length, 0);
  t.ok(Q.parse('()').equals(Q.or()), '() is the empty clause');
  t.equal(Q.or().clauses.length, 1);
  t.equal(Q.or().clauses[0]!.literals.length, 0);
  t.end();
});

t.test('parser: errors carry the position', async (t) => {
  const cases: Array<[string, number]> = [
    ['a & & b', 4],
    ['(a | b', 6],
    ['a)', 1],
    ['a & ', 4],
    ['~', 1],
    ['| a', 0],
    ['(a) b', 4],
    ['a & (b | )', 9],
    ['"bad \\q escape" & a', 5],
  ];
  for (const [s, pos] of cases) {
    try {
      Q.parse(s);
      t.fail(`parsed ${JSON.stringify(s)}`);
    } catch (err) {
      t.ok(err instanceof DiscoDBError, s);
      t.equal((err as DiscoDBError).code, 'ERR_DISCODB_QUERY', s);
      t.equal((err as DiscoDBError).position, pos, `${s}: ${(err as Error).message}`);
      t.match((err as Error).message, `position ${pos}`);
    }
  }
  t.throws(() => Q.parse(5 as unknown as string), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => Q.parse('('.repeat(5000) + 'a' + ')'.repeat(5000)), { code: 'ERR_DISCODB_QUERY' });
  // Distribution blows up exponentially: refused instead of eating memory.
  const big = Array.from({ length: 20 }, (_, i) => `(a${i} & b${i})`).join(' | ');
  t.throws(() => Q.parse(big), { code: 'ERR_DISCODB_QUERY' });
  t.throws(() => Q.term(5 as unknown as string), { code: 'ERR_DISCODB_ARGUMENT' });
  t.end();
});

t.test('toString and urlformat round-trip, any key', async (t) => {
  t.equal(Q.parse('a | b').toString(), 'a | b');
  t.equal(Q.parse('b & a').toString(), '(a) & (b)', "Python's format: every clause in parentheses when several");
  t.equal(Q.parse('(a | b) & ~c').toString(), '(a | b) & (~c)');
  t.equal(Q.parse('(a | b) & ~c').urlformat(), '(a,b)/(~c)');
  t.equal(Q.parse('*A').toString(), '+(A)');
  t.equal(Q.parse('~**A').toString(), '~+(+(A))');
  t.equal(Q.parse('*A').urlformat(), '%2B(A)');
  t.equal(Q.parse('x:1 & y.z-w_q').urlformat(), '(x:1)/(y.z-w_q)');
  t.equal(Q.parse('ä').urlformat(), '%C3%A4');
  t.equal(Q.and().toString(), '');
  t.equal(Q.or().toString(), '()');
  t.ok(Q.urlscan('/(a,b)/(~c)/').equals(Q.parse('(a | b) & ~c')), 'urlscan strips slashes');
  t.ok(Q.urlscan('%28a%2Cb%29').equals(Q.parse('a | b')));
  t.ok(Q.urlscan('100%').equals(Q.term('100%')), 'stray % stays');

  const keys: Uint8Array[] = [
    Buffer.from('a&b'),
    Buffer.from('new\nline'),
    Buffer.from(' padded '),
    Buffer.from(''),
    Buffer.from('"quoted"'),
    Buffer.from('back\\slash'),
    Buffer.from('x y'),
    Buffer.from('a/b,c'),
    Buffer.from('*+~()|'),
    Buffer.from('100%'),
    Buffer.from([0xff, 0xfe, 0x00, 0x80]),
    Buffer.from([0xc3]),
    Buffer.from('日本語 🎉'),
    Buffer.from('\u007f\u0001'),
  ];
  const r = rng(7);
  for (let i = 0; i < 200; i++) {
    const pick = (): Q => {
      const q = Q.term(keys[randInt(r, keys.length)]!);
      return r() < 0.3 ? q.not() : r() < 0.1 ? q.deref() : q;
    };
    let q = pick();
    for (let j = randInt(r, 4); j > 0; j--) q = r() < 0.5 ? q.and(pick()) : q.or(pick());
    if (r() < 0.2) q = Q.deref(q);
    t.ok(Q.parse(q.toString()).equals(q), `toString ${JSON.stringify(q.toString())}`);
    t.ok(Q.urlscan(q.urlformat()).equals(q), `urlformat ${q.urlformat()}`);
    t.match(q.urlformat(), /^[A-Za-z0-9_.\-:()/,~%]*$/);
  }
  for (const q of [Q.and(), Q.or(), Q.or().and(Q.term('a')), Q.deref(Q.and()), Q.deref(Q.or()).not()]) {
    t.ok(Q.parse(q.toString()).equals(q), `degenerate ${JSON.stringify(q.toString())}`);
  }
  t.end();
});

t.test('builders and the data model', async (t) => {
  const a = Q.term('a');
  const b = Q.term(Buffer.from('b'));
  t.ok(Q.and(a, b).equals(Q.parse('a & b')));
  t.ok(Q.or(a, b).equals(Q.parse('a | b')));
  t.ok(Q.not(Q.or(a, b)).equals(Q.parse('~a & ~b')));
  t.ok(Q.and().equals(new Q()));
  t.ok(Q.or(a).equals(a), 'Q.or of one is itself');
  t.ok(Q.and(a).equals(a));
  t.ok(Q.or(Q.and(), a).equals(Q.and()), 'Q([]) absorbs | (as in Python)');
  t.ok(Q.and(Q.and(), a).equals(a), 'Q([]) is the identity of &');
  t.ok(Q.not(Q.and()).equals(Q.and()), '~Q([]) = Q([]) (as in Python)');
  t.ok(Q.wrap(Literal.term('a', true)).equals(Q.parse('~a')));
  t.ok(Q.wrap(new Clause([Literal.term('a'), Literal.term('b')])).equals(Q.parse('b | a')));
  t.ok(Literal.term('x').equals(Literal.term(Buffer.from('x'))));
  t.notOk(Literal.term('x').equals(Literal.term('x', true)));
  t.ok(new Clause([Literal.term('a')]).equals(new Clause([Literal.term('a'), Literal.term('a')])));
  t.equal(new Clause([Literal.term('b'), Literal.term('a', true)]).toString(), '~a | b');
  t.equal(Literal.deref(Q.parse('x | y'), true).toString(), '~+(x | y)');
  t.ok(Q.term('a').hasDereference === false && Q.parse('a & *b').hasDereference);
  t.ok(Q.wrap(a) === a);
  t.end();
});

// ---------------------------------------------------------------------------

t.test('the Python doctests, verbatim', async (t) => {
  const db = DiscoDB.fromBuffer(buildImage(DOCTEST_ITEMS));
  const q = (s: string): string[] => sorted(query(db, Q.parse(s)));
  t.same(q('A'), ['B', 'C']);
  t.same(q('*A'), ['D', 'E']);
  t.same(q('A | B'), ['B', 'C', 'D']);
  t.same(q('*A | B'), ['D', 'E']);
  t.same(q('**A | *B'), ['F', 'G']);

  const mq = (s: string): Array<[Q, string[]]> => Array.from(metaquery(db, Q.parse(s)), ([k, vs]) => [k, sorted(vs)]);
  const check = (s: string, want: Array<[string, string[]]>): void => {
    const got = mq(s);
    t.equal(got.length, want.length, s);
    for (const [wq, wv] of want) {
      const hit = got.find(([k]) => k.equals(Q.parse(wq)));
      t.ok(hit, `${s}: has ${wq}`);
      t.same(hit?.[1], wv, `${s}: ${wq}`);
    }
  };
  check('A', [['A', ['B', 'C']]]);
  check('*A', [
    ['B', ['D']],
    ['C', ['E']],
  ]);
  check('A | B', [['A | B', ['B', 'C', 'D']]]);
  check('*A | B', [
    ['B', ['D']],
    ['C | B', ['D', 'E']],
  ]);
  check('**A | *B', [
    ['D', ['F']],
    ['E | D', ['F', 'G']],
  ]);
  // Same strings as Python prints them, up to literal order.
  t.same(
    mq('*A | B').map(([k]) => k.toString()).sort(),
    ['B', 'B | C'],
  );
  // Through the db methods installed by lib/query.
  t.same(sorted(db.query('**A | *B')), ['F', 'G']);
  t.same(Array.from(db.metaquery('*A'), ([k]) => String(k)).sort(), ['B', 'C']);
  t.end();
});

t.test('dereference corner cases', async (t) => {
  const db = DiscoDB.fromBuffer(buildImage([...DOCTEST_ITEMS, ['N', []], ['Z', ['nokey']]]));
  const q = (s: string): string[] => query(db, s).toArray();
  t.same(q('*N'), [], 'dereference of nothing matches nothing');
  t.same(q('*N | B'), ['D'], 'and vanishes inside a disjunction');
  t.same(q('*Z'), [], 'values that are not keys');
  t.same(q('~*N'), ['B', 'C', 'D', 'E', 'F', 'G', 'nokey'], '~ of an empty dereference is everything');
  t.same(q('~*A'), ['B', 'C', 'F', 'G', 'nokey']);
  t.same(q('*(A | B)'), ['D', 'E', 'F']);
  t.same(q('*A & ~D'), ['D', 'E'], '~D removes F only');
  t.same(q('*A & ~*B'), ['D', 'E']);
  t.same(q('*B | *C | *D'), ['F', 'G'], 'F is not a key');
  t.same(q('***A'), [], 'F and G are not keys');
  t.same(Array.from(metaquery(db, '~*A'), ([k, vs]) => [k.toString(), vs.toArray()]), [
    ['~B', ['B', 'C', 'E', 'F', 'G', 'nokey']],
    ['~C', ['B', 'C', 'D', 'F', 'G', 'nokey']],
  ]);
  t.same(Array.from(metaquery(db, '*N & A')), [], 'an empty expansion yields nothing');
  t.same(
    Array.from(metaquery(db, ''), ([k, vs]) => [k.clauses.length, vs.count()]),
    [[0, 0]],
  );
  t.throws(() => query(db, '*'.repeat(100) + 'A').toArray(), { code: 'ERR_DISCODB_QUERY' });
  t.end();
});

t.test('animals: queries, views, counts', async (t) => {
  const db = DiscoDB.fromBuffer(fs.readFileSync(new URL('./fixtures/corpus/01_animals/db.ddb', import.meta.url)));
  t.same(db.query('mammals & aquatic').toArray(), ['whale']);
  t.same(db.query(Q.parse('pets & ~aquatic')).toArray(), ['dog', 'cat']);
  t.same(query(db, 'pets | aquatic').toArray(), ['dog', 'cat', 'whale', 'goldfish']);
  t.same(query(db, '~(pets | aquatic)').toArray(), ['cow']);
  t.same(query(db, '~birds').toArray(), ['cow', 'dog', 'cat', 'whale', 'goldfish']);
  t.same(query(db, 'birds').toArray(), []);
  t.same(query(db, 'birds | ~birds').toArray(), ['cow', 'dog', 'cat', 'whale', 'goldfish']);
  t.same(query(db, '').toArray(), []);
  t.same(query(db, '()').toArray(), []);
  t.equal(query(db, 'mammals').count(), 4);
  t.equal(query(db, '~mammals').count(), 1);
  t.equal(queryCount(db, 'mammals | pets'), 5);
  t.equal(query(db, 'mammals').first(), 'cow');

  const view = makeView(db, ['dog', 'cat', 'unicorn']);
  t.ok(view instanceof DiscoDBView);
  t.equal(view.size, 2);
  t.ok(view.has(2) && view.has(3) && !view.has(1) && !view.has(4));
  t.same(Array.from(view), [2, 3]);
  t.same(query(db, 'mammals', { view }).toArray(), ['dog', 'cat']);
  t.same(query(db, '~pets', { view }).toArray(), []);
  t.same(query(db, '~aquatic', { view: ['cat', Buffer.from('whale')] }).toArray(), ['cat']);
  t.same(query(db, '', { view }).toArray(), [], 'zero clauses stay empty with a view');
  t.same(query(db, 'mammals', { view: [] }).toArray(), []);
  const dv = db.makeView(['dog', 'cat']) as DiscoDBView;
  t.equal(dv.size, 2);
  t.same(db.query('pets', { view: dv }).toArray(), ['dog', 'cat']);

  // Re-iterable and lazy.
  const inq = query(db, 'pets');
  t.same(inq.toArray(), inq.toArray());
  const ids = queryIds(db, 'mammals & ~pets');
  t.same([ids.next(), ids.next(), ids.next(), ids.next()], [1, 4, 0, 0]);
  t.throws(() => query(db, 'a & (b'), { code: 'ERR_DISCODB_QUERY' });
  t.throws(() => query(db, 42 as unknown as string), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => query(db, 'a', { view: 5 as unknown as string[] }), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => makeView(db, [5 as unknown as string]), { code: 'ERR_DISCODB_ARGUMENT' });

  const bufDb = DiscoDB.fromBuffer(fs.readFileSync(new URL('./fixtures/corpus/01_animals/db.ddb', import.meta.url)), {
    encoding: 'buffer',
  });
  t.same(query(bufDb, 'aquatic').toArray(), [Buffer.from('whale'), Buffer.from('goldfish')]);
  t.end();
});

// ---------------------------------------------------------------------------

/** Set answer of a CNF over `items` (for multiset cases, where C refuses). */
function modelCnf(items: Array<[string, string[]]>, universe: string[], cnf: Array<Array<{ key: string; not: boolean }>>): string[] {
  if (cnf.length === 0) return [];
  const lists = new Map(items.map(([k, vs]) => [k, new Set(vs)]));
  return universe.filter((v) =>
    cnf.every((clause) => clause.some((term) => (lists.get(term.key)?.has(v) ?? false) !== term.not)),
  );
}

t.test('every query of the C corpus', async (t) => {
  for (const c of corpusCases()) {
    const e = c.expected;
    const db = DiscoDB.open(c.dbPath, { encoding: 'buffer' });
    for (const item of e.queries) {
      const cnf = item.cnf as Array<Array<{ key: string; not: boolean }>>;
      const q = Q.and(
        ...cnf.map((clause) =>
          Q.or(...clause.map((term) => (term.not ? Q.not(Q.term(fromExpected(c, term.key))) : Q.term(fromExpected(c, term.key))))),
        ),
      );
      let want: string[];
      let wantCount: number;
      if (item.error === 'DDB_ERR_QUERY_NOT_SUPPORTED') {
        t.ok(db.isMultiset, `${c.name}: only multisets are refused`);
        want = modelCnf(e.items, e.unique_values, cnf);
        wantCount = want.length;
      } else {
        t.equal(item.error, null);
        want = item.result;
        wantCount = item.count;
      }
      const label = `${c.name}: ${item.query ?? JSON.stringify(cnf)}`;
      const inq = query(db, q);
      t.same(inq.toArray().map((v) => toExpected(c, v)), want, label);
      t.equal(inq.count(), wantCount, `${label} count`);
      // The readable form parses to the same query when it is simple tokens.
      // (Its precedence differs from the Q language's, so only unambiguous ones.)
      const simple = cnf.length <= 1 || cnf.every((cl) => cl.length <= 1);
      if (item.query !== null && !c.hex && simple) t.ok(Q.parse(item.query).equals(q), `${label} parses`);
    }
    db.close();
  }
  t.end();
});

// ---------------------------------------------------------------------------
// Cursors in isolation

/** A cursor over an array, with the reader's semantics, counting calls and steps. */
class ArrayCursor implements IdCursor {
  private i = 0;
  private cur = 0;
  calls = 0;
  steps = 0;
  constructor(private readonly ids: number[]) {}
  next(): number {
    this.calls++;
    this.steps++;
    this.cur = this.i < this.ids.length ? this.ids[this.i++]! : 0;
    return this.cur;
  }
  seek(target: number): number {
    this.calls++;
    if (this.cur >= target && this.cur !== 0) return this.cur;
    do {
      this.steps++;
      this.cur = this.i < this.ids.length ? this.ids[this.i++]! : 0;
    } while (this.cur !== 0 && this.cur < target);
    return this.cur;
  }
}

function drain(c: IdCursor): number[] {
  const out: number[] = [];
  for (let id = c.next(); id !== 0; id = c.next()) out.push(id);
  return out;
}

function randomList(r: () => number, u: number, density: number, dups = false): number[] {
  const out: number[] = [];
  for (let id = 1; id <= u; id++) {
    if (r() < density) {
      out.push(id);
      if (dups && r() < 0.3) out.push(id);
    }
  }
  return out;
}

t.test('cursors against arrays (next, non-strict seek, duplicates)', async (t) => {
  const r = rng(11);
  for (let round = 0; round < 300; round++) {
    const u = 1 + randInt(r, 200);
    const k = 1 + randInt(r, 14);
    const lists = Array.from({ length: k }, () => randomList(r, u, r() * r(), r() < 0.3));
    const sets = lists.map((l) => new Set(l));
    const mk = (): IdCursor[] => lists.map((l) => new DedupCursor(new ArrayCursor(l)));
    const all = Array.from({ length: u }, (_, i) => i + 1);
    const union = all.filter((id) => sets.some((s) => s.has(id)));
    const inter = all.filter((id) => sets.every((s) => s.has(id)));
    const comp = all.filter((id) => !sets[0]!.has(id));
    const viewIds = all.filter(() => r() < 0.3);
    const makers: Array<[string, () => IdCursor, number[]]> = [
      ['or', () => new OrCursor(mk()), union],
      ['heap-or', () => new HeapOrCursor(mk()), union],
      ['and', () => new AndCursor(mk()), inter],
      ['not', () => new NotCursor(new ArrayCursor(lists[0]!), u), comp],
      ['range', () => new RangeCursor(u), all],
      ['view', () => new ViewCursor(Uint32Array.from(viewIds)), viewIds],
      ['dedup', () => new DedupCursor(new ArrayCursor(lists[0]!)), [...sets[0]!]],
    ];
    for (const [name, make, want] of makers) {
      t.same(drain(make()), want, `${name} next, round ${round}`);
      // Random interleaving of next and seek (targets below, at and above the current id).
      const c = make();
      const trace: string[] = [];
      let last = 0;
      let ok = true;
      for (let step = 0; step < 60 && ok; step++) {
        let id: number;
        let expected: number;
        if (r() < 0.5) {
          id = c.next();
          expected = want.find((x) => x > last) ?? 0;
          trace.push(`next=${id}`);
        } else {
          const target = Math.max(1, last + randInt(r, 40) - 5);
          id = c.seek(target);
          // Non-strict: a cursor standing on an id ≥ target returns it again.
          expected = last !== 0 && last >= target ? last : want.find((x) => x >= target && x > last) ?? 0;
          trace.push(`seek(${target})=${id}`);
        }
        if (id !== expected) ok = false;
        if (id === 0) break;
        last = id;
      }
      t.ok(ok, `${name} seek/next interleaving, round ${round}: ${trace.join(' ')}`);
      const c2 = make();
      drain(c2);
      t.equal(c2.next(), 0, `${name} stays exhausted`);
      t.equal(c2.seek(1), 0, `${name} stays exhausted on seek`);
    }
  }
  t.equal(countIds(new RangeCursor(10)), 10);
  t.throws(() => new AndCursor([]));
  t.end();
});

t.test('AND costs about the rare list; NOT does not enumerate the universe', async (t) => {
  const u = 1_000_000;
  const frequent = Array.from({ length: u }, (_, i) => i + 1);
  const rare = Array.from({ length: 100 }, (_, i) => (i + 1) * 9_973);
  const f = new ArrayCursor(frequent);
  const r = new ArrayCursor(rare);
  t.same(drain(new AndCursor([r, f])), rare);
  t.ok(f.calls <= 2 * rare.length + 2, `frequent list asked ${f.calls} times for ${rare.length} rare ids`);
  // ~dense & rare: the complement is only probed at the rare ids.
  const dense = frequent.filter((id) => id % 2 === 0);
  const d = new ArrayCursor(dense);
  const r2 = new ArrayCursor(rare);
  const not = new NotCursor(d, u);
  t.same(
    drain(new AndCursor([r2, not])),
    rare.filter((id) => id % 2 === 1),
  );
  t.ok(d.calls <= 2 * rare.length + 2, `negated list asked ${d.calls} times`);
  // A view leading an AND gallops.
  const v = new ViewCursor(Uint32Array.from(frequent));
  const r3 = new ArrayCursor(rare);
  t.same(drain(new AndCursor([r3, v])), rare);
  t.end();
});

// ---------------------------------------------------------------------------
// Property test: random dbs and queries against a plain Set model.

/** Query expressions evaluated directly (not through CNF) by the model. */
type Expr =
  | { op: 'term'; key: string }
  | { op: 'not'; a: Expr }
  | { op: 'deref'; a: Expr }
  | { op: 'and' | 'or'; a: Expr; b: Expr };

interface Model {
  universe: string[]; // value by id - 1
  lists: Map<string, Set<number>>;
}

function evalExpr(m: Model, e: Expr): Set<number> {
  switch (e.op) {
    case 'term':
      return new Set(m.lists.get(e.key) ?? []);
    case 'not': {
      const a = evalExpr(m, e.a);
      return new Set(m.universe.map((_, i) => i + 1).filter((id) => !a.has(id)));
    }
    case 'deref': {
      const out = new Set<number>();
      for (const id of evalExpr(m, e.a)) for (const x of m.lists.get(m.universe[id - 1]!) ?? []) out.add(x);
      return out;
    }
    case 'and': {
      const b = evalExpr(m, e.b);
      return new Set([...evalExpr(m, e.a)].filter((id) => b.has(id)));
    }
    case 'or':
      return new Set([...evalExpr(m, e.a), ...evalExpr(m, e.b)]);
  }
}

function exprToQ(e: Expr): Q {
  switch (e.op) {
    case 'term':
      return Q.term(e.key);
    case 'not':
      return Q.not(exprToQ(e.a));
    case 'deref':
      return Q.deref(exprToQ(e.a));
    case 'and':
      return Q.and(exprToQ(e.a), exprToQ(e.b));
    case 'or':
      return Q.or(exprToQ(e.a), exprToQ(e.b));
  }
}

function exprToString(e: Expr, r: () => number): string {
  const sp = (): string => (r() < 0.3 ? ' ' : r() < 0.1 ? '\t' : '');
  const atom = (x: Expr): string => {
    const s = exprToString(x, r);
    return x.op === 'and' || x.op === 'or' ? `(${sp()}${s}${sp()})` : s;
  };
  switch (e.op) {
    case 'term':
      return r() < 0.1 ? `(${e.key})` : e.key;
    case 'not':
      return `~${sp()}${atom(e.a)}`;
    case 'deref':
      return `${r() < 0.5 ? '*' : '+'}${sp()}${atom(e.a)}`;
    case 'and': {
      // & binds tighter than |: an `or` operand needs parentheses.
      const side = (x: Expr): string => (x.op === 'or' ? atom(x) : exprToString(x, r));
      return `${side(e.a)}${sp()} &${sp()} ${side(e.b)}`;
    }
    case 'or':
      return `${exprToString(e.a, r)} ${sp()}|${sp()} ${exprToString(e.b, r)}`;
  }
}

t.test('property: random dbs and queries against a Set model', async (t) => {
  const r = rng(20240611);
  let queries = 0;
  let nonEmpty = 0;
  for (let round = 0; round < 60; round++) {
    const multiset = round % 4 === 3;
    const nKeys = 1 + randInt(r, round % 5 === 0 ? 60 : 20);
    const names = Array.from({ length: nKeys + 6 }, (_, i) => `k${i}`); // the last ones are never keys
    const uMax = randInt(r, 80);
    const valueNames = Array.from({ length: uMax }, (_, i) => (r() < 0.5 ? names[randInt(r, names.length)]! : `v${i}`));
    const items: Array<[string, string[]]> = [];
    for (let i = 0; i < nKeys; i++) {
      const density = r() < 0.2 ? 0.9 : r() * 0.3;
      const vs = valueNames.filter(() => r() < density);
      if (multiset && vs.length > 0) vs.push(vs[0]!, vs[randInt(r, vs.length)]!);
      items.push([names[i]!, vs]);
    }
    const db = DiscoDB.fromBuffer(buildImage(items, !multiset));
    if (multiset && items.some(([, vs]) => vs.length > 1)) t.equal(db.isMultiset, true);
    const m: Model = { universe: [...new Set(items.flatMap(([, vs]) => vs))], lists: new Map() };
    const idOf = new Map(m.universe.map((v, i) => [v, i + 1]));
    for (const [k, vs] of items) m.lists.set(k, new Set(vs.map((v) => idOf.get(v)!)));
    t.equal(db.numUniqueValues, m.universe.length);

    const randExpr = (depth: number): Expr => {
      const x = r();
      if (depth <= 0 || x < 0.35) return { op: 'term', key: names[randInt(r, names.length)]! };
      if (x < 0.5) return { op: 'not', a: randExpr(depth - 1) };
      if (x < 0.58) return { op: 'deref', a: randExpr(depth - 1) };
      return { op: x < 0.8 ? 'and' : 'or', a: randExpr(depth - 1), b: randExpr(depth - 1) };
    };
    for (let i = 0; i < 80; i++) {
      let e = randExpr(1 + randInt(r, 4));
      if (r() < 0.1) {
        // Wide disjunctions exercise the heap merge.
        for (let j = 0; j < 12; j++) e = { op: 'or', a: e, b: { op: 'term', key: names[randInt(r, names.length)]! } };
      }
      const q = exprToQ(e);
      if (q.clauses.length > 5000) continue;
      const want = [...evalExpr(m, e)].sort((a, b) => a - b);
      let view: DiscoDBView | undefined;
      let wantView = want;
      if (r() < 0.25) {
        const chosen = m.universe.filter(() => r() < 0.4).concat(r() < 0.5 ? ['not-a-value'] : []);
        view = makeView(db, chosen);
        const vset = new Set(chosen.map((v) => idOf.get(v)).filter((x) => x !== undefined));
        t.equal(view.size, vset.size);
        wantView = want.filter((id) => vset.has(id));
      }
      const gotIds = drain(queryIds(db, q, { view }));
      const label = `round ${round} q ${i}: ${q.toString()}${view ? ' (view)' : ''}`;
      if (JSON.stringify(gotIds) !== JSON.stringify(wantView)) t.same(gotIds, wantView, label);
      else t.pass(label);
      const inq = query(db, q, { view });
      t.equal(inq.count(), wantView.length, `${label} count`);
      if (i % 8 === 0) t.same(inq.toArray(), wantView.map((id) => m.universe[id - 1]), `${label} values`);
      // The string form of the expression parses to the same CNF.
      const s = exprToString(e, r);
      t.ok(Q.parse(s).equals(q), `parse ${JSON.stringify(s)}`);
      queries++;
      if (wantView.length > 0) nonEmpty++;
    }
  }
  t.ok(queries >= 4000, `${queries} queries`);
  t.ok(nonEmpty > queries / 4, `${nonEmpty} non-empty answers`);
  t.end();
});
