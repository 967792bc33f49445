/**
 * Orthogonality regularizers (nn/regularizers.ts) against float64 references written here: soft
 * orthogonality, GOR (batched vs the naive per-group loop of YoavKurtz/GOR's README), Lorth (a direct
 * float64 evaluation of deel-lip's strided self-convolution), λ-orthogonality; zero for exactly
 * orthogonal weights; gradients against the closed forms and against central finite differences of the
 * float64 references; the named errors; no tensor leaks.
 *
 * Tolerances: the tfjs values are float32 sums of at most a few hundred products of O(1) numbers, so
 * they are compared at 1e-5 relative to the float64 value (float32 ε ≈ 6e-8 times the length of the
 * sums); gradients at 1e-4 of the largest entry. Central differences of the float64 references
 * (h = 1e-5, quartic polynomials) are accurate to ≈ 1e-9 and are compared with the closed forms at 1e-7.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { deltaOrthogonalInit, orthogonalInit } from '../../src/nn/init.js';
import { matrix64, svd64 } from '../../src/linalg/reference.js';
import {
  gorGroups,
  groupOrthogonality,
  lambdaOrthogonality,
  lorth,
  resolveGroupOrthogonality,
  softOrthogonality,
} from '../../src/nn/regularizers.js';

await useBackend('cpu');

// ---------------------------------------------------------------- float64 references

/** `G − I` of the smaller Gram of `w` (`fanIn × fanOut`, row-major) and its size. */
function defect64(w: ArrayLike<number>, fanIn: number, fanOut: number): { e: Float64Array; n: number } {
  const tall = fanIn >= fanOut;
  const n = tall ? fanOut : fanIn;
  const e = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      let s = 0;
      if (tall) for (let i = 0; i < fanIn; i++) s += w[i * fanOut + a] * w[i * fanOut + b];
      else for (let j = 0; j < fanOut; j++) s += w[a * fanOut + j] * w[b * fanOut + j];
      e[a * n + b] = s - (a === b ? 1 : 0);
    }
  }
  return { e, n };
}

function sumSquares(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

function soft64(w: ArrayLike<number>, fanIn: number, fanOut: number): number {
  return sumSquares(defect64(w, fanIn, fanOut).e);
}

/** GOR's `calc_dist` of one set: rows = filters (each of length k). */
function dist64(rows: number[][]): number {
  const r = rows.length;
  const k = rows[0].length;
  const flat = new Float64Array(r * k);
  rows.forEach((row, i) => row.forEach((x, j) => (flat[i * k + j] = x)));
  // A set is r × k with rows the filters: calc_dist's tall case (r ≥ k) is AᵀA; as a "fanIn × fanOut"
  // matrix that is A itself (fanIn = r).
  return soft64(flat, r, k);
}

/** The naive per-set loop of GOR on a flattened kernel `w` (`k × cOut`): filter f is column f. */
function gor64(w: ArrayLike<number>, k: number, cOut: number, groups: number, variant: 'inter' | 'intra'): number {
  const s = cOut / groups;
  const filter = (f: number) => Array.from({ length: k }, (_, i) => w[i * cOut + f]);
  let total = 0;
  if (variant === 'inter') {
    for (let g = 0; g < groups; g++) total += dist64(Array.from({ length: s }, (_, j) => filter(g * s + j)));
  } else {
    for (let j = 0; j < s; j++) total += dist64(Array.from({ length: groups }, (_, g) => filter(g * s + j)));
  }
  return total;
}

/** Lorth by its definition (deel-lip `Lorth2D`), element by element in float64. */
function lorth64(kernel: ArrayLike<number>, k: number, c: number, m: number, stride: number): number {
  const half = Math.floor((k - 1) / stride);
  const pad = half * stride;
  const size = 2 * half + 1;
  const kAt = (a: number, b: number, ch: number, o: number) => kernel[((a * k + b) * c + ch) * m + o];
  let total = 0;
  for (let m1 = 0; m1 < m; m1++) {
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        for (let m2 = 0; m2 < m; m2++) {
          let out = 0;
          for (let a = 0; a < k; a++) {
            for (let b = 0; b < k; b++) {
              const u = i * stride + a - pad;
              const v = j * stride + b - pad;
              if (u < 0 || u >= k || v < 0 || v >= k) continue;
              for (let ch = 0; ch < c; ch++) out += kAt(u, v, ch, m1) * kAt(a, b, ch, m2);
            }
          }
          const target = i === half && j === half && m1 === m2 ? 1 : 0;
          total += (out - target) ** 2;
        }
      }
    }
  }
  return total - Math.max(0, m - stride * stride * c);
}

/** The spectral norm of the (symmetric) defect and its top singular pair, in float64. */
function spectral64(w: ArrayLike<number>, fanIn: number, fanOut: number): { sigma: number; u: Float64Array; v: Float64Array; n: number } {
  const { e, n } = defect64(w, fanIn, fanOut);
  const svd = svd64(matrix64(n, n, e));
  const u = Float64Array.from({ length: n }, (_, i) => svd.u.data[i * svd.u.cols]);
  const v = Float64Array.from({ length: n }, (_, i) => svd.v.data[i * svd.v.cols]);
  return { sigma: svd.s[0], u, v, n };
}

function centralDifferences(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5): Float64Array {
  const p = Float64Array.from(x);
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const x0 = p[i];
    p[i] = x0 + h;
    const up = f(p);
    p[i] = x0 - h;
    const down = f(p);
    p[i] = x0;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** `4·W(WᵀW − I)` (tall) or `4·(WWᵀ − I)W` (wide): the closed-form gradient of soft orthogonality. */
function softGradient64(w: ArrayLike<number>, fanIn: number, fanOut: number): Float64Array {
  const { e, n } = defect64(w, fanIn, fanOut);
  const g = new Float64Array(fanIn * fanOut);
  for (let i = 0; i < fanIn; i++) {
    for (let j = 0; j < fanOut; j++) {
      let s = 0;
      if (fanIn >= fanOut) for (let b = 0; b < n; b++) s += w[i * fanOut + b] * e[b * n + j];
      else for (let a = 0; a < n; a++) s += e[i * n + a] * w[a * fanOut + j];
      g[i * fanOut + j] = 4 * s;
    }
  }
  return g;
}

// ---------------------------------------------------------------- assertions

function assertClose(actual: number, expected: number, rtol: number, what: string, atol = 0): void {
  const err = Math.abs(actual - expected);
  assert.ok(err <= rtol * Math.abs(expected) + atol, `${what}: ${actual} vs ${expected} (|Δ| = ${err})`);
}

function assertArrayClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtolOfMax: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  assert.ok(scale > 0, `${what}: the expected values are all zero`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= rtolOfMax * scale, `${what}: max |Δ| ${worst} > ${rtolOfMax} × ${scale}`);
}

function value(f: () => tf.Scalar): number {
  const t = f();
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

function gradient(f: (x: tf.Tensor) => tf.Scalar, data: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => tf.grad(f)(tf.tensor(data, shape)).dataSync() as Float32Array);
}

function scaled(n: number, seed: number, std: number): Float32Array {
  return gaussian(n, seed).map((x) => x * std);
}

// ---------------------------------------------------------------- soft orthogonality

describe('softOrthogonality', () => {
  it('equals the float64 ‖WᵀW − I‖² on the smaller side, for tall, wide, square and conv shapes', () => {
    const cases: [number[], number, number][] = [
      [[7, 3], 7, 3],
      [[3, 7], 3, 7],
      [[5, 5], 5, 5],
      [[3, 3, 2, 4], 18, 4],
      [[1, 1, 3, 8], 3, 8],
    ];
    for (const [shape, fanIn, fanOut] of cases) {
      const w = scaled(fanIn * fanOut, 11 + fanIn, 0.4);
      assertClose(value(() => softOrthogonality(tf.tensor(w, shape))), soft64(w, fanIn, fanOut), 1e-5, `[${shape.join(", ")}]`);
    }
  });

  it('is zero for Haar-orthogonal kernels (orthogonalInit) and large for random ones', () => {
    for (const shape of [[16, 8], [8, 16], [12, 12], [3, 3, 4, 16]]) {
      const w = orthogonalInit(shape, { seed: 3 });
      const v = value(() => softOrthogonality(tf.tensor(w, shape)));
      assert.ok(Math.abs(v) < 1e-10, `[${shape.join(", ")}]: ${v}`);
      const r = gaussian(w.length, 4);
      assert.ok(value(() => softOrthogonality(tf.tensor(r, shape))) > 1, `[${shape.join(", ")}] random`);
    }
  });

  it('has the gradient 4·W(WᵀW − I) (closed form = finite differences in float64 = tf.grad)', () => {
    for (const [fanIn, fanOut] of [[6, 3], [3, 6]]) {
      const w = scaled(fanIn * fanOut, 21 + fanIn, 0.5);
      const closed = softGradient64(w, fanIn, fanOut);
      const fd = centralDifferences((x) => soft64(x, fanIn, fanOut), w);
      assertArrayClose(fd, closed, 1e-7, `${fanIn}×${fanOut}: finite differences vs 4·W(WᵀW − I)`);
      assertArrayClose(gradient(softOrthogonality, w, [fanIn, fanOut]), closed, 1e-4, `${fanIn}×${fanOut}: tf.grad`);
    }
  });

  it('throws a RangeError for rank < 2', () => {
    assert.throws(() => softOrthogonality(tf.ones([4])), /softOrthogonality: the weight must have rank ≥ 2.*\[4\]/);
    assert.throws(() => softOrthogonality(tf.scalar(1)), RangeError);
  });
});

// ---------------------------------------------------------------- GOR

describe('groupOrthogonality (GOR)', () => {
  it('resolves N_eff = min(N, ⌊c_out/minFilters⌋) and s = c_out/N_eff as the reference', () => {
    const d = resolveGroupOrthogonality();
    assert.deepEqual(d, { groups: 32, minFilters: 4, variant: 'inter' });
    assert.deepEqual(gorGroups(256, d), { groups: 32, groupSize: 8 });
    assert.deepEqual(gorGroups(64, d), { groups: 16, groupSize: 4 });
    assert.deepEqual(gorGroups(4, d), { groups: 1, groupSize: 4 });
    assert.throws(() => gorGroups(3, d), /groupOrthogonality: the layer has 3 filters, fewer than minFilters = 4/);
    assert.throws(() => gorGroups(20, resolveGroupOrthogonality({ minFilters: 3 })), /20 filters are not divisible into .* = 6 groups/);
  });

  it('batched = the naive per-group loop (float64), inter and intra, tall and wide sets, Dense and conv', () => {
    const cases: { shape: number[]; groups: number; minFilters: number }[] = [
      { shape: [3, 3, 3, 64], groups: 32, minFilters: 4 }, // 16 groups of 4 filters of 27: wide sets
      { shape: [3, 16], groups: 4, minFilters: 4 }, // 4 groups of 4 filters of 3: tall inter sets
      { shape: [5, 24], groups: 8, minFilters: 2 }, // 8 groups of 3; intra sets 8 × 5 tall
      { shape: [2, 2, 2, 12], groups: 3, minFilters: 4 },
    ];
    for (const { shape, groups, minFilters } of cases) {
      const cOut = shape[shape.length - 1];
      const k = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const w = scaled(k * cOut, 31 + cOut, 0.3);
      const nEff = gorGroups(cOut, resolveGroupOrthogonality({ groups, minFilters })).groups;
      for (const variant of ['inter', 'intra'] as const) {
        const got = value(() => groupOrthogonality(tf.tensor(w, shape), { groups, minFilters, variant }));
        assertClose(got, gor64(w, k, cOut, nEff, variant), 1e-5, `[${shape.join(", ")}] ${variant}`);
      }
    }
  });

  it('is zero when each set is orthonormal: groups cut from orthogonal matrices', () => {
    // inter: 4 groups of 4 filters in R^6, each group the columns of its own Haar-orthogonal 6×4 matrix.
    const k = 6;
    const s = 4;
    const groups = 4;
    const cOut = s * groups;
    const inter = new Float32Array(k * cOut);
    for (let g = 0; g < groups; g++) {
      const q = orthogonalInit([k, s], { seed: 40 + g });
      for (let i = 0; i < k; i++) for (let j = 0; j < s; j++) inter[i * cOut + g * s + j] = q[i * s + j];
    }
    const opts = { groups, minFilters: 4 };
    assert.ok(value(() => groupOrthogonality(tf.tensor(inter, [k, cOut]), { ...opts, variant: 'inter' })) < 1e-10);
    // Independent groups are not orthogonal to each other: intra (and the whole layer) is not zero.
    assert.ok(value(() => groupOrthogonality(tf.tensor(inter, [k, cOut]), { ...opts, variant: 'intra' })) > 0.1);
    // intra: set j = {filter j of every group}, each the columns of a Haar-orthogonal 6×4 matrix.
    const intra = new Float32Array(k * cOut);
    for (let j = 0; j < s; j++) {
      const q = orthogonalInit([k, groups], { seed: 50 + j });
      for (let i = 0; i < k; i++) for (let g = 0; g < groups; g++) intra[i * cOut + g * s + j] = q[i * groups + g];
    }
    assert.ok(value(() => groupOrthogonality(tf.tensor(intra, [k, cOut]), { ...opts, variant: 'intra' })) < 1e-10);
    assert.ok(value(() => groupOrthogonality(tf.tensor(intra, [k, cOut]), { ...opts, variant: 'inter' })) > 0.1);
    // A conv kernel whose 32 filters of 3·3·4 = 36 are orthonormal: every set is.
    const conv = orthogonalInit([3, 3, 4, 32], { seed: 60 });
    for (const variant of ['inter', 'intra'] as const) {
      assert.ok(value(() => groupOrthogonality(tf.tensor(conv, [3, 3, 4, 32]), { variant })) < 1e-10, variant);
    }
  });

  it('inter is invariant to permuting groups; intra to permuting members consistently across groups', () => {
    const k = 5;
    const groups = 4;
    const s = 4;
    const cOut = groups * s;
    const w = scaled(k * cOut, 70, 0.5);
    const permuted = (columnOf: (f: number) => number) => {
      const out = new Float32Array(w.length);
      for (let i = 0; i < k; i++) for (let f = 0; f < cOut; f++) out[i * cOut + f] = w[i * cOut + columnOf(f)];
      return out;
    };
    const opts = { groups, minFilters: 4 };
    const gor = (x: Float32Array, variant: 'inter' | 'intra') => value(() => groupOrthogonality(tf.tensor(x, [k, cOut]), { ...opts, variant }));
    const groupPerm = [2, 0, 3, 1];
    const memberPerm = [3, 1, 0, 2];
    const byGroups = permuted((f) => groupPerm[Math.floor(f / s)] * s + (f % s));
    const byMembers = permuted((f) => Math.floor(f / s) * s + memberPerm[f % s]);
    assertClose(gor(byGroups, 'inter'), gor(w, 'inter'), 1e-6, 'inter, groups permuted');
    assertClose(gor(byMembers, 'intra'), gor(w, 'intra'), 1e-6, 'intra, members permuted consistently');
    // The invariances are not trivial: moving a filter to another group changes inter, and permuting
    // members differently in one group changes intra.
    const swap = permuted((f) => (f === 0 ? 4 : f === 4 ? 0 : f));
    assert.ok(Math.abs(gor(swap, 'inter') - gor(w, 'inter')) > 1e-3 * gor(w, 'inter'), 'a filter moved across groups');
    const oneGroup = permuted((f) => (f < s ? memberPerm[f] : f));
    assert.ok(Math.abs(gor(oneGroup, 'intra') - gor(w, 'intra')) > 1e-3 * gor(w, 'intra'), 'one group permuted');
  });

  it('s = 1 (intra) and N_eff = 1 (inter) are the whole-layer distance, softOrthogonality', () => {
    for (const shape of [[6, 8], [12, 4], [3, 3, 2, 8]]) {
      const w = scaled(shape.reduce((a, b) => a * b, 1), 80 + shape.length, 0.4);
      const cOut = shape[shape.length - 1];
      const whole = value(() => softOrthogonality(tf.tensor(w, shape)));
      const s1 = value(() => groupOrthogonality(tf.tensor(w, shape), { groups: cOut, minFilters: 1, variant: 'intra' }));
      const n1 = value(() => groupOrthogonality(tf.tensor(w, shape), { groups: 1, variant: 'inter' }));
      assertClose(s1, whole, 1e-5, `[${shape.join(", ")}] s = 1`);
      assertClose(n1, whole, 1e-5, `[${shape.join(", ")}] N = 1`);
    }
  });

  it('has the gradient of the float64 reference (finite differences), inter and intra', () => {
    const k = 3;
    const cOut = 8;
    const w = scaled(k * cOut, 90, 0.5);
    for (const variant of ['inter', 'intra'] as const) {
      const opts = { groups: 2, minFilters: 2, variant };
      const fd = centralDifferences((x) => gor64(x, k, cOut, 2, variant), w);
      assertArrayClose(gradient((x) => groupOrthogonality(x, opts), w, [k, cOut]), fd, 1e-4, variant);
    }
  });

  it('throws named RangeErrors for bad shapes and options', () => {
    assert.throws(() => groupOrthogonality(tf.ones([8])), /groupOrthogonality: the weight must have rank ≥ 2/);
    assert.throws(() => groupOrthogonality(tf.ones([4, 3])), /groupOrthogonality: the layer has 3 filters, fewer than minFilters = 4/);
    assert.throws(() => groupOrthogonality(tf.ones([4, 20]), { minFilters: 3 }), /not divisible/);
    assert.throws(() => groupOrthogonality(tf.ones([4, 8]), { variant: 'cross' as 'inter' }), /groupOrthogonality: variant must be one of 'inter', 'intra', got 'cross'/);
    assert.throws(() => groupOrthogonality(tf.ones([4, 8]), { groups: 0 }), /groupOrthogonality: groups must be an integer in \[1, inf\), got 0/);
    assert.throws(() => groupOrthogonality(tf.ones([4, 8]), { group: 2 } as object), /unknown option 'group'/);
  });
});

// ---------------------------------------------------------------- Lorth

describe('lorth', () => {
  it('1×1 kernels at stride 1: ‖KᵀK − I_M‖² − max(0, M − C) (row-, column-orthogonal and square cases)', () => {
    for (const [c, m] of [[6, 3], [3, 6], [4, 4]]) {
      const kernel = scaled(c * m, 100 + c, 0.5);
      const { e } = defect64(kernel, c, m); // the smaller Gram has the same defect norm as KᵀK only when C ≥ M
      // KᵀK − I_M itself, in float64:
      const full = new Float64Array(m * m);
      for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) {
        let s = 0;
        for (let i = 0; i < c; i++) s += kernel[i * m + a] * kernel[i * m + b];
        full[a * m + b] = s - (a === b ? 1 : 0);
      }
      const expected = sumSquares(full) - Math.max(0, m - c);
      assertClose(value(() => lorth(tf.tensor(kernel, [1, 1, c, m]))), expected, 1e-5, `C=${c} M=${m}`);
      if (m > c) {
        // The column-orthogonal case: ‖KᵀK − I_M‖² = ‖KKᵀ − I_C‖² + (M − C), so Lorth is soft orthogonality.
        assertClose(expected, sumSquares(e), 1e-12, `C=${c} M=${m}: Lorth = ‖KKᵀ − I‖²`);
      }
    }
  });

  it('is zero for delta-orthogonal kernels (stride 1; C = M, and C < M where δ = M − C is subtracted)', () => {
    for (const shape of [[3, 3, 8, 8], [5, 5, 4, 4], [3, 3, 4, 8]]) {
      const kernel = deltaOrthogonalInit(shape, { seed: 7 });
      const v = value(() => lorth(tf.tensor(kernel, shape)));
      assert.ok(Math.abs(v) < 1e-5, `[${shape.join(", ")}]: ${v}`);
      assertClose(lorth64(kernel, shape[0], shape[2], shape[3], 1), 0, 0, `[${shape.join(", ")}] float64`, 1e-12);
      // and not for a random kernel of the same shape
      assert.ok(value(() => lorth(tf.tensor(gaussian(kernel.length, 8), shape))) > 1, `[${shape.join(", ")}] random`);
    }
  });

  it('equals the float64 direct computation at strides 1, 2 and 3', () => {
    const cases: [number, number, number, number][] = [
      [3, 2, 5, 1],
      [3, 4, 6, 2],
      [3, 3, 12, 2], // column-orthogonal: δ = 12 − 4·3 = 0
      [3, 2, 12, 2], // δ = 12 − 8 = 4
      [5, 3, 8, 2],
      [5, 2, 6, 3],
      [3, 4, 4, 3], // ⌊(k−1)/S⌋ = 0: no padding, the centre Gram only
    ];
    for (const [k, c, m, stride] of cases) {
      const kernel = scaled(k * k * c * m, 110 + k * c * m * stride, 0.3);
      const got = value(() => lorth(tf.tensor(kernel, [k, k, c, m]), { stride }));
      assertClose(got, lorth64(kernel, k, c, m, stride), 1e-5, `k=${k} C=${c} M=${m} S=${stride}`, 1e-5);
    }
  });

  it('is ≥ −tol on random kernels (the −δ shift never makes it negative)', () => {
    let seed = 120;
    for (const [k, c, m, stride] of [[3, 2, 8, 1], [3, 1, 6, 1], [3, 2, 12, 2], [1, 2, 5, 1], [5, 1, 16, 2], [3, 4, 16, 2]]) {
      for (const std of [1e-3, 0.1, 1]) {
        const kernel = scaled(k * k * c * m, seed++, std);
        const v = value(() => lorth(tf.tensor(kernel, [k, k, c, m]), { stride }));
        // float32: the sum of squares ≈ δ minus δ; its rounding is ≈ 1e-7·δ.
        assert.ok(v >= -1e-5 * Math.max(1, m), `k=${k} C=${c} M=${m} S=${stride} std=${std}: ${v}`);
        assert.ok(lorth64(kernel, k, c, m, stride) >= -1e-12, 'float64');
      }
    }
  });

  it('tf.grad matches central differences of the float64 reference (stride 1 and 2)', () => {
    for (const [k, c, m, stride] of [[3, 2, 3, 1], [3, 2, 5, 2]]) {
      const kernel = scaled(k * k * c * m, 130 + stride, 0.4);
      const fd = centralDifferences((x) => lorth64(x, k, c, m, stride), kernel);
      assertArrayClose(gradient((x) => lorth(x, { stride }), kernel, [k, k, c, m]), fd, 1e-4, `S=${stride}`);
    }
  });

  it('throws named RangeErrors: rank, non-square, even k, impossible configurations, bad stride', () => {
    assert.throws(() => lorth(tf.ones([3, 3, 4])), /lorth: the kernel must be a 2-D convolution kernel \[k, k, in, out\], got shape \[3, 3, 4\]/);
    assert.throws(() => lorth(tf.ones([3, 5, 2, 2])), /lorth: the kernel must be square \(k × k\), got 3 × 5/);
    assert.throws(() => lorth(tf.ones([2, 2, 2, 2])), /lorth: the kernel size must be odd, got 2/);
    assert.throws(() => lorth(tf.ones([1, 1, 2, 4]), { stride: 2 }), /row-orthogonal case .* needs out ≤ in·k² = 2/);
    assert.throws(() => lorth(tf.ones([1, 1, 1, 8]), { stride: 2 }), /column-orthogonal case .* needs stride ≤ k = 1/);
    assert.throws(() => lorth(tf.ones([3, 3, 2, 2]), { stride: 0 }), /lorth: stride must be an integer in \[1, inf\), got 0/);
  });
});

// ---------------------------------------------------------------- λ-orthogonality

describe('lambdaOrthogonality (unconfirmed reading: weight·max(0, D − λ))', () => {
  const defects = ['frob', 'frobSquared', 'spectral'] as const;
  const d64 = (defect: (typeof defects)[number], w: ArrayLike<number>, fanIn: number, fanOut: number) =>
    defect === 'frob' ? Math.sqrt(soft64(w, fanIn, fanOut)) : defect === 'frobSquared' ? soft64(w, fanIn, fanOut) : spectral64(w, fanIn, fanOut).sigma;

  it('outside the ball: weight·(D − λ) against float64 D, tall and wide', () => {
    for (const [fanIn, fanOut] of [[6, 4], [4, 6]]) {
      const w = scaled(fanIn * fanOut, 140 + fanIn, 0.6);
      for (const defect of defects) {
        const d = d64(defect, w, fanIn, fanOut);
        const threshold = 0.25 * d;
        const got = value(() => lambdaOrthogonality(tf.tensor(w, [fanIn, fanOut]), { defect, threshold, weight: 0.5, powerIterations: 200 }));
        assertClose(got, 0.5 * (d - threshold), 1e-5, `${fanIn}×${fanOut} ${defect}`);
      }
    }
  });

  it('is zero, with a zero gradient, inside the λ-ball — and for orthogonal B at λ = 0', () => {
    const n = 6;
    const q = orthogonalInit([n, n], { seed: 150 });
    const noise = scaled(n * n, 151, 1e-2);
    const b = q.map((x, i) => x + noise[i]);
    for (const defect of defects) {
      const d = d64(defect, b, n, n);
      assert.ok(d > 1e-3, `${defect}: the perturbation is visible (${d})`);
      const opts = { defect, threshold: 2 * d };
      assert.equal(value(() => lambdaOrthogonality(tf.tensor(b, [n, n]), opts)), 0, defect);
      const g = gradient((x) => lambdaOrthogonality(x, opts), b, [n, n]);
      assert.ok(g.every((x) => x === 0), `${defect}: gradient inside the ball`);
      // At λ = 0: B = I exactly (D = 0, where √ has no derivative) gives 0 and a zero gradient; a
      // float32-orthogonal B a finite gradient (of norm O(1) for the non-squared defects: a norm's gradient).
      const eye = Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
      assert.equal(value(() => lambdaOrthogonality(tf.tensor(eye, [n, n]), { defect, threshold: 0 })), 0, `${defect}: B = I`);
      const gEye = gradient((x) => lambdaOrthogonality(x, { defect, threshold: 0 }), eye, [n, n]);
      assert.ok(gEye.every((x) => x === 0), `${defect}: gradient at B = I, λ = 0: ${gEye.slice(0, 4).join(', ')}`);
      const g0 = gradient((x) => lambdaOrthogonality(x, { defect, threshold: 0 }), q, [n, n]);
      assert.ok(g0.every((x) => Number.isFinite(x) && Math.abs(x) < (defect === 'frobSquared' ? 1e-5 : 10)), `${defect}: gradient at an orthogonal B, λ = 0`);
      assert.equal(value(() => lambdaOrthogonality(tf.tensor(q, [n, n]), { defect, threshold: 1e-3 })), 0, `${defect}: orthogonal B`);
    }
  });

  it('λ = 0 with frobSquared (weight 1) is softOrthogonality', () => {
    for (const shape of [[5, 3], [3, 5], [3, 3, 2, 6]]) {
      const w = scaled(shape.reduce((a, b) => a * b, 1), 160 + shape[0], 0.5);
      const a = value(() => lambdaOrthogonality(tf.tensor(w, shape), { defect: 'frobSquared', threshold: 0 }));
      assertClose(a, value(() => softOrthogonality(tf.tensor(w, shape))), 1e-6, `[${shape.join(", ")}]`);
    }
  });

  it("outside the ball the gradient is weight·∇D (closed forms in float64, and finite differences)", () => {
    const [fanIn, fanOut] = [6, 4];
    const w = scaled(fanIn * fanOut, 170, 0.6);
    const weight = 0.75;
    const soft = softGradient64(w, fanIn, fanOut);
    const frob = Math.sqrt(soft64(w, fanIn, fanOut));
    // ∇‖E‖²_F = 4W E; ∇‖E‖_F = 4W E / (2‖E‖_F); ∇σ_max(E) = W(u vᵀ + v uᵀ) for E = WᵀW − I.
    const top = spectral64(w, fanIn, fanOut);
    const spec = new Float64Array(fanIn * fanOut);
    for (let i = 0; i < fanIn; i++) {
      for (let j = 0; j < fanOut; j++) {
        let s = 0;
        for (let b = 0; b < fanOut; b++) s += w[i * fanOut + b] * (top.u[b] * top.v[j] + top.v[b] * top.u[j]);
        spec[i * fanOut + j] = s;
      }
    }
    const expected: Record<(typeof defects)[number], Float64Array> = {
      frobSquared: soft,
      frob: soft.map((x) => x / (2 * frob)),
      spectral: spec,
    };
    for (const defect of defects) {
      const fd = centralDifferences((x) => d64(defect, x, fanIn, fanOut), w);
      assertArrayClose(fd, expected[defect], 1e-6, `${defect}: finite differences vs closed form`);
      const threshold = 0.1 * d64(defect, w, fanIn, fanOut);
      const g = gradient((x) => lambdaOrthogonality(x, { defect, threshold, weight, powerIterations: 200 }), w, [fanIn, fanOut]);
      assertArrayClose(g, expected[defect].map((x) => weight * x), 1e-4, `${defect}: tf.grad`);
    }
  });

  it('requires the threshold and validates the options', () => {
    assert.throws(() => lambdaOrthogonality(tf.eye(3), {}), /lambdaOrthogonality: threshold \(λ\) is required/);
    assert.throws(() => lambdaOrthogonality(tf.eye(3), { threshold: -1 }), /threshold must be in \[0, inf\), got -1/);
    assert.throws(() => lambdaOrthogonality(tf.eye(3), { threshold: 0, defect: 'nuclear' as 'frob' }), /defect must be one of 'frob', 'frobSquared', 'spectral'/);
    assert.throws(() => lambdaOrthogonality(tf.ones([3]), { threshold: 0 }), /lambdaOrthogonality: the weight must have rank ≥ 2/);
  });
});

describe('regularizer functions and memory', () => {
  it('leave no tensor behind (value and gradient)', () => {
    const w = tf.tensor(scaled(3 * 3 * 4 * 8, 180, 0.3), [3, 3, 4, 8]);
    const before = tf.memory().numTensors;
    const fs: ((x: tf.Tensor) => tf.Scalar)[] = [
      softOrthogonality,
      (x) => groupOrthogonality(x, { variant: 'intra' }),
      (x) => lorth(x, { stride: 2 }),
      (x) => lambdaOrthogonality(x, { defect: 'spectral', threshold: 0.1 }),
      (x) => lambdaOrthogonality(x, { defect: 'frob', threshold: 0.1 }),
    ];
    for (const f of fs) {
      f(w).dispose();
      tf.grad(f)(w).dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    w.dispose();
  });
});
