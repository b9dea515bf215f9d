/**
 * db.dump(path) goes through the package's one atomic-output path: on a full
 * disk it rejects with ERR_DISCODB_IO and leaves the target as it was (it used
 * to resolve and rename a truncated file over the target); on success the file
 * has the image's bytes, and chunked images (larger than one write) are whole.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { DiscoDB } from '../lib/index.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function scratch(tt: TapTest): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-dump-'));
  tt.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A db of about `bytes` bytes of incompressible values (compression off). */
function bigDb(bytes: number): DiscoDB {
  const data: Record<string, string[]> = {};
  let n = 0;
  for (let k = 0; n < bytes; k++) {
    const values: string[] = [];
    for (let j = 0; j < 16; j++, n += 64) values.push(`${k}:${j}:`.padEnd(64, String.fromCharCode(97 + ((k * 16 + j) % 26))));
    data[`key${k}`] = values;
  }
  return DiscoDB.from(data, { disableCompression: true });
}

t.test('dump writes the image atomically', async (tt) => {
  const dir = scratch(tt);
  const db = bigDb(20 * 1024 * 1024); // more than one 8 MiB chunk
  const target = path.join(dir, 'copy.ddb');
  await db.dump(target);
  tt.ok(fs.readFileSync(target).equals(db.toBuffer()), 'same bytes as the image');
  const reopened = DiscoDB.open(target);
  tt.equal(reopened.size, db.size);
  reopened.close();
  tt.same(fs.readdirSync(dir), ['copy.ddb'], 'no temp file left');
});

t.test('dump on a full disk rejects and leaves the target as it was', async (tt) => {
  if (!isRoot) {
    tt.comment('skipped: mounting a 1 MiB tmpfs needs root (run the tests as root to cover the disk-full case)');
    return;
  }
  const dir = scratch(tt);
  const mnt = path.join(dir, 'full');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  tt.teardown(() => execFileSync('umount', [mnt]));
  const target = path.join(mnt, 'db.ddb');
  fs.writeFileSync(target, 'old contents');
  const db = bigDb(4 * 1024 * 1024);
  await tt.rejects(db.dump(target), { code: 'ERR_DISCODB_IO' });
  tt.equal(fs.readFileSync(target, 'utf8'), 'old contents', 'target untouched');
  tt.same(fs.readdirSync(mnt), ['db.ddb'], 'no temp file left');
});

t.test('dump to a directory is refused', async (tt) => {
  const dir = scratch(tt);
  const db = DiscoDB.from({ a: ['b'] });
  await tt.rejects(db.dump(dir), { name: 'DiscoDBError' });
});
