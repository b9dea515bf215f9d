/**
 * Iteration over an image's values with the least object churn: a key's
 * values are an Inquiry subclass (no closures), and its iterator decodes the
 * delta list inline (no separate cursor object per iteration).
 */
import { DiscoDBError } from '../errors.js';
import { deltaAt } from './cursor.js';
import { Inquiry } from './inquiry.js';
import type { ListExtent, RecordLocator } from './records.js';
import type { ValueReader } from './values.js';

/** What the iterators need from the image reader. */
export interface ValueSource<V> {
  readonly records: RecordLocator;
  readonly valueReader: ValueReader<V>;
  readonly isClosed: boolean;
  valueById(id: number): V;
  listCount(record: number): number;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;
const NO_BYTES = new Uint8Array(0);

function closed(): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
}

/** Delta-list decoding state shared by the value iterators. */
class ListState implements ListExtent {
  buf: Uint8Array = NO_BYTES;
  start = 0;
  end = 0;
  count = 0;
  width = 1;
  mask = 1;
  bit = 0;
  left = 0;
  id = 0;

  /** Loads record `record`'s list; false when it is empty. */
  load(records: RecordLocator, record: number): boolean {
    if (!records.list(record, this)) {
      this.left = 0;
      return false;
    }
    this.mask = this.width >= 32 ? 0 : (1 << this.width) - 1;
    this.bit = this.start * 8 + 5;
    this.left = this.count;
    this.id = 0;
    return true;
  }

  /** The next id (0 when exhausted). */
  nextId(): number {
    if (this.left === 0) return 0;
    this.left--;
    const bit = this.bit;
    this.bit = bit + this.width;
    this.id += deltaAt(this.buf, this.end, bit, this.width, this.mask);
    return this.id;
  }
}

/** Ids decoded ahead per batch: enough to overlap their memory misses, few enough to stay lazy. */
const BATCH = 16;

/** Batch buffers (ids, starts, ends) given back by finished iterators, for the next ones. */
const pool: Float64Array[] = [];
const POOL_MAX = 64;
const NO_BATCH = new Float64Array(0);

/**
 * The values of one record, decoded as they are reached. A list of one id
 * goes straight to its value; longer ones are decoded up to {@link BATCH} ids
 * at a time and their extents validated together (`ValueReader.extents`), so
 * that their memory misses overlap; each value is still made only when
 * `next()` reaches it.
 */
export class RecordValueIterator<V> extends ListState implements Iterator<V> {
  private readonly src: ValueSource<V>;
  /** ids at [0, BATCH), starts at [BATCH, 2·BATCH), ends at [2·BATCH, 3·BATCH); pooled. */
  private batch: Float64Array = NO_BATCH;
  /** ids[pos, ready) have validated extents; ids[ready, have) are decoded, not yet validated. */
  private pos = 0;
  private ready = 0;
  private have = 0;

  constructor(src: ValueSource<V>, record: number) {
    super();
    if (src.isClosed) throw closed();
    this.src = src;
    this.load(src.records, record);
  }

  next(): IteratorResult<V> {
    const src = this.src;
    if (this.pos === this.have) {
      if (this.count === 1) {
        // One value (the common case of a key → value map): no batch.
        const id = this.nextId();
        if (id === 0) return DONE;
        if (src.isClosed) throw closed();
        return { done: false, value: src.valueById(id) };
      }
      if (!this.refill()) return DONE;
    }
    if (src.isClosed) throw closed();
    const i = this.pos++;
    const b = this.batch;
    if (i < this.ready) return { done: false, value: src.valueReader.valueIn(b[BATCH + i]!, b[2 * BATCH + i]!) };
    // Its extent did not validate: valueById reports the error (as it would have without batching).
    const value = src.valueById(b[i]!);
    this.ready = src.valueReader.extents(b, this.pos, this.have, BATCH);
    return { done: false, value };
  }

  /** Decodes the next ids and validates their extents; false (and the batch given back) when exhausted. */
  private refill(): boolean {
    if (this.left === 0) {
      this.release();
      return false;
    }
    let b = this.batch;
    if (b === NO_BATCH) b = this.batch = pool.pop() ?? new Float64Array(3 * BATCH);
    let have = 0;
    while (have < BATCH) {
      const id = this.nextId();
      if (id === 0) break;
      b[have++] = id;
    }
    this.pos = 0;
    this.have = have;
    if (have === 0) {
      this.ready = 0;
      this.release();
      return false;
    }
    this.ready = this.src.valueReader.extents(b, 0, have, BATCH);
    return true;
  }

  private release(): void {
    if (this.batch !== NO_BATCH) {
      if (pool.length < POOL_MAX) pool.push(this.batch);
      this.batch = NO_BATCH;
    }
    this.pos = this.ready = this.have = 0;
  }

  return(): IteratorResult<V> {
    this.left = 0;
    this.release();
    return DONE;
  }
}

/** A key's values: lazy and re-iterable; `count()` and `first()` decode no more than they need. */
export class RecordValues<V> extends Inquiry<V> {
  private readonly src: ValueSource<V>;
  private readonly record: number;

  constructor(src: ValueSource<V>, record: number) {
    super();
    this.src = src;
    this.record = record;
  }

  override [Symbol.iterator](): Iterator<V> {
    return new RecordValueIterator<V>(this.src, this.record);
  }

  override count(): number {
    if (this.src.isClosed) throw closed();
    return this.src.listCount(this.record);
  }

  override first(): V | undefined {
    return firstValue(this.src, this.record);
  }

  override isEmpty(): boolean {
    return this.count() === 0;
  }
}

const firstList = new ListState();

/** The first value of `record`, or undefined when its list is empty. */
export function firstValue<V>(src: ValueSource<V>, record: number): V | undefined {
  if (src.isClosed) throw closed();
  const l = firstList;
  if (!l.load(src.records, record)) return undefined;
  const id = l.nextId();
  l.buf = NO_BYTES;
  return src.valueById(id);
}

/** Every record's values, in record order. */
export class AllValuesIterator<V> implements Iterator<V> {
  private readonly src: ValueSource<V>;
  private readonly n: number;
  private record = -1;
  private readonly list = new ListState();

  constructor(src: ValueSource<V>, n: number) {
    if (src.isClosed) throw closed();
    this.src = src;
    this.n = n;
  }

  next(): IteratorResult<V> {
    for (;;) {
      const id = this.list.nextId();
      if (id !== 0) return { done: false, value: this.src.valueById(id) };
      if (++this.record >= this.n) return DONE;
      if (this.src.isClosed) throw closed();
      this.list.load(this.src.records, this.record);
    }
  }

  return(): IteratorResult<V> {
    this.record = this.n;
    this.list.left = 0;
    return DONE;
  }
}

/** 0..n-1 mapped through `at`. */
export class RangeIterator<T> implements Iterator<T> {
  private i = 0;
  constructor(
    private readonly n: number,
    private readonly at: (i: number) => T,
  ) {}
  next(): IteratorResult<T> {
    if (this.i >= this.n) return DONE;
    return { done: false, value: this.at(this.i++) };
  }
  return(): IteratorResult<T> {
    this.i = this.n;
    return DONE;
  }
}
