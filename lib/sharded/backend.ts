/**
 * A sharded db as the backend of a `DiscoDB`, so that `DiscoDB.open(dir)` reads a
 * directory of shards through the same class as one file. Everything a single db
 * answers is delegated to {@link ShardedDiscoDB}; what only an image has (one
 * header, value ids, record numbers, the image bytes) is refused with a clear error.
 */
import { DiscoDBError } from '../errors.js';
import type { QueryingBackend } from '../discodb.js';
import type { Header } from '../format/header.js';
import { DiscoDBView, type QueryOptions } from '../query/engine.js';
import type { Q } from '../query/q.js';
import type { IdCursor } from '../reader/cursor.js';
import type { Inquiry } from '../reader/inquiry.js';
import type { Bytes, CheckReport, DiscoDBInfo, Encoding, OpenOptions } from '../reader/types.js';
import { ShardedDiscoDB, ShardedView } from './sharded.js';

export class ShardedBackend<V extends string | Buffer> implements QueryingBackend<V> {
  readonly route = 'sharded';
  readonly path: string;
  readonly db: ShardedDiscoDB<V>;

  constructor(db: ShardedDiscoDB<V>) {
    this.db = db;
    this.path = db.dir;
  }

  private imageOnly(what: string): never {
    throw new DiscoDBError(
      'ERR_DISCODB_ARGUMENT',
      `${this.db.dir} is a sharded db (${this.db.shardCount} shards): it has no single ${what}; open a shard file for that`,
      { path: this.db.dir },
    );
  }

  get header(): Readonly<Header> {
    return this.imageOnly('header');
  }
  get encoding(): Encoding {
    return this.db.encoding;
  }
  get size(): number {
    return this.db.size;
  }
  get numUniqueValues(): number {
    return this.db.numUniqueValues;
  }
  get isMultiset(): boolean {
    return this.db.isMultiset;
  }
  get isClosed(): boolean {
    return this.db.isClosed;
  }
  info(): DiscoDBInfo {
    return this.db.info();
  }
  has(key: Bytes): boolean {
    return this.db.has(key);
  }
  get(key: Bytes): Inquiry<V> {
    return this.db.get(key);
  }
  peek<F>(key: Bytes, fallback: F): V | F {
    return this.db.peek(key, fallback);
  }
  keys(): Inquiry<V> {
    return this.db.keys();
  }
  values(): Inquiry<V> {
    return this.db.values();
  }
  uniqueValues(): Inquiry<V> {
    return this.db.uniqueValues();
  }
  items(): Inquiry<[V, Inquiry<V>]> {
    return this.db.items();
  }
  query(q: Q | string, options?: QueryOptions): Inquiry<V> {
    const view = options?.view;
    if (view instanceof DiscoDBView && !(view instanceof ShardedView)) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', "this view was made by a single-file db: make one with this db's makeView", { path: this.db.dir });
    }
    return this.db.query(q, view === undefined ? undefined : { view });
  }
  metaquery(q: Q | string): Iterable<[Q, Inquiry<V>]> {
    return this.db.metaquery(q);
  }
  makeView(values: Iterable<Bytes>): DiscoDBView {
    return this.db.makeView(values);
  }
  findKey(_key: Uint8Array): number {
    return this.imageOnly('record numbering (query it with db.query)');
  }
  listCount(_record: number): number {
    return this.imageOnly('record numbering');
  }
  idCursor(_record: number): IdCursor {
    return this.imageOnly('value id space');
  }
  valueById(_id: number): V {
    return this.imageOnly('value id space');
  }
  valueBytes(_id: number): Uint8Array {
    return this.imageOnly('value id space');
  }
  toBuffer(): Buffer {
    return this.imageOnly('image');
  }
  imageChunks(): Iterable<Uint8Array> {
    return this.imageOnly('image (copy the directory, or merge it into one file with mergeDBs)');
  }
  check(): CheckReport {
    return this.db.check();
  }
  close(): void {
    this.db.close();
  }
}

/** How `DiscoDB.open` opens a directory: as a sharded db, with the caller's options. */
export function openShardedBackend(dir: string, options: OpenOptions): ShardedBackend<string | Buffer> {
  return new ShardedBackend<string | Buffer>(ShardedDiscoDB.open(dir, options as OpenOptions<'utf8'>));
}
