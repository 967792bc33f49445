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
 *   same terms). float32 only.
 *
 * Reference: tfjs-backend-cpu 4.22 `kernels/MaxPoolGrad.ts`, `utils/pool_utils.ts` (`maxPoolPositions`)
 * and `kernels/GatherV2.ts` (the semantics); tfjs-backend-wasm 4.22 `kernels/GatherV2.ts` (its checks).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

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
export function maxPoolGradKernel(args: KernelArgs, _backendName: string, original: tf.KernelFunc): TensorInfo {
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
