/**
 * The manifest of a sharded db, `DIR/discodb.json`: what makes a directory of shard files one
 * database. It is written last and atomically (temp file, fsync, rename, fsync of the
 * directory), so a half-built directory is never a valid db.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DiscoDBError } from '../errors.js';
import { MAX_SHARDS, SHARD_HASH } from './hash.js';
import type { PartitionBy } from './partition.js';

/** File name of the manifest inside the directory. */
export const MANIFEST_NAME = 'discodb.json';
/** Value of the manifest's `format` field. */
export const MANIFEST_FORMAT = 'discodb-sharded';
/** Version of the manifest layout this code writes and reads. */
export const MANIFEST_VERSION = 1;

/** Counts of a shard or of the whole db, as `DiscoDB.info()` has them. */
export interface ShardCounts {
  /** Distinct keys. */
  keys: number;
  /** Distinct values. */
  uniqueValues: number;
  /** Stored (key, value) items. */
  values: number;
}

/** One shard as the manifest records it. */
export interface ShardEntry extends ShardCounts {
  /** File name, relative to the directory (`part-I.ddb`). */
  file: string;
  /** File size in bytes (checked by `open`). */
  size: number;
  /** SHA-256 of the file, lowercase hex (checked by `check`). */
  sha256: string;
}

/** The parsed `discodb.json`. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  shards: number;
  partitionBy: PartitionBy;
  hash: typeof SHARD_HASH;
  /** Counts of the whole db (as one db built from the same records would report them). */
  totals: ShardCounts;
  files: ShardEntry[];
}

/** The conventional file name of shard `i`. */
export function shardFileName(i: number): string {
  return `part-${i}.ddb`;
}

/** The manifest's path inside `dir`. */
export function manifestPath(dir: string): string {
  return path.join(dir, MANIFEST_NAME);
}

/** True when `p` is a directory holding a manifest. */
export function isShardedDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory() && fs.existsSync(manifestPath(p));
  } catch {
    return false;
  }
}

function bad(file: string, what: string): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_CORRUPT', `${file}: ${what}`, { path: file });
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function checkCounts(file: string, where: string, x: unknown): ShardCounts {
  const c = x as Partial<ShardCounts> | null;
  if (c === null || typeof c !== 'object' || !isCount(c.keys) || !isCount(c.uniqueValues) || !isCount(c.values)) {
    throw bad(file, `${where}: keys, uniqueValues and values must be counts`);
  }
  return { keys: c.keys, uniqueValues: c.uniqueValues, values: c.values };
}

/** Reads and validates `DIR/discodb.json`. Throws ERR_DISCODB_IO when unreadable, ERR_DISCODB_CORRUPT when malformed. */
export function readManifest(dir: string): Manifest {
  const file = manifestPath(dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DiscoDBError('ERR_DISCODB_IO', `cannot read ${file}: ${(err as Error).message}`, { path: file, cause: err });
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw bad(file, `not JSON (${(err as Error).message})`);
  }
  if (m === null || typeof m !== 'object') throw bad(file, 'not a JSON object');
  if (m['format'] !== MANIFEST_FORMAT) throw bad(file, `format is not "${MANIFEST_FORMAT}"`);
  if (m['version'] !== MANIFEST_VERSION) throw bad(file, `manifest version ${String(m['version'])} is not supported (this reads ${MANIFEST_VERSION})`);
  if (m['hash'] !== SHARD_HASH) throw bad(file, `hash "${String(m['hash'])}" is not supported (expected "${SHARD_HASH}")`);
  const partitionBy = m['partitionBy'];
  if (partitionBy !== 'value' && partitionBy !== 'key') throw bad(file, `partitionBy must be "value" or "key"`);
  const shards = m['shards'];
  if (typeof shards !== 'number' || !Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw bad(file, `shards must be an integer from 1 to ${MAX_SHARDS}`);
  }
  const files = m['files'];
  if (!Array.isArray(files) || files.length !== shards) throw bad(file, `files must list ${shards} shards`);
  const entries = files.map((f: unknown, i): ShardEntry => {
    const e = f as Partial<ShardEntry> | null;
    if (e === null || typeof e !== 'object') throw bad(file, `files[${i}] is not an object`);
    const name = e.file;
    // A shard lives inside the directory: no separators, no "..".
    if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
      throw bad(file, `files[${i}].file must be a plain file name`);
    }
    if (!isCount(e.size)) throw bad(file, `files[${i}].size must be a byte count`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) throw bad(file, `files[${i}].sha256 must be 64 hex digits`);
    return { file: name, size: e.size, sha256: e.sha256, ...checkCounts(file, `files[${i}]`, e) };
  });
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    shards,
    partitionBy,
    hash: SHARD_HASH,
    totals: checkCounts(file, 'totals', m['totals']),
    files: entries,
  };
}

/** Writes `DIR/discodb.json` atomically: temp file, fsync, rename, then fsync of the directory. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const file = manifestPath(dir);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    const fh = await fs.promises.open(tmp, 'wx');
    try {
      await fh.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
    await syncDir(dir);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw new DiscoDBError('ERR_DISCODB_IO', `cannot write ${file}: ${(err as Error).message}`, { path: file, cause: err });
  }
}

/** fsync of a directory, so a rename in it is durable (best effort where unsupported). */
export async function syncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** SHA-256 of a file, lowercase hex, read in chunks. */
export function sha256File(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Throws ERR_DISCODB_CORRUPT naming the shard file when it is missing or its size is not the manifest's. */
export function verifyShardSize(dir: string, entry: ShardEntry): void {
  const file = path.join(dir, entry.file);
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch (err) {
    throw new DiscoDBError('ERR_DISCODB_CORRUPT', `shard ${file} is missing or unreadable (${(err as Error).message})`, { path: file, cause: err });
  }
  if (size !== entry.size) {
    throw new DiscoDBError('ERR_DISCODB_CORRUPT', `shard ${file} has ${size} bytes, the manifest says ${entry.size}: it was changed or replaced`, { path: file });
  }
}

/** Throws ERR_DISCODB_CORRUPT naming the shard file when its SHA-256 is not the manifest's. */
export function verifyShardHash(dir: string, entry: ShardEntry): void {
  verifyShardSize(dir, entry);
  const file = path.join(dir, entry.file);
  const actual = sha256File(file);
  if (actual !== entry.sha256) {
    throw new DiscoDBError('ERR_DISCODB_CORRUPT', `shard ${file}: SHA-256 ${actual} differs from the manifest's ${entry.sha256}: it was changed`, { path: file });
  }
}
