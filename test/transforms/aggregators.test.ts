/**
 * Jacobian aggregators (src/transforms/aggregators.ts): every public upgrad__* golden file (TorchJD's
 * UPGrad: aggregation and weights) at the golden README's tolerance, and the properties of the spec
 * (../shared/specs/seed-methods.md A4, after TorchJD tests/unit/aggregation/_asserts.py and
 * test_upgrad.py): non-conflicting, the mean without conflict, permutation invariance, linearity under
 * positive row scaling, finite on zero and extreme scales, the JaxJD vector; DualProj and Mean by
 * hand; option errors.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenCases, loadGolden, normwiseDeviation, requireGolden } from '../support/golden.js';
import { mulberry32 } from '../support/random.js';
import { dualProj, mean, upgrad } from '../../src/transforms/aggregators.js';
import { DualConeProjectionError } from '../../src/linalg/dualCone.js';

/** The golden README's tolerance for `upgrad` (rtol 1e-5 of max|want|). */
const RTOL = 1e-5;

function randomJacobian(m: number, d: number, seed: number): Float64Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: m }, () => Float64Array.from({ length: d }, () => 2 * rand() - 1));
}

function matVec(rows: readonly ArrayLike<number>[], x: ArrayLike<number>): number[] {
  return rows.map((r) => {
    let s = 0;
    for (let k = 0; k < x.length; k++) s += r[k] * x[k];
    return s;
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]));
  return s;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i] - b[i]));
  return s;
}

/**
 * An array for a message. Every `assert.ok` here carries a message: without one, Node 20's assert builds
 * it by re-reading the failing call from the source, and under `tsx --test` that scan spun forever on this
 * file (a failing bound in the DualProj test hung the whole run instead of failing it).
 */
function show(a: ArrayLike<number>): string {
  return `[${Array.from(a).join(', ')}]`;
}

describe('upgrad: golden replays (TorchJD UPGrad)', () => {
  before(() => useBackend('cpu'));

  it('replays every upgrad golden file (direction and weights) within 1e-5 of max|want|', (t) => {
    if (!requireGolden(t)) return;
    const cases = goldenCases('upgrad');
    assert.equal(cases.length, 9);
    for (const c of cases) {
      const g = loadGolden(c);
      const input = g.inputs![0];
      const [m, d] = input.shape;
      const data = input.data.map((v) => Math.fround(v));
      const rows = Array.from({ length: m }, (_, i) => data.slice(i * d, (i + 1) * d));
      const args = g.args as { norm_eps: number; reg_eps: number; pref_vector: number[] | null };
      const agg = upgrad({
        normEps: args.norm_eps,
        regEps: args.reg_eps,
        ...(args.pref_vector === null ? {} : { pref: args.pref_vector.map((v) => Math.fround(v)) }),
      });
      const { direction, weights } = agg.aggregate(rows);
      const devD = normwiseDeviation(direction, g.outputs![0].data);
      const devW = normwiseDeviation(weights, g.outputs![1].data);
      assert.ok(devD <= RTOL && devW <= RTOL, `${c}: direction ${devD}, weights ${devW}`);
    }
  });

  for (const backend of ['cpu', 'wasm'] as const) it(`takes the Jacobian as a tensor too, on ${backend} (same numbers as the rows)`, async (t) => {
    if (!requireGolden(t)) return;
    await useBackend(backend);
    const g = loadGolden('upgrad__3x10_conflict');
    const [m, d] = g.inputs![0].shape;
    const data = Float32Array.from(g.inputs![0].data, (v) => Math.fround(v));
    const before = tf.memory().numTensors;
    const j = tf.tensor2d(data, [m, d]);
    const fromTensor = upgrad().aggregate(j);
    j.dispose();
    assert.equal(tf.memory().numTensors, before);
    const fromRows = upgrad().aggregate(Array.from({ length: m }, (_, i) => data.subarray(i * d, (i + 1) * d)));
    assert.deepEqual([...fromTensor.direction], [...fromRows.direction]);
    assert.deepEqual([...fromTensor.weights], [...fromRows.weights]);
    assert.ok(normwiseDeviation(fromTensor.direction, g.outputs![0].data) <= RTOL, backend);
    await useBackend('cpu');
  });
});

describe('upgrad: properties (spec A4)', () => {
  it('7. the JaxJD vector: J = [[−4, 1, 1], [6, 1, 1]] ⇒ d ≈ [0.292902, 1.900352, 1.900352], w ≈ [1.110921, 0.789431]', () => {
    const { direction, weights } = upgrad().aggregate([[-4, 1, 1], [6, 1, 1]]);
    const wantD = [0.292902, 1.900352, 1.900352];
    const wantW = [1.110921, 0.789431];
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(direction[i] - wantD[i]) <= 5e-7, `d[${i}] = ${direction[i]}`);
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(weights[i] - wantW[i]) <= 5e-7, `w[${i}] = ${weights[i]}`);
    // Hand-derived for m = 2 (bound active for the projected row): with Ĝ = G/tr G + 1e-4·I, G = [[18, −22], [−22, 38]],
    // w = (½ + ½·(22/56)/Ĝ₁₁, ½·(22/56)/Ĝ₂₂ + ½).
    const g11 = 18 / 56 + 1e-4;
    const g22 = 38 / 56 + 1e-4;
    const w = [0.5 + (0.5 * 22) / 56 / g11, (0.5 * 22) / 56 / g22 + 0.5];
    assert.ok(maxAbsDiff(weights, w) <= 1e-12, `${show(weights)} vs ${show(w)}`);
  });

  it('1. non-conflicting: J·d ≥ −regEps·tr(G)·w (≥ 0 up to the regularization) where the mean conflicts', () => {
    let meanConflicts = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const m = 2 + (seed % 5);
      const j = randomJacobian(m, 3 + (seed % 7), seed);
      const { direction, weights } = upgrad().aggregate(j);
      const jd = matVec(j, direction);
      const trace = j.reduce((s, r) => s + r.reduce((a, x) => a + x * x, 0), 0);
      jd.forEach((v, i) => assert.ok(v >= -trace * (1e-4 * weights[i] + 1e-12), `seed ${seed}, objective ${i}: ${v}`));
      if (Math.min(...matVec(j, mean().aggregate(j).direction)) < 0) meanConflicts++;
      // regEps = 0: no conflict at all (up to the QP tolerance).
      const exact = upgrad({ regEps: 0 }).aggregate(j);
      if (m <= 3 + (seed % 7)) {
        matVec(j, exact.direction).forEach((v, i) => assert.ok(v >= -1e-10 * trace, `regEps 0, seed ${seed}, objective ${i}: ${v}`));
      }
    }
    assert.ok(meanConflicts >= 10, `the mean conflicted in only ${meanConflicts} of 40 draws`);
  });

  it('2. reduces to the mean exactly when no two rows conflict (JJᵀ ≥ 0)', () => {
    const rand = mulberry32(9);
    for (const [m, d] of [[2, 5], [4, 7], [6, 3]]) {
      const j = Array.from({ length: m }, () => Array.from({ length: d }, () => rand() + 0.01));
      const u = upgrad().aggregate(j);
      const avg = mean().aggregate(j);
      assert.deepEqual([...u.weights], new Array(m).fill(1 / m));
      assert.deepEqual([...u.direction], [...avg.direction]);
      assert.deepEqual([...dualProj().aggregate(j).weights], new Array(m).fill(1 / m));
    }
  });

  it('3. permutation invariance: permuting the rows leaves d unchanged and permutes w', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const j = randomJacobian(5, 8, 100 + seed);
      const a = upgrad().aggregate(j);
      const perm = [3, 0, 4, 1, 2];
      const b = upgrad().aggregate(perm.map((p) => j[p]));
      assert.ok(maxAbsDiff(a.direction, b.direction) <= 1e-12 * maxAbs(a.direction), `seed ${seed}`);
      perm.forEach((p, i) => assert.ok(Math.abs(b.weights[i] - a.weights[p]) <= 1e-12 * maxAbs(a.weights), `seed ${seed}, w[${i}]`));
    }
  });

  it('4. linear under positive row scaling: A(diag(αc₁ + βc₂)J) = αA(diag(c₁)J) + βA(diag(c₂)J)', () => {
    const rand = mulberry32(4);
    let worstReg = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const j = randomJacobian(4, 9, 200 + seed);
      const c1 = Array.from({ length: 4 }, () => 0.1 + rand());
      const c2 = Array.from({ length: 4 }, () => 0.1 + rand());
      const [alpha, beta] = [0.5 + rand(), 0.5 + rand()];
      const scaled = (c: number[]) => j.map((r, i) => r.map((x) => c[i] * x));
      const mix = c1.map((x, i) => alpha * x + beta * c2[i]);
      for (const regEps of [0, 1e-4]) {
        const agg = upgrad({ regEps });
        const lhs = agg.aggregate(scaled(mix)).direction;
        const d1 = agg.aggregate(scaled(c1)).direction;
        const d2 = agg.aggregate(scaled(c2)).direction;
        const rhs = d1.map((x, k) => alpha * x + beta * d2[k]);
        const dev = maxAbsDiff(lhs, rhs) / maxAbs(rhs);
        // Exact without regularization (the projection is positively homogeneous and the cone is the same);
        // regEps perturbs it at its own order (TorchJD allows 6e-2).
        if (regEps === 0) assert.ok(dev <= 1e-9, `seed ${seed}: ${dev}`);
        else worstReg = Math.max(worstReg, dev);
      }
    }
    assert.ok(worstReg <= 1e-2, `with regEps 1e-4: ${worstReg}`);
  });

  it('5. finite on zero matrices and extreme scales 1e-10 … 1e15; weights scale-free once normalized', () => {
    const zero = upgrad().aggregate([new Float64Array(6), new Float64Array(6), new Float64Array(6)]);
    assert.deepEqual([...zero.direction], new Array(6).fill(0));
    assert.deepEqual([...zero.weights], [1 / 3, 1 / 3, 1 / 3]);
    const j = randomJacobian(3, 6, 31);
    const base = upgrad().aggregate(j);
    assert.ok(maxAbs(base.direction) > 0.01, 'strong stationarity: no positive w has Jᵀw = 0 here, so d ≠ 0');
    for (const s of [1e-10, 1e-5, 1e-3, 1, 1e3, 1e8, 1e15]) {
      const r = upgrad().aggregate(j.map((row) => row.map((x) => s * x)));
      assert.ok(r.direction.every(Number.isFinite) && r.weights.every(Number.isFinite), `scale ${s}`);
      const trace = s * s * j.reduce((a, row) => a + row.reduce((b, x) => b + x * x, 0), 0);
      if (trace < 1e-4) {
        // Below normEps the Gramian is zeroed: w = u, d = the mean.
        assert.deepEqual([...r.weights], [1 / 3, 1 / 3, 1 / 3], `scale ${s}`);
      } else {
        assert.ok(maxAbsDiff(r.weights, base.weights) <= 1e-12, `scale ${s}: ${show(r.weights)} vs ${show(base.weights)}`);
        assert.ok(maxAbsDiff(r.direction, base.direction.map((x) => s * x)) <= 1e-12 * s, `scale ${s}`);
      }
    }
    // Duplicate and zero rows (as upgrad__5x8_duplicate_zero_rows) stay finite.
    const dup = upgrad().aggregate([j[0], j[0], new Float64Array(6), j[1], j[2]]);
    assert.ok(dup.direction.every(Number.isFinite) && dup.weights.every(Number.isFinite), `${show(dup.direction)}, ${show(dup.weights)}`);
  });

  it('pref: a constant preference vector is used as given (the 1/m default is pref = 1/m)', () => {
    const j = randomJacobian(3, 5, 8);
    assert.deepEqual([...upgrad({ pref: [1 / 3, 1 / 3, 1 / 3] }).aggregate(j).weights], [...upgrad().aggregate(j).weights]);
    const twice = upgrad({ pref: [2 / 3, 2 / 3, 2 / 3] }).aggregate(j);
    assert.ok(maxAbsDiff(twice.weights, upgrad().aggregate(j).weights.map((w) => 2 * w)) <= 1e-14, show(twice.weights));
  });
});

describe('dualProj and mean', () => {
  it('dualProj on the JaxJD matrix: TorchJD docstring [0.5563, 1.1109, 1.1109]; hand-derived weights', () => {
    const { direction, weights } = dualProj().aggregate([[-4, 1, 1], [6, 1, 1]]);
    [0.5563, 1.1109, 1.1109].forEach((v, i) => assert.ok(Math.abs(direction[i] - v) <= 5e-5, `d[${i}] = ${direction[i]}`));
    // u = (½, ½): Ĝu = (½(18 − 22)/56 + ½·1e-4, …) has a negative first entry, so v₂ = ½ stays and
    // v₁ = −Ĝ₁₂·½/Ĝ₁₁ (> ½).
    const g11 = 18 / 56 + 1e-4;
    const want = [(0.5 * 22) / 56 / g11, 0.5];
    assert.ok(maxAbsDiff(weights, want) <= 1e-12, `${show(weights)} vs ${show(want)}`);
    // Non-conflicting up to the regularization: KKT gives Ĝw ≥ 0, i.e. J·d = Gw ≥ −regEps·tr(G)·w, with
    // equality at the free coordinate (v₁): (J·d)₁ = −1e-4·56·w₁ ≈ −3.4e-3, and (J·d)₂ > 0.
    const jd = matVec([[-4, 1, 1], [6, 1, 1]], direction);
    assert.ok(Math.abs(jd[0] + 1e-4 * 56 * weights[0]) <= 1e-12, `J·d = ${show(jd)}`);
    assert.ok(jd[1] > 0, `J·d = ${show(jd)}`);
    // With regEps = 0 the projection lands on the cone's face: (J·d)₁ = 0 exactly (to rounding).
    const exact = matVec([[-4, 1, 1], [6, 1, 1]], dualProj({ regEps: 0 }).aggregate([[-4, 1, 1], [6, 1, 1]]).direction);
    assert.ok(Math.abs(exact[0]) <= 1e-12 && exact[1] > 0, `regEps 0: J·d = ${show(exact)}`);
  });

  it('mean: w = 1/m, direction the row average (TorchJD docstring: [1, 1, 1])', () => {
    const { direction, weights } = mean().aggregate([[-4, 1, 1], [6, 1, 1]]);
    assert.deepEqual([...direction], [1, 1, 1]);
    assert.deepEqual([...weights], [0.5, 0.5]);
  });

  it('weighting(G) is the Gramian form: the same weights from J·Jᵀ', () => {
    const j = randomJacobian(4, 6, 12);
    const g = new Float64Array(16);
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) g[a * 4 + b] = j[a].reduce((s, x, k) => s + x * j[b][k], 0);
    for (const agg of [upgrad(), dualProj(), mean()]) {
      assert.ok(maxAbsDiff(agg.weighting(g, 4), agg.aggregate(j).weights) <= 1e-14, agg.name);
    }
  });
});

describe('aggregator errors', () => {
  it('names the option and the value; pref must match m; ragged and empty Jacobians are refused', () => {
    assert.throws(() => upgrad({ regEps: -1 }), /upgrad: regEps must be in \[0, inf\), got -1/);
    assert.throws(() => dualProj({ normEps: Number.NaN }), /dualProj: normEps must be/);
    assert.throws(() => upgrad({ pref: [] }), /upgrad: pref must be a non-empty array/);
    assert.throws(() => upgrad({ maxSweeps: 0.5 }), /upgrad: maxSweeps must be an integer/);
    assert.throws(() => upgrad({ prefVector: [1] } as never), /upgrad: unknown option 'prefVector'/);
    assert.throws(() => upgrad({ pref: [1, 1] }).aggregate([[1], [2], [3]]), /upgrad: pref has 2 weights for 3 objectives/);
    assert.throws(() => upgrad().aggregate([[1, 2], [3]]), /upgrad: Jacobian row 1 has length 1, row 0 has 2/);
    assert.throws(() => mean().aggregate([]), /mean: the Jacobian has no rows/);
    assert.throws(
      () => upgrad({ maxSweeps: 1 }).aggregate([[-4, 1, 1], [6, 1, 1]]),
      (e: unknown) => e instanceof DualConeProjectionError,
    );
  });
});
