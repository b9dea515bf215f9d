/**
 * The in-memory lookup tables of issue 8 (built after `tablesAfter(n)`
 * lookups): the flat perfect hash (decoded displacements, empty-bin bitmap),
 * the key TOC copy and the value TOC copy. They must give the same answers as
 * the image itself on every corpus case and route, and the same errors on
 * corrupt entries; the flat hash must never give an answer the packed one
 * does not, even on mutated hash sections.
 */
import t from 'tap';
import * as fs from 'node:fs';
import { DiscoDB } from '../lib/index.js';
import { ChdHash } from '../lib/format/chd.js';
import { parseHeader } from '../lib/format/header.js';
import { tablesAfter } from '../lib/reader/keys.js';
import { MemorySource } from '../lib/reader/source.js';
import { NO_ENTRY, TocCopy } from '../lib/reader/toc.js';
import { corpusCases, fromExpected, toExpected, type CorpusCase } from './helpers/corpus.js';
import { rng as prng } from './helpers/random.js';

const cases = corpusCases();

function routes(c: CorpusCase): DiscoDB<Buffer>[] {
  return [
    DiscoDB.open(c.dbPath, { encoding: 'buffer' }),
    DiscoDB.open(c.dbPath, { encoding: 'buffer', mmap: false }),
    DiscoDB.fromBuffer(fs.readFileSync(c.dbPath), { encoding: 'buffer' }),
  ];
}

t.test('every corpus case on every route answers the same before and after the tables are built', async (t) => {
  for (const c of cases) {
    const items: Array<[string, string[]]> = c.expected.items ?? [];
    const want = JSON.stringify(items.map(([k, vs]) => [k, vs, vs.length, vs[0] ?? null, true]));
    const keys = items.map(([k]) => fromExpected(c, k));
    // Absent probes: neighbours of stored keys and keys no db here holds, so some land in empty bins.
    const absent: Buffer[] = [];
    for (let i = 0; i < 40; i++) absent.push(Buffer.concat([keys[i % Math.max(1, keys.length)] ?? Buffer.alloc(0), Buffer.from([0, i])]));
    for (let i = 0; i < 40; i++) absent.push(Buffer.from(`absent-probe-${i}-é`));
    for (const db of routes(c)) {
      // Enough passes that the tables are built during the first and used in the later ones.
      const valuesPerPass = 2 * items.reduce((n, [, vs]) => n + vs.length, 0) + 1;
      const passes = 1 + Math.max(Math.ceil(tablesAfter(db.size) / (keys.length * 4 + absent.length)), Math.ceil(tablesAfter(db.numUniqueValues) / valuesPerPass)) + 1;
      for (let pass = 0; pass < passes; pass++) {
        const got = JSON.stringify(
          keys.map((k, i) => {
            const vs = db.get(k).toArray().map((v) => toExpected(c, v));
            const first = db.peek(k, null);
            return [items[i]![0], vs, db.get(k).count(), first === null ? null : toExpected(c, first), db.has(k)];
          }),
        );
        t.equal(got, want, `${c.name} on ${db.route}, pass ${pass}: the C library's items`);
        const found = absent.filter((k) => db.has(k) || db.get(k).count() !== 0 || db.peek(k, null) !== null);
        t.same(found, [], `${c.name} on ${db.route}, pass ${pass}: absent keys stay absent`);
      }
      db.close();
    }
  }
});

/** A db of `n` keys (one value each, two for every 5th key), uncompressed, as an image. */
function image(n: number): { image: Buffer; keys: string[] } {
  const keys = Array.from({ length: n }, (_, i) => `key-${i}-${'é'.repeat(i % 3)}`);
  const db = DiscoDB.from(
    keys.map((key, i) => ({ key, values: i % 5 === 0 ? [`v${i}`, `w${i}`] : [`v${i}`] })),
    { disableCompression: true },
  );
  return { image: Buffer.from(db.toBuffer()), keys };
}

t.test('a corrupt key TOC entry gives the same error with and without the key TOC copy', async (t) => {
  const { image: good, keys } = image(300);
  const order = DiscoDB.fromBuffer(good).keys().toArray();
  const victim = order[5]!;
  for (const hi of [false, true]) {
    const bad = Buffer.from(good);
    const toc = Number(bad.readBigUInt64LE(40));
    const at = toc + 8 * 6; // end of record 5 = start of record 6
    if (hi) bad.writeUInt32LE(1, at + 4); // an entry of 2^32 or more: stored in the copy as "does not fit"
    else bad.writeBigUInt64LE(bad.readBigUInt64LE(toc + 8 * 5) + 3n, at); // shorter than a record can be
    const message = /key record 5 has an invalid extent/;
    const fresh = DiscoDB.fromBuffer(bad);
    t.throws(() => fresh.get(victim), { code: 'ERR_DISCODB_CORRUPT', message }, 'before the tables');
    const db = DiscoDB.fromBuffer(bad);
    for (let i = 0; i < tablesAfter(keys.length) + 10; i++) {
      const k = keys[(i * 7) % keys.length]!;
      if (k !== victim && order.indexOf(k) !== 6) t.equal(db.get(k).first(), `v${keys.indexOf(k)}`);
    }
    t.throws(() => db.get(victim), { code: 'ERR_DISCODB_CORRUPT', message }, `after the tables (${hi ? 'high word set' : 'short extent'})`);
    t.throws(() => db.has(victim), { code: 'ERR_DISCODB_CORRUPT', message });
    t.equal(db.get(keys[1]!).first(), 'v1', 'other records still read');
  }
});

t.test('a corrupt value TOC entry gives the same error with and without the value TOC copy', async (t) => {
  const { image: good, keys } = image(300);
  const bad = Buffer.from(good);
  const valToc = Number(bad.readBigUInt64LE(48));
  const victimId = 17;
  bad.writeUInt32LE(7, valToc + 8 * victimId + 4); // the end of value 17 past 2^32
  const ref = DiscoDB.fromBuffer(good);
  const victim = ref.valueById(victimId);
  const next = ref.valueById(victimId + 1); // that entry is also where value 18 starts
  const owners = keys.filter((k) => ref.get(k).toArray().some((v) => v === victim || v === next));
  t.ok(owners.length > 0);
  const message = new RegExp(`value ${victimId} has an invalid extent`);
  const db = DiscoDB.fromBuffer(bad);
  const victimKey = keys.find((k) => ref.get(k).first() === victim)!;
  t.throws(() => db.get(victimKey).toArray(), { code: 'ERR_DISCODB_CORRUPT', message }, 'before the tables');
  let read = 0;
  for (let pass = 0; pass < 3; pass++) {
    for (const k of keys) {
      if (owners.includes(k)) continue;
      read += db.get(k).toArray().length;
    }
  }
  t.ok(read > tablesAfter(db.numUniqueValues), 'enough values read to build the value TOC copy');
  t.throws(() => db.get(victimKey).toArray(), { code: 'ERR_DISCODB_CORRUPT', message }, 'after the tables');
  t.throws(() => db.valueById(victimId), { code: 'ERR_DISCODB_CORRUPT', message });
  t.same(db.get(keys[3]!).toArray(), ['v3']);
});

/** The hash sections to compare: every hashed corpus case and a writer-built db of 5 000 keys. */
function hashSections(): Array<{ name: string; buf: Buffer; keys: Buffer[] }> {
  const out: Array<{ name: string; buf: Buffer; keys: Buffer[] }> = [];
  for (const c of cases) {
    const buf = fs.readFileSync(c.dbPath);
    const items: Array<[string, string[]]> = c.expected.items ?? [];
    if (buf.length >= 72 && (buf.readUInt32LE(32) & 1) !== 0) out.push({ name: c.name, buf, keys: items.map(([k]) => fromExpected(c, k)) });
  }
  const keys = Array.from({ length: 5000 }, (_, i) => Buffer.from(`k${i.toString(36)}`));
  out.push({ name: 'writer 5000 keys', buf: Buffer.from(DiscoDB.from(keys.map((key) => ({ key, values: ['x'] }))).toBuffer()), keys });
  return out;
}

function chdOf(buf: Buffer): ChdHash {
  const h = parseHeader(new DataView(buf.buffer, buf.byteOffset, Math.min(buf.length, 72)), buf.length);
  return new ChdHash(buf, h.hashOffset, h.size);
}

t.test('the flat perfect hash gives the packed answers (or "absent" for an empty bin)', async (t) => {
  const rand = prng(7);
  for (const s of hashSections()) {
    const packed = chdOf(s.buf);
    const flat = chdOf(s.buf);
    t.ok(flat.flatten(Infinity), `${s.name}: flattened`);
    t.notOk(chdOf(s.buf).flatten(16), `${s.name}: not over the memory bound`);
    const seen = new Set<number>();
    for (const k of s.keys) {
      const i = packed.lookup(k);
      t.equal(flat.lookup(k), i);
      seen.add(i);
    }
    t.equal(seen.size, s.keys.length, `${s.name}: a perfect hash`);
    let empties = 0;
    for (let j = 0; j < 3000; j++) {
      const probe = Buffer.from(`probe-${Math.floor(rand() * 1e9)}`);
      const f = flat.lookup(probe);
      if (f === -1) empties++;
      else if (f !== packed.lookup(probe)) t.fail(`${s.name}: flat ${f} for ${probe}, packed ${packed.lookup(probe)}`);
    }
    t.ok(empties > 0, `${s.name}: some absent probes land in empty bins (${empties} of 3000)`);
  }
});

t.test('mutated hash sections: the flat hash refuses what is not well-formed and never answers differently', async (t) => {
  const rand = prng(11);
  let flattened = 0;
  let refused = 0;
  for (const s of hashSections()) {
    const h = parseHeader(new DataView(s.buf.buffer, s.buf.byteOffset, 72), s.buf.length);
    const sectionLen = h.key2valuesOffset - h.hashOffset;
    const probes = [...s.keys, ...Array.from({ length: 200 }, (_, j) => Buffer.from(`absent-${j}`))];
    for (let m = 0; m < 60; m++) {
      const buf = Buffer.from(s.buf);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) {
        const at = h.hashOffset + 12 + Math.floor(rand() * (sectionLen - 12));
        buf[at]! ^= 1 << Math.floor(rand() * 8);
      }
      let packed: ChdHash;
      let flat: ChdHash;
      try {
        packed = chdOf(buf);
        flat = chdOf(buf);
      } catch (err) {
        t.equal((err as { code?: string }).code, 'ERR_DISCODB_CORRUPT');
        continue;
      }
      if (flat.flatten(Infinity)) flattened++;
      else refused++;
      let differ = 0;
      for (const p of probes) {
        const f = flat.lookup(p);
        if (f !== -1 && f !== packed.lookup(p)) differ++;
      }
      t.equal(differ, 0, `${s.name}, mutation ${m}`);
    }
  }
  t.ok(flattened > 0 && refused > 0, `both outcomes seen (${flattened} flattened, ${refused} refused)`);
});

t.test('TOC copies: 2-byte deltas, groups that do not fit, and the 4-byte form', async (t) => {
  const entries = (values: number[]): MemorySource => {
    const b = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
    return new MemorySource(b, 'buffer');
  };
  // 4096 ascending entries (64 groups), a jump of 70 000 inside group 2, an entry past 2^32 in group 4.
  const vals = Array.from({ length: 4096 }, (_, i) => 1000 + 17 * i + (i >= 150 ? 70_000 : 0) + (i === 260 ? 2 ** 33 : 0));
  const copy = TocCopy.copy(entries(vals), 0, vals.length);
  t.ok(copy.bytes < 4 * vals.length, 'the compact form');
  for (let i = 0; i < vals.length; i++) {
    const group = i >>> 6;
    const want = group === 2 || group === 4 ? NO_ENTRY : vals[i];
    if (copy.at(i) !== want) t.fail(`entry ${i}: ${copy.at(i)}, want ${want}`);
  }
  // Spans of 64 KiB or more in most groups: every entry in 4 bytes, only the one past 2^32 unrepresented.
  const wide = Array.from({ length: 300 }, (_, i) => 5000 * i + (i === 7 ? 2 ** 40 : 0));
  const full = TocCopy.copy(entries(wide), 0, wide.length);
  t.equal(full.bytes, 4 * wide.length, 'the u32 form');
  for (let i = 0; i < wide.length; i++) if (full.at(i) !== (i === 7 ? NO_ENTRY : wide[i])) t.fail(`wide entry ${i}`);
  t.pass('all entries checked');
});

t.test('large keys and values (4-byte TOC copies) answer the same after the tables', async (t) => {
  const pairs = Array.from({ length: 120 }, (_, i) => ({ key: `${'k'.repeat(1500)}${i}`, values: [`${'v'.repeat(2000)}${i}`, `w${i}`] }));
  const db = DiscoDB.fromBuffer(DiscoDB.from(pairs, { disableCompression: true }).toBuffer());
  for (let pass = 0; pass < 4; pass++) {
    for (const p of pairs) {
      if (!db.has(p.key)) t.fail(`pass ${pass}: ${p.key.slice(-4)} missing`);
      const got = new Set(db.get(p.key).toArray());
      if (got.size !== 2 || !p.values.every((v) => got.has(v))) t.fail(`pass ${pass}: values of ${p.key.slice(-4)}`);
    }
    t.notOk(db.has('k'.repeat(1500)), `pass ${pass}: a prefix is absent`);
  }
});

t.test('the value prefetch is a hint only: values are read from the image each time', async (t) => {
  const { image: img, keys } = image(400);
  const db = DiscoDB.fromBuffer(img);
  for (let pass = 0; pass < 3; pass++) for (const k of keys) db.get(k).first();
  // Rewrite the bytes of key 10's first value in the caller's buffer (same length): the next get sees them.
  const old = 'v10';
  const at = img.indexOf(Buffer.from(old), Number(img.readBigUInt64LE(48)));
  t.ok(at > 0);
  img.write('x10', at);
  t.equal(db.get(keys[10]!).first(), 'x10');
  t.equal(db.peek(keys[10]!), 'x10');
  t.same(db.get(keys[11]!).toArray(), ['v11']);
});

t.test('the key fingerprint table: a record that does not read gives the same error before and after, on every route', async (t) => {
  const { image: good, keys } = image(300);
  const order = DiscoDB.fromBuffer(good).keys().toArray();
  const victim = order[5]!;
  const bad = Buffer.from(good);
  const toc = Number(bad.readBigUInt64LE(40));
  const start = Number(bad.readBigUInt64LE(toc + 8 * 5));
  bad.writeUInt32LE(1_000_000, start); // record 5's key length overruns the record
  // Absent keys that land on record 5 (or anywhere else): each must throw or answer exactly as before the tables.
  const chd = chdOf(bad);
  const onVictim: Buffer[] = [];
  for (let j = 0; onVictim.length < 6 && j < 200_000; j++) {
    const probe = Buffer.from(`absent-${j}`);
    if (chd.lookup(probe) === 5) onVictim.push(probe);
  }
  t.equal(onVictim.length, 6, 'absent probes landing on the corrupt record');
  const message = /key record 5: key length 1000000 overruns the record/;
  const file = t.testdir({ 'bad.ddb': bad });
  const dbs = [DiscoDB.fromBuffer(bad), DiscoDB.open(`${file}/bad.ddb`), DiscoDB.open(`${file}/bad.ddb`, { mmap: false })];
  for (const db of dbs) {
    const phase = (when: string): void => {
      t.throws(() => db.has(victim), { code: 'ERR_DISCODB_CORRUPT', message }, `${db.route} ${when}: the victim`);
      for (const p of onVictim) t.throws(() => db.has(p), { code: 'ERR_DISCODB_CORRUPT', message }, `${db.route} ${when}: an absent key on it`);
    };
    phase('before the tables');
    for (let i = 0; i < tablesAfter(keys.length) + 10; i++) {
      const k = keys[(i * 7) % keys.length]!;
      if (k !== victim && db.get(k).first() !== `v${keys.indexOf(k)}`) t.fail(`${k}`);
    }
    phase('after the tables');
    t.equal(db.get(keys[1]!).first(), 'v1', 'other records still read');
    db.close();
  }
});

t.test('the key fingerprint table never turns a stored key away, and absent keys stay absent (random model)', async (t) => {
  const rand = prng(23);
  const stored = new Set<string>();
  while (stored.size < 3000) stored.add(`k${Math.floor(rand() * 1e6)}-${'ü'.repeat(Math.floor(rand() * 3))}`);
  const keys = [...stored];
  const img = Buffer.from(DiscoDB.from(keys.map((key) => ({ key, values: [key.length.toString()] }))).toBuffer());
  const probes = Array.from({ length: 6000 }, (_, i) => (i % 2 === 0 ? keys[Math.floor(rand() * keys.length)]! : `k${Math.floor(rand() * 1e6)}-`));
  const db = DiscoDB.fromBuffer(img);
  for (let pass = 0; pass < 3; pass++) {
    let wrong = 0;
    for (const p of probes) if (db.has(p) !== stored.has(p) || db.get(p).count() !== (stored.has(p) ? 1 : 0)) wrong++;
    t.equal(wrong, 0, `pass ${pass} (tables built during pass 0)`);
  }
});
