/**
 * Where the bytes of an image come from. The route is chosen once at open:
 * {@link MemorySource} when the image is one Buffer (a memory map or a
 * caller's buffer), {@link PreadSource} (positioned reads through a small
 * block cache) otherwise. Both answer the same small interface, so the reader
 * parts above see one monomorphic source per db.
 *
 * Every read is bounds-checked against the image, so a corrupt offset can
 * never reach outside it.
 */
import * as fs from 'node:fs';
import { DiscoDBError, corrupt } from '../errors.js';
import type { SourceKind } from './types.js';

export type { SourceKind } from './types.js';

/** The file behind a source, so that `check()` can tell whether it changed since open. */
export interface FileIdentity {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** Bytes of one image. */
export interface ImageSource {
  readonly kind: SourceKind;
  /** Bytes available from the image start (the image may be shorter; see the header's size). */
  readonly length: number;
  /** The whole image when it is one buffer; null on the pread route. */
  readonly whole: Buffer | null;
  /** The file it was opened from (null for buffers). */
  readonly file: FileIdentity | null;
  /** Offset in the buffer last returned by {@link window}. */
  at: number;
  u8(off: number): number;
  u32(off: number): number;
  /** u64 as a number; corrupt past 2^53. */
  u64(off: number): number;
  /** A buffer holding [off, off + len) at offset {@link at}: no copy on memory routes. */
  window(off: number, len: number): Uint8Array;
  /** `len` bytes at `off`: a zero-copy view of a memory image, a fresh copy on the pread route. */
  bytes(off: number, len: number): Buffer;
  /** Drops the memory or file descriptor. Idempotent. */
  close(): void;
}

const EMPTY = Buffer.alloc(0);

function outside(off: number, len: number, length: number): DiscoDBError {
  return corrupt(`read of ${len} bytes outside the image of ${length} bytes`, off);
}

/** An image held in one Buffer: a memory map or a caller's buffer. */
export class MemorySource implements ImageSource {
  readonly kind: SourceKind;
  length: number;
  whole: Buffer;
  readonly file: FileIdentity | null;
  at = 0;
  private view: DataView;
  private release: (() => void) | null;

  constructor(buf: Buffer, kind: SourceKind, file: FileIdentity | null = null, release: (() => void) | null = null) {
    this.kind = kind;
    this.whole = buf;
    this.length = buf.byteLength;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.file = file;
    this.release = release;
  }

  u8(off: number): number {
    if (!(off >= 0 && off < this.length)) throw outside(off, 1, this.length);
    return this.whole[off]!;
  }

  u32(off: number): number {
    if (!(off >= 0 && off + 4 <= this.length)) throw outside(off, 4, this.length);
    return this.view.getUint32(off, true);
  }

  u64(off: number): number {
    if (!(off >= 0 && off + 8 <= this.length)) throw outside(off, 8, this.length);
    const lo = this.view.getUint32(off, true);
    const hi = this.view.getUint32(off + 4, true);
    if (hi === 0) return lo;
    if (hi >= 0x200000) throw corrupt('offset does not fit in 53 bits', off);
    return hi * 4294967296 + lo;
  }

  window(off: number, len: number): Uint8Array {
    if (!(off >= 0 && len >= 0 && off + len <= this.length)) throw outside(off, len, this.length);
    this.at = off;
    return this.whole;
  }

  bytes(off: number, len: number): Buffer {
    if (!(off >= 0 && len >= 0 && off + len <= this.length)) throw outside(off, len, this.length);
    return this.whole.subarray(off, off + len);
  }

  close(): void {
    // Drop our reference: the mapping is unmapped once nothing (no value slice a caller kept) refers to it.
    this.whole = EMPTY;
    this.view = new DataView(EMPTY.buffer, 0, 0);
    this.length = 0;
    const release = this.release;
    this.release = null;
    release?.();
  }
}

/** Cache blocks: one positioned read of 512 bytes costs about what one of 16 does (the syscall dominates). */
const BLOCK = 512;
/** At most 8 MiB of cache per db, allocated on the first read and no larger than the image. */
const CACHE_BYTES = 8 * 1024 * 1024;

/**
 * An image read with positioned reads from a file descriptor, through a
 * direct-mapped cache of 512-byte blocks held in one slab (no allocation per
 * read).
 */
export class PreadSource implements ImageSource {
  readonly kind: SourceKind = 'pread';
  readonly length: number;
  readonly whole: null = null;
  readonly file: FileIdentity | null;
  at = 0;
  private fd: number;
  private readonly base: number;
  private slab: Buffer | null = null;
  private slots = 0;
  private blockIds = new Float64Array(0);

  /** `base` is the byte of the file where the image starts. */
  constructor(fd: number, base: number, length: number, file: FileIdentity | null) {
    this.fd = fd;
    this.base = base;
    this.length = length;
    this.file = file;
  }

  /** The descriptor, for `fstat` in `check()` (-1 once closed). */
  get descriptor(): number {
    return this.fd;
  }

  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
      this.slab = null;
      this.blockIds = new Float64Array(0);
      this.slots = 0;
    }
  }

  private check(off: number, len: number): void {
    if (!(off >= 0 && len >= 0 && off + len <= this.length)) throw outside(off, len, this.length);
  }

  u8(off: number): number {
    const b = this.window(off, 1);
    return b[this.at]!;
  }

  u32(off: number): number {
    const b = this.window(off, 4);
    const at = this.at;
    return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  }

  u64(off: number): number {
    const b = this.window(off, 8);
    const at = this.at;
    const lo = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
    const hi = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0;
    if (hi >= 0x200000) throw corrupt('offset does not fit in 53 bits', off);
    return hi * 4294967296 + lo;
  }

  bytes(off: number, len: number): Buffer {
    this.check(off, len);
    if (len <= BLOCK) {
      const b = this.window(off, len);
      return Buffer.from(b.subarray(this.at, this.at + len)); // a copy: blocks get evicted
    }
    return this.pread(off, len);
  }

  /**
   * The cache slab when the range lies in one block (TOC entries, records and
   * short values are tiny), else a fresh read of just the range. Valid until
   * the next read.
   */
  window(off: number, len: number): Uint8Array {
    this.check(off, len);
    const id = Math.floor(off / BLOCK);
    const inBlock = off - id * BLOCK;
    if (inBlock + len > BLOCK) {
      this.at = 0;
      return this.pread(off, len);
    }
    const slab = this.slab ?? this.allocate();
    const slot = id % this.slots;
    const at = slot * BLOCK;
    if (this.blockIds[slot] !== id) {
      this.blockIds[slot] = -1; // a failed read leaves no stale block
      const start = id * BLOCK;
      this.preadInto(slab, at, start, Math.min(BLOCK, this.length - start));
      this.blockIds[slot] = id;
    }
    this.at = at + inBlock;
    return slab;
  }

  private allocate(): Buffer {
    if (this.fd < 0) throw new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
    this.slots = Math.max(1, Math.min(CACHE_BYTES / BLOCK, Math.ceil(this.length / BLOCK)));
    this.blockIds = new Float64Array(this.slots).fill(-1);
    this.slab = Buffer.allocUnsafeSlow(this.slots * BLOCK);
    return this.slab;
  }

  private pread(off: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    this.preadInto(out, 0, off, len);
    return out;
  }

  /** Reads image bytes [off, off + len) into `out` at `at`, all of them. */
  private preadInto(out: Buffer, at: number, off: number, len: number): void {
    if (this.fd < 0) throw new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        n = fs.readSync(this.fd, out, at + done, len - done, this.base + off + done);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new DiscoDBError('ERR_DISCODB_IO', `read failed at byte offset ${off + done}: ${e.code ?? e.message}`, { offset: off + done, cause: err, ...(this.file ? { path: this.file.path } : {}) });
      }
      if (n === 0) throw corrupt('file ended before the image did (was it truncated while open?)', off + done);
      done += n;
    }
  }
}
