/**
 * ASGO (no golden file): the momentum-free limit is polar(G) (float64 Jacobi SVD), three steps of the
 * practical form against a float64 re-implementation of spec §11.1, the preconditioner side and state
 * shapes in TF.js layout, the identity fallback, option validation, and the optimizer contract.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { asgo } from '../../src/tfjs/register.js';
import { preconditionerSide } from '../../src/transforms/precondition.js';
import { matmul64, matrix64, polar64, svd64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';

function normwise(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / m;
}

/** (A + εI)^{-1/2} of a symmetric positive semi-definite float64 matrix, from its SVD (= eigendecomposition). */
function inverseRoot64(a: Matrix64, eps: number): Matrix64 {
  const k = a.rows;
  const damped = matrix64(k, k, a.data);
  for (let i = 0; i < k; i++) damped.data[i * k + i] += eps;
  const { u, s } = svd64(damped);
  const scaled = matrix64(k, k, u.data);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) scaled.data[i * k + j] *= s[j] ** -0.5;
  return matmul64(scaled, transpose64(u));
}

/** Spec §11.1 in float64 on the TF.js `[fanIn, fanOut]` matrix; returns the parameters after each step. */
function asgo64(
  w0: Float32Array,
  shape: [number, number],
  grads: Float32Array[],
  o: { lr: number; beta1: number; beta2: number; eps: number; wd: number },
): Float64Array[] {
  const [m, n] = shape;
  const input = m <= n; // fanIn ≤ fanOut: V = GGᵀ, U = P·M
  const k = Math.min(m, n);
  let w = Float64Array.from(w0);
  let mom = new Float64Array(m * n);
  let v = new Float64Array(k * k);
  const out: Float64Array[] = [];
  for (const g32 of grads) {
    const g = matrix64(m, n, g32);
    mom = mom.map((x, i) => x + (1 - o.beta1) * (g.data[i] - x));
    const gram = input ? matmul64(g, transpose64(g)) : matmul64(transpose64(g), g);
    v = v.map((x, i) => x + (1 - o.beta2) * (gram.data[i] - x));
    const p = inverseRoot64(matrix64(k, k, v), o.eps);
    const M = matrix64(m, n, mom);
    const u = input ? matmul64(p, M) : matmul64(M, p);
    let norm = 0;
    for (const x of u.data) norm += x * x;
    const scale = (0.2 * Math.sqrt(m * n)) / Math.sqrt(norm);
    w = w.map((x, i) => x - o.lr * (scale * u.data[i] + o.wd * x));
    out.push(Float64Array.from(w));
  }
  return out;
}

function run(
  shape: number[],
  grads: Float32Array[],
  w0: Float32Array,
  options: Parameters<typeof asgo>[0],
): Float32Array[] {
  const v = tf.variable(tf.tensor(w0, shape), true, `asgo_test_${shape.join('x')}_${Math.random().toString(36).slice(2)}`);
  const opt = asgo(options);
  const out: Float32Array[] = [];
  for (const g of grads) {
    const t = tf.tensor(g, shape);
    opt.applyGradients([{ name: v.name, tensor: t }]);
    t.dispose();
    out.push(v.dataSync() as Float32Array);
  }
  opt.dispose();
  v.dispose();
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`asgo on ${backend}`, () => {
    before(async () => useBackend(backend));

    it('momentum-free limit (β₁ = β₂ = 0): the update is −η·0.2·√(mn)·polar(G)/√k', (t) => {
      for (const shape of [[6, 10], [10, 4], [3, 3, 2, 4], [7, 7]]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const fanOut = shape[shape.length - 1];
        const fanIn = size / fanOut;
        const g = gaussian(size, 31 + size);
        const w0 = new Float32Array(size);
        const [after] = run(shape, [g], w0, { learningRate: 1, momentum: 0, beta2: 0, weightDecay: 0, damping: 0 });
        const polar = polar64(matrix64(fanIn, fanOut, g));
        const k = Math.min(fanIn, fanOut);
        const want = Float64Array.from(polar.data, (x) => (-0.2 * Math.sqrt(size) * x) / Math.sqrt(k));
        const dev = normwise(after, want);
        t.diagnostic(`${backend} [${shape.join(', ')}]: ${dev.toExponential(2)}`);
        // measured ≤ 4e-6 (cpu and wasm; the square 7×7 has the largest cond(GGᵀ)); Muon's NS5 would be ~0.3 off
        assert.ok(dev < 2e-5, `[${shape.join(', ')}]: deviation ${dev}`);
      }
    });

    it('three steps of the practical form match a float64 re-implementation of spec §11.1', (t) => {
      // lr 1 makes each step ~0.2 per entry against weights ~0.5, so the weight tolerance below checks the
      // updates themselves to ~3e-5 (with lr 0.01 a 1e-5 weight tolerance would hide a 1% update error).
      const o = { lr: 1, beta1: 0.9, beta2: 0.8, eps: 1e-10, wd: 0.1 };
      for (const shape of [[6, 10], [12, 5]] as [number, number][]) {
        const size = shape[0] * shape[1];
        const w0 = Float32Array.from(gaussian(size, 3), (x) => x / 2);
        const grads = [0, 1, 2].map((s) => gaussian(size, 100 + s));
        const got = run(shape, grads, w0, { learningRate: o.lr, momentum: o.beta1, beta2: o.beta2, damping: o.eps, weightDecay: o.wd });
        const want = asgo64(w0, shape, grads, o);
        const dev = Math.max(...got.map((g, i) => normwise(g, want[i])));
        t.diagnostic(`${backend} [${shape.join(', ')}]: ${dev.toExponential(2)}`);
        assert.ok(dev < 1e-5, `[${shape.join(', ')}]: deviation ${dev}`);
      }
    });

    it('non-finite preconditioner → identity: a 1e20 gradient (GGᵀ overflows) steps along M/‖M‖', () => {
      const shape = [5, 8];
      const g = Float32Array.from(gaussian(40, 9), (x) => x * 1e20);
      const [after] = run(shape, [g], new Float32Array(40), { learningRate: 1, weightDecay: 0 });
      assert.ok(after.every(Number.isFinite), 'non-finite weights');
      let norm = 0;
      for (const x of g) norm += (x / 1e20) ** 2;
      const want = Float64Array.from(g, (x) => (-0.2 * Math.sqrt(40) * (x / 1e20)) / Math.sqrt(norm));
      assert.ok(normwise(after, want) < 1e-5, `deviation ${normwise(after, want)}`);
    });

    it('an all-zero gradient leaves W to the weight decay alone (no 0/0)', () => {
      const w0 = gaussian(12, 5);
      const [after] = run([3, 4], [new Float32Array(12)], w0, { learningRate: 0.1, weightDecay: 0.5 });
      after.forEach((x, i) => assert.ok(Math.abs(x - w0[i] * (1 - 0.05)) < 1e-6, `${x} vs ${w0[i] * 0.95}`));
    });
  });
}

describe('asgo: preconditioner side in TF.js layout', () => {
  before(async () => useBackend('cpu'));
  it('always the smaller side: input (fanIn ≤ fanOut) or output', () => {
    assert.deepEqual(preconditionerSide([6, 10]), { side: 'input', k: 6, fanIn: 6, fanOut: 10 });
    assert.deepEqual(preconditionerSide([10, 3]), { side: 'output', k: 3, fanIn: 10, fanOut: 3 });
    assert.deepEqual(preconditionerSide([4, 4]), { side: 'input', k: 4, fanIn: 4, fanOut: 4 });
    assert.deepEqual(preconditionerSide([3, 3, 4, 8]), { side: 'output', k: 8, fanIn: 36, fanOut: 8 });
  });
  it('state: momentum per matrix and a k×k statistic; AdamW moments for vectors', () => {
    const vars = [tf.variable(tf.zeros([6, 10])), tf.variable(tf.zeros([10, 3])), tf.variable(tf.zeros([3]))];
    const opt = asgo();
    opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: tf.onesLike(v) })));
    const shapes = opt.stateSlots.map((s) => `${s.path}:${s.variable.shape.join('x')}`);
    assert.deepEqual(
      shapes.filter((s) => s.startsWith('matrix')),
      ['matrix/0/mu/0:6x10', 'matrix/0/mu/1:10x3', 'matrix/0/precond/0:6x6', 'matrix/0/precond/1:3x3'],
    );
    assert.ok(shapes.some((s) => s.startsWith('adamw') && s.endsWith(':3')));
    opt.dispose();
    tf.dispose(vars);
  });
});

describe('asgo: options', () => {
  it('defaults are the reference config (asgo.yaml)', () => {
    const c = asgo().getConfig();
    assert.equal(c.learningRate, 0.01);
    assert.equal(c.momentum, 0.9);
    assert.equal(c.beta2, 0.8);
    assert.equal(c.damping, 1e-10);
    assert.equal(c.inverseRootSteps, 10);
    assert.equal(c.weightDecay, 0.1);
    assert.equal(c.rms, 0.2);
  });
  it('rejects bad options with the optimizer, option, range and value', () => {
    assert.throws(() => asgo({ momentum: 1.2 }), /^RangeError: asgo: momentum must be in \[0, 1\), got 1.2$/);
    assert.throws(() => asgo({ beta2: -0.1 }), /asgo: beta2 must be in \[0, 1\), got -0.1/);
    assert.throws(() => asgo({ damping: -1 }), /asgo: damping must be in \[0, inf\), got -1/);
    assert.throws(() => asgo({ inverseRootSteps: 0 }), /asgo: inverseRootSteps must be an integer in \[1, 100\], got 0/);
    assert.throws(() => asgo({ rms: 0 }), /asgo: rms must be in \(0, inf\), got 0/);
    assert.throws(() => asgo({ weightDecay: Number.NaN }), /asgo: weightDecay must be in \[0, inf\), got NaN/);
  });
});

describe('asgo on wasm', () => {
  before(async () => useBackend('wasm'));
  optimizerContract('asgo', () => asgo({ learningRate: 0.02, adamwLearningRate: 0.01, weightDecay: 0.01 }), {
    zeroGradientKeepsWeights: false,
  });
});
