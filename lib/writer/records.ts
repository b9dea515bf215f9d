/**
 * Validating and normalising writer input. Keys and values are strings (stored as
 * UTF-8; a string that is not well-formed UTF-16, i.e. holds a lone surrogate, has no
 * UTF-8 form and is refused rather than silently turned into U+FFFD) or
 * `Uint8Array`/`Buffer`s (stored as is). Finite numbers, bigints and booleans are
 * accepted too and stored as their JSON text (`String(x)`: `5` → "5", `true` → "true");
 * anything else (objects, null as a key, NaN, Infinity, symbols, ...) is refused.
 * Accepted records:
 *
 * - `{ key, value }` — one item; `value` null/undefined (or `{ key }`) adds the key with no value;
 * - `{ key, values }` — `values` an array or other iterable of values (empty: the key
 *   alone), a single string/bytes (one value), or null (the key alone);
 * - `[key, value]` / `[key, values]` / `[key]` — the same as a tuple.
 *
 * Anything else fails with `ERR_DISCODB_INPUT` naming the 1-based record number.
 */
import { DiscoDBError } from '../errors.js';
import type { RunBuffer } from './arena.js';
import type { BatchEncoder } from './batch.js';
import { BATCH, RunStaging } from './staging.js';

/** A key or a value as the writer stores it. */
export type Bytes = string | Uint8Array;

/** A key or a value as the writer accepts it: numbers, bigints and booleans are stored as their JSON text. */
export type Scalar = Bytes | number | bigint | boolean;

/** The record shapes the writer accepts (see the module comment). */
export type WriterRecord =
  | { key: Scalar; value?: Scalar | null }
  | { key: Scalar; values: Iterable<Scalar> | Scalar | null }
  | readonly [Scalar]
  | readonly [Scalar, Scalar | Iterable<Scalar> | null | undefined];

const U32_MAX = 0xffffffff;

/** Short description of a bad input for error messages. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'object') return `an object (${(x as object).constructor?.name ?? 'Object'})`;
  if (typeof x === 'string') return `a string`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

/** The `ERR_DISCODB_INPUT` error for record `no`. */
export function inputError(no: number, what: string): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_INPUT', `record ${no}: ${what}`, { record: no });
}

/**
 * `x` as a string or bytes, or null when its type is not accepted: finite numbers,
 * bigints and booleans become their JSON text.
 */
function coerce(x: unknown): Bytes | null {
  if (typeof x === 'string' || x instanceof Uint8Array) return x;
  if (typeof x === 'number') return Number.isFinite(x) ? String(x) : null;
  if (typeof x === 'bigint' || typeof x === 'boolean') return String(x);
  return null;
}

const ACCEPTED = 'a string, a Uint8Array, a finite number, a bigint or a boolean';

/** `String.prototype.isWellFormed` (Node 20; not in the ES2022 lib typings). O(1) for one-byte strings. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Index of the first lone surrogate of `s` (which is known not to be well-formed). */
function loneSurrogateAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

function malformed(no: number, what: string, s: string): DiscoDBError {
  const at = loneSurrogateAt(s);
  const unit = s.charCodeAt(at).toString(16).toUpperCase();
  return inputError(
    no,
    `${what} is not well-formed UTF-16: a lone surrogate \\u${unit} at index ${at} has no UTF-8 form (pass a Uint8Array for binary data)`,
  );
}

/**
 * Feeds records into a {@link RunBuffer}, calling `onFull` (which must spill and
 * clear the run) whenever the next item does not fit in the budget; or, with
 * {@link deferFull} set, stopping there so that the caller can spill in steps.
 */
export class RecordIngest extends RunStaging {
  /** Records seen (the number of the last record). */
  records = 0;
  /** (key, value) items and key-only adds seen. */
  items = 0;
  /** Key and value bytes seen (UTF-8 for strings). */
  bytes = 0;
  /**
   * The previous item's key, when a string, and its entry: consecutive items often
   * share the key. (Byte arrays are not cached: a caller may refill the same array.)
   */
  private lastKey: string | null = null;
  private lastKeyLen = 0;
  /**
   * When set, a run that cannot take the next item — full, or with a large rehash left
   * to the caller (`RunBuffer.growthPending`) — does not call `onFull`: `add` returns
   * false with the rest of the record held back, and the caller grows the run's tables
   * or spills and clears the run, then calls {@link resume} (a stream writer does both
   * in steps between turns of the event loop).
   */
  deferFull = false;
  /** The held-back rest of a record (see {@link deferFull}): `values[at..]` for `key`; null values: the key alone. */
  private pending: { no: number; key: Bytes; values: readonly unknown[] | null; at: number } | null = null;

  /**
   * @param onFull must spill the run and either clear it or give a fresh one to
   * {@link switchRun}.
   */
  constructor(
    run: RunBuffer,
    private readonly onFull: () => void,
    /** A threaded build: items are encoded into batches for a worker instead of staged into `run`. */
    private readonly out: BatchEncoder | null = null,
  ) {
    super(run);
  }

  /** Continues into `run` (called by `onFull`; nothing is staged at that point). */
  switchRun(run: RunBuffer): void {
    this.run = run;
    this.lastKey = null;
  }

  /**
   * Validates and adds one record. Throws `ERR_DISCODB_INPUT` for a malformed one.
   * Returns false only with {@link deferFull}, when the run is full before the record
   * is all staged: spill and clear the run, then {@link resume}.
   */
  add(rec: unknown): boolean {
    if (this.pending !== null) throw new Error('RecordIngest.add: a record is held back (resume() first)');
    const no = ++this.records;
    if (typeof rec !== 'object' || rec === null) {
      throw inputError(no, `expected { key, value }, { key, values } or [key, value], got ${describe(rec)}`);
    }
    if (Array.isArray(rec)) {
      if (rec.length < 1 || rec.length > 2) {
        throw inputError(no, `a tuple record must be [key] or [key, value(s)], got ${describe(rec)}`);
      }
      return this.keyWithValues(no, rec[0], rec.length === 2 ? rec[1] : undefined);
    }
    const r = rec as { key?: unknown; value?: unknown; values?: unknown };
    const values = r.values;
    if (values !== undefined) {
      if (r.value !== undefined) throw inputError(no, 'a record cannot have both "value" and "values"');
      return this.keyWithValues(no, r.key, values);
    }
    const key = coerce(r.key);
    if (key === null) throw badKey(no, r.key);
    const value = r.value;
    if (value === undefined || value === null) return this.one(no, key, null);
    const v = coerce(value);
    if (v === null) throw inputError(no, `value must be ${ACCEPTED}, got ${describe(value)}${typeof value === 'object' ? ' (use "values" for several)' : ''}`);
    return this.one(no, key, v);
  }

  /**
   * Stages the held-back rest of a record into the run (grown, or spilled and cleared). Returns
   * false when the run is full again before the end (a record with many values): spill
   * and resume again.
   */
  resume(): boolean {
    const p = this.pending;
    if (p === null) return true;
    this.pending = null;
    if (p.values === null) return this.one(p.no, p.key, null);
    return this.valuesFrom(p.no, p.key, p.values, p.at);
  }

  /** One item of a record, held back when the run is full. */
  private one(no: number, key: Bytes, value: Bytes | null): boolean {
    if (this.item(no, key, value)) return true;
    this.pending = { no, key, values: value === null ? null : [value], at: 0 };
    return false;
  }

  /** Items for `values[at..]` (validated), held back from where the run is full. */
  private valuesFrom(no: number, key: Bytes, values: readonly unknown[], at: number): boolean {
    for (let i = at; i < values.length; i++) {
      if (!this.item(no, key, coerce(values[i])!)) {
        this.pending = { no, key, values, at: i };
        return false;
      }
    }
    return true;
  }

  /** A key with a "values" slot: one value, an iterable of values, or none. */
  private keyWithValues(no: number, rawKey: unknown, slot: unknown): boolean {
    const key = coerce(rawKey);
    if (key === null) throw badKey(no, rawKey);
    if (slot === undefined || slot === null) return this.one(no, key, null);
    const one = coerce(slot);
    if (one !== null) return this.one(no, key, one);
    let list: unknown[];
    if (Array.isArray(slot)) list = slot;
    else if (typeof slot === 'object' && typeof (slot as Iterable<unknown>)[Symbol.iterator] === 'function') list = Array.from(slot as Iterable<unknown>);
    else throw inputError(no, `values must be an array or iterable of values (${ACCEPTED}), got ${describe(slot)}`);
    for (let i = 0; i < list.length; i++) {
      const v = coerce(list[i]);
      if (v === null) throw inputError(no, `values[${i}] must be ${ACCEPTED}, got ${describe(list[i])}`);
      if (typeof v !== 'string' && v.length > U32_MAX) throw inputError(no, `values[${i}] is ${v.length} bytes (the limit is 2^32-1)`);
      if (typeof v === 'string' && !isWellFormed(v)) throw malformed(no, `values[${i}]`, v);
    }
    if (list.length === 0) return this.one(no, key, null);
    return this.valuesFrom(no, key, list, 0);
  }

  /**
   * Stages one item: `value` null means the key alone (the C `ddb_cons_add(key,
   * NULL)`). Its bytes are copied into the dictionaries' staging areas at once (so
   * the caller may reuse its buffers); the lookups happen in `flush`, a batch at a time.
   * False (nothing staged) when the run is full and {@link deferFull} is set.
   */
  private item(no: number, key: Bytes, value: Bytes | null): boolean {
    if (typeof key === 'string' && key !== this.lastKey && !isWellFormed(key)) throw malformed(no, 'key', key);
    if (typeof value === 'string' && !isWellFormed(value)) throw malformed(no, 'value', value);
    let run = this.run;
    const kMax = typeof key === 'string' ? 3 * key.length : key.length;
    if (kMax > U32_MAX && typeof key !== 'string') throw inputError(no, `key is ${key.length} bytes (the limit is 2^32-1)`);
    let vMax = -1;
    if (value !== null) {
      vMax = typeof value === 'string' ? 3 * value.length : value.length;
      if (vMax > U32_MAX && typeof value !== 'string') throw inputError(no, `value is ${value.length} bytes (the limit is 2^32-1)`);
    }
    if (this.out !== null) {
      this.bytes += this.out.item(no, key, value);
      this.items++;
      return true;
    }
    const sameKey = typeof key === 'string' && key === this.lastKey;
    const vNew = value === null ? 0 : 1;
    if (
      !run.fits(
        this.kBytes + (sameKey ? 0 : kMax),
        this.kn + 1,
        this.vBytes + (vMax < 0 ? 0 : vMax),
        this.vn + vNew,
      )
    ) {
      if (this.n > 0) this.flush();
      if (!run.reserve(sameKey ? 0 : kMax, vMax)) {
        // (An empty run always grows: reserve fails only when there is something to spill,
        // or a large rehash it leaves to the caller.)
        if (this.deferFull) {
          this.lastKey = null;
          return false;
        }
        this.onFull();
        this.lastKey = null;
        run = this.run;
        if (!run.reserve(kMax, vMax)) throw inputError(no, 'the record does not fit in memory');
      }
    }
    const keys = run.keys;
    const values = run.values;
    const i = this.n++;
    if (typeof key === 'string' && key === this.lastKey) {
      this.kSame[i] = 1;
      this.bytes += this.lastKeyLen;
    } else {
      const j = this.kn++;
      const pos = keys.used + this.kBytes;
      const len = typeof key === 'string' ? keys.stageString(key, pos) : keys.stageBytes(key, pos);
      this.kOff[j] = pos;
      this.kLen[j] = len;
      this.kHash[j] = keys.stagedHash;
      this.kBytes += len;
      this.kSame[i] = 0;
      this.lastKey = typeof key === 'string' ? key : null;
      this.lastKeyLen = len;
      this.bytes += len;
    }
    if (value !== null) {
      const j = this.vn++;
      const pos = values.used + this.vBytes;
      const len = typeof value === 'string' ? values.stageString(value, pos) : values.stageBytes(value, pos);
      this.vOff[j] = pos;
      this.vLen[j] = len;
      this.vHash[j] = values.stagedHash;
      this.vBytes += len;
      this.hasValue[i] = 1;
      this.bytes += len;
    } else {
      this.hasValue[i] = 0;
    }
    this.items++;
    if (i + 1 === BATCH) this.flush();
    return true;
  }
}

function badKey(no: number, key: unknown): DiscoDBError {
  return inputError(no, `key must be ${ACCEPTED}, got ${key === undefined ? 'no key' : describe(key)}`);
}
