/**
 * AdaMuon: golden replays of Chongjie-Si/AdaMuon's GPT-2 `AdaMuon` on cpu and wasm, the first-step
 * `0.2·sign(O)` identity (spec §5.1), the RMS-0.2 rescale and its conv readings, the element-wise
 * second moment, wasm's sign, option errors, and the contract.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { goldenCases, requireGolden, type GoldenFile } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { adaMuon } from '../../src/tfjs/register.js';
import { scaleBySign } from '../../src/transforms/normalize.js';
import { newtonSchulz } from '../../src/linalg/newtonSchulz.js';
import type { TransformOptimizer } from '../../src/tfjs/optimizer.js';

await useBackend('cpu');

const RTOL = 1e-5;
type Hp = Record<string, unknown>;

function fromGolden(g: GoldenFile): tf.Optimizer {
  const hp = g.hyperparams as Hp;
  return adaMuon({
    learningRate: hp.lr as number,
    momentum: hp.momentum as number,
    nesterov: hp.nesterov as boolean,
    nsSteps: hp.ns_steps as number,
    epsilon: hp.eps as number,
    weightDecay: hp.weight_decay as number,
    convScale: 'torchKernel', // the reference's min(shape)·max(shape) (golden README item 4)
  });
}

/**
 * wasm: measured deviations equal cpu's (worst 3.6e-7) once the sign is computed without wasm's
 * `Sign` kernel (which zeroes |x| < 1.19e-7 and missed the g1e-3 case by 2.9e-3); the README tolerance
 * applies.
 */
for (const backend of ['cpu', 'wasm'] as const) {
  describe(`adaMuon golden replays on ${backend}`, () => {
    before(async () => useBackend(backend));
    it(`adamuon: every case within ${RTOL} of the reference`, (t) => {
      if (!requireGolden(t)) return;
      const cases = goldenCases('adamuon');
      assert.ok(cases.length > 0, 'no golden cases for adamuon');
      const count = tf.memory().numTensors;
      for (const c of cases) {
        const r = replayGolden(c, fromGolden);
        t.diagnostic(`${backend} ${c}: max deviation ${r.maxDeviation.toExponential(2)}`);
        assert.ok(r.maxDeviation <= RTOL, `${c}: deviation ${r.maxDeviation} > ${RTOL} (per step ${r.perStep.join(', ')})`);
      }
      assert.equal(tf.memory().numTensors, count, 'replays leaked tensors');
    });
  });
}

describe('adaMuon golden controls', () => {
  before(async () => useBackend('cpu'));
  it('the conv reading matters: the library default (flattened m·n) misses the reference conv by far more than the tolerance', (t) => {
    if (!requireGolden(t)) return;
    const r = replayGolden('adamuon__nesterov_wd', (g) => {
      const hp = g.hyperparams as Hp;
      return adaMuon({ learningRate: hp.lr as number, momentum: hp.momentum as number, weightDecay: hp.weight_decay as number });
    });
    t.diagnostic(`flattened conv reading: ${r.maxDeviation.toExponential(2)}`);
    assert.ok(r.maxDeviation > 1e-3, `expected a visible deviation, got ${r.maxDeviation}`);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

function rms(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s / a.length);
}

/** Runs `grads.length` steps on a fresh all-zero variable of `shape` (no decay here); returns each step's parameter change. */
function deltas(opt: TransformOptimizer, shape: number[], grads: Float32Array[]): Float32Array[] {
  const w = tf.variable(tf.zeros(shape), true, `am${Math.random()}`); // from zeros the first ΔW is exact in float32
  const out: Float32Array[] = [];
  for (const g of grads) {
    const before = w.dataSync().slice();
    const gt = tf.tensor(g, shape);
    opt.applyGradients([{ name: w.name, tensor: gt }]);
    gt.dispose();
    out.push(Float32Array.from(w.dataSync(), (v, i) => v - before[i]));
  }
  opt.dispose();
  w.dispose();
  return out;
}

describe('adaMuon updates', () => {
  before(async () => useBackend('cpu'));
  const lr = 0.01;

  it('first step: ΔW = −η·0.2·sign(O) with O = NS(sign(G)) (spec §5.1), so RMS(ΔW) = 0.2·η', () => {
    const [fanIn, fanOut] = [12, 30];
    const g = gaussian(fanIn * fanOut, 1);
    const [d] = deltas(adaMuon({ learningRate: lr, weightDecay: 0 }), [fanIn, fanOut], [g]);
    const o = tf.tidy(() => newtonSchulz(tf.sign(tf.tensor2d(g, [fanIn, fanOut]))).dataSync());
    assert.ok(Math.abs(rms(d) / (0.2 * lr) - 1) < 1e-5, `RMS ${rms(d)} vs ${0.2 * lr}`);
    let worst = 0;
    for (let i = 0; i < d.length; i++) {
      assert.equal(Math.sign(d[i]), -Math.sign(o[i]), `entry ${i}: sign of the update`);
      worst = Math.max(worst, Math.abs(d[i] + 0.2 * lr * Math.sign(o[i])));
    }
    // Exact up to ε/|O_ij|: |O_ij| ≳ 1e-4 here, ε = 1e-8.
    assert.ok(worst < 1e-4 * 0.2 * lr, `max |ΔW + 0.2·η·sign(O)| = ${worst}`);
  });

  it('every later step has RMS exactly 0.2·η too (the rescale), with other entries no longer ±0.2·η', () => {
    const [fanIn, fanOut] = [10, 16];
    const grads = [0, 1, 2, 3].map((s) => gaussian(fanIn * fanOut, 10 + s));
    const ds = deltas(adaMuon({ learningRate: lr, weightDecay: 0 }), [fanIn, fanOut], grads);
    ds.forEach((d, s) => assert.ok(Math.abs(rms(d) / (0.2 * lr) - 1) < 1e-5, `step ${s}: RMS ${rms(d)}`));
    const last = ds[3];
    const spreadOfMagnitudes = Math.max(...Array.from(last, Math.abs)) / (0.2 * lr);
    assert.ok(spreadOfMagnitudes > 1.2, 'the second moment should make later updates non-uniform');
  });

  it("conv kernels: m·n of the flattened matrix by default; 'torchKernel' uses min(shape)·max(shape) as the reference", () => {
    const shape = [3, 3, 4, 8];
    const size = 3 * 3 * 4 * 8;
    const g = gaussian(size, 2);
    const [flat] = deltas(adaMuon({ learningRate: lr, weightDecay: 0 }), shape, [g]);
    assert.ok(Math.abs(rms(flat) / (0.2 * lr) - 1) < 1e-5, `flattened: RMS ${rms(flat)}`);
    const [kernel] = deltas(adaMuon({ learningRate: lr, weightDecay: 0, convScale: 'torchKernel' }), shape, [g]);
    const want = 0.2 * lr * Math.sqrt((3 * 8) / size);
    assert.ok(Math.abs(rms(kernel) / want - 1) < 1e-5, `kernel: RMS ${rms(kernel)} vs ${want}`);
  });

  it('the second moment is element-wise (state: momentum and V, both the parameter shape) with β = momentum', () => {
    const opt = adaMuon({ momentum: 0.9 });
    assert.equal(opt.resolved.beta2, 0.9);
    const w = tf.variable(tf.ones([5, 7]), true, `amstate${Math.random()}`);
    const gt = tf.tensor2d(gaussian(35, 3), [5, 7]);
    opt.applyGradients([{ name: w.name, tensor: gt }]);
    const shapes = opt.stateSlots.map((s) => s.variable.shape.join('x'));
    assert.deepEqual(shapes.filter((s) => s === '5x7').length, 2, `slots: ${shapes.join(', ')}`);
    opt.dispose();
    tf.dispose([w, gt]);
  });

  it('sign: false (the v1 paper) orthogonalizes the momentum itself', () => {
    const [fanIn, fanOut] = [6, 9];
    const g = gaussian(fanIn * fanOut, 4);
    g[5] *= 1000;
    const [withSign] = deltas(adaMuon({ learningRate: lr, weightDecay: 0 }), [fanIn, fanOut], [g]);
    const [without] = deltas(adaMuon({ learningRate: lr, weightDecay: 0, sign: false }), [fanIn, fanOut], [g]);
    assert.ok(Math.abs(rms(without) / (0.2 * lr) - 1) < 1e-5);
    let diff = 0;
    for (let i = 0; i < g.length; i++) diff = Math.max(diff, Math.abs(withSign[i] - without[i]));
    assert.ok(diff > 0.1 * lr * 0.2, `sign made no difference (${diff})`);
  });

  it('weight decay (default 0.01) is decoupled: a zero gradient gives W·(1 − ηλ)', () => {
    const w = tf.variable(tf.tensor2d(gaussian(12, 8), [4, 3]), true, `amwd${Math.random()}`);
    const w0 = w.dataSync().slice();
    const opt = adaMuon({ learningRate: 0.1 });
    const z = tf.zeros([4, 3]);
    opt.applyGradients([{ name: w.name, tensor: z }]);
    const now = w.dataSync();
    w0.forEach((v, i) => assert.ok(Math.abs(now[i] - v * (1 - 0.1 * 0.01)) < 1e-6));
    opt.dispose();
    tf.dispose([w, z]);
  });
});

describe('scaleBySign on wasm', () => {
  before(async () => useBackend('wasm'));
  it('keeps the sign of tiny values (wasm Sign zeroes |x| < 1.19e-7)', () => {
    const t = scaleBySign();
    const x = tf.tensor1d([1e-8, -1e-9, 0, 2, -3e-30]);
    const metas = [{ name: 'x', shape: [5] }];
    const r = t.update([x], null, { step: 0, params: [x], metas });
    assert.deepEqual(Array.from(r.updates[0].dataSync()), [1, -1, 0, 1, -1]);
    tf.dispose([x, ...r.updates]);
  });
});

describe('adaMuon options', () => {
  it('rejects bad options with a RangeError naming optimizer, option, range and value', () => {
    assert.throws(() => adaMuon({ momentum: 1 }), { name: 'RangeError', message: 'adaMuon: momentum must be in [0, 1), got 1' });
    assert.throws(() => adaMuon({ beta2: 1.5 }), { name: 'RangeError', message: 'adaMuon: beta2 must be in [0, 1), got 1.5' });
    assert.throws(() => adaMuon({ epsilon: -1e-8 }), { name: 'RangeError', message: 'adaMuon: epsilon must be in (0, inf), got -1e-8' });
    assert.throws(() => adaMuon({ rms: 0 }), { name: 'RangeError', message: 'adaMuon: rms must be in (0, inf), got 0' });
    assert.throws(() => adaMuon({ sign: 'yes' as never }), { name: 'RangeError', message: "adaMuon: sign must be true or false, got 'yes'" });
    assert.throws(() => adaMuon({ convScale: 'numel' as never }), {
      name: 'RangeError',
      message: "adaMuon: convScale must be one of 'flattened', 'torchKernel', got 'numel'",
    });
  });

  it('defaults: the official GPT-2 code; AdamW shares the learning rate as the reference script does', () => {
    const r = adaMuon().resolved;
    assert.deepEqual(
      [r.learningRate, r.momentum, r.nesterov, r.beta2, r.epsilon, r.rms, r.sign, r.convScale, r.weightDecay, r.ns.steps],
      [0.02, 0.95, true, 0.95, 1e-8, 0.2, true, 'flattened', 0.01, 5],
    );
    assert.deepEqual(
      [r.aux.adamwLearningRate, r.aux.adamwBeta1, r.aux.adamwBeta2, r.aux.adamwEpsilon, r.aux.adamwWeightDecay],
      [0.02, 0.9, 0.95, 1e-8, 0],
    );
    assert.equal(adaMuon({ learningRate: 6e-4 }).resolved.aux.adamwLearningRate, 6e-4);
  });
});

describe('adaMuon on wasm', () => {
  before(async () => useBackend('wasm'));
  optimizerContract('adaMuon', () => adaMuon({ learningRate: 0.05, adamwLearningRate: 0.01, exclude: ['dense_Dense3'] }), {
    zeroGradientKeepsWeights: false,
  });
});
