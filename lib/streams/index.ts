/**
 * discodb streams: Readables over lazy iterables (keys, values, queries, items) and record
 * parsers that turn CSV, TSV, JSON, JSON Lines and tab-separated bytes into writer records.
 */
export { iterableStream, defaultLineFormat, type IterableStreamOptions, type StreamMode } from './readable.js';
export {
  checkEncoding,
  decodeField,
  type DiscoDBRecord,
  type FieldEncoding,
  type FieldSelector,
  type RecordField,
  type RecordParserOptions,
} from './fields.js';
export { csvRecords, tsvRecords, type CsvRecordOptions } from './csv.js';
export { jsonRecords, jsonlRecords, type JsonRecordOptions } from './json.js';
export { tabRecords, type TabRecordOptions } from './tab.js';
export { recordParser, formatFromPath, RECORD_FORMATS, type RecordFormat, type AnyRecordOptions } from './records.js';

