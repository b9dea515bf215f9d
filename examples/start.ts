/**
 * `npm start`: a tour of discodb on the sample dataset (examples/data/docs.csv, an inverted
 * index term → document made by examples/make-sample.ts).
 *
 * Builds a db from the CSV through a stream pipeline, prints its info, runs lookups and queries
 * (a negation and a dereference among them), and streams one query result through a
 * transform into a file. Everything it writes goes to ./demo/ (git-ignored): the db is
 * rebuilt there on every run, so nothing piles up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import through2 from 'through2';
// In an application: import { DiscoDB, DiscoDBWriter, csvRecords } from 'discodb';
import { DiscoDB, DiscoDBWriter, csvRecords } from '../lib/index.js';
import { makeSample, samplePath } from './make-sample.js';

const heading = (text: string): void => console.log(`\n== ${text}`);
const show = (items: Iterable<string>, n = 5): string => {
  const out: string[] = [];
  for (const x of items) {
    if (out.length === n) {
      out.push('...');
      break;
    }
    out.push(x);
  }
  return out.join(' ');
};

const sample = samplePath();
if (!fs.existsSync(sample)) makeSample(sample); // a fresh checkout always has it; just in case
const dir = path.resolve('demo');
fs.mkdirSync(dir, { recursive: true });
const out = path.join(dir, 'docs.ddb');
const shown = (p: string): string => path.relative(process.cwd(), p);

heading(`Building ${shown(out)} from ${path.relative(process.cwd(), sample)}`);
const started = performance.now();
const writer = new DiscoDBWriter(out);
// Bytes → records → db, with backpressure all the way; the header row names the columns.
await pipeline(fs.createReadStream(sample), csvRecords({ key: 'key', value: 'value' }), writer);
const stats = writer.stats;
console.log(
  `${stats?.records.toLocaleString('en-US')} records in ${((performance.now() - started) / 1000).toFixed(2)} s ` +
    `→ ${stats?.size.toLocaleString('en-US')} bytes`,
);

const db = DiscoDB.open(out);
heading('Info');
console.log(db.info());

heading('Lookups');
console.log(`"stream" occurs in ${db.get('stream').count()} documents: ${show(db.get('stream'))}`);
console.log(`has "stream": ${db.has('stream')}; has "no-such-term": ${db.has('no-such-term')}`);
console.log(`first value of "topic:storage": ${db.peek('topic:storage')}`);
console.log(`the storage topic's terms: ${show(db.get('topic:storage'), 10)}`);

heading('Queries');
const queries: Array<[string, string]> = [
  ['index & cache', 'documents with both terms'],
  ['index & (cache | memory)', 'and/or'],
  ['socket & ~server', 'a negation: socket without server'],
  ['*topic:storage', 'a dereference: any term of the storage topic'],
  ['*topic:networking & *topic:concurrency & ~data', 'both topics, without "data"'],
];
for (const [q, what] of queries) {
  const result = db.query(q);
  console.log(`${q.padEnd(48)} ${String(result.count()).padStart(6)}  ${show(result, 3)}   (${what})`);
}

heading('Metaquery: *topic:concurrency expanded term by term');
for (const [q, values] of db.metaquery('*topic:concurrency')) console.log(`${String(q).padEnd(12)} ${values.count()} documents`);

heading('Streaming a query result through a transform into a file');
const resultFile = path.join(dir, 'networking-without-data.txt');
await pipeline(
  db.query('*topic:networking & ~data').stream(),
  // A small object transform: document id → a line with the document's number.
  through2.obj((doc: string, _enc, cb) => cb(null, `${doc}\t${Number(doc.slice(4))}\n`)),
  fs.createWriteStream(resultFile),
);
const lines = fs.readFileSync(resultFile, 'utf8').split('\n').filter(Boolean);
console.log(`${lines.length} lines written to ${shown(resultFile)}; the first ones:`);
for (const line of lines.slice(0, 3)) console.log(`  ${line}`);

db.close();
heading(`Try the command line (the files stay in ${shown(dir)}/; delete it freely)`);
console.log(`  node dist/lib/cli/main.js info ${shown(out)}`);
console.log(`  node dist/lib/cli/main.js query ${shown(out)} 'index & ~cache' --count`);
console.log(`  node dist/lib/cli/main.js metaquery ${shown(out)} '*topic:algorithms'`);
