/**
 * Items staged for a run: their bytes already sit past `used` in the dictionaries'
 * arenas, their lookups wait to be resolved a batch at a time (so that the cache
 * misses of different items overlap). Shared by the ingest of records on the calling
 * thread ({@link RecordIngest}) and of encoded batches on a worker ({@link BatchIngest}).
 */
import type { RunBuffer } from './arena.js';

/** Items staged before their lookups are resolved together. */
export const BATCH = 1024;

export class RunStaging {
  // The staged batch: n items; kn keys and vn values to look up (at kOff/vOff in the
  // dictionaries' arenas, past `used`), kBytes/vBytes bytes of them.
  protected n = 0;
  protected kn = 0;
  protected vn = 0;
  protected kBytes = 0;
  protected vBytes = 0;
  /** Entry of the last resolved item's key (an item with kSame = 1 reuses it). */
  protected lastKeyId = 0;
  protected readonly kSame = new Uint8Array(BATCH);
  protected readonly hasValue = new Uint8Array(BATCH);
  protected readonly kOff = new Uint32Array(BATCH);
  protected readonly kLen = new Uint32Array(BATCH);
  protected readonly kHash = new Int32Array(BATCH);
  protected readonly kIds = new Int32Array(BATCH);
  protected readonly vOff = new Uint32Array(BATCH);
  protected readonly vLen = new Uint32Array(BATCH);
  protected readonly vHash = new Int32Array(BATCH);
  protected readonly vIds = new Int32Array(BATCH);

  constructor(protected run: RunBuffer) {}

  /** Resolves the staged items into the run: key and value entries, then the pairs. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    const run = this.run;
    run.keys.resolve(this.kOff, this.kLen, this.kHash, this.kn, this.kIds);
    run.values.resolve(this.vOff, this.vLen, this.vHash, this.vn, this.vIds);
    this.pairUp();
  }

  /** After the lookups: the pairs of the staged items, and an empty staging batch. */
  protected pairUp(): void {
    const run = this.run;
    const n = this.n;
    let k = this.lastKeyId;
    for (let i = 0, j = 0, v = 0; i < n; i++) {
      if (this.kSame[i] === 0) k = this.kIds[j++]!;
      if (this.hasValue[i] === 1) run.pair(k, this.vIds[v++]!);
    }
    this.lastKeyId = k;
    this.n = 0;
    this.kn = 0;
    this.vn = 0;
    this.kBytes = 0;
    this.vBytes = 0;
  }
}
