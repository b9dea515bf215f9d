/**
 * Partition files: the records of one shard, written during the single pass over the input
 * and read back by the build of that shard (possibly in another thread). A record is
 * `u32 keyLength, key, u32 valueCount, (u32 valueLength, value)*`, little-endian.
 */
import * as fs from 'node:fs';
import { DiscoDBError } from '../errors.js';
import type { ItemRecord } from './partition.js';

const CHUNK = 1 << 20;

/** Appends records to a partition file through a 1 MiB buffer. */
export class PartitionFileWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'wx');
  }

  private ensure(n: number): void {
    if (this.used + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  private bytes(b: string | Uint8Array): void {
    const len = typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length;
    this.ensure(4 + len);
    this.buf.writeUInt32LE(len, this.used);
    this.used += 4;
    if (typeof b === 'string') this.used += this.buf.write(b, this.used, 'utf8');
    else {
      this.buf.set(b, this.used);
      this.used += len;
    }
  }

  /** Appends one record. */
  write(rec: ItemRecord): void {
    this.bytes(rec.key);
    this.ensure(4);
    this.buf.writeUInt32LE(rec.values.length, this.used);
    this.used += 4;
    for (const v of rec.values) this.bytes(v);
  }

  /** Writes out the buffer. */
  flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  private closed = false;

  /** Flushes and closes the file; idempotent (a second call never closes a reused descriptor). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
    }
  }
}

/** The records of a partition file, in order (keys and values as Buffers). */
export function* readPartitionFile(path: string): Generator<{ key: Buffer; values: Buffer[] }> {
  const fd = fs.openSync(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let start = 0;
    let end = 0;
    let eof = false;
    /** Makes `n` bytes available at `start`; false at a clean end of file. */
    const need = (n: number): boolean => {
      if (end - start >= n) return true;
      if (eof) return false;
      if (n > buf.length) {
        const bigger = Buffer.allocUnsafe(n);
        buf.copy(bigger, 0, start, end);
        buf = bigger;
      } else buf.copy(buf, 0, start, end);
      end -= start;
      start = 0;
      while (end < n && !eof) {
        const r = fs.readSync(fd, buf, end, buf.length - end, null);
        if (r === 0) eof = true;
        end += r;
      }
      return end - start >= n;
    };
    const field = (): Buffer => {
      if (!need(4)) throw truncated(path);
      const len = buf.readUInt32LE(start);
      if (!need(4 + len)) throw truncated(path);
      // A copy: the buffer is reused for the next chunk.
      const b = Buffer.from(buf.subarray(start + 4, start + 4 + len));
      start += 4 + len;
      return b;
    };
    while (need(1)) {
      const key = field();
      if (!need(4)) throw truncated(path);
      const count = buf.readUInt32LE(start);
      start += 4;
      const values: Buffer[] = new Array<Buffer>(count);
      for (let i = 0; i < count; i++) values[i] = field();
      yield { key, values };
    }
  } finally {
    fs.closeSync(fd);
  }
}

function truncated(path: string): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_IO', `partition file ${path} is truncated`, { path });
}
