/**
 * What one dependent random read costs on this machine, with and without
 * huge pages (issue 8: a `get` is a chain of dependent reads in the mapping,
 * so this bounds how fast a lookup can be). A random cyclic pointer chase over
 * a buffer the size of the 1M × 1 image (42 MiB), one 4-byte read per step,
 * in three kinds of memory:
 *   - `Buffer.alloc` (4 KiB pages: THP is `madvise` on the shared VMs);
 *   - an anonymous private mapping with `MADV_HUGEPAGE` (through the optional
 *     `@riaskov/mmap-io` addon; skipped when it is missing);
 *   - the same chase written to a file and memory-mapped the way `DiscoDB.open`
 *     maps a db (`MAP_PRIVATE`, `MADV_RANDOM`).
 *
 *   npm run build && flock /tmp/discodb-bench.lock node dist/bench/dependent-read.js [--mib 42] [--steps 3000000]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon } from '../lib/reader/mmap.js';

/** Linux values the addon does not export. */
const MAP_ANONYMOUS = 0x20;
const MADV_HUGEPAGE = 14;
const LINE = 64;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Writes a random cycle through every 64-byte line: each line holds the offset of the next. */
function fillCycle(buf: Buffer): void {
  const lines = Math.floor(buf.length / LINE);
  const order = new Uint32Array(lines);
  for (let i = 0; i < lines; i++) order[i] = i;
  let s = 12345;
  for (let i = lines - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  for (let i = 0; i < lines; i++) buf.writeUInt32LE(order[(i + 1) % lines]! * LINE, order[i]! * LINE);
}

/** Nanoseconds per dependent read (the second of two rounds: the first warms up). */
function chase(buf: Buffer, steps: number): number {
  let p = 0;
  let ns = 0;
  for (let round = 0; round < 2; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) p = buf.readUInt32LE(p);
    ns = Number(process.hrtime.bigint() - t) / steps;
  }
  if (p < 0) throw new Error('unreachable'); // keeps p live
  return ns;
}

function anonHugePagesKiB(): number {
  const line = fs.readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('AnonHugePages:'));
  return line === undefined ? 0 : Number(line.split(/\s+/)[1]);
}

const size = arg('--mib', 42) * 1024 * 1024;
const steps = arg('--steps', 3_000_000);
console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${size / 2 ** 20} MiB, ${steps} steps`);

const plain = Buffer.alloc(size);
fillCycle(plain);
console.log(`Buffer.alloc               ${chase(plain, steps).toFixed(1)} ns per dependent read`);

const mm = loadAddon();
if (mm === null) {
  console.log('the mmap addon is missing: huge-page and file-mapping rows skipped');
} else {
  const before = anonHugePagesKiB();
  const huge = mm.map(size, mm.PROT_READ | mm.PROT_WRITE, mm.MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, MADV_HUGEPAGE);
  plain.copy(huge);
  console.log(`anonymous + MADV_HUGEPAGE  ${chase(huge, steps).toFixed(1)} ns per dependent read (${((anonHugePagesKiB() - before) / 1024).toFixed(0)} MiB in huge pages)`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-chase-'));
  try {
    const file = path.join(dir, 'chase.bin');
    fs.writeFileSync(file, plain);
    const fd = fs.openSync(file, 'r');
    try {
      const mapped = mm.map(size, mm.PROT_READ | mm.PROT_WRITE, mm.MAP_PRIVATE, fd, 0, mm.MADV_RANDOM);
      console.log(`file map (as DiscoDB.open) ${chase(mapped, steps).toFixed(1)} ns per dependent read`);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
