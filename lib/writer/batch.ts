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
 *
 * A value larger than a batch travels in pieces (a *chunked* value): its item is the only
 * one of its batch, which holds the key and the value's first bytes, and the batches that
 * follow hold nothing but the rest of its bytes (`more`: the value's bytes still to come
 * after a batch). The encoder sends a piece at a time, as room in flight allows
 * ({@link BatchEncoder.pump}), reading the caller's bytes as it goes, and the worker copies
 * each piece straight into its run: the value is held once by the build, not once more
 * in a batch of its size. The worker hashes it once it is whole.
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

/** A chunked value on the encoder's side: its bytes (or string), its byte length, the bytes and characters sent so far. */
interface ChunkOut {
  value: Bytes;
  total: number;
  sent: number;
  chars: number;
}

/** A chunked value on the worker's side: its key's entry, where it is staged in the values' arena, its length, the bytes still to come. */
interface ChunkIn {
  keyId: number;
  at: number;
  len: number;
  left: number;
}

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
  /** The chunked value being sent. */
  private big: ChunkOut | null = null;

  constructor(
    /** Bytes of a batch (a key larger than half of this gets a batch of its own size; a larger value is chunked). */
    readonly byteCap: number,
    /** Items of a batch. */
    readonly itemCap: number,
    /** Moves a batch of `n` items to the worker; `more`: bytes of its last value still to come in later batches. */
    private readonly send: (b: BatchBuffers, n: number, more: number) => void,
  ) {
    const b = this.take();
    this.bytes = b.bytes as Buffer;
    this.meta = b.meta;
  }

  /** Bytes held by a batch of standard size. */
  get batchBytes(): number {
    return this.byteCap + 4 * META * this.itemCap;
  }

  /**
   * Gives up every buffer this encoder holds (the build's batches are all applied), to be
   * moved away: moved to the worker with the build's end, their memory is freed by the
   * worker's collector during the merge, where this thread, idle, would not collect them.
   * The encoder takes no item afterwards.
   */
  surrender(): ArrayBuffer[] {
    const out: ArrayBuffer[] = [];
    for (const b of [...this.free.splice(0), { bytes: this.bytes, meta: this.meta }]) {
      if (b.bytes.buffer instanceof ArrayBuffer && b.bytes.byteLength > 0 && !out.includes(b.bytes.buffer)) out.push(b.bytes.buffer);
      if (b.meta.buffer instanceof ArrayBuffer && b.meta.byteLength > 0 && !out.includes(b.meta.buffer)) out.push(b.meta.buffer);
    }
    this.bytes = Buffer.alloc(0);
    this.meta = new Uint32Array(0);
    return out;
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

  /** True while a chunked value has pieces left to send ({@link pump}); no item may be added meanwhile. */
  get pending(): boolean {
    return this.big !== null;
  }

  /** Sends the next piece of the chunked value. */
  pump(): void {
    const big = this.big;
    if (big === null) return;
    const b = this.take();
    this.piece(big, b.bytes as Buffer, 0);
    this.send(b, 0, big.total - big.sent);
  }

  /** Copies (or encodes) the chunked value's next bytes into `b` from `at`, as many as fit. */
  private piece(big: ChunkOut, b: Buffer, at: number): void {
    const v = big.value;
    let m: number;
    if (typeof v === 'string') {
      // Whole characters only (encodeInto never splits a surrogate pair).
      const r = UTF8.encodeInto(v.slice(big.chars), b.subarray(at));
      big.chars += r.read;
      m = r.written;
    } else {
      m = Math.min(b.length - at, big.total - big.sent);
      b.set(v.subarray(big.sent, big.sent + m), at);
    }
    big.sent += m;
    if (big.sent > big.total || (m === 0 && big.sent < big.total)) throw new Error(`chunked value: ${big.sent} of ${big.total} bytes sent`);
    if (big.sent === big.total) this.big = null;
  }

  /** Sends the current batch (if it holds anything) and starts a new one. */
  flush(): void {
    if (this.n === 0) return;
    this.send({ bytes: this.bytes, meta: this.meta }, this.n, 0);
    this.next();
  }

  /** Takes fresh buffers for the current batch. */
  private next(): void {
    const b = this.take();
    this.bytes = b.bytes as Buffer;
    this.meta = b.meta;
    this.n = 0;
    this.p = 0;
    this.lastKey = null;
  }

  /** Encodes one item (`value` null: the key alone); returns its key and value bytes. Not while {@link pending}. */
  item(no: number, key: Bytes, value: Bytes | null): number {
    if (this.big !== null) throw new Error('an item was added while a chunked value was being sent');
    let same = typeof key === 'string' && key === this.lastKey;
    const vMax = value === null ? 0 : typeof value === 'string' ? 3 * value.length : value.length;
    if (vMax > this.byteCap && (typeof key === 'string' ? 3 * key.length : key.length) <= this.byteCap / 2) {
      const vl = byteLength(value!);
      if (vl > this.byteCap) return this.chunked(no, key, value!, vl);
    }
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

  /** Starts a chunked value: a batch of its own with the key and the first piece, sent at once. */
  private chunked(no: number, key: Bytes, value: Bytes, vl: number): number {
    this.flush();
    const b = this.bytes;
    const meta = this.meta;
    const kl = typeof key === 'string' ? writeString(b, key, 0) : writeBytes(b, key, 0);
    meta[0] = kl;
    meta[1] = vl;
    meta[2] = no;
    meta[3] = written;
    meta[4] = 0; // hashed by the worker once whole
    const big: ChunkOut = { value, total: vl, sent: 0, chars: 0 };
    this.big = big;
    this.piece(big, b, kl);
    this.send({ bytes: b, meta }, 1, vl - big.sent);
    this.next();
    return kl + vl;
  }
}

const UTF8 = new TextEncoder();

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

  /**
   * Applies the `n` items of a batch (resolved before returning: `src` is only borrowed).
   * `more` > 0: its last item's value continues in the next batches (see the module's doc);
   * a batch of no items holds the next piece of that value.
   */
  apply(src: Uint8Array, meta: Uint32Array, n: number, more = 0): void {
    const c = this.chunk;
    if (c !== null) {
      if (n !== 0) throw new Error('items arrived before the chunked value was whole');
      this.takePiece(c, src, 0, c.left - more);
      return;
    }
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
      if (more > 0 && i === n - 1) {
        this.startChunked(src, ko, kl, kh, p, v, v - more);
        return;
      }
      this.item(ko, kl, kh, same, p, v, meta[m + 4]! | 0);
      if (v !== NO_VALUE) p += v;
    }
    this.flush();
  }

  /** The chunked value being received. */
  private chunk: ChunkIn | null = null;

  /** True while a chunked value waits for pieces (a finish must not come then). */
  get receiving(): boolean {
    return this.chunk !== null;
  }

  /** A chunked value's first batch: the staged items before it resolved, its key resolved, its room reserved and its first piece staged. */
  private startChunked(src: Uint8Array, ko: number, kl: number, kh: number, vo: number, vl: number, first: number): void {
    this.flush();
    const run = this.run;
    this.reserve(kl, vl, false);
    this.kOff[0] = ko;
    this.kLen[0] = kl;
    this.kHash[0] = kh;
    run.keys.resolveFrom(src, this.kOff, this.kLen, this.kHash, 1, this.kIds);
    // The next item never reuses this key (the encoder starts it afresh).
    this.keyInRun = false;
    const c: ChunkIn = { keyId: this.kIds[0]!, at: run.values.used, len: vl, left: vl };
    this.chunk = c;
    this.takePiece(c, src, vo, first);
  }

  /** Stages `len` bytes of the chunked value from `src[from..]`; once it is whole, resolves it and pairs it with its key. */
  private takePiece(c: ChunkIn, src: Uint8Array, from: number, len: number): void {
    if (len <= 0 || len > c.left) throw new Error(`chunked value: a piece of ${len} bytes with ${c.left} to come`);
    const values = this.run.values;
    values.arena.set(src.subarray(from, from + len), c.at + c.len - c.left);
    c.left -= len;
    if (c.left > 0) return;
    this.chunk = null;
    this.vOff[0] = c.at;
    this.vLen[0] = c.len;
    this.vHash[0] = hashBytes(values.arena, c.at, c.at + c.len);
    values.resolve(this.vOff, this.vLen, this.vHash, 1, this.vIds);
    this.run.pair(c.keyId, this.vIds[0]!);
    this.lastKeyId = c.keyId;
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

  /**
   * Room in the run for an item (a key of `kl` bytes unless `same`, a value of `vl`
   * bytes, or none when `vl` < 0), spilling the run when it is full. False when it
   * spilled: the key is then not in the run any more (the item stages it again).
   */
  private reserve(kl: number, vl: number, same: boolean): boolean {
    const run = this.run;
    if (run.reserve(same ? 0 : kl, vl)) return true;
    this.onFull();
    this.keyInRun = false;
    if (!run.reserve(kl, vl)) throw inputError(this.lastRecord, 'the record does not fit in memory');
    return false;
  }

  private item(ko: number, kl: number, kh: number, same: boolean, vo: number, vl: number, vh: number): void {
    const run = this.run;
    same = same && this.keyInRun;
    const hasValue = vl !== NO_VALUE;
    if (!run.fits(this.kBytes + (same ? 0 : kl), this.kn + 1, this.vBytes + (hasValue ? vl : 0), this.vn + (hasValue ? 1 : 0))) {
      if (this.n > 0) this.flush();
      if (!this.reserve(kl, hasValue ? vl : -1, same)) same = false;
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
