/**
 * `DiscoDB`: an opened discodb image. Lookups go through the CHD perfect hash
 * (or a small scan/index for unhashed files); value lists are decoded lazily.
 */
import * as fs from 'node:fs';
import { DiscoDBError, corrupt } from '../errors.js';
import { ChdHash } from '../format/chd.js';
import { Codebook } from '../format/huffman.js';
import { F_COMPRESSED, F_HASH, F_MULTISET, HEADER_SIZE, CODEBOOK_SIZE, parseHeader, type Header } from '../format/header.js';
import { hasHighByte } from '../format/jenkins.js';
import { DeltaCursor, EMPTY_CURSOR, SkipIndex, type IdCursor, type SkipIndexSource } from './cursor.js';
import { Inquiry, emptyInquiry } from './inquiry.js';
import { openSource, type SourceOptions } from './open.js';
import { ImageSource, type SourceKind } from './source.js';
import type { Q } from '../query/q.js';
import { buildBuffer, buildFile, type BuildInput } from '../writer/from.js';
import type { WriterOptions } from '../writer/options.js';
import { makeView, metaquery, query, type DiscoDBView, type QueryOptions } from '../query/engine.js';

/** A key or value given to the API: a string (UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

/** How keys and values are returned: UTF-8 strings (default) or Buffers. */
export type Encoding = 'utf8' | 'buffer';

/** Options of {@link DiscoDB.open} and {@link DiscoDB.fromBuffer}. */
export interface OpenOptions<E extends Encoding = Encoding> extends SourceOptions {
  /** `'utf8'` (default) returns strings; `'buffer'` returns Buffers (zero-copy for uncompressed values). */
  encoding?: E;
}

/** The C library's `ddb_features`, plus where the image came from. */
export interface DiscoDBInfo {
  numKeys: number;
  numUniqueValues: number;
  numValues: number;
  totalSize: number;
  valuesSize: number;
  itemsSize: number;
  compressed: boolean;
  hashed: boolean;
  multiset: boolean;
}

/** What {@link DiscoDB.check} walked. */
export interface CheckReport {
  keys: number;
  uniqueValues: number;
  values: number;
  bytes: number;
}


const UNHASHED_SCAN_MAX = 32;
/** Memory for cached skip indexes (12 bytes per 128 ids of each long list sought in). */
const SKIP_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * An immutable discodb opened from a file or a buffer.
 *
 * @typeParam V - the type keys and values come back as (`string` or `Buffer`)
 */
export class DiscoDB<V extends string | Buffer = string> implements SkipIndexSource {
  /** @internal */ src: ImageSource;
  /** The parsed header. */
  readonly header: Readonly<Header>;
  /** How keys and values are returned. */
  readonly encoding: Encoding;
  private readonly keyToc: number;
  private readonly keyTocEnd: number;
  private readonly valToc: number;
  private readonly valTocEnd: number;
  /** The whole image when it is one buffer (mmap or caller's), for allocation-free fast paths. */
  private readonly whole: Buffer | null;
  private readonly dv: DataView | null;
  private readonly compressed: boolean;
  private chd: ChdHash | null = null;
  private codebook: Codebook | null = null;
  private unhashedIndex: Map<string, number> | null = null;
  /** Skip indexes of long lists, least recently built first; bounded by SKIP_CACHE_BYTES. */
  private skipCache = new Map<number, SkipIndex>();
  private skipCacheBytes = 0;
  private closed = false;

  private constructor(src: ImageSource, encoding: Encoding) {
    this.src = src;
    this.encoding = encoding;
    const head = src.bytes(0, Math.min(src.length, HEADER_SIZE));
    const h = parseHeader(new DataView(head.buffer, head.byteOffset, head.byteLength), src.length);
    this.header = Object.freeze(h);
    this.whole = src.whole as Buffer | null;
    this.dv = src.whole ? new DataView(src.whole.buffer, src.whole.byteOffset, src.whole.byteLength) : null;
    this.compressed = (h.flags & F_COMPRESSED) !== 0;
    this.keyToc = h.key2valuesOffset;
    this.keyTocEnd = h.key2valuesOffset + 8 * (h.numKeys + 1);
    this.valToc = h.id2valueOffset;
    this.valTocEnd = h.id2valueOffset + 8 * (h.numUniqueValues + 1);
    if (h.flags & F_HASH) {
      if (h.numKeys === 0) throw corrupt('hashed db with no keys', 32);
      this.chd = this.loadHash(h);
    }
  }

  /**
   * Opens a db file by memory mapping it (or by positioned reads when the
   * image is 2 GiB or more, which the mmap addon cannot map).
   */
  static open(path: string, options?: OpenOptions<'utf8'>): DiscoDB<string>;
  static open(path: string, options: OpenOptions<'buffer'>): DiscoDB<Buffer>;
  static open(path: string, options: OpenOptions = {}): DiscoDB<string> | DiscoDB<Buffer> {
    const encoding = checkEncoding(options.encoding);
    const src = openSource(path, options);
    try {
      return new DiscoDB<string>(src, encoding) as DiscoDB<string> | DiscoDB<Buffer>;
    } catch (err) {
      src.close();
      if (err instanceof DiscoDBError && err.path === undefined) {
        throw new DiscoDBError(err.code, `${path}: ${err.message}`, { ...err, path, cause: err });
      }
      throw err;
    }
  }

  /** Opens an image held in memory (the C library's `loads`). The buffer is used, not copied. */
  static fromBuffer(buf: Uint8Array, options?: OpenOptions<'utf8'>): DiscoDB<string>;
  static fromBuffer(buf: Uint8Array, options: OpenOptions<'buffer'>): DiscoDB<Buffer>;
  static fromBuffer(buf: Uint8Array, options: OpenOptions = {}): DiscoDB<string> | DiscoDB<Buffer> {
    if (!(buf instanceof Uint8Array)) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'fromBuffer expects a Buffer or Uint8Array');
    }
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > buf.byteLength) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `offset ${String(offset)} is outside the buffer of ${buf.byteLength} bytes`);
    }
    const asBuffer = Buffer.from(buf.buffer, buf.byteOffset + offset, buf.byteLength - offset);
    return new DiscoDB<string>(ImageSource.fromBuffer(asBuffer), checkEncoding(options.encoding)) as DiscoDB<string> | DiscoDB<Buffer>;
  }

  /**
   * Builds a db in memory, like the Python binding's `DiscoDB(data)`: from an
   * object (`{ key: value | values[] | null }`), a `Map`, or an iterable of
   * records (`{ key, value }`, `{ key, values }`, `[key, value]`, `{ key }`).
   * The bytes are those the C library writes for the same adds in the same order.
   */
  static from(data: BuildInput, options?: WriterOptions & OpenOptions<'utf8'>): DiscoDB<string>;
  static from(data: BuildInput, options: WriterOptions & OpenOptions<'buffer'>): DiscoDB<Buffer>;
  static from(data: BuildInput, options: WriterOptions & OpenOptions = {}): DiscoDB<string> | DiscoDB<Buffer> {
    const image = buildBuffer(data, options);
    return new DiscoDB<string>(ImageSource.fromBuffer(image), checkEncoding(options.encoding)) as DiscoDB<string> | DiscoDB<Buffer>;
  }

  /**
   * Streams records (an iterable, async iterable or object-mode Readable) into
   * a db file at `path` in bounded memory (`memoryLimit`), then opens it.
   */
  static build(records: Iterable<unknown> | AsyncIterable<unknown>, path: string, options?: WriterOptions & OpenOptions<'utf8'>): Promise<DiscoDB<string>>;
  static build(records: Iterable<unknown> | AsyncIterable<unknown>, path: string, options: WriterOptions & OpenOptions<'buffer'>): Promise<DiscoDB<Buffer>>;
  static async build(
    records: Iterable<unknown> | AsyncIterable<unknown>,
    path: string,
    options: WriterOptions & OpenOptions = {},
  ): Promise<DiscoDB<string> | DiscoDB<Buffer>> {
    const encoding = checkEncoding(options.encoding);
    await buildFile(records, path, options);
    return DiscoDB.open(path, { encoding: encoding as 'utf8', mmap: options.mmap });
  }

  private loadHash(h: Header): ChdHash {
    const start = h.hashOffset;
    const limit = h.size;
    if (this.src.whole) return new ChdHash(this.src.whole, start, limit);
    // pread route: bring the (small) hash section into memory once.
    const crSize = this.src.u32(start + 4);
    const phAt = start + 8 + crSize;
    const phSize = this.src.u32(phAt);
    const len = 12 + crSize + phSize;
    if (start + len > limit) throw corrupt('hash section runs past the image', start);
    return new ChdHash(this.src.bytes(start, len), 0, len);
  }

  private live(): ImageSource {
    if (this.closed) throw new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
    return this.src;
  }

  /** How the image is read: `'mmap'`, `'buffer'` or `'pread'`. */
  get route(): SourceKind {
    return this.src.kind;
  }

  /** Number of keys. */
  get size(): number {
    return this.header.numKeys;
  }

  /** Number of distinct values (value ids are 1..numUniqueValues). */
  get numUniqueValues(): number {
    return this.header.numUniqueValues;
  }

  /** True when some key holds a value more than once. */
  get isMultiset(): boolean {
    return (this.header.flags & F_MULTISET) !== 0;
  }

  /** The C library's features of this db. */
  info(): DiscoDBInfo {
    const src = this.live();
    const h = this.header;
    const keysStart = src.u64(this.keyToc);
    const keysEnd = src.u64(this.keyToc + 8 * h.numKeys);
    const valsStart = src.u64(this.valToc);
    const valsEnd = src.u64(this.valToc + 8 * h.numUniqueValues);
    return {
      numKeys: h.numKeys,
      numUniqueValues: h.numUniqueValues,
      numValues: h.numValues,
      totalSize: h.size,
      valuesSize: valsEnd - valsStart,
      itemsSize: keysEnd - keysStart,
      compressed: (h.flags & F_COMPRESSED) !== 0,
      hashed: (h.flags & F_HASH) !== 0,
      multiset: (h.flags & F_MULTISET) !== 0,
    };
  }

  // ---------------------------------------------------------------- records

  /** The last record located by {@link locateRecord}: validated extent and key length. */
  private recStart = 0;
  private recEnd = 0;
  private recKeyLength = 0;

  /**
   * Validates record `i` (its extent inside the key section, its key length
   * inside the record) into recStart/recEnd/recKeyLength, without allocating.
   */
  private locateRecord(i: number): void {
    const src = this.live();
    const start = src.u64(this.keyToc + 8 * i);
    const end = src.u64(this.keyToc + 8 * i + 8);
    if (start < this.keyTocEnd || end < start + 8 || end > this.header.size) {
      throw corrupt(`key record ${i} has an invalid extent [${start}, ${end})`, this.keyToc + 8 * i);
    }
    const len = src.u32(start);
    if (len > end - start - 8) throw corrupt(`key record ${i}: key length ${len} overruns the record`, start);
    this.recStart = start;
    this.recEnd = end;
    this.recKeyLength = len;
  }

  /** Byte range [start, end) of record `i`, validated. @internal */
  recordRange(i: number): [number, number] {
    this.locateRecord(i);
    return [this.recStart, this.recEnd];
  }

  /** Key bytes of record `i`. @internal */
  keyBytes(i: number): Uint8Array {
    this.locateRecord(i);
    return this.src.bytes(this.recStart + 4, this.recKeyLength);
  }

  /** Number of ids stored in record `i` (duplicates included, as the C resultset size). */
  listCount(record: number): number {
    if (record < 0) return 0;
    this.locateRecord(record);
    return this.src.u32(this.recStart + 4 + this.recKeyLength);
  }

  /** A fresh cursor over the ascending value ids of record `record` (empty for -1). */
  idCursor(record: number): IdCursor {
    if (record < 0) return EMPTY_CURSOR;
    const src = this.src;
    this.locateRecord(record);
    const end = this.recEnd;
    const len = this.recKeyLength;
    const start = this.recStart;
    const countAt = start + 4 + len;
    const count = src.u32(countAt);
    if (count === 0) return EMPTY_CURSOR;
    const streamStart = countAt + 4;
    const streamLen = end - streamStart;
    if (streamLen < 1) throw corrupt(`key record ${record}: ${count} ids but no bit stream`, countAt);
    const width = (src.bytes(streamStart, 1)[0]! & 31) + 1;
    const needed = Math.ceil((5 + count * width) / 8);
    if (needed > streamLen) {
      throw corrupt(`key record ${record}: ${count} ids of ${width} bits need ${needed} bytes, the record has ${streamLen}`, countAt);
    }
    if (src.whole) return new DeltaCursor(src.whole, streamStart, streamStart + needed, count, width, this, record);
    return new DeltaCursor(src.bytes(streamStart, needed), 0, needed, count, width, this, record);
  }

  /**
   * @internal The skip index of a long list, built on its first long seek and
   * cached (at most SKIP_CACHE_BYTES for the whole db, oldest dropped first).
   */
  skipIndex(record: number): SkipIndex {
    let index = this.skipCache.get(record);
    if (index === undefined) {
      const sampler = this.idCursor(record) as DeltaCursor;
      index = SkipIndex.build(sampler);
      this.skipCache.set(record, index);
      this.skipCacheBytes += index.bytes;
      for (const [old, dropped] of this.skipCache) {
        if (this.skipCacheBytes <= SKIP_CACHE_BYTES || old === record) break;
        this.skipCache.delete(old);
        this.skipCacheBytes -= dropped.bytes;
      }
    }
    return index;
  }

  /** Record index of `key`, or -1 when it is absent. */
  findKey(key: Uint8Array): number {
    this.live();
    const n = this.header.numKeys;
    if (n === 0) return -1;
    if (this.chd) {
      const i = this.chd.lookup(key);
      if (i < n && this.recordKeyEquals(i, key)) return i;
      // Files hashed by CMPH < 2.0 with bytes ≥ 0x80 in keys: retry the legacy Jenkins (spec §6.4).
      if (hasHighByte(key)) {
        const j = this.chd.lookup(key, true);
        if (j < n && j !== i && this.recordKeyEquals(j, key)) return j;
      }
      return -1;
    }
    if (n <= UNHASHED_SCAN_MAX) {
      for (let i = n - 1; i >= 0; i--) if (this.recordKeyEquals(i, key)) return i;
      return -1;
    }
    if (!this.unhashedIndex) {
      const index = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const k = latin1(this.keyBytes(i));
        if (!index.has(k)) index.set(k, i);
      }
      this.unhashedIndex = index;
    }
    return this.unhashedIndex.get(latin1(key)) ?? -1;
  }

  private recordKeyEquals(i: number, key: Uint8Array): boolean {
    this.locateRecord(i);
    const len = this.recKeyLength;
    if (len !== key.length) return false;
    const stored = this.src.bytes(this.recStart + 4, len);
    for (let j = 0; j < len; j++) if (stored[j] !== key[j]) return false;
    return true;
  }

  // ----------------------------------------------------------------- values

  /** Raw (decompressed) bytes of value `id` (1..numUniqueValues). */
  valueBytes(id: number): Buffer {
    const src = this.live();
    const u = this.header.numUniqueValues;
    if (!(id >= 1 && id <= u)) throw corrupt(`value id ${id} is outside 1..${u}`, this.valToc);
    const at = this.valToc + 8 * (id - 1);
    const start = src.u64(at);
    const end = src.u64(at + 8);
    if (start < this.valTocEnd || end < start || end > this.header.size) {
      throw corrupt(`value ${id} has an invalid extent [${start}, ${end})`, at);
    }
    if (this.header.flags & F_COMPRESSED) {
      const cb = this.codebook ?? this.loadCodebook();
      if (src.whole) return cb.decode(src.whole, start, end);
      return cb.decode(src.bytes(start, end - start), 0, end - start);
    }
    return src.bytes(start, end - start) as Buffer;
  }

  private loadCodebook(): Codebook {
    const off = this.header.codebookOffset;
    this.codebook = this.src.whole ? new Codebook(this.src.whole, off) : new Codebook(this.src.bytes(off, CODEBOOK_SIZE), 0);
    return this.codebook;
  }

  /** Value `id` in this db's encoding. */
  valueById(id: number): V {
    const dv = this.dv;
    if (dv !== null && !this.compressed && !this.closed && id >= 1 && id <= this.header.numUniqueValues) {
      // Hot path: read the two TOC entries and slice the mapping directly.
      const at = this.valToc + 8 * (id - 1);
      const start = dv.getUint32(at, true);
      const end = dv.getUint32(at + 8, true);
      if (dv.getUint32(at + 4, true) === 0 && dv.getUint32(at + 12, true) === 0 && start >= this.valTocEnd && start <= end && end <= this.header.size) {
        const whole = this.whole!;
        return (this.encoding === 'buffer' ? whole.subarray(start, end) : whole.toString('utf8', start, end)) as V;
      }
    }
    return this.decode(this.valueBytes(id));
  }

  /** @internal */
  decode(bytes: Uint8Array): V {
    const buf = bytes as Buffer;
    return (this.encoding === 'buffer' ? buf : buf.toString('utf8')) as V;
  }

  /** Converts a key given as a string (UTF-8) or bytes to bytes. */
  toKeyBytes(key: Bytes): Uint8Array {
    if (typeof key === 'string') return Buffer.from(key, 'utf8');
    if (key instanceof Uint8Array) return key;
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a key must be a string or a Uint8Array, got ${describe(key)}`);
  }

  // ----------------------------------------------------------- public reads

  /** True when `key` is stored (even with no values). */
  has(key: Bytes): boolean {
    return this.findKey(this.toKeyBytes(key)) >= 0;
  }

  /** The values of `key`, ascending by value id; an empty Inquiry when the key is absent. */
  get(key: Bytes): Inquiry<V> {
    const record = this.findKey(this.toKeyBytes(key));
    if (record < 0) return emptyInquiry<V>();
    return this.recordValues(record);
  }

  /** The first value of `key`, or `fallback`. */
  peek(key: Bytes): V | undefined;
  peek<F>(key: Bytes, fallback: F): V | F;
  peek<F>(key: Bytes, fallback?: F): V | F | undefined {
    const record = this.findKey(this.toKeyBytes(key));
    if (record < 0) return fallback;
    const id = this.idCursor(record).next();
    return id === 0 ? fallback : this.valueById(id);
  }

  /** @internal Values of one record as an Inquiry. */
  recordValues(record: number): Inquiry<V> {
    return new Inquiry<V>(
      () => new ValueIterator<V>(this, this.idCursor(record)),
      () => this.listCount(record),
    );
  }

  /** All keys, in stored order (insertion order if unhashed, hash order if hashed). */
  keys(): Inquiry<V> {
    const n = this.header.numKeys;
    return new Inquiry<V>(
      () => new RangeIterator<V>(n, (i) => this.decode(this.keyBytes(i))),
      () => n,
    );
  }

  /** Every distinct value, in value-id (first-insertion) order. */
  uniqueValues(): Inquiry<V> {
    const u = this.header.numUniqueValues;
    return new Inquiry<V>(
      () => new RangeIterator<V>(u, (i) => this.valueById(i + 1)),
      () => u,
    );
  }

  /** Every stored (key, value) item's value: keys in stored order, each key's values ascending. */
  values(): Inquiry<V> {
    const n = this.header.numKeys;
    return new Inquiry<V>(
      () => new AllValuesIterator<V>(this, n),
      () => this.header.numValues,
    );
  }

  /** Every key with its values, in stored order. */
  items(): Inquiry<[V, Inquiry<V>]> {
    const n = this.header.numKeys;
    return new Inquiry<[V, Inquiry<V>]>(
      () => new RangeIterator<[V, Inquiry<V>]>(n, (i) => [this.decode(this.keyBytes(i)), this.recordValues(i)]),
      () => n,
    );
  }

  /** The image bytes (a view of the buffer or mapping; a copy on the pread route). */
  toBuffer(): Buffer {
    const src = this.live();
    return src.bytes(0, this.header.size) as Buffer;
  }

  /** Writes the image to `path` atomically (temp file, fsync, rename). */
  async dump(path: string): Promise<void> {
    const src = this.live();
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    const fh = await fs.promises.open(tmp, 'wx');
    try {
      const chunk = 8 * 1024 * 1024;
      for (let off = 0; off < this.header.size; off += chunk) {
        const bytes = src.bytes(off, Math.min(chunk, this.header.size - off));
        await fh.write(bytes, 0, bytes.length);
      }
      await fh.sync();
      await fh.close();
      await fs.promises.rename(tmp, path);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fs.promises.rm(tmp, { force: true });
      throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${path}: ${(err as Error).message}`, { path, cause: err });
    }
  }

  /** Releases the mapping or file descriptor; later calls throw ERR_DISCODB_CLOSED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.close();
    this.codebook = null;
    this.unhashedIndex = null;
    this.skipCache.clear();
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Walks the whole image and throws a DiscoDBError (ERR_DISCODB_CORRUPT) at
   * the first inconsistency: extents, list encodings, value ids, counts,
   * flags, compressed values and the perfect hash of every key.
   */
  check(): CheckReport {
    this.live();
    return checkImage(this);
  }

  // ------------------------------------------------ queries (lib/query hooks)

  /**
   * Values matching a CNF query, ascending by value id, each once (spec §7.4).
   * `q` is a {@link Q} or a string for `Q.parse` (`'pets & ~aquatic'`).
   * With `{ view }`, only values in the view (or in an iterable of values).
   */
  query(q: Q | string, options?: QueryOptions): Inquiry<V> {
    return query(this, q, options);
  }

  /** Expands dereferences into one `[Q, values]` pair per combination, like the Python binding's metaquery. */
  metaquery(q: Q | string): Iterable<[Q, Inquiry<V>]> {
    return metaquery(this, q);
  }

  /** A view: the ids of the given values found in this db (`view.size`); values absent from the db are ignored. */
  makeView(values: Iterable<Bytes>): DiscoDBView {
    return makeView(this, values);
  }

  /** Allows `for (const [key, values] of db)`. */
  [Symbol.iterator](): Iterator<[V, Inquiry<V>]> {
    return this.items()[Symbol.iterator]();
  }
}

// ------------------------------------------------------------------ iterators

/** Values of one cursor, decoded as they are reached. */
class ValueIterator<V extends string | Buffer> implements Iterator<V> {
  constructor(
    private readonly db: DiscoDB<V>,
    private readonly cursor: IdCursor,
  ) {}
  next(): IteratorResult<V> {
    const id = this.cursor.next();
    if (id === 0) return { done: true, value: undefined };
    return { done: false, value: this.db.valueById(id) };
  }
}

/** 0..n-1 mapped through `at`. */
class RangeIterator<T> implements Iterator<T> {
  private i = 0;
  constructor(
    private readonly n: number,
    private readonly at: (i: number) => T,
  ) {}
  next(): IteratorResult<T> {
    if (this.i >= this.n) return { done: true, value: undefined };
    return { done: false, value: this.at(this.i++) };
  }
  return(): IteratorResult<T> {
    this.i = this.n;
    return { done: true, value: undefined };
  }
}

/** Every record's values in record order. */
class AllValuesIterator<V extends string | Buffer> implements Iterator<V> {
  private record = -1;
  private cursor: IdCursor = EMPTY_CURSOR;
  constructor(
    private readonly db: DiscoDB<V>,
    private readonly n: number,
  ) {}
  next(): IteratorResult<V> {
    for (;;) {
      const id = this.cursor.next();
      if (id !== 0) return { done: false, value: this.db.valueById(id) };
      if (++this.record >= this.n) return { done: true, value: undefined };
      this.cursor = this.db.idCursor(this.record);
    }
  }
  return(): IteratorResult<V> {
    this.record = this.n;
    this.cursor = EMPTY_CURSOR;
    return { done: true, value: undefined };
  }
}

// -------------------------------------------------------------------- helpers

function checkEncoding(e: unknown): Encoding {
  if (e === undefined || e === 'utf8' || e === 'buffer') return e ?? 'utf8';
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `encoding must be 'utf8' or 'buffer', got ${describe(e)}`);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A short description of a value for error messages. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return `an object (${(x as object).constructor?.name ?? 'Object'})`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

// The structural check lives in its own module; imported last to avoid a cycle at load.
import { checkImage } from './check.js';
