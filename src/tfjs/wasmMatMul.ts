/**
 * Matrix-product kernels for the tfjs wasm backend that keep every product on XNNPACK.
 *
 * tfjs-backend-wasm 4.22 runs `BatchMatMul` and `_FusedMatMul` on XNNPACK only for a single product
 * without transpose flags; with `transposeA`/`transposeB`, or with a batch of more than one product, it
 * falls into a naive loop (≈2 GFLOP/s against ≈28). Measured here (2-core EPYC, 784-512-512-10 MLP at
 * batch 128): `dy·Wᵀ` with the flag 7–11×, `xᵀ·dy` 12–25× the time of an explicit transpose and a plain
 * product. tfjs-core's gradients of both kernels use exactly these flags, so every backward pass of a
 * Dense layer (and of attention's batched products) on wasm runs in the slow loop.
 *
 * The replacements, registered by {@link registerWasmMatMulKernels} (or {@link accelerateWasm}):
 * - transpose flags become wasm's own `Transpose` kernel (one memory pass) before the product;
 * - a batch of products whose right operand is shared (one matrix, broadcast) becomes one product of
 *   the stacked rows `[batch·m, k]·[k, n]`;
 * - any other batch of products that are not tiny runs as a loop of single XNNPACK products, each operand copied out of the batch
 *   with one `Float32Array.set` inside the wasm heap (wasm's `Slice` kernel would copy the whole input
 *   into JavaScript per slice). A fresh tensor per operand matters: XNNPACK caches its packed weights
 *   per tensor id, so a reused buffer with new contents would be multiplied by the old ones.
 * - then the original kernel (kept by reference) does the product without flags.
 * Broadcasts other than "equal batches or one side single" (e.g. `[2,1]` against `[1,3]`), and
 * non-float32 inputs, go to the original kernel unchanged (after explicit transposes).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { scoped, type KernelScope } from './kernelScope.js';
import { registerWasmConvKernels, type WasmConvKernelName } from './wasmConv.js';
import { registerWasmSegmentSum } from './wasmSegmentSum.js';
import { registerTileGradient, restoreTileGradient } from './tileGradient.js';
import { gatherV2Kernel, maxPoolGradKernel } from './wasmGatherPool.js';

type TensorInfo = tf.TensorInfo;

/** The kernels this module replaces. */
export const wasmMatMulKernelNames = ['BatchMatMul', '_FusedMatMul'] as const;

export type WasmMatMulKernelName = (typeof wasmMatMulKernelNames)[number];

/** The parts of tfjs-backend-wasm's `BackendWasm` the batch loop uses (public methods of that class). */
interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

function hasHeap(backend: tf.KernelBackend): backend is WasmHeapBackend {
  const b = backend as Partial<WasmHeapBackend>;
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function';
}

/** Product of the dimensions (1 for none). */
function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * `x` (rank ≥ 2, batch dims flattened) as `[batch, rows, cols]` with its last two axes swapped when
 * `transpose` is set: the operand as a plain product wants it.
 */
function untransposed(s: KernelScope, x: TensorInfo, transpose: boolean): TensorInfo {
  const r = x.shape.length;
  const x3 = s.reshape(x, [size(x.shape.slice(0, -2)), x.shape[r - 2], x.shape[r - 1]]);
  return transpose ? s.transpose(x3, [0, 2, 1]) : x3;
}

/** A new `[1, rows, cols]` tensor holding product `i` of the `[batch, rows, cols]` tensor `x`. */
function batchItem(s: KernelScope, backend: WasmHeapBackend, x: TensorInfo, i: number): TensorInfo {
  const [, rows, cols] = x.shape;
  const n = rows * cols;
  const item = s.adopt(backend.makeOutput([1, rows, cols], 'float32'));
  // Both views are taken after the allocation: a growing wasm memory detaches older ones.
  backend.typedArrayFromHeap(item).set(backend.typedArrayFromHeap(x).subarray(i * n, (i + 1) * n));
  return item;
}

/**
 * Below this many multiply-adds per product (`m·k·n`), a batch stays in wasm's own loop: an XNNPACK call
 * costs ≈5 µs of setup per product, the naive loop ≈1 ns per multiply-add. Measured here: 1024 products
 * of 4×4·4×4 took 0.14 ms batched, 5.3 ms looped; 256 of 8×8·8×8 0.2 ms against 1.2 ms; 64 of
 * 64×16·16×64 5.1 against 2.1 ms; 64 of 128×32·32×128 34 against 6 ms.
 */
const loopMinWork = 8192;

/**
 * `a·b` for `a` `[batchA, m, k]` and `b` `[batchB, k, n]` (no flags; batches equal or one of them 1) as
 * XNNPACK products: one product when `b` is a single matrix, else one per batch item.
 * `product(a, b)` runs the original kernel on one pair of rank-3 operands.
 */
function batchedProduct(
  s: KernelScope,
  a: TensorInfo,
  b: TensorInfo,
  product: (a: TensorInfo, b: TensorInfo) => TensorInfo,
): TensorInfo {
  const [batchA, m, k] = a.shape;
  const [batchB, , n] = b.shape;
  if (batchB === 1) return s.reshape(product(s.reshape(a, [1, batchA * m, k]), b), [batchA, m, n]);
  const backend = s.backend;
  if (!hasHeap(backend) || m * k * n < loopMinWork) return product(a, b);
  const batch = Math.max(batchA, batchB);
  const out = s.adopt(backend.makeOutput([batch, m, n], 'float32'));
  const single = batchA === 1 ? s.reshape(a, [1, m, k]) : null;
  for (let i = 0; i < batch; i++) {
    const ai = single ?? batchItem(s, backend, a, i);
    const bi = batchItem(s, backend, b, i);
    const ci = product(ai, bi);
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(ci), i * m * n);
    s.free(ci);
    s.free(bi);
    if (single === null) s.free(ai);
  }
  return out;
}

/** Batch sizes of `a` and `b` (leading dims flattened); whether the fast paths handle their broadcast. */
function batches(a: TensorInfo, b: TensorInfo): { batchA: number; batchB: number; simple: boolean } {
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  return { batchA, batchB, simple: batchA === batchB || batchA === 1 || batchB === 1 };
}

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** `BatchMatMul` with explicit transposes and XNNPACK products; `original` is wasm's own kernel. */
function batchMatMul(args: KernelArgs, backendName: string, original: tf.KernelFunc): TensorInfo {
  const { a, b } = args.inputs;
  const attrs = (args.attrs ?? {}) as MatMulAttrs;
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
    return original(args) as TensorInfo;
  }
  const { simple } = batches(a, b);
  return scoped(args.backend as tf.KernelBackend, backendName, 'BatchMatMul', (s) => {
    const plain = { transposeA: false, transposeB: false };
    const a3 = untransposed(s, a, transposeA);
    const b3 = untransposed(s, b, transposeB);
    const outShape = [
      ...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)),
      a3.shape[1],
      b3.shape[2],
    ];
    if (!simple) {
      // Leading dims that broadcast against each other: the original kernel, without flags.
      const ra = s.reshape(a3, [...a.shape.slice(0, -2), a3.shape[1], a3.shape[2]]);
      const rb = s.reshape(b3, [...b.shape.slice(0, -2), b3.shape[1], b3.shape[2]]);
      return s.reshape(s.call(original, { a: ra, b: rb }, plain), outShape);
    }
    const product = (x: TensorInfo, y: TensorInfo) => s.call(original, { a: x, b: y }, plain);
    return s.reshape(batchedProduct(s, a3, b3, product), outShape);
  });
}

interface FusedMatMulAttrs extends MatMulAttrs {
  activation?: string;
  leakyreluAlpha?: number;
}

/**
 * `_FusedMatMul` (product, bias, activation) with explicit transposes. tfjs-core passes rank-3
 * operands; a batch runs as the products of {@link batchedProduct}, each fused, when the bias and PReLU
 * weights broadcast along the last axis only (size 1 or `n`); otherwise as one call of the original.
 */
function fusedMatMul(args: KernelArgs, backendName: string, original: tf.KernelFunc): TensorInfo {
  const { a, b, bias, preluActivationWeights: prelu } = args.inputs;
  const attrs = (args.attrs ?? {}) as FusedMatMulAttrs;
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== 3 || b.shape.length !== 3) {
    return original(args) as TensorInfo;
  }
  if (!transposeA && !transposeB && a.shape[0] === 1 && b.shape[0] === 1) return original(args) as TensorInfo;
  return scoped(args.backend as tf.KernelBackend, backendName, '_FusedMatMul', (s) => {
    const a3 = untransposed(s, a, transposeA);
    const b3 = untransposed(s, b, transposeB);
    const n = b3.shape[2];
    const fusedAttrs = { ...attrs, transposeA: false, transposeB: false };
    const extras: tf.NamedTensorInfoMap = {};
    if (bias !== undefined) extras.bias = bias;
    if (prelu !== undefined) extras.preluActivationWeights = prelu;
    const lastAxisOnly = (t: TensorInfo | undefined) => t === undefined || size(t.shape) === 1 || size(t.shape) === n;
    if (batches(a3, b3).simple && lastAxisOnly(bias) && lastAxisOnly(prelu)) {
      // Bias and activation act on each row alike, so each product (or the stacked rows) is fused alone.
      return batchedProduct(s, a3, b3, (x, y) => s.call(original, { a: x, b: y, ...extras }, fusedAttrs));
    }
    return s.call(original, { a: a3, b: b3, ...extras }, fusedAttrs);
  });
}

/**
 * `Tile` as one broadcasting `Add` of `x` and zeros: wasm's own Tile computes every output index on its
 * own (measured 2.7 ms to tile `[1,1,64]` to `[16,64,64]`, against 0.19 ms for the broadcast add).
 * Output axis `i` of `tile(x, reps)` is `[reps_i, s_i]` flattened (rep-major), so `x` reshaped with a 1
 * before each size, plus zeros of shape `reps` with a 1 after each, broadcast to exactly the tiled
 * layout; `x + 0` is `x` (a −0 becomes +0). Axes of size 1 are dropped and neighbours of one kind merged,
 * so the broadcast stays within XNNPACK's 6 dimensions; other cases, and dtypes other than float32 and
 * int32, go to the original kernel.
 */
function tileKernelImpl(args: KernelArgs, backendName: string, original: tf.KernelFunc): TensorInfo {
  const x = args.inputs.x;
  const reps = (args.attrs as { reps?: number[] } | undefined)?.reps;
  if (x === undefined || reps === undefined || reps.length !== x.shape.length || (x.dtype !== 'float32' && x.dtype !== 'int32') || reps.every((r) => r === 1)) {
    return original(args) as TensorInfo;
  }
  // Interleaved broadcast shapes: [reps_i from the zeros, s_i from x], size-1 axes dropped, runs merged.
  const xs: number[] = [];
  const zs: number[] = [];
  const push = (xd: number, zd: number) => {
    const last = xs.length - 1;
    if (last >= 0 && ((xd === 1 && xs[last] === 1) || (zd === 1 && zs[last] === 1))) {
      xs[last] *= xd;
      zs[last] *= zd;
    } else {
      xs.push(xd);
      zs.push(zd);
    }
  };
  x.shape.forEach((d, i) => {
    if (reps[i] !== 1) push(1, reps[i]);
    if (d !== 1) push(d, 1);
  });
  const outShape = x.shape.map((d, i) => d * reps[i]);
  if (xs.length > 6 || size(outShape) === 0) return original(args) as TensorInfo;
  return scoped(args.backend as tf.KernelBackend, backendName, 'Tile', (s) => {
    const zeros = s.constant(x.dtype === 'int32' ? new Int32Array(size(zs)) : new Float32Array(size(zs)), zs);
    return s.reshape(s.run('Add', { a: s.reshape(x, xs), b: zeros }), outShape);
  });
}

/**
 * `Sum` over one block of axes followed by kept ones, as one XNNPACK average pool times the row count:
 * wasm's own Sum transposes the reduced axes innermost and then loops (measured here 2.3–4.4 ms for a
 * conv bias gradient, `[64,32,32,16]` summed to `[16]`; ×20–50 a memory pass in the ConvNet's profile),
 * the pool (`x` as `[A, R, 1, B]` with an `R × 1` window: A the kept axes before, R the reduced ones, B
 * the kept ones after) reads `x` once: 0.2–0.5 ms. (A product `ones[1,R]·x` is slower than both: XNNPACK
 * packs its right operand, here `x` itself, on every call.) Axes of size 1 are ignored. Covers the conv
 * and Dense bias gradients, the Tile gradient's sums and LayerNormalization's middle-axis sums. A sum
 * over the innermost axes once size-1 axes are dropped (e.g. `[16,64,64,1]` over axis 2, which wasm
 * would transpose first) runs wasm's own loop on `[A, R]` (fast there: 1.2–1.5× a memory pass); all
 * axes, none, or several separate blocks go to the original kernel, as does any dtype but float32. Equal to the sum within float32 rounding:
 * the pool sums in float32 and scales by `1/R`, the product by `R` adds at most a rounding or two.
 */
function sumKernelImpl(args: KernelArgs, backendName: string, original: tf.KernelFunc): TensorInfo {
  const x = args.inputs.x;
  const attrs = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
  if (x === undefined || x.dtype !== 'float32' || x.shape.length === 0) return original(args) as TensorInfo;
  const axes = tf.util.parseAxisParam(attrs.axis ?? [], x.shape);
  const reduced = new Set(axes);
  // Axes of size > 1 as kept-before (A), reduced (R), kept-after (B): one contiguous reduced block only.
  let before = 1;
  let rows = 1;
  let after = 1;
  for (const [i, d] of x.shape.entries()) {
    if (d === 1) continue;
    if (reduced.has(i)) {
      if (after > 1) return original(args) as TensorInfo;
      rows *= d;
    } else if (rows === 1) {
      before *= d;
    } else {
      after *= d;
    }
  }
  if (rows === 1 || rows * after * before === 0 || (after === 1 && axes.length === 1 && axes[0] === x.shape.length - 1)) return original(args) as TensorInfo;
  const outShape = attrs.keepDims === true ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d)) : x.shape.filter((_, i) => !reduced.has(i));
  if (after === 1) {
    // Innermost once size-1 axes are dropped: wasm's own loop without its transpose.
    return scoped(args.backend as tf.KernelBackend, backendName, 'Sum', (s) =>
      s.reshape(s.call(original, { x: s.reshape(x, [before, rows]) }, { axis: [1], keepDims: false }), outShape),
    );
  }
  return scoped(args.backend as tf.KernelBackend, backendName, 'Sum', (s) => {
    const mean = s.run('AvgPool', { x: s.reshape(x, [before, rows, 1, after]) }, { filterSize: [rows, 1], strides: [rows, 1], pad: 'valid' });
    return s.reshape(s.run('Multiply', { a: mean, b: s.constant(Float32Array.of(rows), []) }), outShape);
  });
}

/**
 * `FusedBatchNorm` as `offset + (x − mean)·scale / √(variance + ε)` in whole-tensor kernels (Sub, Mul,
 * Add, Sqrt, RealDiv), the cpu backend's formula in its order: wasm's own reads each parameter at a
 * modulo index per element (measured ×11 a memory pass for tfjs-layers' LayerNormalization, whose
 * parameters have x's full shape). Each parameter must be x's size (read in x's order) or x's last
 * dimension (broadcast along it) — the cases where the modulo indexing of the cpu and wasm kernels is a
 * broadcast; others, and non-float32 inputs, go to the original kernel.
 */
function fusedBatchNormImpl(args: KernelArgs, backendName: string, original: tf.KernelFunc): TensorInfo {
  const { x, mean, variance, offset, scale } = args.inputs;
  const epsilon = (args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon;
  if (x === undefined || mean === undefined || variance === undefined || typeof epsilon !== 'number' || x.shape.length === 0) return original(args) as TensorInfo;
  const n = size(x.shape);
  const last = x.shape[x.shape.length - 1];
  const params = [mean, variance, offset, scale].filter((t): t is TensorInfo => t !== undefined);
  if (n === 0 || x.dtype !== 'float32' || params.some((t) => t.dtype !== 'float32' || (size(t.shape) !== n && size(t.shape) !== last))) {
    return original(args) as TensorInfo;
  }
  return scoped(args.backend as tf.KernelBackend, backendName, 'FusedBatchNorm', (s) => {
    const shaped = (t: TensorInfo) => s.reshape(t, size(t.shape) === n ? x.shape : [last]);
    let y = s.run('Sub', { a: x, b: shaped(mean) });
    if (scale !== undefined) y = s.run('Multiply', { a: y, b: shaped(scale) });
    const std = s.run('Sqrt', { x: s.run('Add', { a: shaped(variance), b: s.constant(Float32Array.of(epsilon), []) }) });
    y = s.run('RealDiv', { a: y, b: std });
    return offset === undefined ? y : s.run('Add', { a: y, b: shaped(offset) });
  });
}

type Impl = (args: KernelArgs, backendName: string, original: tf.KernelFunc) => TensorInfo;

const implementations: Record<WasmMatMulKernelName, Impl> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
};

/** Kernel functions registered by this module → the configs they replaced. */
const replaced = new WeakMap<object, tf.KernelConfig>();

/** Options of {@link registerWasmMatMulKernels} and {@link accelerateWasm}. */
export interface WasmKernelOptions {
  /** The backend to register for (default `'wasm'`). */
  backendName?: string;
}

function ensureKernel(caller: string, name: string, backendName: string): tf.KernelConfig {
  const existing = tf.getKernel(name, backendName);
  if (existing === undefined) {
    throw new Error(
      `${caller}: the ${backendName} backend has no ${name} kernel to build on; import '@tensorflow/tfjs-backend-wasm' first`,
    );
  }
  return existing;
}

/**
 * Registers `impl` in place of the kernel `existing` (keeping its setup/dispose hooks and, for
 * {@link restoreWasmKernels}, the config itself); false when `existing` is already one of ours.
 */
function replaceKernel(existing: tf.KernelConfig, impl: Impl, backendName: string): boolean {
  if (replaced.has(existing.kernelFunc)) return false;
  const original = existing.kernelFunc;
  const config: tf.KernelConfig = {
    kernelName: existing.kernelName,
    backendName,
    kernelFunc: (args) => impl(args, backendName, original),
  };
  if (existing.setupFunc !== undefined) config.setupFunc = existing.setupFunc;
  if (existing.disposeFunc !== undefined) config.disposeFunc = existing.disposeFunc;
  replaced.set(config.kernelFunc, existing);
  tf.unregisterKernel(existing.kernelName, backendName);
  tf.registerKernel(config);
  return true;
}

/**
 * Replaces the wasm backend's `BatchMatMul` and `_FusedMatMul` (see the module comment) and returns
 * the names it registered. Each replacement keeps the original kernel's function (it runs the products)
 * and its setup/dispose hooks. Idempotent: a kernel already replaced is left alone, so a second call
 * returns `[]`; {@link restoreWasmKernels} puts the originals back. Numbers equal the original kernels'
 * within float32 rounding (the same XNNPACK products, summed in another order than the naive loop).
 */
export function registerWasmMatMulKernels(options: WasmKernelOptions = {}): WasmMatMulKernelName[] {
  const backendName = options.backendName ?? 'wasm';
  // Every kernel is looked up before any is replaced: a missing one registers nothing.
  const found = wasmMatMulKernelNames.map((name) => ensureKernel('registerWasmMatMulKernels', name, backendName));
  const registered: WasmMatMulKernelName[] = [];
  for (const [i, name] of wasmMatMulKernelNames.entries()) {
    if (replaceKernel(found[i], implementations[name], backendName)) registered.push(name);
  }
  return registered;
}

/** How {@link accelerateWasm} names the `Tile` gradient it registers. */
export const tileGradientName = 'Tile (gradient)';

/**
 * Kernels of wasm's own that {@link accelerateWasm} replaces, each when the backend has it (issue 16's
 * per-kernel audit of model.fit): `GatherV2` and `MaxPoolGrad` by heap copies (`wasmGatherPool.ts`),
 * `Sum` over leading or middle axes by one average pool, `FusedBatchNorm` by whole-tensor kernels.
 */
const heapReplacements: Readonly<Record<string, Impl>> = {
  GatherV2: gatherV2Kernel,
  MaxPoolGrad: maxPoolGradKernel,
  Sum: sumKernelImpl,
  FusedBatchNorm: fusedBatchNormImpl,
};

/** Conv kernels {@link accelerateWasm} replaces (beyond adding those wasm lacks). */
const convReplacements: readonly WasmConvKernelName[] = ['Conv2DBackpropInput'];

/** The wasm configs of {@link convReplacements} before {@link accelerateWasm} replaced them, by backend. */
const convOriginals = new Map<string, Map<string, tf.KernelConfig>>();

/**
 * Every training-speed fix for the tfjs wasm backend in one call: the matrix products of
 * {@link registerWasmMatMulKernels} (Dense layers' backward passes, batched attention products) and
 * the convolution backprops of `registerWasmConvKernels` — the three wasm lacks, and its
 * `Conv2DBackpropInput` (a direct loop, 7–10× slower on the CIFAR ConvNet's layers) replaced — and
 * wasm's `Tile` (a per-element index loop) as a broadcasting add, its `GatherV2` and `MaxPoolGrad`
 * (per-element C++ loops, 100–400× a memory pass; tfjs-layers gathers every batch of `model.fit`) as
 * heap copies (`wasmGatherPool.ts`), its `Sum` over leading or middle axes (bias gradients) as one average pool,
 * its `FusedBatchNorm` (LayerNormalization) as whole-tensor kernels,
 * `UnsortedSegmentSum`, the gradient
 * of `gather`, which wasm lacks (an `Embedding` layer cannot train
 * there without it; see `wasmSegmentSum.ts`) — and `tf.tile`'s gradient, a loop of a slice and an add
 * per repetition in tfjs-core, as one sum (`tileGradient.ts`; reported as `'Tile (gradient)'`; the
 * gradient registry is global, so this one applies on every backend): tfjs-layers' LayerNormalization
 * sends its gain and bias gradients through it. Call it
 * once after importing `@tensorflow/tfjs-backend-wasm`, before or after `tf.setBackend('wasm')`.
 * Idempotent; returns the kernel names it registered (`[]` the second time).
 *
 * @example
 * import '@tensorflow/tfjs-backend-wasm';
 * import { accelerateWasm } from 'orthoptim/node';
 * accelerateWasm();
 * await tf.setBackend('wasm');
 * await model.fit(xs, ys); // backward passes on XNNPACK
 */
export function accelerateWasm(options: WasmKernelOptions = {}): string[] {
  const backendName = options.backendName ?? 'wasm';
  for (const name of wasmMatMulKernelNames) ensureKernel('accelerateWasm', name, backendName);
  const stockTile = ensureKernel('accelerateWasm', 'Tile', backendName);
  const matMul = registerWasmMatMulKernels({ backendName });
  const tileKernel = replaceKernel(stockTile, tileKernelImpl, backendName) ? ['Tile'] : [];
  const heap: string[] = [];
  for (const [name, impl] of Object.entries(heapReplacements)) {
    const existing = tf.getKernel(name, backendName);
    if (existing !== undefined && replaceKernel(existing, impl, backendName)) heap.push(name);
  }
  const saved = convOriginals.get(backendName) ?? new Map<string, tf.KernelConfig>();
  for (const name of convReplacements) {
    const existing = tf.getKernel(name, backendName);
    if (existing !== undefined && !saved.has(name)) saved.set(name, existing);
  }
  const conv = registerWasmConvKernels({ backendName, replace: convReplacements });
  // Keep only originals that were really replaced now or earlier (not ones registerWasmConvKernels kept).
  for (const name of convReplacements) {
    if (saved.get(name) === tf.getKernel(name, backendName)) saved.delete(name);
  }
  convOriginals.set(backendName, saved);
  const segmentSum = registerWasmSegmentSum(backendName) ? ['UnsortedSegmentSum'] : [];
  const tile = registerTileGradient() ? [tileGradientName] : [];
  return [...matMul, ...tileKernel, ...heap, ...conv, ...segmentSum, ...tile];
}

/**
 * Puts back the kernels that {@link registerWasmMatMulKernels} and {@link accelerateWasm} replaced
 * (wasm's own `BatchMatMul`, `_FusedMatMul`, `Tile`, `GatherV2`, `MaxPoolGrad`, `Sum`, `FusedBatchNorm`, `Conv2DBackpropInput`,
 * tfjs-core's `Tile` gradient) and
 * returns their names. The
 * kernels wasm lacks (conv backprops, `UnsortedSegmentSum`) stay registered: without them conv nets and
 * embeddings cannot train there at all. For
 * benchmarks comparing stock and accelerated kernels in one process.
 */
export function restoreWasmKernels(options: WasmKernelOptions = {}): string[] {
  const backendName = options.backendName ?? 'wasm';
  const restored: string[] = [];
  const put = (name: string, original: tf.KernelConfig) => {
    tf.unregisterKernel(name, backendName);
    tf.registerKernel(original);
    restored.push(name);
  };
  for (const name of [...wasmMatMulKernelNames, 'Tile', ...Object.keys(heapReplacements)]) {
    const current = tf.getKernel(name, backendName);
    const original = current === undefined ? undefined : replaced.get(current.kernelFunc);
    if (original !== undefined) put(name, original);
  }
  const saved = convOriginals.get(backendName);
  if (saved !== undefined) {
    for (const [name, original] of saved) put(name, original);
    saved.clear();
  }
  if (restoreTileGradient()) restored.push(tileGradientName);
  return restored;
}
