/**
 * rangeFinder (src/linalg/rangeFinder.ts): orthonormal columns to 1e-5, exact on matrices of rank ≤ r
 * (and the columns ordered by singular value, ‖Aᵀu_j‖ = σ_j), the error against the optimal rank-r
 * error from a float64 Jacobi SVD (svd64) within a stated factor, seed reproducibility, no leaks, and the
 * errors on bad input — on cpu and wasm.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { rangeFinder } from '../../src/linalg/rangeFinder.js';
import { householderQ64 } from '../../src/linalg/qr.js';
import { matmul64, matrix64, svd64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';

/** A float64 m×k matrix with orthonormal columns (Householder Q of a Gaussian draw). */
function orthonormal64(m: number, k: number, seed: number): Matrix64 {
  return matrix64(m, k, householderQ64(gaussian(m * k, seed), m, k));
}

/** `U·diag(s)·Vᵀ` (m×n) in float64 with random orthonormal U, V and the given singular values. */
function withSpectrum(m: number, n: number, s: readonly number[], seed: number): Matrix64 {
  const k = s.length;
  const u = orthonormal64(m, k, seed);
  const v = orthonormal64(n, k, seed + 1);
  const us = matrix64(m, k, Float64Array.from(u.data, (x, i) => x * s[i % k]));
  return matmul64(us, transpose64(v));
}

const f32 = (a: Matrix64) => tf.tensor2d(Float32Array.from(a.data), [a.rows, a.cols]);
const read = (t: tf.Tensor2D): Matrix64 => matrix64(t.shape[0], t.shape[1], t.dataSync());
const frob = (a: Matrix64) => Math.sqrt(a.data.reduce((s, x) => s + x * x, 0));

/** Max |UᵀU − I| in float64 from the float32 U. */
function orthonormalityError(u: Matrix64): number {
  const g = matmul64(transpose64(u), u);
  let worst = 0;
  for (let i = 0; i < g.rows; i++) for (let j = 0; j < g.cols; j++) worst = Math.max(worst, Math.abs(g.data[i * g.cols + j] - (i === j ? 1 : 0)));
  return worst;
}

/** ‖A − UUᵀA‖_F in float64 (A as given in float64, U read back from float32). */
function residual(a: Matrix64, u: Matrix64): number {
  const proj = matmul64(u, matmul64(transpose64(u), a));
  return frob(matrix64(a.rows, a.cols, Float64Array.from(a.data, (x, i) => x - proj.data[i])));
}

/** The optimal rank-r error (Σ_{j>r} σ_j²)^{1/2} of `a`, from the float64 SVD. */
function optimalError(a: Matrix64, r: number): number {
  const s = svd64(a).s;
  let sum = 0;
  for (let j = r; j < s.length; j++) sum += s[j] * s[j];
  return Math.sqrt(sum);
}

const defaults = { powerIters: 2, oversample: 5 };

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`rangeFinder on ${backend}`, () => {
    before(() => useBackend(backend));

    it('returns m×r columns orthonormal to 1e-5 (tall, wide, square; q = 0, 1, 2; p = 0, 5)', () => {
      for (const [m, n, r] of [[60, 40, 6], [30, 70, 10], [32, 32, 32], [50, 3, 3]] as const) {
        const a = f32(matrix64(m, n, gaussian(m * n, m + n)));
        for (const powerIters of [0, 1, 2]) {
          for (const oversample of [0, 5]) {
            const u = tf.tidy(() => rangeFinder(a, r, { powerIters, oversample, seed: 7 }));
            assert.deepEqual(u.shape, [m, r]);
            const err = orthonormalityError(read(u));
            assert.ok(err <= 1e-5, `${m}x${n} r=${r} q=${powerIters} p=${oversample}: |UᵀU − I| = ${err}`);
            u.dispose();
          }
        }
        a.dispose();
      }
    });

    it('is exact on matrices of rank ≤ r, with columns ordered by singular value (‖Aᵀu_j‖ = σ_j)', () => {
      const sigma = [9, 5, 3, 2, 1, 0.5];
      for (const [m, n] of [[60, 40], [40, 90]] as const) {
        const exact = withSpectrum(m, n, sigma, 3);
        const a = f32(exact);
        for (const r of [6, 8]) {
          for (const powerIters of [0, 2]) {
            const u = tf.tidy(() => rangeFinder(a, r, { powerIters, oversample: 5, seed: 1 }));
            const u64 = read(u);
            const rel = residual(exact, u64) / frob(exact);
            // float32 input and products: a relative residual at float32 rounding (measured 1e-7 cpu, 2.5e-7 wasm)
            assert.ok(rel <= 2e-6, `${m}x${n} r=${r} q=${powerIters}: ‖A − UUᵀA‖/‖A‖ = ${rel}`);
            const atu = matmul64(transpose64(exact), u64);
            sigma.forEach((s, j) => {
              let norm = 0;
              for (let i = 0; i < n; i++) norm += atu.data[i * r + j] ** 2;
              assert.ok(Math.abs(Math.sqrt(norm) - s) <= 1e-5 * sigma[0], `${m}x${n} r=${r}: ‖Aᵀu_${j}‖ = ${Math.sqrt(norm)}, σ = ${s}`);
            });
            u.dispose();
          }
        }
        a.dispose();
      }
    });

    it('q = 2, p = 5 on a decaying spectrum: error within 1.02× the optimal rank-r error; q = 0 within 1.5×', () => {
      // σ_j = 0.8^j (slow decay, as gradient spectra): the float64 SVD gives the optimal error. Halko et
      // al. Thm 10.5 bounds the q = 0 error by √(1 + r/(p−1)) = 1.5× (r = 5, p = 5; expectation, before
      // truncation); the power iterations drive the ratio to 1 like (σ_{r+1}/σ_r)^(2q+1) (Cor 10.10).
      // Measured over seeds 1–20 (cpu and wasm alike): q = 2 at most 1.00004×, q = 0 at most 1.27×.
      const m = 64;
      const n = 48;
      const r = 5;
      const sigma = Array.from({ length: 48 }, (_, j) => 0.8 ** j);
      for (const seed of [1, 2, 3, 4, 5]) {
        const exact = withSpectrum(m, n, sigma, 10 * seed);
        const best = optimalError(exact, r);
        const a = f32(exact);
        const ratio = (powerIters: number) => {
          const u = tf.tidy(() => rangeFinder(a, r, { powerIters, oversample: 5, seed }));
          const value = residual(exact, read(u)) / best;
          u.dispose();
          return value;
        };
        const q2 = ratio(2);
        const q0 = ratio(0);
        assert.ok(q2 >= 1 - 1e-6 && q2 <= 1.02, `seed ${seed}: q = 2 error ratio ${q2}`);
        assert.ok(q0 >= 1 - 1e-6 && q0 <= 1.5, `seed ${seed}: q = 0 error ratio ${q0}`);
        assert.ok(q2 <= q0 + 1e-9, `seed ${seed}: power iterations did not help (${q2} vs ${q0})`);
        a.dispose();
      }
    });

    it('the same seed gives the same basis bit for bit, another seed another basis of the same subspace', () => {
      const exact = withSpectrum(40, 30, [4, 3, 2, 1], 5);
      const a = f32(exact);
      const run = (seed: number) => tf.tidy(() => rangeFinder(a, 4, { ...defaults, seed }));
      const [x, y, z] = [run(11), run(11), run(12)];
      assert.deepEqual(Array.from(y.dataSync()), Array.from(x.dataSync()));
      assert.notDeepEqual(Array.from(z.dataSync()), Array.from(x.dataSync()));
      // the projectors UUᵀ agree: the subspace is the range of A
      const px = matmul64(read(x), transpose64(read(x)));
      const pz = matmul64(read(z), transpose64(read(z)));
      const diff = Math.max(...Array.from(px.data, (v, i) => Math.abs(v - pz.data[i])));
      assert.ok(diff <= 1e-5, `projectors differ by ${diff}`);
      tf.dispose([a, x, y, z]);
    });

    it('a zero matrix gives orthonormal columns, not NaN', () => {
      const a = tf.zeros([12, 9]) as tf.Tensor2D;
      const u = tf.tidy(() => rangeFinder(a, 3, { ...defaults, seed: 0 }));
      const values = u.dataSync();
      assert.ok(values.every(Number.isFinite));
      assert.ok(orthonormalityError(read(u)) <= 1e-6);
      tf.dispose([a, u]);
    });

    it('leaks no tensors (only the result is new)', () => {
      const a = f32(matrix64(30, 20, gaussian(600, 4)));
      const before = tf.memory().numTensors;
      const u = rangeFinder(a, 4, { ...defaults, seed: 3 });
      assert.equal(tf.memory().numTensors, before + 1);
      tf.dispose([a, u]);
    });

    it('refuses a bad rank or option by name, before any work', () => {
      const a = tf.zeros([6, 4]) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      const msg = (got: string) => `rangeFinder: rank must be an integer in [1, 4] (min of the shape [6, 4]), got ${got}`;
      assert.throws(() => rangeFinder(a, 0, { ...defaults, seed: 0 }), { name: 'RangeError', message: msg('0') });
      assert.throws(() => rangeFinder(a, 5, { ...defaults, seed: 0 }), { name: 'RangeError', message: msg('5') });
      assert.throws(() => rangeFinder(a, 1.5, { ...defaults, seed: 0 }), { name: 'RangeError', message: msg('1.5') });
      assert.throws(() => rangeFinder(a, 2, { powerIters: -1, oversample: 0, seed: 0 }), {
        name: 'RangeError',
        message: 'rangeFinder: powerIters must be an integer in [0, inf), got -1',
      });
      assert.throws(() => rangeFinder(a, 2, { powerIters: 1, oversample: 0.5, seed: 0 }), {
        name: 'RangeError',
        message: 'rangeFinder: oversample must be an integer in [0, inf), got 0.5',
      });
      const cube = tf.zeros([2, 3, 4]);
      assert.throws(() => rangeFinder(cube as unknown as tf.Tensor2D, 1, { ...defaults, seed: 0 }), {
        name: 'RangeError',
        message: 'rangeFinder: need a matrix, got shape [2, 3, 4]',
      });
      assert.equal(tf.memory().numTensors, before + 1);
      tf.dispose([a, cube]);
    });
  });
}
