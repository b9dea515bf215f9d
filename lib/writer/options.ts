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
   * Default 256 MiB. The buffered records, with the scratch that sorts them, take at most
   * 3/4 of it (README, "Bounded memory"); past that they are sorted and spilled to a
   * temporary run file. Ignored by the in-memory `buildBuffer`.
   */
  memoryLimit?: number | string;
  /** Directory for spilled runs (default `os.tmpdir()`). The output's own temp file always lives next to the output. */
  tmpDir?: string;
  /**
   * Worker threads for file builds (`DiscoDBWriter`, `buildFile`). With `threads` ≥ 1 the
   * calling thread only validates records and encodes them into batches of bytes, moved
   * to a worker thread that does everything else — the lookups that number keys and
   * values, sorting and spilling runs, the merge, the perfect hash, the Huffman coding
   * and the writing — so the event loop is never held for more than a few tens of ms
   * (BENCHMARKS.md). One build runs on one worker; `threads` is the size of the pool the
   * builds of the process share (concurrent builds spread over it). Default `0`: the whole
   * build on the calling thread, where the sorting of each spilled run, the merge and the
   * hash hold the event loop for hundreds of ms each; on the 2-core machine measured so
   * far a worker is only as fast (BENCHMARKS.md), so pass e.g. `threads: 2` where the
   * event loop matters.
   * The output is byte-identical either way. Ignored by the in-memory `buildBuffer`.
   */
  threads?: number;
}

/** {@link WriterOptions} with defaults applied and the limit in bytes. */
export interface ResolvedOptions {
  uniqueItems: boolean;
  disableCompression: boolean;
  memoryLimit: number;
  tmpDir: string;
  threads: number;
}

/**
 * The default number of worker threads: 0. Issue 9 asks for the available parallelism
 * (at most 4); on the 2-core machine measured the threaded build is only as fast as one
 * thread (BENCHMARKS.md), for ~25 % more CPU and ~40 MB more RSS, so it stays opt-in.
 * `Math.min(4, os.availableParallelism())` here makes it the default.
 */
export function defaultThreads(): number {
  return 0;
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

/** The names of {@link WriterOptions}. */
export const WRITER_OPTION_NAMES: readonly string[] = ['uniqueItems', 'disableCompression', 'memoryLimit', 'tmpDir', 'threads'];

/** Levenshtein distance (small strings: option names). */
function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The known name closest to `name`: case-insensitive edit distance ≤ max(2, a third of
 * its length), or a known name that starts with it (3+ characters); else null.
 */
export function closestName(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = lower.length >= 3 && kl.startsWith(lower) ? 1 : editDistance(lower, kl);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

/**
 * Throws `ERR_DISCODB_ARGUMENT` for the first own enumerable property of `options`
 * whose name is not in `known`, naming the closest valid one:
 * "unknown option memoryLimt (did you mean memoryLimit?)".
 */
export function checkOptionNames(options: object, known: readonly string[], what = 'writer'): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const near = closestName(name, known);
    throw new DiscoDBError(
      'ERR_DISCODB_ARGUMENT',
      `unknown option ${name}${near === null ? '' : ` (did you mean ${near}?)`}; the ${what} options are ${known.join(', ')}`,
    );
  }
}

/**
 * Validates `options` and fills in the defaults. Throws `ERR_DISCODB_ARGUMENT` for
 * an unknown option (naming the closest valid one) or a known one of the wrong type.
 * `alsoKnown` names options of another layer that arrive in the same object (the
 * open options of `DiscoDB.from`/`DiscoDB.build`): they are allowed and ignored.
 */
export function resolveOptions(options: WriterOptions | undefined, alsoKnown: readonly string[] = []): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `writer options must be an object, not ${Array.isArray(options) ? 'an array' : typeof options}`);
  }
  checkOptionNames(options, alsoKnown.length === 0 ? WRITER_OPTION_NAMES : [...WRITER_OPTION_NAMES, ...alsoKnown]);
  for (const k of ['uniqueItems', 'disableCompression'] as const) {
    const v = options[k];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${k} must be a boolean, not ${typeof v}`);
    }
  }
  if (options.tmpDir !== undefined && (typeof options.tmpDir !== 'string' || options.tmpDir === '')) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `tmpDir must be a non-empty string, not ${typeof options.tmpDir === 'string' ? 'an empty one' : typeof options.tmpDir}`);
  }
  const threads = options.threads;
  if (threads !== undefined && (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 0 || threads > 64)) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `threads must be an integer from 0 to 64, not ${typeof threads === 'number' ? threads : typeof threads}`);
  }
  return {
    threads: threads ?? defaultThreads(),
    uniqueItems: options.uniqueItems === true,
    disableCompression: options.disableCompression === true,
    memoryLimit: parseMemoryLimit(options.memoryLimit),
    tmpDir: options.tmpDir ?? os.tmpdir(),
  };
}
