/**
 * NorMuon: Muon followed by a neuron-wise second-moment normalization that keeps the update's norm.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { boolean, choice, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape } from '../transforms/orthogonalize.js';
import { rmsRescale, scaleByNeuronSecondMoment } from '../transforms/normalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import {
  convScale, decayedSchedule, learningRate, legacyConvScale, newtonSchulzOptions, recipe, recipeTransform, shapeRules,
  type OptimizerDefinition,
} from './definition.js';
import { auxiliaryOptions, routeMatrices } from './auxiliary.js';

/**
 * How the normalized update is scaled back (spec §4.1–4.2): `'normPreserving'` — to the Frobenius norm
 * of the orthogonalized update, then Jordan's shape scale (the official code); `'paper'` — to a constant
 * RMS, `rms·√(fanIn·fanOut)/‖Ô‖_F` (the paper's algorithm).
 */
export type NorMuonRescale = 'normPreserving' | 'paper';

const NAME = 'norMuon';
const paper = (r: Readonly<Record<string, unknown>>) => r.rescale === 'paper';

const schema = {
  /** Learning rate of the NorMuon matrices (default 0.02). */
  learningRate: learningRate(0.02),
  /** EMA momentum β₁ in [0, 1) (default 0.95). */
  momentum: unit(0.95),
  /** `'normPreserving'` (default, the official code) or `'paper'` (constant RMS `rms`). */
  rescale: choice(['normPreserving', 'paper'] as const, 'normPreserving'),
  /**
   * Nesterov look-ahead `(1−β₁)G + β₁M` (default true with `rescale: 'normPreserving'`, as the official
   * code; false with `rescale: 'paper'`, whose algorithm uses the plain momentum).
   */
  nesterov: boolean((r) => !paper(r)),
  /** EMA rate β₂ of the per-neuron second moment, in [0, 1) (default 0.95). */
  beta2: unit(0.95),
  /** Added to `√v` and to the norm in the rescale (default 1e-10, as the official code). */
  epsilon: positive(1e-10),
  /** Target update RMS of `rescale: 'paper'` (default 0.2). */
  rms: positive(0.2),
  /**
   * Axis of the second moment: `'neuron'` (default, one value per output neuron = per column of a Dense
   * kernel `[fanIn, fanOut]`) or `'longerSide'` (one per entry of the longer side, modded-nanogpt).
   */
  statistics: choice(['neuron', 'longerSide'] as const, 'neuron'),
  /**
   * Shape scale after the rescale: `'jordan'` `max(1, fanOut/fanIn)^½` (default with `'normPreserving'`),
   * `'none'` (default with `'paper'`), `'moonlight'`, `'spectral'` (microsoft/dion's NorMuon).
   */
  scaleRule: choice(shapeRules, (r) => (paper(r) ? 'none' : 'jordan')),
  /**
   * How conv kernels `[kh, kw, in, out]` are read: `'flattened'` (default) as the `[kh·kw·in, out]` matrix —
   * one statistic per output channel, fan-in/out of the matrix; `'torchKernel'` replays the reference
   * exactly: statistics over `kw` only, norm preserved per `kh×kw` slice, shape scale `max(1, kh/kw)^½`
   * (golden README item 3). Only for replays; needs `statistics: 'neuron'` and `rescale: 'normPreserving'`.
   */
  convScale: convScale(),
  ...newtonSchulzOptions(),
  /** Decoupled weight decay of the NorMuon matrices, multiplied by the base learning rate (default 0). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
  ...auxiliaryOptions(),
};

/** Options of {@link norMuon}. Defaults follow zichongli5/NorMuon `SingleDeviceNorMuonWithAuxAdam`. */
export interface NorMuonOptions extends OptionsOf<typeof schema> {}
/** {@link NorMuonOptions} with every default filled in. */
export interface ResolvedNorMuon extends ResolvedOf<typeof schema> {}

/** The matrix chain of NorMuon (momentum → NS → neuron-wise normalization → rescale → decay → lr). */
export function norMuonMatrixChain(r: ResolvedNorMuon): GradientTransformation {
  const isPaper = r.rescale === 'paper';
  const conv = r.convScale === 'torchKernel' ? 'kernel' : 'flattened';
  return chain(
    emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
    orthogonalize(r.ns, NAME),
    scaleByNeuronSecondMoment(
      { beta2: r.beta2, epsilon: r.epsilon, statistics: r.statistics, preserveNorm: !isPaper, convLayout: conv },
      NAME,
    ),
    ...(isPaper ? [rmsRescale({ rms: r.rms, epsilon: r.epsilon })] : []),
    scaleByShape(r.scaleRule, { convScale: conv }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(r.schedule),
  );
}

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
 * channel, as microsoft/dion PR #121 fixed it); `convScale: 'torchKernel'` restores the reference for replays.
 *
 * State per m×n matrix: the momentum (mn floats) and one second moment per output neuron (`fanOut`
 * floats; `max(m, n)` with `'longerSide'`) — mn + n; m and v per AdamW parameter.
 * Cost per step: Muon's 15 matmuls (5 Newton–Schulz steps) plus O(mn) element-wise work.
 */
export const norMuonDefinition: OptimizerDefinition<NorMuonOptions, ResolvedNorMuon> = recipe({
  name: NAME,
  className: 'orthoptim.NorMuon',
  summary: 'NorMuon: Muon with a per-neuron second moment and a norm-preserving rescale; AdamW for non-matrices',
  paper: 'Li, Liu, Liang, Chen, Zhao, "NorMuon: Making Muon more efficient and scalable" (arXiv 2510.05491)',
  reference: 'zichongli5/NorMuon@d45c9a42:normuon.py#SingleDeviceNorMuonWithAuxAdam',
  schema,
  check(r) {
    if (r.convScale === 'torchKernel' && (r.statistics !== 'neuron' || r.rescale === 'paper')) {
      throw new RangeError(
        `${NAME}: convScale 'torchKernel' replays the official code and needs statistics 'neuron' and rescale ` +
          `'normPreserving', got statistics '${r.statistics}' and rescale '${r.rescale}'`,
      );
    }
  },
  build: (r) => routeMatrices(NAME, norMuonMatrixChain(r), r.aux),
  renamed: { convRule: 'convScale' },
  legacy: (c) => legacyConvScale(c, 'convRule'),
});

/** NorMuon's transform (no tf.Optimizer). */
export const norMuonTransform = recipeTransform(norMuonDefinition);
