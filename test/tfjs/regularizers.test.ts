/**
 * The orthogonality regularizers as tfjs-layers `kernelRegularizer`s (tfjs/regularizers.ts): a layer
 * takes them (an equal copy, through the Keras config view), `model.fit` adds exactly
 * `weight × penalty(kernel)` to the loss, training with them lowers the penalty, a model with them
 * round-trips through `model.save`/`tf.loadLayersModel`, bad options are named, nothing leaks, and the
 * module does not import tfjs-layers (an optional peer dependency).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { groupOrthogonality, lambdaOrthogonality, lorth, softOrthogonality } from '../../src/nn/regularizers.js';
import {
  GroupOrthogonalityRegularizer,
  LambdaOrthogonalityRegularizer,
  LorthRegularizer,
  OrthogonalityRegularizer,
  SoftOrthogonalityRegularizer,
  groupOrthogonalityRegularizer,
  lambdaOrthogonalityRegularizer,
  lorthRegularizer,
  softOrthogonalityRegularizer,
} from '../../src/tfjs/regularizers.js';

await useBackend('cpu');

interface Regularized {
  kernelRegularizer?: OrthogonalityRegularizer;
}
const regularizerOf = (layer: tfl.layers.Layer) => (layer as unknown as Regularized).kernelRegularizer;

function scalar(t: tf.Scalar): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

function assertClose(actual: number, expected: number, rtol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rtol * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}

describe('orthogonality regularizers for tfjs-layers', () => {
  it('have defaults from the references, configs, and registered class names', () => {
    assert.deepEqual(softOrthogonalityRegularizer().getConfig(), { weight: 1 });
    assert.deepEqual(groupOrthogonalityRegularizer().getConfig(), { weight: 1e-2, groups: 32, minFilters: 4, variant: 'inter' });
    assert.deepEqual(lorthRegularizer().getConfig(), { weight: 1, stride: 1 });
    assert.deepEqual(lambdaOrthogonalityRegularizer({ threshold: 0.1 }).getConfig(), {
      defect: 'frob', threshold: 0.1, weight: 1, powerIterations: 32,
    });
    const names = [softOrthogonalityRegularizer(), groupOrthogonalityRegularizer(), lorthRegularizer(), lambdaOrthogonalityRegularizer({ threshold: 0 })].map((r) => r.getClassName());
    assert.deepEqual(names, ['orthoptim.SoftOrthogonality', 'orthoptim.GroupOrthogonality', 'orthoptim.Lorth', 'orthoptim.LambdaOrthogonality']);
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const n of names) assert.ok(n in map, `${n} is registered`);
  });

  it('apply = weight × the plain function', () => {
    const dense = tf.tensor(gaussian(6 * 8, 1), [6, 8]);
    const conv = tf.tensor(gaussian(3 * 3 * 2 * 8, 2).map((x) => 0.3 * x), [3, 3, 2, 8]);
    assertClose(scalar(softOrthogonalityRegularizer({ weight: 0.3 }).apply(dense)), 0.3 * scalar(softOrthogonality(dense)), 1e-6, 'soft');
    assertClose(
      scalar(groupOrthogonalityRegularizer({ variant: 'intra', minFilters: 2 }).apply(conv)),
      1e-2 * scalar(groupOrthogonality(conv, { variant: 'intra', minFilters: 2 })),
      1e-6,
      'GOR',
    );
    assertClose(scalar(lorthRegularizer({ weight: 2, stride: 2 }).apply(conv)), 2 * scalar(lorth(conv, { stride: 2 })), 1e-6, 'Lorth');
    const lam = { defect: 'spectral' as const, threshold: 0.5, weight: 0.2 };
    assertClose(scalar(lambdaOrthogonalityRegularizer(lam).apply(dense)), scalar(lambdaOrthogonality(dense, lam)), 1e-6, 'λ');
    tf.dispose([dense, conv]);
  });

  it('a layer takes one as kernelRegularizer (an equal copy of the same class) and names it in its config', () => {
    const reg = groupOrthogonalityRegularizer({ variant: 'intra', weight: 0.05 });
    const layer = tfl.layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [6, 6, 2], kernelRegularizer: reg });
    const held = regularizerOf(layer);
    assert.ok(held instanceof GroupOrthogonalityRegularizer);
    assert.deepEqual(held.getConfig(), reg.getConfig());
    const config = layer.getConfig() as { kernelRegularizer: { className: string; config: Record<string, unknown> } };
    assert.equal(config.kernelRegularizer.className, 'orthoptim.GroupOrthogonality');
    assert.deepEqual(config.kernelRegularizer.config, reg.getConfig());
  });

  it('model.fit adds weight × penalty(kernel) to the loss at step 0', async () => {
    const x = tf.tensor(gaussian(16 * 6, 3), [16, 6]);
    const y = tf.tensor(gaussian(16 * 4, 4), [16, 4]);
    const kernel = gaussian(6 * 4, 5).map((v) => 0.5 * v);
    const cases: [string, (w: number) => OrthogonalityRegularizer, (k: tf.Tensor) => tf.Scalar][] = [
      ['soft', (w) => softOrthogonalityRegularizer({ weight: w }), (k) => softOrthogonality(k)],
      ['GOR', (w) => groupOrthogonalityRegularizer({ weight: w, minFilters: 2 }), (k) => groupOrthogonality(k, { minFilters: 2 })],
      ['λ', (w) => lambdaOrthogonalityRegularizer({ weight: w, threshold: 0.5 }), (k) => lambdaOrthogonality(k, { threshold: 0.5 })],
    ];
    const lossAtStep0 = async (reg: OrthogonalityRegularizer) => {
      const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [6], useBias: false, kernelRegularizer: reg })] });
      model.setWeights([tf.tensor(kernel, [6, 4])]);
      model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
      const h = await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      model.dispose();
      return h.history.loss[0] as number;
    };
    for (const [name, make, penalty] of cases) {
      const weight = 0.37;
      const expected = weight * scalar(tf.tidy(() => penalty(tf.tensor(kernel, [6, 4]))));
      assert.ok(expected > 0.1, `${name}: the penalty is visible (${expected})`);
      const diff = (await lossAtStep0(make(weight))) - (await lossAtStep0(make(0)));
      assertClose(diff, expected, 1e-5, name);
    }
    tf.dispose([x, y]);
  });

  it('training with only the regularizer lowers the penalty (Dense soft orthogonality, Conv2D Lorth and GOR)', async () => {
    const x = tf.tensor(gaussian(8 * 5 * 5 * 2, 6), [8, 5, 5, 2]);
    const conv = (reg: OrthogonalityRegularizer) => {
      const model = tfl.sequential({
        layers: [
          // Seeded: with tfjs's Math.random-seeded default init, Lorth ended just above 0.2× in ~1 run of 10.
          tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [5, 5, 2], useBias: false, kernelRegularizer: reg, kernelInitializer: tfl.initializers.glorotUniform({ seed: 11 }) }),
        ],
      });
      return model;
    };
    for (const [name, reg, lr] of [
      ['Lorth', lorthRegularizer(), 0.02],
      ['GOR', groupOrthogonalityRegularizer({ weight: 1, minFilters: 2 }), 0.05],
    ] as const) {
      const model = conv(reg);
      const y = tf.tidy(() => model.predict(x) as tf.Tensor); // the data loss is 0 at the start
      model.compile({ optimizer: tf.train.sgd(lr), loss: 'meanSquaredError' });
      const h = await model.fit(x, y, { epochs: 60, batchSize: 8, shuffle: false, verbose: 0 });
      const losses = h.history.loss as number[];
      assert.ok(losses[losses.length - 1] < 0.2 * losses[0], `${name}: ${losses[0]} → ${losses[losses.length - 1]}`);
      model.dispose();
      y.dispose();
    }
    const xs = tf.tensor(gaussian(8 * 8, 7), [8, 8]);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [8], useBias: false, kernelRegularizer: softOrthogonalityRegularizer(), kernelInitializer: tfl.initializers.glorotUniform({ seed: 12 }) })] });
    const ys = tf.tidy(() => model.predict(xs) as tf.Tensor);
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const before = scalar(softOrthogonality(model.getWeights()[0]));
    await model.fit(xs, ys, { epochs: 60, batchSize: 8, shuffle: false, verbose: 0 });
    const after = scalar(softOrthogonality(model.getWeights()[0]));
    assert.ok(after < 0.05 * before, `soft: ${before} → ${after}`);
    model.dispose();
    tf.dispose([x, xs, ys]);
  });

  it('a model with every regularizer round-trips through model.save / tf.loadLayersModel', async () => {
    const input = tfl.input({ shape: [7, 7, 2] });
    let h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, name: 'c1', kernelRegularizer: lorthRegularizer({ stride: 2, weight: 0.5 }), strides: 2 }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.conv2d({ filters: 8, kernelSize: 1, name: 'c2', kernelRegularizer: groupOrthogonalityRegularizer({ variant: 'intra', minFilters: 2, groups: 4 }) }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.dense({ units: 6, name: 'd1', kernelRegularizer: softOrthogonalityRegularizer({ weight: 0.25 }) }).apply(h) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 6, name: 'd2', kernelRegularizer: lambdaOrthogonalityRegularizer({ defect: 'frobSquared', threshold: 0.3, weight: 2 }) }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler((a) => {
        saved = a;
        return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
      }),
    );
    const topology = JSON.stringify(saved!.modelTopology);
    for (const n of ['orthoptim.Lorth', 'orthoptim.GroupOrthogonality', 'orthoptim.SoftOrthogonality', 'orthoptim.LambdaOrthogonality']) {
      assert.ok(topology.includes(n), `${n} in the saved topology`);
    }
    const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const classes = [LorthRegularizer, GroupOrthogonalityRegularizer, SoftOrthogonalityRegularizer, LambdaOrthogonalityRegularizer];
    ['c1', 'c2', 'd1', 'd2'].forEach((name, i) => {
      const a = regularizerOf(model.getLayer(name))!;
      const b = regularizerOf(reloaded.getLayer(name))!;
      assert.ok(b instanceof classes[i], `${name}: ${b?.constructor.name}`);
      assert.deepEqual(b.getConfig(), a.getConfig(), name);
      const kernel = reloaded.getLayer(name).getWeights()[0];
      const va = scalar(a.apply(model.getLayer(name).getWeights()[0]));
      const vb = scalar(b.apply(kernel));
      assert.ok(va > 0, `${name}: a visible penalty`);
      assert.equal(vb, va, `${name}: the same penalty after reload`);
    });
    model.dispose();
    reloaded.dispose();
  });

  it('names bad options: unknown keys, a negative weight, a missing λ threshold, and bad penalty options', () => {
    assert.throws(() => softOrthogonalityRegularizer({ weight: -1 }), /softOrthogonalityRegularizer: weight must be in \[0, inf\), got -1/);
    assert.throws(() => softOrthogonalityRegularizer({ groups: 2 } as object), /softOrthogonalityRegularizer: unknown option 'groups'/);
    assert.throws(() => groupOrthogonalityRegularizer({ variant: 'both' as 'inter' }), /groupOrthogonalityRegularizer: variant must be one of 'inter', 'intra'/);
    assert.throws(() => lorthRegularizer({ stride: 1.5 }), /lorthRegularizer: stride must be an integer/);
    assert.throws(() => lambdaOrthogonalityRegularizer({} as { threshold: number }), /lambdaOrthogonalityRegularizer: threshold \(λ\) is required/);
    // A kernel the penalty cannot take fails when the loss is computed, with the penalty's message.
    assert.throws(() => lorthRegularizer().apply(tf.zeros([2, 2, 3, 3])), /lorth: the kernel size must be odd, got 2/);
  });

  it('leave no tensor behind: apply, and repeated fits with regularized layers', async () => {
    const k = tf.tensor(gaussian(3 * 3 * 2 * 4, 8), [3, 3, 2, 4]);
    const before = tf.memory().numTensors;
    for (const r of [softOrthogonalityRegularizer(), groupOrthogonalityRegularizer({ minFilters: 1 }), lorthRegularizer(), lambdaOrthogonalityRegularizer({ threshold: 0.1, defect: 'spectral' })]) {
      r.apply(k).dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [5, 5, 2], kernelRegularizer: lorthRegularizer() }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3, kernelRegularizer: lambdaOrthogonalityRegularizer({ threshold: 0.1, defect: 'spectral' }) }),
      ],
    });
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = tf.tensor(gaussian(4 * 5 * 5 * 2, 9), [4, 5, 5, 2]);
    const y = tf.zeros([4, 3]);
    await model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
    const afterFirst = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0 });
    assert.equal(tf.memory().numTensors, afterFirst);
    model.dispose();
    tf.dispose([k, x, y]);
  });

  it('the module imports tfjs-core only: tfjs-layers stays an optional peer dependency', () => {
    for (const file of ['src/tfjs/regularizers.ts', 'src/nn/regularizers.ts']) {
      const text = fs.readFileSync(file, 'utf8');
      const packages = [...text.matchAll(/^import[^;]*from\s*'([^.'][^']*)'/gm)].map((m) => m[1]);
      assert.deepEqual(packages, ['@tensorflow/tfjs-core'], file);
    }
  });
});
