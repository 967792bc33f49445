/**
 * Step sizes.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation, type StateTree } from '../core/transform.js';
import { frobeniusNorm } from './auon.js';
import type { Schedule } from '../schedules/index.js';

/**
 * Multiplies the update by `−η(step)`: the last stage of a descent recipe (updates are added to the
 * parameters). `η` is a schedule evaluated at the number of steps already applied.
 */
export function scaleByLearningRate(learningRate: Schedule): GradientTransformation {
  return stateless((u, _p, _m, ctx) => tf.mul(u, -learningRate(ctx.step)));
}

/** Multiplies the update by a constant. */
export function scale(factor: number): GradientTransformation {
  return stateless((u) => tf.mul(u, factor));
}

/** Options of {@link adaGradNormStep}. */
export interface AdaGradNormStepOptions {
  /** The base learning rate η (a schedule); the step is reported in units of η (see below). */
  readonly learningRate: Schedule;
  /** Clamp γ on the gradient norm (AdaGO default 10). */
  readonly gamma: number;
  /** Floor ε of the absolute step α (AdaGO default 5e-4). */
  readonly epsilon: number;
  /** Initial accumulator v₀ > 0 (AdaGO default 1e-6); the state holds v² = v₀² at the start. */
  readonly v0: number;
}

/**
 * AdaGrad-norm step size on a direction (AdaGO: Zhang, Liu, Schaeffer, "AdaGrad Meets Muon: Adaptive
 * Stepsizes for Orthogonal Updates", arXiv 2509.02981). One scalar per parameter:
 *
 * `v_t² = v_{t−1}² + min(‖G_t‖_F, γ)²`, `α_t = max(ε, η·min(‖G_t‖_F, γ)/v_t)`, update `α_t·D_t`,
 *
 * where `G_t` are the updates this transform receives (the raw gradients when it comes first) and
 * `D_t = direction(G_t)` is what the inner transform makes of them (AdaGO: `NS₅(momentum)`). The norm is
 * of the gradient, not of the direction.
 *
 * Units, as optax's `scale_by_adago`: the output is `(α_t/η)·D_t = max(ε/η, min(‖G‖,γ)/v_t)·D_t`, to be
 * followed by `scaleByLearningRate(η)` — so decoupled weight decay placed between the two is multiplied
 * by the base η like every other recipe's. When η(step) is 0 the floor is taken as ε (the update is 0
 * anyway). α is computed with tensor ops and never read back. State:
 * `{ v2: [scalar per parameter], direction: <inner state> }`.
 */
export function adaGradNormStep(direction: GradientTransformation, options: AdaGradNormStepOptions): GradientTransformation {
  const { learningRate, gamma, epsilon, v0 } = options;
  return {
    needsLoss: direction.needsLoss === true,
    init: (metas) => ({ v2: metas.map(() => tf.scalar(v0 * v0)), direction: direction.init(metas) }),
    update(updates, state, ctx) {
      const s = state as { v2: tf.Scalar[]; direction: StateTree };
      const inner = direction.update(updates, s.direction, ctx);
      const eta = learningRate(ctx.step);
      const floor = eta > 0 ? epsilon / eta : epsilon;
      const v2: tf.Scalar[] = [];
      const out = inner.updates.map((d, i) => {
        const clamped = tf.minimum(frobeniusNorm(updates[i]), gamma);
        const next: tf.Scalar = tf.add(s.v2[i], tf.square(clamped));
        v2.push(next);
        const step = tf.maximum(tf.div(clamped, tf.sqrt(next)), floor);
        return tf.mul(d, step);
      });
      return { updates: out, state: { v2, direction: inner.state } };
    },
  };
}
