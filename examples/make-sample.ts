/**
 * Generates examples/data/docs.csv, the sample dataset of `npm start`, deterministically (a
 * seeded PRNG, no dates, no randomness from the system): run it again and the bytes are the same.
 *
 * The data is an inverted index: `key,value` rows mapping a term to a document that contains
 * it (term frequencies follow Zipf's law over a vocabulary whose most common words are real
 * ones), plus a few `topic:NAME,term` rows so that dereference queries (`*topic:NAME`) have
 * something to expand.
 *
 *   node dist/examples/make-sample.js [OUT.csv] [DOCS]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng as prng } from './random.js';

/** The most frequent terms: real words, so that example queries read naturally. */
export const COMMON_TERMS = [
  'data', 'stream', 'index', 'query', 'key', 'value', 'hash', 'file', 'memory', 'disk',
  'cache', 'table', 'network', 'server', 'client', 'sort', 'merge', 'tree', 'graph', 'node',
  'page', 'block', 'byte', 'buffer', 'record', 'field', 'column', 'row', 'search', 'token',
  'parse', 'compile', 'thread', 'lock', 'queue', 'event', 'signal', 'socket', 'packet', 'route',
  'storage', 'backup', 'replica', 'shard', 'cluster', 'schema', 'vector', 'matrix', 'model', 'metric',
] as const;

/** Topics and their terms (all from {@link COMMON_TERMS}). */
export const TOPICS: Record<string, readonly string[]> = {
  storage: ['disk', 'file', 'block', 'page', 'storage', 'backup'],
  networking: ['network', 'socket', 'packet', 'route', 'server', 'client'],
  algorithms: ['sort', 'merge', 'tree', 'graph', 'hash'],
  concurrency: ['thread', 'lock', 'queue', 'event', 'signal'],
};

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'so', 'ta', 'vi', 'ze', 'po', 'qu', 'ri', 'xa', 'do', 'fe', 'gu'];

/** Writes the CSV; returns its size in bytes. */
export function makeSample(out: string, docs = 12_000, vocabulary = 6_000, termsPerDoc = 18): number {
  const rand = prng(0xd15c0db);
  const vocab: string[] = [...COMMON_TERMS];
  const seen = new Set(vocab);
  while (vocab.length < vocabulary) {
    let w = '';
    const n = 2 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    if (!seen.has(w)) {
      seen.add(w);
      vocab.push(w);
    }
  }
  // Zipf(1) over ranks: cumulative weights, then binary search per draw.
  const cdf = new Float64Array(vocab.length);
  let sum = 0;
  for (let r = 0; r < vocab.length; r++) cdf[r] = sum += 1 / (r + 1);
  const draw = (): string => {
    const x = rand() * sum;
    let lo = 0;
    let hi = vocab.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo] as string;
  };

  const lines: string[] = ['key,value'];
  for (let d = 1; d <= docs; d++) {
    const doc = `doc-${String(d).padStart(5, '0')}`;
    const terms = new Set<string>();
    const want = termsPerDoc - 6 + Math.floor(rand() * 12);
    while (terms.size < want) terms.add(draw());
    for (const t of terms) lines.push(`${t},${doc}`);
  }
  for (const [topic, terms] of Object.entries(TOPICS)) for (const t of terms) lines.push(`topic:${topic},${t}`);
  const text = `${lines.join('\n')}\n`;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
  return Buffer.byteLength(text);
}

/** Where the sample lives in the source tree (this file is run from dist/examples/). */
export function samplePath(): string {
  return fileURLToPath(new URL('../../examples/data/docs.csv', import.meta.url));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const out = process.argv[2] ?? samplePath();
  const docs = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  const bytes = makeSample(out, docs);
  console.log(`wrote ${out} (${(bytes / 1024 / 1024).toFixed(1)} MB)`);
}
