/**
 * Every example of README.md runs, as a user would run it, in order, in one
 * scratch directory (later examples may use files earlier ones made, and the
 * corpus' animals.ddb is there): ```js blocks as ES modules importing
 * 'discodb' (resolved to this package's build), ```sh blocks with bash and a
 * `discodb` command on the PATH. Shell blocks that run npm (install, clone
 * set-up) are left out: they need the registry or a fresh clone.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(js|sh)\n([\s\S]*?)```/g)]
  .map((m) => ({ lang: m[1]!, code: m[2]! }))
  .filter((b) => !(b.lang === 'sh' && /\bnpm /.test(b.code)));

t.ok(blocks.filter((b) => b.lang === 'js').length >= 6, 'README has runnable JavaScript examples');
t.ok(blocks.filter((b) => b.lang === 'sh').length >= 2, 'README has runnable shell examples');

// Scratch files live inside the package so that `import 'discodb'` self-resolves to dist/.
const scratch = path.join(root, 'test', '.readme-run');
fs.rmSync(scratch, { recursive: true, force: true });
fs.mkdirSync(path.join(scratch, 'bin'), { recursive: true });
t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }));
fs.copyFileSync(path.join(root, 'test/fixtures/corpus/01_animals/db.ddb'), path.join(scratch, 'animals.ddb'));
const shim = path.join(scratch, 'bin', 'discodb');
fs.writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, 'dist/lib/cli/main.js')}" "$@"\n`);
fs.chmodSync(shim, 0o755);
const env = { ...process.env, NODE_OPTIONS: '', PATH: `${path.dirname(shim)}:${process.env.PATH ?? ''}` };

blocks.forEach(({ lang, code }, i) => {
  t.test(`README example ${i + 1} (${lang})`, async (t) => {
    const file = path.join(scratch, `example-${i + 1}.${lang === 'js' ? 'mjs' : 'sh'}`);
    fs.writeFileSync(file, code);
    const [cmd, args] = lang === 'js' ? [process.execPath, [file]] : ['bash', ['-e', file]];
    const r = spawnSync(cmd, args, { cwd: scratch, encoding: 'utf8', timeout: 120_000, env });
    t.equal(r.status, 0, `exit status\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  });
});
