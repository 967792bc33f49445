/**
 * AuON and Hybrid-AuON: Nesterov-EMA momentum → (Hybrid: Newton–Schulz) → cosh-RMS brake, for hidden
 * matrices; AdamW for everything else.
 * @module
 */
import { chain, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative } from '../core/options.js';
import { emaMomentum } from '../transforms/momentum.js';
import { coshBrake, normalizeByFrobenius, orthogonalizeOrPass, type ConvMatrix } from '../transforms/auon.js';
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
  type AuxiliaryDefaults,
  type AuxiliaryOptions,
  type ResolvedAuxiliary,
} from './auxiliary.js';
import { defineOptimizer } from '../tfjs/registry.js';

/**
 * Which AuON: `'code'` (default) is ryyzn9/AuON `auon/optimizer.py`, the golden reference; `'paper'` is
 * §3 of arXiv 2509.24320 (spec muon-family.md §7.1).
 */
export type AuonForm = 'code' | 'paper';

/** Options of {@link auon}. Defaults follow the class `ryyzn9/AuON:auon/optimizer.py#AuON`. */
export interface AuonOptions extends AuxiliaryOptions {
  /** Learning rate of the matrices (default 0.24, the class default; the authors' training config uses 0.08). */
  readonly learningRate?: LearningRate;
  /** EMA momentum β in [0, 1) (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `(1−β)G + βM` (default true: the code always uses it). */
  readonly nesterov?: boolean;
  /** Decoupled weight decay of the matrices, multiplied by the base learning rate (default 0). */
  readonly weightDecay?: number;
  /** Scale γ inside the cosh, in (0, 40] (default 1.5 for the code form, 1 for the paper form, which has none). */
  readonly gamma?: number;
  /** `'code'` (default) or `'paper'`, see {@link AuonForm}. */
  readonly form?: AuonForm;
}

/** Options of {@link hybridAuon}: {@link AuonOptions} plus the Newton–Schulz stage. */
export interface HybridAuonOptions extends AuonOptions {
  /** Newton–Schulz coefficients (default `'jordan'`, as the code). */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default 5 for the code form, 1 for the paper form). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default 1e-7, as the code). */
  readonly nsEpsilon?: number;
  /**
   * Conv kernels as matrices: `'flattened'` (default: one `[kh·kw·in, out]` matrix) or `'spatial'`
   * (the reference's `in·out` separate `kh×kw` matrices; for exact replays), see {@link ConvMatrix}.
   */
  readonly convMatrix?: ConvMatrix;
}

/** Resolved {@link AuonOptions} / {@link HybridAuonOptions} (`ns` and `convMatrix` are null for AuON). */
export interface ResolvedAuon {
  readonly form: AuonForm;
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly gamma: number;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[] | null;
  readonly ns: ResolvedNewtonSchulz | null;
  readonly convMatrix: ConvMatrix | null;
  readonly aux: ResolvedAuxiliary;
}

/** The AdamW of the authors' training script (`training/config.py`: lr 0.008, betas (0.8, 0.95), eps 1e-10). */
const AUX_DEFAULTS: AuxiliaryDefaults = { adamwLearningRate: 0.008, adamwBeta1: 0.8, adamwBeta2: 0.95, adamwEpsilon: 1e-10 };

const baseKeys = ['learningRate', 'momentum', 'nesterov', 'weightDecay', 'gamma', 'form', ...auxiliaryKeys] as const;

function resolveAuon(name: string, o: HybridAuonOptions, hybrid: boolean): ResolvedAuon {
  const form = checkChoice(name, 'form', o.form ?? 'code', ['code', 'paper'] as const);
  const coefficients = hybrid ? (o.coefficients ?? 'jordan') : null;
  const r: ResolvedAuon = {
    form,
    learningRate: o.learningRate ?? 0.24,
    momentum: checkUnit(name, 'momentum', o.momentum ?? 0.95),
    nesterov: checkBoolean(name, 'nesterov', o.nesterov ?? true),
    weightDecay: checkNumber(name, 'weightDecay', o.weightDecay ?? 0, nonNegative),
    // cosh(γ)² overflows float32 past γ ≈ 44
    gamma: checkNumber(name, 'gamma', o.gamma ?? (form === 'code' ? 1.5 : 1), { min: 0, minInclusive: false, max: 40 }),
    coefficients,
    ns:
      coefficients === null
        ? null
        : resolveRecipeNewtonSchulz(name, { coefficients, nsSteps: o.nsSteps ?? (form === 'code' ? 5 : 1), nsEpsilon: o.nsEpsilon ?? 1e-7 }),
    convMatrix: hybrid ? checkChoice(name, 'convMatrix', o.convMatrix ?? 'flattened', ['flattened', 'spatial'] as const) : null,
    aux: resolveAuxiliary(name, o, AUX_DEFAULTS),
  };
  decayedLearningRate(name, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
  return r;
}

function buildAuon(name: string, r: ResolvedAuon): GradientTransformation {
  const orthogonal = r.ns === null ? [] : [orthogonalizeOrPass(r.ns, r.convMatrix ?? 'flattened')];
  const geometry =
    r.form === 'code'
      ? // code: NS (Hybrid) on U, then r from the normalized U, dividing U itself
        [...orthogonal, coshBrake({ gamma: r.gamma, normalize: true })]
      : // paper: X = U/(‖U‖_F + 1e-7), (Hybrid: NS steps on X), then r from X as is
        [normalizeByFrobenius(1e-7), ...orthogonal, coshBrake({ gamma: r.gamma, normalize: false })];
  return routeMatrices(
    name,
    chain(
      emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
      ...geometry,
      addDecayedWeights(r.weightDecay),
      scaleByLearningRate(decayedLearningRate(name, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
    ),
    r.aux,
  );
}

function auonToConfig(name: string, r: ResolvedAuon, params: readonly ParamMeta[] | null): OptimizerConfig {
  const config: OptimizerConfig = {
    form: r.form,
    learningRate: encodeLearningRate(r.learningRate),
    momentum: r.momentum,
    nesterov: r.nesterov,
    weightDecay: r.weightDecay,
    gamma: r.gamma,
  };
  if (r.ns !== null) {
    config.coefficients = r.coefficients as unknown as ConfigValue;
    config.nsSteps = r.ns.steps;
    config.nsEpsilon = r.ns.eps;
    config.convMatrix = r.convMatrix;
  }
  return { ...config, ...auxiliaryToConfig(r.aux, params, name) };
}

function auonFromConfig(c: OptimizerConfig): HybridAuonOptions {
  return {
    ...(withoutAuxiliary(c) as unknown as HybridAuonOptions),
    learningRate: decodeLearningRate(c.learningRate),
    ...auxiliaryFromConfig(c),
  };
}

const PAPER = 'Maity, "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates" (arXiv 2509.24320)';

/** The definition behind {@link auon}. */
export const auonDefinition: OptimizerDefinition<AuonOptions, ResolvedAuon> = {
  name: 'auon',
  className: 'orthoptim.AuON',
  summary: 'AuON: Nesterov-EMA momentum and the cosh-RMS brake (linear time); AdamW for non-matrices',
  paper: PAPER,
  reference: 'ryyzn9/AuON@bba2e822:auon/optimizer.py#AuON',
  keys: [...baseKeys],
  resolve: (o) => resolveAuon('auon', o, false),
  build: (r) => buildAuon('auon', r),
  toConfig: (r, params) => auonToConfig('auon', r, params),
  fromConfig: auonFromConfig,
};

/** The definition behind {@link hybridAuon}. */
export const hybridAuonDefinition: OptimizerDefinition<HybridAuonOptions, ResolvedAuon> = {
  name: 'hybridAuon',
  className: 'orthoptim.HybridAuON',
  summary: 'Hybrid-AuON: Nesterov-EMA momentum, Newton–Schulz, then the cosh-RMS brake; AdamW for non-matrices',
  paper: PAPER,
  reference: 'ryyzn9/AuON@bba2e822:auon/optimizer.py#HybridAuON',
  keys: [...baseKeys, 'coefficients', 'nsSteps', 'nsEpsilon', 'convMatrix'],
  resolve: (o) => resolveAuon('hybridAuon', o, true),
  build: (r) => buildAuon('hybridAuon', r),
  toConfig: (r, params) => auonToConfig('hybridAuon', r, params),
  fromConfig: auonFromConfig,
};

/**
 * AuON (Maity, "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates", arXiv 2509.24320).
 * Default: the authors' code, ryyzn9/AuON `auon/optimizer.py` `AuON` (the golden reference; paper and
 * code differ and the code is what was run). For each matrix:
 *
 * `W ← W(1 − ηλ)` (first, as the code; the same as decaying after, since U does not read W);
 * `M ← βM + (1−β)G`; `U = (1−β)G + βM`; `r = √mean(cosh(γ·U/(‖U‖_F + 1e-7))²)`; `W ← W − η·U/(r + 1e-8)`.
 *
 * The code divides the UN-normalized U, and r ≈ 1 for any realistic layer (spec §7.3:
 * `r ∈ [cosh(γ/√N), √(1 + (cosh²γ − 1)/N)]`), so this is close to Nesterov SGD on the EMA momentum —
 * expect that behaviour, not Muon's. The code's per-tensor `wd_mul` attribute (default 1) is not
 * exposed. `form: 'paper'` is §3.1 of the paper: `X = U/(‖U‖_F + 1e-7)`, `r = √mean(cosh(γX)²)` with
 * γ = 1 by default (the paper has none), `W ← W − η·X/(r + 1e-8)` — normalized SGD.
 *
 * Defaults: the class's lr 0.24, β 0.95, wd 0, γ 1.5 (the authors' training config uses lr 0.08, wd
 * 0.01). The reference optimizes whatever it is given; its training script gives it the hidden
 * matrices and the rest to Adam (lr 0.008, betas (0.8, 0.95), eps 1e-10) — our `adamw*` defaults.
 * Route a vector to AuON with `paramLabels` to reproduce the class on vectors. State per m×n matrix:
 * the momentum, mn floats; no matmuls.
 */
export const auon = defineOptimizer(auonDefinition);

/**
 * Hybrid-AuON (same paper, §3.2). Default: the authors' code, ryyzn9/AuON `auon/optimizer.py`
 * `HybridAuON` (the golden reference): AuON's order and momentum, then Newton–Schulz (Jordan's
 * coefficients, Frobenius normalization + 1e-7, 5 steps) on U, then the cosh brake on the NS output:
 * `O = NS₅(U)`; `W ← W(1 − ηλ) − η·O/(√mean(cosh(γ·O/(‖O‖_F + 1e-7))²) + 1e-8)` — i.e. Muon without the
 * shape factor, up to r ≈ 1. Vectors routed here skip NS, as in the code.
 *
 * Conv kernels: the library orthogonalizes the flattened `[kh·kw·in, out]` matrix; the reference
 * orthogonalizes `in·out` separate `kh×kw` matrices (batched NS over the last two PyTorch dims) —
 * `convMatrix: 'spatial'` reproduces it. `form: 'paper'`: `X = U/(‖U‖_F + 1e-7)`, ONE Newton–Schulz
 * step (`nsSteps` 1), then `X/(√mean(cosh(γX)²) + 1e-8)` with γ = 1 (the PDF writes this rms without the
 * square root, inconsistently with its §3.1; we take the square root). Defaults as {@link auon}, plus
 * 5 NS steps. State per m×n matrix: the momentum, mn floats; 15 matmuls per step (3 per NS step).
 */
export const hybridAuon = defineOptimizer(hybridAuonDefinition);
