/**
 * Keys with operator characters (issue 11 item 4): `+` inside a term belongs
 * to it (`libstdc++6`, `g++`), quoted terms carry any key, and a parse error on
 * text that looks like a key suggests its quoted form.
 */
import t from 'tap';
import { DiscoDB } from '../lib/discodb.js';
import { DiscoDBError } from '../lib/errors.js';
import { Q } from '../lib/query/index.js';

const db = DiscoDB.from({
  'libstdc++6': ['gcc', 'libc6'],
  'g++': ['gcc', 'cpp'],
  gcc: ['libc6'],
  'foo(1)': ['man'],
  'a*b': ['star'],
  'x-y.z': ['dots'],
});

const keyOf = (q: Q): string => {
  t.equal(q.clauses.length, 1);
  t.equal(q.clauses[0]!.literals.length, 1);
  return q.clauses[0]!.literals[0]!.key!.toString('utf8');
};

function parseError(s: string): DiscoDBError {
  try {
    Q.parse(s);
  } catch (err) {
    if (err instanceof DiscoDBError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(s)} parsed`);
}

t.test('+ inside a term is part of the key; at the start of a term it dereferences', async (t) => {
  t.equal(keyOf(Q.parse('libstdc++6')), 'libstdc++6');
  t.equal(keyOf(Q.parse(' g++ ')), 'g++');
  t.equal(keyOf(Q.parse('a+b+')), 'a+b+');
  t.equal(keyOf(Q.parse('x-y.z')), 'x-y.z', '- and . were never operators');
  t.same(db.query('libstdc++6 & g++').toArray(), ['gcc']);
  t.same(db.query('g++ & ~libstdc++6').toArray(), ['cpp']);
  t.same(db.query('(g++ | x-y.z) & ~gcc').toArray().sort(), ['cpp', 'dots', 'gcc']);
  // The dereference keeps its meaning wherever Python accepts it.
  t.ok(Q.parse('+gcc').equals(Q.deref(Q.term('gcc'))));
  t.ok(Q.parse('g++ & +gcc').equals(Q.term('g++').and(Q.deref(Q.term('gcc')))));
  t.ok(Q.parse('~+(gcc)|(a)').equals(Q.deref(Q.term('gcc')).not().or(Q.term('a'))));
  t.same(db.query('+g++').toArray(), ['libc6'], '*g++: the values of gcc (cpp is no key)');
  // After whitespace, `+` is an operator again: `a + b` stays an error (Python has no binary +).
  t.equal(parseError('a + b').position, 2);
  t.end();
});

t.test('toString writes such keys plainly and quotes the others', async (t) => {
  t.equal(Q.term('libstdc++6').toString(), 'libstdc++6');
  t.equal(Q.term('g++').and(Q.term('c++')).toString(), '(c++) & (g++)');
  t.equal(Q.term('+g').toString(), '"+g"');
  t.equal(Q.term('a +').toString(), '"a +"');
  t.equal(Q.term('a*b').toString(), '"a*b"');
  t.equal(Q.term('g++').urlformat(), 'g%2B%2B');
  for (const key of ['g++', '+g', 'a +', 'a+ b', '"x"+', 'a"+', '++', 'a*b', 'foo(1)', 'x + y']) {
    const q = Q.term(key).or(Q.term('z').not());
    t.ok(Q.parse(q.toString()).equals(q), `toString of ${JSON.stringify(key)}: ${q.toString()}`);
    t.ok(Q.urlscan(q.urlformat()).equals(q), `urlformat of ${JSON.stringify(key)}: ${q.urlformat()}`);
  }
  t.end();
});

t.test('a parse error on key-like text suggests the quoted form, which works', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['a*b', 1, '"a*b"'],
    ['foo(1) & gcc', 3, '"foo(1)"'],
    ['gcc & (a*b | g++)', 8, '"a*b"'],
    ['c~d', 1, '"c~d"'],
    ['say "hi"*', 8, '"say \\"hi\\"*"'],
  ];
  for (const [s, position, quoted] of cases) {
    const err = parseError(s);
    t.equal(err.code, 'ERR_DISCODB_QUERY', s);
    t.equal(err.position, position, `${s}: position`);
    t.match(err.message, `quote it: ${quoted}`, `${s}: ${err.message}`);
    // The suggestion, put back in place of the key, parses.
    const key = JSON.parse(quoted) as string;
    const fixed = s.replace(key, quoted);
    t.doesNotThrow(() => Q.parse(fixed), `${fixed} parses`);
  }
  t.same(db.query('"foo(1)" & ~gcc').toArray(), ['man']);
  t.same(db.query('"a*b"').toArray(), ['star']);
  // No hint where the text is no key: a stray operator after a space, a closing parenthesis, a doubled operator.
  for (const s of ['a + b', 'a (b)', 'gcc & b)', 'a & & b', '(a)b']) {
    t.notMatch(parseError(s).message, 'quote it', s);
  }
  t.end();
});
