/**
 * A full structural walk of an image (`db.check()`): everything the lazy
 * reader checks on access, done for every record and value, plus global
 * consistency (flags against sections, counts, the perfect hash) and, for a
 * file, that it was not changed in place since it was opened.
 */
import * as fs from 'node:fs';
import { DiscoDBError, corrupt } from '../errors.js';
import { F_COMPRESSED, F_HASH, F_MULTISET } from '../format/header.js';
import type { ImageReader } from './reader.js';
import { PreadSource } from './source.js';
import type { CheckReport } from './types.js';

/** Every flag bit the format defines (spec §2). */
const KNOWN_FLAGS = F_HASH | F_MULTISET | F_COMPRESSED;

export function checkImage(db: ImageReader<string | Buffer>): CheckReport {
  checkFile(db);
  const h = db.header;
  const src = db.src;
  const flagsLo = src.u32(32);
  const flagsHi = src.u32(36);
  if (flagsHi !== 0 || (flagsLo & ~KNOWN_FLAGS) !== 0) {
    throw corrupt(`unknown flag bits set (flags 0x${(flagsHi * 2 ** 32 + flagsLo).toString(16)}; only 0x1, 0x2 and 0x4 exist)`, 32);
  }
  // A codebook offset means compressed: with the flag cleared, values would come back as raw Huffman bytes.
  if (!(h.flags & F_COMPRESSED) && h.codebookOffset !== 0) {
    throw corrupt(`a codebook offset (${h.codebookOffset}) is set but the compressed flag is clear`, 64);
  }
  const records = db.records;
  const n = h.numKeys;
  const u = h.numUniqueValues;
  let items = 0;
  let sawDuplicate = false;
  let prevEnd = h.key2valuesOffset + 8 * (n + 1);
  for (let i = 0; i < n; i++) {
    records.locate(i);
    const start = records.start;
    const end = records.end;
    const keyLength = records.keyLength;
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
    if (seen !== count) throw corrupt(`key record ${i} decodes ${seen} ids, its count says ${count}`, start + 4 + keyLength);
    const streamBytes = count === 0 ? 0 : Math.ceil((5 + count * ((src.u8(start + 8 + keyLength) & 31) + 1)) / 8);
    if (end !== start + 8 + keyLength + streamBytes) {
      throw corrupt(`key record ${i} is ${end - start} bytes, its contents need ${8 + keyLength + streamBytes}`, start);
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

/**
 * The file must still be the one opened: same size and mtime when it is the
 * same inode (a rename over it leaves our image intact), and long enough for
 * the header's size. Checked before any page is touched, so a truncated
 * mapping gives an error instead of SIGBUS.
 */
function checkFile(db: ImageReader<string | Buffer>): void {
  const src = db.src;
  const file = src.file;
  if (file === null) return;
  let st: fs.Stats;
  try {
    st = src instanceof PreadSource && src.descriptor >= 0 ? fs.fstatSync(src.descriptor) : fs.statSync(file.path);
  } catch (err) {
    if (src.kind === 'mmap') return; // the file is gone (unlinked): the mapping still holds the image
    const e = err as NodeJS.ErrnoException;
    throw new DiscoDBError('ERR_DISCODB_IO', `cannot stat ${file.path}: ${e.code ?? e.message}`, { path: file.path, cause: err });
  }
  if (st.dev !== file.dev || st.ino !== file.ino) return; // replaced by a rename: ours is the old, intact file
  if (st.size !== file.size || st.mtimeMs !== file.mtimeMs) {
    throw new DiscoDBError(
      'ERR_DISCODB_CORRUPT',
      `${file.path} was modified in place since it was opened (size ${file.size} → ${st.size}): reopen it (and see "How files are opened" in the README)`,
      { path: file.path, offset: 8 },
    );
  }
  const imageStart = file.size - src.length;
  if (imageStart + db.header.size > st.size) {
    throw corrupt(`file is ${st.size} bytes, the header says the image ends at byte ${imageStart + db.header.size}`, 8);
  }
}
