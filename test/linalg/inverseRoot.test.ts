/**
 * inverseSquareRoot (coupled Polar Express iteration, ASGO's `_matrix_inverse_root_PolarExpress`) against
 * float64 references built from a known eigendecomposition, on cpu and wasm; the non-finite fallback.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { matmul64, matrix64, polar64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';
import { finiteOrIdentity, inverseSquareRoot, resolveInverseSquareRoot } from '../../src/linalg/inverseRoot.js';

/** A random orthogonal k×k matrix: the polar factor of a Gaussian matrix. */
function orthogonal64(k: number, seed: number): Matrix64 {
  return polar64(matrix64(k, k, gaussian(k * k, seed)));
}

/** Q·diag(d)·Qᵀ in float64. */
function spectral64(q: Matrix64, d: readonly number[]): Matrix64 {
  const k = q.rows;
  const qd = matrix64(k, k, q.data);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) qd.data[i * k + j] *= d[j];
  return matmul64(qd, transpose64(q));
}

/** Float32-rounded, exactly symmetric copy. */
function toFloat32Symmetric(a: Matrix64): Matrix64 {
  const k = a.rows;
  const out = matrix64(k, k, a.data);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      const v = Math.fround((a.data[i * k + j] + a.data[j * k + i]) / 2);
      out.data[i * k + j] = v;
      out.data[j * k + i] = v;
    }
  }
  return out;
}

function maxAbs(a: Matrix64): number {
  let m = 0;
  for (const x of a.data) m = Math.max(m, Math.abs(x));
  return m;
}

function minusIdentity(a: Matrix64): Matrix64 {
  const out = matrix64(a.rows, a.cols, a.data);
  for (let i = 0; i < a.rows; i++) out.data[i * a.cols + i] -= 1;
  return out;
}

function runInverseRoot(v: Matrix64, options: Parameters<typeof inverseSquareRoot>[1] = {}): Matrix64 {
  const data = tf.tidy(() => inverseSquareRoot(tf.tensor2d(Float32Array.from(v.data), [v.rows, v.cols]), options).dataSync());
  return matrix64(v.rows, v.cols, data);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`inverseSquareRoot on ${backend}`, () => {
    before(async () => useBackend(backend));

    it('SPD with condition number 1e3: P·P·V ≈ I and P ≈ V^{-1/2} (float64 eigendecomposition)', (t) => {
      const k = 24;
      const q = orthogonal64(k, 7);
      const lambdas = Array.from({ length: k }, (_, i) => 10 ** (-3 * (i / (k - 1)))); // 1 … 1e-3
      const v = toFloat32Symmetric(spectral64(q, lambdas));
      const p = runInverseRoot(v, { damping: 0 });
      const residual = maxAbs(minusIdentity(matmul64(matmul64(p, p), v)));
      const exact = spectral64(q, lambdas.map((l) => l ** -0.5));
      let err = 0;
      for (let i = 0; i < exact.data.length; i++) err = Math.max(err, Math.abs(p.data[i] - exact.data[i]));
      const relErr = err / maxAbs(exact);
      t.diagnostic(`${backend}: max|P·P·V − I| = ${residual.toExponential(2)}, max|P − V^-1/2|/max|V^-1/2| = ${relErr.toExponential(2)}`);
      // Budget from first-order perturbation theory: storing V in float32 perturbs it by ‖ΔV‖₂ ≤ √k·u·λ_max
      // (u = 6e-8), which moves λ_min = 1e-3 by up to √k·u·κ ≈ 2.9e-4 relative; P·P·V − I inherits that
      // relative error and P half of it. The float32 iteration's own rounding is of the same order
      // (measured: 1.5e-5 cpu, 3.3e-5 wasm residual; 2e-6 / 4e-6 for P).
      const budget = Math.sqrt(k) * 6e-8 * 1e3;
      assert.ok(residual < budget, `residual ${residual} > ${budget}`);
      assert.ok(relErr < budget / 2, `P error ${relErr} > ${budget / 2}`);
    });

    it('damping: the result is the root of V + εI (ε = 0.1 on a singular V)', () => {
      const k = 8;
      const q = orthogonal64(k, 11);
      const lambdas = [2, 1.5, 1, 0.5, 0.2, 0.1, 0, 0];
      const v = toFloat32Symmetric(spectral64(q, lambdas));
      const p = runInverseRoot(v, { damping: 0.1 });
      const exact = spectral64(q, lambdas.map((l) => (l + 0.1) ** -0.5));
      let err = 0;
      for (let i = 0; i < exact.data.length; i++) err = Math.max(err, Math.abs(p.data[i] - exact.data[i]));
      assert.ok(err / maxAbs(exact) < 1e-4, `error ${err}`);
    });

    it('V = 0 gives ε^{-1/2}·I, finite', () => {
      const p = runInverseRoot(matrix64(5, 5, new Float64Array(25)), { damping: 1e-10 });
      for (let i = 0; i < 5; i++) {
        for (let j = 0; j < 5; j++) {
          const want = i === j ? 1e5 : 0;
          assert.ok(Math.abs(p.data[i * 5 + j] - want) <= 1e-5 * 1e5, `(${i},${j}): ${p.data[i * 5 + j]}`);
        }
      }
    });

    it('scale invariance: (cV)^{-1/2} = c^{-1/2}·V^{-1/2}', () => {
      const k = 6;
      const v = toFloat32Symmetric(spectral64(orthogonal64(k, 3), [3, 2, 1, 0.5, 0.25, 0.1]));
      const p1 = runInverseRoot(v, { damping: 0 });
      const scaled = matrix64(k, k, Float64Array.from(v.data, (x) => x * 1024));
      const p2 = runInverseRoot(scaled, { damping: 0 });
      for (let i = 0; i < p1.data.length; i++) assert.ok(Math.abs(p2.data[i] * 32 - p1.data[i]) <= 1e-5 * maxAbs(p1));
    });

    it('identity fallback: a NaN or Inf input gives I; a finite one is left alone', () => {
      const withNaN = tf.tensor2d([[1, Number.NaN], [0, 1]]);
      const withInf = tf.tensor2d([[Infinity, 0], [0, 1]]);
      const ok = tf.tensor2d([[4, 0], [0, 9]]);
      tf.tidy(() => {
        assert.deepEqual(Array.from(finiteOrIdentity(inverseSquareRoot(withNaN)).dataSync()), [1, 0, 0, 1]);
        assert.deepEqual(Array.from(finiteOrIdentity(inverseSquareRoot(withInf)).dataSync()), [1, 0, 0, 1]);
        const p = finiteOrIdentity(inverseSquareRoot(ok, { damping: 0 })).dataSync();
        assert.ok(Math.abs(p[0] - 0.5) < 1e-5 && Math.abs(p[3] - 1 / 3) < 1e-5 && p[1] === 0, `${Array.from(p).join(', ')}`);
      });
      tf.dispose([withNaN, withInf, ok]);
    });

    it('leaks nothing inside a tidy', () => {
      const v = tf.eye(4);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        finiteOrIdentity(inverseSquareRoot(v as tf.Tensor2D));
      });
      assert.equal(tf.memory().numTensors, before);
      v.dispose();
    });
  });
}

describe('resolveInverseSquareRoot', () => {
  it('uses the Polar Express 8-row list with the 1.01 safety, repeating the last row', () => {
    const r = resolveInverseSquareRoot({ steps: 10 });
    assert.equal(r.rows.length, 10);
    assert.ok(Math.abs(r.rows[0][0] - 8.28721201814563 / 1.01) < 1e-12);
    assert.ok(Math.abs(r.rows[0][2] - 17.300387312530933 / 1.01 ** 5) < 1e-12);
    assert.deepEqual(r.rows[7], [1.875, -1.25, 0.375]);
    assert.deepEqual(r.rows[9], [1.875, -1.25, 0.375]);
    assert.equal(r.normScale, 1.01);
    assert.equal(r.damping, 1e-10);
  });
  it('rejects bad options', () => {
    assert.throws(() => resolveInverseSquareRoot({ steps: 0 }, 'asgo'), /^RangeError: asgo: steps must be an integer in \[1, 100\], got 0$/);
    assert.throws(() => resolveInverseSquareRoot({ damping: -1 }, 'asgo'), /asgo: damping must be in \[0, inf\), got -1/);
  });
});
