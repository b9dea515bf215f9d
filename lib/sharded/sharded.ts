/**
 * `ShardedDiscoDB`: a directory of discodb files (the shards) and their manifest, read as one
 * db. Every answer equals, as a set (a multiset for `get` and `values`), the answer of the one
 * db built from the same records; see {@link ShardedDiscoDB} for the order of results.
 */
import * as path from 'node:path';
import { DiscoDBError } from '../errors.js';
import { DiscoDB, type Bytes, type CheckReport, type DiscoDBInfo, type Encoding, type OpenOptions } from '../discodb.js';
import { Inquiry } from '../reader/inquiry.js';
import { Clause, DiscoDBView, Literal, Q } from '../query/index.js';
import { product } from '../query/engine.js';
import { shardOf } from './hash.js';
import { readManifest, verifyShardHash, verifyShardSize, type Manifest, type ShardCounts } from './manifest.js';
import type { PartitionBy } from './partition.js';
import { checkDepth, evaluate, materialise, valueKey, type SetScope } from './sets.js';

/** {@link DiscoDBInfo} of the whole db, plus how it is sharded. */
export interface ShardedInfo extends DiscoDBInfo {
  shards: number;
  partitionBy: PartitionBy;
}

/** Options of {@link ShardedDiscoDB.query}: a view made by {@link ShardedDiscoDB.makeView}, or the values themselves. */
export interface ShardedQueryOptions {
  view?: ShardedView | Iterable<Bytes> | undefined;
}

/**
 * A view of a sharded db (the values of a request that the db holds), made by
 * {@link ShardedDiscoDB.makeView}; it restricts `query` results as a `DiscoDBView` does.
 */
export class ShardedView extends DiscoDBView {
  /** @internal Per-shard views (value partitioning: each value lives in one shard). */
  readonly perShard: readonly (DiscoDBView | null)[];
  /** @internal The requested values (as value keys). */
  readonly requested: Set<string>;
  readonly #size: number;

  /** @internal */
  constructor(size: number, perShard: readonly (DiscoDBView | null)[], requested: Set<string>) {
    // A sharded db has no global value ids: the base class's id list stays empty.
    super(new Uint32Array(0));
    this.#size = size;
    this.perShard = perShard;
    this.requested = requested;
  }

  /** Number of requested values found in the db. */
  override get size(): number {
    return this.#size;
  }
}

function toQ(q: Q | string): Q {
  if (q instanceof Q) return q;
  if (typeof q === 'string') return Q.parse(q);
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a query must be a Q or a string, got ${q === null ? 'null' : typeof q}`);
}

function toKeyBytes(key: Bytes): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a key must be a string or a Uint8Array, got ${key === null ? 'null' : typeof key}`);
}

/** A lazy Inquiry over a generator function: nothing runs until it is iterated. */
function lazy<T>(gen: () => Iterable<T>, count?: () => number): Inquiry<T> {
  return new Inquiry<T>(() => gen()[Symbol.iterator](), count);
}

/** Literals that are a negated dereference make the value-partitioned fast path impossible. */
function hasNegatedDeref(q: Q): boolean {
  for (const c of q.clauses) for (const l of c.literals) if (l.query !== null && l.negated) return true;
  return false;
}

/**
 * A sharded discodb: `DIR/discodb.json` and the shard files it lists, read as one db with the
 * reading API of `DiscoDB`.
 *
 * Order of results (the answers are equal to a single db's as sets; only the order differs):
 * - `keys()`/`items()`: shard by shard (part-0 first), each in its stored order; a key is
 *   given once, where it is first met.
 * - `get(k)`, `values()`, `uniqueValues()` and, under value partitioning, `query()`: shard by
 *   shard, each shard's in its own order (value-id order for lists and queries).
 * - Queries under key partitioning (and those with a negated dereference under value
 *   partitioning) are combined by value bytes: values in the order the evaluation meets them
 *   (deterministic for a given db and query); a complement in `uniqueValues()` order.
 *
 * Cost: under value partitioning `get`/`has` ask every shard and `keys()` asks the earlier
 * shards whether they hold each key; queries run natively in every shard (a positive
 * dereference is first resolved over the whole db into its terms). Under key partitioning
 * `get`/`has` touch one shard, while a query materialises each term's values as a set of byte
 * strings and a complement (`~x`, `uniqueValues()`) holds the set of the values seen.
 *
 * @typeParam V - the type keys and values come back as (`string` or `Buffer`)
 */
export class ShardedDiscoDB<V extends string | Buffer = string> {
  /** The directory. */
  readonly dir: string;
  /** The parsed manifest. */
  readonly manifest: Readonly<Manifest>;
  /** How keys and values are returned. */
  readonly encoding: Encoding;
  /** How records were spread over the shards. */
  readonly partitionBy: PartitionBy;
  /** The shards with buffer encoding: what every combination by value bytes works on. */
  private readonly parts: DiscoDB<Buffer>[];
  /** The shards in the caller's encoding (the same objects for 'buffer'): answers taken from one shard as they are. */
  private readonly typed: DiscoDB<V>[];
  private readonly totals: ShardCounts;
  private closed = false;

  private constructor(dir: string, manifest: Manifest, parts: DiscoDB<Buffer>[], typed: DiscoDB<V>[], encoding: Encoding) {
    this.dir = dir;
    this.manifest = manifest;
    this.parts = parts;
    this.typed = typed;
    this.encoding = encoding;
    this.partitionBy = manifest.partitionBy;
    this.totals = manifest.totals;
  }

  /**
   * Opens the sharded db in `dir`: reads the manifest, checks that every shard file is there
   * with the size the manifest gives (a missing or changed shard fails with
   * `ERR_DISCODB_CORRUPT` naming it) and opens each shard (`options` are the shards').
   */
  static open(dir: string, options?: OpenOptions<'utf8'>): ShardedDiscoDB<string>;
  static open(dir: string, options: OpenOptions<'buffer'>): ShardedDiscoDB<Buffer>;
  static open(dir: string, options: OpenOptions = {}): ShardedDiscoDB<string> | ShardedDiscoDB<Buffer> {
    const encoding = options.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'buffer') {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `encoding must be 'utf8' or 'buffer', got ${String(encoding)}`);
    }
    const manifest = readManifest(dir);
    const parts: DiscoDB<Buffer>[] = [];
    const typed: DiscoDB<string>[] = [];
    try {
      for (const entry of manifest.files) {
        verifyShardSize(dir, entry);
        const file = path.join(dir, entry.file);
        const db = DiscoDB.open(file, { ...options, encoding: 'buffer' });
        parts.push(db);
        const h = db.header;
        if (h.numKeys !== entry.keys || h.numUniqueValues !== entry.uniqueValues || h.numValues !== entry.values) {
          throw new DiscoDBError(
            'ERR_DISCODB_CORRUPT',
            `shard ${file} holds ${h.numKeys} keys, ${h.numUniqueValues} unique values and ${h.numValues} values; ` +
              `the manifest says ${entry.keys}, ${entry.uniqueValues} and ${entry.values}`,
            { path: file },
          );
        }
        // A second mapping of the same file in utf8, so that one shard's answers need no re-decoding.
        if (encoding === 'utf8') typed.push(DiscoDB.open(file, { ...options, encoding: 'utf8' }));
      }
    } catch (err) {
      for (const p of [...parts, ...typed]) p.close();
      throw err;
    }
    const out = encoding === 'utf8' ? typed : (parts as unknown as DiscoDB<string>[]);
    return new ShardedDiscoDB<string>(dir, manifest, parts, out, encoding) as ShardedDiscoDB<string> | ShardedDiscoDB<Buffer>;
  }

  private live(): DiscoDB<Buffer>[] {
    if (this.closed) throw new DiscoDBError('ERR_DISCODB_CLOSED', 'the database is closed');
    return this.parts;
  }

  private decode(b: Buffer): V {
    return (this.encoding === 'buffer' ? b : b.toString('utf8')) as V;
  }

  /** The shards in the caller's encoding (throws once closed). */
  private liveTyped(): DiscoDB<V>[] {
    this.live();
    return this.typed;
  }

  /** The shard index of `key` under key partitioning. */
  private keyShardIndex(key: Uint8Array): number {
    const n = this.live().length;
    return n === 1 ? 0 : shardOf(key, n);
  }

  /** Number of shards. */
  get shardCount(): number {
    return this.parts.length;
  }

  /** Shard `i` as a `DiscoDB` (buffer encoding); it stays owned by this db. */
  shard(i: number): DiscoDB<Buffer> {
    const p = this.live()[i];
    if (p === undefined) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `shard ${i} is outside 0..${this.parts.length - 1}`);
    return p;
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.totals.keys;
  }

  /** Number of distinct values. */
  get numUniqueValues(): number {
    return this.totals.uniqueValues;
  }

  /** True when some key holds a value more than once. */
  get isMultiset(): boolean {
    return this.live().some((p) => p.isMultiset);
  }

  /** Counts as a single db would give them; sizes summed over the shards; flags true when any shard has them. */
  info(): ShardedInfo {
    const infos = this.live().map((p) => p.info());
    const sum = (f: (i: DiscoDBInfo) => number): number => infos.reduce((a, i) => a + f(i), 0);
    return {
      numKeys: this.totals.keys,
      numUniqueValues: this.totals.uniqueValues,
      numValues: this.totals.values,
      totalSize: sum((i) => i.totalSize),
      valuesSize: sum((i) => i.valuesSize),
      itemsSize: sum((i) => i.itemsSize),
      compressed: infos.some((i) => i.compressed),
      hashed: infos.some((i) => i.hashed),
      multiset: infos.some((i) => i.multiset),
      shards: this.parts.length,
      partitionBy: this.partitionBy,
    };
  }

  // ------------------------------------------------------------------ keys

  /** The shard holding `key` under key partitioning. */
  private keyShard(key: Uint8Array): DiscoDB<Buffer> {
    const parts = this.live();
    return parts[parts.length === 1 ? 0 : shardOf(key, parts.length)]!;
  }

  /** True when `key` is stored (even with no values). */
  has(key: Bytes): boolean {
    const kb = toKeyBytes(key);
    if (this.partitionBy === 'key') return this.keyShard(kb).has(kb);
    return this.live().some((p) => p.has(kb));
  }

  /** The values of `key` (an empty Inquiry when absent); under value partitioning shard by shard. */
  get(key: Bytes): Inquiry<V> {
    const kb = toKeyBytes(key);
    const typed = this.liveTyped();
    if (this.partitionBy === 'key' || typed.length === 1) return typed[this.keyShardIndex(kb)]!.get(kb);
    return lazy(
      function* () {
        for (const p of typed) yield* p.get(kb);
      },
      () => typed.reduce((n, p) => n + p.get(kb).count(), 0),
    );
  }

  /** The first value of `key`, or `fallback`. */
  peek(key: Bytes): V | undefined;
  peek<F>(key: Bytes, fallback: F): V | F;
  peek<F>(key: Bytes, fallback?: F): V | F | undefined {
    const first = this.get(key).first();
    return first === undefined ? fallback : first;
  }

  /** Key bytes, each distinct key once, shard by shard. */
  private keyBytes(): Iterable<Buffer> {
    const parts = this.live();
    const byValue = this.partitionBy === 'value';
    return {
      *[Symbol.iterator](): Iterator<Buffer> {
        for (let s = 0; s < parts.length; s++) {
          next: for (const k of parts[s]!.keys()) {
            // Under value partitioning a key may be in several shards: give it where it is first met.
            if (byValue) for (let t = 0; t < s; t++) if (parts[t]!.has(k)) continue next;
            yield k;
          }
        }
      },
    };
  }

  /** Every distinct key once: shard by shard, each shard in its stored order. */
  keys(): Inquiry<V> {
    return lazy(() => this.mapDecode(this.keyBytes()), () => this.totals.keys);
  }

  /** Every key with its values (see {@link get}), in {@link keys} order. */
  items(): Inquiry<[V, Inquiry<V>]> {
    return lazy(
      function* (this: ShardedDiscoDB<V>): Generator<[V, Inquiry<V>]> {
        for (const k of this.keyBytes()) yield [this.decode(k), this.get(k)];
      }.bind(this),
      () => this.totals.keys,
    );
  }

  /** Allows `for (const [key, values] of db)`. */
  [Symbol.iterator](): Iterator<[V, Inquiry<V>]> {
    return this.items()[Symbol.iterator]();
  }

  private *mapDecode(it: Iterable<Buffer>): Generator<V> {
    for (const b of it) yield this.decode(b);
  }

  // ---------------------------------------------------------------- values

  /** Every stored (key, value) item's value, shard by shard (repeats included). */
  values(): Inquiry<V> {
    const typed = this.liveTyped();
    return lazy(
      function* () {
        for (const p of typed) yield* p.values();
      },
      () => this.totals.values,
    );
  }

  /**
   * Distinct value bytes, shard by shard. Under key partitioning a value may be in several
   * shards: the values already given are held in a set (memory grows with the distinct values).
   */
  private uniqueValueBytes(): Iterable<Buffer> {
    const parts = this.live();
    const byKey = this.partitionBy === 'key' && parts.length > 1;
    return {
      *[Symbol.iterator](): Iterator<Buffer> {
        const seen = byKey ? new Set<string>() : null;
        for (const p of parts) {
          for (const v of p.uniqueValues()) {
            if (seen !== null) {
              const k = valueKey(v);
              if (seen.has(k)) continue;
              seen.add(k);
            }
            yield v;
          }
        }
      },
    };
  }

  /** Every distinct value once, shard by shard. */
  uniqueValues(): Inquiry<V> {
    const typed = this.liveTyped();
    if (this.partitionBy === 'key' && typed.length > 1) return lazy(() => this.mapDecode(this.uniqueValueBytes()), () => this.totals.uniqueValues);
    return lazy(
      function* () {
        for (const p of typed) yield* p.uniqueValues();
      },
      () => this.totals.uniqueValues,
    );
  }

  // --------------------------------------------------------------- queries

  /**
   * A view: the requested values that the db holds (`view.size`); values absent from the db
   * are ignored. Scans the shards' values now, as `DiscoDB.makeView` does.
   */
  makeView(values: Iterable<Bytes>): ShardedView {
    const parts = this.live();
    const requested = new Set<string>();
    for (const v of values) requested.add(valueKey(toKeyBytes(v)));
    if (this.partitionBy === 'value' || parts.length === 1) {
      // A value lives in the shard of its hash: each shard looks only for its own.
      const mine: Buffer[][] = parts.map(() => []);
      for (const k of requested) {
        const b = Buffer.from(k, 'latin1');
        mine[parts.length === 1 ? 0 : shardOf(b, parts.length)]!.push(b);
      }
      const perShard = parts.map((p, s) => (mine[s]!.length === 0 ? null : p.makeView(mine[s]!)));
      return new ShardedView(perShard.reduce((n, v) => n + (v?.size ?? 0), 0), perShard, requested);
    }
    const found = new Set<string>();
    for (const p of parts) {
      for (const v of p.uniqueValues()) {
        if (found.size === requested.size) break;
        const k = valueKey(v);
        if (requested.has(k)) found.add(k);
      }
    }
    return new ShardedView(found.size, parts.map(() => null), requested);
  }

  private toView(v: ShardedQueryOptions['view']): ShardedView | undefined {
    if (v === undefined || v === null) return undefined;
    if (v instanceof ShardedView) return v;
    if (typeof v === 'object' && Symbol.iterator in v) return this.makeView(v);
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'view must be a ShardedView or an iterable of values');
  }

  /**
   * Values matching a CNF query (a {@link Q} or a string for `Q.parse`), each once. A string
   * is parsed now (syntax errors throw here); the shards are read when the result is iterated
   * or counted. With `{ view }`, only values in the view.
   */
  query(q: Q | string, options?: ShardedQueryOptions): Inquiry<V> {
    const parsed = toQ(q);
    const viewOption = options?.view;
    if (viewOption !== undefined && viewOption !== null && !(viewOption instanceof ShardedView) && !(typeof viewOption === 'object' && Symbol.iterator in viewOption)) {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'view must be a ShardedView or an iterable of values');
    }
    let view: ShardedView | undefined;
    const getView = (): ShardedView | undefined => (view ??= this.toView(viewOption));
    const typed = this.liveTyped();
    if ((this.partitionBy === 'value' || typed.length === 1) && !hasNegatedDeref(parsed)) {
      // Every shard answers natively (after dereferences are resolved over the whole db).
      const self = this;
      return lazy(
        function* () {
          const rq = self.resolveDerefs(parsed, 0);
          const v = getView();
          for (let s = 0; s < typed.length; s++) yield* shardQuery(typed[s]!, rq, v, s);
        },
        () => this.queryCount(parsed, getView()),
      );
    }
    return lazy(
      () => this.mapDecode(this.queryBytes(parsed, getView(), 0)),
      () => this.queryCount(parsed, getView()),
    );
  }

  /** The distinct values of `q` over the whole db, as bytes. */
  private queryBytes(q: Q, view: ShardedView | undefined, depth: number): Iterable<Buffer> {
    checkDepth(depth);
    const parts = this.live();
    if (this.partitionBy === 'key' && parts.length > 1) {
      const result = evaluate(q, this.keyScope(), depth);
      return materialise(result, () => this.uniqueValueBytes(), view?.requested);
    }
    // Value partitioning: each shard answers for its own values; the union is disjoint.
    if (hasNegatedDeref(q)) {
      return {
        [Symbol.iterator]: (): Iterator<Buffer> =>
          (function* (self: ShardedDiscoDB<V>): Generator<Buffer> {
            for (const p of parts) {
              const result = evaluate(q, self.shardScope(p), depth);
              yield* materialise(result, () => p.uniqueValues(), view?.requested);
            }
          })(this),
      };
    }
    const native = (): Q => this.resolveDerefs(q, depth);
    return {
      [Symbol.iterator]: (): Iterator<Buffer> =>
        (function* (): Generator<Buffer> {
          const rq = native();
          for (let s = 0; s < parts.length; s++) yield* shardQuery(parts[s]!, rq, view, s);
        })(),
    };
  }

  private queryCount(q: Q, view: ShardedView | undefined): number {
    const parts = this.live();
    if (this.partitionBy === 'value' && !hasNegatedDeref(q)) {
      const rq = this.resolveDerefs(q, 0);
      let n = 0;
      for (let s = 0; s < parts.length; s++) n += shardQuery(parts[s]!, rq, view, s).count();
      return n;
    }
    let n = 0;
    for (const _ of this.queryBytes(q, view, 0)) n++;
    return n;
  }

  /** Key partitioning: a key's values come from its shard; a dereference is resolved over the whole db. */
  private keyScope(): SetScope {
    return {
      list: (key) => this.keyShard(key).get(key),
      deref: (inner, depth) => this.queryBytes(inner, undefined, depth),
    };
  }

  /** Value partitioning, one shard: its own lists; a dereference is resolved over the whole db. */
  private shardScope(p: DiscoDB<Buffer>): SetScope {
    return {
      list: (key) => p.get(key),
      deref: (inner, depth) => this.queryBytes(inner, undefined, depth),
    };
  }

  /**
   * Value partitioning: replaces each (positive) dereference `*q` of a clause by the terms of
   * q's values over the whole db, so that every shard can answer natively. (In one shard `*q`
   * would only see that shard's values of q.)
   */
  private resolveDerefs(q: Q, depth: number): Q {
    if (!q.hasDereference) return q;
    const clauses: Clause[] = [];
    for (const c of q.clauses) {
      const lits: Literal[] = [];
      for (const l of c.literals) {
        if (l.query === null) lits.push(l);
        else for (const v of this.queryBytes(l.query, undefined, depth + 1)) lits.push(Literal.term(v));
      }
      clauses.push(new Clause(lits));
    }
    return new Q(clauses);
  }

  /** Expands the dereferences of `q` into one `[Q, values]` pair per combination, like `DiscoDB.metaquery`. */
  metaquery(q: Q | string): Iterable<[Q, Inquiry<V>]> {
    const parsed = toQ(q);
    const self = this;
    return {
      *[Symbol.iterator](): Iterator<[Q, Inquiry<V>]> {
        for (const expanded of self.expandQ(parsed, 0)) yield [expanded, self.query(expanded)];
      },
    };
  }

  private *expandQ(q: Q, depth: number): Generator<Q> {
    const lists = q.clauses.map((c) => Array.from(this.expandClause(c, depth)));
    for (const combo of product(lists)) yield Q.and(...combo);
  }

  private *expandClause(c: Clause, depth: number): Generator<Q> {
    const lists = c.literals.map((l) => Array.from(this.expandLiteral(l, depth)));
    for (const combo of product(lists)) yield Q.or(...combo);
  }

  private *expandLiteral(l: Literal, depth: number): Generator<Q> {
    if (l.query === null) {
      yield Q.wrap(l);
      return;
    }
    checkDepth(depth);
    for (const inner of this.expandQ(l.query, depth + 1)) {
      for (const v of this.queryBytes(inner, undefined, depth + 1)) yield Q.wrap(Literal.term(v, l.negated));
    }
  }

  // ------------------------------------------------------------ lifecycle

  /**
   * Verifies the whole db: every shard's SHA-256 against the manifest, every shard from end
   * to end (`DiscoDB.check`), that every key (key partitioning) or value (value partitioning)
   * is in the shard its hash names, and the manifest's totals. Throws ERR_DISCODB_CORRUPT
   * naming the file at the first problem.
   */
  check(): CheckReport {
    const parts = this.live();
    let bytes = 0;
    let values = 0;
    for (let s = 0; s < parts.length; s++) {
      const entry = this.manifest.files[s]!;
      const file = path.join(this.dir, entry.file);
      verifyShardHash(this.dir, entry);
      const p = parts[s]!;
      try {
        const r = p.check();
        bytes += r.bytes;
        values += r.values;
      } catch (err) {
        if (err instanceof DiscoDBError) throw new DiscoDBError(err.code, `shard ${file}: ${err.message}`, { path: file, cause: err });
        throw err;
      }
      if (parts.length > 1) {
        const misplaced = (what: string, b: Buffer): DiscoDBError =>
          new DiscoDBError(
            'ERR_DISCODB_CORRUPT',
            `shard ${file} holds ${what} ${JSON.stringify(b.toString('utf8'))}, which belongs to shard ${shardOf(b, parts.length)} ` +
              `by its CRC-32: the shards were built with another partitioning or shard count`,
            { path: file },
          );
        if (this.partitionBy === 'key') {
          for (const k of p.keys()) if (shardOf(k, parts.length) !== s) throw misplaced('key', k);
        } else {
          for (const v of p.uniqueValues()) if (shardOf(v, parts.length) !== s) throw misplaced('value', v);
        }
      }
    }
    let keys = 0;
    for (const _ of this.keyBytes()) keys++;
    let unique = 0;
    for (const _ of this.uniqueValueBytes()) unique++;
    const t = this.totals;
    if (keys !== t.keys || unique !== t.uniqueValues || values !== t.values) {
      throw new DiscoDBError(
        'ERR_DISCODB_CORRUPT',
        `${path.join(this.dir, 'discodb.json')}: the shards hold ${keys} keys, ${unique} unique values and ${values} values; the totals say ${t.keys}, ${t.uniqueValues} and ${t.values}`,
        { path: path.join(this.dir, 'discodb.json') },
      );
    }
    return { keys, uniqueValues: unique, values, bytes };
  }

  /** Closes every shard; later calls throw ERR_DISCODB_CLOSED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.parts) p.close();
    if (this.typed !== (this.parts as unknown)) for (const p of this.typed) p.close();
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** `using db = ShardedDiscoDB.open(dir)` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Shard `s`'s answer to a query without dereferences, restricted to its part of the view. */
function shardQuery<T extends string | Buffer>(p: DiscoDB<T>, q: Q, view: ShardedView | undefined, s: number): Inquiry<T> {
  if (view === undefined) return p.query(q);
  const v = view.perShard[s];
  if (v === null || v === undefined) return new Inquiry<T>(() => [][Symbol.iterator](), () => 0);
  return p.query(q, { view: v });
}
