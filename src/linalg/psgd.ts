/**
 * PSGD's Kronecker-product whitening preconditioner, matmuls only: `P = Q_kᵀQ_k ⊗ … ⊗ Q_1ᵀQ_1`, one
 * factor per dimension of a parameter, each dense (d×d) or diagonal (d), fitted online so that `P·g`
 * is white — P → (E[ggᵀ])^(−1/2) (X.-L. Li, "Preconditioned Stochastic Gradient Descent", arXiv
 * 1512.04202; "Stochastic Hessian Fittings with Lie Groups", arXiv 2402.11858; O. Pooladzandi & X.-L. Li,
 * "Curvature-Informed SGD via General Purpose Lie-Group Preconditioners", arXiv 2402.04553).
 *
 * This module follows lixilinx/psgd_torch `psgd.py` (Oct. 2025): `init_kron`,
 * `update_precond_kron_whiten_q0p5eq1p5` (the local coordinates `dQ = Q^0.5·E·Q^1.5`, the authors'
 * default), `procrustes_step2`, `norm_lower_bound_spd` / `norm_lower_bound_skh`, `balance_kron_precond`;
 * and kozistr/pytorch_optimizer `psgd.py`'s older deterministic `norm_lower_bound` (its golden values).
 * The `Q^0.5·E·Q^1.5` form needs no triangular solve (TensorFlow.js has none): a dense factor moves as
 * `Q ← Q − (lr/L)·(T·Q − τ·Q)` and is then rotated one online Procrustes step toward symmetric positive
 * definite.
 *
 * Every random draw (the damping noise, the subspace of the norm bounds, the balancing coin) comes from
 * a `rand: () => number` uniform generator that the caller seeds (core/random.ts `mulberry32`), turned
 * into normals with core/random.ts `gaussianArray` on the host: a run is the same on every backend.
 *
 * Working shapes: a parameter is first squeezed (dims of size 1 dropped, as psgd_torch's `p.squeeze()`;
 * a scalar becomes `[1]`); mode products move the factor's axis to the front, reshape to `[d, rest]` and
 * do one plain matmul (no `transposeA/B`, which leave XNNPACK on wasm).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussianArray } from '../core/random.js';

/** The smallest normal float32 (torch.finfo(float32).smallest_normal), the references' guard. */
const FLOAT32_TINY = 1.1754943508222875e-38;
/** float32 machine epsilon (torch.finfo(float32).eps): the relative damping of `|g|`. */
const FLOAT32_EPS = 1.1920928955078125e-7;

/** One factor of a Kronecker preconditioner: a dense d×d matrix or a diagonal (a vector of d). */
export type KronFactorKind = 'dense' | 'diagonal';

/** How a parameter is preconditioned: its squeezed working dims and the kind of factor per dim. */
export interface KronLayout {
  /** The working shape: the parameter's shape without dims of size 1 (`[1]` for a scalar). */
  readonly dims: readonly number[];
  /** The factor of each working dim. */
  readonly kinds: readonly KronFactorKind[];
  /** Number of entries (the parameter's size). */
  readonly size: number;
}

/** Limits that decide dense or diagonal factors (psgd_torch `init_kron`). */
export interface KronLayoutOptions {
  /** A dim larger than this gets a diagonal factor (`null`: no limit, psgd_torch's ∞). */
  readonly maxSize: number | null;
  /** A dim `d` with `d² > maxSkew·size` gets a diagonal factor (psgd_torch's default 1). */
  readonly maxSkew: number;
}

/**
 * The layout of a parameter of `shape`: dim `d` is diagonal when `d ≤ 1`, `d > maxSize` or
 * `d² > maxSkew·size`, dense otherwise. With `maxSkew = 1` a matrix gets a dense factor on its smaller
 * side and a diagonal one on the larger; a vector is diagonal. Zero-size parameters have no factors.
 */
export function kronLayout(shape: readonly number[], options: KronLayoutOptions): KronLayout {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return { dims: [], kinds: [], size: 0 };
  const squeezed = shape.filter((d) => d !== 1);
  const dims = squeezed.length === 0 ? [1] : squeezed;
  const kinds = dims.map((d): KronFactorKind =>
    d <= 1 || (options.maxSize !== null && d > options.maxSize) || d * d > options.maxSkew * size ? 'diagonal' : 'dense',
  );
  return { dims, kinds, size };
}

/** The factors `scale^(1/order)·I` (dense) or `scale^(1/order)·1` (diagonal) of a layout, so `Q = scale·I`. */
export function initKronFactors(layout: KronLayout, scale: number): tf.Tensor[] {
  const s = layout.dims.length === 0 ? 1 : scale ** (1 / layout.dims.length);
  return tf.tidy(() =>
    layout.dims.map((d, i) => (layout.kinds[i] === 'dense' ? tf.mul(tf.eye(d), s) : tf.fill([d], s))),
  );
}

/** `x` with axis `axis` first, as `[d, rest]` (a plain reshape when `axis` is 0). Not tidied. */
function unfold(x: tf.Tensor, axis: number): tf.Tensor2D {
  const d = x.shape[axis];
  if (axis === 0) return tf.reshape(x, [d, x.size / d]);
  const perm = [axis, ...x.shape.map((_, i) => i).filter((i) => i !== axis)];
  return tf.reshape(tf.transpose(x, perm), [d, x.size / d]);
}

/** The inverse of {@link unfold}: `[d, rest]` back to `shape`. Not tidied. */
function fold(y: tf.Tensor2D, axis: number, shape: readonly number[]): tf.Tensor {
  if (axis === 0) return tf.reshape(y, [...shape]);
  const others = shape.filter((_, i) => i !== axis);
  const moved = tf.reshape(y, [shape[axis], ...others]);
  // moved has axis `axis` at position 0; put it back
  const inverse = shape.map((_, i) => (i === axis ? 0 : i < axis ? i + 1 : i));
  return tf.transpose(moved, inverse);
}

/**
 * The mode product `x ×_axis m` (`y[…a…] = Σ_b m[a, b]·x[…b…]`) of a symmetric `m` (a factor's `QᵀQ`):
 * for a matrix's second dim it is `x·mᵀ = x·m`, with no transpose of m (on wasm a 512×512 transpose costs
 * as much as a tenth of a 512³ product). Not tidied.
 */
function symmetricModeProduct(x: tf.Tensor, m: tf.Tensor2D, axis: number): tf.Tensor {
  if (x.rank === 2 && axis === 1) return tf.matMul(x as tf.Tensor2D, m);
  return fold(tf.matMul(m, unfold(x, axis)), axis, x.shape);
}

/** `x` times the diagonal `q` along `axis` (broadcast). Not tidied. */
function diagonalProduct(x: tf.Tensor, q: tf.Tensor, axis: number): tf.Tensor {
  const shape = x.shape.map((d, i) => (i === axis ? d : 1));
  return tf.mul(x, tf.reshape(q, shape));
}

/**
 * The factors of `P = ⊗ QᵢᵀQᵢ`: `QᵀQ` (d×d) for a dense factor, `q²` for a diagonal one. A step that
 * keeps them (psgdKron's state) applies P with mode products only: the fit of step t+1 uses the Q that
 * step t's update was preconditioned with, so each `QᵀQ` is formed once per fit instead of twice.
 */
export function kronPreconditionerFactors(qs: readonly tf.Tensor[], layout: KronLayout): tf.Tensor[] {
  return tf.tidy(() => qs.map((q, i) => (layout.kinds[i] === 'dense' ? tf.matMul(tf.transpose(q), q) : tf.square(q))));
}

/** `P·x` from P's factors ({@link kronPreconditionerFactors}): one mode product or broadcast product per factor. */
export function applyKronFactors(ps: readonly tf.Tensor[], layout: KronLayout, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let y = x;
    ps.forEach((p, i) => {
      y = layout.kinds[i] === 'dense' ? symmetricModeProduct(y, p as tf.Tensor2D, i) : diagonalProduct(y, p, i);
    });
    return y;
  });
}

/**
 * `P·x = x ×₁ Q₁ᵀQ₁ ×₂ … ×ₖ QₖᵀQₖ` for `x` in the layout's working shape (psgd_torch
 * `precond_grad_kron`): one d×d product `QᵀQ` and one mode product per dense factor (dense factors have
 * `d² ≤ size`, so forming `QᵀQ` is the cheaper order), an element-wise `q²` per diagonal one.
 */
export function applyKronPreconditioner(qs: readonly tf.Tensor[], layout: KronLayout, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => applyKronFactors(kronPreconditionerFactors(qs, layout), layout, x));
}

/**
 * A spectral-norm lower bound of a general matrix (kozistr/pytorch_optimizer `norm_lower_bound`, the
 * older PSGD's): normalize by `max|A|`, take the largest column (or row) by sum of squares, one power
 * step from it. Deterministic; `‖A‖₂ ≤ √2·bound` on the authors' random matrices. Zero for `A = 0`.
 */
export function normLowerBound(a: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const maxAbs = tf.max(tf.abs(a));
    const safe = tf.where(tf.greater(maxAbs, 0), maxAbs, tf.onesLike(maxAbs));
    const b = tf.div(a, safe) as tf.Tensor2D;
    const sq = tf.square(b);
    const colSums = tf.sum(sq, 0);
    const rowSums = tf.sum(sq, 1);
    const byColumn = tf.greater(tf.max(colSums), tf.max(rowSums));
    const bt = tf.transpose(b);
    // column branch: x = A[:, i]ᵀA, bound = ‖(x/‖x‖)Aᵀ‖; row branch: x = A·A[j], bound = ‖Aᵀ(x/‖x‖)‖
    const col = tf.gather(bt, tf.reshape(tf.argMax(colSums), [1]), 0); // 1×n
    const xc = tf.matMul(col, b);
    const boundC = tf.norm(tf.matMul(tf.div(xc, tf.add(tf.norm(xc), FLOAT32_TINY)), bt));
    const row = tf.gather(b, tf.reshape(tf.argMax(rowSums), [1]), 0); // 1×n
    const xr = tf.matMul(row, bt); // (A·A[j])ᵀ, 1×m
    const boundR = tf.norm(tf.matMul(tf.div(xr, tf.add(tf.norm(xr), FLOAT32_TINY)), b));
    return tf.mul(tf.where(byColumn, boundC, boundR), maxAbs) as tf.Scalar;
  });
}

/** Options of the randomized norm bounds. */
export interface NormBoundOptions {
  /** Dimension of the random subspace (psgd_torch: 32 for float32). */
  readonly k?: number;
  /** Half the number of subspace iterations (psgd_torch: 2). */
  readonly halfIters?: number;
}

/** The subspace-iteration bound of psgd_torch's `norm_lower_bound_spd`/`_skh`, given the normalizer. Not tidied. */
function subspaceNormBound(a: tf.Tensor2D, normalizer: tf.Scalar, rand: () => number, options: NormBoundOptions): tf.Scalar {
  const k = options.k ?? 32;
  const halfIters = options.halfIters ?? 2;
  const n = a.shape[1];
  const factor = tf.add(normalizer, FLOAT32_TINY);
  const b = tf.div(a, factor) as tf.Tensor2D;
  // the k random rows are turned toward the largest row of A: each then makes an angle ≈ acos(1/√k) with it
  const j = tf.argMax(tf.sum(tf.square(b), 1));
  const top = tf.gather(b, tf.reshape(j, [1]), 0); // 1×n
  const noise = tf.tensor2d(gaussianArray(k * n, 1, rand), [k, n]);
  const signs = tf.sign(tf.sum(tf.mul(noise, top), 1, true));
  let v = tf.add(top, tf.mul(signs, noise)) as tf.Tensor2D;
  for (let i = 0; i < halfIters; i++) {
    v = tf.matMul(v, b);
    v = tf.div(v, tf.add(tf.sqrt(tf.sum(tf.square(v), 1, true)), FLOAT32_TINY));
    v = tf.matMul(v, b);
  }
  return tf.mul(tf.max(tf.sqrt(tf.sum(tf.square(v), 1))), factor) as tf.Scalar;
}

/**
 * A cheap randomized lower bound of the spectral norm of a symmetric positive (semi-)definite `A`
 * (psgd_torch `norm_lower_bound_spd`): normalize by the largest diagonal entry, start `k` random rows
 * turned toward A's largest row, do `2·halfIters` un-orthonormalized subspace iterations, return the
 * largest row norm. Always ≤ ‖A‖₂ (up to rounding); 0 for `A = 0`.
 */
export function normLowerBoundSpd(a: tf.Tensor2D, rand: () => number, options: NormBoundOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const d = a.shape[0];
    // the diagonal as a gather at stride d + 1 (no d×d identity to build)
    const diagonal = tf.gather(tf.reshape(a, [d * d]), tf.range(0, d * d, d + 1, 'int32'));
    const diagonalMax = tf.max(diagonal) as tf.Scalar;
    return subspaceNormBound(a, tf.maximum(diagonalMax, 0) as tf.Scalar, rand, options);
  });
}

/** The same bound for a skew-symmetric `A` (psgd_torch `norm_lower_bound_skh`): normalized by `max|A|`. */
export function normLowerBoundSkew(a: tf.Tensor2D, rand: () => number, options: NormBoundOptions = {}): tf.Scalar {
  return tf.tidy(() => subspaceNormBound(a, tf.max(tf.abs(a)) as tf.Scalar, rand, options));
}

/**
 * `tr(R·B) = Σᵢⱼ Rᵢⱼ·Bⱼᵢ = −Σ R ⊙ B` for a skew-symmetric `R` (`Rⱼᵢ = −Rᵢⱼ` exactly, as `(Qᵀ − Q)/c` is
 * formed): the same products as `Σ R ⊙ Bᵀ`, without the transpose of B. Not tidied.
 */
function traceOfSkewProduct(r: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.neg(tf.sum(tf.mul(r, b)));
}

/**
 * One online step of the orthogonal Procrustes problem `min_U ‖UQ − I‖_F, UᵀU = I` (psgd_torch
 * `procrustes_step2`): with the generator `R = (Qᵀ − Q)/‖Qᵀ − Q‖` (norm from {@link normLowerBoundSkew}),
 * `Q ← Q + a·(RQ + ½·a·R²Q)` — `exp(aR)·Q` to second order, a rotation up to `‖aR‖⁴/4` — with
 * `a = min(−tr(RQ)/tr(R²Q), maxStepSize)` when `tr(R²Q) < 0` (a line search), else `maxStepSize`.
 * Keeps Q's singular values (to that order) and moves it toward symmetric positive definite.
 */
export function procrustesStep(q: tf.Tensor2D, rand: () => number, maxStepSize = 1 / 8, options: NormBoundOptions = {}): tf.Tensor2D {
  return tf.tidy(() => {
    const skew = tf.sub(tf.transpose(q), q) as tf.Tensor2D;
    const r = tf.div(skew, tf.add(normLowerBoundSkew(skew, rand, options), FLOAT32_TINY)) as tf.Tensor2D;
    const rq = tf.matMul(r, q);
    const rrq = tf.matMul(r, rq);
    const trRq = traceOfSkewProduct(r, q);
    const trRrq = traceOfSkewProduct(r, rq);
    const negative = tf.less(trRrq, 0);
    // the unselected branch divides by −1, never by 0
    const search = tf.minimum(tf.div(tf.neg(trRq), tf.where(negative, trRrq, tf.scalar(-1))), maxStepSize);
    const step = tf.where(negative, search, tf.scalar(maxStepSize));
    return tf.add(q, tf.mul(step, tf.add(rq, tf.mul(tf.mul(step, 0.5), rrq)))) as tf.Tensor2D;
  });
}

/**
 * Balances the dynamic ranges of the factors (psgd_torch `balance_kron_precond`): each factor is scaled
 * so that its `max|q|` is the geometric mean of all factors' (taken as `exp(mean log)`, which cannot
 * overflow); the Kronecker product is unchanged. A single factor is returned as it is.
 */
export function balanceKronFactors(qs: readonly tf.Tensor[]): tf.Tensor[] {
  if (qs.length < 2) return [...qs];
  return tf.tidy(() => {
    const norms = qs.map((q) => tf.max(tf.abs(q)));
    const logMean = tf.mean(tf.log(tf.stack(norms)));
    const gmean = tf.exp(logMean);
    return qs.map((q, i) => tf.mul(q, tf.div(gmean, norms[i])));
  });
}

/** Options of {@link updateKronWhitening}. */
export interface KronWhiteningOptions {
  /** The preconditioner's learning rate (psgd_torch `lr_preconditioner`, default 0.1). */
  readonly lr: number;
  /** EMA factor of each factor's Lipschitz estimate L (psgd_torch `betaL`, default 0.9). */
  readonly betaL: number;
  /** Damping: noise of std `damping + eps·|g|` is added to g (psgd_torch default 1e-9). */
  readonly damping: number;
  /** The probability of a balancing of the factors after the update (psgd_torch: 0.01). */
  readonly balanceProbability?: number;
  /** The subspace size and iterations of the norm bounds. */
  readonly normBound?: NormBoundOptions;
  /** The seeded uniform generator every draw comes from. */
  readonly rand: () => number;
  /** P's factors of `qs` ({@link kronPreconditionerFactors}) when the caller has them: not formed again. */
  readonly factors?: readonly tf.Tensor[];
}

/** The factors and Lipschitz estimates after one update. */
export type KronWhiteningState = {
  readonly qs: tf.Tensor[];
  readonly ls: tf.Scalar[];
};

/**
 * One update of a Kronecker whitening preconditioner from a gradient `g` (in the layout's working
 * shape), psgd_torch `update_precond_kron_whiten_q0p5eq1p5`:
 * ```
 * Pg = P·(g + (damping + eps·|g|)⊙ν),  ν ~ N(0, I)
 * for each factor i (with τ = size/dᵢ and T = the contraction of Pg with itself keeping dim i):
 *   dense:    ℓ = normLowerBoundSpd(T) + τ;  L ← max(βL·L + (1−βL)·ℓ, ℓ)
 *             Q ← procrustesStep(Q − (lr/L)·(T·Q − τ·Q))
 *   diagonal: ℓ = max(t) + τ (t = diag T);  L ← max(βL·L + (1−βL)·ℓ, ℓ);  q ← q·(1 − (lr/L)·(t − τ))
 * with probability balanceProbability: balanceKronFactors
 * ```
 * Pg is computed once, with the factors before the update (as the reference). Draws, in order: ν, then
 * per dense factor the subspaces of the two norm bounds, then the balancing coin.
 */
export function updateKronWhitening(
  qs: readonly tf.Tensor[],
  ls: readonly tf.Scalar[],
  layout: KronLayout,
  g: tf.Tensor,
  options: KronWhiteningOptions,
): KronWhiteningState {
  const { lr, betaL, damping, rand } = options;
  return tf.tidy(() => {
    const noise = tf.tensor(gaussianArray(g.size, 1, rand), g.shape);
    const damped = tf.add(g, tf.mul(tf.add(tf.mul(tf.abs(g), FLOAT32_EPS), damping), noise));
    const pg = options.factors ? applyKronFactors(options.factors, layout, damped) : applyKronPreconditioner(qs, layout, damped);
    const nextQ: tf.Tensor[] = [];
    const nextL: tf.Scalar[] = [];
    let pgT: tf.Tensor2D | undefined;
    qs.forEach((q, i) => {
      const tau = layout.size / layout.dims[i];
      let ell: tf.Scalar;
      let term: tf.Tensor;
      if (layout.kinds[i] === 'dense') {
        // T = U·Uᵀ with U the mode-i unfolding; for a matrix, T₀ = Pg·Pgᵀ and T₁ = Pgᵀ·Pg share one transpose
        if (pg.rank === 2) {
          pgT ??= tf.transpose(pg) as tf.Tensor2D;
          term = i === 0 ? tf.matMul(pg as tf.Tensor2D, pgT) : tf.matMul(pgT, pg as tf.Tensor2D);
        } else {
          const u = unfold(pg, i);
          term = tf.matMul(u, tf.transpose(u));
        }
        ell = tf.add(normLowerBoundSpd(term as tf.Tensor2D, rand, options.normBound), tau);
      } else {
        const others = layout.dims.map((_, j) => j).filter((j) => j !== i);
        term = others.length === 0 ? tf.square(pg) : tf.sum(tf.square(pg), others);
        ell = tf.add(tf.max(term), tau);
      }
      const l = tf.maximum(tf.add(tf.mul(ls[i], betaL), tf.mul(ell, 1 - betaL)), ell) as tf.Scalar;
      const rate = tf.div(lr, l);
      if (layout.kinds[i] === 'dense') {
        const moved = tf.sub(q, tf.mul(rate, tf.sub(tf.matMul(term as tf.Tensor2D, q as tf.Tensor2D), tf.mul(q, tau))));
        nextQ.push(procrustesStep(moved as tf.Tensor2D, rand, 1 / 8, options.normBound));
      } else {
        nextQ.push(tf.mul(q, tf.sub(1, tf.mul(rate, tf.sub(term, tau)))));
      }
      nextL.push(l);
    });
    const balance = rand() < (options.balanceProbability ?? 0.01);
    return { qs: balance ? balanceKronFactors(nextQ) : nextQ, ls: nextL };
  });
}
