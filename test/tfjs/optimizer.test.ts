/**
 * The tf.Optimizer adapter, for every optimizer: model.fit reduces a small MLP's loss by > 1.5×,
 * minimize and both applyGradients forms agree, no tensor leaks over 200 steps, and bad input
 * (options, gradient shapes, NaN/Inf, zero gradients, thin matrices) is handled as the design says.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { blobs, mlp } from '../support/models.js';
import { gaussian } from '../support/random.js';
import {
  adam,
  adamw,
  createOptimizer,
  listOptimizers,
  muon,
  NonFiniteGradientError,
  sgd,
  warmupCosine,
  type TransformOptimizer,
} from '../../src/index.js';

await useBackend('wasm');

/** Each optimizer at a learning rate that suits the small MLP. */
const makers: [string, () => TransformOptimizer][] = [
  ['sgd', () => sgd({ learningRate: 0.1, momentum: 0.9 })],
  ['adam', () => adam({ learningRate: 0.01 })],
  ['adamw', () => adamw({ learningRate: 0.01 })],
  ['muon', () => muon({ learningRate: 0.05, adamwLearningRate: 0.01 })],
];

let uid = 0;
function variables(shapes: number[][], seed: number): tf.Variable[] {
  return shapes.map((s, i) =>
    tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), true, `t${uid++}/w${i}`),
  );
}

function grads(vars: tf.Variable[], seed: number): { name: string; tensor: tf.Tensor }[] {
  return vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(gaussian(v.size, seed * 100 + i), v.shape) }));
}

describe('every optimizer through the tf.Optimizer adapter (wasm)', () => {
  for (const [name, make] of makers) {
    describe(name, () => {
      it('trains a small MLP in model.fit: final loss < initial / 1.5', async () => {
        const { x, y } = blobs();
        const model = mlp();
        const opt = make();
        model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
        const h = await model.fit(x, y, { epochs: 15, batchSize: 64, shuffle: false, verbose: 0 });
        const loss = h.history.loss as number[];
        assert.ok(loss[0] / loss[loss.length - 1] > 1.5, `${name}: loss ${loss[0]} → ${loss[loss.length - 1]}`);
        assert.equal(opt.step, 15 * 4);
        model.dispose();
        opt.dispose();
        tf.dispose([x, y]);
      });

      it('leaks no tensors over 200 minimize steps', () => {
        const vars = variables([[6, 10], [10], [10, 3]], 1);
        const xin = tf.tensor2d(gaussian(16 * 6, 9), [16, 6]);
        const opt = make();
        const loss = () =>
          tf.tidy(() => {
            const h = tf.relu(tf.add(tf.matMul(xin, vars[0]), vars[1]));
            return tf.mean(tf.square(tf.matMul(h, vars[2])));
          }) as tf.Scalar;
        opt.minimize(loss, false, vars);
        const after1 = tf.memory().numTensors;
        for (let i = 0; i < 199; i++) opt.minimize(loss, false, vars);
        assert.equal(tf.memory().numTensors, after1, 'tensor count grew');
        assert.equal(opt.step, 200);
        opt.dispose();
        tf.dispose([...vars, xin]);
      });

      it('gives the same result with the map form, the list form and minimize', () => {
        const shapes = [[5, 7], [7], [7, 4]];
        const [va, vb, vc] = [variables(shapes, 2), variables(shapes, 2), variables(shapes, 2)];
        const [oa, ob, oc] = [make(), make(), make()];
        for (let s = 0; s < 3; s++) {
          const ga = grads(va, s);
          oa.applyGradients(ga);
          const gb = grads(vb, s);
          const map: tf.NamedTensorMap = {};
          gb.forEach((g) => (map[g.name] = g.tensor));
          ob.applyGradients(map);
          // minimize with a loss whose gradient is the same fixed tensor: sum(w ⊙ g)
          const gc = grads(vc, s);
          oc.minimize(() => tf.addN(vc.map((v, i) => tf.sum(tf.mul(v, gc[i].tensor)))) as tf.Scalar, false, vc);
          tf.dispose([...ga, ...gb, ...gc].map((g) => g.tensor));
        }
        va.forEach((v, i) => {
          assert.deepEqual(vb[i].dataSync(), v.dataSync());
          const d = tf.tidy(() => tf.max(tf.abs(tf.sub(vc[i], v))).dataSync()[0]);
          assert.ok(d < 1e-6, `minimize differs by ${d}`);
        });
        [oa, ob, oc].forEach((o) => o.dispose());
        tf.dispose([...va, ...vb, ...vc]);
      });

      it('a NaN or Inf gradient throws before anything is written; nonFinite: skip skips and counts', () => {
        const vars = variables([[4, 6], [6]], 3);
        const opt = make();
        const g0 = grads(vars, 0);
        opt.applyGradients(g0);
        const params = vars.map((v) => v.dataSync().slice());
        const state = opt.stateSlots.map((s) => s.variable.dataSync().slice());
        const bad = grads(vars, 1);
        const poisoned = bad.map((g, i) => ({
          name: g.name,
          tensor: i === 1 ? tf.tidy(() => tf.concat([tf.tensor1d([Number.NaN]), tf.slice(g.tensor, [1], [5])])) : g.tensor,
        }));
        assert.throws(() => opt.applyGradients(poisoned), (e: unknown) => {
          assert.ok(e instanceof NonFiniteGradientError);
          assert.match((e as Error).message, new RegExp(`${name}: non-finite gradient .* for '${vars[1].name}'`));
          return true;
        });
        vars.forEach((v, i) => assert.deepEqual(v.dataSync(), params[i]));
        opt.stateSlots.forEach((s, i) => assert.deepEqual(s.variable.dataSync(), state[i]));
        assert.equal(opt.step, 1);

        const skipper = createOptimizer(name, { nonFinite: 'skip' });
        const inf = grads(vars, 2).map((g) => ({ name: g.name, tensor: tf.tidy(() => tf.mul(g.tensor, Infinity)) }));
        const before = vars.map((v) => v.dataSync().slice());
        skipper.applyGradients(inf);
        assert.equal(skipper.skippedSteps, 1);
        assert.equal(skipper.step, 0);
        vars.forEach((v, i) => assert.deepEqual(v.dataSync(), before[i]));
        tf.dispose([...g0, ...bad, ...poisoned, ...inf].map((g) => g.tensor));
        [opt, skipper].forEach((o) => o.dispose());
        tf.dispose(vars);
      });

      it('an all-zero gradient gives a zero update, never NaN', () => {
        const vars = variables([[4, 6], [6], [1, 5], [5, 1], [1, 1]], 4);
        const before = vars.map((v) => v.dataSync().slice());
        const opt = createOptimizer(name, {});
        const zeros = vars.map((v) => ({ name: v.name, tensor: tf.zerosLike(v) }));
        opt.applyGradients(zeros);
        opt.applyGradients(zeros);
        vars.forEach((v, i) => {
          const now = v.dataSync();
          assert.ok(now.every(Number.isFinite));
          // adamw's default decoupled decay (0.01) shrinks weights even at zero gradient; the update of
          // the gradient part is zero, so W = W₀·(1 − ηλ)² exactly up to float rounding.
          const decay = name === 'adamw' ? (1 - 1e-3 * 0.01) ** 2 : 1;
          now.forEach((w, j) => assert.ok(Math.abs(w - before[i][j] * decay) <= 1e-6 * Math.abs(before[i][j]) + 1e-12));
        });
        opt.dispose();
        tf.dispose([...vars, ...zeros.map((z) => z.tensor)]);
      });

      it('rejects a gradient of the wrong shape, naming the variable', () => {
        const vars = variables([[4, 6]], 5);
        const opt = make();
        const g = tf.ones([6, 4]);
        assert.throws(
          () => opt.applyGradients([{ name: vars[0].name, tensor: g }]),
          new RegExp(`${name}: the gradient for '${vars[0].name.replace('/', '\\/')}' has shape \\[6, 4\\], but the variable has shape \\[4, 6\\]`),
        );
        assert.equal(opt.step, 0);
        opt.dispose();
        tf.dispose([g, ...vars]);
      });
    });
  }
});

describe('option validation', () => {
  const cases: [string, object, string][] = [
    ['muon', { momentum: 1.2 }, 'muon: momentum must be in [0, 1), got 1.2'],
    ['muon', { nsSteps: 2.5 }, 'muon: steps must be an integer in [0, 100], got 2.5'],
    ['muon', { scaleRule: 'huge' }, "muon: scaleRule must be one of 'jordan', 'moonlight', 'spectral', 'none', got 'huge'"],
    ['muon', { coefficients: 'fast' }, "muon: coefficients must be one of 'jordan', 'you', 'polarExpress5', 'polarExpress8' or a table, got 'fast'"],
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
