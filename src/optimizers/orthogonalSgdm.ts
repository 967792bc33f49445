/**
 * Orthogonal-SGDM: orthogonalize each matrix gradient first, then run torch SGD (momentum, Nesterov, L2
 * weight decay) unchanged — momentum after orthogonalization, the opposite order to Muon.
 * @module
 */
import { chain, identity, partition, type ParamMeta } from '../core/transform.js';
import { checkBoolean, checkNumber, nonNegative } from '../core/options.js';
import { trace } from '../transforms/momentum.js';
import { orthogonalize } from '../transforms/orthogonalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import { type LearningRate } from '../schedules/index.js';
import {
  decayedLearningRate,
  decodeLearningRate,
  decodePatterns,
  encodeLearningRate,
  encodePatterns,
  matchesAny,
  resolveRecipeNewtonSchulz,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
  type OptimizerDefinition,
} from './definition.js';
import { defineOptimizer } from '../tfjs/registry.js';

/** Options of {@link orthogonalSgdm}. */
export interface OrthogonalSgdmOptions {
  /** Learning rate or schedule (default 1e-3, the reference README's example). */
  readonly learningRate?: LearningRate;
  /** Heavy-ball momentum μ in [0, 1) (default 0.9, the reference README's example). */
  readonly momentum?: number;
  /** Dampening in [0, 1] inside the momentum buffer (default 0). */
  readonly dampening?: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0, as in torch. */
  readonly nesterov?: boolean;
  /** L2 penalty `λW` added to the orthogonalized gradient (torch SGD's coupled `weight_decay`, default 0). */
  readonly weightDecay?: number;
  /** Newton–Schulz coefficients (default `'polarExpress8'`: a near-exact polar factor), a preset, or rows. */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default: the table's, 8 for Polar Express 8). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default: the table's, 1e-7). */
  readonly nsEpsilon?: number;
  /**
   * Matrices to leave un-orthogonalized (plain SGD), by name: a string matches as a substring, a RegExp by
   * `test` (default none: the reference orthogonalizes every parameter with ndim > 1).
   */
  readonly exclude?: readonly NamePattern[];
}

/** {@link OrthogonalSgdmOptions} with every default filled in. */
export interface ResolvedOrthogonalSgdm {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly exclude: readonly NamePattern[];
}

const NAME = 'orthogonalSgdm';

function orthogonalized(exclude: readonly NamePattern[]) {
  return (meta: ParamMeta): 'orthogonal' | 'plain' =>
    meta.shape.length >= 2 && !matchesAny(meta.name, exclude) ? 'orthogonal' : 'plain';
}

/** The definition behind {@link orthogonalSgdm}. */
export const orthogonalSgdmDefinition: OptimizerDefinition<OrthogonalSgdmOptions, ResolvedOrthogonalSgdm> = {
  name: NAME,
  className: 'orthoptim.OrthogonalSgdm',
  summary: 'Orthogonal-SGDM: polar factor of each matrix gradient, then torch SGD with momentum (vectors: plain SGD)',
  paper: 'Tuddenham, Prügel-Bennett, Hare, "Orthogonalising gradients to speed up neural network optimisation" (arXiv 2202.07052)',
  reference: 'MarkTuddenham/Orthogonal-Optimisers@394c7e7d6dd1f2ab6481f898049151a637cf1f07:src/orth_optim/__init__.py#_orth_p',
  keys: ['learningRate', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'coefficients', 'nsSteps', 'nsEpsilon', 'exclude'],
  resolve(o) {
    const coefficients = o.coefficients ?? 'polarExpress8';
    const exclude = o.exclude ?? [];
    if (!Array.isArray(exclude) || !exclude.every((p) => typeof p === 'string' || p instanceof RegExp)) {
      throw new RangeError(`${NAME}: exclude must be a list of strings and RegExps, got ${JSON.stringify(exclude)}`);
    }
    const r: ResolvedOrthogonalSgdm = {
      learningRate: o.learningRate ?? 1e-3,
      momentum: checkNumber(NAME, 'momentum', o.momentum ?? 0.9, { min: 0, max: 1, maxInclusive: false }),
      dampening: checkNumber(NAME, 'dampening', o.dampening ?? 0, { min: 0, max: 1 }),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? false),
      weightDecay: checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0, nonNegative),
      coefficients,
      ns: resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: o.nsSteps, nsEpsilon: o.nsEpsilon }),
      exclude,
    };
    decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
    if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
      throw new RangeError(
        `${NAME}: nesterov needs momentum > 0 and dampening = 0, got momentum ${r.momentum}, dampening ${r.dampening}`,
      );
    }
    return r;
  },
  build(r) {
    return chain(
      partition({ orthogonal: orthogonalize(r.ns, NAME), plain: identity() }, orthogonalized(r.exclude)),
      addDecayedWeights(r.weightDecay),
      ...(r.momentum > 0 ? [trace({ momentum: r.momentum, dampening: r.dampening, nesterov: r.nesterov })] : []),
      scaleByLearningRate(decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
    );
  },
  toConfig(r) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      dampening: r.dampening,
      nesterov: r.nesterov,
      weightDecay: r.weightDecay,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
      exclude: encodePatterns(r.exclude),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(c as unknown as OrthogonalSgdmOptions),
      learningRate: decodeLearningRate(c.learningRate),
      exclude: decodePatterns(c.exclude),
    };
  },
};

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
 *
 * @example
 * model.compile({ optimizer: orthogonalSgdm({ learningRate: 1e-3, momentum: 0.9 }), loss: 'categoricalCrossentropy' });
 */
export const orthogonalSgdm = defineOptimizer(orthogonalSgdmDefinition);
