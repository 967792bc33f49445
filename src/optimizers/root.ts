/**
 * ROOT: heavy-ball momentum → soft-threshold clip at the 0.9-quantile → shape-adaptive Newton–Schulz →
 * Moonlight scale, for hidden matrices; ROOT's own AdamW for everything else.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { trace } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape } from '../transforms/orthogonalize.js';
import { clipAtQuantile, scaleByAdamUncorrectedEpsilon } from '../transforms/root.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
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
  auxiliaryAdamw,
  auxiliaryFromConfig,
  auxiliaryKeys,
  auxiliaryLearningRate,
  auxiliaryToConfig,
  resolveAuxiliary,
  routeMatrices,
  withoutAuxiliary,
  type AuxiliaryOptions,
  type ResolvedAuxiliary,
} from './auxiliary.js';
import { defineOptimizer } from '../tfjs/registry.js';

/**
 * Newton–Schulz coefficients of ROOT: a preset — `'root'` (per-shape table with Jordan's row for other
 * shapes, `rootCoefficientTable`), `'jordan'`, `'polarExpress5'`, … — or rows.
 */
export type RootCoefficients = CoefficientPreset | readonly QuinticCoefficients[];

/** Where ROOT's AdamW adds ε: to the uncorrected `√v` (the reference) or to `√v̂` (torch AdamW). */
export type EpsilonPlacement = 'uncorrected' | 'corrected';

/**
 * Options of {@link root}. Defaults follow `huawei-noah/noah-research:ROOT/examples/example_train.py`
 * (`ROOT.__init__` and `get_optimizer`): the AdamW parameters share the ROOT learning rate and weight decay.
 */
export interface RootOptions extends AuxiliaryOptions {
  /** Learning rate (default 1e-3); also the AdamW learning rate unless `adamwLearningRate` is given. */
  readonly learningRate?: LearningRate;
  /** Heavy-ball momentum μ in [0, 1): `M ← μM + G` (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `G + μM` (default true). */
  readonly nesterov?: boolean;
  /** Newton–Schulz coefficients: `'root'` (default: per-shape table, Jordan's row for other shapes), a preset, or rows. */
  readonly coefficients?: RootCoefficients;
  /** Newton–Schulz steps (default 5, ROOT's `root_steps`). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default 1e-7). */
  readonly nsEpsilon?: number;
  /** Quantile of |U| at which U is clipped (default 0.9). */
  readonly clipQuantile?: number;
  /** Added to the quantile threshold (default 1e-9). */
  readonly clipOffset?: number;
  /** Update RMS of the Moonlight scale `rms·√max(fanIn, fanOut)` (default 0.2). */
  readonly rms?: number;
  /** Decoupled weight decay, multiplied by the raw learning rate (default 0.1); also AdamW's unless `adamwWeightDecay` is given. */
  readonly weightDecay?: number;
  /** Where the AdamW ε goes (default `'uncorrected'`, as the reference; `'corrected'` is torch AdamW). */
  readonly adamwEpsilonPlacement?: EpsilonPlacement;
}

/** {@link RootOptions} with every default filled in. */
export interface ResolvedRoot {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly coefficients: RootCoefficients;
  readonly nsSteps: number;
  readonly nsEpsilon: number;
  readonly ns: ResolvedNewtonSchulz;
  readonly clipQuantile: number;
  readonly clipOffset: number;
  readonly rms: number;
  readonly weightDecay: number;
  readonly adamwEpsilonPlacement: EpsilonPlacement;
  readonly aux: ResolvedAuxiliary;
}

const NAME = 'root';

/** ROOT's auxiliary AdamW (ε on the uncorrected `√v`), or the shared torch-style one. */
function rootAdamw(r: ResolvedRoot): GradientTransformation {
  if (r.adamwEpsilonPlacement === 'corrected') return auxiliaryAdamw(NAME, r.aux);
  return chain(
    scaleByAdamUncorrectedEpsilon({ beta1: r.aux.adamwBeta1, beta2: r.aux.adamwBeta2, epsilon: r.aux.adamwEpsilon }),
    addDecayedWeights(r.aux.adamwWeightDecay),
    scaleByLearningRate(auxiliaryLearningRate(NAME, r.aux)),
  );
}

/** The definition behind {@link root}. */
export const rootDefinition: OptimizerDefinition<RootOptions, ResolvedRoot> = {
  name: NAME,
  className: 'orthoptim.Root',
  summary: 'ROOT: heavy-ball momentum, clip at the 0.9-quantile, shape-adaptive Newton–Schulz, 0.2·√max scale; AdamW for non-matrices',
  paper: 'He et al., "ROOT: Robust Orthogonalized Optimizer for Neural Network Training" (arXiv 2511.20626)',
  reference: 'huawei-noah/noah-research@aa0f80c8ce4815b1f072500be6906f56fc76a91a:ROOT/examples/example_train.py#ROOT',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'coefficients', 'nsSteps', 'nsEpsilon', 'clipQuantile', 'clipOffset', 'rms',
    'weightDecay', 'adamwEpsilonPlacement', ...auxiliaryKeys,
  ],
  resolve(o) {
    const learningRate = o.learningRate ?? 1e-3;
    const weightDecay = checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0.1, nonNegative);
    // Checked before the AdamW, which inherits both: an error names what the user wrote.
    decayedLearningRate(NAME, 'learningRate', learningRate, 'weightDecay', weightDecay);
    const coefficients = o.coefficients ?? 'root';
    const ns = resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: o.nsSteps ?? 5, nsEpsilon: o.nsEpsilon ?? 1e-7 });
    const { steps: nsSteps, eps: nsEpsilon } = ns;
    return {
      learningRate,
      momentum: checkUnit(NAME, 'momentum', o.momentum ?? 0.95),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? true),
      coefficients,
      nsSteps,
      nsEpsilon,
      ns,
      clipQuantile: checkNumber(NAME, 'clipQuantile', o.clipQuantile ?? 0.9, { min: 0, max: 1 }),
      clipOffset: checkNumber(NAME, 'clipOffset', o.clipOffset ?? 1e-9, nonNegative),
      rms: checkNumber(NAME, 'rms', o.rms ?? 0.2, positive),
      weightDecay,
      adamwEpsilonPlacement: checkChoice(NAME, 'adamwEpsilonPlacement', o.adamwEpsilonPlacement ?? 'uncorrected', [
        'uncorrected',
        'corrected',
      ] as const),
      aux: resolveAuxiliary(NAME, o, {
        adamwLearningRate: learningRate,
        adamwBeta1: 0.9,
        adamwBeta2: 0.95,
        adamwEpsilon: 1e-8,
        adamwWeightDecay: weightDecay,
      }),
    };
  },
  build(r) {
    return routeMatrices(
      NAME,
      chain(
        trace({ momentum: r.momentum, dampening: 0, nesterov: r.nesterov }),
        clipAtQuantile({ quantile: r.clipQuantile, offset: r.clipOffset }),
        orthogonalize(r.ns, NAME),
        scaleByShape('moonlight', { rms: r.rms }),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
      ),
      r.aux,
      rootAdamw(r),
    );
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      nesterov: r.nesterov,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.nsSteps,
      nsEpsilon: r.nsEpsilon,
      clipQuantile: r.clipQuantile,
      clipOffset: r.clipOffset,
      rms: r.rms,
      weightDecay: r.weightDecay,
      adamwEpsilonPlacement: r.adamwEpsilonPlacement,
      ...auxiliaryToConfig(r.aux, params, NAME),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutAuxiliary(c) as unknown as RootOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...auxiliaryFromConfig(c),
    };
  },
};

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
 *
 * @example
 * model.compile({ optimizer: root({ learningRate: 1e-3, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const root = defineOptimizer(rootDefinition);
