/**
 * CNF evaluation over value bytes, for answers that cannot be combined by value ids: under
 * key partitioning a key's list lives in one shard but its values' ids differ from shard to
 * shard, so terms are combined as sets of value bytes. A set is finite, or the complement of
 * a finite set within the scope's universe (so `~k` costs nothing until the end, where a
 * complement is resolved by one pass over the universe).
 *
 * Semantics are those of the single-db engine: a missing key is the empty set, `~x` the
 * complement within the universe, a query with no clauses or a clause with no literals
 * matches nothing, `*q` is the union of the lists of q's values used as keys.
 */
import { DiscoDBError } from '../errors.js';
import type { Clause, Literal, Q } from '../query/index.js';

/** Value bytes as a Set key (latin1 maps bytes to code units one to one). */
export function valueKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** The bytes of a {@link valueKey}. */
export function valueOfKey(k: string): Buffer {
  return Buffer.from(k, 'latin1');
}

/** A finite set of values, or (co) the complement of one within the universe. */
export interface ValueSet {
  co: boolean;
  set: Set<string>;
}

/** Where terms are looked up. */
export interface SetScope {
  /** The values of `key` in this scope (empty when absent). */
  list(key: Buffer): Iterable<Uint8Array>;
  /** The distinct values of `*q` over the whole db (a dereference is always global). */
  deref(q: Q, depth: number): Iterable<Uint8Array>;
}

/** How far dereferences may nest (as in the single-db engine). */
export const MAX_DEREF_DEPTH = 64;

/** Throws the single-db engine's error for a dereference nested too deep. */
export function checkDepth(depth: number): void {
  if (depth >= MAX_DEREF_DEPTH) throw new DiscoDBError('ERR_DISCODB_QUERY', `dereferences nest deeper than ${MAX_DEREF_DEPTH}`);
}

const empty = (): ValueSet => ({ co: false, set: new Set() });

function union(a: ValueSet, b: ValueSet): ValueSet {
  if (!a.co && !b.co) {
    for (const x of b.set) a.set.add(x);
    return a;
  }
  if (a.co && b.co) return { co: true, set: intersectSets(a.set, b.set) };
  // S ∪ ~T = ~(T \ S)
  const [fin, co] = a.co ? [b, a] : [a, b];
  for (const x of fin.set) co.set.delete(x);
  return co;
}

function intersect(a: ValueSet, b: ValueSet): ValueSet {
  if (!a.co && !b.co) return { co: false, set: intersectSets(a.set, b.set) };
  if (a.co && b.co) {
    for (const x of b.set) a.set.add(x);
    return a;
  }
  // S ∩ ~T = S \ T
  const [fin, co] = a.co ? [b, a] : [a, b];
  for (const x of co.set) fin.set.delete(x);
  return fin;
}

function intersectSets(a: Set<string>, b: Set<string>): Set<string> {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const out = new Set<string>();
  for (const x of small) if (large.has(x)) out.add(x);
  return out;
}

function listSet(values: Iterable<Uint8Array>, into: Set<string> = new Set()): Set<string> {
  for (const v of values) into.add(valueKey(v));
  return into;
}

function literal(l: Literal, scope: SetScope, depth: number): ValueSet {
  let set: Set<string>;
  if (l.key !== null) {
    set = listSet(scope.list(l.key));
  } else {
    set = new Set();
    for (const v of scope.deref(l.query!, depth + 1)) listSet(scope.list(Buffer.from(v.buffer, v.byteOffset, v.byteLength)), set);
  }
  return { co: l.negated, set };
}

function clause(c: Clause, scope: SetScope, depth: number): ValueSet {
  let acc = empty();
  for (const l of c.literals) acc = union(acc, literal(l, scope, depth));
  return acc;
}

/** Evaluates `q` in `scope`. */
export function evaluate(q: Q, scope: SetScope, depth = 0): ValueSet {
  checkDepth(depth);
  if (q.clauses.length === 0) return empty();
  let acc: ValueSet | null = null;
  for (const c of q.clauses) {
    const s = clause(c, scope, depth);
    acc = acc === null ? s : intersect(acc, s);
    if (!acc.co && acc.set.size === 0) return acc;
  }
  return acc!;
}

/**
 * The values of an evaluated set: a finite set in the order its values were met, a
 * complement by one pass over `universe` (distinct values). `keep`, when given, restricts
 * the output (a view).
 */
export function* materialise(result: ValueSet, universe: () => Iterable<Uint8Array>, keep?: Set<string>): Generator<Buffer> {
  if (!result.co) {
    for (const k of result.set) if (keep === undefined || keep.has(k)) yield valueOfKey(k);
    return;
  }
  for (const v of universe()) {
    const k = valueKey(v);
    if (!result.set.has(k) && (keep === undefined || keep.has(k))) yield Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
}
