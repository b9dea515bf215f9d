/**
 * Writer side of the CMPH CHD minimal perfect hash (spec §6.3, §6.6, §6.7, §6.9).
 *
 * Everything here mirrors CMPH 2.0.2's default CHD build (chd.c, chd_ph.c,
 * compressed_seq.c, compressed_rank.c, select.c, miller_rabin.c) closely
 * enough that, fed the same set of keys (in any order: see {@link buildChd}) and
 * the same `rand()` sequence, it produces the same `cmph_pack()` bytes. All
 * per-key state lives in typed arrays; the hot loops allocate nothing.
 */
import { DiscoDBError } from '../errors.js';
import { GlibcRandom } from './glibc-rand.js';
import { binOf, binOfDisplacement, modSmall, mulMod } from './arith.js';
import { SpillLists, type Scratch, type ScratchFile } from './spill-lists.js';
import { grownUint32 } from './pages.js';

export { binOf, mulMod } from './arith.js';
export type { Scratch, ScratchFile } from './spill-lists.js';

/**
 * Told how far the placement is: `placed` keys of `total` (numKeys). Both only grow:
 * after a failed placement attempt (rare) the next one starts over, so `total` grows
 * by the keys the failed one had placed. Called every ~64k buckets tried and once at
 * the end (then `placed === total`).
 */
export type ChdProgress = (placed: number, total: number) => void;

/** What `buildChd` returns. */
export interface ChdBuildResult {
  /** The packed CHD section (`cmph_pack()` output), to be stored at `hash_offs`. */
  section: Uint8Array;
  /** slots[i] = record index (0..N-1) of the i-th key in input order */
  slots: Uint32Array;
  /** N free u32 words: scratch for the caller. */
  spare: Uint32Array;
}

/**
 * Keys fed in chunks, for a build that must not hold 12 bytes per key of hashes:
 * `stream(seed, chunk, consume)` fills `chunk` with the Jenkins triples of
 * consecutive keys (`jenkinsHash(seed, key)`, 3 u32 each) and calls `consume(chunk,
 * count)` for the first `count` of them (at most `chunk.length / 3`), again and again
 * until every key was fed, always in the same order. It may be async. It is called
 * three times per seed tried and once more at the end.
 */
export interface KeyStream {
  stream(seed: number, chunk: Uint32Array, consume: (triples: Uint32Array, count: number) => void): void | Promise<void>;
}

/** A {@link KeyStream} whose `stream` is synchronous. */
export interface SyncKeyStream {
  stream(seed: number, chunk: Uint32Array, consume: (triples: Uint32Array, count: number) => void): void;
}

/** Fills `out[3*i..3*i+2]` with the triple of every key i at once (12 bytes per key). */
export type KeyHasher = (seed: number, out: Uint32Array) => void | Promise<void>;

/** One pass over the keys: `next(chunk)` fills up to `chunk.length / 3` triples and returns how many (0 at the end). */
export interface KeyCursor {
  next(chunk: Uint32Array): number;
}

/**
 * Keys pulled in chunks (synchronously): `open(seed)` starts a pass over every key's
 * Jenkins triple under `seed`, always in the same order. The build pulls the chunks
 * itself, so the async build can yield to the event loop between them.
 */
export interface KeySource {
  open(seed: number): KeyCursor;
}

/**
 * Build with the (f, h) pairs on disk: in memory only the displacements (4 bytes
 * per bucket), the occupied bitmap, the bucket sizes (1 byte per bucket) and
 * buffers of about `memory` bytes in all.
 */
export interface ChdExternal {
  scratch: Scratch;
  memory: number;
}

/** How to build. */
export interface ChdOptions {
  /** Awaited by the async build every ~2^16 keys or buckets of work (default: a `setImmediate` turn). */
  tick?: () => Promise<void>;
  /** Keep the pairs on disk (see {@link ChdExternal}); default: in memory. */
  external?: ChdExternal | null;
}

/** What {@link buildChdMap} returns: the section and each key's slot as a function of its triple. */
export interface ChdMapResult {
  section: Uint8Array;
  slots: ChdSlotMap;
}

/** The CMPH algorithm ids written into the section (spec §6.3). */
const CMPH_CHD = 8;
const CMPH_CHD_PH = 7;
const CMPH_HASH_JENKINS = 0;

/** CMPH's defaults: 4 keys per bucket, load factor 0.5, 1 key per bin. */
const KEYS_PER_BUCKET = 4;
/** Seeds tried per mapping step before CMPH gives up (`mapping_iterations`). */
const MAPPING_ATTEMPTS = 1000;
/** Mapping + placement rounds before CMPH gives up (`iterations` in chd_ph_new). */
const OUTER_ATTEMPTS = 100;
/** Select samples are taken every 128 set bits (`STEP_SELECT_TABLE`). */
const SELECT_STEP_BITS = 7;
/** Keys per chunk handed to a {@link KeyStream}. */
const CHUNK_KEYS = 1 << 14;

/**
 * Builds the CHD exactly like CMPH 2.0.2 with discodb's settings.
 *
 * `hashKeys` gives the keys' Jenkins triples in first-insertion order — or in any
 * fixed order: the section depends only on the set of keys (CMPH's choices depend on
 * bucket sizes, bucket numbers and bins, never on the order of keys inside a
 * bucket), and `slots` follows the order given. Either a {@link KeyHasher} (all
 * triples at once), a {@link KeyStream} (in chunks) or a {@link KeySource} (chunks
 * pulled by the build, which then awaits `options.tick` every ~2^16 keys or buckets).
 *
 * Memory: ~11 bytes per key (the (f, h) pairs grouped by bucket, 8 bytes, whose
 * memory then holds the returned `spare`; ~3 bytes of per-bucket arrays and bitmaps)
 * and, unless a slot map is asked for, 4 more (each pair's key's position in the
 * input, whose memory then holds the returned `slots`), plus 12 bytes per key for a {@link KeyHasher}'s triples while it is
 * called. With `options.external`: the pairs go to scratch files, and what stays in
 * memory is ~1.5 bytes per key (displacements, 1 byte of bucket size per bucket, the
 * occupied bitmap) plus buffers of about `external.memory` bytes, and 8 bytes per key
 * for the returned `slots` and `spare` ({@link buildChdMap} returns none).
 *
 * `rng` defaults to a fresh {@link GlibcRandom}, i.e. the `rand()` state of a
 * fresh C process; `onProgress` hears how many keys are placed. Throws
 * `ERR_DISCODB_LIMIT` when CMPH would fail (1000 seeds without a collision-free
 * mapping, or 100 failed placements).
 */
export async function buildChd(
  numKeys: number,
  hashKeys: KeyHasher | KeyStream | KeySource,
  rng: GlibcRandom = new GlibcRandom(),
  onProgress?: ChdProgress,
  options: ChdOptions = {},
): Promise<ChdBuildResult> {
  const steps = buildSteps(numKeys, rng, onProgress ?? null, sourceOf(hashKeys), false, options.external ?? null);
  return (await runAsync(steps, hashKeys, numKeys, options.tick ?? nextTurn)) as ChdBuildResult;
}

/** {@link buildChd} for keys held in memory: the same bytes, synchronously. */
export function buildChdSync(
  numKeys: number,
  hashKeys: ((seed: number, out: Uint32Array) => void) | SyncKeyStream | KeySource,
  rng: GlibcRandom = new GlibcRandom(),
  onProgress?: ChdProgress,
  options: ChdOptions = {},
): ChdBuildResult {
  const steps = buildSteps(numKeys, rng, onProgress ?? null, sourceOf(hashKeys), false, options.external ?? null);
  return runSync(steps, hashKeys, numKeys) as ChdBuildResult;
}

/**
 * {@link buildChd} that returns, instead of a slot per key, a {@link ChdSlotMap}
 * giving any key's slot from its triple (disp, the occupied bitmap and a rank per
 * 32 bins: ~1.5 bytes per key), and skips the last pass over the keys.
 */
export async function buildChdMap(
  numKeys: number,
  keys: KeySource,
  rng: GlibcRandom = new GlibcRandom(),
  onProgress?: ChdProgress,
  options: ChdOptions = {},
): Promise<ChdMapResult> {
  const steps = buildSteps(numKeys, rng, onProgress ?? null, keys, true, options.external ?? null);
  return (await runAsync(steps, keys, numKeys, options.tick ?? nextTurn)) as ChdMapResult;
}

/** {@link buildChdMap}, synchronously. */
export function buildChdMapSync(
  numKeys: number,
  keys: KeySource,
  rng: GlibcRandom = new GlibcRandom(),
  onProgress?: ChdProgress,
  options: ChdOptions = {},
): ChdMapResult {
  const steps = buildSteps(numKeys, rng, onProgress ?? null, keys, true, options.external ?? null);
  return runSync(steps, keys, numKeys) as ChdMapResult;
}

/** One turn of the event loop. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sourceOf(h: unknown): KeySource | null {
  return typeof h === 'object' && h !== null && typeof (h as KeySource).open === 'function' ? (h as KeySource) : null;
}

type Built = ChdBuildResult | ChdMapResult;

/** Runs the build synchronously, serving its requests for keys (ticks are no-ops). */
function runSync(
  steps: Generator<ChdStep, Built, undefined>,
  hashKeys: ((seed: number, out: Uint32Array) => void) | SyncKeyStream | KeySource,
  m: number,
): Built {
  try {
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done) return r.value;
      const req = r.value;
      if (req === null) continue;
      if (typeof hashKeys === 'function') {
        const all = new Uint32Array(3 * m);
        hashKeys(req.seed, all);
        feedAll(all, m, req.consume);
      } else {
        (hashKeys as SyncKeyStream).stream(req.seed, req.chunk, req.consume);
      }
    }
  } finally {
    steps.return(undefined as never);
  }
}

/** Runs the build asynchronously: `tick` at every tick, the hasher or stream for keys. */
async function runAsync(
  steps: Generator<ChdStep, Built, undefined>,
  hashKeys: KeyHasher | KeyStream | KeySource,
  m: number,
  tick: () => Promise<void>,
): Promise<Built> {
  try {
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done) return r.value;
      const req = r.value;
      if (req === null) {
        await tick();
        continue;
      }
      if (typeof hashKeys === 'function') {
        const all = new Uint32Array(3 * m);
        await hashKeys(req.seed, all);
        feedAll(all, m, req.consume);
      } else {
        await (hashKeys as KeyStream).stream(req.seed, req.chunk, req.consume);
      }
    }
  } finally {
    steps.return(undefined as never);
  }
}

/** Feeds all triples at once, in chunks. */
function feedAll(all: Uint32Array, m: number, consume: (triples: Uint32Array, count: number) => void): void {
  for (let i = 0; i < m; i += CHUNK_KEYS) {
    const c = Math.min(CHUNK_KEYS, m - i);
    consume(all.subarray(3 * i, 3 * (i + c)), c);
  }
}

/** A request of the build to its driver: feed every key's triple under `seed` to `consume`. */
interface HashRequest {
  seed: number;
  chunk: Uint32Array;
  consume: (triples: Uint32Array, count: number) => void;
}

/** What the build asks its driver for: keys, or (`null`) a turn of the event loop. */
type ChdStep = HashRequest | null;

/** Keys placed so far (all attempts) and the total they are counted against. */
interface PlaceMeter {
  report: ChdProgress | null;
  placed: number;
  total: number;
  /** Buckets tried since the last report (by {@link countTry}). */
  tries: number;
}

/** Counts one bucket tried: reports every REPORT_EVERY tries; true every TICK_TRIES (time for a tick). */
function countTry(meter: PlaceMeter): boolean {
  if ((++meter.tries & (TICK_TRIES - 1)) !== 0) return false;
  if (meter.tries === REPORT_EVERY) {
    meter.tries = 0;
    meter.report?.(meter.placed, meter.total);
  }
  return true;
}

/** Buckets tried between two progress reports. */
const REPORT_EVERY = 1 << 16;
/** Buckets tried between two ticks (a power of two, at most REPORT_EVERY). */
const TICK_TRIES = 1 << 13;
/** Keys pulled from a {@link KeySource} between two ticks. */
const TICK_KEYS = 1 << 14;

/** One pass over the keys under `seed`: pulled from `src` (with ticks), or asked of the driver. */
function* feed(
  src: KeySource | null,
  seed: number,
  chunk: Uint32Array,
  consume: (triples: Uint32Array, count: number) => void,
): Generator<ChdStep, void, undefined> {
  if (src === null) {
    yield { seed, chunk, consume };
    return;
  }
  const cursor = src.open(seed);
  let since = 0;
  for (let c = cursor.next(chunk); c > 0; c = cursor.next(chunk)) {
    consume(chunk, c);
    since += c;
    if (since >= TICK_KEYS) {
      since = 0;
      yield null;
    }
  }
}

/** The build as a generator, so that one algorithm serves the async and the sync driver. */
function* buildSteps(
  numKeys: number,
  rng: GlibcRandom,
  onProgress: ChdProgress | null,
  src: KeySource | null,
  wantMap: boolean,
  external: ChdExternal | null,
): Generator<ChdStep, Built, undefined> {
  if (!Number.isInteger(numKeys) || numKeys < 1) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `cannot build a perfect hash over ${numKeys} keys`);
  }
  if (numKeys > 0x7fffffff) {
    throw new DiscoDBError('ERR_DISCODB_LIMIT', `too many keys for a CHD perfect hash: ${numKeys} (at most 2^31-1)`);
  }
  const m = numKeys;
  const nbuckets = Math.floor(m / KEYS_PER_BUCKET) + 1;
  const n = binCount(m);
  const maxProbes = maxProbesFor(m);
  const meter: PlaceMeter = { report: onProgress, placed: 0, total: m, tries: 0 };
  if (external !== null) return yield* externalSteps(m, n, nbuckets, maxProbes, rng, meter, src, wantMap, external);

  // Per key: (f, h) grouped by bucket, in input order within a bucket (8 bytes/key).
  const fh = new Uint32Array(2 * m);
  const bucketStart = new Uint32Array(nbuckets + 1);
  // Survives failed attempts on purpose: CMPH never clears it, so a bucket that
  // is empty in the final mapping keeps whatever an earlier attempt stored.
  const disp = new Uint32Array(nbuckets);
  const occupied = new Int32Array((n + 31) >>> 5);
  const geometry: Geometry = {
    m,
    n,
    nbuckets,
    fh,
    bucketStart,
    scratch: new Uint32Array(64),
    chunk: new Uint32Array(3 * Math.min(m, CHUNK_KEYS)),
    order: wantMap ? null : new Uint32Array(m),
  };

  for (let attempt = 0; attempt < OUTER_ATTEMPTS; attempt++) {
    const seed = yield* mapKeys(geometry, rng, src);
    yield null;
    const order = yield* orderBuckets(bucketStart, nbuckets);
    yield null;
    if (order.maxSize > geometry.scratch.length) geometry.scratch = new Uint32Array(order.maxSize);
    const before = meter.placed;
    if (yield* placeBuckets(geometry, order, disp, occupied, maxProbes, meter)) {
      meter.report?.(meter.placed, meter.total);
      yield null;
      // Each key's slot from its pair and its bucket's displacement, put in stream order by `order`.
      return yield* finishPlaced(seed, m, n, nbuckets, disp, occupied, wantMap, src, geometry.chunk, geometry);
    }
    occupied.fill(0);
    // The next attempt places every key again: on top of what this one placed.
    meter.total = meter.placed - before + meter.total;
  }
  throw placementFailed(m);
}

function placementFailed(m: number): DiscoDBError {
  return new DiscoDBError(
    'ERR_DISCODB_LIMIT',
    `CMPH CHD construction failed: no placement found for ${m} keys in ${OUTER_ATTEMPTS} attempts`,
  );
}

function mappingFailed(): DiscoDBError {
  return new DiscoDBError(
    'ERR_DISCODB_LIMIT',
    `CMPH CHD construction failed: ${MAPPING_ATTEMPTS} seeds all mapped two keys to the same ` +
      '(bucket, f, h); are there duplicate keys?',
  );
}

/** The sizes and working arrays shared by the build steps. */
interface Geometry {
  m: number;
  n: number;
  nbuckets: number;
  /** (f, h) of each key, grouped by bucket. */
  fh: Uint32Array;
  bucketStart: Uint32Array;
  /** Bins of the bucket being placed (grown to the largest bucket). */
  scratch: Uint32Array;
  /** The chunk handed to a key stream. */
  chunk: Uint32Array;
  /** order[q] = stream index of the key whose pair is fh[2q, 2q + 1] (kept when slots are wanted). */
  order: Uint32Array | null;
}

/** Number of bins: 2m + 1 (load factor 0.5), made odd, then the next number CMPH's test calls prime. */
export function binCount(m: number): number {
  let n = Math.floor(m / 0.5) + 1;
  if (n % 2 === 0) n++;
  while (!cmphIsPrime(n)) n += 2;
  if (n > 0xffffffff) throw new DiscoDBError('ERR_DISCODB_LIMIT', `too many keys for a CHD: ${m}`);
  return n;
}

/**
 * CMPH's `max_probes` as Debian's libcmph 2.0.2 computes it (read from its
 * machine code): 2^20 · floor(log2(m) / 20), or 2^20 when that is 0, so 2^20
 * for every m < 2^40. (Some published CMPH sources compute
 * floor(log2(m) / 20 · 2^20) instead; that is not what the corpus was built with.)
 */
export function maxProbesFor(m: number): number {
  const p = Math.floor(Math.log(m) / Math.log(2) / 20);
  return p === 0 ? 1048576 : p * 1048576;
}

/**
 * CMPH's `check_primality`: rejects multiples of 2, 3, 5 and 7 (those primes
 * included), then Miller–Rabin with bases 2, 7 and 61 (which rejects 61 too).
 */
export function cmphIsPrime(n: number): boolean {
  if (n % 2 === 0 || n % 3 === 0 || n % 5 === 0 || n % 7 === 0) return false;
  let d = n - 1;
  let s = 0;
  do {
    s++;
    d = Math.floor(d / 2);
  } while (d % 2 === 0);
  return witness(2, d, n, s) && witness(7, d, n, s) && witness(61, d, n, s);
}

/** One Miller–Rabin round as `check_witness(int_pow(a, d, n), n, s)` does it. */
function witness(a: number, d: number, n: number, s: number): boolean {
  let x = powMod(a, d, n);
  if (x === 1 || x === n - 1) return true;
  for (let i = 1; i < s; i++) {
    x = mulMod(x, x, n);
    if (x === n - 1) return true;
  }
  return false;
}

/** a^d mod n with CMPH's loop (a is not reduced first; the result always is when d ≥ 1). */
function powMod(a: number, d: number, n: number): number {
  let base = a;
  let res = 1;
  while (d > 0) {
    if (d % 2 === 1) res = mulMod(res, base, n);
    base = mulMod(base, base, n);
    d = Math.floor(d / 2);
  }
  return res;
}

/** Throws unless a key stream fed exactly `m` keys. */
function checkFed(fed: number, m: number): void {
  if (fed !== m) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `the key hasher fed ${fed} keys, not ${m}`);
}

/**
 * CMPH's mapping step: draws seed = rand() % m, hashes every key, and retries
 * (up to 1000 seeds) while some bucket holds two keys with equal (f, h). On
 * success `fh` holds (f, h) grouped by bucket in key order within a bucket, and
 * `bucketStart` the bucket boundaries. Two passes over the keys per seed: bucket
 * sizes, then the grouping (a stable counting sort). Returns the seed.
 */
function* mapKeys(geo: Geometry, rng: GlibcRandom, src: KeySource | null): Generator<ChdStep, number, undefined> {
  const { m, n, nbuckets, fh, bucketStart, chunk, order } = geo;
  const nm1 = n - 1;
  for (let attempt = 0; attempt < MAPPING_ATTEMPTS; attempt++) {
    const seed = rng.next() % m;
    bucketStart.fill(0);
    let fed = 0;
    yield* feed(src, seed, chunk, (t, c) => {
      for (let i = 0, p = 0; i < c; i++, p += 3) bucketStart[modSmall(t[p]!, nbuckets) + 1]!++;
      fed += c;
    });
    checkFed(fed, m);
    for (let b = 0; b < nbuckets; b++) bucketStart[b + 1]! += bucketStart[b]!;
    // bucketStart[g] is bucket g's cursor meanwhile: afterwards it holds the start of g + 1.
    fed = 0;
    yield* feed(src, seed, chunk, (t, c) => {
      if (order === null) {
        for (let i = 0, p = 0; i < c; i++, p += 3) {
          const q = 2 * bucketStart[modSmall(t[p]!, nbuckets)]!++;
          fh[q] = modSmall(t[p + 1]!, n);
          fh[q + 1] = modSmall(t[p + 2]!, nm1) + 1;
        }
      } else {
        for (let i = 0, p = 0; i < c; i++, p += 3) {
          const j = bucketStart[modSmall(t[p]!, nbuckets)]!++;
          fh[2 * j] = modSmall(t[p + 1]!, n);
          fh[2 * j + 1] = modSmall(t[p + 2]!, nm1) + 1;
          order[j] = fed + i;
        }
      }
      fed += c;
    });
    checkFed(fed, m);
    for (let b = nbuckets - 1; b > 0; b--) bucketStart[b] = bucketStart[b - 1]!;
    bucketStart[0] = 0;
    yield null;
    if (!(yield* hasDuplicateInBucket(geo))) return seed;
  }
  throw mappingFailed();
}

/** True when some bucket holds two keys with the same (f, h): no displacement could separate them. */
function* hasDuplicateInBucket(geo: Geometry): Generator<ChdStep, boolean, undefined> {
  const { nbuckets, fh, bucketStart } = geo;
  for (let b = 0; b < nbuckets; b++) {
    if (hasDuplicatePair(fh, bucketStart[b]!, bucketStart[b + 1]!)) return true;
    if ((b & (ENCODE_STEP - 1)) === ENCODE_STEP - 1) yield null;
  }
  return false;
}

/** True when two of the pairs fh[2j, 2j + 1], j in [start, end), are equal. */
function hasDuplicatePair(fh: Uint32Array, start: number, end: number): boolean {
  for (let j = start; j + 1 < end; j++) {
    const f = fh[2 * j];
    const h = fh[2 * j + 1];
    for (let k = j + 1; k < end; k++) {
      if (fh[2 * k] === f && fh[2 * k + 1] === h) return true;
    }
  }
  return false;
}

/**
 * Non-empty buckets sorted by size (as `chd_ph_ordering`): `ids` grouped by
 * size, increasing bucket id within a size.
 */
interface BucketOrder {
  ids: Uint32Array;
  /** ids[classStart[s] .. classStart[s + 1]) are the buckets of size s. */
  classStart: Uint32Array;
  maxSize: number;
}

function* orderBuckets(bucketStart: Uint32Array, nbuckets: number): Generator<ChdStep, BucketOrder, undefined> {
  let maxSize = 0;
  for (let b = 0; b < nbuckets; b++) {
    const s = bucketStart[b + 1]! - bucketStart[b]!;
    if (s > maxSize) maxSize = s;
  }
  yield null;
  const classStart = new Uint32Array(maxSize + 2);
  for (let b = 0; b < nbuckets; b++) {
    const s = bucketStart[b + 1]! - bucketStart[b]!;
    if (s > 0) classStart[s + 1]!++;
  }
  yield null;
  for (let s = 1; s <= maxSize; s++) classStart[s + 1]! += classStart[s]!;
  const ids = new Uint32Array(classStart[maxSize + 1]!);
  const cursor = classStart.slice();
  for (let b = 0; b < nbuckets; b++) {
    const s = bucketStart[b + 1]! - bucketStart[b]!;
    if (s > 0) ids[cursor[s]!++] = b;
  }
  return { ids, classStart, maxSize };
}

/**
 * CMPH's `place_buckets2`. Per bucket size, largest first, one probe counter
 * (p0, p1) is shared by the whole size class: each round tries it on every
 * still unplaced bucket in order, then advances. A class fails after
 * `maxProbes` rounds (checked after every round, even a successful last one,
 * as CMPH does) or when p1 reaches n. On success each placed record's f is
 * replaced by its bin.
 */
function* placeBuckets(
  geo: Geometry,
  order: BucketOrder,
  disp: Uint32Array,
  occupied: Int32Array,
  maxProbes: number,
  meter: PlaceMeter,
): Generator<ChdStep, boolean, undefined> {
  // The rounds run in a plain function, TICK_TRIES tries per call (a generator's loops
  // are not optimised on stack), with a tick between calls.
  const st: PlaceState = { size: order.maxSize + 1, pending: 0, first: 0, p0: 0, p1: 0, probes: 0, j: 0, kept: 0 };
  let tries = 0;
  for (;;) {
    const r = placeSome(geo, order, disp, occupied, maxProbes, meter, st, TICK_TRIES);
    if (r !== 0) return r > 0;
    tries += TICK_TRIES;
    if (tries >= REPORT_EVERY) {
      tries = 0;
      meter.report?.(meter.placed, meter.total);
    }
    yield null;
  }
}

/** Where {@link placeSome} stopped: the class, its round's state, the next pending bucket. */
interface PlaceState {
  size: number;
  pending: number;
  first: number;
  p0: number;
  p1: number;
  probes: number;
  j: number;
  kept: number;
}

/**
 * Runs `place_buckets2` from `st` for at most `budget` tries: 1 when every class is
 * placed, −1 when a class failed, 0 when the budget ran out (`st` says where).
 */
function placeSome(
  geo: Geometry,
  order: BucketOrder,
  disp: Uint32Array,
  occupied: Int32Array,
  maxProbes: number,
  meter: PlaceMeter,
  st: PlaceState,
  budget: number,
): number {
  const { ids, classStart } = order;
  const { n, fh, bucketStart, scratch } = geo;
  let { size, pending, first, p0, p1, probes, j, kept } = st;
  let left = budget;
  let placed = 0;
  let result = 0;
  for (;;) {
    if (pending === 0) {
      size--;
      if (size <= 0) {
        result = 1;
        break;
      }
      pending = classStart[size + 1]! - classStart[size]!;
      first = classStart[size]!;
      p0 = p1 = probes = j = kept = 0;
      continue;
    }
    for (; j < pending && left > 0; j++, left--) {
      const bucket = ids[first + j]!;
      if (placeBucket(fh, 2 * bucketStart[bucket]!, size, p0, p1, n, occupied, scratch, disp, bucket)) {
        placed += size;
      } else {
        ids[first + kept++] = bucket;
      }
    }
    if (j < pending) break;
    pending = kept;
    kept = 0;
    j = 0;
    p0++;
    if (p0 >= n) {
      p0 -= n;
      p1++;
    }
    probes++;
    if (probes >= maxProbes || p1 >= n) {
      result = -1;
      break;
    }
  }
  meter.placed += placed;
  st.size = size;
  st.pending = pending;
  st.first = first;
  st.p0 = p0;
  st.p1 = p1;
  st.probes = probes;
  st.j = j;
  st.kept = kept;
  return result;
}

/**
 * `place_bucket_probe`: occupies the bins (f + h·p0 + p1) mod n of the bucket's
 * `size` (f, h) pairs at `pairs[q..]` and stores its displacement p0 + p1·n in
 * `disp[bucket]` (it fits a u32: see placeBuckets), or undoes them and fails at the
 * first occupied bin.
 */
function placeBucket(
  pairs: Uint32Array,
  q: number,
  size: number,
  p0: number,
  p1: number,
  n: number,
  occupied: Int32Array,
  scratch: Uint32Array,
  disp: Uint32Array,
  bucket: number,
): boolean {
  let i = 0;
  for (; i < size; i++, q += 2) {
    const bin = binOf(pairs[q]!, pairs[q + 1]!, p0, p1, n);
    const w = bin >>> 5;
    const bit = 1 << (bin & 31);
    if ((occupied[w]! & bit) !== 0) break;
    occupied[w]! |= bit;
    scratch[i] = bin;
  }
  if (i === size) {
    disp[bucket] = (Math.imul(p1, n) + p0) >>> 0;
    return true;
  }
  for (let k = 0; k < i; k++) occupied[scratch[k]! >>> 5]! &= ~(1 << (scratch[k]! & 31));
  return false;
}

/** Buckets per block: partitions of the pairs are whole blocks. */
const BLOCK_SHIFT = 6;

/**
 * The build with the (f, h) pairs on disk, making the same choices as the in-memory
 * one (so the same bytes): per seed, a pass counting bucket sizes (1 byte per bucket,
 * larger sizes in a map), a pass writing (bucket, f, h) to partitions of whole blocks
 * of buckets (each fits a buffer), then per partition a counting sort by bucket (key
 * order kept within a bucket), the duplicate check, and each bucket appended to the
 * file of its size class — so that a class reads back in increasing bucket id, the
 * order `place_buckets2` tries them in. The placement streams a class per round and
 * writes the still pending buckets out for the next round, until they fit a buffer.
 */
function* externalSteps(
  m: number,
  n: number,
  nbuckets: number,
  maxProbes: number,
  rng: GlibcRandom,
  meter: PlaceMeter,
  src: KeySource | null,
  wantMap: boolean,
  ext: ChdExternal,
): Generator<ChdStep, Built, undefined> {
  const disp = new Uint32Array(nbuckets);
  const occupied = new Int32Array((n + 31) >>> 5);
  const chunk = new Uint32Array(3 * Math.min(m, CHUNK_KEYS));
  const memory = Math.max(1024, ext.memory);
  const pairsFile = ext.scratch.create('chd-pairs');
  let bucketsFile: ScratchFile | null = null;
  try {
    bucketsFile = ext.scratch.create('chd-buckets');
    const mapper = new ExternalMapper(m, n, nbuckets, memory, pairsFile, bucketsFile);
    for (let attempt = 0; attempt < OUTER_ATTEMPTS; attempt++) {
      const seed = yield* mapper.map(rng, src, chunk);
      const before = meter.placed;
      if (yield* placeExternal(mapper, n, disp, occupied, maxProbes, meter, memory)) {
        meter.report?.(meter.placed, meter.total);
        mapper.release();
        yield null;
        return yield* finishPlaced(seed, m, n, nbuckets, disp, occupied, wantMap, src, chunk, null);
      }
      occupied.fill(0);
      meter.total = meter.placed - before + meter.total;
    }
    throw placementFailed(m);
  } finally {
    ext.scratch.remove(pairsFile);
    if (bucketsFile !== null) ext.scratch.remove(bucketsFile);
  }
}

/**
 * After a successful placement: the compressed rank and the packed section, then the
 * slot map, or (without `wantMap`) every key's slot: from the in-memory build's pairs
 * and `order` (`placed`; its pairs' memory becomes the spare), else from one more pass
 * over the keys.
 */
function* finishPlaced(
  seed: number,
  m: number,
  n: number,
  nbuckets: number,
  disp: Uint32Array,
  occupied: Int32Array,
  wantMap: boolean,
  src: KeySource | null,
  chunk: Uint32Array,
  placed: Geometry | null,
): Generator<ChdStep, Built, undefined> {
  const cr = yield* rankOfEmptyBinsSteps(occupied, n);
  yield null;
  const cs = yield* compressedSeqSteps(disp);
  const section = packChd(seed, n, nbuckets, cs, cr);
  yield null;
  const map = new ChdSlotMap(seed, n, nbuckets, disp, occupied);
  yield null;
  if (wantMap) return { section, slots: map };
  if (placed !== null && placed.order !== null) {
    const { fh, bucketStart, order } = placed;
    // 1. Per bucket, in pair order: each pair becomes (stream index, slot) …
    for (let b = 0; b < nbuckets; b++) {
      const d = disp[b]!;
      const p0 = modSmall(d, n);
      const p1 = (d - p0) / n;
      for (let j = bucketStart[b]!, end = bucketStart[b + 1]!; j < end; j++) {
        const slot = map.slotOfBin(binOf(fh[2 * j]!, fh[2 * j + 1]!, p0, p1, n));
        fh[2 * j] = order[j]!;
        fh[2 * j + 1] = slot;
      }
      if ((b & (ENCODE_STEP - 1)) === ENCODE_STEP - 1) yield null;
    }
    // 2. … then `order`'s memory holds the slots in stream order.
    for (let j = 0; j < m; j++) {
      order[fh[2 * j]!] = fh[2 * j + 1]!;
      if ((j & (4 * ENCODE_STEP - 1)) === 4 * ENCODE_STEP - 1) yield null;
    }
    placed.order = null;
    return { section, slots: order, spare: fh.subarray(0, m) };
  }
  const both = new Uint32Array(2 * m);
  const slots = both.subarray(0, m);
  yield* assignSlots(m, src, chunk, map, slots);
  return { section, slots, spare: both.subarray(m, 2 * m) };
}

/** The mapping step of {@link externalSteps}; afterwards `buckets` holds the size classes. */
class ExternalMapper {
  /** Bucket sizes, 255 meaning "see `big`". */
  private readonly counts: Uint8Array;
  private readonly big = new Map<number, number>();
  private readonly blockPart: Uint32Array;
  /** Largest number of keys a partition is made of (unless one block has more). */
  private readonly partKeys: number;
  /** Per size class (1..maxSize): its buckets; lists maxSize + 1 and + 2: the pending ones. */
  buckets: SpillLists | null = null;
  classCount = new Float64Array(1);
  maxSize = 0;
  private load = new Uint32Array(0);
  private grouped = new Uint32Array(0);
  private starts = new Uint32Array(0);

  constructor(
    private readonly m: number,
    private readonly n: number,
    private readonly nbuckets: number,
    private readonly memory: number,
    private readonly pairsFile: ScratchFile,
    private readonly bucketsFile: ScratchFile,
  ) {
    this.counts = new Uint8Array(nbuckets);
    this.blockPart = new Uint32Array((nbuckets >>> BLOCK_SHIFT) + 1);
    // The load buffer (12 bytes per key) and the grouped pairs (8): half the memory.
    this.partKeys = Math.max(64, Math.floor(memory / 40));
  }

  sizeOf(b: number): number {
    const c = this.counts[b]!;
    return c < 255 ? c : this.big.get(b)!;
  }

  release(): void {
    this.buckets = null;
    this.load = this.grouped = this.starts = new Uint32Array(0);
  }

  /** Draws seeds until one maps without a duplicate (bucket, f, h); returns it. */
  *map(rng: GlibcRandom, src: KeySource | null, chunk: Uint32Array): Generator<ChdStep, number, undefined> {
    const { m, n, nbuckets, counts, big, blockPart } = this;
    const nm1 = n - 1;
    for (let attempt = 0; attempt < MAPPING_ATTEMPTS; attempt++) {
      const seed = rng.next() % m;
      counts.fill(0);
      big.clear();
      let fed = 0;
      yield* feed(src, seed, chunk, (t, c) => {
        for (let i = 0, p = 0; i < c; i++, p += 3) {
          const b = modSmall(t[p]!, nbuckets);
          const x = counts[b]!;
          if (x < 254) counts[b] = x + 1;
          else if (x === 254) {
            counts[b] = 255;
            big.set(b, 255);
          } else big.set(b, big.get(b)! + 1);
        }
        fed += c;
      });
      checkFed(fed, m);
      // Partitions: runs of whole blocks of at most partKeys keys (or one block).
      const firstBlock: number[] = [0];
      const keysIn: number[] = [];
      let inPart = 0;
      let maxSize = 0;
      for (let blk = 0; blk < blockPart.length; blk++) {
        const b0 = blk << BLOCK_SHIFT;
        const b1 = Math.min(nbuckets, b0 + (1 << BLOCK_SHIFT));
        let k = 0;
        for (let b = b0; b < b1; b++) {
          const s = this.sizeOf(b);
          k += s;
          if (s > maxSize) maxSize = s;
        }
        if (inPart > 0 && inPart + k > this.partKeys) {
          keysIn.push(inPart);
          firstBlock.push(blk);
          inPart = 0;
        }
        blockPart[blk] = keysIn.length;
        inPart += k;
      }
      keysIn.push(inPart);
      const parts = keysIn.length;
      const pairs = new SpillLists(this.pairsFile, parts, listBytes(this.memory / 4, parts, 12));
      for (let p = 0; p < parts; p++) pairs.setWidth(p, 12);
      const words = pairs.u32;
      const fill = pairs.fill;
      const cap = pairs.cap;
      fed = 0;
      yield* feed(src, seed, chunk, (t, c) => {
        for (let i = 0, p = 0; i < c; i++, p += 3) {
          const b = modSmall(t[p]!, nbuckets);
          const part = blockPart[b >>> BLOCK_SHIFT]!;
          const o = fill[part]!;
          const w = words[part]!;
          const q = o >>> 2;
          w[q] = b;
          w[q + 1] = modSmall(t[p + 1]!, n);
          w[q + 2] = modSmall(t[p + 2]!, nm1) + 1;
          fill[part] = o + 12;
          if (o + 12 === cap[part]!) pairs.flush(part);
        }
        fed += c;
      });
      checkFed(fed, m);
      pairs.flushAll();
      const ok = yield* this.group(pairs, keysIn, firstBlock, maxSize);
      if (ok) return seed;
    }
    throw mappingFailed();
  }

  /**
   * Sorts each partition by bucket and appends its buckets to their size classes;
   * false (the seed is no good) at the first bucket holding two equal pairs.
   */
  private *group(pairs: SpillLists, keysIn: number[], firstBlock: number[], maxSize: number): Generator<ChdStep, boolean, undefined> {
    const nbuckets = this.nbuckets;
    const classes = maxSize + 3;
    if (this.buckets === null || this.buckets.count !== classes) {
      this.buckets = new SpillLists(this.bucketsFile, classes, listBytes(this.memory / 4, classes, 4 * (1 + 2 * maxSize)));
    }
    const out = this.buckets;
    out.clearAll();
    for (let s = 1; s <= maxSize; s++) out.setWidth(s, 4 * (1 + 2 * s));
    const classCount = new Float64Array(maxSize + 1);
    for (let p = 0; p < keysIn.length; p++) {
      const keys = keysIn[p]!;
      const b0 = firstBlock[p]! << BLOCK_SHIFT;
      const b1 = p + 1 < keysIn.length ? firstBlock[p + 1]! << BLOCK_SHIFT : nbuckets;
      // Grown in place while they can, mapped (pages.ts): their contents are rewritten per partition.
      if (this.load.length < 3 * keys) this.load = grownUint32(this.load, 3 * keys, 0);
      if (this.grouped.length < 2 * keys) this.grouped = grownUint32(this.grouped, 2 * keys, 0);
      if (this.starts.length < b1 - b0 + 1) this.starts = grownUint32(this.starts, b1 - b0 + 1, 0);
      const { load, grouped, starts } = this;
      const load8 = new Uint8Array(load.buffer);
      let at = 0;
      for (let i = 0; i < pairs.chunkCount(p); i++) at += pairs.readChunk(p, i, load8, at);
      if (at !== 12 * keys) throw new Error(`CHD pairs partition ${p}: read ${at} bytes, expected ${12 * keys}`);
      // Counting sort by bucket, stable: starts[b − b0] is bucket b's cursor meanwhile.
      starts[0] = 0;
      for (let b = b0; b < b1; b++) starts[b - b0 + 1] = starts[b - b0]! + this.sizeOf(b);
      for (let i = 0, q = 0; i < keys; i++, q += 3) {
        const g = 2 * starts[load[q]! - b0]!++;
        grouped[g] = load[q + 1]!;
        grouped[g + 1] = load[q + 2]!;
        if ((i & (TICK_KEYS - 1)) === TICK_KEYS - 1) yield null;
      }
      for (let b = b1 - 1; b > b0; b--) starts[b - b0] = starts[b - b0 - 1]!;
      starts[0] = 0;
      for (let b = b0; b < b1; b++) {
        if (hasDuplicatePair(grouped, starts[b - b0]!, starts[b - b0 + 1]!)) return false;
      }
      yield null;
      for (let b = b0; b < b1; b++) {
        const start = starts[b - b0]!;
        const size = starts[b - b0 + 1]! - start;
        if (size === 0) continue;
        const width = 4 * (1 + 2 * size);
        if (out.fill[size]! + width > out.cap[size]!) out.flush(size);
        const o = out.fill[size]! >>> 2;
        const w = out.u32[size]!;
        w[o] = b;
        w.set(grouped.subarray(2 * start, 2 * (start + size)), o + 1);
        out.fill[size]! += width;
        classCount[size]!++;
      }
      yield null;
    }
    out.flushAll();
    this.classCount = classCount;
    this.maxSize = maxSize;
    return true;
  }
}

/** Buffer bytes per list for `lists` lists sharing `total` bytes: a multiple of `width`, 64 KiB at most. */
function listBytes(total: number, lists: number, width: number): number {
  const per = Math.max(width, Math.min(1 << 16, Math.floor(total / lists)));
  return per - (per % width);
}

/**
 * {@link placeBuckets} over the size classes on disk: the same rounds, the same
 * order (each class in increasing bucket id, kept buckets in order), the same
 * checks; the pending buckets of a class go to a file for the next round until they
 * fit `memory / 4` bytes, then the rounds go on in memory.
 */
function* placeExternal(
  mapper: ExternalMapper,
  n: number,
  disp: Uint32Array,
  occupied: Int32Array,
  maxProbes: number,
  meter: PlaceMeter,
  memory: number,
): Generator<ChdStep, boolean, undefined> {
  const lists = mapper.buckets!;
  const { classCount, maxSize } = mapper;
  const inMemoryWords = Math.max(1 + 2 * maxSize, Math.floor(memory / 16));
  const scratch = new Uint32Array(maxSize);
  let pend = new Uint32Array(0);
  let read = new Uint32Array(0);
  meter.tries = 0;
  for (let size = maxSize; size > 0; size--) {
    let pending = classCount[size]!;
    if (pending === 0) continue;
    const width = 1 + 2 * size;
    let from = size;
    let to = maxSize + 1;
    let inMemory = false;
    const loadPending = (): void => {
      if (pend.length < pending * width) pend = grownUint32(pend, pending * width, 0);
      const p8 = new Uint8Array(pend.buffer);
      let at = 0;
      for (let i = 0; i < lists.chunkCount(from); i++) at += lists.readChunk(from, i, p8, at);
      inMemory = true;
    };
    if (pending * width <= inMemoryWords) loadPending();
    let p0 = 0;
    let p1 = 0;
    let probes = 0;
    while (pending !== 0) {
      let kept = 0;
      if (inMemory) {
        for (let j = 0, o = 0; j < pending; j++, o += width) {
          const bucket = pend[o]!;
          if (placeBucket(pend, o + 1, size, p0, p1, n, occupied, scratch, disp, bucket)) {
            meter.placed += size;
          } else {
            if (kept !== j) pend.copyWithin(kept * width, o, o + width);
            kept++;
          }
          if (countTry(meter)) yield null;
        }
      } else {
        lists.clear(to);
        lists.setWidth(to, 4 * width);
        for (let c = 0; c < lists.chunkCount(from); c++) {
          const len = lists.chunkLength(from, c);
          if (read.length * 4 < len) read = grownUint32(read, len >>> 2, 0);
          lists.readChunk(from, c, new Uint8Array(read.buffer), 0);
          for (let o = 0; o < len >>> 2; o += width) {
            const bucket = read[o]!;
            if (placeBucket(read, o + 1, size, p0, p1, n, occupied, scratch, disp, bucket)) {
              meter.placed += size;
            } else {
              const bw = 4 * width;
              if (lists.fill[to]! + bw > lists.cap[to]!) lists.flush(to);
              lists.u32[to]!.set(read.subarray(o, o + width), lists.fill[to]! >>> 2);
              lists.fill[to]! += bw;
              kept++;
            }
            if (countTry(meter)) yield null;
          }
        }
        lists.flush(to);
        from = to;
        to = to === maxSize + 1 ? maxSize + 2 : maxSize + 1;
      }
      pending = kept;
      p0++;
      if (p0 >= n) {
        p0 -= n;
        p1++;
      }
      probes++;
      if (probes >= maxProbes || p1 >= n) return false;
      if (!inMemory && pending !== 0 && pending * width <= inMemoryWords) loadPending();
    }
  }
  return true;
}

/**
 * Each key's slot from its triple: the number of occupied bins below its bin (= bin −
 * rank of empty bins), the bin recomputed from the key's triple and its bucket's
 * displacement d = p0 + p1·n (it fits a u32: see placeBuckets). Holds the
 * displacements, the occupied bitmap and the occupied bins before each 32-bin word.
 */
export class ChdSlotMap {
  private readonly before: Uint32Array;

  constructor(
    /** The seed the keys' triples must be hashed with. */
    readonly seed: number,
    private readonly n: number,
    private readonly nbuckets: number,
    private readonly disp: Uint32Array,
    private readonly occupied: Int32Array,
  ) {
    const words = occupied.length;
    const before = new Uint32Array(words);
    let acc = 0;
    for (let w = 0; w < words; w++) {
      before[w] = acc;
      acc += popcount32(occupied[w]!);
    }
    this.before = before;
  }

  /** The slot of the key whose triple is t[p], t[p + 1], t[p + 2]. */
  slotOf(t: Uint32Array, p: number): number {
    const n = this.n;
    const bin = binOfDisplacement(modSmall(t[p + 1]!, n), modSmall(t[p + 2]!, n - 1) + 1, this.disp[modSmall(t[p]!, this.nbuckets)]!, n);
    const w = bin >>> 5;
    return this.before[w]! + popcount32(this.occupied[w]! & ((1 << (bin & 31)) - 1));
  }

  /** The slot of the key in bin `bin`: the occupied bins below it. */
  slotOfBin(bin: number): number {
    const w = bin >>> 5;
    return this.before[w]! + popcount32(this.occupied[w]! & ((1 << (bin & 31)) - 1));
  }

  /** Scratch of {@link slotsOf}: each key's bin. */
  private bins = new Float64Array(SLOT_BATCH);

  /**
   * The slots of the `count` keys whose triples are t[0, 3·count), into out[at, at + count):
   * the same as {@link slotOf} for each, in two passes over the batch so that the cache
   * misses of different keys (in the displacements, then in the bitmap) overlap.
   */
  slotsOf(t: Uint32Array, count: number, out: Uint32Array, at: number): void {
    const n = this.n;
    const nb = this.nbuckets;
    const disp = this.disp;
    const occupied = this.occupied;
    const before = this.before;
    if (this.bins.length < count) this.bins = new Float64Array(count);
    const bins = this.bins;
    for (let i = 0, p = 0; i < count; i++, p += 3) {
      bins[i] = binOfDisplacement(modSmall(t[p + 1]!, n), modSmall(t[p + 2]!, n - 1) + 1, disp[modSmall(t[p]!, nb)]!, n);
    }
    for (let i = 0; i < count; i++) {
      const bin = bins[i]!;
      const w = bin >>> 5;
      out[at + i] = before[w]! + popcount32(occupied[w]! & ((1 << (bin & 31)) - 1));
    }
  }
}

/** Keys per batch of {@link ChdSlotMap.slotsOf} (it takes more, growing its scratch). */
const SLOT_BATCH = 4096;

/** slots[key] for every key in stream order (one more pass over the keys). */
function* assignSlots(m: number, src: KeySource | null, chunk: Uint32Array, map: ChdSlotMap, slots: Uint32Array): Generator<ChdStep, void, undefined> {
  let fed = 0;
  yield* feed(src, map.seed, chunk, (t, c) => {
    map.slotsOf(t, c, slots, fed);
    fed += c;
  });
  checkFed(fed, m);
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * {@link encodeCompressedRank} of the unoccupied bins of `occupied` (bins 0..n−1), the
 * same bytes, read straight from the bitmap: no list of the empty bins (4 bytes per
 * key) and no select input (as many again) are materialised.
 */
export function encodeRankOfEmptyBins(occupied: Int32Array, n: number): Uint8Array {
  return drain(rankOfEmptyBinsSteps(occupied, n));
}

/** Runs a stepwise computation to its end. */
function drain<T>(steps: Generator<null, T, undefined>): T {
  let r = steps.next();
  while (r.done !== true) r = steps.next();
  return r.value;
}

/** Words of a bitmap, or values of a sequence, encoded between two steps (a few ms). */
const ENCODE_STEP = 1 << 16;

/** {@link encodeRankOfEmptyBins} in steps (yielding null between them). */
function* rankOfEmptyBinsSteps(occupied: Int32Array, n: number): Generator<null, Uint8Array, undefined> {
  // Bits past bin n − 1 are never set, so the popcounts count bins below n only.
  let k = n;
  const words = (n + 31) >>> 5;
  for (let w = 0; w < words; w++) k -= popcount32(occupied[w]!);
  if (k === 0) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'compressed_rank needs at least one empty bin');
  let maxVal = n - 1;
  while (((occupied[maxVal >>> 5]! >>> (maxVal & 31)) & 1) !== 0) maxVal--;
  const remR = ilog2(Math.floor(maxVal / k)) || 1;
  const remMask = 2 ** remR - 1;
  const rems = new Uint32Array(bitsTableWords(k, remR));
  // The select over X (spec §6.7): X[q] = number of empty bins whose high part is < q + 1.
  const quotients = maxVal >>> remR;
  const bits = new Uint32Array(Math.floor((quotients + k + 31) / 32));
  const samples = new Uint32Array((quotients >>> SELECT_STEP_BITS) + 1);
  // Empty bin j with high part hj gives X[i − 1] = j for every i in (h(j−1), hj], i ≤ quotients.
  // The empty bins are visited a word at a time, lowest zero bit first.
  let i = 1;
  let j = 0;
  for (let w = 0; w < words; w++) {
    let zeros = ~occupied[w]!;
    const valid = n - 32 * w;
    if (valid < 32) zeros &= (1 << valid) - 1;
    while (zeros !== 0) {
      const lowest = zeros & -zeros;
      zeros ^= lowest;
      const bin = 32 * w + 31 - Math.clz32(lowest);
      setBits(rems, j * remR, bin & remMask, remR);
      const high = bin >>> remR;
      for (; i <= high && i <= quotients; i++) {
        const q = i - 1;
        const pos = j + q;
        bits[pos >>> 5]! |= 1 << (pos & 31);
        if ((q & ((1 << SELECT_STEP_BITS) - 1)) === 0) samples[q >>> SELECT_STEP_BITS] = pos;
      }
      j++;
    }
    if ((w & (ENCODE_STEP / 8 - 1)) === ENCODE_STEP / 8 - 1) yield null;
  }
  return packCompressedRank(maxVal, k, remR, packSelect(quotients, k, bits, samples), rems);
}

/** Assembles the `cmph_pack()` image of a CHD (spec §6.3) around its compressed rank `cr`. */
function packChd(
  seed: number,
  n: number,
  nbuckets: number,
  cs: Uint8Array,
  cr: Uint8Array,
): Uint8Array {
  const phSize = 20 + cs.length;
  const out = new Uint8Array(12 + cr.length + phSize);
  const view = new DataView(out.buffer);
  view.setUint32(0, CMPH_CHD, true);
  view.setUint32(4, cr.length, true);
  out.set(cr, 8);
  let p = 8 + cr.length;
  view.setUint32(p, phSize, true);
  view.setUint32(p + 4, CMPH_CHD_PH, true);
  view.setUint32(p + 8, CMPH_HASH_JENKINS, true);
  view.setUint32(p + 12, seed, true);
  view.setUint32(p + 16, n, true);
  view.setUint32(p + 20, nbuckets, true);
  p += 24;
  out.set(cs, p);
  return out;
}

/** floor(log2(x)) for x ≥ 1, 0 for x ≤ 1 (CMPH's `i_log2`). */
function ilog2(x: number): number {
  return x <= 1 ? 0 : 31 - Math.clz32(x);
}

/** Words needed for `count` fields of `width` bits (`BITS_TABLE_SIZE`). */
function bitsTableWords(count: number, width: number): number {
  return Math.floor((count * width + 31) / 32);
}

/** ORs the low `len` (≤ 32) bits of `value` into the LSB-first word array at bit `pos`. */
function setBits(words: Uint32Array, pos: number, value: number, len: number): void {
  if (len === 0) return;
  const w = pos < 4294967296 ? pos >>> 5 : Math.floor(pos / 32);
  const shift = pos % 32;
  words[w]! |= value << shift;
  if (shift + len > 32) words[w + 1]! |= value >>> (32 - shift);
}

/** Copies u32 words little-endian into `out` at `off`; returns the offset after them. */
function putWords(view: DataView, off: number, words: Uint32Array): number {
  if (HOST_LE) {
    new Uint8Array(view.buffer, view.byteOffset + off, 4 * words.length).set(new Uint8Array(words.buffer, words.byteOffset, 4 * words.length));
    return off + 4 * words.length;
  }
  for (let i = 0; i < words.length; i++, off += 4) view.setUint32(off, words[i]!, true);
  return off;
}

/** The host stores u32 little-endian (then words are copied as bytes). */
const HOST_LE = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The packed `select` structure over a non-decreasing sequence x (spec §6.6):
 * n_ones = x.length, set bit j at x[j] + j in an (n_ones + m)-bit vector,
 * then a sample of the position of every 128th set bit.
 */
export function encodeSelect(x: Uint32Array, m: number): Uint8Array {
  const nOnes = x.length;
  const bits = new Uint32Array(Math.floor((nOnes + m + 31) / 32));
  const samples = new Uint32Array((nOnes >>> SELECT_STEP_BITS) + 1);
  for (let j = 0; j < nOnes; j++) {
    const pos = x[j]! + j;
    bits[pos >>> 5]! |= 1 << (pos & 31);
    if ((j & ((1 << SELECT_STEP_BITS) - 1)) === 0) samples[j >>> SELECT_STEP_BITS] = pos;
  }
  return packSelect(nOnes, m, bits, samples);
}

/** A select structure's bytes: n_ones, m, the bit vector, the samples. */
function packSelect(nOnes: number, m: number, bits: Uint32Array, samples: Uint32Array): Uint8Array {
  const out = new Uint8Array(8 + 4 * bits.length + 4 * samples.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, nOnes, true);
  view.setUint32(4, m, true);
  putWords(view, putWords(view, 8, bits), samples);
  return out;
}

/**
 * CMPH's `compressed_seq` (spec §6.6) for `values` (the bucket displacements):
 * each v stored in floor(log2(v + 1)) bits, with the cumulative lengths split
 * into low parts (rem_r bits each) and high parts (a select structure).
 */
export function encodeCompressedSeq(values: Uint32Array): Uint8Array {
  return drain(compressedSeqSteps(values));
}

/** {@link encodeCompressedSeq} in steps (yielding null between them). */
function* compressedSeqSteps(values: Uint32Array): Generator<null, Uint8Array, undefined> {
  const count = values.length;
  if (count === 0) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'compressed_seq needs at least one value');
  let total = 0;
  for (let i = 0; i < count; i++) total += valueBits(values[i]!);
  if (total > 0xffffffff) {
    throw new DiscoDBError('ERR_DISCODB_LIMIT', 'compressed_seq: more than 2^32 bits of displacements');
  }
  const store = new Uint32Array(Math.floor((total + 31) / 32));
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    const len = valueBits(v);
    if (len === 0) continue;
    // v − (2^len − 1), computed in u32 like the C code (len ≤ 31: see valueBits).
    setBits(store, pos, (v - (((1 << len) >>> 0) - 1)) >>> 0, len);
    pos += len;
    if ((i & (ENCODE_STEP - 1)) === ENCODE_STEP - 1) yield null;
  }
  const remR = ilog2(Math.floor(total / count)) || 1;
  const remMask = 2 ** remR - 1;
  const rems = new Uint32Array(bitsTableWords(count, remR));
  // The select over the high parts (encodeSelect's layout), built in the same pass: no
  // array of them (4 bytes per value).
  // total < 2^32, so every cumulative length is a u32 and `>>> remR` is its high part.
  const selM = total >>> remR;
  const selBits = new Uint32Array(Math.floor((count + selM + 31) / 32));
  const samples = new Uint32Array((count >>> SELECT_STEP_BITS) + 1);
  let cum = 0;
  for (let i = 0; i < count; i++) {
    cum += valueBits(values[i]!);
    setBits(rems, i * remR, cum & remMask, remR);
    const pos = (cum >>> remR) + i;
    selBits[pos >>> 5]! |= 1 << (pos & 31);
    if ((i & ((1 << SELECT_STEP_BITS) - 1)) === 0) samples[i >>> SELECT_STEP_BITS] = pos;
    if ((i & (ENCODE_STEP - 1)) === ENCODE_STEP - 1) yield null;
  }
  const sel = packSelect(count, selM, selBits, samples);
  const out = new Uint8Array(16 + sel.length + 4 * rems.length + 4 * store.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, count, true);
  view.setUint32(4, remR, true);
  view.setUint32(8, total, true);
  view.setUint32(12, sel.length, true);
  out.set(sel, 16);
  putWords(view, putWords(view, 16 + sel.length, rems), store);
  return out;
}

/** Stored length of one compressed_seq value: 0 for 0, else floor(log2(v + 1)) (u32 arithmetic, so at most 31). */
function valueBits(v: number): number {
  return v === 0 ? 0 : ilog2((v + 1) >>> 0);
}

/**
 * CMPH's `compressed_rank` (spec §6.7) over the sorted empty bins: low parts
 * (rem_r bits each) plus a select over the counts of bins below each high part.
 * `scratch`, when it has room for floor(max / 2^rem_r) words, saves an allocation.
 */
export function encodeCompressedRank(emptyBins: Uint32Array, scratch?: Uint32Array): Uint8Array {
  const k = emptyBins.length;
  if (k === 0) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'compressed_rank needs at least one empty bin');
  const maxVal = emptyBins[k - 1]!;
  const remR = ilog2(Math.floor(maxVal / k)) || 1;
  const remMask = 2 ** remR - 1;
  const rems = new Uint32Array(bitsTableWords(k, remR));
  for (let j = 0; j < k; j++) setBits(rems, j * remR, emptyBins[j]! & remMask, remR);
  // X[q] = number of empty bins whose high part is < q + 1, for q = 0 .. Q−1.
  const quotients = maxVal >>> remR;
  const x =
    scratch !== undefined && scratch.length >= quotients ? scratch.subarray(0, quotients) : new Uint32Array(quotients);
  for (let i = 1, j = 0; i <= quotients; i++) {
    while (i > emptyBins[j]! >>> remR) j++;
    x[i - 1] = j;
  }
  return packCompressedRank(maxVal, k, remR, encodeSelect(x, k), rems);
}

/** A compressed_rank's bytes (spec §6.7): max value, count, rem_r, the select's size and bytes, the low parts. */
function packCompressedRank(maxVal: number, k: number, remR: number, sel: Uint8Array, rems: Uint32Array): Uint8Array {
  const out = new Uint8Array(16 + sel.length + 4 * rems.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, maxVal, true);
  view.setUint32(4, k, true);
  view.setUint32(8, remR, true);
  view.setUint32(12, sel.length, true);
  out.set(sel, 16);
  putWords(view, 16 + sel.length, rems);
  return out;
}
