/**
 * HraConv2D / Oftv2Conv2D (tfjs/adapters.ts): a frozen copy of a Conv2D layer plus a trainable orthogonal
 * adapter on the kernel's flattened input side. The adapted kernel equals PEFT's merged weight computed
 * in float64 on the PyTorch layout (`weight.view(out, in·kh·kw)`: HRA `W·H_1⋯H_r`, OFT `R·Wᵀ` with
 * blocks over the `(in, kh, kw)` order — and not over TensorFlow.js's `(kh, kw, in)` order), keeps the
 * flattened kernel's singular values (float64 Jacobi SVD) to 1e-5, zero/paired inits leave the output
 * unchanged (OFTv2 bit for bit), the output is conv2d with the adapted kernel for strides, 'same'
 * padding and dilation, only the adapter trains (d·r, blocks·b(b−1)/2 with d = in·kh·kw), configs and
 * model.save/loadLayersModel round-trip, mergeAdapter gives a plain Conv2D with the same outputs, bad
 * arguments are named, and nothing leaks — on cpu and on wasm (whose fused conv adds the bias inside the
 * accumulation: the layer convolves as tfjs-layers' Conv2D does, or the zero init would not be bit-identical).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { matrix64, singularValues64 } from '../../src/linalg/reference.js';
import { convKernelFromRows, convKernelRows, oftKernel } from '../../src/nn/adapters.js';
import { HraConv2D, Oftv2Conv2D, hraConv2D, mergeAdapter, oftv2Conv2D } from '../../src/tfjs/adapters.js';
import { registerWasmConvKernels } from '../../src/tfjs/wasmConv.js';
import { registerWasmSegmentSum } from '../../src/tfjs/wasmSegmentSum.js';


const KH = 3;
const KW = 2;
const CIN = 4;
const FILTERS = 5;
const D = CIN * KH * KW; // 24
const H = 7;
const W = 6;

type ConvOptions = { strides?: number; padding?: 'valid' | 'same'; dilationRate?: number; activation?: 'relu' | 'linear' };

/** A "pretrained" Conv2D layer with seeded weights, built by a one-layer model. */
function pretrained(seed = 1, o: ConvOptions = {}): { model: tfl.Sequential; conv: tfl.layers.Layer } {
  const conv = tfl.layers.conv2d({
    filters: FILTERS,
    kernelSize: [KH, KW],
    strides: o.strides ?? 1,
    padding: o.padding ?? 'valid',
    dilationRate: o.dilationRate ?? 1,
    activation: o.activation ?? 'relu',
    inputShape: [H, W, CIN],
    name: `frozen_conv_${seed}_${Object.values(o).join('_')}`,
  });
  const model = tfl.sequential({ layers: [conv] });
  conv.setWeights([tf.tensor4d(gaussian(D * FILTERS, seed), [KH, KW, CIN, FILTERS]), tf.tensor1d(gaussian(FILTERS, seed + 100))]);
  return { model, conv };
}

function images(n: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(gaussian(n * H * W * CIN, seed), [n, H, W, CIN]);
}

/** Singular values (float64) of a conv kernel flattened to [kh·kw·in, out] (any row order gives the same). */
function s64(kernel: tf.Tensor): Float64Array {
  return singularValues64(matrix64(D, FILTERS, kernel.dataSync()));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function trainableCount(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

// ---------------------------------------------------------------------------------------------------
// PEFT's merge in float64 on the PyTorch layout.

/** PyTorch's `weight.view(out, in·kh·kw)` (rows = output channels) of a TensorFlow.js kernel [kh, kw, in, out]. */
function peftView(k: ArrayLike<number>): number[][] {
  const w = Array.from({ length: FILTERS }, () => new Array<number>(D).fill(0));
  for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) for (let c = 0; c < CIN; c++) for (let o = 0; o < FILTERS; o++) {
    w[o][c * KH * KW + i * KW + j] = k[((i * KW + j) * CIN + c) * FILTERS + o];
  }
  return w;
}

/** Back from the PyTorch view to a TensorFlow.js kernel (flat, [kh, kw, in, out]). */
function fromPeftView(w: number[][]): Float64Array {
  const k = new Float64Array(D * FILTERS);
  for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) for (let c = 0; c < CIN; c++) for (let o = 0; o < FILTERS; o++) {
    k[((i * KW + j) * CIN + c) * FILTERS + o] = w[o][c * KH * KW + i * KW + j];
  }
  return k;
}

/** PEFT HRAConv2d merge: `W·H_1⋯H_r`, `H_i = I − 2û_iû_iᵀ`, `U` `[d, r]` row-major, applied one reflection at a time. */
function peftHra(k: ArrayLike<number>, u: ArrayLike<number>, r: number): Float64Array {
  const w = peftView(k);
  for (let i = 0; i < r; i++) {
    let norm = 0;
    for (let p = 0; p < D; p++) norm += u[p * r + i] ** 2;
    const ui = Array.from({ length: D }, (_, p) => u[p * r + i] / Math.sqrt(norm));
    for (const row of w) {
      const dot = row.reduce((s, v, p) => s + v * ui[p], 0);
      for (let p = 0; p < D; p++) row[p] -= 2 * dot * ui[p];
    }
  }
  return fromPeftView(w);
}

/** PEFT's `_cayley_batch` with 5 Neumann terms on one packed block: `I + 2Q + 2Q² + 2Q³ + Q⁴`. */
function cayleyNeumann64(packed: ArrayLike<number>, b: number): number[][] {
  const q = Array.from({ length: b }, () => new Array<number>(b).fill(0));
  let k = 0;
  for (let i = 0; i < b; i++) for (let j = i + 1; j < b; j++) {
    q[i][j] = packed[k];
    q[j][i] = -packed[k];
    k++;
  }
  const mul = (x: number[][], y: number[][]) => x.map((row) => y[0].map((_, j) => row.reduce((s, v, t) => s + v * y[t][j], 0)));
  const q2 = mul(q, q);
  const q3 = mul(q2, q);
  const q4 = mul(q3, q);
  return q.map((row, i) => row.map((_, j) => (i === j ? 1 : 0) + 2 * q[i][j] + 2 * q2[i][j] + 2 * q3[i][j] + q4[i][j]));
}

/** PEFT OFT Conv2d merge: `(R·Wᵀ)ᵀ` with `R = diag(R_1…R_k)` over `d` in PyTorch's (in, kh, kw) order. */
function peftOft(k: ArrayLike<number>, q: ArrayLike<number>, b: number): Float64Array {
  const w = peftView(k);
  const n = (b * (b - 1)) / 2;
  const out = w.map((row) => row.slice());
  for (let blk = 0; blk < D / b; blk++) {
    const r = cayleyNeumann64(Array.from(q).slice(blk * n, blk * n + n), b);
    for (let o = 0; o < FILTERS; o++) {
      for (let p = 0; p < b; p++) {
        let s = 0;
        for (let t = 0; t < b; t++) s += r[p][t] * w[o][blk * b + t];
        out[o][blk * b + p] = s;
      }
    }
  }
  return fromPeftView(out);
}

for (const backend of ['cpu', 'wasm'] as const) describe(`HraConv2D and Oftv2Conv2D (${backend})`, () => {
  before(async () => {
    await useBackend(backend);
    // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter (any conv net's training needs it) and no
    // UnsortedSegmentSum (the gradient of the gather that unpacks OFTv2's skew blocks): orthoptim's, as
    // accelerateWasm() registers them.
    if (backend === 'wasm') {
      registerWasmConvKernels();
      registerWasmSegmentSum();
    }
  });

  it("convKernelRows is PyTorch's weight.view(out, in·kh·kw) transposed, and convKernelFromRows its inverse", () => {
    const k = tf.tensor4d(gaussian(D * FILTERS, 40), [KH, KW, CIN, FILTERS]);
    const rows = convKernelRows(k);
    assert.deepEqual(rows.shape, [D, FILTERS]);
    const view = peftView(k.dataSync());
    const got = rows.arraySync();
    for (let p = 0; p < D; p++) for (let o = 0; o < FILTERS; o++) assert.equal(got[p][o], Math.fround(view[o][p]), `row ${p}, column ${o}`);
    const back = convKernelFromRows(rows, k.shape);
    assert.deepEqual(back.dataSync(), k.dataSync());
    assert.throws(() => convKernelRows(tf.zeros([3, 4])), { name: 'RangeError', message: /convKernelRows: a conv kernel must be \[kh, kw, in, out\]/ });
    assert.throws(() => convKernelFromRows(tf.zeros([5, 5]) as tf.Tensor2D, k.shape), { name: 'RangeError', message: /convKernelFromRows: rows must be \[24, 5\]/ });
    tf.dispose([k, rows, back]);
  });

  it('start as the frozen layer: OFTv2 bit-identical (R = I), HRA to float32 rounding (paired reflections)', () => {
    for (const o of [{}, { strides: 2, padding: 'same' as const }, { dilationRate: 2, padding: 'same' as const, activation: 'linear' as const }]) {
      const { model, conv } = pretrained(2, o);
      const x = images(3, 3);
      const base = model.predict(x) as tf.Tensor;
      const oft = tfl.sequential({ layers: [oftv2Conv2D(conv, { blockSize: 6, inputShape: [H, W, CIN] })] });
      const yOft = oft.predict(x) as tf.Tensor;
      assert.deepEqual(yOft.shape, base.shape);
      assert.deepEqual(yOft.dataSync(), base.dataSync(), `OFTv2 ${JSON.stringify(o)}`);
      const hra = tfl.sequential({ layers: [hraConv2D(conv, { rank: 4, inputShape: [H, W, CIN] })] });
      const yHra = hra.predict(x) as tf.Tensor;
      const err = maxAbsDiff(yHra.dataSync(), base.dataSync());
      assert.ok(err < 1e-5, `HRA identity init moved the output by ${err} (${JSON.stringify(o)})`);
      tf.dispose([x, base, yOft, yHra]);
      [model, oft, hra].forEach((m) => m.dispose());
    }
  });

  it("the adapted kernel is PEFT's merged weight on the (in, kh, kw)-flattened side (float64 reference), not the (kh, kw, in) one", () => {
    const { model, conv } = pretrained(4, { activation: 'linear' });
    const frozen = conv.getWeights()[0];
    const k = frozen.dataSync();
    const hra = hraConv2D(conv, { rank: 6, init: 'random', seed: 5, inputShape: [H, W, CIN] });
    const mh = tfl.sequential({ layers: [hra] });
    const u = hra.trainableWeights[0].read().dataSync();
    const kh = hra.adaptedKernel();
    assert.deepEqual(kh.shape, [KH, KW, CIN, FILTERS]);
    const eh = maxAbsDiff(kh.dataSync(), peftHra(k, u, 6));
    assert.ok(eh < 1e-5, `HRA vs PEFT float64: ${eh}`);
    assert.ok(maxAbsDiff(kh.dataSync(), k) > 0.1, 'a random HRA init moves the kernel');

    const b = 6;
    const oft = oftv2Conv2D(conv, { blockSize: b, inputShape: [H, W, CIN] });
    const mo = tfl.sequential({ layers: [oft] });
    const q = gaussian((D / b) * 15, 6).map((v) => 0.05 * v);
    oft.setWeights([tf.tensor2d(q, [D / b, 15]), oft.getWeights()[1], oft.getWeights()[2]]);
    const ko = oft.adaptedKernel();
    const eo = maxAbsDiff(ko.dataSync(), peftOft(k, q, b));
    assert.ok(eo < 1e-5, `OFTv2 vs PEFT float64: ${eo}`);
    // Blocks over TensorFlow.js's own (kh, kw, in) flattening would rotate other rows together.
    const own = oftKernel(frozen, tf.tensor2d(q, [D / b, 15]), { blockSize: b });
    assert.ok(maxAbsDiff(own.dataSync(), ko.dataSync()) > 1e-3, 'the (kh, kw, in) order is another adapter');
    tf.dispose([kh, ko, own]);
    [model, mh, mo].forEach((m) => m.dispose());
  });

  it("singular values of the flattened adapted kernel equal the frozen kernel's to 1e-5; the output is conv2d with it", () => {
    for (const o of [{ strides: 2, padding: 'same' as const }, { dilationRate: 2 }]) {
      const { model, conv } = pretrained(7, o);
      const [frozen, bias] = conv.getWeights();
      const s0 = s64(frozen);
      const hra = hraConv2D(conv, { rank: 5, init: 'random', seed: 8, gramSchmidt: o.dilationRate === 2, inputShape: [H, W, CIN] });
      const oft = oftv2Conv2D(conv, { blocks: 2, init: 'random', seed: 9, inputShape: [H, W, CIN] });
      for (const layer of [hra, oft]) {
        const m = tfl.sequential({ layers: [layer] });
        const k = layer.adaptedKernel();
        assert.ok(maxAbsDiff(k.dataSync(), frozen.dataSync()) > 1e-3, `${layer.getClassName()}: the adapter moves the kernel`);
        // HRA is exactly orthogonal; OFTv2's random init (std 0.1, b = 12) has a Neumann defect ≈ 2‖Q‖⁴
        // above 1e-5, so its singular values are checked below with small skew parameters.
        if (layer === hra) {
          const dev = maxAbsDiff(s64(k), s0);
          assert.ok(dev < 1e-5 * s0[0], `HRA ${JSON.stringify(o)}: ${dev}`);
        }
        const x = images(2, 10);
        const y = m.predict(x) as tf.Tensor;
        const ref = tf.tidy(() => {
          const z = tf.add(tf.conv2d(x, k as tf.Tensor4D, o.strides ?? 1, o.padding ?? 'valid', 'NHWC', o.dilationRate ?? 1), bias);
          return tf.relu(z);
        });
        assert.deepEqual(y.shape, ref.shape);
        assert.ok(maxAbsDiff(y.dataSync(), ref.dataSync()) < 1e-5, `${layer.getClassName()} output`);
        assert.deepEqual(layer.computeOutputShape([null, H, W, CIN]), [null, ...ref.shape.slice(1)]);
        tf.dispose([k, x, y, ref]);
        m.dispose();
      }
      model.dispose();
    }
    // OFTv2 with small skew parameters (entries 0.005·N(0, 1), ‖Q‖₂ ≲ 0.03): the Neumann defect ≈ 2‖Q‖⁴ is far below 1e-5.
    const { model, conv } = pretrained(11, { activation: 'linear' });
    const frozen = conv.getWeights()[0];
    const s0 = s64(frozen);
    for (const opts of [{ blockSize: 4 }, { blockSize: 8, blockShare: true }]) {
      const oft = oftv2Conv2D(conv, { ...opts, inputShape: [H, W, CIN] });
      const m = tfl.sequential({ layers: [oft] });
      const shape = oft.trainableWeights[0].shape as number[];
      oft.setWeights([tf.tensor2d(gaussian(shape[0] * shape[1], 12).map((v) => 0.005 * v), shape as [number, number]), frozen, conv.getWeights()[1]]);
      const k = oft.adaptedKernel();
      assert.ok(maxAbsDiff(k.dataSync(), frozen.dataSync()) > 1e-4, 'the skew parameters move the kernel');
      const dev = maxAbsDiff(s64(k), s0);
      assert.ok(dev < 1e-5 * s0[0], `OFTv2 ${JSON.stringify(opts)}: ${dev}`);
      k.dispose();
      m.dispose();
    }
    model.dispose();
  });

  it('only the adapter is trainable: in·kh·kw·r (HRA) and blocks·b(b−1)/2 (OFTv2, b(b−1)/2 shared)', () => {
    const { model, conv } = pretrained();
    const cases: [tfl.layers.Layer, number][] = [
      [hraConv2D(conv, { rank: 4, inputShape: [H, W, CIN] }), D * 4],
      [hraConv2D(conv, { rank: 1, init: 'random', inputShape: [H, W, CIN] }), D],
      [oftv2Conv2D(conv, { blockSize: 6, inputShape: [H, W, CIN] }), 4 * 15],
      [oftv2Conv2D(conv, { blockSize: 8, blockShare: true, inputShape: [H, W, CIN] }), 28],
      [oftv2Conv2D(conv, { blocks: 1, inputShape: [H, W, CIN] }), (D * (D - 1)) / 2],
    ];
    for (const [layer, count] of cases) {
      const m = tfl.sequential({ layers: [layer] });
      assert.equal(trainableCount(m), count, layer.getClassName());
      assert.equal(m.nonTrainableWeights.length, 2, 'frozen kernel and bias');
      assert.equal(layer.countParams(), D * FILTERS + FILTERS + count);
      m.dispose();
    }
    model.dispose();
  });

  it('fit trains the adapter only: the loss falls, the frozen kernel and bias stay bit-identical', async () => {
    const { model, conv } = pretrained(13, { activation: 'linear' });
    const frozen = conv.getWeights().map((t) => t.dataSync().slice());
    const x = images(16, 14);
    // A target the adapters can reach: the frozen layer after a rotation of its flattened input side.
    const rotated = tf.tidy(() => convKernelFromRows(oftKernel(convKernelRows(conv.getWeights()[0]), tf.tensor2d(gaussian(4 * 15, 15).map((v) => 0.3 * v), [4, 15]), { blockSize: 6 }) as tf.Tensor2D, [KH, KW, CIN, FILTERS]));
    const target = tf.tidy(() => tf.add(tf.conv2d(x, rotated, 1, 'valid'), conv.getWeights()[1]));
    for (const layer of [hraConv2D(conv, { rank: 4, init: 'random', seed: 1, inputShape: [H, W, CIN] }), oftv2Conv2D(conv, { blockSize: 6, inputShape: [H, W, CIN] })]) {
      const m = tfl.sequential({ layers: [layer] });
      m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
      const h = await m.fit(x, target, { epochs: 25, batchSize: 8, shuffle: false, verbose: 0 });
      const losses = h.history.loss as number[];
      assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `${layer.getClassName()}: ${losses[0]} → ${losses[losses.length - 1]}`);
      const w = layer.getWeights(); // [adapter, kernel, bias]
      assert.deepEqual(w[1].dataSync(), frozen[0], 'kernel frozen');
      assert.deepEqual(w[2].dataSync(), frozen[1], 'bias frozen');
      m.dispose();
    }
    assert.deepEqual(conv.getWeights()[0].dataSync(), frozen[0], 'the wrapped Conv2D is untouched');
    tf.dispose([x, rotated, target]);
    model.dispose();
  });

  it('getConfig round-trips through fromConfig; the frozen layer\'s geometry and the adapter options are in it', () => {
    const { model, conv } = pretrained(16, { strides: 2, padding: 'same' });
    const hra = hraConv2D(conv, { rank: 2, gramSchmidt: true, seed: 3, orthogonalityWeight: 1e-4, name: 'hc' });
    const cfg = hra.getConfig();
    assert.deepEqual(
      { filters: cfg.filters, kernelSize: cfg.kernelSize, strides: cfg.strides, padding: cfg.padding, dataFormat: cfg.dataFormat, dilationRate: cfg.dilationRate, activation: cfg.activation, useBias: cfg.useBias, rank: cfg.rank, gramSchmidt: cfg.gramSchmidt, orthogonalityWeight: cfg.orthogonalityWeight, name: cfg.name },
      { filters: FILTERS, kernelSize: [KH, KW], strides: [2, 2], padding: 'same', dataFormat: 'channelsLast', dilationRate: [1, 1], activation: 'relu', useBias: true, rank: 2, gramSchmidt: true, orthogonalityWeight: 1e-4, name: 'hc' },
    );
    const again = HraConv2D.fromConfig(HraConv2D, cfg);
    assert.ok(again instanceof HraConv2D);
    assert.deepEqual(again.getConfig(), cfg);
    const oft = oftv2Conv2D(conv, { blocks: 3, neumannTerms: 6, blockShare: true, init: 'random', seed: 2, name: 'oc' });
    const ocfg = oft.getConfig();
    assert.deepEqual(
      { blockSize: ocfg.blockSize, blocks: ocfg.blocks, neumannTerms: ocfg.neumannTerms, blockShare: ocfg.blockShare, init: ocfg.init, seed: ocfg.seed },
      { blockSize: null, blocks: 3, neumannTerms: 6, blockShare: true, init: 'random', seed: 2 },
    );
    assert.deepEqual(Oftv2Conv2D.fromConfig(Oftv2Conv2D, ocfg).getConfig(), ocfg);
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    assert.ok('orthoptim.HraConv2D' in map && 'orthoptim.Oftv2Conv2D' in map);
    assert.match(hraConv2D(conv).name, /^hra_conv2d_\d+$/);
    assert.match(oftv2Conv2D(conv, { blockSize: 6 }).name, /^oftv2_conv2d_\d+$/);
    for (const l of [hra, oft, again]) {
      (l.apply(tf.zeros([1, H, W, CIN])) as tf.Tensor).dispose();
      l.dispose();
    }
    model.dispose();
  });

  it('a model with both conv adapters round-trips through model.save / tf.loadLayersModel and keeps training', async () => {
    const { model: m1, conv: c1 } = pretrained(20, { padding: 'same' });
    const second = tfl.layers.conv2d({ filters: CIN, kernelSize: 1, inputShape: [H, W, FILTERS], name: 'mix' });
    tfl.sequential({ layers: [second] });
    second.setWeights([tf.tensor4d(gaussian(FILTERS * CIN, 21).map((v) => v / Math.sqrt(FILTERS)), [1, 1, FILTERS, CIN]), tf.zeros([CIN])]);
    const { model: m2, conv: c2 } = pretrained(22, { strides: 2, activation: 'linear' });
    const model = tfl.sequential({
      layers: [
        hraConv2D(c1, { rank: 4, init: 'random', seed: 5, orthogonalityWeight: 0.01, inputShape: [H, W, CIN], name: 'hra' }),
        second,
        oftv2Conv2D(c2, { blockSize: 6, init: 'random', seed: 6, name: 'oft' }),
        tfl.layers.flatten(),
      ],
    });
    const x = images(3, 23);
    const y0 = model.predict(x) as tf.Tensor;
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler((a) => {
        saved = a;
        return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
      }),
    );
    const topology = JSON.stringify(saved!.modelTopology);
    assert.ok(topology.includes('orthoptim.HraConv2D') && topology.includes('orthoptim.Oftv2Conv2D'));
    const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    assert.ok(reloaded.getLayer('hra') instanceof HraConv2D);
    assert.ok(reloaded.getLayer('oft') instanceof Oftv2Conv2D);
    const y1 = reloaded.predict(x) as tf.Tensor;
    assert.deepEqual(y1.dataSync(), y0.dataSync());
    assert.equal(trainableCount(reloaded), D * 4 + 4 * 15 + FILTERS * CIN + CIN);
    assert.equal(trainableCount(reloaded), trainableCount(model));
    assert.equal(reloaded.calculateLosses().length, 1, 'the regularizer comes back');
    reloaded.compile({ optimizer: tf.train.adam(1e-2), loss: 'meanSquaredError' });
    const h = await reloaded.fit(x, tf.zerosLike(y1), { epochs: 3, shuffle: false, verbose: 0 });
    const hl = h.history.loss as number[];
    assert.ok(hl[2] < 0.99 * hl[0], `reloaded fit: ${hl.join(', ')}`);
    tf.dispose([x, y0, y1]);
    [m1, m2, model, reloaded].forEach((m) => m.dispose());
  });

  it('mergeAdapter: a plain Conv2D with the merged kernel and the frozen geometry gives the same outputs', () => {
    for (const o of [{ strides: 2, padding: 'same' as const }, { dilationRate: 2 }]) {
      const { model, conv } = pretrained(30, o);
      const x = images(2, 31);
      for (const layer of [hraConv2D(conv, { rank: 4, init: 'random', seed: 2, inputShape: [H, W, CIN] }), oftv2Conv2D(conv, { blockSize: 8, init: 'random', seed: 3, inputShape: [H, W, CIN] })]) {
        const m = tfl.sequential({ layers: [layer] });
        const merged = mergeAdapter(layer, { inputShape: [H, W, CIN] });
        const mm = tfl.sequential({ layers: [merged] });
        assert.equal(merged.getClassName(), 'Conv2D');
        const mc = merged.getConfig();
        assert.deepEqual([mc.kernelSize, mc.strides, mc.padding, mc.dilationRate, mc.activation], [[KH, KW], [o.strides ?? 1, o.strides ?? 1], o.padding ?? 'valid', [o.dilationRate ?? 1, o.dilationRate ?? 1], 'relu']);
        const k = layer.adaptedKernel();
        assert.deepEqual(merged.getWeights()[0].dataSync(), k.dataSync());
        const [ya, yb] = [m.predict(x) as tf.Tensor, mm.predict(x) as tf.Tensor];
        assert.deepEqual(ya.shape, yb.shape);
        assert.ok(maxAbsDiff(ya.dataSync(), yb.dataSync()) < 1e-5);
        tf.dispose([k, ya, yb]);
        mm.dispose();
        m.dispose();
      }
      x.dispose();
      model.dispose();
    }
  });

  it('names bad arguments', () => {
    const { model, conv } = pretrained();
    const dense = tfl.layers.dense({ units: 3, inputShape: [4] });
    tfl.sequential({ layers: [dense] });
    assert.throws(() => hraConv2D(dense), { name: 'TypeError', message: /hraConv2D: expected a tfjs-layers Conv2D layer, got Dense/ });
    assert.throws(() => oftv2Conv2D(tfl.layers.conv2d({ filters: 2, kernelSize: 3 })), { name: 'RangeError', message: /oftv2Conv2D: the Conv2D layer '.*' is not built/ });
    const nchw = tfl.layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' });
    Object.defineProperty(nchw, 'built', { value: true });
    assert.throws(() => hraConv2D(nchw), { name: 'RangeError', message: /hraConv2D: only channelsLast Conv2D layers can be adapted/ });
    assert.throws(() => hraConv2D(conv, { rank: 3 }), { name: 'RangeError', message: /hraConv2D: the identity init pairs equal reflections, so rank must be even, got 3/ });
    assert.throws(() => hraConv2D(conv, { rnak: 2 } as never), { name: 'RangeError', message: /hraConv2D: unknown option 'rnak'/ });
    assert.throws(() => oftv2Conv2D(conv, { blockSize: 5 }), { name: 'RangeError', message: /oftv2Conv2D: blockSize must divide the input dimension 24, got 5 \(nearest: 4\)/ });
    assert.throws(() => new HraConv2D({ kernelSize: 3 } as never), { name: 'RangeError', message: /hraConv2D: filters is required/ });
    assert.throws(() => new Oftv2Conv2D({ filters: 2 } as never), { name: 'RangeError', message: /oftv2Conv2D: kernelSize is required/ });
    assert.throws(() => new HraConv2D({ filters: 2, kernelSize: [3, 0] }), { name: 'RangeError', message: /hraConv2D: kernelSize must be a positive integer or a pair of them, got \[3,0\]/ });
    assert.throws(() => new HraConv2D({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 }), { name: 'RangeError', message: /hraConv2D: strides \[2, 2\] and dilationRate \[2, 2\] cannot both exceed 1/ });
    assert.throws(() => new HraConv2D({ filters: 3, kernelSize: 3, kernel: tf.zeros([3, 3, 2, 2]) }), { name: 'RangeError', message: /hraConv2D: kernel must be \[kh = 3, kw = 3, in, filters = 3\], got shape \[3, 3, 2, 2\]/ });
    assert.throws(() => new HraConv2D({ filters: 2, kernelSize: 1, bias: tf.zeros([3]) }), { name: 'RangeError', message: /hraConv2D: bias must be \[filters = 2\], got shape \[3\]/ });
    const given = new Oftv2Conv2D({ filters: 2, kernelSize: 3, blockSize: 9, kernel: tf.zeros([3, 3, 2, 2]) });
    assert.throws(() => given.apply(tf.zeros([1, 5, 5, 3])), { name: 'RangeError', message: /oftv2Conv2D: the frozen kernel has 2 input channels but the input has 3/ });
    const wide = new HraConv2D({ filters: 2, kernelSize: 1, rank: 8, init: 'random' });
    assert.throws(() => wide.apply(tf.zeros([1, 4, 4, 4])), { name: 'RangeError', message: /hraConv2D: rank 8 exceeds the input dimension 4 \(in·kh·kw\)/ });
    const late = new Oftv2Conv2D({ filters: 2, kernelSize: 2, blockSize: 5 });
    assert.throws(() => late.apply(tf.zeros([1, 4, 4, 3])), { name: 'RangeError', message: /oftv2Conv2D: blockSize must divide the input dimension 12, got 5/ });
    const built = hraConv2D(conv, { rank: 2 });
    (built.apply(tf.zeros([1, H, W, CIN])) as tf.Tensor).dispose();
    assert.throws(() => built.call(tf.zeros([H, W, CIN])), { name: 'RangeError', message: /hraConv2D: the input must be \[batch, height, width, channels\], got shape \[7, 6, 4\]/ });
    built.dispose(); // the others never built (tfjs-layers refuses to dispose an unbuilt layer)
    model.dispose();
  });

  it('no leaks: predictions, fits, merges and dispose', async () => {
    const { model, conv } = pretrained(40, { padding: 'same' });
    const m = tfl.sequential({
      layers: [
        hraConv2D(conv, { rank: 2, orthogonalityWeight: 0.1, inputShape: [H, W, CIN] }),
        tfl.layers.conv2d({ filters: CIN, kernelSize: 1 }),
        oftv2Conv2D(pretrained(41, { padding: 'same' }).conv, { blockSize: 6 }),
      ],
    });
    m.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = images(4, 42);
    const y = tf.zeros([4, H, W, FILTERS]);
    await m.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
    (m.predict(x) as tf.Tensor).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) (m.predict(x) as tf.Tensor).dispose();
    await m.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0 });
    for (const l of [m.layers[0], m.layers[2]] as (HraConv2D | Oftv2Conv2D)[]) l.adaptedKernel().dispose();
    assert.equal(tf.memory().numTensors, before);
    const merged = tfl.sequential({ layers: [mergeAdapter(m.layers[0] as HraConv2D, { inputShape: [H, W, CIN] })] });
    merged.dispose();
    assert.equal(tf.memory().numTensors, before, 'a merged layer disposed leaves nothing');
    m.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
