/**
 * Zeroed typed arrays whose memory pages are faulted in by writes, in address order.
 *
 * A fresh large typed array is mapped lazily: the first access to each 4 KiB page
 * faults. When that first access is a read (a hash-table probe, a counter's `++`, a
 * bitmap test), the kernel maps the shared zero page, and the write that follows
 * faults again to replace it, which in a process with another thread running (a
 * threaded build) also flushes that thread's TLB. Measured in a build's worker: the
 * rehash of a 2^21-slot dictionary table took ~60 ms into a fresh table and ~10 ms
 * after one write per page (which cost ~10 ms itself). Use it only for arrays that
 * will be touched throughout: faulting in a page the build never uses costs RSS.
 */

/** Bytes of a memory page as the kernel maps it (the smallest). */
const PAGE_BYTES = 4096;

/** Writes one zero per page of `a` (already zeroed: only the mapping changes), and returns it. */
export function faultIn<T extends Int32Array | Uint32Array | Uint8Array | Float64Array>(a: T): T {
  const step = PAGE_BYTES / a.BYTES_PER_ELEMENT;
  for (let i = 0; i < a.length; i += step) a[i] = 0;
  return a;
}

/** A zeroed Int32Array of `n` elements, its pages faulted in by writes. */
export function writtenInt32(n: number): Int32Array<ArrayBuffer> {
  return faultIn(new Int32Array(n));
}
