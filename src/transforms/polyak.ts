/**
 * Polyak step sizes, which read the current minibatch loss: SPS (optax's `polyak_sgd`) and ALR-SMAG's
 * generalized Polyak step with heavy-ball momentum.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { LossRequiredError, type GradientTransformation, type StepContext } from '../core/transform.js';
import type { Schedule } from '../schedules/index.js';
import { sumOfSquares } from './auon.js';

/**
 * The loss of this step as a float32 scalar tensor (a number is wrapped; a size-1 tensor reshaped).
 * Throws {@link LossRequiredError} naming `owner` when the step comes without one.
 */
export function stepLoss(ctx: StepContext, owner: string): tf.Scalar {
  const loss = ctx.loss;
  if (loss === undefined || loss === null) throw new LossRequiredError(owner);
  if (typeof loss === 'number') return tf.scalar(loss);
  const scalar = loss.rank === 0 ? loss : tf.reshape(loss, []);
  return (scalar.dtype === 'float32' ? scalar : tf.cast(scalar, 'float32')) as tf.Scalar;
}

/**
 * `‖u‖² = Σᵢ Σ uᵢ²` over all updates, a scalar tensor (two-level sums, precise on wasm; an empty
 * tensor adds 0). Overflows to +Inf only when the squared norm exceeds float32's maximum.
 */
export function squaredGlobalNorm(updates: readonly tf.Tensor[]): tf.Scalar {
  const terms = updates.filter((u) => u.size > 0).map((u) => sumOfSquares(u));
  return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
}

/**
 * The smallest `‖g‖² + ε` that optax's `scale_by_polyak` divides by: at or below it the step is 0.
 * optax compares with `jnp.finfo(float).eps`, Python's float being float64: 2⁻⁵² ≈ 2.2e-16.
 */
export const POLYAK_MIN_DENOMINATOR = 2 ** -52;

/** Options of {@link polyakStepSize}. */
export interface PolyakStepSizeOptions {
  /** The cap γ_max on the step size (a schedule; optax's `max_learning_rate`, default 1). */
  readonly maxLearningRate: Schedule;
  /** The lower bound f* on the loss (optax's `f_min`, default 0). */
  readonly fMin: number;
  /** Added to `‖g‖²` in the denominator (optax's `eps`, default 0). */
  readonly epsilon: number;
  /**
   * `'sps'` (optax's default): the gap `f − f*` as it is, so a loss below f* gives a negative step;
   * `'spsPlus'` (optax's `'sps+'`, Garrigos et al. 2023): its positive part `max(f − f*, 0)`.
   */
  readonly variant: 'sps' | 'spsPlus';
}

/**
 * The stochastic Polyak step size SPS_max (Loizou, Vaswani, Laradji, Lacoste-Julien, "Stochastic Polyak
 * Step-size for SGD: An Adaptive Learning Rate for Fast Convergence", AISTATS 2021, arXiv 2002.10542;
 * reference optax `optax/_src/transform.py` `scale_by_polyak`). With `f` the loss of this step and `g`
 * the updates this transform receives (the gradient), over all parameters together:
 *
 * `step = min((f − f*)/(‖g‖² + ε), γ_max)`, and `step = 0` when `‖g‖² + ε ≤ 2⁻⁵²` (optax's guard
 * against a division by zero); the output is `step·g`, to be followed by `scaleByLearningRate(s)`.
 *
 * On the device: the step is a scalar tensor, never read back. `‖g‖²` overflows float32 for
 * `‖g‖ ≳ 1.8e19`, which gives step 0 (the exact update `(f − f*)/‖g‖` along the unit direction is
 * below 1e-19·(f − f*) there). Reads the loss (`needsLoss`); no state.
 */
export function polyakStepSize(options: PolyakStepSizeOptions): GradientTransformation {
  const { maxLearningRate, fMin, epsilon, variant } = options;
  return {
    needsLoss: true,
    init: () => null,
    update(updates, state, ctx) {
      const loss = stepLoss(ctx, 'polyakStepSize');
      const denominator = tf.add(squaredGlobalNorm(updates), epsilon);
      const difference = tf.sub(loss, fMin);
      const gap = variant === 'spsPlus' ? tf.relu(difference) : difference;
      const capped = tf.minimum(tf.div(gap, denominator), maxLearningRate(ctx.step));
      const step = tf.where(tf.lessEqual(denominator, POLYAK_MIN_DENOMINATOR), tf.zerosLike(capped), capped);
      return { updates: updates.map((g) => tf.mul(g, step)), state };
    },
  };
}

/** Options of {@link polyakMomentumStepSize}. */
export interface PolyakMomentumStepSizeOptions {
  /** The cap γ_max on τ (a schedule; the reference's `lr`, default 0.1). */
  readonly maxLearningRate: Schedule;
  /** The lower bound f_lb on the loss (the reference's `lb`, default 0). */
  readonly lowerBound: number;
  /** The constant c > 0 of the denominator (the paper's c, default 1). */
  readonly c: number;
  /** λ ≥ 0 of the weight decay `θ ← θ·(1 − λτ)` (the reference's `weight_decay`, default 0). */
  readonly weightDecay: number;
}

/**
 * ALR-SMAG's step (Wang, Johansson, Zhang, "Generalized Polyak Step Size for First Order Optimization
 * with Momentum", ICML 2023, arXiv 2305.12939), in the reference form of fabian-sp/step-back
 * `stepback/optim/alr_smag.py` `AlrSmag.step` — whether the paper's formula has further terms is not
 * confirmed (spec B2). With `f` the loss of this step and `d` the updates this transform receives (the
 * un-normalised heavy-ball sum `d ← βd + g`, the `trace` before it), over all parameters together:
 *
 * `τ = min(γ_max, (f − f_lb)/(c·‖d‖²))`, output `τ·(d + λθ)`, to be followed by `scale(-1)`: the
 * parameters become `θ·(1 − λτ) − τ·d`, as the reference's two in-place steps.
 *
 * Where this departs from the reference: τ = 0 whenever `f ≤ f_lb` (the reference takes the negative
 * τ, an ascent step, and `−∞` at `d = 0`); at `d = 0` with `f > f_lb`, τ = γ_max (the reference's
 * `min(lr, inf)`; there is no ε in its denominator). Where `c·‖d‖²` overflows float32
 * (`‖d‖ ≳ 1.8e19`) τ = 0: the exact `τ·d` is below `1e-19·(f − f_lb)` there. On the device, never read
 * back. Reads the loss (`needsLoss`); no state of its own.
 */
export function polyakMomentumStepSize(options: PolyakMomentumStepSizeOptions): GradientTransformation {
  const { maxLearningRate, lowerBound, c, weightDecay } = options;
  return {
    needsLoss: true,
    init: () => null,
    update(updates, state, ctx) {
      const loss = stepLoss(ctx, 'polyakMomentumStepSize');
      const gap = tf.sub(loss, lowerBound);
      // +∞ at d = 0 (then τ = γ_max); 0 where c‖d‖² overflows (then the exact τ·d is below 1e-19·(f − f_lb))
      const ratio = tf.div(gap, tf.mul(squaredGlobalNorm(updates), c));
      const capped = tf.minimum(ratio, maxLearningRate(ctx.step));
      const tau = tf.where(tf.greater(gap, 0), capped, tf.zerosLike(capped));
      const out = updates.map((d, i) =>
        tf.mul(weightDecay === 0 ? d : tf.add(d, tf.mul(ctx.params[i], weightDecay)), tau),
      );
      return { updates: out, state };
    },
  };
}
