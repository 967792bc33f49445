/**
 * Subset-Norm Adam (AdamSN) and Subset-Norm + Subspace-Momentum Adam (AdamSNSM).
 * @module
 */
import { chain } from '../core/transform.js';
import {
  boolean,
  choice,
  integer,
  nonNegative,
  nullableNumber,
  number,
  option,
  unit,
  type Option,
  type OptionsOf,
  type ResolvedOf,
} from '../core/schema.js';
import { showValue } from '../core/options.js';
import { PSGD_MAX_SEED } from '../transforms/psgd.js';
import { emaMomentum } from '../transforms/momentum.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import {
  addDecayAfterStep,
  scaleBySubsetNorm,
  subspaceEmaMomentum,
  type MomentumReset,
  type SubsetSize,
  type SubspaceProjection,
} from '../transforms/subsetNorm.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

/** A subset size: a nonzero integer (`−c`: ⌊√numel/c⌋) or `'heuristics'`. */
function subsetSize(def: SubsetSize): Option<SubsetSize> {
  return option<SubsetSize>(def, (owner, key, v) => {
    if (v === 'heuristics' || (typeof v === 'number' && Number.isInteger(v) && v !== 0)) return v;
    throw new RangeError(`${owner}: ${key} must be a nonzero integer (−c: ⌊√numel/c⌋) or 'heuristics', got ${showValue(v)}`);
  });
}

/** The options both recipes share (GenericOptim's defaults). */
function sharedSchema() {
  return {
    /**
     * Subsets of the second moment on matrices: `'heuristics'` (default, the README's: one per row or column,
     * `max(m, n)` accumulators), an integer k > 0 (k consecutive coordinates of the torch-order weight,
     * rounded down to a divisor of numel; 1 is Adam), or −c (k = ⌊√numel/c⌋).
     */
    subsetSize: subsetSize('heuristics'),
    /** First-moment decay β₁ in [0, 1) (default 0.9). */
    beta1: unit(0.9),
    /** Second-moment decay β₂ in [0, 1] (default 0.999; 1: AdaGrad-style sums; 0: no denominator). */
    beta2: number(0.999, { min: 0, max: 1 }),
    /** Added to `√v` (default 1e-6, GenericOptim's). */
    epsilon: nonNegative(1e-6),
    /** Bias correction `√(1−β₂ᵗ)/(1−β₁ᵗ)` (default true). */
    correctBias: boolean(true),
    /** Decoupled weight decay λ ≥ 0, applied after the step as GenericOptim (default 0). */
    weightDecay: nonNegative(0),
  };
}

const snSchema = {
  /** Learning rate or schedule (default 1e-3; the authors advise ≈10× the usual Adam lr). */
  learningRate: learningRate(1e-3),
  ...sharedSchema(),
  schedule: decayedSchedule(),
};

/** Options of {@link subsetNormDefinition}. */
export interface SubsetNormOptions extends OptionsOf<typeof snSchema> {}
/** {@link SubsetNormOptions} with every default filled in. */
export interface ResolvedSubsetNorm extends ResolvedOf<typeof snSchema> {}

/**
 * AdamSN: Adam whose second moment is shared within subsets of each matrix's coordinates (Nguyen &
 * Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum with Convergence
 * Guarantees", ICML 2025, openreview j4HpE61Zcv; arXiv 2411.07120), as timmytonga/sn-sm `GenericOptim.py`
 * with `momentum_type = 'ema'`, `second_moment_type = 'sn'` (`subset_norm.py`): `W ← W − η·c_t·m/(√v + ε)`,
 * `v` one accumulator per subset (see `scaleBySubsetNorm`), then `W ← W − ηλW`. Vectors and conv kernels
 * keep Adam's per-coordinate v. State per m×n matrix: m·n (m) + max(m, n) (heuristics) floats.
 */
export const subsetNormDefinition: OptimizerDefinition<SubsetNormOptions, ResolvedSubsetNorm> = recipe({
  name: 'subsetNorm',
  className: 'orthoptim.SubsetNorm',
  summary: 'AdamSN: Adam with a second moment shared within subsets of coordinates (Subset-Norm step size)',
  paper: 'Nguyen & Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum with Convergence Guarantees" (ICML 2025; arXiv 2411.07120)',
  reference: 'timmytonga/sn-sm:GenericOptim.py#GenericOptim (momentum_type ema, second_moment_type sn); subset_norm.py',
  schema: snSchema,
  build: (r) =>
    chain(
      scaleBySubsetNorm({
        subsetSize: r.subsetSize,
        beta1: r.beta1,
        beta2: r.beta2,
        epsilon: r.epsilon,
        correctBias: r.correctBias,
        numerator: emaMomentum({ beta: r.beta1, nesterov: false }),
      }),
      scaleByLearningRate(r.schedule),
      addDecayAfterStep(r.weightDecay, r.schedule),
    ),
});

const smSchema = {
  /** Learning rate or schedule (default 1e-3, GenericOptim's; examples.sh trains LLaMA-60M at 0.05). */
  learningRate: learningRate(1e-3),
  /** Momentum subspace rank r per matrix, an integer ≥ 0 capped at its short side (default 128, examples.sh); 0: SGD numerator. */
  rank: integer(128, 0),
  /** When set, a fraction in (0, 1]: `r = ⌈rankFraction·n⌉` per matrix with short side n (default null). */
  rankFraction: nullableNumber({ min: 0, minInclusive: false, max: 1 }),
  /** Refresh the subspace at step 1 and every `updateProjGap` steps, an integer ≥ 1 (default 200; examples.sh uses 100–200). */
  updateProjGap: integer(200, 1),
  /**
   * `'topk'` (default: rows/columns of largest ℓ2 norm), `'uniform'` (random, seeded), `'dct'` (top-r DCT
   * columns) or `'svd'` (top-r singular vectors by the seeded range finder: examples.sh's projector).
   */
  projection: choice<SubspaceProjection>(['topk', 'uniform', 'dct', 'svd'], 'topk'),
  /** What a refresh does to the momentum: `'afterStep'` (default, the reference), `'beforeStep'`, `'none'` (overlap_state). */
  reset: choice<MomentumReset>(['afterStep', 'beforeStep', 'none'], 'afterStep'),
  /** Seed of the `'uniform'` and `'svd'` projectors, an integer in [0, 2²⁴] (default 0). */
  seed: integer(0, 0, PSGD_MAX_SEED),
  ...sharedSchema(),
  schedule: decayedSchedule(),
};

/** Options of {@link subspaceMomentumDefinition}. */
export interface SubspaceMomentumOptions extends OptionsOf<typeof smSchema> {}
/** {@link SubspaceMomentumOptions} with every default filled in. */
export interface ResolvedSubspaceMomentum extends ResolvedOf<typeof smSchema> {}

/**
 * AdamSNSM: Subset-Norm step size with Subspace-Momentum (Nguyen & Nguyen, ICML 2025; arXiv 2411.07120),
 * as timmytonga/sn-sm `GenericOptim.py` with `momentum_type = 'sm'`, `second_moment_type = 'sn'`
 * (`subspace_momentum.py`, `subset_norm.py`): the numerator is momentum in a rank-r subspace of each
 * matrix plus the raw gradient in its complement (`subspaceEmaMomentum`), divided by the Subset-Norm
 * denominator of the raw gradient (`scaleBySubsetNorm`); `subsetSize: 1` gives Adam's per-coordinate
 * denominator (GenericOptim `sm` + `ema`). The `'svd'` projector uses the seeded range finder for the SVD.
 * State per m×n matrix with short side n and long side N: N·r + r (momentum, indices; `'svd'`: N·r + n·r)
 * + max(m, n) (heuristics) floats.
 */
export const subspaceMomentumDefinition: OptimizerDefinition<SubspaceMomentumOptions, ResolvedSubspaceMomentum> = recipe({
  name: 'subspaceMomentum',
  className: 'orthoptim.SubspaceMomentum',
  summary: 'AdamSNSM: momentum in a rank-r subspace (SGD in its complement) over the Subset-Norm step size',
  paper: 'Nguyen & Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum with Convergence Guarantees" (ICML 2025; arXiv 2411.07120)',
  reference: 'timmytonga/sn-sm:GenericOptim.py#GenericOptim (momentum_type sm, second_moment_type sn); subspace_momentum.py; subset_norm.py',
  schema: smSchema,
  build: (r) =>
    chain(
      scaleBySubsetNorm({
        subsetSize: r.subsetSize,
        beta1: r.beta1,
        beta2: r.beta2,
        epsilon: r.epsilon,
        correctBias: r.correctBias,
        numerator: subspaceEmaMomentum({
          rank: r.rank,
          rankFraction: r.rankFraction,
          beta1: r.beta1,
          updateProjGap: r.updateProjGap,
          projection: r.projection,
          reset: r.reset,
          seed: r.seed,
        }),
      }),
      scaleByLearningRate(r.schedule),
      addDecayAfterStep(r.weightDecay, r.schedule),
    ),
});

/** AdamSN's transform (no tf.Optimizer), validated as {@link subsetNormDefinition}. */
export const subsetNormTransform = recipeTransform(subsetNormDefinition);
/** AdamSNSM's transform (no tf.Optimizer), validated as {@link subspaceMomentumDefinition}. */
export const subspaceMomentumTransform = recipeTransform(subspaceMomentumDefinition);
