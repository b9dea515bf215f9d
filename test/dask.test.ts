/**
 * The Dask path, run for real: examples/dask/build_sharded.py on a LocalCluster of 2 worker
 * processes must give the very shard files `buildSharded` writes, and a directory that
 * answers as the single db. Not a skip: without an interpreter that imports Dask distributed
 * the test fails and says how to install it.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoDB } from '../lib/discodb.js';
import { buildBuffer } from '../lib/writer/index.js';
import { ShardedDiscoDB, buildSharded, readManifest } from '../lib/sharded/index.js';
import { rng, randInt } from './helpers/random.js';

const SCRIPT = fileURLToPath(new URL('../examples/dask/build_sharded.py', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/lib/cli/main.js', import.meta.url));

/**
 * The interpreter apt installs Dask for is /usr/bin/python3; the python3 first on PATH may be
 * another build that does not see Debian's packages. Try both kinds, in that order.
 */
function findPython(): { python: string | null; tried: string[] } {
  const candidates = ['/usr/bin/python3', ...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'python3'))];
  const tried: string[] = [];
  for (const c of [...new Set(candidates)]) {
    if (!fs.existsSync(c)) continue;
    const r = spawnSync(c, ['-c', 'import distributed, dask.bag'], { encoding: 'utf8' });
    tried.push(`${c}: ${r.status === 0 ? 'ok' : (r.stderr || String(r.error)).trim().split('\n').pop()}`);
    if (r.status === 0) return { python: c, tried };
  }
  return { python: null, tried };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-dask-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('build_sharded.py on a LocalCluster equals buildSharded and the single db', async (t) => {
  const { python, tried } = findPython();
  if (python === null) {
    t.fail(
      'Dask distributed cannot be imported by any python3 (tried: ' +
        (tried.join('; ') || 'none found') +
        '). Install it with: apt-get update && apt-get install -y python3-distributed (as root; .ci/run does this)',
    );
    return;
  }
  const r = rng(3);
  const records: Array<{ key: string; value?: string; values?: string[] }> = [];
  for (let i = 0; i < 3000; i++) {
    const key = `k${randInt(r, 120)}`;
    const kind = randInt(r, 8);
    if (kind === 0) records.push({ key });
    else if (kind === 1) records.push({ key, values: [`v${randInt(r, 500)}`, `k${randInt(r, 120)}`, 'ü' + randInt(r, 50)] });
    else records.push({ key, value: `v${randInt(r, 500)}` });
  }
  const input = path.join(tmp, 'input.jsonl');
  fs.writeFileSync(input, records.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const single = DiscoDB.fromBuffer(buildBuffer(records), { encoding: 'buffer' });

  for (const partitionBy of ['value', 'key'] as const) {
    const out = path.join(tmp, `dask-${partitionBy}`);
    const run = spawnSync(
      python,
      [SCRIPT, '--local-workers', '2', '--shards', '3', '--partition-by', partitionBy, '--out', out, '--discodb', `${process.execPath} ${MAIN}`, '--blocksize', '20KiB', input],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 240_000 },
    );
    t.equal(run.status, 0, `build_sharded.py --partition-by ${partitionBy} exits 0`, { stderr: run.stderr.slice(-3000) });
    if (run.status !== 0) continue;

    const reference = path.join(tmp, `lib-${partitionBy}`);
    await buildSharded(records, reference, { shards: 3, partitionBy });
    for (let i = 0; i < 3; i++) {
      t.ok(fs.readFileSync(path.join(out, `part-${i}.ddb`)).equals(fs.readFileSync(path.join(reference, `part-${i}.ddb`))), `${partitionBy}: part-${i}.ddb equals buildSharded's`);
    }
    t.same(readManifest(out), readManifest(reference), `${partitionBy}: same manifest`);

    const db = ShardedDiscoDB.open(out, { encoding: 'buffer' });
    const hex = (it: Iterable<Uint8Array>): string[] => Array.from(it, (b) => Buffer.from(b).toString('hex')).sort();
    t.same(hex(db.keys()), hex(single.keys()), `${partitionBy}: keys`);
    let bad = 0;
    for (const k of single.keys()) if (JSON.stringify(hex(db.get(k))) !== JSON.stringify(hex(single.get(k)))) bad++;
    for (const q of ['k1 | ~k2', '*k3', 'k4 & ~*k5', '~k6']) if (JSON.stringify(hex(db.query(q))) !== JSON.stringify(hex(single.query(q)))) bad++;
    t.equal(bad, 0, `${partitionBy}: every get and the queries equal the single db's`);
    db.check();
    db.close();
  }
});
