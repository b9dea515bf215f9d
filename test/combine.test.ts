/**
 * merge and invert: their outputs must be byte-identical to their definitions (a plain build
 * from the inputs' items in stored order), from the library and from the CLI, with files and
 * sharded directories as inputs.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoDB } from '../lib/discodb.js';
import { buildBuffer, buildFile } from '../lib/writer/index.js';
import { buildSharded, ShardedDiscoDB } from '../lib/sharded/index.js';
import { invertDB, mergeDBs } from '../lib/combine/index.js';
import { rng, randInt } from './helpers/random.js';

const MAIN = fileURLToPath(new URL('../dist/lib/cli/main.js', import.meta.url));
const ENV = { ...process.env, NODE_OPTIONS: '' };
const cli = (args: string[]): { code: number | null; err: string } => {
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: ENV });
  return { code: r.status, err: r.stderr.toString('utf8') };
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-combine-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const at = (name: string): string => path.join(tmp, name);

function records(seed: number, n: number): Array<{ key: string; value?: string }> {
  const r = rng(seed);
  return Array.from({ length: n }, () =>
    randInt(r, 12) === 0 ? { key: `k${randInt(r, 40)}` } : { key: `k${randInt(r, 40)}`, value: `v${randInt(r, 150)}` },
  );
}

/** The definition: every input's keys in stored order, each with its values in order (a key alone when it has none). */
function itemsByDefinition(db: DiscoDB<Buffer> | ShardedDiscoDB<Buffer>): Array<{ key: Buffer; value?: Buffer }> {
  const out: Array<{ key: Buffer; value?: Buffer }> = [];
  for (const key of db.keys()) {
    const values = db.get(key).toArray();
    if (values.length === 0) out.push({ key });
    for (const value of values) out.push({ key, value });
  }
  return out;
}

const A = records(1, 600);
const B = records(2, 500);
fs.writeFileSync(at('a.ddb'), buildBuffer(A));
fs.writeFileSync(at('b.ddb'), buildBuffer(B));

t.test('merge of files equals the build of their items, one after another', async (t) => {
  const a = DiscoDB.open(at('a.ddb'), { encoding: 'buffer' });
  const b = DiscoDB.open(at('b.ddb'), { encoding: 'buffer' });
  const definition = [...itemsByDefinition(a), ...itemsByDefinition(b)];
  for (const uniqueItems of [false, true]) {
    const out = at(`ab-${uniqueItems}.ddb`);
    await mergeDBs([at('a.ddb'), at('b.ddb')], out, { uniqueItems });
    t.ok(fs.readFileSync(out).equals(buildBuffer(definition, { uniqueItems })), `byte-identical (uniqueItems ${uniqueItems})`);
    const merged = DiscoDB.open(out);
    const expected = new Set([...A, ...B].map((r) => r.key));
    t.equal(merged.size, expected.size, 'every key of both');
    merged.close();
  }
  // Bounded memory through the writer: a tiny budget spills runs and still gives the same bytes.
  await mergeDBs([at('a.ddb'), at('b.ddb')], at('ab-small.ddb'), { memoryLimit: 64 * 1024, tmpDir: tmp });
  t.ok(fs.readFileSync(at('ab-small.ddb')).equals(buildBuffer(definition)), 'same bytes with a 64 KiB budget');
  a.close();
  b.close();
});

t.test('merge and invert of sharded directories', async (t) => {
  await buildSharded(A, at('shA'), { shards: 3 });
  const sh = ShardedDiscoDB.open(at('shA'), { encoding: 'buffer' });
  const b = DiscoDB.open(at('b.ddb'), { encoding: 'buffer' });
  await mergeDBs([at('shA'), at('b.ddb')], at('shA-b.ddb'));
  t.ok(fs.readFileSync(at('shA-b.ddb')).equals(buildBuffer([...itemsByDefinition(sh), ...itemsByDefinition(b)])), 'merge: byte-identical');
  await invertDB(at('shA'), at('shA-inv.ddb'));
  const inverted = itemsByDefinition(sh).flatMap((i) => (i.value === undefined ? [] : [{ key: i.value, value: i.key }]));
  t.ok(fs.readFileSync(at('shA-inv.ddb')).equals(buildBuffer(inverted)), 'invert: byte-identical');
  sh.close();
  b.close();
});

t.test('invert of a file: (key, value) → (value, key), in stored order', async (t) => {
  const a = DiscoDB.open(at('a.ddb'), { encoding: 'buffer' });
  await invertDB(at('a.ddb'), at('a-inv.ddb'));
  const definition: Array<{ key: Buffer; value: Buffer }> = [];
  for (const [k, vs] of a.items()) for (const v of vs) definition.push({ key: v, value: k });
  t.ok(fs.readFileSync(at('a-inv.ddb')).equals(buildBuffer(definition)), 'byte-identical');
  const inv = DiscoDB.open(at('a-inv.ddb'));
  const wrong = A.filter((r) => r.value !== undefined && !inv.get(r.value).toArray().includes(r.key));
  t.same(wrong, [], 'every (key, value) is found as (value, key)');
  t.equal(inv.size, a.numUniqueValues, 'one key per distinct value');
  inv.close();
  a.close();
});

t.test('the CLI: merge and invert write the same bytes as the library', async (t) => {
  t.equal(cli(['merge', '-q', at('cli-ab.ddb'), at('a.ddb'), at('b.ddb')]).code, 0);
  await mergeDBs([at('a.ddb'), at('b.ddb')], at('lib-ab.ddb'));
  t.ok(fs.readFileSync(at('cli-ab.ddb')).equals(fs.readFileSync(at('lib-ab.ddb'))), 'merge');
  t.equal(cli(['merge', '-q', '--unique-items', at('cli-abu.ddb'), at('a.ddb'), at('a.ddb')]).code, 0);
  const a = DiscoDB.open(at('a.ddb'), { encoding: 'buffer' });
  t.ok(fs.readFileSync(at('cli-abu.ddb')).equals(buildBuffer([...itemsByDefinition(a), ...itemsByDefinition(a)], { uniqueItems: true })), 'merge --unique-items');
  a.close();
  t.equal(cli(['invert', '-q', at('cli-inv.ddb'), at('a.ddb')]).code, 0);
  await invertDB(at('a.ddb'), at('lib-inv.ddb'));
  t.ok(fs.readFileSync(at('cli-inv.ddb')).equals(fs.readFileSync(at('lib-inv.ddb'))), 'invert');

  const missing = cli(['merge', at('x.ddb'), at('a.ddb'), at('nope.ddb')]);
  t.equal(missing.code, 1, 'a missing input fails');
  t.match(missing.err, /nope\.ddb/);
  t.notOk(fs.existsSync(at('x.ddb')), 'and leaves no output');
  t.equal(cli(['merge', at('a.ddb'), at('a.ddb')]).code, 2, 'the output as an input is a usage error');
  t.equal(cli(['invert', at('y.ddb')]).code, 2, 'invert needs an input');
});

t.test('errors: bad arguments', async (t) => {
  await t.rejects(mergeDBs([], at('z.ddb')), { code: 'ERR_DISCODB_ARGUMENT' });
  await t.rejects(mergeDBs([at('a.ddb')], at('a.ddb')), { code: 'ERR_DISCODB_ARGUMENT' });
  await t.rejects(invertDB(at('missing.ddb'), at('z.ddb')), { code: 'ERR_DISCODB_IO' });
  t.notOk(fs.existsSync(at('z.ddb')));
  // buildFile is the reference of the definition: also check it agrees with buildBuffer here.
  await buildFile(A, at('a-file.ddb'));
  t.ok(fs.readFileSync(at('a-file.ddb')).equals(fs.readFileSync(at('a.ddb'))));
});
