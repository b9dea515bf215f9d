/**
 * discodb streams: Readables over lazy iterables (keys, values, queries, items) and record
 * parsers that turn CSV, TSV, JSON, JSON Lines and tab-separated bytes into writer records.
 *
 * Importing this module also gives every `Inquiry` its `.stream()` (the reader does not import
 * lib/streams itself, so that it stays free of stream dependencies).
 */
import { setInquiryStreamFactory } from '../reader/inquiry.js';
import { iterableStream } from './readable.js';

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

setInquiryStreamFactory(iterableStream);
