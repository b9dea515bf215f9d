/**
 * End-to-end tests of the `discodb` command: they spawn the built CLI (dist/lib/cli/main.js;
 * `npm test` builds first) and check outputs, exit statuses, messages and files.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ENV, MAIN, cli, cliAsync, lines, type Run } from './helpers/cli.js';

const CORPUS = fileURLToPath(new URL('./fixtures/corpus/', import.meta.url));

/** Runs several invocations in parallel. */
async function cliAll<K extends string>(runs: Record<K, string[]>): Promise<Record<K, Run>> {
  const keys = Object.keys(runs) as K[];
  const results = await Promise.all(keys.map((k) => cliAsync(runs[k])));
  return Object.fromEntries(keys.map((k, i) => [k, results[i]])) as Record<K, Run>;
}

// One dataset in every input format: users → items, plus a "team" whose values are users
// (so that a dereference has something to follow). Same adds in the same order, so every
// build must give the very same bytes.
const PAIRS: Array<[string, string]> = [
  ['alice', 'apple'],
  ['alice', 'pear'],
  ['bob', 'apple'],
  ['carol', 'fig'],
  ['bob', 'kiwi'],
  ['team', 'alice'],
  ['team', 'carol'],
];
const INPUTS: Record<string, string> = {
  'users.csv': `user,item\n${PAIRS.map(([k, v]) => `${k},${v}`).join('\n')}\n`,
  'users.tsv': `user\titem\n${PAIRS.map(([k, v]) => `${k}\t${v}`).join('\n')}\n`,
  'users.jsonl': `${PAIRS.map(([k, v]) => JSON.stringify({ user: k, item: v })).join('\n')}\n`,
  'users.json': JSON.stringify(PAIRS.map(([key, value]) => ({ key, value })), null, 1),
  'users.txt': `${PAIRS.map(([k, v]) => `${k}\t${v}`).join('\n')}\n`,
};
const FIELDS: Record<string, string[]> = {
  'users.csv': ['--key', 'user', '--value', 'item'],
  'users.tsv': ['--key', 'user', '--value', 'item'],
  'users.jsonl': ['--key', 'user', '--value', 'item'],
  'users.json': [],
  'users.txt': [],
};

t.test('help and usage', async (t) => {
  const commands = ['create', 'get', 'query', 'metaquery', 'keys', 'values', 'unique-values', 'items', 'info', 'check'];
  const usage: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['frobnicate'], /^discodb: unknown command 'frobnicate'\n/],
    [['creat', 'o.ddb'], /unknown command 'creat' \(did you mean 'create'\?\)/],
    [['qeury', 'o.ddb', 'a'], /did you mean 'query'\?/],
    [['keys', 'a.ddb', '--jsno'], /unknown option '--jsno' \(did you mean '--json'\?\)/],
    [['create', 'o.ddb', 'x.csv', '--no-compresion'], /did you mean '--no-compression'\?/],
    [['keys'], /missing arguments: expected DB/],
    [['get', 'a.ddb'], /missing arguments/],
    [['keys', 'a', 'b'], /too many arguments/],
    [['keys', 'a.ddb', '--bogus'], /^discodb: unknown option '--bogus'\nrun 'discodb keys --help' for usage\n$/],
    [['keys', 'a.ddb', '--encoding', 'rot13'], /unknown encoding 'rot13'/],
    [['create', 'o.ddb', 'x.csv', '--format', 'xml'], /unknown format 'xml'/],
    [['create', 'o.ddb', 'x.csv', '--memory', 'lots'], /--memory: 'lots' is not a size/],
    [['create', 'o.ddb', 'x.csv', '--keys-only', '--value', 'v'], /exclude each other/],
    [['create', 'o.ddb', 'x.txt', '--key', 'k'], /tab lines have no named fields/],
  ];
  const [main, helpCreate, version, helps, usages] = await Promise.all([
    cliAsync(['--help']),
    cliAsync(['help', 'create']),
    cliAsync(['--version']),
    Promise.all(commands.map((c) => cliAsync([c, '--help']))),
    Promise.all(usage.map(([args]) => cliAsync(args))),
  ]);
  t.equal(main.code, 0);
  commands.forEach((c, i) => {
    const h = helps[i] as Run;
    t.match(main.out, new RegExp(`^  ${c} `, 'm'), `main help lists ${c}`);
    t.equal(h.code, 0, `${c} --help exits 0`);
    t.match(h.out, new RegExp(`^Usage: discodb ${c} `), `${c} --help shows its usage`);
    t.match(h.out, /--help/);
  });
  t.match(helpCreate.out, /--unique-items/);
  t.match(version.out, /^\d+\.\d+\.\d+/);
  usage.forEach(([args, message], i) => {
    const r = usages[i] as Run;
    t.equal(r.code, 2, `exit 2: discodb ${args.join(' ')}`);
    t.match(r.err, message);
  });
  t.notOk(fs.existsSync('o.ddb'), 'usage errors create nothing');
});

t.test('create from every format, file and stdin, then read', async (t) => {
  const dir = t.testdir(INPUTS);
  const built: Record<string, Buffer> = {};
  for (const name of Object.keys(INPUTS)) {
    const file = path.join(dir, name);
    const out = path.join(dir, `${name}.ddb`);
    const r = cli(['create', out, file, ...(FIELDS[name] ?? [])]);
    t.equal(r.code, 0, `create from ${name}: ${r.err}`);
    t.match(r.err, /^discodb: wrote .*: 7 records, .* 4 keys, 6 unique values/, 'one-line summary on a non-TTY stderr');
    built[name] = fs.readFileSync(out);

    const format = path.extname(name).slice(1).replace('txt', 'tab');
    const viaStdin = path.join(dir, `${name}.stdin.ddb`);
    const s = cli(['create', viaStdin, '--format', format, '--quiet', ...(FIELDS[name] ?? [])], INPUTS[name]);
    t.equal(s.code, 0, `create from stdin as ${format}: ${s.err}`);
    t.equal(s.err, '', '--quiet prints nothing');
    t.same(fs.readFileSync(viaStdin), built[name], `${format} from stdin gives the same bytes`);
  }
  const reference = built['users.csv'] as Buffer;
  for (const [name, bytes] of Object.entries(built)) t.same(bytes, reference, `${name} gives the same db as users.csv`);

  const db = path.join(dir, 'users.csv.ddb');
  const view = path.join(dir, 'view.txt');
  fs.writeFileSync(view, 'apple\nkiwi\nnot-a-value\n');
  const r = await cliAll({
    keys: ['keys', db],
    values: ['values', db],
    uniqueValues: ['unique-values', db],
    keysJson: ['keys', db, '--json'],
    items: ['items', db],
    get: ['get', db, 'alice'],
    getCount: ['get', db, 'bob', '--count'],
    getMissing: ['get', db, 'zoe'],
    or: ['query', db, 'alice | bob'],
    not: ['query', db, 'alice & ~bob'],
    deref: ['query', db, '*team'],
    count: ['query', db, '*team & ~bob', '--count'],
    none: ['query', db, 'nobody'],
    view: ['query', db, 'alice | bob', '--view', view],
    queryJson: ['query', db, 'alice', '--json'],
    meta: ['metaquery', db, '*team'],
    metaJson: ['metaquery', db, '*team', '--json'],
    info: ['info', db],
    infoJson: ['info', db, '--json'],
    check: ['check', db],
    checkQuiet: ['check', db, '-q'],
  });
  t.same(lines(r.keys.out), ['alice', 'bob', 'carol', 'team']);
  t.same(lines(r.values.out), ['apple', 'pear', 'apple', 'kiwi', 'fig', 'alice', 'carol']);
  t.same(lines(r.uniqueValues.out), ['apple', 'pear', 'fig', 'kiwi', 'alice', 'carol']);
  t.same(lines(r.keysJson.out), ['"alice"', '"bob"', '"carol"', '"team"']);
  t.same(lines(r.items.out).map((l) => JSON.parse(l)), [
    { key: 'alice', values: ['apple', 'pear'] },
    { key: 'bob', values: ['apple', 'kiwi'] },
    { key: 'carol', values: ['fig'] },
    { key: 'team', values: ['alice', 'carol'] },
  ]);

  t.equal(r.get.out, 'apple\npear\n');
  t.equal(r.getCount.out, '2\n');
  t.equal(r.getMissing.code, 1, 'get of an absent key exits 1');
  t.match(r.getMissing.err, /key 'zoe' not found/);

  t.equal(r.or.out, 'apple\npear\nkiwi\n');
  t.equal(r.not.out, 'pear\n', 'negation');
  t.equal(r.deref.out, 'apple\npear\nfig\n', 'dereference');
  t.equal(r.count.out, '2\n');
  t.equal(r.none.out, '', 'no match: empty output');
  t.equal(r.none.code, 0, 'and exit 0');
  t.equal(r.view.out, 'apple\nkiwi\n', '--view restricts');
  t.equal(r.queryJson.out, '"apple"\n"pear"\n');

  t.same(lines(r.meta.out), ['alice\tapple\tpear', 'carol\tfig']);
  t.same(lines(r.metaJson.out).map((l) => JSON.parse(l)), [
    { query: 'alice', values: ['apple', 'pear'] },
    { query: 'carol', values: ['fig'] },
  ]);

  t.equal(r.info.code, 0);
  t.match(r.info.out, /^keys: +4$/m);
  t.match(r.info.out, /^unique values: +6$/m);
  t.match(r.info.out, /^multiset: +no$/m);
  t.match(JSON.parse(r.infoJson.out), {
    numKeys: 4,
    numUniqueValues: 6,
    numValues: 7,
    totalSize: reference.length,
    compressed: false,
    hashed: false,
    multiset: false,
  });
  t.equal(r.check.code, 0);
  t.match(r.check.out, /: ok \(4 keys, 6 unique values, 7 values/);
  t.equal(r.checkQuiet.out, '');
});

t.test('create options', async (t) => {
  const dir = t.testdir({
    'a.csv': 'k1,v1,v2\nk2\n',
    'b.csv': 'k1,v1\nk3,v3\n',
    'dups.txt': 'k\tv\nk\tv\nk\tw\n',
    'keys.txt': 'x\ty\nz\n',
  });
  const two = path.join(dir, 'two.ddb');
  t.equal(cli(['create', two, path.join(dir, 'a.csv'), path.join(dir, 'b.csv'), '-q']).code, 0);
  t.same(lines(cli(['items', two]).out).map((l) => JSON.parse(l)), [
    { key: 'k1', values: ['v1', 'v1', 'v2'] }, // ascending value id, repeats kept
    { key: 'k2', values: [] },
    { key: 'k3', values: ['v3'] },
  ], 'several inputs, in order; a lone column is a key without values');

  const multi = path.join(dir, 'multi.ddb');
  const uniq = path.join(dir, 'uniq.ddb');
  t.equal(cli(['create', multi, path.join(dir, 'dups.txt'), '-q', '--no-compression', '--memory', '1M', '--tmpdir', dir]).code, 0);
  t.equal(cli(['create', uniq, path.join(dir, 'dups.txt'), '-q', '--unique-items']).code, 0);
  t.equal(JSON.parse(cli(['info', multi, '--json']).out).multiset, true);
  t.equal(JSON.parse(cli(['info', uniq, '--json']).out).multiset, false);
  t.equal(cli(['get', uniq, 'k']).out, 'v\nw\n');

  const keysOnly = path.join(dir, 'keys.ddb');
  t.equal(cli(['create', keysOnly, path.join(dir, 'keys.txt'), '-q', '--keys-only']).code, 0);
  t.same(lines(cli(['keys', keysOnly]).out), ['x\ty', 'z']);
  t.equal(cli(['values', keysOnly]).out, '');
});

t.test('binary keys and values round-trip with --encoding hex and base64', async (t) => {
  const entries: Array<[Buffer, Buffer]> = [
    [Buffer.from([0x00]), Buffer.from([0xff, 0xfe])],
    [Buffer.from([0x0a, 0x09, 0x0d]), Buffer.from([0x00, 0x00])],
    [Buffer.from([0xc3, 0x28]), Buffer.alloc(0)],
    [Buffer.alloc(0), Buffer.from('plain')],
    [Buffer.from([0x00]), Buffer.from([0x0a])],
  ];
  const dir = t.testdir({});
  const db = path.join(dir, 'bin.ddb');
  const input = entries.map(([k, v]) => `${k.toString('hex')}\t${v.toString('hex')}\n`).join('');
  const r = cli(['create', db, '--format', 'tab', '--encoding', 'hex', '-q'], input);
  t.equal(r.code, 0, r.err);

  const keys = [...new Set(entries.map(([k]) => k.toString('hex')))];
  t.same(lines(cli(['keys', db, '--encoding', 'hex']).out), keys);
  t.same(
    lines(cli(['keys', db, '--encoding', 'base64']).out),
    keys.map((k) => Buffer.from(k, 'hex').toString('base64')),
    'base64 (the empty key is an empty line)',
  );
  t.same(lines(cli(['get', db, '00', '--encoding', 'hex']).out), ['fffe', '0a']);
  t.same(lines(cli(['get', db, 'AA==', '--encoding', 'base64']).out), ['//4=', 'Cg==']);
  t.same(lines(cli(['query', db, '00 | 0a090d', '--encoding', 'hex']).out), ['fffe', '0000', '0a']);
  t.equal(cli(['query', db, 'c328 & ~00', '--encoding', 'hex']).out, '\n', 'an empty value prints as an empty line');
  const items = lines(cli(['items', db, '--encoding', 'hex']).out).map((l) => JSON.parse(l));
  t.same(items[0], { key: '00', values: ['fffe', '0a'] });
  // Without an encoding the bytes go out untouched.
  t.same(cli(['get', db, '--', 'plain']).code, 1);
  const raw = cli(['unique-values', db]).stdout;
  t.same(raw, Buffer.concat(entries.map(([, v]) => Buffer.concat([v, Buffer.from('\n')]))), 'raw bytes, one per line');

  // Same data from JSON Lines and CSV in base64: the same db.
  const b64 = path.join(dir, 'b64.ddb');
  const jsonl = entries.map(([k, v]) => JSON.stringify({ key: k.toString('base64'), value: v.toString('base64') })).join('\n');
  t.equal(cli(['create', b64, '--format', 'jsonl', '--encoding', 'base64', '-q'], jsonl).code, 0);
  t.same(fs.readFileSync(b64), fs.readFileSync(db));
  const csv = path.join(dir, 'csv.ddb');
  const csvText = entries.map(([k, v]) => `${k.toString('hex')},${v.toString('hex')}`).join('\r\n');
  t.equal(cli(['create', csv, '--format', 'csv', '--encoding', 'hex', '-q'], csvText).code, 0);
  t.same(fs.readFileSync(csv), fs.readFileSync(db));
});

t.test('the C corpus: create gives the same bytes as the C library', async (t) => {
  const dir = t.testdir({});
  for (const c of fs.readdirSync(CORPUS)) {
    const input = path.join(CORPUS, c, 'input.jsonl');
    if (!fs.existsSync(input)) continue; // gzipped large cases are the writer's tests
    const expected = JSON.parse(fs.readFileSync(path.join(CORPUS, c, 'expected.json'), 'utf8')) as {
      encoding: string;
      build_flags: string[];
    };
    const hex = expected.encoding === 'hex';
    const out = path.join(dir, `${c}.ddb`);
    const args = ['create', out, input, '-q', '--key', hex ? 'kx' : 'k', '--value', hex ? 'vx' : 'v', ...(hex ? ['--encoding', 'hex'] : [])];
    if (expected.build_flags.includes('DDB_OPT_UNIQUE_ITEMS')) args.push('--unique-items');
    if (expected.build_flags.includes('DDB_OPT_DISABLE_COMPRESSION')) args.push('--no-compression');
    const r = cli(args);
    t.equal(r.code, 0, `${c}: ${r.err}`);
    t.same(fs.readFileSync(out), fs.readFileSync(path.join(CORPUS, c, 'db.ddb')), `${c}: identical bytes`);
  }
});

t.test('failures: exit 1, a clear message, no partial file', async (t) => {
  const dir = t.testdir({
    'bad-quote.csv': 'user,item\nalice,apple\nbob,"kiwi\n',
    'bad-columns.csv': 'user,item\nalice,apple\nbob\ncarol,fig\n',
    'bad.jsonl': '{"key":"a","value":"b"}\n{"key":"c",\n',
    'bad.json': '[\n{"key":"a"},\n{"key":"b"} {"key":"c"}\n]',
    'bad-hex.txt': '00\t01\nzz\t02\n',
    'good.csv': 'a,b\n',
  });
  const out = path.join(dir, 'out.ddb');
  const cases: Array<[string, string[], RegExp]> = [
    ['bad-quote.csv', ['--key', 'user', '--value', 'item'], /bad-quote\.csv:3: malformed CSV: .*missing closing/],
    ['bad-columns.csv', ['--key', 'user', '--value', 'item'], /bad-columns\.csv:3: expected 2 columns as in the header, got 1/],
    ['bad.jsonl', [], /bad\.jsonl:2: invalid JSON/],
    ['bad.json', [], /bad\.json:3: invalid JSON/],
    ['bad-hex.txt', ['--encoding', 'hex'], /bad-hex\.txt:2: key 'zz' is not valid hex/],
  ];
  for (const [name, args, message] of cases) {
    const r = cli(['create', out, path.join(dir, name), ...args]);
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.err, message, `${name}: names file and line`);
    t.notOk(fs.existsSync(out), `${name}: no output file`);
    t.same(fs.readdirSync(dir).filter((f) => !Object.keys(cases).includes(f) && f.startsWith('out')), [], 'no temp files left');
  }
  const stdinBad = cli(['create', out, '--format', 'csv'], 'a,b\nc,"d"e\n');
  t.equal(stdinBad.code, 1);
  t.match(stdinBad.err, /<stdin>:2: malformed CSV/);
  t.notOk(fs.existsSync(out));

  const missing = cli(['create', out, path.join(dir, 'good.csv'), path.join(dir, 'nope.csv')]);
  t.equal(missing.code, 1);
  t.match(missing.err, /nope\.csv: no such file or directory/);
  t.notOk(fs.existsSync(out), 'a missing input leaves no output');

  // A failed rebuild keeps the previous file untouched.
  t.equal(cli(['create', out, path.join(dir, 'good.csv'), '-q']).code, 0);
  const before = fs.readFileSync(out);
  t.equal(cli(['create', out, path.join(dir, 'bad.jsonl')]).code, 1);
  t.same(fs.readFileSync(out), before, 'the existing db survives a failed create');
  t.same(fs.readdirSync(dir).filter((f) => f.startsWith('out') && f !== 'out.ddb'), [], 'and no temp file is left');

  // Corrupt and missing dbs.
  const good = fs.readFileSync(path.join(CORPUS, '03c_26_keys', 'db.ddb'));
  const truncated = path.join(dir, 'truncated.ddb');
  fs.writeFileSync(truncated, good.subarray(0, good.length - 10));
  for (const cmd of ['check', 'keys', 'info']) {
    const r = cli([cmd, truncated]);
    t.equal(r.code, 1, `${cmd} on a truncated db: exit 1`);
    t.match(r.err, /truncated\.ddb/, 'names the file');
  }
  const flipped = Buffer.from(good);
  for (let i = 200; i < 260; i++) flipped[i] = (flipped[i] as number) ^ 0x5a;
  const corrupt = path.join(dir, 'corrupt.ddb');
  fs.writeFileSync(corrupt, flipped);
  const c = cli(['check', corrupt]);
  t.equal(c.code, 1, 'check of a corrupt db exits 1');
  t.match(c.err, /offset \d+/, 'and says where');
  const notDb = cli(['keys', path.join(dir, 'good.csv')]);
  t.equal(notDb.code, 1);
  t.match(notDb.err, /good\.csv/);
  const noDb = cli(['keys', path.join(dir, 'none.ddb')]);
  t.equal(noDb.code, 1);
  t.match(noDb.err, /none\.ddb/);

  const db = path.join(CORPUS, '01_animals', 'db.ddb');
  for (const q of ['a & (', 'a | | b', ')']) {
    const r = cli(['query', db, q]);
    t.equal(r.code, 1, `bad query ${JSON.stringify(q)}: exit 1`);
    t.match(r.err, /^discodb: invalid query at position \d+/);
  }
  t.equal(cli(['get', db, 'zz', '--encoding', 'hex']).code, 2, 'a KEY that is not hex is a usage error');
});

t.test('a reader that goes away early is not an error', async (t) => {
  const dir = t.testdir({});
  const db = path.join(dir, 'big.ddb');
  const input = Array.from({ length: 200_000 }, (_, i) => `key-${i}\tvalue-${i}\n`).join('');
  t.equal(cli(['create', db, '-q'], input).code, 0);
  const child = spawn(process.execPath, [MAIN, 'keys', db], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy(); // like `| head -1`
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.equal(code, 0);
  t.equal(err, '');
});

t.test('units: argument parsing and the progress display', async (t) => {
  const { parseCommandLine, parseSize, parseSelector } = await import('../lib/cli/args.js');
  const { Progress, formatDuration } = await import('../lib/cli/progress.js');

  t.equal(parseSize('256M', 'x'), 256 * 1024 * 1024);
  t.equal(parseSize('1.5g', 'x'), 1.5 * 1024 ** 3);
  t.equal(parseSize('512KiB', 'x'), 512 * 1024);
  t.equal(parseSize('65536', 'x'), 65536);
  t.throws(() => parseSize('0', 'x'), { code: 'ERR_DISCODB_USAGE' });
  t.throws(() => parseSize('-1M', 'x'), { code: 'ERR_DISCODB_USAGE' });
  t.equal(parseSelector('3'), 3);
  t.equal(parseSelector('user'), 'user');
  t.equal(parseSelector('3a'), '3a');

  const inv = parseCommandLine(['create', 'o.ddb', 'a.csv', '-v', 'x', '--value', 'y', '-k', '0', '--no-compression']);
  t.equal(inv.kind, 'run');
  if (inv.kind === 'run') {
    t.same(inv.positionals, ['o.ddb', 'a.csv']);
    t.same(inv.values['value'], ['x', 'y']);
    t.equal(inv.values['key'], '0');
    t.equal(inv.values['no-compression'], true);
  }
  t.same(parseCommandLine(['get', '--help']).kind, 'help');
  t.same(parseCommandLine(['get', 'db', '--', '-weird']).kind, 'run', '-- ends the options');

  // A live (TTY) display redraws in place; a non-TTY one prints only the summary.
  const written: string[] = [];
  const live = new Progress({ write: (s: string) => written.push(s), columns: 200 }, { live: true, totalBytes: 1000 });
  live.update({ bytes: 500, records: 1234 });
  t.match(written.join(''), /^\r\[=+> +\]  50%  eta [\d.]+s  ingest  1,234 records  0\.0 MB  [\d.]+ MB\/s  [\d.]+s\x1b\[K$/, 'percentage and ETA while reading');
  live.update({ phase: 'hash' });
  const rateAt = (line: string | undefined): string | undefined => / ([\d.]+ MB\/s) /.exec(line ?? '')?.[1];
  const rateAfterReading = rateAt(live.line());
  await new Promise((r) => setTimeout(r, 300)); // the timer redraws during long phases
  t.match(written.at(-1), /hash [\d.]+s  1,234 records/, 'the time spent in the phase');
  t.notMatch(written.at(-1), /%|eta/, 'no percentage or ETA once reading is over');
  t.equal(rateAt(written.at(-1)), rateAfterReading, 'MB/s does not fall while nothing is read');
  // The writer's done/total of the merge, hash and write phases: a percentage, floored.
  live.update({ phase: 'merge', done: 42, total: 100 });
  t.match(live.line(), /^merge 42% [\d.]+s  1,234 records  /, 'the percentage of the merge');
  live.update({ phase: 'hash', done: 2999, total: 3000 });
  t.match(live.line(), /^hash 99% [\d.]+s  /, '99% until the phase is complete');
  live.update({ phase: 'write', done: undefined, total: undefined });
  t.match(live.line(), /^write [\d.]+s  /, 'no percentage before the phase knows its extent');
  live.update({ done: 5000, total: 5000 });
  t.match(live.line(), /^write 100% [\d.]+s  /);
  const narrow: string[] = [];
  const zeroColumns = new Progress({ write: (s: string) => narrow.push(s), columns: 0 }, { live: true });
  zeroColumns.update({ records: 2 });
  zeroColumns.finish();
  t.match(narrow[0], /[\d.]+s\x1b\[K$/, 'a terminal that reports 0 columns gets the whole line');
  const one = new Progress({ write: () => undefined }, { live: false });
  one.update({ records: 1 });
  t.match(one.line(), /  1 record  /, 'singular');
  live.finish(live.summary('out.ddb', ['3 keys']));
  t.match(written.at(-1), /^discodb: wrote out\.ddb: 1,234 records, 0\.0 MB in [\d.]+s \([\d.]+ MB\/s\), 3 keys\n$/);
  t.equal(written.at(-2), '\r\x1b[K', 'the bar is cleared before the summary');

  const plain: string[] = [];
  const quietSink: string[] = [];
  const notTty = new Progress({ write: (s: string) => plain.push(s), isTTY: false });
  notTty.update({ records: 5, bytes: 10 });
  notTty.finish(notTty.summary('x.ddb'));
  t.equal(plain.length, 1, 'non-TTY: one line');
  const quiet = new Progress({ write: (s: string) => quietSink.push(s), isTTY: true }, { quiet: true });
  quiet.update({ records: 1 });
  quiet.finish('summary');
  t.same(quietSink, [], 'quiet: nothing');
  t.equal(formatDuration(75), '1m15s');

  const { closest } = await import('../lib/cli/args.js');
  const { plural } = await import('../lib/cli/progress.js');
  t.equal(plural(1, 'key'), '1 key');
  t.equal(plural(0, 'key'), '0 keys');
  t.equal(plural(1234, 'key'), '1,234 keys');
  t.equal(closest('creat', ['create', 'get']), 'create');
  t.equal(closest('unique-value', ['unique-values', 'values']), 'unique-values');
  t.equal(closest('vlaues', ['values', 'keys']), 'values', 'a swap');
  t.equal(closest('frobnicate', ['create', 'get']), undefined, 'nothing close');

  // create --help says what the code does: spills go to the writer's default directory.
  const { findCommand } = await import('../lib/cli/spec.js');
  const { resolveOptions } = await import('../lib/writer/options.js');
  t.equal(resolveOptions({}).tmpDir, (await import('node:os')).tmpdir());
  t.match(findCommand('create')?.options['tmpdir']?.help, /default: the system temp directory/);
});
