/**
 * `mergeDBs` and `invertDB`: new dbs made from the items of existing ones, through the
 * bounded-memory writer. Both are defined as a plain build from a sequence of items, so their
 * output is reproducible and byte-identical to that build.
 */
import * as path from 'node:path';
import { DiscoDBError } from '../errors.js';
import { buildFile, type WriterOptions } from '../writer/index.js';
import { openAny, type AnyDiscoDB } from '../sharded/open.js';

/** One add of the writer: a key and a value, or the key alone. */
export type CombineItem = { key: Buffer; value: Buffer } | { key: Buffer };

/**
 * The items of `db` in stored order: each key (in `keys()` order) with each of its values
 * in order; a key without values as the key alone.
 */
export function* itemsOf(db: AnyDiscoDB): Generator<CombineItem> {
  for (const [key, values] of db.items()) {
    let any = false;
    for (const value of values) {
      any = true;
      yield { key, value };
    }
    if (!any) yield { key };
  }
}

/** The inverted items of `db`: every (key, value) as (value, key), in stored order; keys without values give nothing. */
export function* invertedItemsOf(db: AnyDiscoDB): Generator<CombineItem> {
  for (const [key, values] of db.items()) for (const value of values) yield { key: value, value: key };
}

function checkPaths(out: string, inputs: string[], what: string): void {
  if (typeof out !== 'string' || out === '') throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what} needs an output path`);
  if (inputs.length === 0) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what} needs at least one input`);
  const target = path.resolve(out);
  for (const i of inputs) {
    if (typeof i !== 'string' || i === '') throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what}: an input path must be a non-empty string`);
    if (path.resolve(i) === target) throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `${what}: the output ${out} is also an input`);
  }
}

/** Opens every input, runs `fn`, closes them all. */
async function withInputs<T>(inputs: string[], fn: (dbs: AnyDiscoDB[]) => Promise<T>): Promise<T> {
  const dbs: AnyDiscoDB[] = [];
  try {
    for (const i of inputs) dbs.push(openAny(i));
    return await fn(dbs);
  } finally {
    for (const d of dbs) d.close();
  }
}

/**
 * Merges dbs (files or sharded directories) into one db file at `out`: defined as building
 * from the inputs one after another, each key in stored order and its values in order
 * ({@link itemsOf}), with the writer's `options` (`uniqueItems` drops repeated pairs, as in
 * `discodb create`). Memory is bounded by the writer's `memoryLimit`.
 */
export async function mergeDBs(inputs: string[], out: string, options?: WriterOptions): Promise<void> {
  checkPaths(out, inputs, 'merge');
  await withInputs(inputs, (dbs) =>
    buildFile(
      (function* () {
        for (const db of dbs) yield* itemsOf(db);
      })(),
      out,
      options,
    ),
  );
}

/**
 * Inverts a db (a file or a sharded directory) into a db file at `out`: every (key, value)
 * becomes (value, key), in stored order ({@link invertedItemsOf}); keys without values are
 * dropped. Memory is bounded by the writer's `memoryLimit`.
 */
export async function invertDB(input: string, out: string, options?: WriterOptions): Promise<void> {
  checkPaths(out, [input], 'invert');
  await withInputs([input], (dbs) => buildFile(invertedItemsOf(dbs[0]!), out, options));
}
