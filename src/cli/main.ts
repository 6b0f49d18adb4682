#!/usr/bin/env node
// Entry point of the `mobilenet` executable: runs the CLI on process arguments and sets the exit code
// (0 success, 2 usage or input error, 1 unexpected failure with its stack).

import { enableWasmFeatures } from '../node/wasm-features.js';
import { main } from './cli.js';

enableWasmFeatures();

// `mobilenet summary | head -1`: once the reader has gone, the rest of the output has nowhere to go; stop quietly
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`mobilenet: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
