/**
 * JSON records: JSON Lines through the line stage, JSON arrays through a scanner that
 * frames the array's elements (tracking only strings and bracket depth, so nesting costs no
 * stack). Each line or element is parsed by `JSON.parse` (the fast path); a record whose
 * numbers become keys or values is read again by {@link parseJsonKeepingNumbers}, so that a
 * number is kept exactly as written (`1.0`, `1e400`, `12345678901234567891`), never rounded.
 */
import type { Duplex } from 'node:stream';
import { invalidUtf8Text, textRecordStream, TextPieces } from './bytes.js';
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
import { describeJson, JsonNumber, parseJsonKeepingNumbers } from './json-value.js';
import { lineRecordStream } from './lines.js';

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

/**
 * Maps a parsed record to a writer record. `escapes`: the text held a `\u` escape, so a
 * string may hold a lone surrogate (raw input is checked UTF-8 and cannot).
 */
type RecordBuilder = (element: unknown, line: number, escapes: boolean) => DiscoDBRecord;

/** Thrown by the builder when a number is needed as text: the caller re-reads the record. */
const NEED_SOURCE = Symbol('number source needed');

/** Whether a string holds a lone surrogate (from a `\ud800` escape): it has no UTF-8 form. */
function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Builds the element → record mapping shared by the JSON and JSON Lines parsers. */
function jsonRecordBuilder(options: JsonRecordOptions): RecordBuilder {
  const path = options.path;
  const encoding = checkEncoding(options.encoding);
  const keySel = options.key;
  if (keySel !== undefined) checkSelector(keySel, 'key');
  const valueSel = valueSelectors(options.value);
  for (const s of valueSel ?? []) checkSelector(s, 'value');
  const valuesName = options.values ?? 'values';

  /** Strings are decoded per `encoding`; numbers keep their source text, booleans become `"true"`/`"false"`. */
  let escapes = false;
  const scalar = (x: unknown, line: number, what: string): RecordField => {
    if (typeof x === 'string') {
      if (escapes && !isWellFormed(x)) throw inputError(path, line, `${what} ${describeJson(x)} holds a lone surrogate (a \\u escape of half a pair), which has no UTF-8 form`);
      const field = decodeField(x, encoding);
      if (field === undefined) throw inputError(path, line, `${what} '${x.slice(0, 40)}' is not valid ${encoding}`);
      return field;
    }
    if (encoding === 'utf8') {
      if (x instanceof JsonNumber) return x.text;
      if (typeof x === 'number') throw NEED_SOURCE;
      if (typeof x === 'boolean') return x ? 'true' : 'false';
    }
    throw inputError(path, line, `${what} must be a ${encoding === 'utf8' ? 'string, number or boolean' : `${encoding} string`}, got ${describeJson(x)}`);
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

  return (element, line, hasEscapes) => {
    escapes = hasEscapes;
    if (element === null || typeof element !== 'object' || element instanceof JsonNumber) {
      throw inputError(path, line, `expected an object or array record, got ${describeJson(element)}`);
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

/** The line of a `JSON.parse` failure: `line` is where `text` starts; V8 names the position. */
function syntaxErrorLine(err: unknown, text: string, line: number): number {
  const m = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
  if (m === null) return line;
  const at = Math.min(Number(m[1]), text.length);
  let n = line;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Parses one record's JSON text and maps it: `JSON.parse` first; when a number is used as a
 * key or value, the text is read again keeping number text. `line` is where the text
 * starts, `endLine` where it ends (a record error names the end, a syntax error its own line).
 */
function readRecord(
  text: string,
  build: RecordBuilder,
  path: string | undefined,
  line: number,
  endLine: number,
): DiscoDBRecord {
  let element: unknown;
  try {
    element = JSON.parse(text);
  } catch (err) {
    const message = err instanceof RangeError ? 'nested too deeply' : (err as Error).message;
    throw inputError(path, syntaxErrorLine(err, text, line), `invalid JSON: ${message}`, err);
  }
  const escapes = text.includes('\\u');
  try {
    return build(element, endLine, escapes);
  } catch (err) {
    if (err !== NEED_SOURCE) throw err;
  }
  return build(parseJsonKeepingNumbers(text), endLine, escapes);
}

const BLANK = /^\s*$/;

/**
 * Parses JSON Lines bytes (one JSON object or array per line, blank lines skipped) into writer
 * records. A line that is not valid JSON (or not UTF-8), or not a usable record, fails the
 * stream with `ERR_DISCODB_INPUT` and its line number.
 */
export function jsonlRecords(options: JsonRecordOptions = {}): Duplex {
  const build = jsonRecordBuilder(options);
  return lineRecordStream((line, n) => {
    if (line.length === 0 || (line.charCodeAt(0) <= 32 && BLANK.test(line))) return undefined;
    return readRecord(line, build, options.path, n, n);
  }, options);
}

/** Where the array scanner is (see {@link jsonRecords}). */
enum At {
  /** Before the `[` (blanks only). */
  Start,
  /** After `[` (an element or `]`) or after `,` (an element). */
  BeforeElement,
  /** Inside an element. */
  Element,
  /** After an element: `,` or `]`. */
  AfterElement,
  /** After the closing `]` (blanks only). */
  End,
}

const isBlank = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/** Shows a character of the input in an error message. */
const showChar = (c: number): string => (c >= 32 && c !== 127 ? `'${String.fromCharCode(c)}'` : `character 0x${c.toString(16).padStart(2, '0')}`);

/**
 * Parses a JSON array of records (objects or tuples) into writer records, streaming: the array
 * is never held in memory, only the element being read. A scanner frames the elements (it
 * follows strings, escapes and bracket depth, nothing more) and each element is parsed on its
 * own; a syntax error is reported on its line, a bad record on the line where it ends.
 */
export function jsonRecords(options: JsonRecordOptions = {}): Duplex {
  const path = options.path;
  const build = jsonRecordBuilder(options);
  let at = At.Start;
  let line = 1;
  let afterComma = false;
  // The element being read.
  const pieces = new TextPieces();
  let depth = 0;
  let inString = false;
  let escaped = false;
  let elementLine = 1;
  let endsWithLF = false;

  const syntax = (what: string): Error => inputError(path, line, `invalid JSON: ${what}`);

  const finishElement = (text: string, out: DiscoDBRecord[]): void => {
    out.push(readRecord(text, build, path, elementLine, line));
    at = At.AfterElement;
  };

  const scan = (text: string, out: DiscoDBRecord[]): void => {
    const n = text.length;
    endsWithLF = text.charCodeAt(n - 1) === 10;
    let i = 0;
    let from = 0; // start of the current element's text in this chunk
    while (i < n) {
      const c = text.charCodeAt(i);
      if (at === At.Element) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 92) escaped = true;
          else if (c === 34) inString = false;
          else if (c === 10) line++;
          i++;
          continue;
        }
        if (c === 34) {
          inString = true;
          i++;
        } else if (c === 123 || c === 91) {
          depth++;
          i++;
        } else if (c === 125 || c === 93) {
          if (depth === 0) {
            finishElement(pieces.take(text.slice(from, i)), out); // a scalar element before `]`
            continue;
          }
          i++;
          if (--depth === 0) finishElement(pieces.take(text.slice(from, i)), out);
        } else if (depth === 0 && (c === 44 || isBlank(c))) {
          finishElement(pieces.take(text.slice(from, i)), out); // a scalar element ends
        } else {
          if (c === 10) line++;
          i++;
        }
        continue;
      }
      if (c === 10) line++;
      if (isBlank(c)) {
        i++;
        continue;
      }
      switch (at) {
        case At.Start:
          if (c !== 91) throw inputError(path, line, `expected a JSON array of records, got ${showChar(c)}`);
          at = At.BeforeElement;
          afterComma = false;
          break;
        case At.BeforeElement:
          if (c === 93 && !afterComma) {
            at = At.End;
            break;
          }
          if (c === 93 || c === 44) throw syntax(`unexpected ${showChar(c)} where an array element should be`);
          at = At.Element;
          depth = 0;
          inString = false;
          escaped = false;
          elementLine = line;
          from = i;
          continue; // the element's first character is read in the Element state
        case At.AfterElement:
          if (c === 44) {
            at = At.BeforeElement;
            afterComma = true;
          } else if (c === 93) at = At.End;
          else throw syntax(`expected ',' or ']' after an array element, got ${showChar(c)}`);
          break;
        case At.End:
          throw syntax(`unexpected ${showChar(c)} after the end of the array`);
      }
      i++;
    }
    if (at === At.Element) pieces.push(from === 0 ? text : text.slice(from));
  };

  return textRecordStream(
    {
      text: scan,
      end(out) {
        if (at === At.Element && depth === 0 && !inString) finishElement(pieces.take(), out); // a scalar element at the very end
        if (at === At.Start) return; // no input at all: no records
        if (at !== At.End) {
          if (endsWithLF) line--; // the end is on the last line, not after it
          throw syntax('unexpected end of input: the array is not closed');
        }
      },
      invalidUtf8(byte) {
        return inputError(path, line, invalidUtf8Text(byte));
      },
    },
    options.highWaterMark,
  );
}
