/**
 * ASGO: EMA momentum and a one-sided (smaller-side) preconditioner `(V + εI)^{−1/2}` from an EMA of the
 * gradient Gram matrix, RMS-0.2 rescale, decoupled weight decay; AdamW for non-matrices.
 *
 * Float32 limit: for gradients above ≈1e19 in magnitude the Gram statistic `V` overflows to Infinity and
 * the preconditioner falls back to the identity (the update is then the RMS-rescaled momentum); the
 * parameters stay finite.
 * @module
 */
import { chain } from '../core/transform.js';
import { integer, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { oneSidedPrecondition, scaleToRms } from '../transforms/precondition.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';
import { auxiliaryOptions, routeMatrices } from './auxiliary.js';

const NAME = 'asgo';

const schema = {
  /** Learning rate (default 0.01). */
  learningRate: learningRate(0.01),
  /** EMA coefficient β₁ of the momentum, `M ← β₁M + (1−β₁)G` (default 0.9). */
  momentum: unit(0.9),
  /** EMA coefficient β₂ of the Gram statistic `V` (default 0.8). */
  beta2: unit(0.8),
  /** Damping ε of the inverse root `(V + εI)^{−1/2}` (default 1e-10). */
  damping: nonNegative(1e-10),
  /** Steps of the coupled Polar Express inverse-root iteration, an integer in [1, 100] (default 10). */
  inverseRootSteps: integer(10, 1, 100),
  /** RMS of the update before the learning rate, `U·rms·√(mn)/‖U‖_F` (default 0.2). */
  rms: positive(0.2),
  /** Decoupled weight decay, multiplied by the learning rate (default 0.1). */
  weightDecay: nonNegative(0.1),
  schedule: decayedSchedule(),
  ...auxiliaryOptions(),
};

/** Options of {@link asgo}. Defaults follow `infinity-stars/ASGO:LLMmodels/config/optimizer/asgo.yaml`. */
export interface AsgoOptions extends OptionsOf<typeof schema> {}
/** {@link AsgoOptions} with every default filled in. */
export interface ResolvedAsgo extends ResolvedOf<typeof schema> {}

/**
 * ASGO (An, Liu, Pan, Ren, Ma, Goldfarb, Zhang, "ASGO: Adaptive Structured Gradient Optimization",
 * arXiv 2503.20762), the practical form of the authors' `infinity-stars/ASGO:optimizers/asgo.py` (spec
 * §11.1; no golden file). For each matrix `G` in TF.js layout `[fanIn, fanOut]` (conv kernels flattened to
 * `[kh·kw·in, out]`; the reference only takes 2-D weights), with `k = min(fanIn, fanOut)`:
 * ```
 * M ← β₁M + (1−β₁)G                                          β₁ = 0.9
 * V ← β₂V + (1−β₂)·(GGᵀ if fanIn ≤ fanOut else GᵀG)          k×k, β₂ = 0.8
 * P = (V + εI)^{−1/2}                                         10 coupled Polar Express steps; I if non-finite
 * U = P·M if fanIn ≤ fanOut else M·P
 * W ← W − η·(0.2·√(mn)·U/‖U‖_F + λW)                          λ = 0.1
 * ```
 * The preconditioned side is the smaller one; in the reference's PyTorch `[out, in]` terms, "left (GGᵀ)
 * when out < in" is our output side, "right (GᵀG) when out ≥ in" our input side (see `PreconditionSide`).
 * Vectors, scalars and `exclude`d matrices get the shared auxiliary AdamW (`adamw*` options; lr 3e-4,
 * betas (0.9, 0.95), ε 1e-10, no decay) — the reference asserts that such parameters are "handled by
 * AdamW" in its training script, whose AdamW settings are not part of the optimizer.
 *
 * Paper vs code: the paper's theory form is one-sided AdaGrad, `V ← V + GGᵀ`, `W ← W − η V^{−1/2}G`; the
 * code (the default here) uses EMAs, momentum and the RMS rescale. Differences from the code, on purpose:
 * the inverse root runs on `V + εI` (the reference adds ε only inside the normalizing norm; identical in
 * float32 unless ‖V‖ is ~1e-3 or less), the non-finite fallback and the norm stay on the device (no
 * `.item()`), and an all-zero update stays zero (the reference divides 0 by 0). The paper's options of
 * recomputing P every τ steps and head-wise preconditioning are not implemented.
 *
 * State per m×n matrix: momentum (mn floats) and V (k² floats, k = min(m, n)); m and v per AdamW parameter.
 * Per step: 1 Gram product (k×k from k×N), 37 k×k matmuls for the inverse root, 1 k×N apply.
 */
export const asgoDefinition: OptimizerDefinition<AsgoOptions, ResolvedAsgo> = recipe({
  name: NAME,
  className: 'orthoptim.Asgo',
  summary: 'ASGO: EMA momentum preconditioned on its smaller side by (EMA of GGᵀ)^−½, RMS 0.2; AdamW for non-matrices',
  paper: 'An et al., "ASGO: Adaptive Structured Gradient Optimization" (arXiv 2503.20762, NeurIPS 2025)',
  reference: 'infinity-stars/ASGO:optimizers/asgo.py#asgo (+ optimizers/utils/matrix_decom.py#_matrix_inverse_root_PolarExpress)',
  schema,
  build: (r) =>
    routeMatrices(
      NAME,
      chain(
        oneSidedPrecondition(
          { beta1: r.momentum, beta2: r.beta2, damping: r.damping, steps: r.inverseRootSteps, coefficients: 'polarExpress8' },
          NAME,
        ),
        scaleToRms(r.rms),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(r.schedule),
      ),
      r.aux,
    ),
});

/** ASGO's transform (no tf.Optimizer). */
export const asgoTransform = recipeTransform(asgoDefinition);
