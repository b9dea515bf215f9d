/**
 * `Inquiry<T>`: a lazy, re-iterable view of results. Nothing is decoded until
 * it is iterated; each iteration starts afresh (like the C library's cursors).
 */
import type { Readable } from 'node:stream';
import { iterableStream, type IterableStreamOptions } from '../streams/readable.js';

/** Options for {@link Inquiry.stream}: those of `iterableStream` (mode, highWaterMark, format, signal). */
export type InquiryStreamOptions<T> = IterableStreamOptions<T>;

/** A lazy, re-iterable sequence of results. */
export class Inquiry<T> implements Iterable<T> {
  private readonly iterate: () => Iterator<T>;
  private readonly counter: (() => number) | undefined;

  /**
   * @param iterate starts a fresh iteration
   * @param count counts the items without decoding them (defaults to iterating)
   */
  constructor(iterate: () => Iterator<T>, count?: () => number) {
    this.iterate = iterate;
    this.counter = count;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.iterate();
  }

  /** Number of items, computed without decoding values where possible. */
  count(): number {
    if (this.counter) return this.counter();
    let n = 0;
    const it = this.iterate();
    while (!it.next().done) n++;
    return n;
  }

  /** All items, in order. */
  toArray(): T[] {
    return Array.from(this);
  }

  /** The first item, or `undefined` when there is none. */
  first(): T | undefined {
    const it = this.iterate();
    const r = it.next();
    it.return?.();
    return r.done ? undefined : r.value;
  }

  /** True when there is no item. */
  isEmpty(): boolean {
    const it = this.iterate();
    const r = it.next();
    it.return?.();
    return r.done === true;
  }

  /** A Readable of the items with backpressure (see lib/streams). */
  stream(options?: InquiryStreamOptions<T>): Readable {
    return iterableStream(this, options);
  }

  /** A new Inquiry of `fn` applied to each item (lazy). */
  map<U>(fn: (item: T) => U): Inquiry<U> {
    const src = this;
    return new Inquiry<U>(
      () => {
        const it = src.iterate();
        return {
          next(): IteratorResult<U> {
            const r = it.next();
            return r.done ? { done: true, value: undefined } : { done: false, value: fn(r.value) };
          },
          return(): IteratorResult<U> {
            it.return?.();
            return { done: true, value: undefined };
          },
        };
      },
      this.counter,
    );
  }
}

/** An Inquiry with no items. */
export function emptyInquiry<T>(): Inquiry<T> {
  return new Inquiry<T>(() => [][Symbol.iterator](), () => 0);
}
