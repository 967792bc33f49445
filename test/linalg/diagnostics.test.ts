/**
 * matrixDiagnostics / updateDiagnostics / symmetricEigenvalues64 (issue 14 item 6): against the float64
 * Jacobi SVD of src/linalg/reference.ts on random matrices, on matrices with a prescribed spectrum
 * (Q₁·diag(s)·Q₂ᵀ from float64 Householder QR) and on exactly orthogonal ones; both methods, leak checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussianArray, mulberry32 } from '../../src/core/random.js';
import { householderQ64 } from '../../src/linalg/qr.js';
import { matrix64, singularValues64 } from '../../src/linalg/reference.js';
import { matrixDiagnostics, symmetricEigenvalues64, updateDiagnostics } from '../../src/linalg/diagnostics.js';

await useBackend('cpu');

function gaussian64(rows: number, cols: number, seed: number): Float64Array {
  return Float64Array.from(gaussianArray(rows * cols, 1, mulberry32(seed)));
}

/** `rows × cols` = Q₁·diag(s)·Q₂ᵀ with Q₁, Q₂ orthonormal (float64 Householder QR of Gaussians). */
function withSpectrum(rows: number, cols: number, s: readonly number[], seed: number): Float64Array {
  const k = Math.min(rows, cols);
  const q1 = householderQ64(gaussian64(rows, k, seed), rows, k);
  const q2 = householderQ64(gaussian64(cols, k, seed + 1), cols, k);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let t = 0;
      for (let c = 0; c < k; c++) t += q1[i * k + c] * s[c] * q2[j * k + c];
      out[i * cols + j] = t;
    }
  }
  return out;
}

/** The float64 numbers matrixDiagnostics should return, from the Jacobi SVD of the float32 values. */
function reference(values: ArrayLike<number>, rows: number, cols: number) {
  const s = singularValues64(matrix64(rows, cols, values));
  const k = s.length;
  const max = s[0];
  const sum2 = s.reduce((a, x) => a + x * x, 0);
  const err = Math.sqrt(s.reduce((a, x) => a + ((x / max) ** 2 - 1) ** 2, 0) / k);
  return { s, sigmaMax: max, sigmaMin: s[k - 1], stableRank: sum2 / (max * max), frobeniusNorm: Math.sqrt(sum2), orthogonalityError: err };
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (|Δ| = ${Math.abs(actual - expected)} > ${tol})`);
}

describe('symmetricEigenvalues64', () => {
  it('matches the Jacobi singular values of a symmetric PSD Gram matrix and the signed eigenvalues of an indefinite one', () => {
    for (const [n, seed] of [[1, 1], [2, 2], [7, 3], [40, 4]] as const) {
      const a = gaussian64(n, n + 3, seed);
      const g = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let t = 0; t < n + 3; t++) g[i * n + j] += a[i * (n + 3) + t] * a[j * (n + 3) + t];
      const ev = symmetricEigenvalues64(matrix64(n, n, g));
      const sv = singularValues64(matrix64(n, n, g));
      for (let i = 0; i < n; i++) close(ev[i], sv[i], 1e-12 * sv[0], `PSD n=${n} λ${i}`);
    }
    // diag(3, −1, 2) rotated by a Householder Q: eigenvalues 3, 2, −1 (descending, signed).
    const q = householderQ64(gaussian64(3, 3, 9), 3, 3);
    const d = [3, -1, 2];
    const m = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) m[i * 3 + j] += q[i * 3 + c] * d[c] * q[j * 3 + c];
    const ev = symmetricEigenvalues64(matrix64(3, 3, m));
    [3, 2, -1].forEach((x, i) => close(ev[i], x, 1e-13, `indefinite λ${i}`));
  });

  it('handles a diagonal matrix, repeated eigenvalues and a zero matrix', () => {
    assert.deepEqual(Array.from(symmetricEigenvalues64(matrix64(3, 3, [2, 0, 0, 0, 5, 0, 0, 0, -1]))), [5, 2, -1]);
    const eye = symmetricEigenvalues64(matrix64(4, 4, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]));
    assert.deepEqual(Array.from(eye), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(symmetricEigenvalues64(matrix64(2, 2, [0, 0, 0, 0]))), [0, 0]);
  });

  it('refuses a non-square or non-finite matrix by name', () => {
    assert.throws(() => symmetricEigenvalues64(matrix64(2, 3, [1, 2, 3, 4, 5, 6])), /symmetricEigenvalues64: expected a square matrix, got 2×3/);
    assert.throws(() => symmetricEigenvalues64(matrix64(2, 2, [1, NaN, NaN, 1])), /symmetricEigenvalues64: entry 1 is not finite/);
  });
});

describe('matrixDiagnostics: exact (float64 on the host)', () => {
  it('equals the float64 Jacobi SVD on random tall, wide and square matrices', () => {
    for (const [rows, cols, seed] of [[30, 12, 1], [12, 30, 2], [20, 20, 3], [1, 9, 4]] as const) {
      const x = tf.tensor2d(Float32Array.from(gaussian64(rows, cols, seed)), [rows, cols]);
      const ref = reference(x.dataSync(), rows, cols);
      const d = matrixDiagnostics(x, { method: 'exact', spectrum: true });
      assert.equal(d.method, 'exact');
      assert.deepEqual([d.rows, d.cols], [rows, cols]);
      close(d.sigmaMax, ref.sigmaMax, 1e-12 * ref.sigmaMax, `${rows}×${cols} σmax`);
      // σ_min from an eigenvalue of the Gram: absolute error ~ ε·σmax²/σmin.
      close(d.sigmaMin, ref.sigmaMin, 1e-10 * ref.sigmaMax, `${rows}×${cols} σmin`);
      close(d.stableRank, ref.stableRank, 1e-12 * ref.stableRank, `${rows}×${cols} stable rank`);
      close(d.frobeniusNorm, ref.frobeniusNorm, 1e-12 * ref.frobeniusNorm, `${rows}×${cols} ‖U‖F`);
      close(d.orthogonalityError, ref.orthogonalityError, 1e-12, `${rows}×${cols} orthogonality error`);
      assert.equal(d.singularValues!.length, Math.min(rows, cols));
      d.singularValues!.forEach((s, i) => close(s, ref.s[i], 1e-10 * ref.sigmaMax, `${rows}×${cols} σ${i}`));
      x.dispose();
    }
  });

  it('a prescribed spectrum gives its closed forms; a scaled semi-orthogonal matrix has error 0 and stable rank k', () => {
    const s = [4, 2, 1, 0.5];
    const x = tf.tensor2d(Float32Array.from(withSpectrum(9, 4, s, 7)), [9, 4]);
    const d = matrixDiagnostics(x);
    assert.equal(d.method, 'exact'); // auto: k = 4 ≤ 256
    close(d.sigmaMax, 4, 1e-6, 'σmax');
    close(d.sigmaMin, 0.5, 1e-6, 'σmin');
    close(d.stableRank, (16 + 4 + 1 + 0.25) / 16, 1e-6, 'stable rank');
    // RMS of (σ/σmax)² − 1 over (1, 1/4, 1/16, 1/64).
    const expected = Math.sqrt((0 + 0.75 ** 2 + (15 / 16) ** 2 + (63 / 64) ** 2) / 4);
    close(d.orthogonalityError, expected, 1e-6, 'orthogonality error');
    x.dispose();
    // 0.03·Q for Q (40×8) with orthonormal columns, also as a [2, 20, 8] tensor (viewed as 40×8).
    const q = Float32Array.from(householderQ64(gaussian64(40, 8, 11), 40, 8), (v) => 0.03 * v);
    for (const shape of [[40, 8], [2, 20, 8]]) {
      const t = tf.tensor(q, shape);
      const o = matrixDiagnostics(t, { spectrum: true });
      assert.deepEqual([o.rows, o.cols], [40, 8]);
      assert.ok(o.orthogonalityError < 1e-6, `orthogonal ${shape.join("×")}: error ${o.orthogonalityError}`);
      close(o.stableRank, 8, 1e-5, 'stable rank');
      close(o.sigmaMax, 0.03, 1e-8, 'σmax');
      close(o.sigmaMin, 0.03, 1e-8, 'σmin');
      o.singularValues!.forEach((v) => close(v, 0.03, 1e-8, 'σ'));
      t.dispose();
    }
  });

  it('a rank-one update: stable rank 1, σmin 0, error √((k−1)/k)', () => {
    const u = [1, -2, 3];
    const v = [0.5, 0.25, -1, 2];
    const x = tf.tensor2d(u.flatMap((a) => v.map((b) => a * b)), [3, 4]);
    const d = matrixDiagnostics(x);
    close(d.stableRank, 1, 1e-12, 'stable rank');
    close(d.sigmaMax, Math.hypot(...u) * Math.hypot(...v), 1e-6, 'σmax');
    close(d.sigmaMin, 0, 1e-6, 'σmin');
    close(d.orthogonalityError, Math.sqrt(2 / 3), 1e-12, 'orthogonality error');
    x.dispose();
  });

  it('a zero matrix and an empty one give zeros', () => {
    const z = tf.zeros([5, 3]);
    assert.deepEqual(matrixDiagnostics(z), { rows: 5, cols: 3, orthogonalityError: 0, sigmaMax: 0, sigmaMin: 0, stableRank: 0, frobeniusNorm: 0, method: 'exact' });
    assert.deepEqual(matrixDiagnostics(z, { method: 'lanczos' }).sigmaMax, 0);
    const e = tf.zeros([0, 3]);
    assert.equal(matrixDiagnostics(e).stableRank, 0);
    tf.dispose([z, e]);
  });
});

describe('matrixDiagnostics: Lanczos on the device', () => {
  it('finds σmax, σmin, stable rank and the error of a separated spectrum to float32 accuracy (wide and tall)', () => {
    const s = [3, 2.2, 1.8, 1.5, 1.2, 1, 0.8, 0.6, 0.4, 0.1];
    for (const [rows, cols] of [[10, 64], [64, 10]] as const) {
      const x = tf.tensor2d(Float32Array.from(withSpectrum(rows, cols, s, 21)), [rows, cols]);
      const p = matrixDiagnostics(x, { method: 'lanczos', iterations: 200 });
      const e = matrixDiagnostics(x, { method: 'exact' });
      assert.equal(p.method, 'lanczos');
      close(p.sigmaMax, 3, 1e-5, `${rows}×${cols} σmax`);
      close(p.sigmaMin, 0.1, 1e-3, `${rows}×${cols} σmin`);
      close(p.stableRank, e.stableRank, 1e-5, 'stable rank');
      close(p.frobeniusNorm, e.frobeniusNorm, 1e-5, '‖U‖F');
      close(p.orthogonalityError, e.orthogonalityError, 1e-5, 'orthogonality error');
      x.dispose();
    }
  });

  it('on a random 300×200 matrix (clustered spectrum edges), 64 steps: σmax to 1e-6, σmin an upper bound within 1e-3', () => {
    const x = tf.tensor2d(gaussianArray(300 * 200, 1, mulberry32(5)), [300, 200]);
    const ref = reference(x.dataSync(), 300, 200);
    const p = matrixDiagnostics(x); // auto: k = 200 ≤ 256 is exact …
    assert.equal(p.method, 'exact');
    const q = matrixDiagnostics(x, { exactMaxSide: 100 }); // … and Lanczos above exactMaxSide
    assert.equal(q.method, 'lanczos');
    close(q.sigmaMax, ref.sigmaMax, 1e-6 * ref.sigmaMax, 'σmax');
    // A Ritz value: never below the true σmin (up to float32), here 2e-4 relative above it.
    assert.ok(q.sigmaMin >= ref.sigmaMin * (1 - 1e-6) && q.sigmaMin <= ref.sigmaMin * (1 + 1e-3), `σmin ${q.sigmaMin} vs ${ref.sigmaMin}`);
    close(q.frobeniusNorm, ref.frobeniusNorm, 1e-6 * ref.frobeniusNorm, '‖U‖F');
    close(q.stableRank, ref.stableRank, 1e-6 * ref.stableRank, 'stable rank');
    close(q.orthogonalityError, ref.orthogonalityError, 1e-6, 'orthogonality error');
    x.dispose();
  });

  it('on wasm: the same Lanczos numbers, at a tolerance measured for its float32 reductions', async () => {
    // wasm's reductions are less exact than cpu's (DESIGN.md): measured here on this 300×200 matrix, the
    // orthogonality error's device sum is 3.7e-6 off the float64 value on wasm (3e-9 on cpu), the
    // other numbers ≤ 1e-7 relative; the tolerances below are 5× and 10× that.
    const values = gaussianArray(300 * 200, 1, mulberry32(5));
    const ref = reference(values, 300, 200);
    await useBackend('wasm');
    try {
      const x = tf.tensor2d(values, [300, 200]);
      const n0 = tf.memory().numTensors;
      const q = matrixDiagnostics(x, { method: 'lanczos' });
      assert.equal(tf.memory().numTensors, n0);
      close(q.orthogonalityError, ref.orthogonalityError, 2e-5, 'wasm orthogonality error');
      close(q.sigmaMax, ref.sigmaMax, 1e-6 * ref.sigmaMax, 'wasm σmax');
      close(q.stableRank, ref.stableRank, 1e-6 * ref.stableRank, 'wasm stable rank');
      close(q.frobeniusNorm, ref.frobeniusNorm, 1e-6 * ref.frobeniusNorm, 'wasm ‖U‖F');
      assert.ok(q.sigmaMin >= ref.sigmaMin * (1 - 1e-6) && q.sigmaMin <= ref.sigmaMin * (1 + 1e-3), `wasm σmin ${q.sigmaMin} vs ${ref.sigmaMin}`);
      x.dispose();
    } finally {
      await useBackend('cpu');
    }
  });

  it('an exactly orthogonal matrix: error ~ 0, stable rank k, σmin = σmax', () => {
    const q = tf.tensor2d(Float32Array.from(householderQ64(gaussian64(96, 32, 3), 96, 32), (v) => 2 * v), [96, 32]);
    const d = matrixDiagnostics(q, { method: 'lanczos' });
    assert.ok(d.orthogonalityError < 1e-5, `error ${d.orthogonalityError}`);
    close(d.stableRank, 32, 1e-3, 'stable rank');
    close(d.sigmaMax, 2, 1e-5, 'σmax');
    close(d.sigmaMin, 2, 1e-3, 'σmin');
    q.dispose();
  });
});

describe('updateDiagnostics and errors', () => {
  it('measures after − before, and leaks no tensors on either method', () => {
    const before = tf.tensor2d(gaussianArray(12 * 6, 1, mulberry32(1)), [12, 6]);
    const q = Float32Array.from(householderQ64(gaussian64(12, 6, 2), 12, 6), (v) => 0.01 * v);
    const after = tf.add(before, tf.tensor2d(q, [12, 6]));
    const n0 = tf.memory().numTensors;
    for (const method of ['exact', 'lanczos'] as const) {
      const d = updateDiagnostics(before, after, { method, iterations: 100 });
      // float32 cancellation in after − before: |Δ| ≈ 1e-7·|w| ≈ 1e-7 against σ = 0.01.
      assert.ok(d.orthogonalityError < 1e-3, `${method}: error ${d.orthogonalityError}`);
      close(d.sigmaMax, 0.01, 1e-5, `${method} σmax`);
      close(d.stableRank, 6, 1e-2, `${method} stable rank`);
    }
    matrixDiagnostics(before, { spectrum: true });
    assert.equal(tf.memory().numTensors, n0);
    tf.dispose([before, after]);
  });

  it('refuses vectors, mismatched shapes and bad options by name, creating nothing', () => {
    const v = tf.zeros([4]);
    const m = tf.zeros([4, 3]);
    const n0 = tf.memory().numTensors;
    assert.throws(() => matrixDiagnostics(v), /matrixDiagnostics: expected a tensor of rank >= 2 \(a weight matrix\), got shape \[4\]/);
    assert.throws(() => updateDiagnostics(m, tf.zeros([3, 4])), /updateDiagnostics: before has shape \[4, 3\], after \[3, 4\]/);
    assert.throws(() => updateDiagnostics(v, v), /updateDiagnostics: expected a tensor of rank >= 2/);
    assert.throws(() => matrixDiagnostics(m, { method: 'svd' as never }), /method must be 'auto', 'exact' or 'lanczos', got "svd"/);
    assert.throws(() => matrixDiagnostics(m, { iterations: 0 }), /iterations must be an integer >= 1, got 0/);
    assert.throws(() => matrixDiagnostics(m, { exactMaxSide: -1 }), /exactMaxSide must be a non-negative integer, got -1/);
    assert.throws(() => matrixDiagnostics(m, { method: 'lanczos', spectrum: true }), /spectrum: true needs method 'exact' or 'auto'/);
    // The [3, 4] made inline above is the only new tensor.
    assert.equal(tf.memory().numTensors, n0 + 1);
    tf.dispose([v, m]);
  });
});
