/**
 * Large zeroed arrays and how their memory pages come and go: faulted in by writes, in
 * address order ({@link faultIn}); mapped from the OS and given back when dropped,
 * with room to grow in place ({@link mappedBytes}, {@link grownBytes}).
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

/**
 * Bytes of address space behind an array allocated with room to grow. glibc's malloc
 * maps a block of at least its mmap threshold fresh from the OS and unmaps it when
 * freed, but freeing such a block of up to 32 MiB raises the threshold to its size:
 * from then on smaller blocks come from malloc's heaps, whose pages stay resident
 * after they are freed. A growing array (an arena doubling from 256 KiB to 16 MiB)
 * raises it step by step, and a threaded build then holds tens of MB beyond what it
 * counts. A block of more than 32 MiB is always mapped and unmapped, and its pages
 * cost memory only once they are touched.
 */
const ROOM_BYTES = 32 * 1024 * 1024 + PAGE_BYTES;
/** Below this (glibc's initial threshold) a block comes from the heaps anyway: no room is reserved. */
const ROOM_FROM = 128 * 1024;

/**
 * The buffers {@link mappedBuffer} gave room beyond what was asked. Only these grow in
 * place: any other buffer may be shared past a view (Node's pool for small Buffers).
 */
const withRoom = new WeakSet<ArrayBuffer>();

/** A zeroed ArrayBuffer of at least `bytes`: of {@link ROOM_BYTES} when `bytes` is past {@link ROOM_FROM} and below it. */
function mappedBuffer(bytes: number): ArrayBuffer {
  if (bytes < ROOM_FROM || bytes >= ROOM_BYTES) return new ArrayBuffer(bytes);
  try {
    const b = new ArrayBuffer(ROOM_BYTES);
    withRoom.add(b);
    return b;
  } catch {
    // Address space refused (strict overcommit, a ulimit): the exact size.
    return new ArrayBuffer(bytes);
  }
}

/**
 * `size` zeroed bytes that are mapped from the OS and unmapped when collected, whatever
 * malloc's threshold, with room to grow in place ({@link grownBytes}). For any buffer
 * of more than 128 KiB that is dropped while the build goes on.
 */
export function mappedBytes(size: number): Buffer {
  return Buffer.from(mappedBuffer(size), 0, size);
}

/** `n` zeroed words, mapped like {@link mappedBytes}, with room to grow in place ({@link grownUint32}). */
export function mappedUint32(n: number): Uint32Array<ArrayBuffer> {
  return new Uint32Array(mappedBuffer(4 * n), 0, n);
}

/** {@link mappedUint32} as an Int32Array, its pages faulted in by writes (see {@link faultIn}). */
export function mappedWrittenInt32(n: number): Int32Array<ArrayBuffer> {
  return faultIn(new Int32Array(mappedBuffer(4 * n), 0, n));
}

/** Whether `a` is a view of a mapped buffer with room for `bytes`. */
function roomFor(a: ArrayBufferView, bytes: number): boolean {
  return a.byteOffset === 0 && a.buffer instanceof ArrayBuffer && withRoom.has(a.buffer) && a.buffer.byteLength >= bytes;
}

/**
 * Whether `a` is all there is of its buffer, so that moving the buffer to another thread
 * detaches nothing else: the whole of it, or the start of a mapped one (whose room past
 * `a` nothing else uses). Never a slice of Node's pool of small Buffers.
 */
export function ownsItsBuffer(a: ArrayBufferView): boolean {
  return a.byteOffset === 0 && a.byteLength > 0 && a.buffer instanceof ArrayBuffer && (a.byteLength === a.buffer.byteLength || withRoom.has(a.buffer));
}

/**
 * `old` grown to `size` bytes, its first `used` kept: a longer view of the same memory
 * when it is a mapped array with room, else a copy into a {@link mappedBytes}.
 */
export function grownBytes(old: Buffer, size: number, used: number): Buffer {
  if (roomFor(old, size)) return Buffer.from(old.buffer, 0, size);
  const next = mappedBytes(size);
  old.copy(next, 0, 0, used);
  return next;
}

/** `old` grown to `n` words, its first `used` kept (see {@link grownBytes}); the rest is zero, or what `old` held there when it grows in place. */
export function grownUint32(old: Uint32Array, n: number, used: number): Uint32Array<ArrayBuffer> {
  if (roomFor(old, 4 * n)) return new Uint32Array(old.buffer as ArrayBuffer, 0, n); // roomFor checked it is one
  const next = mappedUint32(n);
  next.set(old.subarray(0, used));
  return next;
}
