/** The reading subcommands: get, query, metaquery, keys, values, unique-values, items, info, check. */
import * as fs from 'node:fs';
import type { DiscoDBInfo } from '../discodb.js';
import { DiscoDBError } from '../errors.js';
import { openForReading, type ReadingDB } from './open.js';
import type { Inquiry } from '../reader/inquiry.js';
import { Clause, Literal, Q } from '../query/index.js';
import { checkEncoding, type FieldEncoding } from '../streams/fields.js';
import { flag, stringOption, usageError, type OptionValues } from './args.js';
import { bytesToText, decodeArgument, entryFormat, writeLines, writeText, type Bytes } from './output.js';
import { formatCount } from './progress.js';

/** The outcome of a command that is not an error: its exit status and a message for stderr. */
export interface CommandResult {
  status: number;
  message?: string;
}

/** The `--encoding` option, checked (a bad name is a usage error). */
export function encodingOption(values: OptionValues): FieldEncoding {
  const text = stringOption(values, 'encoding');
  try {
    return checkEncoding(text);
  } catch {
    throw usageError(`--encoding: unknown encoding '${text ?? ''}' (expected utf8, hex or base64)`);
  }
}

/** Rebuilds `q` with every key mapped through `fn` (dereferences included). */
function mapKeys(q: Q, fn: (key: Buffer) => Uint8Array): Q {
  return new Q(
    q.clauses.map(
      (c) =>
        new Clause(
          c.literals.map((l) => (l.query !== null ? Literal.deref(mapKeys(l.query, fn), l.negated) : Literal.term(fn(l.key as Buffer), l.negated))),
        ),
    ),
  );
}

/**
 * Parses a query given on the command line. With hex or base64, the terms are written in that
 * encoding (operators stay plain text), so any bytes can be queried.
 */
function parseQuery(expr: string, encoding: FieldEncoding): Q {
  const q = Q.parse(expr);
  if (encoding === 'utf8') return q;
  return mapKeys(q, (key) => decodeArgument(key.toString('utf8'), encoding, 'query term') as Uint8Array);
}

/** Reads a view file: one value per line (split on bytes, so values stay exact in utf8). */
function readViewFile(path: string, encoding: FieldEncoding): Array<string | Uint8Array> {
  const data = fs.readFileSync(path);
  const values: Array<string | Uint8Array> = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(10, start);
    if (end < 0) end = data.length;
    const line = data.subarray(start, end > start && data[end - 1] === 13 ? end - 1 : end);
    values.push(encoding === 'utf8' ? line : decodeArgument(line.toString('latin1'), encoding, `${path}: value`));
    start = end + 1;
  }
  return values;
}

/** Streams an inquiry of bytes to stdout, one entry per line. */
function printEntries(items: Iterable<Bytes>, encoding: FieldEncoding, json: boolean): Promise<void> {
  return writeLines(items, entryFormat(encoding, json));
}

/** Human-readable `info`. */
function formatInfo(path: string, info: DiscoDBInfo): string {
  const rows: Array<[string, string]> = [
    ['file', path],
    ['keys', formatCount(info.numKeys)],
    ['unique values', formatCount(info.numUniqueValues)],
    ['values', formatCount(info.numValues)],
    ['total size', `${formatCount(info.totalSize)} bytes`],
    ['values size', `${formatCount(info.valuesSize)} bytes`],
    ['items size', `${formatCount(info.itemsSize)} bytes`],
    ['compressed', info.compressed ? 'yes' : 'no'],
    ['hashed', info.hashed ? 'yes' : 'no'],
    ['multiset', info.multiset ? 'yes' : 'no'],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(15)}${v}\n`).join('');
}

/** Runs one reading subcommand on an opened db. */
async function runOn(db: ReadingDB, name: string, args: string[], values: OptionValues): Promise<CommandResult> {
  const path = args[0] as string;
  const json = flag(values, 'json');
  switch (name) {
    case 'get': {
      const encoding = encodingOption(values);
      const keyText = args[1] as string;
      const key = decodeArgument(keyText, encoding, 'KEY');
      if (!db.has(key)) return { status: 1, message: `key '${keyText}' not found in ${path}` };
      const inquiry = db.get(key);
      if (flag(values, 'count')) await writeText(`${inquiry.count()}\n`);
      else await printEntries(inquiry, encoding, json);
      return { status: 0 };
    }
    case 'query': {
      const encoding = encodingOption(values);
      const q = parseQuery(args[1] as string, encoding);
      const viewFile = stringOption(values, 'view');
      const options = viewFile === undefined ? undefined : { view: readViewFile(viewFile, encoding) };
      const inquiry = db.query(q, options);
      if (flag(values, 'count')) await writeText(`${inquiry.count()}\n`);
      else await printEntries(inquiry, encoding, json);
      return { status: 0 };
    }
    case 'metaquery': {
      const encoding = encodingOption(values);
      const q = parseQuery(args[1] as string, encoding);
      const shown = (x: Q): string =>
        encoding === 'utf8' ? x.toString() : mapKeys(x, (k) => Buffer.from(bytesToText(k, encoding))).toString();
      const fmt = entryFormat(encoding, false);
      const tab = Buffer.from('\t');
      const lines = {
        *[Symbol.iterator](): Iterator<string | Uint8Array> {
          for (const [expanded, inquiry] of db.metaquery(q) as Iterable<[Q, Inquiry<Buffer>]>) {
            if (json) {
              yield JSON.stringify({ query: shown(expanded), values: Array.from(inquiry, (v) => bytesToText(v, encoding)) });
            } else {
              const parts: Uint8Array[] = [Buffer.from(shown(expanded))];
              for (const v of inquiry) {
                const f = fmt(v);
                parts.push(tab, typeof f === 'string' ? Buffer.from(f) : f);
              }
              yield Buffer.concat(parts);
            }
          }
        },
      };
      await writeLines(lines, (line) => line);
      return { status: 0 };
    }
    case 'keys':
      await printEntries(db.keys(), encodingOption(values), json);
      return { status: 0 };
    case 'values':
      await printEntries(db.values(), encodingOption(values), json);
      return { status: 0 };
    case 'unique-values':
      await printEntries(db.uniqueValues(), encodingOption(values), json);
      return { status: 0 };
    case 'items': {
      const encoding = encodingOption(values);
      await writeLines(db.items(), ([key, vals]) =>
        JSON.stringify({ key: bytesToText(key, encoding), values: Array.from(vals, (v) => bytesToText(v, encoding)) }),
      );
      return { status: 0 };
    }
    case 'info': {
      const info = db.info();
      await writeText(json ? `${JSON.stringify(info)}\n` : formatInfo(path, info));
      return { status: 0 };
    }
    case 'check': {
      const report = db.check();
      if (!flag(values, 'quiet')) {
        await writeText(
          `${path}: ok (${formatCount(report.keys)} keys, ${formatCount(report.uniqueValues)} unique values, ` +
            `${formatCount(report.values)} values, ${formatCount(report.bytes)} bytes)\n`,
        );
      }
      return { status: 0 };
    }
    default:
      throw usageError(`unknown command '${name}'`);
  }
}

/** Opens the db named by the first argument and runs a reading subcommand on it. */
export async function runRead(name: string, args: string[], values: OptionValues): Promise<CommandResult> {
  encodingOption(values); // a bad --encoding is a usage error, whatever the db
  const path = args[0] as string;
  try {
    const db = openForReading(path);
    try {
      return await runOn(db, name, args, values);
    } finally {
      db.close();
    }
  } catch (err) {
    throw namingFile(err, path);
  }
}

/** A corruption or I/O error found midway ("key record 4713: ...") names the db file too. */
function namingFile(err: unknown, path: string): unknown {
  if (!(err instanceof DiscoDBError) || (err.code !== 'ERR_DISCODB_CORRUPT' && err.code !== 'ERR_DISCODB_IO')) return err;
  if (err.message.includes(path)) return err;
  return new DiscoDBError(err.code, `${path}: ${err.message}`, {
    cause: err,
    path,
    ...(err.offset === undefined ? {} : { offset: err.offset }),
  });
}
