/**
 * Column orthonormalization (linalg/qr.ts) and the in-process collective (linalg/collective.ts): float64
 * QR identities, CholeskyQR2 against Householder (same Q up to column signs), the fallback on
 * rank-deficient and zero inputs, and sharded QR equal to the unsharded one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import {
  cholesky64,
  householderQ64,
  inverseTransposeLower64,
  orthonormalizeColumns,
  orthonormalizeColumnsSharded,
} from '../../src/linalg/qr.js';
import { inProcessCollective, shardSizes, splitShards } from '../../src/linalg/collective.js';
import { matmul64, matrix64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';

await useBackend('cpu');

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |QᵀQ − I| in float64 of a float32 tensor. */
function orthogonalityDefect(q: tf.Tensor2D): number {
  const [m, n] = q.shape;
  const q64 = matrix64(m, n, q.dataSync());
  const g = matmul64(transpose64(q64), q64);
  let worst = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(g.data[i * n + j] - (i === j ? 1 : 0)));
  return worst;
}

/** Flips each column of `q` so its first non-negligible entry is positive (QR is unique up to signs). */
function signNormalized(q: Matrix64): Float64Array {
  const out = Float64Array.from(q.data);
  for (let j = 0; j < q.cols; j++) {
    let pivot = 0;
    for (let i = 0; i < q.rows; i++) if (Math.abs(q.data[i * q.cols + j]) > 1e-3) { pivot = q.data[i * q.cols + j]; break; }
    if (pivot < 0) for (let i = 0; i < q.rows; i++) out[i * q.cols + j] = -out[i * q.cols + j];
  }
  return out;
}

function randomMatrix(m: number, n: number, seed: number): tf.Tensor2D {
  return tf.tensor2d(gaussian(m * n, seed), [m, n]);
}

describe('householderQ64', () => {
  it('gives orthonormal columns with QᵀA upper triangular and Q(QᵀA) = A, in float64', () => {
    const [m, n] = [9, 5];
    const a = matrix64(m, n, gaussian(m * n, 1));
    const q = matrix64(m, n, householderQ64(a.data, m, n));
    const qtq = matmul64(transpose64(q), q);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(qtq.data[i * n + j] - (i === j ? 1 : 0)) < 1e-14, `QᵀQ[${i},${j}]`);
    const r = matmul64(transpose64(q), a);
    for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) assert.ok(Math.abs(r.data[i * n + j]) < 1e-13, `R[${i},${j}] = ${r.data[i * n + j]}`);
    assert.ok(maxAbs(matmul64(q, r).data, a.data) < 1e-13, 'Q·(QᵀA) = A');
    // LAPACK sign convention: R_00 = −sign(a_00)·‖a_0‖
    assert.equal(Math.sign(r.data[0]), -Math.sign(a.data[0]));
  });

  it('handles zero and repeated columns without NaN (orthonormal completion)', () => {
    const [m, n] = [6, 3];
    const col = gaussian(m, 2);
    const a = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      a[i * n] = col[i];
      a[i * n + 1] = 2 * col[i];
      a[i * n + 2] = 0;
    }
    const q = matrix64(m, n, householderQ64(a, m, n));
    assert.ok(q.data.every(Number.isFinite), 'finite Q');
    const qtq = matmul64(transpose64(q), q);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(qtq.data[i * n + j] - (i === j ? 1 : 0)) < 1e-14, `QᵀQ[${i},${j}]`);
  });

  it('rejects a wide matrix', () => {
    assert.throws(() => householderQ64(new Float64Array(6), 2, 3), /need rows >= cols, got 2x3/);
  });
});

describe('cholesky64 and inverseTransposeLower64', () => {
  it('factor G = LLᵀ and invert L exactly (float64)', () => {
    const a = matrix64(8, 4, gaussian(32, 3));
    const g = matmul64(transpose64(a), a);
    const l = cholesky64(g.data, 4)!;
    const lm = matrix64(4, 4, l);
    assert.ok(maxAbs(matmul64(lm, transpose64(lm)).data, g.data) < 1e-12, 'L·Lᵀ = G');
    const linvT = matrix64(4, 4, inverseTransposeLower64(l, 4));
    const eye = matmul64(lm, transpose64(linvT)); // L·L⁻¹
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(eye.data[i * 4 + j] - (i === j ? 1 : 0)) < 1e-13, `L·L⁻¹[${i},${j}]`);
  });

  it('returns null for a singular or indefinite matrix', () => {
    assert.equal(cholesky64([1, 1, 1, 1], 2), null);
    assert.equal(cholesky64([1, 2, 2, 1], 2), null);
    assert.equal(cholesky64([0, 0, 0, 0], 2), null);
  });
});

describe('orthonormalizeColumns', () => {
  it('CholeskyQR2 and Householder give the same Q up to column signs, orthonormal to float32 rounding', () => {
    tf.tidy(() => {
      const p = randomMatrix(96, 12, 4);
      const qc = orthonormalizeColumns(p, 'cholesky');
      const qh = orthonormalizeColumns(p, 'householder');
      assert.ok(orthogonalityDefect(qc) < 2e-6, `cholesky defect ${orthogonalityDefect(qc)}`);
      assert.ok(orthogonalityDefect(qh) < 2e-6, `householder defect ${orthogonalityDefect(qh)}`);
      const a = signNormalized(matrix64(96, 12, qc.dataSync()));
      const b = signNormalized(matrix64(96, 12, qh.dataSync()));
      assert.ok(maxAbs(a, b) < 1e-5, `Q differs by ${maxAbs(a, b)}`);
      // same column space: Q·Qᵀ·P = P
      const proj = tf.matMul(qc, tf.matMul(tf.transpose(qc), p));
      assert.ok(maxAbs(proj.dataSync(), p.dataSync()) < 1e-4, 'Q·Qᵀ·P = P');
    });
  });

  it('falls back to Householder on a rank-deficient P: orthonormal columns, no NaN', () => {
    tf.tidy(() => {
      const base = randomMatrix(40, 3, 5);
      const p = tf.concat([base, tf.mul(base, 2)], 1) as tf.Tensor2D; // rank 3, 6 columns
      const q = orthonormalizeColumns(p, 'cholesky');
      assert.ok(q.dataSync().every(Number.isFinite), 'finite Q');
      assert.ok(orthogonalityDefect(q) < 2e-6, `defect ${orthogonalityDefect(q)}`);
      // the first three columns span P's column space
      const q3 = tf.slice(q, [0, 0], [40, 3]);
      const proj = tf.matMul(q3, tf.matMul(tf.transpose(q3), p));
      assert.ok(maxAbs(proj.dataSync(), p.dataSync()) < 1e-4, 'Q·Qᵀ·P = P');
    });
  });

  it('keeps an ill-conditioned P (cond ≈ 1e5) accurate: QᵀQ = I and QQᵀP = P', () => {
    tf.tidy(() => {
      const u = orthonormalizeColumns(randomMatrix(64, 6, 6), 'householder');
      const scales = tf.tensor2d([[1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]]);
      const p = tf.matMul(tf.mul(u, scales), randomMatrix(6, 6, 7)) as tf.Tensor2D;
      for (const method of ['cholesky', 'householder'] as const) {
        const q = orthonormalizeColumns(p, method);
        assert.ok(orthogonalityDefect(q) < 5e-6, `${method}: defect ${orthogonalityDefect(q)}`);
        const proj = tf.matMul(q, tf.matMul(tf.transpose(q), p));
        assert.ok(maxAbs(proj.dataSync(), p.dataSync()) < 1e-5, method);
      }
    });
  });

  it('maps a zero matrix to finite unit columns', () => {
    tf.tidy(() => {
      for (const method of ['cholesky', 'householder'] as const) {
        const q = orthonormalizeColumns(tf.zeros([5, 2]) as tf.Tensor2D, method);
        assert.ok(q.dataSync().every(Number.isFinite), method);
        assert.ok(orthogonalityDefect(q) < 1e-7, method);
      }
    });
  });

  it('rejects a wide matrix and leaves no tensors behind', () => {
    assert.throws(() => orthonormalizeColumns(tf.zeros([2, 3]) as tf.Tensor2D), /at least as many rows as columns, got 2x3/);
    const p = randomMatrix(20, 4, 8);
    const before = tf.memory().numTensors;
    tf.tidy(() => orthonormalizeColumns(p)).dispose();
    assert.equal(tf.memory().numTensors, before);
    p.dispose();
  });
});

describe('orthonormalizeColumnsSharded', () => {
  for (const method of ['cholesky', 'householder'] as const) {
    for (const count of [2, 3]) {
      it(`${method}, ${count} row shards (uneven): equals the unsharded Q`, () => {
        tf.tidy(() => {
          const p = randomMatrix(47, 7, 9);
          const whole = orthonormalizeColumns(p, method);
          const parts = orthonormalizeColumnsSharded(splitShards(p, count, 0), inProcessCollective(count), method);
          assert.deepEqual(parts.map((x) => x.shape[0]), shardSizes(47, count));
          const joined = tf.concat(parts, 0);
          assert.ok(maxAbs(joined.dataSync(), whole.dataSync()) < 1e-6, `sharded Q differs by ${maxAbs(joined.dataSync(), whole.dataSync())}`);
        });
      });
    }
  }
});

describe('inProcessCollective', () => {
  it('allReduce (sum, mean, max) and allGather give every shard the result', () => {
    tf.tidy(() => {
      const c = inProcessCollective(3);
      const xs = [tf.tensor1d([1, -2]), tf.tensor1d([3, 5]), tf.tensor1d([-4, 0])];
      assert.deepEqual(Array.from(c.allReduce(xs)[2].dataSync()), [0, 3]);
      assert.deepEqual(Array.from(c.allReduce(xs, 'mean')[0].dataSync()), [0, 1]);
      assert.deepEqual(Array.from(c.allReduce(xs, 'max')[1].dataSync()), [3, 5]);
      const g = c.allGather([tf.ones([1, 2]), tf.zeros([2, 2]), tf.ones([1, 2])], 0);
      assert.equal(g.length, 3);
      assert.deepEqual(g[1].shape, [4, 2]);
    });
  });

  it('rejects a wrong shard count or shape', () => {
    tf.tidy(() => {
      const c = inProcessCollective(2);
      assert.throws(() => c.allReduce([tf.ones([2])]), /expected one tensor per shard \(2\), got 1/);
      assert.throws(() => c.allReduce([tf.ones([2]), tf.ones([3])]), /shard 1 has shape \[3\]/);
    });
    assert.throws(() => inProcessCollective(0), /size must be a positive integer, got 0/);
    assert.throws(() => shardSizes(2, 3), /count must be an integer in \[1, 2\], got 3/);
    assert.deepEqual(shardSizes(10, 3), [4, 3, 3]);
  });
});
