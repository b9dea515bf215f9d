/**
 * CSV and TSV records: a streaming RFC 4180 state machine.
 *
 * Each chunk is checked as UTF-8 and decoded once (see `textRecordStream`). Rows without a
 * quote character (all of TSV, most of CSV) take a fast path: the row is found with one
 * `indexOf('\n')` and split with `indexOf(delimiter)`, over the current chunk's text only. A
 * row with quotes, or one that spans chunks, goes through the character-at-a-time machine,
 * which keeps a cell's text as pieces and joins them once. Either way each character is
 * looked at a constant number of times: time is linear, memory a small multiple of the
 * longest row (an unclosed quote makes the rest of the input one cell: it is reported, with
 * the line where the quote opened, at the end).
 *
 * Syntax as fast-csv read it before (kept so that no existing input changes meaning): a row
 * ends at LF, CRLF or a lone CR; blanks before an opening quote and after a closing quote are
 * ignored; a quote inside an unquoted cell is an ordinary character; `""` inside quotes is one
 * quote; a line that is empty (or only blanks) is skipped. (One difference: fast-csv read an
 * unquoted first cell of only blanks as empty; it is now kept as written.)
 */
import type { Duplex } from 'node:stream';
import { invalidUtf8Text, textRecordStream, TextPieces } from './bytes.js';
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
  /** Cell separator, one character. Default `,` for CSV, a tab for TSV. */
  delimiter?: string;
  /** Quote character, or `null` for none. Default `"` for CSV, none for TSV. */
  quote?: string | null;
}

/** Where the machine is within a row. */
enum State {
  /** At the start of a cell (the row's first cell included). */
  CellStart,
  /** In an unquoted cell. */
  Unquoted,
  /** In a quoted cell. */
  Quoted,
  /** Just after a quote inside a quoted cell: a second quote (`""`) or the closing one. */
  QuoteInQuoted,
  /** After the closing quote: blanks, then a delimiter or a line break. */
  AfterQuote,
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;

/** Checks a delimiter or quote option: one character other than a line break. */
function singleChar(value: string, what: string): number {
  const c = value.charCodeAt(0);
  if (value.length !== 1 || c === LF || c === CR || (c >= 0xd800 && c <= 0xdfff)) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `the ${what} must be one character other than a line break, got ${JSON.stringify(value)}`);
  }
  return c;
}

/** Turns rows (lists of cell text) into records: header, column selection, field decoding. */
class RowMapper {
  readonly #path: string | undefined;
  readonly #encoding: FieldEncoding;
  readonly #keySel: FieldSelector;
  readonly #valueSel: readonly FieldSelector[] | null | undefined;
  /** Expect a header row still to come. */
  #wantHeader: boolean;
  #columns = -1;
  #keyIdx = 0;
  #valueIdx: number[] | null | undefined;

  constructor(options: CsvRecordOptions) {
    this.#path = options.path;
    this.#encoding = checkEncoding(options.encoding);
    this.#keySel = options.key ?? 0;
    checkSelector(this.#keySel, 'key');
    this.#valueSel = valueSelectors(options.value);
    for (const s of this.#valueSel ?? []) checkSelector(s, 'value');
    const named = typeof this.#keySel === 'string' || (this.#valueSel ?? []).some((s) => typeof s === 'string');
    if (options.headers === false && named) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'columns are selected by name, so the input needs a header row (headers: true)');
    }
    this.#wantHeader = options.headers ?? named;
    if (!this.#wantHeader) this.#resolveColumns(undefined, 0);
  }

  /** Maps selectors to column indexes, using the header names when there are any. */
  #resolveColumns(header: string[] | undefined, line: number): void {
    const index = (sel: FieldSelector, what: string): number => {
      if (typeof sel === 'number') return sel;
      const i = header?.indexOf(sel) ?? -1;
      if (i < 0) {
        throw inputError(this.#path, line, `no ${what} column named '${sel}' in the header (${(header ?? []).join(', ')})`);
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

  /** The record of a row that starts on `line`, or `undefined` for the header. */
  map(row: string[], line: number): DiscoDBRecord | undefined {
    if (this.#wantHeader) {
      this.#wantHeader = false;
      this.#resolveColumns(row, line);
      return undefined;
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
}

/** A cell of only blanks: a row of one such cell is a blank line, skipped. */
const BLANK_CELL = /^[ \t]*$/;

/** Makes the bytes → records parser (see the module comment). */
function delimitedRecords(options: CsvRecordOptions, defaults: { delimiter: string; quote: string | null }): Duplex {
  const path = options.path;
  const delimText = options.delimiter ?? defaults.delimiter;
  const delim = singleChar(delimText, 'delimiter');
  const quoteText = options.quote === undefined ? defaults.quote : options.quote;
  const quote = quoteText === null ? -1 : singleChar(quoteText, 'quote');
  if (quote === delim) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'the quote and the delimiter must differ');
  const isBlank = (c: number): boolean => (c === SPACE || c === TAB) && c !== delim; // skipped around quotes
  /** A line of only blanks (no quote, no delimiter) is skipped. */
  const isBlankRow = (row: string[]): boolean => row.length === 1 && BLANK_CELL.test(row[0] as string);
  const mapper = new RowMapper(options);

  // Machine state, kept across chunks.
  let state = State.CellStart;
  let line = 1; // physical line of the character being read
  let rowLine = 1; // line where the current row started
  let quoteLine = 1; // line where the current quoted cell opened
  let rowChars = 0; // characters of the current row read so far (0: nothing yet)
  let skipLF = false; // a CR just ended a row: a following LF belongs to it
  let quotedCR = false; // the last character of a quoted cell was a CR (a following LF is the same line break)
  let blanksOnly = false; // the unquoted cell so far is only blanks (which may precede an opening quote)
  let rowQuoted = false; // a quoted cell in the row (so it is not a blank line)
  const cells: string[] = [];
  const cell = new TextPieces();

  const endRow = (out: DiscoDBRecord[]): void => {
    const row = cells.splice(0);
    if (rowChars > 0 && !(!rowQuoted && isBlankRow(row))) {
      const record = mapper.map(row, rowLine);
      if (record !== undefined) out.push(record);
    }
    state = State.CellStart;
    rowChars = 0;
    rowQuoted = false;
  };

  /** The slow path: reads `text` from `i` until the current row ends or the text does. */
  const slow = (text: string, i: number, out: DiscoDBRecord[]): number => {
    const n = text.length;
    let from = i; // start of the cell text not yet in `cell`
    while (i < n) {
      const c = text.charCodeAt(i);
      if (skipLF) {
        skipLF = false;
        if (c === LF) {
          from = ++i;
          continue;
        }
      }
      switch (state) {
        case State.CellStart:
          if (c === quote) {
            state = State.Quoted;
            rowQuoted = true;
            quoteLine = line;
            rowChars++;
            from = ++i;
            continue;
          }
          from = i;
          state = State.Unquoted;
          blanksOnly = true;
          continue; // this character is read in the Unquoted state
        case State.Unquoted:
          if (c === delim || c === LF || c === CR) {
            cells.push(cell.take(text.slice(from, i)));
            if (c === delim) {
              rowChars++;
              state = State.CellStart;
              from = ++i;
              continue;
            }
            endRow(out);
            line++;
            rowLine = line;
            skipLF = c === CR;
            return i + 1;
          }
          if (c === quote && blanksOnly) {
            // only blanks so far: they precede an opening quote and are dropped
            cell.take();
            state = State.Quoted;
            rowQuoted = true;
            quoteLine = line;
            rowChars++;
            from = ++i;
            continue;
          }
          if (!isBlank(c)) blanksOnly = false;
          rowChars++;
          i++;
          continue;
        case State.Quoted: {
          // Jump to the next quote, counting the line breaks passed over.
          let q = text.indexOf(quoteText as string, i);
          if (q < 0) q = n;
          for (let k = i; k < q; k++) {
            const b = text.charCodeAt(k);
            if (b === LF) {
              if (!quotedCR) line++;
              quotedCR = false;
            } else if (b === CR) {
              line++;
              quotedCR = true;
            } else quotedCR = false;
          }
          rowChars += q - i;
          i = q;
          if (q < n) {
            cell.push(text.slice(from, q));
            quotedCR = false;
            state = State.QuoteInQuoted;
            from = ++i;
          }
          continue;
        }
        case State.QuoteInQuoted:
          if (c === quote) {
            cell.push(quoteText as string);
            state = State.Quoted;
            rowChars++;
            from = ++i;
            continue;
          }
          cells.push(cell.take());
          state = State.AfterQuote;
          continue;
        case State.AfterQuote:
          if (isBlank(c)) {
            i++;
            continue;
          }
          if (c === delim) {
            rowChars++;
            state = State.CellStart;
            from = ++i;
            continue;
          }
          if (c === LF || c === CR) {
            endRow(out);
            line++;
            rowLine = line;
            skipLF = c === CR;
            return i + 1;
          }
          throw inputError(path, line, `malformed CSV: expected '${delimText}' or a line break after a closing quote, got '${String.fromCharCode(c)}'`);
      }
    }
    // The text ends inside the row: keep the open cell's text.
    if (state === State.Unquoted || state === State.Quoted) cell.push(text.slice(from, n));
    return n;
  };

  // Positions of the next LF / quote / CR / delimiter at or after the fast path's position (n:
  // none). Each is searched for again only once the position has passed it, so no text is
  // scanned twice, whatever mix of rows the slow path takes in between.
  let nextLF = -1;
  let nextQuote = -1;
  let nextCR = -1;
  let nextDelim = -1;

  /** The fast path: whole rows of `text` from `i` that hold no quote and no lone CR. */
  const fast = (text: string, i: number, out: DiscoDBRecord[]): number => {
    const n = text.length;
    for (;;) {
      if (nextLF < i) {
        const f = text.indexOf('\n', i);
        nextLF = f < 0 ? n : f;
      }
      const nl = nextLF;
      if (nl === n) return i;
      if (quote >= 0) {
        if (nextQuote < i) {
          const q = text.indexOf(quoteText as string, i);
          nextQuote = q < 0 ? n : q;
        }
        if (nextQuote < nl) return i;
      }
      if (nextCR < i) {
        const r = text.indexOf('\r', i);
        nextCR = r < 0 ? n : r;
      }
      let end = nl;
      if (nextCR < nl) {
        if (nextCR !== nl - 1) return i; // a lone CR ends a row: the slow path knows
        end = nl - 1;
      }
      if (end > i) {
        const row: string[] = [];
        let s = i;
        for (;;) {
          if (nextDelim < s) {
            const d = text.indexOf(delimText, s);
            nextDelim = d < 0 ? n : d;
          }
          if (nextDelim >= end) break;
          row.push(text.slice(s, nextDelim));
          s = nextDelim + 1;
        }
        row.push(text.slice(s, end));
        if (!((text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB) && isBlankRow(row))) {
          const record = mapper.map(row, line);
          if (record !== undefined) out.push(record);
        }
      }
      line++;
      rowLine = line;
      i = nl + 1;
    }
  };

  /** Whether the fast path may look at a row starting here. */
  const atRowStart = (): boolean => state === State.CellStart && rowChars === 0 && cells.length === 0 && cell.length === 0 && !skipLF;

  return textRecordStream(
    {
      text(text, out) {
        const n = text.length;
        nextLF = nextQuote = nextCR = nextDelim = -1;
        let i = 0;
        while (i < n) {
          if (atRowStart()) {
            i = fast(text, i, out);
            if (i >= n) break;
          }
          i = slow(text, i, out);
        }
      },
      end(out) {
        if (state === State.Quoted) {
          throw inputError(path, quoteLine, `malformed CSV: missing closing ${quoteText ?? ''} of the quoted cell opened on this line`);
        }
        if (state === State.QuoteInQuoted || state === State.Unquoted) cells.push(cell.take());
        else if (state === State.CellStart && cells.length > 0) cells.push('');
        if (cells.length > 0) endRow(out);
      },
      invalidUtf8(byte) {
        return inputError(path, line, invalidUtf8Text(byte));
      },
    },
    options.highWaterMark,
  );
}

/**
 * Parses CSV bytes into writer records. Write bytes, read {@link DiscoDBRecord}s; a malformed
 * line fails the stream with a {@link DiscoDBError} of code `ERR_DISCODB_INPUT` whose `line`
 * is the 1-based physical line.
 *
 * @example
 * await pipeline(fs.createReadStream('big.csv'), csvRecords({ key: 'user', value: 'item' }), new DiscoDBWriter('out.ddb'));
 */
export function csvRecords(options: CsvRecordOptions = {}): Duplex {
  return delimitedRecords(options, { delimiter: ',', quote: '"' });
}

/**
 * Parses tab-separated bytes into writer records: {@link csvRecords} with a tab delimiter and
 * no quoting (TSV cells cannot contain tabs or line breaks, and a `"` is an ordinary character).
 * Every tab separates two cells: the first cell is the key, each further cell a value.
 */
export function tsvRecords(options: CsvRecordOptions = {}): Duplex {
  return delimitedRecords(options, { delimiter: '\t', quote: null });
}
