/**
 * The reader's fast path for short compressed values (lib/reader/inflate.ts)
 * against the format's decoder (`Codebook.decodeInto`): on every value of
 * every compressed corpus case and of writer-built dbs (ASCII, non-ASCII,
 * long values that go to the format decoder), and on mutated value bytes,
 * where it must give the same value or defer (-1) — so the reader gives the
 * same answers and the same errors as with the format decoder alone.
 */
import t from 'tap';
import * as fs from 'node:fs';
import { DiscoDB } from '../lib/index.js';
import { Codebook } from '../lib/format/huffman.js';
import { F_COMPRESSED, parseHeader } from '../lib/format/header.js';
import { SHORT_COMPRESSED_MAX, ShortInflater } from '../lib/reader/inflate.js';
import { corpusCases } from './helpers/corpus.js';
import { rng } from './helpers/random.js';

interface Image {
  name: string;
  image: Buffer;
}

function header(image: Buffer): ReturnType<typeof parseHeader> {
  return parseHeader(new DataView(image.buffer, image.byteOffset, image.byteLength), image.length);
}

/** Extents [start, end) of values 1..U from the value TOC. */
function extents(image: Buffer): Array<[number, number]> {
  const h = header(image);
  const out: Array<[number, number]> = [];
  for (let id = 1; id <= h.numUniqueValues; id++) {
    const at = h.id2valueOffset + 8 * (id - 1);
    out.push([Number(image.readBigUInt64LE(at)), Number(image.readBigUInt64LE(at + 8))]);
  }
  return out;
}

/** What the format decoder makes of `buf[start, end)`: the bytes, or the error message. */
function formatDecode(cb: Codebook, buf: Uint8Array, start: number, end: number): Buffer | string {
  try {
    const n = cb.decodeInto(buf, start, end);
    return Buffer.from(cb.out.subarray(0, n));
  } catch (err) {
    return (err as Error).message;
  }
}

const images: Image[] = [];
for (const c of corpusCases()) {
  const image = fs.readFileSync(c.dbPath);
  if (image.length >= 64 && header(image).flags & F_COMPRESSED) images.push({ name: c.name, image });
}
{
  // The writer compresses from 5 MiB of distinct values on: 40 000 keys of five distinct values each.
  const r = rng(8);
  const word = (n: number): string => Array.from({ length: n }, () => 'abcdefghij-0123456789'[Math.floor(r() * 21)]).join('');
  const records = Array.from({ length: 40_000 }, (_, i) => ({
    key: `k${i}`,
    values: [
      `value-${String(i).padStart(10, '0')}`,
      `${i}:${word(1 + (i % 40))}`,
      i % 3 === 0 ? `é${i}${word(i % 20)}ü` : `${word(12)}${i}`,
      i % 7 === 0 ? `${i}${word(200 + (i % 300))}` : `${i}-${word(30)}`,
      `${i}${String.fromCharCode(...Array.from({ length: 1 + (i % 30) }, () => 32 + Math.floor(r() * 95)))}`,
    ],
  }));
  const image = Buffer.from(DiscoDB.from(records).toBuffer());
  if (!(header(image).flags & F_COMPRESSED)) throw new Error('the writer-built db should be compressed');
  images.push({ name: 'writer-built, mixed values', image });
}

/** The format's decoder and the fast path, both from `image`'s codebook. */
function decoders(image: Buffer): { cb: Codebook; short: ShortInflater } {
  const at = header(image).codebookOffset;
  return { cb: new Codebook(image, at), short: ShortInflater.fromCodebook(image, at) };
}

t.test('the fast path decodes every value as the format decoder does, or defers', async (t) => {
  let fast = 0;
  let deferred = 0;
  for (const { name, image } of images) {
    const { cb, short } = decoders(image);
    let bad = 0;
    for (const [start, end] of extents(image)) {
      const want = formatDecode(cb, image, start, end);
      const n = short.decode(image, start, end);
      if (n < 0) {
        deferred++; // a long value or a code of more than 11 bits
        continue;
      }
      fast++;
      const got = Buffer.from(short.out.subarray(0, n));
      if (typeof want === 'string' || !got.equals(want) || short.text(n) !== want.toString('utf8')) bad++;
    }
    t.equal(bad, 0, `${name}: the same values`);
  }
  t.ok(fast > 1000, `many values take the fast path (${fast})`);
  t.ok(deferred > 0, `long values go to the format decoder (${deferred})`);
});

t.test('mutated value bytes: the fast path gives the format decoder’s value or defers (and defers on every error)', async (t) => {
  const r = rng(81);
  let mismatches = 0;
  let errors = 0;
  let checked = 0;
  for (const { name, image } of images) {
    const { cb, short } = decoders(image);
    const spans = extents(image).filter(([s, e]) => e > s && e - s <= SHORT_COMPRESSED_MAX);
    for (let k = 0; k < 3000 && spans.length > 0; k++) {
      const [s0, e0] = spans[Math.floor(r() * spans.length)]!;
      // Mutate one to three bytes, and sometimes the length, of a copy of the value.
      const len = Math.max(1, Math.min(SHORT_COMPRESSED_MAX, e0 - s0 + (r() < 0.2 ? Math.floor(r() * 5) - 2 : 0)));
      const buf = Buffer.alloc(len + 4, 0xff); // bytes past the end must read as zero, never as these
      image.copy(buf, 0, s0, Math.min(e0, s0 + len));
      for (let m = 1 + Math.floor(r() * 3); m > 0; m--) {
        const at = Math.floor(r() * len);
        buf[at] = buf[at]! ^ (1 << Math.floor(r() * 8));
      }
      const want = formatDecode(cb, buf, 0, len);
      const n = short.decode(buf, 0, len);
      checked++;
      if (typeof want === 'string') {
        errors++;
        if (n >= 0) mismatches++;
      } else if (n >= 0 && !Buffer.from(short.out.subarray(0, n)).equals(want)) mismatches++;
    }
    t.equal(mismatches, 0, `${name}: no answer differs from the format decoder's`);
  }
  t.ok(errors > 0 && checked > errors, `both valid and corrupt mutations were met (${errors} of ${checked} corrupt)`);
});

t.test('a corrupt short value gives the format decoder’s error through get() on every route', async (t) => {
  const good = images[images.length - 1]!.image;
  const db0 = DiscoDB.fromBuffer(good);
  const first = db0.uniqueValues().first()!; // value id 1, the one corrupted
  const [start, end] = extents(good)[0]!;
  t.ok(end - start <= SHORT_COMPRESSED_MAX, 'value 1 is short');
  const bad = Buffer.from(good);
  bad[start] = (bad[start]! & ~7) | 7; // a 7-bit pad: the value's last token now runs past its end
  const h = header(bad);
  const want = formatDecode(new Codebook(bad, h.codebookOffset), bad, start, end);
  t.type(want, 'string', `the format decoder rejects it (${String(want)})`);
  const victim = db0.items().toArray().find(([, vs]) => vs.toArray().includes(first))![0];
  const other = 'k12345';
  const otherValues = db0.get(other).toArray();
  t.notOk(otherValues.includes(first), 'the other key does not hold value 1');
  const file = t.testdir({}) + '/bad.ddb';
  fs.writeFileSync(file, bad);
  for (const db of [DiscoDB.fromBuffer(bad), DiscoDB.open(file), DiscoDB.open(file, { mmap: false })]) {
    t.throws(() => db.get(victim).toArray(), { code: 'ERR_DISCODB_CORRUPT', message: want as string }, `${db.route}: get gives the same error`);
    t.same(db.get(other).toArray(), otherValues, `${db.route}: the other key's values still read`);
    db.close();
  }
  const asBuffer = DiscoDB.open(file, { mmap: false, encoding: 'buffer' });
  t.throws(() => asBuffer.get(victim).toArray(), { code: 'ERR_DISCODB_CORRUPT', message: want as string }, 'pread, buffer encoding: the same error');
  t.same(asBuffer.get(other).toArray().map(String), otherValues, 'pread, buffer encoding: the other key reads');
  asBuffer.close();
});
