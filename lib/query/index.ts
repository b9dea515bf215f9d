/**
 * CNF queries: the Q language and the evaluation engine (`db.query`,
 * `db.metaquery` and `db.makeView` call it).
 */

export { Q, Clause, Literal, MAX_CLAUSES, MAX_DEPTH, MAX_DEREF_DEPTH, MAX_LITERALS } from './q.js';
export { DiscoDBView, makeView, metaquery, query, queryCount, queryIds } from './engine.js';
export type { QueryableDB, QueryLike, QueryOptions } from './engine.js';
export {
  AndCursor,
  DedupCursor,
  HeapOrCursor,
  NotCursor,
  OrCursor,
  RangeCursor,
  ViewCursor,
  countIds,
} from './cursors.js';

