/**
 * ROOT: heavy-ball momentum → soft-threshold clip at the 0.9-quantile → shape-adaptive Newton–Schulz →
 * Moonlight scale, for hidden matrices; ROOT's own AdamW for everything else.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { boolean, choice, nonNegative, number, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { trace } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape } from '../transforms/orthogonalize.js';
import { clipAtQuantile, scaleByAdamUncorrectedEpsilon } from '../transforms/root.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import { decayedSchedule, learningRate, newtonSchulzOptions, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';
import { auxiliaryAdamw, auxiliaryLearningRate, auxiliaryOptions, routeMatrices } from './auxiliary.js';

/**
 * Newton–Schulz coefficients of ROOT: a preset — `'root'` (per-shape table with Jordan's row for other
 * shapes, `rootCoefficientTable`), `'jordan'`, `'polarExpress5'`, … — or rows.
 */
export type RootCoefficients = CoefficientPreset | readonly QuinticCoefficients[];

/** Where ROOT's AdamW adds ε: to the uncorrected `√v` (the reference) or to `√v̂` (torch AdamW). */
export type EpsilonPlacement = 'uncorrected' | 'corrected';

const NAME = 'root';

const schema = {
  /** Learning rate (default 1e-3); also the AdamW learning rate unless `adamwLearningRate` is given. */
  learningRate: learningRate(1e-3),
  /** Decoupled weight decay, multiplied by the raw learning rate (default 0.1); also AdamW's unless `adamwWeightDecay` is given. */
  weightDecay: nonNegative(0.1),
  // Checked before the AdamW, which inherits both: an error names what the user wrote.
  schedule: decayedSchedule(),
  /** Heavy-ball momentum μ in [0, 1): `M ← μM + G` (default 0.95). */
  momentum: unit(0.95),
  /** Nesterov look-ahead `G + μM` (default true). */
  nesterov: boolean(true),
  // ROOT's table ('root': per shape, Jordan's row for other shapes), root_steps 5, ε 1e-7.
  ...newtonSchulzOptions({ coefficients: 'root', nsSteps: 5, nsEpsilon: 1e-7 }),
  /** Quantile of |U| at which U is clipped (default 0.9). */
  clipQuantile: number(0.9, { min: 0, max: 1 }),
  /** Added to the quantile threshold (default 1e-9). */
  clipOffset: nonNegative(1e-9),
  /** Update RMS of the Moonlight scale `rms·√max(fanIn, fanOut)` (default 0.2). */
  rms: positive(0.2),
  /** Where the AdamW ε goes (default `'uncorrected'`, as the reference; `'corrected'` is torch AdamW). */
  adamwEpsilonPlacement: choice(['uncorrected', 'corrected'] as const, 'uncorrected'),
  ...auxiliaryOptions({
    adamwLearningRate: { from: 'learningRate' },
    adamwBeta1: 0.9,
    adamwBeta2: 0.95,
    adamwEpsilon: 1e-8,
    adamwWeightDecay: { from: 'weightDecay' },
  }),
};

/**
 * Options of {@link root}. Defaults follow `huawei-noah/noah-research:ROOT/examples/example_train.py`
 * (`ROOT.__init__` and `get_optimizer`): the AdamW parameters share the ROOT learning rate and weight decay.
 */
export interface RootOptions extends OptionsOf<typeof schema> {}
/** {@link RootOptions} with every default filled in. */
export interface ResolvedRoot extends ResolvedOf<typeof schema> {}

/** ROOT's auxiliary AdamW (ε on the uncorrected `√v`), or the shared torch-style one. */
function rootAdamw(r: ResolvedRoot): GradientTransformation {
  if (r.adamwEpsilonPlacement === 'corrected') return auxiliaryAdamw(NAME, r.aux);
  return chain(
    scaleByAdamUncorrectedEpsilon({ beta1: r.aux.adamwBeta1, beta2: r.aux.adamwBeta2, epsilon: r.aux.adamwEpsilon }),
    addDecayedWeights(r.aux.adamwWeightDecay),
    scaleByLearningRate(auxiliaryLearningRate(NAME, r.aux)),
  );
}

/**
 * ROOT (He et al., "ROOT: Robust Orthogonalized Optimizer for Neural Network Training", arXiv 2511.20626),
 * following the authors' `huawei-noah/noah-research@aa0f80c8:ROOT/examples/example_train.py#ROOT` (the
 * golden files' source). For each matrix (conv kernels flattened to `[kh·kw·in, out]`):
 * ```
 * M ← μM + G                                   (heavy-ball sum, not an EMA)
 * U = G + μM (Nesterov, default) or M
 * τ = quantile₀.₉(|U|) + 1e-9                  (linear interpolation at the float32 index 0.9·(N−1))
 * B = U − sign(U)·relu(|U| − τ)                (= clip(U, −τ, τ))
 * O = NS₅(B) with the per-shape (a, b, c)      (Jordan's row for shapes outside ROOT's table)
 * W ← W − η·(0.2·√max(fanIn, fanOut)·O + λW)   (decay on the raw η)
 * ```
 * Vectors, scalars and `exclude`d matrices get ROOT's AdamW with the same η and λ, betas (0.9, 0.95),
 * ε 1e-8 added to the *uncorrected* `√v` (`adamwEpsilonPlacement: 'corrected'` gives torch AdamW).
 *
 * Paper vs code: the paper and readme write the threshold as a fixed ε; the reference code (the default
 * here) computes it per matrix and step as the 0.9-quantile of |U|. The per-shape coefficients (the
 * `'root'` preset, `rootCoefficientTable`) are the four published 2048-wide shapes; how coefficients for
 * other shapes are fitted is not published. The published 2048×2048 row lets singular values escape
 * (spec §8.2; reported once on `console.warn` when used): pass `coefficients: 'jordan'` to avoid it.
 * Differences from the reference: Newton–Schulz runs on the flattened matrix of a conv kernel (the
 * reference asserts 2-D weights); the quantile is a `tf.topk` on the device.
 *
 * State per m×n matrix: one momentum buffer (mn floats); m and v per AdamW parameter. Per step: 15
 * matmuls (5 Newton–Schulz steps) plus a top-k selection of ~0.1·mn entries.
 */
export const rootDefinition: OptimizerDefinition<RootOptions, ResolvedRoot> = recipe({
  name: NAME,
  className: 'orthoptim.Root',
  summary: 'ROOT: heavy-ball momentum, clip at the 0.9-quantile, shape-adaptive Newton–Schulz, 0.2·√max scale; AdamW for non-matrices',
  paper: 'He et al., "ROOT: Robust Orthogonalized Optimizer for Neural Network Training" (arXiv 2511.20626)',
  reference: 'huawei-noah/noah-research@aa0f80c8ce4815b1f072500be6906f56fc76a91a:ROOT/examples/example_train.py#ROOT',
  schema,
  build: (r) =>
    routeMatrices(
      NAME,
      chain(
        trace({ momentum: r.momentum, dampening: 0, nesterov: r.nesterov }),
        clipAtQuantile({ quantile: r.clipQuantile, offset: r.clipOffset }),
        orthogonalize(r.ns, NAME),
        scaleByShape('moonlight', { rms: r.rms }),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(r.schedule),
      ),
      r.aux,
      rootAdamw(r),
    ),
});

/** ROOT's transform (no tf.Optimizer). */
export const rootTransform = recipeTransform(rootDefinition);
