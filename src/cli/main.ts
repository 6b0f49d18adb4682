#!/usr/bin/env node
// Entry point of the `mobilenet` executable: runs the CLI on process arguments and sets the exit code
// (0 success, 2 usage or input error, 1 unexpected failure with its stack).

import { enableWasmFeatures } from '../node/wasm-features.js';
import { main } from './cli.js';

enableWasmFeatures();

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`mobilenet: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
