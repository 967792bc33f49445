import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { mulberry32, uniformArray } from '../../src/core/random.js';
import { accelerateWasm, registerWasmMatMulKernels, restoreWasmKernels, wasmMatMulKernelNames } from '../../src/tfjs/wasmMatMul.js';
import { wasmConvKernelConfig } from '../../src/tfjs/wasmConv.js';

/** Values in [-1, 1) from a seed, so both backends get the same numbers. */
function values(shape: readonly number[], seed: number): Float32Array {
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

/** Runs `f` on a backend and returns the shapes and data of the tensors it makes (disposing them). */
async function on(backend: 'wasm' | 'cpu', f: () => tf.Tensor[]): Promise<{ shape: number[]; data: Float32Array }[]> {
  await useBackend(backend);
  const out = tf.tidy(f);
  const data = out.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  tf.dispose(out);
  return data;
}

/**
 * Float32 rounding: products of ≤ 64 terms in [-1, 1) summed in another order than the cpu backend's
 * loop differ by a few ulps of the largest partial sum; 1e-5 of the largest entry bounds that with room
 * (measured ≤ 1.5e-6 here), and is far below any wrong-element or wrong-transpose error (order 1).
 */
const tolerance = 1e-5;

/** What the original wasm kernels were called with, recorded by spies installed before registration. */
interface Call {
  kernel: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}
const calls: Call[] = [];

/**
 * Wraps wasm's kernel `name` so that `record` sees the arguments of every call before it runs; returns
 * the function that registers the original again.
 */
function spyOnWasmKernel(name: string, record: (args: Parameters<tf.KernelFunc>[0]) => unknown): () => void {
  const native = tf.getKernel(name, 'wasm');
  assert.ok(native !== undefined, `wasm has ${name}`);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    ...native,
    kernelFunc: (args) => {
      record(args);
      return native.kernelFunc(args);
    },
  });
  return () => {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(native);
  };
}

/**
 * Wraps wasm's own BatchMatMul and _FusedMatMul in recording spies, so that the replacements
 * registerWasmMatMulKernels builds on them can be checked to call them only without transpose flags.
 */
function installSpies(): void {
  for (const name of wasmMatMulKernelNames) {
    spyOnWasmKernel(name, (args) => {
      const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
      calls.push({
        kernel: name,
        a: args.inputs.a!.shape,
        b: args.inputs.b!.shape,
        transposeA: attrs.transposeA === true,
        transposeB: attrs.transposeB === true,
      });
    });
  }
}

interface Case {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

/** Every transpose combination for operand shapes given untransposed as `[…, m, k]` and `[…, k, n]`. */
function combos(a: number[], b: number[]): Case[] {
  const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
  const out: Case[] = [];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      out.push({ a: transposeA ? swap(a) : a, b: transposeB ? swap(b) : b, transposeA, transposeB });
    }
  }
  return out;
}

function label(c: Case): string {
  return `a ${c.a.join('×')}${c.transposeA ? 'ᵀ' : ''} · b ${c.b.join('×')}${c.transposeB ? 'ᵀ' : ''}`;
}

/** Live tensors and backend buffers, for leak checks. */
function counts(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() };
}

before(() => {
  installSpies();
});

// Registration runs first: nothing has replaced the kernels yet in this process.
describe('accelerateWasm', () => {
  it('replaces BatchMatMul, _FusedMatMul, Tile, GatherV2, MaxPoolGrad, Sum, FusedBatchNorm and Conv2DBackpropInput and adds the missing kernels, once, without warnings', () => {
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      const spies = wasmMatMulKernelNames.map((n) => tf.getKernel(n, 'wasm'));
      const nativeInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
      const stockTileGradient = tf.getGradient('Tile');
      const stockTile = tf.getKernel('Tile', 'wasm');
      const stockAudited = ['GatherV2', 'MaxPoolGrad', 'Sum', 'FusedBatchNorm'].map((n) => tf.getKernel(n, 'wasm'));
      assert.ok(stockAudited.every((k) => k !== undefined));
      assert.equal(tf.getKernel('UnsortedSegmentSum', 'wasm'), undefined);
      assert.deepEqual(registerWasmMatMulKernels(), ['BatchMatMul', '_FusedMatMul']);
      assert.deepEqual(registerWasmMatMulKernels(), []);
      wasmMatMulKernelNames.forEach((n, i) => assert.notEqual(tf.getKernel(n, 'wasm'), spies[i]));
      // The replacements keep the original setup hooks (they bind the C++ functions on setBackend).
      wasmMatMulKernelNames.forEach((n, i) => assert.equal(tf.getKernel(n, 'wasm')?.setupFunc, spies[i]?.setupFunc));
      assert.deepEqual(accelerateWasm(), [
        'Tile',
        'GatherV2',
        'MaxPoolGrad',
        'Sum',
        'FusedBatchNorm',
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'UnsortedSegmentSum',
        'Tile (gradient)',
      ]);
      assert.deepEqual(accelerateWasm(), []);
      assert.notEqual(tf.getKernel('Conv2DBackpropInput', 'wasm'), nativeInput);
      ['GatherV2', 'MaxPoolGrad', 'Sum', 'FusedBatchNorm'].forEach((n, i) => assert.notEqual(tf.getKernel(n, 'wasm'), stockAudited[i]));
      // Restoring puts back exactly the replaced kernels (the added conv backprops stay) ...
      assert.deepEqual(restoreWasmKernels(), ['BatchMatMul', '_FusedMatMul', 'Tile', 'GatherV2', 'MaxPoolGrad', 'Sum', 'FusedBatchNorm', 'Conv2DBackpropInput', 'Tile (gradient)']);
      assert.equal(tf.getKernel('Tile', 'wasm'), stockTile);
      ['GatherV2', 'MaxPoolGrad', 'Sum', 'FusedBatchNorm'].forEach((n, i) => assert.equal(tf.getKernel(n, 'wasm'), stockAudited[i]));
      assert.equal(tf.getGradient('Tile'), stockTileGradient);
      wasmMatMulKernelNames.forEach((n, i) => assert.equal(tf.getKernel(n, 'wasm'), spies[i]));
      assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm'), nativeInput);
      assert.notEqual(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
      assert.notEqual(tf.getKernel('UnsortedSegmentSum', 'wasm'), undefined);
      assert.deepEqual(restoreWasmKernels(), []);
      // ... and accelerating again replaces them again.
      assert.deepEqual(accelerateWasm(), ['BatchMatMul', '_FusedMatMul', 'Tile', 'GatherV2', 'MaxPoolGrad', 'Sum', 'FusedBatchNorm', 'Conv2DBackpropInput', 'Tile (gradient)']);
      assert.notEqual(tf.getGradient('Tile'), stockTileGradient);
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(warnings, []);
  });

  it('a backend without the kernels is an error naming it, and nothing is registered', () => {
    assert.throws(() => accelerateWasm({ backendName: 'nosuch' }), /accelerateWasm: the nosuch backend has no BatchMatMul kernel/);
    for (const name of [...wasmMatMulKernelNames, 'Tile', 'Conv2DBackpropFilter', 'UnsortedSegmentSum']) assert.equal(tf.getKernel(name, 'nosuch'), undefined);
  });
});

const matMulCases: Case[] = [
  // The MLP's backward shapes (dy·Wᵀ, xᵀ·dy) at a small size, and odd sizes.
  ...combos([16, 24], [24, 12]),
  ...combos([1, 7], [7, 5]),
  // Batched: equal batches (looped products), a shared right operand (one product of stacked rows),
  // a shared left operand, four leading dims.
  ...combos([3, 40, 16], [3, 16, 36]),
  ...combos([5, 9, 7], [1, 7, 4]),
  ...combos([1, 33, 20], [4, 20, 30]),
  ...combos([2, 3, 32, 16], [2, 3, 16, 24]),
  // Tiny batched products (wasm's own loop) and leading dims that broadcast both ways (the original kernel).
  ...combos([6, 3, 4], [6, 4, 2]),
  ...combos([2, 1, 5, 6], [1, 3, 6, 4]),
];

describe('BatchMatMul on wasm matches the cpu backend, and runs no transposed or batched product', () => {
  for (const [k, c] of matMulCases.entries()) {
    it(label(c), async () => {
      const f = () => [tf.matMul(tf.tensor(values(c.a, 3 * k), c.a), tf.tensor(values(c.b, 3 * k + 1), c.b), c.transposeA, c.transposeB)];
      calls.length = 0;
      const wasm = await on('wasm', f);
      const seen = [...calls];
      const cpu = await on('cpu', f);
      assert.deepEqual(wasm[0].shape, cpu[0].shape);
      const diff = relativeDiff(wasm[0].data, cpu[0].data);
      assert.ok(diff <= tolerance, `relative difference ${diff}`);
      assert.ok(seen.length > 0, 'the wasm BatchMatMul kernel ran');
      for (const call of seen) assert.ok(!call.transposeA && !call.transposeB, `a product with flags: ${JSON.stringify(call)}`);
      const m = c.transposeA ? c.a.at(-1)! : c.a.at(-2)!;
      const n = c.transposeB ? c.b.at(-2)! : c.b.at(-1)!;
      const kk = c.transposeA ? c.a.at(-2)! : c.a.at(-1)!;
      const broadcastsBothWays = c.a.length === 4 && c.a[1] !== c.b[1];
      if (m * kk * n >= 8192 && !broadcastsBothWays) {
        for (const call of seen) assert.equal(call.a[0], 1, `a batched product: ${JSON.stringify(call)}`);
      }
    });
  }

  it('is leak-free on every path (flags, looped batch, stacked rows, broadcast fallback)', async () => {
    await useBackend('wasm');
    const inputs = matMulCases.map((c, k) => [tf.tensor(values(c.a, k), c.a), tf.tensor(values(c.b, k + 1), c.b)]);
    const run = () => matMulCases.forEach((c, k) => tf.dispose(tf.matMul(inputs[k][0], inputs[k][1], c.transposeA, c.transposeB)));
    run();
    const start = counts();
    run();
    assert.deepEqual(counts(), start);
    tf.dispose(inputs.flat());
  });
});

const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;

interface FusedCase {
  activation: (typeof activations)[number];
  bias: boolean;
  transposeA: boolean;
  transposeB: boolean;
  /** Rows of the left operand: `[m, k]` or `[batch, m, k]`. */
  a: number[];
  /**
   * Batch of the right operand `[k, n]` (0: 2-D), `[1, k, n]` (1: shared; value only, as tfjs 4.22's
   * matMul gradient does not sum a broadcast operand's gradient on any backend) or `[batch, k, n]`.
   */
  bBatch: number;
}

const fusedCases: FusedCase[] = [];
for (const activation of activations) {
  for (const [transposeA, transposeB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ]) {
    fusedCases.push({ activation, bias: true, transposeA, transposeB, a: [20, 24], bBatch: 0 });
  }
  fusedCases.push({ activation, bias: false, transposeA: false, transposeB: true, a: [20, 24], bBatch: 0 });
  fusedCases.push({ activation, bias: true, transposeA: false, transposeB: false, a: [3, 20, 24], bBatch: 1 });
  fusedCases.push({ activation, bias: true, transposeA: true, transposeB: true, a: [3, 20, 24], bBatch: 1 });
  fusedCases.push({ activation, bias: true, transposeA: false, transposeB: true, a: [3, 20, 24], bBatch: 3 });
  fusedCases.push({ activation, bias: true, transposeA: true, transposeB: false, a: [3, 20, 24], bBatch: 3 });
}

/** `fused.matMul(x, w, bias)` with `activation`, its result and gradients with respect to x, w and bias. */
function fusedRun(c: FusedCase, seed: number, withGrads: boolean): () => tf.Tensor[] {
  return () => {
    const n = 20;
    const [m, k] = c.a.slice(-2);
    const aShape = c.transposeA ? [...c.a.slice(0, -2), k, m] : c.a;
    const bShape = [...(c.bBatch === 0 ? [] : [c.bBatch]), ...(c.transposeB ? [n, k] : [k, n])];
    const a = tf.tensor(values(aShape, seed), aShape);
    const b = tf.tensor(values(bShape, seed + 1), bShape);
    const bias = tf.tensor1d(values([n], seed + 2));
    const prelu = tf.tensor1d(values([n], seed + 3));
    const f = (x: tf.Tensor, w: tf.Tensor, bb: tf.Tensor) =>
      tf.fused.matMul({
        a: x,
        b: w,
        transposeA: c.transposeA,
        transposeB: c.transposeB,
        bias: c.bias ? bb : undefined,
        activation: c.activation,
        preluActivationWeights: c.activation === 'prelu' ? prelu : undefined,
        leakyreluAlpha: c.activation === 'leakyrelu' ? 0.15 : undefined,
      });
    const y = f(a, b, bias);
    if (!withGrads || c.bBatch === 1) return [y];
    const dy = tf.tensor(values(y.shape, seed + 4), y.shape);
    const grads = c.bias
      ? tf.grads((x: tf.Tensor, w: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(x, w, bb), dy)))([a, b, bias])
      : tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(f(x, w, bias), dy)))([a, b]);
    return [y, ...grads];
  };
}

function fusedLabel(c: FusedCase): string {
  const b = `b${c.transposeB ? 'ᵀ' : ''}${c.bBatch === 0 ? '' : ` (batch ${c.bBatch})`}`;
  return `${c.activation}${c.bias ? ' + bias' : ''}, a ${c.a.join('×')}${c.transposeA ? 'ᵀ' : ''}, ${b}`;
}

describe('_FusedMatMul on wasm matches the cpu backend (value and gradients), with no transposed product', () => {
  for (const [i, c] of fusedCases.entries()) {
    it(fusedLabel(c), async () => {
      calls.length = 0;
      const wasmValue = await on('wasm', fusedRun(c, 10 * i, false));
      const fusedSeen = calls.filter((call) => call.kernel === '_FusedMatMul');
      calls.length = 0;
      const wasm = await on('wasm', fusedRun(c, 10 * i, true));
      const gradSeen = [...calls];
      const cpu = await on('cpu', fusedRun(c, 10 * i, true));
      assert.ok(fusedSeen.length > 0, 'the wasm _FusedMatMul kernel ran');
      for (const call of [...fusedSeen, ...gradSeen]) {
        assert.ok(!call.transposeA && !call.transposeB, `a product with flags: ${JSON.stringify(call)}`);
        assert.equal(call.a[0], 1, `a batched product: ${JSON.stringify(call)}`);
      }
      assert.equal(wasm.length, cpu.length);
      const diff = relativeDiff(wasmValue[0].data, cpu[0].data);
      assert.ok(diff <= tolerance, `value: relative difference ${diff}`);
      for (const [j, name] of ['value', 'd/da', 'd/db', 'd/dbias'].slice(0, wasm.length).entries()) {
        assert.deepEqual(wasm[j].shape, cpu[j].shape);
        const d = relativeDiff(wasm[j].data, cpu[j].data);
        assert.ok(d <= tolerance, `${name}: relative difference ${d}`);
      }
    });
  }

  it('is leak-free, value and gradients', async () => {
    await useBackend('wasm');
    const run = () => fusedCases.forEach((c, i) => tf.dispose(tf.tidy(fusedRun(c, i, true))));
    run();
    const start = counts();
    run();
    assert.deepEqual(counts(), start);
  });
});

/** A small Dense model (the MLP's layer kinds), trained for a few steps: the losses of each step. */
async function fitLosses(backend: 'wasm' | 'cpu'): Promise<number[]> {
  await useBackend(backend);
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [30], units: 24, activation: 'relu', kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' }),
      tfl.layers.dense({ units: 16, activation: 'elu' }),
      tfl.layers.dense({ units: 5 }),
    ],
  });
  const weights = model.getWeights().map((w, i) => tf.tensor(values(w.shape, 100 + i), w.shape));
  model.setWeights(weights);
  tf.dispose(weights);
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const x = tf.tensor2d(values([64, 30], 1), [64, 30]);
  const y = tf.tensor2d(values([64, 5], 2), [64, 5]);
  const history = await model.fit(x, y, { epochs: 4, batchSize: 32, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return history.history.loss as number[];
}

describe('model.fit of Dense layers on accelerated wasm', () => {
  it('gives the cpu backend losses and leaves no tensor behind', async () => {
    await useBackend('wasm');
    await fitLosses('wasm');
    const start = counts();
    const wasm = await fitLosses('wasm');
    assert.deepEqual(counts(), start);
    const cpu = await fitLosses('cpu');
    assert.equal(wasm.length, 4);
    assert.ok(wasm[3] < wasm[0], `training lowers the loss: ${wasm.join(', ')}`);
    for (let i = 0; i < wasm.length; i++) assert.ok(Math.abs(wasm[i] - cpu[i]) <= 1e-4 * Math.abs(cpu[i]), `epoch ${i}: ${wasm[i]} vs ${cpu[i]}`);
  });
});

describe('UnsortedSegmentSum on wasm (the gradient of gather) matches the cpu backend', () => {
  const cases: { x: number[]; ids: number[]; idShape: [number]; numSegments: number; dtype: 'float32' | 'int32' }[] = [
    { x: [6, 4], ids: [0, 2, 2, 1, 0, 2], idShape: [6], numSegments: 4, dtype: 'float32' },
    { x: [6, 2, 5], ids: [1, 0, 1, 1, 2, 0], idShape: [6], numSegments: 3, dtype: 'float32' },
    // Out-of-range ids (negative, ≥ numSegments) contribute nothing.
    { x: [5, 3], ids: [0, -1, 3, 7, 3], idShape: [5], numSegments: 4, dtype: 'float32' },
    { x: [4], ids: [1, 1, 0, 1], idShape: [4], numSegments: 2, dtype: 'int32' },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')} (${c.dtype}), ids [${c.ids.join(', ')}], ${c.numSegments} segments`, async () => {
      const f = () => {
        const x = c.dtype === 'int32' ? tf.tensor(Int32Array.from(values(c.x, 5), (v) => Math.round(10 * v)), c.x, 'int32') : tf.tensor(values(c.x, 5), c.x);
        return [tf.unsortedSegmentSum(x, tf.tensor(c.ids, c.idShape, 'int32'), c.numSegments)];
      };
      const wasm = await on('wasm', f);
      const cpu = await on('cpu', f);
      assert.deepEqual(wasm[0].shape, cpu[0].shape);
      assert.ok(relativeDiff(wasm[0].data, cpu[0].data) <= tolerance);
    });
  }

  it('bad numSegments or ids that are not a prefix of x are errors naming the kernel', async () => {
    await useBackend('wasm');
    const x = tf.ones([3, 2]);
    assert.throws(() => tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: tf.tensor1d([0, 1, 0], 'int32') }, { numSegments: -1 }), /UnsortedSegmentSum: numSegments must be a non-negative integer, got -1/);
    assert.throws(() => tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: tf.tensor1d([0, 1], 'int32') }, { numSegments: 2 }), /UnsortedSegmentSum: segmentIds of shape \[2\] must be a prefix/);
    x.dispose();
  });

  it('an Embedding layer trains on wasm: gradients equal the cpu backend\'s, no leak', async () => {
    const run = () => {
      const table = tf.tensor(values([7, 5], 9), [7, 5]);
      const ids = tf.tensor2d([[1, 3, 3], [6, 0, 1]], [2, 3], 'int32');
      const dy = tf.tensor(values([2, 3, 5], 10), [2, 3, 5]);
      return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), dy)))(table)];
    };
    await useBackend('wasm');
    tf.dispose(tf.tidy(run));
    const start = counts();
    const wasm = await on('wasm', run);
    assert.deepEqual(counts(), start);
    const cpu = await on('cpu', run);
    assert.ok(relativeDiff(wasm[0].data, cpu[0].data) <= tolerance);
  });
});

describe('the Tile gradient (one sum) matches tfjs-core\'s loop of slices on the cpu backend', () => {
  const cases: { x: number[]; reps: number[] }[] = [
    { x: [5], reps: [3] },
    { x: [2, 3], reps: [4, 1] },
    { x: [1, 1, 6], reps: [4, 5, 1] },
    { x: [2, 1, 3], reps: [2, 3, 2] },
    { x: [1, 2, 1, 3], reps: [2, 2, 3, 1] },
  ];
  const grad = (c: { x: number[]; reps: number[] }) => () => {
    const x = tf.tensor(values(c.x, 21), c.x);
    const outShape = c.x.map((s, i) => s * c.reps[i]);
    const dy = tf.tensor(values(outShape, 22), outShape);
    return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, c.reps), dy)))(x)];
  };
  for (const c of cases) {
    it(`x ${c.x.join('×')}, reps ${c.reps.join('×')}`, async () => {
      const ours = await on('cpu', grad(c));
      assert.ok(restoreWasmKernels().includes('Tile (gradient)'));
      try {
        const stock = await on('cpu', grad(c));
        assert.deepEqual(ours[0].shape, c.x);
        assert.ok(relativeDiff(ours[0].data, stock[0].data) <= tolerance);
      } finally {
        accelerateWasm();
      }
    });
  }

  it('runs one Sum and no Slice (the stock gradient: one slice per repetition)', async () => {
    await useBackend('wasm');
    const x = tf.ones([1, 1, 8]);
    const dy = tf.ones([4, 16, 8]);
    const kernels = async () => (await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, [4, 16, 1]), dy)))(x))).kernels.map((k) => k.name);
    const ours = await kernels();
    restoreWasmKernels();
    const stock = await kernels();
    accelerateWasm();
    assert.equal(ours.filter((k) => k === 'Slice').length, 0);
    assert.equal(stock.filter((k) => k === 'Slice').length, 64);
    tf.dispose([x, dy]);
  });
});

describe('Tile on wasm (a broadcasting add) equals the cpu backend exactly', () => {
  const cases: { x: number[]; reps: number[]; dtype: 'float32' | 'int32' }[] = [
    { x: [1, 1, 64], reps: [16, 64, 1], dtype: 'float32' },
    { x: [16, 64, 1], reps: [1, 1, 64], dtype: 'float32' },
    { x: [3], reps: [4], dtype: 'float32' },
    { x: [2, 3], reps: [3, 2], dtype: 'int32' },
    { x: [2, 1, 3], reps: [2, 3, 2], dtype: 'float32' },
    { x: [2, 3, 2, 2], reps: [2, 2, 2, 2], dtype: 'float32' },
    { x: [1, 2, 1, 3], reps: [1, 1, 1, 1], dtype: 'float32' },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')} (${c.dtype}), reps ${c.reps.join('×')}`, async () => {
      const f = () => {
        const v = values(c.x, 31);
        const x = c.dtype === 'int32' ? tf.tensor(Int32Array.from(v, (e) => Math.round(100 * e)), c.x, 'int32') : tf.tensor(v, c.x);
        return [tf.tile(x, c.reps)];
      };
      await useBackend('wasm');
      const start = counts();
      const wasm = await on('wasm', f);
      assert.deepEqual(counts(), start);
      const cpu = await on('cpu', f);
      assert.deepEqual(wasm[0].shape, cpu[0].shape);
      assert.deepEqual(Array.from(wasm[0].data), Array.from(cpu[0].data));
    });
  }
});

// Issue 16's per-kernel audit of model.fit: GatherV2, MaxPoolGrad and Sum replaced, the conv filter
// gradient as one swapped convolution.

describe('GatherV2 on accelerated wasm (slice copies) equals the cpu backend exactly', () => {
  const cases: { x: number[]; ids: number[]; idShape: number[]; axis: number; batchDims?: number; dtype: 'float32' | 'int32' | 'bool' }[] = [
    // model.fit's batch gather (rows of 48 floats, set() copies) with repeats; an Embedding lookup.
    { x: [12, 4, 4, 3], ids: [3, 0, 11, 3, 7], idShape: [5], axis: 0, dtype: 'float32' },
    { x: [9, 20], ids: [1, 8, 8, 0, 4, 2], idShape: [2, 3], axis: 0, dtype: 'float32' },
    // Short slices (element loop), an inner axis, the last axis, int32 and bool, batchDims.
    { x: [3, 5, 2], ids: [4, 0, 2], idShape: [3], axis: 1, dtype: 'float32' },
    { x: [2, 3, 7], ids: [6, 6, 1, 0], idShape: [4], axis: 2, dtype: 'int32' },
    { x: [6, 2], ids: [5, 1], idShape: [2], axis: 0, dtype: 'bool' },
    { x: [2, 5, 3], ids: [4, 0, 1, 1], idShape: [2, 2], axis: 1, batchDims: 1, dtype: 'float32' },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')} (${c.dtype}), axis ${c.axis}, ids ${c.idShape.join('×')}${c.batchDims ? `, batchDims ${c.batchDims}` : ''}`, async () => {
      const f = () => {
        const v = values(c.x, 41);
        const x =
          c.dtype === 'float32'
            ? tf.tensor(v, c.x)
            : tf.tensor(c.dtype === 'int32' ? Int32Array.from(v, (e) => Math.round(100 * e)) : Uint8Array.from(v, (e) => (e > 0 ? 1 : 0)), c.x, c.dtype);
        return [tf.gather(x, tf.tensor(c.ids, c.idShape, 'int32'), c.axis, c.batchDims ?? 0)];
      };
      await useBackend('wasm');
      tf.dispose(tf.tidy(f));
      const start = counts();
      const wasm = await on('wasm', f);
      assert.deepEqual(counts(), start);
      const cpu = await on('cpu', f);
      assert.deepEqual(wasm[0].shape, cpu[0].shape);
      assert.deepEqual(Array.from(wasm[0].data), Array.from(cpu[0].data));
    });
  }

  it('an index out of range is wasm\'s own error, and nothing is left allocated', async () => {
    await useBackend('wasm');
    const x = tf.ones([4, 3]);
    const ids = tf.tensor1d([1, 4], 'int32');
    const start = counts();
    assert.throws(() => tf.gather(x, ids), /GatherV2: the index value 4 is not in \[0, 3\]/);
    assert.deepEqual(counts(), start);
    tf.dispose([x, ids]);
  });
});

/** The gradient of Σ maxPool(x)·dy with respect to x. */
function maxPoolGrad(c: { x: number[]; size: number; strides: number; pad: 'same' | 'valid' | number }, xs: Float32Array) {
  return () => {
    const x = tf.tensor4d(xs, c.x as [number, number, number, number]);
    const rounding = typeof c.pad === 'number' ? 'round' : undefined;
    const pool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.size, c.strides, c.pad, rounding);
    const outShape = pool(x).shape;
    const dy = tf.tensor(values(outShape, 52), outShape);
    return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t), dy)))(x)];
  };
}

describe('MaxPoolGrad on accelerated wasm equals the cpu backend', () => {
  const cases: { x: number[]; size: number; strides: number; pad: 'same' | 'valid' | number; ties?: boolean }[] = [
    // The ConvNet's 2×2 pools (non-overlapping: each input gets at most one term, so exactly equal).
    { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid' },
    { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid', ties: true },
    { x: [1, 7, 7, 2], size: 2, strides: 2, pad: 'same' },
    // Overlapping windows, padding, a numeric pad with rounding.
    { x: [2, 7, 9, 4], size: 3, strides: 2, pad: 'same', ties: true },
    { x: [1, 6, 5, 3], size: 3, strides: 1, pad: 'same' },
    { x: [1, 9, 9, 2], size: 3, strides: 2, pad: 1 },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')}, ${c.size}×${c.size} stride ${c.strides}, pad ${String(c.pad)}${c.ties ? ', ties (ReLU zeros, repeats)' : ''}`, async () => {
      // Ties: ReLU-like zeros and values on a coarse grid, so windows hold equal maxima; the first wins.
      const xs = c.ties ? Float32Array.from(values(c.x, 51), (v) => Math.max(0, Math.round(4 * v) / 4)) : values(c.x, 51);
      const run = maxPoolGrad(c, xs);
      await useBackend('wasm');
      tf.dispose(tf.tidy(run));
      const start = counts();
      const wasm = await on('wasm', run);
      assert.deepEqual(counts(), start);
      const cpu = await on('cpu', run);
      const overlapping = c.size > c.strides;
      if (overlapping) assert.ok(relativeDiff(wasm[0].data, cpu[0].data) <= 1e-6, `relative difference ${relativeDiff(wasm[0].data, cpu[0].data)}`);
      else assert.deepEqual(Array.from(wasm[0].data), Array.from(cpu[0].data));
    });
  }

  it('windows of NaN or −∞ only send nothing, as on the cpu backend; a NaN beside a number loses', async () => {
    const shape = [1, 2, 6, 1];
    // Windows (2×2, stride 2): [NaN NaN; NaN NaN], [−∞ −∞; −∞ −∞], [NaN 3; 2 NaN].
    const xs = Float32Array.from([NaN, NaN, -Infinity, -Infinity, NaN, 3, NaN, NaN, -Infinity, -Infinity, 2, NaN]);
    const run = () => {
      const x = tf.tensor4d(xs, shape as [number, number, number, number]);
      const dy = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
      return [tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: dy }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor];
    };
    const wasm = await on('wasm', run);
    const cpu = await on('cpu', run);
    assert.deepEqual(Array.from(cpu[0].data), [0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(wasm[0].data), Array.from(cpu[0].data));
  });
});

describe('MaxPoolGrad for windows that tile the input (whole-tensor kernels) equals the cpu backend bit for bit', () => {
  // A spy on wasm's Step: the tiled path runs it twice per MaxPoolGrad, the JS loop never.
  let steps = 0;
  let restore: () => void = () => undefined;
  before(() => {
    restore = spyOnWasmKernel('Step', () => steps++);
  });
  after(() => restore());
  /** Runs `f` on wasm (once to warm, once checked for leaks, counting Step calls) and on cpu. */
  async function both(f: () => tf.Tensor[]) {
    await useBackend('wasm');
    tf.dispose(tf.tidy(f));
    const start = counts();
    steps = 0;
    const wasm = await on('wasm', f);
    const stepCalls = steps;
    assert.deepEqual(counts(), start);
    const cpu = await on('cpu', f);
    return { wasm: Array.from(wasm[0].data), cpu: Array.from(cpu[0].data), stepCalls };
  }
  const pool = (size: number | [number, number], pad: 'valid' | 'same') => (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, size, size, pad);
  const cases: { x: number[]; size: number | [number, number]; pad: 'valid' | 'same'; tiled: boolean; why: string }[] = [
    { x: [2, 8, 8, 3], size: 2, pad: 'valid', tiled: true, why: 'the ConvNet\'s 2×2/2' },
    { x: [1, 8, 4, 5], size: 2, pad: 'same', tiled: true, why: "'same' dividing evenly" },
    { x: [2, 6, 6, 2], size: 3, pad: 'valid', tiled: true, why: '3×3/3' },
    { x: [1, 4, 9, 3], size: [2, 3], pad: 'valid', tiled: true, why: '2×3/(2,3)' },
    { x: [1, 7, 8, 2], size: 2, pad: 'valid', tiled: false, why: "a row left over: the loop" },
    { x: [1, 7, 7, 2], size: 2, pad: 'same', tiled: false, why: "'same' with padding: the loop" },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')}, ${String(c.size)} stride = window, pad ${c.pad} (${c.why}), ties, through tf.grad`, async () => {
      // Ties everywhere (ReLU zeros, values on a grid of ¼): the first maximum of a window gets dy.
      const xs = Float32Array.from(values(c.x, 61), (v) => Math.max(0, Math.round(4 * v) / 4));
      const f = () => {
        const x = tf.tensor4d(xs, c.x as [number, number, number, number]);
        const p = pool(c.size, c.pad);
        const outShape = p(x).shape;
        const dy = tf.tensor(values(outShape, 62), outShape);
        return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(p(t), dy)))(x)];
      };
      const r = await both(f);
      assert.equal(r.stepCalls, c.tiled ? 2 : 0);
      // Object.is per entry: +0 (not −0) where a negative dy is not sent.
      assert.deepEqual(r.wasm, r.cpu);
      assert.ok(r.cpu.some((v) => v !== 0));
    });
  }

  it('a window of equal values sends dy to its first entry; a window of [1, 3; 3, 2] to the first 3', async () => {
    const f = () => {
      const x = tf.tensor4d([5, 5, 1, 3, 5, 5, 3, 2], [1, 2, 4, 1]);
      const dy = tf.tensor4d([-2, 7], [1, 1, 2, 1]);
      return [tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: dy }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor];
    };
    const r = await both(f);
    assert.equal(r.stepCalls, 2);
    assert.deepEqual(r.cpu, [-2, 0, 0, 7, 0, 0, 0, 0]);
    assert.deepEqual(r.wasm, r.cpu);
  });

  it('overlapping windows (3×3 stride 2) take the JS loop', async () => {
    const r = await both(maxPoolGrad({ x: [1, 9, 9, 2], size: 3, strides: 2, pad: 'valid' }, values([1, 9, 9, 2], 63)));
    assert.equal(r.stepCalls, 0);
    assert.ok(relativeDiff(r.wasm, r.cpu) <= 1e-6);
  });

  const nonFinite: { label: string; x: number[]; dy: number[]; expected: number[] }[] = [
    // Windows (2×2/2 of [1,2,6,1]): [NaN 1; 2 NaN], [−∞ −∞; −∞ −∞], [−∞ 4; 0 −∞].
    { label: 'NaN and −∞ in x', x: [NaN, 1, -Infinity, -Infinity, -Infinity, 4, 2, NaN, -Infinity, -Infinity, 0, -Infinity], dy: [1, 2, 3], expected: [0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0] },
    // Finite x, ±∞ and NaN in dy: sent where selected, and 0 (not NaN) at the other entries.
    { label: '±∞ and NaN in dy', x: [0, 1, 5, 2, 3, 3, 0, 0, 4, 1, 3, 2], dy: [Infinity, NaN, -Infinity], expected: [0, Infinity, NaN, 0, -Infinity, 0, 0, 0, 0, 0, 0, 0] },
  ];
  for (const c of nonFinite) {
    it(`${c.label}: the JS loop, the cpu backend's answer`, async () => {
      const f = () => {
        const x = tf.tensor4d(c.x, [1, 2, 6, 1]);
        const dy = tf.tensor4d(c.dy, [1, 1, 3, 1]);
        return [tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: dy }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor];
      };
      const r = await both(f);
      assert.equal(r.stepCalls, 0);
      assert.deepEqual(r.cpu, c.expected);
      assert.deepEqual(r.wasm, r.cpu);
    });
  }
});

describe('Sum over leading or middle axes on accelerated wasm (one average pool) matches the cpu backend', () => {
  // A spy on wasm's AvgPool records the pools the replacement runs.
  const pools: number[][] = [];
  let restore: () => void = () => undefined;
  before(() => {
    restore = spyOnWasmKernel('AvgPool', (args) => pools.push(args.inputs.x!.shape));
  });
  after(() => restore());
  const cases: { x: number[]; axis: number[]; keepDims?: boolean; dtype?: 'int32'; pooled: boolean }[] = [
    // 300 rows: a scale 1/R that float32 rounds.
    // A conv bias gradient, a Dense one, the Tile gradient's sum (size-1 axes between), keepDims.
    { x: [16, 8, 8, 16], axis: [0, 1, 2], pooled: true },
    { x: [300, 7], axis: [0], pooled: true },
    { x: [16, 1, 64, 1, 1, 8], axis: [0, 1, 2, 3, 4], pooled: true },
    { x: [6, 1, 5, 4], axis: [0, 2], keepDims: true, pooled: true },
    // A middle block (LayerNormalization's gradient), with size-1 axes around.
    { x: [4, 5, 6], axis: [1], pooled: true },
    { x: [1, 16, 1, 8, 6, 1], axis: [0, 2, 3, 5], pooled: true },
    // The innermost axes (also behind a size-1 axis: wasm's own loop on [A, R]), two separate blocks,
    // all axes, int32: no pool.
    { x: [4, 5, 6], axis: [2], pooled: false },
    { x: [1, 4, 1, 5, 6, 1], axis: [0, 4], pooled: false },
    { x: [3, 4, 5, 6], axis: [1, 3], pooled: false },
    { x: [4, 5], axis: [0, 1], pooled: false },
    { x: [9, 4], axis: [0], dtype: 'int32', pooled: false },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')}${c.dtype ? ' (int32)' : ''}, axes ${c.axis.join(',')}${c.keepDims ? ', keepDims' : ''}: ${c.pooled ? 'one [1,R,1,C] pool' : 'the original kernel'}`, async () => {
      const f = () => {
        const v = values(c.x, 61);
        const x = c.dtype === 'int32' ? tf.tensor(Int32Array.from(v, (e) => Math.round(100 * e)), c.x, 'int32') : tf.tensor(v, c.x);
        return [tf.sum(x, c.axis, c.keepDims)];
      };
      await useBackend('wasm');
      tf.dispose(tf.tidy(f));
      const start = counts();
      pools.length = 0;
      const wasm = await on('wasm', f);
      const seen = [...pools];
      assert.deepEqual(counts(), start);
      const cpu = await on('cpu', f);
      assert.deepEqual(wasm[0].shape, cpu[0].shape);
      if (c.dtype === 'int32') assert.deepEqual(Array.from(wasm[0].data), Array.from(cpu[0].data));
      else assert.ok(relativeDiff(wasm[0].data, cpu[0].data) <= tolerance, `relative difference ${relativeDiff(wasm[0].data, cpu[0].data)}`);
      const rows = c.x.filter((_, i) => c.axis.includes(i)).reduce((a, b) => a * b, 1);
      const first = c.x.findIndex((d, i) => d > 1 && c.axis.includes(i));
      const before = c.x.slice(0, first).reduce((a, b) => a * b, 1);
      const after = c.x.reduce((a, b) => a * b, 1) / rows / before;
      assert.deepEqual(seen, c.pooled ? [[before, rows, 1, after]] : []);
    });
  }
});

describe('Conv2DBackpropFilter: the swapped convolution and im2col both match the cpu backend', () => {
  const cases: { x: [number, number, number, number]; filter: [number, number, number, number]; strides: number; pad: 'same' | 'valid' | number }[] = [
    // The cifar10-cnn layers at batch 4, a strided conv, a valid 5×5, a numeric pad with rounding.
    { x: [4, 16, 16, 3], filter: [3, 3, 3, 16], strides: 1, pad: 'same' },
    { x: [4, 8, 8, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'same' },
    { x: [3, 9, 8, 4], filter: [3, 3, 4, 5], strides: 2, pad: 'same' },
    { x: [2, 10, 9, 3], filter: [5, 5, 3, 4], strides: 2, pad: 'valid' },
    { x: [2, 7, 7, 2], filter: [3, 3, 2, 3], strides: 2, pad: 1 },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')}, filter ${c.filter.join('×')}, strides ${c.strides}, pad ${String(c.pad)}`, async () => {
      const rounding = typeof c.pad === 'number' ? 'round' : undefined;
      const attrs = { strides: [c.strides, c.strides], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: rounding, filterShape: c.filter } as unknown as tf.NamedAttrMap;
      const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, rounding).outShape;
      const inputs = () => ({ x: tf.tensor4d(values(c.x, 71), c.x), dy: tf.tensor(values(outShape, 72), outShape) });
      const cpu = await on('cpu', () => [tf.engine().runKernel('Conv2DBackpropFilter', inputs(), attrs) as tf.Tensor]);
      await useBackend('wasm');
      for (const filterMethod of ['auto', 'im2col'] as const) {
        const kernel = wasmConvKernelConfig('Conv2DBackpropFilter', 'wasm', { filterMethod }).kernelFunc;
        const { x, dy } = inputs();
        const start = counts();
        const info = kernel({ inputs: { x, dy }, backend: tf.engine().backend, attrs }) as tf.TensorInfo;
        assert.equal(counts().dataIds, start.dataIds + 1, `${filterMethod}: only the result is left`);
        const got = tf.engine().backend.readSync(info.dataId) as Float32Array;
        tf.engine().backend.disposeData(info.dataId);
        tf.dispose([x, dy]);
        assert.deepEqual(info.shape, c.filter);
        assert.ok(relativeDiff(got, cpu[0].data) <= tolerance, `${filterMethod}: relative difference ${relativeDiff(got, cpu[0].data)}`);
      }
    });
  }

  it('an unknown filterMethod is a RangeError naming the choices', () => {
    assert.throws(() => wasmConvKernelConfig('Conv2DBackpropFilter', 'wasm', { filterMethod: 'gemm' as 'auto' }), /filterMethod must be 'auto' or 'im2col', got "gemm"/);
  });
});

describe('FusedBatchNorm on accelerated wasm (whole-tensor kernels) matches the cpu backend', () => {
  const cases: { x: number[]; param: number[]; offset: boolean; scale: boolean }[] = [
    // tfjs-layers' LayerNormalization: parameters of x's full shape; BatchNormalization: the last axis.
    { x: [1, 4, 8, 8], param: [4, 8, 8], offset: true, scale: true },
    { x: [2, 3, 4, 5], param: [5], offset: true, scale: true },
    { x: [6, 7], param: [7], offset: false, scale: false },
    // A parameter that is neither (modulo indexing in both kernels): wasm's own kernel.
    { x: [2, 3, 4, 6], param: [3], offset: true, scale: false },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')}, parameters ${c.param.join('×')}${c.offset ? ', offset' : ''}${c.scale ? ', scale' : ''}`, async () => {
      const f = () => {
        const p = (seed: number, positive = false) => tf.tensor(Float32Array.from(values(c.param, seed), (v) => (positive ? 0.5 + Math.abs(v) : v)), c.param);
        const inputs: tf.NamedTensorMap = { x: tf.tensor(values(c.x, 81), c.x), mean: p(82), variance: p(83, true) };
        if (c.offset) inputs.offset = p(84);
        if (c.scale) inputs.scale = p(85);
        return [tf.engine().runKernel('FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 }) as tf.Tensor];
      };
      await useBackend('wasm');
      tf.dispose(tf.tidy(f));
      const start = counts();
      const wasm = await on('wasm', f);
      assert.deepEqual(counts(), start);
      const cpu = await on('cpu', f);
      assert.deepEqual(wasm[0].shape, cpu[0].shape);
      assert.ok(relativeDiff(wasm[0].data, cpu[0].data) <= tolerance, `relative difference ${relativeDiff(wasm[0].data, cpu[0].data)}`);
    });
  }
});

/** A small ConvNet (the cifar10-cnn layer kinds) trained for a few steps: the losses of each step. */
async function convFitLosses(backend: 'wasm' | 'cpu'): Promise<number[]> {
  await useBackend(backend);
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
  const weights = model.getWeights().map((w, i) => tf.tensor(values(w.shape, 200 + i), w.shape));
  model.setWeights(weights);
  tf.dispose(weights);
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const x = tf.tensor4d(values([24, 8, 8, 3], 3), [24, 8, 8, 3]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: 24 }, (_, i) => (i * 7) % 5), 'int32'), 5));
  const history = await model.fit(x, y, { epochs: 4, batchSize: 8, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return history.history.loss as number[];
}

describe('model.fit of a small ConvNet on accelerated wasm', () => {
  it('gives the cpu backend losses and leaves no tensor behind (batch gather, pool gradient, bias sums, filter gradient)', async () => {
    await useBackend('wasm');
    await convFitLosses('wasm');
    const start = counts();
    const wasm = await convFitLosses('wasm');
    assert.deepEqual(counts(), start);
    const cpu = await convFitLosses('cpu');
    assert.equal(wasm.length, 4);
    assert.ok(wasm[3] < wasm[0], `training lowers the loss: ${wasm.join(', ')}`);
    for (let i = 0; i < wasm.length; i++) assert.ok(Math.abs(wasm[i] - cpu[i]) <= 1e-4 * Math.abs(cpu[i]), `epoch ${i}: ${wasm[i]} vs ${cpu[i]}`);
  });
});
