/**
 * Many append-only byte lists in one scratch file, for builds that must not hold
 * per-key data in memory (the external CHD build, the writer's permutation of the
 * key records into slot order). Each list has a small buffer; a full buffer goes to
 * the end of the file as one chunk, and the list remembers where its chunks are, so
 * a list reads back as the concatenation of its chunks, in append order.
 *
 * The bytes are the machine's own (u32 data is stored as the host writes it): the
 * file is read back only by the process that wrote it.
 */

/** Positional I/O on one scratch file (the writer provides it over its temp directory). */
export interface ScratchFile {
  write(src: Uint8Array, start: number, end: number, pos: number): void;
  /** Reads exactly `end - start` bytes at `pos` into `dst[start, end)`. */
  read(dst: Uint8Array, start: number, end: number, pos: number): void;
}

/** Makes and removes scratch files. */
export interface Scratch {
  create(tag: string): ScratchFile;
  remove(file: ScratchFile): void;
}

/** The lists. */
export class SpillLists {
  /** The buffer of each list, and a u32 view of it. */
  readonly u8: Uint8Array[] = [];
  readonly u32: Uint32Array[] = [];
  /** Bytes buffered per list. */
  readonly fill: Int32Array;
  /** Usable bytes of each buffer (a multiple of the list's record width). */
  readonly cap: Int32Array;
  /** Bytes appended per list (flushed or not). */
  readonly size: Float64Array;
  /** Chunks of each list: file position, length, position, length, … */
  private chunks: number[][] = [];
  private end = 0;

  constructor(
    private readonly file: ScratchFile,
    readonly count: number,
    bufBytes: number,
  ) {
    const b = Math.max(16, bufBytes - (bufBytes % 4));
    this.fill = new Int32Array(count);
    this.cap = new Int32Array(count);
    this.size = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const u32 = new Uint32Array(b >>> 2);
      this.u32.push(u32);
      this.u8.push(new Uint8Array(u32.buffer));
      this.cap[i] = b;
      this.chunks.push([]);
    }
  }

  /** Makes the buffer of `list` hold whole records of `width` bytes (a multiple of 4). */
  setWidth(list: number, width: number): void {
    let len = this.u8[list]!.length;
    if (len < width) {
      const u32 = new Uint32Array(width >>> 2);
      this.u32[list] = u32;
      this.u8[list] = new Uint8Array(u32.buffer);
      len = width;
    }
    this.cap[list] = len - (len % width);
  }

  /** Empties `list` (its chunks' file space is not reused until {@link clearAll}). */
  clear(list: number): void {
    this.fill[list] = 0;
    this.size[list] = 0;
    this.chunks[list] = [];
  }

  /** Empties every list and starts the file over. */
  clearAll(): void {
    for (let i = 0; i < this.count; i++) this.clear(i);
    this.end = 0;
  }

  /** Writes the buffer of `list` out as a chunk. */
  flush(list: number): void {
    const n = this.fill[list]!;
    if (n === 0) return;
    this.file.write(this.u8[list]!, 0, n, this.end);
    this.chunks[list]!.push(this.end, n);
    this.end += n;
    this.fill[list] = 0;
  }

  flushAll(): void {
    for (let i = 0; i < this.count; i++) this.flush(i);
  }

  /** Appends src[s, e) to `list` (as its own chunk when larger than the buffer). */
  write(list: number, src: Uint8Array, s: number, e: number): void {
    const len = e - s;
    let n = this.fill[list]!;
    if (n + len > this.cap[list]!) {
      this.flush(list);
      n = 0;
      if (len > this.cap[list]!) {
        this.file.write(src, s, e, this.end);
        this.chunks[list]!.push(this.end, len);
        this.end += len;
        this.size[list]! += len;
        return;
      }
    }
    const dst = this.u8[list]!;
    if (len <= 32) for (let i = 0; i < len; i++) dst[n + i] = src[s + i]!;
    else dst.set(src.subarray(s, e), n);
    this.fill[list] = n + len;
    this.size[list]! += len;
  }

  /** Number of chunks of `list` (flush it first). */
  chunkCount(list: number): number {
    return this.chunks[list]!.length >>> 1;
  }

  /** Length of chunk `i` of `list`. */
  chunkLength(list: number, i: number): number {
    return this.chunks[list]![2 * i + 1]!;
  }

  /** Reads chunk `i` of `list` into `dst` at `at`; returns its length. */
  readChunk(list: number, i: number, dst: Uint8Array, at: number): number {
    const c = this.chunks[list]!;
    const len = c[2 * i + 1]!;
    this.file.read(dst, at, at + len, c[2 * i]!);
    return len;
  }

  /** Reads `n` bytes of chunk `i` of `list` from its byte `off` into `dst` at `at`. */
  readPart(list: number, i: number, off: number, dst: Uint8Array, at: number, n: number): void {
    this.file.read(dst, at, at + n, this.chunks[list]![2 * i]! + off);
  }
}

/**
 * Reads one list of a {@link SpillLists} as a byte stream through a buffer:
 * `copyTo` and `skip` move on; `rewind` starts over.
 */
export class ListReader {
  private readonly buf: Uint8Array;
  /** Stream position of buf[0], and the bytes valid in buf. */
  private bufStart = 0;
  private bufLen = 0;
  /** Stream position of the next byte. */
  pos = 0;
  private list = 0;
  /** The chunk holding `pos` (or before it), and the stream position of its first byte. */
  private chunk = 0;
  private chunkBase = 0;

  constructor(
    private readonly lists: SpillLists,
    bufBytes: number,
  ) {
    this.buf = new Uint8Array(Math.max(16, bufBytes));
  }

  /** Starts reading `list` from its beginning. */
  open(list: number): void {
    this.list = list;
    this.pos = 0;
    this.bufStart = 0;
    this.bufLen = 0;
    this.chunk = 0;
    this.chunkBase = 0;
  }

  /** Copies the next `len` bytes to dst at `at`. */
  copyTo(dst: Uint8Array, at: number, len: number): void {
    while (len > 0) {
      let off = this.pos - this.bufStart;
      if (off < 0 || off >= this.bufLen) {
        this.fillAt(this.pos);
        off = 0;
      }
      const n = Math.min(len, this.bufLen - off);
      const b = this.buf;
      if (n <= 32) for (let i = 0; i < n; i++) dst[at + i] = b[off + i]!;
      else dst.set(b.subarray(off, off + n), at);
      at += n;
      len -= n;
      this.pos += n;
    }
  }

  skip(len: number): void {
    this.pos += len;
  }

  private fillAt(pos: number): void {
    const lists = this.lists;
    const list = this.list;
    if (pos < this.chunkBase) {
      this.chunk = 0;
      this.chunkBase = 0;
    }
    const chunks = lists.chunkCount(list);
    while (this.chunk < chunks && pos >= this.chunkBase + lists.chunkLength(list, this.chunk)) {
      this.chunkBase += lists.chunkLength(list, this.chunk);
      this.chunk++;
    }
    if (this.chunk >= chunks) throw new Error('spill list read past its end');
    const off = pos - this.chunkBase;
    const n = Math.min(this.buf.length, lists.chunkLength(list, this.chunk) - off);
    lists.readPart(list, this.chunk, off, this.buf, 0, n);
    this.bufStart = pos;
    this.bufLen = n;
  }
}
