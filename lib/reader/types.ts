/** Types shared by the reader's parts and the `DiscoDB` facade. */
import { DiscoDBError } from '../errors.js';

/** A key or value given to the API: a string (UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

/** How keys and values are returned: UTF-8 strings (default) or Buffers. */
export type Encoding = 'utf8' | 'buffer';

/** Which route an opened image uses (see README, "How files are opened"). */
export type SourceKind = 'mmap' | 'buffer' | 'pread';

/** How a `DiscoDB` reads: one image's route, or `'sharded'` for a directory of shards. */
export type Route = SourceKind | 'sharded';

/** How to open a file. */
export interface SourceOptions {
  /** Byte offset of the image inside the file (a db embedded in a larger file). */
  offset?: number;
  /** Set false to force positioned reads instead of a memory map. */
  mmap?: boolean;
}

/** Options of `DiscoDB.open` and `DiscoDB.fromBuffer`. */
export interface OpenOptions<E extends Encoding = Encoding> extends SourceOptions {
  /** `'utf8'` (default) returns strings; `'buffer'` returns Buffers (zero-copy for uncompressed values). */
  encoding?: E;
}

/** The C library's `ddb_features`. */
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

/** What `check()` walked. */
export interface CheckReport {
  keys: number;
  uniqueValues: number;
  values: number;
  bytes: number;
}

/** Validates an `encoding` option. */
export function checkEncoding(e: unknown): Encoding {
  if (e === undefined || e === 'utf8' || e === 'buffer') return e ?? 'utf8';
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `encoding must be 'utf8' or 'buffer', got ${describe(e)}`);
}

/** A short description of a value for error messages. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return `an object (${(x as object).constructor?.name ?? 'Object'})`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}
