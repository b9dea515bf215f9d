/**
 * `discodb create DIR --shards N`, `discodb create OUT --shard I/N` and `discodb manifest DIR`:
 * building sharded dbs on one machine or one shard at a time on any engine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { buildSharded, writeShardedManifest } from '../sharded/build.js';
import { checkPartitionBy, shardRecords, type PartitionBy } from '../sharded/partition.js';
import { MAX_SHARDS } from '../sharded/hash.js';
import { buildFile, type WriterOptions } from '../writer/index.js';
import { formatFromPath, recordParser, RECORD_FORMATS, type RecordFormat } from '../streams/records.js';
import { flag, listOption, parseSelector, parseSize, stringOption, usageError, type OptionValues } from './args.js';
import { formatCount } from './progress.js';
import { encodingOption, type CommandResult } from './read.js';

/** A positive integer option (`--shards`, `--jobs`), checked. */
function countOption(values: OptionValues, name: string, max: number): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw usageError(`--${name}: expected an integer from 1 to ${max}, got '${text}'`);
  return Number(text);
}

function partitionOption(values: OptionValues): PartitionBy {
  const text = stringOption(values, 'partition-by');
  try {
    return checkPartitionBy(text);
  } catch {
    throw usageError(`--partition-by: expected value or key, got '${text ?? ''}'`);
  }
}

/** `--shard I/N`, checked. */
function shardSpec(text: string): { shard: number; shards: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const shard = Number(m?.[1]);
  const shards = Number(m?.[2]);
  if (!m || shards < 1 || shards > MAX_SHARDS || shard >= shards) {
    throw usageError(`--shard: expected I/N with 0 <= I < N <= ${MAX_SHARDS}, got '${text}'`);
  }
  return { shard, shards };
}

/** The writer options of create/merge/invert. */
export function writerOptions(values: OptionValues): WriterOptions {
  const memory = stringOption(values, 'memory');
  if (memory !== undefined) parseSize(memory, '--memory');
  const tmpDir = stringOption(values, 'tmpdir');
  return {
    ...(memory === undefined ? {} : { memoryLimit: memory }),
    ...(tmpDir === undefined ? {} : { tmpDir }),
    uniqueItems: flag(values, 'unique-items'),
    disableCompression: flag(values, 'no-compression'),
  };
}

/**
 * The records of the inputs, one after another, parsed as `discodb create` parses them.
 * Parsers are made now, so option errors surface before anything is read or written.
 */
function inputRecords(inputs: string[], values: OptionValues): () => AsyncGenerator<unknown> {
  const formatText = stringOption(values, 'format');
  if (formatText !== undefined && !RECORD_FORMATS.includes(formatText as RecordFormat)) {
    throw usageError(`--format: unknown format '${formatText}' (expected ${RECORD_FORMATS.join(', ')})`);
  }
  const keyText = stringOption(values, 'key');
  const valueTexts = listOption(values, 'value');
  const keysOnly = flag(values, 'keys-only');
  if (keysOnly && valueTexts.length > 0) throw usageError('--keys-only and --value exclude each other');
  if (inputs.filter((i) => i === '-').length > 1) throw usageError('standard input (-) can be read only once');
  const options = {
    ...(keyText === undefined ? {} : { key: parseSelector(keyText) }),
    ...(keysOnly ? { value: null } : valueTexts.length > 0 ? { value: valueTexts.map(parseSelector) } : {}),
    ...(flag(values, 'header') ? { headers: true } : {}),
    encoding: encodingOption(values),
  };
  const parsers = inputs.map((input) =>
    recordParser((formatText as RecordFormat | undefined) ?? (input === '-' ? 'tab' : formatFromPath(input)), {
      ...options,
      path: input === '-' ? '<stdin>' : input,
    }),
  );
  return async function* () {
    try {
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i]!;
        const source: Readable = input === '-' ? process.stdin : fs.createReadStream(input);
        const parser = parsers[i]!;
        source.on('error', (err) => parser.destroy(err));
        yield* source.pipe(parser) as AsyncIterable<unknown>;
      }
    } finally {
      for (const p of parsers) p.destroy();
    }
  };
}

/** Fails before reading anything when an input file is missing or a directory. */
async function checkInputs(inputs: string[], out: string): Promise<void> {
  if (inputs.includes(out)) throw usageError(`the output ${out} is also an input`);
  for (const input of inputs) {
    if (input === '-') continue;
    const st = await fs.promises.stat(input);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR', syscall: 'open', path: input });
  }
}

/** `discodb create OUT --shards N ...` or `discodb create OUT --shard I/N ...`. */
async function runCreateSharded(args: string[], values: OptionValues): Promise<CommandResult> {
  const out = args[0]!;
  const inputs = args.length > 1 ? args.slice(1) : ['-'];
  const shardsN = countOption(values, 'shards', MAX_SHARDS);
  const shardText = stringOption(values, 'shard');
  if (shardsN !== undefined && shardText !== undefined) throw usageError('--shards and --shard exclude each other');
  const jobs = countOption(values, 'jobs', 256);
  if (jobs !== undefined && shardsN === undefined) throw usageError('--jobs needs --shards');
  const partitionBy = partitionOption(values);
  const writer = writerOptions(values);
  const records = inputRecords(inputs, values);
  await checkInputs(inputs, out);
  const quiet = flag(values, 'quiet');
  if (shardsN !== undefined) {
    if ((await fs.promises.stat(out).catch(() => undefined))?.isFile()) throw usageError(`--shards: ${out} is a file; the output of a sharded build is a directory`);
    const m = await buildSharded(records(), out, { ...writer, shards: shardsN, partitionBy, ...(jobs === undefined ? {} : { jobs }) });
    if (!quiet) {
      const bytes = m.files.reduce((a, f) => a + f.size, 0);
      process.stderr.write(
        `discodb create: ${out}: ${m.shards} shards by ${m.partitionBy}, ${formatCount(m.totals.keys)} keys, ` +
          `${formatCount(m.totals.uniqueValues)} unique values, ${formatCount(m.totals.values)} values, ${formatCount(bytes)} bytes\n`,
      );
    }
    return { status: 0 };
  }
  const { shard, shards } = shardSpec(shardText!);
  // Say so now, not after the whole input was read.
  const outDir = await fs.promises.stat(path.dirname(path.resolve(out)));
  if (!outDir.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', syscall: 'open', path: path.dirname(out) });
  if ((await fs.promises.stat(out).catch(() => undefined))?.isDirectory()) {
    throw Object.assign(new Error('is a directory'), { code: 'EISDIR', syscall: 'open', path: out });
  }
  await buildFile(shardRecords(records(), shard, shards, partitionBy), out, writer);
  if (!quiet) process.stderr.write(`discodb create: ${out}: shard ${shard} of ${shards} by ${partitionBy}, ${formatCount(fs.statSync(out).size)} bytes\n`);
  return { status: 0 };
}

/** `discodb manifest DIR --shards N [--partition-by value|key]`. */
async function runManifest(args: string[], values: OptionValues): Promise<CommandResult> {
  const dir = args[0]!;
  const shards = countOption(values, 'shards', MAX_SHARDS);
  if (shards === undefined) throw usageError('--shards N is required');
  const m = await writeShardedManifest(dir, { shards, partitionBy: partitionOption(values) });
  if (!flag(values, 'quiet')) {
    process.stderr.write(
      `discodb manifest: ${dir}: ${m.shards} shards by ${m.partitionBy}, ${formatCount(m.totals.keys)} keys, ` +
        `${formatCount(m.totals.uniqueValues)} unique values, ${formatCount(m.totals.values)} values\n`,
    );
  }
  return { status: 0 };
}

/** Runs `create` (sharded), `manifest`, `merge` or `invert`. */
export async function runSharded(name: string, args: string[], values: OptionValues): Promise<CommandResult> {
  switch (name) {
    case 'create':
      return runCreateSharded(args, values);
    case 'manifest':
      return runManifest(args, values);
    default:
      return (await import('./combine.js')).runCombine(name, args, values);
  }
}
