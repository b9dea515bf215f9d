/**
 * One build, from the first record to the renamed output file: ingest into the
 * bounded in-memory run, spill sorted runs when it is full, merge them, write the
 * image into a temporary file next to the target, fsync, rename.
 */
import { buildChdSync, type ChdBuildResult } from '../format/chd-build.js';
import { GlibcRandom } from '../format/glibc-rand.js';
import { DiscoDBError } from '../errors.js';
import { RunBuffer } from './arena.js';
import { driveAsync, driveSync, writeMemoryImage, writeRunImage, type ChdRequest, type ImageBuffers, type ImageStats } from './image.js';
import { AtomicFile } from './atomic-file.js';
import { MemSink, TempDir } from './io.js';
import type { ResolvedOptions } from './options.js';
import { RecordIngest } from './records.js';
import { mergeAll, spillRun, type MergeContext, type RunFile } from './runs.js';

/** What a build is doing. */
export type WriterPhase = 'ingest' | 'spill' | 'merge' | 'write' | 'hash' | 'done';

/** Payload of the writer's `progress` events. */
export interface WriterProgress {
  phase: WriterPhase;
  /** Records accepted so far. */
  records: number;
  /** Items (key–value adds and key-only adds) so far; a `{ key, values }` record counts each value. */
  items: number;
  /** Key and value bytes accepted so far (UTF-8 for strings). */
  bytes: number;
  /** Runs spilled to disk so far. */
  runs: number;
}

/** The largest fan-in of one merge pass (bounded by file descriptors as much as by memory). */
const MAX_FAN_IN = 64;
/**
 * The smallest: below it a tiny budget would cost merge passes out of proportion;
 * 8 inputs × 2 buffers × 4 KiB is noise next to the process itself.
 */
const MIN_FAN_IN = 8;
const MIN_MERGE_BUFFER = 4 * 1024;
const MAX_MERGE_BUFFER = 4 * 1024 * 1024;

const ABORTED = (): DiscoDBError => new DiscoDBError('ERR_DISCODB_ABORTED', 'the build was aborted (destroy() before it finished): nothing was written');

/** Turns fs failures into `ERR_DISCODB_IO`; other errors pass through. */
export function asDiscoDBError(err: unknown, file?: string): unknown {
  if (err instanceof DiscoDBError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e !== null && typeof e === 'object' && typeof e.syscall === 'string') {
    const where = e.path ?? file;
    return new DiscoDBError('ERR_DISCODB_IO', `${e.syscall} failed${where === undefined ? '' : ` for ${where}`}: ${e.message}`, {
      cause: err,
      ...(where === undefined ? {} : { path: where }),
    });
  }
  return err;
}

/** The synchronous CHD build of in-memory keys, with a fresh rand() state like a fresh C process. */
function chdSync(req: ChdRequest): ChdBuildResult {
  return buildChdSync(req.numKeys, req.hashKeys, new GlibcRandom());
}

/**
 * A single build. `spillable` builds (files) keep the buffered records within
 * `memoryLimit` and spill runs to `tmpDir`; the in-memory build never spills.
 */
export class Builder {
  readonly run: RunBuffer;
  readonly ingest: RecordIngest;
  /** Called on phase changes (and by the stream during ingest). */
  onProgress: ((p: WriterProgress) => void) | null = null;
  /** Facts about the image, once written. */
  stats: ImageStats | null = null;
  phase: WriterPhase = 'ingest';
  private readonly runs: RunFile[] = [];
  private readonly tmp: TempDir | null;
  private aborted = false;
  private lastYield = 0;
  private spillCount = 0;
  private out: AtomicFile | null = null;

  constructor(
    readonly opts: ResolvedOptions,
    spillable: boolean,
  ) {
    this.run = new RunBuffer(spillable ? opts.memoryLimit : Infinity);
    this.tmp = spillable ? new TempDir(opts.tmpDir) : null;
    this.ingest = new RecordIngest(this.run, () => this.spill());
  }

  /** Adds one record (see records.ts for the accepted shapes). */
  add(rec: unknown): void {
    if (this.aborted) throw ABORTED();
    try {
      this.ingest.add(rec);
    } catch (err) {
      // A spill that failed (disk full, ...) is an ERR_DISCODB_IO.
      throw asDiscoDBError(err);
    }
  }

  /** Number of runs spilled so far. */
  get spilledTotal(): number {
    return this.spillCount;
  }

  progress(): WriterProgress {
    const i = this.ingest;
    return { phase: this.phase, records: i.records, items: i.items, bytes: i.bytes, runs: this.spillCount };
  }

  private setPhase(phase: WriterPhase): void {
    this.phase = phase;
    this.onProgress?.(this.progress());
  }

  /** Buffer sizes derived from the budget. */
  private buffers(): ImageBuffers {
    const limit = this.opts.memoryLimit;
    return {
      io: Math.max(64 * 1024, Math.min(4 * 1024 * 1024, Math.floor(limit / 16))),
      window: Math.max(1024 * 1024, Math.floor(limit / 2)),
    };
  }

  private spill(): void {
    if (this.tmp === null) throw new Error('spill in an in-memory build');
    this.setPhase('spill');
    if (this.aborted) throw ABORTED();
    const run = spillRun(this.run, this.tmp, this.opts.uniqueItems, this.ingest.records, this.buffers().io);
    this.runs.push(run);
    this.spillCount++;
    this.run.clear();
    this.setPhase('ingest');
  }

  /** Finishes an in-memory build: the image bytes. */
  buildBuffer(): Buffer {
    this.ingest.flush();
    let sink: MemSink | null = null;
    this.setPhase('write');
    this.stats = driveSync(
      writeMemoryImage(
        this.run,
        this.opts,
        (hint) => (sink = new MemSink(hint)),
        this.buffers(),
      ),
      (req) => {
        this.setPhase('hash');
        const res = chdSync(req);
        this.setPhase('write');
        return res;
      },
    );
    this.run.release();
    this.setPhase('done');
    return (sink as MemSink | null)!.bytes();
  }

  /** Yields to the event loop every ~25 ms of work; throws once aborted. */
  private readonly tick = async (): Promise<void> => {
    if (this.aborted) throw ABORTED();
    const now = Date.now();
    if (now - this.lastYield < 25) return;
    this.lastYield = now;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.aborted) throw ABORTED();
  };

  /**
   * Finishes a spillable build into `target`: written to a temporary file in the
   * same directory, fsynced, then renamed over `target`. On failure nothing is left
   * at `target` (an existing file there stays untouched) and every temporary file
   * is removed.
   */
  async buildFile(target: string): Promise<void> {
    const tmp = this.tmp!;
    try {
      this.ingest.flush();
      if (this.aborted) throw ABORTED();
      tmp.sweep();
      const out = AtomicFile.open(target);
      this.out = out;
      const buffers = this.buffers();
      const tick = this.tick;
      const onHash = (hashing: boolean): void => {
        this.setPhase(hashing ? 'hash' : 'write');
        if (this.aborted) throw ABORTED();
      };
      if (this.runs.length === 0) {
        this.setPhase('write');
        if (this.aborted) throw ABORTED();
        this.stats = await driveAsync(
          writeMemoryImage(this.run, this.opts, () => out, buffers),
          tick,
          onHash,
        );
      } else {
        if (!this.run.isEmpty()) this.spill();
        this.run.release();
        this.setPhase('merge');
        if (this.aborted) throw ABORTED();
        const limit = this.opts.memoryLimit;
        const ctx: MergeContext = {
          tmp,
          unique: this.opts.uniqueItems,
          bufferSize: (m) => Math.max(MIN_MERGE_BUFFER, Math.min(MAX_MERGE_BUFFER, Math.floor(limit / (2 * m + 2)))),
          tick,
        };
        const fanIn = Math.max(MIN_FAN_IN, Math.min(MAX_FAN_IN, Math.floor(limit / (2 * 32 * 1024))));
        const final = await mergeAll(this.runs.splice(0), ctx, fanIn);
        if (final.fd < 0) final.fd = tmp.reopen(final.path);
        this.setPhase('write');
        if (this.aborted) throw ABORTED();
        this.stats = await driveAsync(writeRunImage(final, this.opts, out, tmp, buffers), tick, onHash);
        tmp.remove(final.fd);
      }
      if (this.aborted) throw ABORTED();
      await out.syncAsync();
      if (this.aborted) throw ABORTED();
      out.commit(this.stats.size);
      this.out = null;
      this.setPhase('done');
    } catch (err) {
      throw asDiscoDBError(err, target);
    } finally {
      this.dispose();
    }
  }

  /** Makes a running `buildFile` stop at its next checkpoint. */
  abort(): void {
    this.aborted = true;
  }

  /** Removes every temporary file (and the unfinished output). Idempotent, never throws. */
  dispose(): void {
    this.out?.discard();
    this.out = null;
    this.tmp?.cleanup();
    this.runs.length = 0;
  }
}
