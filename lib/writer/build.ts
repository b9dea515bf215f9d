/**
 * One build, from the first record to the renamed output file: ingest into the
 * bounded in-memory run, spill sorted runs when it is full, merge them, write the
 * image into a temporary file next to the target, fsync, rename.
 */
import { DiscoDBError } from '../errors.js';
import { RunBuffer, runBudget } from './arena.js';
import { finishImage, imageBuffers } from './finish.js';
import { chdSync as chdOf, driveSync, writeMemoryImage, type ChdAnswer, type ChdRequest, type ImageBuffers, type ImageStats } from './image.js';
import { AtomicFile } from './atomic-file.js';
import { MemSink, TempDir } from './io.js';
import type { ResolvedOptions } from './options.js';
import { RecordIngest } from './records.js';
import { spillRunSteps, type RunFile } from './runs.js';

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
  /**
   * How far the current phase is, `done` of `total`, in the phase's own unit; present
   * once the phase knows its extent (`merge`, `hash`, `write`, on either path),
   * absent otherwise. `done` only grows, never passes `total`, and reaches it at the
   * phase's end; a phase entered again starts over. Units:
   * `merge`: run entries visited (for a merge in several passes the total is an estimate,
   * lowered as passes finish); `hash`: keys placed in the perfect hash (a failed placement
   * attempt, rare, raises the total: the next one starts over); `write`: bytes of the image
   * written of its size (while Huffman-coded values are written, the total is an estimate
   * from the ratio so far) — in a build that spilled, the stint before the hash counts the
   * bytes of merged key lists read instead. Emitted at most every 100 ms, and at a phase's end.
   */
  done?: number;
  total?: number;
}

/** One progress event; `done`/`total` only when the phase told them (`total` ≥ 0). */
export function progressEvent(phase: WriterPhase, ingest: RecordIngest, runs: number, done: number, total: number): WriterProgress {
  const p: WriterProgress = { phase, records: ingest.records, items: ingest.items, bytes: ingest.bytes, runs };
  if (total >= 0) {
    p.done = done;
    p.total = total;
  }
  return p;
}

/** Work between two turns of the event loop in a build's async phases (ms). */
const YIELD_MS = 15;

/** Phase progress events are emitted at most this often (ms), besides the last one of a phase. */
const STEP_INTERVAL = 100;

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
function chdSync(req: ChdRequest, onPlaced: (done: number, total: number) => void): ChdAnswer {
  return chdOf(req, onPlaced);
}

/**
 * A single build. `spillable` builds (files) keep the buffered records within
 * `memoryLimit` and spill runs to `tmpDir`; the in-memory build never spills.
 * Everything runs on the calling thread (threaded file builds: threaded-build.ts).
 */
export class Builder {
  run: RunBuffer;
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
  private disposed: Promise<void> | null = null;
  /** The current phase's `done` / `total` (−1: not known) and when they were last emitted. */
  private done = -1;
  private total = -1;
  private lastStep = 0;

  /**
   * @param spillable a file build, which spills runs to `tmpDir` in steps: {@link add}
   * returns false when the run is full (or a large rehash is due), and the caller awaits
   * {@link makeRoom}, which gives the event loop a turn now and then. Else everything
   * stays in memory (the run's budget is unbounded: it is never full).
   */
  constructor(
    readonly opts: ResolvedOptions,
    spillable: boolean,
  ) {
    this.run = new RunBuffer(spillable ? runBudget(opts.memoryLimit) : Infinity);
    this.tmp = spillable ? new TempDir(opts.tmpDir) : null;
    this.ingest = new RecordIngest(this.run, () => {
      // Only a record past the 4 GiB arena gets here (a stepped build holds records back instead).
      throw new Error('spill in an in-memory build');
    });
    this.ingest.deferFull = spillable;
    this.run.deferRehash = spillable;
  }

  /**
   * Adds one record (see records.ts for the accepted shapes). False (stepped builds
   * only) when the run is full, or its hash tables must grow, before the record is all
   * in: await {@link makeRoom} before the next `add`.
   */
  add(rec: unknown): boolean {
    if (this.aborted) throw ABORTED();
    try {
      return this.ingest.add(rec);
    } catch (err) {
      // A spill that failed (disk full, ...) is an ERR_DISCODB_IO.
      throw asDiscoDBError(err);
    }
  }

  /**
   * Makes room for the record `add` held back — grows the run's hash tables (a large
   * rehash) or spills the full run, in steps, yielding to the event loop every ~15 ms —
   * and stages the rest of it (again, if a record with many values fills the run again).
   */
  async makeRoom(): Promise<void> {
    try {
      do await this.drive(this.run.growthPending ? this.run.growSteps() : this.spillSteps());
      while (!this.ingest.resume());
    } catch (err) {
      throw asDiscoDBError(err);
    }
  }

  /** Number of runs spilled so far. */
  get spilledTotal(): number {
    return this.spillCount;
  }

  progress(): WriterProgress {
    return progressEvent(this.phase, this.ingest, this.spillCount, this.done, this.total);
  }

  private setPhase(phase: WriterPhase): void {
    this.phase = phase;
    this.done = this.total = -1;
    this.onProgress?.(this.progress());
  }

  /** How far the current phase is: emitted at a bounded rate, and always when it completes. */
  private readonly step = (done: number, total: number): void => {
    if (done === this.done && total === this.total) return;
    this.done = done;
    this.total = total;
    const now = Date.now();
    if (done < total && now - this.lastStep < STEP_INTERVAL) return;
    this.lastStep = now;
    this.onProgress?.(this.progress());
  };

  /** Buffer sizes derived from the budget. */
  private buffers(): ImageBuffers {
    return imageBuffers(this.opts.memoryLimit);
  }

  /** Spills the run to a new run file and clears it, in steps (see `spillRunSteps`). */
  private *spillSteps(): Generator<void, void, void> {
    if (this.tmp === null) throw new Error('spill in an in-memory build');
    this.setPhase('spill');
    if (this.aborted) throw ABORTED();
    const run = yield* spillRunSteps(this.run, this.tmp, this.opts.uniqueItems, this.ingest.records, this.buffers().io);
    this.runs.push(run);
    this.run.clear();
    this.spillCount++;
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
        this.step,
      ),
      (req) => {
        this.setPhase('hash');
        const res = chdSync(req, this.step);
        this.setPhase('write');
        return res;
      },
    );
    this.run.release();
    this.setPhase('done');
    return (sink as MemSink | null)!.bytes();
  }

  /**
   * Yields to the event loop every ~15 ms of work (a slice is that plus the step between
   * two ticks, a few ms to ~20: well under 50 ms); throws once aborted.
   */
  private readonly tick = async (): Promise<void> => {
    if (this.aborted) throw ABORTED();
    const now = Date.now();
    if (now - this.lastYield < YIELD_MS) return;
    this.lastYield = now;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.aborted) throw ABORTED();
  };

  /** Runs `steps`, giving the event loop a turn every ~15 ms between them (see {@link tick}). */
  private async drive(steps: Generator<void, void, void>): Promise<void> {
    for (let r = steps.next(); r.done !== true; r = steps.next()) await this.tick();
  }

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
      if (!this.run.isEmpty() && this.runs.length > 0) await this.drive(this.spillSteps());
      if (this.runs.length > 0) this.run.release();
      this.stats = await finishImage({
        run: this.run,
        runs: this.runs.splice(0),
        tmp,
        opts: this.opts,
        sink: out,
        tick: this.tick,
        setPhase: (phase) => {
          this.setPhase(phase);
          if (this.aborted) throw ABORTED();
        },
        progress: this.step,
      });
      if (this.aborted) throw ABORTED();
      await out.syncAsync();
      if (this.aborted) throw ABORTED();
      out.commit(this.stats.size);
      this.out = null;
      this.setPhase('done');
    } catch (err) {
      throw asDiscoDBError(err, target);
    } finally {
      await this.dispose();
    }
  }

  /** Makes a running `buildFile` stop at its next checkpoint. */
  abort(): void {
    this.aborted = true;
  }

  /**
   * Removes every temporary file (and the unfinished output). Idempotent, never
   * rejects; the files are gone when it returns.
   */
  dispose(): Promise<void> {
    if (this.disposed !== null) return this.disposed;
    this.out?.discard();
    this.out = null;
    this.tmp?.cleanup();
    this.runs.length = 0;
    this.disposed = Promise.resolve();
    return this.disposed;
  }
}
