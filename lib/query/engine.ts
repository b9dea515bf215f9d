/**
 * Evaluates a {@link Q} against a db (spec §7.4, §7.5, §9.2): plans a cursor
 * tree (resolving dereferences, ordering intersections by list size), and
 * wraps it as ids, values, metaqueries and views.
 *
 * Semantics are the C library's: a missing key is the empty set, `~k` is the
 * complement within all unique values 1..U, a query with no clauses or a
 * clause with no terms matches nothing, results are distinct ids ascending.
 * Multiset dbs (which the C library refuses) get the same set semantics.
 */
import { DiscoDBError } from '../errors.js';
import { DeltaCursor, EMPTY_CURSOR, type IdCursor } from '../reader/cursor.js';
import { Inquiry } from '../reader/inquiry.js';
import {
  AndCursor,
  DedupCursor,
  HeapOrCursor,
  NotCursor,
  OrCursor,
  OneIdCursor,
  RangeCursor,
  ViewCursor,
  countIds,
} from './cursors.js';
import { Clause, Literal, MAX_DEREF_DEPTH, Q, flatten } from './q.js';

/** What the engine needs from a db; `DiscoDB` provides it. */
export interface QueryableDB<V = string | Buffer> {
  /** U: value ids are 1..U. */
  readonly numUniqueValues: number;
  /** Lists may hold an id more than once. */
  readonly isMultiset: boolean;
  /** Record index of `key`, or -1. */
  findKey(key: Uint8Array): number;
  /** Stored count of a record's list (duplicates included). */
  listCount(record: number): number;
  /** A fresh cursor over a record's ascending ids. */
  idCursor(record: number): IdCursor;
  /** Value `id` in the db's encoding. */
  valueById(id: number): V;
  /** Raw bytes of value `id`. */
  valueBytes(id: number): Uint8Array;
  /** Optional: loads the values `ids[0, n)` together before they are read one by one (a hint). */
  prefetchValues?(ids: Float64Array, n: number): void;
}

/** A query given as a {@link Q} or as a string for {@link Q.parse}. */
export type QueryLike = Q | string;

/** Options of {@link query} and {@link queryIds}. */
export interface QueryOptions {
  /** Restrict results to a view (or to the values of an iterable, made into a view). */
  view?: DiscoDBView | Iterable<string | Uint8Array> | undefined;
}

/**
 * A set of value ids of one db (spec §7.5), built from value strings by
 * {@link makeView}. Using it with another db gives meaningless results.
 */
export class DiscoDBView implements Iterable<number> {
  /** The matched ids, ascending. */
  readonly ids: Uint32Array;

  /** @param ids ascending, distinct value ids */
  constructor(ids: Uint32Array) {
    this.ids = ids;
  }

  /** Number of values of the request that were found in the db. */
  get size(): number {
    return this.ids.length;
  }

  /** True when value id `id` is in the view. */
  has(id: number): boolean {
    const ids = this.ids;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid]!;
      if (v === id) return true;
      if (v < id) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  /** A fresh cursor over the ids. */
  cursor(): IdCursor {
    return new ViewCursor(this.ids);
  }

  [Symbol.iterator](): Iterator<number> {
    return this.ids[Symbol.iterator]();
  }
}

/**
 * Builds a view: scans the unique values 1..U in order and keeps the ids whose
 * bytes are in `values` (strings as UTF-8); stops once all were found. Values
 * absent from the db are ignored.
 */
export function makeView(db: QueryableDB<unknown>, values: Iterable<string | Uint8Array>): DiscoDBView {
  const wanted = new Set<string>();
  const lengths = new Set<number>();
  for (const v of values) {
    const b = toBuffer(v, 'a view value');
    wanted.add(b.toString('latin1'));
    lengths.add(b.length);
  }
  const found: number[] = [];
  const u = db.numUniqueValues;
  for (let id = 1; id <= u && wanted.size > 0; id++) {
    const b = db.valueBytes(id);
    // Most values are ruled out by length before any string is made.
    if (!lengths.has(b.length)) continue;
    const k = toBuffer(b, 'a value').toString('latin1');
    if (wanted.delete(k)) found.push(id);
  }
  return new DiscoDBView(Uint32Array.from(found));
}

// ---------------------------------------------------------------------------
// Planning

/** A planned sub-expression: its cursor, an estimate of its size, and whether the estimate is exact. */
interface Part {
  cursor: IdCursor;
  est: number;
  exact: boolean;
}

/** Sentinels for sub-expressions known to match everything / nothing. */
const TRUE_PART: Part = { cursor: EMPTY_CURSOR, est: 0, exact: true };
const FALSE_PART: Part = { cursor: EMPTY_CURSOR, est: 0, exact: true };
const EMPTY_PART: Part = { cursor: EMPTY_CURSOR, est: 0, exact: true };


class Planner {
  private readonly db: QueryableDB<unknown>;
  private readonly u: number;
  private readonly multiset: boolean;

  constructor(db: QueryableDB<unknown>) {
    this.db = db;
    this.u = db.numUniqueValues;
    this.multiset = db.isMultiset;
  }

  /** The AND of the clauses (and the view), rarest first. */
  query(q: Q, view: DiscoDBView | undefined, depth: number): Part {
    if (q.clauses.length === 0) return EMPTY_PART;
    const parts: Part[] = [];
    for (const clause of q.clauses) {
      const p = this.clause(clause, depth);
      if (p === FALSE_PART) return EMPTY_PART;
      if (p !== TRUE_PART) parts.push(p);
    }
    if (view !== undefined) {
      if (view.size === 0) return EMPTY_PART;
      parts.push({ cursor: view.cursor(), est: view.size, exact: true });
    }
    if (parts.length === 0) return { cursor: new RangeCursor(this.u), est: this.u, exact: true };
    if (parts.length === 1) return parts[0]!;
    parts.sort((a, b) => a.est - b.est);
    const rarest = parts[0]!;
    // (Multiset estimates count duplicates, so only an exact 0 proves emptiness.)
    if (rarest.exact && rarest.est === 0) return EMPTY_PART;
    return { cursor: new AndCursor(parts.map((p) => p.cursor)), est: rarest.est, exact: false };
  }

  private clause(clause: Clause, depth: number): Part {
    const parts: Part[] = [];
    for (const lit of clause.literals) {
      const p = this.literal(lit, depth);
      if (p === TRUE_PART) return TRUE_PART;
      if (p !== FALSE_PART) parts.push(p);
    }
    return this.union(parts);
  }

  private union(parts: Part[]): Part {
    if (parts.length === 0) return FALSE_PART;
    if (parts.length === 1) return parts[0]!;
    let est = 0;
    for (const p of parts) est += p.est;
    const cursors = parts.map((p) => p.cursor);
    const cursor = cursors.length <= 8 ? new OrCursor(cursors) : new HeapOrCursor(cursors);
    return { cursor, est: Math.min(est, this.u), exact: false };
  }

  private literal(lit: Literal, depth: number): Part {
    const positive = lit.key !== null ? this.key(lit.key) : this.deref(lit.query!, depth);
    if (!lit.negated) return positive;
    if (positive === FALSE_PART) return TRUE_PART;
    // A non-multiset list of U ids is the whole universe: its complement is empty.
    if (positive.exact && positive.est >= this.u) return FALSE_PART;
    return {
      cursor: new NotCursor(positive.cursor, this.u),
      est: Math.max(0, this.u - positive.est),
      exact: positive.exact,
    };
  }

  /** A key's list (FALSE when the key is absent or its list empty). */
  private key(key: Uint8Array): Part {
    const db = this.db;
    const record = db.findKey(key);
    if (record < 0) return FALSE_PART;
    const count = db.listCount(record);
    if (count === 0) return FALSE_PART;
    if (this.multiset) return { cursor: new DedupCursor(db.idCursor(record)), est: count, exact: false };
    return { cursor: db.idCursor(record), est: count, exact: true };
  }

  /** `*q`: the union of the lists of q's values used as keys (Python's `MetaLiteral.resolve`). */
  private deref(q: Q, depth: number): Part {
    if (depth >= MAX_DEREF_DEPTH) {
      throw new DiscoDBError('ERR_DISCODB_QUERY', `dereferences nest deeper than ${MAX_DEREF_DEPTH}`);
    }
    const inner = this.query(q, undefined, depth + 1).cursor;
    const parts: Part[] = [];
    for (let id = inner.next(); id !== 0; id = inner.next()) {
      const p = this.key(this.db.valueBytes(id));
      if (p !== FALSE_PART) parts.push(p);
    }
    return this.union(parts);
  }
}

// ---------------------------------------------------------------------------
// The flat planner: queries without dereferences (nearly all), with no
// allocation beyond the cursors it returns.
//
// Phase 1 looks every key up, clause by clause: a clause whose keys are all
// absent ends the query there (no more lookups, no cursor built), a clause
// with an absent negated key is always true and dropped. Phase 2 opens the
// lists of the remaining clauses (a list's cursor knows its count: no second
// record lookup) and drops what turns out empty or full. Phase 3 combines
// them, rarest clause first. Unit clauses `~k` are grouped into the
// complement of one union, and the negated literals of a clause into the
// complement of one intersection (De Morgan), so `~a & ~b & …` and
// `~a | ~b | …` cost per list, not per list per id.

// Scratch of the flat planner. Planning is synchronous and never nests, so
// one set serves every db; `lists` is cleared after each plan (it must not
// keep cursors, and through them images, alive).
let recs = new Int32Array(64);
let counts = new Float64Array(64);
const lists: IdCursor[] = [];
let clauseEst = new Float64Array(64);
let order = new Int32Array(64);
let negs = new Int32Array(64);

/** Exact size of the last plan's result, or -1 when only its cursor knows. */
let exactCount = -1;

function ensureLiterals(n: number): void {
  if (n <= recs.length) return;
  const size = Math.max(n, 2 * recs.length);
  const r = new Int32Array(size);
  r.set(recs);
  recs = r;
  counts = new Float64Array(size);
}

function ensureClauses(n: number): void {
  if (n <= order.length) return;
  const size = Math.max(n, 2 * order.length);
  clauseEst = new Float64Array(size);
  order = new Int32Array(size);
  negs = new Int32Array(size);
}

/** Pseudo-clause indices in `order`: the grouped unit negations, the view. */
const NEG_GROUP = -1;
const VIEW = -2;
/** clauseEst of a clause that is always true. */
const ALWAYS = -1;

/** Estimates of the pseudo-clauses of the plan being built. */
let negEst = 0;
let viewEst = 0;

function estOf(i: number): number {
  return i >= 0 ? clauseEst[i]! : i === NEG_GROUP ? negEst : viewEst;
}

function byEstimate(a: number, b: number): number {
  return estOf(a) - estOf(b);
}

/** Count of a list from its cursor (the reader's cursors know it), else from the record. */
function listLength(db: QueryableDB<unknown>, cursor: IdCursor, record: number): number {
  if (cursor instanceof DeltaCursor) return cursor.remaining;
  if (cursor === EMPTY_CURSOR) return 0;
  return db.listCount(record);
}

function planFlat(db: QueryableDB<unknown>, q: Q, view: DiscoDBView | undefined): IdCursor {
  exactCount = 0;
  const nc = q.clauses.length;
  if (nc === 0 || (view !== undefined && view.size === 0)) return EMPTY_CURSOR;
  flatten(q);
  const keys = q.flatKeys!;
  const negated = q.flatNegated!;
  const starts = q.flatStarts!;
  ensureClauses(nc);
  ensureLiterals(keys.length);
  while (lists.length < keys.length) lists.push(EMPTY_CURSOR);
  try {
    // Phase 1: key lookups. A clause of one key is opened at once (its record was just read): when two
    // such keys hold one id each and the ids differ, the AND is empty and the other keys need no lookup.
    let single = 0;
    for (let i = 0; i < nc; i++) {
      const at = starts[i]!;
      const end = starts[i + 1]!;
      let found = false;
      let always = false;
      for (let k = at; k < end; k++) {
        const record = db.findKey(keys[k]!);
        recs[k] = record;
        if (record >= 0) found = true;
        else if (negated[k] === 1) {
          always = true; // ~(absent) is everything
          break;
        }
      }
      if (!found && !always) return EMPTY_CURSOR;
      clauseEst[i] = always ? ALWAYS : 0;
      if (end - at === 1 && negated[at] === 0) {
        const id = openUnit(db, recs[at]!, at);
        if (id < 0) continue;
        if (id === 0 || (single !== 0 && id !== single)) return EMPTY_CURSOR;
        single = id;
      }
    }
    return openAndCombine(db, nc, negated, starts, view);
  } finally {
    for (let k = 0; k < keys.length; k++) lists[k] = EMPTY_CURSOR;
  }
}

/**
 * Opens the list of a one-key clause into `lists[k]` and `counts[k]` (phase 2
 * then uses it). Returns its only id when it holds one, 0 when it is empty,
 * else -1.
 */
function openUnit(db: QueryableDB<unknown>, record: number, k: number): number {
  const c = db.idCursor(record);
  const count = listLength(db, c, record);
  counts[k] = count;
  if (count === 1) {
    const id = c.next();
    if (id !== 0) {
      lists[k] = new OneIdCursor(id);
      return id;
    }
    lists[k] = db.idCursor(record); // a list that does not decode: phase 2 and the cursor meet it as before
    return -1;
  }
  lists[k] = db.isMultiset && count > 0 ? new DedupCursor(c) : c;
  return count === 0 ? 0 : -1;
}

function openAndCombine(db: QueryableDB<unknown>, nc: number, negated: Uint8Array, starts: Int32Array, view: DiscoDBView | undefined): IdCursor {
  const u = db.numUniqueValues;
  const multiset = db.isMultiset;

  // Phase 2: open the lists, drop empty clauses' work.
  let live = 0; // clauses in `order`
  let nNeg = 0; // unit clauses `~k`, in `negs`
  let negMax = 0;
  for (let i = 0; i < nc; i++) {
    if (clauseEst[i] === ALWAYS) continue;
    const at = starts[i]!;
    const end = starts[i + 1]!;
    let state = 0; // 0: matches nothing, 1: has a list, 2: always true
    let est = 0;
    for (let k = at; k < end; k++) {
      const record = recs[k]!;
      let count = 0;
      if (lists[k] !== EMPTY_CURSOR) count = counts[k]!; // opened in phase 1
      else if (record >= 0) {
        const c = db.idCursor(record);
        count = listLength(db, c, record);
        lists[k] = multiset && count > 0 ? new DedupCursor(c) : c;
      }
      counts[k] = count;
      if (negated[k] === 0) {
        if (count > 0) {
          state = 1;
          est += count;
        }
      } else if (count === 0) {
        state = 2;
        break;
      } else if (multiset || count < u) {
        // (A non-multiset list of U ids is the universe: its complement adds nothing.)
        state = 1;
        est += u - count;
      }
    }
    if (state === 0) return EMPTY_CURSOR;
    if (state === 2) continue;
    if (end - at === 1 && negated[at] === 1) {
      negs[nNeg++] = at;
      if (counts[at]! > negMax) negMax = counts[at]!;
      continue;
    }
    clauseEst[i] = est < u ? est : u;
    order[live++] = i;
  }
  if (nNeg > 0) order[live++] = NEG_GROUP;
  if (view !== undefined) order[live++] = VIEW;
  if (live === 0) {
    exactCount = u;
    return new RangeCursor(u);
  }
  negEst = u - negMax;
  viewEst = view === undefined ? 0 : view.size;

  // Exact counts without iterating: one key, one negated key, or the view alone.
  exactCount = -1;
  if (live === 1 && !multiset) {
    const i = order[0]!;
    if (i === VIEW) exactCount = viewEst;
    else if (i === NEG_GROUP) exactCount = nNeg === 1 ? negEst : -1;
    else if (starts[i + 1]! - starts[i]! === 1) exactCount = counts[starts[i]!]!;
  }

  // Phase 3: combine, rarest clause first (it leads the intersection).
  if (live <= 16) {
    for (let a = 1; a < live; a++) {
      const x = order[a]!;
      const ex = estOf(x);
      let b = a - 1;
      while (b >= 0 && estOf(order[b]!) > ex) {
        order[b + 1] = order[b]!;
        b--;
      }
      order[b + 1] = x;
    }
  } else order.subarray(0, live).sort(byEstimate);
  if (live === 1) return partCursor(order[0]!, negated, starts, view, nNeg, u, multiset);
  const children: IdCursor[] = [];
  for (let r = 0; r < live; r++) children.push(partCursor(order[r]!, negated, starts, view, nNeg, u, multiset));
  return new AndCursor(children);
}

function partCursor(i: number, negated: Uint8Array, starts: Int32Array, view: DiscoDBView | undefined, nNeg: number, u: number, multiset: boolean): IdCursor {
  if (i === VIEW) return view!.cursor();
  if (i === NEG_GROUP) {
    // ~a & ~b & … = ~(a | b | …)
    if (nNeg === 1) return new NotCursor(lists[negs[0]!]!, u);
    const union: IdCursor[] = [];
    for (let j = 0; j < nNeg; j++) union.push(lists[negs[j]!]!);
    return new NotCursor(unionOf(union), u);
  }
  return clauseCursor(negated, starts[i]!, starts[i + 1]!, u, multiset);
}

/** The union of a live clause's lists; its negated literals as one complement of their intersection. */
function clauseCursor(negated: Uint8Array, at: number, end: number, u: number, multiset: boolean): IdCursor {
  if (end - at === 1) return lists[at]!;
  const parts: IdCursor[] = [];
  let negatedLists: number[] | null = null;
  for (let k = at; k < end; k++) {
    const count = counts[k]!;
    if (negated[k] === 0) {
      if (count > 0) parts.push(lists[k]!);
    } else if (multiset || count < u) (negatedLists ??= []).push(k);
  }
  if (negatedLists !== null) {
    // ~a | ~b | … = ~(a & b & …), led by the rarest list.
    if (negatedLists.length === 1) parts.push(new NotCursor(lists[negatedLists[0]!]!, u));
    else {
      negatedLists.sort((x, y) => counts[x]! - counts[y]!);
      parts.push(new NotCursor(new AndCursor(negatedLists.map((x) => lists[x]!)), u));
    }
  }
  return parts.length === 1 ? parts[0]! : unionOf(parts);
}

function unionOf(cursors: IdCursor[]): IdCursor {
  if (cursors.length === 1) return cursors[0]!;
  return cursors.length <= 8 ? new OrCursor(cursors) : new HeapOrCursor(cursors);
}

/** The id cursor of a query; sets {@link exactCount} (flat plans) or returns its exact count through `exact`. */
function planIds(db: QueryableDB<unknown>, q: Q, view: DiscoDBView | undefined): IdCursor {
  if (!q.hasDereference) return planFlat(db, q, view);
  const p = new Planner(db).query(q, view, 0);
  exactCount = p.exact ? p.est : -1;
  return p.cursor;
}

function countOf(db: QueryableDB<unknown>, q: Q, view: DiscoDBView | undefined): number {
  const cursor = planIds(db, q, view);
  return exactCount >= 0 ? exactCount : countIds(cursor);
}

function toQ(q: QueryLike): Q {
  if (q instanceof Q) return q;
  if (typeof q === 'string') return Q.parse(q);
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a query must be a Q or a string, got ${q === null ? 'null' : typeof q}`);
}

function toView(db: QueryableDB<unknown>, options: QueryOptions | undefined): DiscoDBView | undefined {
  const v = options?.view;
  if (v === undefined || v === null) return undefined;
  if (v instanceof DiscoDBView) {
    // A subclass (a sharded db's view) carries no ids of this image: refuse it, never answer empty.
    if (v.constructor !== DiscoDBView) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', "this view was made by another kind of db (a sharded one): make one with this db's makeView");
    return v;
  }
  if (typeof v === 'object' && Symbol.iterator in v) return makeView(db, v);
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', 'view must be a DiscoDBView or an iterable of values');
}

// ---------------------------------------------------------------------------
// Public entry points

/**
 * The matching value ids, ascending and distinct, as a fresh cursor. Keys are
 * looked up and dereferences resolved now; ids are produced lazily. This is
 * the building block for streams and the CLI: map ids to values with
 * `db.valueById(id)`.
 */
export function queryIds(db: QueryableDB<unknown>, q: QueryLike, options?: QueryOptions): IdCursor {
  return planIds(db, toQ(q), toView(db, options));
}

/** Number of matching values, without decoding any value. */
export function queryCount(db: QueryableDB<unknown>, q: QueryLike, options?: QueryOptions): number {
  return countOf(db, toQ(q), toView(db, options));
}

/**
 * The matching values, ascending by value id, each once, as a lazy and
 * re-iterable Inquiry (`count()` decodes nothing). A string query is parsed
 * now, so syntax errors throw here; lookups happen at each iteration.
 */
export function query<V>(db: QueryableDB<V>, q: QueryLike, options?: QueryOptions): Inquiry<V> {
  const parsed = toQ(q);
  const view = toView(db, options);
  return new Inquiry<V>(
    () => new ValueIterator<V>(db, planIds(db, parsed, view)),
    () => countOf(db, parsed, view),
  );
}

/**
 * The Python binding's metaquery: each dereference `*A` is expanded into one
 * query per value of A (negated when the dereference is), clauses into the
 * cartesian product of their literals' expansions; yields `[expanded query,
 * its values]` for every combination. On `{A: [B, C], B: D, C: E}`,
 * `metaquery('*A | B')` yields `[B, (D)]` and `[C | B, (D, E)]`.
 */
export function metaquery<V>(db: QueryableDB<V>, q: QueryLike): Iterable<[Q, Inquiry<V>]> {
  const parsed = toQ(q);
  return {
    *[Symbol.iterator](): Iterator<[Q, Inquiry<V>]> {
      for (const expanded of expandQ(db, parsed, 0)) yield [expanded, query(db, expanded)];
    },
  };
}

/** Python's `Q.expand`: the product of the clauses' expansions, each combination AND-ed. */
function* expandQ(db: QueryableDB<unknown>, q: Q, depth: number): Generator<Q> {
  const lists = q.clauses.map((c) => Array.from(expandClause(db, c, depth)));
  for (const combo of product(lists)) yield Q.and(...combo);
}

/** Python's `Clause.expand`: the product of the literals' expansions, each combination OR-ed. */
function* expandClause(db: QueryableDB<unknown>, c: Clause, depth: number): Generator<Q> {
  const lists = c.literals.map((l) => Array.from(expandLiteral(db, l, depth)));
  for (const combo of product(lists)) yield Q.or(...combo);
}

/** A literal expands to itself; `*A` to one term per value of each expansion of A. */
function* expandLiteral(db: QueryableDB<unknown>, l: Literal, depth: number): Generator<Q> {
  if (l.query === null) {
    yield Q.wrap(l);
    return;
  }
  if (depth >= MAX_DEREF_DEPTH) {
    throw new DiscoDBError('ERR_DISCODB_QUERY', `dereferences nest deeper than ${MAX_DEREF_DEPTH}`);
  }
  for (const inner of expandQ(db, l.query, depth + 1)) {
    const ids = queryIds(db, inner);
    for (let id = ids.next(); id !== 0; id = ids.next()) {
      // Python writes `not Q.wrap(v)` here (a bug giving False); `~v` is meant.
      yield Q.wrap(Literal.term(db.valueBytes(id), l.negated));
    }
  }
}

/** Cartesian product of lists (one empty combination for no lists); metaquery expansions (also the sharded db's). */
export function* product<T>(lists: T[][]): Generator<T[]> {
  for (const l of lists) if (l.length === 0) return;
  const idx = new Array<number>(lists.length).fill(0);
  for (;;) {
    yield lists.map((l, i) => l[idx[i]!]!);
    let k = lists.length - 1;
    while (k >= 0) {
      if (++idx[k]! < lists[k]!.length) break;
      idx[k] = 0;
      k--;
    }
    if (k < 0) return;
  }
}

/** Values of an id cursor, decoded as they are reached. */
/** Ids read ahead of the values (enough to overlap their memory misses; the rest stays lazy). */
const AHEAD = 8;

/** Read-ahead buffers given back by finished iterations, for the next ones. */
const aheadPool: Float64Array[] = [];
const AHEAD_POOL_MAX = 64;
const NO_AHEAD = new Float64Array(0);

/**
 * Values of a query's ids. When the db can prefetch, up to {@link AHEAD} ids
 * are taken from the cursor at a time and their values loaded together, then
 * made one by one as they are reached; an error of the cursor while reading
 * ahead is thrown when the iteration reaches it, after the values before it.
 */
class ValueIterator<V> implements Iterator<V> {
  private readonly db: QueryableDB<V>;
  private readonly cursor: IdCursor;
  /** null when the db cannot prefetch; NO_AHEAD until the first refill and once given back. */
  private ahead: Float64Array | null;
  private pos = 0;
  private have = 0;
  private failure: unknown = null;
  private failed = false;
  private ended = false;

  constructor(db: QueryableDB<V>, cursor: IdCursor) {
    this.db = db;
    this.cursor = cursor;
    this.ahead = db.prefetchValues !== undefined ? NO_AHEAD : null;
  }

  next(): IteratorResult<V> {
    const ahead = this.ahead;
    if (ahead === null) {
      const id = this.cursor.next();
      if (id === 0) return { done: true, value: undefined };
      return { done: false, value: this.db.valueById(id) };
    }
    if (this.pos === this.have && !this.refill(ahead)) {
      if (this.failed) throw this.failure;
      return { done: true, value: undefined };
    }
    return { done: false, value: this.db.valueById(this.ahead![this.pos++]!) };
  }

  /** Reads up to AHEAD ids and prefetches their values; false when none is left. */
  private refill(buffer: Float64Array): boolean {
    if (this.ended) {
      this.release(buffer);
      return false;
    }
    let ahead = buffer;
    if (ahead === NO_AHEAD) ahead = this.ahead = aheadPool.pop() ?? new Float64Array(AHEAD);
    let n = 0;
    try {
      while (n < AHEAD) {
        const id = this.cursor.next();
        if (id === 0) {
          this.ended = true;
          break;
        }
        ahead[n++] = id;
      }
    } catch (err) {
      this.failure = err;
      this.failed = true;
      this.ended = true;
    }
    this.pos = 0;
    this.have = n;
    if (n === 0) {
      this.release(ahead);
      return false;
    }
    if (n > 1) this.db.prefetchValues!(ahead, n);
    return true;
  }

  /** Gives the read-ahead buffer back once the iteration is over (the iterator never touches it again). */
  private release(buffer: Float64Array): void {
    if (buffer === NO_AHEAD) return;
    this.ahead = NO_AHEAD;
    if (aheadPool.length < AHEAD_POOL_MAX) aheadPool.push(buffer);
  }
}

function toBuffer(v: string | Uint8Array, what: string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what} must be a string or bytes, got ${v === null ? 'null' : typeof v}`);
}
