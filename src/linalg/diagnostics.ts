/**
 * Orthogonality diagnostics for a TensorFlow.js matrix, on any backend: how far an orthogonalized
 * update `X` is from semi-orthogonal, its singular-value range and its distance to the exact polar
 * factor of the input (spec `muon-family.md` §12.2, §12.4).
 *
 * The only tensor work is the k×k Gram matrix `X·Xᵀ` of the wide orientation (with an explicit
 * `tf.transpose`: on wasm, `matMul`'s transpose flags leave XNNPACK and run 8–60× slower). It is read
 * back once and everything else is computed in float64 — the sums of tiny residuals `XXᵀ − I` are exactly
 * what float32 reductions get wrong (wasm's `tf.norm` was measured ~1.6e-4 relative off), and the
 * eigenvalues need the Jacobi routine of `reference.ts` anyway. The readback is synchronous
 * (`dataSync`), so on GPU backends these calls stall the pipeline: use them in tests and diagnostics,
 * not inside a training step.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { matrix64, polar64, svd64, type Matrix64 } from './reference.js';

/** What {@link orthogonalityReport} measures about a matrix `X` (k = min side). */
export interface OrthogonalityReport {
  /** `‖X·Xᵀ − I_k‖_F / √k` with `X` oriented wide, see {@link orthogonalityError}. */
  readonly orthogonalityError: number;
  /** Smallest singular value of `X`, `√λ_min(X·Xᵀ)` (0 when rounding makes λ_min negative). */
  readonly sigmaMin: number;
  /** Largest singular value of `X`, `√λ_max(X·Xᵀ)`. */
  readonly sigmaMax: number;
  /**
   * `‖X − polar(G)‖_F / ‖polar(G)‖_F` for the reference input `G`, with `polar(G) = U·Vᵀ` from the
   * float64 SVD; present only when a reference was given.
   */
  readonly polarDistance?: number;
}

function check2d(fn: string, x: tf.Tensor): void {
  if (x.rank !== 2) throw new RangeError(`${fn}: expected a 2-D tensor, got shape [${x.shape.join(', ')}]`);
}

/** The k×k Gram matrix of the wide orientation of `x`, read back once as float64. */
function gram64(x: tf.Tensor2D): Matrix64 {
  const [rows, cols] = x.shape;
  const k = Math.min(rows, cols);
  const g = tf.tidy(() => {
    const x32 = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const wide = rows > cols ? tf.transpose(x32) : x32;
    return tf.matMul(wide, tf.transpose(wide));
  });
  try {
    return matrix64(k, k, g.dataSync());
  } finally {
    g.dispose();
  }
}

/** `‖G − I‖_F / √k` of a k×k Gram matrix, in float64. */
function gramError(g: Matrix64): number {
  const k = g.rows;
  if (k === 0) return 0;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const d = g.data[i * k + j] - (i === j ? 1 : 0);
      sum += d * d;
    }
  }
  return Math.sqrt(sum / k);
}

/**
 * The orthogonality error `E_F = ‖X·Xᵀ − I_k‖_F / √k` of spec `muon-family.md` §12.2, with `X` oriented
 * wide (transposed first when it has more rows than columns, so `k = min(rows, cols)`): 0 for a
 * semi-orthogonal matrix, the RMS of `σ_i² − 1` in general (Jordan's 5-step Muon output on a Gaussian
 * 256×1024 input: 0.28, §12.4).
 *
 * The Gram matrix is computed in float32 by the backend (explicit `tf.transpose`, never `matMul`
 * transpose flags), read back once, and reduced in float64. Creates no lasting tensors.
 *
 * @param x - The matrix to measure (any dtype; cast to float32).
 * @throws RangeError if `x` is not 2-D.
 */
export function orthogonalityError(x: tf.Tensor2D): number {
  check2d('orthogonalityError', x);
  return gramError(gram64(x));
}

/**
 * Orthogonality error, singular-value range and (given the input `reference`) the relative distance to
 * the exact polar factor — the columns of spec `muon-family.md` §12.4's table.
 *
 * The σ range is the square root of the extreme eigenvalues of the k×k Gram matrix `X·Xᵀ` (computed by
 * the backend in float32, read back once); the eigenvalues are found in float64 by Hestenes' one-sided
 * Jacobi method ({@link svd64} of the symmetric Gram matrix, each singular value signed by `u_iᵀv_i`),
 * so they are accurate to the float32 rounding of the Gram matrix: about `1e-7·σ_max²/σ` absolute in σ.
 * `polarDistance = ‖X − polar(G)‖_F / ‖polar(G)‖_F`, with `X` and `G = reference` read back and
 * `polar(G)` computed by {@link polar64} — keep `G` full rank (§12.1). Creates no lasting tensors.
 *
 * @param x - The (orthogonalized) matrix to measure.
 * @param reference - The input `X` was computed from, same shape as `x`.
 * @throws RangeError if a tensor is not 2-D or the shapes differ.
 */
export function orthogonalityReport(x: tf.Tensor2D, reference?: tf.Tensor2D): OrthogonalityReport {
  check2d('orthogonalityReport', x);
  if (reference !== undefined) {
    check2d('orthogonalityReport', reference);
    if (reference.shape[0] !== x.shape[0] || reference.shape[1] !== x.shape[1]) {
      throw new RangeError(
        `orthogonalityReport: reference shape [${reference.shape.join(', ')}] differs from x shape [${x.shape.join(', ')}]`,
      );
    }
  }
  const g = gram64(x);
  const k = g.rows;
  let sigmaMin = 0;
  let sigmaMax = 0;
  if (k > 0) {
    const { u, s, v } = svd64(g);
    let lambdaMin = Infinity;
    let lambdaMax = -Infinity;
    for (let c = 0; c < k; c++) {
      // For symmetric G = U·diag(s)·Vᵀ, v_c = ±u_c and the eigenvalue is ±s_c.
      let dot = 0;
      for (let i = 0; i < k; i++) dot += u.data[i * k + c] * v.data[i * k + c];
      const lambda = dot < 0 ? -s[c] : s[c];
      lambdaMin = Math.min(lambdaMin, lambda);
      lambdaMax = Math.max(lambdaMax, lambda);
    }
    sigmaMin = Math.sqrt(Math.max(lambdaMin, 0));
    sigmaMax = Math.sqrt(Math.max(lambdaMax, 0));
  }
  const report: OrthogonalityReport = { orthogonalityError: gramError(g), sigmaMin, sigmaMax };
  if (reference === undefined) return report;
  const [rows, cols] = x.shape;
  const p = polar64(matrix64(rows, cols, reference.dataSync()));
  const xd = x.dataSync();
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < p.data.length; i++) {
    const d = xd[i] - p.data[i];
    diff += d * d;
    norm += p.data[i] * p.data[i];
  }
  return { ...report, polarDistance: norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff) };
}
