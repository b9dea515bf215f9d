/**
 * The slot table: per record, everything a lookup needs before it reaches
 * the record itself, in one 16-byte slot (one cache line holds four, and a
 * slot never straddles two):
 *
 *   [record start, fingerprint | record length << 8, first value id, start of that value]
 *
 * Without it a lookup of an existing key, once the hash gives the record
 * index, reads the fingerprint table, the key TOC copy (base and delta) and
 * the value prefetch table: four lines of four tables, each a likely cache
 * and TLB miss on a large db. With it, one line; the record (the key
 * compare) and, for `get`, the value's TOC entry and first byte are then
 * loaded side by side.
 *
 * Every field is a hint that the reader validates as it would the TOC: a
 * slot whose record did not read, or whose start or length does not fit, is
 * all zeros (start 0 fails the record validation, so that record is located
 * in the image and reports its error; fingerprint 0 always compares; value
 * id 0 prefetches nothing). 16 bytes per key; built once, in one sequential
 * pass over the records, when the db is looked up often.
 */
import type { RecordLocator } from './records.js';
import type { KeyHash } from './records.js';
import type { ListExtent } from './records.js';
import { deltaAt } from './cursor.js';

/** Words per slot. */
export const SLOT_WORDS = 4;
/** Record lengths must fit the 24 bits next to the fingerprint. */
const MAX_RECORD = 1 << 24;

/** What the slot table asks of the value reader (the first value's start, and a load of its TOC entry). */
export interface ValueHints {
  startOf(id: number): number;
  hint(id: number): number;
}

export class SlotTable {
  /** SLOT_WORDS words per record (see the module comment). */
  readonly slots: Uint32Array;
  /** The memory image the value starts point into (null: no value prefetch, e.g. on the pread route). */
  private readonly image: Uint8Array | null;
  private readonly values: ValueHints | null;
  /** Keeps the prefetching loads observable, so they are not optimised away. */
  touched = 0;

  private constructor(slots: Uint32Array, image: Uint8Array | null, values: ValueHints | null) {
    this.slots = slots;
    this.image = image;
    this.values = values;
  }

  /**
   * Loads record `i`'s first value's TOC entry and first byte (a hint: `i`
   * is any hash answer inside 0..n-1, the caller checks).
   */
  touch(i: number): void {
    const s = this.slots;
    const j = SLOT_WORDS * i;
    const id = s[j + 2]!;
    const image = this.image;
    if (id === 0 || image === null) return;
    this.touched = (this.touched + (image[s[j + 3]!] ?? 0) + this.values!.hint(id)) | 0;
  }

  /**
   * The table for the records of `records`, or null when it would take more
   * than `maxBytes`. `hash` gives each key's fingerprint; with `image` and
   * `values` (memory images with the value TOC copied), each slot also gets
   * its record's first value.
   */
  static build(records: RecordLocator, hash: KeyHash, image: Uint8Array | null, values: ValueHints | null, maxBytes: number): SlotTable | null {
    const n = records.numKeys;
    if (SLOT_WORDS * 4 * n > maxBytes) return null;
    const slots = new Uint32Array(SLOT_WORDS * n);
    const l: ListExtent = { buf: new Uint8Array(0), start: 0, end: 0, count: 0, width: 1 };
    const prefetch = image !== null && values !== null;
    for (let i = 0; i < n; i++) {
      const j = SLOT_WORDS * i;
      try {
        const fp = records.hashKey(i, hash);
        const start = records.start;
        const len = records.end - start;
        if (start > 0xffffffff || len >= MAX_RECORD) continue;
        slots[j] = start;
        slots[j + 1] = (fp | (len << 8)) >>> 0;
      } catch {
        continue; // all zeros: this record is located in the image and reports its error there
      }
      if (!prefetch) continue;
      try {
        if (!records.list(i, l)) continue;
        const width = l.width;
        const id = deltaAt(l.buf, l.end, l.start * 8 + 5, width, width >= 32 ? 0 : (1 << width) - 1);
        const vs = values.startOf(id);
        if (vs < 0 || vs >= image.length) continue;
        slots[j + 2] = id;
        slots[j + 3] = vs;
      } catch {
        // no value hint for a list that does not read: its lookup reports it
      }
    }
    l.buf = new Uint8Array(0);
    return new SlotTable(slots, prefetch ? image : null, prefetch ? values : null);
  }
}
