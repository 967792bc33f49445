/**
 * DCT bases and column selection (src/linalg/dct.ts) against the spec's properties
 * (../shared/specs/seed-methods.md B5) and float64 references written here:
 * - the basis equals the float64 DCT-II formula and is orthonormal (float64 to 1e-14, float32 to 1e-6);
 * - it is cached per n (one tensor, kept out of tidies) and clearDctCache releases it;
 * - selection picks the r largest ℓ1 (or ℓ2) column/row norms of A·Q / Qᵀ·A, in ascending order, and the
 *   projected matrix equals A·Q[:, idx] in float64;
 * - r = n reconstructs A; a combination of r DCT columns is projected losslessly;
 * - the rotation R = Q[:, prev]ᵀQ[:, cur] is the 0/1 matching of shared indices; named errors; no leaks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose } from '../support/transforms.js';
import {
  backprojectDct,
  cachedDctSizes,
  clearDctCache,
  dctBasis,
  dctMatrix64,
  dctRotation,
  projectDct,
  selectDctColumns,
} from '../../src/linalg/dct.js';

/** The property tests run on both Node backends (wasm reductions are the less precise). */
const BACKENDS = ['cpu', 'wasm'] as const;

/** The textbook orthonormal DCT-II entry, written independently of the library (cos of the angle, ortho scaling). */
function dctEntry(k: number, j: number, n: number): number {
  const alpha = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
  return alpha * Math.cos((Math.PI / n) * (j + 0.5) * k);
}

/** Row-major float64 product of an a×b and a b×c matrix. */
function mm(x: ArrayLike<number>, y: ArrayLike<number>, a: number, b: number, c: number): Float64Array {
  const out = new Float64Array(a * c);
  for (let i = 0; i < a; i++) for (let k = 0; k < b; k++) for (let j = 0; j < c; j++) out[i * c + j] += x[i * b + k] * y[k * c + j];
  return out;
}
function tr(x: ArrayLike<number>, a: number, b: number): Float64Array {
  const out = new Float64Array(a * b);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = x[i * b + j];
  return out;
}
function maxOffIdentity(x: ArrayLike<number>, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m = Math.max(m, Math.abs(x[i * n + j] - (i === j ? 1 : 0)));
  return m;
}

for (const backend of BACKENDS) describe(`dct basis (${backend})`, () => {
  before(() => useBackend(backend));
  after(() => clearDctCache());

  it('equals the float64 DCT-II formula and is orthonormal in float64 (1e-14)', () => {
    for (const n of [1, 2, 5, 16, 33]) {
      const q = dctMatrix64(n);
      // the two ways of writing the angle (up to π·n) round differently by a few ulps of the angle: ≤ 1e-14
      for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) assert.ok(Math.abs(q[k * n + j] - dctEntry(k, j, n)) < 1e-14, `n=${n} [${k},${j}]`);
      assert.ok(maxOffIdentity(mm(tr(q, n, n), q, n, n, n), n) < 1e-14, `QᵀQ, n=${n}`);
      assert.ok(maxOffIdentity(mm(q, tr(q, n, n), n, n, n), n) < 1e-14, `QQᵀ, n=${n}`);
    }
    // n = 4 by hand: row 0 is 1/2 everywhere, row 2 is ±1/2 with the pattern + − − +
    const q4 = dctMatrix64(4);
    assertClose(q4.slice(0, 4), [0.5, 0.5, 0.5, 0.5], 1e-15, 'row 0');
    assertClose(q4.slice(8, 12), [0.5, -0.5, -0.5, 0.5], 1e-15, 'row 2');
    assertClose([q4[4]], [Math.sqrt(0.5) * Math.cos(Math.PI / 8)], 1e-15, 'Q[1,0]');
  });

  it('the float32 basis is orthonormal to 1e-6 and within float32 rounding of the float64 matrix', () => {
    for (const n of [8, 64, 128]) {
      const q = dctBasis(n);
      assert.deepEqual(q.shape, [n, n]);
      assert.equal(q.dtype, 'float32');
      const v = q.dataSync();
      const ref = dctMatrix64(n);
      for (let i = 0; i < n * n; i++) assert.ok(Math.abs(v[i] - ref[i]) <= 6e-8, `n=${n} entry ${i}: ${v[i]} vs ${ref[i]}`);
      // the products in float64 of the float32 entries: only the entries' rounding is measured
      assert.ok(maxOffIdentity(mm(tr(v, n, n), v, n, n, n), n) < 1e-6, `QᵀQ n=${n}`);
      // and the tfjs float32 product too
      const qtq = tf.tidy(() => tf.matMul(tf.transpose(q), q).dataSync());
      assert.ok(maxOffIdentity(qtq, n) < 1e-6, `tfjs QᵀQ n=${n}: ${maxOffIdentity(qtq, n)}`);
    }
  });

  it('is cached per n: one tensor, kept out of tidies, released by clearDctCache', () => {
    clearDctCache();
    const before0 = tf.memory().numTensors;
    const inside = tf.tidy(() => {
      const q = dctBasis(12);
      return q.shape[0];
    });
    assert.equal(inside, 12);
    assert.equal(tf.memory().numTensors, before0 + 1, 'the basis survives the tidy, once');
    const again = dctBasis(12);
    assert.equal(again, dctBasis(12));
    assert.equal(tf.memory().numTensors, before0 + 1, 'a second call makes no tensor');
    dctBasis(7);
    assert.deepEqual(cachedDctSizes(), [7, 12]);
    clearDctCache();
    assert.deepEqual(cachedDctSizes(), []);
    assert.equal(tf.memory().numTensors, before0, 'clearDctCache disposes every basis');
    assert.ok(again.isDisposed);
    // a disposed basis is rebuilt
    const fresh = dctBasis(12);
    assert.ok(!fresh.isDisposed);
    clearDctCache();
  });

  it('rejects a size that is not a positive integer, by name', () => {
    assert.throws(() => dctBasis(0), { name: 'RangeError', message: 'dct: the basis size must be an integer ≥ 1, got 0' });
    assert.throws(() => dctMatrix64(2.5), { name: 'RangeError', message: 'dct: the basis size must be an integer ≥ 1, got 2.5' });
  });
});

for (const backend of BACKENDS) describe(`selectDctColumns (${backend})`, () => {
  before(() => useBackend(backend));
  after(() => clearDctCache());

  /** float64 scores of S = A·Q (columns: ℓp over rows) or Qᵀ·A (rows: ℓp over columns). */
  function scores64(a: Float32Array, rows: number, cols: number, side: 'columns' | 'rows', p: 1 | 2) {
    const n = side === 'columns' ? cols : rows;
    const q = dctMatrix64(n);
    const s = side === 'columns' ? mm(a, q, rows, cols, n) : mm(tr(q, n, n), a, n, rows, cols);
    const sc = new Float64Array(n);
    if (side === 'columns') for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) sc[j] += p === 1 ? Math.abs(s[i * n + j]) : s[i * n + j] ** 2;
    else for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) sc[i] += p === 1 ? Math.abs(s[i * cols + j]) : s[i * cols + j] ** 2;
    return { s, sc: p === 2 ? sc.map(Math.sqrt) : sc, q };
  }
  const topAscending = (sc: Float64Array, r: number) => Array.from(sc.keys()).sort((x, y) => sc[y] - sc[x]).slice(0, r).sort((x, y) => x - y);

  for (const [side, rows, cols] of [['columns', 9, 6], ['rows', 5, 11]] as const) {
    for (const p of [1, 2] as const) {
      it(`${side}, ℓ${p}: the r largest scores of the float64 similarities, ascending, and the projected matrix`, () => {
        const a = gaussian(rows * cols, 31 + p);
        const n = side === 'columns' ? cols : rows;
        const r = 3;
        const { s, sc } = scores64(a, rows, cols, side, p);
        const want = topAscending(sc, r);
        // the choice is clear-cut (no near ties at float32 precision)
        const sorted = Array.from(sc).sort((x, y) => y - x);
        assert.ok(sorted[r - 1] - sorted[r] > 1e-3 * sorted[0], 'test data has a near tie');
        const got = tf.tidy(() => {
          const sel = selectDctColumns(tf.tensor2d(a, [rows, cols]), dctBasis(n), r, side, p);
          return { idx: Array.from(sel.indices.dataSync()), proj: sel.projected.dataSync(), shape: sel.projected.shape, dtype: sel.indices.dtype };
        });
        assert.deepEqual(got.idx, want);
        assert.equal(got.dtype, 'int32');
        const wantProj: number[] = [];
        if (side === 'columns') {
          assert.deepEqual(got.shape, [rows, r]);
          for (let i = 0; i < rows; i++) for (const j of want) wantProj.push(s[i * n + j]);
        } else {
          assert.deepEqual(got.shape, [r, cols]);
          for (const i of want) for (let j = 0; j < cols; j++) wantProj.push(s[i * cols + j]);
        }
        assertClose(got.proj, wantProj, 1e-5, 'projected');
      });
    }
  }

  it('picks the largest-energy DCT columns of a planted gradient, and projects it losslessly', () => {
    // A = Σ c_k·u_k·Q[:, j_k]ᵀ over j = {1, 4, 6} of an 8-wide basis: exactly three columns carry energy
    const rows = 10;
    const n = 8;
    const q = dctMatrix64(n);
    const planted = [1, 4, 6];
    const u = gaussian(rows * planted.length, 77);
    const a = new Float32Array(rows * n);
    for (let i = 0; i < rows; i++) for (let t = 0; t < planted.length; t++) for (let j = 0; j < n; j++) a[i * n + j] += (t + 1) * u[i * 3 + t] * q[j * n + planted[t]];
    const out = tf.tidy(() => {
      const basis = dctBasis(n);
      const at = tf.tensor2d(a, [rows, n]);
      const sel = selectDctColumns(at, basis, 3, 'columns');
      const back = backprojectDct(sel.projected, basis, sel.indices, 'columns');
      const again = projectDct(at, basis, sel.indices, 'columns');
      return { idx: Array.from(sel.indices.dataSync()), back: back.dataSync(), proj: sel.projected.dataSync(), again: again.dataSync() };
    });
    assert.deepEqual(out.idx, planted);
    assertClose(out.back, a, 1e-5, 'A_low = A');
    assertClose(out.again, out.proj, 1e-5, 'projectDct = the selection');
  });

  it('r = n reconstructs any matrix (both sides)', () => {
    for (const [side, rows, cols] of [['columns', 7, 5], ['rows', 4, 9]] as const) {
      const a = gaussian(rows * cols, 5);
      const n = side === 'columns' ? cols : rows;
      const back = tf.tidy(() => {
        const basis = dctBasis(n);
        const sel = selectDctColumns(tf.tensor2d(a, [rows, cols]), basis, n, side);
        assert.deepEqual(Array.from(sel.indices.dataSync()), Array.from({ length: n }, (_, i) => i));
        return backprojectDct(sel.projected, basis, sel.indices, side).dataSync();
      });
      assertClose(back, a, 2e-6, `${side} reconstruction`);
    }
  });

  it('the rotation is Q[:, prev]ᵀQ[:, cur] of the float64 basis: 1 on shared indices, 0 elsewhere, exactly', () => {
    const n = 9;
    const prev = [0, 2, 5, 7];
    const cur = [1, 2, 6, 7];
    const r = tf.tidy(() => dctRotation(tf.tensor1d(prev, 'int32'), tf.tensor1d(cur, 'int32')).dataSync());
    const q = dctMatrix64(n);
    const product: number[] = [];
    for (const i of prev) for (const j of cur) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += q[k * n + i] * q[k * n + j];
      product.push(dot);
    }
    assertClose(r, product, 1e-14, 'R vs the float64 product');
    assert.deepEqual(Array.from(r), [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('names a bad rank or basis size', () => {
    tf.tidy(() => {
      const a = tf.zeros([4, 6]) as tf.Tensor2D;
      assert.throws(() => selectDctColumns(a, dctBasis(6), 0, 'columns'), { name: 'RangeError', message: 'selectDctColumns: rank must be an integer in [1, 6], got 0' });
      assert.throws(() => selectDctColumns(a, dctBasis(6), 7, 'columns'), /rank must be an integer in \[1, 6\], got 7/);
      assert.throws(() => selectDctColumns(a, dctBasis(6), 2.5, 'columns'), /got 2\.5/);
      assert.throws(() => selectDctColumns(a, dctBasis(6), 2, 'rows'), { name: 'RangeError', message: 'selectDctColumns: the basis must be 4×4 for a 4×6 matrix (rows), got 6×6' });
    });
  });

  it('leaks nothing beyond the cached basis', () => {
    dctBasis(6);
    const a = tf.tensor2d(gaussian(24, 3), [4, 6]);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        const sel = selectDctColumns(a, dctBasis(6), 2, 'columns');
        backprojectDct(sel.projected, dctBasis(6), sel.indices, 'columns');
        dctRotation(sel.indices, sel.indices);
      });
    }
    assert.equal(tf.memory().numTensors, count);
    a.dispose();
  });
});
