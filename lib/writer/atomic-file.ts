/**
 * The one way discodb puts a file in place: write a temporary file next to the
 * target, check every write, fsync, rename over the target, fsync the directory.
 * Until the rename the target is untouched; on any failure the temporary file is
 * removed and the error is an `ERR_DISCODB_IO` naming the target.
 *
 * The target is resolved first: a symlink is followed (the file it points to is
 * replaced, the link stays); a directory, FIFO, socket or device is refused with
 * `ERR_DISCODB_ARGUMENT` (discodb only ever replaces regular files). An existing
 * target's permission bits (and, when running as root, its owner) are kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DiscoDBError } from '../errors.js';
import { trackTemps, untrackTemps, type TempHolder } from './exit-cleanup.js';
import { outputTempPath, sweepLeftovers } from './leftovers.js';

/** Symlink hops followed before giving up (the kernel's own limit is 40). */
const MAX_LINKS = 40;

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** An `ERR_DISCODB_IO` for a failed step on `target`. */
function ioError(err: unknown, target: string, step: string): DiscoDBError {
  if (err instanceof DiscoDBError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new DiscoDBError('ERR_DISCODB_IO', `cannot write ${target}: ${step} failed: ${msg}`, { path: target, cause: err });
}

/** The regular file `target` names (following symlinks) and its current stats, if it exists. */
export function resolveOutput(target: string): { file: string; existing: fs.Stats | null } {
  let p = path.resolve(target);
  for (let hops = 0; ; hops++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file: p, existing: null };
      throw ioError(err, target, 'lstat');
    }
    if (st.isSymbolicLink()) {
      if (hops >= MAX_LINKS) throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${target}: too many levels of symbolic links`, { path: target });
      try {
        p = path.resolve(path.dirname(p), fs.readlinkSync(p));
      } catch (err) {
        throw ioError(err, target, 'readlink');
      }
      continue;
    }
    if (st.isFile()) return { file: p, existing: st };
    throw new DiscoDBError(
      'ERR_DISCODB_ARGUMENT',
      `cannot write ${target}: ${p === path.resolve(target) ? 'it' : p} is ${kindOf(st)}, and discodb only replaces regular files`,
      { path: target },
    );
  }
}

/**
 * A temporary file that becomes `target` on {@link commit}. Created by
 * {@link AtomicFile.open}; until then nothing at the target changes.
 */
export class AtomicFile implements TempHolder {
  /** The file that will be replaced (the target with symlinks followed). */
  readonly file: string;
  /** The temporary file, next to `file`. */
  readonly tempPath: string;
  private fdOpen = -1;
  private done = false;

  private constructor(
    /** The target as given (for messages). */
    readonly target: string,
    file: string,
    existing: fs.Stats | null,
  ) {
    this.file = file;
    sweepLeftovers(path.dirname(file), { outputs: true });
    this.tempPath = outputTempPath(file);
    try {
      this.fdOpen = fs.openSync(this.tempPath, 'wx', 0o666);
    } catch (err) {
      throw ioError(err, target, 'creating a temporary file');
    }
    trackTemps(this);
    if (existing !== null) {
      try {
        fs.fchmodSync(this.fdOpen, existing.mode & 0o7777);
        if (process.getuid?.() === 0) fs.fchownSync(this.fdOpen, existing.uid, existing.gid);
      } catch (err) {
        this.discard();
        throw ioError(err, target, 'copying the mode of the existing file');
      }
    }
  }

  /** Starts replacing `target`. Throws `ERR_DISCODB_ARGUMENT` for a non-regular target, `ERR_DISCODB_IO` otherwise. */
  static open(target: string): AtomicFile {
    const { file, existing } = resolveOutput(target);
    return new AtomicFile(target, file, existing);
  }

  /** The open descriptor of the temporary file. */
  get fd(): number {
    if (this.fdOpen < 0) throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${this.target}: the temporary file is closed`, { path: this.target });
    return this.fdOpen;
  }

  /** Writes src[start, end) at `pos`, looping over short writes; a write that makes no progress is an error. */
  writeAt(src: Uint8Array, start: number, end: number, pos: number): void {
    const fd = this.fd;
    while (start < end) {
      let n: number;
      try {
        n = fs.writeSync(fd, src, start, end - start, pos);
      } catch (err) {
        throw ioError(err, this.target, 'write');
      }
      if (!(n > 0)) throw noProgress(this.target, end - start);
      start += n;
      pos += n;
    }
  }

  /**
   * Writes all of `data` at file offset `at` (default 0) without blocking the
   * event loop (same checks as {@link writeAt}).
   */
  async writeAllAsync(data: Uint8Array, at = 0): Promise<void> {
    const fd = this.fd;
    const CHUNK = 8 * 1024 * 1024;
    let off = 0;
    while (off < data.length) {
      const len = Math.min(CHUNK, data.length - off);
      let n: number;
      try {
        n = await new Promise<number>((resolve, reject) =>
          fs.write(fd, data, off, len, at + off, (err, written) => (err === null ? resolve(written) : reject(err))),
        );
      } catch (err) {
        throw ioError(err, this.target, 'write');
      }
      if (!(n > 0)) throw noProgress(this.target, len);
      off += n;
    }
  }

  /**
   * fsyncs, checks the size (when `size` is given), closes, renames over the target
   * and fsyncs the directory. On failure the temporary file is removed and the
   * target is as it was.
   */
  commit(size?: number): void {
    try {
      const fd = this.fd;
      try {
        fs.fsyncSync(fd);
      } catch (err) {
        throw ioError(err, this.target, 'fsync');
      }
      if (size !== undefined) {
        const got = fs.fstatSync(fd).size;
        if (got !== size) {
          throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${this.target}: the temporary file has ${got} bytes, ${size} were written`, { path: this.target });
        }
      }
      this.fdOpen = -1;
      try {
        fs.closeSync(fd);
      } catch (err) {
        throw ioError(err, this.target, 'close');
      }
      try {
        fs.renameSync(this.tempPath, this.file);
      } catch (err) {
        throw ioError(err, this.target, 'rename');
      }
      this.done = true;
      untrackTemps(this);
    } catch (err) {
      this.discard();
      throw err;
    }
    syncDir(path.dirname(this.file));
  }

  /** fsyncs the temporary file off the main thread (so that {@link commit}'s own fsync is quick). */
  async syncAsync(): Promise<void> {
    try {
      const fd = this.fd;
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err === null ? resolve() : reject(ioError(err, this.target, 'fsync')))));
    } catch (err) {
      this.discard();
      throw err;
    }
  }

  /** Closes and removes the temporary file, if still there. Idempotent, never throws. */
  discard(): void {
    if (this.fdOpen >= 0) {
      try {
        fs.closeSync(this.fdOpen);
      } catch {
        /* already closed */
      }
      this.fdOpen = -1;
    }
    if (!this.done) {
      this.done = true;
      try {
        fs.rmSync(this.tempPath, { force: true });
      } catch {
        /* best effort */
      }
    }
    untrackTemps(this);
  }

  removeTempsSync(): void {
    this.discard();
  }
}

function noProgress(target: string, wanted: number): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_IO', `cannot write ${target}: a write of ${wanted} bytes wrote nothing (is the disk full?)`, { path: target });
}

/** fsync a directory so that a rename in it is durable (best effort: not every platform allows it). */
function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* not supported here */
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * Writes `data` to `path` atomically: a temporary file next to it, every write
 * checked, fsync, rename, fsync of the directory. Rejects with `ERR_DISCODB_IO`
 * (disk full, permissions, ...) leaving `path` as it was and no temporary file,
 * or `ERR_DISCODB_ARGUMENT` when `path` is a directory, FIFO, socket or device.
 * A symlink at `path` is followed; an existing file's mode is kept. `data` is
 * one buffer or an iterable of chunks written one after another.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | Iterable<Uint8Array>): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'writeFileAtomic needs a path');
  const chunks = data instanceof Uint8Array ? [data] : data;
  if (chunks === null || typeof chunks !== 'object' || !(Symbol.iterator in chunks)) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'writeFileAtomic needs a Uint8Array or an iterable of them');
  }
  const f = AtomicFile.open(path);
  try {
    let size = 0;
    for (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'writeFileAtomic needs Uint8Array chunks');
      await f.writeAllAsync(chunk, size);
      size += chunk.length;
    }
    await f.syncAsync();
    f.commit(size);
  } catch (err) {
    f.discard();
    throw err;
  }
}
