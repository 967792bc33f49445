/**
 * Adam and AdamW, torch semantics.
 * @module
 */
import { chain } from '../core/transform.js';
import { checkBoolean, checkNumber, nonNegative, positive } from '../core/options.js';
import { scaleByAdam } from '../transforms/adam.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import type { LearningRate } from '../schedules/index.js';
import {
  checkUnit,
  decayedLearningRate,
  decodeLearningRate,
  encodeLearningRate,
  type OptimizerDefinition,
} from './definition.js';
import { defineOptimizer } from '../tfjs/registry.js';

/** Options of {@link adam} and {@link adamw}. */
export interface AdamOptions {
  /** Learning rate or schedule (default 1e-3). */
  readonly learningRate?: LearningRate;
  /** First-moment decay β₁ in [0, 1) (default 0.9). */
  readonly beta1?: number;
  /** Second-moment decay β₂ in [0, 1) (default 0.999). */
  readonly beta2?: number;
  /** Added to `√v̂` (default 1e-8, explicit — not the backend's epsilon as tfjs's built-in Adam uses). */
  readonly epsilon?: number;
  /**
   * Weight decay λ: L2 (`g + λW`, before the moments) for `adam`, decoupled (`W ← W − ηλW`) for `adamw`.
   * Defaults: 0 for adam, 0.01 for adamw (torch's defaults).
   */
  readonly weightDecay?: number;
  /** AMSGrad: use the running maximum of the second moment (default false). */
  readonly amsgrad?: boolean;
}

/** {@link AdamOptions} with every default filled in. */
export type ResolvedAdam = Required<AdamOptions>;

function resolveAdam(name: string, o: AdamOptions, defaultWd: number): ResolvedAdam {
  const r: ResolvedAdam = {
    learningRate: o.learningRate ?? 1e-3,
    beta1: checkUnit(name, 'beta1', o.beta1 ?? 0.9),
    beta2: checkUnit(name, 'beta2', o.beta2 ?? 0.999),
    epsilon: checkNumber(name, 'epsilon', o.epsilon ?? 1e-8, positive),
    weightDecay: checkNumber(name, 'weightDecay', o.weightDecay ?? defaultWd, nonNegative),
    amsgrad: checkBoolean(name, 'amsgrad', o.amsgrad ?? false),
  };
  decayedLearningRate(name, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
  return r;
}

const keys = ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'amsgrad'];
const toConfig = (r: ResolvedAdam) => ({ ...r, learningRate: encodeLearningRate(r.learningRate) });
const fromConfig = (c: Record<string, unknown>): AdamOptions => ({
  ...(c as AdamOptions),
  learningRate: decodeLearningRate(c.learningRate as number),
});

/** The definition behind {@link adam}. */
export const adamDefinition: OptimizerDefinition<AdamOptions, ResolvedAdam> = {
  name: 'adam',
  className: 'orthoptim.Adam',
  summary: 'Adam with L2 weight decay and AMSGrad (torch.optim.Adam semantics)',
  paper: 'Kingma & Ba, "Adam: A Method for Stochastic Optimization" (arXiv 1412.6980); AMSGrad: Reddi et al. (ICLR 2018)',
  reference: 'pytorch/pytorch@v1.13.1:torch/optim/adam.py#Adam',
  keys,
  resolve: (o) => resolveAdam('adam', o, 0),
  build: (r) =>
    chain(
      addDecayedWeights(r.weightDecay),
      scaleByAdam(r),
      scaleByLearningRate(decayedLearningRate('adam', 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
    ),
  toConfig,
  fromConfig,
};

/** The definition behind {@link adamw}. */
export const adamwDefinition: OptimizerDefinition<AdamOptions, ResolvedAdam> = {
  name: 'adamw',
  className: 'orthoptim.AdamW',
  summary: 'AdamW: Adam with decoupled weight decay and AMSGrad (torch.optim.AdamW semantics)',
  paper: 'Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (arXiv 1711.05101)',
  reference: 'pytorch/pytorch@v1.13.1:torch/optim/adamw.py#AdamW',
  keys,
  resolve: (o) => resolveAdam('adamw', o, 0.01),
  build: (r) =>
    chain(
      scaleByAdam(r),
      addDecayedWeights(r.weightDecay),
      scaleByLearningRate(decayedLearningRate('adamw', 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
    ),
  toConfig,
  fromConfig,
};

/**
 * Adam as torch.optim.Adam (torch 1.13): `g ← g + λW` (L2), `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `W ← W − η·(m/(1−β₁ᵗ)) / (√v/√(1−β₂ᵗ) + ε)`; AMSGrad divides by `√max v`. State: m, v (+ max v).
 */
export const adam = defineOptimizer(adamDefinition);

/**
 * AdamW as torch.optim.AdamW (torch 1.13): Adam's step plus decoupled decay `W ← W − ηλW` with the same
 * learning rate. Defaults lr 1e-3, betas (0.9, 0.999), ε 1e-8, λ 0.01.
 *
 * @example
 * model.compile({ optimizer: adamw({ learningRate: 3e-4, weightDecay: 0.1 }), loss: 'categoricalCrossentropy' });
 */
export const adamw = defineOptimizer(adamwDefinition);
