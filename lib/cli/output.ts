/** How the CLI writes keys and values: encodings, line formats, and streaming to stdout. */
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/**
 * Streams `source` into `out` (stdout by default) with backpressure. A reader that goes away
 * (`discodb keys db | head`) is not an error: the source is destroyed, which stops the iteration.
 */
export async function streamTo(source: Readable, out: Writable = process.stdout): Promise<void> {
  try {
    await pipeline(source, out, { end: out !== process.stdout });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
      source.destroy();
      return;
    }
    throw err;
  }
}

/** Writes a whole text to stdout, waiting for it to drain (so exit codes never cut output short). */
export function writeText(text: string, out: Writable = process.stdout): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err);
      else resolve();
    });
  });
}
