/**
 * The stages that make ROOT (He et al., "ROOT: Robust Orthogonalized Optimizer for Neural Network
 * Training", arXiv 2511.20626; code `huawei-noah/noah-research:ROOT/examples/example_train.py`) differ
 * from Muon: the soft-threshold clip at a quantile of |U| and its auxiliary AdamW whose ε is added to the
 * uncorrected `√v`. (The shape-adaptive Newton–Schulz coefficients are the `'root'` coefficient preset,
 * `rootCoefficientTable` in `linalg/coefficients.ts`.)
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation } from '../core/transform.js';
import { saturate } from '../linalg/scale.js';

/**
 * Where the interpolated quantile of n values sits, computed exactly as ROOT's `simple_quantile`:
 * the index `q·(n−1)` is rounded to float32 (`torch.tensor(q*(n-1))`), the two neighbours are the
 * `floor`/`ceil` order statistics (0-based, ascending), and the weight is `index − floor(index)` in float32.
 * For large n the float32 rounding moves the index (n = 2²²+1, q = 0.9: 3774873.5, not 3774873.6).
 */
export function quantilePosition(n: number, q: number): { lower: number; upper: number; weight: number } {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`quantilePosition: n must be a positive integer, got ${n}`);
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantilePosition: q must be in [0, 1], got ${q}`);
  const index = Math.fround(q * (n - 1));
  const lower = Math.floor(index);
  const upper = Math.ceil(index);
  return { lower, upper, weight: Math.fround(index - lower) };
}

/**
 * The q-quantile of `|x|` over all entries (a scalar tensor), linearly interpolated between order
 * statistics as ROOT's `simple_quantile` does (`kthvalue`s and `torch.lerp`, whose form switches at weight
 * 0.5: `lo + w·(hi−lo)` below, `hi − (hi−lo)·(1−w)` from 0.5 up). Computed on the device with one
 * `tf.topk` of the `n − lower` largest values (no read-back).
 */
export function absQuantile(x: tf.Tensor, q: number): tf.Scalar {
  return tf.tidy(() => {
    const n = x.size;
    const { lower, upper, weight } = quantilePosition(n, q);
    const flat = tf.reshape(tf.abs(x), [n]);
    // topk(k) is sorted descending: its last entry is the (lower+1)-th smallest, the one before it the
    // (lower+2)-th smallest = the upper order statistic.
    const k = n - lower;
    const top = tf.topk(flat, k, true).values;
    const lo = tf.reshape(tf.slice(top, [k - 1], [1]), []);
    if (upper === lower) return lo as tf.Scalar;
    const hi = tf.reshape(tf.slice(top, [k - 2], [1]), []);
    const diff = tf.sub(hi, lo);
    return (weight < 0.5 ? tf.add(lo, tf.mul(diff, weight)) : tf.sub(hi, tf.mul(diff, 1 - weight))) as tf.Scalar;
  });
}

/** Options of {@link clipAtQuantile}. */
export interface ClipAtQuantileOptions {
  /** Quantile of |U| used as the threshold (ROOT: 0.9). */
  readonly quantile: number;
  /** Added to the quantile (ROOT: 1e-9, keeps the threshold positive for an all-zero U). */
  readonly offset: number;
}

/**
 * ROOT's "proximal outlier suppression", per tensor: `τ = quantile_q(|U|) + offset`, the soft threshold
 * `O = sign(U)·relu(|U| − τ)` (the "outliers"), and the update `B = U − O`. Mathematically `B` is the
 * element-wise clip of U to [−τ, τ] (spec §8.1). It is computed in the reference's code form so float32
 * rounding matches: entries with `|u| ≤ τ` pass unchanged (bit for bit), the others become
 * `sign(u)·(|u| ⊖ (|u| ⊖ τ))`, which is τ up to half an ulp of `|u| − τ` (both subtractions are exact by
 * Sterbenz's lemma except the rounding of `|u| − τ`).
 */
export function clipAtQuantile(options: ClipAtQuantileOptions): GradientTransformation {
  const { quantile, offset } = options;
  return stateless((u) => {
    if (u.size === 0) return u; // a zero-size parameter: no quantile, nothing to clip
    const tau = tf.add(absQuantile(u, quantile), offset);
    const outliers = tf.mul(tf.sign(u), tf.relu(tf.sub(tf.abs(u), tau)));
    return tf.sub(u, outliers);
  });
}

/** Options of {@link scaleByAdamUncorrectedEpsilon}. */
export interface ScaleByAdamUncorrectedEpsilonOptions {
  readonly beta1: number;
  readonly beta2: number;
  /** Added to the *uncorrected* `√v`. */
  readonly epsilon: number;
}

/**
 * ROOT's auxiliary Adam (the AdamW branch of `ROOT.step`): `m ← m + (1−β₁)(g − m)`,
 * `v ← v + (1−β₂)(g² − v)` (torch `lerp_`), output `(√(1−β₂ᵗ)/(1−β₁ᵗ)) · m / (ε + √v)`. This equals
 * `m̂ / (√v̂ + ε/√(1−β₂ᵗ))`: torch's Adam with an effective ε that is larger early on (golden README
 * item 8), not `m̂ / (√v̂ + ε)`. State: `{ mu, nu }`, one slot per parameter.
 */
export function scaleByAdamUncorrectedEpsilon(options: ScaleByAdamUncorrectedEpsilonOptions): GradientTransformation {
  const { beta1, beta2, epsilon } = options;
  return {
    init: (metas) => ({
      mu: metas.map((m) => tf.zeros([...m.shape])),
      nu: metas.map((m) => tf.zeros([...m.shape])),
    }),
    update(updates, state, ctx) {
      const s = state as { mu: tf.Tensor[]; nu: tf.Tensor[] };
      const t = ctx.step + 1;
      const factor = Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t);
      const mu = updates.map((g, i) => tf.add(s.mu[i], tf.mul(tf.sub(g, s.mu[i]), 1 - beta1)));
      // saturated instead of Inf for |g| ≳ 1.8e19 (linalg/scale.ts `saturate`)
      const nu = updates.map((g, i) => saturate(tf.add(s.nu[i], tf.mul(tf.sub(tf.square(g), s.nu[i]), 1 - beta2))));
      const out = mu.map((m, i) => tf.mul(tf.div(m, tf.add(tf.sqrt(nu[i]), epsilon)), factor));
      return { updates: out, state: { mu, nu } };
    },
  };
}
