/**
 * Plain, synchronous, buffered byte I/O for the writer: positional writers and
 * readers over file descriptors (large sequential reads and writes), an in-memory
 * sink, and the registry of temporary files that guarantees their removal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DiscoDBError } from '../errors.js';
import { mappedBytes } from '../format/pages.js';
import { trackTemps, untrackTemps, type TempHolder } from './exit-cleanup.js';
import { spillDirPrefix, sweepLeftovers } from './leftovers.js';

/** Where bytes go: positional writes. */
export interface Sink {
  writeAt(src: Uint8Array, start: number, end: number, pos: number): void;
}

/** Copies src[s, e) to dst at d (short ranges by hand: cheaper than a view). */
export function copyBytes(src: Uint8Array, s: number, e: number, dst: Uint8Array, d: number): void {
  const n = e - s;
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
  } else {
    dst.set(src.subarray(s, e), d);
  }
}

/**
 * A sink over an open temporary file: loops over short writes and fails with
 * `ERR_DISCODB_IO` on a write that makes no progress (the output file itself goes
 * through `AtomicFile`, which checks the same way).
 */
export class FileSink implements Sink {
  constructor(readonly fd: number) {}

  writeAt(src: Uint8Array, start: number, end: number, pos: number): void {
    while (start < end) {
      const n = fs.writeSync(this.fd, src, start, end - start, pos);
      if (!(n > 0)) throw new DiscoDBError('ERR_DISCODB_IO', `a write of ${end - start} bytes to a temporary file wrote nothing (is the disk full?)`);
      start += n;
      pos += n;
    }
  }
}

/** A growable in-memory sink; `bytes()` is the image once written. */
export class MemSink implements Sink {
  buf: Buffer;
  /** One past the highest byte written. */
  size = 0;

  constructor(initial: number) {
    this.buf = Buffer.alloc(Math.max(initial, 64));
  }

  writeAt(src: Uint8Array, start: number, end: number, pos: number): void {
    const stop = pos + (end - start);
    if (stop > this.buf.length) {
      const next = Buffer.alloc(Math.max(stop, 2 * this.buf.length));
      this.buf.copy(next, 0, 0, this.size);
      this.buf = next;
    }
    copyBytes(src, start, end, this.buf, pos);
    if (stop > this.size) this.size = stop;
  }

  /** A writable view of `[pos, pos + len)`, counted as written. */
  region(pos: number, len: number): Uint8Array {
    const stop = pos + len;
    if (stop > this.buf.length) {
      const next = Buffer.alloc(Math.max(stop, 2 * this.buf.length));
      this.buf.copy(next, 0, 0, this.size);
      this.buf = next;
    }
    if (stop > this.size) this.size = stop;
    return this.buf.subarray(pos, stop);
  }

  /** The written bytes, exactly `size` long (a copy only if the buffer is over-allocated). */
  bytes(): Buffer {
    if (this.buf.length === this.size) return this.buf;
    return Buffer.from(this.buf.subarray(0, this.size));
  }
}

/** Buffered sequential writer at a moving position of a {@link Sink}. */
export class BufWriter {
  buf: Buffer;
  /** Bytes buffered. Callers of `reserve` write at `buf[n..]` and then add to `n`. */
  n = 0;
  private base: number;

  /** @param buf a buffer of `size` bytes to reuse (a spilling run's, see `RunBuffer.spillBuffer`). */
  constructor(
    private readonly sink: Sink,
    pos: number,
    size: number,
    buf?: Buffer,
  ) {
    this.buf = buf !== undefined && buf.length === size ? buf : mappedBytes(size);
    this.base = pos;
  }

  /** Absolute position of the next byte. */
  get offset(): number {
    return this.base + this.n;
  }

  /** Makes `len` contiguous bytes available at `buf[n]` and returns `n`. */
  reserve(len: number): number {
    if (this.n + len > this.buf.length) {
      this.flush();
      if (len > this.buf.length) this.buf = mappedBytes(len);
    }
    return this.n;
  }

  write(src: Uint8Array, s: number, e: number): void {
    const len = e - s;
    if (this.n + len <= this.buf.length) {
      copyBytes(src, s, e, this.buf, this.n);
      this.n += len;
      return;
    }
    this.flush();
    if (len >= this.buf.length) {
      this.sink.writeAt(src, s, e, this.base);
      this.base += len;
      return;
    }
    copyBytes(src, s, e, this.buf, 0);
    this.n = len;
  }

  u32(x: number): void {
    if (this.n + 4 > this.buf.length) this.flush();
    const b = this.buf;
    const n = this.n;
    b[n] = x;
    b[n + 1] = x >>> 8;
    b[n + 2] = x >>> 16;
    b[n + 3] = x >>> 24;
    this.n = n + 4;
  }

  /** Writes a u64 (< 2^53). */
  u64(x: number): void {
    if (this.n + 8 > this.buf.length) this.flush();
    const b = this.buf;
    const n = this.n;
    let lo: number;
    let hi = 0;
    if (x <= 0xffffffff) {
      lo = x >>> 0;
    } else {
      lo = x % 4294967296;
      hi = (x - lo) / 4294967296;
    }
    b[n] = lo;
    b[n + 1] = lo >>> 8;
    b[n + 2] = lo >>> 16;
    b[n + 3] = lo >>> 24;
    b[n + 4] = hi;
    b[n + 5] = hi >>> 8;
    b[n + 6] = hi >>> 16;
    b[n + 7] = hi >>> 24;
    this.n = n + 8;
  }

  /** Writes a[s, e) as u32 little-endian. */
  u32s(a: Uint32Array, s = 0, e = a.length): void {
    const len = 4 * (e - s);
    if (len <= 256) {
      if (this.n + len > this.buf.length) this.flush();
      const b = this.buf;
      let n = this.n;
      for (let i = s; i < e; i++, n += 4) {
        const x = a[i]!;
        b[n] = x;
        b[n + 1] = x >>> 8;
        b[n + 2] = x >>> 16;
        b[n + 3] = x >>> 24;
      }
      this.n = n;
      return;
    }
    const bytes = new Uint8Array(a.buffer, a.byteOffset + 4 * s, len);
    if (LITTLE_ENDIAN) {
      this.write(bytes, 0, bytes.length);
    } else {
      for (let i = s; i < e; i++) this.u32(a[i]!);
    }
  }

  flush(): void {
    if (this.n > 0) {
      this.sink.writeAt(this.buf, 0, this.n, this.base);
      this.base += this.n;
      this.n = 0;
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Buffered sequential reader of `[start, end)` of a file. `ensure(n)` makes n bytes
 * contiguous at `buf[p]` (growing the buffer for entries larger than it).
 */
export class BufReader {
  buf: Buffer;
  /** Read cursor in `buf`. */
  p = 0;
  /** End of valid bytes in `buf`. */
  lim = 0;
  private fpos: number;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly fend: number,
    size: number,
  ) {
    this.fpos = start;
    this.buf = mappedBytes(Math.max(16, Math.min(size, fend - start)));
  }

  /** Starts over at file position `start` (up to the same end), keeping the buffer. */
  rewind(start: number): void {
    this.fpos = start;
    this.p = 0;
    this.lim = 0;
  }

  /** File position of `buf[p]`, the next byte to read. */
  get offset(): number {
    return this.fpos - (this.lim - this.p);
  }

  /** Bytes left to read. */
  remaining(): number {
    return this.lim - this.p + (this.fend - this.fpos);
  }

  /** Makes `n` bytes available at `buf[p]`; throws if fewer remain. */
  ensure(n: number): void {
    if (this.lim - this.p < n) this.fill(n);
  }

  private fill(n: number): void {
    const have = this.lim - this.p;
    if (have + (this.fend - this.fpos) < n) {
      throw new DiscoDBError('ERR_DISCODB_IO', `temporary run file is truncated (wanted ${n} bytes, ${have + this.fend - this.fpos} left)`);
    }
    if (n > this.buf.length) {
      const next = mappedBytes(Math.max(n, 2 * this.buf.length));
      this.buf.copy(next, 0, this.p, this.lim);
      this.buf = next;
    } else if (have > 0) {
      this.buf.copy(this.buf, 0, this.p, this.lim);
    }
    this.p = 0;
    this.lim = have;
    while (this.lim < n) {
      const want = Math.min(this.buf.length - this.lim, this.fend - this.fpos);
      const got = fs.readSync(this.fd, this.buf, this.lim, want, this.fpos);
      if (got <= 0) throw new DiscoDBError('ERR_DISCODB_IO', 'unexpected end of a temporary run file');
      this.lim += got;
      this.fpos += got;
    }
  }

  /** Reads a u32; call `ensure(4)` first (or use `readU32`). */
  u32(): number {
    const b = this.buf;
    const p = this.p;
    this.p = p + 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  readU32(): number {
    if (this.lim - this.p < 4) this.fill(4);
    return this.u32();
  }

  /** Skips n bytes. */
  skip(n: number): void {
    const have = this.lim - this.p;
    if (n <= have) {
      this.p += n;
      return;
    }
    this.fpos += n - have;
    this.p = 0;
    this.lim = 0;
  }

  /** Reads `count` u32 into `out[at..]`. */
  u32s(out: Uint32Array, at: number, count: number): void {
    let i = at;
    const end = at + count;
    while (i < end) {
      if (this.lim - this.p < 4) this.fill(4);
      const avail = Math.min(end - i, (this.lim - this.p) >>> 2);
      const b = this.buf;
      let p = this.p;
      for (let k = 0; k < avail; k++, p += 4) out[i + k] = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
      this.p = p;
      i += avail;
    }
  }
}

/** Reads a whole u32 section `[start, start + 4 * count)` of a file. */
export function readU32Section(fd: number, start: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  if (count === 0) return out;
  if (LITTLE_ENDIAN) {
    const bytes = new Uint8Array(out.buffer);
    let off = 0;
    while (off < bytes.length) {
      const got = fs.readSync(fd, bytes, off, bytes.length - off, start + off);
      if (got <= 0) throw new DiscoDBError('ERR_DISCODB_IO', 'unexpected end of a temporary run file');
      off += got;
    }
    return out;
  }
  new BufReader(fd, start, start + 4 * count, 1 << 16).u32s(out, 0, count);
  return out;
}

/**
 * A private directory (`discodb-<pid>-<host>-XXXXXX`, created on first use under
 * `parent`) holding every temporary file of one build. `cleanup()` closes and removes
 * everything; it also runs at process exit and on fatal signals (see exit-cleanup.ts)
 * for builds that never got to clean up. Creating its directory first removes the
 * spill directories of dead builds (see leftovers.ts).
 */
export class TempDir implements TempHolder {
  private dir: string | null = null;
  private count = 0;
  private closed = false;
  /** False for a worker's view of the directory of the main thread: it removes nothing on cleanup. */
  private owned = true;
  private prefix = '';
  private readonly open = new Map<number, string>();

  constructor(private readonly parent: string) {}

  /**
   * A worker thread's handle on the directory `dir` its main thread owns: files
   * are named `<prefix><n>-<tag>`; `cleanup()` only closes them (the owner removes the directory).
   */
  static within(dir: string, prefix: string): TempDir {
    const t = new TempDir(path.dirname(dir));
    t.dir = dir;
    t.owned = false;
    t.prefix = prefix;
    return t;
  }

  /** The directory, created (and tracked for cleanup) if it does not exist yet. */
  ensureDir(): string {
    if (this.closed) throw new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (its temporary files are gone)');
    if (this.dir !== null) return this.dir;
    this.sweep();
    let dir: string;
    try {
      dir = fs.mkdtempSync(spillDirPrefix(this.parent));
    } catch (err) {
      throw new DiscoDBError('ERR_DISCODB_IO', `cannot create a temporary directory in ${this.parent}: ${(err as Error).message}`, {
        path: this.parent,
        cause: err,
      });
    }
    this.dir = dir;
    trackTemps(this);
    return dir;
  }

  /** Removes, in the parent directory, the spill directories of builds whose process died. */
  sweep(): void {
    sweepLeftovers(this.parent, { spills: true });
  }

  /** Creates and opens (read/write) a new temporary file. */
  create(tag: string): { fd: number; path: string } {
    const dir = this.ensureDir();
    const p = path.join(dir, `${this.prefix}${++this.count}-${tag}`);
    const fd = fs.openSync(p, 'w+', 0o600);
    this.open.set(fd, p);
    return { fd, path: p };
  }

  /** Closes a file made by `create` (or `reopen`), keeping it on disk. */
  close(fd: number): void {
    if (!this.open.has(fd)) return;
    this.open.delete(fd);
    fs.closeSync(fd);
  }

  /** Opens (read-only) a file made by `create` again. */
  reopen(file: string): number {
    const fd = fs.openSync(file, 'r');
    this.open.set(fd, file);
    return fd;
  }

  /** Deletes a closed file made by `create`. */
  unlink(file: string): void {
    fs.rmSync(file, { force: true });
  }

  /** Closes and deletes one file made by `create`. */
  remove(fd: number): void {
    const p = this.open.get(fd);
    if (p === undefined) return;
    this.open.delete(fd);
    try {
      fs.closeSync(fd);
    } finally {
      fs.rmSync(p, { force: true });
    }
  }

  /** Number of files currently open. */
  get files(): number {
    return this.open.size;
  }

  /** The directory, if it was created. */
  get path(): string | null {
    return this.dir;
  }

  /** Closes every file and removes the directory; later `create` calls fail. Never throws. */
  cleanup(): void {
    this.closed = true;
    for (const fd of this.open.keys()) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    this.open.clear();
    if (this.dir !== null && !this.owned) {
      this.dir = null;
      return;
    }
    if (this.dir !== null) {
      try {
        fs.rmSync(this.dir, { recursive: true, force: true });
      } catch {
        /* nothing more we can do */
      }
      this.dir = null;
    }
    untrackTemps(this);
  }

  removeTempsSync(): void {
    this.cleanup();
  }
}
