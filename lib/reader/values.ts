/**
 * Values by id (spec §4, §5): the value TOC, extents checked against the
 * image, Huffman decoding for compressed images, and the value made once
 * from the bytes — a string straight from the mapping or the decoder's
 * output, or a zero-copy slice of the image for uncompressed Buffers.
 */
import { constants } from 'node:buffer';
import { DiscoDBError, corrupt } from '../errors.js';
import { CODEBOOK_SIZE, F_COMPRESSED, type Header } from '../format/header.js';
import { Codebook } from '../format/huffman.js';
import { SHORT_COMPRESSED_MAX, ShortInflater } from './inflate.js';
import { TABLE_MAX_BYTES, tablesAfter } from './keys.js';
import { SHORT_ASCII_MAX, shortAscii } from './text.js';
import { TocCopy } from './toc.js';
import type { ImageSource } from './source.js';
import type { Encoding } from './types.js';

export class ValueReader<V> {
  private readonly src: ImageSource;
  private readonly toc: number;
  private readonly tocEnd: number;
  /** Number of values (ids are 1..u). */
  readonly u: number;
  /** Values end here (TOC[U]) when that entry is sane, else at the image end. */
  private readonly limit: number;
  readonly compressed: boolean;
  private readonly asBuffer: boolean;
  private readonly codebookOffset: number;
  private codebook: Codebook | null = null;
  /** The fast path for short compressed values, made with the codebook (so a corrupt codebook fails as before). */
  private short: ShortInflater | null = null;
  /** The extent last validated by {@link extent}. */
  start = 0;
  end = 0;
  /**
   * The value TOC copied into memory once values are read often: value id
   * spans [offsets[id - 1], offsets[id]). Entries that do not fit are
   * 0xffffffff, which fails validation and sends that id to the image read.
   */
  private offsets: TocCopy | null = null;
  /** Extents read before the TOC is copied. */
  private untilTable: number;
  private readonly size: number;

  constructor(src: ImageSource, header: Header, encoding: Encoding) {
    this.src = src;
    this.toc = header.id2valueOffset;
    this.tocEnd = header.id2valueOffset + 8 * (header.numUniqueValues + 1);
    this.u = header.numUniqueValues;
    this.compressed = (header.flags & F_COMPRESSED) !== 0;
    this.asBuffer = encoding === 'buffer';
    this.codebookOffset = header.codebookOffset;
    let limit = header.size;
    try {
      const last = src.u64(header.id2valueOffset + 8 * header.numUniqueValues);
      if (last >= this.tocEnd && last <= header.size) limit = last;
    } catch {
      // a corrupt entry: extents are then checked against the image only (check() reports it)
    }
    this.limit = limit;
    this.size = header.size;
    this.untilTable = tablesAfter(this.u);
  }

  /** Copies the value TOC into memory (2–4 bytes per value) when it fits and the image is under 4 GiB. */
  private index(): void {
    const count = this.u + 1;
    if (this.size >= 0xffffffff || 4 * count > TABLE_MAX_BYTES || !(this.tocEnd <= this.src.length)) return;
    this.offsets = TocCopy.copy(this.src, this.toc, count);
  }

  /** Copies the value TOC now (with the key finder's tables), unless done or dropped. */
  indexNow(): void {
    if (this.untilTable > 0) {
      this.untilTable = 0;
      this.index();
    }
  }

  /**
   * Loads the TOC entries and first bytes of the values `ids[0, n)` together
   * (their misses overlap), for a caller about to read them one by one. A
   * hint only: nothing is validated or kept (memory images with the TOC
   * copy; a no-op otherwise).
   */
  prefetch(ids: Float64Array, n: number): void {
    const t = this.offsets;
    const whole = this.src.whole;
    if (t === null || whole === null) return;
    const u = this.u;
    let touched = this.touched;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (!(id >= 1 && id <= u)) continue;
      const start = t.at(id - 1);
      if (start < whole.length) touched = (touched + whole[start]! + (t.at(id) & 1)) | 0;
    }
    this.touched = touched;
  }

  /** Drops the in-memory TOC (at close). */
  dropIndex(): void {
    this.offsets = null;
    this.untilTable = -1;
  }

  /** Validates value `id`'s extent into start/end. */
  extent(id: number): void {
    const u = this.u;
    if (this.untilTable > 0 && --this.untilTable === 0) this.index();
    const t = this.offsets;
    if (t !== null && id >= 1 && id <= u) {
      const start = t.at(id - 1);
      const end = t.at(id);
      if (start >= this.tocEnd && end >= start && end <= this.limit) {
        this.start = start;
        this.end = end;
        return;
      }
    }
    this.extentInImage(id);
  }

  /** {@link extent} from the TOC in the image (and the error, when it is corrupt). */
  private extentInImage(id: number): void {
    const u = this.u;
    if (!(id >= 1 && id <= u)) throw corrupt(`value id ${id} is outside 1..${u}`, this.toc);
    const at = this.toc + 8 * (id - 1);
    const start = this.src.u64(at);
    const end = this.src.u64(at + 8);
    if (start < this.tocEnd || end < start || end > this.limit) {
      throw corrupt(`value ${id} has an invalid extent [${start}, ${end})`, at);
    }
    this.start = start;
    this.end = end;
  }

  /** The codebook, unpacked on first use. */
  private book(): Codebook {
    const off = this.codebookOffset;
    const whole = this.src.whole;
    const bytes = whole ?? this.src.bytes(off, CODEBOOK_SIZE);
    const at = whole !== null ? off : 0;
    this.codebook = new Codebook(bytes, at);
    this.short = ShortInflater.fromCodebook(bytes, at);
    return this.codebook;
  }

  /** Decodes the compressed extent [start, end) into the codebook's output; returns its length. */
  private inflate(start: number, end: number): number {
    const cb = this.codebook ?? this.book();
    cb.bound(start, end); // before reading (and, on pread, allocating) the extent
    const src = this.src;
    const w = src.window(start, end - start);
    const at = src.at;
    return cb.decodeInto(w, at, at + (end - start));
  }

  /** The codebook's output buffer after {@link inflate}. */
  private get inflated(): Buffer {
    return this.codebook!.out;
  }

  /** Raw (decompressed) bytes of value `id`: a fresh Buffer, or a view of a memory image when uncompressed. */
  bytes(id: number): Buffer {
    this.extent(id);
    if (this.compressed) {
      const n = this.inflate(this.start, this.end);
      return Buffer.from(this.inflated.subarray(0, n));
    }
    return this.src.bytes(this.start, this.end - this.start);
  }

  /**
   * Validates the extents of the ids `batch[from, to)` into `batch[stride + i]`
   * (start) and `batch[2 * stride + i]` (end) in one loop,
   * so that their table entries and first bytes are fetched from memory
   * together rather than one dependent miss after another. Stops at the first
   * id whose extent is invalid (the caller then meets its error through
   * {@link value}, at the same item as without batching). Returns the index
   * where it stopped (`to` when all are valid).
   */
  extents(batch: Float64Array, from: number, to: number, stride: number): number {
    const src = this.src;
    const u = this.u;
    const whole = src.whole;
    if (this.untilTable > 0) {
      this.untilTable -= to - from;
      if (this.untilTable <= 0) {
        this.untilTable = 0;
        this.index();
      }
    }
    const t = this.offsets;
    let touched = 0;
    let i = from;
    for (; i < to; i++) {
      const id = batch[i]!;
      if (!(id >= 1 && id <= u)) break;
      let start: number;
      let end: number;
      if (t !== null) {
        start = t.at(id - 1);
        end = t.at(id);
      } else {
        const at = this.toc + 8 * (id - 1);
        if (at + 16 > src.length) break;
        try {
          start = src.u64(at);
          end = src.u64(at + 8);
        } catch {
          break;
        }
      }
      if (start < this.tocEnd || end < start || end > this.limit) break;
      batch[stride + i] = start;
      batch[2 * stride + i] = end;
      if (whole !== null && start < end) touched += whole[start]!;
    }
    this.touched = touched;
    return i;
  }

  /** Keeps the first-byte loads of {@link extents} observable, so they are not optimised away. */
  touched = 0;

  /** Value `id` in the db's encoding. */
  value(id: number): V {
    this.extent(id);
    return this.valueIn(this.start, this.end);
  }

  /** The value stored in the validated extent [start, end). */
  valueIn(start: number, end: number): V {
    if (this.compressed) {
      const len = end - start;
      if (len <= SHORT_COMPRESSED_MAX) {
        if (this.short === null) this.book();
        const short = this.short!;
        const src = this.src;
        const w = src.window(start, len);
        const at = src.at;
        const m = short.decode(w, at, at + len);
        if (m >= 0) return (this.asBuffer ? Buffer.from(short.out.subarray(0, m)) : short.text(m)) as V;
      }
      const n = this.inflate(start, end);
      const out = this.inflated;
      if (this.asBuffer) return Buffer.from(out.subarray(0, n)) as V;
      return text(out, 0, n) as V;
    }
    if (this.asBuffer) return this.src.bytes(start, end - start) as V; // a view of a memory image, a copy on pread
    const src = this.src;
    const w = src.window(start, end - start) as Buffer;
    return text(w, src.at, src.at + (end - start)) as V;
  }
}

const MAX_STRING = constants.MAX_STRING_LENGTH;

/** Node's Buffer#utf8Slice, what `toString('utf8', start, end)` ends in, without its argument handling. */
interface SliceableBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
}
const HAS_UTF8_SLICE = typeof (Buffer.prototype as Partial<SliceableBuffer>).utf8Slice === 'function';

/** UTF-8 bytes [start, end) as a string, made once from the bytes (no intermediate copy). */
function text(buf: Buffer, start: number, end: number): string {
  if (end - start > MAX_STRING) {
    throw new DiscoDBError('ERR_DISCODB_LIMIT', `a value of ${end - start} bytes is longer than a JavaScript string can be: open with { encoding: 'buffer' }`);
  }
  const short = end - start <= SHORT_ASCII_MAX ? shortAscii(buf, start, end - start) : null;
  if (short !== null) return short;
  return HAS_UTF8_SLICE ? (buf as SliceableBuffer).utf8Slice(start, end) : buf.toString('utf8', start, end);
}
