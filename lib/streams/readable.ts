/**
 * Readable streams over discodb's lazy iterables (keys, values, query results, items).
 *
 * The iterator is pulled only from `_read`, i.e. only when the consumer wants more, so a slow
 * consumer holds the producer at the high-water mark; `destroy()` calls the iterator's
 * `return()` so that whatever it holds (cursors, decoders) is released at once.
 */
import { Readable } from 'node:stream';
import { DiscoDBError } from '../errors.js';

/** `'object'`: one item per chunk; `'lines'`: bytes, one formatted item per `\n`-terminated line. */
export type StreamMode = 'object' | 'lines';

/** Options of {@link iterableStream}. */
export interface IterableStreamOptions<T> {
  /** Object mode (default) or line-framed bytes for files and sockets. */
  mode?: StreamMode;
  /**
   * Buffer limit: items in object mode (default 16), bytes in lines mode (default 64 KiB).
   * The stream pulls items only while its buffer is below the limit: an object stream never
   * holds more than `highWaterMark` items; a lines stream batches many lines per chunk and
   * stays under 1.5 x `highWaterMark` bytes plus one line.
   */
  highWaterMark?: number;
  /**
   * Lines mode: turns an item into the text or bytes of its line (without the `\n`).
   * Default: strings and bytes as they are, anything else as JSON (bytes inside as UTF-8
   * text, iterables as arrays — so `[key, Inquiry]` items become `["k",["v1","v2"]]`).
   */
  format?: (item: T) => string | Uint8Array;
  /** Aborting the signal destroys the stream (and so ends the iteration). */
  signal?: AbortSignal;
}

/** JSON with bytes as UTF-8 text and lazy iterables (inquiries) as arrays. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Symbol.iterator in value) {
    return Array.from(value as Iterable<unknown>);
  }
  return value;
}

/** The default line format of {@link iterableStream}. */
export function defaultLineFormat(item: unknown): string | Uint8Array {
  if (typeof item === 'string' || item instanceof Uint8Array) return item;
  return JSON.stringify(item, jsonReplacer) ?? '';
}

const NEWLINE = Buffer.from('\n');

/** Shared pull logic: lazily opens the iterator, releases it once on destroy. */
abstract class IteratorReadable<T> extends Readable {
  readonly #iterable: Iterable<T>;
  #iterator: Iterator<T> | undefined;
  /** The iterator finished (or threw): nothing to release. */
  #finished = false;

  constructor(iterable: Iterable<T>, options: ConstructorParameters<typeof Readable>[0]) {
    super(options);
    this.#iterable = iterable;
  }

  /** Next item, or `undefined` at the end (the stream is then ended). Throws what the iterator throws. */
  protected next(): { value: T } | undefined {
    if (this.#finished) return undefined;
    this.#iterator ??= this.#iterable[Symbol.iterator]();
    let r: IteratorResult<T>;
    try {
      r = this.#iterator.next();
    } catch (err) {
      this.#finished = true;
      throw err;
    }
    if (r.done) {
      this.#finished = true;
      return undefined;
    }
    return r;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const it = this.#iterator;
    if (it !== undefined && !this.#finished) {
      this.#finished = true;
      try {
        it.return?.();
      } catch (cleanupError) {
        err ??= cleanupError as Error;
      }
    }
    callback(err);
  }
}

class ObjectIterableReadable<T> extends IteratorReadable<T> {
  constructor(iterable: Iterable<T>, options: IterableStreamOptions<T>) {
    super(iterable, { objectMode: true, highWaterMark: options.highWaterMark ?? 16, signal: options.signal });
  }

  override _read(): void {
    try {
      for (;;) {
        const r = this.next();
        if (r === undefined) {
          this.push(null);
          return;
        }
        if (r.value === null || r.value === undefined) {
          throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'an object stream cannot carry null or undefined items');
        }
        if (!this.push(r.value)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }
}

class LineIterableReadable<T> extends IteratorReadable<T> {
  readonly #format: (item: T) => string | Uint8Array;

  constructor(iterable: Iterable<T>, options: IterableStreamOptions<T>) {
    super(iterable, { highWaterMark: options.highWaterMark ?? 64 * 1024, signal: options.signal });
    this.#format = options.format ?? defaultLineFormat;
  }

  override _read(): void {
    // Many lines per push: one chunk per line would cost far more than the lines themselves.
    // Fill the room left under the high-water mark, but never less than a quarter of it: Node
    // asks for more while the chunk being read is still counted, and tiny top-up chunks would
    // follow. So the buffer stays under 1.5 x the mark (plus one line).
    const hwm = this.readableHighWaterMark;
    const room = Math.max(hwm - this.readableLength, hwm >>> 2, 1);
    const texts: string[] = [];
    let parts: Uint8Array[] | undefined; // only once some item formats to bytes
    let size = 0;
    let ended = false;
    try {
      while (size < room) {
        const r = this.next();
        if (r === undefined) {
          ended = true;
          break;
        }
        const line = this.#format(r.value);
        if (typeof line === 'string') {
          if (parts === undefined) texts.push(line, '\n');
          else parts.push(Buffer.from(line), NEWLINE);
          size += line.length + 1;
        } else {
          parts ??= texts.length > 0 ? [Buffer.from(texts.join(''))] : [];
          parts.push(line, NEWLINE);
          size += line.byteLength + 1;
        }
      }
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (parts !== undefined) this.push(Buffer.concat(parts));
    else if (texts.length > 0) this.push(Buffer.from(texts.join('')));
    if (ended) this.push(null);
  }
}

/**
 * Makes a Readable over a (re-iterable) iterable, e.g. an `Inquiry` of keys, values or query
 * results, or `db.items()`. Object mode by default; `mode: 'lines'` gives `\n`-framed bytes
 * ready for `pipeline(stream, fs.createWriteStream(...))`.
 *
 * The iterator is created on the first read and advanced only while the stream's buffer is
 * below its high-water mark; `destroy()` (also by `pipeline` on error, or `signal`) calls the
 * iterator's `return()`.
 */
export function iterableStream<T>(iterable: Iterable<T>, options: IterableStreamOptions<T> = {}): Readable {
  if (options.mode !== undefined && options.mode !== 'object' && options.mode !== 'lines') {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `unknown stream mode '${String(options.mode)}' (expected 'object' or 'lines')`);
  }
  return options.mode === 'lines' ? new LineIterableReadable(iterable, options) : new ObjectIterableReadable(iterable, options);
}
