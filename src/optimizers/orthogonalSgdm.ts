/**
 * Orthogonal-SGDM: orthogonalize each matrix gradient first, then run torch SGD (momentum, Nesterov, L2
 * weight decay) unchanged — momentum after orthogonalization, the opposite order to Muon.
 * @module
 */
import { chain, identity, partition, type ParamMeta } from '../core/transform.js';
import { boolean, nonNegative, number, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { trace } from '../transforms/momentum.js';
import { orthogonalize } from '../transforms/orthogonalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import {
  decayedSchedule, learningRate, matchesAny, newtonSchulzOptions, patterns, recipe, recipeTransform,
  type NamePattern, type OptimizerDefinition,
} from './definition.js';
import { checkNesterov } from './sgd.js';

const NAME = 'orthogonalSgdm';

const schema = {
  /**
   * Matrices to leave un-orthogonalized (plain SGD), by name: a string matches as a substring, a RegExp by
   * `test` (default none: the reference orthogonalizes every parameter with ndim > 1).
   */
  exclude: patterns(),
  /** Learning rate or schedule (default 1e-3, the reference README's example). */
  learningRate: learningRate(1e-3),
  /** Heavy-ball momentum μ in [0, 1) (default 0.9, the reference README's example). */
  momentum: number(0.9, { min: 0, max: 1, maxInclusive: false }),
  /** Dampening in [0, 1] inside the momentum buffer (default 0). */
  dampening: number(0, { min: 0, max: 1 }),
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0, as in torch. */
  nesterov: boolean(false),
  /** L2 penalty `λW` added to the orthogonalized gradient (torch SGD's coupled `weight_decay`, default 0). */
  weightDecay: nonNegative(0),
  // Polar Express 8: a near-exact polar factor (8 steps, ε 1e-7).
  ...newtonSchulzOptions({ coefficients: 'polarExpress8' }),
  schedule: decayedSchedule(),
};

/** Options of {@link orthogonalSgdm}. */
export interface OrthogonalSgdmOptions extends OptionsOf<typeof schema> {}
/** {@link OrthogonalSgdmOptions} with every default filled in. */
export interface ResolvedOrthogonalSgdm extends ResolvedOf<typeof schema> {}

function orthogonalized(exclude: readonly NamePattern[]) {
  return (meta: ParamMeta): 'orthogonal' | 'plain' =>
    meta.shape.length >= 2 && !matchesAny(meta.name, exclude) ? 'orthogonal' : 'plain';
}

/**
 * Orthogonal-SGDM (Tuddenham, Prügel-Bennett, Hare, "Orthogonalising gradients to speed up neural network
 * optimisation", arXiv 2202.07052; code `MarkTuddenham/Orthogonal-Optimisers:src/orth_optim/__init__.py`,
 * `torch.optim.SGD(..., orth=True)`). For every parameter of rank ≥ 2 (conv kernels as their flattened
 * `[kh·kw·in, out]` matrix; the reference flattens `[out, in·kh·kw]`, the same polar factor up to a row
 * permutation), the gradient is replaced by its polar factor `O = UVᵀ`; then torch.optim.SGD runs unchanged
 * on every parameter: `d = O + λW` (L2), `buf ← d` on the first step, then `buf ← μ·buf + (1−dampening)·d`,
 * direction `d + μ·buf` (Nesterov) or `buf`, `W ← W − η·direction`. Vectors and `exclude`d matrices skip
 * the orthogonalization (plain SGD with the same momentum). Momentum therefore averages orthogonal
 * matrices (the second step is `−η(O₂ + μO₁)`), where Muon orthogonalizes the average.
 *
 * The reference takes an exact thin SVD (`torch.linalg.svd`), which TF.js lacks; this uses Newton–Schulz
 * with the 8-step Polar Express table (input ÷ 1.01‖G‖_F), which maps every singular value with
 * `σ ≥ 1e-3·1.01‖G‖_F` to 1 within float64 rounding — the exact polar factor, to float32 rounding, for any
 * gradient with condition number up to ~1e3/√rank. Smaller singular values are mapped below 1 (σ → 0
 * gives 0), while the SVD maps every non-zero σ to exactly 1 and gives *arbitrary* orthonormal directions
 * for σ = 0 of a rank-deficient gradient (a batch smaller than the layer): Newton–Schulz leaves those
 * directions at 0. More `nsSteps` extend the exact range (10 steps: σ ≥ 1e-4·‖G‖_F to 0.6%). The
 * reference's fallbacks when the SVD fails (a noisy low-rank SVD, then no orthogonalization) have no
 * counterpart. Defaults: torch SGD has no default learning rate; 1e-3 and momentum 0.9 are the reference
 * README's example (the orthogonalized step has spectral norm η, amplified up to 1/(1−μ) by momentum).
 *
 * State per m×n matrix: one momentum buffer (mn floats). Per step: one Newton–Schulz (8 steps × 3
 * matmuls = 24) per matrix.
 */
export const orthogonalSgdmDefinition: OptimizerDefinition<OrthogonalSgdmOptions, ResolvedOrthogonalSgdm> = recipe({
  name: NAME,
  className: 'orthoptim.OrthogonalSgdm',
  summary: 'Orthogonal-SGDM: polar factor of each matrix gradient, then torch SGD with momentum (vectors: plain SGD)',
  paper: 'Tuddenham, Prügel-Bennett, Hare, "Orthogonalising gradients to speed up neural network optimisation" (arXiv 2202.07052)',
  reference: 'MarkTuddenham/Orthogonal-Optimisers@394c7e7d6dd1f2ab6481f898049151a637cf1f07:src/orth_optim/__init__.py#_orth_p',
  schema,
  check: (r) => checkNesterov(NAME, r),
  build: (r) =>
    chain(
      partition({ orthogonal: orthogonalize(r.ns, NAME), plain: identity() }, orthogonalized(r.exclude)),
      addDecayedWeights(r.weightDecay),
      ...(r.momentum > 0 ? [trace({ momentum: r.momentum, dampening: r.dampening, nesterov: r.nesterov })] : []),
      scaleByLearningRate(r.schedule),
    ),
});

/** Orthogonal-SGDM's transform (no tf.Optimizer). */
export const orthogonalSgdmTransform = recipeTransform(orthogonalSgdmDefinition);
