/**
 * `Inquiry<T>`: a lazy, re-iterable view of results. Nothing is decoded until
 * it is iterated; each iteration starts afresh (like the C library's cursors).
 */
import type { Readable } from 'node:stream';
import { DiscoDBError } from '../errors.js';
import { iterableStream, type IterableStreamOptions } from '../streams/readable.js';

/** Options for {@link Inquiry.stream}: those of `iterableStream` (mode, highWaterMark, format, signal). */
export type InquiryStreamOptions<T> = IterableStreamOptions<T>;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

/**
 * A lazy, re-iterable sequence of results. The reader's own inquiries
 * (a key's values, keys, items) are subclasses that iterate without closures.
 */
export class Inquiry<T> implements Iterable<T> {
  private readonly iterate: (() => Iterator<T>) | undefined;
  private readonly counter: (() => number) | undefined;

  /**
   * @param iterate starts a fresh iteration
   * @param count counts the items without decoding them (defaults to iterating)
   */
  constructor(iterate?: () => Iterator<T>, count?: () => number) {
    this.iterate = iterate;
    this.counter = count;
  }

  [Symbol.iterator](): Iterator<T> {
    if (this.iterate === undefined) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'an Inquiry needs an iterate function');
    return this.iterate();
  }

  /** Number of items, computed without decoding values where possible. */
  count(): number {
    if (this.counter) return this.counter();
    let n = 0;
    const it = this[Symbol.iterator]();
    while (!it.next().done) n++;
    return n;
  }

  /** All items, in order. */
  toArray(): T[] {
    return Array.from(this);
  }

  /** The items as an array, so that `JSON.stringify(inquiry)` shows them. */
  toJSON(): T[] {
    return this.toArray();
  }

  /** The first item, or `undefined` when there is none. */
  first(): T | undefined {
    const it = this[Symbol.iterator]();
    const r = it.next();
    it.return?.();
    return r.done ? undefined : r.value;
  }

  /** True when there is no item. */
  isEmpty(): boolean {
    const it = this[Symbol.iterator]();
    const r = it.next();
    it.return?.();
    return r.done === true;
  }

  /** A Readable of the items with backpressure (see lib/streams). */
  stream(options?: InquiryStreamOptions<T>): Readable {
    return iterableStream(this, options);
  }

  /** A new Inquiry of `fn` applied to each item (lazy, re-iterable; counts like this one). */
  map<U>(fn: (item: T) => U): Inquiry<U> {
    return new Inquiry<U>(
      () => {
        const it = this[Symbol.iterator]();
        return {
          next(): IteratorResult<U> {
            const r = it.next();
            return r.done ? DONE : { done: false, value: fn(r.value) };
          },
          return(): IteratorResult<U> {
            it.return?.();
            return DONE;
          },
        };
      },
      this.counter ?? (() => this.count()),
    );
  }

  /** A new Inquiry of the items for which `fn` is true (lazy, re-iterable). */
  filter<S extends T>(fn: (item: T) => item is S): Inquiry<S>;
  filter(fn: (item: T) => boolean): Inquiry<T>;
  filter(fn: (item: T) => boolean): Inquiry<T> {
    return new Inquiry<T>(() => {
      const it = this[Symbol.iterator]();
      return {
        next(): IteratorResult<T> {
          for (;;) {
            const r = it.next();
            if (r.done) return DONE;
            if (fn(r.value)) return r;
          }
        },
        return(): IteratorResult<T> {
          it.return?.();
          return DONE;
        },
      };
    });
  }

  /** A new Inquiry of at most the first `n` items (lazy, re-iterable). */
  take(n: number): Inquiry<T> {
    if (!(Number.isInteger(n) && n >= 0)) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `take expects a non-negative integer, got ${String(n)}`);
    const counter = this.counter;
    return new Inquiry<T>(
      () => {
        const it = this[Symbol.iterator]();
        let left = n;
        return {
          next(): IteratorResult<T> {
            if (left <= 0) {
              if (left === 0) {
                left = -1;
                it.return?.();
              }
              return DONE;
            }
            left--;
            const r = it.next();
            if (r.done) left = -1;
            return r;
          },
          return(): IteratorResult<T> {
            if (left >= 0) it.return?.();
            left = -1;
            return DONE;
          },
        };
      },
      counter === undefined ? undefined : () => Math.min(n, counter()),
    );
  }

  /** `util.inspect` shows what this is, not its internals (iterating could be costly). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name} [lazy]`;
  }
}

/** An Inquiry with no items. */
export function emptyInquiry<T>(): Inquiry<T> {
  return new Inquiry<T>(() => [][Symbol.iterator](), () => 0);
}
