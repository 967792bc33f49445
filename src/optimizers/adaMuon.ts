/**
 * AdaMuon: Muon on the sign of the momentum, followed by an element-wise second moment and an RMS-aligned
 * rescale.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize } from '../transforms/orthogonalize.js';
import { rmsRescale, scaleByElementSecondMoment, scaleBySign, type ConvLayout } from '../transforms/normalize.js';
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

/** Options of {@link adaMuon}. Defaults follow Chongjie-Si/AdaMuon's GPT-2 `AdaMuon` class and training script. */
export interface AdaMuonOptions extends AuxiliaryOptions {
  /** Learning rate of the AdaMuon matrices (default 0.02); AdamW-compatible, since updates have RMS `rms`. */
  readonly learningRate?: LearningRate;
  /** EMA momentum μ in [0, 1) (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `(1−μ)G + μM` (default true). */
  readonly nesterov?: boolean;
  /** EMA rate of the element-wise second moment, in [0, 1) (default: `momentum`, as the official code). */
  readonly beta2?: number;
  /** Added to `√V` and to the norm in the rescale (default 1e-8). */
  readonly epsilon?: number;
  /** Target update RMS (default 0.2). */
  readonly rms?: number;
  /** Orthogonalize `sign(U)` instead of `U` (default true: the v2/v3 paper and code; false: the v1 paper). */
  readonly sign?: boolean;
  /**
   * The `m·n` of a conv kernel in the rescale: `'flattened'` (default) its `[kh·kw·in, out]` matrix;
   * `'kernel'` the reference's `min(shape)·max(shape)` over the four axes (golden README item 4), for replays.
   */
  readonly convScale?: ConvLayout;
  /** Newton–Schulz coefficients: `'jordan'` (default), `'you'`, `'polarExpress5'`, `'polarExpress8'`, or rows. */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default: the table's, 5 for Jordan). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default: the table's, 1e-7 for Jordan). */
  readonly nsEpsilon?: number;
  /** Decoupled weight decay of the AdaMuon matrices, multiplied by the base learning rate (default 0.01). */
  readonly weightDecay?: number;
}

/** {@link AdaMuonOptions} with every default filled in. */
export interface ResolvedAdaMuon {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly beta2: number;
  readonly epsilon: number;
  readonly rms: number;
  readonly sign: boolean;
  readonly convScale: ConvLayout;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly weightDecay: number;
  readonly aux: ResolvedAuxiliary;
}

const NAME = 'adaMuon';

/** The matrix chain of AdaMuon (momentum → sign → NS → element-wise second moment → RMS rescale → decay → lr). */
export function adaMuonMatrixChain(r: ResolvedAdaMuon): GradientTransformation {
  return chain(
    emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
    ...(r.sign ? [scaleBySign()] : []),
    orthogonalize(r.ns, NAME),
    scaleByElementSecondMoment({ beta: r.beta2, epsilon: r.epsilon }),
    rmsRescale({ rms: r.rms, epsilon: r.epsilon, convLayout: r.convScale }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
  );
}

/** The definition behind {@link adaMuon}. */
export const adaMuonDefinition: OptimizerDefinition<AdaMuonOptions, ResolvedAdaMuon> = {
  name: NAME,
  className: 'orthoptim.AdaMuon',
  summary: 'AdaMuon: Muon on sign(momentum), element-wise second moment, RMS-0.2 rescale; AdamW for non-matrices',
  paper: 'Si, Zhang, Shen, "AdaMuon: Adaptive Muon Optimizer" (arXiv 2507.11005)',
  reference: 'Chongjie-Si/AdaMuon@369f0b3b:gpt2/models/optimizers/adamuon.py#AdaMuon',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'beta2', 'epsilon', 'rms', 'sign', 'convScale', 'coefficients',
    'nsSteps', 'nsEpsilon', 'weightDecay', ...auxiliaryKeys,
  ],
  resolve(o) {
    const coefficients = o.coefficients ?? 'jordan';
    const learningRate = o.learningRate ?? 0.02;
    const weightDecay = checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0.01, nonNegative);
    // Checked before the AdamW, which inherits the learning rate: an error names what the user wrote.
    decayedLearningRate(NAME, 'learningRate', learningRate, 'weightDecay', weightDecay);
    const momentum = checkUnit(NAME, 'momentum', o.momentum ?? 0.95);
    const r: ResolvedAdaMuon = {
      learningRate,
      momentum,
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? true),
      beta2: checkUnit(NAME, 'beta2', o.beta2 ?? momentum),
      epsilon: checkNumber(NAME, 'epsilon', o.epsilon ?? 1e-8, positive),
      rms: checkNumber(NAME, 'rms', o.rms ?? 0.2, positive),
      sign: checkBoolean(NAME, 'sign', o.sign ?? true),
      convScale: checkChoice(NAME, 'convScale', o.convScale ?? 'flattened', ['flattened', 'kernel'] as const),
      coefficients,
      ns: resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: o.nsSteps, nsEpsilon: o.nsEpsilon }),
      weightDecay,
      // The reference GPT-2 script steps its AdamW with the same learning rate (the point of the RMS
      // rescale) and torch AdamW's ε 1e-8, betas (0.9, 0.95).
      aux: resolveAuxiliary(NAME, o, { adamwLearningRate: learningRate, adamwEpsilon: 1e-8 }),
    };
    return r;
  },
  build(r) {
    return routeMatrices(NAME, adaMuonMatrixChain(r), r.aux);
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      nesterov: r.nesterov,
      beta2: r.beta2,
      epsilon: r.epsilon,
      rms: r.rms,
      sign: r.sign,
      convScale: r.convScale,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
      weightDecay: r.weightDecay,
      ...auxiliaryToConfig(r.aux, params, NAME),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutAuxiliary(c) as unknown as AdaMuonOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...auxiliaryFromConfig(c),
    };
  },
};

/**
 * AdaMuon (Si, Zhang, Shen, "AdaMuon: Adaptive Muon Optimizer", arXiv 2507.11005), following the
 * official GPT-2 code Chongjie-Si/AdaMuon@369f0b3b `gpt2/models/optimizers/adamuon.py` (`AdaMuon`).
 * For each matrix (conv kernels read as `[kh·kw·in, out]`):
 * `M ← μM + (1−μ)G`; `U = (1−μ)G + μM` (Nesterov); `O = NS₅(sign(U))` (Jordan);
 * `V ← μV + (1−μ)O⊙O` (element-wise, the momentum's μ, no bias correction); `Ô = O/(√V + ε)`;
 * `Ô ← Ô·0.2·√(mn)/(‖Ô‖_F + ε)`; `W ← W − η(Ô + λW)`. Every update has RMS 0.2, so AdamW's learning
 * rate and weight decay carry over: at the first step `Ô ≈ sign(O)/√(1−μ)` and the update is
 * `≈ 0.2·sign(O)`. Vectors, scalars and `exclude`d matrices get AdamW (`adamw*` options; defaults as
 * the reference's training script: the same learning rate, betas (0.9, 0.95), ε 1e-8, decay 0).
 *
 * Paper and code: the sign step is in the v2/v3 paper and the code (the default); the v1 paper's form
 * without it is `sign: false`. The Megatron variant in the same repository (`buf ← μ·buf + g`, the
 * rescale split between the update and the lr) gives the same update up to ε.
 *
 * Differences from the reference, on purpose: Newton–Schulz and the final update stay float32 (the
 * reference runs NS in bfloat16 and rounds every update to bfloat16); for conv kernels the reference's
 * rescale uses `min(shape)·max(shape)` of the 4-D tensor (golden README item 4) — this library uses
 * `m·n` of the flattened matrix, and `convScale: 'kernel'` restores the reference for replays.
 *
 * State per m×n matrix: the momentum and the element-wise second moment — 2mn floats; m and v per
 * AdamW parameter. Cost per step: Muon's 15 matmuls (5 Newton–Schulz steps) plus O(mn) element-wise work.
 *
 * @example
 * model.compile({ optimizer: adaMuon({ learningRate: 1e-3, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const adaMuon = defineOptimizer(adaMuonDefinition);
