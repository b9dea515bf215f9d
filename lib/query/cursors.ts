/**
 * Query operators over ascending value-id cursors (spec §7.4). Each one is an
 * {@link IdCursor}: `next()` returns the next id (0 when exhausted) and
 * `seek(t)` the first id ≥ t, counting the current one (if the cursor already
 * stands on an id ≥ t it returns it again, as the reader's DeltaCursor does).
 *
 * All of them are lazy, hold O(children) state, allocate nothing per id, and
 * never emit an id twice (duplicates of multiset lists are skipped).
 */
import type { IdCursor } from '../reader/cursor.js';

/**
 * Intersection by leapfrog: the lead (the rarest child) proposes an id, every
 * other child seeks to it; a child that overshoots makes the lead seek to its
 * id. The number of seeks is about the size of the rarest list, so `rare AND
 * frequent` costs about the rare list (plus what the frequent list's seek
 * skips over).
 */
export class AndCursor implements IdCursor {
  /** children[0] leads; the array is kept as given (not copied). */
  private readonly children: IdCursor[];
  /** Last id each child after the lead returned (0 before its first seek); a plain array: cheaper to make than a typed one. */
  private readonly heads: number[];
  private cur = 0;
  private done = false;

  /** `children` should be ordered rarest first: the first one leads. */
  constructor(children: IdCursor[]) {
    if (children.length === 0) throw new RangeError('AndCursor needs at least one child');
    this.children = children;
    const heads: number[] = [];
    for (let i = 0; i < children.length; i++) heads.push(0);
    this.heads = heads;
  }

  next(): number {
    if (this.done) return 0;
    return this.align(this.children[0]!.next());
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    if (this.done) return 0;
    return this.align(this.children[0]!.seek(target));
  }

  /** Moves everyone to the first id ≥ `doc` present in all children. */
  private align(doc: number): number {
    const cs = this.children;
    const lead = cs[0]!;
    const heads = this.heads;
    const n = cs.length;
    outer: for (;;) {
      if (doc === 0) return this.finish();
      for (let i = 1; i < n; i++) {
        let h = heads[i]!;
        if (h < doc) {
          h = cs[i]!.seek(doc);
          if (h === 0) return this.finish();
          heads[i] = h;
        }
        if (h > doc) {
          doc = lead.seek(h);
          continue outer;
        }
      }
      this.cur = doc;
      return doc;
    }
  }

  private finish(): number {
    this.done = true;
    this.cur = 0;
    return 0;
  }
}

/**
 * Union of a few children by a linear minimum over their heads (cheaper than
 * a heap below ~8 children).
 */
export class OrCursor implements IdCursor {
  /** Kept as given (not copied). */
  private readonly children: IdCursor[];
  /** Current id of each child; 0 before it starts, Infinity once exhausted. */
  private readonly heads: number[];
  private cur = 0;

  constructor(children: IdCursor[]) {
    this.children = children;
    const heads: number[] = [];
    for (let i = 0; i < children.length; i++) heads.push(0);
    this.heads = heads;
  }

  next(): number {
    const cur = this.cur;
    const heads = this.heads;
    const cs = this.children;
    // Advance every child standing on the current id (all of them at the start).
    for (let i = 0; i < cs.length; i++) {
      if (heads[i] === cur) {
        let h: number;
        do h = cs[i]!.next();
        while (h !== 0 && h === cur);
        heads[i] = h === 0 ? Infinity : h;
      }
    }
    return this.pickMin();
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    const heads = this.heads;
    const cs = this.children;
    for (let i = 0; i < cs.length; i++) {
      if (heads[i]! < target) {
        const h = cs[i]!.seek(target);
        heads[i] = h === 0 ? Infinity : h;
      }
    }
    return this.pickMin();
  }

  private pickMin(): number {
    const heads = this.heads;
    let m = Infinity;
    for (let i = 0; i < heads.length; i++) if (heads[i]! < m) m = heads[i]!;
    // Exhausted: cur = 0 would make next() restart children at 0, so park
    // it on a value no head can equal.
    this.cur = m === Infinity ? -1 : m;
    return m === Infinity ? 0 : m;
  }
}

/** Union of many children through a binary min-heap of child indices keyed by their current ids. */
export class HeapOrCursor implements IdCursor {
  private readonly children: IdCursor[];
  private readonly heads: Float64Array;
  private readonly heap: Int32Array;
  private size = 0;
  private started = false;
  private cur = 0;

  constructor(children: IdCursor[]) {
    this.children = children;
    this.heads = new Float64Array(children.length);
    this.heap = new Int32Array(children.length);
  }

  next(): number {
    if (!this.started) return this.start(0);
    const cur = this.cur;
    const heads = this.heads;
    const heap = this.heap;
    while (this.size > 0 && heads[heap[0]!] === cur) {
      const i = heap[0]!;
      let h: number;
      do h = this.children[i]!.next();
      while (h !== 0 && h === cur);
      this.replaceTop(i, h);
    }
    return this.top();
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    if (!this.started) return this.start(target);
    const heads = this.heads;
    const heap = this.heap;
    while (this.size > 0 && heads[heap[0]!]! < target) {
      const i = heap[0]!;
      this.replaceTop(i, this.children[i]!.seek(target));
    }
    return this.top();
  }

  /** First move of every child (next() or seek(target)), then heapify. */
  private start(target: number): number {
    this.started = true;
    const cs = this.children;
    for (let i = 0; i < cs.length; i++) {
      const h = target === 0 ? cs[i]!.next() : cs[i]!.seek(target);
      if (h !== 0) {
        this.heads[i] = h;
        this.heap[this.size++] = i;
      }
    }
    for (let k = (this.size >> 1) - 1; k >= 0; k--) this.siftDown(k);
    return this.top();
  }

  private top(): number {
    const m = this.size > 0 ? this.heads[this.heap[0]!]! : 0;
    this.cur = m;
    return m;
  }

  /** Child `i` (at the root) moved to `h` (0 = exhausted). */
  private replaceTop(i: number, h: number): void {
    if (h === 0) {
      this.size--;
      if (this.size === 0) return;
      this.heap[0] = this.heap[this.size]!;
    } else {
      this.heads[i] = h;
    }
    this.siftDown(0);
  }

  private siftDown(k: number): void {
    const heap = this.heap;
    const heads = this.heads;
    const n = this.size;
    const item = heap[k]!;
    const key = heads[item]!;
    for (;;) {
      let c = 2 * k + 1;
      if (c >= n) break;
      if (c + 1 < n && heads[heap[c + 1]!]! < heads[heap[c]!]!) c++;
      if (heads[heap[c]!]! >= key) break;
      heap[k] = heap[c]!;
      k = c;
    }
    heap[k] = item;
  }
}

/**
 * Complement of a child within the universe 1..`universe`. It never
 * enumerates the universe unless asked to: `seek(t)` jumps straight to t and
 * only asks the child whether t is excluded.
 */
export class NotCursor implements IdCursor {
  private readonly child: IdCursor;
  private readonly universe: number;
  /** Next candidate id. */
  private pos = 1;
  /** The child's current id (0 before it starts). */
  private excluded = 0;
  private childDone = false;
  private cur = 0;

  constructor(child: IdCursor, universe: number) {
    this.child = child;
    this.universe = universe;
  }

  next(): number {
    return this.from(this.pos);
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    return this.from(target > this.pos ? target : this.pos);
  }

  private from(p: number): number {
    const u = this.universe;
    while (p <= u) {
      if (!this.childDone && this.excluded < p) {
        const x = this.child.seek(p);
        if (x === 0) this.childDone = true;
        this.excluded = x;
      }
      if (this.childDone || this.excluded !== p) {
        this.pos = p + 1;
        this.cur = p;
        return p;
      }
      p++;
    }
    this.pos = u + 1;
    this.cur = 0;
    return 0;
  }
}

/** Every id in 1..`universe` (a query whose clauses are all always true). */
export class RangeCursor implements IdCursor {
  private readonly last: number;
  private pos = 1;
  private cur = 0;

  constructor(universe: number) {
    this.last = universe;
  }

  next(): number {
    return this.at(this.pos);
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    return this.at(target > this.pos ? target : this.pos);
  }

  private at(p: number): number {
    if (p > this.last) {
      this.pos = this.last + 1;
      this.cur = 0;
      return 0;
    }
    this.pos = p + 1;
    this.cur = p;
    return p;
  }
}

/** One id (a list of one, already decoded). */
export class OneIdCursor implements IdCursor {
  private left: boolean;
  private readonly id: number;

  constructor(id: number) {
    this.id = id;
    this.left = id !== 0;
  }

  next(): number {
    if (!this.left) return 0;
    this.left = false;
    return this.id;
  }

  seek(target: number): number {
    if (this.left && this.id >= target) return this.next();
    this.left = false;
    return 0;
  }
}

/** The ids of a sorted, duplicate-free array (a view), with galloping seek. */
export class ViewCursor implements IdCursor {
  private readonly ids: Uint32Array;
  /** Index of the next id to return. */
  private idx = 0;
  private cur = 0;

  constructor(ids: Uint32Array) {
    this.ids = ids;
  }

  next(): number {
    const ids = this.ids;
    if (this.idx >= ids.length) {
      this.cur = 0;
      return 0;
    }
    this.cur = ids[this.idx++]!;
    return this.cur;
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    const ids = this.ids;
    const n = ids.length;
    let lo = this.idx;
    if (lo >= n) return this.next();
    if (ids[lo]! < target) {
      // Gallop: find a bound hi with ids[hi] ≥ target in O(log distance), then bisect.
      let step = 1;
      let hi = lo + 1;
      while (hi < n && ids[hi]! < target) {
        lo = hi;
        step *= 2;
        hi = lo + step;
      }
      if (hi > n) hi = n;
      // ids[lo] < target; answer in (lo, hi].
      lo++;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ids[mid]! < target) lo = mid + 1;
        else hi = mid;
      }
    }
    this.idx = lo;
    return this.next();
  }
}

/** Drops adjacent repeats of a child (the lists of a multiset db). */
export class DedupCursor implements IdCursor {
  private readonly child: IdCursor;
  private cur = 0;

  constructor(child: IdCursor) {
    this.child = child;
  }

  next(): number {
    const cur = this.cur;
    let h: number;
    do h = this.child.next();
    while (h !== 0 && h === cur);
    this.cur = h;
    return h;
  }

  seek(target: number): number {
    if (this.cur >= target && this.cur !== 0) return this.cur;
    this.cur = this.child.seek(target);
    return this.cur;
  }
}

/** Counts (and consumes) the remaining ids of a cursor. */
export function countIds(cursor: IdCursor): number {
  let n = 0;
  while (cursor.next() !== 0) n++;
  return n;
}
