// The channel-rounding rule of MobileNetV2 (TF-slim's `_make_divisible`, shared by Keras and torchvision):
// round to the nearest multiple of `divisor`, at least `divisor`, never more than 10% below the request.

/** make_divisible(v, d) = max(d, floor(v + d/2) / d · d), plus d if that falls below 0.9·v. */
export function makeDivisible(value: number, divisor = 8, minValue = divisor): number {
  let rounded = Math.max(minValue, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

/**
 * Channels of a layer with `channels` at width multiplier α. torchvision rounds c·α; Keras truncates
 * c·α to an integer first (`int(c * alpha)`); the two differ at some non-standard α.
 */
export function scaledChannels(channels: number, alpha: number, divisor: number, convention: 'torchvision' | 'keras'): number {
  const scaled = channels * alpha;
  return makeDivisible(convention === 'keras' ? Math.trunc(scaled) : scaled, divisor);
}
