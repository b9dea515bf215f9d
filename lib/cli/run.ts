/** Dispatch and error reporting of the `discodb` command (main.ts only calls {@link runCli}). */
import { readFileSync } from 'node:fs';
import { DiscoDBError } from '../errors.js';
import { parseCommandLine } from './args.js';
import { runRead } from './read.js';
import { isShardedInvocation } from './sharded-spec.js';
import { commandHelp, findCommand, mainHelp } from './spec.js';
import { isClosedPipe, writeText } from './output.js';

/** Exit statuses: success, bad input / missing file / corrupt db, usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The message for stderr and the exit status of a failure. */
export function describeFailure(err: unknown): { status: number; message: string } {
  if (err instanceof DiscoDBError) {
    const usage = err.code === 'ERR_DISCODB_USAGE' || err.code === 'ERR_DISCODB_ARGUMENT';
    return { status: usage ? EXIT_USAGE : EXIT_FAILURE, message: err.message };
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.syscall === 'string') {
    // A system error: name the file and say what went wrong in words.
    const what: Record<string, string> = {
      ENOENT: 'no such file or directory',
      EACCES: 'permission denied',
      EISDIR: 'is a directory',
      ENOTDIR: 'not a directory',
      ENOSPC: 'no space left on device',
      EEXIST: 'file exists',
    };
    return { status: EXIT_FAILURE, message: `${e.path ?? e.syscall}: ${what[e.code] ?? e.message}` };
  }
  return { status: EXIT_FAILURE, message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

/** The CLI's one message style: `discodb: text`, lower case first. */
export function formatMessage(text: string): string {
  return `discodb: ${text.charAt(0).toLowerCase()}${text.slice(1)}\n`;
}

/**
 * Prints process warnings (the library's `DISCODB_NO_MMAP` when the mmap addon is missing,
 * say) as `discodb: warning: ...` lines instead of Node's `(node:PID) Warning: ...` form.
 */
export function installWarningPrinter(sink: { write(text: string): unknown } = process.stderr): void {
  process.removeAllListeners('warning'); // Node's default printer
  process.on('warning', (w: Error) => {
    sink.write(formatMessage(`warning: ${w.message}`));
  });
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit status.
 * Writes results to stdout and messages to stderr; never calls `process.exit`, so that piped
 * output is always flushed.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  // A reader that went away (`| head`) is not an error; the commands stop on their own.
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    process.stdout.on('error', (err: Error) => {
      if (!isClosedPipe(err)) process.stderr.write(formatMessage(`stdout: ${err.message}`));
    });
  }
  let commandName: string | undefined = argv[0] !== undefined && findCommand(argv[0]) ? argv[0] : undefined;
  try {
    const inv = parseCommandLine(argv);
    if (inv.kind === 'help') {
      await writeText(inv.command ? commandHelp(inv.command) : mainHelp());
      return EXIT_OK;
    }
    if (inv.kind === 'version') {
      await writeText(`${version()}\n`);
      return EXIT_OK;
    }
    commandName = inv.command.name;
    const result = isShardedInvocation(inv.command.name, inv.values)
      ? await (await import('./shards.js')).runSharded(inv.command.name, inv.positionals, inv.values)
      : inv.command.name === 'create'
        ? // Loaded on demand: reading commands need not load the writer.
          await (await import('./create.js')).runCreate(inv.positionals, inv.values)
        : await runRead(inv.command.name, inv.positionals, inv.values);
    if (result.message) process.stderr.write(formatMessage(result.message));
    return result.status;
  } catch (err) {
    const { status, message } = describeFailure(err);
    process.stderr.write(formatMessage(message));
    if (status === EXIT_USAGE) {
      process.stderr.write(argv.length === 0 ? `\n${mainHelp()}` : `run 'discodb ${commandName ?? ''}${commandName ? ' ' : ''}--help' for usage\n`);
    }
    return status;
  }
}

let stdoutGuarded = false;
