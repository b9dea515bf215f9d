/**
 * Iteration over an image's values with the least object churn: a key's
 * values are an Inquiry subclass (no closures), and its iterator decodes the
 * delta list inline (no separate cursor object per iteration).
 */
import { DiscoDBError } from '../errors.js';
import { deltaAt } from './cursor.js';
import { Inquiry } from './inquiry.js';
import type { ListExtent, RecordLocator } from './records.js';

/** What the iterators need from the image reader. */
export interface ValueSource<V> {
  readonly records: RecordLocator;
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

/** The values of one record, decoded as they are reached. */
export class RecordValueIterator<V> implements Iterator<V> {
  private readonly src: ValueSource<V>;
  private readonly list = new ListState();

  constructor(src: ValueSource<V>, record: number) {
    if (src.isClosed) throw closed();
    this.src = src;
    this.list.load(src.records, record);
  }

  next(): IteratorResult<V> {
    const id = this.list.nextId();
    if (id === 0) return DONE;
    return { done: false, value: this.src.valueById(id) };
  }

  return(): IteratorResult<V> {
    this.list.left = 0;
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
