/**
 * The tf.Optimizer adapter beyond the per-optimizer contract (test/optimizers/contract.test.ts): option
 * validation messages, the registry, muon's routing, schedules and clipping.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import {
  adamw,
  createOptimizer,
  listOptimizers,
  muon,
  sgd,
  warmupCosine,
} from '../../src/index.js';

await useBackend('wasm');

let uid = 0;
function variables(shapes: number[][], seed: number): tf.Variable[] {
  return shapes.map((s, i) =>
    tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), true, `t${uid++}/w${i}`),
  );
}

function grads(vars: tf.Variable[], seed: number): { name: string; tensor: tf.Tensor }[] {
  return vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(gaussian(v.size, seed * 100 + i), v.shape) }));
}

describe('option validation', () => {
  const cases: [string, object, string][] = [
    ['muon', { momentum: 1.2 }, 'muon: momentum must be in [0, 1), got 1.2'],
    ['muon', { nsSteps: 2.5 }, 'muon: nsSteps must be an integer in [0, 100], got 2.5'],
    ['muon', { scaleRule: 'huge' }, "muon: scaleRule must be one of 'jordan', 'moonlight', 'spectral', 'none', got 'huge'"],
    ['muon', { coefficients: 'fast' }, "muon: coefficients must be one of 'jordan', 'you', 'polarExpress5', 'polarExpress8', 'turbo', 'root' or a table, got 'fast'"],
    ['muon', { lr: 0.1 }, "muon: unknown option 'lr'"],
    ['muon', { weightDecay: -1 }, 'muon: weightDecay must be in [0, inf), got -1'],
    ['muon', { adamwBeta2: 1 }, 'muon: adamwBeta2 must be in [0, 1), got 1'],
    ['adamw', { beta1: -0.1 }, 'adamw: beta1 must be in [0, 1), got -0.1'],
    ['adam', { epsilon: 0 }, 'adam: epsilon must be in (0, inf), got 0'],
    ['sgd', { momentum: 1 }, 'sgd: momentum must be in [0, 1), got 1'],
    ['sgd', { nesterov: true }, 'sgd: nesterov needs momentum > 0 and dampening = 0, got momentum 0, dampening 0'],
    ['sgd', { learningRate: -1 }, 'sgd: learningRate must be'],
    ['adamw', { nonFinite: 'warn' }, "adamw: nonFinite must be one of 'throw', 'skip', 'ignore', got 'warn'"],
    ['adamw', { clipGlobalNorm: 0 }, 'adamw: clipGlobalNorm must be in (0, inf), got 0'],
  ];
  for (const [name, options, message] of cases) {
    it(`${name} ${JSON.stringify(options)} → RangeError`, () => {
      assert.throws(
        () => createOptimizer(name, options),
        (e: unknown) => e instanceof RangeError && (e.message === message || e.message.startsWith(message)),
      );
    });
  }
  it('an unknown optimizer name lists the known ones', () => {
    assert.throws(() => createOptimizer('lion'), /createOptimizer: unknown optimizer 'lion' \(known: sgd, adam, adamw, muon/);
  });
  it('listOptimizers names each optimizer with its paper and reference code', () => {
    const list = listOptimizers();
    for (const n of ['sgd', 'adam', 'adamw', 'muon']) {
      const info = list.find((o) => o.name === n);
      assert.ok(info, n);
      assert.ok(info.paper.length > 10 && info.reference.includes(':'), n);
    }
  });
});

describe('muon routing and features', () => {
  it('sends vectors and excluded matrices to AdamW with the adamw* options', () => {
    const shapes = [[6, 4], [4], [4, 3]];
    const a = variables(shapes, 7);
    const b = variables(shapes, 7);
    const m = muon({ exclude: ['/w2'], adamwLearningRate: 0.01, adamwWeightDecay: 0.1 });
    const w = adamw({ learningRate: 0.01, beta1: 0.9, beta2: 0.95, epsilon: 1e-10, weightDecay: 0.1 });
    for (let s = 0; s < 3; s++) {
      const ga = grads(a, s);
      const gb = grads(b, s);
      m.applyGradients(ga);
      w.applyGradients(gb.slice(1));
      tf.dispose([...ga, ...gb].map((g) => g.tensor));
    }
    // bias and the excluded w2 follow AdamW exactly; w0 went through Muon and differs
    assert.deepEqual(a[1].dataSync(), b[1].dataSync());
    assert.deepEqual(a[2].dataSync(), b[2].dataSync());
    assert.notDeepEqual(a[0].dataSync(), b[0].dataSync());
    m.dispose();
    w.dispose();
    tf.dispose([...a, ...b]);
  });

  it('gives an orthogonalized update whose size follows the shape rule', () => {
    // one step, no momentum history: ΔW = −η·s·NS((1−β)(1+β)G) with s = max(1, fanOut/fanIn)^½
    const v = variables([[8, 32]], 8);
    const w0 = v[0].dataSync().slice();
    const opt = muon({ learningRate: 0.1 });
    const g = grads(v, 0);
    opt.applyGradients(g);
    const delta = tf.tidy(() => tf.div(tf.sub(v[0], tf.tensor(w0, [8, 32])), -0.1 * 2));
    // σ of NS output in [0.68, 1.14] → σ of delta/s in that band, s = √(32/8) = 2
    const s = tf.tidy(() => {
      const gram = tf.matMul(tf.transpose(delta), delta);
      return tf.max(gram).dataSync()[0];
    });
    assert.ok(s > 0.4 && s < 1.4, `largest Gram entry ${s}`);
    opt.dispose();
    tf.dispose([...v, delta, ...g.map((x) => x.tensor)]);
  });

  it('accepts a learning-rate schedule', () => {
    const v = variables([[4, 4]], 9);
    const opt = muon({ learningRate: warmupCosine({ peak: 0.1, warmupSteps: 2, decaySteps: 10 }) });
    const before = v[0].dataSync().slice();
    const g = grads(v, 0);
    opt.applyGradients(g); // step 0: warmup starts at 0 → no change
    assert.deepEqual(v[0].dataSync(), before);
    opt.applyGradients(g);
    assert.notDeepEqual(v[0].dataSync(), before);
    opt.dispose();
    tf.dispose([...v, ...g.map((x) => x.tensor)]);
  });

  it('clips to the global norm before the pipeline when asked', () => {
    const v1 = variables([[3, 3]], 10);
    const v2 = variables([[3, 3]], 10);
    const clipped = sgd({ learningRate: 1, clipGlobalNorm: 0.5 });
    const plain = sgd({ learningRate: 1 });
    const g = grads(v1, 1);
    const norm = Math.hypot(...g[0].tensor.dataSync());
    clipped.applyGradients(g);
    plain.applyGradients([{ name: v2[0].name, tensor: tf.mul(g[0].tensor, 0.5 / norm) }]);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v1[0], v2[0]))).dataSync()[0]);
    assert.ok(d < 1e-6, `difference ${d}`);
    clipped.dispose();
    plain.dispose();
    tf.dispose([...v1, ...v2, g[0].tensor]);
  });
});
