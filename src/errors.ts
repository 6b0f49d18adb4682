// Typed errors for every bad input the library can meet: each names what was expected and what came.
// Callers catch by class (ShapeError, FormatError, ...) and show `message` to people as it is.

/** Base class: every error this library throws on purpose is a MobileNetError. */
export class MobileNetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor has the wrong rank, shape, size or layout. */
export class ShapeError extends MobileNetError {}

/** A configuration value (α, resolution, stride, padding, …) is out of range or inconsistent. */
export class ConfigError extends MobileNetError {}

/** A file is truncated, corrupt or not in the format it claims; `offset` is the byte where it went wrong. */
export class FormatError extends MobileNetError {
  constructor(message: string, readonly offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
  }
}

/**
 * Runs `body`; a typed error other than a FormatError that it throws (a layer's shape or configuration error
 * while an importer builds a graph) comes back as the FormatError `wrap` makes of its message, naming where in
 * the file it arose, with the original as its cause.
 */
export function asFormatError<T>(body: () => T, wrap: (message: string) => FormatError): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof FormatError || !(e instanceof MobileNetError)) throw e;
    const error = wrap(e.message);
    error.cause = e;
    throw error;
  }
}

/** A set of named weights does not fit a model: missing, unexpected, or mis-shaped tensors. */
export class WeightsError extends MobileNetError {
  constructor(message: string, readonly missing: string[] = [], readonly unexpected: string[] = []) {
    super(message);
  }
}

/** A command-line invocation is wrong: unknown flag, missing value, bad number. */
export class UsageError extends MobileNetError {}
