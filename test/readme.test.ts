/**
 * Every ```js block of README.md runs, as a user would run it: an ES module
 * importing 'discodb' (resolved to this package's build), in a scratch
 * directory that holds the corpus' animals.ddb.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

t.ok(blocks.length >= 3, `README has ${blocks.length} runnable examples`);

// Scratch files live inside the package so that `import 'discodb'` self-resolves to dist/.
const scratch = path.join(root, 'test', '.readme-run');
fs.rmSync(scratch, { recursive: true, force: true });
fs.mkdirSync(scratch, { recursive: true });
t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }));
fs.copyFileSync(path.join(root, 'test/fixtures/corpus/01_animals/db.ddb'), path.join(scratch, 'animals.ddb'));

blocks.forEach((code, i) => {
  t.test(`README example ${i + 1}`, async (t) => {
    const file = path.join(scratch, `example-${i + 1}.mjs`);
    fs.writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { cwd: scratch, encoding: 'utf8', timeout: 120_000 });
    t.equal(r.status, 0, `exit status\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  });
});
