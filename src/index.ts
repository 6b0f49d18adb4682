// The library's public API for Node and browsers alike: tensors, layers, graph, blocks, models,
// cost model and byte-level file formats. File and image I/O live in `mobilenet-ts/node`.

export * from './errors.js';
export { Tensor, toLayout, transpose, formatShape, sizeOf } from './tensor/tensor.js';
export type { Shape, Layout } from './tensor/tensor.js';
export { Random } from './tensor/random.js';

export type { Backend } from './backend/backend.js';
export { referenceBackend } from './backend/reference.js';
export { resolvePadding } from './ops/geometry.js';
export type { Padding4, PaddingMode } from './ops/geometry.js';
export type { Activation } from './ops/activation.js';

export { Layer } from './nn/layer.js';
export type { ParamSpec, ParamRole } from './nn/layer.js';
export { Conv2D, DepthwiseConv2D, ConvLayer } from './nn/conv.js';
export { BatchNormalization } from './nn/normalization.js';
export { ActivationLayer, ReLU, ReLU6, Softmax } from './nn/activation.js';
export { GlobalAveragePooling2D, GlobalMaxPooling2D, AveragePooling2D, MaxPooling2D } from './nn/pooling.js';
export { Resize } from './nn/resize.js';
export type { ResizeTarget } from './nn/resize.js';
export { ArgMax } from './nn/argmax.js';
export { input, InputLayer, Dense, Dropout, Add, ZeroPadding2D, Flatten, Reshape } from './nn/core.js';

export { SymbolicTensor } from './graph/symbolic.js';
export { Model } from './graph/model.js';
export type { ModelOutputs, RunOptions } from './graph/model.js';

export { convBN } from './blocks/conv-bn.js';
export { invertedResidual } from './blocks/inverted-residual.js';
export { residualBlock, invertedResidualBlock, invertedLinearResidualBlock, bottleneckBlock } from './blocks/seed-blocks.js';
export { resnetBottleneck } from './blocks/resnet-bottleneck.js';

export { mobilenetV2, MOBILENET_V2_BLOCKS } from './models/mobilenet-v2.js';
export type { MobileNetV2Options, BottleneckRow } from './models/mobilenet-v2.js';
export { mobilenetV1, MOBILENET_V1_BLOCKS } from './models/mobilenet-v1.js';
export type { MobileNetV1Options } from './models/mobilenet-v1.js';
export { deeplabV3 } from './models/deeplab-v3.js';
export type { DeepLabV3Options, DeepLabHead } from './models/deeplab-v3.js';
export { ssd, ssdLite } from './models/ssd.js';
export type { SsdOptions, SsdArchitectureOptions, SsdBackbone, SsdHead, SsdAnchorSettings } from './models/ssd.js';
export type { OutputStride } from './models/output-stride.js';
export { makeDivisible } from './models/rounding.js';
export { buildModel, ARCHITECTURES } from './models/registry.js';

export { modelCost, layerCost } from './cost/model-cost.js';
export type { ModelCost, LayerCost, ParamCounts } from './cost/model-cost.js';
export { separableVsStandard, residualVsInverted } from './cost/compare.js';
export { formatSummary } from './cost/format.js';

export { decodeNpy, encodeNpy } from './io/npy.js';
export { decodeSafetensors, encodeSafetensors } from './io/safetensors.js';
export { loadTorchStateDict, torchStateDict } from './io/torch-names.js';
export { loadWeights } from './io/named-weights.js';

export { loadModel, MobileNetClassifier, FetchError, bundledModelUrl, BUNDLED_MODEL_FILE } from './api/load-model.js';
export type { ModelSource, ImageSource, ImageDataLike, EncodedImage, LoadModelOptions, Prediction } from './api/load-model.js';
export { segment, overlayMask } from './api/segment.js';
export type { Segmentation, SegmentOptions, SegmentRunOptions, Segmenter, LoadedSegmenter } from './api/segment.js';
export { detect } from './api/detect.js';
export type { AnchorSource, DetectOptions, DetectRunOptions, ImageDetections, LoadedDetector } from './api/detect.js';
export { drawBoxes, rgbaOf } from './data/draw-boxes.js';
export type { DrawBoxesOptions, DrawnDetection, RgbaImage } from './data/draw-boxes.js';

export { WasmEngine } from './backend/wasm/engine.js';
export type { WasmEngineOptions } from './backend/wasm/engine.js';
export { createWasmTrainingBackends } from './backend/wasm/ops-backend.js';
export type { GradientBackend } from './backend/gradients.js';
export { referenceGradients } from './backend/gradients.js';
export { lowerModel } from './graph/lower.js';

export { ssdAnchors, ssdAnchorsPerLocation, defaultBoxes, defaultBoxesPerLocation, readAnchors } from './detect/anchors.js';
export type { SsdAnchorOptions, DefaultBoxOptions } from './detect/anchors.js';
export { decodeBoxes, encodeBoxes, cornersToCenters } from './detect/box-coder.js';
export { nms } from './detect/nms.js';
export type { NmsOptions } from './detect/nms.js';
export { postprocess, postprocessAsync, DEFAULT_POSTPROCESS } from './detect/postprocess.js';
export type { SliceOptions } from './detect/postprocess.js';
export { letterbox, resizeMapping, toSourceBox, toModelBox, mapDetections, letterboxImage } from './detect/letterbox.js';
export type { ImageSize, ResizeMapping, LetterboxOptions, LetterboxImageOptions } from './detect/letterbox.js';
export type { Box, BoxCodeOrder, Detection, DetectionHead, PostprocessOptions } from './detect/types.js';

export * from './data/index.js';
export { augmentBatch, randomCrop, randomHorizontalFlip, randomErasing } from './train/augment.js';
export { softmaxCrossEntropy } from './train/loss.js';
export { segmentationCrossEntropy } from './train/segmentation-loss.js';
export { SegmentationMetrics } from './train/segmentation-metrics.js';
export type { SegmentationEvaluation } from './train/segmentation-metrics.js';
export { DetectionMetrics, evaluateDetections, evaluateDetector, COCO_IOU_THRESHOLDS, EVALUATION_POSTPROCESS } from './train/detection-metrics.js';
export type { DetectionEvaluation, ClassAveragePrecision, DetectionMetricsOptions, TruthObject, ScoredObject, Detector, DetectorEvaluationOptions } from './train/detection-metrics.js';
export { SGD, RMSProp, RMSPropTF1, Adam, AdamW, createOptimizer, paramInfo } from './train/optimizers.js';
export type { Optimizer, OptimizerConfig } from './train/optimizers.js';
export { constantSchedule, exponentialDecay, stepDecay, cosineDecay, withWarmup } from './train/schedules.js';
export { clipGradNorm, clipGradValue } from './train/clip.js';
export { train, evaluate, trainSegmenter, evaluateSegmentation, trainDetector, evaluateDetectionSet } from './train/trainer.js';
export type { TrainConfig, TrainerState, EpochRecord, SegmentationData, DetectionData, DetectorEvaluation } from './train/trainer.js';
export { detectionTargets, matchAnchors } from './train/detection-targets.js';
export type { GroundTruth, MatchOptions, DetectionTargets } from './train/detection-targets.js';
export { detectionLoss } from './train/detection-loss.js';
export type { DetectionLossOptions, DetectionLossResult } from './train/detection-loss.js';
export { encodeCheckpoint, decodeCheckpoint } from './train/checkpoint.js';
export { freezeLayers, replaceHead, embed, transferWeights } from './train/finetune.js';
export { encodeModelFile, decodeModelFile } from './io/model-file.js';
export { decodeAnyModel, detectModelFormat, describeHead, guessPreprocessing, UnknownFormatError, MODEL_FORMATS } from './io/any-model.js';
export type { AnyModel, LoadAnyModelOptions, LoadPlannedOptions, ModelFormat, ModelInput } from './io/any-model.js';

export { decodeTfjsLayersModel, encodeTfjsLayersModel, parseTfjsModelJson, tfjsShardPaths } from './io/tfjs/layers-model.js';
export type { TfjsModelJson, TfjsImport, TfjsExport, TfjsImportOptions, TfjsExportOptions } from './io/tfjs/layers-model.js';
export { kerasTopologyToModel, assignKerasWeights } from './io/tfjs/keras-import.js';
export type { KerasImport, KerasWeightBinding } from './io/tfjs/keras-import.js';
export { modelToKerasTopology } from './io/tfjs/keras-export.js';
export { KERAS_APPLICATION_ALIASES } from './io/keras-h5/application-aliases.js';
export type { KerasH5Contents, KerasH5WeightsOptions } from './io/keras-h5/keras-h5.js';
export type { KerasArchive, KerasArchiveOptions } from './io/keras-h5/keras-archive.js';
export { UnsupportedGraphOpError, GRAPH_OPS } from './io/tfjs/graph-ops.js';
export type { TfjsGraphImport, TfjsGraphImportOptions, TfjsGraphInfo } from './io/tfjs/graph-model.js';
export { isTimmNaming, timmToTorchvisionV2, torchvisionToTimmV2, timmToOursV1, oursToTimmV1 } from './io/timm-names.js';
export { UnsafePickleError } from './io/pth/pickle.js';
// the heavy readers and writers load on first use: async here (the modules under src/io keep their synchronous forms)
export {
  decodeOnnx, parseOnnxModel, onnxToModel, externalDataLocations, encodeOnnx,
  decodeTorchStateDict, loadTorchCheckpoint, encodeTorchStateDict, readTorchPickle,
  readKerasH5, decodeKerasH5Model, loadKerasH5Weights, decodeKerasArchive, kerasVariablePaths,
  decodeTfjsGraphModel,
} from './api/readers.js';
export { UnsupportedOperatorError, ExternalDataError } from './io/onnx/errors.js';
export { decodeTflite } from './io/tflite/read.js';
export type { TfliteModel } from './io/tflite/read.js';
export { importTflite } from './io/tflite/import.js';
export type { TfliteImport } from './io/tflite/import.js';
export { encodeTflite } from './io/tflite/write.js';
export type { TfliteWriteOptions } from './io/tflite/write.js';
export { QuantizedModel, planForInt8 } from './quant/quantized-model.js';
export type { QuantizeOptions, QuantizedParts, Int8Weights } from './quant/quantized-model.js';
export type { PlannedModel } from './graph/plan.js';
export { runPlanOutputs, runPlanValues } from './backend/plan-reference.js';
export type { PlanValue } from './backend/plan-reference.js';
export { RangeObserver } from './quant/calibrate.js';
export { INT8_FILE_FORMAT, encodeInt8ModelFile, decodeInt8ModelFile } from './quant/int8-file.js';
export type { LoadedInt8Model } from './quant/int8-file.js';
export { affineParams, quantizeWeights, quantize, dequantize } from './quant/qparams.js';
export type { QParams, QuantizedWeights } from './quant/qparams.js';
export type { Int8Tensor } from './quant/int8-ops.js';
export { quantizationErrors } from './quant/error-report.js';
export type { StepError } from './quant/error-report.js';
