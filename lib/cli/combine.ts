/** `discodb merge OUT IN...` and `discodb invert OUT IN`. */
import { invertDB, mergeDBs } from '../combine/index.js';
import { flag, usageError, type OptionValues } from './args.js';
import { formatCount } from './progress.js';
import type { CommandResult } from './read.js';
import { writerOptions } from './shards.js';
import * as fs from 'node:fs';

/** Runs `merge` or `invert`. */
export async function runCombine(name: string, args: string[], values: OptionValues): Promise<CommandResult> {
  const out = args[0]!;
  const inputs = args.slice(1);
  const options = writerOptions(values);
  if (inputs.includes(out)) throw usageError(`the output ${out} is also an input`);
  if (name === 'merge') await mergeDBs(inputs, out, options);
  else if (name === 'invert') await invertDB(inputs[0]!, out, options);
  else throw usageError(`unknown command '${name}'`);
  if (!flag(values, 'quiet')) process.stderr.write(`discodb ${name}: ${out}: ${formatCount(fs.statSync(out).size)} bytes\n`);
  return { status: 0 };
}
