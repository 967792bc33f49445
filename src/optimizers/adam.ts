/**
 * Adam and AdamW, torch semantics.
 * @module
 */
import { chain } from '../core/transform.js';
import { boolean, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { scaleByAdam } from '../transforms/adam.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

function adamSchema(defaultWeightDecay: number) {
  return {
    /** Learning rate or schedule (default 1e-3). */
    learningRate: learningRate(1e-3),
    /** First-moment decay β₁ in [0, 1) (default 0.9). */
    beta1: unit(0.9),
    /** Second-moment decay β₂ in [0, 1) (default 0.999). */
    beta2: unit(0.999),
    /** Added to `√v̂` (default 1e-8, explicit — not the backend's epsilon as tfjs's built-in Adam uses). */
    epsilon: positive(1e-8),
    /**
     * Weight decay λ: L2 (`g + λW`, before the moments) for `adam`, decoupled (`W ← W − ηλW`) for `adamw`.
     * Defaults: 0 for adam, 0.01 for adamw (torch's defaults).
     */
    weightDecay: nonNegative(defaultWeightDecay),
    /** AMSGrad: use the running maximum of the second moment (default false). */
    amsgrad: boolean(false),
    schedule: decayedSchedule(),
  };
}

/** Options of {@link adam} and {@link adamw}. */
export interface AdamOptions extends OptionsOf<ReturnType<typeof adamSchema>> {}
/** {@link AdamOptions} with every default filled in. */
export interface ResolvedAdam extends ResolvedOf<ReturnType<typeof adamSchema>> {}

/**
 * Adam as torch.optim.Adam (torch 1.13): `g ← g + λW` (L2), `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `W ← W − η·(m/(1−β₁ᵗ)) / (√v/√(1−β₂ᵗ) + ε)`; AMSGrad divides by `√max v`. State: m, v (+ max v).
 */
export const adamDefinition: OptimizerDefinition<AdamOptions, ResolvedAdam> = recipe({
  name: 'adam',
  className: 'orthoptim.Adam',
  summary: 'Adam with L2 weight decay and AMSGrad (torch.optim.Adam semantics)',
  paper: 'Kingma & Ba, "Adam: A Method for Stochastic Optimization" (arXiv 1412.6980); AMSGrad: Reddi et al. (ICLR 2018)',
  reference: 'pytorch/pytorch@v1.13.1:torch/optim/adam.py#Adam',
  schema: adamSchema(0),
  build: (r) => chain(addDecayedWeights(r.weightDecay), scaleByAdam(r), scaleByLearningRate(r.schedule)),
});

/**
 * AdamW as torch.optim.AdamW (torch 1.13): Adam's step plus decoupled decay `W ← W − ηλW` with the same
 * learning rate. Defaults lr 1e-3, betas (0.9, 0.999), ε 1e-8, λ 0.01.
 */
export const adamwDefinition: OptimizerDefinition<AdamOptions, ResolvedAdam> = recipe({
  name: 'adamw',
  className: 'orthoptim.AdamW',
  summary: 'AdamW: Adam with decoupled weight decay and AMSGrad (torch.optim.AdamW semantics)',
  paper: 'Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (arXiv 1711.05101)',
  reference: 'pytorch/pytorch@v1.13.1:torch/optim/adamw.py#AdamW',
  schema: adamSchema(0.01),
  build: (r) => chain(scaleByAdam(r), addDecayedWeights(r.weightDecay), scaleByLearningRate(r.schedule)),
});

/** Adam's transform (no tf.Optimizer). */
export const adamTransform = recipeTransform(adamDefinition);
/** AdamW's transform (no tf.Optimizer). */
export const adamwTransform = recipeTransform(adamwDefinition);
