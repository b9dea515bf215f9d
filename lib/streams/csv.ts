/**
 * CSV and TSV records through fast-csv.
 *
 * fast-csv reports neither line numbers nor where a parse error happened, and it may emit
 * rows of one chunk only after the whole chunk parsed. So this stream subclasses fast-csv's
 * own `CsvParserStream` and keeps two facts of its own: the physical lines consumed by the
 * rows seen so far (rows that contain quoted line breaks span several lines), and the text
 * fed since the last row boundary, which is re-scanned only when fast-csv fails, to say on
 * which line.
 */
import { StringDecoder } from 'node:string_decoder';
import type { TransformCallback } from 'node:stream';
import { CsvParserStream, ParserOptions } from 'fast-csv';
import { DiscoDBError } from '../errors.js';
import {
  checkEncoding,
  checkSelector,
  decodeField,
  inputError,
  makeRecord,
  valueSelectors,
  type DiscoDBRecord,
  type FieldEncoding,
  type FieldSelector,
  type RecordField,
  type RecordParserOptions,
} from './fields.js';

/** Options of {@link csvRecords} and {@link tsvRecords}. */
export interface CsvRecordOptions extends RecordParserOptions {
  /**
   * Column of the key: a header name or a 0-based index. Default: column 0.
   */
  key?: FieldSelector;
  /**
   * Value column(s), by header name or 0-based index; several columns give several values
   * per record (an empty cell is an empty value). `null` reads keys only. Default: every
   * column other than the key's, so `user,item1,item2` rows work without configuration and
   * a row holding only a key gives a key without values.
   */
  value?: FieldSelector | readonly FieldSelector[] | null;
  /**
   * Whether the first row holds column names. Default: `true` when `key` or `value` names a
   * column, `false` otherwise. With a header, every row must have as many cells as it.
   */
  headers?: boolean;
  /** Cell separator. Default `,` for CSV, a tab for TSV. */
  delimiter?: string;
  /** Quote character, or `null` for none. Default `"` for CSV, none for TSV. */
  quote?: string | null;
}

const BREAK = /\r\n|\n|\r/g;

/** Characters handed to fast-csv at a time (see `#feedPieces`). */
const PIECE = 8192;

/** Counts line breaks the way fast-csv splits rows (CRLF, LF or CR each count once). */
function countBreaks(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13) {
      n++;
      if (s.charCodeAt(i + 1) === 10) i++;
    }
  }
  return n;
}

/** Drops the first `k` lines (with their breaks) of `s`; '' when it has fewer. */
function dropLines(s: string, k: number): string {
  if (k === 0) return s;
  BREAK.lastIndex = 0;
  for (let m = BREAK.exec(s); m !== null; m = BREAK.exec(s)) {
    if (--k === 0) return s.slice(m.index + m[0].length);
  }
  return '';
}

/**
 * Finds the 0-based line (within `text`) of the first CSV syntax error, mirroring the two
 * errors fast-csv raises: a closing quote followed by something other than a delimiter or
 * a line break, and a quote never closed (reported where it opened). `undefined` if none.
 */
function locateSyntaxError(text: string, delimiter: string, quote: string): number | undefined {
  let line = 0;
  let i = 0;
  const n = text.length;
  const isBreak = (c: string | undefined): boolean => c === '\n' || c === '\r';
  const skipBreak = (): void => {
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    i++;
    line++;
  };
  while (i < n) {
    // At the start of a cell: fast-csv allows blanks before an opening quote.
    let j = i;
    while (j < n && text[j] === ' ' && delimiter !== ' ') j++;
    if (text[j] === quote) {
      const openLine = line;
      j++;
      for (;;) {
        if (j >= n) return openLine;
        const c = text[j];
        if (c === quote) {
          if (text[j + 1] === quote) {
            j += 2;
            continue;
          }
          j++;
          break;
        }
        if (c === '\r') {
          if (text[j + 1] === '\n') j++;
          line++;
        } else if (c === '\n') line++;
        j++;
      }
      while (j < n && text[j] === ' ' && delimiter !== ' ') j++;
      i = j;
      if (i >= n) return undefined;
      if (text.startsWith(delimiter, i)) i += delimiter.length;
      else if (isBreak(text[i])) skipBreak();
      else return line;
    } else {
      // Unquoted cell: up to the next delimiter or line break.
      while (i < n && !text.startsWith(delimiter, i) && !isBreak(text[i])) i++;
      if (i >= n) return undefined;
      if (isBreak(text[i])) skipBreak();
      else i += delimiter.length;
    }
  }
  return undefined;
}

/** The fast-csv parser stream, turning rows into records and keeping line numbers. */
class CsvRecordStream extends CsvParserStream<string[], DiscoDBRecord> {
  readonly #path: string | undefined;
  readonly #encoding: FieldEncoding;
  readonly #delimiter: string;
  readonly #quote: string | null;
  readonly #keySel: FieldSelector;
  readonly #valueSel: readonly FieldSelector[] | null | undefined;
  readonly #decoder = new StringDecoder('utf8');
  /** Expect a header row still to come. */
  #wantHeader: boolean;
  #columns = -1;
  #keyIdx = 0;
  #valueIdx: number[] | null | undefined;
  /** Physical lines consumed by the rows seen so far. */
  #line = 0;
  /** Text fed to fast-csv since the last row boundary. */
  #pending = '';
  /** A trailing CR held back so that a CRLF split across chunks counts once. */
  #heldCR = false;
  /** Continues feeding the current chunk once the reader has taken rows. */
  #resume: (() => void) | undefined;

  constructor(options: CsvRecordOptions, defaults: { delimiter: string; quote: string | null }) {
    const delimiter = options.delimiter ?? defaults.delimiter;
    const quote = options.quote === undefined ? defaults.quote : options.quote;
    super(
      new ParserOptions({
        objectMode: true,
        headers: false,
        ignoreEmpty: false,
        delimiter,
        quote,
      }),
    );
    this.#path = options.path;
    this.#encoding = checkEncoding(options.encoding);
    this.#delimiter = delimiter;
    this.#quote = quote;
    this.#keySel = options.key ?? 0;
    checkSelector(this.#keySel, 'key');
    this.#valueSel = valueSelectors(options.value);
    for (const s of this.#valueSel ?? []) checkSelector(s, 'value');
    const named = typeof this.#keySel === 'string' || (this.#valueSel ?? []).some((s) => typeof s === 'string');
    if (options.headers === false && named) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'columns are selected by name, so the input needs a header row (headers: true)');
    }
    this.#wantHeader = options.headers ?? named;
    if (!this.#wantHeader) this.#resolveColumns(undefined);
    // Returning null drops a row (header, blank line): fast-csv then pushes nothing.
    this.transform((row: string[]) => this.#toRecord(row) as DiscoDBRecord);
  }

  /** Maps selectors to column indexes, using the header names when there are any. */
  #resolveColumns(header: string[] | undefined): void {
    const index = (sel: FieldSelector, what: string): number => {
      if (typeof sel === 'number') return sel;
      const i = header?.indexOf(sel) ?? -1;
      if (i < 0) {
        throw inputError(this.#path, this.#line, `no ${what} column named '${sel}' in the header (${(header ?? []).join(', ')})`);
      }
      return i;
    };
    this.#keyIdx = index(this.#keySel, 'key');
    this.#valueIdx = this.#valueSel === null ? null : this.#valueSel?.map((s) => index(s, 'value'));
    if (header) this.#columns = header.length;
  }

  #decode(text: string, line: number, what: string): RecordField {
    const field = decodeField(text, this.#encoding);
    if (field === undefined) throw inputError(this.#path, line, `${what} '${text.slice(0, 40)}' is not valid ${this.#encoding}`);
    return field;
  }

  #toRecord(row: string[]): DiscoDBRecord | null {
    const line = this.#line + 1;
    let breaks = 1;
    for (const cell of row) if (cell.length !== 0 && (cell.includes('\n') || cell.includes('\r'))) breaks += countBreaks(cell);
    this.#line += breaks;
    if (row.length === 0) return null; // an empty (or blank) line
    if (this.#wantHeader) {
      this.#wantHeader = false;
      this.#resolveColumns(row);
      return null;
    }
    if (this.#columns >= 0 && row.length !== this.#columns) {
      throw inputError(this.#path, line, `expected ${this.#columns} columns as in the header, got ${row.length}`);
    }
    const keyText = row[this.#keyIdx];
    if (keyText === undefined) {
      throw inputError(this.#path, line, `no key column ${this.#keyIdx} (the row has ${row.length} columns)`);
    }
    const key = this.#decode(keyText, line, 'key');
    const values: RecordField[] = [];
    const valueIdx = this.#valueIdx;
    if (valueIdx === undefined) {
      for (let i = 0; i < row.length; i++) if (i !== this.#keyIdx) values.push(this.#decode(row[i] as string, line, 'value'));
    } else if (valueIdx !== null) {
      for (const i of valueIdx) {
        const text = row[i];
        if (text === undefined) throw inputError(this.#path, line, `no value column ${i} (the row has ${row.length} columns)`);
        values.push(this.#decode(text, line, 'value'));
      }
    }
    return makeRecord(key, values);
  }

  /** Turns a fast-csv failure into an input error on the right line. */
  #fail(err: unknown): Error {
    if (err instanceof DiscoDBError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const at = this.#quote === null ? undefined : locateSyntaxError(this.#pending, this.#delimiter, this.#quote);
    return inputError(this.#path, this.#line + 1 + (at ?? 0), `malformed CSV: ${message.replace(/ at '[\s\S]*$/, '')}`, err);
  }

  #feed(text: string, last: boolean, done: TransformCallback): void {
    const before = this.#line;
    this.#pending += text;
    const cb: TransformCallback = (err) => {
      if (err) return done(this.#fail(err));
      // Whatever fast-csv turned into rows is gone from its buffer: keep only the rest.
      this.#pending = dropLines(this.#pending, this.#line - before);
      done();
    };
    if (last) super._flush(cb);
    else super._transform(text as unknown as Buffer, 'utf8', cb);
  }

  override _transform(data: Buffer | string, _encoding: string, done: TransformCallback): void {
    let text = (this.#heldCR ? '\r' : '') + (typeof data === 'string' ? data : this.#decoder.write(data));
    this.#heldCR = text.endsWith('\r');
    if (this.#heldCR) text = text.slice(0, -1);
    this.#feedPieces(text, 0, done);
  }

  /**
   * fast-csv pushes every row of a chunk whatever `push()` says. Feeding it small pieces and
   * waiting for the reader whenever the readable side is full keeps the buffer near its
   * high-water mark however large the written chunks are.
   */
  #feedPieces(text: string, start: number, done: TransformCallback): void {
    if (start >= text.length) return done();
    const end = Math.min(text.length, start + PIECE);
    this.#feed(start === 0 && end === text.length ? text : text.slice(start, end), false, (err) => {
      if (err) return done(err);
      const next = (): void => this.#feedPieces(text, end, done);
      if (end < text.length && this.readableLength >= this.readableHighWaterMark) this.#resume = next;
      else next();
    });
  }

  override _read(size: number): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
    super._read(size);
  }

  override _flush(done: TransformCallback): void {
    const rest = (this.#heldCR ? '\r' : '') + this.#decoder.end();
    this.#heldCR = false;
    if (rest === '') return this.#feed('', true, done);
    // fast-csv's flush parses its own buffer: hand it the tail first as a normal chunk.
    this.#feed(rest, false, (err) => (err ? done(err) : this.#feed('', true, done)));
  }
}

/**
 * Parses CSV bytes into writer records (fast-csv underneath). Write bytes, read
 * {@link DiscoDBRecord}s; a malformed line fails the stream with a {@link DiscoDBError} of code
 * `ERR_DISCODB_INPUT` whose `line` is the 1-based physical line.
 *
 * @example
 * await pipeline(fs.createReadStream('big.csv'), csvRecords({ key: 'user', value: 'item' }), new DiscoDBWriter('out.ddb'));
 */
export function csvRecords(options: CsvRecordOptions = {}): CsvParserStream<string[], DiscoDBRecord> {
  return new CsvRecordStream(options, { delimiter: ',', quote: '"' });
}

/**
 * Parses tab-separated bytes into writer records: {@link csvRecords} with a tab delimiter and
 * no quoting (TSV cells cannot contain tabs or line breaks, and a `"` is an ordinary character).
 */
export function tsvRecords(options: CsvRecordOptions = {}): CsvParserStream<string[], DiscoDBRecord> {
  return new CsvRecordStream(options, { delimiter: '\t', quote: null });
}
