/**
 * Lookup benchmark on the largest corpus fixture (06e: 1 000 hashed keys,
 * 1 000 000 values): random `get` + iterate, `has` on absent keys, `peek`,
 * against the same data held in a plain JS `Map` (the peer) in the same run.
 *
 *   npm run build && node dist/bench/lookup.js
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { DiscoDB } from '../lib/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(here, '../../test/fixtures/corpus/06e_compress_avg_below_6/db.ddb');
const db = DiscoDB.open(file);
const viaPread = DiscoDB.open(file, { mmap: false }); // the route used for images ≥ 2 GiB
const keys = db.keys().toArray();
const peer = new Map<string, string[]>(db.items().toArray().map(([k, vs]) => [k, vs.toArray()]));
const absent = keys.map((k) => `${k}-absent`);
const hits = keys.map((k) => Buffer.from(k));

let seed = 12345;
const next = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
let sink = 0;

const bench = new Bench({ name: 'discodb lookups (06e: 1k keys × 1k values)', time: 1000 });
bench
  .add('discodb get(key) + iterate all values', () => {
    for (const v of db.get(keys[next(keys.length)]!)) sink += v.length;
  })
  .add('Map get(key) + iterate all values (peer)', () => {
    for (const v of peer.get(keys[next(keys.length)]!)!) sink += v.length;
  })
  .add('discodb get(key).count()', () => {
    sink += db.get(keys[next(keys.length)]!).count();
  })
  .add('discodb has(bytes key)', () => {
    if (db.has(hits[next(hits.length)]!)) sink++;
  })
  .add('discodb has(absent key)', () => {
    if (db.has(absent[next(absent.length)]!)) sink++;
  })
  .add('Map has(absent key) (peer)', () => {
    if (peer.has(absent[next(absent.length)]!)) sink++;
  })
  .add('discodb (pread route) get(key) + iterate all values', () => {
    for (const v of viaPread.get(keys[next(keys.length)]!)) sink += v.length;
  })
  .add('discodb (pread route) has(absent key)', () => {
    if (viaPread.has(absent[next(absent.length)]!)) sink++;
  })
  .add('discodb peek(key)', () => {
    sink += db.peek(keys[next(keys.length)]!)!.length;
  });

await bench.run();
console.log(bench.name);
console.table(bench.table());
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const mean = (name: string): number => (bench.tasks.find((t) => t.name === name)!.result as any).latency.mean as number;
console.log(
  `ratio get+iterate discodb/Map: ${(mean('discodb get(key) + iterate all values') / mean('Map get(key) + iterate all values (peer)')).toFixed(2)}x; ` +
    `has(absent) discodb/Map: ${(mean('discodb has(absent key)') / mean('Map has(absent key) (peer)')).toFixed(2)}x; ` +
    `pread/mmap get+iterate: ${(mean('discodb (pread route) get(key) + iterate all values') / mean('discodb get(key) + iterate all values')).toFixed(2)}x, ` +
    `has(absent): ${(mean('discodb (pread route) has(absent key)') / mean('discodb has(absent key)')).toFixed(2)}x (sink ${sink > 0})`,
);
