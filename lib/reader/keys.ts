/**
 * Key lookup: from key bytes to a record index, through the CHD perfect hash
 * (hashed dbs) or a scan / in-memory index (unhashed ones, ≤ 25 keys by the C
 * writer's rule, more from other writers). String keys are encoded into a
 * reused scratch buffer, so a lookup allocates nothing.
 */
import { DiscoDBError } from '../errors.js';
import type { ChdHash } from '../format/chd.js';
import { hasHighByteAt } from '../format/jenkins.js';
import type { RecordLocator } from './records.js';
import { describe, type Bytes } from './types.js';

const UNHASHED_SCAN_MAX = 32;
/** Strings up to this many UTF-16 units always fit the scratch (3 bytes per unit at most). */
const SCRATCH_CHARS = 1024;
/** The scratch grows for long keys up to this; longer ones are encoded on their own. */
const MAX_SCRATCH = 64 * 1024;

/**
 * Encodes keys given as strings into one reused buffer. The bytes are valid
 * until the next `encode`: lookups are synchronous and never keep them.
 */
export class KeyEncoder {
  private scratch = Buffer.allocUnsafe(3 * SCRATCH_CHARS);
  /** Length of the key last encoded. */
  length = 0;

  /** The bytes of `key` (the scratch buffer for strings, `key` itself for bytes); see {@link length}. */
  encode(key: Bytes): Uint8Array {
    if (typeof key === 'string') {
      const n = key.length;
      let buf = this.scratch;
      // ASCII is written by hand (cheaper than a call into C++ for short keys); anything else by Buffer#write.
      let i = 0;
      if (n <= 64) {
        for (; i < n; i++) {
          const c = key.charCodeAt(i);
          if (c >= 0x80) break;
          buf[i] = c;
        }
        if (i === n) {
          this.length = n;
          return buf;
        }
      }
      if (n > SCRATCH_CHARS) {
        const need = Buffer.byteLength(key, 'utf8');
        if (need > MAX_SCRATCH) {
          // A huge key gets its own buffer, so the scratch never pins its size.
          const own = Buffer.from(key, 'utf8');
          this.length = own.length;
          return own;
        }
        if (need > buf.length) buf = this.scratch = Buffer.allocUnsafe(Math.min(MAX_SCRATCH, Math.max(need, 2 * buf.length)));
      }
      this.length = buf.write(key, 0, 'utf8');
      return buf;
    }
    if (key instanceof Uint8Array) {
      this.length = key.length;
      return key;
    }
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a key must be a string or a Uint8Array, got ${describe(key)}`);
  }
}

/** Most memory one in-memory lookup table (flat hash, key TOC copy, value TOC copy) may take per db. */
export const TABLE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Lookups before the in-memory tables are built. Building them is one
 * sequential pass (40–150 ms for 1M keys on a loaded 2-vCPU VM, allocation
 * included), about what n/8 random lookups cost, so a db looked up only a few
 * times never pays for them and one looked up often pays about 2× for its
 * first n/8 lookups.
 */
export function tablesAfter(entries: number): number {
  return Math.max(32, Math.ceil(entries / 8));
}

/** Finds records by key bytes. */
export class KeyFinder {
  private readonly records: RecordLocator;
  private readonly chd: ChdHash | null;
  private readonly n: number;
  private unhashedIndex: Map<string, number> | null = null;
  /** Lookups left before the in-memory tables are built. */
  private untilTables: number;
  /** Builds the reader's other tables (the value TOC copy) with ours. */
  private readonly moreTables: (() => void) | null;
  /**
   * Per record, the perfect hash's fingerprint of its key (1..255; 0 where the
   * record did not read, which always goes on to the key compare). A key
   * whose fingerprint differs from its record's is not that record's key, so
   * most absent keys that land in an occupied bin are answered without
   * reading the record: a cache miss on a mapping, a system call on pread.
   */
  private fingerprints: Uint8Array | null = null;

  constructor(records: RecordLocator, chd: ChdHash | null, moreTables: (() => void) | null = null) {
    this.records = records;
    this.chd = chd;
    this.n = records.numKeys;
    this.untilTables = tablesAfter(this.n);
    this.moreTables = moreTables;
  }

  /** Builds the flat hash and the key TOC copy (when they fit {@link TABLE_MAX_BYTES}), then the reader's. */
  private buildTables(): void {
    this.chd?.flatten(TABLE_MAX_BYTES);
    this.records.index(TABLE_MAX_BYTES);
    this.fingerprints = this.buildFingerprints();
    this.moreTables?.();
  }

  /** The fingerprint of every record's key, in one sequential pass over the records; null when unhashed or too large. */
  private buildFingerprints(): Uint8Array | null {
    const chd = this.chd;
    const n = this.n;
    if (chd === null || n > TABLE_MAX_BYTES) return null;
    const table = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      try {
        table[i] = this.records.hashKey(i, chd);
      } catch {
        // 0: this record is always compared, so its lookups meet its error as without the table
      }
    }
    return table;
  }

  /**
   * Record index of the key `key[0, len)`, or -1 when it is absent. (No
   * value is prefetched with the key: a table of first-value hints, 8 bytes
   * per key, measured slower on 1M keys, its own miss costing more than the
   * overlap saved.)
   */
  find(key: Uint8Array, len: number): number {
    const n = this.n;
    if (n === 0) return -1;
    if (this.untilTables > 0 && --this.untilTables === 0) this.buildTables();
    const chd = this.chd;
    if (chd !== null) {
      const i = chd.lookupAt(key, len, false);
      const fps = this.fingerprints;
      const fp = fps !== null ? chd.fingerprint() : 0;
      if (i >= 0 && i < n && (fps === null || mayBe(fps[i]!, fp))) {
        if (this.records.keyEquals(i, key, len)) return i;
      }
      // Files hashed by CMPH < 2.0 with bytes ≥ 0x80 in keys: retry the legacy Jenkins (spec §6.4).
      if (hasHighByteAt(key, len)) {
        const j = chd.lookupAt(key, len, true);
        if (j >= 0 && j < n && j !== i && (fps === null || mayBe(fps[j]!, fp)) && this.records.keyEquals(j, key, len)) return j;
      }
      return -1;
    }
    if (n <= UNHASHED_SCAN_MAX) {
      for (let i = n - 1; i >= 0; i--) if (this.records.keyEquals(i, key, len)) return i;
      return -1;
    }
    const index = (this.unhashedIndex ??= this.buildIndex());
    return index.get(latin1(key, len)) ?? -1;
  }

  private buildIndex(): Map<string, number> {
    const index = new Map<string, number>();
    for (let i = 0; i < this.n; i++) {
      const k = this.records.keyBytes(i).toString('latin1');
      if (!index.has(k)) index.set(k, i);
    }
    return index;
  }
}

/** False only when the record's fingerprint is known and differs from the key's (so the key is not the record's). */
function mayBe(stored: number, fp: number): boolean {
  return stored === fp || stored === 0;
}

function latin1(bytes: Uint8Array, len: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, len).toString('latin1');
}
