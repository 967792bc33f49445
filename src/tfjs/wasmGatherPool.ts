/**
 * `GatherV2` and `MaxPoolGrad` for the tfjs wasm backend as plain copies on the wasm heap.
 *
 * Both of tfjs-backend-wasm 4.22's kernels compute every output element on its own in C++: measured here
 * (2-core EPYC) its `GatherV2` took 8.9 ms to gather 64 rows of a `[128,32,32,3]` batch (what
 * tfjs-layers' `model.fit` does for every batch of a CIFAR-shaped input) and 2.8 ms for an `Embedding`'s
 * 1024 rows of `[65,64]` — 100–400× the time of `x + 1` over the same bytes; its `MaxPoolGrad` took
 * 22–46 ms for a `[64,32,32,16]` 2×2 pool (the forward pool: 0.9 ms). In a step of the CIFAR ConvNet
 * they were 17% and 4.5% of the time (issue 16's per-kernel profile, `npm run bench:fit`).
 *
 * The replacements, registered by `accelerateWasm` (wasmMatMul.ts), keep the original kernel for the
 * cases they do not handle:
 * - `GatherV2` copies each gathered slice (the contiguous run of `sliceSize` elements behind one index)
 *   with one `TypedArray.set` — or an element loop for short runs — from the input's heap view into the
 *   output's. Same checks and error message as wasm's own kernel (an index outside `[0, dim)` throws),
 *   same output (`collectGatherOpShapeInfo`'s layout, `batchDims` included). float32, int32, bool.
 * - `MaxPoolGrad` follows tfjs-backend-cpu's definition exactly: each pooling window sends its output
 *   gradient to the first input position (row-major scan of the window clipped to the input) holding a
 *   value strictly greater than every earlier one, starting from −∞ — so a window of NaN or −∞ only sends
 *   nothing, and ties go to the first. One pass over the windows (per channel: a scalar running maximum), adding
 *   into a zeroed `dx` (overlapping windows add in window order: the cpu backend adds in tap order, the
 *   same terms). float32 only. That JS loop is branch-bound (~9 ns per input element, ×62 a memory pass
 *   in the ConvNet: `npm run bench:fit`'s profile), so when the windows tile the input (strides = window, no
 *   padding, nothing left over: the ConvNet's 2×2/2 pools) and `x` and `dy` are finite (one column sum
 *   each), it runs as whole-tensor kernels instead (`tiledMaxPoolGrad`: a max pool, broadcast
 *   subtractions and products on XNNPACK, two `Step`s; first-maximum tie-break by a second max pool of
 *   tap codes), bit for bit the cpu backend's answer. (A transpose + `ArgMax` + `OneHot` composition
 *   was measured slower than the loop: wasm's ArgMax and its inner-axis broadcast product are
 *   per-element C++, 5–6 ms each on `[64,32,32,16]`; so are its Equal, Cast, Select and Maximum.)
 *
 * Reference: tfjs-backend-cpu 4.22 `kernels/MaxPoolGrad.ts`, `utils/pool_utils.ts` (`maxPoolPositions`)
 * and `kernels/GatherV2.ts` (the semantics); tfjs-backend-wasm 4.22 `kernels/GatherV2.ts` (its checks).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { KernelScope, scoped } from './kernelScope.js';

type TensorInfo = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];
type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The parts of tfjs-backend-wasm's `BackendWasm` used here (public methods of that class). */
interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): HeapArray;
}

function hasHeap(backend: tf.KernelBackend): backend is WasmHeapBackend {
  const b = backend as Partial<WasmHeapBackend>;
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function';
}

/** Below this many elements per slice an element loop beats `subarray` + `set` (two calls per slice). */
const minSetRun = 16;

/** `GatherV2` as slice copies on the heap; `original` (wasm's kernel) for other dtypes or backends. */
export function gatherV2Kernel(args: KernelArgs, _backendName: string, original: tf.KernelFunc): TensorInfo {
  const { x, indices } = args.inputs;
  const backend = args.backend as tf.KernelBackend;
  const attrs = (args.attrs ?? {}) as { axis?: number | number[]; batchDims?: number };
  if (
    x === undefined ||
    indices === undefined ||
    !hasHeap(backend) ||
    (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') ||
    indices.dtype !== 'int32'
  ) {
    return original(args) as TensorInfo;
  }
  const axis = tf.util.parseAxisParam(attrs.axis ?? 0, x.shape)[0];
  const ids = backend.readSync(indices.dataId) as Int32Array;
  const dim = x.shape[axis];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id <= dim - 1 && id >= 0)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
  }
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, axis, attrs.batchDims ?? 0);
  const out = backend.makeOutput(info.outputShape, x.dtype);
  if (tf.util.sizeFromShape(x.shape) === 0 || ids.length === 0) return out;
  // Views taken after the allocation: a growing wasm memory detaches older ones.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const { batchSize, outerSize, dimSize, sliceSize } = info;
  const perBatch = ids.length / batchSize;
  let at = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const base = (b * outerSize + o) * dimSize * sliceSize;
      for (let i = 0; i < perBatch; i++) {
        const from = base + ids[b * perBatch + i] * sliceSize;
        if (sliceSize >= minSetRun) {
          dst.set(src.subarray(from, from + sliceSize), at);
        } else {
          for (let j = 0; j < sliceSize; j++) dst[at + j] = src[from + j];
        }
        at += sliceSize;
      }
    }
  }
  return out;
}

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** `MaxPoolGrad` as one pass over the pooling windows (see the module comment). */
export function maxPoolGradKernel(args: KernelArgs, backendName: string, original: tf.KernelFunc): TensorInfo {
  const { dy, input } = args.inputs;
  const backend = args.backend as tf.KernelBackend;
  if (dy === undefined || input === undefined || !hasHeap(backend) || input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4) {
    return original(args) as TensorInfo;
  }
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (info.outShape.some((d, i) => d !== dy.shape[i])) {
    throw new RangeError(`MaxPoolGrad: dy of shape [${dy.shape.join(', ')}] does not match the pool's output shape [${info.outShape.join(', ')}]`);
  }
  if (tilesInput(info) && allFinite(backend, backendName, [input, dy])) return tiledMaxPoolGrad(backend, backendName, info, input, dy);
  return maxPoolGradLoop(backend, info, input, dy);
}

/**
 * Whether the windows tile the input exactly: strides equal to the window, no padding, no rows or
 * columns left over (a 'valid' or evenly dividing 'same' 2×2/2 pool, the ConvNet's), ≥ 2 taps.
 */
function tilesInput(info: tf.backend_util.Conv2DInfo): boolean {
  const { filterHeight: fh, filterWidth: fw, strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  return (
    fh * fw >= 2 &&
    strideHeight === fh &&
    strideWidth === fw &&
    dilationHeight === 1 &&
    dilationWidth === 1 &&
    padInfo.top === 0 &&
    padInfo.left === 0 &&
    padInfo.bottom === 0 &&
    padInfo.right === 0 &&
    info.inHeight === info.outHeight * fh &&
    info.inWidth === info.outWidth * fw &&
    info.batchSize * info.inHeight * info.inWidth * info.inChannels > 0
  );
}

/**
 * Whether every element of `tensors` is finite, from one column sum per tensor (`[rows, channels]` summed
 * over the rows: the accelerated `Sum`, one average pool, about a memory pass). A NaN or ±∞ makes its
 * column's sum non-finite; so does a sum that overflows, which only costs the fast path.
 */
function allFinite(backend: tf.KernelBackend, backendName: string, tensors: TensorInfo[]): boolean {
  const s = new KernelScope(backend, backendName, 'MaxPoolGrad');
  try {
    return tensors.every((t) => {
      const ch = t.shape[t.shape.length - 1];
      const sums = s.run('Sum', { x: s.reshape(t, [tf.util.sizeFromShape(t.shape) / ch, ch]) }, { axis: [0], keepDims: false });
      return (backend.readSync(sums.dataId) as Float32Array).every((v) => Number.isFinite(v));
    });
  } finally {
    s.abandon();
  }
}

/**
 * `MaxPoolGrad` for windows that tile a finite input (see {@link tilesInput}), in whole-tensor
 * XNNPACK / elementwise kernels instead of a per-element loop. With `x` viewed as `[N·Ho, ph, Wo, pw, C]`
 * and a pooled tensor as `[N·Ho, 1, Wo, 1, C]` (a broadcast), `P = ph·pw` and `k` the row-major tap of
 * a window:
 * 1. `m = MaxPool(x)`; `s = Step(m − x, α = −1)`: −1 at each window's maxima (`m − x = 0`), 1 elsewhere;
 * 2. `code = s · w` with `w_k = −(P − k)`: maxima get `P − k` (≥ 1, larger for earlier taps), others
 *    `k − P` (≤ −1); `best = MaxPool(code)` is the code of each window's first maximum;
 * 3. `sel = Step(code − (best − ½), α = 0)`: 1 at that first maximum only (codes are distinct integers);
 * 4. `dx = sel · dy + 0` (the `+ 0` turns `0 · (negative dy)` = −0 into the cpu backend's +0).
 * Exactly the cpu backend's answer for finite `x` and `dy` (its first strict maximum from −∞ is then the
 * first maximum, and each input gets at most one term); non-finite inputs take {@link maxPoolGradLoop}.
 * The pooled operands (`m`, `best − ½`, `dy`) are spread over each window's columns first (one add of
 * zeros), so the broadcasts over the window's rows run in long rows. Measured (2-core EPYC, medians,
 * the column sums included) 6.4 / 2.4 / 1.0 ms on the ConvNet's `[64,32,32,16]` / `[64,16,16,32]` /
 * `[64,8,8,64]` 2×2 pools against the loop's 9.1 / 4.4 / 2.2 ms (a memory pass: 0.21 / 0.10 / 0.06 ms);
 * the three spreads (C-element rows: 0.6 ms each on the first) and the two max pools are most of it.
 * Semantics: tfjs-backend-cpu 4.22 `kernels/MaxPoolGrad.ts` and `utils/pool_utils.ts` (`maxPoolPositions`).
 */
function tiledMaxPoolGrad(backend: tf.KernelBackend, backendName: string, info: tf.backend_util.Conv2DInfo, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const { filterHeight: ph, filterWidth: pw, outHeight, outWidth, inChannels: ch } = info;
  const taps = ph * pw;
  const windows = [info.batchSize * outHeight, ph, outWidth, pw, ch];
  const pool = { filterSize: [ph, pw], strides: [ph, pw], pad: 'valid' };
  const rows = [info.batchSize * outHeight, ph, outWidth * pw * ch];
  return scoped(backend, backendName, 'MaxPoolGrad', (s) => {
    // A pooled [N, Ho, Wo, C] tensor repeated over each window's columns, as [N·Ho, 1, Wo·pw·C]: the binary
    // kernels then broadcast it over the window's rows in runs of Wo·pw·C elements. (Broadcasting
    // [N·Ho, 1, Wo, 1, C] straight against the windows runs in C-element rows: 1.2–1.7 ms on
    // [64,32,32,16] against 0.9 ms for this upsample and broadcast.)
    const spread = (t: TensorInfo) =>
      s.reshape(pw === 1 ? t : s.run('Add', { a: s.reshape(t, [info.batchSize * outHeight * outWidth, 1, ch]), b: s.constant(new Float32Array(pw * ch), [1, pw, ch]) }), [rows[0], 1, rows[2]]);
    const max = s.run('MaxPool', { x }, pool);
    const sign = s.run('Step', { x: s.run('Sub', { a: spread(max), b: s.reshape(x, rows) }) }, { alpha: -1 });
    // The weights repeated over the channels: XNNPACK broadcasts [1, ph, 1, pw, C] rows at 0.7 ms on
    // [64,32,32,16], a [1, ph, 1, pw, 1] one element by element at 1.2 ms.
    const weights = Float32Array.from({ length: taps * ch }, (_, i) => -(taps - Math.floor(i / ch)));
    const code = s.run('Multiply', { a: s.reshape(sign, windows), b: s.constant(weights, [1, ph, 1, pw, ch]) });
    const best = s.run('MaxPool', { x: s.reshape(code, x.shape) }, pool);
    const threshold = s.run('Sub', { a: best, b: s.constant(Float32Array.of(0.5), []) });
    const sel = s.run('Step', { x: s.run('Sub', { a: s.reshape(code, rows), b: spread(threshold) }) }, { alpha: 0 });
    const dx = s.run('Multiply', { a: sel, b: spread(dy) });
    return s.reshape(s.run('Add', { a: dx, b: s.constant(Float32Array.of(0), []) }), x.shape);
  });
}

/** The general case: one pass over the windows in JS on the heap (see the module comment). */
function maxPoolGradLoop(backend: WasmHeapBackend, info: tf.backend_util.Conv2DInfo, input: TensorInfo, dy: TensorInfo): TensorInfo {
  const dxInfo = backend.makeOutput(input.shape.slice(), 'float32');
  const dx = backend.typedArrayFromHeap(dxInfo) as Float32Array;
  const xs = backend.typedArrayFromHeap(input) as Float32Array;
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  const { batchSize, inHeight, inWidth, inChannels: ch, outHeight, outWidth, strideHeight, strideWidth } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const { top, left } = info.padInfo;
  let y = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < outHeight; yr++) {
      const r0 = yr * strideHeight - top;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(inHeight, r0 + fh);
      for (let yc = 0; yc < outWidth; yc++, y += ch) {
        const c0 = yc * strideWidth - left;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(inWidth, c0 + fw);
        // Per channel, the window's first strictly greatest value from −∞ (scalars, no per-window arrays).
        for (let d = 0; d < ch; d++) {
          let best = -Infinity;
          let where = -1;
          for (let r = rMin; r < rMax; r++) {
            const rowAt = (b * inHeight + r) * inWidth;
            for (let c = cMin; c < cMax; c++) {
              const at = (rowAt + c) * ch + d;
              const v = xs[at];
              if (v > best) {
                best = v;
                where = at;
              }
            }
          }
          if (where >= 0) dx[where] += dys[y + d];
        }
      }
    }
  }
  return dxInfo;
}
