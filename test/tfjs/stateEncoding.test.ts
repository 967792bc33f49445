/**
 * Every registered optimizer's state survives tf.io.encodeWeights / decodeWeights (what
 * `model.save({includeOptimizer: true})` and checkpoints write and read) value for value, on cpu and wasm.
 * On tfjs-backend-cpu 4.22 `tf.cast(int32 → float32)` keeps the Int32Array under the float32 label and
 * encodeWeights copies that buffer's bytes: dctAdamw's and subspaceMomentum's index slots came back as
 * denormals (1 → 1.4e-45) and a resumed run diverged (issue 13; fixed by linalg/dct.ts
 * `indicesAsFloat32`). Checked here: each float32 slot's data is a Float32Array, and the round trip
 * gives the same bits.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';

const SHAPES = [[6, 10], [10], [10, 3]];
let uid = 0;

for (const backend of ['cpu', 'wasm'] as const) describe(`optimizer state through encodeWeights (${backend})`, () => {
  before(() => useBackend(backend));

  for (const { name } of listOptimizers()) {
    it(`${name}: float32 slots hold float32 data, and the encoded state decodes to the same bits`, async () => {
      const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), 7 + i), s), true, `enc${uid++}/w${i}`));
      const opt = createOptimizer(name, {});
      // 4 steps of a quadratic loss: minimize hands the loss to the loss-aware methods too
      for (let step = 0; step < 4; step++) {
        const target = SHAPES.map((s, i) => tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), 100 * step + i), s));
        const cost = opt.minimize(() => tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, target[i]))))) as tf.Scalar);
        if (cost !== null) cost.dispose();
        tf.dispose(target);
      }
      const weights = await opt.getWeights();
      for (const w of weights) {
        if (w.tensor.dtype === 'float32') {
          const data = w.tensor.dataSync();
          assert.ok(data instanceof Float32Array, `${w.name}: float32 slot backed by ${data.constructor.name}`);
        }
      }
      const encoded = await tf.io.encodeWeights(weights);
      const decoded = tf.io.decodeWeights(encoded.data, encoded.specs);
      for (const w of weights) {
        const back = decoded[w.name];
        assert.ok(back !== undefined, `${w.name} was not written`);
        assert.deepEqual(Array.from(back.dataSync()), Array.from(w.tensor.dataSync()), `${w.name} changed through encodeWeights`);
      }
      tf.dispose(Object.values(decoded));
      opt.dispose();
      tf.dispose(vars);
    });
  }
});
