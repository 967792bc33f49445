/**
 * AdaGO: Muon's orthogonalized momentum with an AdaGrad-norm step size, for hidden matrices; AdamW for
 * everything else.
 * @module
 */
import { chain } from '../core/transform.js';
import { boolean, choice, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape } from '../transforms/orthogonalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { adaGradNormStep, scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, newtonSchulzOptions, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';
import { auxiliaryOptions, routeMatrices } from './auxiliary.js';

const NAME = 'adaGO';

const schema = {
  /** Base learning rate η of the matrices (default 0.05). */
  learningRate: learningRate(0.05),
  /** EMA momentum μ in [0, 1): `M ← μM + (1−μ)G` (default 0.95). */
  momentum: unit(0.95),
  /** Nesterov look-ahead `(1−μ)G + μM` instead of M (default false, as the paper and the port). */
  nesterov: boolean(false),
  /** Clamp γ on the gradient norm: `min(‖G‖_F, γ)` (default 10). */
  gamma: positive(10),
  /** Floor ε of the step size α (default 5e-4). */
  epsilon: nonNegative(5e-4),
  /** Initial accumulator v₀ > 0 (default 1e-6). */
  v0: positive(1e-6),
  ...newtonSchulzOptions(),
  /**
   * Shape scale of the direction (spec §1.3): `'none'` (default: the paper's step is a pure scalar times
   * NS(M)), `'jordan'`, `'moonlight'` (the port's default, `rms·√max(fanIn, fanOut)`), `'spectral'`.
   */
  scaleRule: choice(['none', 'jordan', 'moonlight', 'spectral'] as const, 'none'),
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  rms: positive(0.2),
  /** Decoupled weight decay of the matrices, multiplied by the base η (default 0). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
  ...auxiliaryOptions(),
};

/** Options of {@link adaGO}. Defaults are the kozistr/pytorch_optimizer port's (the paper's are unconfirmed). */
export interface AdaGOOptions extends OptionsOf<typeof schema> {}
/** {@link AdaGOOptions} with every default filled in. */
export interface ResolvedAdaGO extends ResolvedOf<typeof schema> {}

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
 */
export const adaGODefinition: OptimizerDefinition<AdaGOOptions, ResolvedAdaGO> = recipe({
  name: NAME,
  className: 'orthoptim.AdaGO',
  summary: 'AdaGO: EMA momentum, Newton–Schulz orthogonalization, AdaGrad-norm step size; AdamW for non-matrices',
  paper: 'Zhang, Liu, Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates" (arXiv 2509.02981)',
  reference: 'paper form (no official code); defaults from kozistr/pytorch_optimizer:pytorch_optimizer/optimizer/muon.py#AdaGO',
  schema,
  build: (r) =>
    routeMatrices(
      NAME,
      chain(
        adaGradNormStep(
          chain(
            emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
            orthogonalize(r.ns, NAME),
            scaleByShape(r.scaleRule, { rms: r.rms }),
          ),
          { learningRate: r.schedule, gamma: r.gamma, epsilon: r.epsilon, v0: r.v0 },
        ),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(r.schedule),
      ),
      r.aux,
    ),
});

/** AdaGO's transform (no tf.Optimizer). */
export const adaGOTransform = recipeTransform(adaGODefinition);
