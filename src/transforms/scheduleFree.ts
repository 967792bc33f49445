/**
 * Schedule-free training: interpolation and averaging in place of momentum and a decay schedule.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation } from '../core/transform.js';
import type { Schedule } from '../schedules/index.js';
import { saturate } from '../linalg/scale.js';

/** Options of {@link scheduleFree}. */
export interface ScheduleFreeOptions {
  /** The base step: `'sgd'` (SGDScheduleFree) or `'adam'` (AdamWScheduleFree, RMS-scaled). */
  readonly base: 'sgd' | 'adam';
  /** The learning rate γ (a schedule; schedule-free needs none, a constant is the intended use). */
  readonly learningRate: Schedule;
  /** Interpolation β between the average x and the base iterate z: `y = β·x + (1−β)·z`, in (0, 1). */
  readonly beta: number;
  /** Second-moment decay β₂ of the `'adam'` base. */
  readonly beta2: number;
  /** Added to `√v` in the `'adam'` base. */
  readonly epsilon: number;
  /**
   * Weight decay λ at the gradient point y: `'sgd'` adds `λ·y` to the gradient (L2), `'adam'` moves
   * `z ← z − γₜλ·y` (decoupled, with the step's learning rate).
   */
  readonly weightDecay: number;
  /** Linear warmup `γₜ = γ·(t+1)/warmupSteps` for the first `warmupSteps` steps (0: none). */
  readonly warmupSteps: number;
  /** Polynomial weighting of the average: the t-th weight is multiplied by `tʳ` (0: none). */
  readonly r: number;
  /** The t-th weight of the average is `tʳ·(max_{i≤t} γᵢ)^weightLrPower` (0: uniform). */
  readonly weightLrPower: number;
}

/**
 * Schedule-free SGD and AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less
 * Scheduled", NeurIPS 2024, arXiv 2405.15682), following the authors' simplified reference
 * implementations facebookresearch/schedule_free `schedulefree/sgd_schedulefree_reference.py`
 * (`SGDScheduleFreeReference`) and `adamw_schedulefree_reference.py` (`AdamWScheduleFreeReference`),
 * which keep x and z explicitly (optax `contrib.schedule_free` recomputes x from y and z instead).
 *
 * The parameters are the gradient point y. At step t = k + 1 (k = steps already applied):
 * - `γₜ = γ(k)·min(1, (k+1)/warmupSteps)`, times `√(1 − β₂ᵗ)` for the `'adam'` base;
 * - `wₜ = tʳ·(max_{i≤t} γᵢ)^weightLrPower`, `cₜ = wₜ / Σ_{i≤t} wᵢ` (0 while the sum is 0);
 * - `'sgd'`: `z ← z − γₜ·(g + λy)`; `'adam'`: `v ← β₂v + (1−β₂)g²`, `z ← z − γₜλ·y − γₜ·g/(√v + ε)`;
 * - `x ← (1 − cₜ)·x + cₜ·z` (the average: evaluate here), `y ← β·x + (1 − β)·z` (computed as
 *   `x + cₜ(z − x)` and `z + β(x − z)`);
 * and the update is `y_new − y`. x and z start at the first step's parameters. The weights are kept
 * relative to the current one — `Sₜ = Σᵢ wᵢ/wₜ = Sₜ₋₁·(wₜ₋₁/wₜ) + 1`, `cₜ = 1/Sₜ` — since `wₜ` itself
 * overflows float32 long before the step does (`lr = 1e30`: `lr² = ∞`, `cₜ = ∞/∞`; `r = 1e30`: `2ʳ = ∞`);
 * the ratios are ≤ 1. State: `z`, `x` (one tensor per parameter each), `v` for `'adam'`, and the
 * scalars `lrMax`, `relativeWeightSum`.
 */
export function scheduleFree(options: ScheduleFreeOptions): GradientTransformation {
  const { base, learningRate, beta, beta2, epsilon, weightDecay, warmupSteps, r, weightLrPower } = options;
  const adam = base === 'adam';
  return {
    init: (metas) => ({
      z: metas.map((m) => tf.zeros([...m.shape])),
      x: metas.map((m) => tf.zeros([...m.shape])),
      ...(adam ? { v: metas.map((m) => tf.zeros([...m.shape])) } : {}),
      lrMax: tf.scalar(-1),
      relativeWeightSum: tf.scalar(0),
    }),
    update(updates, state, ctx) {
      const s = state as { z: tf.Tensor[]; x: tf.Tensor[]; v?: tf.Tensor[]; lrMax: tf.Tensor; relativeWeightSum: tf.Tensor };
      const k = ctx.step;
      const warm = k < warmupSteps ? (k + 1) / warmupSteps : 1;
      const lr = learningRate(k) * warm * (adam ? Math.sqrt(1 - beta2 ** (k + 1)) : 1);
      const lrMax = tf.maximum(s.lrMax, lr);
      // wₜ₋₁/wₜ = ((t−1)/t)ʳ·(lrMaxₜ₋₁/lrMaxₜ)^p ≤ 1 (0 on the first step and while lrMax was 0)
      const previous = tf.mul(tf.pow(tf.divNoNan(tf.relu(s.lrMax), lrMax), weightLrPower), (k / (k + 1)) ** r);
      const relativeWeightSum = tf.add(tf.mul(s.relativeWeightSum, previous), 1);
      // all weights are 0 while lrMax is (with weightLrPower > 0): then cₜ = 0, as the reference's ZeroDivisionError branch
      const c = weightLrPower > 0 ? tf.divNoNan(tf.cast(tf.greater(lrMax, 0), 'float32'), relativeWeightSum) : tf.div(1, relativeWeightSum);
      const first = k === 0;
      const z0 = first ? ctx.params : s.z;
      const x0 = first ? ctx.params : s.x;
      // saturated at float32's maximum instead of Inf for |g| ≳ 1.8e19, as scaleByAdam (linalg/scale.ts `saturate`)
      const v = adam ? updates.map((g, i) => saturate(tf.add(tf.mul(s.v![i], beta2), tf.mul(tf.square(g), 1 - beta2)))) : undefined;
      const z = updates.map((g, i) => {
        const y = ctx.params[i];
        if (!adam) return tf.sub(z0[i], tf.mul(weightDecay === 0 ? g : tf.add(g, tf.mul(y, weightDecay)), lr));
        const decayed = weightDecay === 0 ? z0[i] : tf.sub(z0[i], tf.mul(y, lr * weightDecay));
        return tf.sub(decayed, tf.mul(tf.div(g, tf.add(tf.sqrt(v![i]), epsilon)), lr));
      });
      // Both as `a + w·(b − a)`: exact (no float32 drift of the weights) when the two points coincide,
      // as they do while the gradient is zero.
      const x = z.map((zi, i) => tf.add(x0[i], tf.mul(tf.sub(zi, x0[i]), c)));
      const out = x.map((xi, i) => tf.sub(tf.add(z[i], tf.mul(tf.sub(xi, z[i]), beta)), ctx.params[i]));
      return { updates: out, state: { z, x, ...(adam ? { v } : {}), lrMax, relativeWeightSum } };
    },
  };
}
