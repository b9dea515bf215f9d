/** Plain `key<TAB>value` lines, the simplest input (and the C `create` tool's, tab-separated). */
import type { Duplex } from 'node:stream';
import { DiscoDBError } from '../errors.js';
import { checkEncoding, decodeField, inputError, type RecordField, type RecordParserOptions } from './fields.js';
import { lineRecordStream } from './lines.js';

/** Options of {@link tabRecords}. */
export interface TabRecordOptions extends Pick<RecordParserOptions, 'encoding' | 'path' | 'highWaterMark'> {
  /** `null` reads keys only: the whole line is the key. */
  value?: null;
  /** The separator between key and value. Default a tab. */
  separator?: string;
}

/**
 * Parses plain `key<TAB>value` lines (the C `create` tool's format, with a tab instead of a
 * space): the key is the text before the first tab, the value everything after it (so values
 * may contain tabs); a line without a tab is a key without values; blank lines are skipped.
 */
export function tabRecords(options: TabRecordOptions = {}): Duplex {
  const encoding = checkEncoding(options.encoding);
  const separator = options.separator ?? '\t';
  if (separator.length === 0) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'the separator must not be empty');
  const keysOnly = options.value === null;
  const decode = (text: string, n: number, what: string): RecordField => {
    const field = decodeField(text, encoding);
    if (field === undefined) throw inputError(options.path, n, `${what} '${text.slice(0, 40)}' is not valid ${encoding}`);
    return field;
  };
  return lineRecordStream((line, n) => {
    if (line.length === 0) return undefined;
    const at = keysOnly ? -1 : line.indexOf(separator);
    if (at < 0) return { key: decode(line, n, 'key') };
    return { key: decode(line.slice(0, at), n, 'key'), value: decode(line.slice(at + separator.length), n, 'value') };
  }, options);
}
