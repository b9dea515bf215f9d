/**
 * Writer options: the two C finalize flags, the memory budget and where
 * spilled runs go.
 */
import * as os from 'node:os';
import { DiscoDBError } from '../errors.js';

/** Options accepted by {@link DiscoDBWriter}, `buildFile` and `buildBuffer`. */
export interface WriterOptions {
  /**
   * Drop repeated (key, value) pairs, like the C `DDB_OPT_UNIQUE_ITEMS`. Without it a key
   * given the same value twice stores it twice and the db becomes a multiset
   * (the C library refuses queries on multisets; discodb answers them with set semantics).
   */
  uniqueItems?: boolean;
  /** Never Huffman-compress values, like the C `DDB_OPT_DISABLE_COMPRESSION`. */
  disableCompression?: boolean;
  /**
   * Budget for buffered records and merge buffers, in bytes or as a string such as
   * `'256M'`, `'1G'`, `'512k'` (binary units; an optional trailing `B`/`iB` is accepted).
   * Default 256 MiB. When the buffered records would exceed it, they are sorted and
   * spilled to a temporary run file. Ignored by the in-memory `buildBuffer`.
   */
  memoryLimit?: number | string;
  /** Directory for spilled runs (default `os.tmpdir()`). The output's own temp file always lives next to the output. */
  tmpDir?: string;
}

/** {@link WriterOptions} with defaults applied and the limit in bytes. */
export interface ResolvedOptions {
  uniqueItems: boolean;
  disableCompression: boolean;
  memoryLimit: number;
  tmpDir: string;
}

/** The default memory budget: 256 MiB. */
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses a memory limit: a positive number of bytes, or a string `<number><unit>`
 * with unit K, M, G or T (powers of 1024, case-insensitive, optional `B` or `iB`).
 * Throws `ERR_DISCODB_ARGUMENT` on anything else.
 */
export function parseMemoryLimit(limit: number | string | undefined): number {
  if (limit === undefined) return DEFAULT_MEMORY_LIMIT;
  let bytes: number;
  if (typeof limit === 'number') {
    bytes = limit;
  } else if (typeof limit === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(limit);
    if (m === null) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `memoryLimit: cannot parse ${JSON.stringify(limit)} (expected e.g. 256M, 1G or a number of bytes)`);
    }
    bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  } else {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `memoryLimit must be a number or a string, not ${typeof limit}`);
  }
  if (!Number.isFinite(bytes) || bytes < 1 || bytes > Number.MAX_SAFE_INTEGER) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `memoryLimit must be a positive number of bytes, got ${String(limit)}`);
  }
  return Math.floor(bytes);
}

/** Validates `options` and fills in the defaults. Throws `ERR_DISCODB_ARGUMENT`. */
export function resolveOptions(options: WriterOptions | undefined): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `writer options must be an object, not ${typeof options}`);
  }
  for (const k of ['uniqueItems', 'disableCompression'] as const) {
    const v = options[k];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${k} must be a boolean, not ${typeof v}`);
    }
  }
  if (options.tmpDir !== undefined && (typeof options.tmpDir !== 'string' || options.tmpDir === '')) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'tmpDir must be a non-empty string');
  }
  return {
    uniqueItems: options.uniqueItems === true,
    disableCompression: options.disableCompression === true,
    memoryLimit: parseMemoryLimit(options.memoryLimit),
    tmpDir: options.tmpDir ?? os.tmpdir(),
  };
}
