/**
 * Turbo-Muon: Muon whose Newton–Schulz starts from an AOL-preconditioned input and runs one step fewer.
 * @module
 */
import { muonMatrixChain } from './muon.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import type { ConvScale, ShapeRule } from '../transforms/orthogonalize.js';
import { resolveNewtonSchulz, type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import {
  coefficientTable,
  type CoefficientPreset,
  type CoefficientTable,
  type QuinticCoefficients,
} from '../linalg/coefficients.js';
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
 * `'turbo'`: AOL preconditioning + 4 steps (the default); `'standard'`: Frobenius normalization + 5 steps
 * — the reference's two variants, both with the rows of You's table (`ns_consts[-iter:]`).
 */
export type TurboMuonVariant = 'turbo' | 'standard';

/**
 * Options of {@link turboMuon}. Defaults follow thib-s/flash-newton-schulz `turbo_muon_torch.py`
 * (`SingleDeviceTurboMuonWithAuxAdam`).
 */
export interface TurboMuonOptions extends AuxiliaryOptions {
  /** Learning rate of the matrices, in units of spectral norm per step (default 0.02). */
  readonly learningRate?: LearningRate;
  /** EMA momentum β in [0, 1) (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `(1−β)G + βM` (default true; the reference always uses it). */
  readonly nesterov?: boolean;
  /**
   * `'turbo'` (default): AOL preconditioning, 4 steps; `'standard'`: Frobenius normalization, 5 steps.
   */
  readonly variant?: TurboMuonVariant;
  /**
   * Newton–Schulz steps (default 4 for `'turbo'`, 5 for `'standard'`). With the default coefficients they
   * are the last `nsSteps` rows of You's 5-row table, as the reference's `ns_consts[-iter:]`, so 1–5;
   * with other `coefficients`, default: that table's steps.
   */
  readonly nsSteps?: number;
  /**
   * Other coefficients (a preset or rows `[[a, b, c], …]`, run from the first row, the last row repeated)
   * instead of the last `nsSteps` rows of You's table. The variant's preconditioning still applies.
   */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[] | null;
  /**
   * ε of the preconditioning — the floor of AOL's row sums, or what is added to the Frobenius norm
   * (default 1e-6: the optimizer's `muon_update` passes 1e-6, overriding `newton_schulz`'s 1e-7).
   */
  readonly nsEpsilon?: number;
  /** Shape scale of the update (spec §1.3): `'jordan'` (default), `'moonlight'`, `'spectral'`, `'none'`. */
  readonly scaleRule?: ShapeRule;
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  readonly rms?: number;
  /**
   * Fan-in/out of conv kernels for the `'jordan'` rule: `'flattened'` (default) or `'kernel'` (the
   * reference's `kh/kw` quirk, for exact replays only).
   */
  readonly convScale?: ConvScale;
  /** Decoupled weight decay of the matrices, multiplied by the base learning rate (default 0). */
  readonly weightDecay?: number;
}

/** {@link TurboMuonOptions} with every default filled in. */
export interface ResolvedTurboMuon {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly variant: TurboMuonVariant;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[] | null;
  readonly ns: ResolvedNewtonSchulz;
  readonly scaleRule: ShapeRule;
  readonly rms: number;
  readonly convScale: ConvScale;
  readonly weightDecay: number;
  readonly aux: ResolvedAuxiliary;
}

const NAME = 'turboMuon';

/** The reference's table for `steps` iterations: the last `steps` rows of You's schedule. */
function youTail(steps: number): CoefficientTable {
  const rows = coefficientTable('you', NAME).rows.slice(-steps);
  return { name: steps === 4 ? 'turbo' : `you[-${steps}:]`, rows, defaultSteps: steps, normScale: 1, eps: 1e-7 };
}

/** The definition behind {@link turboMuon}. */
export const turboMuonDefinition: OptimizerDefinition<TurboMuonOptions, ResolvedTurboMuon> = {
  name: NAME,
  className: 'orthoptim.TurboMuon',
  summary: 'Turbo-Muon: Muon with AOL-preconditioned Newton–Schulz (4 steps, You’s last rows); AdamW for non-matrices',
  paper:
    'Boissin, Massena, Mamalet, Serrurier, "Turbo-Muon: Accelerating Orthogonality-Based Optimization with Pre-Conditioning" (arXiv 2512.04632)',
  reference: 'thib-s/flash-newton-schulz@10b6c365:turbo_muon_torch.py#SingleDeviceTurboMuonWithAuxAdam',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'variant', 'nsSteps', 'coefficients', 'nsEpsilon', 'scaleRule', 'rms',
    'convScale', 'weightDecay', ...auxiliaryKeys,
  ],
  resolve(o) {
    const variant = checkChoice(NAME, 'variant', o.variant ?? 'turbo', ['turbo', 'standard'] as const);
    const coefficients = o.coefficients ?? null;
    // The default table is cut to the steps (the reference's ns_consts[-iter:]); another table runs its own.
    const steps = o.nsSteps ?? (coefficients === null ? (variant === 'turbo' ? 4 : 5) : undefined);
    if (coefficients === null) checkNumber(NAME, 'nsSteps', steps, { min: 1, max: 5, integer: true });
    const precondition = variant === 'turbo' ? 'aol' : 'frobenius';
    const r: ResolvedTurboMuon = {
      learningRate: o.learningRate ?? 0.02,
      momentum: checkUnit(NAME, 'momentum', o.momentum ?? 0.95),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? true),
      variant,
      coefficients,
      ns:
        coefficients === null
          ? resolveNewtonSchulz(
              {
                coefficients: youTail(steps as number),
                steps,
                eps: checkNumber(NAME, 'nsEpsilon', o.nsEpsilon ?? 1e-6, nonNegative),
                precondition,
              },
              NAME,
            )
          : resolveRecipeNewtonSchulz(NAME, { coefficients, nsSteps: steps, nsEpsilon: o.nsEpsilon ?? 1e-6 }, { precondition }),
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
    return routeMatrices(NAME, muonMatrixChain(r, NAME), r.aux);
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      nesterov: r.nesterov,
      variant: r.variant,
      nsSteps: r.ns.steps,
      coefficients: r.coefficients as unknown as ConfigValue,
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
      ...(withoutAuxiliary(c) as unknown as TurboMuonOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...auxiliaryFromConfig(c),
    };
  },
};

/**
 * Turbo-Muon (Boissin, Massena, Mamalet, Serrurier, "Turbo-Muon: Accelerating Orthogonality-Based
 * Optimization with Pre-Conditioning", arXiv 2512.04632), following
 * thib-s/flash-newton-schulz@10b6c365 `turbo_muon_torch.py#SingleDeviceTurboMuonWithAuxAdam` (the
 * pure-PyTorch `newton_schulz` and `muon_update`). For each matrix (conv kernels flattened to
 * `[kh·kw·in, out]`):
 *
 * ```
 * M ← βM + (1−β)G;   U = (1−β)G + βM (Nesterov) or M
 * X = U made wide (k×n);   A = XXᵀ
 * s_i = 1/√max(Σ_j |A_ij|, ε);   X ← diag(s)X;   A ← diag(s)A diag(s)     (AOL, no Frobenius norm)
 * 4 steps (a, b, c) = You's rows 2–5:   X ← aX + (bA + cA²)X,   A = XXᵀ recomputed after the first
 * W ← W − η·(max(1, fanOut/fanIn)^½·X + λW)
 * ```
 *
 * `variant: 'standard'` is the reference's other mode: Frobenius normalization `X/(‖X‖_F + ε)` and all
 * five rows of You's table (not Jordan's coefficients). ε = 1e-6 in both, as the optimizer passes it
 * (the `newton_schulz` function default is 1e-7). Vectors, scalars and `exclude`d matrices get AdamW
 * (`adamw*` options; defaults lr 3e-4, betas (0.9, 0.95), ε 1e-10, as the reference's auxiliary Adam).
 *
 * Paper vs code: the paper's genetic 4-step coefficients (spec §2.6) are not what the released code
 * runs; the default here is the code's (You's last four rows, `ns_consts[-iter:]`), and any other table
 * is the `coefficients` option. Differences from the reference, on purpose: float32 instead of
 * bfloat16; the conv shape scale reads the flattened matrix (the reference reads `kh/kw`;
 * `convScale: 'kernel'` restores it for replays). For square matrices AOL scales the output units
 * (the reference's rows of `[out, in]`, the columns of a TensorFlow.js kernel).
 *
 * State: one momentum buffer per matrix (m·n floats, as Muon); m and v per AdamW parameter. Cost per
 * step: 4 Newton–Schulz steps × 3 matmuls = 12 (the AOL scaling reuses the first Gram matrix) vs
 * Muon's 15.
 *
 * @example
 * model.compile({ optimizer: turboMuon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const turboMuon = defineOptimizer(turboMuonDefinition);
