/**
 * DiscoDB.open(dir): a sharded directory opens through the same class as one file
 * and answers as the single db built from the same records (as sets); what only an
 * image has (value ids, the image bytes) is refused with a clear error, and views
 * of one kind of db are refused by the other instead of answering empty.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { DiscoDB, DiscoDBView, Q, buildSharded } from '../lib/index.js';

function records(): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  for (let i = 0; i < 3000; i++) out.push({ key: `k${i % 97}`, value: `v${(i * 7919) % 613}` });
  return out;
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

t.test('DiscoDB.open on a sharded directory', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-sharded-open-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const recs = records();
  const single = DiscoDB.from(recs);
  for (const partitionBy of ['value', 'key'] as const) {
    const out = path.join(dir, partitionBy);
    await buildSharded(recs, out, { shards: 3, partitionBy });
    const db = DiscoDB.open(out);
    t.ok(db instanceof DiscoDB, `${partitionBy}: a DiscoDB`);
    t.equal(db.route, 'sharded');
    t.equal(db.size, single.size, `${partitionBy}: size`);
    t.same(sorted(db.keys()), sorted(single.keys()), `${partitionBy}: keys`);
    t.same(sorted(db.uniqueValues()), sorted(single.uniqueValues()), `${partitionBy}: unique values`);
    for (const k of ['k0', 'k5', 'k96', 'absent']) {
      t.same(sorted(db.get(k)), sorted(single.get(k)), `${partitionBy}: get ${k}`);
      t.equal(db.has(k), single.has(k));
    }
    for (const q of ['k1 & k2', 'k1 | ~k3', '~k4 & ~k5', '*k6', Q.parse('k7 | k8')]) {
      t.same(sorted(db.query(q)), sorted(single.query(q)), `${partitionBy}: query ${String(q)}`);
    }
    const wanted = ['v1', 'v2', 'v3', 'nope'];
    const view = db.makeView(wanted);
    t.equal(view.size, single.makeView(wanted).size, `${partitionBy}: view size`);
    t.same(sorted(db.query('k1 | k2 | k3', { view })), sorted(single.query('k1 | k2 | k3', { view: single.makeView(wanted) })), `${partitionBy}: query in a view`);
    t.throws(() => single.query('k1', { view }), { code: 'ERR_DISCODB_ARGUMENT' }, 'a sharded view is refused by a file db');
    t.throws(() => db.query('k1', { view: single.makeView(wanted) }), { code: 'ERR_DISCODB_ARGUMENT' }, 'a file view is refused by a sharded db');
    t.ok(single.makeView(wanted) instanceof DiscoDBView);
    t.throws(() => db.valueById(1), { code: 'ERR_DISCODB_ARGUMENT', path: out });
    t.throws(() => db.toBuffer(), { code: 'ERR_DISCODB_ARGUMENT' });
    await t.rejects(db.dump(path.join(dir, 'x.ddb')), { code: 'ERR_DISCODB_ARGUMENT' });
    t.equal(db.info().numKeys, single.size);
    t.equal(db.check().keys, single.size, `${partitionBy}: check`);
    db.close();
    t.ok(db.isClosed);
    t.throws(() => db.get('k0').toArray(), { code: 'ERR_DISCODB_CLOSED' });
  }
  const empty = path.join(dir, 'not-sharded');
  fs.mkdirSync(empty);
  t.throws(() => DiscoDB.open(empty), { name: 'DiscoDBError' }, 'a directory without a manifest is refused');
});
