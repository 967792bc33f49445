/**
 * projectWeights (src/linalg/dualCone.ts): `argmin_v vᵀGv s.t. v ≥ u` by projected coordinate descent,
 * against an exact float64 active-set enumeration (the solver the golden generator used instead of
 * quadprog), the KKT conditions of TorchJD's `_utils/test_dual_cone.py` (w ≥ u, Gw ≥ 0,
 * (w − u)ᵀGw = 0), invariance to scaling G, the sweep cap, and the Gramian helpers by hand.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../support/random.js';
import {
  DualConeProjectionError,
  gramian64,
  normalizeGramian,
  projectWeights,
  regularizeGramian,
} from '../../src/linalg/dualCone.js';

/** Solves `a·x = b` (n×n, row-major) by Gaussian elimination with partial pivoting, float64. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
    [x[c], x[p]] = [x[p], x[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let s = x[c];
    for (let k = c + 1; k < n; k++) s -= m[c * n + k] * x[k];
    x[c] = s / m[c * n + c];
  }
  return x;
}

/**
 * The exact minimiser by enumerating active sets: for each set F of free coordinates, v_A = u_A and
 * G_FF v_F = −G_FA u_A; the minimiser is the one candidate with v_F ≥ u_F and multipliers (Gv)_A ≥ 0.
 */
function exactProjection(u: Float64Array, g: Float64Array, m: number): Float64Array {
  for (let mask = 0; mask < 1 << m; mask++) {
    const free = [...Array(m).keys()].filter((i) => (mask >> i) & 1);
    const v = Float64Array.from(u);
    if (free.length > 0) {
      const n = free.length;
      const a = new Float64Array(n * n);
      const b = new Float64Array(n);
      free.forEach((i, r) => {
        free.forEach((j, c) => (a[r * n + c] = g[i * m + j]));
        for (let j = 0; j < m; j++) if (!free.includes(j)) b[r] -= g[i * m + j] * u[j];
      });
      solve(a, b, n).forEach((x, r) => (v[free[r]] = x));
    }
    const gv = [...Array(m).keys()].map((i) => v.reduce((s, vj, j) => s + g[i * m + j] * vj, 0));
    const ok = [...Array(m).keys()].every((i) => (free.includes(i) ? v[i] >= u[i] - 1e-14 : gv[i] >= -1e-14));
    if (ok) return v;
  }
  throw new Error('no active set satisfies the KKT conditions');
}

/** A random Gramian of m rows in d dimensions (some pairs conflicting) plus regEps·I, and its rows. */
function randomGramian(m: number, d: number, seed: number, regEps = 1e-4): { g: Float64Array; rows: Float64Array[] } {
  const rand = mulberry32(seed);
  const rows = Array.from({ length: m }, () => Float64Array.from({ length: d }, () => 2 * rand() - 1));
  return { g: regularizeGramian(normalizeGramian(gramian64(rows), m, 1e-4), m, regEps), rows };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i] - b[i]));
  return s;
}

describe('projectWeights', () => {
  it('equals the exact active-set minimiser on random conflicting Gramians (m = 2…6)', () => {
    let activeSeen = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const m = 2 + (seed % 5);
      const { g } = randomGramian(m, m + 3, seed);
      const rand = mulberry32(1000 + seed);
      const u = Float64Array.from({ length: m }, () => rand());
      const got = projectWeights(u, g, m);
      const want = exactProjection(u, g, m);
      assert.ok(maxAbsDiff(got, want) <= 1e-10 * Math.max(...want.map(Math.abs)), `seed ${seed}: ${[...got].join(', ')} vs ${[...want].join(', ')}`);
      if (want.some((w, i) => w > u[i] + 1e-6)) activeSeen++;
    }
    assert.ok(activeSeen >= 20, `only ${activeSeen} of 60 cases moved off v = u`);
  });

  it('satisfies the KKT conditions: w ≥ u, Gw ≥ 0, (w − u)ᵀGw = 0', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const m = 3 + (seed % 4);
      const { g } = randomGramian(m, 2 * m, 77 + seed);
      const rand = mulberry32(seed);
      const u = Float64Array.from({ length: m }, (_, i) => (i === seed % m ? rand() : 0)); // UPGrad's u_i·e_i
      const w = projectWeights(u, g, m);
      const gw = [...Array(m).keys()].map((i) => w.reduce((s, wj, j) => s + g[i * m + j] * wj, 0));
      const scale = Math.max(...w) * Math.max(...g);
      for (let i = 0; i < m; i++) {
        assert.ok(w[i] >= u[i], `w ≥ u at ${i}`);
        assert.ok(gw[i] >= -1e-12 * scale, `Gw ≥ 0 at ${i}: ${gw[i]}`);
      }
      const slack = w.reduce((s, wi, i) => s + (wi - u[i]) * gw[i], 0);
      assert.ok(Math.abs(slack) <= 1e-12 * scale * Math.max(...w), `complementary slackness: ${slack}`);
    }
  });

  it('is positively homogeneous in u (the tolerance is relative: u ×1e12 still converges)', () => {
    const m = 5;
    const { g } = randomGramian(m, 4, 21);
    const u = Float64Array.from([0.2, 0, 0, 0, 0]);
    const w = projectWeights(u, g, m);
    for (const c of [1e-12, 1e6, 1e12]) {
      const wc = projectWeights(u.map((x) => c * x), g, m);
      assert.ok(maxAbsDiff(wc, w.map((x) => c * x)) <= 1e-11 * c, `scale ${c}: ${[...wc].join(', ')}`);
    }
  });

  it('is invariant to scaling G (the weights, not the Gramian, are the answer)', () => {
    const m = 4;
    const { g } = randomGramian(m, 6, 5);
    const u = Float64Array.from([0.25, 0.25, 0.25, 0.25]);
    const w = projectWeights(u, g, m);
    for (const c of [1e-8, 3, 1e12]) {
      const wc = projectWeights(u, g.map((x) => c * x), m);
      assert.ok(maxAbsDiff(w, wc) <= 1e-11, `scale ${c}`);
    }
  });

  it('returns u itself when it is already optimal, and keeps a zero-diagonal coordinate at its bound', () => {
    // G entrywise ≥ 0 ⇒ every coordinate step is max(u_k, −s/G_kk ≤ 0) = u_k.
    const g = Float64Array.from([2, 1, 0, 1, 3, 0.5, 0, 0.5, 1]);
    assert.deepEqual([...projectWeights([0.5, 0, 0], g, 3)], [0.5, 0, 0]);
    // Row/column 1 zero (a zero gradient with regEps = 0): v_1 stays at u_1; the rest is the 2×2 problem.
    const z = Float64Array.from([1, 0, -0.5, 0, 0, 0, -0.5, 0, 1]);
    // v = (u0, ·, max(0, 0.5·u0 / 1)) = (1, 0.3, 0.5).
    assert.deepEqual([...projectWeights([1, 0.3, 0], z, 3)], [1, 0.3, 0.5]);
  });

  it('throws DualConeProjectionError at the sweep cap, and RangeError on mismatched sizes', () => {
    // Coordinates 1 and 2 nearly collinear and both free: Gauss–Seidel contracts by ≈ 0.998 per sweep.
    const g = Float64Array.from([1, 0.5, 0.5, 0.5, 1, 0.999, 0.5, 0.999, 1]);
    const u = [1, -10, -10];
    assert.throws(
      () => projectWeights(u, g, 3, { maxSweeps: 3 }),
      (e: unknown) => e instanceof DualConeProjectionError && e.sweeps === 3 && e.lastChange > 1e-13,
    );
    // Without the cap: v₀ at its bound 1, and [[1, .999], [.999, 1]]·(v₁, v₂) = −(0.5, 0.5).
    const v = projectWeights(u, g, 3);
    const want = [1, -0.5 / 1.999, -0.5 / 1.999];
    assert.ok(maxAbsDiff(v, want) <= 1e-10, `${[...v].join(', ')}`);
    assert.throws(() => projectWeights([1, 0], g, 3), RangeError);
  });
});

describe('Gramian helpers', () => {
  it('gramian64, normalizeGramian (G/tr G, or 0 below normEps) and regularizeGramian by hand', () => {
    const g = gramian64([[-4, 1, 1], [6, 1, 1]]);
    assert.deepEqual([...g], [18, -22, -22, 38]);
    assert.deepEqual([...normalizeGramian(g, 2, 1e-4)], [18 / 56, -22 / 56, -22 / 56, 38 / 56]);
    assert.deepEqual([...normalizeGramian([1e-5, 0, 0, 1e-5], 2, 1e-4)], [0, 0, 0, 0]);
    assert.deepEqual([...normalizeGramian([5e-5, 0, 0, 5e-5], 2, 1e-4)], [0.5, 0, 0, 0.5]);
    assert.deepEqual([...regularizeGramian(Float64Array.from([0.5, 0, 0, 0.5]), 2, 0.25)], [0.75, 0, 0, 0.75]);
  });
});
