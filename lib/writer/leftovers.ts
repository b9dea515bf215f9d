/**
 * Temporary names that say who owns them, and the sweep that removes the leftovers
 * of builds whose process died (SIGKILL, a crash, a power cut).
 *
 * Every temporary output file is `.<target name>.<pid>.<host>.<12 hex>.tmp` next to
 * the target, every spill directory `discodb-<pid>-<host>-<6 chars>` in the temp dir.
 * `<host>` is 8 hex digits of a hash of the host name, so a directory shared between
 * hosts (NFS) never has another host's live files removed. A leftover is removed only
 * when its host is this host and `process.kill(pid, 0)` says no such process (ESRCH);
 * a live process (ours included, or another user's: EPERM) keeps its files.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** 8 hex digits naming this host in temporary names. */
export const HOST_TAG = crypto.createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

const OUTPUT_TEMP = /^\..+\.(\d+)\.([0-9a-f]{8})\.[0-9a-f]{12}\.tmp$/;
const SPILL_DIR = /^discodb-(\d+)-([0-9a-f]{8})-[A-Za-z0-9]{6}$/;

/** The temporary file name for an output at `target` (an absolute path). */
export function outputTempPath(target: string): string {
  const name = `.${path.basename(target)}.${process.pid}.${HOST_TAG}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  return path.join(path.dirname(target), name);
}

/** The `mkdtemp` prefix of a spill directory under `parent`. */
export function spillDirPrefix(parent: string): string {
  return path.join(parent, `discodb-${process.pid}-${HOST_TAG}-`);
}

/** True when no process `pid` exists on this host. */
export function processIsDead(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The owning pid of a temporary name made on this host, or -1 (not ours, or not one of them). */
function ownerOf(name: string, pattern: RegExp): number {
  const m = pattern.exec(name);
  if (m === null || m[2] !== HOST_TAG) return -1;
  return Number(m[1]);
}

/**
 * Removes, in `dir`, the temporary output files (`outputs`) and spill directories
 * (`spills`) whose owner died. Best effort: an unreadable directory or an entry that
 * cannot be removed is left alone. Returns the names removed.
 */
export function sweepLeftovers(dir: string, what: { outputs?: boolean; spills?: boolean }): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    let pid = -1;
    if (what.outputs === true && e.isFile()) pid = ownerOf(e.name, OUTPUT_TEMP);
    else if (what.spills === true && e.isDirectory()) pid = ownerOf(e.name, SPILL_DIR);
    if (pid < 0 || !processIsDead(pid)) continue;
    try {
      fs.rmSync(path.join(dir, e.name), { recursive: true, force: true });
      removed.push(e.name);
    } catch {
      /* someone else's problem now */
    }
  }
  return removed;
}
