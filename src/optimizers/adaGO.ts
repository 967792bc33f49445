/**
 * AdaGO: Muon's orthogonalized momentum with an AdaGrad-norm step size, for hidden matrices; AdamW for
 * everything else.
 * @module
 */
import { chain } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape, type ShapeRule } from '../transforms/orthogonalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { adaGradNormStep, scaleByLearningRate } from '../transforms/stepsize.js';
import { type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import { type LearningRate } from '../schedules/index.js';
import {
  checkUnit,
  decayedLearningRate,
  decodeLearningRate,
  encodeLearningRate,
  resolveRecipeNewtonSchulz,
  type ConfigValue,
  type OptimizerConfig,
  type OptimizerDefinition,
} from './definition.js';
import {
  auxiliaryFromConfig,
  auxiliaryKeys,
  auxiliaryToConfig,
  resolveAuxiliary,
  routeMatrices,
  withoutAuxiliary,
  type AuxiliaryOptions,
  type ResolvedAuxiliary,
} from './auxiliary.js';
import { defineOptimizer } from '../tfjs/registry.js';

/** Options of {@link adaGO}. Defaults are the kozistr/pytorch_optimizer port's (the paper's are unconfirmed). */
export interface AdaGOOptions extends AuxiliaryOptions {
  /** Base learning rate η of the matrices (default 0.05). */
  readonly learningRate?: LearningRate;
  /** EMA momentum μ in [0, 1): `M ← μM + (1−μ)G` (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `(1−μ)G + μM` instead of M (default false, as the paper and the port). */
  readonly nesterov?: boolean;
  /** Clamp γ on the gradient norm: `min(‖G‖_F, γ)` (default 10). */
  readonly gamma?: number;
  /** Floor ε of the step size α (default 5e-4). */
  readonly epsilon?: number;
  /** Initial accumulator v₀ > 0 (default 1e-6). */
  readonly v0?: number;
  /** Newton–Schulz coefficients (default `'jordan'`). */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default: the table's, 5 for Jordan). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default: the table's, 1e-7 for Jordan). */
  readonly nsEpsilon?: number;
  /**
   * Shape scale of the direction (spec §1.3): `'none'` (default: the paper's step is a pure scalar times
   * NS(M)), `'jordan'`, `'moonlight'` (the port's default, `rms·√max(fanIn, fanOut)`), `'spectral'`.
   */
  readonly scaleRule?: ShapeRule;
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  readonly rms?: number;
  /** Decoupled weight decay of the matrices, multiplied by the base η (default 0). */
  readonly weightDecay?: number;
}

/** {@link AdaGOOptions} with every default filled in. */
export interface ResolvedAdaGO {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly gamma: number;
  readonly epsilon: number;
  readonly v0: number;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly scaleRule: ShapeRule;
  readonly rms: number;
  readonly weightDecay: number;
  readonly aux: ResolvedAuxiliary;
}

const NAME = 'adaGO';

/** The definition behind {@link adaGO}. */
export const adaGODefinition: OptimizerDefinition<AdaGOOptions, ResolvedAdaGO> = {
  name: NAME,
  className: 'orthoptim.AdaGO',
  summary: 'AdaGO: EMA momentum, Newton–Schulz orthogonalization, AdaGrad-norm step size; AdamW for non-matrices',
  paper: 'Zhang, Liu, Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates" (arXiv 2509.02981)',
  reference: 'paper form (no official code); defaults from kozistr/pytorch_optimizer:pytorch_optimizer/optimizer/muon.py#AdaGO',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'gamma', 'epsilon', 'v0', 'coefficients', 'nsSteps', 'nsEpsilon',
    'scaleRule', 'rms', 'weightDecay', ...auxiliaryKeys,
  ],
  resolve(o) {
    const coefficients = o.coefficients ?? 'jordan';
    const r: ResolvedAdaGO = {
      learningRate: o.learningRate ?? 0.05,
      momentum: checkUnit(NAME, 'momentum', o.momentum ?? 0.95),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? false),
      gamma: checkNumber(NAME, 'gamma', o.gamma ?? 10, positive),
      epsilon: checkNumber(NAME, 'epsilon', o.epsilon ?? 5e-4, nonNegative),
      v0: checkNumber(NAME, 'v0', o.v0 ?? 1e-6, positive),
      coefficients,
      ns: resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: o.nsSteps, nsEpsilon: o.nsEpsilon }),
      scaleRule: checkChoice(NAME, 'scaleRule', o.scaleRule ?? 'none', ['none', 'jordan', 'moonlight', 'spectral'] as const),
      rms: checkNumber(NAME, 'rms', o.rms ?? 0.2, positive),
      weightDecay: checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0, nonNegative),
      aux: resolveAuxiliary(NAME, o),
    };
    decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
    return r;
  },
  build(r) {
    const lr = decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
    return routeMatrices(
      NAME,
      chain(
        adaGradNormStep(
          chain(
            emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
            orthogonalize(r.ns, NAME),
            scaleByShape(r.scaleRule, { rms: r.rms }),
          ),
          { learningRate: lr, gamma: r.gamma, epsilon: r.epsilon, v0: r.v0 },
        ),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(lr),
      ),
      r.aux,
    );
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      nesterov: r.nesterov,
      gamma: r.gamma,
      epsilon: r.epsilon,
      v0: r.v0,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
      scaleRule: r.scaleRule,
      rms: r.rms,
      weightDecay: r.weightDecay,
      ...auxiliaryToConfig(r.aux, params, NAME),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutAuxiliary(c) as unknown as AdaGOOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...auxiliaryFromConfig(c),
    };
  },
};

/**
 * AdaGO (Zhang, Liu, Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates",
 * arXiv 2509.02981), the paper's form. For each matrix (conv kernels flattened to `[kh·kw·in, out]`):
 *
 * `M ← μM + (1−μ)G`; `O = NS₅(M)`; `v² ← v² + min(‖G‖_F, γ)²` (from `v₀²`);
 * `α = max(ε, η·min(‖G‖_F, γ)/v)`; `W ← W − α·O − ηλW`.
 *
 * `‖G‖_F` is the norm of the raw gradient, not of the momentum. The direction is exactly `NS(M)`: the
 * paper's step is one scalar times an orthogonal matrix, so no shape factor by default (`scaleRule`
 * adds one). There is no code from the authors and no golden file; the defaults (η 0.05, μ 0.95, γ 10,
 * ε 5e-4, v₀ 1e-6, no Nesterov, 5 NS steps, wd 0) are those of the kozistr/pytorch_optimizer port
 * `AdaGO`. That port divides by the accumulated *squared* norm `Σ min(‖G‖², γ²)` (no square root) and
 * scales the direction by `0.2·√max(m, n)`; we follow the paper (square root, pure NS(M)). optax's
 * `contrib.adago` also takes the square root, but multiplies the direction by Jordan's
 * `max(1, fanOut/fanIn)^½` by default (`scaleRule: 'jordan'` here). α is computed on the device (no
 * read-back per step).
 *
 * Vectors, scalars and `exclude`d matrices get AdamW (`adamw*` options; lr 3e-4, betas (0.9, 0.95),
 * ε 1e-10). State per m×n matrix: the momentum (mn floats) and one scalar v² — mn + 1.
 *
 * @example
 * model.compile({ optimizer: adaGO({ learningRate: 0.05, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const adaGO = defineOptimizer(adaGODefinition);
