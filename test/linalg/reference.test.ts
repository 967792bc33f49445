import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
tf.env().set('IS_TEST', true);
await tf.setBackend('wasm');

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  matmul64,
  matrix64,
  newtonSchulz64,
  polar64,
  quinticCompose,
  singularValues64,
  svd64,
  transpose64,
  type Matrix64,
} from '../../src/linalg/reference.js';
import { orthogonalityError, orthogonalityReport } from '../../src/linalg/diagnostics.js';

type Coefficients = readonly (readonly [number, number, number])[];

const JORDAN: readonly [number, number, number] = [3.4445, -4.775, 2.0315];
const JORDAN5: Coefficients = Array.from({ length: 5 }, () => JORDAN);
// Spec muon-family.md §2.2 (YOU_COEFFICIENTS).
const YOU5: Coefficients = [
  [4.0848, -6.8946, 2.927],
  [3.9505, -6.3029, 2.6377],
  [3.7418, -5.5913, 2.3037],
  [2.8769, -3.1427, 1.2046],
  [2.8366, -3.0525, 1.2012],
];

/** mulberry32 uniform in [0, 1) + Box–Muller normals: deterministic test matrices. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

function randomMatrix(rows: number, cols: number, seed: number): Matrix64 {
  const next = gaussian(seed);
  return matrix64(rows, cols, Array.from({ length: rows * cols }, next));
}

function frobenius(a: Matrix64): number {
  return Math.sqrt(a.data.reduce((acc, x) => acc + x * x, 0));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |QᵀQ − I| for a matrix with (supposedly) orthonormal columns. */
function columnOrthonormalityError(q: Matrix64): number {
  const g = matmul64(transpose64(q), q);
  let m = 0;
  for (let i = 0; i < g.rows; i++) {
    for (let j = 0; j < g.cols; j++) m = Math.max(m, Math.abs(g.data[i * g.cols + j] - (i === j ? 1 : 0)));
  }
  return m;
}

function scaleColumns(u: Matrix64, s: Float64Array): Matrix64 {
  const data = u.data.map((x, idx) => x * s[idx % u.cols]);
  return { rows: u.rows, cols: u.cols, data };
}

function float32Of(a: Matrix64): Matrix64 {
  return matrix64(a.rows, a.cols, Float32Array.from(a.data));
}

function tensorOf(a: Matrix64): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(a.data), [a.rows, a.cols], 'float32');
}

void test('matrix64 validates its length and dimensions; matmul64 checks inner dimensions', () => {
  assert.throws(() => matrix64(2, 3, [1, 2, 3]), /rows\*cols = 6 values, got 3/);
  assert.throws(() => matrix64(-1, 3, []), RangeError);
  assert.throws(() => matmul64(matrix64(2, 3, new Array<number>(6).fill(1)), matrix64(2, 3, new Array<number>(6).fill(1))), RangeError);
  const a = matrix64(2, 3, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(matmul64(a, transpose64(a)).data), [14, 32, 32, 77]);
});

void test('svd64 reconstructs random matrices with orthonormal U, V and sorted s', () => {
  const shapes: [number, number][] = [
    [7, 5],
    [5, 7],
    [40, 40],
    [64, 96],
  ];
  shapes.forEach(([rows, cols], idx) => {
    const a = randomMatrix(rows, cols, 100 + idx);
    const { u, s, v } = svd64(a);
    const k = Math.min(rows, cols);
    assert.deepEqual([u.rows, u.cols, v.rows, v.cols, s.length], [rows, k, cols, k, k]);
    const rebuilt = matmul64(scaleColumns(u, s), transpose64(v));
    const rel = frobenius({ ...a, data: a.data.map((x, i) => x - rebuilt.data[i]) }) / frobenius(a);
    assert.ok(rel <= 1e-12, `${rows}x${cols}: reconstruction ${rel}`);
    assert.ok(columnOrthonormalityError(u) <= 1e-12, `${rows}x${cols}: U`);
    assert.ok(columnOrthonormalityError(v) <= 1e-12, `${rows}x${cols}: V`);
    for (let i = 1; i < k; i++) assert.ok(s[i - 1] >= s[i], `${rows}x${cols}: s sorted`);
    assert.ok(s[k - 1] > 0);
    // The vector-free path gives the same values.
    assert.ok(maxAbsDiff(singularValues64(a), s) <= 1e-12 * s[0]);
  });
});

void test('svd64 singular values of diagonal and known 2x2 matrices', () => {
  // 4×6 with diagonal (−3, 1, 0.5, −7): columns already orthogonal, so the values are exact.
  const d = new Float64Array(24);
  [-3, 1, 0.5, -7].forEach((x, i) => (d[i * 6 + i] = x));
  assert.deepEqual(Array.from(singularValues64(matrix64(4, 6, d))), [7, 3, 1, 0.5]);
  assert.deepEqual(Array.from(svd64(transpose64(matrix64(4, 6, d))).s), [7, 3, 1, 0.5]);

  // An exact zero singular value: U, V are still completed to orthonormal columns.
  const z = svd64(matrix64(3, 3, [2, 0, 0, 0, 0, 0, 0, 0, -5]));
  assert.deepEqual(Array.from(z.s), [5, 2, 0]);
  assert.ok(columnOrthonormalityError(z.u) <= 1e-15);
  assert.ok(columnOrthonormalityError(z.v) <= 1e-15);

  // [[3, 0], [4, 5]]: AᵀA = [[25, 20], [20, 25]] has eigenvalues 45 and 5.
  const s = svd64(matrix64(2, 2, [3, 0, 4, 5])).s;
  assert.ok(Math.abs(s[0] - Math.sqrt(45)) <= 2 * Number.EPSILON * Math.sqrt(45), `${s[0]}`);
  assert.ok(Math.abs(s[1] - Math.sqrt(5)) <= 2 * Number.EPSILON * Math.sqrt(45), `${s[1]}`);

  // Zero matrix and huge entries.
  assert.deepEqual(Array.from(svd64(matrix64(2, 3, new Float64Array(6))).s), [0, 0]);
  const big = svd64(matrix64(2, 2, [3e200, 0, 4e200, 5e200])).s;
  assert.ok(Math.abs(big[0] / 1e200 - Math.sqrt(45)) <= 1e-14);
  assert.throws(() => svd64(matrix64(1, 2, [1, NaN])), /non-finite/);
});

void test('polar64 is semi-orthogonal, transpose-equivariant, and polar(A)·Aᵀ is symmetric PSD', () => {
  for (const [rows, cols, seed] of [
    [12, 30, 7],
    [30, 12, 8],
    [20, 20, 9],
  ]) {
    const a = randomMatrix(rows, cols, seed);
    const p = polar64(a);
    assert.deepEqual([p.rows, p.cols], [rows, cols]);
    assert.ok(columnOrthonormalityError(rows < cols ? transpose64(p) : p) <= 1e-12);
    assert.ok(maxAbsDiff(polar64(transpose64(a)).data, transpose64(p).data) <= 1e-12);
    const sym = matmul64(p, transpose64(a)); // = U Σ Uᵀ
    const asym = maxAbsDiff(sym.data, transpose64(sym).data);
    assert.ok(asym <= 1e-12 * frobenius(sym), `asymmetry ${asym}`);
    const next = gaussian(seed + 1000);
    for (let trial = 0; trial < 20; trial++) {
      const z = matrix64(rows, 1, Array.from({ length: rows }, next));
      const quad = matmul64(transpose64(z), matmul64(sym, z)).data[0];
      assert.ok(quad >= -1e-12 * frobenius(sym), `zᵀSz = ${quad}`);
    }
  }
});

void test('quinticCompose: Jordan one-step extrema (§12.3) and 5-step σ ranges (§2.7)', () => {
  const one: Coefficients = [JORDAN];
  const pMax = quinticCompose(one, 0.55453);
  const pMin = quinticCompose(one, 1.05014);
  assert.ok(Math.abs(pMax - 1.20237) <= 1e-5, `${pMax}`);
  assert.ok(Math.abs(pMin - 0.68183) <= 1e-5, `${pMin}`);
  assert.ok(quinticCompose(one, 0.5535) < pMax && quinticCompose(one, 0.5555) < pMax);
  assert.ok(quinticCompose(one, 1.049) > pMin && quinticCompose(one, 1.051) > pMin);
  // φ′(0) = a^5 for Jordan ×5 (§2.7: 484.9).
  assert.ok(Math.abs(quinticCompose(JORDAN5, 1e-9) / 1e-9 - 484.9) < 0.05);

  const range = (coefficients: Coefficients, lo: number, hi: number, n: number): [number, number] => {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i <= n; i++) {
      const y = quinticCompose(coefficients, lo + ((hi - lo) * i) / n);
      min = Math.min(min, y);
      max = Math.max(max, y);
    }
    return [min, max];
  };
  const [jMin, jMax] = range(JORDAN5, 1e-2, 1, 400_000);
  assert.ok(Math.abs(jMin - 0.6818) <= 1e-4 && Math.abs(jMax - 1.1344) <= 1e-4, `Jordan ×5: [${jMin}, ${jMax}]`);
  const [yMin, yMax] = range(YOU5, 1e-2, 1, 400_000);
  assert.ok(Math.abs(yMin - 0.9778) <= 1e-4 && Math.abs(yMax - 1.0318) <= 1e-4, `You ×5: [${yMin}, ${yMax}]`);
});

void test('newtonSchulz64: σ_out = φ(σ_in/‖A‖_F), inside the Jordan band, NS(Aᵀ) = NS(A)ᵀ', () => {
  for (const [rows, cols, seed] of [
    [16, 48, 21],
    [48, 16, 22],
  ]) {
    const a = randomMatrix(rows, cols, seed);
    const x = newtonSchulz64(a, JORDAN5);
    assert.deepEqual([x.rows, x.cols], [rows, cols]);
    const sOut = singularValues64(x);
    assert.ok(sOut[sOut.length - 1] >= 0.6818 && sOut[0] <= 1.1344, `σ ∈ [${sOut[sOut.length - 1]}, ${sOut[0]}]`);
    // Each input singular value goes through the scalar map (odd polynomials act on Σ alone).
    const denom = frobenius(a) + 1e-7;
    const predicted = Array.from(singularValues64(a), (s) => quinticCompose(JORDAN5, s / denom)).sort((p, q) => q - p);
    assert.ok(maxAbsDiff(sOut, predicted) <= 1e-12);
    assert.ok(maxAbsDiff(newtonSchulz64(transpose64(a), JORDAN5).data, transpose64(x).data) <= 1e-15);
  }
  assert.throws(() => newtonSchulz64(randomMatrix(2, 3, 1), [[1, 2] as unknown as [number, number, number]]), RangeError);
  assert.throws(() => newtonSchulz64(randomMatrix(2, 3, 1), JORDAN5, { normScale: 0 }), /normScale/);
});

interface GoldenTensor {
  shape: number[];
  data: number[];
}
interface GoldenNs {
  args: { steps: number; coefficients: [number, number, number]; norm_eps: number };
  inputs: GoldenTensor[];
  outputs: GoldenTensor[];
}

const goldenDir = process.env.ORTHOPTIM_GOLDEN_DIR ?? fileURLToPath(new URL('../fixtures/golden', import.meta.url));
const goldenMissing = !existsSync(goldenDir);
const goldenSkip = goldenMissing && process.env.CI !== 'true' ? `golden directory not found: ${goldenDir}` : false;

void test('newtonSchulz64 replays the muon_ns golden files (KellerJordan/Muon, float32 torch)', { skip: goldenSkip }, (t) => {
  assert.ok(!goldenMissing, `golden directory not found: ${goldenDir} (set ORTHOPTIM_GOLDEN_DIR)`);
  for (const name of ['wide', 'tall', 'square']) {
    const file = join(goldenDir, `muon_ns__${name}.json`);
    const golden = JSON.parse(readFileSync(file, 'utf8')) as GoldenNs;
    const [input] = golden.inputs;
    const [want] = golden.outputs;
    const coefficients = Array.from({ length: golden.args.steps }, () => golden.args.coefficients);
    const got = newtonSchulz64(matrix64(input.shape[0], input.shape[1], input.data), coefficients, {
      eps: golden.args.norm_eps,
    });
    assert.deepEqual([got.rows, got.cols], want.shape);
    const wantMax = want.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const dev = maxAbsDiff(got.data, want.data) / wantMax;
    t.diagnostic(`muon_ns__${name}: max|Δ|/max|want| = ${dev.toExponential(2)}`);
    assert.ok(dev <= 1e-5, `muon_ns__${name}: ${dev}`);
  }
});

void test('orthogonalityError: identity, 2·I and a polar64 matrix; no leaked tensors', () => {
  const before = tf.memory().numTensors;
  const eye = tf.eye(8);
  const twice = tf.mul<tf.Tensor2D>(eye, 2);
  assert.ok(orthogonalityError(eye) <= 1e-6);
  // ‖4I − I‖_F / √8 = √(9·8) / √8 = 3.
  assert.ok(Math.abs(orthogonalityError(twice) - 3) <= 1e-6);
  const p = tensorOf(polar64(randomMatrix(12, 30, 31)));
  const pt = tf.transpose(p);
  assert.ok(orthogonalityError(p) <= 1e-5);
  assert.ok(orthogonalityError(pt) <= 1e-5);
  const mid = tf.memory().numTensors;
  orthogonalityError(p);
  assert.equal(tf.memory().numTensors, mid);
  tf.dispose([eye, twice, p, pt]);
  assert.equal(tf.memory().numTensors, before);
  const cube = tf.zeros([2, 2, 2]);
  assert.throws(() => orthogonalityError(cube as unknown as tf.Tensor2D), /2-D/);
  cube.dispose();
});

void test('orthogonalityReport: σ range matches singularValues64, polar distance matches float64', () => {
  for (const [rows, cols, seed] of [
    [16, 48, 41],
    [48, 16, 42],
  ]) {
    const a = randomMatrix(rows, cols, seed);
    const x64 = float32Of(newtonSchulz64(a, JORDAN5));
    const x = tensorOf(x64);
    const g = tensorOf(a);
    const before = tf.memory().numTensors;
    const report = orthogonalityReport(x, g);
    const plain = orthogonalityReport(x);
    assert.equal(tf.memory().numTensors, before);

    const s = singularValues64(x64);
    assert.ok(Math.abs(report.sigmaMax - s[0]) <= 1e-5, `σmax ${report.sigmaMax} vs ${s[0]}`);
    assert.ok(Math.abs(report.sigmaMin - s[s.length - 1]) <= 1e-5, `σmin ${report.sigmaMin} vs ${s[s.length - 1]}`);
    assert.equal(plain.polarDistance, undefined);
    assert.equal(plain.sigmaMin, report.sigmaMin);
    const rmsErr = Math.sqrt(s.reduce((acc, v) => acc + (v * v - 1) ** 2, 0) / s.length);
    assert.ok(Math.abs(report.orthogonalityError - rmsErr) <= 1e-5, `${report.orthogonalityError} vs ${rmsErr}`);

    const p = polar64(float32Of(a));
    const dist = frobenius({ ...p, data: p.data.map((v, i) => x64.data[i] - v) }) / frobenius(p);
    assert.ok(report.polarDistance !== undefined && Math.abs(report.polarDistance - dist) <= 1e-6);

    // A float32-rounded exact polar factor is at distance ~1e-7 from polar(G).
    const pq = tensorOf(p);
    assert.ok((orthogonalityReport(pq, g).polarDistance ?? 1) <= 1e-6);
    tf.dispose([x, g, pq]);
  }
  // A square, exactly known spectrum: diag(3, 0.5) → σ ∈ [0.5, 3].
  const d = tf.tensor2d([3, 0, 0, -0.5], [2, 2]);
  const r = orthogonalityReport(d);
  assert.ok(Math.abs(r.sigmaMax - 3) <= 1e-6 && Math.abs(r.sigmaMin - 0.5) <= 1e-6);
  d.dispose();
});
