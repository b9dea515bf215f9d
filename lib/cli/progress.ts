/**
 * Progress of `discodb create` on stderr: a live bar on a TTY (records, MB/s, phase, and a
 * percentage and ETA while the input is read and its size is known, a percentage of the
 * merge, hash and write phases), a one-line summary otherwise, nothing with --quiet.
 */

/** A snapshot of the build. */
export interface ProgressState {
  /** Records handed to the writer so far. */
  records: number;
  /** Input bytes read so far. */
  bytes: number;
  /**
   * What the build is doing: the writer's phases `ingest`, `spill`, `merge`, `write`, `hash`,
   * `done`, and the CLI's `copy` (to stdout).
   */
  phase: string;
  /** How far the current phase is, `done` of `total` (the writer's progress fields), if known. */
  done?: number | undefined;
  total?: number | undefined;
}

/** Where progress goes: stderr, or any stream with a `write` (and maybe `isTTY`/`columns`). */
export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const MB = 1024 * 1024;

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `1 key`, `2 keys`, `1,234 keys`. */
export function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${Math.round(n) === 1 ? '' : 's'}`;
}

/** The phases during which input is read (the only ones where MB/s and an ETA mean something). */
const READING = new Set(['ingest', 'spill']);

/** Bytes as MB with one decimal. */
export function formatMB(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** Seconds as `1.2s` or `3m04s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
}

/** Renders and throttles the progress display. */
export class Progress {
  readonly #sink: ProgressSink;
  readonly #live: boolean;
  readonly #quiet: boolean;
  readonly #totalBytes: number | undefined;
  readonly #start = performance.now();
  #state: ProgressState = { records: 0, bytes: 0, phase: 'ingest' };
  /** Seconds from the start to the end of reading (the first phase past ingest/spill). */
  #readSeconds: number | undefined;
  /** When the current phase began (seconds from the start). */
  #phaseStart = 0;
  #lastDraw = 0;
  #drawn = false;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param sink usually `process.stderr`
   * @param options `quiet` silences everything; `totalBytes` (sum of the input file sizes, if
   *   known) enables the percentage; `live` overrides TTY detection (tests)
   */
  constructor(sink: ProgressSink, options: { quiet?: boolean; totalBytes?: number; live?: boolean } = {}) {
    this.#sink = sink;
    this.#quiet = options.quiet === true;
    this.#live = !this.#quiet && (options.live ?? sink.isTTY === true);
    this.#totalBytes = options.totalBytes;
    if (this.#live) {
      // Redraw even when nothing arrives (long sort or hash phases still show the clock).
      this.#timer = setInterval(() => this.#draw(), 250);
      this.#timer.unref();
    }
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Takes a new snapshot (any subset of the fields); redraws at most 10 times a second. */
  update(state: Partial<ProgressState>): void {
    if (state.phase !== undefined && state.phase !== this.#state.phase) this.#phaseStart = this.elapsed;
    this.#state = { ...this.#state, ...state };
    if (this.#readSeconds === undefined && !READING.has(this.#state.phase)) this.#readSeconds = this.elapsed;
    if (!this.#live) return;
    const now = performance.now();
    if (now - this.#lastDraw >= 100) this.#draw();
  }

  /** Input MB/s: over the reading time, frozen once reading is over (later phases read nothing). */
  #rate(): number {
    const t = this.#readSeconds ?? this.elapsed;
    return t > 0 ? this.#state.bytes / MB / t : 0;
  }

  /** The current bar line (without control characters). */
  line(): string {
    const { records, bytes, phase } = this.#state;
    const t = this.elapsed;
    const rate = this.#rate();
    const parts: string[] = [];
    const total = this.#totalBytes;
    const reading = READING.has(phase);
    if (total !== undefined && total > 0 && reading) {
      const frac = Math.min(1, bytes / total);
      const width = 24;
      const full = Math.floor(frac * width);
      parts.push(`[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(0, width - full - 1))}] ${(frac * 100).toFixed(0).padStart(3)}%`);
      // Time left to read the input at the rate so far (the build's later phases come on top).
      if (bytes > 0 && bytes < total) parts.push(`eta ${formatDuration((total - bytes) / (bytes / Math.max(t, 1e-3)))}`);
    }
    // After reading: how far into the phase (when the writer knows) and how long it has run,
    // so that a long merge or hash visibly progresses.
    parts.push(reading ? phase : `${phase}${this.#phasePercent()} ${formatDuration(t - this.#phaseStart)}`, plural(records, 'record'), formatMB(bytes), `${rate.toFixed(1)} MB/s`, formatDuration(t));
    return parts.join('  ');
  }

  /** ` 42%` for a phase that reported how far it is, else nothing. */
  #phasePercent(): string {
    const { done, total } = this.#state;
    if (done === undefined || total === undefined || !(total > 0)) return '';
    // Floored: 100% only once the phase is complete.
    return ` ${Math.floor((100 * Math.min(done, total)) / total)}%`;
  }

  #draw(): void {
    this.#lastDraw = performance.now();
    const columns = this.#sink.columns || 100; // a pty may report 0 columns
    let text = this.line();
    if (text.length > columns - 1) text = text.slice(0, columns - 1);
    // \r + clear to end of line: redraw in place.
    this.#sink.write(`\r${text}\x1b[K`);
    this.#drawn = true;
  }

  /** Stops the display; prints `summary` (unless quiet) on its own line. */
  finish(summary?: string): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#sink.write('\r\x1b[K');
    this.#drawn = false;
    if (summary !== undefined && !this.#quiet) this.#sink.write(`${summary}\n`);
  }

  /** The one-line summary of a finished build. */
  summary(output: string, extra: string[] = []): string {
    const { records, bytes } = this.#state;
    const t = this.elapsed;
    // End to end: input bytes over the whole command's time.
    const rate = t > 0 ? bytes / MB / t : 0;
    return [
      `discodb: wrote ${output}: ${plural(records, 'record')}, ${formatMB(bytes)} in ${formatDuration(t)} (${rate.toFixed(1)} MB/s)`,
      ...extra,
    ].join(', ');
  }
}
