/**
 * src/transforms/precondition.ts: preconditionerSide (always the smaller side), oneSidedPrecondition
 * against a float64 re-implementation (EMA momentum and k×k statistic, exact (V + εI)^{−1/2} from an
 * SVD) on both sides and a conv kernel, its β = 0 limit polar(G), the identity fallback on overflow, the
 * state layout and errors; scaleToRms (exact RMS, tiny and zero updates).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, keysAt, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { oneSidedPrecondition, preconditionerSide, scaleToRms } from '../../src/transforms/precondition.js';
import { matmul64, matrix64, polar64, svd64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';

/** max|got − want| / max|want|. */
function normwise(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / m;
}

/** (A + εI)^{−1/2} of a symmetric PSD float64 matrix from its SVD (its eigendecomposition). */
function inverseRoot64(a: Matrix64, eps: number): Matrix64 {
  const k = a.rows;
  const damped = matrix64(k, k, a.data);
  for (let i = 0; i < k; i++) damped.data[i * k + i] += eps;
  const { u, s } = svd64(damped);
  const scaled = matrix64(k, k, u.data);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) scaled.data[i * k + j] *= s[j] ** -0.5;
  return matmul64(scaled, transpose64(u));
}

/** The transform's steps in float64 on the [m, n] matrix: outputs per step and the final M, V. */
function precondition64(grads: Float32Array[], m: number, n: number, o: { beta1: number; beta2: number; damping: number }) {
  const input = m <= n;
  const k = Math.min(m, n);
  let mom = new Float64Array(m * n);
  let v = new Float64Array(k * k);
  const outs = grads.map((g32) => {
    const g = matrix64(m, n, g32);
    mom = mom.map((x, i) => x + (1 - o.beta1) * (g.data[i] - x));
    const gram = input ? matmul64(g, transpose64(g)) : matmul64(transpose64(g), g);
    v = v.map((x, i) => x + (1 - o.beta2) * (gram.data[i] - x));
    const p = inverseRoot64(matrix64(k, k, v), o.damping);
    const M = matrix64(m, n, mom);
    return (input ? matmul64(p, M) : matmul64(M, p)).data;
  });
  return { outs, mom, v };
}

describe('preconditionerSide', () => {
  it('the smaller side of [fanIn, fanOut]: input when fanIn ≤ fanOut (ties too), else output; conv flattened', () => {
    assert.deepEqual(preconditionerSide([4, 6]), { side: 'input', k: 4, fanIn: 4, fanOut: 6 });
    assert.deepEqual(preconditionerSide([6, 4]), { side: 'output', k: 4, fanIn: 6, fanOut: 4 });
    assert.deepEqual(preconditionerSide([5, 5]), { side: 'input', k: 5, fanIn: 5, fanOut: 5 });
    assert.deepEqual(preconditionerSide([3, 3, 2, 4]), { side: 'output', k: 4, fanIn: 18, fanOut: 4 });
  });
});

describe('oneSidedPrecondition', () => {
  before(() => useBackend('cpu'));

  it('state: { mu: [param shape], precond: [k×k] } of zeros; a vector is refused naming owner and parameter', () => {
    const t = oneSidedPrecondition({ beta1: 0.9, beta2: 0.8 }, 'asgo');
    const s = t.init([{ name: 'a', shape: [4, 6] }, { name: 'c', shape: [3, 3, 2, 4] }]);
    assert.deepEqual(keysAt(s), ['mu', 'precond']);
    assert.deepEqual(tensorListAt(s, 'mu').map((x) => x.shape), [[4, 6], [3, 3, 2, 4]]);
    assert.deepEqual(tensorListAt(s, 'precond').map((x) => x.shape), [[4, 4], [4, 4]]);
    assert.ok(tensorsOf(s).every((x) => x.dataSync().every((v) => v === 0)));
    tf.dispose(tensorsOf(s));
    assert.throws(() => t.init([{ name: 'dense/bias', shape: [4] }]), /asgo: parameter 'dense\/bias' has shape \[4\]; the one-sided preconditioner needs a matrix/);
  });

  for (const shape of [[4, 8], [8, 4], [5, 5], [2, 2, 3, 4]]) {
    it(`[${shape.join(', ')}]: 3 steps match float64 M ← lerp, V ← lerp(V, GGᵀ or GᵀG), U = P·M or M·P, P = (V + εI)^{−1/2}`, () => {
      const o = { beta1: 0.9, beta2: 0.8, damping: 1e-10 };
      const metas: ParamMeta[] = [{ name: 'w', shape }];
      const n = shape.reduce((a, b) => a * b, 1);
      const [m, cols] = shape.length === 4 ? [shape[0] * shape[1] * shape[2], shape[3]] : shape;
      const grads = [0, 1, 2].map((k) => gaussian(n, 50 + k));
      const { outs, state } = updatesOver(oneSidedPrecondition(o), metas, (k) => [grads[k]], 3);
      const ref = precondition64(grads, m, cols, o);
      outs.forEach((out, k) => assert.ok(normwise(out[0], ref.outs[k]) < 1e-4, `step ${k}: ${normwise(out[0], ref.outs[k])}`));
      assert.ok(normwise(tensorListAt(state, 'mu')[0].dataSync(), ref.mom) < 1e-6);
      assert.ok(normwise(tensorListAt(state, 'precond')[0].dataSync(), ref.v) < 1e-6);
      tf.dispose(tensorsOf(state));
    });
  }

  it('β₁ = β₂ = 0: the update is polar(G) (Muon without momentum), on both sides', () => {
    for (const [m, n] of [[3, 7], [7, 3]]) {
      const g = gaussian(m * n, 61 + m);
      const { outs, state } = updatesOver(oneSidedPrecondition({ beta1: 0, beta2: 0 }), [{ name: 'w', shape: [m, n] }], () => [g], 1);
      const want = polar64(matrix64(m, n, g)).data;
      assert.ok(normwise(outs[0][0], want) < 1e-4, `[${m}, ${n}]: ${normwise(outs[0][0], want)}`);
      tf.dispose(tensorsOf(state));
    }
  });

  it('a 1e20 gradient overflows GGᵀ: the preconditioner falls back to the identity, U = M', () => {
    const g = [1e20, -2e20, 3e20, 0, 1e20, 1e20];
    const { outs, state } = updatesOver(oneSidedPrecondition({ beta1: 0.9, beta2: 0.8 }), [{ name: 'w', shape: [2, 3] }], () => [g], 1);
    assertClose(Array.from(outs[0][0], (v) => v / 1e19), g.map((v) => (0.1 * v) / 1e19), 1e-6);
    tf.dispose(tensorsOf(state));
  });

  it('a zero-size parameter passes with its state unchanged', () => {
    const { outs, state } = updatesOver(oneSidedPrecondition({ beta1: 0.9, beta2: 0.8 }), [{ name: 'e', shape: [0, 3] }], () => [new Float32Array(0)], 1);
    assert.equal(outs[0][0].length, 0);
    assert.deepEqual(tensorListAt(state, 'precond')[0].shape, [0, 0]);
    tf.dispose(tensorsOf(state));
  });
});

describe('scaleToRms', () => {
  before(() => useBackend('cpu'));
  const rmsOf = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0) / x.length);

  it('U·rms·√size/‖U‖: RMS exactly rms, direction kept; also for 1e-30 entries (squares underflow float32)', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [4, 5] }, { name: 't', shape: [3] }];
    const w = gaussian(20, 70);
    const tiny = [1e-30, -2e-30, 2e-30];
    const { outs } = updatesOver(scaleToRms(0.2), metas, () => [w, tiny], 1);
    assertClose([rmsOf(outs[0][0])], [0.2], 1e-6, 'rms');
    const c = outs[0][0][0] / w[0];
    assertClose(outs[0][0], Array.from(w, (x) => x * c), 1e-6, 'direction');
    // ‖tiny‖ = 3e-30: out = tiny·0.2·√3/3e-30
    assertClose(outs[0][1], tiny.map((x) => (x * 0.2 * Math.sqrt(3)) / 3e-30), 1e-6, 'tiny');
  });

  it('an all-zero update stays zero (no 0/0)', () => {
    const { outs } = updatesOver(scaleToRms(0.2), [{ name: 'w', shape: [2, 2] }], () => [[0, 0, 0, 0]], 1);
    assert.deepEqual(Array.from(outs[0][0]), [0, 0, 0, 0]);
  });
});
