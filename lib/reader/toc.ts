/**
 * A TOC (an array of u64 offsets in the image: the key TOC or the value TOC)
 * copied into memory, as compact as it goes: per group of 64 entries a u32
 * base and a u16 delta per entry (2 bytes an entry: a random lookup touches a
 * table half the size, which on a 1M-key db is the difference between a
 * cache hit and a miss), or plain u32 entries when too many groups span
 * 64 KiB or more. An entry that cannot be represented (2^32 or more, or a
 * group that is not ascending within 64 KiB) reads as {@link NO_ENTRY}, which
 * no image under 4 GiB can hold: the caller's validation rejects it and reads
 * that entry from the image instead (and gets its error).
 */
import type { ImageSource } from './source.js';

/** What an entry that could not be copied reads as. */
export const NO_ENTRY = 0xffffffff;

const GROUP_SHIFT = 6;
const GROUP = 1 << GROUP_SHIFT;
/** Entries read from the image per window (64 KiB: one system call each on the pread route). */
const CHUNK = 8192;

export class TocCopy {
  /** Per group: its first entry (NO_ENTRY when the group is not representable in deltas). */
  private readonly bases: Uint32Array;
  /** Per entry: its distance from its group's base (null in the u32 form). */
  private readonly deltas: Uint16Array | null;
  /** Per entry (null in the delta form). */
  private readonly full: Uint32Array | null;
  /** Bytes held. */
  readonly bytes: number;

  private constructor(bases: Uint32Array, deltas: Uint16Array | null, full: Uint32Array | null) {
    this.bases = bases;
    this.deltas = deltas;
    this.full = full;
    this.bytes = bases.byteLength + (deltas?.byteLength ?? 0) + (full?.byteLength ?? 0);
  }

  /** Entry `i` (0 ≤ i < count; the caller checks), or NO_ENTRY. */
  at(i: number): number {
    const d = this.deltas;
    if (d !== null) return this.bases[i >>> GROUP_SHIFT]! + d[i]!;
    return this.full![i]!;
  }

  /**
   * Copies the `count` u64 entries at `toc` (which the caller has checked lie
   * inside the image), reading them sequentially in chunks.
   */
  static copy(src: ImageSource, toc: number, count: number): TocCopy {
    const entries = new Uint32Array(count);
    for (let i = 0; i < count; i += CHUNK) {
      const m = Math.min(CHUNK, count - i);
      const w = src.window(toc + 8 * i, 8 * m);
      let at = src.at;
      for (let j = 0; j < m; j++, at += 8) {
        const hi = w[at + 4]! | w[at + 5]! | w[at + 6]! | w[at + 7]!;
        entries[i + j] = hi === 0 ? (w[at]! | (w[at + 1]! << 8) | (w[at + 2]! << 16) | (w[at + 3]! << 24)) >>> 0 : NO_ENTRY;
      }
    }
    const groups = Math.ceil(count / GROUP);
    const bases = new Uint32Array(groups);
    const deltas = new Uint16Array(count);
    let unfit = 0;
    for (let g = 0; g < groups; g++) {
      const from = g * GROUP;
      const to = Math.min(count, from + GROUP);
      const base = entries[from]!;
      let fits = base !== NO_ENTRY;
      for (let i = from; i < to && fits; i++) {
        const d = entries[i]! - base;
        fits = entries[i] !== NO_ENTRY && d >= 0 && d < 65536;
        deltas[i] = d;
      }
      if (fits) bases[g] = base;
      else {
        bases[g] = NO_ENTRY;
        deltas.fill(0, from, to);
        unfit++;
      }
    }
    // Mostly large records or values: keep every entry in 4 bytes rather than send whole groups to the image.
    if (unfit * 16 > groups) return new TocCopy(new Uint32Array(0), null, entries);
    return new TocCopy(bases, deltas, null);
  }
}
