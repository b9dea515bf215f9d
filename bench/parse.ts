/**
 * Record parser stress and throughput (issue 10 item 6, issue 11 item 3).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/parse.js [--mb 50] [--baseline DIR]
 *
 * `--baseline DIR`: a built checkout of an older discodb (e.g. `git archive 10a59f1 | tar -x -C DIR`,
 * node_modules linked, `npx tsc`): its parsers run as peers in the same run ("before" rows).
 *
 * 1. Long lines: one cell or line of 1, 4 and 16 MiB (plus one short record after it), fed in
 *    64 KiB chunks, for every parser; time and peak RSS per case, each in a fresh child process.
 *    Linear parsing shows as a constant MB/s across sizes. Peer in the same run: fast-csv, the
 *    CSV parser used before, on 256 KiB / 512 KiB / 1 MiB cells (quadratic: 4× the time per 2×).
 * 2. Throughput on a file of short two-column rows (`bench/data/pairs.*`, generated, gitignored):
 *    `tsvRecords` beside `tabRecords` on the same TSV bytes (identical records), `csvRecords`
 *    beside fast-csv alone, `jsonlRecords` beside a bare split-lines-and-`JSON.parse` loop.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { counter } from './counter.js';

const HERE = fileURLToPath(import.meta.url);
const DATA = fileURLToPath(new URL('../../bench/data/', import.meta.url));
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

type LongCase = 'csv-cell' | 'csv-quoted' | 'csv-unclosed' | 'tsv' | 'tab' | 'jsonl' | 'json' | 'fastcsv-cell';
type FileCase = 'tsvRecords' | 'tabRecords' | 'csvRecords' | 'fastcsv' | 'jsonlRecords' | 'jsonl-peer';
/** The parser factories of `lib/streams` (this build or a baseline's). */
type Streams = typeof import('../lib/streams/index.js');

/** The input of a long-line case: one record holding `size` bytes, then a short one. */
function longInput(c: LongCase, size: number): Buffer {
  const x = 'x'.repeat(size);
  switch (c) {
    case 'csv-cell':
    case 'fastcsv-cell':
      return Buffer.from(`k,${x}\na,b\n`);
    case 'csv-quoted':
      return Buffer.from(`k,"${x}"\na,b\n`);
    case 'csv-unclosed':
      return Buffer.from(`a,b\nk,"${x}\na,b\n`);
    case 'tsv':
    case 'tab':
      return Buffer.from(`k\t${x}\na\tb\n`);
    case 'jsonl':
      return Buffer.from(`{"key":"k","value":"${x}"}\n{"key":"a","value":"b"}\n`);
    case 'json':
      return Buffer.from(`[{"key":"k","value":"${x}"},\n{"key":"a","value":"b"}]\n`);
  }
}

/** Runs one case in this (child) process and prints `{ seconds, records, maxRssMB }`. */
async function child(kind: string, c: string, arg: string, baseline: string): Promise<void> {
  const streams = (await import(baseline === '' ? '../lib/streams/index.js' : path.join(baseline, 'dist/lib/streams/index.js'))) as Streams;
  const { parse } = await import('fast-csv');
  let records = 0;
  let seconds: number;
  if (kind === 'long') {
    const input = longInput(c as LongCase, Number(arg));
    const chunks: Buffer[] = [];
    for (let i = 0; i < input.length; i += CHUNK) chunks.push(input.subarray(i, i + CHUNK));
    const parser =
      c === 'fastcsv-cell'
        ? parse({ headers: false })
        : c.startsWith('csv')
          ? streams.csvRecords()
          : streams.recordParser(c as 'tsv' | 'tab' | 'jsonl' | 'json');
    const sink = counter();
    const start = performance.now();
    try {
      await pipeline(Readable.from(chunks), parser, sink);
    } catch (err) {
      if (c !== 'csv-unclosed') throw err;
    }
    seconds = (performance.now() - start) / 1000;
    records = sink.n;
  } else {
    const file = arg;
    const sink = counter();
    const start = performance.now();
    if (c === 'jsonl-peer') {
      // The bare minimum for JSON Lines: split at '\n', JSON.parse each line, count.
      let rest = '';
      for await (const chunk of fs.createReadStream(file, { encoding: 'utf8' })) {
        const text = rest + (chunk as string);
        let s = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', s)) {
          const v = JSON.parse(text.slice(s, nl)) as { key: string };
          if (v.key !== undefined) sink.n++;
          s = nl + 1;
        }
        rest = text.slice(s);
      }
    } else {
      const parser =
        c === 'fastcsv'
          ? parse({ headers: false })
          : c === 'tsvRecords'
            ? streams.tsvRecords()
            : c === 'tabRecords'
              ? streams.tabRecords()
              : c === 'csvRecords'
                ? streams.csvRecords()
                : streams.jsonlRecords();
      await pipeline(fs.createReadStream(file), parser, sink);
    }
    seconds = (performance.now() - start) / 1000;
    records = sink.n;
  }
  console.log(JSON.stringify({ seconds, records, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
}

interface Result {
  seconds: number;
  records: number;
  maxRssMB: number;
}

/** Runs a case in a child; `null` when it did not finish within `timeout` seconds. */
function runChild(kind: string, c: string, arg: string, baseline = '', timeout = 120): Result | null {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', HERE, '--child', kind, c, arg, baseline], {
    encoding: 'utf8',
    maxBuffer: MiB,
    timeout: timeout * 1000,
  });
  if (r.signal === 'SIGTERM') return null;
  if (r.status !== 0) throw new Error(`${kind} ${c} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Result;
}

/** Writes two-column rows until the file reaches `mb` MiB (reused when it already does). */
function generate(file: string, mb: number, row: (k: string, v: string) => string): void {
  if (fs.existsSync(file) && fs.statSync(file).size >= mb * MiB) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(`${file}.tmp`, 'w');
  let size = 0;
  let n = 0;
  while (size < mb * MiB) {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++, n++) parts.push(row(`user-${String((n * 7919) % 500_000).padStart(6, '0')}`, `item-${String((n * 104729) % 2_000_000).padStart(7, '0')}`));
    const chunk = Buffer.from(parts.join(''));
    fs.writeSync(fd, chunk);
    size += chunk.length;
  }
  fs.closeSync(fd);
  fs.renameSync(`${file}.tmp`, file);
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const fmt = (r: string[]): string => `| ${r.map((x, c) => (c === 0 ? x.padEnd(widths[c] as number) : x.padStart(widths[c] as number))).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(fmt(r));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const mbAt = args.indexOf('--mb');
  const mb = mbAt >= 0 ? Number(args[mbAt + 1]) : 50;
  const baseAt = args.indexOf('--baseline');
  const baseline = baseAt >= 0 ? path.resolve(args[baseAt + 1] as string) : '';
  console.log(`Node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}\n`);

  console.log('1. One long cell or line, 64 KiB chunks (a fresh process per row)\n');
  const rows: string[][] = [];
  const longCases: Array<[string, LongCase, number[], string]> = [
    ['csv: unquoted cell', 'csv-cell', [1, 4, 16], ''],
    ['csv: quoted cell', 'csv-quoted', [1, 4, 16], ''],
    ['csv: unclosed quote (error)', 'csv-unclosed', [1, 4, 16], ''],
    ['tsv: cell', 'tsv', [1, 4, 16], ''],
    ['tab: line', 'tab', [1, 4, 16], ''],
    ['jsonl: line', 'jsonl', [1, 4, 16], ''],
    ['json: element', 'json', [1, 4, 16], ''],
    ['peer: fast-csv alone, unquoted cell', 'fastcsv-cell', [0.25, 1, 4], ''],
  ];
  if (baseline !== '') {
    longCases.push(
      ['before: csv unquoted cell', 'csv-cell', [0.25, 1, 2], baseline],
      ['before: csv unclosed quote', 'csv-unclosed', [0.25, 1, 2], baseline],
      ['before: tab line', 'tab', [1, 4, 16], baseline],
      ['before: jsonl line', 'jsonl', [1, 4, 16], baseline],
    );
  }
  for (const [label, c, sizes, base] of longCases) {
    for (const size of sizes) {
      const r = runChild('long', c, String(Math.round(size * MiB)), base, 60);
      const sizeText = size < 1 ? `${size * 1024} KiB` : `${size} MiB`;
      rows.push(r === null ? [label, sizeText, '> 60', '', ''] : [label, sizeText, r.seconds.toFixed(3), (size / r.seconds).toFixed(1), r.maxRssMB.toFixed(0)]);
      console.log(`  ${label}, ${sizeText}: ${r === null ? '> 60' : r.seconds.toFixed(3)} s`);
      if (r === null) break;
    }
  }
  console.log('');
  table(['case', 'line', 's', 'MiB/s', 'peak RSS MB'], rows);

  console.log(`\n2. Throughput on ${mb} MiB of short two-column rows (best of 2)\n`);
  const tsv = path.join(DATA, 'pairs.tsv');
  const csv = path.join(DATA, 'pairs.csv');
  const jsonl = path.join(DATA, 'pairs.jsonl');
  generate(tsv, mb, (k, v) => `${k}\t${v}\n`);
  generate(csv, mb, (k, v) => `${k},${v}\n`);
  generate(jsonl, mb, (k, v) => `{"key":"${k}","value":"${v}"}\n`);
  const fileCases: Array<[string, FileCase, string, string]> = [
    ['tsvRecords (.tsv)', 'tsvRecords', tsv, ''],
    ['tabRecords (--format tab), same file', 'tabRecords', tsv, ''],
    ['csvRecords', 'csvRecords', csv, ''],
    ['peer: fast-csv parse() alone', 'fastcsv', csv, ''],
    ['jsonlRecords', 'jsonlRecords', jsonl, ''],
    ['peer: split lines + JSON.parse', 'jsonl-peer', jsonl, ''],
  ];
  if (baseline !== '') {
    fileCases.push(
      ['before: tsvRecords (.tsv)', 'tsvRecords', tsv, baseline],
      ['before: tabRecords, same file', 'tabRecords', tsv, baseline],
      ['before: csvRecords', 'csvRecords', csv, baseline],
      ['before: jsonlRecords', 'jsonlRecords', jsonl, baseline],
    );
  }
  const rows2: string[][] = [];
  const seconds = new Map<string, number>();
  for (const [label, c, file, base] of fileCases) {
    const size = fs.statSync(file).size / MiB;
    const a = runChild('file', c, file, base) as Result;
    const b = runChild('file', c, file, base) as Result;
    const best = a.seconds <= b.seconds ? a : b;
    seconds.set(`${base === '' ? '' : 'before:'}${c}`, best.seconds);
    rows2.push([label, best.records.toLocaleString('en-US'), best.seconds.toFixed(2), (size / best.seconds).toFixed(1), best.maxRssMB.toFixed(0)]);
    console.log(`  ${label}: ${best.seconds.toFixed(2)} s`);
  }
  console.log('');
  table(['task', 'records', 's', 'MiB/s', 'peak RSS MB'], rows2);
  const ratio = (a: string, b: string): string => ((seconds.get(a) as number) / (seconds.get(b) as number)).toFixed(2);
  console.log(`\ntsv/tab: ${ratio('tsvRecords', 'tabRecords')}x; csvRecords/fast-csv: ${ratio('csvRecords', 'fastcsv')}x; jsonlRecords/peer: ${ratio('jsonlRecords', 'jsonl-peer')}x`);
  if (baseline !== '') {
    console.log(
      `before, same run: tsv/tab ${ratio('before:tsvRecords', 'before:tabRecords')}x; ` +
        `now/before: tsv ${ratio('tsvRecords', 'before:tsvRecords')}x, tab ${ratio('tabRecords', 'before:tabRecords')}x, ` +
        `csv ${ratio('csvRecords', 'before:csvRecords')}x, jsonl ${ratio('jsonlRecords', 'before:jsonlRecords')}x`,
    );
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as string, process.argv[4] as string, process.argv[5] as string, process.argv[6] ?? '');
} else {
  await main();
}
