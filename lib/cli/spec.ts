/**
 * The command table of the `discodb` CLI: every subcommand, its arguments and options, and
 * the help texts rendered from them (so help and parsing can never disagree).
 */
import { SHARDED_COMMANDS, SHARDED_CREATE_OPTIONS } from './sharded-spec.js';

/** One option of a subcommand, in node:util parseArgs terms plus its help line. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `FORMAT`. */
  arg?: string;
  help: string;
}

/** One subcommand. */
export interface CommandSpec {
  name: string;
  /** The positional arguments as shown in help, e.g. `DB KEY`. */
  usage: string;
  summary: string;
  /** Minimum and maximum number of positional arguments. */
  args: [min: number, max: number];
  options: Record<string, OptionSpec>;
  /** Extra paragraphs of help. */
  details?: string;
}

const help: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };
const encoding: OptionSpec = {
  type: 'string',
  short: 'e',
  arg: 'ENC',
  help: 'utf8 (default), hex or base64: how keys and values are written and how KEY/terms are read',
};
const json: OptionSpec = { type: 'boolean', help: 'JSON Lines: one JSON string per line' };

const listDetails =
  'Prints one entry per line. With --encoding hex or base64, binary data survives the trip;\n' +
  'with the default utf8 the bytes are written as they are.';

/** Every subcommand, in help order. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'create',
    usage: 'OUT.ddb|- [INPUT...]',
    summary: 'build a db from CSV, TSV, JSON, JSON Lines or tab-separated lines',
    args: [1, Infinity],
    options: {
      format: { type: 'string', short: 'f', arg: 'FORMAT', help: 'csv, tsv, jsonl, json or tab (default: by extension, ignoring .gz; tab for stdin and other names)' },
      key: { type: 'string', short: 'k', arg: 'FIELD', help: 'key column (name or 0-based index) or JSON field; default column 0 / field "key"' },
      value: {
        type: 'string',
        short: 'v',
        multiple: true,
        arg: 'FIELD',
        help: 'value column or field; repeat for several values per record; default every other column / field "values" or "value"',
      },
      header: { type: 'boolean', help: 'CSV/TSV: the first row holds column names (implied when a column is named)' },
      'keys-only': { type: 'boolean', help: 'read keys only, no values' },
      'unique-items': { type: 'boolean', help: 'drop repeated values of a key' },
      'no-compression': { type: 'boolean', help: 'never compress values' },
      memory: { type: 'string', short: 'm', arg: 'SIZE', help: 'memory budget of the writer, e.g. 256M or 2G (default: the writer\'s)' },
      tmpdir: { type: 'string', arg: 'DIR', help: 'directory for spill files (default: the system temp directory, $TMPDIR or /tmp)' },
      encoding: { ...encoding, help: 'utf8 (default), hex or base64: how key and value text is decoded into bytes' },
      quiet: { type: 'boolean', short: 'q', help: 'no progress bar and no summary' },
      ...SHARDED_CREATE_OPTIONS,
      help,
    },
    details:
      'Reads the INPUT files in order (standard input when there is none, or for "-").\n' +
      'gzip input (files or stdin) is recognised by its first bytes and decompressed; zstd, bzip2\n' +
      'and xz are refused: decompress them first (zstd -dc F | discodb create OUT --format tsv).\n' +
      'OUT "-" writes the finished db to standard output (never to a terminal).\n' +
      '\n' +
      'The line a<TAB>b<TAB>c: with tsv, tab-separated cells, every cell after the key is a value\n' +
      '(values b and c); with tab (stdin and unknown extensions), the first tab splits the key\n' +
      'from the value, and the value keeps later tabs (one value "b<TAB>c").\n' +
      '\n' +
      'On a TTY, stderr shows a progress bar (records, MB/s, phase, a percentage and ETA of the\n' +
      'reading when the input size is known, then a percentage of the merge, hash and write\n' +
      'phases); otherwise a one-line summary.\n' +
      'A malformed input line stops the build with its file and line; OUT is left as it was.\n' +
      'Ctrl-C (exit 130) or SIGTERM (exit 143) stop the build and remove its temporary files.\n' +
      '\n' +
      'Examples:\n' +
      '  discodb create users.ddb users.csv --key user --value item\n' +
      '  discodb create docs.ddb --format jsonl < docs.jsonl\n' +
      '  printf "a\\tb\\n" | discodb create small.ddb\n' +
      '  discodb create - words.tsv.gz > words.ddb',
  },
  {
    name: 'get',
    usage: 'DB KEY',
    summary: 'print the values of KEY (exit 1 when the key is absent)',
    args: [2, 2],
    options: { count: { type: 'boolean', short: 'c', help: 'print the number of values instead' }, json, encoding, help },
    details: listDetails,
  },
  {
    name: 'query',
    usage: "DB 'EXPR'",
    summary: 'print the values matching a query',
    args: [2, 2],
    options: {
      count: { type: 'boolean', short: 'c', help: 'print the number of matching values instead' },
      view: { type: 'string', arg: 'FILE', help: 'restrict to the values listed in FILE (one per line, in --encoding)' },
      json,
      encoding,
      help,
    },
    details:
      'EXPR is the Q language: terms are keys, & (and), | (or), ~ (not), parentheses,\n' +
      "and *TERM (or +TERM) dereferences: the values of TERM used as keys. Example: 'a & ~b | *c'.\n" +
      'A term is the text between the operators, trimmed: \'new york & ~ny\' has the keys\n' +
      '"new york" and "ny". A + right after a character of a term is part of it (libstdc++6,\n' +
      'g++ need no quotes); a + or * that starts a term dereferences. Any other key (one with\n' +
      '& | ~ * ( ), starting with + or ", with surrounding spaces, or empty) goes in double\n' +
      'quotes, with the escapes \\" \\\\ \\n \\r \\t \\xHH, inside the shell\'s single quotes:\n' +
      'discodb query deps.ddb \'"foo(1)" | libstdc++6 & ~"a*b"\'.\n' +
      'With --encoding hex or base64, every term is read in that encoding.',
  },
  {
    name: 'metaquery',
    usage: "DB 'EXPR'",
    summary: 'expand the dereferences of a query; print each expansion and its values',
    args: [2, 2],
    options: { json: { type: 'boolean', help: 'JSON Lines {"query":...,"values":[...]}' }, encoding, help },
    details: 'Prints one line per expansion: the expanded query, a tab, and its values separated by tabs.',
  },
  { name: 'keys', usage: 'DB', summary: 'print every key', args: [1, 1], options: { json, encoding, help }, details: listDetails },
  {
    name: 'values',
    usage: 'DB',
    summary: 'print every value of every key (repeats included)',
    args: [1, 1],
    options: { json, encoding, help },
    details: listDetails,
  },
  {
    name: 'unique-values',
    usage: 'DB',
    summary: 'print every distinct value once',
    args: [1, 1],
    options: { json, encoding, help },
    details: listDetails,
  },
  {
    name: 'items',
    usage: 'DB',
    summary: 'print every key with its values as JSON Lines {"key":...,"values":[...]}',
    args: [1, 1],
    options: { encoding, help },
  },
  {
    name: 'info',
    usage: 'DB',
    summary: 'print the counts, sizes and flags of a db',
    args: [1, 1],
    options: { json: { type: 'boolean', help: 'one JSON object' }, help },
  },
  {
    name: 'check',
    usage: 'DB',
    summary: 'verify a db from end to end (exit 0 when sound, 1 when corrupt)',
    args: [1, 1],
    options: { quiet: { type: 'boolean', short: 'q', help: 'print nothing when the db is sound' }, help },
  },
  ...SHARDED_COMMANDS,
];

/** Finds a subcommand by name. */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The top-level help. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: discodb COMMAND [OPTIONS] ARGS...',
    '',
    'Build and read discodb files: immutable key → values databases with CNF queries.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "discodb COMMAND --help" for the options of a command.',
    'Exit status: 0 success, 1 bad input, missing file or corrupt db, 2 usage error,',
    '130 / 143 create stopped by Ctrl-C / SIGTERM.',
    '',
  ].join('\n');
}

/** The help of one subcommand. */
export function commandHelp(c: CommandSpec): string {
  const rows = Object.entries(c.options).map(([name, o]) => {
    const flags = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    return [flags, o.help] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return [
    `Usage: discodb ${c.name} [OPTIONS] ${c.usage}`,
    '',
    `${c.summary[0]?.toUpperCase() ?? ''}${c.summary.slice(1)}.`,
    '',
    'Options:',
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`),
    ...(c.details ? ['', c.details] : []),
    '',
  ].join('\n');
}
