/**
 * The `discodb` command's inputs and outputs at their edges: gzip and other compressions,
 * `-` as OUT, the output never removed or overwritten by mistake, signals, corrupt dbs read
 * midway, warnings and message style. Spawns the built CLI (dist/lib/cli/main.js).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import t from 'tap';
import { ENV, MAIN, cli, cliAsync, lines, type Run } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs the CLI with stdin read from a file (a redirect, `< file`). */
function cliFromFile(args: string[], file: string): Run {
  const fd = fs.openSync(file, 'r');
  try {
    const r = spawnSync(process.execPath, [MAIN, ...args], { stdio: [fd, 'pipe', 'pipe'], env: ENV });
    return { code: r.status, stdout: r.stdout, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

const PAIRS: Array<[string, string]> = [
  ['alice', 'apple'],
  ['alice', 'pear'],
  ['bob', 'apple'],
  ['carol', 'fig'],
  ['team', 'alice'],
];
const INPUTS: Record<string, string> = {
  'users.csv': `user,item\n${PAIRS.map(([k, v]) => `${k},${v}`).join('\n')}\n`,
  'users.tsv': `user\titem\n${PAIRS.map(([k, v]) => `${k}\t${v}`).join('\n')}\n`,
  'users.jsonl': `${PAIRS.map(([k, v]) => JSON.stringify({ user: k, item: v })).join('\n')}\n`,
  'users.json': JSON.stringify(PAIRS.map(([key, value]) => ({ key, value }))),
  'users.txt': `${PAIRS.map(([k, v]) => `${k}\t${v}`).join('\n')}\n`,
};
const FIELDS: Record<string, string[]> = {
  'users.csv': ['--key', 'user', '--value', 'item'],
  'users.tsv': ['--key', 'user', '--value', 'item'],
  'users.jsonl': ['--key', 'user', '--value', 'item'],
  'users.json': [],
  'users.txt': [],
};
const FORMAT: Record<string, string> = { 'users.csv': 'csv', 'users.tsv': 'tsv', 'users.jsonl': 'jsonl', 'users.json': 'json', 'users.txt': 'tab' };

/** Two gzip members, as `cat a.gz b.gz` (or bgzip) makes. */
function gzipTwoMembers(text: string): Buffer {
  const cut = Math.floor(text.length / 2);
  return Buffer.concat([zlib.gzipSync(text.slice(0, cut)), zlib.gzipSync(text.slice(cut))]);
}

t.test('gzip input: files and stdin, every format, by magic bytes', async (t) => {
  const dir = t.testdir(INPUTS);
  await Promise.all(
    Object.entries(INPUTS).map(async ([name, text]) => {
      const fields = FIELDS[name] as string[];
      const plain = path.join(dir, `${name}.ddb`);
      // name.gz: the format comes from the name without .gz.
      const gz = path.join(dir, `${name}.gz`);
      fs.writeFileSync(gz, zlib.gzipSync(text));
      const fromGz = path.join(dir, `${name}.gz.ddb`);
      // A gzip file under a name that does not say so is still decompressed.
      const hidden = path.join(dir, `hidden-${name}`);
      fs.writeFileSync(hidden, zlib.gzipSync(text));
      const fromHidden = path.join(dir, `hidden-${name}.ddb`);
      // Several members, from stdin (no name: --format says the format).
      const viaStdin = path.join(dir, `${name}.stdin.ddb`);
      const [p, g, h, s] = await Promise.all([
        cliAsync(['create', plain, path.join(dir, name), '-q', ...fields]),
        cliAsync(['create', fromGz, gz, '-q', ...fields]),
        cliAsync(['create', fromHidden, hidden, '-q', ...fields]),
        cliAsync(['create', viaStdin, '-q', '--format', FORMAT[name] as string, ...fields], gzipTwoMembers(text)),
      ]);
      t.equal(p.code, 0, `${name}: plain build ${p.err}`);
      t.equal(g.code, 0, `${name}.gz: ${g.err}`);
      t.equal(h.code, 0, `hidden-${name}: ${h.err}`);
      t.equal(s.code, 0, `${name} gzip on stdin: ${s.err}`);
      const expected = fs.readFileSync(plain);
      t.same(fs.readFileSync(fromGz), expected, `${name}.gz gives the same db as ${name}`);
      t.same(fs.readFileSync(fromHidden), expected, `${name}: gzip found by its magic bytes, not its name`);
      t.same(fs.readFileSync(viaStdin), expected, `${name}: multi-member gzip on stdin gives the same db`);
    }),
  );
  // A redirected gzip file on stdin, and a plain input shorter than the magic bytes.
  const redirected = path.join(dir, 'redirected.ddb');
  t.equal(cliFromFile(['create', redirected, '-q'], path.join(dir, 'users.txt.gz')).code, 0);
  t.same(fs.readFileSync(redirected), fs.readFileSync(path.join(dir, 'users.txt.ddb')));
  const tiny = path.join(dir, 'tiny.ddb');
  t.equal(cli(['create', tiny, '-q'], 'k\tv\n').code, 0, 'a 4-byte input');
  t.equal(cli(['get', tiny, 'k']).stdout.toString(), 'v\n');
  const empty = path.join(dir, 'empty.ddb');
  t.equal(cli(['create', empty, '-q'], '').code, 0, 'an empty input');
  t.equal(JSON.parse(cli(['info', empty, '--json']).stdout.toString()).numKeys, 0);
});

t.test('zstd, bzip2, xz and damaged gzip are refused with a hint, nothing written', async (t) => {
  const dir = t.testdir({});
  const out = path.join(dir, 'out.ddb');
  const magic: Record<string, Buffer> = {
    zstd: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01]),
    bzip2: Buffer.from('BZh91AY&SY'),
    xz: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]),
  };
  const tool: Record<string, string> = { zstd: 'zstd -dc', bzip2: 'bzip2 -dc', xz: 'xz -dc' };
  const suffix: Record<string, string> = { zstd: 'zst', bzip2: 'bz2', xz: 'xz' };
  for (const [kind, bytes] of Object.entries(magic)) {
    const file = path.join(dir, `words.tsv.${suffix[kind]}`);
    fs.writeFileSync(file, bytes);
    const r = cli(['create', out, file]);
    t.equal(r.code, 1, `${kind} file: exit 1`);
    t.equal(r.err, `discodb: ${file}: ${kind} input: decompress first, e.g. \`${tool[kind]} ${file} | discodb create OUT --format tsv\`\n`);
    const s = cli(['create', out], bytes);
    t.equal(s.code, 1, `${kind} on stdin: exit 1`);
    t.match(s.err, new RegExp(`^discodb: <stdin>: ${kind} input: decompress first`));
    t.notOk(fs.existsSync(out), `${kind}: no output`);
  }
  const damaged = path.join(dir, 'cut.tsv.gz');
  fs.writeFileSync(damaged, zlib.gzipSync('a\tb\n'.repeat(1000)).subarray(0, 30));
  const r = cli(['create', out, damaged]);
  t.equal(r.code, 1);
  t.match(r.err, /cut\.tsv\.gz: gzip: unexpected end of file/);
  t.notOk(fs.existsSync(out));
  t.same(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file');
});

t.test('- as OUT: the finished db on stdout, the same bytes as a file build', async (t) => {
  const dir = t.testdir({ 'in.txt': INPUTS['users.txt'] as string, spill: {} });
  const file = path.join(dir, 'file.ddb');
  t.equal(cli(['create', file, path.join(dir, 'in.txt'), '-q']).code, 0);
  const spill = path.join(dir, 'spill');
  const r = cli(['create', '-', path.join(dir, 'in.txt'), '--tmpdir', spill]);
  t.equal(r.code, 0, r.err);
  t.same(r.stdout, fs.readFileSync(file), 'bytes equal to the file build');
  t.match(r.err, /^discodb: wrote standard output: 5 records, .*, 4 keys, 4 unique values/);
  t.same(fs.readdirSync(spill), [], 'the temp build is removed');
  t.notOk(fs.existsSync(path.join(process.cwd(), '-')), 'no file named -');
  const piped = cli(['create', '-', '-q'], INPUTS['users.txt']);
  t.same(piped.stdout, fs.readFileSync(file), 'stdin to stdout');

  // A dead process's leftover temp build is cleaned by the next one.
  const stale = path.join(spill, 'discodb-stdout-999999999-abc');
  fs.mkdirSync(stale);
  fs.writeFileSync(path.join(stale, 'out.ddb'), 'partial');
  t.equal(cli(['create', '-', path.join(dir, 'in.txt'), '-q', '--tmpdir', spill]).code, 0);
  t.same(fs.readdirSync(spill), [], 'leftover of a dead process removed');

  // A terminal on stdout is refused (script(1) gives the command a pseudo-terminal).
  if (spawnSync('script', ['--version']).status !== 0) {
    t.pass('refused on a TTY', { skip: 'script(1) is not available: cannot give the command a terminal' });
  } else {
    const cmd = `${process.execPath} ${MAIN} create - ${path.join(dir, 'in.txt')}`;
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: ENV });
    t.equal(tty.status, 2, 'refused on a TTY');
    t.match(tty.stdout, /refusing to write a db to a terminal/);
  }
});

t.test('the output is never an input, whatever its name', async (t) => {
  const dir = t.testdir({ 'in.txt': 'a\tb\n' });
  const input = path.join(dir, 'in.txt');
  fs.symlinkSync(input, path.join(dir, 'link.txt'));
  fs.linkSync(input, path.join(dir, 'hard.txt'));
  for (const out of [input, path.join(dir, 'link.txt'), path.join(dir, 'hard.txt'), path.join(dir, '.', 'in.txt')]) {
    const r = cli(['create', out, input]);
    t.equal(r.code, 2, `${path.basename(out)}: refused`);
    t.match(r.err, /is also an input \(.*in\.txt\)/);
  }
  const viaStdin = cliFromFile(['create', input], input);
  t.equal(viaStdin.code, 2, 'stdin redirected from OUT: refused');
  t.match(viaStdin.err, /is also an input \(standard input\)/);
  t.equal(fs.readFileSync(input, 'utf8'), 'a\tb\n', 'the input is untouched');
  t.same(fs.readdirSync(dir).sort(), ['hard.txt', 'in.txt', 'link.txt'], 'nothing written');

  fs.mkdirSync(path.join(dir, 'sub'));
  t.match(cli(['create', path.join(dir, 'sub'), input]).err, /sub is a directory/);
  const fifo = path.join(dir, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    const r = cli(['create', fifo, input]);
    t.equal(r.code, 2);
    t.match(r.err, /fifo is a FIFO: OUT must be a regular file \(use - for standard output\)/);
  }
});

/** Starts a build reading from a pipe we hold; resolves with its exit. */
function startBuild(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; err: string }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  child.stdin!.on('error', () => undefined); // the build may be gone (killed) before all input is written
  const done = new Promise<{ code: number | null; err: string }>((resolve) => child.on('close', (code) => resolve({ code, err })));
  return { child, done };
}

/** Waits until `cond` holds (polling), failing after 60 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** About 3 MB of records: with --memory 1M the writer spills, which shows the build is under way. */
const BULK = Array.from({ length: 60_000 }, (_, i) => `key-${i % 7000}\tvalue-${i}-padding-padding\n`).join('');

t.test('a failed create never removes what is at OUT', async (t) => {
  const dir = t.testdir({ spill: {} });
  const spill = path.join(dir, 'spill');

  // Something put at OUT while the build runs stays there when the build fails.
  const out = path.join(dir, 'out.ddb');
  const b = startBuild(['create', out, '--encoding', 'hex', '--memory', '1M', '--tmpdir', spill, '-q']);
  const hex = (text: string): string => Buffer.from(text).toString('hex');
  b.child.stdin!.write(BULK.split('\n').filter(Boolean).map((l) => l.split('\t').map(hex).join('\t')).join('\n') + '\n');
  await until(() => fs.readdirSync(spill).length > 0, 'the first spill');
  fs.writeFileSync(out, 'precious');
  b.child.stdin!.end('zz\t00\n'); // not hex: the build fails
  const r = await b.done;
  t.equal(r.code, 1, r.err);
  t.match(r.err, /<stdin>:\d+: key 'zz' is not valid hex/);
  t.equal(fs.readFileSync(out, 'utf8'), 'precious', 'the file at OUT is untouched');
  t.same(fs.readdirSync(spill), [], 'spill files removed');

  // A dangling symlink at OUT stays too.
  const link = path.join(dir, 'link.ddb');
  fs.symlinkSync(path.join(dir, 'nowhere.ddb'), link);
  const f = cli(['create', link, '--encoding', 'hex'], '00\t01\nzz\t02\n');
  t.equal(f.code, 1);
  t.equal(fs.readlinkSync(link), path.join(dir, 'nowhere.ddb'), 'the dangling symlink is still there');
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp file next to OUT');
});

t.test('SIGTERM exits 143, SIGINT 130; temp files removed, OUT untouched', async (t) => {
  const dir = t.testdir({ spill: {} });
  const spill = path.join(dir, 'spill');
  for (const [signal, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    const out = path.join(dir, `${signal}.ddb`);
    const b = startBuild(['create', out, '--memory', '1M', '--tmpdir', spill]);
    b.child.stdin!.write(BULK);
    await until(() => fs.readdirSync(spill).length > 0, 'the first spill');
    b.child.kill(signal);
    const r = await b.done;
    t.equal(r.code, status, `${signal}: exit ${status}`);
    t.match(r.err, new RegExp(`discodb: interrupted \\(${signal}\\); no output written`));
    t.notOk(fs.existsSync(out), 'no output');
    t.same(fs.readdirSync(spill), [], 'spill files removed');
    t.same(fs.readdirSync(dir).filter((n) => n !== 'spill'), [], 'no temp file next to OUT');
  }
});

t.test('a corrupt db read midway: the lines read so far come out, then the error names the file', async (t) => {
  const dir = t.testdir({});
  const good = path.join(dir, 'good.ddb');
  const input = Array.from({ length: 50_000 }, (_, i) => `key-${i}\tv${i % 100}\n`).join('');
  t.equal(cli(['create', good, '-q'], input).code, 0);
  const allKeys = lines(cli(['keys', good]).stdout.toString());
  t.equal(allKeys.length, 50_000);
  // Damage the key records in the middle of the file.
  const bytes = fs.readFileSync(good);
  const at = Math.floor(bytes.length * 0.45);
  for (let i = at; i < at + 64; i++) bytes[i] = (bytes[i] as number) ^ 0xff;
  const corrupt = path.join(dir, 'corrupt.ddb');
  fs.writeFileSync(corrupt, bytes);
  const r = cli(['keys', corrupt]);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.err, new RegExp(`^discodb: ${corrupt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\\(at byte offset \\d+\\)\\n$`), 'the message names the file');
  const printed = lines(r.stdout.toString());
  t.ok(printed.length > 1000 && printed.length < 50_000, `the keys before the damage are printed (${printed.length})`);
  // The last line may be the damaged record itself (its bytes read before the damage showed).
  t.same(printed.slice(0, -1), allKeys.slice(0, printed.length - 1), 'the first keys, in order');
  // Through a shell pipeline, as a user would count them.
  const wc = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" keys "${corrupt}" | wc -l`], { encoding: 'utf8', env: ENV });
  t.equal(Number(wc.stdout.trim()), printed.length, '`keys corrupt.ddb | wc -l` counts them');
  const c = cli(['check', corrupt]);
  t.equal(c.code, 1);
  t.match(c.err, /corrupt\.ddb/, 'check names the file');
});

t.test('warnings in CLI style; singular counts', async (t) => {
  const printer = `import { installWarningPrinter } from ${JSON.stringify(path.join(ROOT, 'dist/lib/cli/run.js'))};
installWarningPrinter();
process.emitWarning('the mmap addon is not installed: files are read with pread', { code: 'DISCODB_NO_MMAP' });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', printer], { encoding: 'utf8', env: ENV });
  t.equal(r.stderr, 'discodb: warning: the mmap addon is not installed: files are read with pread\n');

  // The library's test hook (lib/reader) that makes the addon look missing, when it exists.
  const hooked = fs.readdirSync(path.join(ROOT, 'lib/reader')).some((f) => fs.readFileSync(path.join(ROOT, 'lib/reader', f), 'utf8').includes('DISCODB_DISABLE_MMAP_ADDON'));
  if (!hooked) {
    t.pass('the missing-addon warning, end to end', { skip: 'lib/reader has no DISCODB_DISABLE_MMAP_ADDON hook in this branch' });
  } else {
    const dir = t.testdir({});
    const db = path.join(dir, 'a.ddb');
    t.equal(cli(['create', db, '-q'], 'k\tv\n').code, 0);
    const w = cli(['get', db, 'k'], '', { ...ENV, DISCODB_DISABLE_MMAP_ADDON: '1' });
    t.equal(w.code, 0);
    t.equal(w.stdout.toString(), 'v\n');
    t.match(w.err, /^discodb: warning: .*\n$/, 'one warning line, CLI style');
  }

  const dir = t.testdir({});
  const one = cli(['create', path.join(dir, 'one.ddb')], 'k\tv\n');
  t.match(one.err, /^discodb: wrote .*: 1 record, .*, 1 key, 1 unique value, \d+ bytes\n$/);
});
