// `mobilenet demo`: a tour of MobileNetV2 1.0-224's summary, the papers' cost comparisons beside their published
// figures, and a timed batch on the engine users run (WebAssembly where SIMD validates, else the reference kernels).

import { residualVsInverted, separableVsStandard } from '../cost/compare.js';
import { formatSummary, table, thousands } from '../cost/format.js';
import { modelCost } from '../cost/model-cost.js';
import { PUBLISHED_FIGURES, figureLabel, figureModel, figureParams } from '../cost/paper-figures.js';
import { MOBILENET_V1_BLOCKS } from '../models/mobilenet-v1.js';
import { buildModel } from '../models/registry.js';
import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { numberFlag, parse, POSITIVE_INTEGER } from './args.js';
import { modelRunner } from '../backend/model-runner.js';
import type { CommandIO } from './io.js';

export const DEMO_HELP = `mobilenet demo [--batch N]
MobileNetV2 1.0-224's summary, standard vs depthwise-separable convolution, residual vs inverted
residual blocks, MobileNetV1 vs V2 beside the published figures, then a timed batch of random images
on the WebAssembly engine (the reference kernels where SIMD is unavailable).
  --batch N                          images in the timed batch (default 2)`;

const millions = (n: number, digits = 1): string => (n / 1e6).toFixed(digits);

export async function demoCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { batch: { type: 'string' } }, 'demo');
  const batch = numberFlag(values, 'batch', POSITIVE_INTEGER) ?? 2;
  const v2 = buildModel('mobilenet_v2');
  io.out(formatSummary(modelCost(v2)));

  io.out('\nStandard vs depthwise-separable 3×3 convolution, MobileNetV1 1.0-224 layers (MobileNets paper, §3.1):');
  const seen = new Set<string>();
  const rows: string[][] = [];
  let size = 112;
  let channels = 32;
  for (const [out, stride] of MOBILENET_V1_BLOCKS) {
    size = Math.ceil(size / stride);
    const key = `${channels}-${out}-${size}`;
    if (!seen.has(key)) {
      seen.add(key);
      const c = separableVsStandard(3, channels, out, size);
      rows.push([`Dk 3, M ${channels}, N ${out}, DF ${size}`, millions(c.standardMacs), millions(c.separableMacs), c.ratio.toFixed(4), (1 / out + 1 / 9).toFixed(4)]);
    }
    channels = out;
  }
  io.out(table(['layer', 'standard MMACs', 'separable MMACs', 'ratio', '1/N + 1/Dk²'], rows));

  io.out('\nResidual (wide → narrow → wide) vs inverted residual (narrow → wide → narrow), expansion 4, 28×28 map:');
  io.out(
    table(
      ['wide / narrow', 'residual params', 'inverted params', 'residual MMACs', 'inverted MMACs'],
      [16, 32, 64, 128, 256].map((narrow) => {
        const c = residualVsInverted(4 * narrow, narrow, 28);
        return [`${4 * narrow} / ${narrow}`, thousands(c.residual.params.weights), thousands(c.inverted.params.weights), millions(c.residual.macs, 2), millions(c.inverted.macs, 2)];
      }),
    ),
  );

  io.out('\nMobileNetV1 vs V2, SSDLite and Mobile DeepLabv3, ours beside the published figures (MMACs / M params; SSDLite and DeepLab params with BN γ, β):');
  io.out(
    table(
      ['model', 'source', 'MACs (ours)', 'MACs (printed)', 'params (ours)', 'params (printed)'],
      PUBLISHED_FIGURES.map((f) => {
        const c = modelCost(figureModel(f));
        return [figureLabel(f), f.source, millions(c.macs), String(f.macsMillions), millions(figureParams(f, c.params), 3), f.paramsMillions === undefined ? '—' : String(f.paramsMillions)];
      }),
    ),
  );
  for (const f of PUBLISHED_FIGURES) if (f.oursDiffers) io.out(`${figureLabel(f)}: ${f.oursDiffers.why}`);

  const x = new Tensor([batch, 224, 224, 3], new Random(1).fillUniform(new Float32Array(batch * 224 * 224 * 3), -1, 1));
  const runner = await modelRunner(v2);
  io.err(`\nrunning a batch of ${batch} through ${v2.name} (${runner.engine} engine, randomly initialised weights) …`);
  runner.predict(x); // the first run sizes the engine's buffers: not timed
  const started = performance.now();
  const y = runner.predict(x);
  const ms = performance.now() - started;
  await runner.dispose();
  io.out(`batch of ${batch} on the ${runner.engine} engine: ${ms.toFixed(0)} ms, ${((1000 * batch) / ms).toFixed(2)} images/s, output [${y.shape.join(', ')}]`);
}
