import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { requireData, testDataDir } from '../support/data.js';
import { createOptimizer } from '../../src/index.js';
import { cifar10CnnParams, cifar10CnnTask } from '../../src/bench/tasks/cifar10.js';
import type { TaskInstance } from '../../src/bench/tasks/types.js';

describe('cifar10-cnn', () => {
  let task: TaskInstance | undefined;

  before(async () => {
    await useBackend('wasm');
    try {
      task = await cifar10CnnTask.load({ seed: 3, dataDir: testDataDir });
    } catch (e) {
      if (process.env.CI === 'true') throw e;
    }
  });
  after(() => task?.dispose());

  it('draws the same parameters for the same seed, with the documented roles and shapes', () => {
    const a = cifar10CnnParams(5);
    const b = cifar10CnnParams(5);
    const c = cifar10CnnParams(6);
    assert.deepEqual(
      a.map((p) => [p.name, p.shape.join('×'), p.role]),
      [
        ['conv1/kernel', '3×3×3×16', 'embedding'],
        ['conv1/bias', '16', 'vector'],
        ['conv2/kernel', '3×3×16×32', 'hidden'],
        ['conv2/bias', '32', 'vector'],
        ['conv3/kernel', '3×3×32×64', 'hidden'],
        ['conv3/bias', '64', 'vector'],
        ['logits/kernel', '1024×10', 'head'],
        ['logits/bias', '10', 'vector'],
      ],
    );
    a.forEach((p, i) => assert.deepEqual(p.values, b[i].values));
    assert.notDeepEqual(a[2].values, c[2].values);
    // Uniform on ±1/√fan-in: conv2's fan-in is 3·3·16 = 144.
    const limit = 1 / 12;
    const max = a[2].values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(max <= limit && max > 0.95 * limit, `conv2 max |w| ${max}`);
  });

  it('loads the subset: 3,500 train / 500 validation / 1,000 test, accuracy metric', (t) => {
    if (!requireData(t, 'the CIFAR-10 subset', join(testDataDir, 'cifar10-subset')) || task === undefined) return;
    assert.deepEqual(task.splits, { train: 3500, validation: 500, test: 1000 });
    assert.equal(task.trainCount, 3500);
    assert.deepEqual(task.metric, { name: 'accuracy', label: 'accuracy', higherIsBetter: true });
    assert.equal(cifar10CnnTask.defaults.batch, 64);
  });

  it('starts at loss ≈ ln 10, and AdamW steps on wasm lower the loss of a fixed batch without leaking', (t) => {
    if (!requireData(t, 'the CIFAR-10 subset', join(testDataDir, 'cifar10-subset')) || task === undefined) return;
    const inst = task;
    const params = inst.initialParams(3).map((p) => tf.variable(tf.tensor(p.values, p.shape), true, `cifar-test/${p.name}`));
    const batch = inst.batch(Uint32Array.from({ length: 32 }, (_, i) => 7 * i));
    const lossOf = (): number => {
      const l = inst.loss(params, batch);
      const v = l.dataSync()[0];
      l.dispose();
      return v;
    };
    const initial = lossOf();
    assert.ok(Math.abs(initial - Math.log(10)) < 0.3, `initial loss ${initial}`);

    const optimizer = createOptimizer('adamw', { learningRate: 1e-3 });
    const step = (): void => {
      const { value, grads } = tf.variableGrads(() => inst.loss(params, batch), params);
      optimizer.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step(); // creates the optimizer's state
    const before = tf.memory();
    for (let k = 0; k < 4; k++) step();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors, 'tensors leaked by a training step');
    assert.equal(after.numDataBuffers, before.numDataBuffers, 'backend buffers leaked by a training step');
    const final = lossOf();
    assert.ok(final < initial - 0.1, `loss ${initial} → ${final} after 5 AdamW steps`);
    optimizer.dispose();
    tf.dispose([...params, ...batch.tensors]);
  });

  it('evaluates accuracy in [0, 1] in chunks, honouring limit, without leaking', (t) => {
    if (!requireData(t, 'the CIFAR-10 subset', join(testDataDir, 'cifar10-subset')) || task === undefined) return;
    const params = task.initialParams(3).map((p) => tf.variable(tf.tensor(p.values, p.shape), true, `cifar-eval/${p.name}`));
    const before = tf.memory().numTensors;
    const small = task.evaluate(params, 'validation', 300);
    const again = task.evaluate(params, 'validation', 300);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(small.metric >= 0 && small.metric <= 1);
    // 300 examples: the accuracy is a multiple of 1/300, and evaluation is deterministic.
    assert.ok(Math.abs(small.metric * 300 - Math.round(small.metric * 300)) < 1e-9);
    assert.deepEqual(again, small);
    assert.ok(Math.abs(small.loss - Math.log(10)) < 0.3);
    tf.dispose(params);
  });
});
