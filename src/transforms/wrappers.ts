/**
 * Wrappers that turn any optimizer chain into another: lookahead and gradient accumulation.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { LossRequiredError, type GradientTransformation, type StateTree } from '../core/transform.js';

/** Options of {@link lookahead}. */
export interface LookaheadOptions {
  /** Synchronization period k: the slow weights move after every k steps of the inner chain (paper: 5). */
  readonly k: number;
  /** Slow step size α: `φ ← φ + α·(θ − φ)` (paper: 0.5). */
  readonly alpha: number;
}

/**
 * Lookahead (Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS
 * 2019, arXiv 1907.08610; optax `lookahead`). The inner chain (a complete one, ending with its step
 * size) moves the fast weights θ every step; after every k-th step the slow weights φ (the parameters
 * at the first step) move `φ ← φ + α·(θ − φ)` and the fast weights restart from them: the update of a
 * synchronizing step is `φ_new − θ_old`, so the parameters equal `φ_new` up to float32 rounding of one
 * subtraction and one addition. State: `{ slow: [tensor per parameter], inner: <inner state> }`.
 */
export function lookahead(inner: GradientTransformation, options: LookaheadOptions): GradientTransformation {
  const { k, alpha } = options;
  return {
    needsLoss: inner.needsLoss === true,
    init: (metas) => ({ slow: metas.map((m) => tf.zeros([...m.shape])), inner: inner.init(metas) }),
    update(updates, state, ctx) {
      const s = state as { slow: tf.Tensor[]; inner: StateTree };
      const slow = ctx.step === 0 ? ctx.params.map((p) => tf.clone(p)) : s.slow;
      const r = inner.update(updates, s.inner, ctx);
      if ((ctx.step + 1) % k !== 0) return { updates: r.updates, state: { slow, inner: r.state } };
      const nextSlow = r.updates.map((u, i) => {
        const fast = tf.add(ctx.params[i], u);
        return tf.add(slow[i], tf.mul(tf.sub(fast, slow[i]), alpha));
      });
      const out = nextSlow.map((x, i) => tf.sub(x, ctx.params[i]));
      return { updates: out, state: { slow: nextSlow, inner: r.state } };
    },
  };
}

/** Options of {@link accumulate}. */
export interface AccumulateOptions {
  /** The inner chain steps once every `every` calls, on the mean of their gradients. */
  readonly every: number;
}

/**
 * Gradient accumulation (optax `MultiSteps`): the gradients of `every` consecutive calls are summed;
 * calls 1 … every−1 of each group leave the parameters as they are (a zero update), and the last one
 * runs the inner chain once on their mean — one step on a batch `every` times larger, with the memory
 * of one batch. The inner chain sees its own step count (`⌊step / every⌋`), so its schedules and bias
 * corrections count inner steps. An inner chain that reads the loss (`needsLoss`) gets the mean of the
 * group's losses, as one step on the larger batch would. State: `{ sum: [tensor per parameter],
 * lossSum: <scalar, only for a loss-reading inner chain>, inner: <inner state> }`.
 */
export function accumulate(inner: GradientTransformation, options: AccumulateOptions): GradientTransformation {
  const { every } = options;
  const withLoss = inner.needsLoss === true;
  return {
    needsLoss: withLoss,
    init: (metas) => ({
      sum: metas.map((m) => tf.zeros([...m.shape])),
      // the losses of the group, for an inner chain that reads the loss (its step sees their mean)
      ...(withLoss ? { lossSum: tf.scalar(0) } : {}),
      inner: inner.init(metas),
    }),
    update(updates, state, ctx) {
      const s = state as { sum: tf.Tensor[]; lossSum?: tf.Scalar; inner: StateTree };
      const position = ctx.step % every;
      const sum = updates.map((g, i) => (position === 0 ? tf.clone(g) : tf.add(s.sum[i], g)));
      let lossSum: tf.Scalar | undefined;
      if (withLoss) {
        if (ctx.loss === undefined) throw new LossRequiredError('accumulate');
        const loss = tf.reshape(tf.cast(ctx.loss, 'float32'), []) as tf.Scalar;
        lossSum = position === 0 ? loss : tf.add(s.lossSum!, loss);
      }
      if (position !== every - 1) {
        return { updates: updates.map((g) => tf.zerosLike(g)), state: { sum, ...(lossSum ? { lossSum } : {}), inner: s.inner } };
      }
      const mean = sum.map((x) => tf.div(x, every));
      const innerCtx = { ...ctx, step: Math.floor(ctx.step / every), ...(lossSum ? { loss: tf.div(lossSum, every) as tf.Scalar } : {}) };
      const r = inner.update(mean, s.inner, innerCtx);
      return {
        updates: r.updates,
        state: { sum: sum.map((x) => tf.zerosLike(x)), ...(lossSum ? { lossSum: tf.scalar(0) } : {}), inner: r.state },
      };
    },
  };
}

/**
 * The weight `cₜ` of the t-th iterate (t = 1, 2, …) in the running average
 * `x̄ₜ = x̄ₜ₋₁ + cₜ·(xₜ − x̄ₜ₋₁)`; `c₁ = 1` for every rule, so `x̄₁ = x₁` and no initial value matters.
 */
export type AverageWeight = (t: number) => number;

/**
 * Polynomial-decay averaging (Shamir & Zhang, ICML 2013; formll/dog `src/dog/averager.py`
 * `PolynomialDecayAverager`, the average DoG's authors evaluate with): `cₜ = (γ+1)/(t+γ)`. γ = 0 is the
 * running mean `x̄ₜ = (1/t)·Σᵢ xᵢ`; larger γ forgets the early iterates faster (formll's default 8).
 */
export function polynomialDecayWeight(gamma: number): AverageWeight {
  return (t) => (gamma + 1) / (t + gamma);
}

/**
 * The debiased exponential moving average (optax `ema(decay, debias=True)`, here of the weights rather
 * than the updates): `μₜ = d·μₜ₋₁ + (1−d)·xₜ` from `μ₀ = 0`, divided by `1 − dᵗ`. Its recursive form is
 * the running average with `cₜ = (1−d)/(1−dᵗ)`: `c₁ = 1`, and `cₜ → 1−d` as the bias fades.
 */
export function debiasedEmaWeight(decay: number): AverageWeight {
  return (t) => (1 - decay) / (1 - decay ** t);
}

/**
 * Iterate averaging around a complete inner chain: after each step the new parameters `xₜ = θ + u`
 * enter the average `x̄ₜ = x̄ₜ₋₁ + cₜ·(xₜ − x̄ₜ₋₁)` (t = step + 1) kept in the state under `average`; the
 * updates are the inner chain's, untouched — training runs on the iterates, evaluation on the average
 * (see `withAveragedWeights` in `tfjs/averaging.ts`). State: `{ average: [tensor per parameter], inner }`.
 */
export function averageIterates(inner: GradientTransformation, weightAt: AverageWeight): GradientTransformation {
  return {
    needsLoss: inner.needsLoss === true,
    init: (metas) => ({ average: metas.map((m) => tf.zeros([...m.shape])), inner: inner.init(metas) }),
    update(updates, state, ctx) {
      const s = state as { average: tf.Tensor[]; inner: StateTree };
      const r = inner.update(updates, s.inner, ctx);
      const c = weightAt(ctx.step + 1);
      const average = r.updates.map((u, i) => {
        const x = tf.add(ctx.params[i], u);
        return c === 1 ? x : tf.add(s.average[i], tf.mul(tf.sub(x, s.average[i]), c));
      });
      return { updates: r.updates, state: { average, inner: r.state } };
    },
  };
}
