/** Merge and invert: new dbs from the items of existing ones. */
export { mergeDBs, invertDB, itemsOf, invertedItemsOf } from './combine.js';
export type { CombineItem } from './combine.js';
