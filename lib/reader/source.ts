/**
 * Where the bytes of an image come from: one Buffer (a memory map or a caller's
 * buffer), or positioned reads on a file descriptor for images the mmap addon
 * cannot map (2 GiB and larger: its sizes and offsets are int32).
 *
 * Every read is bounds-checked against the image, so a corrupt offset can
 * never reach outside it.
 */
import * as fs from 'node:fs';
import { DiscoDBError, corrupt } from '../errors.js';

/** Which route an opened image uses (see README, "How files are opened"). */
export type SourceKind = 'mmap' | 'buffer' | 'pread';

const BLOCK = 4096;
const BLOCKS = 2048; // direct-mapped (block id mod BLOCKS): an 8 MiB cache of 4 KiB pages

export class ImageSource {
  /** Bytes available from the image start (the image may be shorter; see header size). */
  readonly length: number;
  readonly kind: SourceKind;
  /** The whole image when it is in one buffer; null on the pread route. */
  readonly whole: Uint8Array | null;
  private readonly view: DataView | null;
  private fd: number;
  private readonly base: number;
  // A small cache of aligned blocks for the pread route (TOC entries, small records).
  private readonly blockIds: Float64Array;
  private readonly blocks: (Buffer | null)[];

  private constructor(kind: SourceKind, length: number, whole: Uint8Array | null, fd: number, base: number) {
    this.kind = kind;
    this.length = length;
    this.whole = whole;
    this.view = whole ? new DataView(whole.buffer, whole.byteOffset, whole.byteLength) : null;
    this.fd = fd;
    this.base = base;
    this.blockIds = new Float64Array(whole ? 0 : BLOCKS).fill(-1);
    this.blocks = whole ? [] : new Array<Buffer | null>(BLOCKS).fill(null);
  }

  /** An image held in memory (the caller keeps `buf` alive and unchanged). */
  static fromBuffer(buf: Uint8Array, kind: SourceKind = 'buffer'): ImageSource {
    return new ImageSource(kind, buf.byteLength, buf, -1, 0);
  }

  /** An image read with positioned reads from `fd`, starting at byte `base` of the file. */
  static fromFd(fd: number, base: number, length: number): ImageSource {
    return new ImageSource('pread', length, null, fd, base);
  }

  /** Releases the file descriptor (pread route). Idempotent. */
  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  private check(off: number, len: number): void {
    if (off < 0 || len < 0 || off + len > this.length) {
      throw corrupt(`read of ${len} bytes outside the image of ${this.length} bytes`, off);
    }
  }

  /** u32 at `off`. */
  u32(off: number): number {
    this.check(off, 4);
    if (this.view) return this.view.getUint32(off, true);
    const b = this.readSmall(off, 4);
    return b.readUInt32LE(this.smallAt);
  }

  /** u64 at `off` as a number; corrupt past 2^53. */
  u64(off: number): number {
    this.check(off, 8);
    let lo: number;
    let hi: number;
    if (this.view) {
      lo = this.view.getUint32(off, true);
      hi = this.view.getUint32(off + 4, true);
    } else {
      const b = this.readSmall(off, 8);
      lo = b.readUInt32LE(this.smallAt);
      hi = b.readUInt32LE(this.smallAt + 4);
    }
    if (hi >= 0x200000) throw corrupt('offset does not fit in 53 bits', off);
    return hi * 4294967296 + lo;
  }

  /**
   * `len` bytes at `off`: a zero-copy view when the image is one buffer, a
   * fresh copy on the pread route.
   */
  bytes(off: number, len: number): Uint8Array {
    this.check(off, len);
    if (this.whole) return this.whole.subarray(off, off + len);
    if (len <= 256) {
      const b = this.readSmall(off, len);
      return Buffer.from(b.subarray(this.smallAt, this.smallAt + len)); // a copy: blocks get evicted
    }
    return this.pread(off, len);
  }

  private pread(off: number, len: number): Buffer {
    if (this.fd < 0) throw new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
    const out = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this.fd, out, done, len - done, this.base + off + done);
      if (n === 0) throw corrupt('file ended before the image did (was it truncated while open?)', off + done);
      done += n;
    }
    return out;
  }

  /** Offset inside the buffer last returned by readSmall. */
  private smallAt = 0;

  /**
   * Returns a buffer holding [off, off + len) at `this.smallAt`: a cached
   * block when the range lies in one (TOC entries and small records are tiny
   * and hot), else a fresh read.
   */
  private readSmall(off: number, len: number): Buffer {
    const id = Math.floor(off / BLOCK);
    const inBlock = off - id * BLOCK;
    if (inBlock + len > BLOCK) {
      this.smallAt = 0;
      return this.pread(off, len);
    }
    const slot = id % BLOCKS;
    if (this.blockIds[slot] !== id) {
      const start = id * BLOCK;
      const blockLen = Math.min(BLOCK, this.length - start);
      this.blocks[slot] = this.pread(start, blockLen);
      this.blockIds[slot] = id;
    }
    this.smallAt = inBlock;
    return this.blocks[slot]!;
  }
}
