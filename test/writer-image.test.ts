/**
 * The spilled path's permutation of the key records into slot order (image.ts,
 * writeInSlotOrder) with the test hooks' 512-byte window: partitions read whole or,
 * beyond their 128-byte stage, streamed; partitions larger than the window (placed in
 * several windows); records larger than the window (copied from the records file).
 * Reference: the in-memory build of the same records, byte for byte.
 */
// Before any worker thread starts: they copy the environment.
process.env['DISCODB_TEST_EXTERNAL'] = '1';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { DiscoDB } from '../lib/discodb.js';
import { buildBuffer, buildFile } from '../lib/writer/index.js';
import { randBetween, randInt, rng } from './helpers/random.js';

t.test('spilled image, skewed record sizes through a 512-byte window: the in-memory image, byte for byte', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-wimage-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const r = rng(9009);
  for (let round = 0; round < 2; round++) {
    const recs: { key: string; value?: string }[] = [];
    const model = new Map<string, Set<string>>();
    const nk = randBetween(r, 1500, 3000);
    for (let k = 0; k < nk; k++) {
      const key = `key${k}`;
      const kind = randInt(r, 100);
      // Mostly small records; a quarter of 100–500 bytes (partitions larger than the
      // window); a few larger than the window.
      const n = kind < 70 ? randInt(r, 4) : kind < 95 ? randBetween(r, 60, 300) : randBetween(r, 500, 900);
      if (n === 0) recs.push({ key });
      const vs = new Set<string>();
      for (let i = 0; i < n; i++) {
        const value = `v${randInt(r, 30000)}`;
        recs.push({ key, value });
        vs.add(value);
      }
      model.set(key, vs);
    }
    // Shuffled, so that runs mix keys.
    for (let i = recs.length - 1; i > 0; i--) {
      const j = randInt(r, i + 1);
      [recs[i], recs[j]] = [recs[j]!, recs[i]!];
    }
    const expected = buildBuffer(recs, { uniqueItems: true });
    const threads = round % 2;
    const out = path.join(dir, `r${round}.ddb`);
    await buildFile(recs, out, { uniqueItems: true, threads, memoryLimit: randBetween(r, 40000, 120000), tmpDir: tmp });
    tt.ok(fs.readFileSync(out).equals(expected), `round ${round} (threads ${threads}): same bytes as the in-memory image`);
    const db = DiscoDB.open(out);
    tt.equal(db.size, model.size, `round ${round}: key count`);
    let bad = 0;
    for (const [k, vs] of model) {
      const got = db.get(k).toArray().map((b) => Buffer.from(b).toString()).sort();
      if (JSON.stringify(got) !== JSON.stringify([...vs].sort())) bad++;
    }
    tt.equal(bad, 0, `round ${round}: every key's values`);
    db.close();
    fs.rmSync(out);
  }
  tt.same(fs.readdirSync(tmp), [], 'no temporary files left');
});
