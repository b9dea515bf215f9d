/** `discodb create OUT.ddb [INPUT...]`: input files (or stdin) → record parser → writer. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DiscoDBWriter } from '../writer/index.js';
import { formatFromPath, recordParser, RECORD_FORMATS, type RecordFormat } from '../streams/records.js';
import { flag, listOption, parseSelector, parseSize, stringOption, usageError, type OptionValues } from './args.js';
import { Progress, formatCount } from './progress.js';
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

/** Removes `path` if it exists; ignores failure (best effort after an error). */
async function removeQuietly(path: string): Promise<void> {
  await fs.promises.rm(path, { force: true }).catch(() => undefined);
}

/** Runs `discodb create`. */
export async function runCreate(args: string[], values: OptionValues): Promise<CommandResult> {
  const out = args[0] as string;
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
  if (inputs.includes(out)) throw usageError(`the output ${out} is also an input`);
  const quiet = flag(values, 'quiet');

  const formats = inputs.map((input) => (formatText as RecordFormat | undefined) ?? (input === '-' ? 'tab' : formatFromPath(input)));
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
  for (const input of inputs) {
    if (input === '-') {
      totalBytes = undefined;
      continue;
    }
    const st = await fs.promises.stat(input);
    if (st.isDirectory()) throw Object.assign(new Error(`${input}: is a directory`), { code: 'EISDIR', syscall: 'open', path: input });
    if (totalBytes !== undefined) totalBytes += st.size;
  }

  // The output's directory must exist and the output must not be a directory: say so now,
  // not after the whole input was read.
  const outDir = await fs.promises.stat(path.dirname(path.resolve(out)));
  if (!outDir.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', syscall: 'open', path: path.dirname(out) });
  if ((await fs.promises.stat(out).catch(() => undefined))?.isDirectory()) {
    throw Object.assign(new Error('is a directory'), { code: 'EISDIR', syscall: 'open', path: out });
  }

  const progress = new Progress(process.stderr, { quiet, ...(totalBytes === undefined ? {} : { totalBytes }) });
  const existed = fs.existsSync(out);
  const writer = new DiscoDBWriter(out, {
    ...(memoryText === undefined ? {} : { memoryLimit: memoryText }),
    ...(tmpDir === undefined ? {} : { tmpDir }),
    uniqueItems: flag(values, 'unique-items'),
    disableCompression: flag(values, 'no-compression'),
  });
  let bytes = 0;
  writer.on('progress', (p) => progress.update({ records: p.records, phase: p.phase }));

  // Ctrl-C: abort the pipeline, so that the cleanup below runs and no partial file is left.
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i] as string;
      const source = input === '-' ? process.stdin : fs.createReadStream(input);
      const counter = new ByteCounter((n) => {
        bytes += n;
        progress.update({ bytes });
      });
      const last = i === inputs.length - 1;
      // Every input but the last leaves the writer open; the last one ends it, and the
      // pipeline then resolves only once the writer has built and renamed the file.
      await pipeline(source, counter, parsers[i] as NodeJS.ReadWriteStream, writer, { end: last, signal: abort.signal });
    }
  } catch (err) {
    progress.finish();
    // The writer removes its own temporary files on destroy; wait for that, then make sure
    // no (partial) output is left where there was none.
    if (!writer.destroyed) writer.destroy();
    await new Promise<void>((resolve) => (writer.closed ? resolve() : writer.once('close', () => resolve())));
    if (!existed) await removeQuietly(out);
    for (const p of parsers) p.destroy();
    if (abort.signal.aborted) return { status: 130, message: 'interrupted; no output written' };
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const stats = writer.stats;
  const extra: string[] = [];
  if (stats) {
    progress.update({ records: stats.records });
    extra.push(`${formatCount(stats.keys)} keys`, `${formatCount(stats.uniqueValues)} unique values`, `${formatCount(stats.size)} bytes`);
  }
  progress.finish(progress.summary(out, extra));
  return { status: 0 };
}
