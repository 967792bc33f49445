/**
 * Power-of-two rescaling that keeps float32 sums of squares finite for every finite input.
 *
 * Frobenius norms, Gram matrices, AOL row sums and RMS values square their input: float32 overflows at
 * `|x|² · n > 3.4e38` (a 64×32 gradient of entries ≈ 1e19 already gives `‖G‖²_F = Inf`, hence a zero or
 * NaN update), and the squares of tiny entries underflow to zero. Dividing by `max|x|` first fixes
 * both, and dividing by a *power of two* near it is exact in binary floating point (only the exponent
 * changes), so every later operation sees the same significands and rounds the same way: with
 * `s = 2^e`, `x/(‖x‖_F + ε)` and `(x/s)/(‖x/s‖_F + ε/s)` are the same float32 numbers whenever nothing
 * under- or overflows, and only the second stays finite when something would.
 *
 * The rescale is applied only when it is needed — `max|x|` outside `[2^-32, 2^32]` — so inputs in the
 * everyday range go through unchanged (bit for bit, whatever the backend's `pow`), and the golden
 * replays cannot move. Inside that range a sum of squares of n entries overflows only for
 * `n > 2^64` and no entry near the maximum underflows.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Below this `max|x|` (and above 0) an input is rescaled. */
export const RESCALE_BELOW = 2 ** -32;
/** Above this `max|x|` an input is rescaled. */
export const RESCALE_ABOVE = 2 ** 32;
/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The power of two `2^e` (e clamped to [−126, 127], normal float32s) by which to divide an input whose
 * largest magnitude is `maxAbs`: 1 when `maxAbs` is in `[2^-32, 2^32]`, zero, or not finite (a NaN/Inf
 * input is the non-finite guard's business, not rescued here).
 */
export function powerOfTwoScale(maxAbs: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(maxAbs) || (maxAbs >= RESCALE_BELOW && maxAbs <= RESCALE_ABOVE)) return 1;
  return 2 ** Math.max(-126, Math.min(127, Math.floor(Math.log2(maxAbs))));
}

/**
 * {@link powerOfTwoScale} of `max|x|` as a float32 scalar tensor, computed on the device (no read-back).
 * Not tidied: call inside `tf.tidy`.
 */
export function powerOfTwoScaleOf(x: tf.Tensor): tf.Scalar {
  if (x.size === 0) return tf.scalar(1); // no max of nothing
  const m = tf.max(tf.abs(x));
  const outside = tf.logicalAnd(
    tf.logicalAnd(tf.greater(m, 0), tf.isFinite(m)),
    tf.logicalOr(tf.less(m, RESCALE_BELOW), tf.greater(m, RESCALE_ABOVE)),
  );
  // log of 0 or Inf is never used: `where` picks 1 there.
  const e = tf.clipByValue(tf.floor(tf.div(tf.log(m), Math.LN2)), -126, 127);
  return tf.where(outside, tf.pow(tf.scalar(2), e), tf.scalar(1)) as tf.Scalar;
}

/**
 * `x / s` and `s` (see {@link powerOfTwoScaleOf}): the input brought into the range where its squares
 * neither overflow nor underflow, exactly. Divide every absolute constant added to a norm of `x` (an ε)
 * by `s` as well (by `s²` for one added to a squared quantity). Not tidied.
 */
export function rescaleByPowerOfTwo(x: tf.Tensor): { x: tf.Tensor; scale: tf.Scalar } {
  const scale = powerOfTwoScaleOf(x);
  return { x: tf.div(x, scale), scale };
}

/**
 * The same on a float32 array (the native engines' input, already off the device): a rescaled copy and
 * `s`, or the array itself and 1 when no rescale is needed.
 */
export function rescaleArrayByPowerOfTwo(data: Float32Array): { data: Float32Array; scale: number } {
  let maxAbs = 0;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]);
    if (a > maxAbs || Number.isNaN(a)) maxAbs = a;
    if (Number.isNaN(a)) break;
  }
  const scale = powerOfTwoScale(maxAbs);
  if (scale === 1) return { data, scale };
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] / scale;
  return { data: out, scale };
}

/**
 * `min(x, float32 max)`: a second-moment accumulator (`v ← β₂v + (1−β₂)g²`) saturates instead of
 * becoming Inf when `|g| ≳ 1.8e19` — the update stays finite (`m/√max`, a small step) and the state
 * recovers as new gradients come, where an Inf would freeze the parameter for good (`m/√Inf = 0` at
 * every later step). Changes no finite value, so no bit of an everyday run. Not tidied.
 *
 * Computed as `clipByValue(x, −Inf, max)`: tfjs-backend-wasm's `Minimum` is a scalar loop (3.0 ms on a
 * 784×512 tensor, ~10× a multiply; 3.7 of AdamW's 9.4 ms step on the fashion MLP), its `ClipByValue` an
 * XNNPACK clamp. The one difference: a NaN entry (reachable only with `nonFinite: 'ignore'`) comes out
 * NaN on cpu and −Inf on wasm — non-finite either way, and so is the update it produces.
 */
export function saturate(x: tf.Tensor): tf.Tensor {
  return tf.clipByValue(x, -Infinity, FLOAT32_MAX);
}
