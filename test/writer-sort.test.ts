/**
 * The byte-order sort of a run's dictionary entries (sort.ts): against Buffer.compare,
 * on shapes that cross each of its paths — full-compare insertion, insertion on packed
 * digits, radix on the first and the carried second 6-byte digit (odd and even numbers of
 * passes), and deeper levels (shared prefixes of 6, 12 and 18+ bytes, zero bytes, proper
 * prefixes, empty strings).
 */
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { ByteDict } from '../lib/writer/arena.js';
import { sortEntries, sortEntriesSteps } from '../lib/writer/sort.js';
import { randBetween, rng } from './helpers/random.js';

function check(tt: TapTest, strings: Buffer[], label: string): void {
  const d = new ByteDict(1 << 16, 1 << 22);
  const seen = new Map<string, Buffer>();
  for (const b of strings) {
    const h = b.toString('hex');
    if (seen.has(h)) continue;
    if (d.n >= d.cap || d.used + b.length > d.arena.length) break;
    d.internBytes(b);
    seen.set(h, b);
  }
  const got = Array.from(sortEntries(d), (i) => d.view(i).toString('hex'));
  const want = [...seen.values()].sort(Buffer.compare).map((b) => b.toString('hex'));
  tt.same(got, want, `${label}: ${seen.size} strings in byte order`);
}

t.test('sortEntries orders distinct byte strings like Buffer.compare', (tt) => {
  const r = rng(4242);
  const rand = (len: number, alphabet: number): Buffer => {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = alphabet === 256 ? randBetween(r, 0, 256) : randBetween(r, 0, alphabet);
    return b;
  };
  for (const n of [2, 17, 40, 48, 49, 100, 600, 5000, 40000]) {
    // Keys like the benchmarks': a letter and decimal digits (7–11 bytes).
    check(tt, Array.from({ length: n }, () => Buffer.from(`k${randBetween(r, 0, 2 ** 31)}`)), `n ${n} k+digits`);
    // Around the digit boundaries, with zero bytes (a proper prefix sorts first).
    check(tt, Array.from({ length: n }, () => rand(randBetween(r, 0, 14), 3)), `n ${n} lengths 0–13, alphabet 3`);
    // A shared prefix of 6, 12 or 18 bytes, then a short random tail.
    for (const p of [6, 12, 18]) {
      const prefix = Buffer.from('abcdefghijklmnopqrstuvwxyz'.slice(0, p));
      check(tt, Array.from({ length: n }, () => Buffer.concat([prefix, rand(randBetween(r, 0, 8), 4)])), `n ${n} prefix ${p}`);
    }
    // Mixed: some binary, some long.
    check(tt, Array.from({ length: n }, (_, i) => (i % 3 === 0 ? rand(randBetween(r, 20, 40), 256) : rand(randBetween(r, 1, 9), 256))), `n ${n} mixed`);
  }
  // Radix passes alternate between two sets of arrays and skip constant digits: the last 1 to 6
  // of 6 bytes varying make 1 to 6 passes (an odd count ends in the scratch set and is copied
  // back); one varying byte at each position makes one pass on each byte digit alone.
  for (let varying = 1; varying <= 6; varying++) {
    const strings = Array.from({ length: 3000 }, () => {
      const b = Buffer.from('ABCDEF');
      for (let j = 6 - varying; j < 6; j++) b[j] = randBetween(r, 0, 256);
      return b;
    });
    check(tt, strings, `6-byte strings, the last ${varying} bytes varying`);
    check(tt, strings.map((b) => b.subarray(0, 6 - varying + 1)), `strings of ${7 - varying} bytes, the last varying`);
  }
  // Groups of equal first digits of every size around the insertion/radix threshold.
  const grouped: Buffer[] = [];
  for (let g = 1; g <= 120; g++) for (let i = 0; i < g; i++) grouped.push(Buffer.from(`grp${String(g).padStart(3, '0')}-${i}-${g % 7 === 0 ? 'x'.repeat(i % 9) : ''}`));
  check(tt, grouped, 'groups of 1..120 sharing 6 bytes');
  tt.end();
});

t.test('the stepwise sort: ties larger than one piece, yields, the same order', (tt) => {
  const r = rng(777);
  const tail = (): Buffer => {
    const b = Buffer.alloc(randBetween(r, 3, 9));
    for (let i = 0; i < b.length; i++) b[i] = randBetween(r, 0, 256);
    return b;
  };
  // 50k strings sharing 6, 12 or 24 bytes: ties of more than 2^14 entries on the first,
  // second and a deeper digit, sorted in steps rather than one go.
  for (const p of [6, 12, 24]) {
    const prefix = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, p));
    check(tt, Array.from({ length: 50000 }, () => Buffer.concat([prefix, tail()])), `50k sharing ${p} bytes`);
  }
  const d = new ByteDict(1 << 18, 1 << 23);
  for (let i = 0; i < 200000; i++) d.internBytes(Buffer.from(`key-${(i * 7919) % 200003}-${i % 13}`));
  const steps = sortEntriesSteps(d);
  let yields = 0;
  let res = steps.next();
  while (res.done !== true) {
    yields++;
    res = steps.next();
  }
  tt.ok(yields >= 2, `200k entries: the sort yielded ${yields} times`);
  tt.same(Array.from(res.value), Array.from(sortEntries(d)), 'stepwise order = synchronous order');
  tt.end();
});
