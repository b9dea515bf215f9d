/**
 * Query engine benchmark: the lazy cursor engine (leapfrog AND, merging OR,
 * seekable NOT) against a naive evaluation that materialises every term as a
 * Set, in the same run, on a db of 1 000 000 keys and 1 000 000 values.
 *
 *   npm run build && node dist/bench/query.js
 *
 * The db is built with the writer (DiscoDB.build), so keys go through the
 * CHD perfect hash as in real use.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Bench } from 'tinybench';
import { DiscoDB, Q, queryIds, type IdCursor } from '../lib/index.js';
import { rng } from '../examples/random.js';

const U = 1_000_000;
const N_KEYS = 1_000_000;
const N_FREQUENT = 4; // F0..F3: each id with probability 1/2
const N_MID = 1000; // M0..M999: ~1000 ids each
// The rest, R<i>: 1–8 ids each.

const rand = rng(2024);

function keyName(i: number): string {
  if (i < N_FREQUENT) return `F${i}`;
  if (i < N_FREQUENT + N_MID) return `M${i - N_FREQUENT}`;
  return `R${i}`;
}

function listOf(i: number): number[] {
  const ids: number[] = [];
  if (i < N_FREQUENT) {
    for (let id = 1; id <= U; id++) if (rand() < 0.5) ids.push(id);
    return ids;
  }
  const n = i < N_FREQUENT + N_MID ? 1000 : 1 + Math.floor(rand() * 8);
  const set = new Set<number>();
  while (set.size < n) set.add(1 + Math.floor(rand() * U));
  return [...set].sort((a, b) => a - b);
}

/** The records of the bench db: every key with its list, values named by id. */
function* records(): Generator<{ key: string; values: string[] }> {
  for (let i = 0; i < N_KEYS; i++) yield { key: keyName(i), values: listOf(i).map(valueName) };
}

function valueName(id: number): string {
  return `v${String(id).padStart(7, '0')}`;
}

const t0 = Date.now();
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-bench-query-')), 'bench.ddb');
const db = await DiscoDB.build(records(), file);
process.on('exit', () => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
console.log(
  `built ${db.size} keys, ${db.numUniqueValues} values, ${(db.header.size / 2 ** 20).toFixed(1)} MiB ` +
    `(hashed: ${db.info().hashed}) with the writer in ${Date.now() - t0} ms`,
);

/** The naive peer: every term's list materialised as a Set, clauses combined with Set operations. */
function naive(q: Q): number[] {
  if (q.clauses.length === 0) return [];
  let acc: Set<number> | null = null;
  for (const clause of q.clauses) {
    const union = new Set<number>();
    for (const lit of clause.literals) {
      const record = db.findKey(lit.key!);
      const ids = new Set<number>();
      const c: IdCursor = db.idCursor(record);
      for (let id = c.next(); id !== 0; id = c.next()) ids.add(id);
      if (lit.negated) {
        for (let id = 1; id <= U; id++) if (!ids.has(id)) union.add(id);
      } else for (const id of ids) union.add(id);
    }
    if (acc === null) acc = union;
    else {
      const next = new Set<number>();
      for (const id of acc) if (union.has(id)) next.add(id);
      acc = next;
    }
  }
  return [...acc!].sort((a, b) => a - b);
}

function engineCount(q: Q): number {
  const c = queryIds(db, q);
  let n = 0;
  while (c.next() !== 0) n++;
  return n;
}

const mids = Array.from({ length: 10 }, (_, i) => `M${i * 7}`).join(' | ');
const cases: Array<[string, string]> = [
  ['rare & frequent', 'R500000 & F0'],
  ['rare & frequent & frequent', 'R600000 & F0 & F1'],
  ['10-term OR (mids)', mids],
  ['rare & ~frequent & ~frequent', 'R777777 & ~F0 & ~F1'],
  ['mid & frequent', 'M1 & F0'],
  ['(10 mids OR-ed) & frequent', `(${mids}) & F2`],
  ['mid & ~frequent', 'M5 & ~F3'],
  ['frequent & frequent', 'F0 & F1'],
  ['frequent & ~frequent', 'F0 & ~F1'],
  ['frequent | frequent', 'F2 | F3'],
];

for (const [name, s] of cases) {
  const q = Q.parse(s);
  const a = engineCount(q);
  const b = naive(q).length;
  if (a !== b) throw new Error(`${name}: engine ${a} ids, naive ${b}`);
  console.log(`${name.padEnd(30)} ${s.padEnd(48)} ${a} ids`);
}

let sink = 0;
// The naive tasks take up to ~1 s each: few iterations keep the run near a minute.
const bench = new Bench({
  name: 'discodb CNF queries (1M keys, 1M values): engine vs naive Sets',
  time: 500,
  iterations: 8,
  warmupTime: 100,
  warmupIterations: 2,
});
for (const [name, s] of cases) {
  const q = Q.parse(s);
  bench.add(`engine ${name}`, () => {
    sink += engineCount(q);
  });
  bench.add(`naive  ${name}`, () => {
    sink += naive(q).length;
  });
}
const decodeQ = Q.parse('M1 & F0');
bench.add('engine mid & frequent, values decoded', () => {
  for (const v of db.query(decodeQ)) sink += v.length;
});

await bench.run();
console.log(bench.name);
console.table(bench.table());
const mean = (name: string): number => {
  const r = bench.tasks.find((t) => t.name === name)!.result as unknown as { latency?: { mean: number } };
  return r.latency?.mean ?? NaN;
};
for (const [name] of cases) {
  const e = mean(`engine ${name}`);
  const n = mean(`naive  ${name}`);
  console.log(`${name.padEnd(30)} engine ${e.toFixed(3)} ms, naive ${n.toFixed(3)} ms: ${(n / e).toFixed(1)}x`);
}
console.log(`(sink ${sink > 0})`);
