/**
 * Memory maps, shared and bounded. The mmap addon (`@riaskov/mmap-io`, an
 * optional dependency) has no unmap: a mapping goes away only when the
 * garbage collector frees its ArrayBuffer. So that a loop of open/close can
 * never exhaust the kernel's map count (`vm.max_map_count`), one mapping is
 * shared by every db opened on the same file identity (device, inode, size,
 * mtime, offset), and past {@link MAX_MAPPINGS} mappings not yet collected,
 * files open on the pread route instead.
 */
import { createRequire } from 'node:module';
import type * as fs from 'node:fs';

/** The part of `@riaskov/mmap-io` this project uses. */
export interface MmapAddon {
  map(size: number, protection: number, flags: number, fd: number, offset?: number, advise?: number): Buffer;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_PRIVATE: number;
  MADV_RANDOM: number;
  PAGESIZE: number;
}

/** Mappings alive (created and not yet collected) before new opens use pread. */
export const MAX_MAPPINGS = 1024;

/** The addon reads sizes and offsets as int32: anything at or past 2 GiB cannot be mapped. */
export const MMAP_LIMIT = 2 ** 31 - 1;

let addon: MmapAddon | null | undefined;
let warned = false;

/** Loads the addon once; null when it is missing, did not build, or `DISCODB_DISABLE_MMAP_ADDON=1`. */
export function loadAddon(): MmapAddon | null {
  if (addon === undefined) {
    addon = null;
    if (process.env['DISCODB_DISABLE_MMAP_ADDON'] !== '1') {
      try {
        // The package's .d.ts says `export default`, but module.exports is the API.
        const mod = createRequire(import.meta.url)('@riaskov/mmap-io') as MmapAddon & { default?: MmapAddon };
        addon = typeof mod.map === 'function' ? mod : (mod.default ?? null);
      } catch {
        addon = null;
      }
    }
  }
  return addon;
}

/**
 * True when files can be memory-mapped (the optional `@riaskov/mmap-io`
 * addon loads). When false, files open on the slower pread route.
 */
export function mmapAvailable(): boolean {
  return loadAddon() !== null;
}

/** The addon, or null after warning once (code `DISCODB_NO_MMAP`) that files will use pread. */
function addonOrWarn(): MmapAddon | null {
  const mm = loadAddon();
  if (mm === null && !warned) {
    warned = true;
    process.emitWarning('the mmap addon @riaskov/mmap-io is not available: discodb files are read with positioned reads (slower)', {
      code: 'DISCODB_NO_MMAP',
    });
  }
  return mm;
}

interface Mapping {
  ref: WeakRef<ArrayBuffer>;
  /** Strong while some db uses it, so that a reopen finds it. */
  strong: ArrayBuffer | null;
  users: number;
  byteOffset: number;
  byteLength: number;
}

const mappings = new Map<string, Mapping>();
let alive = 0;
const collected = new FinalizationRegistry<string>((key) => {
  alive--;
  const m = mappings.get(key);
  if (m !== undefined && m.ref.deref() === undefined) mappings.delete(key);
});

/** Mappings created and not yet collected (for tests and diagnostics). */
export function liveMappings(): number {
  return alive;
}

/** A shared mapping of a file from `offset` to its end, and the function that gives it back. */
export interface Lease {
  buf: Buffer;
  release: () => void;
}

/**
 * Maps `fd` (whose stat is `st`) from `offset` to its end, sharing one mapping
 * per file identity. Null when the addon is missing, the range cannot be
 * mapped (2 GiB or more), too many mappings are alive, or the map fails:
 * the caller then reads by pread.
 */
export function mapFile(fd: number, st: fs.Stats, offset: number): Lease | null {
  const mm = addonOrWarn();
  if (mm === null) return null;
  const aligned = offset - (offset % mm.PAGESIZE);
  const mapLen = st.size - aligned;
  if (mapLen > MMAP_LIMIT || aligned > MMAP_LIMIT || mapLen <= 0) return null;
  const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${aligned}`;
  let m = mappings.get(key);
  let ab = m?.ref.deref();
  if (m === undefined || ab === undefined) {
    if (alive >= MAX_MAPPINGS) return null;
    let mapped: Buffer;
    try {
      // MAP_PRIVATE + PROT_WRITE: a caller writing into a zero-copy value gets
      // a private page instead of a SIGSEGV, and the file is never changed.
      mapped = mm.map(mapLen, mm.PROT_READ | mm.PROT_WRITE, mm.MAP_PRIVATE, fd, aligned, mm.MADV_RANDOM);
    } catch {
      return null; // e.g. ENOMEM: the pread route gives the same answers
    }
    ab = mapped.buffer as ArrayBuffer;
    m = { ref: new WeakRef(ab), strong: null, users: 0, byteOffset: mapped.byteOffset, byteLength: mapped.byteLength };
    mappings.set(key, m);
    alive++;
    collected.register(ab, key);
  }
  const mapping = m;
  mapping.users++;
  mapping.strong = ab;
  let released = false;
  const buf = Buffer.from(ab, mapping.byteOffset + (offset - aligned), mapping.byteLength - (offset - aligned));
  return {
    buf,
    release: () => {
      if (released) return;
      released = true;
      if (--mapping.users === 0) mapping.strong = null;
    },
  };
}
