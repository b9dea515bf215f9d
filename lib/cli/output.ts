/** How the CLI writes keys and values: encodings, line formats, and streaming to stdout. */
import type { Writable } from 'node:stream';
import { decodeField, type FieldEncoding } from '../streams/fields.js';
import { usageError } from './args.js';

/** A key or value as the reader returns it with `encoding: 'buffer'`. */
export type Bytes = Uint8Array;

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Bytes as text in the output encoding (UTF-8 decoding replaces invalid sequences). */
export function bytesToText(b: Bytes, encoding: FieldEncoding): string {
  return asBuffer(b).toString(encoding);
}

/**
 * The line format of one entry: JSON string, or text in the encoding. With utf8 and no JSON,
 * the bytes go out untouched (no decode/encode round trip, and no loss on invalid UTF-8).
 */
export function entryFormat(encoding: FieldEncoding, json: boolean): (b: Bytes) => string | Uint8Array {
  if (json) return (b) => JSON.stringify(bytesToText(b, encoding));
  if (encoding === 'utf8') return (b) => b;
  return (b) => bytesToText(b, encoding);
}

/** Decodes a command-line KEY (or a line of a view file) per `--encoding`. */
export function decodeArgument(text: string, encoding: FieldEncoding, what: string): string | Uint8Array {
  const field = decodeField(text, encoding);
  if (field === undefined) throw usageError(`${what} '${text}' is not valid ${encoding}`);
  return field;
}

/** True for the errors of a reader that went away (`discodb keys db | head`): not a failure. */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

const LINE_END = Buffer.from('\n');
const BATCH = 64 * 1024;

/**
 * Writes one line per item to `out` (stdout by default), in batches of about 64 KiB, waiting
 * for `out` to drain (backpressure). When the iteration fails midway (a corrupt db), every line
 * produced before the failure is written out first, then the error is thrown: a pipeline
 * (`discodb keys corrupt.ddb | wc -l`) sees exactly what could be read. A reader that goes
 * away stops the iteration quietly.
 */
export async function writeLines<T>(items: Iterable<T>, format: (item: T) => string | Uint8Array, out: Writable = process.stdout): Promise<void> {
  let closed = false;
  let failure: unknown;
  const onError = (err: unknown): void => {
    if (isClosedPipe(err)) closed = true;
    else failure ??= err;
  };
  out.on('error', onError);
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (size === 0 || closed) return;
    const chunk = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    await new Promise<void>((resolve) => {
      // The write callback runs once the chunk is handed to the OS (or failed): waiting for it
      // is the backpressure and guarantees the lines are out before an error is reported.
      out.write(chunk, (err) => {
        if (err) onError(err);
        resolve();
      });
    });
    if (failure !== undefined) throw failure;
  };
  try {
    const iterator = items[Symbol.iterator]();
    try {
      for (;;) {
        let next: IteratorResult<T>;
        try {
          next = iterator.next();
        } catch (err) {
          await flush(); // what was read before the failure goes out first
          throw err;
        }
        if (next.done) break;
        const line = format(next.value);
        const bytes = typeof line === 'string' ? Buffer.from(line) : line;
        parts.push(bytes, LINE_END);
        size += bytes.length + 1;
        if (size >= BATCH) await flush();
        if (closed) return;
      }
    } finally {
      iterator.return?.();
    }
    await flush();
  } finally {
    out.off('error', onError);
  }
}

/** Writes a whole text to stdout, waiting for it to drain (so exit codes never cut output short). */
export function writeText(text: string, out: Writable = process.stdout): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (err) => {
      if (err && !isClosedPipe(err)) reject(err);
      else resolve();
    });
  });
}
