/**
 * `discodb create OUT.ddb [INPUT...]`: input files (or stdin), gzip-decompressed when they are
 * gzip, → record parser → writer. OUT `-` builds in a temp file and copies it to stdout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DiscoDBError } from '../errors.js';
import { DiscoDBWriter } from '../writer/index.js';
import { formatFromPath, recordParser, RECORD_FORMATS, type RecordFormat } from '../streams/records.js';
import { flag, listOption, parseSelector, parseSize, stringOption, usageError, type OptionValues } from './args.js';
import { gzipError, openInput, stripCompressionSuffix } from './input.js';
import { isClosedPipe } from './output.js';
import { Progress, plural } from './progress.js';
import { encodingOption, type CommandResult } from './read.js';

/** Counts the bytes flowing through, for the progress display. */
class ByteCounter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

/** Exit statuses of a build stopped by a signal: 128 + the signal number, as shells report. */
const SIGNAL_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_STATUS;

/** The record format of an input: `--format`, else by its name without a compression suffix. */
function inputFormat(input: string, formatText: string | undefined): RecordFormat {
  if (formatText !== undefined) return formatText as RecordFormat;
  return input === '-' ? 'tab' : formatFromPath(stripCompressionSuffix(input));
}

/** Device and inode of what `p` names (symlinks followed), or undefined when nothing is there. */
function identity(st: fs.Stats | undefined): string | undefined {
  return st === undefined ? undefined : `${st.dev}:${st.ino}`;
}

/** What kind of non-regular file `st` is, for the refusal message. */
function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** What stdin is (a redirected file has a size and an identity), if it is open at all. */
function stdinStats(): fs.Stats | undefined {
  try {
    return fs.fstatSync(0);
  } catch {
    return undefined;
  }
}

const STDOUT_PREFIX = 'discodb-stdout-';

/**
 * Removes the stdout-build directories of processes that are gone (a `create -` killed before
 * it could clean up): their names carry the owner's pid.
 */
function removeDeadStdoutBuilds(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^discodb-stdout-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Copies a finished file to stdout; a reader that goes away early is an error (the db is cut). */
async function copyToStdout(file: string, signal: AbortSignal): Promise<void> {
  try {
    await pipeline(fs.createReadStream(file), process.stdout, { end: false, signal });
    // pipeline resolves when the last chunk is handed over; wait for it to be written out.
    await new Promise<void>((resolve, reject) => process.stdout.write('', (err) => (err ? reject(err) : resolve())));
  } catch (err) {
    if (isClosedPipe(err)) throw new DiscoDBError('ERR_DISCODB_IO', 'stdout was closed before the whole db was written');
    throw err;
  }
}

/** Runs `discodb create`. */
export async function runCreate(args: string[], values: OptionValues): Promise<CommandResult> {
  const out = args[0] as string;
  const toStdout = out === '-';
  const inputs = args.length > 1 ? args.slice(1) : ['-'];

  // --- options (every misuse is reported before anything is read or written)
  const formatText = stringOption(values, 'format');
  if (formatText !== undefined && !RECORD_FORMATS.includes(formatText as RecordFormat)) {
    throw usageError(`--format: unknown format '${formatText}' (expected ${RECORD_FORMATS.join(', ')})`);
  }
  const encoding = encodingOption(values);
  const keyText = stringOption(values, 'key');
  const valueTexts = listOption(values, 'value');
  const keysOnly = flag(values, 'keys-only');
  if (keysOnly && valueTexts.length > 0) throw usageError('--keys-only and --value exclude each other');
  const memoryText = stringOption(values, 'memory');
  if (memoryText !== undefined) parseSize(memoryText, '--memory');
  const tmpDir = stringOption(values, 'tmpdir');
  if (inputs.filter((i) => i === '-').length > 1) throw usageError('standard input (-) can be read only once');
  if (toStdout && process.stdout.isTTY) {
    throw usageError('refusing to write a db to a terminal: redirect stdout (discodb create - INPUT > out.ddb) or name OUT');
  }
  const quiet = flag(values, 'quiet');

  const formats = inputs.map((input) => inputFormat(input, formatText));
  const parserOptions = {
    ...(keyText === undefined ? {} : { key: parseSelector(keyText) }),
    ...(keysOnly ? { value: null } : valueTexts.length > 0 ? { value: valueTexts.map(parseSelector) } : {}),
    ...(flag(values, 'header') ? { headers: true } : {}),
    encoding,
  };
  // Build one parser per input now: option errors (a named column without headers, --key on
  // tab lines) surface as usage errors before the output is touched.
  const parsers = inputs.map((input, i) =>
    recordParser(formats[i] as RecordFormat, { ...parserOptions, path: input === '-' ? '<stdin>' : input }),
  );

  // --- inputs must exist (a missing file fails before the output is created)
  let totalBytes: number | undefined = 0;
  const inputIds = new Map<string, string>();
  for (const input of inputs) {
    const st = input === '-' ? stdinStats() : await fs.promises.stat(input);
    if (st === undefined || (input === '-' && !st.isFile())) {
      totalBytes = undefined;
      continue;
    }
    if (st.isDirectory()) throw Object.assign(new Error(`${input}: is a directory`), { code: 'EISDIR', syscall: 'open', path: input });
    inputIds.set(identity(st) as string, input === '-' ? 'standard input' : input);
    if (totalBytes !== undefined) totalBytes += st.size;
  }

  // The output's directory must exist, and what is at OUT must be a regular file (or nothing):
  // say so now, not after the whole input was read. OUT may not be one of the inputs, whatever
  // the names (a symlink or a hard link to an input is the input).
  let target = out;
  let stdoutDir: string | undefined;
  if (toStdout) {
    const parent = tmpDir ?? os.tmpdir();
    removeDeadStdoutBuilds(parent);
    stdoutDir = await fs.promises.mkdtemp(path.join(parent, `${STDOUT_PREFIX}${process.pid}-`));
    target = path.join(stdoutDir, 'out.ddb');
  } else {
    const outDir = await fs.promises.stat(path.dirname(path.resolve(out)));
    if (!outDir.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', syscall: 'open', path: path.dirname(out) });
    const st = await fs.promises.stat(out).catch(() => undefined);
    if (st !== undefined && !st.isFile()) {
      throw usageError(`${out} is ${fileKind(st)}: OUT must be a regular file${st.isDirectory() ? '' : ' (use - for standard output)'}`);
    }
    const same = inputIds.get(identity(st) ?? '');
    if (same !== undefined) throw usageError(`the output ${out} is also an input (${same})`);
  }

  const progress = new Progress(process.stderr, { quiet, ...(totalBytes === undefined ? {} : { totalBytes }) });
  let writer: DiscoDBWriter;
  try {
    writer = new DiscoDBWriter(target, {
      ...(memoryText === undefined ? {} : { memoryLimit: memoryText }),
      ...(tmpDir === undefined ? {} : { tmpDir }),
      uniqueItems: flag(values, 'unique-items'),
      disableCompression: flag(values, 'no-compression'),
    });
  } catch (err) {
    if (stdoutDir !== undefined) await fs.promises.rm(stdoutDir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  let bytes = 0;
  writer.on('progress', (p) => progress.update({ records: p.records, phase: p.phase, done: p.done, total: p.total }));

  // Ctrl-C / SIGTERM: abort the pipeline, so that the cleanup below runs and no temp file is left.
  const abort = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const onSignal = (signal: StopSignal): void => {
    stoppedBy ??= signal;
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let current = '-';
  try {
    for (let i = 0; i < inputs.length; i++) {
      current = inputs[i] as string;
      const opened = await openInput(current, formats[i] as RecordFormat, abort.signal);
      const counter = new ByteCounter((n) => {
        bytes += n;
        progress.update({ bytes });
      });
      const parser = parsers[i] as NodeJS.ReadWriteStream;
      const last = i === inputs.length - 1;
      // Every input but the last leaves the writer open; the last one ends it, and the
      // pipeline then resolves only once the writer has built and renamed the file.
      const options = { end: last, signal: abort.signal };
      if (opened.decompress) await pipeline(opened.raw, counter, opened.decompress, parser, writer, options);
      else await pipeline(opened.raw, counter, parser, writer, options);
    }
    if (stdoutDir !== undefined) {
      progress.update({ phase: 'copy' });
      await copyToStdout(target, abort.signal);
    }
  } catch (err) {
    progress.finish();
    // The writer removes its own temporary files on destroy; wait for that. Nothing is ever
    // removed at OUT: the writer only renames there once the build succeeded, so whatever is
    // at OUT now (an older db, a file someone put there, a symlink) is not ours to delete.
    // A writer destroyed before it finished reports ERR_DISCODB_ABORTED: expected here, and
    // not an unhandled 'error' when the input failed before the pipeline was set up.
    writer.on('error', () => undefined);
    if (!writer.destroyed) writer.destroy();
    await new Promise<void>((resolve) => (writer.closed ? resolve() : writer.once('close', () => resolve())));
    for (const p of parsers) p.destroy();
    if (stoppedBy !== undefined) return { status: SIGNAL_STATUS[stoppedBy], message: `interrupted (${stoppedBy}); no output written` };
    throw gzipError(err, current);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stdoutDir !== undefined) await fs.promises.rm(stdoutDir, { recursive: true, force: true }).catch(() => undefined);
  }
  const stats = writer.stats;
  const extra: string[] = [];
  if (stats) {
    progress.update({ records: stats.records });
    extra.push(plural(stats.keys, 'key'), plural(stats.uniqueValues, 'unique value'), plural(stats.size, 'byte'));
  }
  progress.finish(progress.summary(toStdout ? 'standard output' : out, extra));
  return { status: 0 };
}
