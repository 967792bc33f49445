/**
 * Scion, normalizedSgd and signum (src/optimizers/scion.ts) and the LMOs behind them
 * (src/transforms/lmo.ts). No golden files exist for these methods, so the tests check the spec's
 * properties (muon-family.md §10) against float64 computations written here in PyTorch layout, the way
 * LIONS-EPFL/scion `scion.py` states each norm:
 * - the LMO property ⟨d, lmo(d)⟩ = −‖d‖_* and ‖lmo(d)‖ = 1 for every norm;
 * - the TF.js layout mapping (ColNorm = rows of a Dense kernel, RowNorm = columns, conv flattening and
 *   its k² factor) by comparing with the reference maps evaluated on the PyTorch-layout tensor;
 * - the constrained step keeps ‖x‖ ≤ ρ, and differs from the unconstrained one by exactly −γx;
 * - `auto`'s choice by rank; Scion's momentum (β = 1 − scion.py's α; buffer starts at the first gradient);
 * - option validation, config round trips (groups, RegExps, predicates saved as paramNorms);
 * - the optimizer contract for scion, normalizedSgd and signum (on wasm).
 * Property tests run on the cpu backend.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { gaussian } from '../support/random.js';
import { optimizerContract } from '../support/contract.js';
import { matrix64, polar64, singularValues64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';
import {
  autoNorm,
  lmo,
  lmoBiasRms,
  lmoColNorm,
  lmoFrobenius,
  lmoMatrixShape,
  lmoRowNorm,
  lmoSign,
  lmoSpectral,
  lmoSpectralConv,
  lmoStep,
  type LmoChoice,
  type LmoNorm,
} from '../../src/transforms/lmo.js';
import { scionSettings, type ResolvedScion, type ScionOptions } from '../../src/optimizers/scion.js';
import { normalizedSgd, scion, signum } from '../../src/tfjs/register.js';
import { constant, optimizerFromConfig, type TransformOptimizer } from '../../src/index.js';

await useBackend('cpu');

// ---------------------------------------------------------------------------------------------------
// float64 helpers, PyTorch layout: a TF.js [fanIn, fanOut] matrix is the transpose of torch's [d_out, d_in]
// ---------------------------------------------------------------------------------------------------

/** TF.js tensor data → the PyTorch-layout matrix `[d_out, d_in]` of its `[fanIn, fanOut]` view. */
function torchMatrix(data: ArrayLike<number>, shape: readonly number[]): Matrix64 {
  const [fanIn, fanOut] = lmoMatrixShape(shape);
  return transpose64(matrix64(fanIn, fanOut, data));
}

function rowNorms(m: Matrix64): number[] {
  return Array.from({ length: m.rows }, (_, i) => {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[i * m.cols + j] ** 2;
    return Math.sqrt(s);
  });
}

const colNorms = (m: Matrix64): number[] => rowNorms(transpose64(m));
const sum = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const l2 = (a: ArrayLike<number>): number => Math.sqrt(dot(a, a));
const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

interface Case {
  readonly label: string;
  readonly norm: LmoNorm;
  readonly shape: readonly number[];
  readonly normalized?: boolean;
  readonly max?: boolean;
}

/**
 * scion.py's norms on the PyTorch matrix `p = [d_out, d_in]` (a conv kernel: `[out, in·kh·kw]`): the scale
 * `r` of its ball and its dual norm `‖d‖_*` (what the LMO must attain), and the primal norm. Written from
 * scion.py's maps: ColNorm normalizes COLUMNS of p to ℓ2 norm √d_out (/d_in if normalized), RowNorm ROWS
 * to 1 (/√d_in), Sign entries to 1 (/d_in), Spectral singular values to √(d_out/d_in) (√d_out; max(1,·)),
 * SpectralConv to √(out/in)/k².
 */
function torchNorm(c: Case, shape: readonly number[]): { dual: (p: Matrix64) => number; primal: (p: Matrix64) => number } {
  const normalized = c.normalized;
  switch (c.norm) {
    case 'colNorm': {
      const norm = (p: Matrix64) => Math.sqrt(p.rows) / (normalized ? p.cols : 1);
      return { dual: (p) => norm(p) * sum(colNorms(p)), primal: (p) => Math.max(...colNorms(p)) / norm(p) };
    }
    case 'rowNorm': {
      const norm = (p: Matrix64) => (normalized ? 1 / Math.sqrt(p.cols) : 1);
      return { dual: (p) => norm(p) * sum(rowNorms(p)), primal: (p) => Math.max(...rowNorms(p)) / norm(p) };
    }
    case 'sign': {
      const norm = (p: Matrix64) => (normalized ? 1 / p.cols : 1);
      return { dual: (p) => norm(p) * sum(p.data.map(Math.abs)), primal: (p) => maxAbs(p.data) / norm(p) };
    }
    case 'biasRms': // on vectors: RMS ball
      return { dual: (p) => Math.sqrt(p.data.length) * l2(p.data), primal: (p) => l2(p.data) / Math.sqrt(p.data.length) };
    case 'frobenius':
      return { dual: (p) => l2(p.data), primal: (p) => l2(p.data) };
    case 'spectral': {
      const norm = (p: Matrix64) => {
        const s = normalized ? Math.sqrt(p.rows / p.cols) : Math.sqrt(p.rows);
        return c.max ? Math.max(1, s) : s;
      };
      return { dual: (p) => norm(p) * sum(singularValues64(p)), primal: (p) => singularValues64(p)[0] / norm(p) };
    }
    case 'spectralConv': {
      // torch [out, in, k, k]: scale √(out/in)/k²
      const [kh, kw, cin, cout] = shape;
      assert.equal(kh, kw);
      const s = Math.sqrt(cout / cin) / kh ** 2;
      return { dual: (p) => s * sum(singularValues64(p)), primal: (p) => singularValues64(p)[0] / s };
    }
  }
}

/** TF.js conv kernel `[kh, kw, in, out]` data → PyTorch `[out, in·kh·kw]` (permutation (3, 2, 0, 1)). */
function torchConvMatrix(data: ArrayLike<number>, shape: readonly number[]): Matrix64 {
  const [kh, kw, cin, cout] = shape;
  const out = new Float64Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) {
          out[o * cin * kh * kw + i * kh * kw + y * kw + x] = data[((y * kw + x) * cin + i) * cout + o];
        }
  return matrix64(cout, cin * kh * kw, out);
}

function torchView(data: ArrayLike<number>, c: Case): Matrix64 {
  return c.shape.length === 4 ? torchConvMatrix(data, c.shape) : torchMatrix(data, c.shape);
}

const PE8 = { coefficients: 'polarExpress8' as const };

function lmoOf(c: Case, d: tf.Tensor): tf.Tensor {
  switch (c.norm) {
    case 'spectral':
      return lmoSpectral(d, { ns: PE8, normalized: c.normalized, max: c.max });
    case 'spectralConv':
      return lmoSpectralConv(d, { ns: PE8 });
    case 'colNorm':
      return lmoColNorm(d, { normalized: c.normalized });
    case 'rowNorm':
      return lmoRowNorm(d, { normalized: c.normalized });
    case 'sign':
      return lmoSign(d, { normalized: c.normalized });
    case 'biasRms':
      return lmoBiasRms(d);
    case 'frobenius':
      return lmoFrobenius(d);
  }
}

const CASES: Case[] = [
  { label: 'spectral [12, 20] (wide kernel, torch tall)', norm: 'spectral', shape: [12, 20], normalized: true },
  { label: 'spectral [20, 12]', norm: 'spectral', shape: [20, 12], normalized: true },
  { label: 'spectral [12, 20], normalized false (√fanOut)', norm: 'spectral', shape: [12, 20], normalized: false },
  { label: 'spectral [20, 12], max (√(12/20) → 1)', norm: 'spectral', shape: [20, 12], normalized: true, max: true },
  { label: 'spectral [12, 20], max (√(20/12) kept)', norm: 'spectral', shape: [12, 20], normalized: true, max: true },
  { label: 'spectralConv [3, 3, 4, 6]', norm: 'spectralConv', shape: [3, 3, 4, 6] },
  { label: 'colNorm [12, 20]', norm: 'colNorm', shape: [12, 20], normalized: false },
  { label: 'colNorm [12, 20], normalized', norm: 'colNorm', shape: [12, 20], normalized: true },
  { label: 'rowNorm [12, 20]', norm: 'rowNorm', shape: [12, 20], normalized: true },
  { label: 'rowNorm [20, 12], normalized false', norm: 'rowNorm', shape: [20, 12], normalized: false },
  { label: 'sign [12, 20]', norm: 'sign', shape: [12, 20], normalized: true },
  { label: 'sign [20, 12], normalized false', norm: 'sign', shape: [20, 12], normalized: false },
  { label: 'biasRms [7]', norm: 'biasRms', shape: [7] },
  { label: 'frobenius [12, 20]', norm: 'frobenius', shape: [12, 20] },
  { label: 'frobenius [3, 3, 4, 6]', norm: 'frobenius', shape: [3, 3, 4, 6] },
];

/**
 * Tolerances, from measurements on these inputs (cpu backend). Element-wise LMOs: float32 rounding of the
 * output and of the row / column / total sums; measured ≤ 1.0e-7 relative in ⟨d, lmo⟩ and in ‖lmo‖.
 * Spectral LMOs run 8 Polar Express steps in float32: the float64 composite maps σ/(1.01‖d‖_F) ∈ [1e-3, 1]
 * to 1 far below float32 resolution (spec §2.7), and the float32 result measured ≤ 1.5e-7 relative
 * (⟨d, lmo⟩, σ_max) and ≤ 1.6e-7 of the scale from −s·polar(d). 1e-6 leaves a ≥ 6× margin.
 */
const TOL = { exact: 1e-6, spectral: 1e-6 };
const tolOf = (c: Case): number => (c.norm === 'spectral' || c.norm === 'spectralConv' ? TOL.spectral : TOL.exact);

describe('LMOs: ⟨d, lmo(d)⟩ = −‖d‖_* and ‖lmo(d)‖ = 1 (float64 check, PyTorch layout)', () => {
  CASES.forEach((c, k) => {
    it(c.label, () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const data = gaussian(n, 100 + k);
      const d = tf.tensor(data, [...c.shape]);
      const s = lmoOf(c, d);
      assert.deepEqual(s.shape, c.shape);
      const out = s.dataSync();
      const { dual, primal } = torchNorm(c, c.shape);
      const dualNorm = dual(torchView(data, c));
      const inner = dot(data, out);
      const rel = Math.abs(inner + dualNorm) / dualNorm;
      assert.ok(rel <= tolOf(c), `⟨d, lmo⟩ = ${inner}, −‖d‖_* = ${-dualNorm} (rel ${rel.toExponential(2)})`);
      const p = primal(torchView(out, c));
      assert.ok(Math.abs(p - 1) <= tolOf(c), `‖lmo(d)‖ = ${p}`);
      tf.dispose([d, s]);
    });
  });

  it('spectral is the scaled polar factor: matches −s·polar(d) of the torch matrix (incl. the conv flattening)', () => {
    for (const [shape, seed] of [[[12, 20], 1], [[3, 3, 4, 6], 2], [[2, 2, 6, 3], 3]] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = gaussian(n, 300 + seed);
      const d = tf.tensor(data, [...shape]);
      const conv = shape.length === 4;
      const got = (conv ? lmoSpectralConv(d, { ns: PE8 }) : lmoSpectral(d, { ns: PE8 })).dataSync();
      const p = conv ? torchConvMatrix(data, shape) : torchMatrix(data, shape);
      // scion.py: Spectral √(d_out/d_in); SpectralConv √(out/in)/k² with (out, in) the channel counts
      const scale = conv ? Math.sqrt(shape[3] / shape[2]) / shape[0] ** 2 : Math.sqrt(p.rows / p.cols);
      const want = polar64(p);
      const back = conv ? torchConvMatrix(got, shape) : torchMatrix(got, shape);
      let err = 0;
      for (let i = 0; i < want.data.length; i++) err = Math.max(err, Math.abs(back.data[i] + scale * want.data[i]));
      assert.ok(err <= TOL.spectral * scale, `shape [${shape.join(', ')}]: max |lmo + s·polar| = ${err}`);
      d.dispose();
    }
  });

  it("with Jordan's 5 steps (scion.py's default) the spectral LMO is only approximate: σ ∈ [0.68, 1.21]", () => {
    const data = gaussian(12 * 20, 9);
    const d = tf.tensor2d(data, [12, 20]);
    const s = lmoSpectral(d); // Jordan ×5
    const scale = Math.sqrt(20 / 12);
    const sv = singularValues64(matrix64(12, 20, s.dataSync())).map((v) => v / scale);
    // spec §12.3: the band after 5 steps is [0.4705, 1.2024] for σ ≥ 1e-3, [0.6818, 1.1344] for σ ≥ 1e-2
    assert.ok(sv[0] <= 1.2024 && sv[sv.length - 1] >= 0.47, `σ ∈ [${sv[sv.length - 1]}, ${sv[0]}]`);
    assert.ok(sv[0] - sv[sv.length - 1] > 0.05, 'Jordan NS gave an exact polar factor?');
    const ratio = -dot(data, s.dataSync()) / (scale * sum(singularValues64(matrix64(12, 20, data))));
    assert.ok(ratio > 0.68 && ratio < 1.21 && Math.abs(ratio - 1) > 1e-4, `⟨d, lmo⟩ / −‖d‖_* = ${ratio}`);
    tf.dispose([d, s]);
  });

  it('colNorm / rowNorm / biasRms / sign match scion.py evaluated on the torch layout, element by element', () => {
    const shape = [5, 9]; // TF.js [fanIn 5, fanOut 9] = torch [9, 5]
    const data = gaussian(45, 7);
    const p = torchMatrix(data, shape);
    const [dOut, dIn] = [p.rows, p.cols];
    const eps = 1e-8;
    const ref = {
      // ColNorm: column / (‖column‖/√d_out · d_in? + eps)
      colNorm: (normalized: boolean) => {
        const cn = colNorms(p);
        return p.data.map((v, idx) => v / ((cn[idx % dIn] / Math.sqrt(dOut)) * (normalized ? dIn : 1) + eps));
      },
      // RowNorm: row / (‖row‖ · √d_in? + eps)
      rowNorm: (normalized: boolean) => {
        const rn = rowNorms(p);
        return p.data.map((v, idx) => v / (rn[Math.floor(idx / dIn)] * (normalized ? Math.sqrt(dIn) : 1) + eps));
      },
      // BiasRMS: g / (RMS over dim 0 + eps)
      biasRms: () => {
        const cn = colNorms(p);
        return p.data.map((v, idx) => v / (cn[idx % dIn] / Math.sqrt(dOut) + eps));
      },
      sign: (normalized: boolean) => p.data.map((v) => Math.sign(v) * (normalized ? 1 / dIn : 1)),
    };
    const d = tf.tensor2d(data, [5, 9]);
    const check = (name: string, got: tf.Tensor, want: Float64Array) => {
      const back = torchMatrix(got.dataSync(), shape);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(back.data[i] + want[i]) <= 1e-6 * maxAbs(want), `${name}: entry ${i}: ${back.data[i]} vs ${-want[i]}`);
      }
      got.dispose();
    };
    for (const normalized of [false, true]) {
      check(`colNorm ${normalized}`, lmoColNorm(d, { normalized }), ref.colNorm(normalized));
      check(`rowNorm ${normalized}`, lmoRowNorm(d, { normalized }), ref.rowNorm(normalized));
      check(`sign ${normalized}`, lmoSign(d, { normalized }), ref.sign(normalized));
    }
    check('biasRms (matrix)', lmoBiasRms(d), ref.biasRms());
    d.dispose();
  });

  it('a zero direction gives a zero LMO, never NaN', () => {
    for (const norm of ['spectral', 'colNorm', 'rowNorm', 'sign', 'biasRms', 'frobenius'] as const) {
      const z = tf.zeros([4, 6]);
      const s = lmo(z, { norm });
      assert.ok(s.dataSync().every((v) => v === 0), norm);
      tf.dispose([z, s]);
    }
  });

  it('lmoSpectralConv rejects a matrix', () => {
    const m = tf.zeros([4, 6]);
    assert.throws(() => lmoSpectralConv(m), /rank-3 or rank-4 kernel, got shape \[4, 6\]/);
    m.dispose();
  });
});

describe('auto', () => {
  it('picks spectralConv for rank 4 and 3, spectral for rank 2, biasRms for rank ≤ 1', () => {
    assert.equal(autoNorm([3, 3, 4, 6]), 'spectralConv');
    assert.equal(autoNorm([3, 4, 6]), 'spectralConv');
    assert.equal(autoNorm([4, 6]), 'spectral');
    assert.equal(autoNorm([6]), 'biasRms');
    assert.equal(autoNorm([]), 'biasRms');
  });

  it('scion with norm auto steps each parameter along the LMO auto picked', () => {
    const shapes = [[4, 6], [6], [3, 3, 2, 4], [3, 2, 5], []];
    const vars = shapes.map((s, i) => tf.variable(tf.zeros(s), true, `auto${i}/w`));
    const grads = shapes.map((s, i) => tf.tensor(gaussian(Math.max(1, s.reduce((a, b) => a * b, 1)), 40 + i), s));
    const [gamma, rho] = [0.25, 3];
    const opt = scion({ learningRate: gamma, radius: rho, momentum: 0, constrained: false });
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    const want = [lmoSpectral(grads[0]), lmoBiasRms(grads[1]), lmoSpectralConv(grads[2]), lmoSpectralConv(grads[3]), lmoBiasRms(grads[4])];
    vars.forEach((v, i) => {
      const w = want[i].dataSync();
      const got = v.dataSync();
      for (let j = 0; j < w.length; j++) assert.ok(Math.abs(got[j] - gamma * rho * w[j]) <= 1e-6 * (1 + Math.abs(w[j])), `${shapes[i].join('x')}[${j}]`);
    });
    tf.dispose([...vars, ...grads, ...want]);
    opt.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------
// Constrained vs unconstrained steps
// ---------------------------------------------------------------------------------------------------

/** Primal norm of a TF.js-layout tensor for a case (TF.js-layout formulas: rows = input features). */
function primalTf(c: Case, data: ArrayLike<number>): number {
  const [fanIn, fanOut] = lmoMatrixShape(c.shape);
  const m = matrix64(fanIn, fanOut, data);
  switch (c.norm) {
    case 'colNorm':
      return Math.max(...rowNorms(m)) / (Math.sqrt(fanOut) / (c.normalized ? fanIn : 1));
    case 'rowNorm':
      return Math.max(...colNorms(m)) / (c.normalized ? 1 / Math.sqrt(fanIn) : 1);
    case 'sign':
      return maxAbs(data) / (c.normalized ? 1 / fanIn : 1);
    case 'biasRms':
      return l2(data) / Math.sqrt(data.length);
    case 'frobenius':
      return l2(data);
    case 'spectral': {
      const s = c.normalized ? Math.sqrt(fanOut / fanIn) : Math.sqrt(fanOut);
      return singularValues64(m)[0] / (c.max ? Math.max(1, s) : s);
    }
    case 'spectralConv': {
      const [k1, k2, cin, cout] = c.shape;
      return singularValues64(m)[0] / (Math.sqrt(cout / cin) / (k1 * k2));
    }
  }
}

function runSteps(
  c: Case,
  options: ScionOptions,
  steps: number,
  seed: number,
  x0: Float32Array,
  onStep: (x: Float32Array, t: number) => void,
): void {
  const v = tf.variable(tf.tensor(x0, [...c.shape]), true, `ball${seed}/${c.norm}`);
  const opt = scion({ norm: c.norm, normalized: c.normalized, max: c.max, coefficients: 'polarExpress8', ...options });
  const n = x0.length;
  const drift = gaussian(n, seed); // a persistent direction, so the iterate is pushed to the boundary
  for (let t = 0; t < steps; t++) {
    const noise = gaussian(n, seed * 1000 + t);
    const g = tf.tensor(drift.map((a, i) => a + 0.5 * noise[i]), [...c.shape]);
    opt.applyGradients([{ name: v.name, tensor: g }]);
    g.dispose();
    onStep(v.dataSync() as Float32Array, t);
  }
  opt.dispose();
  v.dispose();
}

describe('constrained Scion stays in the radius-ρ ball', () => {
  const BALL: Case[] = [
    { label: 'sign (ℓ∞), normalized false: max|x| ≤ ρ exactly', norm: 'sign', shape: [6, 10], normalized: false },
    { label: 'sign, normalized (1/fanIn)', norm: 'sign', shape: [6, 10], normalized: true },
    { label: 'colNorm', norm: 'colNorm', shape: [6, 10], normalized: false },
    { label: 'rowNorm', norm: 'rowNorm', shape: [6, 10], normalized: true },
    { label: 'biasRms', norm: 'biasRms', shape: [10] },
    { label: 'frobenius', norm: 'frobenius', shape: [6, 10] },
    { label: 'spectral (Polar Express 8)', norm: 'spectral', shape: [6, 10], normalized: true },
    { label: 'spectralConv (Polar Express 8)', norm: 'spectralConv', shape: [3, 3, 2, 4] },
  ];
  BALL.forEach((c, k) => {
    it(c.label, () => {
      const rho = 2;
      const n = c.shape.reduce((a, b) => a * b, 1);
      // start strictly inside: half the radius
      const raw = gaussian(n, 500 + k);
      const scale = (0.5 * rho) / primalTf(c, raw);
      const x0 = raw.map((v) => v * scale);
      // exact for the sign ball (the update rounds to a convex combination of ±ρ and x); the others pick
      // up float32 rounding of the norms (TOL.exact) or of Polar Express's singular values (TOL.spectral).
      const slack = c.norm === 'sign' && !c.normalized ? 0 : tolOf(c);
      let last = 0;
      runSteps(c, { learningRate: 0.2, radius: rho, momentum: 0.5 }, 40, 60 + k, x0, (x, t) => {
        last = primalTf(c, x);
        assert.ok(last <= rho * (1 + slack), `step ${t}: ‖x‖ = ${last} > ρ = ${rho}`);
      });
      // the constraint is active: the iterate reached the boundary region
      assert.ok(last > 0.8 * rho, `‖x‖ = ${last} stayed far inside`);
      // and unconstrained steps of the same size leave the ball
      let free = 0;
      runSteps(c, { learningRate: 0.2, radius: rho, momentum: 0.5, constrained: false }, 40, 60 + k, x0, (x) => {
        free = primalTf(c, x);
      });
      assert.ok(free > 2 * rho, `unconstrained ‖x‖ = ${free}`);
    });
  });

  it('constrained and unconstrained differ by exactly −γx per step', () => {
    for (const c of [CASES[0], CASES[6], CASES[10], CASES[12]]) {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const x0 = gaussian(n, 77);
      const g = gaussian(n, 78);
      const gamma = 0.3;
      const after = (constrained: boolean) => {
        const v = tf.variable(tf.tensor(x0, [...c.shape]), true, `diff${constrained}/${c.norm}`);
        const opt = scion({ norm: c.norm, normalized: c.normalized, learningRate: gamma, radius: 1.5, constrained });
        const gt = tf.tensor(g, [...c.shape]);
        opt.applyGradients([{ name: v.name, tensor: gt }]);
        const out = v.dataSync().slice();
        tf.dispose([v, gt]);
        opt.dispose();
        return out;
      };
      const [xc, xu] = [after(true), after(false)];
      for (let i = 0; i < n; i++) {
        const want = xu[i] - gamma * x0[i];
        const ulp = 2 ** -23 * Math.max(Math.abs(x0[i]), Math.abs(xu[i]));
        assert.ok(Math.abs(xc[i] - want) <= 4 * ulp, `${c.label}[${i}]: ${xc[i]} vs ${want}`);
      }
      // and the difference is not zero: the decay really acts
      assert.ok(Math.abs(xc[0] - xu[0]) > 0.1 * Math.abs(gamma * x0[0]));
    }
  });

  it('lmoStep: the constrained update is the unconstrained one minus γ·x, as transforms', () => {
    const x = tf.tensor1d([1, -2, 4]);
    const u = tf.tensor1d([0.5, 0.5, -1]);
    const ctx = { step: 0, params: [x], metas: [{ name: 'x', shape: [3] }] };
    const run = (constrained: boolean) => {
      const t = lmoStep({ learningRate: constant(0.25), constrained });
      return t.update([u], t.init(ctx.metas), ctx).updates[0].dataSync();
    };
    // x = (1−γ)x + γρ·lmo: −γu − γx
    assert.deepEqual(Array.from(run(false)), [-0.125, -0.125, 0.25]);
    assert.deepEqual(Array.from(run(true)), [-0.375, 0.375, -0.75]);
    tf.dispose([x, u]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Momentum, recipes
// ---------------------------------------------------------------------------------------------------

describe('momentum and the recipes as LMO chains', () => {
  it("scion's momentum is β (= 1 − scion.py's α) and its buffer starts as the first gradient: d₂ = βg₁ + (1−β)g₂", () => {
    const [g1, g2] = [gaussian(24, 1), gaussian(24, 2)];
    const v = tf.variable(tf.zeros([4, 6]), true, 'mom/w');
    const opt = scion({ norm: 'sign', normalized: false, momentum: 0.9, learningRate: 0.5, constrained: false });
    const before = () => v.dataSync().slice();
    const step = (g: Float32Array) => {
      const t = tf.tensor2d(g, [4, 6]);
      opt.applyGradients([{ name: v.name, tensor: t }]);
      t.dispose();
    };
    step(g1);
    const x1 = before();
    x1.forEach((x, i) => assert.equal(x, -0.5 * Math.sign(g1[i])));
    step(g2);
    const x2 = v.dataSync();
    let differsFromZeroInit = 0;
    for (let i = 0; i < 24; i++) {
      const d = 0.9 * g1[i] + 0.1 * g2[i];
      assert.equal(x2[i] - x1[i], -0.5 * Math.sign(d), `entry ${i}`);
      if (Math.sign(d) !== Math.sign(0.09 * g1[i] + 0.1 * g2[i])) differsFromZeroInit++;
    }
    assert.ok(differsFromZeroInit > 0, 'the test data cannot tell the two initialisations apart');
    opt.dispose();
    v.dispose();
  });

  it('signum: m ← βm + (1−β)g (zero start, MXNet), x ← x − γ·sign(m)', () => {
    const [g1, g2] = [gaussian(12, 3), gaussian(12, 4)];
    const v = tf.variable(tf.zeros([12]), true, 'signum/w');
    const opt = signum({ learningRate: 0.25, momentum: 0.9 });
    for (const g of [g1, g2]) {
      const t = tf.tensor1d(g);
      opt.applyGradients([{ name: v.name, tensor: t }]);
      t.dispose();
    }
    const x = v.dataSync();
    for (let i = 0; i < 12; i++) {
      const m1 = 0.1 * g1[i];
      const m2 = 0.9 * m1 + 0.1 * g2[i];
      assert.equal(x[i], -0.25 * Math.sign(m1) - 0.25 * Math.sign(m2));
    }
    opt.dispose();
    v.dispose();
  });

  it('normalizedSgd: x ← x − γρ·m/‖m‖_F per tensor', () => {
    const shapes = [[4, 6], [6]];
    const vars = shapes.map((s, i) => tf.variable(tf.zeros(s), true, `nsgd${i}/w`));
    const gs = [[gaussian(24, 5), gaussian(6, 6)], [gaussian(24, 7), gaussian(6, 8)]];
    const opt = normalizedSgd({ learningRate: 0.1, radius: 2, momentum: 0.5 });
    for (const g of gs) {
      const ts = g.map((d, i) => tf.tensor(d, shapes[i]));
      opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: ts[i] })));
      tf.dispose(ts);
    }
    vars.forEach((v, i) => {
      const m1 = Array.from(gs[0][i], (g) => 0.5 * g);
      const m2 = m1.map((m, j) => 0.5 * m + 0.5 * gs[1][i][j]);
      const x = v.dataSync();
      const [n1, n2] = [l2(m1), l2(m2)];
      for (let j = 0; j < x.length; j++) {
        const want = -0.2 * (m1[j] / n1 + m2[j] / n2);
        assert.ok(Math.abs(x[j] - want) <= 1e-6, `${i}[${j}]: ${x[j]} vs ${want}`);
      }
    });
    opt.dispose();
    tf.dispose(vars);
  });
});

// ---------------------------------------------------------------------------------------------------
// Options and configs
// ---------------------------------------------------------------------------------------------------

describe('options', () => {
  it('rejects bad options with RangeErrors naming optimizer, option, range and value', () => {
    const cases: [() => unknown, string][] = [
      [() => scion({ momentum: 1 }), 'scion: momentum must be in [0, 1), got 1'],
      [() => scion({ momentum: -0.5 }), 'scion: momentum must be in [0, 1), got -0.5'],
      [() => scion({ learningRate: 1.5 }), 'scion: learningRate must be at most 1 with constrained: true (the step (1 − learningRate)·x + learningRate·radius·lmo is a convex combination only for learningRate in [0, 1]), got 1.5'],
      [() => scion({ radius: 0 }), 'scion: radius must be in (0, inf), got 0'],
      [() => scion({ norm: 'spectral_conv' as LmoChoice }), "scion: norm must be one of 'auto', 'spectral', 'spectralConv'"],
      [() => scion({ norm: 'biasRms', normalized: true }), "scion: normalized applies to the norms 'spectral', 'colNorm', 'rowNorm', 'sign' and 'auto', not 'biasRms'"],
      [() => scion({ groups: [{ match: ['x'], norm: 'colNorm', max: true }] }), "scion: groups[0].max applies to the 'spectral' norm (and 'auto'), not 'colNorm'"],
      [() => scion({ groups: [{ match: 'x' as unknown as string[] }] }), 'scion: groups[0].match must be a list of strings / RegExps'],
      [() => scion({ groups: [{ match: [], radius: -1 }] }), 'scion: groups[0].radius must be in (0, inf), got -1'],
      [() => scion({ paramNorms: [{ norm: 'auto' as LmoNorm, radius: 1, normalized: true, max: false }] }), "scion: paramNorms[0].norm must be one of 'spectral'"],
      [() => scion({ nsSteps: -1 }), 'scion: nsSteps must be an integer in [0, 100], got -1'],
      [() => signum({ momentum: 1 }), 'signum: momentum must be in [0, 1), got 1'],
      [() => signum({ constrained: true, learningRate: 2 }), 'signum: learningRate must be at most 1 with constrained: true (the step (1 − learningRate)·x + learningRate·radius·lmo is a convex combination only for learningRate in [0, 1]), got 2'],
      [() => normalizedSgd({ radius: -2 }), 'normalizedSgd: radius must be in (0, inf), got -2'],
      [() => normalizedSgd({ beta: 0.9 } as object), "normalizedSgd: unknown option 'beta'"],
    ];
    for (const [make, message] of cases) {
      assert.throws(make, (e: unknown) => e instanceof RangeError && e.message.startsWith(message), message);
    }
    // an unconstrained Scion takes any non-negative step size
    scion({ learningRate: 1.5, constrained: false }).dispose();
  });

  it('spectralConv on a matrix fails at the first step, naming the parameter', () => {
    const v = tf.variable(tf.zeros([4, 6]), true, 'convOnMatrix/kernel');
    const opt = scion({ norm: 'spectralConv' });
    const g = tf.ones([4, 6]);
    assert.throws(() => opt.applyGradients([{ name: v.name, tensor: g }]), /'convOnMatrix\/kernel' has shape \[4, 6\]; the 'spectralConv' norm needs/);
    tf.dispose([v, g]);
    opt.dispose();
  });
});

describe('per-layer geometry and configs', () => {
  const metas = [
    { name: 'dense_Dense1/kernel', shape: [8, 32] },
    { name: 'dense_Dense1/bias', shape: [32] },
    { name: 'dense_Dense3/kernel', shape: [32, 3] },
    { name: 'conv2d_Conv2D1/kernel', shape: [3, 3, 4, 8] },
  ];
  const settingsOf = (o: TransformOptimizer) => metas.map((m, i) => scionSettings(o.resolved as ResolvedScion, m, i));

  it('groups: first match wins, unset fields fall back to the defaults, flags to the norm defaults', () => {
    const opt = scion({
      radius: 8,
      groups: [
        { match: [/Dense3\/kernel$/], norm: 'sign', radius: 128 },
        { match: ['Dense1/kernel'], norm: 'spectral', max: true },
        { match: ['Dense'], norm: 'colNorm' },
      ],
    });
    assert.deepEqual(settingsOf(opt), [
      { norm: 'spectral', radius: 8, normalized: true, max: true },
      { norm: 'colNorm', radius: 8, normalized: false, max: false },
      { norm: 'sign', radius: 128, normalized: true, max: false },
      { norm: 'spectralConv', radius: 8, normalized: false, max: false },
    ]);
    opt.dispose();
  });

  it('the config survives JSON and fromConfig, RegExps included', () => {
    const opt = scion({
      learningRate: 2 ** -6,
      momentum: 0.5,
      norm: 'spectral',
      normalized: false,
      groups: [{ match: [/Dense3\/kernel$/i, 'bias'], norm: 'sign', normalized: true, radius: 1024 }],
      coefficients: 'polarExpress5',
      nsSteps: 6,
    });
    const config = JSON.parse(JSON.stringify(opt.getConfig())) as object;
    const again = optimizerFromConfig('scion', config);
    assert.deepEqual(again.getConfig(), opt.getConfig());
    assert.deepEqual(settingsOf(again), settingsOf(opt));
    const r = again.resolved as { groups: { match: unknown[] }[] };
    assert.ok(r.groups[0].match[0] instanceof RegExp);
    [opt, again].forEach((o) => o.dispose());
  });

  it('a normFor predicate is saved as paramNorms once the parameters are known, and reloads to the same steps', () => {
    const make = (o: ScionOptions) => scion({ learningRate: 0.1, ...o });
    const opt = make({ normFor: (m) => (m.shape.length === 2 && m.shape[1] === 3 ? { norm: 'sign', radius: 16 } : undefined) });
    const shapes = [[5, 7], [7], [7, 3]];
    const run = (o: TransformOptimizer, tag: string) => {
      const vars = shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), i), s), true, `${tag}${i}/w`));
      for (let t = 0; t < 2; t++) {
        const gs = shapes.map((s, i) => tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), 50 + 10 * t + i), s));
        o.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: gs[i] })));
        tf.dispose(gs);
      }
      const out = vars.map((v) => v.dataSync().slice());
      tf.dispose(vars);
      return out;
    };
    const a = run(opt, 'pred');
    const config = opt.getConfig() as { paramNorms: unknown };
    assert.deepEqual(config.paramNorms, [
      { norm: 'spectral', radius: 1, normalized: true, max: false },
      { norm: 'biasRms', radius: 1, normalized: false, max: false },
      { norm: 'sign', radius: 16, normalized: true, max: false },
    ]);
    const again = optimizerFromConfig('scion', JSON.parse(JSON.stringify(config)) as object);
    assert.deepEqual(again.getConfig(), opt.getConfig());
    const b = run(again, 'reloaded');
    assert.deepEqual(b, a);
    [opt, again].forEach((o) => o.dispose());
  });
});

// ---------------------------------------------------------------------------------------------------
// The optimizer contract, on wasm
// ---------------------------------------------------------------------------------------------------

describe('on wasm', () => {
  before(async () => {
    await useBackend('wasm');
  });
  optimizerContract('scion (auto, constrained)', () => scion({ learningRate: 0.02, radius: 4 }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('scion (unconstrained, rowNorm, biases by RegExp group)', () =>
    scion({
      learningRate: 0.05,
      constrained: false,
      momentum: 0.5,
      norm: 'rowNorm',
      groups: [{ match: [/\/bias/], norm: 'biasRms', radius: 0.5 }],
    }),
  );
  optimizerContract('normalizedSgd', () => normalizedSgd({ learningRate: 0.2 }));
  optimizerContract('signum', () => signum({ learningRate: 0.01 }));
  optimizerContract('signum (constrained)', () => signum({ learningRate: 0.05, radius: 2, constrained: true }), {
    zeroGradientKeepsWeights: false,
  });
});
