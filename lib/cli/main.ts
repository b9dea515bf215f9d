#!/usr/bin/env node
/** The `discodb` command. Everything is in run.ts; this file only wires it to the process. */
import { installWarningPrinter, runCli } from './run.js';

installWarningPrinter();
process.exitCode = await runCli(process.argv.slice(2));
