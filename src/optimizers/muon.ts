/** Muon: momentum → Newton–Schulz → shape scale, for hidden matrices; AdamW for everything else. @module */
import { chain, type GradientTransformation } from '../core/transform.js';
import { boolean, choice, nonNegative, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape } from '../transforms/orthogonalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import * as d from './definition.js';
import { auxiliaryOptions, routeMatrices } from './auxiliary.js';

/** Muon's momentum options (shared with Turbo-Muon). */
export const muonMomentumOptions = () => ({
  /** Learning rate of the matrices, in units of spectral norm per step (default 0.02). */
  learningRate: d.learningRate(0.02),
  /** EMA momentum β in [0, 1) (default 0.95). */
  momentum: unit(0.95),
  /** Nesterov look-ahead `(1−β)G + βM` (default true, as the reference). */
  nesterov: boolean(true),
});
/** Muon's scale, decay and AdamW options (shared with Turbo-Muon). */
export const muonScaleOptions = () => ({
  /** Shape scale (spec §1.3): `'jordan'` `max(1, fanOut/fanIn)^½` (default), `'moonlight'` `rms·√max(fanIn, fanOut)`, `'spectral'` `√(fanOut/fanIn)`, `'none'`. */
  scaleRule: choice(d.shapeRules, 'jordan'),
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  rms: positive(0.2),
  /** Conv kernels' fan-in/out for `'jordan'`: `'flattened'` (default) or `'torchKernel'` (the reference's `kh/kw`, for replays). */
  convScale: d.convScale(),
  /** Decoupled weight decay of the matrices, multiplied by the base learning rate (default 0). */
  weightDecay: nonNegative(0),
  schedule: d.decayedSchedule(),
  ...auxiliaryOptions(),
});
const schema = { ...muonMomentumOptions(), ...d.newtonSchulzOptions(), ...muonScaleOptions() };
/** Options of {@link muon}. Defaults follow KellerJordan/Muon `SingleDeviceMuonWithAuxAdam`. */
export interface MuonOptions extends OptionsOf<typeof schema> {}
/** {@link MuonOptions} with every default filled in. */
export interface ResolvedMuon extends ResolvedOf<typeof schema> {}
/** What {@link muonMatrixChain} reads: Muon's matrix options, resolved, with any Newton–Schulz. */
export type MuonMatrixSettings = Pick<ResolvedMuon, 'momentum' | 'nesterov' | 'ns' | 'scaleRule' | 'rms' | 'convScale' | 'weightDecay' | 'schedule'>;

/** Muon's chain for one group of matrices (Muon and Turbo-Muon differ only in `ns`). */
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
 * Muon (Jordan et al. 2024; KellerJordan/Muon@857d1adc `muon.py`, `SingleDeviceMuonWithAuxAdam`). Per matrix
 * (conv kernels as `[kh·kw·in, out]`): `M ← βM + (1−β)G`; `U = (1−β)G + βM` (Nesterov) or `M`; `O = NS₅(U)`;
 * `W ← W − η·(s·O + λW)`, `s = max(1, fanOut/fanIn)^½`. The rest: AdamW (lr 3e-4, betas (0.9, 0.95), ε 1e-10).
 * On purpose: NS in float32 (reference: bfloat16); conv scale of the flattened matrix (`'torchKernel'`: kh/kw).
 */
export const muonDefinition: d.OptimizerDefinition<MuonOptions, ResolvedMuon> = d.recipe({
  name: 'muon',
  className: 'orthoptim.Muon',
  summary: 'Muon: EMA momentum, Newton–Schulz orthogonalization, shape scale; AdamW for non-matrices',
  paper: 'Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024)',
  reference: 'KellerJordan/Muon@857d1adc:muon.py#SingleDeviceMuonWithAuxAdam',
  schema,
  build: (r) => routeMatrices('muon', muonMatrixChain(r), r.aux),
  legacy: (c) => d.legacyConvScale(c),
});
/** Muon's transform (no tf.Optimizer), validated as {@link muonDefinition}. */
export const muonTransform = d.recipeTransform(muonDefinition);
