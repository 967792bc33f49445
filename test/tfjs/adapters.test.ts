/**
 * HraDense / Oftv2Dense (tfjs/adapters.ts): a frozen copy of a Dense layer plus a trainable orthogonal
 * adapter. The adapted kernel keeps the frozen kernel's singular values (float64 Jacobi SVD), the
 * zero/paired inits leave the model's output unchanged (OFTv2 bit for bit, on cpu and on wasm, whose fused
 * product with bias rounds otherwise than a product and an add), only the adapter trains
 * (the papers' counts d·r and blocks·b(b−1)/2) while the frozen kernel and bias stay bit-identical, a
 * few fit epochs lower the loss, the HRA regularizer reaches the model's loss, configs and
 * model.save/loadLayersModel round-trip, bad arguments are named, and nothing leaks.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { matrix64, singularValues64 } from '../../src/linalg/reference.js';
import { hraKernel, hraOrthogonality, oftKernel } from '../../src/nn/adapters.js';
import { HraDense, Oftv2Dense, hraDense, mergeAdapter, oftv2Dense } from '../../src/tfjs/adapters.js';
import { registerWasmSegmentSum } from '../../src/tfjs/wasmSegmentSum.js';


const D = 12;
const UNITS = 5;

/** A "pretrained" Dense layer with seeded weights, built by a one-layer model. */
function pretrained(activation: 'relu' | 'linear' = 'relu', seed = 1): { model: tfl.Sequential; dense: tfl.layers.Layer } {
  const dense = tfl.layers.dense({ units: UNITS, inputShape: [D], activation, name: `frozen_${seed}_${activation}` });
  const model = tfl.sequential({ layers: [dense] });
  dense.setWeights([tf.tensor2d(gaussian(D * UNITS, seed), [D, UNITS]), tf.tensor1d(gaussian(UNITS, seed + 100))]);
  return { model, dense };
}

function s64(t: tf.Tensor): Float64Array {
  return singularValues64(matrix64(t.shape[0]!, t.shape[1]!, t.dataSync()));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function trainableCount(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

async function saveToMemory(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((a) => {
      saved = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  return saved!;
}

for (const backend of ['cpu', 'wasm'] as const) describe(`HraDense and Oftv2Dense (${backend})`, () => {
  before(async () => {
    await useBackend(backend);
    // tfjs-backend-wasm 4.22 has no UnsortedSegmentSum, the gradient of the gather that unpacks OFTv2's
    // skew blocks: orthoptim's, as accelerateWasm() registers it.
    if (backend === 'wasm') registerWasmSegmentSum();
  });

  it('start as the frozen layer: OFTv2 bit-identical (R = I), HRA to float32 rounding (paired reflections)', () => {
    const { model, dense } = pretrained();
    const x = tf.tensor2d(gaussian(9 * D, 2), [9, D]);
    const base = model.predict(x) as tf.Tensor;
    const oft = tfl.sequential({ layers: [oftv2Dense(dense, { blockSize: 4, inputShape: [D] })] });
    const yOft = oft.predict(x) as tf.Tensor;
    assert.deepEqual(yOft.dataSync(), base.dataSync());
    const hra = tfl.sequential({ layers: [hraDense(dense, { rank: 4, inputShape: [D] })] });
    const yHra = hra.predict(x) as tf.Tensor;
    const err = maxAbsDiff(yHra.dataSync(), base.dataSync());
    assert.ok(err < 1e-5, `HRA identity init moved the output by ${err}`);
    tf.dispose([x, base, yOft, yHra]);
    [model, oft, hra].forEach((m) => m.dispose());
  });

  it('the adapted kernel is orthogonal × frozen: singular values equal the frozen kernel\'s to 1e-5', () => {
    const { model, dense } = pretrained('linear', 3);
    const frozen = dense.getWeights()[0];
    const s0 = s64(frozen);
    const hra = hraDense(dense, { rank: 6, init: 'random', seed: 4, inputShape: [D] });
    const mh = tfl.sequential({ layers: [hra] });
    const kh = hra.adaptedKernel();
    assert.ok(maxAbsDiff(kh.dataSync(), frozen.dataSync()) > 0.1, 'a random HRA init moves the kernel');
    assert.ok(maxAbsDiff(s64(kh), s0) < 1e-5 * s0[0], `HRA: ${maxAbsDiff(s64(kh), s0)}`);
    // OFTv2: small skew blocks, so the Neumann defect 2‖Q‖⁴ is far below 1e-5.
    const oft = oftv2Dense(dense, { blocks: 3, inputShape: [D] });
    const mo = tfl.sequential({ layers: [oft] });
    // Weights are trainable first (tfjs-layers' order): [oft_q, kernel, bias].
    oft.setWeights([tf.tensor2d(gaussian(3 * 6, 5).map((v) => 0.02 * v), [3, 6]), oft.getWeights()[1], oft.getWeights()[2]]);
    const ko = oft.adaptedKernel();
    assert.ok(maxAbsDiff(ko.dataSync(), frozen.dataSync()) > 1e-3, 'the skew parameters move the kernel');
    assert.ok(maxAbsDiff(s64(ko), s0) < 1e-5 * s0[0], `OFTv2: ${maxAbsDiff(s64(ko), s0)}`);
    // The layer's output is x·adaptedKernel + b.
    const x = tf.tensor2d(gaussian(4 * D, 6), [4, D]);
    const y = mo.predict(x) as tf.Tensor;
    const ref = tf.add(tf.matMul(x, oftKernel(frozen, tf.tensor2d(gaussian(3 * 6, 5).map((v) => 0.02 * v), [3, 6]), { blockSize: 4 })), dense.getWeights()[1]);
    assert.ok(maxAbsDiff(y.dataSync(), ref.dataSync()) < 1e-6);
    tf.dispose([kh, ko, x, y, ref]);
    [model, mh, mo].forEach((m) => m.dispose());
  });

  it('only the adapter is trainable: d·r (HRA) and blocks·b(b−1)/2 (OFTv2, b(b−1)/2 shared)', () => {
    const { model, dense } = pretrained();
    const cases: [tfl.layers.Layer, number][] = [
      [hraDense(dense, { rank: 4, inputShape: [D] }), D * 4],
      [hraDense(dense, { rank: 1, init: 'random', inputShape: [D] }), D],
      [oftv2Dense(dense, { blockSize: 4, inputShape: [D] }), 3 * 6],
      [oftv2Dense(dense, { blockSize: 6, blockShare: true, inputShape: [D] }), 15],
      [oftv2Dense(dense, { blocks: 1, inputShape: [D] }), 66],
    ];
    for (const [layer, count] of cases) {
      const m = tfl.sequential({ layers: [layer] });
      assert.equal(trainableCount(m), count, layer.getClassName());
      assert.equal(m.nonTrainableWeights.length, 2, 'frozen kernel and bias');
      assert.equal(layer.countParams(), D * UNITS + UNITS + count);
      m.dispose();
    }
    model.dispose();
  });

  it('fit trains the adapter only: the loss falls, the frozen kernel and bias stay bit-identical', async () => {
    const { model, dense } = pretrained('linear', 7);
    const frozen = dense.getWeights().map((t) => t.dataSync().slice());
    // A target the adapters can reach: the frozen layer after an orthogonal change of its input.
    const x = tf.tensor2d(gaussian(64 * D, 8), [64, D]);
    const target = tf.tidy(() => tf.add(tf.matMul(x, hraKernel(dense.getWeights()[0], tf.tensor2d(gaussian(D * 2, 9), [D, 2]))), dense.getWeights()[1]));
    for (const layer of [hraDense(dense, { rank: 4, init: 'random', seed: 1, inputShape: [D] }), oftv2Dense(dense, { blockSize: 6, inputShape: [D] })]) {
      const m = tfl.sequential({ layers: [layer] });
      m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
      const h = await m.fit(x, target, { epochs: 30, batchSize: 16, shuffle: false, verbose: 0 });
      const losses = h.history.loss as number[];
      assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `${layer.getClassName()}: ${losses[0]} → ${losses[losses.length - 1]}`);
      const w = layer.getWeights(); // [adapter, kernel, bias]
      assert.deepEqual(w[1].dataSync(), frozen[0], 'kernel frozen');
      assert.deepEqual(w[2].dataSync(), frozen[1], 'bias frozen');
      m.dispose();
    }
    assert.deepEqual(dense.getWeights()[0].dataSync(), frozen[0], 'the wrapped Dense is untouched');
    tf.dispose([x, target]);
    model.dispose();
  });

  it('orthogonalityWeight adds λ‖I − ÛᵀÛ‖²_F to the model\'s losses (and nothing when 0)', async () => {
    const { model, dense } = pretrained();
    const layer = hraDense(dense, { rank: 4, init: 'random', orthogonalityWeight: 0.25, inputShape: [D] });
    const m = tfl.sequential({ layers: [layer] });
    assert.equal(layer.losses.length, 1);
    const u = layer.trainableWeights[0].read() as tf.Tensor2D;
    const expected = 0.25 * hraOrthogonality(u).dataSync()[0];
    // A Sequential builds its inner model (the one fit reads calculateLosses from) at compile.
    m.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const losses = m.calculateLosses();
    assert.equal(losses.length, 1);
    const got = losses[0].dataSync()[0];
    assert.ok(expected > 0 && Math.abs(got - expected) < 1e-6 * expected, `${got} vs ${expected}`);
    const plain = tfl.sequential({ layers: [hraDense(dense, { rank: 4, inputShape: [D] })] });
    plain.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    assert.equal(plain.calculateLosses().length, 0);
    // fit adds the penalty to the data loss: on a target equal to the output the data loss is 0.
    const x = tf.zeros([2, D]);
    const yLayer = m.predict(x) as tf.Tensor;
    const h = await m.fit(x, yLayer, { epochs: 1, batchSize: 2, verbose: 0 });
    assert.ok(Math.abs((h.history.loss as number[])[0] - got) < 1e-6 * got, 'the fit loss is the penalty when the data loss is 0');
    tf.dispose([x, yLayer, losses]);
    [model, m, plain].forEach((x) => x.dispose());
  });

  it('getConfig round-trips through fromConfig; activation, units, useBias and the adapter options are in it', () => {
    const { model, dense } = pretrained('relu');
    const hra = hraDense(dense, { rank: 2, gramSchmidt: true, seed: 3, orthogonalityWeight: 1e-4, name: 'h' });
    const cfg = hra.getConfig();
    assert.deepEqual(
      { units: cfg.units, activation: cfg.activation, useBias: cfg.useBias, rank: cfg.rank, gramSchmidt: cfg.gramSchmidt, init: cfg.init, seed: cfg.seed, orthogonalityWeight: cfg.orthogonalityWeight, name: cfg.name },
      { units: UNITS, activation: 'relu', useBias: true, rank: 2, gramSchmidt: true, init: 'identity', seed: 3, orthogonalityWeight: 1e-4, name: 'h' },
    );
    const again = HraDense.fromConfig(HraDense, cfg);
    assert.ok(again instanceof HraDense);
    assert.deepEqual(again.getConfig(), cfg);
    const oft = oftv2Dense(dense, { blocks: 2, neumannTerms: 6, blockShare: true, init: 'random', seed: 2, name: 'o' });
    const ocfg = oft.getConfig();
    assert.deepEqual(
      { blockSize: ocfg.blockSize, blocks: ocfg.blocks, neumannTerms: ocfg.neumannTerms, blockShare: ocfg.blockShare, init: ocfg.init, seed: ocfg.seed },
      { blockSize: null, blocks: 2, neumannTerms: 6, blockShare: true, init: 'random', seed: 2 },
    );
    assert.deepEqual(Oftv2Dense.fromConfig(Oftv2Dense, ocfg).getConfig(), ocfg);
    assert.equal(HraDense.className, 'orthoptim.HraDense');
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    assert.ok('orthoptim.HraDense' in map && 'orthoptim.Oftv2Dense' in map);
    for (const l of [hra, oft, again]) {
      (l.apply(tf.zeros([1, D])) as tf.Tensor).dispose();
      l.dispose();
    }
    model.dispose();
  });

  it('a model with both adapters round-trips through model.save / tf.loadLayersModel and keeps training', async () => {
    const { model: m1, dense: d1 } = pretrained('relu', 10);
    const { model: m2, dense: d2 } = pretrained('linear', 11);
    const second = tfl.layers.dense({ units: D, inputShape: [UNITS], name: 'up' });
    tfl.sequential({ layers: [second] });
    second.setWeights([tf.tensor2d(gaussian(UNITS * D, 16).map((v) => v / Math.sqrt(UNITS)), [UNITS, D]), tf.zeros([D])]);
    const model = tfl.sequential({
      layers: [
        hraDense(d1, { rank: 4, init: 'random', seed: 5, orthogonalityWeight: 0.01, inputShape: [D], name: 'hra' }),
        second,
        oftv2Dense(d2, { blockSize: 4, init: 'random', seed: 6, name: 'oft' }),
      ],
    });
    const x = tf.tensor2d(gaussian(6 * D, 12), [6, D]);
    const y0 = model.predict(x) as tf.Tensor;
    const saved = await saveToMemory(model);
    const topology = JSON.stringify(saved.modelTopology);
    assert.ok(topology.includes('orthoptim.HraDense') && topology.includes('orthoptim.Oftv2Dense'));
    const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
    assert.ok(reloaded.getLayer('hra') instanceof HraDense);
    assert.ok(reloaded.getLayer('oft') instanceof Oftv2Dense);
    const y1 = reloaded.predict(x) as tf.Tensor;
    assert.deepEqual(y1.dataSync(), y0.dataSync());
    assert.equal(trainableCount(reloaded), trainableCount(model));
    assert.equal(reloaded.calculateLosses().length, 1, 'the regularizer comes back');
    reloaded.compile({ optimizer: tf.train.adam(1e-2), loss: 'meanSquaredError' });
    const h = await reloaded.fit(x, tf.zerosLike(y1), { epochs: 3, shuffle: false, verbose: 0 });
    const hl = h.history.loss as number[];
    assert.ok(hl[2] < 0.99 * hl[0], `reloaded fit: ${hl.join(", ")}`);
    tf.dispose([x, y0, y1]);
    [m1, m2, model, reloaded].forEach((m) => m.dispose());
  });

  it('mergeAdapter: a plain Dense with the merged kernel M·K gives the same outputs', () => {
    const { model, dense } = pretrained('relu', 30);
    const x = tf.tensor2d(gaussian(5 * D, 31), [5, D]);
    for (const layer of [hraDense(dense, { rank: 4, init: 'random', seed: 2, inputShape: [D] }), oftv2Dense(dense, { blockSize: 4, init: 'random', seed: 3, inputShape: [D] })]) {
      const m = tfl.sequential({ layers: [layer] });
      const merged = mergeAdapter(layer, { inputShape: [D] });
      const mm = tfl.sequential({ layers: [merged] });
      assert.equal(merged.getClassName(), 'Dense');
      const k = layer.adaptedKernel();
      assert.deepEqual(merged.getWeights()[0].dataSync(), k.dataSync());
      const [ya, yb] = [m.predict(x) as tf.Tensor, mm.predict(x) as tf.Tensor];
      assert.ok(maxAbsDiff(ya.dataSync(), yb.dataSync()) < 1e-5);
      tf.dispose([k, ya, yb]);
      mm.dispose();
      m.dispose();
    }
    assert.throws(() => mergeAdapter(dense as never), { name: 'TypeError', message: /mergeAdapter: expected an HraDense, Oftv2Dense, HraConv2D or Oftv2Conv2D layer/ });
    x.dispose();
    model.dispose();
  });

  it('takes [batch, …, d] inputs like Dense', () => {
    const { model, dense } = pretrained('linear', 13);
    const layer = oftv2Dense(dense, { blockSize: 3 });
    const x = tf.tensor3d(gaussian(2 * 3 * D, 14), [2, 3, D]);
    const y = layer.apply(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 3, UNITS]);
    const ref = dense.apply(x) as tf.Tensor;
    assert.deepEqual(y.dataSync(), ref.dataSync());
    assert.deepEqual(layer.computeOutputShape([null, 3, D]), [null, 3, UNITS]);
    tf.dispose([x, y, ref]);
    layer.dispose();
    model.dispose();
  });

  it('names bad arguments', () => {
    const { model, dense } = pretrained();
    const unbuilt = tfl.layers.dense({ units: 3 });
    assert.throws(() => hraDense(tfl.layers.flatten() as never), { name: 'TypeError', message: /hraDense: expected a tfjs-layers Dense layer, got Flatten/ });
    assert.throws(() => hraDense(unbuilt), { name: 'RangeError', message: /hraDense: the Dense layer '.*' is not built/ });
    assert.throws(() => hraDense(dense, { rank: 3 }), { name: 'RangeError', message: /hraDense: the identity init pairs equal reflections, so rank must be even, got 3/ });
    assert.throws(() => hraDense(dense, { rank: 0 }), { name: 'RangeError', message: /hraDense: rank must be an integer in \[1, inf\), got 0/ });
    assert.throws(() => hraDense(dense, { rnak: 2 } as never), { name: 'RangeError', message: /hraDense: unknown option 'rnak'/ });
    assert.throws(() => new HraDense({} as never), { name: 'RangeError', message: /hraDense: units is required/ });
    assert.throws(() => new HraDense({ units: 3, kernel: tf.zeros([4, 2]) }), { name: 'RangeError', message: /kernel must be \[d, units = 3\], got shape \[4, 2\]/ });
    assert.throws(() => oftv2Dense(dense, { blockSize: 5 }), { name: 'RangeError', message: /oftv2Dense: blockSize must divide the input dimension 12, got 5 \(nearest: 4\)/ });
    assert.throws(() => oftv2Dense(dense, { init: 'identity' as never }), { name: 'RangeError', message: /oftv2Dense: init must be one of 'zeros', 'random'/ });
    // Without a kernel the layout is checked when the layer is built on its input.
    const late = new Oftv2Dense({ units: 2, blockSize: 5 });
    assert.throws(() => late.apply(tf.zeros([1, 12])), { name: 'RangeError', message: /oftv2Dense: blockSize must divide the input dimension 12, got 5/ });
    const wide = new HraDense({ units: 2, rank: 8, init: 'random' });
    assert.throws(() => wide.apply(tf.zeros([1, 4])), { name: 'RangeError', message: /hraDense: rank 8 exceeds the input dimension 4/ });
    model.dispose();
  });

  it('no leaks: predictions, fits and dispose', async () => {
    const { model, dense } = pretrained();
    const m = tfl.sequential({
      layers: [hraDense(dense, { rank: 2, orthogonalityWeight: 0.1, inputShape: [D] }), tfl.layers.dense({ units: D }), oftv2Dense(pretrained('linear', 20).dense, { blockSize: 4 })],
    });
    m.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = tf.tensor2d(gaussian(8 * D, 15), [8, D]);
    const y = tf.zeros([8, UNITS]);
    await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    (m.predict(x) as tf.Tensor).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) (m.predict(x) as tf.Tensor).dispose();
    await m.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
    assert.equal(tf.memory().numTensors, before);
    m.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
