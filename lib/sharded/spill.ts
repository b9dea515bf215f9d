/**
 * The records of one shard in flight from the splitting pass to the thread that builds the
 * shard: chunks of about 1 MiB, each holding whole records, transferred (not copied) to the
 * worker. A record is `u32 keyLength, key, u32 valueCount, (u32 valueLength, value)*`,
 * little-endian.
 */
import { DiscoDBError } from '../errors.js';
import type { ItemRecord } from './partition.js';

/** Size of a chunk (a record larger than this gets a chunk of its own size). */
export const CHUNK_SIZE = 1 << 20;

/** Encodes records into chunks and hands each full chunk to `onChunk` (its bytes are then the receiver's). */
export class RecordChunker {
  private buf: Buffer = Buffer.allocUnsafe(CHUNK_SIZE);
  private used = 0;

  constructor(private readonly onChunk: (chunk: Buffer) => void) {}

  private static size(b: string | Uint8Array): number {
    return 4 + (typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length);
  }

  private bytes(b: string | Uint8Array): void {
    const at = this.used + 4;
    const len = typeof b === 'string' ? this.buf.write(b, at, 'utf8') : (this.buf.set(b, at), b.length);
    this.buf.writeUInt32LE(len, this.used);
    this.used = at + len;
  }

  /** Appends one record (whole: a record never straddles two chunks). */
  write(rec: ItemRecord): void {
    // A cheap upper bound first (3 bytes per UTF-16 unit); the exact size only near the end.
    let bound = 8 + (typeof rec.key === 'string' ? 3 * rec.key.length : rec.key.length);
    for (const v of rec.values) bound += 4 + (typeof v === 'string' ? 3 * v.length : v.length);
    if (this.used + bound > this.buf.length) {
      let exact = 4 + RecordChunker.size(rec.key);
      for (const v of rec.values) exact += RecordChunker.size(v);
      if (this.used + exact > this.buf.length) {
        this.flush();
        if (exact > this.buf.length) this.buf = Buffer.allocUnsafe(exact);
      }
    }
    this.bytes(rec.key);
    this.buf.writeUInt32LE(rec.values.length, this.used);
    this.used += 4;
    for (const v of rec.values) this.bytes(v);
  }

  /** Hands over the records written so far (nothing when there are none). */
  flush(): void {
    if (this.used === 0) return;
    const full = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(CHUNK_SIZE);
    this.used = 0;
    this.onChunk(full);
  }
}

/** The records of one chunk, in order (keys and values are views into the chunk). */
export function* decodeChunk(chunk: Buffer): Generator<{ key: Buffer; values: Buffer[] }> {
  let at = 0;
  const field = (): Buffer => {
    if (at + 4 > chunk.length) throw truncated();
    const len = chunk.readUInt32LE(at);
    if (at + 4 + len > chunk.length) throw truncated();
    const b = chunk.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    return b;
  };
  while (at < chunk.length) {
    const key = field();
    if (at + 4 > chunk.length) throw truncated();
    const count = chunk.readUInt32LE(at);
    at += 4;
    const values = new Array<Buffer>(count);
    for (let i = 0; i < count; i++) values[i] = field();
    yield { key, values };
  }
}

function truncated(): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_IO', 'a record chunk is truncated');
}
