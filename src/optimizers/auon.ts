/**
 * AuON and Hybrid-AuON: Nesterov-EMA momentum → (Hybrid: Newton–Schulz) → cosh-RMS brake, for hidden
 * matrices; AdamW for everything else.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { boolean, choice, nonNegative, number, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum } from '../transforms/momentum.js';
import { coshBrake, normalizeByFrobenius, orthogonalizeOrPass } from '../transforms/auon.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import type { ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import type { Schedule } from '../schedules/index.js';
import {
  convScale, decayedSchedule, learningRate, legacyConvScale, newtonSchulzOptions, recipe, recipeTransform,
  type ConvScaleChoice, type OptimizerDefinition,
} from './definition.js';
import { auxiliaryOptions, routeMatrices, type ResolvedAuxiliary } from './auxiliary.js';

/**
 * Which AuON: `'code'` (default) is ryyzn9/AuON `auon/optimizer.py`, the golden reference; `'paper'` is
 * §3 of arXiv 2509.24320 (spec muon-family.md §7.1).
 */
export type AuonForm = 'code' | 'paper';

const code = (r: Readonly<Record<string, unknown>>) => r.form === 'code';

const auonSchema = {
  /** `'code'` (default) or `'paper'`, see {@link AuonForm}. */
  form: choice(['code', 'paper'] as const, 'code'),
  /** Learning rate of the matrices (default 0.24, the class default; the authors' training config uses 0.08). */
  learningRate: learningRate(0.24),
  /** EMA momentum β in [0, 1) (default 0.95). */
  momentum: unit(0.95),
  /** Nesterov look-ahead `(1−β)G + βM` (default true: the code always uses it). */
  nesterov: boolean(true),
  /** Decoupled weight decay of the matrices, multiplied by the base learning rate (default 0). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
  // cosh(γ)² overflows float32 past γ ≈ 44
  /** Scale γ inside the cosh, in (0, 40] (default 1.5 for the code form, 1 for the paper form, which has none). */
  gamma: number((r) => (code(r) ? 1.5 : 1), { min: 0, minInclusive: false, max: 40 }),
  // The AdamW of the authors' training script (`training/config.py`: lr 0.008, betas (0.8, 0.95), eps 1e-10).
  ...auxiliaryOptions({ adamwLearningRate: 0.008, adamwBeta1: 0.8, adamwBeta2: 0.95, adamwEpsilon: 1e-10 }),
};

const hybridSchema = {
  ...auonSchema,
  // Newton–Schulz as the code: Jordan, 5 steps (the paper form: 1), ε 1e-7.
  ...newtonSchulzOptions({ nsSteps: (r) => (code(r) ? 5 : 1), nsEpsilon: 1e-7 }),
  /**
   * Conv kernels as matrices: `'flattened'` (default: one `[kh·kw·in, out]` matrix) or `'torchKernel'`
   * (the reference's `in·out` separate `kh×kw` matrices; for exact replays).
   */
  convScale: convScale(),
};

/** Options of {@link auon}. Defaults follow the class `ryyzn9/AuON:auon/optimizer.py#AuON`. */
export interface AuonOptions extends OptionsOf<typeof auonSchema> {}
/** Options of {@link hybridAuon}: {@link AuonOptions} plus the Newton–Schulz stage. */
export interface HybridAuonOptions extends OptionsOf<typeof hybridSchema> {}
/** Resolved {@link AuonOptions}. */
export interface ResolvedAuon extends ResolvedOf<typeof auonSchema> {}
/** Resolved {@link HybridAuonOptions}. */
export interface ResolvedHybridAuon extends ResolvedOf<typeof hybridSchema> {}

function buildAuon(
  name: string,
  r: {
    readonly form: AuonForm; readonly momentum: number; readonly nesterov: boolean; readonly gamma: number;
    readonly weightDecay: number; readonly schedule: Schedule; readonly aux: ResolvedAuxiliary;
  },
  ns: ResolvedNewtonSchulz | null,
  conv: ConvScaleChoice = 'flattened',
): GradientTransformation {
  const orthogonal = ns === null ? [] : [orthogonalizeOrPass(ns, conv === 'torchKernel' ? 'spatial' : 'flattened')];
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
      scaleByLearningRate(r.schedule),
    ),
    r.aux,
  );
}

const PAPER = 'Maity, "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates" (arXiv 2509.24320)';

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
export const auonDefinition: OptimizerDefinition<AuonOptions, ResolvedAuon> = recipe({
  name: 'auon',
  className: 'orthoptim.AuON',
  summary: 'AuON: Nesterov-EMA momentum and the cosh-RMS brake (linear time); AdamW for non-matrices',
  paper: PAPER,
  reference: 'ryyzn9/AuON@bba2e822:auon/optimizer.py#AuON',
  schema: auonSchema,
  build: (r) => buildAuon('auon', r, null),
});

/**
 * Hybrid-AuON (same paper, §3.2). Default: the authors' code, ryyzn9/AuON `auon/optimizer.py`
 * `HybridAuON` (the golden reference): AuON's order and momentum, then Newton–Schulz (Jordan's
 * coefficients, Frobenius normalization + 1e-7, 5 steps) on U, then the cosh brake on the NS output:
 * `O = NS₅(U)`; `W ← W(1 − ηλ) − η·O/(√mean(cosh(γ·O/(‖O‖_F + 1e-7))²) + 1e-8)` — i.e. Muon without the
 * shape factor, up to r ≈ 1. Vectors routed here skip NS, as in the code.
 *
 * Conv kernels: the library orthogonalizes the flattened `[kh·kw·in, out]` matrix; the reference
 * orthogonalizes `in·out` separate `kh×kw` matrices (batched NS over the last two PyTorch dims) —
 * `convScale: 'torchKernel'` reproduces it. `form: 'paper'`: `X = U/(‖U‖_F + 1e-7)`, ONE Newton–Schulz
 * step (`nsSteps` 1), then `X/(√mean(cosh(γX)²) + 1e-8)` with γ = 1 (the PDF writes this rms without the
 * square root, inconsistently with its §3.1; we take the square root). Defaults as {@link auon}, plus
 * 5 NS steps. State per m×n matrix: the momentum, mn floats; 15 matmuls per step (3 per NS step).
 */
export const hybridAuonDefinition: OptimizerDefinition<HybridAuonOptions, ResolvedHybridAuon> = recipe({
  name: 'hybridAuon',
  className: 'orthoptim.HybridAuON',
  summary: 'Hybrid-AuON: Nesterov-EMA momentum, Newton–Schulz, then the cosh-RMS brake; AdamW for non-matrices',
  paper: PAPER,
  reference: 'ryyzn9/AuON@bba2e822:auon/optimizer.py#HybridAuON',
  schema: hybridSchema,
  build: (r) => buildAuon('hybridAuon', r, r.ns, r.convScale),
  renamed: { convMatrix: 'convScale' },
  legacy: (c) => legacyConvScale(c, 'convMatrix'),
});

/** AuON's transform (no tf.Optimizer). */
export const auonTransform = recipeTransform(auonDefinition);
/** Hybrid-AuON's transform (no tf.Optimizer). */
export const hybridAuonTransform = recipeTransform(hybridAuonDefinition);
