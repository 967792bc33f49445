import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { mulberry32, uniformArray } from '../../src/core/random.js';
import { registerWasmConvKernels, wasmConvKernelNames } from '../../src/tfjs/wasmConv.js';

type Shape4 = [number, number, number, number];

/** Values in [-1, 1) from a seed, so both backends get the same numbers. */
function values(shape: number[], seed: number): Float32Array {
  return uniformArray(
    shape.reduce((a, b) => a * b, 1),
    1,
    mulberry32(seed),
  );
}

/** max |a − b| / max |b|. */
function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Runs `f` on a backend and returns the data of the tensors it makes (disposing them). */
async function on(backend: 'wasm' | 'cpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await useBackend(backend);
  const out = tf.tidy(f);
  const data = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return data;
}

const tolerance = 1e-4;

/** tfjs allows a dimRoundingMode only with a numeric padding. */
function roundingFor(pad: unknown): 'round' | undefined {
  return typeof pad === 'number' ? 'round' : undefined;
}

// Registration runs first: nothing has registered the kernels yet in this process.
describe('registerWasmConvKernels', () => {
  it('registers exactly the kernels wasm lacks, once, without tfjs warnings', () => {
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
      const first = registerWasmConvKernels();
      assert.deepEqual(first, ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']);
      for (const name of first) assert.notEqual(tf.getKernel(name, 'wasm'), undefined);
      assert.deepEqual(registerWasmConvKernels(), []);
      const nativeInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
      assert.deepEqual(registerWasmConvKernels({ replace: ['Conv2DBackpropInput'] }), ['Conv2DBackpropInput']);
      assert.notEqual(tf.getKernel('Conv2DBackpropInput', 'wasm'), nativeInput);
      assert.deepEqual(registerWasmConvKernels({ replace: ['Conv2DBackpropInput'] }), []);
      // The cpu backend has all four: nothing to register there.
      assert.deepEqual(registerWasmConvKernels({ backendName: 'cpu' }), []);
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(warnings, []);
    assert.throws(() => registerWasmConvKernels({ replace: ['MaxPoolGrad' as (typeof wasmConvKernelNames)[number]] }), /unknown kernel MaxPoolGrad/);
  });
});

interface ConvCase {
  x: Shape4;
  filter: Shape4;
  strides: number;
  pad: 'same' | 'valid' | number;
}

const convCases: ConvCase[] = [
  { x: [1, 7, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [3, 7, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [3, 8, 8, 2], filter: [5, 5, 2, 3], strides: 1, pad: 'valid' },
  { x: [1, 9, 7, 4], filter: [5, 5, 4, 2], strides: 2, pad: 'valid' },
  { x: [3, 6, 5, 5], filter: [1, 1, 5, 6], strides: 1, pad: 'same' },
  { x: [1, 11, 11, 2], filter: [1, 1, 2, 3], strides: 2, pad: 'valid' },
  { x: [3, 5, 7, 3], filter: [3, 3, 3, 8], strides: 1, pad: 1 },
  { x: [1, 13, 13, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'same' },
];

/** Gradients of Σ f(x, w)·dy with respect to x and w. */
function convGrads(f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D, c: { x: Shape4; filter: Shape4 }, seed: number): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(values(c.x, seed), c.x);
    const w = tf.tensor4d(values(c.filter, seed + 1), c.filter);
    const outShape = f(x, w).shape;
    const dy = tf.tensor(values(outShape, seed + 2), outShape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), dy)));
    return g([x, w]);
  };
}

function describeCase(c: { x: Shape4; filter: Shape4; strides: number; pad: unknown }): string {
  return `x ${c.x.join('×')}, filter ${c.filter.join('×')}, strides ${c.strides}, pad ${String(c.pad)}`;
}

describe('conv2d gradients on wasm match the cpu backend', () => {
  for (const [k, c] of convCases.entries()) {
    it(describeCase(c), async () => {
      const f = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.conv2d(x, w, c.strides, c.pad, 'NHWC', 1, roundingFor(c.pad));
      const wasm = await on('wasm', convGrads(f, c, 10 * k));
      const cpu = await on('cpu', convGrads(f, c, 10 * k));
      assert.ok(relativeDiff(wasm[0], cpu[0]) <= tolerance, `input gradient: ${relativeDiff(wasm[0], cpu[0])}`);
      assert.ok(relativeDiff(wasm[1], cpu[1]) <= tolerance, `filter gradient: ${relativeDiff(wasm[1], cpu[1])}`);
    });
  }

  it('NCHW: Conv2DBackpropFilter and Conv2DBackpropInput on channels-first tensors', async () => {
    const x: Shape4 = [2, 3, 7, 6];
    const filterShape: Shape4 = [3, 3, 3, 4];
    const dyShape: Shape4 = [2, 4, 4, 3];
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW' };
    const run = (): tf.Tensor[] => {
      const xt = tf.tensor4d(values(x, 1), x);
      const dy = tf.tensor4d(values(dyShape, 2), dyShape);
      const w = tf.tensor4d(values(filterShape, 3), filterShape);
      return [
        tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy }, { ...attrs, filterShape }) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x }) as tf.Tensor,
      ];
    };
    const wasm = await on('wasm', run);
    const cpu = await on('cpu', run);
    assert.ok(relativeDiff(wasm[0], cpu[0]) <= tolerance);
    assert.ok(relativeDiff(wasm[1], cpu[1]) <= tolerance);
  });
});

const depthwiseCases: ConvCase[] = [
  { x: [1, 7, 9, 3], filter: [3, 3, 3, 1], strides: 1, pad: 'same' },
  { x: [3, 7, 9, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { x: [3, 8, 8, 2], filter: [5, 5, 2, 2], strides: 1, pad: 'valid' },
  { x: [1, 9, 7, 4], filter: [5, 5, 4, 1], strides: 2, pad: 'valid' },
  { x: [3, 6, 5, 5], filter: [1, 1, 5, 2], strides: 1, pad: 'same' },
  { x: [1, 11, 11, 2], filter: [1, 1, 2, 1], strides: 2, pad: 'valid' },
  { x: [3, 5, 7, 3], filter: [3, 3, 3, 2], strides: 1, pad: 1 },
];

describe('depthwiseConv2d gradients on wasm match the cpu backend', () => {
  for (const [k, c] of depthwiseCases.entries()) {
    it(describeCase(c), async () => {
      const f = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.depthwiseConv2d(x, w, c.strides, c.pad, 'NHWC', 1, roundingFor(c.pad));
      const wasm = await on('wasm', convGrads(f, c, 100 + 10 * k));
      const cpu = await on('cpu', convGrads(f, c, 100 + 10 * k));
      assert.ok(relativeDiff(wasm[0], cpu[0]) <= tolerance, `input gradient: ${relativeDiff(wasm[0], cpu[0])}`);
      assert.ok(relativeDiff(wasm[1], cpu[1]) <= tolerance, `filter gradient: ${relativeDiff(wasm[1], cpu[1])}`);
    });
  }
});

/**
 * Dilation: tfjs's conv gradients refuse dilations > 1 and the cpu backprop kernels ignore them, so the
 * reference is the undilated kernel on the filter with zeros inserted between its taps (a dilated
 * convolution is exactly that convolution), whose filter gradient is read back at the real taps.
 */
describe('dilation 2 in the backprop kernels', () => {
  const d = 2;
  const spread = (shape: Shape4): Shape4 => [(shape[0] - 1) * d + 1, (shape[1] - 1) * d + 1, shape[2], shape[3]];
  /** `w` with zeros between its taps. */
  const dilateFilter = (w: Float32Array, shape: Shape4): Float32Array => {
    const [kh, kw, a, b] = shape;
    const big = spread(shape);
    const out = new Float32Array(big.reduce((p, q) => p * q, 1));
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let e = 0; e < a * b; e++) out[((i * d) * big[1] + j * d) * a * b + e] = w[(i * kw + j) * a * b + e];
    return out;
  };
  /** The real taps of a gradient for the spread filter. */
  const realTaps = (g: Float32Array, shape: Shape4): Float32Array => {
    const [kh, kw, a, b] = shape;
    const big = spread(shape);
    const out = new Float32Array(kh * kw * a * b);
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let e = 0; e < a * b; e++) out[(i * kw + j) * a * b + e] = g[((i * d) * big[1] + j * d) * a * b + e];
    return out;
  };
  const cases: { kernels: [string, string]; x: Shape4; filter: Shape4; pad: 'same' | 'valid' }[] = [
    { kernels: ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'], x: [3, 9, 8, 3], filter: [3, 3, 3, 2], pad: 'same' },
    { kernels: ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'], x: [1, 11, 9, 2], filter: [3, 2, 2, 1], pad: 'valid' },
    { kernels: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'], x: [3, 9, 8, 3], filter: [3, 3, 3, 4], pad: 'same' },
  ];
  for (const c of cases) {
    it(`${c.kernels[0].replace('BackpropFilter', '')}: x ${c.x.join('×')}, filter ${c.filter.join('×')}, pad ${c.pad}`, async () => {
      const depthwise = c.kernels[0].startsWith('Depthwise');
      const outChannels = depthwise ? c.filter[2] * c.filter[3] : c.filter[3];
      const effective = spread(c.filter);
      const outH = c.pad === 'same' ? c.x[1] : c.x[1] - effective[0] + 1;
      const outW = c.pad === 'same' ? c.x[2] : c.x[2] - effective[1] + 1;
      const dyShape: Shape4 = [c.x[0], outH, outW, outChannels];
      const run = (dilations: number, filterShape: Shape4, filterValues: Float32Array) => (): tf.Tensor[] => {
        const x = tf.tensor4d(values(c.x, 7), c.x);
        const dy = tf.tensor4d(values(dyShape, 8), dyShape);
        const w = tf.tensor4d(filterValues, filterShape);
        const attrs = { strides: [1, 1], pad: c.pad, dilations: [dilations, dilations], dataFormat: 'NHWC' };
        return [
          tf.engine().runKernel(c.kernels[0], { x, dy }, { ...attrs, filterShape }) as tf.Tensor,
          tf.engine().runKernel(c.kernels[1], { dy, filter: w }, { ...attrs, inputShape: c.x }) as tf.Tensor,
        ];
      };
      const w = values(c.filter, 9);
      const wasm = await on('wasm', run(d, c.filter, w));
      const cpu = await on('cpu', run(1, effective, dilateFilter(w, c.filter)));
      assert.ok(relativeDiff(wasm[0], realTaps(cpu[0], c.filter)) <= tolerance, 'filter gradient');
      assert.ok(relativeDiff(wasm[1], cpu[1]) <= tolerance, 'input gradient');
    });
  }
});

/** A small conv net: conv 3→4 3×3 same, ReLU, max-pool, depthwise ×2 stride 2, ReLU, avg-pool, dense. */
function smallNet(params: tf.Tensor[], x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  const [w1, b1, w2, w3, b3] = params;
  let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'), b1) as tf.Tensor4D), 2, 2, 'valid');
  h = tf.avgPool(tf.relu(tf.depthwiseConv2d(h, w2 as tf.Tensor4D, 2, 'same')), 2, 1, 'valid');
  const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(flat, w3 as tf.Tensor2D), b3) as tf.Tensor2D;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 5), logits) as tf.Scalar;
}

const netShapes = [[3, 3, 3, 4], [4], [3, 3, 4, 2], [2 * 2 * 8, 5], [5]];

describe('a training step of a small conv net', () => {
  const step = (vars: tf.Variable[], lr: number): tf.Tensor[] => {
    const x = tf.tensor4d(values([3, 12, 12, 3], 21), [3, 12, 12, 3]);
    const labels = tf.tensor1d([0, 3, 4], 'int32');
    const { value, grads } = tf.variableGrads(() => smallNet(vars, x, labels), vars);
    const out = tf.tidy(() => [value, ...vars.map((v) => tf.sub(v, tf.mul(lr, grads[v.name])))]);
    tf.dispose([x, labels, ...Object.values(grads)]);
    return out;
  };
  const makeVars = (): tf.Variable[] => netShapes.map((s, i) => tf.variable(tf.tensor(values(s, 30 + i), s)));

  it('gives the same loss, gradients and updated parameters on wasm as on cpu', async () => {
    const results: Float32Array[][] = [];
    for (const backend of ['wasm', 'cpu'] as const) {
      await useBackend(backend);
      const vars = makeVars();
      const out = step(vars, 0.1);
      results.push(out.map((t) => t.dataSync() as Float32Array));
      tf.dispose([...out, ...vars]);
    }
    const [wasm, cpu] = results;
    assert.ok(Math.abs(wasm[0][0] - cpu[0][0]) <= tolerance * Math.abs(cpu[0][0]), 'loss');
    for (let i = 1; i < wasm.length; i++) assert.ok(relativeDiff(wasm[i], cpu[i]) <= tolerance, `parameter ${i - 1}`);
    // The step moved the parameters (the gradient was not zero).
    assert.ok(relativeDiff(wasm[1], values(netShapes[0], 30)) > 1e-3);
  });

  it('leaks no tensor and no backend buffer on wasm', async () => {
    await useBackend('wasm');
    const vars = makeVars();
    const before = tf.memory();
    for (let k = 0; k < 2; k++) tf.dispose(step(vars, 0.1));
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    tf.dispose(vars);
  });

  it('throws a clear error for non-float32 input', async () => {
    await useBackend('wasm');
    const x = tf.zeros([1, 4, 4, 1], 'int32');
    const dy = tf.zeros([1, 4, 4, 1]);
    assert.throws(
      () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 1, 1] }),
      /only float32.*int32/,
    );
    tf.dispose([x, dy]);
  });
});
