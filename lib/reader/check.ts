/**
 * A full structural walk of an image (`db.check()`): everything the lazy
 * reader checks on access, done for every record and value, plus global
 * consistency (counts, flags, the perfect hash).
 */
import { corrupt } from '../errors.js';
import { F_MULTISET } from '../format/header.js';
import type { CheckReport, DiscoDB } from './discodb.js';

export function checkImage(db: DiscoDB<any>): CheckReport {
  const h = db.header;
  const src = db.src;
  const n = h.numKeys;
  const u = h.numUniqueValues;
  let items = 0;
  let sawDuplicate = false;
  let prevEnd = h.key2valuesOffset + 8 * (n + 1);
  for (let i = 0; i < n; i++) {
    const [start, end] = db.recordRange(i);
    if (start !== prevEnd) throw corrupt(`key record ${i} starts at ${start}, expected ${prevEnd}`, h.key2valuesOffset + 8 * i);
    const key = db.keyBytes(i);
    const count = db.listCount(i);
    const cursor = db.idCursor(i);
    let prev = 0;
    let seen = 0;
    for (let id = cursor.next(); id !== 0; id = cursor.next()) {
      if (id > u) throw corrupt(`key record ${i} refers to value id ${id}, but there are only ${u} values`, start);
      if (id === prev) sawDuplicate = true;
      prev = id;
      seen++;
    }
    if (seen !== count) throw corrupt(`key record ${i} decodes ${seen} ids, its count says ${count}`, start + 4 + key.length);
    const streamBytes = count === 0 ? 0 : Math.ceil((5 + count * ((src.bytes(start + 8 + key.length, 1)[0]! & 31) + 1)) / 8);
    if (end !== start + 8 + key.length + streamBytes) {
      throw corrupt(`key record ${i} is ${end - start} bytes, its contents need ${8 + key.length + streamBytes}`, start);
    }
    if (db.findKey(key) !== i) throw corrupt(`key record ${i} cannot be found by its own key (hash or duplicate key)`, start);
    items += count;
    prevEnd = end;
  }
  if (src.u64(h.key2valuesOffset + 8 * n) !== prevEnd) throw corrupt('key table end entry is wrong', h.key2valuesOffset + 8 * n);
  if (items !== h.numValues) throw corrupt(`records hold ${items} value ids, the header says ${h.numValues}`, 24);
  if (sawDuplicate && !(h.flags & F_MULTISET)) throw corrupt('a key holds a value twice but the multiset flag is clear', 32);
  for (let id = 1; id <= u; id++) db.valueBytes(id);
  const valuesEnd = src.u64(h.id2valueOffset + 8 * u);
  if (valuesEnd + 4 > h.size) throw corrupt('the 4-byte trailer after the values is missing', valuesEnd);
  return { keys: n, uniqueValues: u, values: items, bytes: h.size };
}
