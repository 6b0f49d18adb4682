// The parts of TFLite's schema (schema.fbs, file identifier "TFL3") that mobilenet-ts reads and writes: field slots of
// each table, the tensor type and builtin operator codes, and the BuiltinOptions union's members, written by hand.

/** Field slots: a field's position in its table's declaration (a union field takes two: its type, then its value). */
export const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, metadata: 6 } as const;
export const METADATA = { name: 0, buffer: 1 } as const;
export const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 } as const;
export const TENSOR = { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, sparsity: 6 } as const;
export const QUANTIZATION = { min: 0, max: 1, scale: 2, zeroPoint: 3, detailsType: 4, quantizedDimension: 6 } as const;
export const OPERATOR_CODE = { deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3 } as const;
export const OPERATOR = { opcodeIndex: 0, inputs: 1, outputs: 2, optionsType: 3, options: 4 } as const;
export const BUFFER = { data: 0, offset: 1, size: 2 } as const;

/** TensorType codes. */
export const TENSOR_TYPES = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8', 'float64'] as const;
export type TfliteType = (typeof TENSOR_TYPES)[number];
export const TENSOR_TYPE_CODE: Record<TfliteType, number> = Object.fromEntries(TENSOR_TYPES.map((t, i) => [t, i])) as Record<TfliteType, number>;

/** The builtin operators mobilenet-ts reads and writes, by BuiltinOperator code. */
export const BUILTIN_CODES = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  RESIZE_BILINEAR: 23,
  SOFTMAX: 25,
  PAD: 34,
  TRANSPOSE: 39,
  MEAN: 40,
  SQUEEZE: 43,
  PADV2: 60,
  QUANTIZE: 114,
  HARD_SWISH: 117,
} as const;
export type BuiltinOp = keyof typeof BUILTIN_CODES;
export const BUILTIN_NAMES = new Map<number, BuiltinOp>(Object.entries(BUILTIN_CODES).map(([name, code]) => [code, name as BuiltinOp]));
/** Codes from this one on live only in OperatorCode.builtin_code; below it, deprecated_builtin_code holds them too. */
export const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;

/** Members of the BuiltinOptions union (its type field's value) for the options tables read here. */
export const OPTIONS_TYPES = {
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  ConcatenationOptions: 10,
  AddOptions: 11,
  ResizeBilinearOptions: 15,
  ReshapeOptions: 17,
  MulOptions: 21,
  PadOptions: 22,
  TransposeOptions: 26,
  ReducerOptions: 27,
  SqueezeOptions: 30,
  DequantizeOptions: 38,
  QuantizeOptions: 89,
  HardSwishOptions: 91,
} as const;

/** Option table slots. */
export const CONV_OPTIONS = { padding: 0, strideW: 1, strideH: 2, activation: 3, dilationW: 4, dilationH: 5 } as const;
export const DEPTHWISE_OPTIONS = { padding: 0, strideW: 1, strideH: 2, depthMultiplier: 3, activation: 4, dilationW: 5, dilationH: 6 } as const;
export const POOL_OPTIONS = { padding: 0, strideW: 1, strideH: 2, filterW: 3, filterH: 4, activation: 5 } as const;
export const FULLY_CONNECTED_OPTIONS = { activation: 0, weightsFormat: 1, keepNumDims: 2 } as const;
export const SOFTMAX_OPTIONS = { beta: 0 } as const;
export const CONCATENATION_OPTIONS = { axis: 0, activation: 1 } as const;
/** AddOptions and MulOptions. */
export const ACTIVATION_ONLY_OPTIONS = { activation: 0 } as const;
export const RESIZE_BILINEAR_OPTIONS = { alignCorners: 2, halfPixelCenters: 3 } as const;
export const RESHAPE_OPTIONS = { newShape: 0 } as const;
export const REDUCER_OPTIONS = { keepDims: 0 } as const;
export const SQUEEZE_OPTIONS = { squeezeDims: 0 } as const;

/** Padding and ActivationFunctionType enums. */
export const PADDINGS = ['SAME', 'VALID'] as const;
export type TflitePadding = (typeof PADDINGS)[number];
export const ACTIVATIONS = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'] as const;
export type TfliteActivation = (typeof ACTIVATIONS)[number];

/** The name of the metadata buffer in which our exports keep their description (architecture, class names, preprocessing) as JSON. */
export const TFLITE_METADATA_NAME = 'mobilenet-ts';
