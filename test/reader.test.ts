import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DiscoDB, DiscoDBError } from '../lib/index.js';
import { corpusCases, fromExpected, toExpected, type CorpusCase } from './helpers/corpus.js';
import { rng, randInt } from './helpers/random.js';

const cases = corpusCases();

function expectedValues(c: CorpusCase): { count: number; sha: string | null; head: string[]; all: string[] | null } {
  const e = c.expected;
  if (e.values) return { count: e.values.length, sha: null, head: e.values, all: e.values };
  return { count: e.values_count, sha: e.values_sha256, head: e.values_head, all: null };
}

/** Compares everything expected.json records against what `db` answers. */
function matchCorpus(t: TapTest, c: CorpusCase, db: DiscoDB<Buffer>): void {
  const e = c.expected;
  const hex = (b: Uint8Array) => toExpected(c, b);
  t.same(
    { ...db.header },
    {
      size: e.header.size,
      numKeys: e.header.num_keys,
      numUniqueValues: e.header.num_uniq_values,
      numValues: e.header.num_values,
      flags: e.header.flags,
      key2valuesOffset: e.header.key2values_offs,
      id2valueOffset: e.header.id2value_offs,
      hashOffset: e.header.hash_offs,
      codebookOffset: e.header.codebook_offs,
    },
    'header',
  );
  const f = e.features;
  t.same(db.info(), {
    numKeys: f.num_keys,
    numUniqueValues: f.num_unique_values,
    numValues: f.num_values,
    totalSize: f.total_size,
    valuesSize: f.values_size,
    itemsSize: f.items_size,
    compressed: f.is_compressed,
    hashed: f.is_hashed,
    multiset: f.is_multiset,
  }, 'info');
  t.equal(db.size, e.keys.length, 'size');
  t.equal(db.keys().count(), e.keys_resultset_size, 'keys count');
  t.same(db.keys().toArray().map(hex), e.keys, 'keys in stored order');
  t.same(db.items().toArray().map(([k, vs]) => [hex(k), vs.toArray().map(hex)]), e.items, 'items');
  t.equal(db.uniqueValues().count(), e.unique_values_resultset_size, 'unique values count');
  t.same(db.uniqueValues().toArray().map(hex), e.unique_values, 'unique values');
  const ev = expectedValues(c);
  t.equal(db.values().count(), e.values_resultset_size, 'values count (header)');
  const hash = crypto.createHash('sha256');
  const head: string[] = [];
  let n = 0;
  const len = Buffer.alloc(4);
  for (const v of db.values()) {
    if (head.length < ev.head.length) head.push(hex(v));
    len.writeUInt32LE(v.length);
    hash.update(len);
    hash.update(v);
    n++;
  }
  t.equal(n, ev.count, 'values iterated');
  t.same(head, ev.head.slice(0, head.length), 'values (head)');
  if (ev.sha) t.equal(hash.digest('hex'), ev.sha, 'values sha256');
  else t.same(db.values().toArray().map(hex), ev.all, 'values');
  for (const g of e.getitem) {
    const key = fromExpected(c, g.key);
    const inq = db.get(key);
    t.equal(db.has(key), !g.notfound, `has(${g.key})`);
    t.equal(inq.count(), g.resultset_size, `get(${g.key}).count()`);
    t.same(inq.toArray().map(hex), g.values, `get(${g.key})`);
    t.equal(db.peek(key, null) === null ? null : hex(db.peek(key)!), g.values[0] ?? null, `peek(${g.key})`);
  }
  t.same(db.check(), { keys: e.header.num_keys, uniqueValues: e.header.num_uniq_values, values: e.header.num_values, bytes: e.header.size });
}

t.test('every corpus case reads back exactly as the C library answered', async (t) => {
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const db = DiscoDB.open(c.dbPath, { encoding: 'buffer' });
      t.equal(db.route, 'mmap');
      matchCorpus(t, c, db);
      db.close();
    });
  }
});

t.test('the pread route and fromBuffer give the same answers', async (t) => {
  for (const c of cases.filter((c) => ['01_animals', '04b_binary_hashed', '05c_duplicates_multiset_hashed', '06c_compress_threshold_exact'].includes(c.name))) {
    await t.test(c.name, async (t) => {
      const viaPread = DiscoDB.open(c.dbPath, { encoding: 'buffer', mmap: false });
      t.equal(viaPread.route, 'pread');
      matchCorpus(t, c, viaPread);
      viaPread.close();
      const viaBuffer = DiscoDB.fromBuffer(fs.readFileSync(c.dbPath), { encoding: 'buffer' });
      t.equal(viaBuffer.route, 'buffer');
      matchCorpus(t, c, viaBuffer);
    });
  }
});

t.test('utf8 encoding, string keys and the animals example', async (t) => {
  const db = DiscoDB.open(path.join(cases[0]!.dir, 'db.ddb'));
  t.same(db.get('pets').toArray(), ['dog', 'cat', 'goldfish']);
  t.same(db.get('aquatic').toArray(), ['whale', 'goldfish'], 'ascending value id, not insertion order');
  t.equal(db.get('birds').count(), 0);
  t.same(db.get('birds').toArray(), []);
  t.equal(db.peek('mammals'), 'cow');
  t.equal(db.peek('birds', 'none'), 'none');
  t.equal(db.peek('birds'), undefined);
  t.equal(db.get('pets').first(), 'dog');
  t.same([...db].map(([k, v]) => [k, v.count()]), [['mammals', 4], ['pets', 3], ['aquatic', 2]]);
  const inq = db.get('mammals');
  t.same(inq.toArray(), inq.toArray(), 'an Inquiry is re-iterable');
  t.same(inq.map((s) => s.toUpperCase()).toArray(), ['COW', 'DOG', 'CAT', 'WHALE']);
  t.equal(db.uniqueValues().isEmpty(), false);
  t.equal(db.get('birds').isEmpty(), true);
  // Regression: the pread route once returned Uint8Arrays, which stringify as "100,111,103".
  const viaPread = DiscoDB.open(path.join(cases[0]!.dir, 'db.ddb'), { mmap: false });
  t.same(viaPread.get('pets').toArray(), ['dog', 'cat', 'goldfish']);
  t.same(viaPread.keys().toArray(), ['mammals', 'pets', 'aquatic']);
  viaPread.close();
  db.close();
  db.close();
  t.throws(() => db.get('pets'), { code: 'ERR_DISCODB_CLOSED' });
  t.ok(db.isClosed);
});

t.test('buffer encoding returns zero-copy Buffers that can be written without harming the file', async (t) => {
  const file = path.join(cases[0]!.dir, 'db.ddb');
  const before = fs.readFileSync(file);
  const db = DiscoDB.open(file, { encoding: 'buffer' });
  const v = db.get('pets').first()!;
  t.ok(Buffer.isBuffer(v));
  t.equal(v.toString(), 'dog');
  t.equal(v.buffer, db.toBuffer().buffer, 'same memory as the mapping');
  v[0] = 0x58; // a private mapping: no SIGSEGV, and the file stays as it was
  t.same(fs.readFileSync(file), before);
});

t.test('argument and file errors are DiscoDBErrors with codes', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ddb-reader-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  t.throws(() => DiscoDB.open(path.join(tmp, 'missing.ddb')), { code: 'ERR_DISCODB_IO', name: 'DiscoDBError' });
  t.throws(() => DiscoDB.open(tmp), { code: 'ERR_DISCODB_IO' });
  fs.writeFileSync(path.join(tmp, 'empty.ddb'), '');
  t.throws(() => DiscoDB.open(path.join(tmp, 'empty.ddb')), { code: 'ERR_DISCODB_CORRUPT', offset: 0 });
  fs.writeFileSync(path.join(tmp, 'text.ddb'), 'x'.repeat(100));
  t.throws(() => DiscoDB.open(path.join(tmp, 'text.ddb')), { code: 'ERR_DISCODB_CORRUPT', message: /wrong magic/ });
  const db = DiscoDB.open(cases[0]!.dbPath);
  t.throws(() => db.get(42 as unknown as string), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => DiscoDB.open(cases[0]!.dbPath, { encoding: 'latin1' as 'utf8' }), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => DiscoDB.open(cases[0]!.dbPath, { offset: -1 }), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => DiscoDB.fromBuffer('abc' as unknown as Uint8Array), { code: 'ERR_DISCODB_ARGUMENT' });
});

t.test('a db embedded at an offset opens with { offset }, by mmap and past 2 GiB by pread', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ddb-offset-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const image = fs.readFileSync(cases[0]!.dbPath);
  for (const offset of [1, 4096 + 17, 2 ** 31 + 12345]) {
    const file = path.join(tmp, `embedded-${offset}.bin`);
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, image, 0, image.length, offset); // sparse before the image
    fs.writeSync(fd, Buffer.from('trailing junk'), 0, 13, offset + image.length);
    fs.closeSync(fd);
    const db = DiscoDB.open(file, { offset });
    t.equal(db.route, offset > 2 ** 31 ? 'pread' : 'mmap', `route at offset ${offset}`);
    t.same(db.get('pets').toArray(), ['dog', 'cat', 'goldfish']);
    t.same(db.keys().toArray(), ['mammals', 'pets', 'aquatic']);
    db.check();
    db.close();
    const fromBuf = DiscoDB.fromBuffer(Buffer.concat([Buffer.alloc(3), image]), { offset: 3 });
    t.same(fromBuf.get('aquatic').toArray(), ['whale', 'goldfish']);
  }
});

t.test('an image larger than 2 GiB opens and answers by pread', async (t) => {
  // A hand-built image whose first value is 2 GiB + 100 bytes of zeros (a sparse hole).
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ddb-big-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const bigLen = 2 ** 31 + 100;
  const keys = ['big', 'small'];
  const recs = keys.map((k, i) => Buffer.concat([u32(k.length), Buffer.from(k), u32(1), Buffer.from([((i + 1) << 5) & 0xff, ((i + 1) >> 3) & 0xff].slice(0, Math.ceil((5 + 2) / 8)))]));
  // width 2 for id 2 (binary 10): bits 0-4 = 1 (w-1), bits 5-6 = id.
  recs[0] = Buffer.concat([u32(3), Buffer.from('big'), u32(1), Buffer.from([0x20])]); // w=1, id 1
  recs[1] = Buffer.concat([u32(5), Buffer.from('small'), u32(1), Buffer.from([0x41])]); // w=2, id 2
  const keyToc = 72;
  const recStart = keyToc + 8 * 3;
  const valToc = recStart + recs[0]!.length + recs[1]!.length;
  const v1 = valToc + 8 * 3;
  const v2 = v1 + bigLen;
  const end = v2 + 5;
  const size = end + 4;
  const head = Buffer.alloc(72);
  Buffer.from([0x5b, 0xde, 0x14, 0x1d, 0xe6, 0x5b, 0xd8, 0x04]).copy(head);
  head.writeBigUInt64LE(BigInt(size), 8);
  head.writeUInt32LE(2, 16);
  head.writeUInt32LE(2, 20);
  head.writeBigUInt64LE(2n, 24);
  head.writeBigUInt64LE(BigInt(keyToc), 40);
  head.writeBigUInt64LE(BigInt(valToc), 48);
  head.writeBigUInt64LE(72n, 56);
  const toc = (xs: number[]) => Buffer.concat(xs.map((x) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(x)); return b; }));
  const prefix = Buffer.concat([head, toc([recStart, recStart + recs[0]!.length, valToc]), recs[0]!, recs[1]!, toc([v1, v2, end])]);
  const file = path.join(tmp, 'big.ddb');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, prefix, 0, prefix.length, 0);
  fs.writeSync(fd, Buffer.from('hello\0\0\0\0'), 0, 9, v2);
  fs.closeSync(fd);
  const db = DiscoDB.open(file);
  t.equal(db.route, 'pread');
  t.equal(db.info().totalSize, size);
  t.equal(db.info().valuesSize, bigLen + 5);
  t.same(db.keys().toArray(), keys);
  t.same(db.get('small').toArray(), ['hello']);
  t.equal(db.get('big').count(), 1);
  t.ok(db.has('big'));
  t.notOk(db.has('medium'));
  db.close();
  t.throws(() => db.keys().toArray(), { code: 'ERR_DISCODB_CLOSED' });
});

function u32(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(x);
  return b;
}

/** Reads everything a user could ask; any failure must be a DiscoDBError. */
function exercise(buf: Buffer, probes: Buffer[]): void {
  const db = DiscoDB.fromBuffer(buf, { encoding: 'buffer' });
  db.info();
  for (const [, vs] of db.items()) {
    vs.count();
    vs.toArray();
  }
  db.uniqueValues().toArray();
  db.values().count();
  for (const k of probes) {
    db.has(k);
    db.get(k).toArray();
  }
  db.check();
}

t.test('corrupt images: truncation at every section boundary and random byte flips', async (t) => {
  const targets = ['01_animals', '02a_empty', '03c_26_keys', '04b_binary_hashed', '05c_duplicates_multiset_hashed', '06c_compress_threshold_exact'];
  let variants = 0;
  let failures = 0;
  let rejected = 0;
  for (const c of cases.filter((c) => targets.includes(c.name))) {
    const image = fs.readFileSync(c.dbPath);
    const h = c.expected.header;
    const probes = c.expected.getitem.map((g: { key: string }) => fromExpected(c, g.key));
    const boundaries = new Set<number>([0, 8, 16, 71, 72, h.key2values_offs, h.id2value_offs, h.size - 4, h.size - 1]);
    for (let i = 0; i <= h.num_keys; i++) boundaries.add(Number(image.readBigUInt64LE(h.key2values_offs + 8 * i)));
    for (let i = 0; i <= h.num_uniq_values; i++) boundaries.add(Number(image.readBigUInt64LE(h.id2value_offs + 8 * i)));
    const attempt = (buf: Buffer, what: string): void => {
      variants++;
      try {
        exercise(buf, probes);
      } catch (err) {
        rejected++;
        if (!(err instanceof DiscoDBError)) {
          failures++;
          t.fail(`${c.name} ${what}: ${(err as Error).stack}`);
        }
      }
    };
    for (const b of c.name.startsWith('06') ? [0, 72, h.key2values_offs, h.id2value_offs, h.codebook_offs, h.size - 1] : boundaries) {
      for (const cut of [b - 1, b, b + 1]) if (cut >= 0 && cut < image.length) attempt(image.subarray(0, cut), `truncated at ${cut}`);
    }
    const r = rng(0xd15c0 + image.length);
    // The compressed case is 2.9 MB: fewer variants, each a full walk of 81 920 values.
    const count = c.name.startsWith('06') ? 30 : 1200;
    for (let v = 0; v < count; v++) {
      const buf = Buffer.from(image);
      const flips = 1 + randInt(r, 4);
      for (let f = 0; f < flips; f++) {
        const at = randInt(r, buf.length);
        buf[at] = r() < 0.5 ? randInt(r, 256) : buf[at]! ^ (1 << randInt(r, 8));
      }
      attempt(buf, `variant ${v}`);
    }
  }
  t.ok(variants > 5000, `${variants} variants tried`);
  t.ok(rejected > variants / 4, `${rejected} variants were rejected`);
  t.equal(failures, 0, 'every failure was a DiscoDBError');
});

t.test('files hashed with the pre-2013 CMPH Jenkins (signed chars) still find non-ASCII keys', async (t) => {
  const { buildChd } = await import('../lib/format/chd-build.js');
  const { jenkinsHash } = await import('../lib/format/jenkins.js');
  const { encodeDeltaList } = await import('../lib/format/deltalist.js');
  const { serializeHeader, F_HASH } = await import('../lib/format/header.js');
  // 40 keys, most with bytes ≥ 0x80 in positions where the two variants differ.
  const keys = Array.from({ length: 40 }, (_, i) => Buffer.from(`clé-${i}-日本語-${'é'.repeat(i % 7)}`));
  const triple = new Uint32Array(3);
  let differ = 0;
  for (const k of keys) {
    jenkinsHash(7, k, triple, false);
    const modern = Array.from(triple);
    jenkinsHash(7, k, triple, true);
    if (modern.some((x, i) => x !== triple[i])) differ++;
  }
  t.ok(differ > 30, `${differ} of 40 keys hash differently under the two variants`);
  const { section, slots } = await buildChd(keys.length, (seed, out) => {
    for (let i = 0; i < keys.length; i++) {
      jenkinsHash(seed, keys[i]!, triple, true);
      out.set(triple, 3 * i);
    }
  });
  // Assemble: header, hash, key table in slot order (key i holds value id i + 1), values.
  const order = new Array<number>(keys.length);
  slots.forEach((slot, i) => (order[slot] = i));
  const records = order.map((i) => {
    const list = encodeDeltaList([i + 1], false);
    return Buffer.concat([u32(keys[i]!.length), keys[i]!, u32(list.count), list.bytes]);
  });
  const values = keys.map((_, i) => Buffer.from(`v${i}`));
  const keyToc = 72 + section.length;
  const recStart = keyToc + 8 * (keys.length + 1);
  const offsets = [recStart];
  for (const r of records) offsets.push(offsets.at(-1)! + r.length);
  const valToc = offsets.at(-1)!;
  const vOffsets = [valToc + 8 * (values.length + 1)];
  for (const v of values) vOffsets.push(vOffsets.at(-1)! + v.length);
  const size = vOffsets.at(-1)! + 4;
  const u64s = (xs: number[]) => Buffer.concat(xs.map((x) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(x)); return b; }));
  const header = serializeHeader({
    size, numKeys: keys.length, numUniqueValues: values.length, numValues: keys.length, flags: F_HASH,
    key2valuesOffset: keyToc, id2valueOffset: valToc, hashOffset: 72, codebookOffset: 0,
  });
  const image = Buffer.concat([header, section, u64s(offsets), ...records, u64s(vOffsets), ...values, Buffer.alloc(4)]);
  t.equal(image.length, size);
  const db = DiscoDB.fromBuffer(image);
  keys.forEach((k, i) => t.same(db.get(k).toArray(), [`v${i}`], `legacy key ${i}`));
  t.notOk(db.has(Buffer.from('clé-absent')));
  t.same(db.check(), { keys: 40, uniqueValues: 40, values: 40, bytes: size });
});

t.test('seeks in long lists jump through the skip index and agree with a plain search', async (t) => {
  const r = rng(99);
  for (const multiset of [false, true]) {
    // One long list (with duplicates when multiset) among 5000 values.
    const ids: number[] = [];
    const records: Array<[string, string]> = [];
    for (let v = 1; v <= 5000; v++) records.push(['filler', `v${v}`]); // value ids 1..5000 in order
    for (let v = 1; v <= 5000; v++) {
      if (r() < 0.6) {
        ids.push(v);
        records.push(['long', `v${v}`]);
        if (multiset && r() < 0.2) {
          ids.push(v);
          records.push(['long', `v${v}`]);
        }
      }
    }
    const db = DiscoDB.from(records.map(([key, value]) => ({ key, value })));
    t.equal(db.isMultiset, multiset);
    const record = db.findKey(Buffer.from('long'));
    const lowerBound = (x: number, from: number): number => {
      let i = from;
      while (i < ids.length && ids[i]! < x) i++;
      return i;
    };
    for (let trial = 0; trial < 200; trial++) {
      const c = db.idCursor(record);
      let pos = 0;
      let last = 0;
      let ok = true;
      while (ok) {
        const stepNext = r() < 0.3;
        if (stepNext) {
          const got = c.next();
          const want = pos < ids.length ? ids[pos++]! : 0;
          if (got !== want) ok = t.fail(`next() gave ${got}, expected ${want}`);
          last = got;
        } else {
          const target = last + 1 + randInt(r, 1500);
          const got = c.seek(target);
          // A seek at or below the current id stays; otherwise the first id ≥ target after the current position.
          pos = lowerBound(target, Math.max(0, pos - (last >= target ? 1 : 0)));
          const want = last >= target && last !== 0 ? last : pos < ids.length ? ids[pos++]! : 0;
          if (got !== want) ok = t.fail(`seek(${target}) gave ${got}, expected ${want}`);
          last = got;
        }
        if (last === 0) break;
      }
      if (!ok) break;
    }
    t.pass(`200 random next/seek walks over a ${ids.length}-id list (multiset ${multiset})`);
    // The query engine uses the same cursors: a rare key AND the long list.
    t.same(db.query('long & ~filler').toArray(), []);
    t.equal(db.query('long').count(), new Set(ids).size);
  }
});

t.test('value lists stored past 512 MiB decode right (bit offsets beyond 2^32)', async (t) => {
  // Regression: the list decoder once took `bit >>> 3` of an absolute bit offset, which wraps
  // past 2^32 bits (512 MiB). A 600 MiB key (a sparse hole) pushes the next record past that.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ddb-512m-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const bigKey = 600 * 2 ** 20;
  const u64s = (xs: number[]) => Buffer.concat(xs.map((x) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(x)); return b; }));
  const keyToc = 72;
  const rec0 = keyToc + 8 * 3;
  const rec0Tail = Buffer.concat([u32(1), Buffer.from([0x20])]); // count 1, w=1, id 1
  const rec1 = rec0 + 4 + bigKey + rec0Tail.length;
  const rec1Bytes = Buffer.concat([u32(1), Buffer.from('x'), u32(2), Buffer.from([0x60])]); // w=1, ids 1, 2
  const valToc = rec1 + rec1Bytes.length;
  const vals = valToc + 8 * 3;
  const size = vals + 2 + 4;
  const header = Buffer.alloc(72);
  Buffer.from([0x5b, 0xde, 0x14, 0x1d, 0xe6, 0x5b, 0xd8, 0x04]).copy(header);
  header.writeBigUInt64LE(BigInt(size), 8);
  header.writeUInt32LE(2, 16);
  header.writeUInt32LE(2, 20);
  header.writeBigUInt64LE(3n, 24);
  header.writeBigUInt64LE(BigInt(keyToc), 40);
  header.writeBigUInt64LE(BigInt(valToc), 48);
  header.writeBigUInt64LE(72n, 56);
  const file = path.join(tmp, 'big-key.ddb');
  const fd = fs.openSync(file, 'w');
  const head = Buffer.concat([header, u64s([rec0, rec1, valToc]), u32(bigKey)]);
  fs.writeSync(fd, head, 0, head.length, 0);
  const tail = Buffer.concat([rec0Tail, rec1Bytes, u64s([vals, vals + 1, vals + 2]), Buffer.from('ab'), Buffer.alloc(4)]);
  fs.writeSync(fd, tail, 0, tail.length, rec0 + 4 + bigKey);
  fs.closeSync(fd);
  const db = DiscoDB.open(file);
  t.equal(db.route, 'mmap');
  t.ok(rec1 * 8 > 2 ** 32, 'the second list starts past bit 2^32');
  t.same(db.get('x').toArray(), ['a', 'b']);
  t.equal(db.query('x').count(), 2);
  t.same(db.query('x & ~x').toArray(), []);
  db.close();
});
