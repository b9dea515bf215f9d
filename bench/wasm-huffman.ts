/**
 * Issue 8: does a WebAssembly kernel decode Huffman-compressed values faster
 * than the TypeScript decoder, once the copies are counted? Same db as
 * bench/lookup.ts (`bench/data/one-1M.ddb`, 1M values of 16 bytes,
 * compressed), same value ids, same process:
 *   - TS: `Codebook.decodeInto` straight from the mapping, then the string
 *     (`utf8Slice`) from its output buffer — what the reader does;
 *   - Wasm (bench/wasm/huffman.c, same table-driven algorithm, -O3): copy the
 *     compressed bytes into Wasm memory, `decode`, then the string from Wasm
 *     memory.
 * Workloads: random single values (the 1M × 1 `get` shape: each value a cache
 * miss), random batches of 10 (the 1M × 10 shape, one `decode_batch` call per
 * 10), and a sequential sweep (hot memory: the decoders' own speed).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/wasm-huffman.js [--ops N]
 *
 * The kernel is rebuilt with bench/wasm/build.sh (clang --target=wasm32); the
 * .wasm is committed so the benchmark needs no toolchain.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoDB } from '../lib/index.js';
import { Codebook } from '../lib/format/huffman.js';
import { prng } from './prng.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WASM = path.resolve(here, '../../bench/wasm/huffman.wasm');
const FILE = path.resolve(here, '../../bench/data/one-1M.ddb');
const argv = process.argv.slice(2);
const OPS = Number(argv[argv.indexOf('--ops') + 1] ?? 0) || 300_000;
const ROUNDS = 5;

/** The WebAssembly API of Node (its types are not in this project's `lib`). */
interface WasmApi {
  instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Kernel {
  memory: { buffer: ArrayBuffer };
  symbols_ptr(): number;
  lengths_ptr(): number;
  in_ptr(): number;
  out_ptr(): number;
  bounds_ptr(): number;
  batch_lengths_ptr(): number;
  in_max(): number;
  decode(size: number): number;
  decode_batch(count: number): number;
}

/** Node's Buffer#utf8Slice (what the reader uses to make value strings). */
interface Sliceable extends Buffer {
  utf8Slice(start: number, end: number): string;
}

if (!fs.existsSync(FILE)) {
  console.log(`${FILE} is missing: run node dist/bench/lookup.js once to build it`);
  process.exit(1);
}
const db = DiscoDB.open(FILE);
const image = db.toBuffer() as Sliceable; // a view of the mapping
const h = db.header;
const u = h.numUniqueValues;
const book = new Codebook(image, h.codebookOffset);

const { instance } = await wasmApi.instantiate(fs.readFileSync(WASM));
const k = instance.exports as unknown as Kernel;
const mem = (): Sliceable => Buffer.from(k.memory.buffer) as Sliceable;
{
  // The codebook into Wasm memory, once (spec §5.3: u32 symbol, u32 length per 16-bit index).
  const m = mem();
  const sym = k.symbols_ptr();
  const len = k.lengths_ptr();
  for (let i = 0; i < 65536; i++) {
    m.writeUInt32LE(image.readUInt32LE(h.codebookOffset + 8 * i), sym + 4 * i);
    m[len + i] = image.readUInt32LE(h.codebookOffset + 8 * i + 4);
  }
}
const wasmMem = mem();
const IN = k.in_ptr();
const OUT = k.out_ptr();
const BOUNDS = k.bounds_ptr() / 4;
const LENS = k.batch_lengths_ptr() / 4;
const u32 = new Uint32Array(k.memory.buffer);
const i32 = new Int32Array(k.memory.buffer);

/** Extent of value id (1..u) from the value TOC (the image is < 4 GiB). */
const start = (id: number): number => image.readUInt32LE(h.id2valueOffset + 8 * (id - 1));
const end = (id: number): number => image.readUInt32LE(h.id2valueOffset + 8 * id);

const r = prng(42);
const randomIds = Float64Array.from({ length: OPS }, () => 1 + Math.floor(r() * u));
const sweepIds = Float64Array.from({ length: OPS }, (_, i) => 1 + (i % u));
// Extents resolved up front, so both decoders see the same work (TOC reads are not what is compared).
const extents = (ids: Float64Array): Float64Array => {
  const e = new Float64Array(2 * ids.length);
  ids.forEach((id, i) => {
    e[2 * i] = start(id);
    e[2 * i + 1] = end(id);
  });
  return e;
};
const randomExt = extents(randomIds);
const sweepExt = extents(sweepIds);

let sink = 0;

function tsOne(ext: Float64Array): void {
  for (let i = 0; i < ext.length; i += 2) {
    const n = book.decodeInto(image, ext[i]!, ext[i + 1]!);
    sink += (book.out as Sliceable).utf8Slice(0, n).length;
  }
}

/** Copies image[s, e) to Wasm memory at `at`, then 4 zero bytes (reads past a value are zero). */
function copyIn(s: number, e: number, at: number): void {
  const len = e - s;
  if (len <= 64) for (let j = 0; j < len; j++) wasmMem[at + j] = image[s + j]!;
  else image.copy(wasmMem, at, s, e);
  wasmMem[at + len] = 0;
  wasmMem[at + len + 1] = 0;
  wasmMem[at + len + 2] = 0;
  wasmMem[at + len + 3] = 0;
}

function wasmOne(ext: Float64Array): void {
  for (let i = 0; i < ext.length; i += 2) {
    const s = ext[i]!;
    const e = ext[i + 1]!;
    copyIn(s, e, IN);
    const n = k.decode(e - s);
    if (n < 0) throw new Error('corrupt');
    sink += wasmMem.utf8Slice(OUT, OUT + n).length;
  }
}

function tsBatch(ext: Float64Array): void {
  tsOne(ext); // the reader decodes a key's values one by one
}

function wasmBatch(ext: Float64Array): void {
  for (let i = 0; i + 20 <= ext.length; i += 20) {
    let at = IN;
    for (let j = 0; j < 10; j++) {
      const s = ext[i + 2 * j]!;
      const e = ext[i + 2 * j + 1]!;
      copyIn(s, e, at);
      u32[BOUNDS + 2 * j] = at - IN;
      u32[BOUNDS + 2 * j + 1] = at - IN + (e - s);
      at += e - s + 4;
    }
    if (k.decode_batch(10) < 0) throw new Error('corrupt');
    let o = OUT;
    for (let j = 0; j < 10; j++) {
      const n = i32[LENS + j]!;
      sink += wasmMem.utf8Slice(o, o + n).length;
      o += n;
    }
  }
}

// Both decoders give the same strings (checked on every sampled id before timing).
for (let i = 0; i < randomExt.length; i += 2) {
  const s = randomExt[i]!;
  const e = randomExt[i + 1]!;
  const n = book.decodeInto(image, s, e);
  const a = (book.out as Sliceable).utf8Slice(0, n);
  copyIn(s, e, IN);
  const m = k.decode(e - s);
  if (m < 0 || wasmMem.utf8Slice(OUT, OUT + m) !== a) throw new Error(`decoders disagree at value ${randomIds[i / 2]}`);
}

function time(fn: (ext: Float64Array) => void, ext: Float64Array): number {
  const t0 = process.hrtime.bigint();
  fn(ext);
  return Number(process.hrtime.bigint() - t0) / (ext.length / 2);
}

console.log(`${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, ${new Date().toISOString()}; ${OPS} values per round, best of ${ROUNDS} alternating rounds`);
const rows: Array<Record<string, string | number>> = [];
for (const [name, ext, ts, wasm] of [
  ['random single values (1M×1 shape)', randomExt, tsOne, wasmOne],
  ['random values, 10 per Wasm call (1M×10 shape)', randomExt, tsBatch, wasmBatch],
  ['sequential sweep (hot memory)', sweepExt, tsOne, wasmOne],
] as const) {
  ts(ext.subarray(0, 20000));
  wasm(ext.subarray(0, 20000));
  let a = Infinity;
  let b = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    a = Math.min(a, time(ts, ext));
    b = Math.min(b, time(wasm, ext));
  }
  rows.push({ workload: name, 'TS ns/value': Math.round(a), 'Wasm ns/value (copies included)': Math.round(b), 'Wasm / TS': (b / a).toFixed(2) });
}
console.table(rows);
console.log(`(sink ${sink > 0})`);
db.close();
