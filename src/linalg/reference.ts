/**
 * Float64 linear-algebra references in plain TypeScript: the oracle that float32 TensorFlow.js code is
 * tested against. TensorFlow.js has no float64, no SVD and no eigh (spec `muon-family.md` §0), so the
 * exact polar factor `polar(G) = U Vᵀ` of §12.1, singular-value ranges (§12.2–§12.3) and a float64
 * Newton–Schulz iteration (§1.2) live here, on small row-major `Float64Array` matrices.
 *
 * The SVD is Hestenes' one-sided Jacobi method (M. R. Hestenes, "Inversion of matrices by
 * biorthogonalization and related results", J. SIAM 6(1), 1958; convergence test as in LAPACK
 * `dgesvj`, Demmel & Veselić, "Jacobi's method is more accurate than QR", SIAM J. Matrix Anal. Appl.
 * 13(4), 1992): plane rotations orthogonalize the columns of the tall orientation until every pair is
 * orthogonal to a relative tolerance; the column norms are then the singular values. It is simple,
 * accurate to about 1e-14 relative for the ≤ 256×256 matrices tests use, and O(k²·n) per sweep — a
 * reference, not a production kernel.
 *
 * Nothing here imports TensorFlow.js.
 * @module
 */

/** A dense row-major float64 matrix: element `(i, j)` is `data[i * cols + j]`. */
export interface Matrix64 {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** `rows * cols` values, row-major (C order). */
  readonly data: Float64Array;
}

function checkDim(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${value}`);
  }
}

/**
 * Makes a {@link Matrix64} from row-major values, copying them into a fresh `Float64Array`.
 *
 * @param rows - Number of rows (non-negative integer).
 * @param cols - Number of columns (non-negative integer).
 * @param data - `rows * cols` values in row-major order (a plain array, a `Float32Array` from
 *   `tensor.dataSync()`, …). Float32 values are widened exactly.
 * @throws RangeError when a dimension is not a non-negative integer or `data.length !== rows * cols`.
 */
export function matrix64(rows: number, cols: number, data: ArrayLike<number>): Matrix64 {
  checkDim('matrix64', 'rows', rows);
  checkDim('matrix64', 'cols', cols);
  if (data.length !== rows * cols) {
    throw new RangeError(`matrix64: data must have rows*cols = ${rows * cols} values, got ${data.length}`);
  }
  return { rows, cols, data: Float64Array.from(data) };
}

/** The transpose `Aᵀ` (a new `cols × rows` matrix). */
export function transpose64(a: Matrix64): Matrix64 {
  const { rows, cols, data } = a;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  }
  return { rows: cols, cols: rows, data: out };
}

/**
 * The product `A·B` in float64 (plain triple loop, i-k-j order for row-major access).
 *
 * @throws RangeError when `a.cols !== b.rows`.
 */
export function matmul64(a: Matrix64, b: Matrix64): Matrix64 {
  if (a.cols !== b.rows) {
    throw new RangeError(`matmul64: inner dimensions differ: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  }
  const m = a.rows;
  const n = b.cols;
  const inner = a.cols;
  const ad = a.data;
  const bd = b.data;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < inner; p++) {
      const aip = ad[i * inner + p];
      if (aip === 0) continue;
      const brow = p * n;
      for (let j = 0; j < n; j++) out[row + j] += aip * bd[brow + j];
    }
  }
  return { rows: m, cols: n, data: out };
}

/** Options of {@link svd64}. */
export interface Svd64Options {
  /**
   * Relative orthogonality tolerance: a pair of columns is rotated while
   * `|a_pᵀa_q| > tol·‖a_p‖‖a_q‖`. Default `√L · Number.EPSILON` with `L = max(rows, cols)` (LAPACK
   * `dgesvj`'s choice; smaller values may never be met because of rounding in the dot products).
   */
  readonly tol?: number;
  /** Sweeps over all column pairs before giving up with an `Error` (default 60; ≤ 12 is typical). */
  readonly maxSweeps?: number;
}

/** Result of {@link svd64}: `a ≈ u · diag(s) · vᵀ`. */
export interface Svd64 {
  /** Left singular vectors, `rows × k`, orthonormal columns. */
  readonly u: Matrix64;
  /** The `k = min(rows, cols)` singular values, sorted descending, all ≥ 0. */
  readonly s: Float64Array;
  /** Right singular vectors, `cols × k`, orthonormal columns. */
  readonly v: Matrix64;
}

/** Below this (after scaling the input to max |a_ij| = 1) a column norm counts as an exact zero. */
const ZERO_NORM = 1e-290;

/**
 * One-sided Jacobi on k vectors of length L stored as the rows of `w` (row-major k×L): rotates pairs
 * of rows until they are mutually orthogonal, applying the same rotations to the rows of `q` (k×k,
 * starts as the identity) when given. Returns the number of sweeps used.
 */
function hestenes(
  w: Float64Array,
  k: number,
  len: number,
  q: Float64Array | null,
  tol: number,
  maxSweeps: number,
): number {
  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < k - 1; p++) {
      const po = p * len;
      for (let r = p + 1; r < k; r++) {
        const ro = r * len;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < len; i++) {
          const x = w[po + i];
          const y = w[ro + i];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (alpha === 0 || beta === 0 || !(Math.abs(gamma) > tol * Math.sqrt(alpha) * Math.sqrt(beta))) continue;
        rotated = true;
        // Rotation angle that zeroes the (p, r) inner product; t = tan θ is the smaller root of
        // t² + 2ζt − 1 = 0 (|θ| ≤ π/4), hypot avoids overflow of ζ².
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.hypot(1, zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < len; i++) {
          const x = w[po + i];
          const y = w[ro + i];
          w[po + i] = c * x - s * y;
          w[ro + i] = s * x + c * y;
        }
        if (q !== null) {
          const qp = p * k;
          const qr = r * k;
          for (let i = 0; i < k; i++) {
            const x = q[qp + i];
            const y = q[qr + i];
            q[qp + i] = c * x - s * y;
            q[qr + i] = s * x + c * y;
          }
        }
      }
    }
    if (!rotated) return sweep;
  }
  throw new Error(`svd64: one-sided Jacobi did not converge in ${maxSweeps} sweeps (tol ${tol})`);
}

interface Jacobi {
  /** k×L, rows = the orthogonalized vectors (unnormalized), in the input's scale divided by `scale`. */
  readonly w: Float64Array;
  /** k×k accumulated rotations, or null. */
  readonly q: Float64Array | null;
  readonly k: number;
  readonly len: number;
  /** The input was divided by this before the iteration (its max |a_ij|, or 1 for a zero matrix). */
  readonly scale: number;
  /** Row norms of `w`, unscaled. */
  readonly norms: Float64Array;
  /** Indices of the rows sorted by norm, descending. */
  readonly order: number[];
}

function jacobi(fn: string, a: Matrix64, wantVectors: boolean, options: Svd64Options): Jacobi {
  const { rows, cols, data } = a;
  const wide = rows <= cols;
  const k = wide ? rows : cols;
  const len = wide ? cols : rows;
  const tol = options.tol ?? Math.sqrt(Math.max(len, 1)) * Number.EPSILON;
  const maxSweeps = options.maxSweeps ?? 60;
  if (!(tol > 0) || !Number.isFinite(tol)) throw new RangeError(`${fn}: tol must be in (0, inf), got ${tol}`);
  if (!Number.isInteger(maxSweeps) || maxSweeps < 1) {
    throw new RangeError(`${fn}: maxSweeps must be an integer in [1, inf), got ${maxSweeps}`);
  }
  let maxAbs = 0;
  for (let i = 0; i < data.length; i++) {
    const x = Math.abs(data[i]);
    if (!Number.isFinite(x)) throw new RangeError(`${fn}: matrix has a non-finite value at index ${i}`);
    if (x > maxAbs) maxAbs = x;
  }
  // Scale to max |a_ij| = 1 so squared norms neither overflow nor underflow.
  const scale = maxAbs > 0 ? maxAbs : 1;
  // The k vectors to orthogonalize are the columns of the tall orientation: the rows of A when A is
  // wide, the columns of A when it is tall.
  const w = new Float64Array(k * len);
  if (wide) {
    for (let i = 0; i < data.length; i++) w[i] = data[i] / scale;
  } else {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) w[j * len + i] = data[i * cols + j] / scale;
    }
  }
  let q: Float64Array | null = null;
  if (wantVectors) {
    q = new Float64Array(k * k);
    for (let i = 0; i < k; i++) q[i * k + i] = 1;
  }
  hestenes(w, k, len, q, tol, maxSweeps);
  const norms = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let sum = 0;
    for (let i = 0; i < len; i++) sum += w[j * len + i] * w[j * len + i];
    norms[j] = Math.sqrt(sum);
  }
  const order = Array.from({ length: k }, (_, j) => j).sort((x, y) => norms[y] - norms[x] || x - y);
  return { w, q, k, len, scale, norms, order };
}

/**
 * Turns the sorted, orthogonal rows of `w` into orthonormal rows (k×L, in `order`); rows whose norm is
 * an exact zero are completed by Gram–Schmidt on the standard basis, so the result is always
 * orthonormal (those directions are arbitrary, spec §12.1).
 */
function normalizeRows(j: Jacobi): Float64Array {
  const { w, k, len, norms, order } = j;
  const out = new Float64Array(k * len);
  const zeros: number[] = [];
  order.forEach((src, dst) => {
    const n = norms[src];
    if (n <= ZERO_NORM) {
      zeros.push(dst);
      return;
    }
    for (let i = 0; i < len; i++) out[dst * len + i] = w[src * len + i] / n;
  });
  const filled = new Set(order.map((_, dst) => dst).filter((dst) => !zeros.includes(dst)));
  let basis = 0;
  for (const dst of zeros) {
    for (; basis < len; basis++) {
      const cand = new Float64Array(len);
      cand[basis] = 1;
      // Project out every filled row, twice ("twice is enough", Kahan–Parlett).
      for (let pass = 0; pass < 2; pass++) {
        for (const f of filled) {
          let dot = 0;
          for (let i = 0; i < len; i++) dot += out[f * len + i] * cand[i];
          for (let i = 0; i < len; i++) cand[i] -= dot * out[f * len + i];
        }
      }
      let nrm = 0;
      for (let i = 0; i < len; i++) nrm += cand[i] * cand[i];
      nrm = Math.sqrt(nrm);
      if (nrm > 0.5) {
        for (let i = 0; i < len; i++) out[dst * len + i] = cand[i] / nrm;
        filled.add(dst);
        basis++;
        break;
      }
    }
  }
  return out;
}

/**
 * Thin singular value decomposition `A = U·diag(s)·Vᵀ` by Hestenes' one-sided Jacobi method (1958),
 * run on the tall orientation (the rows of A when A is wide, its columns when tall), with LAPACK
 * `dgesvj`'s relative convergence test. The reference behind the exact polar factor of spec
 * `muon-family.md` §12.1.
 *
 * `k = min(rows, cols)`; `u` is `rows × k`, `v` is `cols × k`, both with orthonormal columns, and `s`
 * is sorted descending. Reconstruction and orthonormality errors are about 1e-14 relative for matrices
 * up to 256×256 (measured on Gaussian inputs: 6e-15 at 40×300, 6e-14 at 256×256, the latter in ~0.7 s;
 * the accumulated rotations lose orthonormality ~ √(rotations)·ε). Left/right vectors of exactly-zero singular values are completed to
 * an orthonormal set and are otherwise arbitrary; the signs of singular-vector pairs are arbitrary too.
 *
 * @param a - Any finite matrix (it is scaled to max |a_ij| = 1 internally, so huge or tiny entries are fine).
 * @param options - Jacobi tolerance and sweep limit, see {@link Svd64Options}.
 * @throws RangeError on a non-finite entry or a bad option; Error if `maxSweeps` is reached.
 */
export function svd64(a: Matrix64, options: Svd64Options = {}): Svd64 {
  const j = jacobi('svd64', a, true, options);
  const { k, len, scale, norms, order } = j;
  const q = j.q as Float64Array;
  const s = Float64Array.from(order, (src) => norms[src] * scale);
  const hat = normalizeRows(j); // k×len: orthonormal rows, sorted
  // Wide A (k = rows): A = Qᵀ·diag(s)·Ŵ, so U = Qᵀ and V = Ŵᵀ. Tall A (k = cols): Aᵀ = Qᵀ·diag(s)·Ŵ,
  // so U = Ŵᵀ and V = Qᵀ. Column c of Qᵀ (after sorting) is row order[c] of Q.
  const qt = new Float64Array(k * k);
  order.forEach((src, c) => {
    for (let i = 0; i < k; i++) qt[i * k + c] = q[src * k + i];
  });
  const hatT = new Float64Array(len * k);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < len; i++) hatT[i * k + c] = hat[c * len + i];
  }
  const wide = a.rows <= a.cols;
  const u: Matrix64 = wide ? { rows: k, cols: k, data: qt } : { rows: len, cols: k, data: hatT };
  const v: Matrix64 = wide ? { rows: len, cols: k, data: hatT } : { rows: k, cols: k, data: qt };
  return { u, s, v };
}

/**
 * The `min(rows, cols)` singular values of `a`, sorted descending: {@link svd64} without forming the
 * singular vectors.
 *
 * @throws RangeError on a non-finite entry.
 */
export function singularValues64(a: Matrix64): Float64Array {
  const { scale, norms, order } = jacobi('singularValues64', a, false, {});
  return Float64Array.from(order, (src) => norms[src] * scale);
}

/**
 * The orthogonal polar factor `polar(A) = U·Vᵀ` (`rows × cols`) from the thin SVD {@link svd64}: the
 * nearest semi-orthogonal matrix to `A` in every unitarily invariant norm, and the limit Newton–Schulz
 * iterations approximate (spec `muon-family.md` §12.1).
 *
 * For full-rank `A` it is unique. Directions with an exactly-zero singular value are **arbitrary**
 * here (they are completed to an orthonormal set), whereas Newton–Schulz maps them to 0 — keep
 * rank-deficient inputs out of fixtures that compare the two.
 */
export function polar64(a: Matrix64): Matrix64 {
  const { u, v } = svd64(a);
  return matmul64(u, transpose64(v));
}

/** Frobenius norm with scaling, so it neither overflows nor underflows. */
function frobenius(data: Float64Array): number {
  let maxAbs = 0;
  for (const x of data) maxAbs = Math.max(maxAbs, Math.abs(x));
  if (maxAbs === 0 || !Number.isFinite(maxAbs)) return maxAbs;
  let sum = 0;
  for (const x of data) sum += (x / maxAbs) * (x / maxAbs);
  return Math.sqrt(sum) * maxAbs;
}

function checkCoefficients(fn: string, coefficients: readonly (readonly [number, number, number])[]): void {
  coefficients.forEach((row, step) => {
    if (row.length !== 3 || !row.every((x) => Number.isFinite(x))) {
      throw new RangeError(`${fn}: coefficients[${step}] must be three finite numbers [a, b, c], got [${row.join(', ')}]`);
    }
  });
}

/** Options of {@link newtonSchulz64}. */
export interface NewtonSchulz64Options {
  /** Added to the normalizing denominator (default `1e-7`, as in `KellerJordan/Muon`). */
  readonly eps?: number;
  /**
   * The Frobenius norm is multiplied by this before `eps` is added (default 1). Polar Express's
   * "input ÷ 1.02" safety factor is `normScale = 1.02` (spec §2.3, §2.7).
   */
  readonly normScale?: number;
}

/**
 * The quintic Newton–Schulz iteration of spec `muon-family.md` §1.2 in float64 — the oracle for the
 * float32 TensorFlow.js implementation and for the `muon_ns` golden files (`KellerJordan/Muon:muon.py`
 * `zeropower_via_newtonschulz5`):
 *
 * ```
 * if rows > cols: X ← Xᵀ                     (work on the wide orientation, k×L with k ≤ L)
 * X ← X / (‖X‖_F · normScale + eps)
 * for (a, b, c) of coefficients:             (one row per step)
 *     A ← X·Xᵀ;  B ← b·A + c·A·A;  X ← a·X + B·X     (σ ↦ aσ + bσ³ + cσ⁵)
 * if transposed: X ← Xᵀ
 * ```
 *
 * Jordan's schedule is `Array(5).fill([3.4445, -4.775, 2.0315])`. Each singular value σ of the input
 * leaves as `quinticCompose(coefficients, σ / (‖X‖_F·normScale + eps))`, see {@link quinticCompose}.
 *
 * @param a - Input matrix (any shape; a square matrix is not transposed).
 * @param coefficients - One `[a, b, c]` row per step, applied in order; may be empty (normalization only).
 * @param options - `eps` (≥ 0, default 1e-7) and `normScale` (> 0, default 1).
 * @throws RangeError on a malformed coefficient row or option.
 */
export function newtonSchulz64(
  a: Matrix64,
  coefficients: readonly (readonly [number, number, number])[],
  options: NewtonSchulz64Options = {},
): Matrix64 {
  const eps = options.eps ?? 1e-7;
  const normScale = options.normScale ?? 1;
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`newtonSchulz64: eps must be in [0, inf), got ${eps}`);
  if (!(normScale > 0) || !Number.isFinite(normScale)) {
    throw new RangeError(`newtonSchulz64: normScale must be in (0, inf), got ${normScale}`);
  }
  checkCoefficients('newtonSchulz64', coefficients);
  const tall = a.rows > a.cols;
  let x = tall ? transpose64(a) : matrix64(a.rows, a.cols, a.data);
  const denom = frobenius(x.data) * normScale + eps;
  for (let i = 0; i < x.data.length; i++) x.data[i] /= denom;
  for (const [ca, cb, cc] of coefficients) {
    const gram = matmul64(x, transpose64(x));
    const gram2 = matmul64(gram, gram);
    const b = new Float64Array(gram.data.length);
    for (let i = 0; i < b.length; i++) b[i] = cb * gram.data[i] + cc * gram2.data[i];
    const bx = matmul64({ rows: gram.rows, cols: gram.cols, data: b }, x);
    const next = new Float64Array(x.data.length);
    for (let i = 0; i < next.length; i++) next[i] = ca * x.data[i] + bx.data[i];
    x = { rows: x.rows, cols: x.cols, data: next };
  }
  return tall ? transpose64(x) : x;
}

/**
 * The scalar map `φ(σ) = p_T ∘ … ∘ p_1 (σ)` with `p_t(σ) = a_t σ + b_t σ³ + c_t σ⁵`: what a Newton–Schulz
 * schedule does to each singular value of the normalized input (spec `muon-family.md` §2, §2.7, §12.3).
 * For Jordan's coefficients ×5, σ ∈ [1e-2, 1] maps into [0.6818, 1.1344].
 *
 * @param coefficients - One `[a, b, c]` row per step, applied in order.
 * @param sigma - The input singular value (normally in [0, 1] after Frobenius normalization).
 */
export function quinticCompose(coefficients: readonly (readonly [number, number, number])[], sigma: number): number {
  let s = sigma;
  for (const [a, b, c] of coefficients) {
    const s2 = s * s;
    s = s * (a + s2 * (b + c * s2));
  }
  return s;
}
