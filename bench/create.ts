/**
 * `discodb create` throughput on large inputs, against parsing the same file alone with the
 * same library.
 *
 *   npm run build && node dist/bench/create.js [--mb 110] [--runs 1] [--memory 256M]
 *
 * Generates bench/data/users.csv and bench/data/users.jsonl (≥ 100 MB each, deterministic,
 * gitignored; reused when present), then runs every task in a fresh child process (so that
 * peak RSS is the task's own) and prints MB/s, records/s and peak RSS:
 *
 * - parse only, raw library: fast-csv `parse()` / stream-chain's `jsonl/parserStream`
 * - parse to records: discodb's `csvRecords` / `jsonlRecords` (the library + field mapping)
 * - `discodb create`: the CLI's code path (runCli) end to end, file written and renamed
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { counter } from './counter.js';
import { rng as prng } from '../examples/random.js';

const HERE = fileURLToPath(import.meta.url);
const DATA = fileURLToPath(new URL('../../bench/data/', import.meta.url));
const MB = 1024 * 1024;

type Task = 'fastcsv' | 'csvRecords' | 'create-csv' | 'jsonl-parser' | 'jsonlRecords' | 'create-jsonl';

/** Runs one task in this (child) process and prints `{ seconds, records, maxRssMB }`. */
async function child(task: Task, file: string, memory: string): Promise<void> {
  const start = performance.now();
  let records = 0;
  switch (task) {
    case 'fastcsv': {
      const { parse } = await import('fast-csv');
      const sink = counter();
      await pipeline(fs.createReadStream(file), parse({ headers: false }), sink);
      records = sink.n;
      break;
    }
    case 'jsonl-parser': {
      const { default: parserStream } = await import('stream-chain/jsonl/parserStream.js');
      const sink = counter();
      await pipeline(fs.createReadStream(file), parserStream(), sink);
      records = sink.n;
      break;
    }
    case 'csvRecords':
    case 'jsonlRecords': {
      const streams = await import('../lib/streams/index.js');
      const parser = task === 'csvRecords' ? streams.csvRecords() : streams.jsonlRecords();
      const sink = counter();
      await pipeline(fs.createReadStream(file), parser, sink);
      records = sink.n;
      break;
    }
    case 'create-csv':
    case 'create-jsonl': {
      const { runCli } = await import('../lib/cli/run.js');
      const out = path.join(os.tmpdir(), `discodb-bench-${process.pid}.ddb`);
      const code = await runCli(['create', out, file, '--quiet', '--memory', memory]);
      if (code !== 0) throw new Error(`discodb create exited ${code}`);
      const { DiscoDB } = await import('../lib/discodb.js');
      const db = DiscoDB.open(out);
      records = db.info().numValues;
      db.close();
      fs.rmSync(out, { force: true });
      break;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ seconds, records, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
}

/** Writes users → items rows until the file reaches `mb` MB (skipped if it already does). */
async function generate(file: string, mb: number, row: (user: string, item: string) => string): Promise<void> {
  if (fs.existsSync(file) && fs.statSync(file).size >= mb * MB) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const rand = prng(42);
  const out = fs.createWriteStream(`${file}.tmp`);
  let size = 0;
  const target = mb * MB;
  while (size < target) {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      // 500k users, 2M items with a skew towards popular ones.
      const user = `user-${String(Math.floor(rand() * 500_000)).padStart(6, '0')}`;
      const item = `item-${String(Math.floor(rand() ** 2 * 2_000_000)).padStart(7, '0')}`;
      parts.push(row(user, item));
    }
    const chunk = parts.join('');
    size += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  fs.renameSync(`${file}.tmp`, file);
}

interface Result {
  seconds: number;
  records: number;
  maxRssMB: number;
}

function runChild(task: Task, file: string, memory: string): Result {
  const r = spawnSync(process.execPath, [HERE, '--child', task, file, memory], { encoding: 'utf8', maxBuffer: MB });
  if (r.status !== 0) throw new Error(`${task} failed (${r.status}): ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
  };
  const mb = Number(opt('mb', '110'));
  const runs = Number(opt('runs', '1'));
  const memory = opt('memory', '256M');
  const csv = path.join(DATA, 'users.csv');
  const jsonl = path.join(DATA, 'users.jsonl');
  console.log(`Generating inputs (≥ ${mb} MB each) in ${DATA} ...`);
  await generate(csv, mb, (u, i) => `${u},${i}\n`);
  await generate(jsonl, mb, (u, i) => `{"key":"${u}","value":"${i}"}\n`);

  const tasks: Array<[string, Task, string]> = [
    ['csv: parse only (fast-csv)', 'fastcsv', csv],
    ['csv: csvRecords (own RFC 4180 parser)', 'csvRecords', csv],
    ['csv: discodb create', 'create-csv', csv],
    ['jsonl: parse only (stream-chain jsonl)', 'jsonl-parser', jsonl],
    ['jsonl: jsonlRecords', 'jsonlRecords', jsonl],
    ['jsonl: discodb create', 'create-jsonl', jsonl],
  ];
  const rows: string[][] = [];
  for (const [label, task, file] of tasks) {
    const sizeMB = fs.statSync(file).size / MB;
    let best: Result | undefined;
    for (let i = 0; i < runs; i++) {
      const r = runChild(task, file, memory);
      if (!best || r.seconds < best.seconds) best = r;
    }
    const b = best as Result;
    rows.push([
      label,
      sizeMB.toFixed(0),
      b.records.toLocaleString('en-US'),
      b.seconds.toFixed(1),
      (sizeMB / b.seconds).toFixed(1),
      Math.round(b.records / b.seconds / 1000).toLocaleString('en-US'),
      b.maxRssMB.toFixed(0),
    ]);
    console.log(`  ${label}: ${b.seconds.toFixed(1)} s`);
  }
  const header = ['task', 'MB', 'records', 's', 'MB/s', 'krec/s', 'peak RSS MB'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const fmt = (r: string[]): string => `| ${r.map((x, c) => (c === 0 ? x.padEnd(widths[c] as number) : x.padStart(widths[c] as number))).join(' | ')} |`;
  console.log(`\nNode ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? '?'}), --memory ${memory}, best of ${runs}\n`);
  console.log(fmt(header));
  console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(fmt(r));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Task, process.argv[4] as string, process.argv[5] as string);
} else {
  await main();
}
