/**
 * Seeded weight initializers that return plain `Float32Array`s for a shape, computed in float64
 * JavaScript from {@link mulberry32}: the same seed gives the same numbers on every backend (no backend
 * RNG, no `tf.linalg.qr`), and the result can be handed to `tf.tensor(values, shape)` or a layer's
 * `setWeights`.
 *
 * Shapes follow the TensorFlow.js/Keras layout: a Dense kernel is `[fanIn, fanOut]`, a Conv2D kernel
 * `[kh, kw, in, out]`; fans are computed as `keras.initializers.VarianceScaling` computes them
 * ({@link fans}).
 *
 * - {@link orthogonalInit}: Haar-distributed orthogonal matrices (Saxe, McClelland, Ganguli, "Exact
 *   solutions to the nonlinear dynamics of learning in deep linear neural networks", ICLR 2014), with the
 *   semantics of `tf.keras.initializers.Orthogonal` (tensorflow/tfjs `tfjs-layers/src/initializers.ts`,
 *   keras `keras/src/initializers/random_initializers.py`): flatten to `[prod(shape[:-1]), shape[-1]]`,
 *   QR of a Gaussian matrix of the tall orientation, columns multiplied by `sign(diag R)` (which makes
 *   the distribution exactly Haar, Mezzadri 2007), transposed back for wide shapes, times `gain`. This is
 *   the initializer of Day, Kahn, Roberts, "Feature Learning and Generalization in Deep Networks with
 *   Orthogonal Weights" (arXiv 2310.07765), whose critical choice for tanh is `gain = 1`.
 * - {@link deltaOrthogonalInit}: Xiao et al. 2018 ("Dynamical Isometry and a Mean Field Theory of CNNs",
 *   Algorithm 2): a conv kernel that is zero except for an orthogonal centre tap.
 * - {@link gaussianInit}, {@link glorotUniformInit}, {@link heNormalInit}: the i.i.d. baselines.
 *
 * The QR is a Householder QR written for this purpose (columns stored contiguously, `O(m·n²)` flops,
 * ≈ 4 ms for 128×128 in Node 20); `linalg/qr.ts`'s `householderQ64` computes the same factor but
 * walks rows with a stride and gives no `R`, which the sign fix needs.
 * @module
 */
import { gaussian, mulberry32 } from '../core/random.js';

/** Options of {@link orthogonalInit} and {@link deltaOrthogonalInit}. */
export interface OrthogonalInitOptions {
  /** Multiplies the orthogonal matrix (default 1: the critical choice for tanh and linear networks). */
  readonly gain?: number;
  /** Seed of the Gaussian matrix that is factorized. */
  readonly seed: number;
}

/** Options of {@link gaussianInit}. */
export interface GaussianInitOptions {
  /** Standard deviation (default: `1/√fanIn`, the critical `C_W = 1` of Roberts–Yaida). */
  readonly std?: number;
  /** Mean (default 0). */
  readonly mean?: number;
  readonly seed: number;
}

/** Options of {@link glorotUniformInit} and {@link heNormalInit}. */
export interface ScaledInitOptions {
  /** Multiplies the limit or standard deviation (default 1). */
  readonly gain?: number;
  readonly seed: number;
}

function checkShape(fn: string, shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new RangeError(`${fn}: shape must contain positive integers, got [${shape.join(', ')}]`);
    }
    size *= d;
  }
  return size;
}

function checkSeed(fn: string, seed: number): void {
  if (!Number.isInteger(seed)) throw new RangeError(`${fn}: seed must be an integer, got ${seed}`);
}

function checkPositive(fn: string, name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${fn}: ${name} must be a finite number > 0, got ${value}`);
}

/**
 * `[fanIn, fanOut]` of a kernel shape as Keras computes them: rank 2 `[in, out]`; rank ≥ 3 (conv
 * `[...spatial, in, out]`) multiplies both by the receptive-field size; rank 1 uses its length for both;
 * rank 0 gives `[1, 1]`.
 */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  let receptive = 1;
  for (let i = 0; i < shape.length - 2; i++) receptive *= shape[i];
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

/**
 * A Haar-distributed `rows × cols` matrix with orthonormal columns (`rows ≥ cols`) or orthonormal rows
 * (`rows < cols`), row-major float64, from the uniform generator `rand`. The Gaussian matrix of the
 * tall orientation `max × min` is drawn row-major, factorized by Householder QR, and `Q`'s columns are
 * multiplied by `sign(R_jj)` (`+1` for a zero pivot), as `tf.keras.initializers.Orthogonal` does.
 */
export function haarOrthogonal64(rows: number, cols: number, rand: () => number): Float64Array {
  checkShape('haarOrthogonal64', [rows, cols]);
  const m = Math.max(rows, cols);
  const n = Math.min(rows, cols);
  // Column-major storage: column j is a[j*m … j*m+m−1], so every inner loop is contiguous.
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = gaussian(rand);
  const q = householderQColumnMajor(a, m, n);
  if (rows >= cols) {
    const out = new Float64Array(rows * cols);
    for (let j = 0; j < n; j++) for (let i = 0; i < m; i++) out[i * cols + j] = q[j * m + i];
    return out;
  }
  // Wide: W = Qᵀ, and a column-major Q (m × n, m = cols) is exactly a row-major Qᵀ (n × m).
  return q;
}

/**
 * `Q·diag(sign(R_jj))` of the thin QR of `a` (column-major `m × n`, `m ≥ n`; overwritten), column-major.
 * Reflectors `H_j = I − τ_j v_j v_jᵀ` with LAPACK's choice `R_jj = −sign(a_jj)·‖a_j‖`; the sign fix then
 * makes the factor independent of that choice (positive diagonal of `R`).
 */
function householderQColumnMajor(a: Float64Array, m: number, n: number): Float64Array {
  const tau = new Float64Array(n);
  const rSign = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const cj = j * m;
    let below2 = 0;
    for (let i = j + 1; i < m; i++) below2 += a[cj + i] * a[cj + i];
    const alpha = a[cj + j];
    if (below2 === 0) {
      // Nothing below the diagonal (LAPACK dlarfg; e.g. the last column of a square matrix): H = I, R_jj = a_jj.
      tau[j] = 0;
      rSign[j] = alpha < 0 ? -1 : 1;
      continue;
    }
    const norm = Math.sqrt(alpha * alpha + below2);
    const beta = alpha >= 0 ? -norm : norm;
    rSign[j] = beta < 0 ? -1 : 1;
    // v = x − β e₁ (kept in place of column j's subdiagonal part); vᵀv = 2‖x‖(‖x‖ + |α|).
    a[cj + j] = alpha - beta;
    const vv = 2 * norm * (norm + Math.abs(alpha));
    tau[j] = 2 / vv;
    for (let c = j + 1; c < n; c++) {
      const cc = c * m;
      let dot = 0;
      for (let i = j; i < m; i++) dot += a[cj + i] * a[cc + i];
      const s = dot * tau[j];
      for (let i = j; i < m; i++) a[cc + i] -= s * a[cj + i];
    }
  }
  // Q = H₀H₁…H_{n−1}·[I_n; 0], right to left; H_j leaves columns c < j (still e_c) unchanged.
  const q = new Float64Array(m * n);
  for (let c = 0; c < n; c++) q[c * m + c] = 1;
  for (let j = n - 1; j >= 0; j--) {
    if (tau[j] === 0) continue;
    const cj = j * m;
    for (let c = j; c < n; c++) {
      const cc = c * m;
      let dot = 0;
      for (let i = j; i < m; i++) dot += a[cj + i] * q[cc + i];
      if (dot === 0) continue;
      const s = dot * tau[j];
      for (let i = j; i < m; i++) q[cc + i] -= s * a[cj + i];
    }
  }
  for (let c = 0; c < n; c++) {
    if (rSign[c] < 0) for (let i = 0; i < m; i++) q[c * m + i] = -q[c * m + i];
  }
  return q;
}

/**
 * An orthogonal initializer (`tf.keras.initializers.Orthogonal` semantics, seeded): the tensor of
 * `shape` reshaped to `[prod(shape[:-1]), shape[-1]]` has orthonormal columns times `gain` when it is
 * tall or square (`WᵀW = gain²·I`), orthonormal rows times `gain` when it is wide (`WWᵀ = gain²·I`).
 * A conv kernel `[kh, kw, in, out]` is flattened the same way (rows `kh·kw·in`). Rank < 2 throws, as
 * Keras does.
 *
 * @throws RangeError on a shape of rank < 2 or with a non-positive dimension, a non-positive gain, or
 *   a non-integer seed.
 */
export function orthogonalInit(shape: readonly number[], options: OrthogonalInitOptions): Float32Array {
  const size = checkShape('orthogonalInit', shape);
  if (shape.length < 2) {
    throw new RangeError(`orthogonalInit: shape must have rank >= 2, got [${shape.join(', ')}]`);
  }
  const gain = options.gain ?? 1;
  checkPositive('orthogonalInit', 'gain', gain);
  checkSeed('orthogonalInit', options.seed);
  const cols = shape[shape.length - 1];
  const rows = size / cols;
  const w = haarOrthogonal64(rows, cols, mulberry32(options.seed));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = gain * w[i];
  return out;
}

/**
 * Delta-orthogonal conv kernel (Xiao, Bahri, Sohl-Dickstein, Schoenholz, Pennington, ICML 2018,
 * Algorithm 2; TF's `convolutional_delta_orthogonal`): shape `[...spatial, in, out]` with `in ≤ out`, all
 * taps zero except the spatial centre (index `⌊k/2⌋` per axis), which is an `in × out` matrix with
 * orthonormal rows times `gain`. A stride-1 circularly padded convolution with it preserves norms.
 *
 * @throws RangeError when the rank is < 3 or `in > out`.
 */
export function deltaOrthogonalInit(shape: readonly number[], options: OrthogonalInitOptions): Float32Array {
  const size = checkShape('deltaOrthogonalInit', shape);
  if (shape.length < 3) {
    throw new RangeError(`deltaOrthogonalInit: shape must be [...spatial, in, out] (rank >= 3), got [${shape.join(', ')}]`);
  }
  const cin = shape[shape.length - 2];
  const cout = shape[shape.length - 1];
  if (cin > cout) throw new RangeError(`deltaOrthogonalInit: needs in <= out channels, got in ${cin} > out ${cout}`);
  const gain = options.gain ?? 1;
  checkPositive('deltaOrthogonalInit', 'gain', gain);
  checkSeed('deltaOrthogonalInit', options.seed);
  const w = haarOrthogonal64(cin, cout, mulberry32(options.seed));
  // Row-major offset of the centre tap: spatial index ⌊k/2⌋ on every spatial axis.
  let centre = 0;
  for (let i = 0; i < shape.length - 2; i++) centre = centre * shape[i] + Math.floor(shape[i] / 2);
  const out = new Float32Array(size);
  const base = centre * cin * cout;
  for (let i = 0; i < cin * cout; i++) out[base + i] = gain * w[i];
  return out;
}

/**
 * I.i.d. normal entries `mean + std·N(0, 1)`. The default `std = 1/√fanIn` is the critical
 * initialization `C_W = 1` of tanh and linear networks (Roberts, Yaida, Hanin, "The Principles of Deep
 * Learning Theory", ch. 5) — the Gaussian counterpart of `orthogonalInit` with gain 1 on a square layer.
 */
export function gaussianInit(shape: readonly number[], options: GaussianInitOptions): Float32Array {
  const size = checkShape('gaussianInit', shape);
  const std = options.std ?? 1 / Math.sqrt(fans(shape)[0]);
  if (!(Number.isFinite(std) && std >= 0)) throw new RangeError(`gaussianInit: std must be a finite number >= 0, got ${std}`);
  const mean = options.mean ?? 0;
  if (!Number.isFinite(mean)) throw new RangeError(`gaussianInit: mean must be finite, got ${mean}`);
  checkSeed('gaussianInit', options.seed);
  const rand = mulberry32(options.seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = mean + std * gaussian(rand);
  return out;
}

/**
 * Glorot/Xavier uniform (Glorot & Bengio, AISTATS 2010; the Keras Dense default): `U(−l, l)` with
 * `l = gain·√(6 / (fanIn + fanOut))`.
 */
export function glorotUniformInit(shape: readonly number[], options: ScaledInitOptions): Float32Array {
  const size = checkShape('glorotUniformInit', shape);
  const gain = options.gain ?? 1;
  checkPositive('glorotUniformInit', 'gain', gain);
  checkSeed('glorotUniformInit', options.seed);
  const [fanIn, fanOut] = fans(shape);
  const limit = gain * Math.sqrt(6 / (fanIn + fanOut));
  const rand = mulberry32(options.seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * rand() - 1) * limit;
  return out;
}

/** Standard deviation of a unit normal truncated to `[−2, 2]` (Keras's correction constant). */
const TRUNCATED_NORMAL_STD = 0.87962566103423978;

/**
 * He normal (He, Zhang, Ren, Sun, ICCV 2015) with `tf.keras.initializers.HeNormal` semantics: a normal
 * truncated at two standard deviations (redrawn beyond), scaled so that the variance is `gain²·2/fanIn`.
 */
export function heNormalInit(shape: readonly number[], options: ScaledInitOptions): Float32Array {
  const size = checkShape('heNormalInit', shape);
  const gain = options.gain ?? 1;
  checkPositive('heNormalInit', 'gain', gain);
  checkSeed('heNormalInit', options.seed);
  const std = (gain * Math.sqrt(2 / fans(shape)[0])) / TRUNCATED_NORMAL_STD;
  const rand = mulberry32(options.seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let z = gaussian(rand);
    while (Math.abs(z) > 2) z = gaussian(rand);
    out[i] = std * z;
  }
  return out;
}
