/**
 * Muon: momentum → Newton–Schulz orthogonalization → shape scale, for hidden matrices; AdamW for
 * everything else.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { boolean, choice, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape } from '../transforms/orthogonalize.js';
import type { ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import type { Schedule } from '../schedules/index.js';
import {
  convScale, decayedSchedule, learningRate, legacyConvScale, newtonSchulzOptions, recipe, recipeTransform, shapeRules,
  type ConvScaleChoice, type OptimizerDefinition,
} from './definition.js';
import { auxiliaryOptions, routeMatrices } from './auxiliary.js';

const schema = {
  /** Learning rate of the Muon matrices, in units of spectral norm per step (default 0.02). */
  learningRate: learningRate(0.02),
  /** EMA momentum β in [0, 1) (default 0.95). */
  momentum: unit(0.95),
  /** Nesterov look-ahead `(1−β)G + βM` (default true, as the reference). */
  nesterov: boolean(true),
  ...newtonSchulzOptions(),
  /**
   * Shape scale of the orthogonalized update (spec §1.3): `'jordan'` `max(1, fanOut/fanIn)^½` (default),
   * `'moonlight'` `rms·√max(fanIn, fanOut)`, `'spectral'` `√(fanOut/fanIn)`, `'none'`.
   */
  scaleRule: choice(shapeRules, 'jordan'),
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  rms: positive(0.2),
  /** Conv kernels' fan-in/out for `'jordan'`: `'flattened'` (default) or `'torchKernel'` (the reference's `kh/kw`, for replays). */
  convScale: convScale(),
  /** Decoupled weight decay of the Muon matrices, multiplied by the base learning rate (default 0). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
  ...auxiliaryOptions(),
};

/** Options of {@link muon}. Defaults follow KellerJordan/Muon `SingleDeviceMuonWithAuxAdam`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- an interface, so TypeDoc lists every option with its doc
export interface MuonOptions extends OptionsOf<typeof schema> {}
/** {@link MuonOptions} with every default filled in. */
export type ResolvedMuon = ResolvedOf<typeof schema>;

/** What {@link muonMatrixChain} reads: Muon's matrix options, resolved. */
export interface MuonMatrixSettings {
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly ns: ResolvedNewtonSchulz;
  readonly scaleRule: ResolvedMuon['scaleRule'];
  readonly rms: number;
  readonly convScale: ConvScaleChoice;
  readonly weightDecay: number;
  readonly schedule: Schedule;
}

/**
 * Muon's chain for one group of matrices: EMA momentum (Nesterov optional) → Newton–Schulz (with `ns`:
 * Jordan, Turbo's AOL, any table) → shape scale → decoupled weight decay → learning rate. Shared by
 * `muon` and `turboMuon`, which differ only in the orthogonalizer.
 */
export function muonMatrixChain(r: MuonMatrixSettings, owner = 'muon'): GradientTransformation {
  return chain(
    emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
    orthogonalize(r.ns, owner),
    scaleByShape(r.scaleRule, { rms: r.rms, convScale: r.convScale === 'torchKernel' ? 'kernel' : 'flattened' }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(r.schedule),
  );
}

/**
 * Muon (Jordan et al. 2024; KellerJordan/Muon@857d1adc `muon.py`, `SingleDeviceMuonWithAuxAdam`). For each
 * matrix (conv kernels flattened to `[kh·kw·in, out]`): `M ← βM + (1−β)G`; `U = (1−β)G + βM` (Nesterov)
 * or `M`; `O = NS₅(U)`; `W ← W − η·(s·O + λW)` with the shape scale `s = max(1, fanOut/fanIn)^½`.
 * Vectors, scalars and `exclude`d matrices get AdamW (`adamw*` options; defaults lr 3e-4, betas
 * (0.9, 0.95), ε 1e-10, as the reference's auxiliary Adam).
 *
 * Differences from the reference, on purpose: Newton–Schulz runs in float32 (the reference: bfloat16);
 * the conv shape scale reads the flattened matrix (the reference reads `kh/kw`; `convScale: 'torchKernel'`
 * restores it). State: one momentum buffer per matrix; m and v per AdamW parameter.
 */
export const muonDefinition: OptimizerDefinition<MuonOptions, ResolvedMuon> = recipe({
  name: 'muon',
  className: 'orthoptim.Muon',
  summary: 'Muon: EMA momentum, Newton–Schulz orthogonalization, shape scale; AdamW for non-matrices',
  paper: 'Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024)',
  reference: 'KellerJordan/Muon@857d1adc:muon.py#SingleDeviceMuonWithAuxAdam',
  schema,
  build: (r) => routeMatrices('muon', muonMatrixChain(r), r.aux),
  legacy: (c) => legacyConvScale(c),
});

/** Muon's transform (no tf.Optimizer): `chain`-able, validated as {@link muonDefinition}. */
export const muonTransform = recipeTransform(muonDefinition);
