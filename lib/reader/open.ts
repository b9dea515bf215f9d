/**
 * Opening an image from a file: memory-mapped when the addon can map it,
 * otherwise by positioned reads.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { DiscoDBError } from '../errors.js';
import { ImageSource } from './source.js';

interface MmapAddon {
  map(size: number, protection: number, flags: number, fd: number, offset?: number, advise?: number): Buffer;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_PRIVATE: number;
  MADV_RANDOM: number;
  PAGESIZE: number;
}

let addon: MmapAddon | null | undefined;

/** Loads the mmap addon once; null when it is not installed or did not build. */
function mmapAddon(): MmapAddon | null {
  if (addon === undefined) {
    try {
      // The package's .d.ts says `export default`, but module.exports is the API.
      const mod = createRequire(import.meta.url)('@riaskov/mmap-io') as MmapAddon & { default?: MmapAddon };
      addon = typeof mod.map === 'function' ? mod : (mod.default ?? null);
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** The addon reads sizes and offsets as int32: anything at or past 2 GiB cannot be mapped. */
const MMAP_LIMIT = 2 ** 31 - 1;

/** How to open a file. */
export interface SourceOptions {
  /** Byte offset of the image inside the file (a db embedded in a larger file). */
  offset?: number;
  /** Set false to force positioned reads instead of a memory map. */
  mmap?: boolean;
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
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new DiscoDBError('ERR_DISCODB_IO', `${path} is not a regular file`, { path });
    if (offset > st.size) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `offset ${offset} is past the end of ${path} (${st.size} bytes)`, { path });
    }
    const length = st.size - offset;
    const mm = options.mmap === false ? null : mmapAddon();
    if (length === 0) {
      fs.closeSync(fd);
      return ImageSource.fromBuffer(Buffer.alloc(0), 'buffer');
    }
    if (mm) {
      const aligned = offset - (offset % mm.PAGESIZE);
      const mapLen = length + (offset - aligned);
      if (mapLen <= MMAP_LIMIT && aligned <= MMAP_LIMIT) {
        // MAP_PRIVATE + PROT_WRITE: a caller writing into a zero-copy value gets
        // a private page instead of a SIGSEGV, and the file is never changed.
        const mapped = mm.map(mapLen, mm.PROT_READ | mm.PROT_WRITE, mm.MAP_PRIVATE, fd, aligned, mm.MADV_RANDOM);
        fs.closeSync(fd); // the mapping outlives the descriptor
        return ImageSource.fromBuffer(mapped.subarray(offset - aligned), 'mmap');
      }
    }
    return ImageSource.fromFd(fd, offset, length);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed after mapping
    }
    throw err;
  }
}
