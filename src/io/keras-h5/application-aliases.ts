// Keras applications' classifier names as ours, apart from the H5 reader so that the library's entry exports them
// without loading the reader (and jsfive) before a Keras file is met.

/**
 * The classifier of Keras's applications files: MobileNetV2's Dense `Logits` (`predictions` in newer
 * Keras) and MobileNetV1's 1×1 Conv2D `conv_preds`; both are our Dense `predictions`.
 */
export const KERAS_APPLICATION_ALIASES: Readonly<Record<string, string>> = { Logits: 'predictions', conv_preds: 'predictions' };
