/**
 * Polyak step sizes, which read the minibatch loss: ALR-SMAG (Polyak with heavy-ball momentum) and
 * Polyak SGD (SPS_max). Both need the loss each step: `minimize(f)` and `model.fit` supply it,
 * `applyGradients(grads, { loss })` takes it explicitly, and `applyGradients(grads)` alone throws a
 * `LossRequiredError` before anything is written.
 * @module
 */
import { chain } from '../core/transform.js';
import { choice, derived, nonNegative, number, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { asSchedule, constant, type LearningRate } from '../schedules/index.js';
import { trace } from '../transforms/momentum.js';
import { polyakMomentumStepSize, polyakStepSize } from '../transforms/polyak.js';
import { scale, scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

const alrSmagSchema = {
  /** The cap γ_max on the step size τ, a number or schedule (the reference's `lr`, default 0.1). */
  learningRate: learningRate(0.1),
  /** Heavy-ball momentum β in [0, 1] of `d ← βd + g` (the reference's `beta`, default 0.9; 0: Polyak SGD). */
  momentum: number(0.9, { min: 0, max: 1 }),
  /** The lower bound f_lb on the loss (the reference's `lb`, default 0). */
  lowerBound: number(0, {}),
  /** The constant c > 0 of `τ = min(γ_max, (f − f_lb)/(c·‖d‖²))` (the paper's c, default 1). */
  c: number(1, { min: 0, minInclusive: false }),
  /** λ ≥ 0 of the weight decay `θ ← θ·(1 − λτ)` (the reference's `weight_decay`, default 0; λ·γ_max ≤ 1). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
};

/** Options of {@link alrSmagDefinition}. */
export interface AlrSmagOptions extends OptionsOf<typeof alrSmagSchema> {}
/** {@link AlrSmagOptions} with every default filled in. */
export interface ResolvedAlrSmag extends ResolvedOf<typeof alrSmagSchema> {}

/**
 * ALR-SMAG (Wang, Johansson, Zhang, "Generalized Polyak Step Size for First Order Optimization with
 * Momentum", ICML 2023, arXiv 2305.12939), in the reference form of fabian-sp/step-back
 * `stepback/optim/alr_smag.py` (class `AlrSmag`): `d ← βd + g` (un-normalised, d₀ = 0),
 * `τ = min(γ_max, (f − f_lb)/(c·‖d‖²))` over all parameters, `θ ← θ·(1 − λτ) − τ·d`. Here τ = 0 when
 * `f ≤ f_lb` (the reference would step uphill); see `polyakMomentumStepSize`. State: d per parameter
 * (none when β = 0). Needs the loss every step.
 */
export const alrSmagDefinition: OptimizerDefinition<AlrSmagOptions, ResolvedAlrSmag> = recipe({
  name: 'alrSmag',
  className: 'orthoptim.AlrSmag',
  summary: 'ALR-SMAG: heavy-ball momentum with a generalized Polyak step size from the minibatch loss (needs the loss)',
  paper: 'Wang, Johansson, Zhang, "Generalized Polyak Step Size for First Order Optimization with Momentum" (ICML 2023, arXiv 2305.12939)',
  reference: 'fabian-sp/step-back@94f055b1:stepback/optim/alr_smag.py#AlrSmag (reference form)',
  schema: alrSmagSchema,
  build: (r) =>
    chain(
      ...(r.momentum > 0 ? [trace({ momentum: r.momentum, dampening: 0, nesterov: false })] : []),
      polyakMomentumStepSize({ maxLearningRate: r.schedule, lowerBound: r.lowerBound, c: r.c, weightDecay: r.weightDecay }),
      scale(-1),
    ),
});

const polyakSgdSchema = {
  /** A multiplier s of the Polyak step, a number or schedule (optax's `scaling`, default 1). */
  learningRate: learningRate(1),
  /** The cap γ_max ≥ 0 on the Polyak step (optax's `max_learning_rate`, default 1). */
  maxLearningRate: nonNegative(1),
  /** The lower bound f* on the loss (optax's `f_min`, default 0). */
  fMin: number(0, {}),
  /** ε ≥ 0 added to `‖g‖²` (optax's `eps`, default 0). */
  epsilon: nonNegative(0),
  /** `'sps'` (default: the gap `f − f*` as it is) or `'spsPlus'` (its positive part; optax's `'sps+'`). */
  variant: choice(['sps', 'spsPlus'] as const, 'sps'),
  schedule: derived((r, owner) => asSchedule(r.learningRate as LearningRate, owner, 'learningRate')),
};

/** Options of {@link polyakSgdDefinition}. */
export interface PolyakSgdOptions extends OptionsOf<typeof polyakSgdSchema> {}
/** {@link PolyakSgdOptions} with every default filled in. */
export interface ResolvedPolyakSgd extends ResolvedOf<typeof polyakSgdSchema> {}

/**
 * SGD with the stochastic Polyak step size (Loizou, Vaswani, Laradji, Lacoste-Julien, "Stochastic
 * Polyak Step-size for SGD", AISTATS 2021, arXiv 2002.10542), as optax's `polyak_sgd`
 * (`optax/_src/alias.py`, `scale_by_polyak` in `optax/_src/transform.py`):
 * `θ ← θ − s·min((f − f*)/(‖g‖² + ε), γ_max)·g`, the step 0 when `‖g‖² + ε ≤ 2⁻⁵²`. optax chains
 * `sgd(scaling)` before `scale_by_polyak`, so its norm is that of `s·g`; here it is the gradient's, as
 * optax's docstring formula says — the same for s = 1 (the default). No state. Needs the loss every step.
 */
export const polyakSgdDefinition: OptimizerDefinition<PolyakSgdOptions, ResolvedPolyakSgd> = recipe({
  name: 'polyakSgd',
  className: 'orthoptim.PolyakSgd',
  summary: 'Polyak SGD (SPS_max): step size (f − f*)/‖g‖² from the minibatch loss, capped (needs the loss)',
  paper: 'Loizou, Vaswani, Laradji, Lacoste-Julien, "Stochastic Polyak Step-size for SGD: An Adaptive Learning Rate for Fast Convergence" (AISTATS 2021, arXiv 2002.10542)',
  reference: 'google-deepmind/optax:optax/_src/alias.py#polyak_sgd',
  schema: polyakSgdSchema,
  build: (r) =>
    chain(
      polyakStepSize({ maxLearningRate: constant(r.maxLearningRate), fMin: r.fMin, epsilon: r.epsilon, variant: r.variant }),
      scaleByLearningRate(r.schedule),
    ),
});

/** ALR-SMAG's and Polyak SGD's transforms (no tf.Optimizer); their steps need `ctx.loss`. */
export const alrSmagTransform = recipeTransform(alrSmagDefinition);
export const polyakSgdTransform = recipeTransform(polyakSgdDefinition);
