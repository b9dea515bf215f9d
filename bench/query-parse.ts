/**
 * Large generated queries (issue 10 item 7): parse, count, toString,
 * urlformat and equals of n-term AND / OR / negated OR / negated AND queries
 * at n = 10k and 100k (and a 1M-term OR), to show the cost is linear in the
 * terms (the 100k/10k time ratio is ~10 when it is, ~100 when quadratic).
 * Peer, in the same run: splitting the text into terms and encoding each as
 * UTF-8 (the least any parser does).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/query-parse.js
 */
import * as os from 'node:os';
import { DiscoDB, Q, queryCount } from '../lib/index.js';

const MAX = 100_000;
const names = Array.from({ length: MAX }, (_, i) => `k${i}`);
let t0 = performance.now();
// Every key holds `all` and one of 1 000 values: an AND matches 1 value, an OR 1 001.
// Times below are process CPU time (see time()).
const db = DiscoDB.from(names.map((key, i) => ({ key, values: ['all', `v${i % 1000}`] })));
console.log(`node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}, ${new Date().toISOString()}`);
console.log(`db: ${db.size} keys, ${db.numUniqueValues} values, built in memory in ${(performance.now() - t0).toFixed(0)} ms`);

/**
 * Best of 3 runs, in ms of process CPU time: the machine is shared, and CPU
 * time does not count the time this process waited for a core.
 */
function time(f: () => unknown, runs = 3): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    f();
    const d = process.cpuUsage(c);
    best = Math.min(best, (d.user + d.system) / 1000);
  }
  return best;
}

type Shape = [name: string, join: (keys: string[]) => string, sep: string];
const shapes: Shape[] = [
  ['a & b & …', (ks) => ks.join(' & '), ' & '],
  ['a | b | …', (ks) => ks.join(' | '), ' | '],
  ['~a | ~b | …', (ks) => ks.map((k) => `~${k}`).join(' | '), ' | '],
  ['~a & ~b & …', (ks) => ks.map((k) => `~${k}`).join(' & '), ' & '],
];

const rows: string[][] = [['query', 'terms', 'peer split', 'parse', 'count', 'result', 'toString', 'urlformat', 'equals', 'parse/peer']];
const perTerm = new Map<string, number[]>();
for (const [name, join, sep] of shapes) {
  for (const n of [10_000, MAX]) {
    const text = join(names.slice(0, n));
    const peer = time(() => text.split(sep).map((k) => Buffer.from(k.trim(), 'utf8')));
    let q = Q.parse(text);
    const parse = time(() => (q = Q.parse(text)));
    let result = 0;
    const count = time(() => (result = queryCount(db, q)));
    let s = '';
    const str = time(() => (s = q.toString()));
    const url = time(() => q.urlformat());
    const again = Q.parse(s);
    const eq = time(() => again.equals(q));
    if (!again.equals(q)) throw new Error(`${name}: toString does not round-trip`);
    rows.push([name, String(n), ms(peer), ms(parse), ms(count), String(result), ms(str), ms(url), ms(eq), (parse / peer).toFixed(1)]);
    const k = name;
    perTerm.set(k, [...(perTerm.get(k) ?? []), parse + count]);
  }
}
// The disco issue #257 case: a 1M-term OR.
{
  const text = Array.from({ length: 1_000_000 }, (_, i) => `k${i}`).join(' | ');
  const peer = time(() => text.split(' | ').map((k) => Buffer.from(k, 'utf8')), 1);
  let q = Q.and();
  const parse = time(() => (q = Q.parse(text)), 1);
  let result = 0;
  const count = time(() => (result = queryCount(db, q)), 1);
  rows.push(['a | b | …', '1000000', ms(peer), ms(parse), ms(count), String(result), '', '', '', (parse / peer).toFixed(1)]);
}
function ms(x: number): string {
  return `${x.toFixed(1)} ms`;
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((x, c) => x.padStart(widths[c]!)).join('  '));
for (const [name, [a, b]] of perTerm) console.log(`${name.padEnd(12)} parse + count, 100k / 10k terms: ${(b! / a!).toFixed(1)}× (linear: ~10×, quadratic: ~100×)`);

// 10k negated terms over 100 001 values (the 15 s case).
{
  const NEG = 10_000;
  const neg = DiscoDB.from(
    names.slice(0, NEG).map((key, i) => ({ key, values: ['all', ...Array.from({ length: 10 }, (_, m) => `v${i + m * NEG}`)] })),
  );
  const text = names.slice(0, NEG).map((k) => `~${k}`).join(' | ');
  let q = Q.and();
  const parse = time(() => (q = Q.parse(text)), 1);
  let n = 0;
  const count = time(() => (n = neg.query(q).count()), 1);
  console.log(`10k negated terms OR-ed over ${neg.numUniqueValues} values: parse ${ms(parse)}, count ${ms(count)} (${n} values)`);
}
