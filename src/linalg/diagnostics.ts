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
import { mulberry32 } from '../core/random.js';
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

/**
 * Eigenvalues of a symmetric `n × n` float64 matrix, sorted descending: Householder reduction to
 * tridiagonal form, then the implicit QL iteration with Wilkinson shifts (EISPACK `tred1` + `tql1`;
 * Golub & Van Loan, "Matrix Computations", 4th ed., §8.3). O(n³) like the Jacobi {@link svd64}, but
 * measured 14× faster here at n = 512 (0.46 s instead of 6.3 s), which is what lets a training run record the
 * whole spectrum of a 784×512 update. Only the lower triangle is read; the input is not modified.
 *
 * @param a - Row-major symmetric matrix (`a.rows === a.cols`), finite entries.
 * @throws RangeError when `a` is not square or holds a non-finite entry; Error when the QL iteration
 *   does not converge in 60 sweeps for one eigenvalue (not seen on symmetric input).
 */
export function symmetricEigenvalues64(a: Matrix64): Float64Array {
  const n = a.rows;
  if (a.cols !== n) throw new RangeError(`symmetricEigenvalues64: expected a square matrix, got ${a.rows}×${a.cols}`);
  const m = Float64Array.from(a.data);
  for (let i = 0; i < m.length; i++) {
    if (!Number.isFinite(m[i])) throw new RangeError(`symmetricEigenvalues64: entry ${i} is not finite (${m[i]})`);
  }
  // Symmetrize from the lower triangle, so the reduction sees an exactly symmetric matrix.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) m[j * n + i] = m[i * n + j];
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i]: the (i, i+1) entry of the tridiagonal form; e[n−1] = 0
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    // Householder reflection H = I − 2vvᵀ zeroing m[k+2 …, k]; applied as H·M·H to the trailing block.
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += m[i * n + k] * m[i * n + k];
    norm = Math.sqrt(norm);
    const x0 = m[(k + 1) * n + k];
    if (norm === 0) continue;
    const alpha = x0 > 0 ? -norm : norm;
    let vnorm = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = m[i * n + k] - (i === k + 1 ? alpha : 0);
      vnorm += v[i] * v[i];
    }
    vnorm = Math.sqrt(vnorm);
    if (vnorm === 0) continue;
    for (let i = k + 1; i < n; i++) v[i] /= vnorm;
    // p = M·v, K = vᵀp, q = p − K·v; M ← M − 2vqᵀ − 2qvᵀ on rows/columns k+1 … n−1.
    let kk = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += m[i * n + j] * v[j];
      p[i] = s;
      kk += v[i] * s;
    }
    for (let i = k + 1; i < n; i++) p[i] -= kk * v[i];
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) m[i * n + j] -= 2 * (v[i] * p[j] + p[i] * v[j]);
    }
    m[(k + 1) * n + k] = alpha;
    m[k * n + k + 1] = alpha;
    for (let i = k + 2; i < n; i++) {
      m[i * n + k] = 0;
      m[k * n + i] = 0;
    }
  }
  for (let i = 0; i < n; i++) {
    d[i] = m[i * n + i];
    e[i] = i + 1 < n ? m[(i + 1) * n + i] : 0;
  }
  // Implicit QL with Wilkinson's shift on the unreduced blocks (tql1).
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let mm = l;
      for (; mm < n - 1; mm++) {
        const dd = Math.abs(d[mm]) + Math.abs(d[mm + 1]);
        if (Math.abs(e[mm]) <= Number.EPSILON * dd) break;
      }
      if (mm === l) break;
      if (iter === 60) throw new Error(`symmetricEigenvalues64: no convergence for eigenvalue ${l} after 60 QL sweeps`);
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[mm] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let shift = 0;
      let i = mm - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= shift;
          e[mm] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - shift;
        r = (d[i] - g) * s + 2 * c * b;
        shift = s * r;
        d[i + 1] = g + shift;
        g = c * r - b;
      }
      if (underflow) continue;
      d[l] -= shift;
      e[l] = g;
      e[mm] = 0;
    }
  }
  return d.sort().reverse();
}

/** How {@link matrixDiagnostics} finds the singular values. */
export type DiagnosticsMethod = 'auto' | 'exact' | 'lanczos';

/** Options of {@link matrixDiagnostics}. */
export interface MatrixDiagnosticsOptions {
  /**
   * `'exact'`: the matrix is read back and everything is computed in float64 (Gram matrix and its
   * eigenvalues, {@link symmetricEigenvalues64}); `'lanczos'`: the k×k Gram matrix is formed by the
   * backend and σ_max, σ_min come from Lanczos iteration on the device (a Krylov power method), with two
   * read-backs; `'auto'` (default): exact when `min(rows, cols) ≤ exactMaxSide`, else lanczos.
   */
  method?: DiagnosticsMethod;
  /** Largest `min(rows, cols)` that `'auto'` treats exactly (default 256). */
  exactMaxSide?: number;
  /** Lanczos steps (default 64; at most k — k steps span the whole space and are exact up to float32). */
  iterations?: number;
  /** Also return every singular value (forces the exact method; default false). */
  spectrum?: boolean;
}

/**
 * What {@link matrixDiagnostics} measures about a matrix `U`, seen as `rows × cols` = fan-in × fan-out
 * (a rank-r tensor is reshaped to `[∏ leading dims, last dim]`, a conv kernel `[kh·kw·in, out]`).
 */
export interface MatrixDiagnostics {
  readonly rows: number;
  readonly cols: number;
  /**
   * `‖Û·Ûᵀ − I_k‖_F / √k` of the normalized matrix `Û = U / σ_max(U)` in its wide orientation
   * (k = min side): the RMS over the k singular values of `(σ_i/σ_max)² − 1`. 0 exactly when all
   * singular values are equal (U is a multiple of a semi-orthogonal matrix, as an ideal Muon update
   * is); near 1 for a rank-one or strongly decaying spectrum. 0 for a zero matrix.
   */
  readonly orthogonalityError: number;
  /** σ_max: the spectral norm ‖U‖₂. */
  readonly sigmaMax: number;
  /** σ_min: the k-th (smallest) singular value. */
  readonly sigmaMin: number;
  /** ‖U‖_F² / ‖U‖₂² = Σσ_i² / σ_max²: between 1 (rank one) and k (all σ equal); 0 for a zero matrix. */
  readonly stableRank: number;
  /** ‖U‖_F. */
  readonly frobeniusNorm: number;
  /** How the singular values were found. */
  readonly method: 'exact' | 'lanczos';
  /** All k singular values, descending (only with `spectrum: true`). */
  readonly singularValues?: readonly number[];
}

function resolveMethod(k: number, options: MatrixDiagnosticsOptions): 'exact' | 'lanczos' {
  const method = options.method ?? 'auto';
  if (method !== 'auto' && method !== 'exact' && method !== 'lanczos') {
    throw new RangeError(`matrixDiagnostics: method must be 'auto', 'exact' or 'lanczos', got ${JSON.stringify(method)}`);
  }
  const maxSide = options.exactMaxSide ?? 256;
  if (!Number.isInteger(maxSide) || maxSide < 0) {
    throw new RangeError(`matrixDiagnostics: exactMaxSide must be a non-negative integer, got ${maxSide}`);
  }
  const iterations = options.iterations ?? 64;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`matrixDiagnostics: iterations must be an integer >= 1, got ${iterations}`);
  }
  if (options.spectrum === true) {
    if (method === 'lanczos') throw new RangeError("matrixDiagnostics: spectrum: true needs method 'exact' or 'auto', got 'lanczos'");
    return 'exact';
  }
  return method === 'auto' ? (k <= maxSide ? 'exact' : 'lanczos') : method;
}

/** The matrix view `[∏ leading dims, last dim]` of a rank ≥ 2 shape. */
function matrixShape(fn: string, shape: readonly number[]): [number, number] {
  if (shape.length < 2) throw new RangeError(`${fn}: expected a tensor of rank >= 2 (a weight matrix), got shape [${shape.join(', ')}]`);
  const cols = shape[shape.length - 1];
  return [shape.slice(0, -1).reduce((a, b) => a * b, 1), cols];
}

/** Diagnostics from the eigenvalues-free quantities: trace, λ_max, ‖G/λ_max − I‖_F², k. */
function summarize(rows: number, cols: number, trace: number, lambdaMax: number, lambdaMin: number, residual2: number, method: 'exact' | 'lanczos'): MatrixDiagnostics {
  const k = Math.min(rows, cols);
  const zero = !(lambdaMax > 0);
  return {
    rows,
    cols,
    orthogonalityError: zero || k === 0 ? 0 : Math.sqrt(Math.max(residual2, 0) / k),
    sigmaMax: zero ? 0 : Math.sqrt(lambdaMax),
    sigmaMin: zero ? 0 : Math.sqrt(Math.max(lambdaMin, 0)),
    stableRank: zero ? 0 : trace / lambdaMax,
    frobeniusNorm: Math.sqrt(Math.max(trace, 0)),
    method,
  };
}

/** The exact path: read back, float64 Gram of the wide orientation, its eigenvalues. */
function exactDiagnostics(values: ArrayLike<number>, rows: number, cols: number, spectrum: boolean): MatrixDiagnostics {
  const wide = rows <= cols;
  const k = wide ? rows : cols;
  const len = wide ? cols : rows;
  // Rows of the wide orientation, contiguous: W[i, :] (wide) or column i of U (tall).
  const w = new Float64Array(k * len);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = values[r * cols + c];
      if (wide) w[r * len + c] = x;
      else w[c * len + r] = x;
    }
  }
  const g = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = 0; t < len; t++) s += w[i * len + t] * w[j * len + t];
      g[i * k + j] = s;
      g[j * k + i] = s;
    }
  }
  const lambda = k === 0 ? new Float64Array(0) : symmetricEigenvalues64({ rows: k, cols: k, data: g });
  let trace = 0;
  for (let i = 0; i < k; i++) trace += g[i * k + i];
  const lambdaMax = k === 0 ? 0 : Math.max(lambda[0], 0);
  let residual2 = 0;
  if (lambdaMax > 0) {
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const dlt = g[i * k + j] / lambdaMax - (i === j ? 1 : 0);
        residual2 += dlt * dlt;
      }
    }
  }
  const base = summarize(rows, cols, trace, lambdaMax, k === 0 ? 0 : lambda[k - 1], residual2, 'exact');
  if (!spectrum) return base;
  return { ...base, singularValues: Array.from(lambda, (l) => Math.sqrt(Math.max(l, 0))) };
}

/** A fixed start vector: mulberry32-uniform in [0.5, 1.5), normalized (deterministic across backends). */
function startVector(k: number): Float32Array {
  const rand = mulberry32(0x5eed);
  const out = Float32Array.from({ length: k }, () => 0.5 + rand());
  const n = Math.hypot(...out);
  return out.map((x) => x / n);
}

/**
 * The Lanczos path: Gram matrix on the device, `m` Lanczos steps with full re-orthogonalization there,
 * the m×m tridiagonal read back and solved on the host; then ‖G/λ_max − I‖_F² on the device. Two
 * read-backs in all.
 */
function lanczosDiagnostics(x: tf.Tensor, rows: number, cols: number, iterations: number): MatrixDiagnostics {
  const k = Math.min(rows, cols);
  const m = Math.min(iterations, k);
  const g = tf.tidy(() => {
    const x32 = x.dtype === 'float32' ? tf.reshape(x, [rows, cols]) : tf.cast(tf.reshape(x, [rows, cols]), 'float32');
    const w = rows > cols ? tf.transpose(x32) : x32;
    // Explicit transposes: on wasm, matMul's transpose flags leave XNNPACK.
    return tf.matMul(w, tf.transpose(w)) as tf.Tensor2D;
  });
  try {
    const scalars = tf.tidy(() => {
      const qs: tf.Tensor2D[] = [tf.tensor2d(startVector(k), [k, 1])];
      const alphas: tf.Scalar[] = [];
      const betas: tf.Scalar[] = [];
      for (let j = 0; j < m; j++) {
        const q = qs[j];
        let w = tf.matMul(g, q);
        const alpha = tf.sum(tf.mul(q, w)) as tf.Scalar;
        alphas.push(alpha);
        // Full re-orthogonalization against every Lanczos vector so far (twice is enough in float32).
        const basis = tf.concat(qs, 1);
        const basisT = tf.transpose(basis);
        for (let pass = 0; pass < 2; pass++) w = tf.sub(w, tf.matMul(basis, tf.matMul(basisT, w)));
        const beta = tf.norm(w) as tf.Scalar;
        betas.push(beta);
        if (j + 1 < m) qs.push(tf.div(w, tf.maximum(beta, 1e-30)) as tf.Tensor2D);
      }
      return tf.stack([tf.sum(tf.mul(g, tf.eye(k))), ...alphas, ...betas]);
    });
    const values = scalars.dataSync();
    scalars.dispose();
    const trace = values[0];
    const alpha = values.subarray(1, 1 + m);
    const beta = values.subarray(1 + m, 1 + 2 * m);
    // An invariant Krylov subspace (β_j ≈ 0, e.g. G = c·I after one step) ends the tridiagonal there:
    // the vectors after it are rounding noise, and their zero Rayleigh quotients are not eigenvalues.
    const scale = Math.max(...Array.from(alpha, Math.abs), 0);
    let size = m;
    for (let j = 0; j < m - 1; j++) {
      if (beta[j] <= 1e-5 * scale) {
        size = j + 1;
        break;
      }
    }
    const t = new Float64Array(size * size);
    for (let j = 0; j < size; j++) {
      t[j * size + j] = alpha[j];
      if (j + 1 < size) {
        t[j * size + j + 1] = beta[j];
        t[(j + 1) * size + j] = beta[j];
      }
    }
    const ritz = size === 0 ? new Float64Array(0) : symmetricEigenvalues64({ rows: size, cols: size, data: t });
    const lambdaMax = size === 0 ? 0 : Math.max(ritz[0], 0);
    const lambdaMin = size === 0 ? 0 : ritz[size - 1];
    let residual2 = 0;
    if (lambdaMax > 0) {
      const r = tf.tidy(() => tf.sum(tf.square(tf.sub(tf.div(g, lambdaMax), tf.eye(k)))));
      residual2 = r.dataSync()[0];
      r.dispose();
    }
    return summarize(rows, cols, trace, lambdaMax, lambdaMin, residual2, 'lanczos');
  } finally {
    g.dispose();
  }
}

/**
 * Per-matrix orthogonality diagnostics of an update (or any weight matrix) `U`: the orthogonality
 * error of the normalized `U / σ_max`, the spectral norm σ_max, σ_min, the stable rank and ‖U‖_F —
 * what issue 14 item 6 asks a training loop to watch (Muon's update is orthogonal up to its
 * Newton–Schulz band, spec `muon-family.md` §12.3; AdamW's is not).
 *
 * Two methods (see {@link MatrixDiagnosticsOptions.method}). **Exact** reads `U` back and works in
 * float64 — Gram matrix of the wide orientation, its eigenvalues by {@link symmetricEigenvalues64} —
 * so it is the float64 reference for the float32 values held (O(rows·cols·k) on the host).
 * **Lanczos** forms the k×k Gram matrix `G = W·Wᵀ` on the backend and runs `iterations` Lanczos steps
 * on it there (with full re-orthogonalization), reads back the tridiagonal once and takes its extreme
 * eigenvalues (Ritz values) on the host, then ‖G/λ_max − I‖_F on the device. Spec §12.2 suggests two
 * plain power iterations (on G and on λ_max·I − G); they were measured here to stop 0.7 % short of σ_max
 * on a Gaussian 300×200 matrix after 64 steps (the top of a Marchenko–Pastur spectrum is clustered),
 * which Lanczos — the same matrix–vector products, combined optimally — does not. Ritz values make
 * σ_max a lower bound and σ_min an upper bound of the true values; everything is float32, so σ_min is
 * meaningful only above about `3e-4·σ_max`. (Cullum & Willoughby, "Lanczos Algorithms for Large
 * Symmetric Eigenvalue Computations", 1985; Golub & Van Loan §10.1.)
 * Both read back synchronously: call it on the steps you sample, not every step on a GPU backend.
 * Creates no lasting tensors.
 *
 * @param u - A tensor of rank ≥ 2 (any float dtype), viewed as `[∏ leading dims, last dim]`.
 * @throws RangeError on rank < 2 or a bad option.
 */
export function matrixDiagnostics(u: tf.Tensor, options: MatrixDiagnosticsOptions = {}): MatrixDiagnostics {
  const [rows, cols] = matrixShape('matrixDiagnostics', u.shape);
  const method = resolveMethod(Math.min(rows, cols), options);
  if (rows === 0 || cols === 0) return { ...summarize(rows, cols, 0, 0, 0, 0, method), ...(options.spectrum === true ? { singularValues: [] } : {}) };
  if (method === 'exact') return exactDiagnostics(u.dataSync(), rows, cols, options.spectrum === true);
  return lanczosDiagnostics(u, rows, cols, options.iterations ?? 64);
}

/**
 * {@link matrixDiagnostics} of the update `after − before` of one weight matrix (what one optimizer
 * step did to it, weight decay included). The difference is taken by the backend in float32.
 *
 * @throws RangeError when the shapes differ, or as {@link matrixDiagnostics}.
 */
export function updateDiagnostics(before: tf.Tensor, after: tf.Tensor, options: MatrixDiagnosticsOptions = {}): MatrixDiagnostics {
  if (before.shape.length !== after.shape.length || before.shape.some((d, i) => d !== after.shape[i])) {
    throw new RangeError(`updateDiagnostics: before has shape [${before.shape.join(', ')}], after [${after.shape.join(', ')}]`);
  }
  matrixShape('updateDiagnostics', after.shape);
  const diff = tf.sub(after, before);
  try {
    return matrixDiagnostics(diff, options);
  } finally {
    diff.dispose();
  }
}
