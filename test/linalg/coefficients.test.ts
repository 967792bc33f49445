/**
 * Coefficient presets: the scalar values of spec §2.7 (φ′(0) and output σ ranges) through
 * `quinticCompose`, the stability analysis of §8.2 (Jordan safe, ROOT 2048×2048 not), ROOT's per-shape
 * table, the stability warning, and lookup errors.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import {
  coefficientPresets,
  coefficientStability,
  coefficientTable,
  rootCoefficientTable,
  setStabilityWarningHandler,
  withSafety,
  type CoefficientTable,
  type QuinticCoefficients,
} from '../../src/linalg/coefficients.js';
import { newtonSchulz, resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { quinticCompose } from '../../src/linalg/reference.js';

await useBackend('cpu');
// Resolving ROOT's 2048×2048 table below reports it; keep the test output quiet (warnings are tested at the end).
setStabilityWarningHandler(() => undefined);

const JORDAN: QuinticCoefficients = [3.4445, -4.775, 2.0315];
const ROOT_2048: QuinticCoefficients = [3.4916, -4.8224, 2.1095];

/** The rows a table runs for `steps` steps (the last row repeats). */
function schedule(table: CoefficientTable, steps: number): QuinticCoefficients[] {
  return Array.from({ length: steps }, (_, i) => table.rows[Math.min(i, table.rows.length - 1)]);
}

/** φ′(0) and the range of φ(σ / normScale) for σ on a fine grid of [lo, 1]. */
function scalarSummary(rows: QuinticCoefficients[], normScale: number, lo: number, n = 400_000) {
  const slope = rows.reduce((s, r) => s * r[0], 1) / normScale;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i <= n; i++) {
    const y = quinticCompose(rows, (lo + ((1 - lo) * i) / n) / normScale);
    if (y < min) min = y;
    if (y > max) max = y;
  }
  return { slope, min, max };
}

/** |got − want| ≤ half a unit in the last printed digit of `want` (how spec §2.7 rounds). */
function closeToPrinted(got: number, want: string, what: string): void {
  const decimals = want.includes('.') ? want.split('.')[1].length : 0;
  const tol = 0.5 * 10 ** -decimals + 1e-9;
  assert.ok(Math.abs(got - Number(want)) <= tol, `${what}: ${got} vs ${want} (±${tol})`);
}

describe('coefficient presets: spec §2.7 scalar values', () => {
  // [label, rows, normScale, φ′(0), range on [1e-3, 1], range on [1e-2, 1]]
  const pe8 = coefficientTable('polarExpress8');
  const cases: [string, QuinticCoefficients[], number, string, [string, string], [string, string]][] = [
    ['Jordan ×5', schedule(coefficientTable('jordan'), 5), 1, '484.9', ['0.4705', '1.2024'], ['0.6818', '1.1344']],
    ['Jordan ×4', schedule(coefficientTable('jordan'), 4), 1, '140.8', ['0.1404', '1.2024'], ['0.6818', '1.2024']],
    ['You ×5', schedule(coefficientTable('you'), 5), 1, '492.7', ['0.4750', '1.1450'], ['0.9778', '1.0318']],
    ['turbo = You last-4 (no AOL)', schedule(coefficientTable('turbo'), 4), 1, '120.6', ['0.1204', '1.1450'], ['0.9727', '1.1450']],
    ['Polar Express 5 (input ÷1.02)', schedule(coefficientTable('polarExpress5'), 5), 1.02, '970.1', ['0.8466', '1.1411'], ['0.8589', '1.1411']],
    ['PE 8-step list ÷1.01, 5 steps', schedule(pe8, 5), 1.01, '966.6', ['0.8401', '1.1236'], ['0.8703', '1.1236']],
    ['PE 8-step list ÷1.01, 8 steps', schedule(pe8, 8), 1.01, '6300', ['1.0000', '1.0000'], ['1.0000', '1.0000']],
  ];
  for (const [label, rows, normScale, slope, wide, narrow] of cases) {
    it(`${label}: φ′(0) = ${slope}, σ ∈ [1e-3, 1] → [${wide.join(', ')}], σ ∈ [1e-2, 1] → [${narrow.join(', ')}]`, () => {
      const w = scalarSummary(rows, normScale, 1e-3);
      const n = scalarSummary(rows, normScale, 1e-2);
      closeToPrinted(w.slope, slope, 'φ′(0)');
      for (const [got, want, what] of [
        [w.min, wide[0], 'min on [1e-3, 1]'],
        [w.max, wide[1], 'max on [1e-3, 1]'],
        [n.min, narrow[0], 'min on [1e-2, 1]'],
        [n.max, narrow[1], 'max on [1e-2, 1]'],
      ] as const) {
        assert.ok(Math.abs(got - Number(want)) <= 1e-4, `${label} ${what}: ${got} vs ${want}`);
      }
    });
  }

  it('the presets use the normalization their authors use', () => {
    assert.deepEqual(
      coefficientPresets.map((p) => {
        const t = coefficientTable(p);
        return [p, t.defaultSteps, t.normScale, t.eps, t.precondition ?? 'frobenius'];
      }),
      [
        ['jordan', 5, 1, 1e-7, 'frobenius'],
        ['you', 5, 1, 1e-7, 'frobenius'],
        ['polarExpress5', 5, 1.02, 1e-6, 'frobenius'],
        ['polarExpress8', 8, 1.01, 1e-7, 'frobenius'],
        ['turbo', 4, 1, 1e-7, 'aol'],
        ['root', 5, 1, 1e-7, 'frobenius'],
      ],
    );
    assert.deepEqual(coefficientTable('turbo').rows, coefficientTable('you').rows.slice(1));
    // Polar Express 8: every row but the last carries the 1.01 safety factor
    const pe8 = coefficientTable('polarExpress8').rows;
    assert.deepEqual(pe8[0], withSafety([8.28721201814563, -23.595886519098837, 17.300387312530933], 1.01));
    assert.deepEqual(pe8[7], [1.875, -1.25, 0.375]);
  });

  it('resolveNewtonSchulz takes the preconditioning from the table unless told otherwise', () => {
    assert.equal(resolveNewtonSchulz({ coefficients: 'turbo' }).precondition, 'aol');
    assert.equal(resolveNewtonSchulz({ coefficients: 'turbo', precondition: 'frobenius' }).precondition, 'frobenius');
    assert.equal(resolveNewtonSchulz({ coefficients: 'jordan' }).precondition, 'frobenius');
    assert.equal(resolveNewtonSchulz({}).precondition, 'frobenius');
    assert.equal(resolveNewtonSchulz({ coefficients: 'you', precondition: 'aol' }).precondition, 'aol');
    assert.equal(resolveNewtonSchulz({ coefficients: 'turbo' }).steps, 4);
  });
});

describe('coefficientStability (spec §8.2)', () => {
  it("Jordan: max of p on [0, 1] 1.20237 at σ 0.55453, below its repelling fixed point 1.26373 — safe", () => {
    const st = coefficientStability('jordan');
    const [r] = st.rows;
    assert.ok(Math.abs(r.maxOnUnit - 1.20237) < 1e-5, `max ${r.maxOnUnit}`);
    assert.ok(Math.abs(r.argmaxOnUnit - 0.55453) < 1e-5, `argmax ${r.argmaxOnUnit}`);
    assert.ok(r.fixedPoint !== null && Math.abs(r.fixedPoint - 1.26373) < 1e-5, `fixed point ${r.fixedPoint}`);
    assert.equal(r.escapeRadius, r.fixedPoint);
    assert.equal(r.exceedsFixedPoint, false);
    assert.equal(st.safe, true);
    assert.deepEqual(st.unsafeRows, []);
    // the invariant band: p keeps [0, 1.20237] inside itself
    assert.ok(Math.abs(r.outputBound - r.maxOnUnit) < 1e-12);
  });

  it('ROOT 2048×2048: max 1.22459 (σ 0.5591) above the fixed point 1.22355 — unsafe', () => {
    const st = coefficientStability([ROOT_2048]);
    const [r] = st.rows;
    assert.ok(Math.abs(r.maxOnUnit - 1.22459) < 1e-5, `max ${r.maxOnUnit}`);
    assert.ok(Math.abs(r.argmaxOnUnit - 0.5591) < 1e-4, `argmax ${r.argmaxOnUnit}`);
    assert.ok(r.fixedPoint !== null && Math.abs(r.fixedPoint - 1.22355) < 1e-5, `fixed point ${r.fixedPoint}`);
    assert.equal(r.exceedsFixedPoint, true);
    assert.equal(st.safe, false);
    assert.deepEqual(st.unsafeRows, [0]);
    assert.equal(r.outputBound, Infinity);
  });

  it('the verdict agrees with iterating the scalar map: ROOT 2048² escapes in 5 steps, Jordan does not', () => {
    let root = 0;
    let jordan = 0;
    let above = 0;
    const n = 100_000;
    for (let i = 0; i <= n; i++) {
      const s = 1e-4 + ((1 - 1e-4) * i) / n;
      const y = quinticCompose(Array<QuinticCoefficients>(5).fill(ROOT_2048), s);
      root = Math.max(root, y);
      if (y > 1.3) above++;
      jordan = Math.max(jordan, quinticCompose(Array<QuinticCoefficients>(50).fill(JORDAN), s));
    }
    // spec §8.2: "3.7% of σ_in ∈ [1e-4, 1] end above 1.3 and the worst case reaches 3.31"
    assert.ok(Math.abs(root - 3.31) < 0.01, `ROOT worst case ${root}`);
    assert.ok(Math.abs(above / n - 0.037) < 0.001, `ROOT fraction above 1.3: ${above / n}`);
    assert.ok(jordan <= coefficientStability('jordan').rows[0].outputBound + 1e-12, `Jordan ×50 reached ${jordan}`);
  });

  it('every preset is safe, and 200 repeated steps stay inside the bound it reports', () => {
    for (const p of coefficientPresets) {
      const st = coefficientStability(p);
      assert.equal(st.safe, true, `${p} reported unsafe`);
      const t = coefficientTable(p);
      const bound = st.rows[st.rows.length - 1].outputBound;
      const rows = schedule(t, 200);
      let worst = 0;
      for (let i = 0; i <= 20_000; i++) worst = Math.max(worst, Math.abs(quinticCompose(rows, i / 20_000)));
      assert.ok(worst <= bound + 1e-9, `${p}: ${worst} > reported bound ${bound}`);
    }
  });

  it("Polar Express's first row passes its fixed point by design; the table is still safe", () => {
    const st = coefficientStability('polarExpress5');
    assert.equal(st.rows[0].exceedsFixedPoint, true); // p₁(1) ≈ 1.55 > fixed point 0.966
    assert.ok(st.rows[0].maxOnUnit > 1.99 && st.rows[0].maxOnUnit < 1.992, `${st.rows[0].maxOnUnit}`);
    assert.equal(st.safe, true);
    assert.ok(st.rows[1].inputBound > 1.99, 'row 2 receives the first row’s overshoot');
  });

  it("ROOT's other published rows are safe; escape radius = fixed point for every published row", () => {
    for (const shape of [[2048, 3072], [2048, 8192], [2048, 16384]]) {
      assert.equal(coefficientStability(rootCoefficientTable(shape)).safe, true, `${shape.join('x')}`);
    }
    for (const p of coefficientPresets) {
      for (const r of coefficientStability(p).rows) assert.equal(r.escapeRadius, r.fixedPoint, `${p} ${r.coefficients.join(', ')}`);
    }
  });

  it('max on [0, 1] matches a brute-force grid for every published row', () => {
    const rows = [...coefficientPresets.flatMap((p) => coefficientTable(p).rows), ROOT_2048];
    for (const r of rows) {
      let max = -Infinity;
      for (let i = 0; i <= 100_000; i++) max = Math.max(max, quinticCompose([r], i / 100_000));
      const got = coefficientStability([r]).rows[0].maxOnUnit;
      assert.ok(got >= max - 1e-12 && got - max < 1e-8, `${r.join(', ')}: ${got} vs grid ${max}`);
    }
  });

  it('a row that is safe alone can be unsafe after a row that overshoots its fixed point', () => {
    const last: QuinticCoefficients = [2.8366, -3.0525, 1.2012]; // You's last row, fixed point 1.25018
    assert.equal(coefficientStability([last]).safe, true);
    assert.equal(coefficientStability([JORDAN, last]).safe, true); // Jordan's row sends σ to ≤ 1.20237
    const st = coefficientStability([[4.0848, -6.8946, 2.927], last]); // You's first row: up to 1.27314
    assert.equal(st.safe, false);
    assert.deepEqual(st.unsafeRows, [1]);
    assert.ok(Math.abs(st.rows[1].inputBound - 1.27314) < 1e-5);
    // and indeed: σ₀ = argmax of the first row escapes under the repeated last row
    const s0 = st.rows[0].argmaxOnUnit;
    assert.ok(quinticCompose([[4.0848, -6.8946, 2.927], ...Array<QuinticCoefficients>(30).fill(last)], s0) > 10);
  });

  it('degenerate rows: a cubic, a contraction, an expansion', () => {
    // p(σ) = 1.5σ − 0.5σ³: fixed point 1 (attracting), p(σ) = −σ at √5 — the escape radius
    const cubic = coefficientStability([[1.5, -0.5, 0]]);
    assert.ok(Math.abs((cubic.rows[0].fixedPoint ?? 0) - 1) < 1e-12);
    assert.ok(Math.abs(cubic.rows[0].escapeRadius - Math.sqrt(5)) < 1e-12);
    assert.equal(cubic.safe, true);
    assert.equal(coefficientStability([[0.5, 0, 0]]).rows[0].escapeRadius, Infinity);
    assert.equal(coefficientStability([[0.5, 0, 0]]).safe, true);
    assert.equal(coefficientStability([[2, 0, 0]]).safe, false); // σ ↦ 2σ grows without bound
    assert.equal(coefficientStability([[2, 1, 1]]).safe, false);
  });
});

describe('ROOT per-shape coefficients', () => {
  it('looks up (min, max) of the matrix, either orientation, conv kernels flattened', () => {
    assert.deepEqual(rootCoefficientTable([2048, 3072]).rows, [[3.4509, -4.579, 1.9325]]);
    assert.equal(rootCoefficientTable([3072, 2048]), rootCoefficientTable([2048, 3072]));
    assert.deepEqual(rootCoefficientTable([8192, 2048]).rows, [[2.9794, -3.6674, 1.6207]]);
    assert.deepEqual(rootCoefficientTable([2048, 16384]).rows, [[3.1943, -3.8221, 1.5322]]);
    assert.deepEqual(rootCoefficientTable([1, 1, 2048, 8192]).rows, [[2.9794, -3.6674, 1.6207]]);
    assert.equal(rootCoefficientTable([2048, 2048]).defaultSteps, 5);
    assert.equal(rootCoefficientTable([64, 64]), coefficientTable('jordan'), 'other shapes: the jordan preset');
    assert.equal(rootCoefficientTable([2048, 4096]), coefficientTable('jordan'));
    assert.throws(() => rootCoefficientTable([2048]), /rootCoefficientTable: need a matrix shape \(rank >= 2\), got \[2048\]/);
  });

  it("the 'root' preset resolves per matrix: Jordan at small shapes", () => {
    tf.tidy(() => {
      const g = tf.tensor2d(gaussian(24 * 40, 11), [24, 40]);
      const a = newtonSchulz(g, { coefficients: 'root' }).dataSync();
      const b = newtonSchulz(g, { coefficients: 'jordan' }).dataSync();
      assert.deepEqual(a, b);
      assert.equal(coefficientTable('root').perShape?.(2048, 2048).name, 'root2048x2048');
    });
  });

  it('newtonSchulz honours a per-shape table for every matrix it orthogonalizes (both orientations, batches)', () => {
    tf.tidy(() => {
      const you = coefficientTable('you');
      const jordan = coefficientTable('jordan');
      const perShapeTable: CoefficientTable = {
        ...jordan,
        name: 'perShapeTest',
        perShape: (r, c) => (Math.min(r, c) === 8 && Math.max(r, c) === 12 ? you : jordan),
      };
      const g = tf.tensor2d(gaussian(8 * 12, 12), [8, 12]);
      const want = newtonSchulz(g, { coefficients: 'you' });
      assert.deepEqual(newtonSchulz(g, { coefficients: perShapeTable }).dataSync(), want.dataSync());
      assert.deepEqual(newtonSchulz(tf.transpose(g), { coefficients: perShapeTable }).dataSync(), tf.transpose(want).dataSync());
      const other = tf.tensor2d(gaussian(8 * 10, 13), [8, 10]);
      assert.deepEqual(newtonSchulz(other, { coefficients: perShapeTable }).dataSync(), newtonSchulz(other).dataSync());
      const batch = tf.stack([g, g]);
      const out = newtonSchulz(batch, { coefficients: perShapeTable, leadingDims: 'batch' });
      assert.deepEqual(tf.slice(out, [1, 0, 0], [1, 8, 12]).dataSync(), want.dataSync());
    });
  });
});

describe('stability warnings', () => {
  const heard: string[] = [];
  before(() => setStabilityWarningHandler((m) => heard.push(m)));
  after(() => setStabilityWarningHandler(null));

  it('an unsafe table is reported once; safe ones never', () => {
    heard.length = 0;
    for (const p of coefficientPresets) coefficientTable(p);
    coefficientTable([JORDAN, [2.8366, -3.0525, 1.2012]]);
    assert.deepEqual(heard, []);
    coefficientTable([ROOT_2048]);
    assert.equal(heard.length, 1);
    assert.match(heard[0], /unstable: row 0 \[3\.4916, -4\.8224, 2\.1095\]/);
    assert.match(heard[0], /1\.22459/);
    assert.match(heard[0], /1\.22355/);
    coefficientTable([ROOT_2048]);
    resolveNewtonSchulz({ coefficients: [ROOT_2048] });
    rootCoefficientTable([2048, 2048]); // same rows: already reported
    assert.equal(heard.length, 1);
  });

  it('resolving ROOT’s 2048×2048 table reports it (once), and setting a handler starts afresh', () => {
    setStabilityWarningHandler((m) => heard.push(m));
    heard.length = 0;
    rootCoefficientTable([2048, 2048]);
    coefficientTable('root').perShape?.(2048, 2048);
    rootCoefficientTable([2048, 3072]);
    assert.equal(heard.length, 1);
    assert.match(heard[0], /'root2048x2048'/);
  });

  it('the default handler is console.warn', (t) => {
    setStabilityWarningHandler(null);
    const warn = t.mock.method(console, 'warn', () => undefined);
    coefficientTable([[2, 1, 1]]);
    coefficientTable([[2, 1, 1]]);
    assert.equal(warn.mock.callCount(), 1);
    setStabilityWarningHandler((m) => heard.push(m));
  });
});

describe('lookup errors', () => {
  it('unknown presets and malformed tables throw RangeError naming the owner and the choices', () => {
    assert.throws(
      () => coefficientTable('jordon' as never, 'muon'),
      (e: unknown) =>
        e instanceof RangeError &&
        e.message ===
          "muon: coefficients must be one of 'jordan', 'you', 'polarExpress5', 'polarExpress8', 'turbo', 'root' or a table, got 'jordon'",
    );
    assert.throws(() => coefficientTable('toString' as never), /coefficients must be one of/);
    assert.throws(() => coefficientStability('nope' as never), /coefficientStability: coefficients must be one of/);
    assert.throws(() => coefficientTable([]), /newtonSchulz: coefficients must be a non-empty list of finite \[a, b, c\] rows/);
    assert.throws(() => coefficientTable([[1, 2]] as never), RangeError);
    assert.throws(() => coefficientTable([[1, 2, Number.NaN]]), RangeError);
    assert.throws(
      () => coefficientTable({ ...coefficientTable('jordan'), precondition: 'spectral' as never }),
      /precondition must be 'frobenius' or 'aol', got 'spectral'/,
    );
    assert.throws(
      () => resolveNewtonSchulz({ precondition: 'spectral' as never }, 'turboMuon'),
      (e: unknown) => e instanceof RangeError && e.message === "turboMuon: precondition must be one of 'frobenius', 'aol', got 'spectral'",
    );
  });
});
