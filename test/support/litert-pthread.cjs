// The entry of LiteRT.js's pthread workers in Node: its threaded Emscripten glue compiled as CommonJS, as the main
// thread's loader shim (litert.ts) compiles it; the glue then sees workerData 'em-pthread' and serves as a pthread.
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { runInThisContext } = require('node:vm');

const file = join(dirname(require.resolve('@litertjs/core/package.json')), 'wasm', 'litert_wasm_threaded_internal.js');
runInThisContext(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file })(module.exports, createRequire(file), module, file, dirname(file));
