/**
 * How an optimizer binds its state to the variables it trains (issue 10, items 2, 3, 12 and 14):
 * every gradient and variable is checked before anything is written; state follows the variables
 * seen on the first step, not their position; an empty first step binds nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { createOptimizer, type TransformOptimizer } from '../../src/index.js';

await useBackend('wasm');

let uid = 0;
function variable(shape: number[], seed: number, dtype: 'float32' | 'int32' = 'float32'): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'int32' ? Int32Array.from(gaussian(size, seed), (x) => Math.round(x * 10)) : gaussian(size, seed);
  return tf.variable(tf.tensor(values, shape, dtype), true, `s${uid++}/v`);
}

function snapshot(opt: TransformOptimizer, vars: tf.Variable[]) {
  return {
    params: vars.map((v) => Array.from(v.dataSync())),
    state: opt.stateSlots.map((s) => Array.from(s.variable.dataSync())),
    step: opt.step,
  };
}

describe('every gradient and variable is checked before anything is written', () => {
  for (const name of ['adamw', 'muon', 'sgd']) {
    it(`${name}: a float and an int32 variable in one list → TypeError naming the int32 one, nothing written`, () => {
      const w = variable([4, 3], 1);
      const n = variable([3], 2, 'int32');
      const opt = createOptimizer(name, name === 'sgd' ? { momentum: 0.9 } : {});
      const before = snapshot(opt, [w, n]);
      const g = [
        { name: w.name, tensor: tf.ones([4, 3]) },
        { name: n.name, tensor: tf.ones([3]) },
      ];
      assert.throws(
        () => opt.applyGradients(g),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message === `${name}: variable '${n.name}' has dtype int32; only float32 variables can be trained`,
      );
      assert.deepEqual(snapshot(opt, [w, n]), before);
      assert.equal(opt.stateSlots.length, 0, 'no state created by the failed step');
      // the float variable alone trains afterwards
      opt.applyGradients([g[0]]);
      assert.equal(opt.step, 1);
      assert.notDeepEqual(Array.from(w.dataSync()), before.params[0]);
      opt.dispose();
      tf.dispose([w, n, ...g.map((x) => x.tensor)]);
    });
  }

  it('a plain array, a disposed tensor, a non-tensor object or a repeated variable → named errors, nothing written', () => {
    const a = variable([2, 3], 3);
    const b = variable([3], 4);
    const opt = createOptimizer('adamw', {});
    const ga = tf.ones([2, 3]);
    const disposed = tf.ones([3]);
    disposed.dispose();
    const cases: [unknown, (e: unknown) => boolean][] = [
      [[0.1, 0.2, 0.3], (e) => e instanceof TypeError && e.message === `adamw: the gradient for '${b.name}' must be a tf.Tensor, got an array`],
      [{ shape: [3] }, (e) => e instanceof TypeError && e.message === `adamw: the gradient for '${b.name}' must be a tf.Tensor, got an object`],
      [disposed, (e) => e instanceof Error && e.message === `adamw: the gradient for '${b.name}' has been disposed`],
    ];
    const before = snapshot(opt, [a, b]);
    for (const [bad, check] of cases) {
      assert.throws(() => opt.applyGradients([{ name: a.name, tensor: ga }, { name: b.name, tensor: bad as tf.Tensor }]), check);
      assert.deepEqual(snapshot(opt, [a, b]), before);
    }
    assert.throws(
      () => opt.applyGradients([{ name: a.name, tensor: ga }, { name: a.name, tensor: ga }]),
      (e: unknown) => e instanceof Error && e.message === `adamw: two gradients for '${a.name}' in one step`,
    );
    assert.deepEqual(snapshot(opt, [a, b]), before);
    assert.equal(opt.stateSlots.length, 0);
    opt.dispose();
    tf.dispose([a, b, ga]);
  });
});

describe('state is bound to the variables of the first step', () => {
  function sgdPair() {
    const p = variable([2, 2], 5);
    const q = variable([2, 2], 6);
    const opt = createOptimizer('sgd', { learningRate: 0.01, momentum: 0.9 });
    return { p, q, opt };
  }

  it('the same variables swapped in the map → a named error, nothing written', () => {
    const { p, q, opt } = sgdPair();
    const one = tf.ones([2, 2]);
    const zero = tf.zeros([2, 2]);
    opt.applyGradients({ [p.name]: one, [q.name]: zero });
    const before = snapshot(opt, [p, q]);
    assert.throws(
      () => opt.applyGradients({ [q.name]: zero, [p.name]: zero }),
      (e: unknown) =>
        e instanceof Error &&
        e.message.startsWith(
          `sgd: parameter 0 is '${q.name}', but the optimizer state at position 0 belongs to '${p.name}' ` +
            `('${q.name}' was at position 1)`,
        ),
    );
    assert.deepEqual(snapshot(opt, [p, q]), before);
    // the original order keeps working, and q never got p's momentum
    opt.applyGradients({ [p.name]: zero, [q.name]: zero });
    const qNow = q.dataSync();
    before.params[1].forEach((x, i) => assert.equal(qNow[i], x));
    opt.dispose();
    tf.dispose([p, q, one, zero]);
  });

  it('another same-shaped variable in place of a bound one → a named error, nothing written', () => {
    const { p, q, opt } = sgdPair();
    const r = variable([2, 2], 7);
    const g = tf.ones([2, 2]);
    opt.applyGradients([{ name: p.name, tensor: g }, { name: q.name, tensor: g }]);
    const before = snapshot(opt, [p, q, r]);
    assert.throws(
      () => opt.applyGradients([{ name: p.name, tensor: g }, { name: r.name, tensor: g }]),
      (e: unknown) =>
        e instanceof Error &&
        e.message.startsWith(`sgd: parameter 1 is '${r.name}', but the optimizer state at position 1 belongs to '${q.name}'`),
    );
    assert.deepEqual(snapshot(opt, [p, q, r]), before);
    opt.dispose();
    tf.dispose([p, q, r, g]);
  });

  it('a variable disposed and made again under the same name keeps its state (matched by name)', () => {
    const { p, q, opt } = sgdPair();
    const g = tf.ones([2, 2]);
    opt.applyGradients([{ name: p.name, tensor: g }, { name: q.name, tensor: g }]);
    const values = q.dataSync().slice();
    const name = q.name;
    q.dispose();
    const q2 = tf.variable(tf.tensor(values, [2, 2]), true, name);
    opt.applyGradients([{ name: p.name, tensor: g }, { name, tensor: g }]);
    assert.equal(opt.step, 2);
    // the momentum of q carried over: second step moves by lr·(1 + 0.9)
    const moved = Array.from(q2.dataSync()).map((x, i) => values[i] - x);
    moved.forEach((d) => assert.ok(Math.abs(d - 0.019) < 1e-6, `moved ${d}`));
    opt.dispose();
    tf.dispose([p, q2, g]);
  });

  it('a first applyGradients({}) binds nothing: the next real step creates the state and counts as step 1', () => {
    const a = variable([3, 2], 8);
    const opt = createOptimizer('adamw', { learningRate: 0.1 });
    const ref = createOptimizer('adamw', { learningRate: 0.1 });
    const b = tf.variable(tf.clone(a), true, `s${uid++}/copy`);
    opt.applyGradients({});
    assert.equal(opt.step, 0);
    assert.equal(opt.parameters === null, true);
    const g = tf.tensor(gaussian(6, 9), [3, 2]);
    opt.applyGradients({ [a.name]: g });
    ref.applyGradients({ [b.name]: g });
    assert.equal(opt.step, 1);
    assert.deepEqual(opt.parameters?.map((m) => m.name), [a.name]);
    assert.deepEqual(a.dataSync(), b.dataSync());
    [opt, ref].forEach((o) => o.dispose());
    tf.dispose([a, b, g]);
  });
});
