/**
 * The command-line surface of sharded dbs, merge and invert: the options `create` gains and
 * the `manifest`, `merge` and `invert` commands (spec.ts splices them into its table), and
 * which invocations run.ts routes to shards.ts / combine.ts.
 */
import type { CommandSpec, OptionSpec } from './spec.js';
import type { OptionValues } from './args.js';

const partitionBy: OptionSpec = {
  type: 'string',
  arg: 'HOW',
  help: 'with --shards/--shard: value (default: records with the same value share a shard) or key (a key lives in one shard)',
};

/** Options `create` gains. */
export const SHARDED_CREATE_OPTIONS: Record<string, OptionSpec> = {
  shards: { type: 'string', arg: 'N', help: 'build a sharded db: OUT is a directory of N shard files part-I.ddb and a manifest' },
  shard: { type: 'string', arg: 'I/N', help: 'build only shard I of N (0-based) into the file OUT: keep only that shard\'s records' },
  'partition-by': partitionBy,
  jobs: { type: 'string', short: 'j', arg: 'J', help: 'with --shards: build J shards at a time in worker threads (default 1)' },
};

const writerOptions: Record<string, OptionSpec> = {
  'unique-items': { type: 'boolean', help: 'drop repeated values of a key' },
  'no-compression': { type: 'boolean', help: 'never compress values' },
  memory: { type: 'string', short: 'm', arg: 'SIZE', help: 'memory budget of the writer, e.g. 256M or 2G' },
  tmpdir: { type: 'string', arg: 'DIR', help: 'directory for spill files' },
  quiet: { type: 'boolean', short: 'q', help: 'no summary' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

/** The commands this module adds. */
export const SHARDED_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'manifest',
    usage: 'DIR',
    summary: 'check the shard files DIR/part-I.ddb and write the manifest DIR/discodb.json',
    args: [1, 1],
    options: {
      shards: { type: 'string', arg: 'N', help: 'number of shards (required)' },
      'partition-by': { ...partitionBy, help: 'value (default) or key: how the shards were built' },
      quiet: { type: 'boolean', short: 'q', help: 'no summary' },
      help: { type: 'boolean', short: 'h', help: 'show this help' },
    },
    details:
      'For shards built one by one ("discodb create part-I.ddb --shard I/N ..." on any engine):\n' +
      'checks that each file is a discodb holding only records of its shard, then writes the\n' +
      'manifest atomically (sizes, SHA-256s, counts). The directory then reads as one db.\n' +
      '\n' +
      'Example:\n' +
      '  for i in 0 1 2 3; do discodb create idx/part-$i.ddb --shard $i/4 in.jsonl & done; wait\n' +
      '  discodb manifest idx --shards 4',
  },
  {
    name: 'merge',
    usage: 'OUT.ddb IN...',
    summary: 'merge dbs (files or sharded directories) into one db',
    args: [2, Infinity],
    options: writerOptions,
    details:
      'The result is the build from the inputs one after another, each key in stored order with its\n' +
      'values in order (reproducible, byte for byte); --unique-items drops repeated pairs.',
  },
  {
    name: 'invert',
    usage: 'OUT.ddb IN',
    summary: 'invert a db: every (key, value) becomes (value, key)',
    args: [2, 2],
    options: writerOptions,
    details: 'Items are taken in stored order; keys without values are dropped.',
  },
];

/** True when run.ts must hand the invocation to shards.ts or combine.ts. */
export function isShardedInvocation(name: string, values: OptionValues): boolean {
  if (name === 'manifest' || name === 'merge' || name === 'invert') return true;
  return name === 'create' && (values['shards'] !== undefined || values['shard'] !== undefined);
}
