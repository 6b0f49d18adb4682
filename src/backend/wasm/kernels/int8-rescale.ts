// Int8 plan steps that rescale without weights, on the int8 GEMM's fixed-point epilogue (int8-epilogue.ts): requantize
// (TFLite's QUANTIZE of int8), TFLite's ADD of two int8 tensors, and the int8 global average pool.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import type { AddRequantization, Requantization } from '../../../quant/fixed-point.js';
import { LANES, checkPositiveInts, repeatWhile, roundUp } from './common.js';
import { BYTE_LANES, elementChunks } from './int8-elementwise.js';
import type { EpilogueScratch, Int8ConvWeights } from './int8-epilogue.js';
import { blockConstantBytes, emitRequantize, epilogueScratch, loadInt8AsInt32, narrowToInt8, packBlockConstants, storeBytes } from './int8-epilogue.js';

/** MBQM(x, 2^30, 1) = x: the requantization that keeps an int8 value, so that the epilogue's ADD runs alone. */
const IDENTITY: Requantization = { multiplier: Int32Array.of(2 ** 30), shift: Int32Array.of(1), zeroPoint: 0, range: [-128, 127] };

/**
 * Constants for the epilogue over `channels` channels (rounded up to whole vectors): accumulators get `bias` per channel
 * (one value for all: the channels are then 16 lanes that any run of values reuses), then `requant`, then `add`'s ADD.
 */
function packConstants(channels: number, bias: (channel: number) => number, requant: Requantization, add: AddRequantization | null): Uint8Array {
  const width = roundUp(channels, LANES);
  const out = new Uint8Array(blockConstantBytes(width, add !== null));
  const weights: Int8ConvWeights = { kernel: new Int8Array(channels), bias: Int32Array.from({ length: channels }, (_, c) => bias(c)), inputZeroPoint: 0, requant, add };
  packBlockConstants(new DataView(out.buffer), 0, weights, { first: 0, count: channels, width, kernelRows: 1, foldInputZeroPoint: false, residual: add !== null });
  return out;
}

/** The epilogue over up to 16 values whose int32 sums are in `sums`: requantized (and added to `other`'s bytes), narrowed, stored at y + offset. */
function finish(fn: FunctionBuilder, sums: readonly Local[], block: { block: Local; width: number; residual: boolean }, channel: number, s: EpilogueScratch, y: Local, offset: number, lanes: number, other: { pointer: Local; offset: number } | null): void {
  const quads = Math.ceil(lanes / LANES);
  for (let q = 0; q < quads; q++) {
    const n = Math.min(LANES, lanes - q * LANES);
    emitRequantize(fn, sums[q], block, channel + q * LANES, s, other && (() => loadInt8AsInt32(fn, other.pointer, other.offset + q * LANES, n, s.other)));
  }
  narrowToInt8(fn, sums.slice(0, quads), s.bytes);
  storeBytes(fn, y, offset, s.bytes, lanes);
}

/** Per-tensor constants: 16 channels' worth, shared by every run of 16 values. */
function flatConstants(bias: number, requant: Requantization, add: AddRequantization | null): Uint8Array {
  return packConstants(BYTE_LANES, () => bias, requant, add);
}

/**
 * Emits `name(x, y, samples, w)`, or with `residual` `name(x, b, y, samples, w)` (byte pointers), over samples of `size`
 * int8 values with one requantization for all of them: y = clamp(zy + MBQM(x + bias)), then TFLite's ADD of y and b.
 */
function emitFlat(mod: ModuleBuilder, name: string, size: number, residual: boolean): void {
  checkPositiveInts(name, { size });
  mod.function(name, residual ? ['i32', 'i32', 'i32', 'i32', 'i32'] : ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, b, y, samples, w] = (residual ? fn.params : [fn.params[0], fn.params[0], ...fn.params.slice(1)]) as [Local, Local, Local, Local, Local];
    const s = epilogueScratch(fn);
    const sums = Array.from({ length: BYTE_LANES / LANES }, () => fn.local('v128'));
    const streams = [x, y, ...(residual ? [b] : [])].map((pointer) => ({ pointer, elementBytes: 1 }));
    repeatWhile(fn, samples, () =>
      elementChunks(fn, size, streams, (lanes) => {
        for (let q = 0; q * LANES < lanes; q++) {
          loadInt8AsInt32(fn, x, q * LANES, Math.min(LANES, lanes - q * LANES), s.other);
          fn.set(sums[q]);
        }
        finish(fn, sums, { block: w, width: BYTE_LANES, residual }, 0, s, y, 0, lanes, residual ? { pointer: b, offset: 0 } : null);
      }),
    );
  });
}

/** Emits `name(x, y, samples, w)`: TFLite's QUANTIZE of int8 to other parameters, y = clamp(zy + MBQM(x − zx)); constants from `packRequantize`. */
export function emitInt8Requantize(mod: ModuleBuilder, name: string, spec: { size: number; channels: number; requant: Requantization }): void {
  if (spec.requant.multiplier.length === 1) {
    emitFlat(mod, name, spec.size, false);
    return;
  }
  // a multiplier per channel: each pixel's channels unrolled against their own constants
  const { size, channels } = spec;
  checkPositiveInts(name, { size, channels });
  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, samples, w] = fn.params as [Local, Local, Local, Local];
    const s = epilogueScratch(fn);
    const sums = Array.from({ length: BYTE_LANES / LANES }, () => fn.local('v128'));
    const pixels = fn.local('i32');
    fn.get(samples).i32.const(size / channels).i32.mul().set(pixels);
    const block = { block: w, width: roundUp(channels, LANES), residual: false };
    repeatWhile(fn, pixels, () => {
      for (let first = 0; first < channels; first += BYTE_LANES) {
        const lanes = Math.min(BYTE_LANES, channels - first);
        for (let q = 0; q * LANES < lanes; q++) {
          loadInt8AsInt32(fn, x, first + q * LANES, Math.min(LANES, lanes - q * LANES), s.other);
          fn.set(sums[q]);
        }
        finish(fn, sums, block, first, s, y, first, lanes, null);
      }
      fn.get(x).i32.const(channels).i32.add().set(x);
      fn.get(y).i32.const(channels).i32.add().set(y);
    });
  });
}

export function packRequantize(spec: { channels: number; inputZeroPoint: number; requant: Requantization }): Uint8Array {
  const bias = -spec.inputZeroPoint;
  return spec.requant.multiplier.length === 1 ? flatConstants(bias, spec.requant, null) : packConstants(spec.channels, () => bias, spec.requant, null);
}

/** Emits `name(a, b, y, samples, w)`: TFLite's ADD of int8 a and b (samples of `size` values); constants from `packAdd`. */
export function emitInt8Add(mod: ModuleBuilder, name: string, size: number): void {
  emitFlat(mod, name, size, true);
}

export function packAdd(add: AddRequantization): Uint8Array {
  return flatConstants(0, IDENTITY, add);
}

/**
 * Emits `name(x, y, samples, w)`: the int8 global average pool of [pixels, channels] samples, acc = Σ x over the map (the
 * −zx·pixels in the constants' bias), y = clamp(zy + MBQM(acc)); constants from `packGlobalAvgPool`.
 */
export function emitInt8GlobalAvgPool(mod: ModuleBuilder, name: string, spec: { pixels: number; channels: number }): void {
  const { pixels, channels } = spec;
  checkPositiveInts(name, { pixels, channels });
  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, samples, w] = fn.params as [Local, Local, Local, Local];
    const s = epilogueScratch(fn);
    const sums = Array.from({ length: BYTE_LANES / LANES }, () => fn.local('v128'));
    const xp = fn.local('i32');
    const left = fn.local('i32');
    const block = { block: w, width: roundUp(channels, LANES), residual: false };
    repeatWhile(fn, samples, () => {
      for (let first = 0; first < channels; first += BYTE_LANES) {
        const lanes = Math.min(BYTE_LANES, channels - first);
        const quads = Math.ceil(lanes / LANES);
        for (let q = 0; q < quads; q++) fn.v128.const(new Uint8Array(16)).set(sums[q]);
        fn.get(x).set(xp);
        fn.i32.const(pixels).set(left);
        repeatWhile(fn, left, () => {
          for (let q = 0; q < quads; q++) {
            fn.get(sums[q]);
            loadInt8AsInt32(fn, xp, first + q * LANES, Math.min(LANES, lanes - q * LANES), s.other);
            fn.i32x4.add().set(sums[q]);
          }
          fn.get(xp).i32.const(channels).i32.add().set(xp);
        });
        finish(fn, sums, block, first, s, y, first, lanes, null);
      }
      fn.get(x).i32.const(pixels * channels).i32.add().set(x);
      fn.get(y).i32.const(channels).i32.add().set(y);
    });
  });
}

export function packGlobalAvgPool(spec: { pixels: number; channels: number; inputZeroPoint: number; requant: Requantization }): Uint8Array {
  return packConstants(spec.channels, () => -spec.inputZeroPoint * spec.pixels, spec.requant, null);
}
