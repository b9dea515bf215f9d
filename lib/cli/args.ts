/** Command-line parsing with node:util's parseArgs, against the table in spec.ts. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DiscoDBError } from '../errors.js';
import { findCommand, type CommandSpec } from './spec.js';

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
    if (!command) throw usageError(`unknown command '${rest[0]}'`);
    return { kind: 'help', command };
  }
  if (first.startsWith('-')) throw usageError(`expected a command before '${first}'`);
  const command = findCommand(first);
  if (!command) throw usageError(`unknown command '${first}'`);

  let parsed: { values: OptionValues; positionals: string[] };
  try {
    const options: NonNullable<ParseArgsConfig['options']> = {};
    for (const [name, o] of Object.entries(command.options)) {
      options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
    }
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    // parseArgs' messages are good; drop its long hint about '--'.
    throw usageError(`${(err as Error).message.replace(/\. To specify a positional[\s\S]*$/, '')}`);
  }
  if (parsed.values['help']) return { kind: 'help', command };
  const [min, max] = command.args;
  const n = parsed.positionals.length;
  if (n < min) throw usageError(`missing arguments: expected ${command.usage}`);
  if (n > max) throw usageError(`too many arguments: expected ${command.usage}`);
  return { kind: 'run', command, positionals: parsed.positionals, values: parsed.values };
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
