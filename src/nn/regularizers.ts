/**
 * Orthogonality regularizers as plain functions of a weight tensor: each returns a `tf.Scalar` built from
 * tfjs-core ops only, so it can be added to any loss and differentiated with `tf.grad`/`variableGrads`.
 * The tfjs-layers face (a `kernelRegularizer` that serializes) is `tfjs/regularizers.ts`.
 *
 * Layout: TensorFlow.js kernels — a Dense kernel `[fanIn, fanOut]`, a Conv2D kernel `[kh, kw, in, out]`.
 * Every function flattens a kernel to `W ∈ R^{fanIn × fanOut}` with `fanIn = prod(shape[:-1])` (the
 * layout `orthogonalInit` orthogonalizes), so a filter (an output unit) is a **column** of `W` — a row
 * of PyTorch's `weight.reshape(c_out, -1)`. The order of the `kh·kw·in` entries inside a filter differs
 * from PyTorch's `in·kh·kw`, which no penalty here sees: each depends on the filters only through their
 * inner products.
 *
 * - {@link softOrthogonality}: `‖WᵀW − I‖²_F` on the smaller side (deel-ai/deel-lip
 *   `deel/lip/regularizers.py` `OrthDenseRegularizer`).
 * - {@link groupOrthogonality}: GOR, Kurtz, Bar, Giryes, "Group Orthogonalization Regularization for
 *   Vision Models Adaptation and Robustness" (arXiv 2306.10001); reference YoavKurtz/GOR
 *   `weight_regularization.py` (`calc_dist`, `inter_reg_loss`, `intra_reg_loss`, `calc_group_reg_loss`)
 *   and `train_cifar10.py` (defaults).
 * - {@link lorth}: Achour, Malgouyres, Mamalet, "Existence, Stability and Scalability of Orthogonal
 *   Convolutional Neural Networks" (JMLR 2022), the regularizer of Wang et al., "Orthogonal
 *   Convolutional Neural Networks" (CVPR 2020); reference deel-ai/deel-lip `deel/lip/regularizers.py`
 *   (`Lorth`, `Lorth2D`, `LorthRegularizer`).
 * - {@link lambdaOrthogonality}: Ricci, Biondi, Pernici, Patras, Del Bimbo, "λ-Orthogonality
 *   Regularization for Compatible Representation Learning" (NeurIPS 2025). Its exact penalty is
 *   **unconfirmed** (no snapshot of miccunifi/lambda_orthogonality was readable): this is the
 *   configurable reading of the project's spec, a hinge `weight·max(0, D(B) − λ)` on an orthogonality
 *   defect D chosen by the caller.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkKnownKeys, checkNumber, nonNegative as nonNegativeInterval } from '../core/options.js';
import { gaussian, mulberry32 } from '../core/random.js';
import { choice, integer, nonNegative, option, resolveSchema, schemaKeys, type OptionsOf, type ResolvedOf, type Schema } from '../core/schema.js';

/** `[fanIn, fanOut]` of a kernel of rank ≥ 2: `[prod(shape[:-1]), shape[-1]]`. Throws for rank < 2. */
function flatShape(fn: string, shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    throw new RangeError(`${fn}: the weight must have rank ≥ 2 (a Dense or conv kernel), got shape [${shape.join(', ')}]`);
  }
  const fanOut = shape[shape.length - 1];
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (fanIn === 0 || fanOut === 0) throw new RangeError(`${fn}: the weight is empty, shape [${shape.join(', ')}]`);
  return [fanIn, fanOut];
}

function resolve<S extends Schema>(fn: string, schema: S, options: object | undefined): ResolvedOf<S> {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError(`${fn}: options must be an object, got ${typeof options}`);
  checkKnownKeys(fn, options, schemaKeys(schema));
  return resolveSchema(fn, schema, options);
}

/**
 * `G − I` for the smaller Gram of a batch of set matrices `a` (`[batch, rows, cols]`): `aᵀa − I_cols`
 * when the sets are tall (`rows ≥ cols`), `aaᵀ − I_rows` when wide — GOR's `calc_dist` convention.
 * Explicit transposes, not `matMul(…, transposeA)`: on wasm those leave XNNPACK (DESIGN.md).
 */
function batchedDefect(a: tf.Tensor3D): tf.Tensor3D {
  const [, rows, cols] = a.shape;
  const at = tf.transpose(a, [0, 2, 1]);
  const gram = rows >= cols ? tf.matMul(at, a) : tf.matMul(a, at);
  return tf.sub(gram, tf.eye(Math.min(rows, cols)));
}

/** `G − I` of the smaller Gram of the flattened kernel `W` (`[fanIn, fanOut]`): `WᵀW` when `fanIn ≥ fanOut`. */
function gramDefect(fn: string, w: tf.Tensor): tf.Tensor2D {
  const [fanIn, fanOut] = flatShape(fn, w.shape);
  const w2 = tf.reshape(w, [fanIn, fanOut]) as tf.Tensor2D;
  const wt = tf.transpose(w2);
  const gram = fanIn >= fanOut ? tf.matMul(wt, w2) : tf.matMul(w2, wt);
  return tf.sub(gram, tf.eye(Math.min(fanIn, fanOut)));
}

/**
 * Soft orthogonality `‖WᵀW − I‖²_F` of a kernel flattened to `W ∈ R^{fanIn × fanOut}`, on the smaller
 * side: the `fanOut × fanOut` Gram `WᵀW` (orthonormal filters, i.e. columns) when `fanIn ≥ fanOut`, else
 * the `fanIn × fanIn` Gram `WWᵀ` (orthonormal rows). For square `W` both sides give the same value.
 * This is deel-lip's `OrthDenseRegularizer` distance and GOR's N = 1 case; zero exactly when `W` has
 * orthonormal columns (tall) or rows (wide). Its gradient for tall `W` is `4·W(WᵀW − I)`.
 * @example
 * const penalty = softOrthogonality(kernel); // a tf.Scalar
 */
export function softOrthogonality(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.square(gramDefect('softOrthogonality', w))));
}

const groupSchema = {
  /** The number of groups N (GOR's `--num-groups`, default 32, as GroupNorm's groups). */
  groups: integer(32, 1),
  /** The fewest filters per group: N is lowered to `⌊c_out / minFilters⌋` (GOR's `min_num_filters`, default 4). */
  minFilters: integer(4, 1),
  /**
   * `'inter'`: orthonormalize the filters inside each group of consecutive filters; `'intra'`: the set
   * of the j-th filter of every group, for each j (GOR's `reg_type`, default `'inter'`).
   */
  variant: choice(['inter', 'intra'] as const, 'inter'),
};
/** Options of {@link groupOrthogonality}. */
export interface GroupOrthogonalityOptions extends OptionsOf<typeof groupSchema> {}
/** {@link GroupOrthogonalityOptions} with every default filled in. */
export interface ResolvedGroupOrthogonality extends ResolvedOf<typeof groupSchema> {}

/** Resolves and validates {@link GroupOrthogonalityOptions} (`RangeError` naming the option). */
export function resolveGroupOrthogonality(options?: GroupOrthogonalityOptions, owner = 'groupOrthogonality'): ResolvedGroupOrthogonality {
  return resolve(owner, groupSchema, options);
}

/**
 * The groups GOR uses for a layer with `cOut` filters: `N_eff = min(groups, ⌊cOut/minFilters⌋)` groups of
 * `s = cOut/N_eff` filters. Throws a `RangeError` when `cOut < minFilters` or `cOut` is not divisible by
 * `N_eff` (the reference's assertions).
 */
export function gorGroups(cOut: number, options: ResolvedGroupOrthogonality, owner = 'groupOrthogonality'): { groups: number; groupSize: number } {
  const groups = Math.min(options.groups, Math.floor(cOut / options.minFilters));
  if (groups < 1) {
    throw new RangeError(`${owner}: the layer has ${cOut} filters, fewer than minFilters = ${options.minFilters}`);
  }
  if (cOut % groups !== 0) {
    throw new RangeError(
      `${owner}: ${cOut} filters are not divisible into min(groups ${options.groups}, ⌊${cOut}/minFilters ${options.minFilters}⌋) = ${groups} groups`,
    );
  }
  return { groups, groupSize: cOut / groups };
}

/**
 * Group orthogonalization regularization (GOR): the sum of `dist(A)` over sets `A` of filters, where
 * `dist(A) = ‖AᵀA − I‖²_F` for a tall set (rows ≥ cols) and `‖AAᵀ − I‖²_F` for a wide one, with a
 * set's rows its filters (`k = prod(shape[:-1])` entries each; a conv kernel `[kh, kw, in, out]` has
 * `c_out = out` filters of `k = kh·kw·in`). The `c_out` filters (columns of the flattened kernel) split
 * into `N_eff` groups of `s` consecutive filters ({@link gorGroups}). `'inter'`: the sets are the groups
 * (`N_eff` sets of `s × k`); `'intra'`: set `j` holds the j-th filter of every group (`s` sets of
 * `N_eff × k`; with `s = 1` the whole layer, `dist(Wᵀ)`). All sets are computed as one batched Gram,
 * `O(c_out·s·k)` for `'inter'` instead of the whole layer's `O(c_out²·k)`. The paper's total loss is
 * `L_task + λ·Σ_layers GOR` with λ = 1e-2 (`groupOrthogonalityRegularizer` multiplies by it).
 * Follows YoavKurtz/GOR `weight_regularization.py`.
 */
export function groupOrthogonality(w: tf.Tensor, options?: GroupOrthogonalityOptions): tf.Scalar {
  const fn = 'groupOrthogonality';
  const r = resolveGroupOrthogonality(options, fn);
  const [k, cOut] = flatShape(fn, w.shape);
  const { groups, groupSize } = gorGroups(cOut, r, fn);
  return tf.tidy(() => {
    // Filters as rows, grouped: [N_eff, s, k] (row g·s + j of Wᵀ is filter j of group g).
    const filters = tf.reshape(tf.transpose(tf.reshape(w, [k, cOut])), [groups, groupSize, k]) as tf.Tensor3D;
    const sets = r.variant === 'inter' ? filters : tf.transpose(filters, [1, 0, 2]);
    return tf.sum(tf.square(batchedDefect(sets)));
  });
}

const lorthSchema = {
  /** The stride S of the convolution the kernel belongs to (default 1). */
  stride: integer(1, 1),
};
/** Options of {@link lorth}. */
export interface LorthOptions extends OptionsOf<typeof lorthSchema> {}
/** {@link LorthOptions} with every default filled in. */
export interface ResolvedLorth extends ResolvedOf<typeof lorthSchema> {}

/** Resolves and validates {@link LorthOptions}. */
export function resolveLorth(options?: LorthOptions, owner = 'lorth'): ResolvedLorth {
  return resolve(owner, lorthSchema, options);
}

/**
 * Checks a Lorth kernel shape `[k, k, C, M]` (odd k) and whether an orthogonal convolution exists for it
 * with stride S (deel-lip `_check_if_orthconv_exists`, circular padding): row-orthogonal case
 * `C·S² ≥ M` needs `M ≤ C·k²`; column-orthogonal case needs `S ≤ k`. Returns `[k, C, M]`.
 */
function lorthShape(fn: string, shape: readonly number[], stride: number): [number, number, number] {
  if (shape.length !== 4) {
    throw new RangeError(`${fn}: the kernel must be a 2-D convolution kernel [k, k, in, out], got shape [${shape.join(', ')}]`);
  }
  const [kh, kw, c, m] = shape;
  if (kh !== kw) throw new RangeError(`${fn}: the kernel must be square (k × k), got ${kh} × ${kw}`);
  if (kh % 2 === 0) throw new RangeError(`${fn}: the kernel size must be odd, got ${kh} (deel-lip's Lorth needs a centre tap)`);
  if (c * stride * stride >= m) {
    if (m > c * kh * kh) {
      throw new RangeError(
        `${fn}: no orthogonal convolution exists for kernel [${shape.join(', ')}] with stride ${stride}: ` +
          `the row-orthogonal case (in·S² ≥ out) needs out ≤ in·k² = ${c * kh * kh}`,
      );
    }
  } else if (stride > kh) {
    throw new RangeError(
      `${fn}: no orthogonal convolution exists for kernel [${shape.join(', ')}] with stride ${stride}: ` +
        `the column-orthogonal case (in·S² < out) needs stride ≤ k = ${kh}`,
    );
  }
  return [kh, c, m];
}

/**
 * Lorth of a 2-D convolution kernel `K ∈ R^{k×k×C×M}` (TF layout, odd k) for stride S: treat the M
 * filters as M images of C channels, `X = transpose(K, [3, 0, 1, 2])`, zero-padded by
 * `P = ⌊(k−1)/S⌋·S` on each spatial side; `Out = conv2d(X, K, S, 'valid')` (`M × H′ × H′ × M`,
 * `H′ = 2⌊(k−1)/S⌋ + 1`), the inner products of every filter with every strided shift of every filter;
 * `Lorth = ‖Out − T‖²_F − δ` with the target `T` zero except `T[:, c, c, :] = I_M` at the centre
 * `c = ⌊H′/2⌋`, and `δ = max(0, M − S²·C)`, the distance that remains for a column-orthogonal
 * (`M > S²·C`) orthogonal convolution. Zero exactly for an orthogonal convolution (circular padding);
 * a 1×1 kernel at stride 1 gives `‖KᵀK − I_M‖²_F − max(0, M − C)`. Follows deel-lip's `Lorth2D`
 * (`_compute_conv_kk`, `_compute_target`, `_compute_delta`); the transposed-convolution case
 * (`flag_deconv`) is not implemented. A kernel for which no orthogonal convolution exists is a
 * `RangeError`, as deel-lip's `RuntimeError` (it also warns that `C·S² = M` is hard to optimize).
 */
export function lorth(kernel: tf.Tensor, options?: LorthOptions): tf.Scalar {
  const fn = 'lorth';
  const { stride } = resolveLorth(options, fn);
  const [k, c, m] = lorthShape(fn, kernel.shape, stride);
  const half = Math.floor((k - 1) / stride);
  const pad = half * stride;
  const size = 2 * half + 1;
  const delta = Math.max(0, m - stride * stride * c);
  const target = new Float32Array(m * size * size * m);
  for (let i = 0; i < m; i++) target[((i * size + half) * size + half) * m + i] = 1;
  return tf.tidy(() => {
    const k4 = kernel as tf.Tensor4D;
    const images = tf.pad(tf.transpose(k4, [3, 0, 1, 2]), [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
    const out = tf.conv2d(images as tf.Tensor4D, k4, stride, 'valid');
    const sq = tf.sum(tf.square(tf.sub(out, tf.tensor4d(target, [m, size, size, m]))));
    return tf.sub(sq, delta);
  });
}

/** The orthogonality defects {@link lambdaOrthogonality} can hinge on. */
export const orthogonalityDefects = ['frob', 'frobSquared', 'spectral'] as const;
/** `‖BᵀB − I‖_F`, `‖BᵀB − I‖²_F`, or the spectral norm `‖BᵀB − I‖₂`. */
export type OrthogonalityDefect = (typeof orthogonalityDefects)[number];

const lambdaSchema = {
  /**
   * The defect D (the spec's reading; which one the paper uses is unconfirmed): `'frob'` `‖BᵀB − I‖_F`
   * (default), `'frobSquared'` `‖BᵀB − I‖²_F`, `'spectral'` `‖BᵀB − I‖₂` by power iteration.
   */
  defect: choice(orthogonalityDefects, 'frob'),
  /** The radius λ ≥ 0 of the ball of tolerated defect, in the units of D. Required: the paper's default is unconfirmed. */
  threshold: option<number>(Number.NaN, (owner, key, v) => {
    if (typeof v === 'number' && Number.isNaN(v)) {
      throw new RangeError(`${owner}: ${key} (λ) is required — the paper's default is unconfirmed`);
    }
    return checkNumber(owner, key, v, nonNegativeInterval);
  }),
  /** Multiplies the hinge (default 1; the paper's weight is unconfirmed). */
  weight: nonNegative(1),
  /** Power-iteration steps of the `'spectral'` defect (default 32). */
  powerIterations: integer(32, 1),
};
/** Options of {@link lambdaOrthogonality}. */
export interface LambdaOrthogonalityOptions extends OptionsOf<typeof lambdaSchema> {}
/** {@link LambdaOrthogonalityOptions} with every default filled in. */
export interface ResolvedLambdaOrthogonality extends ResolvedOf<typeof lambdaSchema> {}

/** Resolves and validates {@link LambdaOrthogonalityOptions}. */
export function resolveLambdaOrthogonality(options?: LambdaOrthogonalityOptions, owner = 'lambdaOrthogonality'): ResolvedLambdaOrthogonality {
  return resolve(owner, lambdaSchema, options);
}

/** The floor of `λ²` in the `'frob'` hinge: `√S`'s gradient is infinite at `S = 0`. */
const MIN_SQUARED_DEFECT = 1e-30;

/** The fixed start vector of the spectral power iteration (seeded: the same value on every backend). */
function startVector(n: number): Float32Array {
  const rand = mulberry32(0x5eed0f);
  const v = new Float32Array(n);
  let norm = 0;
  for (let i = 0; i < n; i++) {
    v[i] = gaussian(rand);
    norm += v[i] * v[i];
  }
  for (let i = 0; i < n; i++) v[i] /= Math.sqrt(norm);
  return v;
}

/**
 * The spectral norm of a square matrix by power iteration on `EᵀE` from a seeded start, with the
 * gradient of a singular value, `∂σ/∂E = u vᵀ` (`u = Ev/σ`): the iteration itself is not
 * differentiated. Exact at convergence; with a repeated top singular value the gradient is one
 * subgradient.
 */
function spectralNorm(e: tf.Tensor2D, iterations: number): tf.Scalar {
  const n = e.shape[0];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const et = tf.transpose(x);
    let v: tf.Tensor2D = tf.tensor2d(startVector(n), [n, 1]);
    for (let i = 0; i < iterations; i++) {
      const next = tf.matMul(et, tf.matMul(x, v));
      v = tf.div(next, tf.add(tf.norm(next), 1e-30));
    }
    const ev = tf.matMul(x, v);
    const sigma = tf.norm(ev);
    const u = tf.div(ev, tf.add(sigma, 1e-30));
    save([u, v]);
    return {
      value: sigma as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.matMul(saved[0] as tf.Tensor2D, tf.transpose(saved[1] as tf.Tensor2D))),
    };
  });
  return f(e) as tf.Scalar;
}

/**
 * λ-orthogonality: `weight · max(0, D(B) − λ)`, a hinge on an orthogonality defect D of `B` (flattened
 * to `[fanIn, fanOut]`; the Gram on the smaller side, as {@link softOrthogonality}). **Unconfirmed
 * reading** of Ricci et al. (NeurIPS 2025), whose code (miccunifi/lambda_orthogonality) was not
 * available: the abstract confirms an affine map kept relaxed-orthogonal by a constraint controlled by
 * λ; the defect (`'frob'`, `'frobSquared'`, `'spectral'`), the default λ and the weight are the caller's
 * choice. Zero (value and gradient) inside the λ-ball `D ≤ λ`, in particular for an orthogonal `B`;
 * outside, the gradient is `weight·∇D`; `{defect: 'frobSquared', threshold: 0, weight: 1}` is
 * {@link softOrthogonality}. The `'frob'` hinge is computed as `√max(S, λ²) − λ` with `S = ‖BᵀB − I‖²_F`
 * (and `λ² ≥ 1e-30`), so its gradient stays finite at an orthogonal `B` even when λ = 0.
 */
export function lambdaOrthogonality(b: tf.Tensor, options: LambdaOrthogonalityOptions): tf.Scalar {
  const fn = 'lambdaOrthogonality';
  const r = resolveLambdaOrthogonality(options, fn);
  return tf.tidy(() => {
    const e = gramDefect(fn, b);
    let hinge: tf.Scalar;
    if (r.defect === 'frobSquared') {
      hinge = tf.relu(tf.sub(tf.sum(tf.square(e)), r.threshold));
    } else if (r.defect === 'frob') {
      // √max(S, λ²) − √λ²: exactly 0 (value and gradient) inside the ball, √S − λ outside; the floor
      // keeps √'s gradient finite at S = 0 when λ = 0 (it then reads √S as 0 below S = 1e-30).
      const floor = tf.scalar(Math.max(r.threshold * r.threshold, MIN_SQUARED_DEFECT));
      hinge = tf.sub(tf.sqrt(tf.maximum(tf.sum(tf.square(e)), floor)), tf.sqrt(floor));
    } else {
      hinge = tf.relu(tf.sub(spectralNorm(e, r.powerIterations), r.threshold));
    }
    return tf.mul(hinge, r.weight);
  });
}
