/**
 * The hash a threaded build's worker asks of its other thread (lib/writer/hash-elsewhere.ts):
 * the keys lent (an arena that owns its memory moves, any other is copied) or named in a run
 * file, the CHD equal to the one the worker would build itself, the arena back with the
 * answer — also when the build fails or is stopped, whose error the worker then throws.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';
import { DiscoDBError } from '../lib/errors.js';
import { buildChdSync } from '../lib/format/chd-build.js';
import { GlibcRandom } from '../lib/format/glibc-rand.js';
import { ByteDict } from '../lib/writer/arena.js';
import { answerTransfer, hashLentKeys, lendKeys, requestTransfer, takeAnswer } from '../lib/writer/hash-elsewhere.js';
import { keysInMemory, keysInRun } from '../lib/writer/image.js';

const noTick = async (): Promise<void> => undefined;

/** A dictionary of `n` keys (room for them made up front); `arenaBytes` below 4 KiB gives an arena sliced from Node's Buffer pool. */
function dictOf(n: number, arenaBytes: number): ByteDict {
  const d = new ByteDict(n, arenaBytes);
  for (let i = 0; i < n; i++) d.internString(i % 7 === 0 ? `ключ${i.toString(36)}` : `k${i.toString(36)}`);
  if (d.used > arenaBytes) throw new Error('test keys overran the arena');
  return d;
}

/** What the worker would build itself. */
function ownChd(d: ByteDict): { section: Uint8Array; slots: Uint32Array } {
  return buildChdSync(d.n, keysInMemory(d.arena, d.offs, d.n), new GlibcRandom());
}

/** Moves `value` through a MessageChannel as postMessage would between threads (detaching what `transfer` lists). */
async function moved<T>(value: T, transfer: ArrayBuffer[]): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  const got = new Promise<T>((resolve) => port2.once('message', (m: T) => resolve(m)));
  port1.postMessage(value, transfer);
  const out = await got;
  port1.close();
  port2.close();
  return out;
}

t.test('a dictionary whose arena owns its memory is lent (moved) and comes back; a pooled one is copied', async (tt) => {
  for (const [n, arenaBytes, lends] of [
    [3000, 64 * 1024, true],
    [40, 256, false],
  ] as const) {
    const d = dictOf(n, arenaBytes);
    const keyBytes = Buffer.from(d.arena.subarray(0, d.used));
    const want = ownChd(d);
    const { request, transfer, lent } = lendKeys({ kind: 'dict', dict: d }, 7);
    tt.equal(lent, lends, `arena of ${arenaBytes} bytes: lent`);
    tt.same(requestTransfer(request).length, transfer.length);
    if (lends) tt.equal(d.arena.length, 0, 'the lent arena is gone from the worker until the answer');
    else tt.same(Buffer.from(d.arena.subarray(0, d.used)), keyBytes, 'a copied arena stays');
    const received = await moved(request, transfer);
    const answer = await hashLentKeys(received, 1, 1 << 16, noTick);
    tt.equal(answer.error, null);
    const back = await moved(answer, answerTransfer(answer));
    const res = takeAnswer({ kind: 'dict', dict: d }, lent, back);
    tt.same(Buffer.from(res.section), Buffer.from(want.section), 'the same section as the worker would build');
    tt.same(Array.from(res.slots), Array.from(want.slots), 'the same slots');
    tt.same(Buffer.from(d.arena.subarray(0, d.used)), keyBytes, 'the keys are back');
  }
});

t.test('keys named in a run file hash as the same keys in memory', async (tt) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-hash-elsewhere-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const d = dictOf(2000, 64 * 1024);
  // The key section of a run: u32 key length, key, u32 count, count u32 ids.
  const parts: Buffer[] = [Buffer.from('header')];
  for (let k = 0; k < d.n; k++) {
    const key = d.view(k);
    const count = k % 4;
    const rec = Buffer.alloc(8 + key.length + 4 * count);
    rec.writeUInt32LE(key.length, 0);
    key.copy(rec, 4);
    rec.writeUInt32LE(count, 4 + key.length);
    for (let i = 0; i < count; i++) rec.writeUInt32LE(k + i, 8 + key.length + 4 * i);
    parts.push(rec);
  }
  const file = path.join(dir, 'run');
  const bytes = Buffer.concat(parts);
  fs.writeFileSync(file, bytes);
  const start = 6;
  const want = ownChd(d);
  const { request, transfer } = lendKeys({ kind: 'run', path: file, start, end: bytes.length, numKeys: d.n }, 1);
  tt.same(transfer, [], 'nothing moves for a run file');
  // A small buffer, so that keys straddle refills.
  const answer = await hashLentKeys(request, 1, 64, noTick);
  const res = takeAnswer({ kind: 'run', path: file, start, end: bytes.length, numKeys: d.n }, false, answer);
  tt.same(Buffer.from(res.section), Buffer.from(want.section));
  tt.same(Array.from(res.slots), Array.from(want.slots));
  const fd = fs.openSync(file, 'r');
  tt.teardown(() => fs.closeSync(fd));
  const direct = buildChdSync(d.n, keysInRun(fd, start, bytes.length, d.n, 100), new GlibcRandom());
  tt.same(Array.from(direct.slots), Array.from(want.slots), 'keysInRun pulls the keys in order');
});

t.test('a stopped or failed build answers its error, and a lent arena still comes back', async (tt) => {
  const d = dictOf(3000, 64 * 1024);
  const keyBytes = Buffer.from(d.arena.subarray(0, d.used));
  const { request, transfer, lent } = lendKeys({ kind: 'dict', dict: d }, 3);
  tt.ok(lent);
  const stop = async (): Promise<void> => {
    throw new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (test)');
  };
  const answer = await hashLentKeys(await moved(request, transfer), 1, 1 << 16, stop);
  tt.equal(answer.slots, null);
  tt.equal(answer.error?.code, 'ERR_DISCODB_ABORTED');
  const back = await moved(answer, answerTransfer(answer));
  tt.throws(() => takeAnswer({ kind: 'dict', dict: d }, lent, back), { name: 'DiscoDBError', code: 'ERR_DISCODB_ABORTED' });
  tt.same(Buffer.from(d.arena.subarray(0, d.used)), keyBytes, 'the arena is back');

  const missing = await hashLentKeys({ id: 1, kind: 'chd', numKeys: 10, keys: { kind: 'run', path: '/nonexistent/run', start: 0, end: 100 } }, 1, 1024, noTick);
  tt.equal(missing.error?.code, 'ENOENT', 'a run file that cannot be opened is the answer, not a rejection');
  tt.throws(() => takeAnswer({ kind: 'run', path: '/nonexistent/run', start: 0, end: 100, numKeys: 10 }, false, missing), { name: 'DiscoDBError', code: 'ERR_DISCODB_IO' });
});
