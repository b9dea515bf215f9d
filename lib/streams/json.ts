/**
 * JSON records: JSON arrays through stream-json's tokenizer and array streamer, JSON Lines
 * through the line stage. Both share one mapping from a parsed element to a record.
 */
import type { Duplex } from 'node:stream';
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser } from 'stream-json/core/parser.js';
import { streamArray } from 'stream-json/core/streamers/stream-array.js';
import {
  checkEncoding,
  checkSelector,
  decodeField,
  inputError,
  makeRecord,
  valueSelectors,
  type DiscoDBRecord,
  type FieldSelector,
  type RecordField,
  type RecordParserOptions,
} from './fields.js';
import { lineRecordStream, textRecordStream } from './lines.js';

/** Options of {@link jsonRecords} and {@link jsonlRecords}. */
export interface JsonRecordOptions extends RecordParserOptions {
  /**
   * The key: a property name for object elements, an index for array elements (tuples).
   * Default `'key'` for objects, `0` for tuples.
   */
  key?: FieldSelector;
  /**
   * The value field(s). A field holding an array gives one value per element; several fields
   * give all their values; a field that is absent or `null` gives none. `null` reads keys only.
   * Default: the `values` field if present, else the `value` field, else no value (for tuples:
   * every slot after the key).
   */
  value?: FieldSelector | readonly FieldSelector[] | null;
  /** The name of the many-values field of the default lookup. Default `'values'`. */
  values?: string;
}

type Element = Record<string, unknown> | unknown[];

/** Builds the element → record mapping shared by the JSON and JSON Lines parsers. */
function jsonRecordBuilder(options: JsonRecordOptions): (element: unknown, line: number) => DiscoDBRecord {
  const path = options.path;
  const encoding = checkEncoding(options.encoding);
  const keySel = options.key;
  if (keySel !== undefined) checkSelector(keySel, 'key');
  const valueSel = valueSelectors(options.value);
  for (const s of valueSel ?? []) checkSelector(s, 'value');
  const valuesName = options.values ?? 'values';

  const scalar = (x: unknown, line: number, what: string): RecordField => {
    if (typeof x === 'string') {
      const field = decodeField(x, encoding);
      if (field === undefined) throw inputError(path, line, `${what} '${x.slice(0, 40)}' is not valid ${encoding}`);
      return field;
    }
    if ((typeof x === 'number' || typeof x === 'boolean') && encoding === 'utf8') return String(x);
    throw inputError(path, line, `${what} must be a ${encoding === 'utf8' ? 'string or number' : `${encoding} string`}, got ${JSON.stringify(x)?.slice(0, 40)}`);
  };
  const addValues = (x: unknown, out: RecordField[], line: number): void => {
    if (x === null) return;
    if (Array.isArray(x)) for (const v of x) out.push(scalar(v, line, 'value'));
    else out.push(scalar(x, line, 'value'));
  };
  /** The selected field; `undefined` when absent (the key is required, value fields are not). */
  const get = (el: Element, sel: FieldSelector, line: number, what: string, required: boolean): unknown => {
    if (Array.isArray(el) !== (typeof sel === 'number')) {
      throw inputError(path, line, `cannot select ${what} ${JSON.stringify(sel)} in ${Array.isArray(el) ? 'an array' : 'an object'} record`);
    }
    const x = Array.isArray(el) ? el[sel as number] : Object.hasOwn(el, sel) ? el[sel as string] : undefined;
    if (x === undefined && required) throw inputError(path, line, `record has no ${what} ${JSON.stringify(sel)}`);
    return x;
  };

  return (element, line) => {
    if (element === null || typeof element !== 'object') {
      throw inputError(path, line, `expected an object or array record, got ${JSON.stringify(element)?.slice(0, 40)}`);
    }
    const el = element as Element;
    const tuple = Array.isArray(el);
    const key = scalar(get(el, keySel ?? (tuple ? 0 : 'key'), line, 'key', true), line, 'key');
    const values: RecordField[] = [];
    if (valueSel === null) {
      // keys only
    } else if (valueSel !== undefined) {
      for (const s of valueSel) {
        // A record without the field is a key without values (as in `{"k":"a"}` beside `{"k":"a","v":"1"}`).
        const x = get(el, s, line, 'value field', false);
        if (x !== undefined) addValues(x, values, line);
      }
    } else if (tuple) {
      const k = typeof keySel === 'number' ? keySel : 0;
      for (let i = 0; i < el.length; i++) if (i !== k) values.push(scalar(el[i], line, 'value'));
    } else if (Object.hasOwn(el, valuesName)) {
      addValues(el[valuesName], values, line);
    } else if (Object.hasOwn(el, 'value')) {
      addValues(el['value'], values, line);
    }
    return makeRecord(key, values);
  };
}

const BLANK = /^\s*$/;

/**
 * Parses JSON Lines bytes (one JSON object or array per line, blank lines skipped) into writer
 * records. A line that is not valid JSON, or not a usable record, fails the stream with
 * `ERR_DISCODB_INPUT` and its line number.
 */
export function jsonlRecords(options: JsonRecordOptions = {}): Duplex {
  const build = jsonRecordBuilder(options);
  return lineRecordStream((line, n) => {
    if (line.length === 0 || (line.charCodeAt(0) <= 32 && BLANK.test(line))) return undefined;
    let element: unknown;
    try {
      element = JSON.parse(line);
    } catch (err) {
      throw inputError(options.path, n, `invalid JSON: ${(err as Error).message}`, err);
    }
    return build(element, n);
  }, options.highWaterMark);
}

/**
 * Parses a JSON array of records (objects or tuples) into writer records, streaming: the array
 * is never held in memory. Built on stream-json's tokenizer (`streamValues: false`, the fast
 * packed mode) and array streamer. The text is fed to the tokenizer one line at a time so that
 * a syntax error, or a bad element, is reported on its line (for an element: the line where it
 * ends).
 */
export function jsonRecords(options: JsonRecordOptions = {}): Duplex {
  const path = options.path;
  const build = jsonRecordBuilder(options);
  const tokenize = jsonParser({ streamValues: false });
  const elements = streamArray();
  let line = 1;
  let atStart = true;

  const feed = (piece: string | typeof none, out: DiscoDBRecord[]): void => {
    let tokens;
    try {
      tokens = tokenize(piece as string); // `none` flushes (Flushable protocol)
    } catch (err) {
      throw inputError(path, line, `invalid JSON: ${(err as Error).message}`, err);
    }
    if (tokens === none) return;
    for (const token of isMany(tokens) ? getManyValues(tokens) : [tokens]) {
      let item;
      try {
        item = elements(token);
      } catch (err) {
        throw inputError(path, line, `expected a JSON array of records: ${(err as Error).message}`, err);
      }
      if (item === none) continue;
      for (const it of isMany(item) ? getManyValues(item) : [item]) out.push(build(it.value, line));
    }
  };

  const run = (text: string, final: boolean): DiscoDBRecord[] => {
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: DiscoDBRecord[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      feed(text.slice(start, nl + 1), out);
      line++;
      start = nl + 1;
    }
    if (start < text.length) feed(start === 0 ? text : text.slice(start), out);
    if (final) feed(none, out);
    return out;
  };

  return textRecordStream(run, options.highWaterMark);
}
