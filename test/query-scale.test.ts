/**
 * Large and deep queries (issue 10 item 7): parsing, CNF normalisation, the
 * builders, the string forms and evaluation stay O(n log n) in the number of
 * terms, and nesting too deep for the parser is an ERR_DISCODB_QUERY with its
 * position, never a stack overflow.
 *
 * No timings are asserted. The sizes are chosen so that the quadratic version
 * this replaces (20k-term OR: 24 s to parse; 10k negated terms: 15 s to
 * evaluate) would exceed each test's own timeout by far, while the linear one
 * takes well under a second.
 */
import t from 'tap';
import { DiscoDB } from '../lib/discodb.js';
import { DiscoDBError } from '../lib/errors.js';
import { MAX_CLAUSES, MAX_DEREF_DEPTH, Q, queryCount, queryIds } from '../lib/query/index.js';

const N = 100_000;
const names = Array.from({ length: N }, (_, i) => `k${i}`);

/** N keys: every one holds `all` and `v<i mod 1000>` (1 001 values). */
const wide = DiscoDB.from(names.map((key, i) => ({ key, values: ['all', `v${i % 1000}`] })));

/** 10k keys over 100 001 values: key i holds `all` and the 10 values v<j> with j ≡ i (mod 10 000). */
const NEG = 10_000;
const U_NEG = 100_000;
const negDb = DiscoDB.from(
  names.slice(0, NEG).map((key, i) => ({
    key,
    values: ['all', ...Array.from({ length: U_NEG / NEG }, (_, m) => `v${i + m * NEG}`)],
  })),
);

/** What the helper below asserts with (the root `t` and every subtest have these). */
type Asserts = Pick<typeof t, 'ok' | 'equal' | 'fail'>;

function expectQueryError(t: Asserts, f: () => unknown, position: number | undefined, what: string): void {
  try {
    f();
    t.fail(`${what}: no error`);
  } catch (err) {
    t.ok(err instanceof DiscoDBError, `${what}: a DiscoDBError (${(err as Error).name}: ${(err as Error).message.slice(0, 80)})`);
    t.equal((err as DiscoDBError).code, 'ERR_DISCODB_QUERY', `${what}: code`);
    if (position !== undefined) t.equal((err as DiscoDBError).position, position, `${what}: position`);
    t.ok((err as Error).message.length < 400, `${what}: the message quotes only the part around the position`);
  }
}

t.test('100k-term AND and OR: parse, count, string forms, builders', { timeout: 60_000 }, async (t) => {
  t.equal(wide.numUniqueValues, 1001);
  const and = Q.parse(names.join(' & '));
  t.equal(and.clauses.length, N);
  t.equal(queryCount(wide, and), 1, 'only `all` is in every list');
  t.same(wide.query(and).toArray(), ['all']);
  const or = Q.parse(names.join(' | '));
  t.equal(or.clauses.length, 1);
  t.equal(or.clauses[0]!.literals.length, N);
  t.equal(queryCount(wide, or), 1001);
  t.equal(wide.query(or).count(), 1001);

  const terms = names.map((k) => Q.term(k));
  t.ok(Q.andAll(terms).equals(and), 'Q.andAll');
  t.ok(Q.orAll(terms).equals(or), 'Q.orAll');
  t.ok(Q.and(...terms.slice(0, 50_000)).equals(Q.parse(names.slice(0, 50_000).join('&'))), 'Q.and(...spread)');
  t.ok(Q.parse(and.toString()).equals(and), 'toString round-trips');
  t.ok(Q.urlscan(or.urlformat()).equals(or), 'urlformat round-trips');
  // De Morgan, and back.
  const notOr = Q.parse(`~(${names.join(' | ')})`);
  t.equal(notOr.clauses.length, N);
  t.ok(notOr.not().equals(or), '~~(OR) is the OR');
  t.equal(queryCount(wide, notOr), 0, 'nothing is outside the union');
  t.end();
});

t.test('10k negated terms, OR-ed and AND-ed, evaluate per list', { timeout: 60_000 }, async (t) => {
  t.equal(negDb.numUniqueValues, U_NEG + 1);
  const keys = names.slice(0, NEG);
  // ~k0 | ~k1 | … = everything but what all keys share (`all`).
  const notOr = Q.parse(keys.map((k) => `~${k}`).join(' | '));
  t.equal(notOr.clauses.length, 1);
  t.equal(queryCount(negDb, notOr), U_NEG);
  t.equal(negDb.query(notOr).count(), U_NEG);
  const ids = queryIds(negDb, notOr);
  let n = 0;
  let prev = 0;
  let ascending = true;
  for (let id = ids.next(); id !== 0; id = ids.next(), n++) {
    if (id <= prev) ascending = false;
    prev = id;
  }
  t.equal(n, U_NEG);
  t.ok(ascending, 'ids ascending and distinct');
  t.ok(Q.orAll(keys.map((k) => Q.term(k).not())).equals(notOr), 'the builder gives the same query');
  // … and with a positive literal in the clause, or another clause bounding it.
  t.equal(queryCount(negDb, Q.parse(`${keys.map((k) => `~${k}`).join(' | ')} | k1`)), U_NEG + 1);
  t.same(negDb.query(Q.parse(`(${keys.map((k) => `~${k}`).join(' | ')}) & k5`)).toArray().sort(), Array.from({ length: 10 }, (_, m) => `v${5 + m * NEG}`).sort());
  // One key absent: its negation is everything, the clause is always true.
  t.equal(queryCount(negDb, Q.parse(`${keys.map((k) => `~${k}`).join(' | ')} | ~absent`)), U_NEG + 1);

  // ~k0 & ~k1 & … = what no key holds: nothing here; over 5 000 keys, half the v's.
  t.equal(queryCount(negDb, Q.parse(keys.map((k) => `~${k}`).join(' & '))), 0);
  const half = keys.slice(0, NEG / 2);
  const notAnd = Q.parse(half.map((k) => `~${k}`).join(' & '));
  t.equal(notAnd.clauses.length, NEG / 2);
  t.equal(queryCount(negDb, notAnd), U_NEG / 2);
  t.equal(negDb.query(notAnd).first(), 'v5000');
  t.end();
});

t.test('limits: distinct clauses counted after deduplication, products refused early', { timeout: 60_000 }, async (t) => {
  // More repeats than the limit are still one clause each (no false "too large").
  t.equal(Q.parse(Array.from({ length: MAX_CLAUSES + 1000 }, (_, i) => `k${i % 10}`).join(' & ')).clauses.length, 10);
  t.equal(Q.parse(Array.from({ length: MAX_CLAUSES }, (_, i) => `x${i}`).join(' & ')).clauses.length, MAX_CLAUSES);
  expectQueryError(t, () => Q.parse(Array.from({ length: MAX_CLAUSES + 1 }, (_, i) => `x${i}`).join(' & ')), undefined, 'AND past the clause limit');
  // Repeated products deduplicate at each step, as in the Python binding.
  const ab = Q.parse(Array.from({ length: 10_000 }, () => '(a & b)').join(' | '));
  t.ok(ab.equals(Q.parse('a & b & (a | b)')), `(a & b) | (a & b) | … is ${ab.toString()}`);
  // 20 products of pairs: 2^20 clauses, refused at the `|` where the product passes the limit.
  const pairs = Array.from({ length: 20 }, (_, i) => `(a${i} & b${i})`).join(' | ');
  expectQueryError(t, () => Q.parse(pairs), pairs.indexOf(`| (a16`), 'distribution past the clause limit');
  // 90 000 clauses that would each get 52 literals: past the literal limit, refused before allocating them.
  const ands = (p: string): string => `(${Array.from({ length: 300 }, (_, i) => `${p}${i}`).join(' & ')})`;
  const wideProduct = `${ands('a')} | ${ands('b')} | ${Array.from({ length: 50 }, (_, i) => `x${i}`).join(' | ')}`;
  expectQueryError(t, () => Q.parse(wideProduct), undefined, 'distribution past the literal limit');
  t.equal(Q.parse(`${ands('a')} | ${ands('b')} | x`).clauses.length, 90_000, 'just below it: 90 000 clauses of 3 literals');
  t.end();
});

t.test('deep nesting is a query error with a position, never a stack overflow', { timeout: 60_000 }, async (t) => {
  const D = 100_000;
  expectQueryError(t, () => Q.parse('('.repeat(D) + 'a' + ')'.repeat(D)), 1001, '100k parentheses');
  expectQueryError(t, () => Q.parse('~'.repeat(D) + 'x'), 1001, '100k negations');
  expectQueryError(t, () => Q.parse('*'.repeat(D) + 'x'), 1001, '100k dereferences');
  expectQueryError(t, () => Q.parse('+'.repeat(D) + 'x'), 1001, '100k + dereferences');
  expectQueryError(t, () => Q.parse('~('.repeat(D) + 'x' + ')'.repeat(D)), 1001, '100k ~(');
  expectQueryError(t, () => Q.urlscan('%28'.repeat(D) + 'a'), 1001, 'urlscan of 100k parentheses');
  // Within the limits, deep nesting parses, prints and compares.
  t.ok(Q.parse('('.repeat(900) + 'a' + ')'.repeat(900)).equals(Q.term('a')));
  t.ok(Q.parse('~'.repeat(901) + 'x').equals(Q.term('x').not()));
  const deep = Q.parse('*'.repeat(MAX_DEREF_DEPTH) + '(x | ~y) & z');
  t.ok(Q.parse(deep.toString()).equals(deep) && Q.urlscan(deep.urlformat()).equals(deep), 'the deepest dereference round-trips');
  t.equal(queryCount(wide, deep), 0, 'and evaluates');
  expectQueryError(t, () => Q.parse('*'.repeat(MAX_DEREF_DEPTH + 1) + 'x'), 0, `${MAX_DEREF_DEPTH + 1} dereferences`);
  // Built by code: refused at the same depth.
  let q = Q.term('x');
  let err: unknown = null;
  try {
    for (let i = 0; i < D; i++) q = Q.deref(q);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof DiscoDBError && err.code === 'ERR_DISCODB_QUERY', `Q.deref nested ${D} times: ${String(err)}`);
  t.ok(Q.parse(q.toString()).equals(q), 'the deepest query built prints and parses');
  t.end();
});
