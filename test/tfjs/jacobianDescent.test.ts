/**
 * Jacobian descent (src/tfjs/jacobianDescent.ts): the step is `θ − lr·Jᵀw` with `w` the aggregator's
 * float64 weights of the Jacobian computed by hand, the direction conflicts with no objective where the
 * mean does (J·d ≥ −regEps·tr(G)·w), the `mean` aggregator gives exactly the average-loss step (Adam,
 * and polyakSgd, which reads the mean loss), a `{main, aux}` pair is the list `[main, aux]`, the layers-model
 * form (IWRM per example, and per output) against per-example gradients and `minimize`, no leaks, and
 * the named errors with nothing written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { blobs, maxDifference, mlp, weightValues } from '../support/models.js';
import { adam, polyakSgd, sgd } from '../../src/tfjs/register.js';
import { mean, upgrad } from '../../src/transforms/aggregators.js';
import {
  EmptyObjectivesError,
  NonScalarLossError,
  ObjectiveVariablesMismatchError,
  jacobianDescent,
  modelJacobianDescent,
} from '../../src/tfjs/jacobianDescent.js';

await useBackend('cpu');

let uid = 0;
function variables(shapes: number[][], seed: number): tf.Variable[] {
  return shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), true, `jd${uid++}/w${i}`));
}

const values = (vs: readonly tf.Variable[]): Float32Array[] => vs.map((v) => v.dataSync().slice() as Float32Array);
const flat = (arrays: readonly ArrayLike<number>[]): Float64Array => Float64Array.from(arrays.flatMap((a) => Array.from(a)));
const show = (a: ArrayLike<number>): string => `[${Array.from(a).join(', ')}]`;

/** L_i = ½‖θ − c_i‖² over all variables (θ flattened), gradient θ − c_i; c_i from a seed. */
function quadratic(vars: tf.Variable[], target: Float32Array[]): () => tf.Scalar {
  return () =>
    tf.tidy(() => tf.mul(tf.addN(vars.map((v, k) => tf.sum(tf.square(tf.sub(v, tf.tensor(target[k], v.shape)))))), 0.5) as tf.Scalar);
}

function targets(shapes: number[][], seed: number, scale = 1): Float32Array[] {
  return shapes.map((s, k) => gaussian(s.reduce((a, b) => a * b, 1), seed + 17 * k).map((x) => scale * x));
}

function matVec(rows: readonly ArrayLike<number>[], x: ArrayLike<number>): number[] {
  return rows.map((r) => {
    let s = 0;
    for (let k = 0; k < x.length; k++) s += r[k] * x[k];
    return s;
  });
}

const SHAPES = [[3, 4], [4]];

describe('jacobianDescent', () => {
  it('steps θ − lr·Jᵀw with w = upgrad(J) of the float64 Jacobian, non-conflicting where the mean conflicts', () => {
    const vars = variables(SHAPES, 1);
    // Targets on opposite sides so that the two gradients conflict.
    const c = [targets(SHAPES, 40, 3), targets(SHAPES, 40, -3).map((t, k) => t.map((x, i) => x + 0.5 * gaussian(t.length, 90 + k)[i]))];
    const theta = flat(values(vars));
    const rows = c.map((ci) => theta.map((x, i) => x - flat(ci)[i]));
    const want = upgrad().aggregate(rows);
    assert.ok(Math.min(...matVec(rows, mean().aggregate(rows).direction)) < -1, 'the test needs the mean to conflict');
    const lr = 0.1;
    const opt = sgd({ learningRate: lr });
    const r = jacobianDescent(c.map((ci) => quadratic(vars, ci)), opt);
    assert.ok(maxDifference([r.weights], [want.weights]) <= 1e-6, `${show(r.weights)} vs ${show(want.weights)}`);
    assert.deepEqual(r.variables, vars.map((v) => v.name));
    assert.deepEqual(r.losses.map((l) => Math.round(l * 1e3)), rows.map((g) => Math.round(0.5 * g.reduce((a, x) => a + x * x, 0) * 1e3)));
    const d = theta.map((x, i) => (x - flat(values(vars))[i]) / lr);
    assert.ok(maxDifference([d], [want.direction]) <= 1e-5 * Math.max(...want.direction.map(Math.abs)), 'd = Jᵀw');
    const trace = rows.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0);
    const jd = matVec(rows, d);
    // KKT of the regularized QP: J·d ≥ −regEps·tr(G)·w, up to the float32 error of the applied step.
    const delta = maxDifference([d], [want.direction]);
    jd.forEach((v, i) => {
      const slack = rows[i].reduce((a, x) => a + Math.abs(x), 0) * delta;
      assert.ok(v >= -trace * 1e-4 * r.weights[i] - slack, `objective ${i}: J·d = ${v}`);
    });
    // Exactly non-conflicting without the regularization.
    const before = values(vars);
    jacobianDescent(c.map((ci) => quadratic(vars, ci)), sgd({ learningRate: 1e-3 }), { aggregator: upgrad({ regEps: 0 }) });
    const theta2 = flat(before);
    const d2 = theta2.map((x, i) => (x - flat(values(vars))[i]) / 1e-3);
    const rows2 = c.map((ci) => theta2.map((x, i) => x - flat(ci)[i]));
    matVec(rows2, d2).forEach((v, i) => assert.ok(v >= -1e-3 * trace, `regEps 0, objective ${i}: J·d = ${v}`));
    tf.dispose(vars);
  });

  it('with mean() it is the average-loss step: Adam 3 steps = adam.minimize(mean loss); polyakSgd gets the mean loss', () => {
    for (const make of [() => adam({ learningRate: 0.05 }), () => polyakSgd({ maxLearningRate: 0.5 })]) {
      const a = variables(SHAPES, 3);
      const b = a.map((v, i) => tf.variable(v.clone(), true, `${v.name}_twin${i}`));
      const c = [targets(SHAPES, 50), targets(SHAPES, 60, -1), targets(SHAPES, 70, 2)];
      const la = c.map((ci) => quadratic(a, ci));
      const lb = c.map((ci) => quadratic(b, ci));
      const optA = make();
      const optB = make();
      for (let s = 0; s < 3; s++) {
        jacobianDescent(la, optA, { aggregator: mean(), varList: a });
        optB.minimize(() => tf.tidy(() => tf.div(tf.addN(lb.map((f) => f())), 3) as tf.Scalar), false, b);
      }
      const dev = maxDifference(values(a), values(b));
      assert.ok(dev <= 2e-6, `${optA.getClassName()}: ${dev}`);
      assert.ok(maxDifference(values(a), values(variables(SHAPES, 3))) > 0.05, 'the variables moved');
      tf.dispose([...a, ...b]);
      optA.dispose();
      optB.dispose();
    }
  });

  it('a {main, aux} pair is the list [main, aux]', () => {
    const a = variables(SHAPES, 5);
    const b = a.map((v, i) => tf.variable(v.clone(), true, `${v.name}_pair${i}`));
    const c = [targets(SHAPES, 80, 2), targets(SHAPES, 81, -2)];
    const ra = jacobianDescent({ main: quadratic(a, c[0]), aux: quadratic(a, c[1]) }, sgd({ learningRate: 0.1 }), { varList: a });
    const rb = jacobianDescent([quadratic(b, c[0]), quadratic(b, c[1])], sgd({ learningRate: 0.1 }), { varList: b });
    assert.deepEqual([...ra.weights], [...rb.weights]);
    assert.deepEqual(values(a), values(b));
    tf.dispose([...a, ...b]);
  });

  it('leaks nothing across steps (after the optimizer made its state)', () => {
    const vars = variables(SHAPES, 7);
    const c = [targets(SHAPES, 1), targets(SHAPES, 2, -1), targets(SHAPES, 3)];
    const opt = adam({ learningRate: 0.01 });
    const losses = c.map((ci) => quadratic(vars, ci));
    jacobianDescent(losses, opt, { varList: vars });
    const n = tf.memory().numTensors;
    for (let s = 0; s < 4; s++) jacobianDescent(losses, opt, { varList: vars });
    assert.equal(tf.memory().numTensors, n);
    tf.dispose(vars);
    opt.dispose();
  });

  it('refuses an empty list, a non-scalar loss and different variable sets by name, writing nothing', () => {
    const vars = variables(SHAPES, 9);
    const other = variables([[2]], 10);
    const c = targets(SHAPES, 4);
    const opt = sgd({ learningRate: 0.1, momentum: 0.9 });
    jacobianDescent([quadratic(vars, c)], opt, { varList: vars });
    const snapshot = values(vars);
    const iter = opt.iterations;
    const n = tf.memory().numTensors;
    const unchanged = (what: string) => {
      assert.deepEqual(values(vars), snapshot, `${what}: variables unchanged`);
      assert.equal(opt.iterations, iter, `${what}: no step counted`);
      assert.equal(tf.memory().numTensors, n, `${what}: no tensor left behind`);
    };
    assert.throws(() => jacobianDescent([], opt), (e: unknown) => e instanceof EmptyObjectivesError && /list of objectives is empty/.test(e.message));
    unchanged('empty');
    assert.throws(
      () => jacobianDescent([quadratic(vars, c), () => tf.tidy(() => tf.sum(tf.square(vars[0]), 1))], opt, { varList: vars }),
      (e: unknown) => e instanceof NonScalarLossError && e.index === 1 && /loss 1 must return a scalar, got shape \[3\]/.test(e.message),
    );
    unchanged('non-scalar');
    const onlyFirst = () => tf.tidy(() => tf.sum(tf.square(vars[0])) as tf.Scalar);
    assert.throws(
      () => jacobianDescent([quadratic(vars, c), onlyFirst], opt, { varList: vars }),
      (e: unknown) =>
        e instanceof ObjectiveVariablesMismatchError && e.index === 1 && e.missing.length === 1 && e.missing[0] === vars[1].name &&
        e.message.includes(`no gradient for '${vars[1].name}'`),
    );
    unchanged('mismatch');
    const elsewhere = () => tf.tidy(() => tf.sum(tf.square(other[0])) as tf.Scalar);
    assert.throws(() => jacobianDescent([quadratic(vars, c), elsewhere], opt, { varList: vars }), ObjectiveVariablesMismatchError);
    unchanged('no connection');
    assert.throws(() => jacobianDescent([quadratic(vars, c)], opt, { aggregatr: mean() } as never), /jacobianDescent: unknown option 'aggregatr'/);
    assert.throws(() => jacobianDescent([quadratic(vars, c)], opt, { missingGradients: 'skip' } as never), /missingGradients must be one of 'error', 'zero'/);
    assert.throws(() => jacobianDescent([1] as never, opt), /loss 0 must be a function/);
    assert.throws(() => jacobianDescent({ main: quadratic(vars, c) } as never, opt), /a list of loss functions or a \{main, aux\} pair/);
    unchanged('options');
    tf.dispose([...vars, ...other]);
  });

  it("missingGradients 'zero': an objective that misses a variable counts 0 there", () => {
    const vars = variables(SHAPES, 11);
    const c = targets(SHAPES, 5);
    const theta = values(vars);
    const onlyFirst = () => tf.tidy(() => tf.mul(tf.sum(tf.square(vars[0])), 0.5) as tf.Scalar);
    const lr = 0.1;
    const r = jacobianDescent([quadratic(vars, c), onlyFirst], sgd({ learningRate: lr }), { varList: vars, missingGradients: 'zero', aggregator: mean() });
    assert.deepEqual([...r.weights], [0.5, 0.5]);
    // Variable 1 (the bias) gets only half of loss 0's gradient, θ − c.
    const want = theta[1].map((x, i) => x - lr * 0.5 * (x - c[1][i]));
    assert.ok(maxDifference([values(vars)[1]], [want]) <= 1e-6, show(values(vars)[1]));
    tf.dispose(vars);
  });
});

describe('modelJacobianDescent', () => {
  const cce = (t: tf.Tensor, p: tf.Tensor) => tfl.metrics.categoricalCrossentropy(t, p);

  it('IWRM: the step is Jᵀw over the per-example gradients (J·d ≥ −regEps·tr(G)·w); mean() = the batch-mean minimize', () => {
    const { x, y } = blobs(3);
    // Examples 0 and 1 share their input and disagree on the label: their gradients conflict.
    const xb = tf.tidy(() => tf.concat([tf.slice(x, [0, 0], [1, 8]), tf.slice(x, [0, 0], [5, 8])]));
    // Example 0's label is the other two classes (½ each) of example 1's.
    const yb = tf.tidy(() => tf.concat([tf.div(tf.sub(1, tf.slice(y, [0, 0], [1, 3])), 2), tf.slice(y, [0, 0], [5, 3])]));
    const model = mlp(1);
    const twin = mlp(1);
    const vars = twin.trainableWeights.map((w) => w.read() as tf.Variable);
    // Per-example gradients on the twin, by hand.
    const rows = Array.from({ length: 6 }, (_, i) => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(cce(tf.slice(yb, [i, 0], [1, 3]), twin.apply(tf.slice(xb, [i, 0], [1, 8])) as tf.Tensor)) as tf.Scalar,
        vars,
      );
      const row = flat(vars.map((v) => grads[v.name].dataSync()));
      tf.dispose([value, ...Object.values(grads)]);
      return row;
    });
    const before = flat(weightValues(model));
    const lr = 0.5;
    const n = tf.memory().numTensors;
    const r = modelJacobianDescent(model, xb, yb, sgd({ learningRate: lr }), { loss: cce });
    assert.equal(tf.memory().numTensors, n, 'sgd without momentum keeps no state: nothing left behind');
    assert.equal(r.losses.length, 6);
    const want = upgrad().aggregate(rows);
    assert.ok(maxDifference([r.weights], [want.weights]) <= 1e-4, `${show(r.weights)} vs ${show(want.weights)}`);
    const d = before.map((v, i) => (v - flat(weightValues(model))[i]) / lr);
    const scale = Math.max(...want.direction.map(Math.abs));
    assert.ok(maxDifference([d], [want.direction]) <= 1e-4 * scale, `d vs Jᵀw: ${maxDifference([d], [want.direction])}`);
    const trace = rows.reduce((s, g) => s + g.reduce((a, v) => a + v * v, 0), 0);
    assert.ok(Math.min(...matVec(rows, mean().aggregate(rows).direction)) < 0, 'the test needs the mean to conflict with an example');
    assert.ok(Math.max(...r.weights) > 0.2, `upgrad moved off the mean: ${show(r.weights)}`);
    const delta = maxDifference([d], [want.direction]);
    matVec(rows, d).forEach((v, i) => {
      const slack = rows[i].reduce((a, g) => a + Math.abs(g), 0) * delta;
      assert.ok(v >= -1e-4 * trace * r.weights[i] - slack, `example ${i}: J·d = ${v}`);
    });

    // mean(): the same as minimizing the batch-mean loss.
    const m1 = mlp(2);
    const m2 = mlp(2);
    const o1 = adam({ learningRate: 0.01 });
    const o2 = adam({ learningRate: 0.01 });
    for (let s = 0; s < 2; s++) {
      modelJacobianDescent(m1, xb, yb, o1, { loss: cce, aggregator: mean() });
      o2.minimize(() => tf.mean(cce(yb, m2.apply(xb) as tf.Tensor)) as tf.Scalar, false, m2.trainableWeights.map((w) => w.read() as tf.Variable));
    }
    const dev = maxDifference(weightValues(m1), weightValues(m2));
    assert.ok(dev <= 2e-6, `mean IWRM vs minimize: ${dev}`);
    assert.ok(maxDifference(weightValues(m1), weightValues(mlp(2))) > 1e-3, 'the model moved');
    tf.dispose([x, y, xb, yb]);
  });

  it("objectives 'outputs': one objective per head; another head's weights count 0; mean() = minimize(mean of the output losses)", () => {
    const build = () => {
      const input = tfl.input({ shape: [4] });
      const trunk = tfl.layers.dense({ units: 5, activation: 'tanh', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }) }).apply(input) as tfl.SymbolicTensor;
      const a = tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }).apply(trunk) as tfl.SymbolicTensor;
      const b = tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotNormal({ seed: 5 }) }).apply(trunk) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: [a, b] });
    };
    const mse = (t: tf.Tensor, p: tf.Tensor) => tfl.metrics.meanSquaredError(t, p);
    const x = tf.tensor2d(gaussian(12, 1), [3, 4]);
    const ya = tf.tensor2d(gaussian(6, 2), [3, 2]);
    const yb = tf.tensor2d(gaussian(3, 3), [3, 1]);
    const m1 = build();
    const m2 = build();
    const o1 = sgd({ learningRate: 0.2 });
    const o2 = sgd({ learningRate: 0.2 });
    const r = modelJacobianDescent(m1, x, [ya, yb], o1, { loss: mse, objectives: 'outputs', aggregator: mean() });
    assert.equal(r.losses.length, 2);
    o2.minimize(
      () => tf.tidy(() => {
        const [pa, pb] = m2.apply(x) as tf.Tensor[];
        return tf.div(tf.add(tf.mean(mse(ya, pa)), tf.mean(mse(yb, pb))), 2) as tf.Scalar;
      }),
      false,
      m2.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    assert.ok(maxDifference(weightValues(m1), weightValues(m2)) <= 1e-6, `${maxDifference(weightValues(m1), weightValues(m2))}`);
    // upgrad runs too (and the weights are those of a 2-objective problem).
    const u = modelJacobianDescent(m1, x, [ya, yb], o1, { loss: [mse, mse], objectives: 'outputs' });
    assert.equal(u.weights.length, 2);
    tf.dispose([x, ya, yb]);
  });

  it('refuses mismatched batches, a loss that is not per-example and unknown options, writing nothing', () => {
    const { x, y } = blobs(4);
    const model = mlp(5);
    const opt = sgd({ learningRate: 0.1 });
    const snapshot = weightValues(model);
    const xb = tf.slice(x, [0, 0], [4, 8]);
    const yb = tf.slice(y, [0, 0], [3, 3]);
    const y4 = tf.slice(y, [0, 0], [4, 3]);
    const [x0, y0] = [tf.zeros([0, 8]), tf.zeros([0, 3])];
    const loss = (t: tf.Tensor, p: tf.Tensor) => tfl.metrics.categoricalCrossentropy(t, p);
    const n = tf.memory().numTensors;
    assert.throws(() => modelJacobianDescent(model, xb, yb, opt, { loss }), /same batch size 4 on axis 0, got shape \[3, 3\]/);
    assert.throws(
      () => modelJacobianDescent(model, xb, y4, opt, { loss: (t, p) => tf.mean(tfl.metrics.categoricalCrossentropy(t, p)) }),
      /loss 0 must return per-example losses of shape \[1, …\], got shape \[\]/,
    );
    assert.throws(() => modelJacobianDescent(model, xb, y4, opt, { loss, objective: 'outputs' } as never), /unknown option 'objective'/);
    assert.throws(() => modelJacobianDescent(model, xb, y4, opt, { loss, objectives: 'batch' } as never), /objectives must be one of 'examples', 'outputs'/);
    assert.throws(() => modelJacobianDescent(model, xb, [y4, y4], opt, { loss }), /the model has 1 outputs and 2 targets/);
    assert.throws(
      () => modelJacobianDescent(model, x0, y0, opt, { loss }),
      EmptyObjectivesError,
    );
    assert.equal(tf.memory().numTensors, n, 'no tensor left behind');
    assert.deepEqual(weightValues(model), snapshot);
    assert.equal(opt.iterations, 0);
    tf.dispose([x, y, xb, yb, y4, x0, y0]);
  });
});
