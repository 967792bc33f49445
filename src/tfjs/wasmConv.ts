/**
 * Convolution backprop kernels for the tfjs wasm backend, which in tfjs 4.22 lacks
 * `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter` and `DepthwiseConv2dNativeBackpropInput`
 * — so `tf.grad` of any conv net throws there, and conv nets cannot train in Node without tfjs-node.
 * {@link registerWasmConvKernels} adds them (and `Conv2DBackpropInput`, should a wasm build lack it),
 * built only from kernels wasm has: an im2col gather, one 2-D matrix product without transpose flags
 * (wasm's XNNPACK fast path), elementwise products, sums, scatter-add (col2im) and transposes.
 *
 * Semantics follow TensorFlow's `Conv2DBackpropFilter` / `DepthwiseConv2dNativeBackprop*` ops as tfjs
 * defines them (attribute names from tfjs-core's `kernel_names.ts`; output shapes from
 * `backend_util.computeConv2DInfo`): strides, padding `'same'`/`'valid'`/a number/explicit pairs,
 * `dimRoundingMode`, dilations, NHWC (and NCHW for `Conv2DBackpropFilter`, by transposing to NHWC), the
 * depthwise channel multiplier. The tfjs-backend-cpu kernels of the same names (direct loops) are the
 * reference the tests compare against; unlike them these honour `dilations` in the depthwise backprops.
 *
 * How: with `P = N·outH·outW` output positions and `K = kh·kw` filter taps, a gather index `I[k, p]`
 * names the input pixel (row of the `[N·H·W, C]` input) that tap `k` reads at position `p`, or a zero
 * row when that pixel lies in the padding. Then
 * - filter gradient of conv2d, undilated: one forward convolution with batch and channels swapped (x as
 *   `[C, H, W, N]`, dy as the filter `[outH, outW, N, Cout]`; see `filterGradientAsConvolution`); else
 *   `dW[(c,k), o] = Σ_p xᵀ[c, I[k,p]] · dy[p, o]` — one `[C·K, P]·[P, Cout]`
 *   product of the gathered input (gathered straight into the transposed layout, so no operand needs a
 *   transpose flag) with the output gradient, then a small `[C,K,Cout] → [K,C,Cout]` transpose;
 * - filter gradient of depthwise conv: the same gather, times the output gradient per channel, summed
 *   over positions (an elementwise product and an innermost-axis sum: each channel is its own tiny
 *   product, which a single matmul would waste `C`-fold);
 * - input gradients: per-tap contributions `cols[k, p, c]` (a matmul with the filter for conv2d, a
 *   product with the filter for depthwise) scatter-added back to `I[k,p]` (col2im), the zero row
 *   absorbing the padding.
 * Every intermediate is a backend TensorInfo freed before the kernel returns; gather indices are cached
 * per geometry as host arrays (never as tensors, so nothing stays allocated on the backend).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { scoped, type KernelScope } from './kernelScope.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;
type PadAttr = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** The kernels this module can supply, in the order {@link registerWasmConvKernels} considers them. */
export const wasmConvKernelNames = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;

export type WasmConvKernelName = (typeof wasmConvKernelNames)[number];

const indexCache = new Map<string, Int32Array>();
const cacheLimit = 16;

/**
 * The im2col gather index, tap-major: entry `k·P + p` (tap `k = i·kw + j`, output position
 * `p = (n·outH + oh)·outW + ow`) is the row `(n·H + ih)·W + iw` of the `[N·H·W, C]` input that the tap
 * reads, with `ih = oh·strideH − padTop + i·dilationH` (likewise `iw`), or `N·H·W` — the appended zero
 * row — when that pixel is padding.
 */
function tapIndex(info: Conv2DInfo): Int32Array {
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const key = [n, h, w, oh, ow, kh, kw, sh, sw, dh, dw, top, left].join(',');
  const cached = indexCache.get(key);
  if (cached !== undefined) {
    indexCache.delete(key);
    indexCache.set(key, cached);
    return cached;
  }
  const positions = n * oh * ow;
  const zeroRow = n * h * w;
  const index = new Int32Array(kh * kw * positions);
  let at = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let b = 0; b < n; b++) {
        for (let r = 0; r < oh; r++) {
          const ih = r * sh - top + i * dh;
          const rowOk = ih >= 0 && ih < h;
          const rowBase = (b * h + ih) * w;
          for (let c = 0; c < ow; c++) {
            const iw = c * sw - left + j * dw;
            index[at++] = rowOk && iw >= 0 && iw < w ? rowBase + iw : zeroRow;
          }
        }
      }
    }
  }
  indexCache.set(key, index);
  if (indexCache.size > cacheLimit) indexCache.delete(indexCache.keys().next().value as string);
  return index;
}

const oneHotCache = new Map<string, Float32Array>();

/**
 * im2col as a depthwise convolution with one-hot filters: channel `c·K + k` of the result is channel `c`
 * of `x` (NHWC) read at tap `k`, so the result `[N, outH, outW, C·K]` is the patch matrix `[P, (c, k)]`.
 * The backend's own depthwise kernel (XNNPACK on wasm) then does strides, padding and dilations, and
 * each output is `1·x + 0·…`, the input value exactly. (An index gather does the same but measured 3–6×
 * slower on wasm, whose GatherV2 checks every index in JavaScript.)
 */
function im2col(s: KernelScope, x: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { inChannels: c, filterHeight: kh, filterWidth: kw } = info;
  const taps = kh * kw;
  const key = `${kh},${kw},${c}`;
  let values = oneHotCache.get(key);
  if (values === undefined) {
    values = new Float32Array(taps * c * taps);
    for (let k = 0; k < taps; k++) for (let ch = 0; ch < c; ch++) values[(k * c + ch) * taps + k] = 1;
    if (oneHotCache.size >= cacheLimit) oneHotCache.delete(oneHotCache.keys().next().value as string);
    oneHotCache.set(key, values);
  }
  // Bottom/right padding as needed for outHeight × outWidth windows (more than padInfo's when a
  // dimRoundingMode rounded the output size up).
  const { top, left } = info.padInfo;
  const bottom = Math.max(info.padInfo.bottom, (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - info.inHeight - top);
  const right = Math.max(info.padInfo.right, (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - info.inWidth - left);
  return s.run(
    'DepthwiseConv2dNative',
    { x, filter: s.constant(values, [kh, kw, c, taps]) },
    {
      strides: [info.strideHeight, info.strideWidth],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dilations: [info.dilationHeight, info.dilationWidth],
      dataFormat: 'NHWC',
    },
  );
}

/**
 * The padding of the "full" convolution that gives a stride-1 convolution's input gradient: `dx` is
 * `dy` convolved with the filter rotated by 180°, padded `effK − 1 − pad` before and whatever makes the
 * output `H × W` after. Null when the forward conv has strides other than 1 or a padding this cannot
 * express (then col2im is used).
 */
function fullConvolutionPadding(info: Conv2DInfo): number[][] | null {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return null;
  const top = info.effectiveFilterHeight - 1 - info.padInfo.top;
  const left = info.effectiveFilterWidth - 1 - info.padInfo.left;
  const bottom = info.inHeight + info.effectiveFilterHeight - 1 - info.outHeight - top;
  const right = info.inWidth + info.effectiveFilterWidth - 1 - info.outWidth - left;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/** Scatter-adds `cols` `[K·P, C]` (tap-major) into the NHWC input gradient of shape `info.inShape`. */
function col2im(s: KernelScope, cols: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  const index = tapIndex(info);
  const rows = n * h * w;
  const sums = s.run('ScatterNd', { indices: s.constant(index, [index.length, 1]), updates: cols }, { shape: [rows + 1, c] });
  const cropped = s.run('Slice', { x: sums }, { begin: [0, 0], size: [rows, c] });
  return s.reshape(cropped, [n, h, w, c]);
}

/** The float32 inputs `names` of a kernel call, in order; a clear error when one is missing or not float32. */
function float32Inputs(caller: string, inputs: tf.NamedTensorInfoMap, ...names: string[]): TensorInfo[] {
  return names.map((name) => {
    const info = inputs[name];
    if (info === undefined) throw new TypeError(`${caller}: input ${name} is missing`);
    if (info.dtype !== 'float32') throw new TypeError(`${caller}: only float32 tensors are supported, got ${name} of dtype ${info.dtype}`);
    return info;
  });
}

function isChannelsFirst(dataFormat: unknown): boolean {
  if (dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast') return false;
  if (dataFormat === 'NCHW' || dataFormat === 'channelsFirst') return true;
  throw new RangeError(`dataFormat must be 'NHWC' or 'NCHW', got ${JSON.stringify(dataFormat)}`);
}

interface Conv2DBackpropFilterAttrs {
  strides: [number, number] | number;
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  /** Not an attribute tfjs passes (its conv2d gradient refuses dilations > 1); honoured when given. */
  dilations?: [number, number] | number;
}

/**
 * The filter gradient of an NHWC conv without dilation as one forward convolution in which batch and
 * channels trade places: `dW[i, j, c, o] = Σ_{n,p,q} x[n, p·sh + i − top, q·sw + j − left, c] · dy[n, p, q, o]`
 * is the convolution of `x` laid out `[C, H, W, N]` (the C input channels as a batch of images with N
 * channels) with `dy` laid out `[outH, outW, N, Cout]` as its filter, dilated by the forward strides,
 * padded `top`/`left` before and whatever gives a `kh × kw` output after: `[C, kh, kw, Cout]`, then
 * transposed to `[kh, kw, C, Cout]`. Same flops as the forward conv, on XNNPACK, with two transposes
 * (of x and dy) instead of an im2col patch matrix `kh·kw` times the input's size: measured here 13–14 ms
 * against 19–37 ms for the cifar10-cnn layers (the im2col path). Null when the forward conv is
 * dilated or the padding after would be negative (then im2col is used).
 * Reference: the identity is the one behind TensorFlow's `Conv2DBackpropFilter` (the filter gradient is
 * a correlation of the input with the output gradient), cf. Dumoulin & Visin, "A guide to convolution
 * arithmetic for deep learning" (2016), §4.
 */
function filterGradientAsConvolution(s: KernelScope, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo): TensorInfo | null {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const { top, left } = info.padInfo;
  const bottom = info.filterHeight + (info.outHeight - 1) * info.strideHeight - info.inHeight - top;
  const right = info.filterWidth + (info.outWidth - 1) * info.strideWidth - info.inWidth - left;
  if (Math.min(top, left, bottom, right) < 0) return null;
  const xT = s.transpose(x, [3, 1, 2, 0]); // [C, H, W, N]
  const dyT = s.transpose(dy, [1, 2, 0, 3]); // [outH, outW, N, Cout]
  const grad = s.run(
    'Conv2D',
    { x: xT, filter: dyT },
    { strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] },
  );
  return s.transpose(grad, [1, 2, 0, 3]);
}

/**
 * How `Conv2DBackpropFilter` computes: `'auto'` (the default) as one swapped convolution
 * ({@link filterGradientAsConvolution}) where it applies, else im2col; `'im2col'` always im2col (for the
 * tests of that path and the benchmark's before/after).
 */
export type FilterGradientMethod = 'auto' | 'im2col';

/**
 * `Conv2DBackpropFilter`, shape `[kh, kw, inChannels, outChannels]`: a swapped convolution
 * ({@link filterGradientAsConvolution}) or `dW = im2col(x)ᵀ · dy`.
 */
function conv2DBackpropFilter(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
  backendName: string,
  method: FilterGradientMethod = 'auto',
): TensorInfo {
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const caller = 'Conv2DBackpropFilter';
  const [x, dy] = float32Inputs(caller, args.inputs, 'x', 'dy');
  return scoped(args.backend, backendName, caller, (s) => {
    const nchw = isChannelsFirst(attrs.dataFormat);
    const xs = nchw ? s.transpose(x, [0, 2, 3, 1]) : x;
    const dys = nchw ? s.transpose(dy, [0, 2, 3, 1]) : dy;
    const info = tf.backend_util.computeConv2DInfo(
      xs.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (method === 'auto') {
      const swapped = filterGradientAsConvolution(s, xs, dys, info);
      if (swapped !== null) return swapped;
    }
    const { inChannels: c, outChannels: o, filterHeight: kh, filterWidth: kw } = info;
    const taps = kh * kw;
    const positions = info.batchSize * info.outHeight * info.outWidth;
    // patches[p, (c, k)] = x at tap k of channel c; dWᵀ = dyᵀ·patches, then [Cout, C, K] → [K, C, Cout].
    const patches = s.reshape(im2col(s, xs, info), [positions, c * taps]);
    const dyT = s.transpose(s.reshape(dys, [positions, o]), [1, 0]);
    const gradT = s.matMul(dyT, patches);
    return s.reshape(s.transpose(s.reshape(gradT, [o, c, taps]), [2, 1, 0]), [kh, kw, c, o]);
  });
}

interface Conv2DBackpropInputAttrs {
  strides: [number, number] | number;
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
  dilations?: [number, number] | number;
}

/** `Conv2DBackpropInput`: `cols = dy · Wᵀ` per tap, scatter-added back to the input pixels (col2im). */
function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }, backendName: string): TensorInfo {
  const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
  const caller = 'Conv2DBackpropInput';
  const [dy, filter] = float32Inputs(caller, args.inputs, 'dy', 'filter');
  return scoped(args.backend, backendName, caller, (s) => {
    const nchw = isChannelsFirst(attrs.dataFormat);
    const [n, a, b, d] = attrs.inputShape;
    const inShape: [number, number, number, number] = nchw ? [n, b, d, a] : [n, a, b, d];
    const dys = nchw ? s.transpose(dy, [0, 2, 3, 1]) : dy;
    const info = tf.backend_util.computeConv2DInfo(
      inShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const { inChannels: c, outChannels: o, filterHeight: kh, filterWidth: kw } = info;
    const taps = kh * kw;
    const positions = info.batchSize * info.outHeight * info.outWidth;
    const fullPad = fullConvolutionPadding(info);
    let dx: TensorInfo;
    if (fullPad !== null) {
      // Stride 1: one forward convolution (XNNPACK on wasm) of dy with the rotated, in/out-swapped filter.
      const rotated = s.transpose(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
      dx = s.run('Conv2D', { x: dys, filter: rotated }, { strides: [1, 1], pad: fullPad, dataFormat: 'NHWC', dilations: [info.dilationHeight, info.dilationWidth] });
    } else {
      // wT[o, (k, c)] = W[k, c, o]: the filter transposed once (small), so the product has no flags.
      const wT = s.transpose(s.reshape(filter, [taps * c, o]), [1, 0]);
      const perPosition = s.matMul(s.reshape(dys, [positions, o]), wT); // [P, K·C]
      const tapMajor = taps === 1 ? perPosition : s.transpose(s.reshape(perPosition, [positions, taps, c]), [1, 0, 2]);
      dx = col2im(s, s.reshape(tapMajor, [taps * positions, c]), info);
    }
    return nchw ? s.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

interface DepthwiseBackpropAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: PadAttr;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

/**
 * `DepthwiseConv2dNativeBackpropFilter`: `dW[k, c, m] = Σ_p x[I[k,p], c] · dy[p, c·M + m]`, shape
 * `[kh, kw, inChannels, multiplier]`.
 */
function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }, backendName: string): TensorInfo {
  const attrs = args.attrs as unknown as DepthwiseBackpropAttrs & { filterShape: [number, number, number, number] };
  const caller = 'DepthwiseConv2dNativeBackpropFilter';
  const [x, dy] = float32Inputs(caller, args.inputs, 'x', 'dy');
  return scoped(args.backend, backendName, caller, (s) => {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    const { inChannels: c, outChannels, filterHeight: kh, filterWidth: kw } = info;
    const m = outChannels / c;
    const taps = kh * kw;
    const positions = info.batchSize * info.outHeight * info.outWidth;
    const patches = s.reshape(im2col(s, x, info), [positions, c, taps, 1]);
    const dyByChannel = s.reshape(dy, [positions, c, 1, m]);
    const product = s.reshape(s.run('Multiply', { a: patches, b: dyByChannel }), [positions, c * taps * m]);
    // Σ_p as ones[1, P]·product: a matrix product keeps wasm on XNNPACK, where Sum over the leading axis
    // would first transpose the whole product.
    const ones = s.run('Fill', {}, { shape: [1, positions], value: 1, dtype: 'float32' });
    const summed = s.matMul(ones, product); // [1, C·K·M]
    const tapMajor = c === 1 ? summed : s.transpose(s.reshape(summed, [c, taps, m]), [1, 0, 2]);
    return s.reshape(tapMajor, [kh, kw, c, m]);
  });
}

/**
 * `DepthwiseConv2dNativeBackpropInput`: `cols[k, p, c] = Σ_m W[k, c, m] · dy[p, c·M + m]`, scatter-added
 * back to the input pixels (col2im).
 */
function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }, backendName: string): TensorInfo {
  const attrs = args.attrs as unknown as DepthwiseBackpropAttrs & { inputShape: [number, number, number, number] };
  const caller = 'DepthwiseConv2dNativeBackpropInput';
  const [dy, filter] = float32Inputs(caller, args.inputs, 'dy', 'filter');
  return scoped(args.backend, backendName, caller, (s) => {
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    const { inChannels: c, outChannels, filterHeight: kh, filterWidth: kw } = info;
    const m = outChannels / c;
    const taps = kh * kw;
    const positions = info.batchSize * info.outHeight * info.outWidth;
    const fullPad = fullConvolutionPadding(info);
    if (fullPad !== null) {
      // Stride 1: a depthwise convolution of dy's C·M channels with the rotated filter, then Σ over m.
      const rotated = s.reshape(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, c * m, 1]);
      const perChannel = s.run(
        'DepthwiseConv2dNative',
        { x: dy, filter: rotated },
        { strides: [1, 1], pad: fullPad, dataFormat: 'NHWC', dilations: [info.dilationHeight, info.dilationWidth] },
      );
      if (m === 1) return perChannel;
      const { batchSize: n, inHeight: h, inWidth: w } = info;
      const summed = s.run('Sum', { x: s.reshape(perChannel, [n * h * w * c, m]) }, { axis: [1], keepDims: false });
      return s.reshape(summed, [n, h, w, c]);
    }
    let cols: TensorInfo; // [K, P, C]
    if (m === 1) {
      cols = s.run('Multiply', { a: s.reshape(filter, [taps, 1, c]), b: s.reshape(dy, [1, positions, c]) });
    } else {
      const product = s.run('Multiply', { a: s.reshape(filter, [taps, 1, c, m]), b: s.reshape(dy, [1, positions, c, m]) });
      cols = s.run('Sum', { x: product }, { axis: [3], keepDims: false });
    }
    return col2im(s, s.reshape(cols, [taps * positions, c]), info);
  });
}

type KernelImpl = (
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
  backendName: string,
  method?: FilterGradientMethod,
) => TensorInfo;

const implementations: Readonly<Record<WasmConvKernelName, KernelImpl>> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
};

/**
 * The kernel config of one of this module's kernels for `backendName` (default `'wasm'`), for
 * `tf.registerKernel` — or for calling its `kernelFunc` directly, as the tests do to check a kernel the
 * backend already has.
 */
export function wasmConvKernelConfig(name: WasmConvKernelName, backendName = 'wasm', options: { filterMethod?: FilterGradientMethod } = {}): tf.KernelConfig {
  const impl = implementations[name];
  if (impl === undefined) throw new RangeError(`wasmConvKernelConfig: unknown kernel ${String(name)} (known: ${wasmConvKernelNames.join(', ')})`);
  const method = options.filterMethod ?? 'auto';
  if (method !== 'auto' && method !== 'im2col') throw new RangeError(`wasmConvKernelConfig: filterMethod must be 'auto' or 'im2col', got ${JSON.stringify(method)}`);
  return {
    kernelName: name,
    backendName,
    kernelFunc: (args) => impl(args as Parameters<KernelImpl>[0], backendName, method),
  };
}

/** Options of {@link registerWasmConvKernels}. */
export interface RegisterWasmConvOptions {
  /** The backend to register for (default `'wasm'`). */
  backendName?: string;
  /**
   * Kernels to register even though the backend has its own, replacing it (unregistered first, so tfjs
   * does not warn). Meant for `Conv2DBackpropInput`: tfjs-backend-wasm 4.22's own is a direct loop,
   * measured here 7–10× slower than this module's col2im version on the cifar10-cnn layers (e.g. 89 ms
   * against 9.5 ms for dy `[64,16,16,32]`, filter `[3,3,16,32]`), and it dominates a conv net's step.
   */
  replace?: readonly WasmConvKernelName[];
}

/** The kernel functions this module registered, to recognise them (idempotence, `replace`). */
const ours = new WeakSet<object>();

/**
 * Registers, for the wasm backend (or `options.backendName`), each kernel of {@link wasmConvKernelNames}
 * that it does not have yet, plus those named in `options.replace`, and returns the names it
 * registered: on tfjs-backend-wasm 4.22 that is `Conv2DBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropFilter` and `DepthwiseConv2dNativeBackpropInput` (wasm has its own
 * `Conv2DBackpropInput`, `MaxPoolGrad` and `AvgPoolGrad`). Idempotent: a kernel this module registered
 * is never registered again (a second call returns `[]`), a kernel someone else registered is kept
 * unless named in `replace`, so tfjs never warns about a duplicate registration. Import
 * `@tensorflow/tfjs-backend-wasm` first, so that its own kernels are known.
 */
export function registerWasmConvKernels(options: RegisterWasmConvOptions = {}): WasmConvKernelName[] {
  const backendName = options.backendName ?? 'wasm';
  const replace = new Set<string>(options.replace ?? []);
  for (const name of replace) {
    if (!(wasmConvKernelNames as readonly string[]).includes(name)) {
      throw new RangeError(`registerWasmConvKernels: replace names an unknown kernel ${name} (known: ${wasmConvKernelNames.join(', ')})`);
    }
  }
  const registered: WasmConvKernelName[] = [];
  for (const name of wasmConvKernelNames) {
    const existing = tf.getKernel(name, backendName);
    if (existing !== undefined) {
      if (ours.has(existing.kernelFunc) || !replace.has(name)) continue;
      tf.unregisterKernel(name, backendName);
    }
    const config = wasmConvKernelConfig(name, backendName);
    ours.add(config.kernelFunc);
    tf.registerKernel(config);
    registered.push(name);
  }
  return registered;
}
