#!/usr/bin/env node
/**
 * `main` is the `portico` bin (dist/cli/main.js). All logic lives in `cli.ts`, so the demo can run
 * the same command in-process.
 */
import { runMain } from './cli.js';

runMain(process.argv.slice(2));
