/**
 * Opening an image from a file: memory-mapped when a shared mapping can be
 * had (see mmap.ts), otherwise by positioned reads.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DiscoDBError } from '../errors.js';
import { mapFile } from './mmap.js';
import { MemorySource, PreadSource, type FileIdentity, type ImageSource } from './source.js';
import type { SourceOptions } from './types.js';

export type { SourceOptions } from './types.js';

/** A path given as a string or a `file:` URL, as a string. */
export function toPath(path: string | URL): string {
  if (typeof path === 'string') return path;
  if (path instanceof URL) {
    try {
      return fileURLToPath(path);
    } catch (err) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `not a file: URL: ${path.href}`, { cause: err });
    }
  }
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a path must be a string or a file: URL, got ${path === null ? 'null' : typeof path}`);
}

/** Opens `path` and returns a source positioned at the image start. */
export function openSource(path: string, options: SourceOptions = {}): ImageSource {
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `offset must be a non-negative integer, got ${String(offset)}`);
  }
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DiscoDBError('ERR_DISCODB_IO', `cannot open ${path}: ${e.code ?? e.message}`, { path, cause: err });
  }
  let keepFd = false;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new DiscoDBError('ERR_DISCODB_IO', `${path} is not a regular file`, { path });
    if (offset > st.size) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `offset ${offset} is past the end of ${path} (${st.size} bytes)`, { path });
    }
    const file: FileIdentity = { path, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    const length = st.size - offset;
    if (length === 0) return new MemorySource(Buffer.alloc(0), 'buffer', file);
    const lease = options.mmap === false ? null : mapFile(fd, st, offset);
    if (lease !== null) return new MemorySource(lease.buf, 'mmap', file, lease.release); // the mapping outlives the descriptor
    keepFd = true;
    return new PreadSource(fd, offset, length, file);
  } finally {
    if (!keepFd) fs.closeSync(fd);
  }
}
