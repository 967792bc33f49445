/**
 * Orthogonal fine-tuning adapters as plain tensor functions (tfjs-core ops only, differentiable with
 * `tf.grad`/`variableGrads`): a frozen kernel `K` is multiplied on its input side by a learned
 * orthogonal matrix, so the adapted kernel `M·K` has exactly the singular values of `K` and the angles
 * between its output neurons (columns) are kept. The tfjs-layers face (`HraDense`, `Oftv2Dense`) is
 * `tfjs/adapters.ts`.
 *
 * Layout: TensorFlow.js kernels — a Dense kernel `[fanIn, fanOut]`, a Conv2D kernel `[kh, kw, in, out]`,
 * flattened to `K ∈ R^{d × fanOut}` with `d = prod(shape[:-1])`. PyTorch's `nn.Linear.weight` is `Kᵀ`,
 * so PEFT's `W·H` (HRA) and `R·Wᵀ` (OFT merge) both read `M·K` here. A conv kernel flattened as it
 * lies has its `d` entries in the order `(kh, kw, in)`, where PyTorch's `weight.view(out, in·kh·kw)`
 * orders them `(in, kh, kw)`: HRA does not see the order (its reflection vectors are learned), OFT's
 * blocks would group other entries than PEFT's. {@link convKernelRows} / {@link convKernelFromRows}
 * give PEFT's order; the conv adapter layers (`HraConv2D`, `Oftv2Conv2D`) use it, so a PEFT
 * `hra_u` / `oft_R.weight` of a `Conv2d` is theirs as it is.
 *
 * - **HRA**, Yuan, Liu, Xu, "Bridging The Gap between Low-rank and Orthogonal Adaptation via Householder
 *   Reflection Adaptation" (NeurIPS 2024); reference huggingface/peft `src/peft/tuners/hra/layer.py`
 *   (`get_delta_weight`, `reset_hra_parameters`) and DaShenZi721/HRA. `M = H_r ⋯ H_1` with
 *   `H_i = I − 2 û_i û_iᵀ`, `û_i = u_i/‖u_i‖` the columns of a trainable `U ∈ R^{d × r}` (PEFT's
 *   `W·H_1⋯H_r` transposed): {@link hraKernel}, {@link hraReflect}, the Gram–Schmidt form
 *   `M = I − 2ÛÛᵀ` (PEFT `apply_GS`), the paper's reflection-plane regularizer {@link hraOrthogonality}.
 * - **OFTv2**, Qiu, Liu, Weller, Schölkopf, "Orthogonal Finetuning Made Scalable" (arXiv 2506.19847);
 *   reference huggingface/peft `src/peft/tuners/oft/layer.py` (`OFTRotationModule._cayley_batch`,
 *   `_pytorch_skew_symmetric`, the input-centric `forward`). `M = diag(R_1, …, R_k)`, each block the
 *   Cayley transform `R = (I + Q)(I − Q)⁻¹` of a skew-symmetric `Q` (packed upper triangle,
 *   `b(b−1)/2` numbers) with the inverse replaced by its truncated Neumann series, exactly PEFT's sum
 *   `I + 2Q + 2Q² + … + 2Q^{t−2} + Q^{t−1}` for `t` terms ({@link cayleyNeumann}). No solve: TF.js has
 *   none. The truncation makes `R` orthogonal only up to `O(‖Q‖^t)` (≈ `2‖Q‖⁴` at `t = 5`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkKnownKeys } from '../core/options.js';
import { gaussianArray, mulberry32, uniformArray } from '../core/random.js';
import { boolean, integer, nullableNumber, resolveSchema, schemaKeys, type OptionsOf, type ResolvedOf, type Schema } from '../core/schema.js';

/** `[d, fanOut]` of a kernel of rank ≥ 2: `[prod(shape[:-1]), shape[-1]]`. Throws for rank < 2 or an empty kernel. */
export function adapterKernelShape(fn: string, shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    throw new RangeError(`${fn}: the kernel must have rank ≥ 2 (a Dense or conv kernel), got shape [${shape.join(', ')}]`);
  }
  const fanOut = shape[shape.length - 1];
  const d = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (d === 0 || fanOut === 0) throw new RangeError(`${fn}: the kernel is empty, shape [${shape.join(', ')}]`);
  return [d, fanOut];
}

function checkConvKernelShape(fn: string, shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4 || shape.some((n) => n < 1)) {
    throw new RangeError(`${fn}: a conv kernel must be [kh, kw, in, out] with every dimension ≥ 1, got shape [${shape.join(', ')}]`);
  }
  return shape as [number, number, number, number];
}

/**
 * A TensorFlow.js Conv2D kernel `[kh, kw, in, out]` as the `[in·kh·kw, out]` matrix whose rows run in
 * PyTorch's `(in, kh, kw)` order: the transpose of PEFT's `weight.view(out, in·kh·kw)` (huggingface/peft
 * `tuners/hra/layer.py` `HRAConv2d`, `tuners/oft/layer.py` `Conv2d.merge`), so the adapters act on the
 * same side, in the same order, as PEFT's: row `c·kh·kw + i·kw + j` is input channel `c` at tap `(i, j)`.
 */
export function convKernelRows(kernel: tf.Tensor): tf.Tensor2D {
  const [kh, kw, cin, out] = checkConvKernelShape('convKernelRows', kernel.shape);
  return tf.tidy(() => tf.reshape(tf.transpose(kernel, [2, 0, 1, 3]), [cin * kh * kw, out]) as tf.Tensor2D);
}

/** The inverse of {@link convKernelRows}: `[in·kh·kw, out]` rows in `(in, kh, kw)` order back to a `[kh, kw, in, out]` kernel. */
export function convKernelFromRows(rows: tf.Tensor2D, kernelShape: readonly number[]): tf.Tensor4D {
  const fn = 'convKernelFromRows';
  const [kh, kw, cin, out] = checkConvKernelShape(fn, kernelShape);
  if (rows.rank !== 2 || rows.shape[0] !== cin * kh * kw || rows.shape[1] !== out) {
    throw new RangeError(`${fn}: rows must be [${cin * kh * kw}, ${out}] for the kernel shape [${kernelShape.join(', ')}], got shape [${rows.shape.join(', ')}]`);
  }
  return tf.tidy(() => tf.transpose(tf.reshape(rows, [cin, kh, kw, out]), [1, 2, 0, 3]) as tf.Tensor4D);
}

function resolve<S extends Schema>(fn: string, schema: S, options: object | undefined): ResolvedOf<S> {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError(`${fn}: options must be an object, got ${typeof options}`);
  checkKnownKeys(fn, options, schemaKeys(schema));
  return resolveSchema(fn, schema, options);
}

// ---------------------------------------------------------------------------------------------------
// HRA

const hraSchema = {
  /** The number r of Householder reflections (PEFT `HRAConfig.r`, default 8). */
  rank: integer(8, 1),
  /** Gram–Schmidt-orthonormalize U's columns and use `I − 2ÛÛᵀ` (PEFT `apply_GS`, default false). */
  gramSchmidt: boolean(false),
};
/** Options of the HRA functions. */
export interface HraOptions extends OptionsOf<typeof hraSchema> {}
/** {@link HraOptions} with every default filled in. */
export interface ResolvedHra extends ResolvedOf<typeof hraSchema> {}

/** Resolves and validates {@link HraOptions} (`RangeError` naming the option). */
export function resolveHra(options?: HraOptions, owner = 'hra'): ResolvedHra {
  return resolve(owner, hraSchema, options);
}

/** Squared norms below this count as a zero vector: its reflection is the identity (never a NaN). */
const ZERO_SQUARED_NORM = 1e-30;

function checkVectors(fn: string, u: tf.Tensor, d: number | null): [number, number] {
  if (u.rank !== 2) throw new RangeError(`${fn}: the reflection vectors U must be a matrix [d, r], got shape [${u.shape.join(', ')}]`);
  const [rows, r] = u.shape as [number, number];
  if (r < 1) throw new RangeError(`${fn}: U has no columns (r must be ≥ 1), shape [${u.shape.join(', ')}]`);
  if (d !== null && rows !== d) {
    throw new RangeError(`${fn}: U has ${rows} rows but the kernel's input dimension is ${d} (U must be [${d}, r])`);
  }
  if (r > rows) throw new RangeError(`${fn}: r = ${r} reflections exceed the dimension d = ${rows}`);
  return [rows, r];
}

/**
 * The unit reflection vectors `Û` (`[d, r]`): each column of `u` over its norm (PEFT
 * `opt_u / opt_u.norm(dim=0)`), or with `gramSchmidt` the Gram–Schmidt orthonormalization of the
 * columns in order (PEFT's `apply_GS` loop: `u_i ← u_i − (w_jᵀu_i) w_j` for `j < i`, then `w_i = u_i/‖u_i‖`).
 * A zero column (squared norm < 1e-30) stays zero, i.e. its reflection is the identity.
 */
export function hraVectors(u: tf.Tensor2D, options?: Pick<HraOptions, 'gramSchmidt'>): tf.Tensor2D {
  const fn = 'hraVectors';
  const { gramSchmidt } = resolve(fn, { gramSchmidt: hraSchema.gramSchmidt }, options);
  const [d, r] = checkVectors(fn, u, null);
  const unit = (v: tf.Tensor) => tf.mul(v, tf.rsqrt(tf.maximum(tf.sum(tf.square(v), 0, true), ZERO_SQUARED_NORM)));
  return tf.tidy(() => {
    if (!gramSchmidt) return unit(u) as tf.Tensor2D;
    const ws: tf.Tensor2D[] = [];
    for (let i = 0; i < r; i++) {
      let ui: tf.Tensor = tf.slice(u, [0, i], [d, 1]);
      for (const w of ws) ui = tf.sub(ui, tf.mul(tf.sum(tf.mul(w, ui)), w));
      ws.push(unit(ui) as tf.Tensor2D);
    }
    return tf.concat(ws, 1);
  });
}

/**
 * The `r × r` upper-triangular `T` of the compact WY form `H_1 ⋯ H_r = I − Û·T·Ûᵀ` for reflections
 * `H_i = I − 2û_iû_iᵀ` (Schreiber & Van Loan 1989; the "UT transform" of Joffrain, Low, Quintana-Ortí,
 * van de Geijn & Van Zee, "Accumulating Householder transformations, revisited", ACM TOMS 2006):
 * `T⁻¹ = I/2 + N`, `N` the strictly upper triangle of `ÛᵀÛ`. `2N` is nilpotent, so
 * `T = 2(I + 2N)⁻¹ = 2·(I − X)(I + X²)(I + X⁴)⋯` with `X = 2N`, exact after ⌈log₂ r⌉ factors: three
 * products with the kernel replace the chain's 2r sequential ones, and everything stays differentiable.
 * (With a zero column, its reflection is the identity here too: its row and column of `N` are zero.)
 */
function householderT(w: tf.Tensor2D, r: number): tf.Tensor2D {
  const mask = new Float32Array(r * r);
  for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) mask[i * r + j] = 1;
  const x = tf.mul(tf.mul(tf.matMul(tf.transpose(w), w), tf.tensor2d(mask, [r, r])), -2);
  // (I + 2N)⁻¹ = (I − Y)⁻¹ with Y = −2N = x: ∏ (I + Y^{2^j}).
  const eye = tf.eye(r);
  let inv: tf.Tensor = tf.add(eye, x);
  let power: tf.Tensor = x;
  for (let reach = 2; reach < r; reach *= 2) {
    power = tf.matMul(power, power);
    inv = tf.matMul(inv, tf.add(eye, power));
  }
  return tf.mul(2, inv) as tf.Tensor2D;
}

/**
 * The HRA-adapted kernel `H_r ⋯ H_1 · K` (`H_i = I − 2û_iû_iᵀ`), i.e. PEFT's merged weight
 * `W·H_1⋯H_r` in the TensorFlow.js layout; with `gramSchmidt`, `(I − 2ÛÛᵀ)·K`. `kernel` is a Dense
 * `[d, fanOut]` or conv `[kh, kw, in, out]` kernel (flattened to `d = kh·kw·in` rows, returned in its
 * shape); `u` is `[d, r]`. Computed as `K − Û·Tᵀ·(ÛᵀK)` (compact WY form, {@link householderT}):
 * `O(d·fanOut·r)`, no `d × d` matrix, three products however large r is.
 * The result has the singular values of `K` (the product of reflections is orthogonal).
 */
export function hraKernel(kernel: tf.Tensor, u: tf.Tensor2D, options?: Pick<HraOptions, 'gramSchmidt'>): tf.Tensor {
  const fn = 'hraKernel';
  const { gramSchmidt } = resolve(fn, { gramSchmidt: hraSchema.gramSchmidt }, options);
  const [d, fanOut] = adapterKernelShape(fn, kernel.shape);
  const [, r] = checkVectors(fn, u, d);
  return tf.tidy(() => {
    const w = hraVectors(u, { gramSchmidt });
    const m = tf.reshape(kernel, [d, fanOut]);
    // Explicit transposes: matMul(…, transposeA) leaves XNNPACK on wasm (DESIGN.md).
    const wt = tf.transpose(w);
    // Gram–Schmidt: M = I − 2ŴŴᵀ; the chain: M = Qᵀ = I − Û·Tᵀ·Ûᵀ (compact WY form, see householderT).
    const inner = gramSchmidt ? tf.mul(2, tf.matMul(wt, m)) : tf.matMul(tf.transpose(householderT(w, r)), tf.matMul(wt, m));
    const out = tf.sub(m, tf.matMul(w, inner));
    return tf.reshape(out, kernel.shape);
  });
}

/**
 * HRA on activations: `x · H_r ⋯ H_1` for rows `x` (`[..., d]`), so `hraReflect(x, u) · K =
 * x · hraKernel(K, u)` — the spec's input-side form, `O(batch·d·r)`. Reflections are applied from
 * `H_r` down to `H_1` (`x ← x − 2(x·û_i)û_iᵀ`), computed as `x − (xÛ)·Tᵀ·Ûᵀ`; with `gramSchmidt`,
 * `x − 2(xÛ)Ûᵀ`.
 */
export function hraReflect(x: tf.Tensor, u: tf.Tensor2D, options?: Pick<HraOptions, 'gramSchmidt'>): tf.Tensor {
  const fn = 'hraReflect';
  const { gramSchmidt } = resolve(fn, { gramSchmidt: hraSchema.gramSchmidt }, options);
  const d = x.shape[x.rank - 1];
  const [, r] = checkVectors(fn, u, d);
  return tf.tidy(() => {
    const w = hraVectors(u, { gramSchmidt });
    const rows = tf.reshape(x, [-1, d]);
    const xw = tf.matMul(rows, w);
    const coeff = gramSchmidt ? tf.mul(2, xw) : tf.matMul(xw, tf.transpose(householderT(w, r)));
    const y = tf.sub(rows, tf.matMul(coeff, tf.transpose(w)));
    return tf.reshape(y, x.shape);
  });
}

/**
 * The HRA paper's orthogonality regularizer on the reflection planes, `‖I − ÛᵀÛ‖²_F` with `Û` the unit
 * columns of `u` (0 when the reflection vectors are mutually orthogonal; the paper's loss adds
 * `λ·` this, λ = 1e-4 in the authors' LLaMA script `llama/tune.sh` `--lamda`). Where the authors compute
 * it is **unconfirmed** (PEFT has no regularizer): this is the spec's reading (B7).
 */
export function hraOrthogonality(u: tf.Tensor2D): tf.Scalar {
  const fn = 'hraOrthogonality';
  const [, r] = checkVectors(fn, u, null);
  return tf.tidy(() => {
    const w = hraVectors(u);
    return tf.sum(tf.square(tf.sub(tf.eye(r), tf.matMul(tf.transpose(w), w))));
  });
}

/** How U is initialized: `'identity'` (PEFT `init_weights=True`, the adapter starts as the identity) or `'random'`. */
export type HraInit = 'identity' | 'random';

/**
 * Initial reflection vectors `U` (`[d, r]`, row-major `Float32Array`), seeded ({@link mulberry32}).
 * `'identity'` (PEFT `reset_hra_parameters`): `r/2` columns drawn Kaiming-uniform and each repeated
 * twice, adjacently (`repeat_interleave`), so `H_{2j−1}H_{2j} = I` and the adapted kernel starts equal to
 * the frozen one (up to float rounding of `ûᵀû = 1`); `r` must be even (PEFT warns and falls back to
 * random, this throws). `'random'`: all `r` columns drawn. PyTorch's `kaiming_uniform_(a=√5)` on a
 * `[d, c]` tensor takes `fan_in = c` (its dimension 1), so the bound is `1/√c` — the scale does not
 * matter, the columns are normalized.
 */
export function hraInitialVectors(d: number, rank: number, init: HraInit, seed: number): Float32Array {
  const fn = 'hraInitialVectors';
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`${fn}: d must be a positive integer, got ${d}`);
  if (!Number.isInteger(rank) || rank < 1 || rank > d) throw new RangeError(`${fn}: rank must be an integer in [1, ${d}] (d), got ${rank}`);
  const rand = mulberry32(seed);
  if (init === 'random') return uniformArray(d * rank, 1 / Math.sqrt(rank), rand);
  if (init !== 'identity') throw new RangeError(`${fn}: init must be one of 'identity', 'random', got ${JSON.stringify(init)}`);
  if (rank % 2 !== 0) {
    throw new RangeError(`${fn}: the identity init pairs equal reflections, so rank must be even, got ${rank} (use init 'random')`);
  }
  const half = rank / 2;
  const drawn = uniformArray(d * half, 1 / Math.sqrt(half), rand);
  const out = new Float32Array(d * rank);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < half; j++) {
      out[i * rank + 2 * j] = drawn[i * half + j];
      out[i * rank + 2 * j + 1] = drawn[i * half + j];
    }
  }
  return out;
}

/** Trainable parameters of HRA on a `d`-input kernel: `d·r` (the paper's count, PEFT's `hra_u`). */
export function hraParameterCount(d: number, rank: number): number {
  return d * rank;
}

// ---------------------------------------------------------------------------------------------------
// OFTv2

const oftSchema = {
  /** Block size b (PEFT `oft_block_size`, default 32 when `blocks` is not given); must divide d. */
  blockSize: nullableNumber({ min: 2, integer: true }),
  /** Number of blocks (PEFT's `r`); give this or `blockSize`, not both unless `blocks·blockSize = d`. */
  blocks: nullableNumber({ min: 1, integer: true }),
  /** Terms of the Neumann series (PEFT `num_cayley_neumann_terms`, default 5). */
  neumannTerms: integer(5, 1),
  /** One rotation block shared by all blocks (PEFT `block_share`, default false). */
  blockShare: boolean(false),
};
/** Options of the OFTv2 functions. */
export interface OftOptions extends OptionsOf<typeof oftSchema> {}
/** {@link OftOptions} with every default filled in (`blockSize`/`blocks` as given; see {@link oftBlocks}). */
export interface ResolvedOft extends ResolvedOf<typeof oftSchema> {}

/** Resolves and validates {@link OftOptions} (`RangeError` naming the option). */
export function resolveOft(options?: OftOptions, owner = 'oftv2'): ResolvedOft {
  return resolve(owner, oftSchema, options);
}

/** PEFT's `adjust_oft_parameters`: the divisor of `d` nearest `value` (the lower one on a tie). */
function nearestDivisor(d: number, value: number): number {
  if (value >= d) return d;
  let hi = value;
  while (hi <= d && d % hi !== 0) hi++;
  let lo = value;
  while (lo > 1 && d % lo !== 0) lo--;
  return value - lo <= hi - value ? lo : hi;
}

/**
 * The block layout for a `d`-input kernel: `blocks × blockSize = d`. Default block size 32 (PEFT). Where
 * PEFT silently adjusts a size that does not divide `d` (with a warning), this throws a `RangeError`
 * naming the nearest valid value.
 */
export function oftBlocks(d: number, options: Pick<ResolvedOft, 'blockSize' | 'blocks'>, owner = 'oftv2'): { blocks: number; blockSize: number } {
  const { blockSize, blocks } = options;
  if (blockSize !== null && blocks !== null) {
    if (blockSize * blocks !== d) {
      throw new RangeError(`${owner}: blocks ${blocks} × blockSize ${blockSize} = ${blocks * blockSize} must equal the input dimension ${d}`);
    }
    return { blocks, blockSize };
  }
  if (blocks !== null) {
    if (blocks > d || d % blocks !== 0) {
      throw new RangeError(`${owner}: blocks must divide the input dimension ${d}, got ${blocks} (nearest: ${nearestDivisor(d, blocks)})`);
    }
    if (d / blocks < 2) throw new RangeError(`${owner}: blocks ${blocks} leave blocks of size 1 for d = ${d} (no rotation); use at most ${Math.floor(d / 2)}`);
    return { blocks, blockSize: d / blocks };
  }
  const b = blockSize ?? 32;
  if (b > d || d % b !== 0) {
    const near = nearestDivisor(d, b);
    throw new RangeError(`${owner}: blockSize must divide the input dimension ${d}, got ${b} (nearest: ${near < 2 ? d : near})`);
  }
  return { blocks: d / b, blockSize: b };
}

/** Trainable parameters of OFTv2: `blocks·b(b−1)/2`, or `b(b−1)/2` with `blockShare` (the paper's count). */
export function oftParameterCount(d: number, options?: OftOptions): number {
  const r = resolveOft(options, 'oftParameterCount');
  const { blocks, blockSize } = oftBlocks(d, r, 'oftParameterCount');
  return (r.blockShare ? 1 : blocks) * ((blockSize * (blockSize - 1)) / 2);
}

/** Gather indices that unpack `[0, q_1…q_n, −q_1…−q_n]` into a `b × b` skew-symmetric matrix, row-major. */
function skewIndices(b: number): Int32Array {
  const n = (b * (b - 1)) / 2;
  const pos = new Int32Array(b * b);
  let k = 0;
  // torch.triu_indices(b, b, 1): row-major pairs (i, j), i < j.
  for (let i = 0; i < b; i++) {
    for (let j = i + 1; j < b; j++) {
      pos[i * b + j] = 1 + k;
      pos[j * b + i] = 1 + n + k;
      k++;
    }
  }
  return pos;
}

/**
 * Skew-symmetric blocks from their packed upper triangles: `packed` is `[blocks, b(b−1)/2]` in
 * `torch.triu_indices(b, b, 1)` order (row-major, above the diagonal), the result `[blocks, b, b]` with
 * `Q[i][j] = q`, `Q[j][i] = −q` (PEFT `_pytorch_skew_symmetric`). One gather, no scatter.
 */
export function skewSymmetric(packed: tf.Tensor2D, blockSize: number): tf.Tensor3D {
  const fn = 'skewSymmetric';
  if (!Number.isInteger(blockSize) || blockSize < 2) throw new RangeError(`${fn}: blockSize must be an integer ≥ 2, got ${blockSize}`);
  const n = (blockSize * (blockSize - 1)) / 2;
  if (packed.rank !== 2 || packed.shape[1] !== n) {
    throw new RangeError(`${fn}: packed must be [blocks, ${n}] (b(b−1)/2 for b = ${blockSize}), got shape [${packed.shape.join(', ')}]`);
  }
  const blocks = packed.shape[0];
  return tf.tidy(() => {
    const ext = tf.concat([tf.zeros([blocks, 1]), packed, tf.neg(packed)], 1);
    const idx = tf.tensor1d(skewIndices(blockSize), 'int32');
    return tf.reshape(tf.gather(ext, idx, 1), [blocks, blockSize, blockSize]) as tf.Tensor3D;
  });
}

/**
 * The Cayley–Neumann rotation of skew-symmetric blocks `q` (`[blocks, b, b]`), PEFT's `_cayley_batch`
 * with `use_cayley_neumann=True`: `R = I`, then `+2Q` (t > 1), `+2Q²` (t > 2), `+2Q^j` for
 * `j = 3 … t−2`, and `+Q^{t−1}` (t > 2); for t = 5, `I + 2Q + 2Q² + 2Q³ + Q⁴ = (I + Q)(I + Q + Q² + Q³)`,
 * the Cayley transform `(I + Q)(I − Q)⁻¹` with the inverse's Neumann series truncated. PEFT's quirks
 * are kept: t = 3 gives the same matrix as t = 4, t = 2 gives `I + 2Q`, t = 1 the identity.
 * `q = 0` gives `R = I` exactly. `‖RᵀR − I‖₂ ≈ 2‖Q‖⁴` for t = 5 (the spec's numpy check).
 */
export function cayleyNeumann(q: tf.Tensor3D, terms = 5): tf.Tensor3D {
  const fn = 'cayleyNeumann';
  if (!Number.isInteger(terms) || terms < 1) throw new RangeError(`${fn}: terms must be an integer ≥ 1, got ${terms}`);
  if (q.rank !== 3 || q.shape[1] !== q.shape[2]) throw new RangeError(`${fn}: q must be [blocks, b, b], got shape [${q.shape.join(', ')}]`);
  const b = q.shape[1];
  return tf.tidy(() => {
    let r: tf.Tensor = tf.eye(b, b, [q.shape[0]]);
    if (terms > 1) {
      r = tf.add(r, tf.mul(2, q));
      if (terms > 2) {
        let power: tf.Tensor = tf.matMul(q, q);
        r = tf.add(r, tf.mul(2, power));
        for (let j = 3; j < terms - 1; j++) {
          power = tf.matMul(power, q);
          r = tf.add(r, tf.mul(2, power));
        }
        power = tf.matMul(power, q);
        r = tf.add(r, power);
      }
    }
    return r as tf.Tensor3D;
  });
}

function oftLayout(fn: string, d: number, packed: tf.Tensor2D, options: OftOptions | undefined): { r: ResolvedOft; blocks: number; blockSize: number } {
  const r = resolveOft(options, fn);
  const { blocks, blockSize } = oftBlocks(d, r, fn);
  const n = (blockSize * (blockSize - 1)) / 2;
  const rows = r.blockShare ? 1 : blocks;
  if (packed.rank !== 2 || packed.shape[0] !== rows || packed.shape[1] !== n) {
    throw new RangeError(
      `${fn}: the packed skew parameters must be [${rows}, ${n}] (${r.blockShare ? 'one shared block' : `${blocks} blocks`} of b = ${blockSize}), got shape [${packed.shape.join(', ')}]`,
    );
  }
  return { r, blocks, blockSize };
}

/**
 * The rotation blocks `R_k` (`[blocks, b, b]`, or `[1, b, b]` with `blockShare`) of packed skew
 * parameters: {@link cayleyNeumann} of {@link skewSymmetric}.
 */
export function oftRotation(packed: tf.Tensor2D, blockSize: number, neumannTerms = 5): tf.Tensor3D {
  return tf.tidy(() => cayleyNeumann(skewSymmetric(packed, blockSize), neumannTerms));
}

/**
 * The OFTv2-adapted kernel `diag(R_1, …, R_k) · K` (PEFT's merge `R·Wᵀ` in the TensorFlow.js layout):
 * block `k` of `b` consecutive input rows of `K` is multiplied by `R_k`. `kernel` is `[d, fanOut]` or a
 * conv kernel (flattened to `d = kh·kw·in`), `packed` `[blocks, b(b−1)/2]` (`[1, …]` with
 * `blockShare`). The `d × d` matrix is never formed: `O(d·b·fanOut)`.
 */
export function oftKernel(kernel: tf.Tensor, packed: tf.Tensor2D, options?: OftOptions): tf.Tensor {
  const fn = 'oftKernel';
  const [d, fanOut] = adapterKernelShape(fn, kernel.shape);
  const { r, blocks, blockSize } = oftLayout(fn, d, packed, options);
  return tf.tidy(() => {
    const rot = oftRotation(packed, blockSize, r.neumannTerms);
    let out: tf.Tensor;
    if (r.blockShare) {
      // [blocks, b, out] → [b, blocks·out]: one 2-D product with the shared block.
      const kb = tf.reshape(tf.transpose(tf.reshape(kernel, [blocks, blockSize, fanOut]), [1, 0, 2]), [blockSize, blocks * fanOut]);
      const rk = tf.matMul(tf.reshape(rot, [blockSize, blockSize]), kb);
      out = tf.transpose(tf.reshape(rk, [blockSize, blocks, fanOut]), [1, 0, 2]);
    } else {
      out = tf.matMul(rot, tf.reshape(kernel, [blocks, blockSize, fanOut]));
    }
    return tf.reshape(out, kernel.shape);
  });
}

/**
 * OFTv2 on activations (PEFT's input-centric forward): `x · diag(R_1, …, R_k)` for rows `x`
 * (`[..., d]`), each slice of `b` features times its block — `oftRotate(x, q) · K = x · oftKernel(K, q)`.
 */
export function oftRotate(x: tf.Tensor, packed: tf.Tensor2D, options?: OftOptions): tf.Tensor {
  const fn = 'oftRotate';
  const d = x.shape[x.rank - 1];
  const { r, blocks, blockSize } = oftLayout(fn, d, packed, options);
  return tf.tidy(() => {
    const rot = oftRotation(packed, blockSize, r.neumannTerms);
    if (r.blockShare) {
      const rows = tf.reshape(x, [-1, blockSize]);
      return tf.reshape(tf.matMul(rows, tf.reshape(rot, [blockSize, blockSize])), x.shape);
    }
    const xb = tf.transpose(tf.reshape(x, [-1, blocks, blockSize]), [1, 0, 2]);
    return tf.reshape(tf.transpose(tf.matMul(xb, rot), [1, 0, 2]), x.shape);
  });
}

/** How the skew parameters start: `'zeros'` (PEFT `init_weights=True`: R = I exactly) or `'random'` (normal, std 0.1, PEFT's `init_weights=False`). */
export type OftInit = 'zeros' | 'random';

/**
 * Initial packed skew parameters (`[rows, b(b−1)/2]` row-major, `rows` = blocks, or 1 with
 * `blockShare`): zeros, or seeded normal draws with std 0.1.
 */
export function oftInitialParameters(rows: number, blockSize: number, init: OftInit, seed: number): Float32Array {
  const fn = 'oftInitialParameters';
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${fn}: rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(blockSize) || blockSize < 2) throw new RangeError(`${fn}: blockSize must be an integer ≥ 2, got ${blockSize}`);
  const count = (rows * blockSize * (blockSize - 1)) / 2;
  if (init === 'zeros') return new Float32Array(count);
  if (init !== 'random') throw new RangeError(`${fn}: init must be one of 'zeros', 'random', got ${JSON.stringify(init)}`);
  return gaussianArray(count, 0.1, mulberry32(seed));
}
