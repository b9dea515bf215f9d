/**
 * What a `DiscoDB` reads through: one backend object. `ImageReader` (one
 * image: a file, a mapping or a buffer) is the reader's; other layers (e.g. a
 * sharded db, a directory of images) provide their own with the same shape.
 */
import type { Header } from '../format/header.js';
import type { IdCursor } from './cursor.js';
import type { Inquiry } from './inquiry.js';
import type { Bytes, CheckReport, DiscoDBInfo, Encoding, Route } from './types.js';

export interface DiscoDBBackend<V> {
  /** How the image is read. */
  readonly route: Route;
  /** The parsed header. */
  readonly header: Readonly<Header>;
  readonly encoding: Encoding;
  /** Number of keys. */
  readonly size: number;
  /** U: value ids are 1..U. */
  readonly numUniqueValues: number;
  readonly isMultiset: boolean;
  readonly isClosed: boolean;
  /** The file it was opened from, or null. */
  readonly path: string | null;
  info(): DiscoDBInfo;
  has(key: Bytes): boolean;
  get(key: Bytes): Inquiry<V>;
  peek<F>(key: Bytes, fallback: F): V | F;
  keys(): Inquiry<V>;
  values(): Inquiry<V>;
  uniqueValues(): Inquiry<V>;
  items(): Inquiry<[V, Inquiry<V>]>;
  // The record/cursor API the query engine evaluates on (lib/query `QueryableDB`).
  findKey(key: Uint8Array): number;
  listCount(record: number): number;
  idCursor(record: number): IdCursor;
  valueById(id: number): V;
  valueBytes(id: number): Uint8Array;
  toBuffer(): Buffer;
  /** The image bytes in chunks, for writing it out (`dump`). */
  imageChunks(chunk?: number): Iterable<Uint8Array>;
  check(): CheckReport;
  close(): void;
}
