/**
 * NorMuon: Muon followed by a neuron-wise second-moment normalization that keeps the update's norm.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape, type ShapeRule } from '../transforms/orthogonalize.js';
import {
  rmsRescale,
  scaleByNeuronSecondMoment,
  type ConvLayout,
  type NeuronStatistics,
} from '../transforms/normalize.js';
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

/**
 * How the normalized update is scaled back (spec §4.1–4.2): `'normPreserving'` — to the Frobenius norm
 * of the orthogonalized update, then Jordan's shape scale (the official code); `'paper'` — to a constant
 * RMS, `rms·√(fanIn·fanOut)/‖Ô‖_F` (the paper's algorithm).
 */
export type NorMuonRescale = 'normPreserving' | 'paper';

/** Options of {@link norMuon}. Defaults follow zichongli5/NorMuon `SingleDeviceNorMuonWithAuxAdam`. */
export interface NorMuonOptions extends AuxiliaryOptions {
  /** Learning rate of the NorMuon matrices (default 0.02). */
  readonly learningRate?: LearningRate;
  /** EMA momentum β₁ in [0, 1) (default 0.95). */
  readonly momentum?: number;
  /**
   * Nesterov look-ahead `(1−β₁)G + β₁M` (default true with `rescale: 'normPreserving'`, as the official
   * code; false with `rescale: 'paper'`, whose algorithm uses the plain momentum).
   */
  readonly nesterov?: boolean;
  /** EMA rate β₂ of the per-neuron second moment, in [0, 1) (default 0.95). */
  readonly beta2?: number;
  /** Added to `√v` and to the norm in the rescale (default 1e-10, as the official code). */
  readonly epsilon?: number;
  /** `'normPreserving'` (default, the official code) or `'paper'` (constant RMS `rms`). */
  readonly rescale?: NorMuonRescale;
  /** Target update RMS of `rescale: 'paper'` (default 0.2). */
  readonly rms?: number;
  /**
   * Axis of the second moment: `'neuron'` (default, one value per output neuron = per column of a Dense
   * kernel `[fanIn, fanOut]`) or `'longerSide'` (one per entry of the longer side, modded-nanogpt).
   */
  readonly statistics?: NeuronStatistics;
  /**
   * Shape scale after the rescale: `'jordan'` `max(1, fanOut/fanIn)^½` (default with `'normPreserving'`),
   * `'none'` (default with `'paper'`), `'moonlight'`, `'spectral'` (microsoft/dion's NorMuon).
   */
  readonly scaleRule?: ShapeRule;
  /**
   * How conv kernels `[kh, kw, in, out]` are read: `'flattened'` (default) as the `[kh·kw·in, out]` matrix —
   * one statistic per output channel, fan-in/out of the matrix; `'kernel'` replays the reference exactly:
   * statistics over `kw` only, norm preserved per `kh×kw` slice, shape scale `max(1, kh/kw)^½` (golden
   * README item 3). Only for replays; needs `statistics: 'neuron'` and `rescale: 'normPreserving'`.
   */
  readonly convRule?: ConvLayout;
  /** Newton–Schulz coefficients: `'jordan'` (default), `'you'`, `'polarExpress5'`, `'polarExpress8'`, or rows. */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default: the table's, 5 for Jordan). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default: the table's, 1e-7 for Jordan). */
  readonly nsEpsilon?: number;
  /** Decoupled weight decay of the NorMuon matrices, multiplied by the base learning rate (default 0). */
  readonly weightDecay?: number;
}

/** {@link NorMuonOptions} with every default filled in. */
export interface ResolvedNorMuon {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly beta2: number;
  readonly epsilon: number;
  readonly rescale: NorMuonRescale;
  readonly rms: number;
  readonly statistics: NeuronStatistics;
  readonly scaleRule: ShapeRule;
  readonly convRule: ConvLayout;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly weightDecay: number;
  readonly aux: ResolvedAuxiliary;
}

const NAME = 'norMuon';

/** The matrix chain of NorMuon (momentum → NS → neuron-wise normalization → rescale → decay → lr). */
export function norMuonMatrixChain(r: ResolvedNorMuon): GradientTransformation {
  const paper = r.rescale === 'paper';
  return chain(
    emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
    orthogonalize(r.ns, NAME),
    scaleByNeuronSecondMoment(
      { beta2: r.beta2, epsilon: r.epsilon, statistics: r.statistics, preserveNorm: !paper, convLayout: r.convRule },
      NAME,
    ),
    ...(paper ? [rmsRescale({ rms: r.rms, epsilon: r.epsilon })] : []),
    scaleByShape(r.scaleRule, { convScale: r.convRule }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
  );
}

/** The definition behind {@link norMuon}. */
export const norMuonDefinition: OptimizerDefinition<NorMuonOptions, ResolvedNorMuon> = {
  name: NAME,
  className: 'orthoptim.NorMuon',
  summary: 'NorMuon: Muon with a per-neuron second moment and a norm-preserving rescale; AdamW for non-matrices',
  paper: 'Li, Liu, Liang, Chen, Zhao, "NorMuon: Making Muon more efficient and scalable" (arXiv 2510.05491)',
  reference: 'zichongli5/NorMuon@d45c9a42:normuon.py#SingleDeviceNorMuonWithAuxAdam',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'beta2', 'epsilon', 'rescale', 'rms', 'statistics', 'scaleRule',
    'convRule', 'coefficients', 'nsSteps', 'nsEpsilon', 'weightDecay', ...auxiliaryKeys,
  ],
  resolve(o) {
    const rescale = checkChoice(NAME, 'rescale', o.rescale ?? 'normPreserving', ['normPreserving', 'paper'] as const);
    const paper = rescale === 'paper';
    const coefficients = o.coefficients ?? 'jordan';
    const r: ResolvedNorMuon = {
      learningRate: o.learningRate ?? 0.02,
      momentum: checkUnit(NAME, 'momentum', o.momentum ?? 0.95),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? !paper),
      beta2: checkUnit(NAME, 'beta2', o.beta2 ?? 0.95),
      epsilon: checkNumber(NAME, 'epsilon', o.epsilon ?? 1e-10, positive),
      rescale,
      rms: checkNumber(NAME, 'rms', o.rms ?? 0.2, positive),
      statistics: checkChoice(NAME, 'statistics', o.statistics ?? 'neuron', ['neuron', 'longerSide'] as const),
      scaleRule: checkChoice(
        NAME, 'scaleRule', o.scaleRule ?? (paper ? 'none' : 'jordan'), ['jordan', 'moonlight', 'spectral', 'none'] as const,
      ),
      convRule: checkChoice(NAME, 'convRule', o.convRule ?? 'flattened', ['flattened', 'kernel'] as const),
      coefficients,
      ns: resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: o.nsSteps, nsEpsilon: o.nsEpsilon }),
      weightDecay: checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0, nonNegative),
      aux: resolveAuxiliary(NAME, o),
    };
    if (r.convRule === 'kernel' && (r.statistics !== 'neuron' || paper)) {
      throw new RangeError(
        `${NAME}: convRule 'kernel' replays the official code and needs statistics 'neuron' and rescale ` +
          `'normPreserving', got statistics '${r.statistics}' and rescale '${r.rescale}'`,
      );
    }
    decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
    return r;
  },
  build(r) {
    return routeMatrices(NAME, norMuonMatrixChain(r), r.aux);
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      nesterov: r.nesterov,
      beta2: r.beta2,
      epsilon: r.epsilon,
      rescale: r.rescale,
      rms: r.rms,
      statistics: r.statistics,
      scaleRule: r.scaleRule,
      convRule: r.convRule,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
      weightDecay: r.weightDecay,
      ...auxiliaryToConfig(r.aux, params, NAME),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutAuxiliary(c) as unknown as NorMuonOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...auxiliaryFromConfig(c),
    };
  },
};

/**
 * NorMuon (Li, Liu, Liang, Chen, Zhao, "NorMuon: Making Muon more efficient and scalable",
 * arXiv 2510.05491), following the official code zichongli5/NorMuon@d45c9a42 `normuon.py`
 * (`SingleDeviceNorMuonWithAuxAdam`, `normuon_update`). For each matrix `W` (TensorFlow.js layout
 * `[fanIn, fanOut]`; conv kernels read as `[kh·kw·in, out]`):
 * `M ← β₁M + (1−β₁)G`; `U = (1−β₁)G + β₁M` (Nesterov); `O = NS₅(U)` (Jordan);
 * `v ← β₂v + (1−β₂)·mean_fanIn(O⊙O)` — one value per output neuron, a column of the kernel (a row of
 * the PyTorch weight); `Ô = O/(√v + ε)`; `Ô ← Ô·‖O‖_F/(‖Ô‖_F + ε)`; `W ← W − η(s·Ô + λW)` with
 * Jordan's `s = max(1, fanOut/fanIn)^½`. Vectors, scalars and `exclude`d matrices get AdamW (`adamw*`
 * options; defaults lr 3e-4, betas (0.9, 0.95), ε 1e-10, as the reference's auxiliary Adam).
 *
 * Paper and code differ (spec §4.1–4.2, zichongli5/NorMuon issues #5, #6): the paper uses plain
 * momentum and rescales to a constant RMS `0.2·√(mn)/‖Ô‖_F` with no shape scale. The code's form is
 * the default because it is what the authors ran and what the golden trajectories record;
 * `rescale: 'paper'` gives the paper's form (Nesterov then defaults to off, `scaleRule` to `'none'`).
 * `statistics: 'longerSide'` gives modded-nanogpt's variant.
 *
 * Differences from the reference, on purpose: Newton–Schulz in float32 (reference: bfloat16); for
 * conv kernels the reference normalizes the NS output after reshaping it back to 4-D, so its statistic
 * runs over the kernel width and its norm is kept per `kh×kw` slice, and its shape scale reads `kh/kw`
 * (golden README items 1 and 3) — this library reads the flattened matrix (one statistic per output
 * channel, as microsoft/dion PR #121 fixed it); `convRule: 'kernel'` restores the reference for replays.
 *
 * State per m×n matrix: the momentum (mn floats) and one second moment per output neuron (`fanOut`
 * floats; `max(m, n)` with `'longerSide'`) — mn + n; m and v per AdamW parameter.
 * Cost per step: Muon's 15 matmuls (5 Newton–Schulz steps) plus O(mn) element-wise work.
 *
 * @example
 * model.compile({ optimizer: norMuon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const norMuon = defineOptimizer(norMuonDefinition);
