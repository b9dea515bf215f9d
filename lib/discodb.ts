/**
 * `DiscoDB`: the public face of an opened db. A thin facade: every read is
 * delegated to one backend object (`ImageReader` for one image), and the
 * higher floors are wired here — queries (lib/query) and building
 * (lib/writer) — so that lib/reader never imports them.
 */
import * as fs from 'node:fs';
import { DiscoDBError } from './errors.js';
import type { Header } from './format/header.js';
import { makeView, metaquery, query, type DiscoDBView, type QueryOptions } from './query/engine.js';
import type { Q } from './query/q.js';
import type { DiscoDBBackend } from './reader/backend.js';
import type { IdCursor } from './reader/cursor.js';
import type { Inquiry } from './reader/inquiry.js';
import { openSource, toPath } from './reader/open.js';
import { ImageReader } from './reader/reader.js';
import { MemorySource } from './reader/source.js';
import { checkEncoding, type Bytes, type CheckReport, type DiscoDBInfo, type Encoding, type OpenOptions, type Route } from './reader/types.js';
import { writeFileAtomic } from './writer/atomic-file.js';
import { buildBuffer, buildFile, type BuildInput } from './writer/from.js';
import type { WriterOptions } from './writer/options.js';

export type { Bytes, CheckReport, DiscoDBInfo, Encoding, OpenOptions, Route } from './reader/types.js';
export type { DiscoDBBackend } from './reader/backend.js';

/**
 * Optional query hooks of a backend: a backend that cannot be evaluated
 * through the record/cursor API (findKey, idCursor, ...) answers queries itself.
 */
export interface QueryingBackend<V> extends DiscoDBBackend<V> {
  query?(q: Q | string, options?: QueryOptions): Inquiry<V>;
  metaquery?(q: Q | string): Iterable<[Q, Inquiry<V>]>;
  makeView?(values: Iterable<Bytes>): DiscoDBView;
}

/**
 * Opens a directory (a sharded db) as a backend. The sharded layer sits above
 * this facade (its shards are DiscoDBs), so it is handed in from the package
 * entry (lib/index.ts) instead of imported here.
 */
type DirectoryOpener = (dir: string, options: OpenOptions) => QueryingBackend<string | Buffer>;
let openDirectory: DirectoryOpener | null = null;

/** @internal Installs how `DiscoDB.open` opens a directory (called once by lib/index.ts). */
export function setDirectoryOpener(opener: DirectoryOpener): void {
  openDirectory = opener;
}

function isDirectory(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() === true;
}

/** Opens an image file on the route its size and the options allow. */
function openReader(path: string | URL, options: OpenOptions): ImageReader<string | Buffer> {
  const encoding = checkEncoding(options.encoding);
  const file = toPath(path);
  const src = openSource(file, options);
  try {
    return new ImageReader<string | Buffer>(src, encoding);
  } catch (err) {
    src.close();
    if (err instanceof DiscoDBError && err.path === undefined) {
      throw new DiscoDBError(err.code, `${file}: ${err.message}`, { ...err, path: file, cause: err });
    }
    throw err;
  }
}

/**
 * An immutable discodb opened from a file or a buffer.
 *
 * @typeParam V - the type keys and values come back as (`string` or `Buffer`)
 */
export class DiscoDB<V extends string | Buffer = string> implements Disposable {
  /** @internal The one object every read is delegated to. */
  readonly backend: QueryingBackend<V>;

  private constructor(backend: QueryingBackend<V>) {
    this.backend = backend;
  }

  /** @internal A DiscoDB reading through `backend` (e.g. a sharded db). */
  static fromBackend<V extends string | Buffer>(backend: QueryingBackend<V>): DiscoDB<V> {
    return new DiscoDB<V>(backend);
  }

  /**
   * Opens a db file (a path or a `file:` URL) by memory mapping it, or by
   * positioned reads when the image cannot be mapped (2 GiB or more, no
   * addon, too many mappings alive) or with `{ mmap: false }`. A directory
   * holding a `discodb.json` manifest opens as one sharded db (see README,
   * "Sharded dbs and clusters"); `route` is then `'sharded'`.
   */
  static open(path: string | URL, options?: OpenOptions<'utf8'>): DiscoDB<string>;
  static open(path: string | URL, options: OpenOptions<'buffer'>): DiscoDB<Buffer>;
  static open(path: string | URL, options: OpenOptions<Encoding>): DiscoDB<string> | DiscoDB<Buffer>;
  static open(path: string | URL, options: OpenOptions = {}): DiscoDB<string> | DiscoDB<Buffer> {
    const file = toPath(path);
    if (openDirectory !== null && isDirectory(file)) {
      checkEncoding(options.encoding);
      return new DiscoDB(openDirectory(file, options)) as DiscoDB<string> | DiscoDB<Buffer>;
    }
    return new DiscoDB(openReader(file, options)) as DiscoDB<string> | DiscoDB<Buffer>;
  }

  /** Opens an image held in memory (the C library's `loads`). The buffer is used, not copied. */
  static fromBuffer(buf: Uint8Array, options?: OpenOptions<'utf8'>): DiscoDB<string>;
  static fromBuffer(buf: Uint8Array, options: OpenOptions<'buffer'>): DiscoDB<Buffer>;
  static fromBuffer(buf: Uint8Array, options: OpenOptions<Encoding>): DiscoDB<string> | DiscoDB<Buffer>;
  static fromBuffer(buf: Uint8Array, options: OpenOptions = {}): DiscoDB<string> | DiscoDB<Buffer> {
    if (!(buf instanceof Uint8Array)) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'fromBuffer expects a Buffer or Uint8Array');
    }
    const encoding = checkEncoding(options.encoding);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > buf.byteLength) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `offset ${String(offset)} is outside the buffer of ${buf.byteLength} bytes`);
    }
    const asBuffer = Buffer.from(buf.buffer, buf.byteOffset + offset, buf.byteLength - offset);
    return new DiscoDB(new ImageReader<string | Buffer>(new MemorySource(asBuffer, 'buffer'), encoding)) as DiscoDB<string> | DiscoDB<Buffer>;
  }

  /**
   * Builds a db in memory, like the Python binding's `DiscoDB(data)`: from an
   * object (`{ key: value | values[] | null }`), a `Map`, or an iterable of
   * records (`{ key, value }`, `{ key, values }`, `[key, value]`, `{ key }`).
   * The bytes are those the C library writes for the same adds in the same order.
   */
  static from(data: BuildInput, options?: WriterOptions & OpenOptions<'utf8'>): DiscoDB<string>;
  static from(data: BuildInput, options: WriterOptions & OpenOptions<'buffer'>): DiscoDB<Buffer>;
  static from(data: BuildInput, options: WriterOptions & OpenOptions<Encoding>): DiscoDB<string> | DiscoDB<Buffer>;
  static from(data: BuildInput, options: WriterOptions & OpenOptions = {}): DiscoDB<string> | DiscoDB<Buffer> {
    const encoding = checkEncoding(options.encoding);
    const image = buildBuffer(data, options);
    return new DiscoDB(new ImageReader<string | Buffer>(new MemorySource(Buffer.from(image.buffer, image.byteOffset, image.byteLength), 'buffer'), encoding)) as
      | DiscoDB<string>
      | DiscoDB<Buffer>;
  }

  /**
   * Streams records (an iterable, async iterable or object-mode Readable) into
   * a db file at `path` in bounded memory (`memoryLimit`), then opens it.
   */
  static build(records: Iterable<unknown> | AsyncIterable<unknown>, path: string, options?: WriterOptions & OpenOptions<'utf8'>): Promise<DiscoDB<string>>;
  static build(records: Iterable<unknown> | AsyncIterable<unknown>, path: string, options: WriterOptions & OpenOptions<'buffer'>): Promise<DiscoDB<Buffer>>;
  static build(
    records: Iterable<unknown> | AsyncIterable<unknown>,
    path: string,
    options: WriterOptions & OpenOptions<Encoding>,
  ): Promise<DiscoDB<string> | DiscoDB<Buffer>>;
  static async build(
    records: Iterable<unknown> | AsyncIterable<unknown>,
    path: string,
    options: WriterOptions & OpenOptions = {},
  ): Promise<DiscoDB<string> | DiscoDB<Buffer>> {
    const encoding = checkEncoding(options.encoding);
    await buildFile(records, path, options);
    return DiscoDB.open(path, { encoding, mmap: options.mmap });
  }

  /** How the image is read: `'mmap'`, `'buffer'` or `'pread'`; `'sharded'` for a directory of shards. */
  get route(): Route {
    return this.backend.route;
  }

  /** The parsed header. */
  get header(): Readonly<Header> {
    return this.backend.header;
  }

  /** How keys and values are returned. */
  get encoding(): Encoding {
    return this.backend.encoding;
  }

  /** Number of keys. */
  get size(): number {
    return this.backend.size;
  }

  /** Number of distinct values (value ids are 1..numUniqueValues). */
  get numUniqueValues(): number {
    return this.backend.numUniqueValues;
  }

  /** True when some key holds a value more than once. */
  get isMultiset(): boolean {
    return this.backend.isMultiset;
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.backend.isClosed;
  }

  /** The C library's features of this db. */
  info(): DiscoDBInfo {
    return this.backend.info();
  }

  /** True when `key` is stored (even with no values). */
  has(key: Bytes): boolean {
    return this.backend.has(key);
  }

  /** The values of `key`, ascending by value id; an empty Inquiry when the key is absent. */
  get(key: Bytes): Inquiry<V> {
    return this.backend.get(key);
  }

  /** The first value of `key`, or `fallback`. */
  peek(key: Bytes): V | undefined;
  peek<F>(key: Bytes, fallback: F): V | F;
  peek<F>(key: Bytes, fallback?: F): V | F | undefined {
    return this.backend.peek(key, fallback);
  }

  /** All keys, in stored order (insertion order if unhashed, hash order if hashed). */
  keys(): Inquiry<V> {
    return this.backend.keys();
  }

  /** Every distinct value, in value-id (first-insertion) order. */
  uniqueValues(): Inquiry<V> {
    return this.backend.uniqueValues();
  }

  /** Every stored (key, value) item's value: keys in stored order, each key's values ascending. */
  values(): Inquiry<V> {
    return this.backend.values();
  }

  /** Every key with its values, in stored order. */
  items(): Inquiry<[V, Inquiry<V>]> {
    return this.backend.items();
  }

  /** Record index of `key` (bytes), or -1 when it is absent (the query engine's entry point). */
  findKey(key: Uint8Array): number {
    return this.backend.findKey(key);
  }

  /** Number of ids stored in record `record` (duplicates included, as the C resultset size). */
  listCount(record: number): number {
    return this.backend.listCount(record);
  }

  /** A fresh cursor over the ascending value ids of record `record` (empty for -1). */
  idCursor(record: number): IdCursor {
    return this.backend.idCursor(record);
  }

  /** Value `id` (1..numUniqueValues) in this db's encoding. */
  valueById(id: number): V {
    return this.backend.valueById(id);
  }

  /** Raw (decompressed) bytes of value `id` (1..numUniqueValues). */
  valueBytes(id: number): Uint8Array {
    return this.backend.valueBytes(id);
  }

  /**
   * Values matching a CNF query, ascending by value id, each once (spec §7.4).
   * `q` is a {@link Q} or a string for `Q.parse` (`'pets & ~aquatic'`).
   * With `{ view }`, only values in the view (or in an iterable of values).
   */
  query(q: Q | string, options?: QueryOptions): Inquiry<V> {
    const b = this.backend;
    return b.query ? b.query(q, options) : query(b, q, options);
  }

  /** Expands dereferences into one `[Q, values]` pair per combination, like the Python binding's metaquery. */
  metaquery(q: Q | string): Iterable<[Q, Inquiry<V>]> {
    const b = this.backend;
    return b.metaquery ? b.metaquery(q) : metaquery(b, q);
  }

  /** A view: the ids of the given values found in this db (`view.size`); values absent from the db are ignored. */
  makeView(values: Iterable<Bytes>): DiscoDBView {
    const b = this.backend;
    return b.makeView ? b.makeView(values) : makeView(b, values);
  }

  /** The image bytes (a view of the buffer or mapping; a copy on the pread route). */
  toBuffer(): Buffer {
    return this.backend.toBuffer();
  }

  /** Writes the image to `path` atomically (temp file, fsync, rename). */
  async dump(path: string): Promise<void> {
    // One atomic-output path for the whole package: checked short writes, fsync, rename.
    await writeFileAtomic(path, this.backend.imageChunks());
  }

  /**
   * Walks the whole image and throws a DiscoDBError (ERR_DISCODB_CORRUPT) at
   * the first inconsistency: extents, list encodings, value ids, counts,
   * flags against the sections, compressed values, the perfect hash of every
   * key, and (for a file) that it was not modified in place since it was opened.
   */
  check(): CheckReport {
    return this.backend.check();
  }

  /**
   * Releases the mapping (shared with other dbs open on the same file) or the
   * file descriptor; later calls throw ERR_DISCODB_CLOSED. Idempotent.
   */
  close(): void {
    this.backend.close();
  }

  /** `using db = DiscoDB.open(...)` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Allows `for (const [key, values] of db)`. */
  [Symbol.iterator](): Iterator<[V, Inquiry<V>]> {
    return this.items()[Symbol.iterator]();
  }

  /** `util.inspect` (and `console.log`) show a summary, not the internals. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const b = this.backend;
    const where = b.path === null ? '' : ` ${JSON.stringify(b.path)}`;
    if (b.isClosed) return `DiscoDB${where} [closed]`;
    const h = b.header;
    const flags = [h.flags & 1 ? 'hashed' : '', h.flags & 4 ? 'compressed' : '', h.flags & 2 ? 'multiset' : ''].filter((f) => f !== '');
    return (
      `DiscoDB${where} { route: '${b.route}', encoding: '${b.encoding}', keys: ${b.size}, uniqueValues: ${b.numUniqueValues}, ` +
      `values: ${h.numValues}, bytes: ${h.size}${flags.length ? `, ${flags.join(', ')}` : ''} }`
    );
  }
}
