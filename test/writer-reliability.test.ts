/**
 * The writer's reliability promises (issue 10 items 1, 3, 5, 11; issue 11 items 11, 12):
 * atomic output on a full disk (a small tmpfs), destroy() in every phase, temp files
 * owned by a pid and swept after the owner died, cleanup on exit and signals (child
 * processes), output over symlinks and non-regular files, option and record validation.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { DiscoDB } from '../lib/discodb.js';
import { DiscoDBWriter, buildBuffer, buildFile, writeFileAtomic, type WriterPhase, type WriterProgress } from '../lib/writer/index.js';

const WRITER_DIST = fileURLToPath(new URL('../dist/lib/writer/index.js', import.meta.url));
const isRoot = process.getuid?.() === 0;

function scratch(tt: TapTest): { dir: string; tmp: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-reliability-'));
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, tmp };
}

/** `n` records over n/4 keys with `size`-byte values, all distinct. */
function records(n: number, size = 40): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  const pad = 'x'.repeat(Math.max(0, size - 12));
  for (let i = 0; i < n; i++) out.push({ key: `key${i % Math.max(1, n >> 2)}`, value: `v${i}${pad}`.slice(0, size) });
  return out;
}

/** Mounts a tmpfs of `size` at a fresh directory (root only); unmounted in teardown. */
function smallDisk(tt: TapTest, dir: string, size: string): string | null {
  if (!isRoot) return null;
  const mnt = path.join(dir, 'full');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
  tt.teardown(() => execFileSync('umount', [mnt]));
  return mnt;
}

t.test('a full disk: the writer and writeFileAtomic reject with ERR_DISCODB_IO and leave the target as it was', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const full = smallDisk(tt, dir, '1m');
  if (full === null) {
    tt.comment('skipped: mounting a 1 MiB tmpfs needs root (run the tests as root to cover disk-full cases)');
    return;
  }
  const target = path.join(full, 'big.ddb');
  fs.writeFileSync(target, 'old contents');
  // writeFileAtomic: 4 MiB into 1 MiB, the first write is short, the second fails.
  const data = new Uint8Array(4 * 1024 * 1024).fill(7);
  await tt.rejects(writeFileAtomic(target, data), { code: 'ERR_DISCODB_IO', path: target });
  tt.equal(fs.readFileSync(target, 'utf8'), 'old contents', 'writeFileAtomic: target untouched');
  tt.same(fs.readdirSync(full), ['big.ddb'], 'writeFileAtomic: no temp file left');
  // It fits: it is replaced.
  await writeFileAtomic(target, data.subarray(0, 1000));
  tt.equal(fs.statSync(target).size, 1000);
  fs.writeFileSync(target, 'old contents');

  // The writer's output (~3 MiB) on the full disk, in memory and spilled.
  const recs = records(30000, 100);
  for (const memoryLimit of ['256M', '256k']) {
    await tt.rejects(pipeline(Readable.from(recs), new DiscoDBWriter(target, { tmpDir: tmp, memoryLimit })), { code: 'ERR_DISCODB_IO' }, memoryLimit);
    tt.equal(fs.readFileSync(target, 'utf8'), 'old contents', `writer (${memoryLimit}): target untouched`);
    tt.same(fs.readdirSync(full), ['big.ddb'], `writer (${memoryLimit}): no temp file left`);
    tt.same(fs.readdirSync(tmp), [], `writer (${memoryLimit}): no spill left`);
  }
  // Spills onto the full disk.
  const elsewhere = path.join(dir, 'ok.ddb');
  fs.rmSync(target);
  await tt.rejects(buildFile(records(60000, 100), elsewhere, { tmpDir: full, memoryLimit: '4M' }), { code: 'ERR_DISCODB_IO' });
  tt.same(fs.readdirSync(full), [], 'spill directory removed');
  tt.notOk(fs.existsSync(elsewhere));
});

t.test('destroy() in every phase rejects the pipeline with ERR_DISCODB_ABORTED and removes every temp file', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'd.ddb');
  fs.writeFileSync(out, 'previous');
  const cases: { phase: WriterPhase; memoryLimit: string; n: number }[] = [
    { phase: 'spill', memoryLimit: '64k', n: 20000 },
    { phase: 'merge', memoryLimit: '64k', n: 20000 },
    { phase: 'hash', memoryLimit: '64k', n: 20000 },
    { phase: 'write', memoryLimit: '64k', n: 20000 },
    { phase: 'hash', memoryLimit: '256M', n: 20000 },
    { phase: 'write', memoryLimit: '256M', n: 20000 },
  ];
  for (const c of cases) {
    const label = `${c.phase} (${c.memoryLimit})`;
    const w = new DiscoDBWriter(out, { memoryLimit: c.memoryLimit, tmpDir: tmp });
    const seen: WriterPhase[] = [];
    let sawTemps = false;
    w.on('progress', (p: WriterProgress) => {
      seen.push(p.phase);
      // (The first spill has no file yet: destroy at the second.)
      if (p.phase === c.phase && !w.destroyed && (c.phase !== 'spill' || p.runs > 0)) {
        sawTemps = fs.readdirSync(tmp).length > 0 || fs.readdirSync(dir).length > 2;
        w.destroy();
      }
    });
    await tt.rejects(pipeline(Readable.from(records(c.n)), w), { code: 'ERR_DISCODB_ABORTED', name: 'DiscoDBError' }, label);
    tt.ok(seen.includes(c.phase), `${label}: reached`);
    tt.notOk(seen.includes('done'), `${label}: never done`);
    if (c.memoryLimit === '64k') tt.ok(sawTemps, `${label}: temp files existed when destroyed`);
    tt.equal(w.stats, null);
    tt.same(fs.readdirSync(tmp), [], `${label}: spill files removed`);
    tt.same(fs.readdirSync(dir).sort(), ['d.ddb', 'tmp'], `${label}: no temp output`);
    tt.equal(fs.readFileSync(out, 'utf8'), 'previous', `${label}: target untouched`);
  }
  // During ingest, from a slow source (between records).
  {
    const w = new DiscoDBWriter(out, { memoryLimit: '16k', tmpDir: tmp });
    async function* slow(): AsyncGenerator<{ key: string; value: string }> {
      for (const r of records(5000)) {
        yield r;
        if (r.value.startsWith('v4000')) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          w.destroy();
        }
      }
    }
    await tt.rejects(pipeline(slow, w), { code: 'ERR_DISCODB_ABORTED' }, 'ingest');
    tt.ok(w.progress().runs > 0, 'ingest: runs were spilled');
    tt.same(fs.readdirSync(tmp), [], 'ingest: spill files removed');
    tt.same(fs.readdirSync(dir).sort(), ['d.ddb', 'tmp']);
  }
  // With an error: that error is reported.
  {
    const w = new DiscoDBWriter(out, { tmpDir: tmp });
    const boom = new Error('boom');
    w.write({ key: 'a', value: 'b' });
    w.destroy(boom);
    await tt.rejects(pipeline(Readable.from([]), w), boom);
  }
  // After a successful build, destroy() changes nothing.
  {
    const w = new DiscoDBWriter(out, { tmpDir: tmp });
    await pipeline(Readable.from(records(100)), w);
    w.destroy();
    tt.ok(w.stats);
    tt.equal(DiscoDB.open(out).keys().count(), 25);
  }
});

/** Runs a child build that stops in its `write` phase (spills made, output temp open) and does `action` there. */
function childBuild(dir: string, tmp: string, action: 'block' | 'exit' | 'sleep', extra = ''): ReturnType<typeof spawn> {
  const script = path.join(dir, `child-${action}.mjs`);
  fs.writeFileSync(
    script,
    `
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DiscoDBWriter } from ${JSON.stringify(WRITER_DIST)};
// A plain process: the test runner injects a process-info hook into children that
// listens to these signals itself (and a signal someone else listens to is left to them).
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(s);
${extra}
const recs = [];
for (let i = 0; i < 40000; i++) recs.push({ key: 'key' + (i % 9000), value: 'value' + i });
const w = new DiscoDBWriter(${JSON.stringify(path.join(dir, 'out.ddb'))}, { memoryLimit: '64k', tmpDir: ${JSON.stringify(tmp)} });
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
let once = false;
w.on('progress', (p) => {
  if (p.phase !== 'write' || once) return;
  once = true;
  process.stdout.write('ready\\n');
  ${action === 'exit' ? 'process.exit(7);' : action === 'block' ? 'pause(60000);' : 'pause(1500);'}
});
await pipeline(Readable.from(recs), w);
process.stdout.write('finished\\n');
`,
  );
  return spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function untilReady(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(out);
    });
    child.once('exit', () => reject(new Error(`child exited before it was ready: ${out}`)));
  });
}

function exited(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out })));
}

/** Names in `dir` that belong to process `pid` (output temps and spill directories). */
function ownedBy(dir: string, pid: number): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes(`.${pid}.`) || n.startsWith(`discodb-${pid}-`));
}

t.test('temp files are owned: after SIGKILL a later build removes the leftovers', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const child = childBuild(dir, tmp, 'block');
  const done = exited(child);
  await untilReady(child);
  const pid = child.pid!;
  tt.equal(ownedBy(dir, pid).length, 1, 'the output temp file carries the pid');
  tt.match(ownedBy(dir, pid)[0], new RegExp(`^\\.out\\.ddb\\.${pid}\\.[0-9a-f]{8}\\.[0-9a-f]{12}\\.tmp$`));
  tt.equal(ownedBy(tmp, pid).length, 1, 'the spill directory carries the pid');
  tt.match(ownedBy(tmp, pid)[0], new RegExp(`^discodb-${pid}-[0-9a-f]{8}-`));
  child.kill('SIGKILL');
  tt.equal((await done).signal, 'SIGKILL');
  tt.equal(ownedBy(dir, pid).length, 1, 'SIGKILL leaves the output temp');
  tt.equal(ownedBy(tmp, pid).length, 1, 'SIGKILL leaves the spill directory');
  // An unrelated live process's files are not touched (our own pid is alive).
  const mine = path.join(tmp, `discodb-${process.pid}-00000000-abcdef`);
  fs.mkdirSync(mine);
  // A later build (another target in the same directory, same tmp dir) sweeps them.
  await buildFile(records(10), path.join(dir, 'other.ddb'), { tmpDir: tmp });
  tt.same(ownedBy(dir, pid), [], 'output temp of the dead build removed');
  tt.same(ownedBy(tmp, pid), [], 'spill directory of the dead build removed');
  tt.ok(fs.existsSync(mine), 'a live process keeps its files');
});

t.test('process.exit() and fatal signals in the middle of a build leave nothing', async (tt) => {
  const { dir, tmp } = scratch(tt);
  {
    const child = childBuild(dir, tmp, 'exit');
    const r = await exited(child);
    tt.match(r.out, /ready/);
    tt.equal(r.code, 7, 'process.exit(7) keeps its code');
    tt.same(fs.readdirSync(tmp), [], 'exit: no spill left');
    tt.same(fs.readdirSync(dir).filter((n) => !n.endsWith('.mjs')), ['tmp'], 'exit: no output, no temp output');
  }
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const child = childBuild(dir, tmp, 'sleep');
    const done = exited(child);
    await untilReady(child);
    child.kill(sig);
    const r = await done;
    tt.equal(r.signal, sig, `${sig}: the process still dies of the signal (default behaviour kept)`);
    tt.notMatch(r.out, /finished/);
    tt.same(fs.readdirSync(tmp), [], `${sig}: no spill left`);
    tt.same(fs.readdirSync(dir).filter((n) => !n.endsWith('.mjs')), ['tmp'], `${sig}: no output, no temp output`);
  }
  // An application that handles SIGTERM itself keeps its behaviour: here it lets the build finish.
  {
    const child = childBuild(dir, tmp, 'sleep', `process.on('SIGTERM', () => process.stdout.write('app saw SIGTERM\\n'));`);
    const done = exited(child);
    await untilReady(child);
    child.kill('SIGTERM');
    const r = await done;
    tt.equal(r.code, 0);
    tt.match(r.out, /app saw SIGTERM/);
    tt.match(r.out, /finished/, 'the build was not disturbed');
    tt.same(fs.readdirSync(tmp), []);
    tt.equal(DiscoDB.open(path.join(dir, 'out.ddb')).keys().count(), 9000);
  }
});

t.test('output over symlinks and non-regular files; the mode of an existing target is kept', async (tt) => {
  const { dir, tmp } = scratch(tt);
  const recs = records(100);
  const expected = buildBuffer(recs);
  // A symlink: the file it points to is replaced, the link stays.
  const real = path.join(dir, 'real.ddb');
  fs.writeFileSync(real, 'old');
  const link = path.join(dir, 'link.ddb');
  fs.symlinkSync('real.ddb', link);
  await pipeline(Readable.from(recs), new DiscoDBWriter(link, { tmpDir: tmp }));
  tt.ok(fs.lstatSync(link).isSymbolicLink(), 'the link stays');
  tt.ok(fs.readFileSync(real).equals(expected), 'its target got the db');
  // A dangling symlink: the file it names is created.
  const dangling = path.join(dir, 'dangling.ddb');
  fs.symlinkSync('created.ddb', dangling);
  await buildFile(recs, dangling, { tmpDir: tmp });
  tt.ok(fs.lstatSync(dangling).isSymbolicLink());
  tt.ok(fs.readFileSync(path.join(dir, 'created.ddb')).equals(expected));
  // writeFileAtomic follows links too.
  await writeFileAtomic(link, expected.subarray(0, 10));
  tt.ok(fs.lstatSync(link).isSymbolicLink());
  tt.equal(fs.statSync(real).size, 10);
  // Mode kept.
  fs.chmodSync(real, 0o600);
  await buildFile(recs, real, { tmpDir: tmp });
  tt.equal(fs.statSync(real).mode & 0o777, 0o600, 'writer: 0600 stays 0600');
  fs.chmodSync(real, 0o640);
  await writeFileAtomic(link, expected);
  tt.equal(fs.statSync(real).mode & 0o777, 0o640, 'writeFileAtomic: 0640 stays 0640');
  // Refused: directory, FIFO, socket, device (and a link to one).
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const sock = path.join(dir, 'sock');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  tt.teardown(() => server.close());
  let device = '/dev/null';
  if (isRoot) {
    device = path.join(dir, 'null-device');
    execFileSync('mknod', [device, 'c', '1', '3']);
  }
  const linkToFifo = path.join(dir, 'to-fifo');
  fs.symlinkSync(fifo, linkToFifo);
  const refused: [string, RegExp][] = [
    [tmp, /a directory/],
    [fifo, /a FIFO/],
    [sock, /a socket/],
    [device, /a character device/],
    [linkToFifo, /a FIFO/],
  ];
  for (const [p, kind] of refused) {
    await tt.rejects(pipeline(Readable.from(recs), new DiscoDBWriter(p, { tmpDir: tmp })), { code: 'ERR_DISCODB_ARGUMENT', message: kind, path: p }, p);
    await tt.rejects(writeFileAtomic(p, expected), { code: 'ERR_DISCODB_ARGUMENT', message: kind }, `writeFileAtomic ${p}`);
  }
  tt.ok(fs.lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
  tt.ok(fs.lstatSync(sock).isSocket());
  tt.ok(fs.lstatSync(device).isCharacterDevice());
  tt.ok(fs.lstatSync(linkToFifo).isSymbolicLink());
  tt.same(fs.readdirSync(tmp), []);
  tt.same(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp output anywhere');
});

t.test('writer options are validated: unknown names get the closest valid one, wrong types are refused', async (tt) => {
  const msg = 'unknown option memoryLimt (did you mean memoryLimit?)';
  tt.throws(() => new DiscoDBWriter('x.ddb', { memoryLimt: '1G' } as object), { code: 'ERR_DISCODB_ARGUMENT', message: msg });
  tt.throws(() => buildBuffer([], { memoryLimt: '1G' } as object), { code: 'ERR_DISCODB_ARGUMENT', message: msg });
  await tt.rejects(buildFile([], 'x.ddb', { memoryLimt: '1G' } as object), { code: 'ERR_DISCODB_ARGUMENT', message: msg });
  tt.throws(() => new DiscoDBWriter('x.ddb', { unique: true } as object), { message: /unknown option unique \(did you mean uniqueItems\?\)/ });
  tt.throws(() => new DiscoDBWriter('x.ddb', { disablecompression: true } as object), { message: /did you mean disableCompression\?/ });
  tt.throws(() => new DiscoDBWriter('x.ddb', { colour: 'red' } as object), { message: /^unknown option colour; the writer options are / });
  // Wrong types of known options.
  for (const bad of [{ uniqueItems: 'yes' }, { disableCompression: 1 }, { memoryLimit: {} }, { memoryLimit: 'lots' }, { tmpDir: 5 }, { tmpDir: '' }]) {
    tt.throws(() => new DiscoDBWriter('x.ddb', bad as object), { code: 'ERR_DISCODB_ARGUMENT' }, JSON.stringify(bad));
  }
  tt.throws(() => new DiscoDBWriter('x.ddb', ['uniqueItems'] as object), { code: 'ERR_DISCODB_ARGUMENT' });
  // The reader's open options may come in the same object (DiscoDB.from / DiscoDB.build).
  tt.equal(DiscoDB.from([{ key: 'a', value: 'b' }], { encoding: 'buffer', uniqueItems: true }).get('a').count(), 1);
});

t.test('numbers, bigints and booleans are stored as their JSON text; other types and lone surrogates are refused', async (tt) => {
  const asText = buildBuffer([
    { key: 'n', value: '5' },
    { key: 'n', value: '-0.25' },
    { key: 'n', value: '1e+21' },
    { key: '12345678901234567891', value: 'true' },
    { key: 'f', values: ['false', '7'] },
    ['3', '4'],
  ]);
  const asScalars = buildBuffer([
    { key: 'n', value: 5 },
    { key: 'n', value: -0.25 },
    { key: 'n', value: 1e21 },
    { key: 12345678901234567891n, value: true },
    { key: 'f', values: [false, 7] },
    [3, 4],
  ]);
  tt.ok(asScalars.equals(asText), 'same bytes as the strings');
  const db = DiscoDB.fromBuffer(asScalars);
  tt.same(db.get('12345678901234567891').toArray(), ['true'], 'a bigint keeps every digit');
  for (const bad of [NaN, Infinity, -Infinity, Symbol('s'), () => 1, {}, new Date(0)]) {
    tt.throws(() => buildBuffer([{ key: 'k', value: bad }]), { code: 'ERR_DISCODB_INPUT', record: 1, message: /value must be a string, a Uint8Array, a finite number, a bigint or a boolean/ }, String(bad));
    tt.throws(() => buildBuffer([{ key: bad, value: 'v' }]), { code: 'ERR_DISCODB_INPUT', record: 1, message: /key must be/ });
  }
  // Lone surrogates have no UTF-8 form: refused (not turned into U+FFFD), with the record number.
  const lone: [unknown, RegExp][] = [
    [{ key: 'a\uD800b', value: 'v' }, /key is not well-formed UTF-16: a lone surrogate \\uD800 at index 1/],
    [{ key: 'k', value: 'x\uDC00' }, /value is not well-formed UTF-16: a lone surrogate \\uDC00 at index 1/],
    [{ key: 'k', values: ['ok', '\uDBFF'] }, /values\[1\] is not well-formed UTF-16/],
    [['\uD83D', 'v'], /key is not well-formed/],
  ];
  for (const [rec, msg] of lone) {
    tt.throws(() => buildBuffer([{ key: 'a', value: 'b' }, rec]), { code: 'ERR_DISCODB_INPUT', record: 2, message: msg });
  }
  const { dir, tmp } = scratch(tt);
  const out = path.join(dir, 'lone.ddb');
  await tt.rejects(pipeline(Readable.from([{ key: 'a', value: 'b' }, { key: '\uDFFF', value: 'c' }]), new DiscoDBWriter(out, { tmpDir: tmp })), { code: 'ERR_DISCODB_INPUT', record: 2 });
  tt.notOk(fs.existsSync(out));
  // Well-formed pairs are fine, and two keys that differ only in their surrogates stay two keys.
  const emoji = DiscoDB.fromBuffer(buildBuffer([{ key: '😀', value: 'grin' }, { key: '😁', value: 'beam' }]));
  tt.same(emoji.get('😀').toArray(), ['grin']);
  tt.same(emoji.get('😁').toArray(), ['beam']);
});
