/**
 * Muon: momentum → Newton–Schulz orthogonalization → shape scale, for hidden matrices; AdamW for
 * everything else.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { emaMomentum } from '../transforms/momentum.js';
import { orthogonalize, scaleByShape, type ConvScale, type ShapeRule } from '../transforms/orthogonalize.js';
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

/** Options of {@link muon}. Defaults follow KellerJordan/Muon `SingleDeviceMuonWithAuxAdam`. */
export interface MuonOptions extends AuxiliaryOptions {
  /** Learning rate of the Muon matrices, in units of spectral norm per step (default 0.02). */
  readonly learningRate?: LearningRate;
  /** EMA momentum β in [0, 1) (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `(1−β)G + βM` (default true, as the reference). */
  readonly nesterov?: boolean;
  /**
   * Newton–Schulz coefficients: `'jordan'` (default), `'you'`, `'polarExpress5'`, `'polarExpress8'`, `'turbo'`
   * (AOL preconditioning + You's last four rows), `'root'` (ROOT's per-shape table), or rows.
   */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default: the table's, 5 for Jordan). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default: the table's, 1e-7 for Jordan). */
  readonly nsEpsilon?: number;
  /**
   * Shape scale of the orthogonalized update (spec §1.3): `'jordan'` `max(1, fanOut/fanIn)^½` (default),
   * `'moonlight'` `rms·√max(fanIn, fanOut)`, `'spectral'` `√(fanOut/fanIn)`, `'none'`.
   */
  readonly scaleRule?: ShapeRule;
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  readonly rms?: number;
  /**
   * Fan-in/out of conv kernels for the `'jordan'` rule: `'flattened'` (default, from `[kh·kw·in, out]`) or
   * `'kernel'` (the reference's `kh/kw` bug, for exact replays only).
   */
  readonly convScale?: ConvScale;
  /** Decoupled weight decay of the Muon matrices, multiplied by the base learning rate (default 0). */
  readonly weightDecay?: number;
}

/** {@link MuonOptions} with every default filled in. */
export interface ResolvedMuon {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly scaleRule: ShapeRule;
  readonly rms: number;
  readonly convScale: ConvScale;
  readonly weightDecay: number;
  readonly aux: ResolvedAuxiliary;
}

const NAME = 'muon';

/** What {@link muonMatrixChain} reads: Muon's matrix options, resolved. */
export type MuonMatrixSettings = Pick<
  ResolvedMuon,
  'learningRate' | 'momentum' | 'nesterov' | 'ns' | 'scaleRule' | 'rms' | 'convScale' | 'weightDecay'
>;

/**
 * Muon's chain for one group of matrices: EMA momentum (Nesterov optional) → Newton–Schulz (with `ns`:
 * Jordan, Turbo's AOL, any table) → shape scale → decoupled weight decay → learning rate. Shared by
 * `muon` and `turboMuon`, which differ only in the orthogonalizer.
 */
export function muonMatrixChain(r: MuonMatrixSettings, owner = NAME): GradientTransformation {
  return chain(
    emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
    orthogonalize(r.ns, owner),
    scaleByShape(r.scaleRule, { rms: r.rms, convScale: r.convScale }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(decayedLearningRate(owner, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
  );
}

/** The definition behind {@link muon}. */
export const muonDefinition: OptimizerDefinition<MuonOptions, ResolvedMuon> = {
  name: NAME,
  className: 'orthoptim.Muon',
  summary: 'Muon: EMA momentum, Newton–Schulz orthogonalization, shape scale; AdamW for non-matrices',
  paper: 'Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024)',
  reference: 'KellerJordan/Muon@857d1adc:muon.py#SingleDeviceMuonWithAuxAdam',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'coefficients', 'nsSteps', 'nsEpsilon', 'scaleRule', 'rms',
    'convScale', 'weightDecay', ...auxiliaryKeys,
  ],
  resolve(o) {
    const coefficients = o.coefficients ?? 'jordan';
    const r: ResolvedMuon = {
      learningRate: o.learningRate ?? 0.02,
      momentum: checkUnit(NAME, 'momentum', o.momentum ?? 0.95),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? true),
      coefficients,
      ns: resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: o.nsSteps, nsEpsilon: o.nsEpsilon }),
      scaleRule: checkChoice(NAME, 'scaleRule', o.scaleRule ?? 'jordan', ['jordan', 'moonlight', 'spectral', 'none'] as const),
      rms: checkNumber(NAME, 'rms', o.rms ?? 0.2, positive),
      convScale: checkChoice(NAME, 'convScale', o.convScale ?? 'flattened', ['flattened', 'kernel'] as const),
      weightDecay: checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0, nonNegative),
      aux: resolveAuxiliary(NAME, o),
    };
    decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
    return r;
  },
  build(r) {
    return routeMatrices(NAME, muonMatrixChain(r), r.aux);
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      nesterov: r.nesterov,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
      scaleRule: r.scaleRule,
      rms: r.rms,
      convScale: r.convScale,
      weightDecay: r.weightDecay,
      ...auxiliaryToConfig(r.aux, params, NAME),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutAuxiliary(c) as unknown as MuonOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...auxiliaryFromConfig(c),
    };
  },
};

/**
 * Muon (Jordan et al. 2024; KellerJordan/Muon `muon.py`, `SingleDeviceMuonWithAuxAdam`). For each
 * matrix (conv kernels flattened to `[kh·kw·in, out]`):
 * `M ← βM + (1−β)G`; `U = (1−β)G + βM` (Nesterov) or `M`; `O = NS₅(U)`;
 * `W ← W − η·(s·O + λW)` with the shape scale `s = max(1, fanOut/fanIn)^½`.
 * Vectors, scalars and `exclude`d matrices get AdamW (`adamw*` options; defaults lr 3e-4, betas
 * (0.9, 0.95), ε 1e-10, as the reference's auxiliary Adam).
 *
 * Differences from the reference, on purpose: Newton–Schulz runs in float32 (the reference: bfloat16);
 * the conv shape scale reads the flattened matrix (the reference reads `kh/kw`; `convScale: 'kernel'`
 * restores it). State: one momentum buffer per matrix; m and v per AdamW parameter.
 *
 * @example
 * model.compile({ optimizer: muon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const muon = defineOptimizer(muonDefinition);
