/** Opening what a reading command names: a discodb file or a sharded db directory. */
import { openAny, type AnyDiscoDB } from '../sharded/open.js';

/** A db opened for reading with buffer encoding. */
export type ReadingDB = AnyDiscoDB;

/** Opens `path`: a directory with a discodb.json manifest as a sharded db, anything else as a db file. */
export function openForReading(path: string): ReadingDB {
  return openAny(path);
}
