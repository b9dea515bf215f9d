/**
 * The inputs of `discodb create`: files or stdin, with gzip recognised by its magic bytes (not
 * by the name) and decompressed in the stream; the other usual compressions are refused with
 * a hint, never parsed as text.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { DiscoDBError } from '../errors.js';

/** What the first bytes of an input say. */
export type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | null;

/** How many leading bytes {@link sniffCompression} looks at. */
export const SNIFF_BYTES = 6;

/** The compression whose magic number starts `head`, or null for anything else (plain text). */
export function sniffCompression(head: Uint8Array): Compression {
  const at = (i: number): number => head[i] ?? -1;
  if (at(0) === 0x1f && at(1) === 0x8b) return 'gzip';
  if (at(0) === 0x28 && at(1) === 0xb5 && at(2) === 0x2f && at(3) === 0xfd) return 'zstd';
  // "BZh" and a block size digit.
  if (at(0) === 0x42 && at(1) === 0x5a && at(2) === 0x68 && at(3) >= 0x31 && at(3) <= 0x39) return 'bzip2';
  if (at(0) === 0xfd && at(1) === 0x37 && at(2) === 0x7a && at(3) === 0x58 && at(4) === 0x5a && at(5) === 0x00) return 'xz';
  return null;
}

const SUFFIX = /\.(gz|gzip|tgz|zst|zstd|bz2|xz)$/i;

/** `words.tsv.gz` → `words.tsv`: the name whose extension tells the record format. */
export function stripCompressionSuffix(name: string): string {
  return name.replace(SUFFIX, '');
}

const TOOLS: Record<Exclude<Compression, 'gzip' | null>, string> = { zstd: 'zstd -dc', bzip2: 'bzip2 -dc', xz: 'xz -dc' };

/** The refusal of an input compressed with something node:zlib cannot read. */
export function unsupportedCompression(kind: Exclude<Compression, 'gzip' | null>, name: string, format: string): DiscoDBError {
  const source = name === '<stdin>' ? `... | ${TOOLS[kind]}` : `${TOOLS[kind]} ${name}`;
  return new DiscoDBError(
    'ERR_DISCODB_INPUT',
    `${name}: ${kind} input: decompress first, e.g. \`${source} | discodb create OUT --format ${format}\``,
    name === '<stdin>' ? {} : { path: name },
  );
}

/**
 * Reads up to `n` bytes from the start of `stream` and puts them back, so that the stream can
 * then be consumed from its first byte. Resolves with those bytes and a stream to read: the
 * same one, or (when the input was shorter than `n` and has ended) one holding what was read.
 */
export async function peek(stream: Readable, n: number, signal?: AbortSignal): Promise<{ head: Buffer; stream: Readable }> {
  const parts: Buffer[] = [];
  let length = 0;
  let ended = false;
  const onEnd = (): void => {
    ended = true;
  };
  stream.once('end', onEnd);
  try {
    while (length < n && !ended) {
      signal?.throwIfAborted();
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) {
        parts.push(chunk);
        length += chunk.length;
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const cleanup = (): void => {
          stream.off('readable', done);
          stream.off('end', done);
          stream.off('error', fail);
          signal?.removeEventListener('abort', done);
        };
        const done = (): void => {
          cleanup();
          resolve();
        };
        const fail = (err: Error): void => {
          cleanup();
          reject(err);
        };
        stream.once('readable', done);
        stream.once('end', done);
        stream.once('error', fail);
        signal?.addEventListener('abort', done);
      });
    }
  } finally {
    stream.off('end', onEnd);
  }
  const head = Buffer.concat(parts, length);
  if (ended) return { head, stream: Readable.from(length > 0 ? [head] : [], { objectMode: false }) };
  if (length > 0) stream.unshift(head);
  return { head: head.subarray(0, n), stream };
}

/** An opened input: the raw byte stream and, for gzip, the decompressor to pipe it through. */
export interface OpenedInput {
  /** The bytes as stored (compressed bytes for gzip: what the progress counts against file sizes). */
  raw: Readable;
  /** A gunzip stage (multi-member), or null for plain input. */
  decompress: zlib.Gunzip | null;
}

/**
 * Opens a file (or stdin for `-`), sniffs its first bytes and tells how to decompress it.
 * zstd, bzip2 and xz are refused with a hint (`format` is named in it).
 */
export async function openInput(input: string, format: string, signal?: AbortSignal): Promise<OpenedInput> {
  const name = input === '-' ? '<stdin>' : input;
  const source = input === '-' ? process.stdin : fs.createReadStream(input);
  let peeked: { head: Buffer; stream: Readable };
  try {
    peeked = await peek(source, SNIFF_BYTES, signal);
  } catch (err) {
    if (source !== process.stdin) source.destroy();
    throw err;
  }
  const { head, stream } = peeked;
  const kind = sniffCompression(head);
  if (kind === null) return { raw: stream, decompress: null };
  if (kind !== 'gzip') {
    stream.destroy();
    throw unsupportedCompression(kind, name, format);
  }
  // Node's gunzip reads concatenated members (`cat a.gz b.gz`, bgzip) as one stream.
  return { raw: stream, decompress: zlib.createGunzip() };
}

/** A zlib failure (truncated or damaged gzip data) as an input error naming the file. */
export function gzipError(err: unknown, input: string): unknown {
  const e = err as NodeJS.ErrnoException | null;
  if (e === null || typeof e !== 'object' || typeof e.code !== 'string' || !/^Z_/.test(e.code)) return err;
  const name = input === '-' ? '<stdin>' : input;
  return new DiscoDBError('ERR_DISCODB_INPUT', `${name}: gzip: ${e.message}`, { cause: err, ...(input === '-' ? {} : { path: input }) });
}
