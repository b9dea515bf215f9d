/**
 * Query engine benchmark, two parts.
 *
 * 1. Small queries against the key lookups they need (issue 8), on a db of
 *    1 000 000 keys × 1 value (16-byte values, compressed by default) built
 *    once with the writer into bench/data/ (gitignored): 10k `a & b & c` on
 *    random keys (prebuilt Q, empty results, `count()`) against the 30k
 *    `get(k).count()` of the same keys, and 10k `a | b | c` (results iterated)
 *    against the 30k `get(k)` iterated; on the mmap and the pread route. The
 *    AND is also compared with its 30k bare `has(k)` (what `get(k).count()`
 *    adds to a lookup: the Inquiry and the record's count).
 *    Each task runs in interleaved rounds; medians and their ratio are printed.
 *
 * 2. With `--naive`: the lazy cursor engine (leapfrog AND, merging OR,
 *    seekable NOT) against a naive evaluation that materialises every term as
 *    a Set, on a db of 1M keys with lists of 1 to ~500 000 ids.
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/query.js [--naive]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { DiscoDB, Q, queryIds, type IdCursor } from '../lib/index.js';
import { rng } from '../examples/random.js';
import { median } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(here, '../../bench/data');
let sink = 0;

// ---------------------------------------------------------------------------
// Part 1: small queries vs their lookups

const SMALL_KEYS = 1_000_000;
const QUERIES = 10_000;
const ROUNDS = 10;

const keyOf = (i: number): string => `key${i}`;
const valueOf = (i: number): string => `value-${String(i).padStart(10, '0')}`; // 16 bytes

async function smallDb(): Promise<string> {
  const file = path.join(dataDir, 'query-1m-x1.ddb');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    const t0 = Date.now();
    function* records(): Generator<{ key: string; values: string[] }> {
      for (let i = 0; i < SMALL_KEYS; i++) yield { key: keyOf(i), values: [valueOf(i)] };
    }
    const db = await DiscoDB.build(records(), file);
    console.log(`built ${file}: ${db.size} keys, ${(db.header.size / 2 ** 20).toFixed(1)} MiB in ${Date.now() - t0} ms`);
    db.close();
  }
  return file;
}

/**
 * Runs the tasks in interleaved rounds (after two warm-up rounds): median ms
 * per round of each, wall clock and process CPU time. (The CPU is shared with
 * other work: CPU time is the steadier measure, wall time the honest one.)
 */
function rounds(tasks: Array<() => void>): { wall: number[]; cpu: number[] } {
  const wall = tasks.map(() => [] as number[]);
  const cpu = tasks.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS + 2; r++) {
    // Odd rounds run the tasks in reverse order: a task that follows another on the same
    // keys finds their pages and cache lines warm, and neither side should get that for free.
    const sequence = r % 2 === 0 ? tasks.map((_, i) => i) : tasks.map((_, i) => tasks.length - 1 - i);
    for (const i of sequence) {
      const task = tasks[i]!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      task();
      const t = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r >= 2) {
        wall[i]!.push(t);
        cpu[i]!.push((c.user + c.system) / 1000);
      }
    }
  }
  return { wall: wall.map(median), cpu: cpu.map(median) };
}

async function smallQueries(): Promise<void> {
  const file = await smallDb();
  const r = rng(8);
  const triples: string[][] = Array.from({ length: QUERIES }, () =>
    Array.from({ length: 3 }, () => keyOf(Math.floor(r() * SMALL_KEYS))),
  );
  const lookups = triples.flat();
  const ands = triples.map((t) => Q.andAll(t.map((k) => Q.term(k))));
  const ors = triples.map((t) => Q.orAll(t.map((k) => Q.term(k))));
  console.log(`\nsmall queries: ${QUERIES} queries on random keys of a ${SMALL_KEYS}-key × 1-value db (${ROUNDS} rounds, median)`);
  for (const mmap of [true, false]) {
    const db = DiscoDB.open(file, { mmap });
    let empty = 0;
    for (const q of ands) if (db.query(q).count() === 0) empty++;
    let hits = 0;
    for (const q of ors) hits += db.query(q).count();
    if (empty !== QUERIES || hits !== 3 * QUERIES - countRepeats(triples)) throw new Error(`unexpected answers: ${empty} empty, ${hits} hits`);
    const { wall, cpu } = rounds([
      () => {
        for (const q of ands) sink += db.query(q).count();
      },
      () => {
        for (const k of lookups) sink += db.get(k).count();
      },
      () => {
        for (const q of ors) for (const v of db.query(q)) sink += v.length;
      },
      () => {
        for (const k of lookups) for (const v of db.get(k)) sink += v.length;
      },
      () => {
        for (const k of lookups) if (db.has(k)) sink++;
      },
    ]);
    const us = (ms: number, n: number): string => `${((ms * 1000) / n).toFixed(2)} µs`.padStart(9);
    const line = (what: string, i: number, n: number, peer?: number): string =>
      `  ${what.padEnd(30)} wall ${wall[i]!.toFixed(1).padStart(7)} ms (${us(wall[i]!, n)} each)  cpu ${cpu[i]!.toFixed(1).padStart(7)} ms (${us(cpu[i]!, n)} each)` +
      (peer === undefined ? '' : `  ratio wall ${(wall[peer]! / wall[i]!).toFixed(2)}, cpu ${(cpu[peer]! / cpu[i]!).toFixed(2)}`);
    console.log(`route ${db.route}:`);
    console.log(line(`${QUERIES} a & b & c, count()`, 0, QUERIES));
    console.log(line(`${3 * QUERIES} get(k).count() (peer)`, 1, 3 * QUERIES, 0));
    // has() is the bare lookup: get(k).count() adds the Inquiry and the record's count.
    console.log(line(`${3 * QUERIES} has(k) (bare lookups)`, 4, 3 * QUERIES, 0));
    console.log(line(`${QUERIES} a | b | c, iterated`, 2, QUERIES));
    console.log(line(`${3 * QUERIES} get(k) iterated (peer)`, 3, 3 * QUERIES, 2));
    db.close();
  }
}

/** Keys drawn twice in one triple (an OR then returns fewer values than three lookups). */
function countRepeats(triples: string[][]): number {
  let n = 0;
  for (const t of triples) n += t.length - new Set(t).size;
  return n;
}

// ---------------------------------------------------------------------------
// Part 2: engine vs naive Sets

const U = 1_000_000;
const N_KEYS = 1_000_000;
const N_FREQUENT = 4; // F0..F3: each id with probability 1/2
const N_MID = 1000; // M0..M999: ~1000 ids each
// The rest, R<i>: 1–8 ids each.

async function engineVsNaive(): Promise<void> {
  const rand = rng(2024);
  const keyName = (i: number): string => (i < N_FREQUENT ? `F${i}` : i < N_FREQUENT + N_MID ? `M${i - N_FREQUENT}` : `R${i}`);
  const listOf = (i: number): number[] => {
    const ids: number[] = [];
    if (i < N_FREQUENT) {
      for (let id = 1; id <= U; id++) if (rand() < 0.5) ids.push(id);
      return ids;
    }
    const n = i < N_FREQUENT + N_MID ? 1000 : 1 + Math.floor(rand() * 8);
    const set = new Set<number>();
    while (set.size < n) set.add(1 + Math.floor(rand() * U));
    return [...set].sort((a, b) => a - b);
  };
  const valueName = (id: number): string => `v${String(id).padStart(7, '0')}`;
  function* records(): Generator<{ key: string; values: string[] }> {
    for (let i = 0; i < N_KEYS; i++) yield { key: keyName(i), values: listOf(i).map(valueName) };
  }

  const t0 = Date.now();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-bench-query-')), 'bench.ddb');
  process.on('exit', () => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  const db = await DiscoDB.build(records(), file);
  console.log(
    `\nengine vs naive: built ${db.size} keys, ${db.numUniqueValues} values, ${(db.header.size / 2 ** 20).toFixed(1)} MiB ` +
      `(hashed: ${db.info().hashed}) with the writer in ${Date.now() - t0} ms`,
  );

  /** The naive peer: every term's list materialised as a Set, clauses combined with Set operations. */
  const naive = (q: Q): number[] => {
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
  };
  const engineCount = (q: Q): number => {
    const c = queryIds(db, q);
    let n = 0;
    while (c.next() !== 0) n++;
    return n;
  };

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
  await bench.run();
  const mean = (name: string): number => {
    const r = bench.tasks.find((t) => t.name === name)!.result as unknown as { latency?: { mean: number } };
    return r.latency?.mean ?? NaN;
  };
  for (const [name] of cases) {
    const e = mean(`engine ${name}`);
    const n = mean(`naive  ${name}`);
    console.log(`${name.padEnd(30)} engine ${e.toFixed(3)} ms, naive ${n.toFixed(3)} ms: ${(n / e).toFixed(1)}x`);
  }
  db.close();
}

console.log(`node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}, ${new Date().toISOString()}`);
await smallQueries();
if (process.argv.includes('--naive')) await engineVsNaive();
console.log(`(sink ${sink > 0})`);
