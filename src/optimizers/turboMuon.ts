/**
 * Turbo-Muon: Muon whose Newton–Schulz starts from an AOL-preconditioned input and runs one step fewer.
 * @module
 */
import { choice, derived, nonNegative, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { checkNumber } from '../core/options.js';
import { muonMatrixChain, muonMomentumOptions, muonScaleOptions } from './muon.js';
import { resolveNewtonSchulz, type NewtonSchulzForm } from '../linalg/newtonSchulz.js';
import { coefficientTable, type CoefficientTable } from '../linalg/coefficients.js';
import {
  coefficients, legacyConvScale, nsForm, nsSteps, recipe, recipeTransform, resolveRecipeNewtonSchulz, type OptimizerConfig, type OptimizerDefinition, type RecipeCoefficients,
} from './definition.js';
import { routeMatrices } from './auxiliary.js';

/**
 * `'turbo'`: AOL preconditioning + 4 steps (the default); `'standard'`: Frobenius normalization + 5 steps
 * — the reference's two variants, both with the rows of You's table (`ns_consts[-iter:]`).
 */
export type TurboMuonVariant = 'turbo' | 'standard';

const NAME = 'turboMuon';

/** The reference's table for `steps` iterations: the last `steps` rows of You's schedule. */
function youTail(steps: number): CoefficientTable {
  const rows = coefficientTable('you', NAME).rows.slice(-steps);
  return { name: steps === 4 ? 'turbo' : `you[-${steps}:]`, rows, defaultSteps: steps, normScale: 1, eps: 1e-7 };
}

const schema = {
  ...muonMomentumOptions(),
  /** `'turbo'` (default): AOL preconditioning, 4 steps; `'standard'`: Frobenius normalization, 5 steps. */
  variant: choice(['turbo', 'standard'] as const, 'turbo'),
  /**
   * Other coefficients (a preset or rows `[[a, b, c], …]`, run from the first row, the last row repeated)
   * instead of the last `nsSteps` rows of You's table. The variant's preconditioning still applies.
   */
  coefficients: coefficients<RecipeCoefficients | null>(null),
  /**
   * Newton–Schulz steps (default 4 for `'turbo'`, 5 for `'standard'`). With the default coefficients they
   * are the last `nsSteps` rows of You's 5-row table, as the reference's `ns_consts[-iter:]`, so 1–5;
   * with other `coefficients`, default: that table's steps.
   */
  nsSteps: nsSteps(),
  /**
   * ε of the preconditioning — the floor of AOL's row sums, or what is added to the Frobenius norm
   * (default 1e-6: the optimizer's `muon_update` passes 1e-6, overriding `newton_schulz`'s 1e-7).
   */
  nsEpsilon: nonNegative(1e-6),
  /**
   * How Newton–Schulz is organized: `'auto'` (default) — the Gram form (Dao-AILab/gram-newton-schulz) on
   * onnxruntime for wide matrices, where it does fewer flops (long side over 1.5× the short one for 4
   * steps), the standard iteration elsewhere (always on tfjs and workers); `'standard'`; `'gram'` only with
   * `variant: 'standard'` (tfjs's Gram form is Frobenius-only, so it is refused with AOL).
   */
  nsForm: nsForm(),
  ns: derived(
    (r, owner) => {
      const precondition = r.variant === 'turbo' ? 'aol' : 'frobenius';
      const c = r.coefficients as RecipeCoefficients | null;
      const form = r.nsForm as NewtonSchulzForm;
      if (form === 'gram' && precondition === 'aol') {
        throw new RangeError(
          `${owner}: nsForm 'gram' needs variant 'standard' (the Frobenius normalization); nsForm 'auto' runs AOL in ` +
            `onnxruntime's Gram form where it is cheaper`,
        );
      }
      if (c !== null) {
        return resolveRecipeNewtonSchulz(owner, { coefficients: c, nsSteps: r.nsSteps, nsEpsilon: r.nsEpsilon, nsForm: form }, { precondition });
      }
      // The default table is cut to the steps (the reference's ns_consts[-iter:]).
      const steps = checkNumber(owner, 'nsSteps', r.nsSteps ?? (r.variant === 'turbo' ? 4 : 5), { min: 1, max: 5, integer: true });
      return resolveNewtonSchulz({ coefficients: youTail(steps), steps, eps: r.nsEpsilon as number, precondition, form }, owner);
    },
    (ns): OptimizerConfig => ({ nsSteps: ns.steps, nsEpsilon: ns.eps }),
  ),
  ...muonScaleOptions(),
};

/**
 * Options of {@link turboMuon}. Defaults follow thib-s/flash-newton-schulz `turbo_muon_torch.py`
 * (`SingleDeviceTurboMuonWithAuxAdam`).
 */
export interface TurboMuonOptions extends OptionsOf<typeof schema> {}
/** {@link TurboMuonOptions} with every default filled in. */
export interface ResolvedTurboMuon extends ResolvedOf<typeof schema> {}

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
 * `convScale: 'torchKernel'` restores it for replays). For square matrices AOL scales the output units
 * (the reference's rows of `[out, in]`, the columns of a TensorFlow.js kernel).
 *
 * State: one momentum buffer per matrix (m·n floats, as Muon); m and v per AdamW parameter. Cost per
 * step: 4 Newton–Schulz steps × 3 matmuls = 12 (the AOL scaling reuses the first Gram matrix) vs
 * Muon's 15.
 */
export const turboMuonDefinition: OptimizerDefinition<TurboMuonOptions, ResolvedTurboMuon> = recipe({
  name: NAME,
  className: 'orthoptim.TurboMuon',
  summary: 'Turbo-Muon: Muon with AOL-preconditioned Newton–Schulz (4 steps, You’s last rows); AdamW for non-matrices',
  paper:
    'Boissin, Massena, Mamalet, Serrurier, "Turbo-Muon: Accelerating Orthogonality-Based Optimization with Pre-Conditioning" (arXiv 2512.04632)',
  reference: 'thib-s/flash-newton-schulz@10b6c365:turbo_muon_torch.py#SingleDeviceTurboMuonWithAuxAdam',
  schema,
  build: (r) => routeMatrices(NAME, muonMatrixChain(r, NAME), r.aux),
  legacy: (c) => legacyConvScale(c),
});

/** Turbo-Muon's transform (no tf.Optimizer). */
export const turboMuonTransform = recipeTransform(turboMuonDefinition);
