// The entry names of a Keras 3 `.keras` archive (a zip), apart from its reader so that format detection can tell
// an archive from a torch.save zip without loading the Keras and HDF5 readers.

export const KERAS_CONFIG_ENTRY = 'config.json';
export const KERAS_METADATA_ENTRY = 'metadata.json';
export const KERAS_WEIGHTS_ENTRY = 'model.weights.h5';
