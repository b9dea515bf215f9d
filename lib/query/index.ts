/**
 * CNF queries: the Q language and the evaluation engine. Importing this module
 * also installs `db.query`, `db.metaquery` and `db.makeView` on the reader.
 */
import { extensions, type DiscoDB } from '../reader/discodb.js';
import { makeView, metaquery, query, type QueryOptions, type QueryLike } from './engine.js';

export { Q, Clause, Literal, MAX_CLAUSES } from './q.js';
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

extensions.query = (db: DiscoDB<any>, q: unknown, options?: unknown) => query(db, q as QueryLike, options as QueryOptions | undefined);
extensions.metaquery = (db: DiscoDB<any>, q: unknown) => metaquery(db, q as QueryLike);
extensions.makeView = (db: DiscoDB<any>, values) => makeView(db, values);
