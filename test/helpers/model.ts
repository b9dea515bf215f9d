/** Checking a built file against a simple in-memory model: key → its values (in any order). */
import { DiscoDB } from '../../lib/discodb.js';
import type { TapTest } from './tap.js';

/** Opens `file` and checks that it holds exactly the model's keys, each with the model's values (as a multiset). */
export function checkAgainstModel(tt: TapTest, file: string, model: Map<string, string[]>, label: string): void {
  const db = DiscoDB.open(file);
  tt.equal(db.size, model.size, `${label}: keys`);
  let bad = 0;
  for (const [key, want] of model) {
    const got = [...db.get(key)].map((v) => v.toString()).sort();
    if (got.join('\0') !== [...want].sort().join('\0')) bad++;
  }
  tt.equal(bad, 0, `${label}: every key's values as in the model`);
  db.close();
}
