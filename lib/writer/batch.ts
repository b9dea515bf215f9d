/**
 * Records as bytes in transit to a worker thread: the main thread only encodes the
 * items it validated into a batch (UTF-8 bytes, three u32 per item) and transfers
 * it; the worker looks the keys and values up in its run ({@link BatchIngest}).
 *
 * A batch is two transferable buffers: `bytes`, the items' key and value bytes one
 * after the other, and `meta`, {@link META} u32 per item: its key length (or
 * {@link SAME_KEY}: the key of the previous item of the same batch), its value length
 * (or {@link NO_VALUE}: the key alone), its 1-based record number, and the hashes of
 * its key and value (`hashBytes` of arena.ts, computed while encoding: the main thread
 * has cycles to spare, the worker has not).
 */
import { inputError, type Bytes } from './records.js';
import { RunStaging } from './staging.js';
import { fmix, hashBytes, type RunBuffer } from './arena.js';

/** Key length marker: the previous item's key (never the first item of a batch). */
export const SAME_KEY = 0xffffffff;
/** Value length marker: no value. */
export const NO_VALUE = 0xffffffff;

/** u32 per item in `meta`. */
export const META = 5;

/** The buffers of one batch. */
export interface BatchBuffers {
  bytes: Uint8Array;
  meta: Uint32Array;
}

/** Hash of the bytes written by the last {@link writeString} / {@link writeBytes}. */
let written = 0;

/** Writes the UTF-8 bytes of `s` at `p` of `b` (which has room for 3 × its length); returns their length. */
function writeString(b: Buffer, s: string, p: number): number {
  const l = s.length;
  let h = 0x811c9dc5 | 0;
  let i = 0;
  for (; i < l; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    b[p + i] = c;
    h = Math.imul(h ^ c, 16777619);
  }
  if (i === l) {
    written = fmix(h);
    return l;
  }
  const len = b.write(s, p, 'utf8');
  written = hashBytes(b, p, p + len);
  return len;
}

function writeBytes(b: Buffer, x: Uint8Array, p: number): number {
  const l = x.length;
  if (l <= 32) {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < l; i++) {
      const c = x[i]!;
      b[p + i] = c;
      h = Math.imul(h ^ c, 16777619);
    }
    written = fmix(h);
  } else {
    b.set(x, p);
    written = hashBytes(b, p, p + l);
  }
  return l;
}

const byteLength = (x: Bytes): number => (typeof x === 'string' ? Buffer.byteLength(x, 'utf8') : x.length);

/**
 * Fills batches on the main thread and hands each full one to `send` (which moves
 * its buffers). Buffers given back through {@link recycle} are reused.
 */
export class BatchEncoder {
  private bytes: Buffer;
  private meta: Uint32Array;
  private n = 0;
  private p = 0;
  private lastKey: string | null = null;
  private lastKeyLen = 0;
  private readonly free: BatchBuffers[] = [];

  constructor(
    /** Bytes of a batch (an item larger than this gets a batch of its own size). */
    readonly byteCap: number,
    /** Items of a batch. */
    readonly itemCap: number,
    private readonly send: (b: BatchBuffers, n: number) => void,
  ) {
    const b = this.take();
    this.bytes = b.bytes as Buffer;
    this.meta = b.meta;
  }

  /** Bytes held by a batch of standard size. */
  get batchBytes(): number {
    return this.byteCap + 4 * META * this.itemCap;
  }

  /** Takes back the buffers of a batch that was applied. */
  recycle(b: BatchBuffers): void {
    if (b.bytes.length === this.byteCap && this.free.length < 64) this.free.push(b);
  }

  private take(): BatchBuffers {
    const b = this.free.pop();
    if (b !== undefined) return { bytes: Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length), meta: b.meta };
    return { bytes: Buffer.from(new ArrayBuffer(this.byteCap)), meta: new Uint32Array(META * this.itemCap) };
  }

  /** Sends the current batch (if it holds anything) and starts a new one. */
  flush(): void {
    if (this.n === 0) return;
    this.send({ bytes: this.bytes, meta: this.meta }, this.n);
    const b = this.take();
    this.bytes = b.bytes as Buffer;
    this.meta = b.meta;
    this.n = 0;
    this.p = 0;
    this.lastKey = null;
  }

  /** Encodes one item (`value` null: the key alone); returns its key and value bytes. */
  item(no: number, key: Bytes, value: Bytes | null): number {
    let same = typeof key === 'string' && key === this.lastKey;
    const vMax = value === null ? 0 : typeof value === 'string' ? 3 * value.length : value.length;
    let need = (same ? 0 : typeof key === 'string' ? 3 * key.length : key.length) + vMax;
    // Room for the bytes and for one more item's meta (the meta of a huge item's batch has room for one).
    if (this.p + need > this.bytes.length || META * (this.n + 1) > this.meta.length) {
      this.flush();
      same = false;
      need = (typeof key === 'string' ? 3 * key.length : key.length) + vMax;
      if (need > this.bytes.length) {
        // A huge item: a batch of its exact size (the standard buffers go back to the free list).
        this.free.push({ bytes: this.bytes, meta: this.meta });
        this.bytes = Buffer.from(new ArrayBuffer(byteLength(key) + (value === null ? 0 : byteLength(value))));
        this.meta = new Uint32Array(META);
      }
    }
    const b = this.bytes;
    const meta = this.meta;
    const m = META * this.n++;
    let p = this.p;
    let kl: number;
    if (same) {
      meta[m] = SAME_KEY;
      kl = this.lastKeyLen;
    } else {
      kl = typeof key === 'string' ? writeString(b, key, p) : writeBytes(b, key, p);
      p += kl;
      meta[m] = kl;
      meta[m + 3] = written;
      this.lastKey = typeof key === 'string' ? key : null;
      this.lastKeyLen = kl;
    }
    let vl = 0;
    if (value === null) {
      meta[m + 1] = NO_VALUE;
    } else {
      vl = typeof value === 'string' ? writeString(b, value, p) : writeBytes(b, value, p);
      p += vl;
      meta[m + 1] = vl;
      meta[m + 4] = written;
    }
    meta[m + 2] = no;
    this.p = p;
    return kl + vl;
  }
}

/**
 * The worker's side: applies batches to a run in order, calling `onFull` (which
 * must spill the run and clear it) whenever the next item does not fit the budget.
 */
export class BatchIngest extends RunStaging {
  /** The record number of the last item applied. */
  lastRecord = 0;
  /** The previous item's key is staged in the current run (so SAME_KEY can reuse it). */
  private keyInRun = false;

  constructor(
    run: RunBuffer,
    private readonly onFull: () => void,
  ) {
    super(run);
  }

  /** Applies the `n` items of a batch (resolved before returning: `src` is only borrowed). */
  apply(src: Uint8Array, meta: Uint32Array, n: number): void {
    this.src = src;
    let p = 0;
    let ko = 0;
    let kl = 0;
    let kh = 0;
    for (let i = 0, m = 0; i < n; i++, m += META) {
      const k = meta[m]!;
      const v = meta[m + 1]!;
      this.lastRecord = meta[m + 2]!;
      const same = k === SAME_KEY;
      if (!same) {
        ko = p;
        kl = k;
        kh = meta[m + 3]! | 0;
        p += k;
      }
      this.item(ko, kl, kh, same, p, v, meta[m + 4]! | 0);
      if (v !== NO_VALUE) p += v;
    }
    this.flush();
  }

  /** The batch being applied. */
  private src: Uint8Array = new Uint8Array(0);

  override flush(): void {
    const n = this.n;
    if (n === 0) return;
    const run = this.run;
    run.keys.resolveFrom(this.src, this.kOff, this.kLen, this.kHash, this.kn, this.kIds);
    run.values.resolveFrom(this.src, this.vOff, this.vLen, this.vHash, this.vn, this.vIds);
    this.pairUp();
  }

  private item(ko: number, kl: number, kh: number, same: boolean, vo: number, vl: number, vh: number): void {
    const run = this.run;
    same = same && this.keyInRun;
    const hasValue = vl !== NO_VALUE;
    if (!run.fits(this.kBytes + (same ? 0 : kl), this.kn + 1, this.vBytes + (hasValue ? vl : 0), this.vn + (hasValue ? 1 : 0))) {
      if (this.n > 0) this.flush();
      if (!run.reserve(same ? 0 : kl, hasValue ? vl : -1)) {
        this.onFull();
        this.keyInRun = false;
        same = false;
        if (!run.reserve(kl, hasValue ? vl : -1)) throw inputError(this.lastRecord, 'the record does not fit in memory');
      }
    }
    const i = this.n++;
    if (same) {
      this.kSame[i] = 1;
    } else {
      const j = this.kn++;
      this.kOff[j] = ko;
      this.kLen[j] = kl;
      this.kHash[j] = kh;
      this.kBytes += kl;
      this.kSame[i] = 0;
      this.keyInRun = true;
    }
    if (hasValue) {
      const j = this.vn++;
      this.vOff[j] = vo;
      this.vLen[j] = vl;
      this.vHash[j] = vh;
      this.vBytes += vl;
      this.hasValue[i] = 1;
    } else {
      this.hasValue[i] = 0;
    }
    if (i + 1 === this.kSame.length) this.flush();
  }
}
