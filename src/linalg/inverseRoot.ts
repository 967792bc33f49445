/**
 * Matmul-only inverse square root of a symmetric positive (semi-)definite matrix: the coupled
 * Newton–Schulz iteration with Polar Express coefficients that ASGO uses for its one-sided preconditioner
 * (An et al., "ASGO: Adaptive Structured Gradient Optimization", arXiv 2503.20762; code
 * `infinity-stars/ASGO:optimizers/utils/matrix_decom.py#_matrix_inverse_root_PolarExpress`, spec
 * `muon-family.md` §11.1 and §2.3). TensorFlow.js has no eigh, SVD, Cholesky or solve, so only products
 * of k×k matrices are used.
 *
 * Why it works. Normalize `Y₀ = A / s` with `s = normScale·‖A‖_F` (so every eigenvalue λ of `Y₀` lies in
 * (0, 1)), start from `Z₀ = I`, and at step t with the quintic `p_t(σ) = aσ + bσ³ + cσ⁵` form
 * `B = b·ZY + c·(ZY)²`, then `Y ← aY + Y·B` and `Z ← aZ + B·Z`. All iterates are polynomials in `Y₀`, so on
 * an eigenvector with eigenvalue λ the scalars `y, z` satisfy `z/y = 1/λ` for ever, while
 * `√(zy) ← p_t(√(zy))`: the Polar Express schedule drives `√(zy)` to 1 exactly as it drives a singular
 * value of the Muon iteration to 1. Hence `zy → 1` and `z → λ^{−1/2}`, i.e. `Z → Y₀^{−1/2}`, and
 * `A^{−1/2} = Z / √s`. Convergence needs `√λ_min(Y₀)` above the schedule's lower bound (ℓ = 1e-3 for the
 * 8-row list): eigenvalue ratios up to about 1e6 of the normalized matrix.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { coefficientTable, coefficientsAt, type CoefficientsOption } from './coefficients.js';
import { rescaleByPowerOfTwo } from './scale.js';

/** Options of {@link inverseSquareRoot}. */
export interface InverseSquareRootOptions {
  /** Iterations (default 10, as ASGO's `matalg_steps`). */
  readonly steps?: number;
  /** Damping ε: the root of `A + εI` is taken (default 1e-10, ASGO's `eps`). */
  readonly damping?: number;
  /**
   * Quintic schedule (default `'polarExpress8'`: the published 8-row list with the 1.01 safety factor on
   * every row but the last; steps past the end reuse the last row, `(15/8, −10/8, 3/8)`). Only convergent
   * schedules give an inverse root: Jordan's Muon coefficients do not converge to 1.
   */
  readonly coefficients?: CoefficientsOption;
  /** The Frobenius norm is multiplied by this before dividing (default: the table's, 1.01). */
  readonly normScale?: number;
}

/** Validated {@link InverseSquareRootOptions}. */
export interface ResolvedInverseSquareRoot {
  readonly steps: number;
  readonly damping: number;
  readonly rows: readonly (readonly [number, number, number])[];
  readonly normScale: number;
}

/** Validates the options; `owner` names the caller in `RangeError`s. */
export function resolveInverseSquareRoot(
  options: InverseSquareRootOptions = {},
  owner = 'inverseSquareRoot',
): ResolvedInverseSquareRoot {
  const table = coefficientTable(options.coefficients ?? 'polarExpress8', owner);
  const steps = options.steps ?? 10;
  if (!Number.isInteger(steps) || steps < 1 || steps > 100) {
    throw new RangeError(`${owner}: steps must be an integer in [1, 100], got ${String(steps)}`);
  }
  const damping = options.damping ?? 1e-10;
  if (!Number.isFinite(damping) || damping < 0) {
    throw new RangeError(`${owner}: damping must be in [0, inf), got ${String(damping)}`);
  }
  const normScale = options.normScale ?? table.normScale;
  if (!Number.isFinite(normScale) || normScale < 1) {
    throw new RangeError(`${owner}: normScale must be in [1, inf), got ${String(normScale)}`);
  }
  const rows = Array.from({ length: steps }, (_, i) => coefficientsAt(table, i));
  return { steps, damping, rows, normScale };
}

/**
 * `(A + εI)^{−1/2}` of a symmetric positive semi-definite k×k matrix by the coupled iteration described in
 * the module comment: 4 k×k matmuls per step (`ZY`, `(ZY)²`, `Y·B`, `B·Z`), 2 on the first step (`Z₀ = I`)
 * and 3 on the last (the final `Y` is not needed): 37 for the default 10 steps.
 *
 * Differences from the reference `_matrix_inverse_root_PolarExpress`: the reference normalizes by
 * `1.01‖A + εI‖_F` but iterates on `A / s`, i.e. its ε only enters the norm; here the iteration runs on
 * `(A + εI) / s` so that the result is the root of the damped matrix (spec §11.1) and stays finite for
 * `A = 0`. For float32 matrices with `‖A‖_F ≫ ε / 6e-8` (any gradient Gram matrix above ~1e-3 in norm)
 * the two are the same numbers.
 *
 * Not tidied (call inside `tf.tidy`); the input is not checked for symmetry. A non-finite input gives a
 * non-finite output: see {@link finiteOrIdentity}.
 */
export function inverseSquareRoot(
  a: tf.Tensor2D,
  options: InverseSquareRootOptions | ResolvedInverseSquareRoot = {},
): tf.Tensor2D {
  const r = 'rows' in options ? options : resolveInverseSquareRoot(options);
  const [k, k2] = a.shape;
  if (k !== k2) throw new RangeError(`inverseSquareRoot: need a square matrix, got shape [${a.shape.join(', ')}]`);
  const eye = tf.eye(k);
  const damped = r.damping === 0 ? a : (tf.add(a, tf.mul(eye, r.damping)) as tf.Tensor2D);
  // s = normScale·‖A + εI‖_F, as a scalar tensor (no read-back); the squares are taken of A/2^e when
  // max|A| is extreme (./scale.ts: exact, and finite for every finite A; 2^e = 1 for everyday inputs).
  const { x: unit, scale } = rescaleByPowerOfTwo(damped);
  const s = tf.mul(tf.mul(tf.sqrt(tf.sum(tf.square(unit))), scale), r.normScale);
  let Y = tf.div(damped, s) as tf.Tensor2D;
  let Z: tf.Tensor2D = eye;
  r.rows.forEach(([ca, cb, cc], i) => {
    const first = i === 0;
    const last = i === r.rows.length - 1;
    // ZY = Y while Z = I (first step).
    const ZY = first ? Y : tf.matMul(Z, Y);
    const B = tf.add(tf.mul(ZY, cb), tf.mul(tf.matMul(ZY, ZY), cc)) as tf.Tensor2D;
    const nextZ = first ? tf.add(tf.mul(eye, ca), B) : tf.add(tf.mul(Z, ca), tf.matMul(B, Z));
    if (!last) Y = tf.add(tf.mul(Y, ca), tf.matMul(Y, B)) as tf.Tensor2D;
    Z = nextZ as tf.Tensor2D;
  });
  return tf.div(Z, tf.sqrt(s)) as tf.Tensor2D;
}

/**
 * `x` when every entry is finite, else the identity of the same size — ASGO's fallback for a failed
 * inverse root (the reference checks `isnan(·).any() or isinf(·).any()` on the host). Decided on the
 * device with `tf.where` on one `all(isFinite(x))` scalar, so no value is read back.
 */
export function finiteOrIdentity(x: tf.Tensor2D): tf.Tensor2D {
  const ok = tf.all(tf.isFinite(x));
  return tf.where(ok, x, tf.eye(x.shape[0], x.shape[1])) as tf.Tensor2D;
}
