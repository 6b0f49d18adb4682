// Runs a .tflite file in LiteRT.js's threaded build and prints its first output as JSON: a child process of the
// tests, started with --experimental-wasm-relaxed-simd (Node 20 validates relaxed SIMD, which the build needs, only so).
// Usage: node --experimental-wasm-relaxed-simd --import tsx test/support/litert-threads.ts FILE.tflite INPUT.bin THREADS

import { readFileSync } from 'node:fs';
import { compileTflite } from './litert.js';

const [file, input, threads] = process.argv.slice(2);
const model = await compileTflite(new Uint8Array(readFileSync(file)), Number(threads));
const bytes = readFileSync(input);
const [y] = await model.run([new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))]);
model.dispose();
process.stdout.write(`${JSON.stringify(Array.from(y))}\n`);
process.exit(0);
