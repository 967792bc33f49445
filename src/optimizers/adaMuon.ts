/**
 * AdaMuon: Muon on the sign of the momentum, followed by an element-wise second moment and an RMS-aligned
 * rescale.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { boolean, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize } from '../transforms/orthogonalize.js';
import { rmsRescale, scaleByElementSecondMoment, scaleBySign } from '../transforms/normalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import {
  convScale, decayedSchedule, learningRate, legacyConvScale, newtonSchulzOptions, recipe, recipeTransform,
  type OptimizerDefinition,
} from './definition.js';
import { auxiliaryOptions, routeMatrices } from './auxiliary.js';

const NAME = 'adaMuon';

const schema = {
  /** Learning rate of the AdaMuon matrices (default 0.02); AdamW-compatible, since updates have RMS `rms`. */
  learningRate: learningRate(0.02),
  /** Decoupled weight decay of the AdaMuon matrices, multiplied by the base learning rate (default 0.01). */
  weightDecay: nonNegative(0.01),
  // Checked before the AdamW, which inherits the learning rate: an error names what the user wrote.
  schedule: decayedSchedule(),
  /** EMA momentum μ in [0, 1) (default 0.95). */
  momentum: unit(0.95),
  /** Nesterov look-ahead `(1−μ)G + μM` (default true). */
  nesterov: boolean(true),
  /** EMA rate of the element-wise second moment, in [0, 1) (default: `momentum`, as the official code). */
  beta2: unit((r) => r.momentum as number),
  /** Added to `√V` and to the norm in the rescale (default 1e-8). */
  epsilon: positive(1e-8),
  /** Target update RMS (default 0.2). */
  rms: positive(0.2),
  /** Orthogonalize `sign(U)` instead of `U` (default true: the v2/v3 paper and code; false: the v1 paper). */
  sign: boolean(true),
  /**
   * The `m·n` of a conv kernel in the rescale: `'flattened'` (default) its `[kh·kw·in, out]` matrix;
   * `'torchKernel'` the reference's `min(shape)·max(shape)` over the four axes (golden README item 4), for replays.
   */
  convScale: convScale(),
  ...newtonSchulzOptions(),
  // The reference GPT-2 script steps its AdamW with the same learning rate (the point of the RMS
  // rescale) and torch AdamW's ε 1e-8, betas (0.9, 0.95).
  ...auxiliaryOptions({ adamwLearningRate: { from: 'learningRate' }, adamwEpsilon: 1e-8 }),
};

/** Options of {@link adaMuon}. Defaults follow Chongjie-Si/AdaMuon's GPT-2 `AdaMuon` class and training script. */
export interface AdaMuonOptions extends OptionsOf<typeof schema> {}
/** {@link AdaMuonOptions} with every default filled in. */
export interface ResolvedAdaMuon extends ResolvedOf<typeof schema> {}

/** The matrix chain of AdaMuon (momentum → sign → NS → element-wise second moment → RMS rescale → decay → lr). */
export function adaMuonMatrixChain(r: ResolvedAdaMuon): GradientTransformation {
  return chain(
    emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
    ...(r.sign ? [scaleBySign()] : []),
    orthogonalize(r.ns, NAME),
    scaleByElementSecondMoment({ beta: r.beta2, epsilon: r.epsilon }),
    rmsRescale({ rms: r.rms, epsilon: r.epsilon, convLayout: r.convScale === 'torchKernel' ? 'kernel' : 'flattened' }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(r.schedule),
  );
}

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
 * `m·n` of the flattened matrix, and `convScale: 'torchKernel'` restores the reference for replays.
 *
 * State per m×n matrix: the momentum and the element-wise second moment — 2mn floats; m and v per
 * AdamW parameter. Cost per step: Muon's 15 matmuls (5 Newton–Schulz steps) plus O(mn) element-wise work.
 */
export const adaMuonDefinition: OptimizerDefinition<AdaMuonOptions, ResolvedAdaMuon> = recipe({
  name: NAME,
  className: 'orthoptim.AdaMuon',
  summary: 'AdaMuon: Muon on sign(momentum), element-wise second moment, RMS-0.2 rescale; AdamW for non-matrices',
  paper: 'Si, Zhang, Shen, "AdaMuon: Adaptive Muon Optimizer" (arXiv 2507.11005)',
  reference: 'Chongjie-Si/AdaMuon@369f0b3b:gpt2/models/optimizers/adamuon.py#AdaMuon',
  schema,
  build: (r) => routeMatrices(NAME, adaMuonMatrixChain(r), r.aux),
  legacy: (c) => legacyConvScale(c),
});

/** AdaMuon's transform (no tf.Optimizer). */
export const adaMuonTransform = recipeTransform(adaMuonDefinition);
