/**
 * Adam's scaling by bias-corrected first and second moments.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation } from '../core/transform.js';
import { saturate } from '../linalg/scale.js';

/** Options of {@link scaleByAdam}. */
export interface ScaleByAdamOptions {
  readonly beta1: number;
  readonly beta2: number;
  /** Added to `√v̂` (after bias correction, as torch and KellerJordan/Muon's auxiliary Adam do). */
  readonly epsilon: number;
  /** AMSGrad (Reddi et al., 2018): divide by the running maximum of `v` instead of `v`. */
  readonly amsgrad: boolean;
}

/**
 * Kingma & Ba, "Adam: A Method for Stochastic Optimization" (arXiv 1412.6980), in torch's form
 * (torch 1.13 `adam.py`, `_single_tensor_adam`): `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * output `(m / (1−β₁ᵗ)) / (√v / √(1−β₂ᵗ) + ε)`, with `√v` replaced by `√max(v)` under AMSGrad.
 * State: `{ mu, nu }` (+ `nuMax` with AMSGrad), one slot per parameter.
 *
 * Float32 limit (as in torch's float32 Adam): for gradient entries above ≈1.8e19 in magnitude `g²`
 * overflows, `v` becomes Infinity and that entry's update is 0 — no error is raised, the parameters stay
 * finite. Scale such gradients (or clip them with `clipByGlobalNorm`) before this transform.
 */
export function scaleByAdam(options: ScaleByAdamOptions): GradientTransformation {
  const { beta1, beta2, epsilon, amsgrad } = options;
  return {
    init: (metas) => {
      const zeros = () => metas.map((m) => tf.zeros([...m.shape]));
      const state: { [slot: string]: tf.Tensor[] } = { mu: zeros(), nu: zeros() };
      if (amsgrad) state.nuMax = zeros();
      return state;
    },
    update(updates, state, ctx) {
      const s = state as { mu: tf.Tensor[]; nu: tf.Tensor[]; nuMax?: tf.Tensor[] };
      const t = ctx.step + 1;
      const bc1 = 1 - beta1 ** t;
      const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
      const withMax = amsgrad && s.nuMax !== undefined;
      // One tidy per parameter: its temporaries (g², the products, √v, the quotients) are freed before the
      // next parameter starts, so the step's peak is one parameter's temporaries above what it keeps
      // (m, v, the output), not every parameter's at once. Same kernels in the same order: same numbers.
      const kept = updates.map((g, i) =>
        tf.tidy(() => {
          const m = tf.add(tf.mul(s.mu[i], beta1), tf.mul(g, 1 - beta1));
          // saturated at float32's maximum instead of Inf for |g| ≳ 1.8e19 (linalg/scale.ts `saturate`)
          const v = saturate(tf.add(tf.mul(s.nu[i], beta2), tf.mul(tf.square(g), 1 - beta2)));
          const vMax = withMax ? tf.maximum(s.nuMax![i], v) : undefined;
          const out = tf.div(tf.div(m, bc1), tf.add(tf.div(tf.sqrt(vMax ?? v), bc2Sqrt), epsilon));
          return vMax ? [out, m, v, vMax] : [out, m, v];
        }),
      );
      const next: { [slot: string]: tf.Tensor[] } = { mu: kept.map((k) => k[1]), nu: kept.map((k) => k[2]) };
      if (withMax) next.nuMax = kept.map((k) => k[3]);
      return { updates: kept.map((k) => k[0]), state: next };
    },
  };
}
