/**
 * scaleBySubspaceAdam (src/transforms/subspace.ts) and the galore / onlineSubspaceDescent chains: the
 * layout (P on the smaller side), the closed-form online-PCA gradient against tf.grad, the online-PCA
 * step lowering its loss (to ≈ 0 on a rank-r gradient), updates in P's span, OSD with a fixed
 * orthonormal P = GaLore with that P, r = d with P = I = Adam, three GaLore steps against a float64
 * loop, the refreshed P against the float64 SVD subspace, seeds and an exact resume, leaks, and errors.
 * Every numeric property runs on cpu and wasm (the layout and error checks touch no kernels: cpu only).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { disposeReplaced, runTransform, tensorAt, tensorListAt, tensorsOf, tidyStep } from '../support/transforms.js';
import type { GradientTransformation, ParamMeta, StateTree } from '../../src/core/transform.js';
import {
  onlinePcaGradient,
  onlinePcaLoss,
  scaleByAdamTransformersForm,
  scaleBySubspaceAdam,
  subspaceLayout,
  type ScaleBySubspaceAdamOptions,
  type SubspaceSide,
} from '../../src/transforms/subspace.js';
import { galoreTransform, onlineSubspaceDescentTransform } from '../../src/optimizers/subspace.js';
import { householderQ64 } from '../../src/linalg/qr.js';
import { matmul64, matrix64, svd64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';

const metasOf = (shapes: number[][]): ParamMeta[] => shapes.map((shape, i) => ({ name: `p${i}`, shape }));
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The property tests run on both Node backends (wasm reductions are the less precise). */
const BACKENDS = ['cpu', 'wasm'] as const;

const base: ScaleBySubspaceAdamOptions = {
  rank: 3,
  rankFraction: null,
  projector: 'refresh',
  updateGap: 200,
  scale: 1,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-6,
  powerIters: 2,
  oversample: 5,
  seed: 0,
};

/** Row-major float64 d×r orthonormal columns (Householder Q of a Gaussian draw). */
const orthonormal = (d: number, r: number, seed: number) => householderQ64(gaussian(d * r, seed), d, r);
const identity = (d: number) => Float64Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? 1 : 0));

/** One update of `t` (in a tidy), returning its values and the new state; disposes the replaced state. */
function step(t: GradientTransformation, grads: tf.Tensor[], metas: ParamMeta[], state: StateTree, stepIndex: number) {
  const params = grads.map((g) => tf.zerosLike(g));
  const r = tidyStep(() => {
    const out = t.update(grads, state, { step: stepIndex, params, metas });
    return { next: out.updates, state: out.state };
  });
  disposeReplaced(state, r.state);
  const values = r.next.map((u) => Float32Array.from(u.dataSync()));
  tf.dispose([...r.next, ...params]);
  return { values, state: r.state };
}

/** Float64 `U·diag(s)·Vᵀ` with random orthonormal factors. */
function lowRank64(m: number, n: number, s: readonly number[], seed: number): Matrix64 {
  const k = s.length;
  const u = householderQ64(gaussian(m * k, seed), m, k);
  const v = householderQ64(gaussian(n * k, seed + 1), n, k);
  return matmul64(matrix64(m, k, Float64Array.from(u, (x, i) => x * s[i % k])), transpose64(matrix64(n, k, v)));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};
const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));

describe('subspace layout and errors', () => {
  before(() => useBackend('cpu'));

  it('puts P on the smaller side (fan-in on ties), flattening conv kernels', () => {
    const o = { rank: 2, rankFraction: null };
    assert.deepEqual(subspaceLayout([8, 32], o), { fanIn: 8, fanOut: 32, side: 'rows', d: 8, other: 32, rank: 2 });
    assert.deepEqual(subspaceLayout([32, 8], o), { fanIn: 32, fanOut: 8, side: 'cols', d: 8, other: 32, rank: 2 });
    assert.deepEqual(subspaceLayout([6, 6], o), { fanIn: 6, fanOut: 6, side: 'rows', d: 6, other: 6, rank: 2 });
    assert.deepEqual(subspaceLayout([3, 3, 4, 16], o), { fanIn: 36, fanOut: 16, side: 'cols', d: 16, other: 36, rank: 2 });
    // rankFraction: ⌈f·min⌉, at least 1
    assert.equal(subspaceLayout([16, 40], { rank: 99, rankFraction: 0.125 }).rank, 2);
    assert.equal(subspaceLayout([3, 40], { rank: 99, rankFraction: 0.01 }).rank, 1);
  });

  it('state per matrix: P d×r, moments of R’s shape (r×other or other×r), P moments only online', () => {
    const metas = metasOf([[8, 32], [32, 8]]);
    const s = scaleBySubspaceAdam({ ...base, projector: 'online' }).init(metas);
    assert.deepEqual(tensorListAt(s, 'projector').map((x) => x.shape), [[8, 3], [8, 3]]);
    assert.deepEqual(tensorListAt(s, 'mu').map((x) => x.shape), [[3, 32], [32, 3]]);
    assert.deepEqual(tensorListAt(s, 'nu').map((x) => x.shape), [[3, 32], [32, 3]]);
    assert.deepEqual(tensorListAt(s, 'projectorMu').map((x) => x.shape), [[8, 3], [8, 3]]);
    tf.dispose(tensorsOf(s));
    const g = scaleBySubspaceAdam(base).init(metas);
    assert.throws(() => tensorListAt(g, 'projectorMu'), /no such slot/);
    tf.dispose(tensorsOf(g));
  });

  it('refuses a rank above min(fanIn, fanOut), a vector and a bad initial projector, naming the parameter', () => {
    const before = tf.memory().numTensors;
    assert.throws(() => scaleBySubspaceAdam({ ...base, rank: 5, owner: 'galore' }).init(metasOf([[4, 9]])), {
      name: 'RangeError',
      message: "galore: rank 5 is more than min(fanIn, fanOut) = 4 of parameter 'p0' [4, 9]; lower the rank or route it to AdamW",
    });
    assert.throws(() => scaleBySubspaceAdam({ ...base, owner: 'galore' }).init(metasOf([[9]])), {
      name: 'RangeError',
      message: "galore: parameter 'p0' has shape [9]; a projected optimizer needs a matrix (rank >= 2). Route vectors and scalars to AdamW.",
    });
    assert.throws(() => scaleBySubspaceAdam({ ...base, initialProjector: () => [1, 2] }).init(metasOf([[4, 9]])), {
      name: 'RangeError',
      message: "subspace: initialProjector('p0') must give 12 values (shape [4, 3]), got 2",
    });
    assert.throws(() => scaleBySubspaceAdam({ ...base, initialProjector: () => new Array(12).fill(NaN) }).init(metasOf([[4, 9]])), {
      message: "subspace: initialProjector('p0') has a non-finite value at 0",
    });
    assert.equal(tf.memory().numTensors, before);
  });
});

for (const backend of BACKENDS) {
  describe(`online PCA on ${backend}`, () => {
    before(() => useBackend(backend));

    it('the closed-form ∇_P matches tf.grad of ‖PPᵀĜ − Ĝ‖² (both sides, P not orthonormal, any scale of G)', () => {
      const cases: [number, number, SubspaceSide][] = [[12, 20, 'rows'], [20, 12, 'cols'], [16, 16, 'rows']];
      for (const [m, n, side] of cases) {
        const d = side === 'rows' ? m : n;
        for (const scaleG of [1, 1e-6, 1e6]) {
          const g = tf.tensor2d(Float32Array.from(gaussian(m * n, m + n), (v) => v * scaleG), [m, n]);
          const p = tf.tensor2d(gaussian(d * 4, 3 * d), [d, 4]);
          const closed = tf.tidy(() => onlinePcaGradient(p, g, side));
          const auto = tf.tidy(() => tf.grad((x: tf.Tensor) => onlinePcaLoss(x as tf.Tensor2D, g, side))(p));
          const scaleOf = maxAbs(auto.dataSync());
          // float32: the two orders of summation differ by rounding (measured ≤ 2.5e-7 of the largest entry)
          assert.ok(maxAbsDiff(closed.dataSync(), auto.dataSync()) <= 2e-6 * scaleOf, `${m}x${n} ${side} ×${scaleG}: ${maxAbsDiff(closed.dataSync(), auto.dataSync())} vs ${scaleOf}`);
          tf.dispose([g, p, closed, auto]);
        }
      }
    });

    it('at an orthonormal P spanning G the loss and gradient vanish; a zero G gives 0, not NaN', () => {
      const exact = lowRank64(10, 14, [3, 2, 1], 5);
      const g = tf.tensor2d(Float32Array.from(exact.data), [10, 14]);
      const u = svd64(exact).u;
      const top = Float32Array.from({ length: 30 }, (_, k) => u.data[Math.floor(k / 3) * 10 + (k % 3)]);
      const p = tf.tensor2d(top, [10, 3]);
      const loss = tf.tidy(() => onlinePcaLoss(p, g, 'rows'));
      const grad = tf.tidy(() => onlinePcaGradient(p, g, 'rows'));
      assert.ok(loss.dataSync()[0] <= 1e-10, `loss ${loss.dataSync()[0]}`);
      assert.ok(maxAbs(grad.dataSync()) <= 1e-5, `grad ${maxAbs(grad.dataSync())}`);
      const zero = tf.zeros([10, 14]) as tf.Tensor2D;
      const z = tf.tidy(() => onlinePcaGradient(p, zero, 'rows'));
      assert.ok(z.dataSync().every((v) => v === 0));
      tf.dispose([g, p, loss, grad, zero, z]);
    });

    it('OSD steps on a fixed gradient lower the online-PCA loss (to ≈ 0 on a rank-r gradient), both sides', () => {
      for (const [shape, side] of [[[10, 24], 'rows'], [[24, 10], 'cols']] as [number[], SubspaceSide][]) {
        const d = side === 'rows' ? shape[0] : shape[1];
        const exact = lowRank64(shape[0], shape[1], [4, 2, 1], 8);
        const g = tf.tensor2d(Float32Array.from(exact.data), shape as [number, number]);
        const metas = metasOf([shape]);
        // a random orthonormal start (not the range finder, which is exact here), P's lr 0.02, no decay
        const t = scaleBySubspaceAdam({
          ...base,
          projector: 'online',
          projectorLearningRate: () => 0.02,
          projectorWeightDecay: 0,
          initialProjector: () => Float32Array.from(orthonormal(d, 3, 21)),
        });
        let state = t.init(metas);
        const losses: number[] = [];
        for (let k = 0; k < 300; k++) {
          const p = tensorListAt(state, 'projector')[0] as tf.Tensor2D;
          if (k % 50 === 0 || k === 299) losses.push(tf.tidy(() => onlinePcaLoss(p, g, side).dataSync()[0]));
          ({ state } = step(t, [g], metas, state, k));
        }
        assert.ok(losses[0] > 0.1, `${side}: a random start should be far off (${losses[0]})`);
        for (let k = 1; k < losses.length; k++) assert.ok(losses[k] < losses[k - 1], `${side}: loss went up: ${losses.join(', ')}`);
        // measured ≈ 1e-12 after 300 steps from ≈ 0.65
        assert.ok(losses[losses.length - 1] <= 1e-8, `${side}: final loss ${losses[losses.length - 1]} (${losses.join(', ')})`);
        tf.dispose([g, ...tensorsOf(state)]);
      }
    });
  });

  describe(`scaleBySubspaceAdam properties on ${backend}`, () => {
    before(() => useBackend(backend));

    const shapes = [[10, 24], [24, 10], [2, 3, 4, 12]];
    const metas = metasOf(shapes);
    const grads = (k: number) => shapes.map((s, i) => tf.tensor(gaussian(size(s), 50 * k + i), s));

    it('every update lies in the span of the P it used (GaLore: the refreshed P; OSD: P before its step)', () => {
      for (const projector of ['refresh', 'online'] as const) {
        const t = scaleBySubspaceAdam({ ...base, projector, updateGap: 2 });
        let state = t.init(metas);
        for (let k = 0; k < 5; k++) {
          const before = projector === 'online' && k > 0 ? tensorListAt(state, 'projector').map((p) => Float32Array.from(p.dataSync())) : null;
          const g = grads(k);
          const r = step(t, g, metas, state, k);
          state = r.state;
          const used = before ?? tensorListAt(state, 'projector').map((p) => Float32Array.from(p.dataSync()));
          shapes.forEach((shape, i) => {
            const l = subspaceLayout(shape, base);
            const p = matrix64(l.d, 3, used[i]);
            const u = matrix64(l.fanIn, l.fanOut, r.values[i]);
            // the residual of U after projecting onto P's span with P's own Gram inverse (P need not be orthonormal online)
            const oriented = l.side === 'rows' ? u : transpose64(u);
            const coeff = solveLeastSquares(p, oriented);
            const fit = matmul64(p, coeff);
            const res = maxAbsDiff(fit.data, oriented.data);
            // measured ≤ 6.3e-8 relative (float32 products)
            assert.ok(res <= 1e-6 * maxAbs(oriented.data), `${projector} step ${k} param ${i}: residual ${res} of ${maxAbs(oriented.data)}`);
          });
          tf.dispose(g);
        }
        tf.dispose(tensorsOf(state));
      }
    });

    it('OSD with a fixed orthonormal P (P’s lr 0) gives exactly GaLore’s updates with that P', () => {
      const init = (meta: ParamMeta, shape: readonly [number, number], i: number) => Float32Array.from(orthonormal(shape[0], shape[1], 90 + i));
      const galore = scaleBySubspaceAdam({ ...base, updateGap: 1e9, initialProjector: init });
      const osd = scaleBySubspaceAdam({ ...base, projector: 'online', projectorLearningRate: () => 0, initialProjector: init });
      let sg = galore.init(metas);
      let so = osd.init(metas);
      for (let k = 0; k < 5; k++) {
        const g = grads(k);
        const a = step(galore, g, metas, sg, k);
        const b = step(osd, g, metas, so, k);
        sg = a.state;
        so = b.state;
        a.values.forEach((v, i) => assert.deepEqual(Array.from(b.values[i]), Array.from(v), `step ${k} param ${i}`));
        tf.dispose(g);
      }
      tf.dispose([...tensorsOf(sg), ...tensorsOf(so)]);
    });

    it('r = d with P = I is Adam (transformers form) exactly, and within float32 rounding of a float64 Adam; OSD too with P’s decay off', () => {
      const square = metasOf([[6, 9], [9, 6]]);
      const eye = (_m: ParamMeta, shape: readonly [number, number]) => Float32Array.from(identity(shape[0]));
      const variants = [
        scaleBySubspaceAdam({ ...base, rank: 6, initialProjector: eye, updateGap: 1e9 }),
        scaleBySubspaceAdam({ ...base, rank: 6, initialProjector: eye, projector: 'online', projectorWeightDecay: 0 }),
      ];
      const adam = scaleByAdamTransformersForm(base);
      const states = variants.map((t) => t.init(square));
      let sa = adam.init(square);
      const m64 = square.map((m) => new Float64Array(size(m.shape)));
      const v64 = square.map((m) => new Float64Array(size(m.shape)));
      for (let k = 0; k < 4; k++) {
        const g = square.map((m, i) => tf.tensor(Float32Array.from(gaussian(size(m.shape), 7 * k + i), (x) => x * 10 ** (k - 2)), [...m.shape]));
        const ra = step(adam, g, square, sa, k);
        sa = ra.state;
        // float64 transformers-form Adam
        const t = k + 1;
        const stepSize = Math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t);
        const ref = g.map((x, i) => {
          const gv = x.dataSync();
          return Float64Array.from(gv, (gj, j) => {
            m64[i][j] = 0.9 * m64[i][j] + 0.1 * gj;
            v64[i][j] = 0.999 * v64[i][j] + 0.001 * gj * gj;
            return (stepSize * m64[i][j]) / (Math.sqrt(v64[i][j]) + 1e-6);
          });
        });
        ra.values.forEach((v, i) => assert.ok(maxAbsDiff(v, ref[i]) <= 1e-6 * maxAbs(ref[i]), // measured ≤ 1.4e-7
           `adam step ${k} param ${i}: ${maxAbsDiff(v, ref[i])}`));
        variants.forEach((t2, w) => {
          const r = step(t2, g, square, states[w], k);
          states[w] = r.state;
          r.values.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(ra.values[i]), `variant ${w} step ${k} param ${i}`));
        });
        tf.dispose(g);
      }
      tf.dispose([...tensorsOf(sa), ...states.flatMap((s) => tensorsOf(s))]);
    });

    it('the refreshed P spans the float64 SVD’s top-r subspace of a rank-r gradient (P orthonormal)', () => {
      for (const shape of [[10, 24], [24, 10]]) {
        const exact = lowRank64(shape[0], shape[1], [5, 3, 2], 4);
        const g = tf.tensor2d(Float32Array.from(exact.data), shape as [number, number]);
        const m = metasOf([shape]);
        const t = scaleBySubspaceAdam(base);
        const { state } = step(t, [g], m, t.init(m), 0);
        const l = subspaceLayout(shape, base);
        const p = matrix64(l.d, 3, tensorListAt(state, 'projector')[0].dataSync());
        const svd = svd64(exact);
        const basis = l.side === 'rows' ? svd.u : svd.v; // fan-in side: left vectors; fan-out side: right
        const top = matrix64(l.d, 3, Float64Array.from({ length: l.d * 3 }, (_, k) => basis.data[Math.floor(k / 3) * basis.cols + (k % 3)]));
        const pp = matmul64(p, transpose64(p));
        const uu = matmul64(top, transpose64(top));
        // measured ≤ 1.6e-7
        assert.ok(maxAbsDiff(pp.data, uu.data) <= 2e-6, `[${shape.join(", ")}]: PPᵀ vs UUᵀ ${maxAbsDiff(pp.data, uu.data)}`);
        tf.dispose([g, ...tensorsOf(state)]);
      }
    });
  });
}

/** Least-squares coefficients X of `P·X ≈ B` (P d×r full column rank) in float64 via the normal equations. */
function solveLeastSquares(p: Matrix64, b: Matrix64): Matrix64 {
  const ptp = matmul64(transpose64(p), p);
  const ptb = matmul64(transpose64(p), b);
  const r = ptp.rows;
  // Gauss–Jordan on the small r×r system
  const a = Float64Array.from(ptp.data);
  const x = Float64Array.from(ptb.data);
  const c = ptb.cols;
  for (let i = 0; i < r; i++) {
    const pivot = a[i * r + i];
    for (let j = 0; j < r; j++) a[i * r + j] /= pivot;
    for (let j = 0; j < c; j++) x[i * c + j] /= pivot;
    for (let k = 0; k < r; k++) {
      if (k === i) continue;
      const f = a[k * r + i];
      for (let j = 0; j < r; j++) a[k * r + j] -= f * a[i * r + j];
      for (let j = 0; j < c; j++) x[k * c + j] -= f * x[i * c + j];
    }
  }
  return matrix64(r, c, x);
}

const read2 = (t: tf.Tensor): Matrix64 => matrix64(t.shape[0], t.shape[1] ?? 1, t.dataSync());

/** Float64 `∇_P ‖PPᵀĜ − Ĝ‖²` (rows orientation: P d×r, G d×o) by the direct formula `2(E·ĜᵀP + Ĝ·EᵀP)`. */
function onlinePcaGradient64(p: Matrix64, g: Matrix64): Matrix64 {
  const norm = Math.sqrt(g.data.reduce((a, x) => a + x * x, 0));
  const gn = matrix64(g.rows, g.cols, Float64Array.from(g.data, (x) => (norm > 0 ? x / norm : 0)));
  const ppg = matmul64(p, matmul64(transpose64(p), gn));
  const e = matrix64(g.rows, g.cols, Float64Array.from(ppg.data, (x, i) => x - gn.data[i]));
  const first = matmul64(e, matmul64(transpose64(gn), p));
  const second = matmul64(gn, matmul64(transpose64(e), p));
  return matrix64(p.rows, p.cols, Float64Array.from(first.data, (x, i) => 2 * (x + second.data[i])));
}

for (const backend of BACKENDS) describe(`scaleBySubspaceAdam online: four OSD steps against a float64 loop (P by torch AdamW from step 2) (${backend})`, () => {
  before(() => useBackend(backend));

  it('P, its moments and the updates follow float64 (P from the range finder at step 1, lr_P 0.05, decay 0.01)', () => {
    const shapes = [[10, 24], [24, 10]];
    const metas = metasOf(shapes);
    const lrP = 0.05;
    const t = scaleBySubspaceAdam({ ...base, projector: 'online', scale: 0.5, projectorLearningRate: () => lrP, projectorWeightDecay: 0.01 });
    let state = t.init(metas);
    let p64: Matrix64[] = [];
    let start: Float64Array[] = [];
    const m64: Float64Array[] = [];
    const v64: Float64Array[] = [];
    const pm64: Float64Array[] = [];
    const pv64: Float64Array[] = [];
    for (let k = 0; k < 4; k++) {
      const g = shapes.map((sh, i) => tf.tensor(gaussian(size(sh), 30 * k + i), sh));
      const gv = g.map((x) => Float64Array.from(x.dataSync()));
      const r = step(t, g, metas, state, k);
      state = r.state;
      if (k === 0) {
        p64 = tensorListAt(state, 'projector').map((x) => read2(x));
        start = p64.map((x) => Float64Array.from(x.data));
      }
      const tt = k + 1;
      const stepSize = (0.5 * Math.sqrt(1 - 0.999 ** tt)) / (1 - 0.9 ** tt);
      shapes.forEach((shape, i) => {
        const l = subspaceLayout(shape, base);
        const gm = matrix64(l.fanIn, l.fanOut, gv[i]);
        const oriented = l.side === 'rows' ? gm : transpose64(gm); // d×o
        const p = p64[i];
        const rr = matmul64(transpose64(p), oriented); // r×o
        if (k === 0) {
          m64[i] = new Float64Array(rr.data.length);
          v64[i] = new Float64Array(rr.data.length);
          pm64[i] = new Float64Array(p.data.length);
          pv64[i] = new Float64Array(p.data.length);
        }
        const n = matrix64(rr.rows, rr.cols, Float64Array.from(rr.data, (x, j) => {
          m64[i][j] = 0.9 * m64[i][j] + 0.1 * x;
          v64[i][j] = 0.999 * v64[i][j] + 0.001 * x * x;
          return (stepSize * m64[i][j]) / (Math.sqrt(v64[i][j]) + 1e-6);
        }));
        const back = matmul64(p, n); // d×o
        const expected = l.side === 'rows' ? back : transpose64(back);
        const got = r.values[i];
        // measured ≤ 1.7e-7 relative
        assert.ok(maxAbsDiff(got, expected.data) <= 1e-6 * maxAbs(expected.data), `step ${k} param ${i}: update off by ${maxAbsDiff(got, expected.data)}`);
        if (k > 0) {
          // torch AdamW on P, its step count k (no gradient at the first step)
          const grad = onlinePcaGradient64(p, oriented);
          const bc1 = 1 - 0.9 ** k;
          const bc2 = Math.sqrt(1 - 0.999 ** k);
          p64[i] = matrix64(p.rows, p.cols, Float64Array.from(p.data, (w, j) => {
            pm64[i][j] = 0.9 * pm64[i][j] + 0.1 * grad.data[j];
            pv64[i][j] = 0.999 * pv64[i][j] + 0.001 * grad.data[j] ** 2;
            return w * (1 - lrP * 0.01) - (lrP * (pm64[i][j] / bc1)) / (Math.sqrt(pv64[i][j]) / bc2 + 1e-8);
          }));
        }
        const pGot = tensorListAt(state, 'projector')[i].dataSync();
        // P's entries are O(0.3) and move by ≈ lr_P a step; measured ≤ 1e-7 off (a step-count slip: 2e-2)
        assert.ok(maxAbsDiff(pGot, p64[i].data) <= 1e-6, `step ${k} P ${i}: off by ${maxAbsDiff(pGot, p64[i].data)}`);
      });
      tf.dispose(g);
    }
    // P moved off the range finder's basis by ≈ 3 steps of lr_P: the online steps ran
    tensorListAt(state, 'projector').forEach((x, i) => {
      const moved = maxAbsDiff(x.dataSync(), start[i]);
      assert.ok(moved > lrP && moved < 4 * lrP, `P ${i} moved by ${moved}`);
    });
    assert.equal(tensorAt(state, 'count').dataSync()[0], 4);
    tf.dispose(tensorsOf(state));
  });
});

for (const backend of BACKENDS) describe(`galore / onlineSubspaceDescent chains on ${backend}: float64 steps, seeds, resume, leaks`, () => {
  before(() => useBackend(backend));

  const SHAPES = [[10, 24], [24, 10], [2, 3, 4, 12], [5], [4, 3]];
  const grads = (_: tf.Tensor[], k: number) => SHAPES.map((s, i) => tf.tensor(gaussian(size(s), 100 * k + i), s));
  const x0 = () => SHAPES.map((s, i) => tf.tensor(gaussian(size(s), 7 + i), s));

  it('three GaLore steps (refresh at steps 0 and 2) follow a float64 loop given the refreshed P; vectors and small matrices get plain Adam', () => {
    const lr = 0.05;
    const wd = 0.1;
    const o = { learningRate: lr, weightDecay: wd, rank: 3, updateGap: 2, scale: 0.25, seed: 4 };
    const t = galoreTransform(o);
    const metas = metasOf(SHAPES);
    let params = x0();
    let state = t.init(metas);
    const p64 = params.map((p) => Float64Array.from(p.dataSync()));
    const m64: Float64Array[] = [];
    const v64: Float64Array[] = [];
    let proj: Float64Array[] = [];
    for (let k = 0; k < 3; k++) {
      const g = grads(params, k);
      const r = tidyStep(() => {
        const out = t.update(g, state, { step: k, params, metas });
        return { next: params.map((p, i) => tf.add(p, out.updates[i])), state: out.state };
      });
      const gv = g.map((x) => Float64Array.from(x.dataSync()));
      tf.dispose([...params, ...g]);
      disposeReplaced(state, r.state);
      params = r.next;
      state = r.state;
      // the matrix group is the first three parameters (state.matrix), the rest go to adamw
      if (k === 0 || k === 2) proj = tensorListAt(state, 'matrix', 0, 'projector').map((p) => Float64Array.from(p.dataSync()));
      const tt = k + 1;
      const stepSize = Math.sqrt(1 - 0.999 ** tt) / (1 - 0.9 ** tt);
      SHAPES.forEach((shape, i) => {
        let dir: Float64Array;
        if (i < 3) {
          const l = subspaceLayout(shape, { rank: 3, rankFraction: null });
          const gm = matrix64(l.fanIn, l.fanOut, gv[i]);
          const p = matrix64(l.d, 3, proj[i]);
          const rr = l.side === 'rows' ? matmul64(transpose64(p), gm) : matmul64(gm, p);
          if (k === 0) {
            m64[i] = new Float64Array(rr.data.length);
            v64[i] = new Float64Array(rr.data.length);
          }
          const n = matrix64(rr.rows, rr.cols, Float64Array.from(rr.data, (x, j) => {
            m64[i][j] = 0.9 * m64[i][j] + 0.1 * x;
            v64[i][j] = 0.999 * v64[i][j] + 0.001 * x * x;
            return (stepSize * m64[i][j]) / (Math.sqrt(v64[i][j]) + 1e-6);
          }));
          const back = l.side === 'rows' ? matmul64(p, n) : matmul64(n, transpose64(p));
          dir = Float64Array.from(back.data, (x) => 0.25 * x);
        } else {
          if (k === 0) {
            m64[i] = new Float64Array(gv[i].length);
            v64[i] = new Float64Array(gv[i].length);
          }
          dir = Float64Array.from(gv[i], (x, j) => {
            m64[i][j] = 0.9 * m64[i][j] + 0.1 * x;
            v64[i][j] = 0.999 * v64[i][j] + 0.001 * x * x;
            return (stepSize * m64[i][j]) / (Math.sqrt(v64[i][j]) + 1e-6);
          });
        }
        p64[i] = Float64Array.from(p64[i], (w, j) => w - lr * (dir[j] + wd * w));
        const got = params[i].dataSync();
        // measured ≤ 3e-7 (weights of size ≈ 1–3; a wrong P, β or ε moves them by ≳ 1e-4)
        assert.ok(maxAbsDiff(got, p64[i]) <= 2e-6 * Math.max(1, maxAbs(p64[i])), `step ${k} param ${i}: ${maxAbsDiff(got, p64[i])}`);
      });
    }
    // the [4, 3] matrix (min side 3 ≤ rank 3) and the vector went to plain Adam
    assert.equal(tensorListAt(state, 'adamw', 0, 'mu').length, 2);
    assert.equal(tensorAt(state, 'matrix', 0, 'count').dataSync()[0], 3);
    tf.dispose([...params, ...tensorsOf(state)]);
  });

  it('the same seed gives the same run bit for bit, another seed another run', () => {
    const run = (seed: number) => {
      const start = x0();
      const { history } = runTransform(galoreTransform({ rank: 3, updateGap: 2, seed }), start, grads, 4);
      tf.dispose(start);
      return history[3].map((p) => Array.from(p));
    };
    const a = run(3);
    assert.deepEqual(run(3), a);
    assert.notDeepEqual(run(4), a);
  });

  for (const [name, make] of [
    ['galore', (seed: number) => galoreTransform({ rank: 3, updateGap: 2, seed, weightDecay: 0.01 })],
    ['onlineSubspaceDescent', (seed: number) => onlineSubspaceDescentTransform({ rank: 3, updateGap: 2, seed })],
  ] as const) {
    it(`${name}: resuming from the state saved after 3 steps continues the run exactly, with the saved seed (not the new option)`, () => {
      const metas = metasOf(SHAPES);
      const stepOnce = (t: GradientTransformation, params: tf.Tensor[], state: StateTree, k: number) => {
        const r = tidyStep(() => {
          const out = t.update(grads(params, k), state, { step: k, params, metas });
          return { next: params.map((p, i) => tf.add(p, out.updates[i])), state: out.state };
        });
        tf.dispose(params);
        disposeReplaced(state, r.state);
        return r;
      };
      const t1 = make(11);
      let p1 = x0();
      let s1 = t1.init(metas);
      for (let k = 0; k < 6; k++) ({ next: p1, state: s1 } = stepOnce(t1, p1, s1, k));
      const t2 = make(11);
      let p2 = x0();
      let s2 = t2.init(metas);
      for (let k = 0; k < 3; k++) ({ next: p2, state: s2 } = stepOnce(t2, p2, s2, k));
      assert.equal(tensorAt(s2, 'matrix', 0, 'count').dataSync()[0], 3);
      assert.equal(tensorAt(s2, 'matrix', 0, 'seed').dataSync()[0], 11);
      const saved = tensorsOf(s2).map((x) => ({ values: Float32Array.from(x.dataSync()), shape: x.shape }));
      const savedParams = p2.map((x) => ({ values: Float32Array.from(x.dataSync()), shape: x.shape }));
      tf.dispose([...tensorsOf(s2), ...p2]);
      // a transform made with another seed: the restored state's seed wins (the refresh at step 4 draws from 11)
      const t3 = make(99);
      const fresh = t3.init(metas);
      const slots = tensorsOf(fresh);
      assert.equal(slots.length, saved.length);
      let j = 0;
      const restore = (node: StateTree): StateTree => {
        if (node instanceof tf.Tensor) {
          const v = saved[j++];
          return tf.tensor(v.values, v.shape);
        }
        if (Array.isArray(node)) return node.map(restore);
        if (node === null) return null;
        return Object.fromEntries(Object.entries(node).map(([key, x]) => [key, restore(x)]));
      };
      let s3 = restore(fresh);
      tf.dispose(slots);
      let p3 = savedParams.map((x) => tf.tensor(x.values, x.shape));
      for (let k = 3; k < 6; k++) ({ next: p3, state: s3 } = stepOnce(t3, p3, s3, k));
      p3.forEach((p, i) => assert.deepEqual(Array.from(p.dataSync()), Array.from(p1[i].dataSync()), `param ${i}`));
      tf.dispose([...p1, ...p3, ...tensorsOf(s1), ...tensorsOf(s3)]);
    });

    it(`${name}: leaks no tensors over 10 steps (refreshes included)`, () => {
      const start = x0();
      const before = tf.memory().numTensors;
      const { state } = runTransform(make(2), start, grads, 10);
      assert.equal(tf.memory().numTensors, before + tensorsOf(state).length);
      tf.dispose([...start, ...tensorsOf(state)]);
    });
  }
});
