/** Loading the C-written reference corpus copied into test/fixtures/corpus. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const CORPUS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'corpus');

export interface CorpusCase {
  name: string;
  dir: string;
  dbPath: string;
  expected: any;
  /** 'hex' cases carry binary keys/values hex-encoded. */
  hex: boolean;
}

function readMaybeGz(dir: string, base: string): Buffer {
  const plain = path.join(dir, base);
  if (fs.existsSync(plain)) return fs.readFileSync(plain);
  return zlib.gunzipSync(fs.readFileSync(plain + '.gz'));
}

/** Every corpus case, sorted by name. */
export function corpusCases(): CorpusCase[] {
  return fs
    .readdirSync(CORPUS_DIR)
    .filter((d) => fs.existsSync(path.join(CORPUS_DIR, d, 'db.ddb')))
    .sort()
    .map((name) => {
      const dir = path.join(CORPUS_DIR, name);
      const expected = JSON.parse(readMaybeGz(dir, 'expected.json').toString('utf8'));
      return { name, dir, dbPath: path.join(dir, 'db.ddb'), expected, hex: expected.encoding === 'hex' };
    });
}

/** One input record of a case: key bytes and value bytes (null for a key-only add). */
export interface CorpusRecord {
  key: Buffer;
  value: Buffer | null;
}

/** The input records of a case, in order. */
export function corpusInput(c: CorpusCase): CorpusRecord[] {
  const text = readMaybeGz(c.dir, 'input.jsonl').toString('utf8');
  const out: CorpusRecord[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const r = JSON.parse(line);
    if ('kx' in r) out.push({ key: Buffer.from(r.kx, 'hex'), value: r.vx === undefined ? null : Buffer.from(r.vx, 'hex') });
    else out.push({ key: Buffer.from(r.k, 'utf8'), value: r.v === undefined ? null : Buffer.from(r.v, 'utf8') });
  }
  return out;
}

/** Converts an expected.json string (hex or text) to bytes. */
export function fromExpected(c: CorpusCase, s: string): Buffer {
  return c.hex ? Buffer.from(s, 'hex') : Buffer.from(s, 'utf8');
}

/** Converts bytes to the expected.json form of the case. */
export function toExpected(c: CorpusCase, b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return c.hex ? buf.toString('hex') : buf.toString('utf8');
}
