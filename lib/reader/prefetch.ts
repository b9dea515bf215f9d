/**
 * Value prefetch for `get`/`peek` on memory images. A lookup is a chain of
 * dependent memory reads (hash tables → key TOC → record → value TOC →
 * value bytes), each a cache and TLB miss on a large db. With this table,
 * once the hash gives the record index, the record's first value id and the
 * start of that value are known without reading the record, so the value's
 * TOC entry and first byte are loaded right away, while the key is being
 * compared: the two chains overlap instead of following each other.
 *
 * The table is a hint only: the value is still found and validated through
 * the record as without it (a wrong hint costs one wasted load, never a wrong
 * answer). 8 bytes per key; built once from one sequential pass over the key
 * records, with the other lookup tables.
 */
import { deltaAt } from './cursor.js';
import type { ListExtent, RecordLocator } from './records.js';
import type { ValueReader } from './values.js';

export class ValuePrefetch<V> {
  /** Per record: [first value id (0: no hint), start of that value in the image]. */
  private readonly hints: Uint32Array;
  private readonly image: Uint8Array;
  private readonly values: ValueReader<V>;
  /** Keeps the prefetching loads observable, so they are not optimised away. */
  touched = 0;

  private constructor(hints: Uint32Array, image: Uint8Array, values: ValueReader<V>) {
    this.hints = hints;
    this.image = image;
    this.values = values;
  }

  /** Loads record `i`'s first value's TOC entry and first byte (`i` is any hash answer). */
  touch(i: number): void {
    const h = this.hints;
    const j = 2 * i;
    if (!(j >= 0 && j < h.length)) return;
    const id = h[j]!;
    if (id === 0) return;
    this.touched = (this.touched + this.image[h[j + 1]!]! + this.values.hint(id)) | 0;
  }

  /**
   * The table for `numKeys` records of a memory image, or null when it would
   * take more than `maxBytes`. Records whose list cannot be read get no hint
   * (their error comes when they are read).
   */
  static build<V>(image: Uint8Array, records: RecordLocator, values: ValueReader<V>, maxBytes: number): ValuePrefetch<V> | null {
    const n = records.numKeys;
    if (8 * n > maxBytes) return null;
    const hints = new Uint32Array(2 * n);
    const l: ListExtent = { buf: image, start: 0, end: 0, count: 0, width: 1 };
    for (let i = 0; i < n; i++) {
      try {
        if (!records.list(i, l)) continue;
        const width = l.width;
        const id = deltaAt(l.buf, l.end, l.start * 8 + 5, width, width >= 32 ? 0 : (1 << width) - 1);
        const start = values.startOf(id);
        if (start < 0 || start >= image.length) continue;
        hints[2 * i] = id;
        hints[2 * i + 1] = start;
      } catch {
        // no hint for a record that does not read: its lookup reports it
      }
    }
    return new ValuePrefetch(hints, image, values);
  }
}
