/**
 * The loss channel of the tf.Optimizer adapter (src/tfjs/optimizer.ts): `minimize(f)` hands `f()` to
 * the step (on the device), so tfjs-layers' `model.fit` — which calls `minimize` — trains the
 * loss-aware optimizers (alrSmag, polyakSgd) unchanged; `applyGradients(grads, { loss })` takes it
 * explicitly; `applyGradients(grads)` alone throws `LossRequiredError` for them before anything is
 * written; bad and non-finite losses are refused the same way; nothing leaks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { blobs, mlp } from '../support/models.js';
import { createOptimizer, sgd, transformOptimizer, type TransformOptimizer } from '../../src/index.js';
import { alrSmag, polyakSgd } from '../../src/tfjs/register.js';
import { alrSmagTransform } from '../../src/optimizers/polyak.js';
import { chain, LossRequiredError, type GradientTransformation } from '../../src/core/transform.js';
import { NonFiniteLossError } from '../../src/tfjs/optimizer.js';

await useBackend('wasm');

let uid = 0;
function variables(shapes: number[][], seed: number): tf.Variable[] {
  return shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), true, `loss${uid++}/w${i}`));
}

const SHAPES = [[5, 4], [4]];

/** f = ½Σ(θ − 0.3)² + 0.2 over the variables: positive, with a gradient θ − 0.3. */
function objective(vars: tf.Variable[]): () => tf.Scalar {
  return () => tf.tidy(() => tf.add(tf.addN(vars.map((v) => tf.mul(tf.sum(tf.square(tf.sub(v, 0.3))), 0.5))), 0.2) as tf.Scalar);
}

function values(vs: tf.Variable[]): Float32Array[] {
  return vs.map((v) => v.dataSync().slice() as Float32Array);
}

/** A transform that records the loss it is handed (value, and whether it came as a float32 scalar tensor). */
function lossSpy(seen: { value: number; scalarTensor: boolean }[]): GradientTransformation {
  return {
    needsLoss: true,
    init: () => null,
    update(updates, state, ctx) {
      const loss = ctx.loss;
      const scalarTensor = loss instanceof tf.Tensor && loss.rank === 0 && loss.dtype === 'float32';
      seen.push({ value: loss instanceof tf.Tensor ? loss.dataSync()[0] : Number(loss), scalarTensor });
      return { updates: [...updates], state };
    },
  };
}

describe('the loss channel', () => {
  it('minimize(f) hands f() to the step as a float32 scalar tensor: the value minimize returns', () => {
    const seen: { value: number; scalarTensor: boolean }[] = [];
    const opt = transformOptimizer(chain(lossSpy(seen), alrSmagTransform()), { name: 'lossSpyMinimize' });
    assert.equal(opt.needsLoss, true);
    const vars = variables(SHAPES, 1);
    const f = objective(vars);
    for (let k = 0; k < 3; k++) {
      const cost = opt.minimize(f, true, vars)!;
      assert.equal(seen[k].value, cost.dataSync()[0]);
      assert.equal(seen[k].scalarTensor, true);
      cost.dispose();
    }
    assert.ok(seen[2].value < seen[0].value, `the loss falls: ${seen.map((s) => s.value).join(' → ')}`);
    opt.dispose();
    tf.dispose(vars);
  });

  it('minimize on f = ‖x‖² from [1, 2, 3] halves x each step with alrSmag (β = 0, γ_max = 1) and polyakSgd', () => {
    for (const opt of [alrSmag({ momentum: 0, learningRate: 1 }), polyakSgd()]) {
      const x = tf.variable(tf.tensor1d([1, 2, 3]), true, `loss${uid++}/x`);
      const fs: number[] = [];
      for (let k = 0; k < 4; k++) {
        const cost = opt.minimize(() => tf.sum(tf.square(x)) as tf.Scalar, true, [x])!;
        fs.push(cost.dataSync()[0]);
        cost.dispose();
      }
      assert.deepEqual(fs, [14, 3.5, 0.875, 0.21875], opt.name);
      assert.deepEqual(Array.from(x.dataSync()), [1, 2, 3].map((v) => v / 16), opt.name);
      opt.dispose();
      x.dispose();
    }
  });

  it('model.fit passes each batch loss to the step (their mean is the epoch loss) and alrSmag trains a small MLP', async () => {
    const seen: { value: number; scalarTensor: boolean }[] = [];
    const opt = transformOptimizer(chain(lossSpy(seen), alrSmagTransform()), { name: 'lossSpyFit' });
    const { x, y } = blobs();
    const model = mlp();
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const h = await model.fit(x, y, { epochs: 10, batchSize: 64, shuffle: false, verbose: 0 });
    const loss = h.history.loss as number[];
    assert.equal(seen.length, 40);
    assert.ok(seen.every((s) => s.scalarTensor));
    loss.forEach((epochLoss, e) => {
      const mean = seen.slice(4 * e, 4 * e + 4).reduce((a, s) => a + s.value, 0) / 4;
      assert.ok(Math.abs(mean - epochLoss) <= 1e-6 * epochLoss, `epoch ${e}: batches' mean ${mean}, history ${epochLoss}`);
    });
    assert.ok(loss[0] / loss[loss.length - 1] > 2, `alrSmag in model.fit: loss ${loss[0]} → ${loss[loss.length - 1]}`);
    model.dispose();
    opt.dispose();
    tf.dispose([x, y]);
  });

  it('applyGradients without a loss throws LossRequiredError naming the optimizer, before anything is written (first step and later)', () => {
    const vars = variables(SHAPES, 2);
    const opt = alrSmag();
    const g = vars.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
    const start = values(vars);
    const refused = (e: unknown) =>
      e instanceof LossRequiredError &&
      e.message === 'alrSmag needs the loss: use minimize(f) / model.fit, or applyGradients(grads, { loss }) (no parameter or optimizer state was changed)';
    assert.throws(() => opt.applyGradients(g), refused);
    assert.throws(() => opt.applyGradients(g, {}), refused);
    assert.deepEqual(values(vars), start);
    assert.equal(opt.stateSlots.length, 0, 'no state made');
    assert.equal(opt.step, 0);
    opt.applyGradients(g, { loss: 3 });
    opt.applyGradients(g, { loss: 3 });
    const params = values(vars);
    const state = opt.stateSlots.map((s) => s.variable.dataSync().slice());
    assert.throws(() => opt.applyGradients(g), refused);
    assert.deepEqual(values(vars), params);
    opt.stateSlots.forEach((s, i) => assert.deepEqual(s.variable.dataSync(), state[i]));
    assert.equal(opt.step, 2);
    // the wrappers over a loss-aware optimizer need it too
    for (const wrapper of ['lookahead', 'accumulate', 'cautious', 'averaged']) {
      const w = createOptimizer(wrapper, { inner: 'polyakSgd' });
      assert.equal(w.needsLoss, true, wrapper);
      assert.throws(() => w.applyGradients(g), (e: unknown) => e instanceof LossRequiredError && e.message.startsWith(`${wrapper} needs the loss`));
      w.dispose();
    }
    assert.equal(sgd().needsLoss, false);
    tf.dispose([...vars, ...g.map((x) => x.tensor)]);
    opt.dispose();
  });

  it('applyGradients(grads, { loss }) with a tensor or a number steps as minimize(f) does, bit for bit', () => {
    const runs = ['minimize', 'tensor', 'number'].map((how) => {
      const vars = variables(SHAPES, 3);
      const opt = alrSmag({ weightDecay: 0.01 });
      const f = objective(vars);
      for (let k = 0; k < 4; k++) {
        if (how === 'minimize') {
          opt.minimize(f, false, vars);
          continue;
        }
        const { value, grads } = tf.variableGrads(f, vars);
        opt.applyGradients(grads, { loss: how === 'tensor' ? value : value.dataSync()[0] });
        tf.dispose([value, ...Object.values(grads)]);
      }
      const out = values(vars);
      opt.dispose();
      tf.dispose(vars);
      return out;
    });
    assert.ok(runs[0][0].some((v, i) => v !== gaussian(20, 3)[i]), 'the parameters moved');
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
  });

  it('refuses a loss that is not one number (shape, type, disposed) and a NaN/Inf loss (NonFiniteLossError), writing nothing; skip counts', () => {
    const vars = variables(SHAPES, 4);
    const opt = polyakSgd();
    const g = vars.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
    opt.applyGradients(g, { loss: 2 });
    const params = values(vars);
    const two = tf.tensor1d([1, 2]);
    const gone = tf.scalar(1);
    gone.dispose();
    const nanTensor = tf.scalar(Number.NaN);
    const cases: [string, () => void, (e: unknown) => boolean][] = [
      ['shape [2]', () => opt.applyGradients(g, { loss: two }), (e) => e instanceof Error && e.message === 'polyakSgd: the loss must be one number, got a tensor of shape [2]'],
      ['a string', () => opt.applyGradients(g, { loss: 'x' as unknown as number }), (e) => e instanceof TypeError && e.message === 'polyakSgd: the loss must be a number or a scalar tf.Tensor, got a string'],
      ['disposed', () => opt.applyGradients(g, { loss: gone }), (e) => e instanceof Error && e.message === 'polyakSgd: the loss tensor has been disposed'],
      ['null options', () => opt.applyGradients(g, null as unknown as { loss?: number }), (e) => e instanceof TypeError && e.message.includes('second argument must be an object')],
      ['NaN', () => opt.applyGradients(g, { loss: Number.NaN }), (e) => e instanceof NonFiniteLossError && e.message.startsWith('polyakSgd: non-finite loss')],
      ['Inf', () => opt.applyGradients(g, { loss: Infinity }), (e) => e instanceof NonFiniteLossError],
      ['NaN tensor', () => opt.applyGradients(g, { loss: nanTensor }), (e) => e instanceof NonFiniteLossError],
    ];
    for (const [what, call, check] of cases) {
      assert.throws(call, check, what);
      assert.deepEqual(values(vars), params, what);
      assert.equal(opt.step, 1, what);
    }
    const skipper = polyakSgd({ nonFinite: 'skip' });
    skipper.applyGradients(g, { loss: nanTensor });
    assert.equal(skipper.skippedSteps, 1);
    assert.equal(skipper.step, 0);
    assert.deepEqual(values(vars), params);
    // an optimizer that does not read the loss ignores it
    const plain = sgd({ learningRate: 0.1 });
    plain.applyGradients(g, { loss: Number.NaN });
    assert.equal(plain.step, 1);
    [opt, skipper, plain].forEach((o) => o.dispose());
    tf.dispose([...vars, ...g.map((x) => x.tensor), two, nanTensor]);
  });

  it('leaks no tensors: 50 minimize steps, 50 applyGradients with a tensor loss, and a minimize whose step throws', () => {
    const vars = variables(SHAPES, 5);
    const opt = alrSmag({ weightDecay: 0.01 }) as TransformOptimizer;
    const f = objective(vars);
    opt.minimize(f, false, vars);
    const count = tf.memory().numTensors;
    for (let k = 0; k < 50; k++) opt.minimize(f, false, vars);
    for (let k = 0; k < 50; k++) {
      const { value, grads } = tf.variableGrads(f, vars);
      opt.applyGradients(grads, { loss: value });
      tf.dispose([value, ...Object.values(grads)]);
    }
    assert.equal(tf.memory().numTensors, count, 'tensor count grew');
    // NaN added as a constant: the gradients stay finite, the loss is not
    const nan = () => tf.tidy(() => tf.add(f(), Number.NaN)) as tf.Scalar;
    for (const returnCost of [false, true]) assert.throws(() => opt.minimize(nan, returnCost, vars), NonFiniteLossError);
    assert.equal(tf.memory().numTensors, count, 'a throwing minimize left tensors');
    assert.equal(opt.step, 101);
    opt.dispose();
    tf.dispose(vars);
  });
});
