/** One entry point over the record parsers, chosen by format name (what the CLI uses). */
import type { Duplex } from 'node:stream';
import { DiscoDBError } from '../errors.js';
import { csvRecords, tsvRecords, type CsvRecordOptions } from './csv.js';
import { jsonlRecords, jsonRecords, type JsonRecordOptions } from './json.js';
import { tabRecords } from './tab.js';

/** The input formats the record parsers read. `tab` is plain `key<TAB>value` lines. */
export type RecordFormat = 'csv' | 'tsv' | 'json' | 'jsonl' | 'tab';

/** The input formats, in the order they are documented. */
export const RECORD_FORMATS: readonly RecordFormat[] = ['csv', 'tsv', 'jsonl', 'json', 'tab'];

/** Options for {@link recordParser}: the union of every parser's options. */
export type AnyRecordOptions = CsvRecordOptions & JsonRecordOptions;

/** Compression suffixes ignored when guessing the format (the CLI decompresses; the parsers read plain bytes). */
const COMPRESSION = /\.(?:gz|gzip|zst|zstd|bz2|xz)$/i;

/**
 * Guesses the format from a file name: `.csv`, `.tsv`, `.jsonl`/`.ndjson`, `.json`; anything
 * else (`.txt`, `.tab`, no extension) is plain tab lines. A compression suffix (`.gz`,
 * `.gzip`, `.zst`, `.zstd`, `.bz2`, `.xz`) is looked through: `x.csv.gz` is `'csv'`.
 */
export function formatFromPath(path: string): RecordFormat {
  const m = /\.([A-Za-z0-9]+)$/.exec(path.replace(COMPRESSION, ''));
  switch (m?.[1]?.toLowerCase()) {
    case 'csv':
      return 'csv';
    case 'tsv':
      return 'tsv';
    case 'jsonl':
    case 'ndjson':
      return 'jsonl';
    case 'json':
      return 'json';
    default:
      return 'tab';
  }
}

/** Makes the bytes → records parser for `format`. */
export function recordParser(format: RecordFormat, options: AnyRecordOptions = {}): Duplex {
  switch (format) {
    case 'csv':
      return csvRecords(options);
    case 'tsv':
      return tsvRecords(options);
    case 'jsonl':
      return jsonlRecords(options);
    case 'json':
      return jsonRecords(options);
    case 'tab': {
      if (options.key !== undefined || (options.value !== undefined && options.value !== null)) {
        throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'tab lines have no named fields: key and value cannot be selected');
      }
      return tabRecords({
        ...(options.encoding === undefined ? {} : { encoding: options.encoding }),
        ...(options.path === undefined ? {} : { path: options.path }),
        ...(options.value === null ? { value: null } : {}),
      });
    }
    default:
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `unknown format '${String(format)}' (expected ${RECORD_FORMATS.join(', ')})`);
  }
}
