/**
 * Shared pieces of the record parsers: the record type they emit, field selection options,
 * field decoding (utf8 / hex / base64) and the error constructor that names file and line.
 */
import { DiscoDBError } from '../errors.js';

/** A key or a value as the parsers emit it: text stays a string, decoded binary is a Buffer. */
export type RecordField = string | Uint8Array;

/**
 * One record for the writer. The parsers emit exactly the three shapes `DiscoDBWriter` accepts:
 * `{ key }` (a key without values), `{ key, value }` and `{ key, values }` (two or more values).
 */
export type DiscoDBRecord =
  | { key: RecordField; value?: undefined; values?: undefined }
  | { key: RecordField; value: RecordField; values?: undefined }
  | { key: RecordField; values: RecordField[]; value?: undefined };

/** How text fields are turned into key and value bytes. */
export type FieldEncoding = 'utf8' | 'hex' | 'base64';

/** A column or field: a name (CSV header, JSON property) or a 0-based index (column, tuple slot). */
export type FieldSelector = string | number;

/** Options every record parser understands. */
export interface RecordParserOptions {
  /** The key column or field. Defaults depend on the format (column 0, field `key`). */
  key?: FieldSelector;
  /**
   * The value column(s) or field(s); several give several values per record. `null` reads
   * keys only. Defaults depend on the format (every other column, field `values`/`value`).
   */
  value?: FieldSelector | readonly FieldSelector[] | null;
  /** How key and value text is decoded into bytes. `'utf8'` (default) keeps strings. */
  encoding?: FieldEncoding;
  /** Name of the input, used in error messages (`data.csv:12: ...`). */
  path?: string;
  /** Readable-side high-water mark, in records (default 16). */
  highWaterMark?: number;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Checks an encoding name (from options or the command line). */
export function checkEncoding(encoding: string | undefined): FieldEncoding {
  if (encoding === undefined || encoding === 'utf8' || encoding === 'utf-8') return 'utf8';
  if (encoding === 'hex' || encoding === 'base64') return encoding;
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `unknown encoding '${encoding}' (expected utf8, hex or base64)`);
}

/**
 * Decodes one text field per `encoding`. Node's own hex/base64 decoders silently drop bad
 * characters, which would turn a typo into a wrong key: validate first. Returns `undefined`
 * when the text is not valid in that encoding (the caller raises with its line number).
 */
export function decodeField(text: string, encoding: FieldEncoding): RecordField | undefined {
  if (encoding === 'utf8') return text;
  if (encoding === 'hex') return HEX.test(text) ? Buffer.from(text, 'hex') : undefined;
  if (!BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
}

/** Builds the input error: code ERR_DISCODB_INPUT, message `file:line: what`. */
export function inputError(path: string | undefined, line: number, what: string, cause?: unknown): DiscoDBError {
  const where = `${path ?? 'input'}:${line}`;
  return new DiscoDBError('ERR_DISCODB_INPUT', `${where}: ${what}`, {
    line,
    ...(path === undefined ? {} : { path }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Makes the record object from a decoded key and values, in the shape the writer expects. */
export function makeRecord(key: RecordField, values: RecordField[]): DiscoDBRecord {
  if (values.length === 0) return { key };
  if (values.length === 1) return { key, value: values[0] as RecordField };
  return { key, values };
}

/** Normalises the `value` option into a list (or `null` for keys only, `undefined` for the default). */
export function valueSelectors(value: RecordParserOptions['value']): readonly FieldSelector[] | null | undefined {
  if (value === undefined || value === null) return value;
  return typeof value === 'string' || typeof value === 'number' ? [value] : value;
}

/** Checks that a selector is a usable name or a non-negative integer index. */
export function checkSelector(selector: FieldSelector, what: string): void {
  if (typeof selector === 'number' ? !Number.isInteger(selector) || selector < 0 : typeof selector !== 'string') {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what} must be a field name or a non-negative column index, got ${String(selector)}`);
  }
}
