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

/** A set of named weights does not fit a model: missing, unexpected, or mis-shaped tensors. */
export class WeightsError extends MobileNetError {
  constructor(message: string, readonly missing: string[] = [], readonly unexpected: string[] = []) {
    super(message);
  }
}

/** A command-line invocation is wrong: unknown flag, missing value, bad number. */
export class UsageError extends MobileNetError {}
