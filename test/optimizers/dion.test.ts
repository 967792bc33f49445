/**
 * Dion: golden replays of every microsoft/dion `dion_reference` and `dion_simple` trajectory (cpu at the
 * README's 1e-5, and wasm), the error-feedback identity against float64 (spec §16), a float64 reference
 * step, the all-zero case, rank rounding, sharded = unsharded, option validation, and the optimizer
 * contract (wasm).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenCases, requireGolden, torchTensor, type GoldenFile, type GoldenTensor } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { type DionOptions } from '../../src/optimizers/dion.js';
import { dion } from '../../src/tfjs/register.js';
import { dionLayout, dionRank, dionStep, scaleByDion, type DionSide, type ScaleByDionOptions } from '../../src/transforms/dion.js';
import { householderQ64, type QrMethod } from '../../src/linalg/qr.js';
import { matmul64, matrix64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';
import { flattenState, type TransformOptimizer } from '../../src/tfjs/optimizer.js';
import type { ParamMeta } from '../../src/core/transform.js';

await useBackend('cpu');

const RTOL = 1e-5;
type Hp = Record<string, unknown>;

// ------------------------------------------------------------------------------------ golden replays

/**
 * Writes the golden initial Q (`state_init.<param>.Q`, PyTorch layout (cols, r) or (rows, r) when
 * transposed) into the optimizer's `matrix/0/q/i` slots through `stageState`. Its rows index the Q side
 * (fan-in when P is on fan-out, and vice versa), which is the same axis in TensorFlow.js layout, so the
 * values are used as they are.
 */
function stageGoldenQ(opt: TransformOptimizer, g: GoldenFile): void {
  const order = g.param_order!;
  const metas: ParamMeta[] = order.map((p) => ({ name: `golden/${p}`, shape: [...g.params![p].shape].reverse() }));
  const matrices = order.filter((p) => g.params![p].shape.length === 2);
  const flat = flattenState(opt.transform.init(metas));
  const tensors = flat.map(([path, t]) => {
    const m = /^matrix\/0\/q\/(\d+)$/.exec(path);
    return m ? torchTensor(g.state_init![matrices[Number(m[1])]].Q as GoldenTensor) : t;
  });
  assert.equal(tensors.filter((t, i) => t !== flat[i][1]).length, matrices.length, 'one Q slot per matrix');
  opt.stageState(tensors, { source: 'golden state_init', paths: flat.map(([p]) => p) });
  tf.dispose([...tensors, ...flat.map(([, t]) => t)]);
}

function dionFromGolden(qrMethod: QrMethod) {
  return (g: GoldenFile): tf.Optimizer => {
    const hp = g.hyperparams as Hp;
    const betas = hp.betas as number[];
    const common: DionOptions = {
      learningRate: hp.lr as number,
      momentum: hp.mu as number,
      weightDecay: hp.weight_decay as number,
      epsilon: hp.epsilon as number,
      adamwBeta1: betas[0],
      adamwBeta2: betas[1],
      lion: ['gain'], // the golden param group {params: [gain], algorithm: 'lion'}
      qrMethod,
    };
    const variant: DionOptions =
      g.method === 'dion_simple'
        ? { orientation: 'fanOut', rank: hp.rank as number }
        : {
            rankFraction: hp.rank_fraction as number,
            rankMultipleOf: hp.rank_multiple_of as number,
            powerIters: hp.power_iters as number,
          };
    const opt = dion({ ...common, ...variant });
    stageGoldenQ(opt, g);
    return opt;
  };
}

function goldenSuite(backend: 'cpu' | 'wasm'): void {
  describe(`golden replays on ${backend} (5 steps, no re-sync)`, () => {
    before(() => useBackend(backend));
    for (const method of ['dion_reference', 'dion_simple']) {
      it(`${method}: every case within ${RTOL} (both QR methods)`, (t) => {
        if (!requireGolden(t)) return;
        const cases = goldenCases(method);
        assert.ok(cases.length >= 4, `found ${cases.length} ${method} files`);
        for (const c of cases) {
          for (const qr of ['householder', 'cholesky'] as const) {
            const before = tf.memory().numTensors;
            const r = replayGolden(c, dionFromGolden(qr));
            t.diagnostic(`${backend} ${c} (${qr}): max deviation ${r.maxDeviation.toExponential(2)}`);
            assert.ok(r.maxDeviation <= RTOL, `${c} (${qr}) on ${backend}: ${r.maxDeviation} (per step ${r.perStep.join(', ')})`);
            assert.equal(tf.memory().numTensors, before, `${c}: tensors leaked`);
          }
        }
      });
    }
  });
}

goldenSuite('cpu');

// --------------------------------------------------------------------------------- float64 checks

/** X [a×b] row-major float32 → B (float64) with the P side as rows. */
function workingMatrix(x: tf.Tensor2D, side: DionSide): Matrix64 {
  const m = matrix64(x.shape[0], x.shape[1], x.dataSync());
  return side === 'rows' ? m : transpose64(m);
}

function fromTensor(t: tf.Tensor2D): Matrix64 {
  return matrix64(t.shape[0], t.shape[1], t.dataSync());
}

function relDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let w = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    w = Math.max(w, Math.abs(want[i]));
  }
  return w === 0 ? d : d / w;
}

/** A whole Dion step in float64 (Householder QR), from B (P side as rows) and Q. */
function dionStep64(b: Matrix64, q: Matrix64, mu: number, eps: number, powerIters: number) {
  let qc = q;
  let p = q;
  for (let i = 0; i < powerIters; i++) {
    const bq = matmul64(b, qc);
    p = matrix64(bq.rows, bq.cols, householderQ64(bq.data, bq.rows, bq.cols));
    qc = matmul64(transpose64(b), p);
  }
  const r = qc;
  const prt = matmul64(p, transpose64(r));
  const momentum = b.data.map((v, i) => v - (1 - mu) * prt.data[i]);
  const qn = new Float64Array(r.data.length);
  for (let j = 0; j < r.cols; j++) {
    let s = 0;
    for (let i = 0; i < r.rows; i++) s += r.data[i * r.cols + j] ** 2;
    for (let i = 0; i < r.rows; i++) qn[i * r.cols + j] = r.data[i * r.cols + j] / (Math.sqrt(s) + eps);
  }
  const direction = matmul64(p, transpose64(matrix64(r.rows, r.cols, qn)));
  return { momentum, direction: direction.data };
}

/** A result in X layout → B layout (P side as rows), as float64. */
function toWorking(t: tf.Tensor2D, side: DionSide): Float64Array {
  return workingMatrix(t, side).data;
}

describe('Dion step against float64 (spec §16)', () => {
  for (const side of ['rows', 'cols'] as const) {
    for (const powerIters of [1, 2]) {
      it(`error feedback M_new = B − (1−μ)·P·Rᵀ, P orthonormal, R = BᵀP, Q = colnorm(R) (P side ${side}, ${powerIters} power iters)`, () => {
        tf.tidy(() => {
          const x = tf.tensor2d(gaussian(20 * 14, 31), [20, 14]);
          const qDim = side === 'rows' ? 14 : 20;
          const q = tf.tensor2d(gaussian(qDim * 5, 32), [qDim, 5]);
          const mu = 0.9;
          const res = dionStep(x, q, { pSide: side, mu, epsilon: 1e-8, powerIters, qrMethod: 'cholesky' });
          const b = workingMatrix(x, side);
          const p = fromTensor(res.p);
          const r = fromTensor(res.r);
          // error-feedback identity, evaluated in float64 from the float32 B, P and R
          const prt = matmul64(p, transpose64(r));
          const want = b.data.map((v, i) => v - (1 - mu) * prt.data[i]);
          const ef = relDiff(toWorking(res.momentum, side), want);
          assert.ok(ef < 1e-6, `error-feedback identity off by ${ef}`);
          // P has orthonormal columns, R = BᵀP, Q = R ⊘ column norms
          const ptp = matmul64(transpose64(p), p);
          for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) assert.ok(Math.abs(ptp.data[i * 5 + j] - (i === j ? 1 : 0)) < 2e-6, `PᵀP[${i},${j}]`);
          if (powerIters === 1) assert.ok(relDiff(r.data, matmul64(transpose64(b), p).data) < 1e-6, 'R = BᵀP');
          const qn = fromTensor(res.q);
          for (let j = 0; j < 5; j++) {
            let nr = 0;
            let nq = 0;
            for (let i = 0; i < r.rows; i++) {
              nr += r.data[i * 5 + j] ** 2;
              nq += qn.data[i * 5 + j] ** 2;
            }
            assert.ok(Math.abs(Math.sqrt(nq) - 1) < 1e-6, `‖Q_${j}‖ = ${Math.sqrt(nq)}`);
            for (let i = 0; i < r.rows; i++) assert.ok(Math.abs(qn.data[i * 5 + j] - r.data[i * 5 + j] / Math.sqrt(nr)) < 1e-6, `Q[${i},${j}]`);
          }
          // and the whole step agrees with a float64 Dion step from the same B and Q
          const ref = dionStep64(b, workingMatrix(q, 'rows'), mu, 1e-8, powerIters);
          assert.ok(relDiff(toWorking(res.direction, side), ref.direction) < 2e-5, 'direction vs float64');
          assert.ok(relDiff(toWorking(res.momentum, side), ref.momentum) < 2e-5, 'momentum vs float64');
        });
      });
    }
  }

  it('an all-zero B gives a zero direction and momentum, and keeps Q (column-normalized), no NaN', () => {
    tf.tidy(() => {
      const q = tf.tensor2d(gaussian(6 * 3, 33), [6, 3]);
      for (const qrMethod of ['cholesky', 'householder'] as const) {
        const res = dionStep(tf.zeros([9, 6]) as tf.Tensor2D, q, { pSide: 'rows', mu: 0.95, epsilon: 1e-8, powerIters: 1, qrMethod });
        assert.ok(res.direction.dataSync().every((v) => v === 0), 'direction');
        assert.ok(res.momentum.dataSync().every((v) => v === 0), 'momentum');
        const q64 = fromTensor(q);
        const got = res.q.dataSync();
        for (let j = 0; j < 3; j++) {
          let s = 0;
          for (let i = 0; i < 6; i++) s += q64.data[i * 3 + j] ** 2;
          for (let i = 0; i < 6; i++) assert.ok(Math.abs(got[i * 3 + j] - q64.data[i * 3 + j] / Math.sqrt(s)) < 1e-6, `Q[${i},${j}]`);
        }
        // an already-normalized Q is kept
        const again = dionStep(tf.zeros([9, 6]) as tf.Tensor2D, res.q, { pSide: 'rows', mu: 0.95, epsilon: 1e-8, powerIters: 1, qrMethod });
        assert.ok(relDiff(again.q.dataSync(), Float64Array.from(got)) < 1e-6, 'normalized Q kept');
      }
    });
  });
});

// ------------------------------------------------------------------------------ optimizer behaviour

describe('dion optimizer', () => {
  it('rank: ⌈fraction·min⌉ rounded up to a multiple, capped; absolute rank capped (dion_simple)', () => {
    const frac = (m: number, n: number, rankFraction: number, rankMultipleOf = 1) =>
      dionRank(m, n, { rankFraction, rankMultipleOf, rank: null });
    assert.equal(frac(16, 10, 0.25), 3); // 2.5 → 3 (the golden frac_low case)
    assert.equal(frac(16, 10, 0.5), 5);
    assert.equal(frac(16, 10, 1), 10);
    assert.equal(frac(200, 100, 0.25, 8), 32); // 25 → 32
    assert.equal(frac(16, 10, 1, 4), 10); // 12 capped at min(m, n)
    assert.equal(frac(100, 200, 0.07), 8); // 0.07·100 = 7.000000000000001 in double, as in Python
    assert.equal(frac(7, 1, 0.01), 1);
    assert.equal(dionRank(16, 10, { rankFraction: 1, rankMultipleOf: 1, rank: 64 }), 10);
    assert.equal(dionRank(16, 10, { rankFraction: 1, rankMultipleOf: 1, rank: 4 }), 4);
  });

  it('Q has shape [Q side, r]: the shorter side with orientation tall, fan-in with fanOut', () => {
    const shapes = (opts: DionOptions, shape: number[]) => {
      const opt = dion(opts);
      const v = tf.variable(tf.zeros(shape));
      opt.applyGradients([{ name: v.name, tensor: tf.ones(shape) }]);
      const q = opt.stateSlots.find((s) => /\/q\/0$/.test(s.path))!.variable.shape;
      opt.dispose();
      v.dispose();
      return q;
    };
    assert.deepEqual(shapes({ rankFraction: 0.25 }, [16, 10]), [10, 3]); // fanIn 16 > fanOut 10: P on fan-in
    assert.deepEqual(shapes({ rankFraction: 0.25 }, [10, 16]), [10, 3]); // P on fan-out
    assert.deepEqual(shapes({ orientation: 'fanOut', rank: 4 }, [16, 10]), [16, 4]);
    assert.deepEqual(shapes({ rankFraction: 0.5 }, [3, 3, 4, 8]), [8, 4]); // conv [3,3,4,8] → [36, 8]
    assert.deepEqual(dionLayout([16, 10], 'tall'), { fanIn: 16, fanOut: 10, pSide: 'rows', qDim: 10 });
    assert.deepEqual(dionLayout([10, 10], 'tall').pSide, 'cols'); // ties: P on fan-out, as the reference
  });

  it('a first all-zero gradient leaves the weights unchanged (weightDecay 0) and column-normalizes Q', () => {
    const w = tf.variable(tf.tensor2d(gaussian(12 * 8, 34), [12, 8]));
    const start = w.dataSync().slice();
    const opt = dion({ weightDecay: 0, rankFraction: 0.5 });
    opt.applyGradients([{ name: w.name, tensor: tf.zeros([12, 8]) }]);
    assert.deepEqual(w.dataSync(), start);
    const q = opt.stateSlots.find((s) => /\/q\/0$/.test(s.path))!.variable;
    const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(q), 0)).dataSync());
    norms.forEach((n) => assert.ok(Math.abs(n - 1) < 1e-6, `column norm ${n}`));
    const m = opt.stateSlots.find((s) => /\/momentum\/0$/.test(s.path))!.variable;
    assert.ok(m.dataSync().every((v) => v === 0), 'momentum stays zero');
    opt.dispose();
    w.dispose();
  });

  it('uses the spectral scale √(fanOut/fanIn) without max(1, ·) and decoupled decay η·λ', () => {
    // full rank, μ = 0: M + G = G and the direction is P·Qᵀ with P·Qᵀ = polar-like of G; compare the
    // step of a wide [4, 9] and its scale against the bare transform's direction.
    const g = tf.tensor2d(gaussian(36, 35), [4, 9]);
    const w = tf.variable(tf.tensor2d(gaussian(36, 36), [4, 9]));
    const w0 = tf.tidy(() => tf.clone(w));
    const opt = dion({ learningRate: 0.1, weightDecay: 0.5, momentum: 0 });
    opt.applyGradients([{ name: w.name, tensor: g }]);
    const t = scaleByDion({
      mu: 0, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky', orientation: 'tall', rankFraction: 1, rankMultipleOf: 1, rank: null, seed: 0,
    });
    const metas = [{ name: w.name, shape: [4, 9] }];
    const dir = tf.tidy(() => t.update([g], t.init(metas), { step: 0, params: [w0], metas }).updates[0]);
    const want = tf.tidy(() => tf.sub(tf.mul(w0, 1 - 0.1 * 0.5), tf.mul(dir, 0.1 * Math.sqrt(9 / 4))));
    const d = relDiff(w.dataSync(), Float64Array.from(want.dataSync()));
    assert.ok(d < 1e-6, `W differs from W(1 − ηλ) − η√(9/4)·P·Qᵀ by ${d}`);
    tf.dispose([g, w, w0, dir, want]);
    opt.dispose();
  });

  it('routes `lion` parameters to Lion (first step: W − η·sign(G)) and vectors to AdamW', () => {
    const e = tf.variable(tf.tensor2d(gaussian(20, 37), [5, 4]), true, 'embedding/embeddings');
    const b = tf.variable(tf.zeros([4]), true, 'dense/bias');
    const e0 = e.dataSync().slice();
    const ge = tf.tensor2d(gaussian(20, 38), [5, 4]);
    const gb = tf.tensor1d([1, -1, 2, -2]);
    const opt = dion({ weightDecay: 0, lion: ['embedding'], lionLearningRate: 0.05, adamwLearningRate: 0.01 });
    opt.applyGradients([{ name: e.name, tensor: ge }, { name: b.name, tensor: gb }]);
    const sg = ge.dataSync();
    e.dataSync().forEach((v, i) => assert.ok(Math.abs(v - (e0[i] - 0.05 * Math.sign(sg[i]))) < 1e-6, `lion entry ${i}`));
    // AdamW's first step is lr·sign(g) (up to ε)
    b.dataSync().forEach((v, i) => assert.ok(Math.abs(v + 0.01 * Math.sign(gb.dataSync()[i])) < 1e-6, `adamw entry ${i}`));
    assert.deepEqual(opt.stateSlots.map((s) => s.path), ['adamw/adamw/0/mu/0', 'adamw/adamw/0/nu/0', 'adamw/lion/0/mu/0']);
    opt.dispose();
    tf.dispose([e, b, ge, gb]);
  });

  it('rejects invalid options with RangeErrors naming optimizer, option, range and value', () => {
    const bad: [DionOptions, RegExp][] = [
      [{ momentum: 1 }, /^dion: momentum must be in \[0, 1\), got 1$/],
      [{ rankFraction: 0 }, /^dion: rankFraction must be in \(0, 1\], got 0$/],
      [{ rankFraction: 1.5 }, /^dion: rankFraction must be in \(0, 1\], got 1.5$/],
      [{ rankMultipleOf: 0 }, /^dion: rankMultipleOf must be an integer in \[1, inf\), got 0$/],
      [{ rank: 2.5 }, /^dion: rank must be an integer in \[1, inf\), got 2.5$/],
      [{ powerIters: 0 }, /^dion: powerIters must be an integer in \[1, 100\], got 0$/],
      [{ epsilon: 0 }, /^dion: epsilon must be in \(0, inf\), got 0$/],
      [{ weightDecay: -1 }, /^dion: weightDecay must be in \[0, inf\), got -1$/],
      [{ qrMethod: 'rcqr' as QrMethod }, /^dion: qrMethod must be one of 'cholesky', 'householder', got 'rcqr'$/],
      [{ orientation: 'wide' as 'tall' }, /^dion: orientation must be one of 'tall', 'fanOut', got 'wide'$/],
      [{ lion: 'gain' as unknown as string[] }, /^dion: lion must be a list of strings and RegExps/],
    ];
    for (const [o, re] of bad) assert.throws(() => dion(o), (e: unknown) => e instanceof RangeError && re.test(e.message), JSON.stringify(o));
  });
});

// ------------------------------------------------------------------------------------------ sharding

describe('sharded Dion equals unsharded (in-process collective)', () => {
  const base: ScaleByDionOptions = {
    mu: 0.95, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky', orientation: 'tall', rankFraction: 0.5, rankMultipleOf: 1, rank: null, seed: 3,
  };

  /** Runs 3 steps of the bare transform; returns the updates and the final state. */
  function run(shape: number[], options: ScaleByDionOptions): Float32Array[] {
    const metas = [{ name: 'w', shape }];
    const t = scaleByDion(options);
    return tf.tidy(() => {
      let state = t.init(metas);
      const out: Float32Array[] = [];
      for (let s = 0; s < 3; s++) {
        const g = tf.tensor(gaussian(shape.reduce((a, b) => a * b, 1), 40 + s), shape);
        const r = t.update([g], state, { step: s, params: [tf.zeros(shape)], metas });
        state = r.state;
        out.push(r.updates[0].dataSync() as Float32Array);
      }
      for (const [, leaf] of flattenState(state)) out.push(leaf.dataSync() as Float32Array);
      return out;
    });
  }

  for (const shape of [[24, 40], [40, 24]]) {
    const whole = () => run(shape, base);
    for (const axis of ['fanIn', 'fanOut'] as const) {
      for (const count of [2, 3]) {
        const pSide = dionLayout(shape, 'tall').pSide;
        const which = (pSide === 'rows') === (axis === 'fanIn') ? 'P side (rows of B)' : 'Q side (columns of B)';
        it(`[${shape.join(', ')}], ${count} shards along ${axis} = ${which}: updates and state within 1e-5`, () => {
          const want = whole();
          const got = run(shape, { ...base, sharding: { count, axis } });
          assert.equal(got.length, want.length);
          got.forEach((g, i) => {
            const d = relDiff(g, Float64Array.from(want[i]));
            assert.ok(d <= 1e-5, `output ${i}: ${d}`);
          });
        });
      }
    }
  }

  it('also with 2 power iterations and Householder QR (3 uneven shards)', () => {
    for (const axis of ['fanIn', 'fanOut'] as const) {
      const opts = { ...base, powerIters: 2, qrMethod: 'householder' as const };
      const want = run([31, 17], opts);
      const got = run([31, 17], { ...opts, sharding: { count: 3, axis } });
      got.forEach((g, i) => assert.ok(relDiff(g, Float64Array.from(want[i])) <= 1e-5, `${axis} output ${i}`));
    }
  });

  it('refuses more shards than the dimension has', () => {
    const t = scaleByDion({ ...base, sharding: { count: 5, axis: 'fanOut' } });
    assert.throws(() => t.init([{ name: 'w', shape: [8, 4] }]), /dion: cannot split 'w' \(fanOut 4\) into 5 shards/);
  });
});

// -------------------------------------------------------------------------------- wasm: golden, contract

describe('on wasm', () => {
  before(() => useBackend('wasm'));
  after(() => useBackend('cpu'));
  goldenSuite('wasm');
  optimizerContract('dion', () => dion({ learningRate: 0.05, adamwLearningRate: 0.01, rankFraction: 0.5, exclude: ['dense_Dense3'] }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('dion (no decay, Householder, dion_simple orientation)', () =>
    dion({ learningRate: 0.05, weightDecay: 0, adamwLearningRate: 0.01, qrMethod: 'householder', orientation: 'fanOut', rank: 4 }),
  );
});
