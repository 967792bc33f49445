/**
 * src/transforms/lmo.ts in TensorFlow.js layout: the shape helpers (lmoMatrixShape, autoNorm,
 * defaultNormalized, the spectral scales), every oracle against its float64 formula on the `[fanIn,
 * fanOut]` matrix with the duality checks ⟨d, lmo(d)⟩ = −‖d‖_* and ‖lmo(d)‖ = radius, the spectral ones
 * against a float64 Newton–Schulz, lmoDirection (−ρ·lmo per parameter, settings asked once, shape
 * check) and lmoStep (unconstrained and Frank–Wolfe) by hand.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, runTransform, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import {
  autoNorm,
  checkLmoShape,
  defaultNormalized,
  lmo,
  lmoBiasRms,
  lmoColNorm,
  lmoDirection,
  lmoFrobenius,
  lmoMatrixShape,
  lmoRowNorm,
  lmoSign,
  lmoSpectral,
  lmoSpectralConv,
  lmoStep,
  resolveLmoChoice,
  spectralConvScale,
  spectralScale,
  type LmoSettings,
} from '../../src/transforms/lmo.js';
import { resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { matrix64, newtonSchulz64 } from '../../src/linalg/reference.js';
import { constant } from '../../src/schedules/index.js';

const JORDAN: [number, number, number][] = Array.from({ length: 5 }, () => [3.4445, -4.775, 2.0315]);
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

/** Rows of the row-major [rows, cols] matrix. */
function rowsOf(x: ArrayLike<number>, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => x[i * cols + j]));
}
const l2 = (v: number[]): number => Math.hypot(...v);

describe('lmo shape helpers', () => {
  it('lmoMatrixShape: conv → [kh·kw·in, out], vector [n] → [1, n], scalar → [1, 1]', () => {
    assert.deepEqual(lmoMatrixShape([3, 3, 4, 8]), [36, 8]);
    assert.deepEqual(lmoMatrixShape([5, 4, 8]), [20, 8]);
    assert.deepEqual(lmoMatrixShape([6, 2]), [6, 2]);
    assert.deepEqual(lmoMatrixShape([7]), [1, 7]);
    assert.deepEqual(lmoMatrixShape([]), [1, 1]);
  });

  it('autoNorm by rank, resolveLmoChoice, defaultNormalized per Scion class', () => {
    assert.deepEqual([[], [4], [2, 3], [3, 2, 4], [3, 3, 2, 4], [2, 2, 2, 2, 2]].map(autoNorm), [
      'biasRms', 'biasRms', 'spectral', 'spectralConv', 'spectralConv', 'spectral',
    ]);
    assert.equal(resolveLmoChoice('auto', [3, 3, 1, 2]), 'spectralConv');
    assert.equal(resolveLmoChoice('sign', [3, 3, 1, 2]), 'sign');
    assert.deepEqual(
      (['spectral', 'spectralConv', 'colNorm', 'rowNorm', 'sign', 'biasRms', 'frobenius'] as const).map(defaultNormalized),
      [true, false, false, true, true, false, false],
    );
  });

  it('spectralScale √(fanOut/fanIn) (normalized), √fanOut, max(1, ·); spectralConvScale √(out/in)/k² or /k', () => {
    assert.equal(spectralScale([64, 16]), 0.5);
    assert.equal(spectralScale([64, 16], false), 4);
    assert.equal(spectralScale([64, 16], true, true), 1);
    assert.equal(spectralScale([16, 64], true, true), 2);
    assert.equal(spectralScale([9]), 3); // [1, 9]
    assert.equal(spectralConvScale([3, 3, 4, 16]), 2 / 9);
    assert.equal(spectralConvScale([5, 9, 4]), Math.sqrt(4 / 9) / 5);
    assert.throws(() => spectralConvScale([4, 4]), RangeError);
  });

  it("checkLmoShape: 'spectralConv' needs rank 3 or 4, naming the owner and parameter", () => {
    assert.throws(() => checkLmoShape('spectralConv', { name: 'dense/kernel', shape: [4, 4] }, 'scion'), /scion: parameter 'dense\/kernel' has shape \[4, 4\]; the 'spectralConv' norm needs a conv kernel/);
    checkLmoShape('spectralConv', { name: 'c', shape: [3, 3, 1, 2] });
    checkLmoShape('spectral', { name: 'd', shape: [4, 4] });
  });
});

describe('the oracles against float64 (TF.js layout)', () => {
  before(() => useBackend('cpu'));
  const shape = [6, 4]; // fanIn 6, fanOut 4
  const d = gaussian(24, 5);
  const R = rowsOf(d, 6, 4);
  const C = Array.from({ length: 4 }, (_, j) => R.map((r) => r[j]));
  const run = (f: (x: tf.Tensor) => tf.Tensor, values: ArrayLike<number> = d, s: number[] = shape): Float32Array => {
    const x = tf.tensor(values, s);
    const y = f(x);
    assert.deepEqual(y.shape, s);
    const out = y.dataSync() as Float32Array;
    tf.dispose([x, y]);
    return out;
  };

  it('colNorm: each ROW (input feature) → −√fanOut·row/‖row‖ (÷ fanIn when normalized); dual √fanOut·Σ‖row‖', () => {
    for (const normalized of [false, true]) {
      const out = run((x) => lmoColNorm(x, { normalized }));
      const r = Math.sqrt(4) / (normalized ? 6 : 1);
      assertClose(out, R.flatMap((row) => row.map((v) => (-r * v) / l2(row))), 1e-5, `normalized ${normalized}`);
      assertClose([dot(d, out)], [-r * R.reduce((s, row) => s + l2(row), 0)], 1e-5, 'dual');
      // every row has norm r: the ℓ1→ℓ2 operator norm of the result is r
      rowsOf(out, 6, 4).forEach((row) => assertClose([l2(row)], [r], 1e-5, 'row norm'));
    }
  });

  it('rowNorm: each COLUMN (output unit) → −col/(√fanIn·‖col‖) (normalized) or −col/‖col‖', () => {
    for (const normalized of [true, false]) {
      const out = run((x) => lmoRowNorm(x, { normalized }));
      const r = normalized ? 1 / Math.sqrt(6) : 1;
      const want = R.flatMap((row) => row.map((v, j) => (-r * v) / l2(C[j])));
      assertClose(out, want, 1e-5, `normalized ${normalized}`);
      assertClose([dot(d, out)], [-r * C.reduce((s, col) => s + l2(col), 0)], 1e-5, 'dual');
    }
  });

  it('sign: −sign(d)/fanIn (normalized, default) or −sign(d); dual ‖d‖₁/fanIn', () => {
    assertClose(run((x) => lmoSign(x)), Array.from(d, (v) => -Math.sign(v) / 6), 1e-7);
    assertClose(run((x) => lmoSign(x, { normalized: false })), Array.from(d, (v) => -Math.sign(v)), 1e-7);
    assertClose([dot(d, run((x) => lmoSign(x)))], [-Array.from(d).reduce((s, v) => s + Math.abs(v), 0) / 6], 1e-5);
  });

  it('biasRms: a vector → −d/RMS(d) (norm √n); a matrix → each row to unit RMS', () => {
    const v = [3, -4, 0, 12];
    const rms = Math.sqrt((9 + 16 + 144) / 4);
    assertClose(run((x) => lmoBiasRms(x), v, [4]), v.map((x) => -x / rms), 1e-6);
    const out = run((x) => lmoBiasRms(x));
    assertClose(out, R.flatMap((row) => row.map((x) => -x / (l2(row) / 2))), 1e-5, 'matrix rows'); // RMS = ‖row‖/√4
  });

  it('frobenius: −d/‖d‖_F on any shape; ⟨d, lmo⟩ = −‖d‖_F', () => {
    const conv = gaussian(2 * 2 * 3 * 2, 9);
    const out = run((x) => lmoFrobenius(x), conv, [2, 2, 3, 2]);
    const n = Math.hypot(...conv);
    assertClose(out, Array.from(conv, (x) => -x / n), 1e-6);
    assertClose([dot(conv, out)], [-n], 1e-5);
  });

  it("spectral: −s·NS₅(d) with s = √(fanOut/fanIn), matching float64 Newton–Schulz; a vector is a [1, n] matrix", () => {
    const ns = { coefficients: JORDAN };
    const want64 = newtonSchulz64(matrix64(6, 4, d), JORDAN).data;
    for (const [normalized, max, s] of [[true, false, Math.sqrt(4 / 6)], [false, false, 2], [true, true, 1]] as const) {
      const out = run((x) => lmoSpectral(x, { ns, normalized, max }));
      assertClose(out, Array.from(want64, (v) => -s * v), 2e-5, `normalized ${normalized} max ${max}`);
    }
    const v = [1, -2, 2];
    const vec64 = newtonSchulz64(matrix64(1, 3, v), JORDAN).data;
    assertClose(run((x) => lmoSpectral(x, { ns }), v, [3]), Array.from(vec64, (x) => -Math.sqrt(3) * x), 2e-5, 'vector');
  });

  it('spectralConv: −√(out/in)/(kh·kw)·NS₅ of the flattened [kh·kw·in, out] kernel; refuses a matrix', () => {
    const shapeC = [2, 2, 3, 2];
    const g = gaussian(size(shapeC), 11);
    const want64 = newtonSchulz64(matrix64(12, 2, g), JORDAN).data;
    const s = Math.sqrt(2 / 3) / 4;
    assertClose(run((x) => lmoSpectralConv(x, { ns: { coefficients: JORDAN } }), g, shapeC), Array.from(want64, (v) => -s * v), 2e-5);
    assert.throws(() => run((x) => lmoSpectralConv(x)), /lmoSpectralConv: need a rank-3 or rank-4 kernel, got shape \[6, 4\]/);
  });

  it("lmo(…, norm) dispatches with the norm's default flag; 'auto' picks by rank", () => {
    assertClose(run((x) => lmo(x, { norm: 'sign' })), run((x) => lmoSign(x, { normalized: true })), 0);
    assertClose(run((x) => lmo(x, { norm: 'colNorm' })), run((x) => lmoColNorm(x, { normalized: false })), 0);
    assertClose(run((x) => lmo(x, { norm: 'auto' }), [3, 4], [2]), [-3 / Math.sqrt(12.5), -4 / Math.sqrt(12.5)], 1e-6);
  });

  it('a zero direction gives a zero LMO (no NaN) for every non-spectral norm', () => {
    const zero = new Float32Array(24);
    for (const f of [lmoColNorm, lmoRowNorm, lmoSign, lmoBiasRms, lmoFrobenius]) {
      assert.ok(run((x) => f(x), zero).every((v) => v === 0), f.name);
    }
  });
});

describe('lmoDirection and lmoStep', () => {
  before(() => useBackend('cpu'));

  it('lmoDirection outputs −ρ·lmo(d) per parameter with its own norm; settings are asked once per parameter list', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [6, 4] }, { name: 'b', shape: [4] }, { name: 'c', shape: [2, 2, 3, 2] }];
    const settings: LmoSettings[] = [
      { norm: 'rowNorm', radius: 3, normalized: true, max: false },
      { norm: 'biasRms', radius: 0.5, normalized: false, max: false },
      { norm: 'frobenius', radius: 2, normalized: false, max: false },
    ];
    let calls = 0;
    const t = lmoDirection((_m, i) => (calls++, settings[i]), resolveNewtonSchulz());
    const grads = metas.map((m, i) => gaussian(size(m.shape), 40 + i));
    const { outs, state } = updatesOver(t, metas, () => grads, 2);
    assert.equal(state, null);
    assert.equal(calls, 3);
    const want = [
      tf.tidy(() => tf.mul(lmoRowNorm(tf.tensor(grads[0], [6, 4]), { normalized: true }), -3).dataSync()),
      tf.tidy(() => tf.mul(lmoBiasRms(tf.tensor(grads[1], [4])), -0.5).dataSync()),
      tf.tidy(() => tf.mul(lmoFrobenius(tf.tensor(grads[2], [2, 2, 3, 2])), -2).dataSync()),
    ];
    for (const o of outs) o.forEach((u, i) => assertClose(u, want[i], 1e-6, metas[i].name));
    // descent: ⟨d, u⟩ = ρ·‖d‖_* > 0; frobenius: ρ‖d‖
    assertClose([dot(grads[2], outs[0][2])], [2 * Math.hypot(...grads[2])], 1e-5);
  });

  it('lmoDirection checks shapes at init, naming the owner', () => {
    const t = lmoDirection(() => ({ norm: 'spectralConv', radius: 1, normalized: false, max: false }), resolveNewtonSchulz(), 'uScion');
    assert.throws(() => t.init([{ name: 'dense/kernel', shape: [3, 3] }]), /uScion: parameter 'dense\/kernel'/);
  });

  it('lmoStep: unconstrained x − γu; constrained x − γ(u + x) = (1−γ)x − γu, for 3 steps by hand', () => {
    const u = [1, -2];
    const x0 = [4, 8];
    for (const constrained of [false, true]) {
      const gamma = 0.25;
      const { history, state } = runTransform(lmoStep({ learningRate: constant(gamma), constrained }), [tf.tensor1d(x0)], () => [tf.tensor1d(u)], 3);
      let x = [...x0];
      history.forEach((h, k) => {
        x = x.map((xi, i) => (constrained ? (1 - gamma) * xi : xi) - gamma * u[i]);
        assertClose(h[0], x, 1e-6, `constrained ${constrained} step ${k}`);
      });
      tf.dispose(tensorsOf(state));
    }
  });
});
