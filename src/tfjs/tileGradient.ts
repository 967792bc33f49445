/**
 * A gradient for `tf.tile` that is one reshape and one sum, instead of tfjs-core 4.22's loop of a
 * `slice` and an `add` per repetition (`Tile_grad.ts`: `reps₀·reps₁·…` kernel calls, ranks ≤ 4 only).
 *
 * tfjs-layers' `LayerNormalization` tiles its gain and bias to the input's full shape (a workaround in
 * its `call`, tfjs issue #2120), so their gradients run that loop over every position: 1024 slices and
 * adds per norm for a `[16, 64, 64]` input. On wasm each slice also copies the whole input out of the
 * heap; measured here, 10,240 slices took 0.9–1.2 s of a 1.4–1.9 s char-transformer `model.fit` step.
 *
 * The tiled tensor `y = tile(x, reps)` has `y[q₀·s₀ + i₀, q₁·s₁ + i₁, …] = x[i₀, i₁, …]` for `x` of
 * shape `s`, so `dx = Σ_q dy[q·s + i]`: `dy` reshaped to `[reps₀, s₀, reps₁, s₁, …]`, summed over the
 * `reps` axes. The same sums as tfjs-core's gradient, in another order (float32 rounding), for any rank.
 * The gradient registry is global: this changes `tf.tile`'s gradient on every backend (all faster).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

function tileGradFunc(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<string, () => tf.Tensor> {
  const [x] = saved;
  const grad = Array.isArray(dy) ? dy[0] : dy;
  const reps = attrs.reps as number[];
  return {
    x: () => {
      const split = x.shape.flatMap((s, i) => [reps[i], s]);
      const repAxes = x.shape.map((_, i) => 2 * i);
      return tf.reshape(tf.sum(tf.reshape(grad, split), repAxes), x.shape);
    },
  };
}

const ours: tf.GradConfig = { kernelName: 'Tile', inputsToSave: ['x'], gradFunc: tileGradFunc };

/** The gradient that {@link registerTileGradient} replaced, for {@link restoreTileGradient}. */
let replaced: tf.GradConfig | undefined;

/** Registers the summing `Tile` gradient; returns whether it did (false when it already is). */
export function registerTileGradient(): boolean {
  const current = tf.getGradient('Tile');
  if (current === ours) return false;
  replaced = current;
  tf.registerGradient(ours);
  return true;
}

/** Puts back the `Tile` gradient that was registered before {@link registerTileGradient}; returns whether it did. */
export function restoreTileGradient(): boolean {
  if (tf.getGradient('Tile') !== ours || replaced === undefined) return false;
  tf.registerGradient(replaced);
  replaced = undefined;
  return true;
}
