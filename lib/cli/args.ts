/** Command-line parsing with node:util's parseArgs, against the table in spec.ts. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DiscoDBError } from '../errors.js';
import { COMMANDS, findCommand, type CommandSpec } from './spec.js';

/** What the command line asks for. */
export type Invocation =
  | { kind: 'help'; command?: CommandSpec }
  | { kind: 'version' }
  | { kind: 'run'; command: CommandSpec; positionals: string[]; values: OptionValues };

/** Parsed option values: strings, booleans, or string lists for repeatable options. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** A usage error: the CLI exits with status 2. */
export function usageError(message: string): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_USAGE', message);
}

/** Parses argv (without `node` and the script). Throws ERR_DISCODB_USAGE on any misuse. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) throw usageError('missing command');
  if (first === '--help' || first === '-h') return { kind: 'help' };
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (first === 'help') {
    if (rest[0] === undefined) return { kind: 'help' };
    const command = findCommand(rest[0]);
    if (!command) throw unknownCommand(rest[0]);
    return { kind: 'help', command };
  }
  if (first.startsWith('-')) throw usageError(`expected a command before '${first}'`);
  const command = findCommand(first);
  if (!command) throw unknownCommand(first);

  let parsed: { values: OptionValues; positionals: string[] };
  try {
    const options: NonNullable<ParseArgsConfig['options']> = {};
    for (const [name, o] of Object.entries(command.options)) {
      options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
    }
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    // parseArgs' messages are good; drop its long hint about '--', suggest a close option.
    const message = (err as Error).message.replace(/\. To specify a positional[\s\S]*$/, '');
    const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(message);
    const near = unknown ? closest(unknown[2] ?? '', Object.keys(command.options)) : undefined;
    throw usageError(`${message}${near === undefined ? '' : ` (did you mean '--${near}'?)`}`);
  }
  if (parsed.values['help']) return { kind: 'help', command };
  const [min, max] = command.args;
  const n = parsed.positionals.length;
  if (n < min) throw usageError(`missing arguments: expected ${command.usage}`);
  if (n > max) throw usageError(`too many arguments: expected ${command.usage}`);
  return { kind: 'run', command, positionals: parsed.positionals, values: parsed.values };
}

/** An unknown subcommand, with the closest real one when there is one. */
function unknownCommand(name: string): DiscoDBError {
  const near = closest(name, COMMANDS.map((c) => c.name));
  return usageError(`unknown command '${name}'${near === undefined ? '' : ` (did you mean '${near}'?)`}`);
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` (a prefix, or within a third of its length in edits), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  if (w === '') return undefined;
  const prefixed = candidates.filter((c) => c.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(w.length / 3));
  for (const c of candidates) {
    const d = distance(w, c);
    if (d <= bestDistance && (best === undefined || d < distance(w, best))) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i;

/** Parses a size such as `256M`, `1.5G`, `65536` or `512KiB` (binary multiples) into bytes. */
export function parseSize(text: string, what: string): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw usageError(`${what}: '${text}' is not a size (examples: 256M, 2G, 65536)`);
  const exp = ' kmgt'.indexOf((m[2] ?? '').toLowerCase() || ' ');
  const bytes = Math.floor(Number(m[1]) * 1024 ** exp);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw usageError(`${what}: '${text}' is out of range`);
  return bytes;
}

/** A column selector from the command line: all digits is a 0-based index, anything else a name. */
export function parseSelector(text: string): string | number {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** Reads a string option. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Reads a boolean option. */
export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** Reads a repeatable string option. */
export function listOption(values: OptionValues, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
