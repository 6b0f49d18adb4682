// The `mobilenet` command: dispatches to subcommands and turns library errors into one clear line
// and exit code 2 (usage and input errors); anything unexpected propagates.

import { readFileSync } from 'node:fs';
import { MobileNetError, UsageError } from '../errors.js';
import { lookupTable } from '../lookup-table.js';
import { BENCH_HELP, benchCommand } from './bench.js';
import { CLASSIFY_HELP, classifyCommand } from './classify.js';
import { CONVERT_HELP, convertCommand } from './convert.js';
import { INSPECT_HELP, inspectCommand } from './inspect.js';
import { EVAL_HELP, evalCommand } from './eval.js';
import { TRAIN_HELP, trainCommand } from './train.js';
import { DEMO_HELP, demoCommand } from './demo.js';
import { DETECT_HELP, detectCommand } from './detect.js';
import { INFER_HELP, inferCommand } from './infer.js';
import { MAKE_SCENES_HELP, makeScenesCommand } from './make-scenes.js';
import { SEGMENT_HELP, segmentCommand } from './segment.js';
import type { CommandIO } from './io.js';
import { processIO } from './io.js';
import { SUMMARY_HELP, summaryCommand } from './summary.js';
import { QUANTIZE_HELP, quantizeCommand } from './quantize.js';

interface Command {
  brief: string;
  help: string;
  run(argv: string[], io: CommandIO): Promise<void>;
}

const COMMANDS = lookupTable<Command>({
  summary: { brief: 'per-layer shapes, parameters, MACs and activation memory of an architecture', help: SUMMARY_HELP, run: summaryCommand },
  infer: { brief: 'run a .npy batch through a model in any format, write the logits as .npy', help: INFER_HELP, run: inferCommand },
  convert: { brief: 'convert a model between formats: ours, safetensors, ONNX, TF.js, Keras H5 (in), .pt', help: CONVERT_HELP, run: convertCommand },
  inspect: { brief: 'format, metadata, layers, shapes, parameters and MACs of a model in any format', help: INSPECT_HELP, run: inspectCommand },
  train: { brief: 'train or fine-tune on a data folder, with checkpoints, resume, log and curves', help: TRAIN_HELP, run: trainCommand },
  eval: { brief: 'top-1/top-5 and per-class accuracy of a model file (float or int8) on a data folder', help: EVAL_HELP, run: evalCommand },
  quantize: { brief: 'int8 post-training quantization, calibrated on a data folder; float vs int8 accuracy', help: QUANTIZE_HELP, run: quantizeCommand },
  classify: { brief: 'top classes of PNG/JPEG images with a model in any format', help: CLASSIFY_HELP, run: classifyCommand },
  'make-scenes': { brief: 'a reproducible synthetic segmentation data set (VOC layout, COCO boxes) from Fashion-MNIST items', help: MAKE_SCENES_HELP, run: makeScenesCommand },
  segment: { brief: 'label masks (palette PNGs), overlays and class fractions of images with a segmenter', help: SEGMENT_HELP, run: segmentCommand },
  detect: { brief: 'objects in images with an SSD/SSDLite detector: classes, scores, boxes in pixels; boxes drawn', help: DETECT_HELP, run: detectCommand },
  bench: { brief: 'latency, images/s, planned arena and peak RSS of an engine', help: BENCH_HELP, run: benchCommand },
  demo: { brief: 'a tour: V2\'s summary, the papers\' cost comparisons, a timed batch on the engine', help: DEMO_HELP, run: demoCommand },
});

export const HELP = `mobilenet — MobileNetV1 and V2 in TypeScript

Usage: mobilenet <command> [flags]
       mobilenet <command> --help     that command's flags
       mobilenet --version

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(Math.max(...Object.keys(COMMANDS).map((n) => n.length)))} ${c.brief}`)
  .join('\n')}

With no --model, eval and classify use the bundled Fashion-MNIST model (npm start: eval on data/fashion-mnist).`;

/** The package's version, from the package.json beside src/ and dist/. */
export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.out(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(packageVersion());
    return 0;
  }
  const asked = name === 'help' ? rest[0] : name; // `mobilenet help eval` is `mobilenet eval --help`
  const command = COMMANDS[asked];
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(asked)}; commands: ${Object.keys(COMMANDS).join(', ')} (mobilenet --help)`);
    if (name === 'help' || rest.includes('--help') || rest.includes('-h')) {
      io.out(command.help);
      return 0;
    }
    await command.run(rest, io);
    return 0;
  } catch (e) {
    if (e instanceof MobileNetError) {
      io.err(`mobilenet ${name}: ${e.name}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
