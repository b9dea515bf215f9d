/**
 * `ImageReader`: one opened discodb image, the backend behind a `DiscoDB`.
 * It owns the byte source and composes the parts that each do one job:
 * the record locator (records.ts), key lookup (keys.ts), value decoding
 * (values.ts) and the iterators (iterators.ts). The query engine reads it
 * through its cursor/record API (`findKey`, `listCount`, `idCursor`,
 * `valueById`, `valueBytes`).
 */
import { DiscoDBError, corrupt } from '../errors.js';
import { ChdHash } from '../format/chd.js';
import { F_COMPRESSED, F_HASH, F_MULTISET, HEADER_SIZE, parseHeader, type Header } from '../format/header.js';
import { checkImage } from './check.js';
import { SkipIndex, type DeltaCursor, type IdCursor, type SkipIndexSource } from './cursor.js';
import { Inquiry, emptyInquiry } from './inquiry.js';
import { AllValuesIterator, RangeIterator, RecordValues, firstValue, type ValueSource } from './iterators.js';
import { KeyEncoder, KeyFinder } from './keys.js';
import { RecordLocator } from './records.js';
import type { DiscoDBBackend } from './backend.js';
import type { ImageSource } from './source.js';
import type { Bytes, CheckReport, DiscoDBInfo, Encoding, SourceKind } from './types.js';
import { ValueReader } from './values.js';

/** Memory for cached skip indexes (12 bytes per 128 ids of each long list sought in). */
const SKIP_CACHE_BYTES = 16 * 1024 * 1024;

/** One encoder for all readers: lookups are synchronous and never keep the scratch bytes. */
const keyEncoder = new KeyEncoder();

export class ImageReader<V extends string | Buffer = string> implements DiscoDBBackend<V>, SkipIndexSource, ValueSource<V> {
  /** @internal */ readonly src: ImageSource;
  readonly header: Readonly<Header>;
  readonly encoding: Encoding;
  /** @internal */ readonly records: RecordLocator;
  /** @internal */ readonly valueReader: ValueReader<V>;
  private keys_: KeyFinder;
  private chd: ChdHash | null = null;
  /** Skip indexes of long lists, least recently built first; bounded by SKIP_CACHE_BYTES. */
  private skipCache = new Map<number, SkipIndex>();
  private skipCacheBytes = 0;
  private closed = false;

  /** Parses the header (and hash section) of `src`; throws ERR_DISCODB_CORRUPT when they are wrong. */
  constructor(src: ImageSource, encoding: Encoding) {
    this.src = src;
    this.encoding = encoding;
    const head = src.bytes(0, Math.min(src.length, HEADER_SIZE));
    const h = parseHeader(new DataView(head.buffer, head.byteOffset, head.byteLength), src.length);
    this.header = Object.freeze(h);
    this.records = new RecordLocator(src, h);
    this.valueReader = new ValueReader<V>(src, h, encoding);
    if (h.flags & F_HASH) {
      if (h.numKeys === 0) throw corrupt('hashed db with no keys', 32);
      this.chd = this.loadHash(h);
    }
    this.keys_ = new KeyFinder(this.records, this.chd, () => this.buildTables());
  }

  /** The reader's lookup tables beyond the key finder's: the value TOC copy. */
  private buildTables(): void {
    this.valueReader.indexNow();
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

  private live(): void {
    if (this.closed) throw new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
  }

  get route(): SourceKind {
    return this.src.kind;
  }

  get size(): number {
    return this.header.numKeys;
  }

  get numUniqueValues(): number {
    return this.header.numUniqueValues;
  }

  get isMultiset(): boolean {
    return (this.header.flags & F_MULTISET) !== 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The file the image was opened from, or null. */
  get path(): string | null {
    return this.src.file?.path ?? null;
  }

  info(): DiscoDBInfo {
    this.live();
    const src = this.src;
    const h = this.header;
    const keysStart = src.u64(h.key2valuesOffset);
    const keysEnd = src.u64(h.key2valuesOffset + 8 * h.numKeys);
    const valsStart = src.u64(h.id2valueOffset);
    const valsEnd = src.u64(h.id2valueOffset + 8 * h.numUniqueValues);
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

  // ---------------------------------------------------- record/cursor API

  /** Record index of `key`, or -1 when it is absent. */
  findKey(key: Uint8Array): number {
    this.live();
    return this.keys_.find(key, key.length);
  }

  /** Record index of a key given as a string or bytes (strings go through the scratch encoder). */
  find(key: Bytes): number {
    this.live();
    const bytes = keyEncoder.encode(key);
    return this.keys_.find(bytes, keyEncoder.length);
  }

  /** Number of ids stored in record `record` (0 for -1). */
  listCount(record: number): number {
    if (record < 0) return 0;
    this.live();
    return this.records.listCount(record);
  }

  /** A fresh cursor over the ascending value ids of record `record` (empty for -1). */
  idCursor(record: number): IdCursor {
    this.live();
    return this.records.idCursor(record, this);
  }

  /** Key bytes of record `i`. */
  keyBytes(i: number): Buffer {
    this.live();
    return this.records.keyBytes(i);
  }

  /** Key of record `i` in this db's encoding. */
  keyAt(i: number): V {
    this.live();
    return (this.encoding === 'buffer' ? this.records.keyBytes(i) : this.records.keyString(i)) as V;
  }

  /** @internal The skip index of a long list, built on its first long seek and cached. */
  skipIndex(record: number): SkipIndex {
    let index = this.skipCache.get(record);
    if (index === undefined) {
      const sampler = this.records.idCursor(record, null) as DeltaCursor;
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

  /** Raw (decompressed) bytes of value `id` (1..numUniqueValues). */
  valueBytes(id: number): Buffer {
    this.live();
    return this.valueReader.bytes(id);
  }

  /** Loads the values `ids[0, n)` into cache together, before they are read one by one (a hint). */
  prefetchValues(ids: Float64Array, n: number): void {
    if (!this.closed) this.valueReader.prefetch(ids, n);
  }

  /** Value `id` in this db's encoding. */
  valueById(id: number): V {
    if (this.closed) this.live();
    return this.valueReader.value(id);
  }

  // ------------------------------------------------------------- reads

  has(key: Bytes): boolean {
    return this.find(key) >= 0;
  }

  get(key: Bytes): Inquiry<V> {
    const record = this.find(key);
    if (record < 0) return emptyInquiry<V>();
    return new RecordValues<V>(this, record);
  }

  peek<F>(key: Bytes, fallback: F): V | F {
    const record = this.find(key);
    if (record < 0) return fallback;
    const v = firstValue(this, record);
    return v === undefined ? fallback : v;
  }

  /** Values of record `record` as an Inquiry. */
  recordValues(record: number): Inquiry<V> {
    return new RecordValues<V>(this, record);
  }

  keys(): Inquiry<V> {
    const n = this.header.numKeys;
    return new Inquiry<V>(
      () => {
        this.live();
        return new RangeIterator<V>(n, (i) => this.keyAt(i));
      },
      () => n,
    );
  }

  uniqueValues(): Inquiry<V> {
    const u = this.header.numUniqueValues;
    return new Inquiry<V>(
      () => {
        this.live();
        return new RangeIterator<V>(u, (i) => this.valueById(i + 1));
      },
      () => u,
    );
  }

  values(): Inquiry<V> {
    const n = this.header.numKeys;
    return new Inquiry<V>(
      () => new AllValuesIterator<V>(this, n),
      () => this.header.numValues,
    );
  }

  items(): Inquiry<[V, Inquiry<V>]> {
    const n = this.header.numKeys;
    return new Inquiry<[V, Inquiry<V>]>(
      () => {
        this.live();
        return new RangeIterator<[V, Inquiry<V>]>(n, (i) => [this.keyAt(i), new RecordValues<V>(this, i)]);
      },
      () => n,
    );
  }

  /** The image bytes (a view of the buffer or mapping; a copy on the pread route). */
  toBuffer(): Buffer {
    this.live();
    return this.src.bytes(0, this.header.size);
  }

  /** The image bytes in chunks of at most `chunk` bytes (views or copies), for writing it out. */
  *imageChunks(chunk = 8 * 1024 * 1024): Generator<Buffer> {
    this.live();
    for (let off = 0; off < this.header.size; off += chunk) {
      this.live();
      yield this.src.bytes(off, Math.min(chunk, this.header.size - off));
    }
  }

  check(): CheckReport {
    this.live();
    return checkImage(this);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.close();
    this.chd = null;
    this.keys_ = new KeyFinder(this.records, null);
    this.records.dropIndex();
    this.valueReader.dropIndex();
    this.skipCache.clear();
  }
}
