/**
 * Writer-side format builders against the C reference: the glibc rand()
 * replay, the CMPH CHD section (byte-identical to every hashed corpus file)
 * and the 4-gram Huffman codebook and encoder (byte-identical to 06c).
 */
import t from 'tap';
import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { GlibcRandom } from '../lib/format/glibc-rand.js';
import {
  binCount,
  binOf,
  buildChd,
  buildChdSync,
  cmphIsPrime,
  encodeCompressedRank,
  encodeCompressedSeq,
  encodeRankOfEmptyBins,
  maxProbesFor,
  mulMod,
} from '../lib/format/chd-build.js';
import {
  FourGramCounter,
  HuffmanEncoder,
  maxEncodedLength,
  shouldCompress,
} from '../lib/format/huffman-build.js';
import { jenkinsHash } from '../lib/format/jenkins.js';
import { faultIn, grownBytes, grownUint32, mappedBytes, ownsItsBuffer, mappedUint32, mappedWrittenInt32, writtenInt32 } from '../lib/format/pages.js';
import { modSmall } from '../lib/format/arith.js';
import { DiscoDBError } from '../lib/errors.js';

const CORPUS = fileURLToPath(new URL('./fixtures/corpus/', import.meta.url));
const HASHED_CASES = [
  '03c_26_keys',
  '04b_binary_hashed',
  '04c_utf8_text',
  '05c_duplicates_multiset_hashed',
  '05d_duplicates_unique_items_hashed',
  '06c_compress_threshold_exact',
  '06d_compress_threshold_below',
  '06e_compress_avg_below_6',
];

// ---------------------------------------------------------------- helpers

interface CorpusInput {
  /** Distinct keys in first-insertion order. */
  keys: Uint8Array[];
  /** Distinct values in first-appearance order (value id − 1). */
  values: Uint8Array[];
}

/** Reads input.jsonl[.gz]: distinct keys and (unless `keysOnly`) values in first-appearance order. */
function readInput(dir: string, keysOnly = false): CorpusInput {
  const plain = `${dir}/input.jsonl`;
  const text = existsSync(plain)
    ? readFileSync(plain, 'utf8')
    : gunzipSync(readFileSync(`${plain}.gz`)).toString('utf8');
  const seenKeys = new Set<string>();
  const seenValues = new Set<string>();
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const rec = JSON.parse(line) as { k?: string; v?: string; kx?: string; vx?: string };
    const key = rec.kx !== undefined ? Buffer.from(rec.kx, 'hex') : Buffer.from(rec.k!, 'utf8');
    const keyId = key.toString('latin1');
    if (!seenKeys.has(keyId)) {
      seenKeys.add(keyId);
      keys.push(key);
    }
    if (keysOnly) continue;
    if (rec.vx === undefined && rec.v === undefined) continue;
    const value = rec.vx !== undefined ? Buffer.from(rec.vx, 'hex') : Buffer.from(rec.v!, 'utf8');
    const valueId = value.toString('latin1');
    if (!seenValues.has(valueId)) {
      seenValues.add(valueId);
      values.push(value);
    }
  }
  return { keys, values };
}

/** The parts of a db.ddb these tests look at (spec §2–§4), read with DataView. */
class Db {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u64(off: number): number {
    return this.view.getUint32(off, true) + this.view.getUint32(off + 4, true) * 2 ** 32;
  }
  get numKeys(): number {
    return this.view.getUint32(16, true);
  }
  get flags(): number {
    return this.u64(32);
  }
  get key2valuesOffset(): number {
    return this.u64(40);
  }
  get id2valueOffset(): number {
    return this.u64(48);
  }
  get codebookOffset(): number {
    return this.u64(64);
  }
  /** Key bytes of record i (key TOC, spec §3.1). */
  keyAt(i: number): Uint8Array {
    const rec = this.u64(this.key2valuesOffset + 8 * i);
    const len = this.view.getUint32(rec, true);
    return this.bytes.subarray(rec + 4, rec + 4 + len);
  }
  /** Stored payload of value id v ≥ 1 (value TOC, spec §4). */
  payloadOf(v: number): Uint8Array {
    const toc = this.id2valueOffset;
    return this.bytes.subarray(this.u64(toc + 8 * (v - 1)), this.u64(toc + 8 * v));
  }
}

function openDb(dir: string): Db {
  return new Db(readFileSync(`${dir}/db.ddb`));
}

/** A `hashKeys` callback over in-memory keys. */
function hasherOf(keys: Uint8Array[]): (seed: number, out: Uint32Array) => void {
  const triple = new Uint32Array(3);
  return (seed, out) => {
    for (let i = 0; i < keys.length; i++) {
      jenkinsHash(seed, keys[i]!, triple);
      out.set(triple, 3 * i);
    }
  };
}

/** A KeyStream's `stream` over in-memory keys, in chunks of up to 1000 keys. */
function streamOf(keys: Uint8Array[]): (seed: number, chunk: Uint32Array, consume: (t: Uint32Array, n: number) => void) => void {
  const triple = new Uint32Array(3);
  return (seed, chunk, consume) => {
    const per = Math.min(1000, chunk.length / 3);
    let c = 0;
    for (const k of keys) {
      jenkinsHash(seed, k, triple);
      chunk.set(triple, 3 * c);
      if (++c === per) {
        consume(chunk, c);
        c = 0;
      }
    }
    if (c > 0) consume(chunk, c);
  };
}

function hex(s: string): Uint8Array {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** A straightforward decoder of spec §5.4, independent of the encoder. */
function huffmanDecode(codebook: Uint8Array, payload: Uint8Array): Uint8Array {
  const view = new DataView(codebook.buffer, codebook.byteOffset, codebook.byteLength);
  const bit = (k: number): number => (k >> 3 < payload.length ? (payload[k >> 3]! >> (k & 7)) & 1 : 0);
  const bits = (k: number, w: number): number => {
    let v = 0;
    for (let i = 0; i < w; i++) v |= bit(k + i) << i;
    return v;
  };
  const end = payload.length * 8 - bits(0, 3);
  const out: number[] = [];
  let p = 3;
  while (p < end) {
    if (bit(p) === 1) {
      const idx = bits(p + 1, 16);
      const symbol = view.getUint32(idx * 8, true);
      const n = view.getUint32(idx * 8 + 4, true);
      out.push(symbol & 0xff, (symbol >>> 8) & 0xff, (symbol >>> 16) & 0xff, symbol >>> 24);
      p += n + 1;
    } else {
      out.push(bits(p + 1, 8));
      p += 9;
    }
  }
  return Uint8Array.from(out);
}

/** Deterministic pseudo-random 24-bit numbers for the property tests (mulberry32). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = Math.imul(s ^ (s >>> 15), s | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) >>> 8;
  };
}

// ---------------------------------------------------------------- glibc rand()

t.test('GlibcRandom replays the rand() sequence of a fresh glibc process', async (t) => {
  const rng = new GlibcRandom();
  const first = Array.from({ length: 10 }, () => rng.next());
  t.same(first, [
    1804289383, 846930886, 1681692777, 1714636915, 1957747793, 424238335, 719885386, 1649760492, 596516649,
    1189641421,
  ]);
  const other = new GlibcRandom();
  t.equal(other.next(), 1804289383, 'every instance starts afresh');
  for (let i = 0; i < 100000; i++) {
    const v = rng.next();
    if (!(v >= 0 && v <= 0x7fffffff && Number.isInteger(v))) {
      t.fail(`output ${v} out of range`);
      break;
    }
  }
});

// ---------------------------------------------------------------- CHD

t.test('CMPH helpers: primality quirks, bin count, probe limit, mulmod', async (t) => {
  for (const p of [3, 5, 7, 61]) t.notOk(cmphIsPrime(p), `${p} is rejected by CMPH's test`);
  for (const p of [11, 13, 53, 67, 2000003, 4294967291]) t.ok(cmphIsPrime(p), `${p} accepted`);
  for (const c of [9, 15, 49, 91, 121, 341, 561, 2047, 4294967295]) t.notOk(cmphIsPrime(c), `${c} rejected`);
  t.equal(binCount(1), 11);
  t.equal(binCount(3), 11);
  t.equal(binCount(26), 53);
  t.equal(binCount(30), 67, 'not 61');
  t.equal(maxProbesFor(26), 1048576);
  t.equal(maxProbesFor(1), 1048576);
  const rnd = prng(7);
  const u32 = (): number => ((rnd() << 8) ^ rnd()) >>> 0;
  for (let i = 0; i < 2000; i++) {
    const n = (u32() | 1) >>> 0 || 3;
    const [a, b, f, p1] = [u32() % n, u32() % n, u32() % n, u32() % n];
    const want = Number((BigInt(f) + BigInt(a) * BigInt(b) + BigInt(p1)) % BigInt(n));
    if (mulMod(a, b, n) !== Number((BigInt(a) * BigInt(b)) % BigInt(n)) || binOf(f, a, b, p1, n) !== want) {
      t.fail(`mulmod wrong for a=${a} b=${b} n=${n}`);
      return;
    }
  }
  const small = 1000003;
  for (let i = 0; i < 2000; i++) {
    const [f, h, p0, p1] = [u32() % small, u32() % small, u32() % small, u32() % small];
    const want = Number((BigInt(f) + BigInt(h) * BigInt(p0) + BigInt(p1)) % BigInt(small));
    if (binOf(f, h, p0, p1, small) !== want) {
      t.fail(`binOf wrong for f=${f} h=${h} p0=${p0} p1=${p1}`);
      return;
    }
  }
  // modSmall (the float-division `%` of the lookups and placement): around multiples of n, up to 2^53.
  for (const n of [1, 2, 3, 7, 1000003, 2 ** 26 - 5, 2 ** 31 - 1, 2 ** 32 - 5]) {
    for (const top of [2 ** 32, 2 ** 48, 2 ** 52, 2 ** 53 - 1]) {
      const k = Math.floor(top / n);
      for (const x of [k * n - 1, k * n, Math.min(top, k * n + 1), top, top - 1, 0, n - 1]) {
        if (x < 0 || x > 2 ** 53 - 1) continue;
        const want = Number(BigInt(x) % BigInt(n));
        if (modSmall(x, n) !== want) {
          t.fail(`modSmall(${x}, ${n}) = ${modSmall(x, n)}, not ${want}`);
          return;
        }
      }
    }
  }
  t.pass('mulMod, binOf and modSmall agree with BigInt');
});

t.test('the 26-key a..z worked example of spec §6.8, byte for byte', async (t) => {
  const keys = Array.from({ length: 26 }, (_, i) => Uint8Array.of(0x61 + i));
  const { section, slots } = await buildChd(keys.length, hasherOf(keys), new GlibcRandom());
  const expected = hex(`
    08000000 28000000 34000000 1B000000 01000000 14000000 1A000000 1B000000
    3AB5CA96 492D0900 01000000 E85CB502 3C000000 07000000 00000000 0D000000
    35000000 07000000 07000000 01000000 0B000000 10000000 07000000 05000000
    D20B0000 01000000 7C000000 89020000`);
  t.same(Buffer.from(section), Buffer.from(expected));
  t.equal(slots[0], 16, 'key a sits in record 16');
  const seq = encodeCompressedSeq(Uint32Array.of(4, 17, 9, 0, 0, 0, 4));
  t.same(Buffer.from(seq), Buffer.from(expected.subarray(0x90 - 0x48)), 'compressed_seq of the displacements');
});

for (const name of HASHED_CASES) {
  t.test(`CHD section and slots equal the C library's: ${name}`, async (t) => {
    const dir = `${CORPUS}${name}`;
    const { keys } = readInput(dir, true);
    const db = openDb(dir);
    t.equal(db.flags & 1, 1, 'the fixture is hashed');
    t.equal(keys.length, db.numKeys);
    const { section, slots } = await buildChd(keys.length, hasherOf(keys), new GlibcRandom());
    t.ok(Buffer.from(section).equals(db.bytes.subarray(72, db.key2valuesOffset)), 'section bytes identical');
    let wrong = 0;
    for (let i = 0; i < keys.length; i++) {
      if (!Buffer.from(db.keyAt(slots[i]!)).equals(keys[i]!)) wrong++;
    }
    t.equal(wrong, 0, 'every key sits in the record its slot names');
  });
}

t.test('100 builds sharing one rand() stream match libcmph, seed retries included', async (t) => {
  // Reference: the same 100 cmph_new(CHD) + cmph_pack + cmph_search_packed calls in one
  // C process against Debian bookworm's libcmph 2.0.2 (the corpus library); the digest
  // covers, per build, u32 section size, section bytes and the u32 slot of every key.
  const keys = Array.from({ length: 11 }, (_, i) => Buffer.from(`key-${i}`));
  class CountingRandom extends GlibcRandom {
    draws = 0;
    override next(): number {
      this.draws++;
      return super.next();
    }
  }
  const rng = new CountingRandom();
  const digest = createHash('sha256');
  let retried = 0;
  for (let build = 0; build < 100; build++) {
    const before = rng.draws;
    const { section, slots } = await buildChd(keys.length, hasherOf(keys), rng);
    if (rng.draws - before > 1) retried++;
    const size = Buffer.alloc(4);
    size.writeUInt32LE(section.length);
    digest.update(size).update(section).update(new Uint8Array(slots.buffer, slots.byteOffset, slots.byteLength));
  }
  t.ok(retried > 0, `${retried} builds needed more than one seed`);
  t.equal(digest.digest('hex'), 'c310dfc2be83cb8c14027a4b60db1a8c8b0814f6cb17a64c1970abf5181818f6');
});

t.test('buildChd gives a minimal perfect hash on random keys', async (t) => {
  const rnd = prng(42);
  for (const count of [1, 2, 5, 26, 1000, 20000]) {
    const seen = new Set<string>();
    const keys: Uint8Array[] = [];
    while (keys.length < count) {
      const key = Uint8Array.from({ length: rnd() % 24 }, () => rnd() & 0xff);
      const id = Buffer.from(key).toString('latin1');
      if (seen.has(id)) continue;
      seen.add(id);
      keys.push(key);
    }
    const hash = hasherOf(keys);
    // An async producer, as the writer's is when it streams keys from disk.
    const { slots, section } = await buildChd(count, async (seed, out) => {
      await new Promise((resolve) => setImmediate(resolve));
      hash(seed, out);
    });
    const used = new Uint8Array(count);
    let bad = 0;
    for (const s of slots) {
      if (s >= count || used[s]) bad++;
      else used[s] = 1;
    }
    t.equal(bad, 0, `${count} keys: slots are a permutation of 0..${count - 1}`);
    t.equal(section.length % 4, 0, 'section is whole u32 words');
  }
});

t.test('the CHD section depends on the set of keys, not their order (the writer hashes in byte order)', async (t) => {
  const rnd = prng(2024);
  let bad = 0;
  for (const count of [26, 30, 846, 5000, 60000]) {
    const keys = Array.from({ length: count }, (_, i) => Buffer.from(`key ${i} ${rnd() % 1000}`));
    const shuffled = keys.map((k, i) => [rnd(), i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
    const a = buildChdSync(count, hasherOf(keys));
    const b = buildChdSync(count, { stream: streamOf(shuffled.map((i) => keys[i]!)) });
    if (!Buffer.from(a.section).equals(Buffer.from(b.section))) bad++;
    // The same key gets the same slot, whichever order it was fed in.
    for (let j = 0; j < count; j++) if (b.slots[j] !== a.slots[shuffled[j]!]) bad++;
  }
  t.equal(bad, 0, 'same section, same slot per key, all-at-once hasher and streamed shuffled keys');
});

t.test('encodeRankOfEmptyBins = encodeCompressedRank of the empty bins', async (t) => {
  const rnd = prng(77);
  let bad = 0;
  for (let round = 0; round < 300; round++) {
    const n = 2 + (rnd() % 5000);
    const fill = [0.1, 0.5, 0.9, 0.99][round % 4]!;
    const occupied = new Int32Array((n + 31) >>> 5);
    const empty: number[] = [];
    for (let bin = 0; bin < n; bin++) {
      if (rnd() / 2 ** 31 < fill) occupied[bin >>> 5]! |= 1 << (bin & 31);
      else empty.push(bin);
    }
    if (empty.length === 0) continue;
    const want = Buffer.from(encodeCompressedRank(Uint32Array.from(empty)));
    if (!want.equals(Buffer.from(encodeRankOfEmptyBins(occupied, n)))) bad++;
  }
  t.equal(bad, 0, 'the same bytes from the bitmap');
});

t.test('buildChd reports the keys placed: growing, up to all of them, same bytes', async (t) => {
  const count = 300_000;
  const keys = Array.from({ length: count }, (_, i) => Buffer.from(`key-${i}`));
  const reports: [number, number][] = [];
  const withReports = await buildChd(count, hasherOf(keys), new GlibcRandom(), (placed, total) => reports.push([placed, total]));
  const without = await buildChd(count, hasherOf(keys), new GlibcRandom());
  t.ok(Buffer.from(withReports.section).equals(Buffer.from(without.section)), 'the same section');
  t.ok(reports.length > 2, `${reports.length} reports, not only the last`);
  let monotone = true;
  for (let i = 1; i < reports.length; i++) {
    const [d, tot] = reports[i]!;
    const [pd, ptot] = reports[i - 1]!;
    if (d < pd || tot < ptot || d > tot) monotone = false;
  }
  t.ok(monotone, 'placed and total only grow, placed ≤ total');
  t.same(reports.at(-1), [count, count], 'the last report: every key placed');
});

t.test('buildChd fails with ERR_DISCODB_LIMIT when keys collide forever', async (t) => {
  const keys = Array.from({ length: 30 }, (_, i) => Uint8Array.of(i));
  keys[29] = keys[0]!; // a duplicate key: the same triple under every seed
  await t.rejects(buildChd(keys.length, hasherOf(keys)), { code: 'ERR_DISCODB_LIMIT' });
  await t.rejects(buildChd(0, hasherOf([])), { code: 'ERR_DISCODB_ARGUMENT' });
});

// ---------------------------------------------------------------- Huffman

t.test('shouldCompress follows maybe_disable_compression', async (t) => {
  t.ok(shouldCompress(5242880, 81920, false), 'exactly 5 MiB, average 64');
  t.notOk(shouldCompress(5242879, 81920, false), 'one byte short of 5 MiB');
  t.notOk(shouldCompress(5500000, 1000000, false), 'average 5.5');
  t.ok(shouldCompress(6000000, 1000000, false), 'average exactly 6');
  t.notOk(shouldCompress(5242880, 81920, true), 'disabled by the option');
  t.notOk(shouldCompress(0, 0, false), 'no values');
});

t.test('FourGramCounter counts positions 0..L-5 in first-seen order', async (t) => {
  const c = new FourGramCounter();
  c.add(Buffer.from('abcd'));
  t.equal(c.distinct, 0, 'a 4-byte value counts nothing');
  c.add(Buffer.from('abcde'));
  t.equal(c.distinct, 1, 'the last 4-gram is not counted');
  t.equal(c.symbolAt(0), 0x64636261, 'symbols are little-endian u32');
  c.add(Buffer.from('xabcdabcdy'));
  t.same([c.symbolAt(1), c.countAt(0)], [0x63626178, 3]);
  t.equal(c.distinct, 5);
  const many = new FourGramCounter();
  const rnd = prng(3);
  for (let i = 0; i < 3000; i++) many.add(Uint8Array.from({ length: 40 }, () => rnd() & 0xff));
  let sum = 0;
  for (let i = 0; i < many.distinct; i++) sum += many.countAt(i);
  t.equal(sum, 3000 * 36, 'every 4-gram counted once (across table growth)');
  t.ok(many.distinct > 3000 * 36 - 50, 'random 4-grams are (nearly) all distinct');
  const capped = new FourGramCounter(3);
  t.throws(() => capped.add(Buffer.from('01234567')), new DiscoDBError('ERR_DISCODB_LIMIT', ''), 'past the cap');
  try {
    capped.add(Buffer.from('abcdefgh'));
  } catch (e) {
    t.equal((e as DiscoDBError).code, 'ERR_DISCODB_LIMIT');
  }
});

t.test('faultIn and writtenInt32 give the same zeroed arrays, whatever their length and element size', async (t) => {
  for (const n of [0, 1, 1023, 1024, 1025, 3 * 1024 + 7, 1 << 18]) {
    const w = writtenInt32(n);
    t.equal(w.length, n, `writtenInt32(${n}) has ${n} elements`);
    t.ok(w.every((x) => x === 0), `writtenInt32(${n}) is all zeros`);
    for (const a of [new Uint8Array(n), new Uint32Array(n), new Float64Array(n)]) {
      t.equal(faultIn(a), a, 'faultIn returns its argument');
      t.ok(a.every((x) => x === 0), `a ${a.constructor.name} of ${n} stays zeroed`);
    }
  }
});

t.test('mapped arrays are zeroed, grow in place while their allocation has room, and keep what was used', async (t) => {
  const MiB = 1024 * 1024;
  for (const n of [0, 64, 128 * 1024 - 1, 128 * 1024, 3 * MiB + 5, 32 * MiB + 4096, 40 * MiB]) {
    const b = mappedBytes(n);
    const w = mappedUint32(Math.ceil(n / 4));
    const i = mappedWrittenInt32(Math.ceil(n / 4));
    t.same([b.length, w.length, i.length], [n, Math.ceil(n / 4), Math.ceil(n / 4)], `the lengths asked (${n} bytes)`);
    t.ok(b.every((x) => x === 0) && w.every((x) => x === 0) && i.every((x) => x === 0), `${n} bytes: all zeros`);
    // Mid-size blocks (past 128 KiB, at most 32 MiB) get room beyond what was asked; others exactly.
    const roomy = n >= 128 * 1024 && n < 32 * MiB + 4096;
    t.equal(b.buffer.byteLength > n, roomy, `${n} bytes: room beyond the length ${roomy ? 'reserved' : 'not reserved'}`);
  }
  const a = mappedBytes(200 * 1024);
  a.fill(7, 0, 1000);
  t.ok(ownsItsBuffer(a) && ownsItsBuffer(Buffer.from(new ArrayBuffer(10))), 'a mapped array, like a whole buffer, may be moved');
  const g = grownBytes(a, 16 * MiB, 1000);
  t.equal(g.buffer, a.buffer, 'grown in place: the same memory');
  t.equal(g.length, 16 * MiB, 'to the length asked');
  t.ok(g.subarray(0, 1000).every((x) => x === 7) && g[1000] === 0 && g[16 * MiB - 1] === 0, 'the used bytes kept, the new ones zero');
  const h = grownBytes(g, 48 * MiB, 1000);
  t.not(h.buffer, g.buffer, 'past the room: new memory');
  t.ok(h.subarray(0, 1000).every((x) => x === 7) && h[1000] === 0, 'the used bytes copied');
  // A view at the start of a larger buffer that is not a mapped one (Node's pool of small
  // Buffers is one) never grows in place into its neighbours.
  for (const shared of [Buffer.from(new ArrayBuffer(1 << 20), 0, 3), Buffer.from('abc')]) {
    shared.write('abc');
    t.notOk(ownsItsBuffer(shared), 'a buffer shared past the view may not be moved to another thread');
    const p = grownBytes(shared, 10, 3);
    t.equal(p.toString('latin1', 0, 3), 'abc', 'a shared buffer is copied');
    t.not(p.buffer, shared.buffer, 'into its own memory');
  }
  const u = grownUint32(Uint32Array.of(1, 2, 3, 4), 100_000, 3);
  t.same([...u.subarray(0, 4)], [1, 2, 3, 0], 'grownUint32 keeps the used words only');
  const v = grownUint32(u, 200_000, 3);
  t.equal(v.buffer, u.buffer, 'and then grows in place');
  t.same([...v.subarray(0, 3)], [1, 2, 3], 'keeping them');
});

t.test('the worked example of spec §5.2: A=5, B=3, C=2, D=1', async (t) => {
  const c = new FourGramCounter();
  // Value lengths L give L − 4 counts of the repeated 4-gram.
  for (const [ch, count] of [['A', 5], ['B', 3], ['C', 2], ['D', 1]] as const) c.add(Buffer.from(ch.repeat(count + 4)));
  const book = HuffmanEncoder.fromCounter(c).codebook();
  const view = new DataView(book.buffer);
  const entry = (i: number): string =>
    `${String.fromCharCode(view.getUint8(i * 8))}/${view.getUint32(i * 8 + 4, true)}`;
  let bad = 0;
  for (let i = 0; i < 65536; i++) {
    const want = i % 2 === 0 ? 'A/1' : i % 4 === 1 ? 'B/2' : i % 8 === 3 ? 'D/3' : 'C/3';
    if (entry(i) !== want) bad++;
  }
  t.equal(bad, 0, 'even → A/1, 1 mod 4 → B/2, 3 mod 8 → D/3, 7 mod 8 → C/3');
  t.equal(view.getUint32(0, true), 0x41414141, 'the symbol is stored as its 4 bytes');
});

t.test('encoder examples of spec §5.4', async (t) => {
  const none = HuffmanEncoder.fromCounter(new FourGramCounter());
  t.same(Buffer.from(none.encode(new Uint8Array(0))), hex('05'), 'empty value');
  t.same(Buffer.from(none.encode(Buffer.from('cow'))), hex('32E6CD1D'), '"cow" as literals');
  t.equal(none.codebook().every((b) => b === 0), true, 'no symbols: all-zero codebook');
  // Equal counts, "bcde" seen first: the lighter leaf "abcd" becomes the left child (code 0).
  const c = new FourGramCounter();
  c.add(Buffer.from('bcdeZ'));
  c.add(Buffer.from('abcdZ'));
  const enc = HuffmanEncoder.fromCounter(c);
  t.same(Buffer.from(enc.encode(Buffer.from('abcdeX'))), hex('49192C'));
  const out = new Uint8Array(16).fill(0xee);
  t.equal(enc.encodeInto(Buffer.from('abcdeX'), out, 5), 3);
  t.same(Buffer.from(out.subarray(5, 8)), hex('49192C'), 'encodeInto writes every byte it uses');
  t.equal(maxEncodedLength(0), 1);
});

t.test('encodeRangeStreamed writes what encodeRangeInto writes, through a small buffer', async (t) => {
  const rnd = prng(31);
  const words = Array.from({ length: 30 }, () => Uint8Array.from({ length: 4 + (rnd() % 6) }, () => rnd() & 0xff));
  const sample = (n: number): Uint8Array => {
    const parts: number[] = [];
    while (parts.length < n) {
      if (rnd() % 3 === 0) parts.push(rnd() & 0xff);
      else parts.push(...words[rnd() % words.length]!);
    }
    return Uint8Array.from(parts.slice(0, n));
  };
  const c = new FourGramCounter();
  for (let i = 0; i < 200; i++) c.add(sample(64));
  const enc = HuffmanEncoder.fromCounter(c);
  let bad = 0;
  for (let i = 0; i < 300; i++) {
    const v = sample(rnd() % 600);
    const ref = new Uint8Array(maxEncodedLength(v.length));
    const refLen = enc.encodeRangeInto(v, 0, v.length, ref, 0);
    // A 16-byte buffer flushed to `got`, starting part-filled like a writer's.
    const got: number[] = [];
    const start = rnd() % 8;
    const out = { buf: new Uint8Array(16), n: start, flush(): void { got.push(...this.buf.subarray(0, this.n)); this.n = 0; } };
    const { bytes, first } = enc.encodeRangeStreamed(v, 0, v.length, out);
    out.flush();
    const coded = Uint8Array.from(got.slice(start));
    coded[0] = first;
    if (bytes !== refLen || !Buffer.from(coded).equals(Buffer.from(ref.subarray(0, refLen)))) bad++;
  }
  t.equal(bad, 0, '300 values: the same bytes');
});

t.test('codes deeper than 16 bits are dropped and their 4-grams become literals', async (t) => {
  // Weights 1, 1, 2, 4, ..., 2^18 make a chain: the lightest symbols end up below depth 16.
  const c = new FourGramCounter();
  for (let i = 19; i >= 0; i--) c.add(new Uint8Array(4 + (i === 0 ? 1 : 2 ** (i - 1))).fill(0x41 + i));
  const enc = HuffmanEncoder.fromCounter(c);
  const book = enc.codebook();
  const view = new DataView(book.buffer);
  const lengths = new Set<number>();
  let empty = 0;
  for (let i = 0; i < 65536; i++) {
    const n = view.getUint32(i * 8 + 4, true);
    if (n === 0) empty++;
    else lengths.add(n);
  }
  t.equal(Math.max(...lengths), 16, 'no code is longer than 16 bits');
  t.equal(empty, 1, 'one table entry is the dead code of the dropped subtree');
  const deep = new Uint8Array(12).fill(0x41); // the lightest symbol: no code
  const payload = enc.encode(deep);
  t.equal(payload.length, maxEncodedLength(12), 'all literals');
  t.same(Buffer.from(huffmanDecode(book, payload)), Buffer.from(deep));
  const rnd = prng(9);
  let bad = 0;
  for (let i = 0; i < 500; i++) {
    const v = Uint8Array.from({ length: rnd() % 40 }, () => 0x41 + (rnd() % 22));
    if (!Buffer.from(huffmanDecode(book, enc.encode(v))).equals(v)) bad++;
  }
  t.equal(bad, 0, 'random values round-trip through the spec decoder');
});

t.test('06c_compress_threshold_exact: codebook and every payload equal the C output', async (t) => {
  const dir = `${CORPUS}06c_compress_threshold_exact`;
  const { values } = readInput(dir);
  const db = openDb(dir);
  t.equal(db.flags & 4, 4, 'the fixture is compressed');
  let total = 0;
  for (const v of values) total += v.length;
  t.ok(shouldCompress(total, values.length, false), 'the C decision is to compress');
  const counter = new FourGramCounter();
  for (const v of values) counter.add(v);
  const enc = HuffmanEncoder.fromCounter(counter);
  const book = enc.codebook();
  const stored = db.bytes.subarray(db.codebookOffset, db.codebookOffset + book.length);
  t.ok(Buffer.from(book).equals(stored), 'codebook identical');
  let wrong = 0;
  let firstWrong = -1;
  for (let id = 1; id <= values.length; id++) {
    if (!Buffer.from(enc.encode(values[id - 1]!)).equals(db.payloadOf(id))) {
      wrong++;
      if (firstWrong < 0) firstWrong = id;
    }
  }
  t.equal(wrong, 0, `all ${values.length} payloads identical (first mismatch: ${firstWrong})`);
  const decoded = huffmanDecode(book, db.payloadOf(1));
  t.same(Buffer.from(decoded), Buffer.from(values[0]!), 'sanity: the spec decoder reads C payloads');
});
