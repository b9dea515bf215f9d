/**
 * The record locator remembers the record it last validated (a `get` locates
 * it for the key compare, then again for its list): interleaved lookups,
 * counts and iterations over different records, before and after the lookup
 * tables are built, on every route, must each see their own record; a
 * closed db must not answer from the remembered record.
 */
import t from 'tap';
import * as fs from 'node:fs';
import { DiscoDB } from '../lib/index.js';
import { tablesAfter } from '../lib/reader/keys.js';

const N = 400;
const keyOf = (i: number): string => `key-${i}${i % 5 === 0 ? 'é' : ''}`;
const valuesOf = (i: number): string[] => Array.from({ length: 1 + (i % 4) }, (_, j) => `v${i}-${j}`);

t.test('interleaved lookups and iterations over different records each read their own record', async (t) => {
  const built = DiscoDB.from(Array.from({ length: N }, (_, i) => ({ key: keyOf(i), values: valuesOf(i) })));
  const file = t.testdir({}) + '/db.ddb';
  fs.writeFileSync(file, built.toBuffer());
  for (const db of [DiscoDB.open(file), DiscoDB.open(file, { mmap: false }), DiscoDB.fromBuffer(fs.readFileSync(file))]) {
    let wrong = 0;
    // Enough rounds that the lookup tables are built during the first and used after.
    for (let round = 0; round < 2 + Math.ceil(tablesAfter(N) / N); round++) {
      for (let i = 0; i < N; i++) {
        const j = (i * 7 + 3) % N;
        const a = db.get(keyOf(i));
        const it = a[Symbol.iterator]();
        const first = it.next();
        // Other records located between the steps of this iteration.
        if (db.get(keyOf(j)).count() !== valuesOf(j).length) wrong++;
        if (db.peek(keyOf(j)) !== valuesOf(j)[0]) wrong++;
        if (db.has(`absent-${i}`)) wrong++;
        const rest: string[] = [];
        for (let r = it.next(); !r.done; r = it.next()) {
          rest.push(r.value);
          if (!db.has(keyOf(j))) wrong++;
        }
        if (JSON.stringify([first.value, ...rest]) !== JSON.stringify(valuesOf(i))) wrong++;
        if (a.count() !== valuesOf(i).length) wrong++;
      }
    }
    t.equal(wrong, 0, `${db.route}: every answer is its own record's`);
    const k = keyOf(1);
    t.equal(db.get(k).count(), valuesOf(1).length, `${db.route}: record located`);
    db.close();
    t.throws(() => db.get(k), { code: 'ERR_DISCODB_CLOSED' }, `${db.route}: closed, even for the record last located`);
  }
});
