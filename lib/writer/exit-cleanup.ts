/**
 * Removing temporary files when the process ends in the middle of a build.
 *
 * While at least one build (or `writeFileAtomic`) holds temporary files, this module
 * keeps one listener on `process` `'exit'` and one on each of `SIGINT`, `SIGTERM` and
 * `SIGHUP`; they are removed as soon as the last temporary file is gone, so an idle
 * process carries none of them.
 *
 * - `'exit'` (also reached by `process.exit()`): removes every live temporary file.
 * - A signal, when our listener is the only one for it: removes every live temporary
 *   file, removes our listeners, and raises the signal again, so the default
 *   behaviour (the process dies of the signal; a shell sees 128 + n) is kept.
 * - A signal the application listens to as well: nothing — the application decides
 *   (if it then exits, the `'exit'` listener cleans up; if it destroys the writer,
 *   the writer does).
 */

/** Something holding temporary files that can remove them synchronously. */
export interface TempHolder {
  /** Removes the holder's temporary files; must not throw. */
  removeTempsSync(): void;
}

const live = new Set<TempHolder>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Sig = (typeof SIGNALS)[number];
const signalListeners = new Map<Sig, () => void>();

function removeAll(): void {
  for (const h of [...live]) {
    try {
      h.removeTempsSync();
    } catch {
      /* keep going: the others must go too */
    }
  }
  live.clear();
}

function onExit(): void {
  removeAll();
}

function onSignal(sig: Sig): void {
  if (process.listenerCount(sig) > 1) return;
  removeAll();
  uninstall();
  process.kill(process.pid, sig);
}

function install(): void {
  process.on('exit', onExit);
  for (const sig of SIGNALS) {
    const l = (): void => onSignal(sig);
    signalListeners.set(sig, l);
    process.on(sig, l);
  }
}

function uninstall(): void {
  process.removeListener('exit', onExit);
  for (const [sig, l] of signalListeners) process.removeListener(sig, l);
  signalListeners.clear();
}

/** Starts tracking `h` (its temporary files go at exit or on a fatal signal). */
export function trackTemps(h: TempHolder): void {
  if (live.has(h)) return;
  live.add(h);
  if (live.size === 1 && signalListeners.size === 0) install();
}

/** Stops tracking `h` (its temporary files are gone). */
export function untrackTemps(h: TempHolder): void {
  if (!live.delete(h)) return;
  if (live.size === 0) uninstall();
}

/** Number of holders tracked (for tests). */
export function trackedTemps(): number {
  return live.size;
}
