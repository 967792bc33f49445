/**
 * Seeded initializers (nn/init.ts): orthogonality in float64, the Keras Orthogonal semantics (QR of the
 * seeded Gaussian matrix with a positive R diagonal), Haar statistics, determinism, conv shapes, and the
 * i.i.d. initializers' moments within sampling error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  deltaOrthogonalInit,
  fans,
  gaussianInit,
  glorotUniformInit,
  haarOrthogonal64,
  heNormalInit,
  orthogonalInit,
} from '../../src/nn/init.js';
import { gaussian, mulberry32 } from '../../src/core/random.js';

/** max |G − gain²·I| of the Gram matrix of the orientation with orthonormal vectors, in float64. */
function orthogonalityDefect(w: ArrayLike<number>, rows: number, cols: number, gain: number): number {
  const k = Math.min(rows, cols);
  let worst = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      // Tall: columns a, b (WᵀW); wide: rows a, b (WWᵀ).
      if (rows >= cols) for (let i = 0; i < rows; i++) s += w[i * cols + a] * w[i * cols + b];
      else for (let j = 0; j < cols; j++) s += w[a * cols + j] * w[b * cols + j];
      worst = Math.max(worst, Math.abs(s - (a === b ? gain * gain : 0)));
    }
  }
  return worst;
}

function moments(v: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i] - mean) ** 2;
  return { mean, variance: q / v.length };
}

describe('orthogonalInit', () => {
  const cases: { shape: number[]; gain: number }[] = [
    { shape: [64, 64], gain: 1 },
    { shape: [100, 30], gain: 1 },
    { shape: [30, 100], gain: 2 },
    { shape: [3, 3, 16, 32], gain: 1 }, // conv: 144 × 32, tall
    { shape: [3, 3, 4, 64], gain: 0.5 }, // conv: 36 × 64, wide
    { shape: [2, 5, 7], gain: 1 }, // rank 3: 10 × 7
  ];
  for (const { shape, gain } of cases) {
    it(`[${shape.join(', ')}] gain ${gain}: WᵀW (tall) or WWᵀ (wide) = gain²·I to 1e-6`, () => {
      const w = orthogonalInit(shape, { gain, seed: 7 });
      const cols = shape[shape.length - 1];
      const rows = w.length / cols;
      assert.equal(w.length, shape.reduce((a, b) => a * b, 1));
      const defect = orthogonalityDefect(w, rows, cols, gain);
      assert.ok(defect < 1e-6 * gain * gain, `defect ${defect}`);
    });
  }

  it('is deterministic by seed, and different seeds give different matrices', () => {
    const a = orthogonalInit([32, 16], { seed: 3 });
    const b = orthogonalInit([32, 16], { seed: 3 });
    const c = orthogonalInit([32, 16], { seed: 4 });
    assert.deepEqual(a, b);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - c[i]));
    assert.ok(diff > 0.1, `seeds 3 and 4 too close: ${diff}`);
  });

  it('is the Q of the seeded Gaussian matrix with a positive R diagonal (Keras semantics)', () => {
    for (const [rows, cols] of [[12, 5], [5, 12], [9, 9]]) {
      const m = Math.max(rows, cols);
      const n = Math.min(rows, cols);
      const rand = mulberry32(11);
      const z = new Float64Array(m * n); // row-major m × n, drawn in the initializer's order
      for (let i = 0; i < m * n; i++) z[i] = gaussian(rand);
      const w = haarOrthogonal64(rows, cols, mulberry32(11));
      // Q (m × n): W itself when tall, Wᵀ when wide.
      const q = (i: number, j: number): number => (rows >= cols ? w[i * cols + j] : w[j * cols + i]);
      // R = QᵀZ must be upper triangular with a positive diagonal.
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          let r = 0;
          for (let i = 0; i < m; i++) r += q(i, a) * z[i * n + b];
          if (a > b) assert.ok(Math.abs(r) < 1e-12, `R[${a}][${b}] = ${r} below the diagonal (${rows}x${cols})`);
          if (a === b) assert.ok(r > 0, `R[${a}][${a}] = ${r} not positive (${rows}x${cols})`);
        }
      }
    }
  });

  it('has Haar statistics: E[W_ij²] = 1/n and det takes both signs about equally', () => {
    const n = 4;
    const draws = 400;
    let sumSq = 0;
    let positive = 0;
    for (let s = 0; s < draws; s++) {
      const w = haarOrthogonal64(n, n, mulberry32(1000 + s));
      for (const x of w) sumSq += x * x;
      // Determinant by Gaussian elimination with partial pivoting.
      const a = Float64Array.from(w);
      let det = 1;
      for (let c = 0; c < n; c++) {
        let p = c;
        for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
        if (p !== c) {
          for (let k = 0; k < n; k++) [a[c * n + k], a[p * n + k]] = [a[p * n + k], a[c * n + k]];
          det = -det;
        }
        det *= a[c * n + c];
        for (let r = c + 1; r < n; r++) {
          const f = a[r * n + c] / a[c * n + c];
          for (let k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
        }
      }
      assert.ok(Math.abs(Math.abs(det) - 1) < 1e-12);
      if (det > 0) positive++;
    }
    // Every row has unit norm, so the mean of W_ij² is exactly 1/n.
    assert.ok(Math.abs(sumSq / (draws * n * n) - 1 / n) < 1e-12);
    // Binomial(400, ½): sd 10; 4 sd margin.
    assert.ok(Math.abs(positive - draws / 2) < 40, `${positive} of ${draws} positive determinants`);
  });

  it('rejects bad shapes, gains and seeds with errors that name the option', () => {
    assert.throws(() => orthogonalInit([8], { seed: 1 }), /rank >= 2/);
    assert.throws(() => orthogonalInit([8, 0], { seed: 1 }), /positive integers/);
    assert.throws(() => orthogonalInit([8, 8], { seed: 1, gain: 0 }), /gain must be/);
    assert.throws(() => orthogonalInit([8, 8], { seed: 1.5 }), /seed must be an integer/);
  });
});

describe('deltaOrthogonalInit', () => {
  it('is zero except for an orthogonal centre tap', () => {
    const shape = [3, 3, 8, 16];
    const w = deltaOrthogonalInit(shape, { seed: 5, gain: 1.5 });
    const tap = 8 * 16;
    const centre = (1 * 3 + 1) * tap;
    for (let i = 0; i < w.length; i++) if (i < centre || i >= centre + tap) assert.equal(w[i], 0);
    assert.ok(orthogonalityDefect(w.subarray(centre, centre + tap), 8, 16, 1.5) < 1e-6);
    assert.throws(() => deltaOrthogonalInit([3, 3, 16, 8], { seed: 1 }), /in <= out/);
    assert.throws(() => deltaOrthogonalInit([8, 8], { seed: 1 }), /rank >= 3/);
  });
});

describe('i.i.d. initializers', () => {
  it('fans follow Keras (dense, conv, vector)', () => {
    assert.deepEqual(fans([784, 512]), [784, 512]);
    assert.deepEqual(fans([3, 3, 16, 32]), [144, 288]);
    assert.deepEqual(fans([10]), [10, 10]);
  });

  it('gaussianInit: mean and std within sampling error; default std 1/√fanIn', () => {
    const n = 256;
    const w = gaussianInit([n, n], { std: 0.3, mean: 0.1, seed: 2 });
    const { mean, variance } = moments(w);
    const count = n * n;
    // Standard errors: std/√count for the mean, ≈ std/√(2·count) for the std; 4 standard errors.
    assert.ok(Math.abs(mean - 0.1) < (4 * 0.3) / Math.sqrt(count), `mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(variance) - 0.3) < (4 * 0.3) / Math.sqrt(2 * count), `std ${Math.sqrt(variance)}`);
    const d = moments(gaussianInit([400, 100], { seed: 3 }));
    assert.ok(Math.abs(Math.sqrt(d.variance) - 1 / 20) < 4 * (1 / 20) / Math.sqrt(2 * 40000), `default std ${Math.sqrt(d.variance)}`);
    assert.deepEqual(gaussianInit([4, 4], { seed: 9 }), gaussianInit([4, 4], { seed: 9 }));
  });

  it('glorotUniformInit: inside ±√(6/(fanIn+fanOut)) with variance limit²/3', () => {
    const w = glorotUniformInit([300, 200], { seed: 4 });
    const limit = Math.sqrt(6 / 500);
    for (const x of w) assert.ok(Math.abs(x) <= limit + 1e-7);
    const { variance } = moments(w);
    // Var of U(−l, l) is l²/3; the sample variance's sd is ≈ l²·√(4/45)/√count.
    assert.ok(Math.abs(variance - (limit * limit) / 3) < (4 * limit * limit * Math.sqrt(4 / 45)) / Math.sqrt(60000), `variance ${variance}`);
  });

  it('heNormalInit: variance 2/fanIn (truncated normal, corrected), no draw beyond 2σ', () => {
    const w = heNormalInit([3, 3, 32, 64], { seed: 6 });
    const fanIn = 3 * 3 * 32;
    const { variance } = moments(w);
    const target = 2 / fanIn;
    // The truncated normal's variance estimate has relative sd ≈ 1.1/√count (count 18432): 4 sd ≈ 3.3%.
    assert.ok(Math.abs(variance / target - 1) < 0.035, `variance ratio ${variance / target}`);
    const bound = (2 * Math.sqrt(target)) / 0.87962566103423978;
    for (const x of w) assert.ok(Math.abs(x) <= bound * (1 + 1e-6));
  });
});
