/**
 * `DiscoDBWriter`: an object-mode Writable that builds a discodb file.
 *
 * ```ts
 * await pipeline(records, new DiscoDBWriter('out.ddb', { memoryLimit: '256M' }));
 * ```
 */
import { Writable } from 'node:stream';
import { DiscoDBError } from '../errors.js';
import { asDiscoDBError, type WriterProgress } from './build.js';
import { fileBuilder, mustWait, makeRoom, type FileBuilder } from './threaded-build.js';
import { resolveOptions, type WriterOptions } from './options.js';

/** Facts about the written file, available once the writer emitted `finish`. */
export interface WriterStats {
  /** Records written to the stream. */
  records: number;
  /** Items: (key, value) adds plus key-only adds. */
  items: number;
  /** Key and value bytes received. */
  bytes: number;
  /** Distinct keys. */
  keys: number;
  /** Distinct values. */
  uniqueValues: number;
  /** Stored (key, value) items (after `uniqueItems`). */
  values: number;
  /** Size of the file in bytes. */
  size: number;
  /** Runs spilled to disk during the build. */
  runs: number;
  hashed: boolean;
  compressed: boolean;
  multiset: boolean;
}

/**
 * The longest the writer keeps the event loop during ingest (ms): a synchronous
 * source (`Readable.from(generator)`) feeds a stream whose callbacks are synchronous
 * in one unbroken chain of nextTicks, so past this the write callback is deferred to
 * `setImmediate` and timers and I/O get their turn.
 */
const INGEST_SLICE_MS = 10;
/** The clock is read every this many records. */
const SLICE_CHECK = 256;

/** Progress is checked every this many records. */
const PROGRESS_CHECK = 8192;
/** ... and emitted at most this often (ms). */
const PROGRESS_INTERVAL = 100;

/**
 * A Writable (object mode) that builds a discodb at `path`.
 *
 * Write records — `{ key, value }`, `{ key, values }`, `{ key }` or `[key, value]`,
 * keys and values as strings (UTF-8) or `Uint8Array`s. The output has the same bytes
 * the C library writes for the same adds and flags. Memory stays within
 * `memoryLimit` (plus, at the end, about 4 bytes per distinct value while runs are
 * merged and per distinct key ~15 bytes while the perfect hash is built, 4 while the
 * records are written; ~1.5 bytes each when that does not fit, README "Bounded memory"):
 * beyond it, sorted runs are spilled to `tmpDir` and merged. With `threads: 0` a spill
 * runs in steps between turns of the event loop (the record that filled the run waits).
 *
 * The file appears at `path` (atomically: written next to it, every write checked,
 * fsynced, renamed; a symlink is followed, a non-regular file refused, an existing
 * file's mode kept) just before `finish`. On an error or `destroy()`, nothing is left
 * at `path` and all temporary files are removed; an existing file at `path` is
 * replaced only on success. `destroy()` before the end fails the stream with an
 * `ERR_DISCODB_ABORTED` DiscoDBError. With `threads` ≥ 1 (default 0) this thread
 * only validates and encodes the records: the lookups, sorting, merging, hashing and
 * writing run on a worker thread, and the event loop stays free.
 *
 * Emits `progress` ({@link WriterProgress}) during ingest (at most every 100 ms) and at
 * every phase change (`ingest`, `spill`, `merge`, `write`, `hash`, `done`).
 * Bad records fail the stream with `ERR_DISCODB_INPUT` (its `record` is the 1-based
 * record number).
 */
export class DiscoDBWriter extends Writable {
  /** The output path, as given. */
  readonly path: string;
  /** Facts about the written file; set when the build is done. */
  stats: WriterStats | null = null;
  private readonly builder: FileBuilder;
  private building: Promise<void> | null = null;
  private nextCheck = PROGRESS_CHECK;
  private lastProgress = 0;
  private nextSliceCheck = SLICE_CHECK;
  private sliceStart = performance.now();

  constructor(path: string, options?: WriterOptions) {
    if (typeof path !== 'string' || path === '') {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'DiscoDBWriter needs an output path');
    }
    const opts = resolveOptions(options);
    super({ objectMode: true, highWaterMark: 1024 });
    this.path = path;
    this.builder = fileBuilder(opts);
    this.builder.onProgress = (p) => this.emit('progress', p);
  }

  /** The current progress figures. */
  progress(): WriterProgress {
    return this.builder.progress();
  }

  private maybeProgress(): void {
    const records = this.builder.ingest.records;
    if (records < this.nextCheck) return;
    this.nextCheck = records + PROGRESS_CHECK;
    const now = Date.now();
    if (now - this.lastProgress >= PROGRESS_INTERVAL) {
      this.lastProgress = now;
      this.emit('progress', this.builder.progress());
    }
  }

  /** Calls `callback` now, or on the next turn of the event loop once this slice of ingest is long enough. */
  private done(callback: (error?: Error | null) => void): void {
    const b = this.builder;
    if (mustWait(b)) {
      // The worker thread is behind: wait for a batch to be applied (memory stays bounded).
      b.whenRoom().then(
        () => callback(),
        (err: unknown) => callback(asDiscoDBError(err) as Error),
      );
      return;
    }
    const records = this.builder.ingest.records;
    if (records < this.nextSliceCheck) return callback();
    this.nextSliceCheck = records + SLICE_CHECK;
    const now = performance.now();
    if (now - this.sliceStart < INGEST_SLICE_MS) return callback();
    setImmediate(() => {
      this.sliceStart = performance.now();
      callback();
    });
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      if (!this.builder.add(chunk)) return this.afterRoom(callback, () => this.done(callback));
      this.maybeProgress();
    } catch (err) {
      callback(asDiscoDBError(err) as Error);
      return;
    }
    this.done(callback);
  }

  override _writev(chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    this.writeFrom(chunks, 0, callback);
  }

  /** Adds `chunks[from..]`, pausing for a spill or a rehash (in steps, between turns of the event loop) when the run needs one. */
  private writeFrom(chunks: Array<{ chunk: unknown }>, from: number, callback: (error?: Error | null) => void): void {
    try {
      const b = this.builder;
      for (let i = from; i < chunks.length; i++) {
        if (!b.add(chunks[i]!.chunk)) return this.afterRoom(callback, () => this.writeFrom(chunks, i + 1, callback));
      }
      this.maybeProgress();
    } catch (err) {
      callback(asDiscoDBError(err) as Error);
      return;
    }
    this.done(callback);
  }

  /** Makes room in steps — a spill of the full run, or a large rehash — (the record that needed it is held back and staged after), then `next`. */
  private afterRoom(callback: (error?: Error | null) => void, next: () => void): void {
    makeRoom(this.builder).then(
      () => {
        this.sliceStart = performance.now();
        this.maybeProgress();
        next();
      },
      (err: unknown) => callback(asDiscoDBError(err) as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.emit('progress', this.builder.progress());
    this.building = this.builder.buildFile(this.path).then(
      () => {
        const s = this.builder.stats!;
        const p = this.builder.progress();
        this.stats = {
          records: p.records,
          items: p.items,
          bytes: p.bytes,
          keys: s.numKeys,
          uniqueValues: s.numUniqueValues,
          values: s.numValues,
          size: s.size,
          runs: this.builder.spilledTotal,
          hashed: (s.flags & 1) !== 0,
          multiset: (s.flags & 2) !== 0,
          compressed: (s.flags & 4) !== 0,
        };
        callback();
      },
      (err: unknown) => callback(err as Error),
    );
  }

  /**
   * Stops the build and removes every temporary file. Destroying the writer before it
   * finished always fails the stream: with `error` if given, else with an
   * `ERR_DISCODB_ABORTED` DiscoDBError (so `pipeline()` rejects; nothing is written).
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.builder.abort();
    const done = (): void => {
      const finished = this.stats !== null;
      void this.builder.dispose().then(() =>
        callback(error ?? (finished ? null : new DiscoDBError('ERR_DISCODB_ABORTED', `the build of ${this.path} was aborted (destroy() before it finished): nothing was written`, { path: this.path }))),
      );
    };
    if (this.building === null) done();
    else this.building.then(done, done);
  }
}

/** Typed `progress` events (declaration merging with the class). */
export interface DiscoDBWriter {
  on(event: 'progress', listener: (progress: WriterProgress) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'progress', listener: (progress: WriterProgress) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}
