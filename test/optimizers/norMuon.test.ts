/**
 * NorMuon: golden replays of zichongli5/NorMuon (normuon, normuon_aux_adam) on cpu and wasm, the
 * neuron-wise normalization's properties (Frobenius norm kept, one statistic per output neuron = per
 * column of a TensorFlow.js kernel), the paper form, conv readings, option errors, and the contract.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { goldenCases, requireGolden, type GoldenFile } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { type NorMuonOptions } from '../../src/optimizers/norMuon.js';
import { norMuon } from '../../src/tfjs/register.js';
import { scaleByNeuronSecondMoment } from '../../src/transforms/normalize.js';
import { newtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { muon } from '../../src/tfjs/register.js';
import type { TransformOptimizer } from '../../src/tfjs/optimizer.js';

await useBackend('cpu');

const RTOL = 1e-5;
type Hp = Record<string, unknown>;

function fromGolden(g: GoldenFile): tf.Optimizer {
  const hp = g.hyperparams as Hp;
  return norMuon({
    learningRate: hp.lr as number,
    momentum: hp.momentum as number,
    beta2: hp.beta2 as number,
    weightDecay: hp.weight_decay as number,
    nesterov: g.injected?.['normuon_update.nesterov'] !== false,
    convScale: 'torchKernel', // the reference's 4-D reading (golden README items 1 and 3)
  });
}

function auxFromGolden(g: GoldenFile): tf.Optimizer {
  const [m, a] = g.effective_hyperparams as Hp[];
  const betas = a.betas as number[];
  return norMuon({
    learningRate: m.lr as number,
    momentum: m.momentum as number,
    beta2: m.beta2 as number,
    weightDecay: m.weight_decay as number,
    convScale: 'torchKernel',
    adamwLearningRate: a.lr as number,
    adamwBeta1: betas[0],
    adamwBeta2: betas[1],
    adamwEpsilon: a.eps as number,
    adamwWeightDecay: a.weight_decay as number,
  });
}

/**
 * wasm: measured deviations equal cpu's to 2 digits (worst 3.2e-7): the norms come from per-neuron sums
 * over at most 45 entries, so wasm's reduction order does not show; the README tolerance applies.
 */
for (const backend of ['cpu', 'wasm'] as const) {
  describe(`norMuon golden replays on ${backend}`, () => {
    before(async () => useBackend(backend));
    for (const [method, make] of [['normuon', fromGolden], ['normuon_aux_adam', auxFromGolden]] as const) {
      it(`${method}: every case within ${RTOL} of the reference`, (t) => {
        if (!requireGolden(t)) return;
        const cases = goldenCases(method);
        assert.ok(cases.length > 0, `no golden cases for ${method}`);
        const count = tf.memory().numTensors;
        for (const c of cases) {
          const r = replayGolden(c, make);
          t.diagnostic(`${backend} ${c}: max deviation ${r.maxDeviation.toExponential(2)}`);
          assert.ok(r.maxDeviation <= RTOL, `${c}: deviation ${r.maxDeviation} > ${RTOL} (per step ${r.perStep.join(', ')})`);
        }
        assert.equal(tf.memory().numTensors, count, 'replays leaked tensors');
      });
    }
  });
}

describe('norMuon golden controls', () => {
  before(async () => useBackend('cpu'));
  it('the conv reading matters: the library default (flattened) misses the reference conv by far more than the tolerance', (t) => {
    if (!requireGolden(t)) return;
    const hp = (g: GoldenFile) => g.hyperparams as Hp;
    const r = replayGolden('normuon__nesterov_wd', (g) =>
      norMuon({ learningRate: hp(g).lr as number, momentum: hp(g).momentum as number, beta2: hp(g).beta2 as number, weightDecay: hp(g).weight_decay as number }),
    );
    t.diagnostic(`flattened conv reading: ${r.maxDeviation.toExponential(2)}`);
    assert.ok(r.maxDeviation > 1e-3, `expected a visible deviation, got ${r.maxDeviation}`);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Column norms of a row-major [rows, cols] array (one per output neuron of a Dense kernel). */
function columnNorms(a: ArrayLike<number>, rows: number, cols: number): number[] {
  const out = new Array<number>(cols).fill(0);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] += a[i * cols + j] ** 2;
  return out.map(Math.sqrt);
}

function rowNorms(a: ArrayLike<number>, rows: number, cols: number): number[] {
  const out = new Array<number>(rows).fill(0);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i] += a[i * cols + j] ** 2;
  return out.map(Math.sqrt);
}

/** Max relative spread (max − min) / max of a list. */
function spread(xs: number[]): number {
  return (Math.max(...xs) - Math.min(...xs)) / Math.max(...xs);
}

/** A gradient whose output column `col` (of a [fanIn, fanOut] kernel) is `factor` times larger. */
function bigColumnGradient(fanIn: number, fanOut: number, col: number, factor: number, seed: number): Float32Array {
  const g = gaussian(fanIn * fanOut, seed);
  for (let i = 0; i < fanIn; i++) g[i * fanOut + col] *= factor;
  return g;
}

/** Runs `grads.length` steps on a fresh all-zero variable of `shape` (no decay here); returns each step's parameter change. */
function deltas(opt: TransformOptimizer, shape: number[], grads: Float32Array[]): Float32Array[] {
  const w = tf.variable(tf.zeros(shape), true, `nm${Math.random()}`); // from zeros the first ΔW is exact in float32
  const out: Float32Array[] = [];
  for (const g of grads) {
    const before = w.dataSync().slice();
    const gt = tf.tensor(g, shape);
    opt.applyGradients([{ name: w.name, tensor: gt }]);
    gt.dispose();
    const now = w.dataSync();
    out.push(Float32Array.from(now, (v, i) => v - before[i]));
  }
  opt.dispose();
  w.dispose();
  return out;
}

describe('scaleByNeuronSecondMoment', () => {
  before(async () => useBackend('cpu'));

  it('keeps the Frobenius norm and scales whole output columns, step after step', () => {
    const [fanIn, fanOut] = [12, 7];
    const t = scaleByNeuronSecondMoment({ beta2: 0.95, epsilon: 1e-10 });
    const metas = [{ name: 'k', shape: [fanIn, fanOut] }];
    let state = t.init(metas);
    for (let s = 0; s < 3; s++) {
      const oData = bigColumnGradient(fanIn, fanOut, 2, 10, 20 + s);
      const o = tf.tensor2d(oData, [fanIn, fanOut]);
      const r = t.update([o], state, { step: s, params: [o], metas });
      const out = r.updates[0].dataSync();
      tf.dispose(state as tf.TensorContainer);
      state = r.state;
      assert.ok(Math.abs(norm(out) / norm(oData) - 1) < 1e-6, `step ${s}: ‖Ô‖ ${norm(out)} vs ‖O‖ ${norm(oData)}`);
      // Ô = O·diag(c): one factor per output column, the same for every fan-in row.
      for (let j = 0; j < fanOut; j++) {
        const c = out[j] / oData[j];
        for (let i = 1; i < fanIn; i++) {
          const k = i * fanOut + j;
          assert.ok(Math.abs(out[k] - c * oData[k]) <= 1e-6 * Math.abs(c * oData[k]) + 1e-7, `column ${j} row ${i} not scaled by its column's factor`);
        }
      }
      if (s === 0) {
        // v = (1−β₂)·mean(O²) per column ⇒ every column ends with the same norm, the large one included.
        assert.ok(spread(columnNorms(out, fanIn, fanOut)) < 1e-5, `column norms ${columnNorms(out, fanIn, fanOut).join(', ')}`);
      }
      tf.dispose([o, ...r.updates]);
    }
    tf.dispose(state as tf.TensorContainer);
  });

  it('an all-zero update stays zero and an all-zero column stays zero, also with a tiny ε (no 0/0, no 0·Inf)', () => {
    for (const epsilon of [1e-10, 1e-30]) {
      const t = scaleByNeuronSecondMoment({ beta2: 0.95, epsilon });
      const metas = [{ name: 'k', shape: [4, 3] }];
      const state = t.init(metas);
      const z = tf.zeros([4, 3]);
      const r = t.update([z], state, { step: 0, params: [z], metas });
      assert.deepEqual(Array.from(r.updates[0].dataSync()), new Array(12).fill(0), `ε ${epsilon}`);
      const col = tf.tensor2d([1, 0, 2, -1, 0, 3, 0.5, 0, 1, 2, 0, -2], [4, 3]);
      const r2 = t.update([col], r.state, { step: 1, params: [col], metas });
      const out = r2.updates[0].dataSync();
      assert.ok(out.every(Number.isFinite), `ε ${epsilon}: ${Array.from(out).join(', ')}`);
      assert.deepEqual([out[1], out[4], out[7], out[10]], [0, 0, 0, 0]);
      tf.dispose([z, col, ...r.updates, ...r2.updates, state as tf.TensorContainer, r.state as tf.TensorContainer, r2.state as tf.TensorContainer]);
    }
  });
});

describe('norMuon updates', () => {
  before(async () => useBackend('cpu'));
  const lr = 0.01;

  it('first step: ‖ΔW‖_F = η·√(fanOut/fanIn)·‖NS(G)‖_F (norm preservation and Jordan scale)', () => {
    const [fanIn, fanOut] = [8, 20];
    const g = bigColumnGradient(fanIn, fanOut, 5, 30, 3);
    const [d] = deltas(norMuon({ learningRate: lr }), [fanIn, fanOut], [g]);
    const o = tf.tidy(() => newtonSchulz(tf.tensor2d(g, [fanIn, fanOut])).dataSync());
    const want = lr * Math.sqrt(fanOut / fanIn) * norm(o);
    assert.ok(Math.abs(norm(d) / want - 1) < 1e-5, `‖ΔW‖ ${norm(d)} vs ${want}`);
  });

  it('statistics per output neuron: a gradient large in one output column gets that column normalized', () => {
    const [fanIn, fanOut] = [16, 10];
    const g = bigColumnGradient(fanIn, fanOut, 4, 100, 4);
    const [d] = deltas(norMuon({ learningRate: lr }), [fanIn, fanOut], [g]);
    const cols = columnNorms(d, fanIn, fanOut);
    assert.ok(spread(cols) < 1e-4, `NorMuon column norms differ: ${cols.join(', ')}`);
    // Muon's update on the same gradient is far from equal per column, and NorMuon's rows are not equalized.
    const [dm] = deltas(muon({ learningRate: lr }), [fanIn, fanOut], [g]);
    assert.ok(spread(columnNorms(dm, fanIn, fanOut)) > 0.2, `muon column norms: ${columnNorms(dm, fanIn, fanOut).join(', ')}`);
    assert.ok(spread(rowNorms(d, fanIn, fanOut)) > 0.1, 'rows were equalized instead of columns');
  });

  it("statistics 'longerSide' on a kernel with fanIn > fanOut equalizes the fan-in rows instead", () => {
    const [fanIn, fanOut] = [20, 6];
    const g = gaussian(fanIn * fanOut, 5);
    for (let j = 0; j < fanOut; j++) g[3 * fanOut + j] *= 50; // one large input row
    const opt = norMuon({ learningRate: lr, statistics: 'longerSide' });
    const [d] = deltas(opt, [fanIn, fanOut], [g]);
    assert.ok(spread(rowNorms(d, fanIn, fanOut)) < 1e-4, `row norms ${rowNorms(d, fanIn, fanOut).join(', ')}`);
    assert.ok(spread(columnNorms(d, fanIn, fanOut)) > 0.05, 'columns were equalized');
  });

  it('the state is one value per output neuron: [1, fanOut] (flattened conv: one per output channel); kernel rule [kh, 1, in, out]', () => {
    const shapes = (o: NorMuonOptions, shape: number[]) => {
      const opt = norMuon(o);
      const w = tf.variable(tf.ones(shape), true, `nmstate${Math.random()}`);
      const gt = tf.ones(shape);
      opt.applyGradients([{ name: w.name, tensor: gt }]);
      const s = opt.stateSlots.map((x) => x.variable.shape.join('x'));
      opt.dispose();
      tf.dispose([w, gt]);
      return s;
    };
    assert.ok(shapes({}, [16, 10]).includes('1x10'), 'dense kernel [16, 10]');
    assert.ok(shapes({}, [3, 3, 4, 8]).includes('1x8'), 'flattened conv [3, 3, 4, 8]');
    assert.ok(shapes({ convScale: 'torchKernel' }, [3, 3, 4, 8]).includes('3x1x4x8'), 'reference conv reading');
    assert.ok(shapes({ statistics: 'longerSide' }, [20, 6]).includes('20x1'), 'longerSide, fanIn > fanOut');
  });

  it('conv kernels by default: the [kh·kw·in, out] matrix, one statistic per output channel', () => {
    const shape = [3, 3, 4, 8];
    const g = gaussian(3 * 3 * 4 * 8, 6);
    for (let i = 0; i < 36; i++) g[i * 8 + 2] *= 40; // output channel 2 is large
    const [d] = deltas(norMuon({ learningRate: lr }), shape, [g]);
    const cols = columnNorms(d, 36, 8);
    assert.ok(spread(cols) < 1e-4, `output-channel norms ${cols.join(', ')}`);
    const o = tf.tidy(() => newtonSchulz(tf.tensor2d(g, [36, 8])).dataSync());
    assert.ok(Math.abs(norm(d) / (lr * norm(o)) - 1) < 1e-5, 'conv: norm not preserved (Jordan scale of a tall matrix is 1)');
  });

  it("rescale 'paper': every update has RMS 0.2·η, plain momentum and no shape scale by default", () => {
    const [fanIn, fanOut] = [8, 20];
    const opt = norMuon({ learningRate: lr, rescale: 'paper' });
    assert.equal(opt.resolved.nesterov, false);
    assert.equal(opt.resolved.scaleRule, 'none');
    const grads = [0, 1, 2].map((s) => bigColumnGradient(fanIn, fanOut, s, 20, 30 + s));
    for (const [s, d] of deltas(opt, [fanIn, fanOut], grads).entries()) {
      const rms = norm(d) / Math.sqrt(fanIn * fanOut);
      assert.ok(Math.abs(rms / (0.2 * lr) - 1) < 1e-5, `step ${s}: RMS ${rms}`);
    }
  });

  it('weight decay is decoupled and multiplied by the learning rate: a zero gradient gives W·(1 − ηλ)', () => {
    const w = tf.variable(tf.tensor2d(gaussian(12, 8), [4, 3]), true, `nmwd${Math.random()}`);
    const w0 = w.dataSync().slice();
    const opt = norMuon({ learningRate: 0.1, weightDecay: 0.5 });
    const z = tf.zeros([4, 3]);
    opt.applyGradients([{ name: w.name, tensor: z }]);
    const now = w.dataSync();
    w0.forEach((v, i) => assert.ok(Math.abs(now[i] - v * (1 - 0.05)) < 1e-6));
    opt.dispose();
    tf.dispose([w, z]);
  });
});

describe('norMuon options', () => {
  it('rejects bad options with a RangeError naming optimizer, option, range and value', () => {
    assert.throws(() => norMuon({ beta2: 1 }), { name: 'RangeError', message: 'norMuon: beta2 must be in [0, 1), got 1' });
    assert.throws(() => norMuon({ momentum: -0.1 }), { name: 'RangeError', message: 'norMuon: momentum must be in [0, 1), got -0.1' });
    assert.throws(() => norMuon({ epsilon: 0 }), { name: 'RangeError', message: 'norMuon: epsilon must be in (0, inf), got 0' });
    assert.throws(() => norMuon({ weightDecay: -1 }), { name: 'RangeError', message: 'norMuon: weightDecay must be in [0, inf), got -1' });
    assert.throws(() => norMuon({ rescale: 'rms' as never }), {
      name: 'RangeError',
      message: "norMuon: rescale must be one of 'normPreserving', 'paper', got 'rms'",
    });
    assert.throws(() => norMuon({ statistics: 'row' as never }), {
      name: 'RangeError',
      message: "norMuon: statistics must be one of 'neuron', 'longerSide', got 'row'",
    });
    assert.throws(() => norMuon({ convScale: 'torchKernel', statistics: 'longerSide' }), (e: unknown) =>
      e instanceof RangeError && e.message.startsWith("norMuon: convScale 'torchKernel' replays the official code"),
    );
    assert.throws(() => norMuon({ convScale: 'torchKernel', rescale: 'paper' }), RangeError);
    assert.throws(() => norMuon({ beta1: 0.9 } as never), (e: unknown) => e instanceof RangeError && e.message.includes("unknown option 'beta1'"));
  });

  it('defaults: the official code form', () => {
    const r = norMuon().resolved;
    assert.deepEqual(
      [r.learningRate, r.momentum, r.nesterov, r.beta2, r.epsilon, r.rescale, r.statistics, r.scaleRule, r.convScale, r.weightDecay],
      [0.02, 0.95, true, 0.95, 1e-10, 'normPreserving', 'neuron', 'jordan', 'flattened', 0],
    );
    assert.deepEqual(
      [r.aux.adamwLearningRate, r.aux.adamwBeta1, r.aux.adamwBeta2, r.aux.adamwEpsilon, r.aux.adamwWeightDecay],
      [3e-4, 0.9, 0.95, 1e-10, 0],
    );
  });
});

describe('norMuon on wasm', () => {
  before(async () => useBackend('wasm'));
  optimizerContract('norMuon', () => norMuon({ learningRate: 0.05, adamwLearningRate: 0.01, weightDecay: 0.01, exclude: ['dense_Dense3'] }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('norMuon (paper form, longer side)', () =>
    norMuon({ learningRate: 0.05, adamwLearningRate: 0.01, rescale: 'paper', statistics: 'longerSide' }),
  );
});
