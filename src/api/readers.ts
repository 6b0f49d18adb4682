// The heavy format readers and writers as the library's entry exports them: async functions that import their module
// (protobufjs for ONNX, jsfive for Keras H5, the pickle reader, the TF.js graph importer) on first use, not at start.

type AnyFunction = (...args: never[]) => unknown;
type FunctionKeys<M> = { [K in keyof M]: M[K] extends AnyFunction ? K : never }[keyof M];

/** `name` of the module `load` imports, as an async function: the module is imported at the first call. */
function onFirstUse<M, K extends FunctionKeys<M>>(load: () => Promise<M>, name: K) {
  type F = Extract<M[K], AnyFunction>;
  return async (...args: Parameters<F>): Promise<Awaited<ReturnType<F>>> => {
    const fn = (await load())[name] as F;
    return (await fn(...args)) as Awaited<ReturnType<F>>;
  };
}

const onnxImport = () => import('../io/onnx/import.js');
const onnxExport = () => import('../io/onnx/export.js');
const torch = () => import('../io/pth/torch-checkpoint.js');
const kerasH5 = () => import('../io/keras-h5/keras-h5.js');
const kerasArchive = () => import('../io/keras-h5/keras-archive.js');
const tfjsGraph = () => import('../io/tfjs/graph-model.js');

/** ONNX bytes → our model (see decodeAnyModel for any format): `await decodeOnnx(bytes, { source })`. */
export const decodeOnnx = onFirstUse(onnxImport, 'decodeOnnx');
/** ONNX bytes → the ModelProto, for onnxToModel and externalDataLocations. */
export const parseOnnxModel = onFirstUse(onnxImport, 'parseOnnxModel');
/** A parsed ONNX ModelProto → our model. */
export const onnxToModel = onFirstUse(onnxImport, 'onnxToModel');
/** The external-data files an ONNX ModelProto names. */
export const externalDataLocations = onFirstUse(onnxImport, 'externalDataLocations');
/** Our model → ONNX bytes (an int8 plan in QDQ form). */
export const encodeOnnx = onFirstUse(onnxExport, 'encodeOnnx');
/** A parsed quantized ONNX ModelProto (QDQ or QLinear operators) → an int8 plan. */
export const quantizedOnnxToPlan = onFirstUse(() => import('../io/onnx/qdq-import.js'), 'quantizedOnnxToPlan');

/** A torch.save file's state dict (safe unpickling: tensors and containers only). */
export const decodeTorchStateDict = onFirstUse(torch, 'decodeTorchStateDict');
/** A torch.save file's weights into a model, by torchvision, timm or our names. */
export const loadTorchCheckpoint = onFirstUse(torch, 'loadTorchCheckpoint');
/** A state dict → torch.save bytes that torch.load reads. */
export const encodeTorchStateDict = onFirstUse(torch, 'encodeTorchStateDict');
/** A torch.save file's pickle as plain values. */
export const readTorchPickle = onFirstUse(torch, 'readTorchPickle');

/** A Keras H5 file's layers, weights and model config. */
export const readKerasH5 = onFirstUse(kerasH5, 'readKerasH5');
/** A whole-model Keras H5 file → our model. */
export const decodeKerasH5Model = onFirstUse(kerasH5, 'decodeKerasH5Model');
/** A Keras H5 file's weights into a model, by layer name. */
export const loadKerasH5Weights = onFirstUse(kerasH5, 'loadKerasH5Weights');
/** A Keras 3 `.keras` archive → our model. */
export const decodeKerasArchive = onFirstUse(kerasArchive, 'decodeKerasArchive');
/** The weight paths a Keras 3 config gives its layers' variables in model.weights.h5. */
export const kerasVariablePaths = onFirstUse(kerasArchive, 'kerasVariablePaths');

/** A TF.js graph model (model.json and its shards) → our model. */
export const decodeTfjsGraphModel = onFirstUse(tfjsGraph, 'decodeTfjsGraphModel');
