/**
 * Every example of README.md runs as a user would run it: in order, in one empty scratch
 * directory outside the package, exactly as printed. ```js blocks are ES modules importing
 * 'discodb'; ```sh blocks run with bash and a `discodb` command on the PATH. The scratch
 * directory gets what `npm install discodb through2` would give it (node_modules links to this
 * package's build and to through2) and nothing else: every file an example reads, an earlier
 * example made. A shell line ending in `# → a, b` must print exactly the lines `a` and `b`
 * (a parenthesised remark after them is ignored): the test checks that too. Shell blocks that run npm (install, clone set-up) are left out: they need the
 * registry or a fresh clone.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(js|sh)\n([\s\S]*?)```/g)]
  .map((m) => ({ lang: m[1]!, code: m[2]! }))
  .filter((b) => !(b.lang === 'sh' && /\bnpm /.test(b.code)));

t.ok(blocks.filter((b) => b.lang === 'js').length >= 6, 'README has runnable JavaScript examples');
t.ok(blocks.filter((b) => b.lang === 'sh').length >= 2, 'README has runnable shell examples');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-readme-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
// The examples run here; the scripts themselves and the shim live beside it, not in it.
const scratch = path.join(work, 'run');
const scripts = path.join(work, 'scripts');
const bin = path.join(work, 'bin');
for (const d of [scratch, scripts, bin]) fs.mkdirSync(d);
fs.mkdirSync(path.join(scratch, 'node_modules'));
fs.symlinkSync(root, path.join(scratch, 'node_modules', 'discodb'), 'dir');
fs.symlinkSync(path.join(root, 'node_modules', 'through2'), path.join(scratch, 'node_modules', 'through2'), 'dir');
const shim = path.join(bin, 'discodb');
fs.writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, 'dist/lib/cli/main.js')}" "$@"\n`);
fs.chmodSync(shim, 0o755);
const env = { ...process.env, NODE_OPTIONS: '', PATH: `${bin}:${process.env.PATH ?? ''}` };

t.same(fs.readdirSync(scratch), ['node_modules'], 'the examples start in an empty directory (but for node_modules)');

/**
 * Appends to each `CMD   # → a, b` line a check that CMD printed exactly those lines (the
 * command itself runs unchanged; the expected text sits in a file beside the script).
 */
function withOutputChecks(code: string, block: number): string {
  let n = 0;
  return code
    .split('\n')
    .map((line) => {
      const m = /^(.*?)\s+# → (.*?)(?:\s+\(.*\))?$/.exec(line);
      if (!m) return line;
      const expected = path.join(scripts, `.expected-${block + 1}-${++n}`);
      fs.writeFileSync(expected, m[2]!.split(', ').join('\n'));
      const report = `{ echo "README: '${m[1]!.replace(/'/g, '')}' printed:"; echo "$__out"; exit 1; }`;
      return `__out=$(${m[1]!})\n[ "$__out" = "$(cat '${expected}')" ] || ${report}`;
    })
    .join('\n');
}

blocks.forEach(({ lang, code }, i) => {
  t.test(`README example ${i + 1} (${lang})`, async (t) => {
    // ES modules resolve 'discodb' from the script's own directory: the script sits in the
    // scratch directory while it runs, then goes, so that no example sees another's script.
    const file = path.join(lang === 'js' ? scratch : scripts, `.example-${i + 1}.${lang === 'js' ? 'mjs' : 'sh'}`);
    fs.writeFileSync(file, lang === 'sh' ? withOutputChecks(code, i) : code);
    const [cmd, args] = lang === 'js' ? [process.execPath, [file]] : ['bash', ['-e', file]];
    const r = spawnSync(cmd, args, { cwd: scratch, encoding: 'utf8', timeout: 120_000, env });
    fs.rmSync(file, { force: true });
    t.equal(r.status, 0, `exit status\n--- code\n${code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  });
});

t.test('npm start (Try it) writes its files to ./demo/ and nowhere else', async (t) => {
  const cwd = path.join(work, 'start');
  fs.mkdirSync(cwd);
  const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('discodb-start-')));
  const r = spawnSync(process.execPath, [path.join(root, 'dist/examples/start.js')], { cwd, encoding: 'utf8', timeout: 120_000, env });
  t.equal(r.status, 0, r.stderr);
  t.same(fs.readdirSync(cwd), ['demo']);
  t.ok(fs.existsSync(path.join(cwd, 'demo', 'docs.ddb')), 'the demo db is in ./demo/');
  t.match(r.stdout, /info demo\/docs\.ddb/, 'and the printed commands name it');
  const after = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('discodb-start-') && !before.has(f));
  t.same(after, [], 'nothing left in the temp directory');
  t.ok(fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n').includes('/demo/'), './demo/ is git-ignored');
});
