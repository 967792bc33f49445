/**
 * AuON's geometry: Frobenius normalization and the cosh-RMS "brake" (Maity, "AuON: A Linear-time
 * Alternative to Semi-Orthogonal Momentum Updates", arXiv 2509.24320; code ryyzn9/AuON
 * `auon/optimizer.py`), and the Newton–Schulz stage of Hybrid-AuON, which leaves vectors alone and can
 * read a conv kernel as the reference does.
 *
 * What the brake does (spec muon-family.md §7.3): for `g = U/‖U‖_F`, `Σ gᵢ² = 1` and cosh² is convex in
 * g², so `r = √mean(cosh(γg)²)` lies in `[cosh(γ/√N), √(1 + (cosh²γ − 1)/N)]` — within 1e-3 of 1 for
 * any realistic layer. The brake is kept for parity with the authors' code, not for a distinct effect.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation } from '../core/transform.js';
import { matrixShape, newtonSchulz, type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import { rescaleByPowerOfTwo } from '../linalg/scale.js';

/**
 * `Σ xᵢ²` as a scalar, summed in two levels (per row of the `[fanIn, fanOut]` matrix, then the rows):
 * on wasm a one-level float32 sum of a 1024×1024 matrix was measured 1.9e-4 relative off, the two-level
 * sum 2e-8.
 */
export function sumOfSquares(x: tf.Tensor): tf.Scalar {
  const sq = tf.square(x);
  if (x.rank < 2) return tf.sum(sq);
  return tf.sum(tf.sum(tf.reshape(sq, matrixShape(x.shape)), 1));
}

/** The mean of a tensor, with the same two-level summation as {@link frobeniusNorm}. */
function accurateMean(x: tf.Tensor): tf.Scalar {
  const total = x.rank < 2 ? tf.sum(x) : tf.sum(tf.sum(tf.reshape(x, matrixShape(x.shape)), 1));
  return tf.div(total, Math.max(1, x.size));
}

/**
 * `‖x‖_F` of a tensor of any rank, as a scalar tensor (stays on the device). Sums per row of the
 * flattened `[fanIn, fanOut]` matrix first, then over rows (precise on wasm, see the module notes).
 * Finite for every finite input whose norm is below float32's maximum (no overflow of the squares).
 */
export function frobeniusNorm(x: tf.Tensor): tf.Scalar {
  // s·‖x/s‖ with s a power of two when max|x| is extreme (linalg/scale.ts): exact, and finite for
  // every finite x whose norm is a finite float32; s = 1 (nothing changes) for everyday inputs.
  // an empty tensor's norm is 0 (tfjs-wasm's reductions over an empty axis read uninitialized memory)
  if (x.size === 0) return tf.scalar(0);
  return tf.tidy(() => {
    const { x: scaled, scale } = rescaleByPowerOfTwo(x);
    return tf.mul(tf.sqrt(sumOfSquares(scaled)), scale);
  });
}

/**
 * AuON's cosh-RMS of a tensor: `√mean(cosh(γ·x)²)`, a scalar tensor. For a unit-Frobenius `x` with N
 * entries it lies in `[cosh(γ/√N), √(1 + (cosh²γ − 1)/N)]` (spec §7.3).
 */
export function coshRms(x: tf.Tensor, gamma: number): tf.Scalar {
  return tf.tidy(() => tf.sqrt(accurateMean(tf.square(tf.cosh(tf.mul(x, gamma))))));
}

/** Divides each update by `‖U‖_F + eps` (AuON paper §3.1: `X = G/(‖G‖_F + 1e-7)`). */
export function normalizeByFrobenius(eps = 1e-7): GradientTransformation {
  return stateless((u) => tf.div(u, tf.add(frobeniusNorm(u), eps)));
}

/** Options of {@link coshBrake}. */
export interface CoshBrakeOptions {
  /** The scale inside the cosh (the code's `gamma`, default 1.5). */
  readonly gamma?: number;
  /**
   * Which tensor the cosh reads: `true` (the code form, ryyzn9/AuON `auon/optimizer.py`): the
   * normalized `γ·U/(‖U‖_F + normEps)`; `false` (the paper form, §3.1, where U is already normalized):
   * `γ·U` as is. The division is always of U itself. Default true.
   */
  readonly normalize?: boolean;
  /** Added to `‖U‖_F` when normalizing for the cosh (default 1e-7, as the code). */
  readonly normEps?: number;
  /** Added to r before dividing (default 1e-8, as the code and the paper). */
  readonly eps?: number;
}

/**
 * AuON's cosh-RMS brake: `U ↦ U/(r + eps)` with `r = √mean(cosh(γ·g)²)`, `g = U/(‖U‖_F + 1e-7)` (code
 * form) or `g = U` (paper form, `normalize: false`). Note that the code form divides the
 * UN-normalized U, so the update keeps U's magnitude (r ≈ 1): the golden README's "AuON" pitfall.
 * A zero update stays zero (r = 1), where the reference skips the step: the same result.
 * Any rank, one global r per tensor.
 */
export function coshBrake(options: CoshBrakeOptions = {}): GradientTransformation {
  const gamma = options.gamma ?? 1.5;
  const normalize = options.normalize ?? true;
  const normEps = options.normEps ?? 1e-7;
  const eps = options.eps ?? 1e-8;
  return stateless((u) => {
    const g = normalize ? tf.div(u, tf.add(frobeniusNorm(u), normEps)) : u;
    return tf.div(u, tf.add(coshRms(g, gamma), eps));
  });
}

/**
 * How Hybrid-AuON reads a rank-4 conv kernel `[kh, kw, in, out]` as matrices: `'flattened'` (the
 * library's rule for every orthogonalizer: one `[kh·kw·in, out]` = `[fanIn, fanOut]` matrix) or
 * `'spatial'` — ryyzn9/AuON's `HybridAuON` runs its Newton–Schulz batched over the last two dims of the
 * PyTorch kernel `[out, in, kh, kw]`, i.e. `in·out` separate `kh×kw` matrices, each normalized by its own
 * Frobenius norm. In TF.js layout these are the `[kh, kw]` slices `kernel[:, :, i, o]`. Kept to replay
 * the reference; other ranks always flatten.
 */
export type ConvMatrix = 'flattened' | 'spatial';

/**
 * Newton–Schulz on every update of rank ≥ 2 (conv kernels per {@link ConvMatrix}); vectors and scalars
 * pass through unchanged, as in ryyzn9/AuON `HybridAuON` ("1-D tensors skip NS").
 */
export function orthogonalizeOrPass(ns: ResolvedNewtonSchulz, convMatrix: ConvMatrix = 'flattened'): GradientTransformation {
  const batched: ResolvedNewtonSchulz = { ...ns, leadingDims: 'batch' };
  const flat: ResolvedNewtonSchulz = { ...ns, leadingDims: 'flatten' };
  return stateless((u) => {
    if (u.rank < 2) return u;
    if (u.rank === 4 && convMatrix === 'spatial') {
      // [kh, kw, in, out] → [in, out, kh, kw]: a batch of kh×kw matrices; the permutation is its own inverse.
      const perm = [2, 3, 0, 1];
      return tf.transpose(newtonSchulz(tf.transpose(u, perm), batched), perm);
    }
    return newtonSchulz(u, flat);
  });
}
