// The graph importers' shared skeleton (io/graph-import): a toy format on the base, and the ONNX and TF.js op tables;
// expected names, messages and weights are written out by hand here.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError, ShapeError } from '../../src/errors.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';
import { ReLU } from '../../src/nn/activation.js';
import { Add, Dense, InputLayer } from '../../src/nn/core.js';
import type { Layer } from '../../src/nn/layer.js';
import { lookupTable } from '../../src/lookup-table.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { GraphImporter } from '../../src/io/graph-import/importer.js';
import type { ActivationValue, ConstantValue, OpConverter, OpTable } from '../../src/io/graph-import/importer.js';
import { UnsupportedOperatorError } from '../../src/io/onnx/errors.js';
import { ONNX_OPS, decodeOnnx } from '../../src/io/onnx/import.js';
import { modelProtoType } from '../../src/io/onnx/schema.js';
import { TFJS_GRAPH_OPS } from '../../src/io/tfjs/graph-converters.js';
import { GRAPH_OPS, UnsupportedGraphOpError, decodeTfjsGraphModel } from '../../src/io/tfjs/graph-model.js';

interface ToyNode {
  name: string;
  op: string;
  inputs: string[];
}
interface ToyActivation extends ActivationValue {
  symbol: SymbolicTensor;
}
type ToyValue = ToyActivation | ConstantValue<Tensor>;

class ToyError extends FormatError {}

/** A format with nodes `{ name, op, inputs }`, values by node name, and the base doing everything else. */
class ToyImporter extends GraphImporter<ToyNode, ToyActivation, Tensor> {
  readonly layers: Layer[] = [];
  constructor(private readonly constants: Record<string, Tensor>) {
    super('toy.json', { activationOnly: 'toy ops want activations', constantSources: ' (a Const node)' });
  }
  protected opOf(node: ToyNode): string {
    return node.op;
  }
  protected labelOf(node: ToyNode): string {
    return node.name;
  }
  protected outputOf(node: ToyNode): string {
    return node.name;
  }
  unsupported(reason?: string): ToyError {
    return new ToyError(`toy.json: no toy op ${this.node.op} at ${this.node.name}${reason ? `: ${reason}` : ''}`);
  }
  protected unknownOp(): ToyError {
    return this.unsupported();
  }
  input(k: number): ToyValue | undefined {
    const name = this.node.inputs[k];
    return name === undefined ? undefined : this.values.get(name);
  }
  layerName(): string {
    return this.unique(this.node.name);
  }
  apply(layer: Layer, inputs: ToyActivation[]): ToyActivation {
    this.layers.push(layer);
    return { kind: 'activation', symbol: layer.apply(inputs.map((v) => v.symbol)) };
  }
  run(nodes: ToyNode[], ops: OpTable<ToyImporter, ToyValue>): ToyValue | undefined {
    this.convertNodes(nodes, ops);
    this.assignWeights();
    return this.values.get(nodes.at(-1)!.name);
  }
  constant(name: string): Tensor {
    return this.constants[name];
  }
}

const TOY_OPS = lookupTable<OpConverter<ToyImporter, ToyValue>>({
  Input: (im) => im.apply(new InputLayer(im.layerName(), [2]), []),
  Const: (im) => ({ kind: 'constant', tensor: im.constant(im.node.name) }),
  Relu: (im) => im.apply(new ReLU(im.layerName()), [im.activationInput(0)]),
  Add: (im) => im.apply(new Add(im.layerName()), [im.activationInput(0), im.activationInput(1)]),
  Dense: (im) => {
    const x = im.activationInput(0);
    const kernel = im.constantInput(1, 'the kernel');
    const layer = new Dense(im.layerName(), { units: kernel.shape[1], useBias: false });
    const y = im.apply(layer, [x]);
    im.setWeight(layer, 'kernel', kernel);
    return y;
  },
});

const node = (name: string, op: string, ...inputs: string[]): ToyNode => ({ name, op, inputs });

describe('graph import base: a toy format that supplies only node access and its op table', () => {
  test('converts in order, names layers uniquely, counts operators and sets weights once the graph is built', () => {
    const kernel = new Tensor([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
    const im = new ToyImporter({ w: kernel });
    const out = im.run([node('x', 'Input'), node('r', 'Relu', 'x'), node('r', 'Relu', 'r'), node('w', 'Const'), node('d', 'Dense', 'r', 'w')], TOY_OPS);
    assert.equal(out?.kind, 'activation');
    const symbol = (out as ToyActivation).symbol;
    assert.deepEqual([...symbol.shape], [3]);
    assert.deepEqual(im.operators, { Input: 1, Relu: 2, Const: 1, Dense: 1 });
    // the second node named r gets r_2; the Dense layer's kernel is the Const's tensor
    assert.deepEqual([...im.values.keys()], ['x', 'r', 'w', 'd']);
    assert.deepEqual(im.layers.map((l) => l.name), ['x', 'r', 'r_2', 'd']);
    assert.deepEqual([...im.layers[3].param('kernel').data], [1, 2, 3, 4, 5, 6]);
  });

  test('an op the table lacks, "constructor" and "toString" included, is the format\'s unsupported error naming the node', () => {
    for (const op of ['Erf', 'constructor', 'toString', '__proto__']) {
      const im = new ToyImporter({});
      assert.throws(() => im.run([node('x', 'Input'), node('n1', op, 'x')], TOY_OPS), (e: unknown) => e instanceof ToyError && e.message === `toy.json: no toy op ${op} at n1`, op);
    }
  });

  test('input errors: a missing input, a constant where an activation goes, an activation where a constant goes', () => {
    const cases: [ToyNode[], new (...args: never[]) => Error, string][] = [
      [[node('x', 'Input'), node('a', 'Add', 'x')], FormatError, 'toy.json: node "a" (Add): input 1 is missing'],
      [[node('w', 'Const'), node('r', 'Relu', 'w')], ToyError, 'toy.json: no toy op Relu at r: input 0 is a constant; toy ops want activations'],
      [[node('x', 'Input'), node('d', 'Dense', 'x', 'x')], ToyError, 'toy.json: no toy op Dense at d: the kernel (input 1) must be a constant (a Const node)'],
    ];
    for (const [nodes, type, message] of cases) {
      const im = new ToyImporter({ w: new Tensor([2], new Float32Array(2)) });
      assert.throws(() => im.run(nodes, TOY_OPS), (e: unknown) => e instanceof type && (e as Error).message === message, message);
    }
  });

  test('a layer\'s own ShapeError comes back as a FormatError naming the node, the ShapeError as its cause', () => {
    const im = new ToyImporter({ w: new Tensor([2, 3], new Float32Array(6)) });
    assert.throws(
      () => im.run([node('x', 'Input'), node('w', 'Const'), node('d', 'Dense', 'x', 'w'), node('a', 'Add', 'x', 'd')], TOY_OPS),
      (e: unknown) => e instanceof FormatError && e.message.startsWith('toy.json: node "a" (Add): ') && (e as Error).cause instanceof ShapeError,
    );
  });
});

describe('graph import: the ONNX and TF.js op tables', () => {
  test('the TF.js table maps every op GRAPH_OPS lists (Placeholder is the importer\'s own), and nothing else', () => {
    assert.deepEqual([...Object.keys(TFJS_GRAPH_OPS), 'Placeholder'].sort(), [...GRAPH_OPS].sort());
  });

  test('both tables are prototype-less', () => {
    for (const table of [ONNX_OPS, TFJS_GRAPH_OPS]) {
      assert.equal(Object.getPrototypeOf(table), null);
      assert.ok(!('constructor' in table) && !('toString' in table));
    }
  });

  test('an ONNX node of op type "constructor" is an unsupported operator naming it', () => {
    const type = modelProtoType();
    const graph = { node: [{ opType: 'constructor', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }], output: [{ name: 'y' }] };
    const bytes = type.encode(type.fromObject({ irVersion: 7, opsetImport: [{ version: 13 }], graph })).finish();
    assert.throws(() => decodeOnnx(bytes, { source: 't.onnx' }), (e: unknown) => e instanceof UnsupportedOperatorError && e.message === 't.onnx: unsupported ONNX operator constructor in node "y"');
  });

  test('a TF.js node of op "toString" is an unsupported op naming it', () => {
    const modelJson = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } } } },
          { name: 'y', op: 'toString', input: ['x'] },
        ],
      },
      weightsManifest: [],
    };
    assert.throws(
      () => decodeTfjsGraphModel(modelJson, new Map(), { source: 't.json' }),
      (e: unknown) => e instanceof UnsupportedGraphOpError && e.message === `t.json: unsupported TensorFlow op toString in node "y": supported ops: ${GRAPH_OPS.join(', ')}`,
    );
  });
});
