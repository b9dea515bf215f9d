/** Opening an input that is a discodb file or a sharded db directory. */
import * as fs from 'node:fs';
import { DiscoDB } from '../discodb.js';
import { ShardedDiscoDB } from './sharded.js';

/** A db read with buffer encoding: one file or a sharded directory. */
export type AnyDiscoDB = DiscoDB<Buffer> | ShardedDiscoDB<Buffer>;

/**
 * Opens `p` with buffer encoding: a directory as a sharded db (it needs its discodb.json
 * manifest), anything else as a db file.
 */
export function openAny(p: string): AnyDiscoDB {
  let dir = false;
  try {
    dir = fs.statSync(p).isDirectory();
  } catch {
    // Not there: DiscoDB.open reports it.
  }
  return dir ? ShardedDiscoDB.open(p, { encoding: 'buffer' }) : DiscoDB.open(p, { encoding: 'buffer' });
}
