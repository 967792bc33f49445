/**
 * Dion2 (no golden file exists): the top-k selection by L1 norm along the shorter dimension, unselected
 * slices only decaying, the error-feedback identity on the momentum, the applied k×N block being the
 * (Polar Express) orthogonalization of the selected submatrix, option validation, and the optimizer
 * contract (wasm).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { type Dion2Options } from '../../src/optimizers/dion.js';
import { dion2 } from '../../src/tfjs/register.js';
import { dion2Selection } from '../../src/transforms/dion.js';
import { newtonSchulz, resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { orthogonalityReport } from '../../src/linalg/diagnostics.js';
import { matrix64, quinticCompose, singularValues64 } from '../../src/linalg/reference.js';
import { coefficientTable } from '../../src/linalg/coefficients.js';
import type { TransformOptimizer } from '../../src/tfjs/optimizer.js';

await useBackend('cpu');

/** Slice j of a row-major [rows, cols] array along `axis` (0: row j, 1: column j). */
function slice(data: ArrayLike<number>, rows: number, cols: number, axis: 0 | 1, j: number): number[] {
  return axis === 0
    ? Array.from({ length: cols }, (_, c) => data[j * cols + c])
    : Array.from({ length: rows }, (_, r) => data[r * cols + j]);
}

/** Indices of the k largest L1 norms (float64), and the gap between the k-th and (k+1)-th. */
function topL1(data: ArrayLike<number>, rows: number, cols: number, axis: 0 | 1, k: number): { idx: number[]; gap: number } {
  const n = axis === 0 ? rows : cols;
  const norms = Array.from({ length: n }, (_, j) => slice(data, rows, cols, axis, j).reduce((a, v) => a + Math.abs(v), 0));
  const order = norms.map((v, j) => [v, j]).sort((a, b) => b[0] - a[0]);
  return { idx: order.slice(0, k).map(([, j]) => j).sort((a, b) => a - b), gap: k < n ? order[k - 1][0] - order[k][0] : Infinity };
}

function momentumOf(opt: TransformOptimizer): Float32Array {
  return opt.stateSlots.find((s) => /^matrix\/0\/momentum\/0$/.test(s.path))!.variable.dataSync() as Float32Array;
}

describe('dion2 selection', () => {
  it('slices along the shorter of fan-in/fan-out: output units when fanOut ≤ fanIn, k = max(1, ⌈fraction·n⌉)', () => {
    assert.deepEqual(dion2Selection([16, 10], 0.25), { axis: 1, n: 10, k: 3 }); // Dense [fanIn 16, fanOut 10]
    assert.deepEqual(dion2Selection([10, 16], 0.25), { axis: 0, n: 10, k: 3 });
    assert.deepEqual(dion2Selection([8, 8], 0.5), { axis: 1, n: 8, k: 4 }); // ties: rows of the PyTorch weight
    assert.deepEqual(dion2Selection([3, 3, 4, 8], 0.25), { axis: 1, n: 8, k: 2 }); // conv → [36, 8]
    assert.deepEqual(dion2Selection([100, 3], 0.01), { axis: 1, n: 3, k: 1 });
  });

  for (const shape of [[12, 8], [8, 12]] as [number, number][]) {
    it(`[${shape.join(', ')}]: updates exactly the top-k slices by L1 norm (not L2); the others stay bit-identical`, () => {
      const [rows, cols] = shape;
      const { axis, n, k } = dion2Selection(shape, 0.25);
      assert.equal(k, 2);
      const len = axis === 0 ? cols : rows;
      // slice 0: all ones (L1 = len, L2 = √len); slice 1: one entry 5 (L1 = 5, L2 = 5, the largest L2);
      // slice 2: all 0.9; the rest: 0.1·N(0,1). Top-2 by L1: {0, 2}; by L2 it would be {0, 1} or {1, 2}.
      const noise = gaussian(rows * cols, 50);
      const g = new Float32Array(rows * cols);
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < len; i++) {
          const at = axis === 0 ? j * cols + i : i * cols + j;
          g[at] = j === 0 ? 1 : j === 1 ? (i === 0 ? 5 : 0) : j === 2 ? 0.9 * (i % 2 ? 1 : -1) : 0.1 * noise[at];
        }
      }
      const w = tf.variable(tf.tensor2d(gaussian(rows * cols, 51), [rows, cols]));
      const w0 = w.dataSync().slice();
      const opt = dion2({ weightDecay: 0, learningRate: 0.1 });
      opt.applyGradients([{ name: w.name, tensor: tf.tensor2d(g, [rows, cols]) }]);
      const w1 = w.dataSync();
      const changed: number[] = [];
      for (let j = 0; j < n; j++) {
        const before = slice(w0, rows, cols, axis, j);
        const now = slice(w1, rows, cols, axis, j);
        if (now.some((v, i) => v !== before[i])) changed.push(j);
      }
      assert.deepEqual(changed, [0, 2]);
      opt.dispose();
      w.dispose();
    });
  }
});

describe('dion2 update', () => {
  const shape: [number, number] = [24, 10]; // fanIn 24 > fanOut 10: output units selected, k = 3 of 10, L = 24
  const [rows, cols] = shape;
  const lr = 0.05;
  const wd = 0.1;
  const scale = Math.sqrt(cols / rows);

  it('over 3 steps: selected slices = top-k L1 of M + G; M_new = efDecay·(M + G) there, M + G elsewhere; unselected W only decays', () => {
    const w = tf.variable(tf.tensor2d(gaussian(rows * cols, 60), shape));
    const opt = dion2({ learningRate: lr, weightDecay: wd, efDecay: 0.9 });
    const e = Math.fround(0.9);
    let m = new Float32Array(rows * cols);
    for (let s = 0; s < 3; s++) {
      const g = gaussian(rows * cols, 61 + s);
      const b = Float32Array.from(m, (v, i) => Math.fround(v + g[i]));
      const { axis, k } = dion2Selection(shape, 0.25);
      const { idx, gap } = topL1(b, rows, cols, axis, k);
      assert.ok(gap > 1e-3, `test data has a near-tie (gap ${gap})`);
      const w0 = w.dataSync().slice();
      opt.applyGradients([{ name: w.name, tensor: tf.tensor2d(g, shape) }]);
      m = momentumOf(opt).slice();
      const w1 = w.dataSync();
      for (let j = 0; j < cols; j++) {
        const selected = idx.includes(j);
        for (let i = 0; i < rows; i++) {
          const at = i * cols + j;
          assert.equal(m[at], selected ? Math.fround(b[at] * e) : b[at], `step ${s}: M[${i},${j}] (selected ${selected})`);
          if (!selected) {
            const want = w0[at] * (1 - lr * wd);
            assert.ok(Math.abs(w1[at] - want) <= 1e-7 * Math.max(1, Math.abs(want)), `step ${s}: W[${i},${j}] only decays`);
          }
        }
      }
    }
    opt.dispose();
    w.dispose();
  });

  it('the applied k×N block is the Polar Express orthogonalization of the selected slices (σ ≈ 1)', () => {
    const g = gaussian(rows * cols, 70);
    const w = tf.variable(tf.tensor2d(gaussian(rows * cols, 71), shape));
    const w0 = w.dataSync().slice();
    const opt = dion2({ learningRate: lr, weightDecay: wd });
    opt.applyGradients([{ name: w.name, tensor: tf.tensor2d(g, shape) }]);
    const w1 = w.dataSync();
    const { axis, k } = dion2Selection(shape, 0.25);
    const { idx } = topL1(g, rows, cols, axis, k);
    // U = (W·(1 − ηλ) − W_new) / (η·√(fanOut/fanIn)), restricted to the selected columns: [24, k]
    const applied = new Float32Array(rows * k);
    const selected = new Float32Array(rows * k);
    for (let i = 0; i < rows; i++) {
      idx.forEach((j, c) => {
        applied[i * k + c] = (w0[i * cols + j] * (1 - lr * wd) - w1[i * cols + j]) / (lr * scale);
        selected[i * k + c] = g[i * cols + j];
      });
    }
    tf.tidy(() => {
      const u = tf.tensor2d(applied, [rows, k]);
      const input = tf.tensor2d(selected, [rows, k]);
      const ns = resolveNewtonSchulz({ coefficients: 'polarExpress5', eps: 1e-8 });
      const want = newtonSchulz(input, ns).dataSync();
      let d = 0;
      applied.forEach((v, i) => (d = Math.max(d, Math.abs(v - want[i]))));
      assert.ok(d < 1e-4, `applied block differs from PolarExpress(selected) by ${d}`);
      // Its singular values are Polar Express's scalar map φ applied to the input's, normalized by
      // 1.02·‖X‖_F + ε (float64, spec §2.7), and it has the input's singular vectors (polar distance).
      const s = singularValues64(matrix64(rows, k, selected));
      const frob = Math.sqrt(s.reduce((a, v) => a + v * v, 0));
      const rowsPe = coefficientTable('polarExpress5').rows;
      const want64 = Array.from(s, (v) => quinticCompose(rowsPe, v / (1.02 * frob + 1e-8))).sort((a, b) => b - a); // φ is not monotonic
      const got64 = singularValues64(matrix64(rows, k, applied));
      got64.forEach((v, i) => assert.ok(Math.abs(v - want64[i]) < 1e-4, `σ_${i}: ${v} vs φ(σ) = ${want64[i]}`));
      const report = orthogonalityReport(u, input);
      const polar = Math.sqrt(want64.reduce((a, v) => a + (v - 1) ** 2, 0) / k);
      assert.ok(Math.abs(report.polarDistance! - polar) < 1e-4, `distance to polar ${report.polarDistance} vs ${polar} from φ`);
      assert.ok(report.sigmaMin > 0.8 && report.sigmaMax < 1.2, `σ in [${report.sigmaMin}, ${report.sigmaMax}]`);
    });
    opt.dispose();
    w.dispose();
  });

  it('flattens a conv kernel [kh, kw, in, out]: only the selected output channels move (weightDecay 0)', () => {
    const kshape = [3, 3, 4, 8];
    const size = 3 * 3 * 4 * 8;
    const w = tf.variable(tf.tensor(gaussian(size, 80), kshape));
    const w0 = w.dataSync().slice();
    const opt = dion2({ weightDecay: 0 });
    opt.applyGradients([{ name: w.name, tensor: tf.tensor(gaussian(size, 81), kshape) }]);
    const w1 = w.dataSync();
    const moved = new Set<number>();
    for (let i = 0; i < size; i++) if (w1[i] !== w0[i]) moved.add(i % 8);
    assert.equal(moved.size, 2, `output channels moved: ${[...moved].join(', ')}`);
    opt.dispose();
    w.dispose();
  });

  it('rejects invalid options with RangeErrors naming optimizer, option, range and value', () => {
    const bad: [Dion2Options, RegExp][] = [
      [{ fraction: 0 }, /^dion2: fraction must be in \(0, 1\], got 0$/],
      [{ efDecay: 1.5 }, /^dion2: efDecay must be in \[0, 1\], got 1.5$/],
      [{ weightDecay: -0.1 }, /^dion2: weightDecay must be in \[0, inf\), got -0.1$/],
      [{ epsilon: -1 }, /^dion2: epsilon must be in \(0, inf\), got -1$/],
      [{ scaleRule: 'jordan' as 'spectral' }, /^dion2: scaleRule must be one of 'spectral', 'moonlight', 'none', got 'jordan'$/],
      [{ coefficients: 'nope' as 'you' }, /^dion2: coefficients must be one of/],
      [{ adamwBeta1: 1 }, /^dion2: adamwBeta1 must be in \[0, 1\), got 1$/],
    ];
    for (const [o, re] of bad) assert.throws(() => dion2(o), (e: unknown) => e instanceof RangeError && re.test(e.message), JSON.stringify(o));
  });
});

describe('on wasm', () => {
  before(() => useBackend('wasm'));
  after(() => useBackend('cpu'));
  optimizerContract('dion2', () => dion2({ learningRate: 0.05, adamwLearningRate: 0.01, fraction: 0.5, exclude: ['dense_Dense3'] }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('dion2 (no decay, Jordan coefficients, Lion for biases)', () =>
    dion2({ learningRate: 0.05, weightDecay: 0, coefficients: 'jordan', lion: ['bias'], lionLearningRate: 0.003, adamwLearningRate: 0.01 }),
  );
});
