/**
 * Running the built `discodb` command from tests (dist/lib/cli/main.js; `npm test` builds
 * first): one spawn helper for every CLI test file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built command. */
export const MAIN = fileURLToPath(new URL('../../dist/lib/cli/main.js', import.meta.url));

/** tap instruments child processes through NODE_OPTIONS; the CLI runs faster without it. */
export const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };

/** What one run gave: exit code, stdout as bytes and as UTF-8 text, stderr. */
export interface Run {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

/** Runs the CLI synchronously with optional stdin. */
export function cli(args: string[], input?: string | Buffer, env: NodeJS.ProcessEnv = ENV): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input: input ?? '', maxBuffer: 64 * 1024 * 1024, env });
  return { code: r.status, stdout: r.stdout, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

/** Runs the CLI asynchronously: independent invocations can run side by side. */
export function cliAsync(args: string[], input?: string | Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: ENV });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out);
      resolve({ code, stdout, out: stdout.toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(input ?? '');
  });
}

/** The lines of an output (each ends with \n; an empty line is an empty entry). */
export const lines = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));
