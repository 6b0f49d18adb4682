// Image file decoding for data sets and `classify`, in browsers and Node alike: the format is told by its
// magic bytes, PNG by fast-png, JPEG by jpeg-js, and the pixels converted to grey or RGB, raw 0..255, HWC.

import { convertIndexedToRgb, decode as decodePngFile, type DecodedPng } from 'fast-png';
import jpeg from 'jpeg-js';

import { FormatError } from '../errors.js';
import { hex } from './gzip.js';
import { Tensor } from '../tensor/tensor.js';
import { preprocessImage, type ImageShape, type PreprocessOptions } from './preprocess.js';

export type ImageFormat = 'png' | 'jpeg';

/** What went wrong with an image file: see ImageFileError. */
export type ImageProblem = 'corrupt' | 'mislabeled' | 'unsupported' | 'too-large';

/**
 * An image file that cannot be used: `corrupt` (bad magic, truncated, failed checksum, undecodable),
 * `mislabeled` (its extension names another format than its content), `unsupported` (a format or
 * variant the decoders lack), `too-large` (more pixels than allowed, or than the file can hold).
 */
export class ImageFileError extends FormatError {
  constructor(
    message: string,
    readonly source: string,
    readonly problem: ImageProblem,
    offset?: number,
  ) {
    super(message, offset);
  }
}

export interface DecodeImageOptions {
  /** Channels of the result: 1 grey or 3 RGB; default 1 for grey files, 3 otherwise. */
  channels?: 1 | 3;
  /** Names the file in errors. */
  source?: string;
  /** The format the file's name promises (from its extension): a different content is `mislabeled`. */
  expect?: ImageFormat;
  /** Largest width × height accepted (default 50 million): a header is not trusted to allocate more. */
  maxPixels?: number;
}

export interface DecodedImage {
  format: ImageFormat;
  shape: ImageShape;
  /** Raw values 0..255 (16-bit PNG samples divided by 257, so not always whole numbers), HWC. */
  pixels: Float32Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const FORMAT_NAMES: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG' };
/** zlib, like deflate, cannot expand more than about 1032:1. */
const MAX_ZLIB_RATIO = 1032;

/** The format by magic bytes: PNG's 8-byte signature, JPEG's SOI marker ff d8 ff. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** The format a file name's extension promises (.png, .jpg, .jpeg, any case), or undefined. */
export function imageFormatOfName(name: string): ImageFormat | undefined {
  const extension = /\.([^./\\]+)$/.exec(name)?.[1]?.toLowerCase();
  if (extension === 'png') return 'png';
  if (extension === 'jpg' || extension === 'jpeg') return 'jpeg';
  return undefined;
}

/**
 * Checks the magic bytes against `expect` without decoding: returns the format, or throws an
 * ImageFileError (`mislabeled` when the content is the other format, `corrupt` when it is neither).
 */
export function checkImageMagic(bytes: Uint8Array, source: string, expect?: ImageFormat): ImageFormat {
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    const wanted = expect ? `a ${FORMAT_NAMES[expect]} file` : 'a PNG or JPEG file';
    throw new ImageFileError(`${source}: not ${wanted} (starts with ${hex(bytes.subarray(0, 8))})`, source, 'corrupt', 0);
  }
  if (expect !== undefined && format !== expect) {
    throw new ImageFileError(
      `${source}: mislabeled: the name says ${FORMAT_NAMES[expect]} but the content is ${FORMAT_NAMES[format]} (starts with ${hex(bytes.subarray(0, 4))})`,
      source,
      'mislabeled',
      0,
    );
  }
  return format;
}

/** Decodes a PNG or JPEG file into raw 0..255 pixels with 1 or 3 channels. Throws ImageFileError. */
export function decodeImage(bytes: Uint8Array, options: DecodeImageOptions = {}): DecodedImage {
  const source = options.source ?? 'image';
  const format = checkImageMagic(bytes, source, options.expect);
  const maxPixels = options.maxPixels ?? 50e6;
  const raw = format === 'png' ? decodePng(bytes, source, maxPixels) : decodeJpeg(bytes, source, maxPixels);
  const channels = options.channels ?? (raw.channels <= 2 ? 1 : 3);
  return { format, shape: [raw.height, raw.width, channels], pixels: convertChannels(raw.samples, raw.channels, channels) };
}

export interface ImageTensorOptions extends PreprocessOptions, DecodeImageOptions {}

/** Decodes one image file into a [1, H, W, C] tensor, fitted to `size` and scaled per `pixels` (default 0..1). */
export function decodeImageTensor(bytes: Uint8Array, options: ImageTensorOptions = {}): Tensor {
  const image = decodeImage(bytes, options);
  const data = preprocessImage(image.pixels, image.shape, options);
  const [height, width] = options.size ?? image.shape;
  return new Tensor([1, height, width, image.shape[2]], data);
}

interface RawImage {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA */
  channels: number;
  samples: ArrayLike<number>;
}

function decodeJpeg(bytes: Uint8Array, source: string, maxPixels: number): RawImage {
  checkJpegFrame(bytes, source);
  try {
    const image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: maxPixels / 1e6,
      maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 16) / 2 ** 20)),
    });
    // jpeg-js always returns RGB; a grey JPEG has R = G = B, which the grey conversion maps back exactly
    return { width: image.width, height: image.height, channels: 3, samples: image.data };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const problem: ImageProblem = /maxResolutionInMP|maxMemoryUsageInMB|allocate/.test(reason)
      ? 'too-large'
      : /unsupported|not supported/i.test(reason)
        ? 'unsupported'
        : 'corrupt';
    const what = { 'too-large': 'JPEG too large', unsupported: 'unsupported JPEG', corrupt: 'corrupt JPEG', mislabeled: 'mislabeled JPEG' }[problem];
    throw new ImageFileError(`${source}: ${what} (${reason})`, source, problem);
  }
}

function decodePng(bytes: Uint8Array, source: string, maxPixels: number): RawImage {
  checkPngChunks(bytes, source, maxPixels);
  let png: DecodedPng;
  let samples: ArrayLike<number>;
  try {
    png = decodePngFile(bytes, { checkCrc: true });
    samples = png.palette ? convertIndexedToRgb(png) : png.data;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    const problem: ImageProblem = /unsupported|not supported/i.test(reason) ? 'unsupported' : 'corrupt';
    throw new ImageFileError(`${source}: ${problem} PNG (${reason}${cause})`, source, problem);
  }
  const channels = png.palette ? png.palette[0]?.length ?? 3 : png.channels;
  if (png.palette) return { width: png.width, height: png.height, channels, samples };
  if (png.depth === 16) {
    const scaled = new Float32Array(samples.length);
    for (let i = 0; i < scaled.length; i++) scaled[i] = samples[i] / 257;
    return { width: png.width, height: png.height, channels, samples: scaled };
  }
  if (png.depth < 8) return { width: png.width, height: png.height, channels, samples: unpackGrey(png.data, png.width, png.height, png.depth) };
  return { width: png.width, height: png.height, channels, samples };
}

/**
 * Huffman-coded JPEG (all jpeg-js reads) spends at least one bit per 8×8 block of the full-resolution
 * component in its first scan (a DC code, baseline or progressive), so a byte holds at most 512 pixels.
 */
const MAX_JPEG_PIXELS_PER_BYTE = 512;

/**
 * Finds the frame header (SOFn) and checks its size against what the file's bytes can hold, so a lying
 * header allocates nothing (jpeg-js sizes its buffers from the header before reading any scan).
 */
function checkJpegFrame(bytes: Uint8Array, source: string): void {
  let offset = 2;
  while (offset + 4 <= bytes.length && bytes[offset] === 0xff) {
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset++; // fill byte
      continue;
    }
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame && offset + 9 <= bytes.length) {
      const height = (bytes[offset + 5] << 8) | bytes[offset + 6];
      const width = (bytes[offset + 7] << 8) | bytes[offset + 8];
      if (width * height > MAX_JPEG_PIXELS_PER_BYTE * bytes.length) {
        throw new ImageFileError(
          `${source}: corrupt JPEG (header says ${width}×${height} pixels, more than ${bytes.length} bytes of JPEG can hold)`,
          source,
          'corrupt',
          offset + 5,
        );
      }
      return;
    }
    if (marker === 0xda) return; // start of scan: no frame header before it, which jpeg-js reports
    offset += 2 + length;
  }
}

/**
 * Walks the PNG chunks before decoding: a chunk running past the end is a truncated file (named with its
 * offset), and the header's size is checked against `maxPixels` and against what the compressed image
 * data can hold, so a lying header allocates nothing.
 */
function checkPngChunks(bytes: Uint8Array, source: string, maxPixels: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let bitsPerPixel = 0;
  let compressed = 0;
  let ended = false;
  while (!ended) {
    if (offset + 8 > bytes.length) throw new ImageFileError(`${source}: truncated PNG (ends at byte ${bytes.length} before the IEND chunk)`, source, 'corrupt', bytes.length);
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (offset + 12 + length > bytes.length) {
      throw new ImageFileError(
        `${source}: truncated PNG (chunk ${JSON.stringify(type)} at byte ${offset} needs ${length + 12} bytes, ${bytes.length - offset} left)`,
        source,
        'corrupt',
        bytes.length,
      );
    }
    if (offset === 8) {
      if (type !== 'IHDR' || length !== 13) throw new ImageFileError(`${source}: corrupt PNG (first chunk is ${JSON.stringify(type)}, expected IHDR)`, source, 'corrupt', offset);
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      const depth = bytes[offset + 16];
      const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[bytes[offset + 17]] ?? 0;
      bitsPerPixel = depth * channels;
      if (width * height > maxPixels) {
        throw new ImageFileError(`${source}: PNG of ${width}×${height} pixels is larger than the ${maxPixels} allowed`, source, 'too-large', offset + 8);
      }
    }
    if (type === 'IDAT') compressed += length;
    ended = type === 'IEND';
    offset += 12 + length;
  }
  const rawBytes = height * Math.ceil((width * bitsPerPixel) / 8);
  if (rawBytes > compressed * MAX_ZLIB_RATIO + 1024) {
    throw new ImageFileError(
      `${source}: corrupt PNG (header says ${width}×${height}, ${rawBytes} bytes of pixels, more than ${compressed} bytes of image data can hold)`,
      source,
      'corrupt',
      16,
    );
  }
}

/** Grey PNG samples of 1, 2 or 4 bits, packed per row, as 0..255 (full scale = 255, as libpng and PIL read them). */
function unpackGrey(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const maxValue = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = packed[y * rowBytes + (bit >> 3)];
      const value = (byte >> (8 - depth - (bit & 7))) & maxValue;
      out[y * width + x] = (value * 255) / maxValue;
    }
  }
  return out;
}

/**
 * Converts samples with 1–4 channels (grey, grey + alpha, RGB, RGBA) to 1 or 3 channels. Alpha is
 * dropped, as PIL's `convert` does; grey from RGB is PIL's ITU-R 601 luma in fixed point,
 * (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16, so values match PIL-made data sets exactly for 8-bit images.
 */
export function convertChannels(samples: ArrayLike<number>, from: number, to: 1 | 3): Float32Array {
  const count = samples.length / from;
  const out = new Float32Array(count * to);
  const colour = from >= 3;
  for (let i = 0; i < count; i++) {
    const s = i * from;
    if (to === 3) {
      out[3 * i] = samples[s];
      out[3 * i + 1] = samples[s + (colour ? 1 : 0)];
      out[3 * i + 2] = samples[s + (colour ? 2 : 0)];
    } else if (colour) {
      const r = samples[s];
      const g = samples[s + 1];
      const b = samples[s + 2];
      const whole = Number.isInteger(r) && Number.isInteger(g) && Number.isInteger(b);
      out[i] = whole ? (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16 : 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      out[i] = samples[s];
    }
  }
  return out;
}
