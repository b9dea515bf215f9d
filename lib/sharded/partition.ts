/**
 * Which records belong to which shard. A record is split into its (key, value) items;
 * under `value` partitioning each item goes to the shard of its value (a key alone, to the
 * shard of its key), under `key` partitioning the whole record goes to the shard of its key.
 * The pieces keep the record's order, so a shard's file is exactly the plain writer's build of
 * its pieces.
 */
import { DiscoDBError } from '../errors.js';
import type { Bytes } from '../writer/index.js';
import { checkShardCount, shardOf } from './hash.js';

/** How records are spread over the shards. */
export type PartitionBy = 'value' | 'key';

/** The partitionings, default first. */
export const PARTITIONINGS: readonly PartitionBy[] = ['value', 'key'];

/** Throws ERR_DISCODB_ARGUMENT unless `p` names a partitioning; undefined means `value`. */
export function checkPartitionBy(p: unknown): PartitionBy {
  if (p === undefined) return 'value';
  if (p === 'value' || p === 'key') return p;
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `partitionBy must be 'value' or 'key', got ${String(p)}`);
}

/** One record in the writer's normal form: a key and its values (none: the key alone). */
export interface ItemRecord {
  key: Bytes;
  values: Bytes[];
}

function isBytes(x: unknown): x is Bytes {
  return typeof x === 'string' || x instanceof Uint8Array;
}

function inputError(no: number, what: string): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_INPUT', `record ${no}: ${what}`, { record: no });
}

/**
 * Normalises any record shape the writer accepts (`{ key, value }`, `{ key, values }`,
 * `[key, value(s)]`, `{ key }`) to `{ key, values }`. Throws ERR_DISCODB_INPUT naming the
 * 1-based record number `no`, as the writer would.
 */
export function normaliseRecord(rec: unknown, no: number): ItemRecord {
  if (typeof rec !== 'object' || rec === null) throw inputError(no, 'expected { key, value }, { key, values } or [key, value]');
  let key: unknown;
  let slot: unknown;
  if (Array.isArray(rec)) {
    if (rec.length < 1 || rec.length > 2) throw inputError(no, 'a tuple record must be [key] or [key, value(s)]');
    key = rec[0];
    slot = rec[1];
  } else {
    const r = rec as { key?: unknown; value?: unknown; values?: unknown };
    if (r.values !== undefined && r.value !== undefined) throw inputError(no, 'a record cannot have both "value" and "values"');
    key = r.key;
    slot = r.values !== undefined ? r.values : r.value;
    if (r.values === undefined && slot !== undefined && slot !== null && !isBytes(slot)) {
      throw inputError(no, 'value must be a string or a Uint8Array (use "values" for several)');
    }
  }
  if (!isBytes(key)) throw inputError(no, 'key must be a string or a Uint8Array');
  if (slot === undefined || slot === null) return { key, values: [] };
  if (isBytes(slot)) return { key, values: [slot] };
  if (typeof (slot as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw inputError(no, 'values must be an array or iterable of strings/Uint8Arrays');
  }
  const values = Array.from(slot as Iterable<unknown>);
  for (let i = 0; i < values.length; i++) {
    if (!isBytes(values[i])) throw inputError(no, `values[${i}] must be a string or a Uint8Array`);
  }
  return { key, values: values as Bytes[] };
}

/**
 * Splits a normalised record over `n` shards: calls `emit(shard, piece)` once per shard that
 * gets part of it, in ascending shard order. A piece with no values is the key alone.
 */
export function splitRecord(rec: ItemRecord, n: number, partitionBy: PartitionBy, emit: (shard: number, piece: ItemRecord) => void): void {
  if (partitionBy === 'key' || rec.values.length === 0 || n === 1) {
    emit(n === 1 ? 0 : shardOf(rec.key, n), rec);
    return;
  }
  if (rec.values.length === 1) {
    emit(shardOf(rec.values[0]!, n), rec);
    return;
  }
  const byShard = new Map<number, Bytes[]>();
  for (const v of rec.values) {
    const s = shardOf(v, n);
    const list = byShard.get(s);
    if (list === undefined) byShard.set(s, [v]);
    else list.push(v);
  }
  for (const s of [...byShard.keys()].sort((a, b) => a - b)) emit(s, { key: rec.key, values: byShard.get(s)! });
}

/**
 * The records of shard `shard` of `n`: the pieces of every record that belong to it, in input
 * order (what `discodb create OUT --shard I/N` keeps).
 */
export async function* shardRecords(
  records: Iterable<unknown> | AsyncIterable<unknown>,
  shard: number,
  n: number,
  partitionBy: PartitionBy = 'value',
): AsyncGenerator<ItemRecord> {
  checkShardCount(n);
  if (!Number.isInteger(shard) || shard < 0 || shard >= n) {
    throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `shard must be an integer from 0 to ${n - 1}, got ${String(shard)}`);
  }
  let no = 0;
  const kept: ItemRecord[] = [];
  for await (const rec of records as AsyncIterable<unknown>) {
    splitRecord(normaliseRecord(rec, ++no), n, partitionBy, (s, piece) => {
      if (s === shard) kept.push(piece);
    });
    while (kept.length > 0) yield kept.pop()!;
  }
}
