/**
 * transformOptimizer: a user's chain as a tf.Optimizer — the same numbers as the recipe it spells out,
 * through model.compile/fit, model.save + tf.loadLayersModel, checkpoints, the non-finite policy, and
 * named errors for bad names and a second chain under a taken name.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { blobs, mlp, weightValues } from '../support/models.js';
import {
  adam,
  chain,
  constant,
  createOptimizer,
  defineTransformOptimizer,
  isTransformOptimizer,
  listOptimizers,
  NonFiniteGradientError,
  restoreCheckpoint,
  scaleByAdam,
  scaleByLearningRate,
  serializeCheckpoint,
  transformOptimizer,
  type TransformOptimizer,
} from '../../src/index.js';

await useBackend('cpu');

const adamSettings = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false };
const myAdam = chain(scaleByAdam(adamSettings), scaleByLearningRate(constant(0.01)));

async function saveToMemory(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((a) => {
      saved = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
    { includeOptimizer: true },
  );
  return saved!;
}

function bitsEqual(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => assert.deepEqual(Array.from(x), Array.from(b[i]), `${what}: weight ${i}`));
}

describe('transformOptimizer', () => {
  it('a chain of scaleByAdam and scaleByLearningRate trains a model as adam() does, bit for bit', async () => {
    const { x, y } = blobs(3);
    const custom = mlp(3);
    const reference = mlp(3);
    const opt = transformOptimizer(myAdam, { name: 'testAdam' });
    assert.ok(isTransformOptimizer(opt));
    assert.equal(opt.name, 'testAdam');
    assert.equal(opt.getClassName(), 'orthoptim.custom.testAdam');
    custom.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    reference.compile({ optimizer: adam({ learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }), loss: 'categoricalCrossentropy' });
    const before = weightValues(custom);
    const h1 = await custom.fit(x, y, { epochs: 2, batchSize: 64, shuffle: false, verbose: 0 });
    const h2 = await reference.fit(x, y, { epochs: 2, batchSize: 64, shuffle: false, verbose: 0 });
    assert.equal(opt.step, 8, '256 / 64 × 2 epochs');
    bitsEqual(weightValues(custom), weightValues(reference), 'custom chain vs adam()');
    assert.deepEqual(h1.history.loss, h2.history.loss);
    assert.ok(weightValues(custom)[0].some((v, i) => v !== before[0][i]), 'the weights moved');
    assert.ok((h1.history.loss[1] as number) < (h1.history.loss[0] as number), 'the loss fell');
    tf.dispose([x, y]);
  });

  it('model.save + tf.loadLayersModel rebuild it from its name; the next steps are identical', async () => {
    const { x, y } = blobs(5);
    const model = mlp(5);
    const opt = transformOptimizer(myAdam, { name: 'testAdam', clipGlobalNorm: 5 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    await model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
    const saved = await saveToMemory(model);
    const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
    const ropt = reloaded.optimizer as TransformOptimizer;
    assert.ok(isTransformOptimizer(ropt), 'the reloaded optimizer is an orthoptim one');
    assert.equal(ropt.name, 'testAdam');
    assert.deepEqual(ropt.getConfig(), opt.getConfig());
    assert.equal(ropt.common.clipGlobalNorm, 5);
    await model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
    await reloaded.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
    assert.equal(ropt.step, 8);
    bitsEqual(weightValues(reloaded), weightValues(model), 'reloaded vs original after 4 more steps');
    tf.dispose([x, y]);
  });

  it('a checkpoint round-trips into a new optimizer of the same chain', async () => {
    const vs: tf.Variable[] = [tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, 'tco/a'), tf.variable(tf.tensor1d([0.25, -1]), true, 'tco/b')];
    const grads = (k: number) => vs.map((v) => ({ name: v.name, tensor: tf.mul(tf.onesLike(v), k % 2 === 0 ? 0.3 * (k + 1) : -0.7) }));
    const stepWith = (o: TransformOptimizer, k: number) => {
      const g = grads(k);
      o.applyGradients(g);
      tf.dispose(g.map((e) => e.tensor));
    };
    const a = transformOptimizer(myAdam, { name: 'testAdam' });
    for (let k = 0; k < 3; k++) stepWith(a, k);
    const { manifest, data } = await serializeCheckpoint(a);
    assert.equal(manifest.optimizer, 'testAdam');
    assert.deepEqual(manifest.slots.map((s) => s.path), ['0/mu/0', '0/mu/1', '0/nu/0', '0/nu/1']);
    const values = vs.map((v) => v.dataSync().slice());

    const b = transformOptimizer(myAdam, { name: 'testAdam' });
    const report = await restoreCheckpoint(b, manifest, data);
    assert.equal(report.step, 3);
    assert.deepEqual(report.configDifferences, []);
    stepWith(a, 3);
    const afterA = vs.map((v) => v.dataSync().slice());
    vs.forEach((v, i) => v.assign(tf.tensor(values[i], v.shape)));
    stepWith(b, 3);
    assert.equal(b.step, 4);
    vs.forEach((v, i) => assert.deepEqual(Array.from(v.dataSync()), Array.from(afterA[i]), `param ${i}`));

    // A checkpoint of another chain does not fit: refused, saying which slot differs.
    const sgdLike = transformOptimizer(chain(scaleByLearningRate(constant(0.1))), { name: 'testSgd' });
    await assert.rejects(restoreCheckpoint(sgdLike, manifest, data), /of optimizer 'testAdam', this optimizer is 'testSgd'/);
    [a, b, sgdLike].forEach((o) => o.dispose());
    tf.dispose(vs);
  });

  it('a NaN gradient is refused before any write; nonFinite: skip counts it', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'tco/nan');
    const opt = transformOptimizer(myAdam, { name: 'testAdam' });
    const bad = [{ name: v.name, tensor: tf.tensor1d([0.1, Number.NaN, 0.2]) }];
    assert.throws(() => opt.applyGradients(bad), (e: unknown) => {
      assert.ok(e instanceof NonFiniteGradientError);
      assert.match(e.message, /^testAdam: non-finite gradient .*'tco\/nan'/);
      return true;
    });
    assert.deepEqual(Array.from(v.dataSync()), [1, 2, 3]);
    assert.equal(opt.step, 0);
    const skipping = transformOptimizer(myAdam, { name: 'testAdam', nonFinite: 'skip' });
    skipping.applyGradients(bad);
    assert.equal(skipping.skippedSteps, 1);
    assert.equal(skipping.step, 0);
    assert.deepEqual(Array.from(v.dataSync()), [1, 2, 3]);
    opt.dispose();
    skipping.dispose();
    tf.dispose([v, bad[0].tensor]);
  });

  it('the name is registered: createOptimizer and listOptimizers know it', () => {
    const factory = defineTransformOptimizer('testAdam', myAdam);
    assert.equal(factory({}).name, 'testAdam');
    assert.equal(createOptimizer('testAdam').getClassName(), 'orthoptim.custom.testAdam');
    const info = listOptimizers().find((o) => o.name === 'testAdam');
    assert.ok(info);
    assert.deepEqual(info.options, []);
    // A factory function is called once per optimizer made.
    let made = 0;
    const f = defineTransformOptimizer('testCounted', () => {
      made++;
      return chain(scaleByLearningRate(constant(0.5)));
    });
    f();
    f();
    assert.equal(made, 2);
  });

  it('bad names, a taken name and bad options are named errors that register nothing', () => {
    for (const name of ['', '1adam', 'my-adam', 'my adam', 42, undefined]) {
      assert.throws(
        () => transformOptimizer(myAdam, { name } as never),
        (e: unknown) => e instanceof RangeError && /^transformOptimizer: name must be letters and digits/.test(e.message),
        String(name),
      );
    }
    assert.throws(() => transformOptimizer(myAdam, { name: 'muon' }), /^RangeError: transformOptimizer: the name 'muon' is a built-in optimizer's/);
    const other = chain(scaleByLearningRate(constant(0.1)));
    assert.throws(
      () => transformOptimizer(other, { name: 'testAdam' }),
      /^RangeError: transformOptimizer: the name 'testAdam' is already registered for another chain/,
    );
    assert.throws(() => transformOptimizer(myAdam, { name: 'testAdam', lr: 1 } as never), /^RangeError: transformOptimizer: unknown option 'lr'/);
    assert.throws(() => transformOptimizer(myAdam, null as never), /^TypeError: transformOptimizer: options must be an object/);
    assert.throws(() => transformOptimizer({ init: 1 } as never, { name: 'testBadChain' }), /^TypeError: transformOptimizer: 'testBadChain': the chain must be/);
    assert.throws(
      () => defineTransformOptimizer('testBadFactory', (() => 3) as never)(),
      /^TypeError: testBadFactory: the chain factory must return a gradient transformation/,
    );
    // Refused before registering: a bad common option leaves the name free.
    assert.throws(() => transformOptimizer(other, { name: 'testFree', nonFinite: 'never' as never }), /^RangeError: transformOptimizer 'testFree': nonFinite must be one of/);
    assert.throws(() => transformOptimizer(myAdam, { name: 'testFree2', clipGlobalNorm: -1 }), RangeError);
    assert.throws(
      () => transformOptimizer(myAdam, { name: 'testFree3', engine: 'workers' }),
      /^RangeError: transformOptimizer 'testFree3': engine cannot be set on a built chain, got 'workers'; pass it to the chain's Newton–Schulz settings/,
    );
    assert.equal(listOptimizers().some((o) => ['testFree', 'testFree3', 'testBadChain'].includes(o.name)), false);
    assert.equal(transformOptimizer(myAdam, { name: 'testFree' }).name, 'testFree');
  });
});
