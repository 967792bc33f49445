/**
 * Subset-Norm and Subspace-Momentum (src/transforms/subsetNorm.ts, recipes in src/optimizers/subsetNorm.ts)
 * against a float64 GenericOptim written here in the reference's own torch layout `[fanOut, fanIn]`
 * (timmytonga/sn-sm GenericOptim.py, subset_norm.py, subspace_momentum.py — including the refresh step that
 * still uses the old momentum), and the spec's properties (../shared/specs/seed-methods.md B6):
 * - layouts: divisors rounded down, −c, heuristics accumulators on the longer side, k = 1 elementwise;
 * - AdamSN and AdamSNSM params after each step vs float64 (heuristics, k, −c, β₂ = 1, topk/dct
 *   projectors, the three reset modes, weight decay after the step);
 * - SN with k = 1 is GenericOptim's Adam; one subset is a single scalar per tensor;
 * - SM: full-rank orthonormal P = EMA momentum; rank 0 = SGD; the complement of P carries g exactly;
 *   m̂ = 0 after a refresh ('afterStep'); resume from a copied state; no leaks; named errors.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, disposeReplaced, nodeAt, runTransform, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';

/** A per-parameter slot whose entries may be null (vectors keep no indices; rank 0 keeps no matrix momentum). */
const slotAt = (s: StateTree, ...path: (string | number)[]) => nodeAt(s, ...path) as (tf.Tensor | null)[];
import type { ParamMeta, StateTree } from '../../src/core/transform.js';
import { clearDctCache, dctMatrix64 } from '../../src/linalg/dct.js';
import { emaMomentum } from '../../src/transforms/momentum.js';
import {
  closestSmallerDivisor,
  subsetNormLayout,
  subspaceEmaMomentum,
  type MomentumReset,
  type SubsetSize,
  type SubspaceMomentumOptions,
} from '../../src/transforms/subsetNorm.js';
import { subsetNormTransform, subspaceMomentumTransform } from '../../src/optimizers/subsetNorm.js';

/** The property tests run on both Node backends (wasm reductions are the less precise). */
const BACKENDS = ['cpu', 'wasm'] as const;

// ------------------------------------------------------------------ float64 GenericOptim, torch layout

interface Ref64Options {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
  correctBias: boolean;
  /** null: Adam's elementwise EMA (a group without subset_size). */
  subset: SubsetSize | null;
  /** null: EMA momentum (a group without rank). */
  sm: { rank: number; gap: number; proj: 'topk' | 'dct'; reset: MomentumReset } | null;
}

/** One parameter of GenericOptim(momentum 'sm' or 'ema', second moment 'sn' or 'ema'), row-major torch layout m×n. */
class GenericOptim64 {
  step = 0;
  v: Float64Array;
  mState: Float64Array | null = null;
  idx: number[] = [];
  constructor(readonly m: number, readonly n: number, readonly o: Ref64Options) {
    this.v = new Float64Array(this.stateSize());
  }
  private subsetShape(): [number, number] {
    const numel = this.m * this.n;
    const s = this.o.subset as number;
    const want = s > 0 ? s : Math.floor(Math.sqrt(numel) / Math.abs(s));
    let k = Math.min(want, numel);
    while (numel % k !== 0) k--;
    return [numel / k, k];
  }
  private stateSize(): number {
    if (this.o.subset === null) return this.m * this.n;
    if (this.o.subset === 'heuristics') return this.m >= this.n ? this.m : this.n;
    return this.subsetShape()[0];
  }
  /** subset_norm.py: the denominator, one value per coordinate (broadcast). */
  private denominator(g: Float64Array): Float64Array | null {
    const { o, m, n } = this;
    if (o.beta2 === 0) return null;
    const upd = new Float64Array(this.v.length);
    const of = new Int32Array(m * n); // which accumulator each coordinate uses
    if (o.subset === null) {
      g.forEach((x, i) => ((upd[i] = x * x), (of[i] = i)));
    } else if (o.subset === 'heuristics') {
      const reduceDim = m >= n ? 0 : 1; // sum over dim 1 − reduceDim
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        const a = reduceDim === 0 ? i : j;
        upd[a] += g[i * n + j] ** 2;
        of[i * n + j] = a;
      }
    } else {
      const [, k] = this.subsetShape();
      g.forEach((x, i) => ((upd[Math.floor(i / k)] += x * x), (of[i] = Math.floor(i / k))));
    }
    this.v = this.v.map((x, a) => (o.beta2 < 1 ? o.beta2 * x + (1 - o.beta2) * upd[a] : x + upd[a]));
    return Float64Array.from(of, (a) => Math.sqrt(this.v[a]) + o.eps);
  }
  /** subspace_momentum.py (with the selection projectors of the spec) or the EMA. */
  private numerator(g: Float64Array): Float64Array {
    const { o, m, n } = this;
    if (o.sm === null) {
      this.mState ??= new Float64Array(m * n);
      this.mState = this.mState.map((x, i) => o.beta1 * x + (1 - o.beta1) * g[i]);
      return this.mState;
    }
    const right = m >= n; // GaLore-style: project the columns of a tall torch weight
    const size = right ? n : m;
    const r = Math.min(o.sm.rank, size);
    const other = right ? m : n;
    const q = dctMatrix64(size);
    const refresh = this.step === 1 || this.step % o.sm.gap === 0;
    if (refresh) {
      const sc = new Float64Array(size);
      if (o.sm.proj === 'topk') {
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) sc[right ? j : i] += g[i * n + j] ** 2;
      } else {
        // ℓ1 norms of the columns of g·Q (right) or rows of Qᵀg (left)
        for (let a = 0; a < other; a++) for (let c = 0; c < size; c++) {
          let s = 0;
          for (let k = 0; k < size; k++) s += (right ? g[a * n + k] : g[k * n + a]) * q[k * size + c];
          sc[c] += Math.abs(s);
        }
      }
      const order = Array.from(sc.keys()).sort((x, y) => sc[y] - sc[x]);
      if (r < size && Math.abs(sc[order[r - 1]] - sc[order[r]]) < 1e-4 * sc[order[0]]) throw new Error('test data: near tie');
      this.idx = order.slice(0, r).sort((x, y) => x - y);
    }
    // project: entries (a, c) for a over the other side and c over the r chosen directions
    const at = (a: number, k: number) => (right ? g[a * n + k] : g[k * n + a]);
    const proj = new Float64Array(other * r);
    for (let a = 0; a < other; a++) this.idx.forEach((c, t) => {
      if (o.sm!.proj === 'topk') proj[a * r + t] = at(a, c);
      else for (let k = 0; k < size; k++) proj[a * r + t] += at(a, k) * q[k * size + c];
    });
    this.mState ??= new Float64Array(other * r);
    let local = this.mState;
    const restart = this.step > 1 && this.step % o.sm.gap === 0;
    if (restart && o.sm.reset === 'beforeStep') local = new Float64Array(other * r);
    local = local.map((x, i) => o.beta1 * x + (1 - o.beta1) * proj[i]);
    this.mState = restart && o.sm.reset === 'afterStep' ? new Float64Array(other * r) : local;
    // numerator = back(local) + g − back(proj)
    const out = Float64Array.from(g);
    for (let a = 0; a < other; a++) this.idx.forEach((c, t) => {
      const d = local[a * r + t] - proj[a * r + t];
      for (let k = 0; k < size; k++) {
        const w = o.sm!.proj === 'topk' ? (k === c ? 1 : 0) : q[k * size + c];
        if (w !== 0) out[right ? a * n + k : k * n + a] += d * w;
      }
    });
    return out;
  }
  update(p: Float64Array, g: Float64Array): Float64Array {
    const { o } = this;
    this.step += 1;
    const num = this.numerator(g);
    const den = this.denominator(g);
    let stepSize = o.lr;
    if (o.correctBias) stepSize = (stepSize * (o.beta2 === 1 ? 1 : Math.sqrt(1 - o.beta2 ** this.step))) / (1 - o.beta1 ** this.step);
    const next = Float64Array.from(p, (x, i) => x - stepSize * (den === null ? num[i] : num[i] / den[i]));
    return next.map((x) => x - o.lr * o.wd * x);
  }
}

const tr = (x: ArrayLike<number>, a: number, b: number) => {
  const out = new Float64Array(a * b);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = x[i * b + j];
  return out;
};
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const metasOf = (shapes: number[][]): ParamMeta[] => shapes.map((shape, i) => ({ name: `p${i}`, shape }));
const gradsAt = (shapes: number[][], seed: number) => (step: number) => shapes.map((s, i) => Float32Array.from(gaussian(sizeOf(s), seed + 131 * step + i), (x) => x * (1 + 0.3 * step)));

/** Params after each step of the float64 reference; TensorFlow.js shapes are [fanIn, fanOut] = torch transposed. */
function reference(shapes: number[][], o: Ref64Options, x0: Float32Array[], grads: (k: number) => Float32Array[], steps: number) {
  const refs = shapes.map((s) => (s.length === 2 ? new GenericOptim64(s[1], s[0], o) : new GenericOptim64(1, s[0], { ...o, subset: null, sm: null })));
  let w: Float64Array[] = shapes.map((s, i) => (s.length === 2 ? tr(x0[i], s[0], s[1]) : Float64Array.from(x0[i])));
  const history: Float64Array[][] = [];
  for (let k = 0; k < steps; k++) {
    const g = grads(k);
    w = w.map((p, i) => refs[i].update(p, shapes[i].length === 2 ? tr(g[i], shapes[i][0], shapes[i][1]) : Float64Array.from(g[i])));
    history.push(w.map((p, i) => (shapes[i].length === 2 ? tr(p, shapes[i][1], shapes[i][0]) : p)));
  }
  return { history, refs };
}

const SHAPES = [[5, 8], [9, 6], [6]];
const defaults: Ref64Options = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-6, wd: 0, correctBias: true, subset: 'heuristics', sm: null };

describe('subsetNormLayout', () => {
  it('rounds k down to a divisor of numel; −c is ⌊√numel/c⌋; heuristics keep the longer side; k = 1 is elementwise', () => {
    assert.equal(closestSmallerDivisor(40, 7), 5);
    assert.equal(closestSmallerDivisor(40, 8), 8);
    assert.equal(closestSmallerDivisor(13, 12), 1);
    assert.equal(closestSmallerDivisor(12, 50), 12);
    assert.deepEqual(subsetNormLayout([5, 8], 7), { kind: 'subsets', subsetSize: 5, stateShape: [8, 1] });
    // √54 = 7.35 → 7 → 6 (a divisor of 54); −2: ⌊7.35/2⌋ = 3
    assert.deepEqual(subsetNormLayout([9, 6], -1), { kind: 'subsets', subsetSize: 6, stateShape: [9, 1] });
    assert.deepEqual(subsetNormLayout([9, 6], -2), { kind: 'subsets', subsetSize: 3, stateShape: [18, 1] });
    // heuristics: [fanIn, fanOut] with fanOut ≥ fanIn sums over fan-in, one accumulator per output
    assert.deepEqual(subsetNormLayout([5, 8], 'heuristics'), { kind: 'heuristics', axis: 0, stateShape: [1, 8] });
    assert.deepEqual(subsetNormLayout([9, 6], 'heuristics'), { kind: 'heuristics', axis: 1, stateShape: [9, 1] });
    assert.deepEqual(subsetNormLayout([4, 4], 'heuristics'), { kind: 'heuristics', axis: 0, stateShape: [1, 4] });
    assert.deepEqual(subsetNormLayout([5, 8], 1), { kind: 'elementwise', stateShape: [5, 8] });
    assert.deepEqual(subsetNormLayout([13, 1], 6), { kind: 'elementwise', stateShape: [13, 1] });
    for (const s of [[6], [2, 2, 3, 4], [0, 4]]) assert.deepEqual(subsetNormLayout(s, 'heuristics'), { kind: 'elementwise', stateShape: s });
  });
});

for (const backend of BACKENDS) describe(`AdamSN / AdamSNSM vs a float64 GenericOptim (${backend})`, () => {
  before(() => useBackend(backend));
  after(() => clearDctCache());

  const run = (make: () => ReturnType<typeof subsetNormTransform>, o: Ref64Options, steps: number, seed: number, shapes = SHAPES, tol = 2e-6) => {
    const x0 = shapes.map((s, i) => gaussian(sizeOf(s), seed + 1000 + i));
    const grads = gradsAt(shapes, seed);
    const want = reference(shapes, o, x0, grads, steps);
    const got = runTransform(make(), x0.map((x, i) => tf.tensor(x, shapes[i])), (_p, k) => grads(k).map((g, i) => tf.tensor(g, shapes[i])), steps);
    for (let k = 0; k < steps; k++) for (let i = 0; i < shapes.length; i++) assertClose(got.history[k][i], want.history[k][i], tol, `step ${k + 1} param ${i}`);
    return { state: got.state, refs: want.refs };
  };

  for (const [what, subset] of [['heuristics', 'heuristics'], ['k = 4', 4], ['k = −1 (√numel)', -1], ['k = 1 (Adam)', 1], ['one subset (k = numel)', 100]] as const) {
    it(`AdamSN, ${what}: 3 steps`, () => {
      const r = run(() => subsetNormTransform({ learningRate: 0.01, subsetSize: subset }), { ...defaults, subset }, 3, 3);
      if (subset === 100) {
        // one scalar per matrix; the shapes are the state's
        assert.deepEqual(tensorListAt(r.state, 0, 'nu').map((v) => v.shape), [[1, 1], [1, 1], [6]]);
      }
      tf.dispose(tensorsOf(r.state));
    });
  }

  it('AdamSN with β₂ = 1 (AdaGrad sums), weight decay after the step, no bias correction', () => {
    const r1 = run(() => subsetNormTransform({ learningRate: 0.01, beta2: 1, weightDecay: 0.5 }), { ...defaults, beta2: 1, wd: 0.5 }, 3, 5);
    const r2 = run(() => subsetNormTransform({ learningRate: 0.01, correctBias: false, beta1: 0.5 }), { ...defaults, correctBias: false, beta1: 0.5 }, 3, 6);
    tf.dispose([...tensorsOf(r1.state), ...tensorsOf(r2.state)]);
  });

  const smCases: [string, Partial<Ref64Options['sm'] & object>, SubsetSize, number][] = [
    ['topk, gap 1', { gap: 1 }, 'heuristics', 3],
    ['topk, gap 2, the reference reset (after the refresh step)', { gap: 2 }, 'heuristics', 5],
    ['topk, gap 2, reset before the step', { gap: 2, reset: 'beforeStep' }, 4, 5],
    ['topk, gap 2, no reset (overlap_state)', { gap: 2, reset: 'none' }, -1, 5],
    ['dct, gap 3', { gap: 3, proj: 'dct' }, 'heuristics', 4],
    ['topk with Adam’s denominator (k = 1)', { gap: 2 }, 1, 4],
  ];
  for (const [what, sm, subset, steps] of smCases) {
    it(`AdamSNSM, ${what}: ${steps} steps`, () => {
      const smo = { rank: 3, gap: 1, proj: 'topk' as const, reset: 'afterStep' as MomentumReset, ...sm };
      const r = run(
        () => subspaceMomentumTransform({ learningRate: 0.01, rank: smo.rank, updateProjGap: smo.gap, projection: smo.proj, reset: smo.reset, subsetSize: subset, weightDecay: 0.1 }),
        { ...defaults, subset, wd: 0.1, sm: smo },
        steps,
        9,
      );
      // the stored momentum and indices are the reference's (torch layout: the transpose)
      // [5, 8] is torch 8×5 (columns projected, m̂ 8×3, here [3, 8]); [9, 6] is torch 6×9 (rows, m̂ 9×3, here [9, 3])
      const mu = tensorListAt(r.state, 0, 'numerator', 'mu');
      assertClose(mu[0].dataSync(), tr(r.refs[0].mState!, 8, 3), 2e-5, 'm̂ of the [5, 8] kernel');
      assertClose(mu[1].dataSync(), r.refs[1].mState!, 2e-5, 'm̂ of the [9, 6] kernel');
      const indices = slotAt(r.state, 0, 'numerator', 'indices');
      assert.deepEqual(Array.from(indices[0]!.dataSync()), r.refs[0].idx);
      assert.deepEqual(Array.from(indices[1]!.dataSync()), r.refs[1].idx);
      assert.equal(indices[2], null, 'the vector keeps no indices');
      tf.dispose(tensorsOf(r.state));
    });
  }
});

for (const backend of BACKENDS) describe(`Subspace-Momentum properties (${backend})`, () => {
  before(() => useBackend(backend));
  after(() => clearDctCache());
  const sm = (o: Partial<SubspaceMomentumOptions>) => subspaceEmaMomentum({ rank: 3, beta1: 0.9, updateProjGap: 1, projection: 'topk', reset: 'afterStep', seed: 0, ...o });

  it('a full-rank orthonormal P (DCT, r = n) is EMA momentum; rank 0 is SGD (the gradient, bit for bit)', () => {
    const shapes = [[5, 8], [9, 6], [6]];
    const grads = gradsAt(shapes, 2);
    const full = updatesOver(sm({ rank: 9, projection: 'dct', updateProjGap: 1000 }), metasOf(shapes), grads, 4);
    const ema = updatesOver(emaMomentum({ beta: 0.9, nesterov: false }), metasOf(shapes), grads, 4);
    const sgd = updatesOver(sm({ rank: 0 }), metasOf(shapes), grads, 4);
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 3; i++) assertClose(full.outs[k][i], ema.outs[k][i], 2e-6, `step ${k + 1} param ${i}: P = Q (full rank) vs EMA`);
      for (let i = 0; i < 2; i++) assert.deepEqual(sgd.outs[k][i], grads(k)[i], `rank 0 = SGD (param ${i})`);
    }
    // rank 0 keeps no matrix state
    assert.deepEqual(slotAt(sgd.state, 'mu').map((x) => x?.shape ?? null), [null, null, [6]]);
    tf.dispose([...tensorsOf(full.state), ...tensorsOf(ema.state), ...tensorsOf(sgd.state)]);
  });

  it('outside the subspace the numerator is the raw gradient: exactly (topk), to float32 rounding (dct)', () => {
    const shapes = [[5, 8], [9, 6]];
    const grads = gradsAt(shapes, 4);
    const t = sm({ updateProjGap: 3 });
    const r = updatesOver(t, metasOf(shapes), grads, 4);
    const indices = tensorListAt(r.state, 'indices').map((x) => Array.from(x.dataSync()));
    // step 4 used the indices chosen at step 3 (the stored ones): rows of [5, 8], columns of [9, 6]
    const g = grads(3);
    for (let a = 0; a < 5; a++) for (let j = 0; j < 8; j++) if (!indices[0].includes(a)) assert.equal(r.outs[3][0][a * 8 + j], g[0][a * 8 + j]);
    for (let a = 0; a < 9; a++) for (let j = 0; j < 6; j++) if (!indices[1].includes(j)) assert.equal(r.outs[3][1][a * 6 + j], g[1][a * 6 + j]);
    // and inside it differs (momentum)
    assert.ok(indices[0].some((a) => Math.abs(r.outs[3][0][a * 8] - g[0][a * 8]) > 1e-3));
    tf.dispose(tensorsOf(r.state));
    // dct: (I − PPᵀ)·numerator = (I − PPᵀ)·g on the projected side
    const d = updatesOver(sm({ projection: 'dct', updateProjGap: 2 }), metasOf([[5, 8]]), (k) => [grads(k)[0]], 3);
    const idx = Array.from(tensorListAt(d.state, 'indices')[0].dataSync());
    const q = dctMatrix64(5);
    const complement = (x: ArrayLike<number>) => {
      const out = Float64Array.from(x);
      for (let j = 0; j < 8; j++) for (const c of idx) {
        let dot = 0;
        for (let k = 0; k < 5; k++) dot += q[k * 5 + c] * x[k * 8 + j];
        for (let k = 0; k < 5; k++) out[k * 8 + j] -= q[k * 5 + c] * dot;
      }
      return out;
    };
    assertClose(complement(d.outs[2][0]), complement(grads(2)[0]), 1e-6, 'complement');
    tf.dispose(tensorsOf(d.state));
  });

  it("m̂ is zero right after a refresh ('afterStep'), (1−β₁)ĝ with 'beforeStep', and kept with 'none'", () => {
    const shapes = [[9, 6]];
    const grads = gradsAt(shapes, 6);
    for (const reset of ['afterStep', 'beforeStep', 'none'] as const) {
      const r = updatesOver(sm({ updateProjGap: 2, reset }), metasOf(shapes), grads, 2);
      const mu = tensorListAt(r.state, 'mu')[0].dataSync();
      const idx = Array.from(tensorListAt(r.state, 'indices')[0].dataSync());
      const g = grads(1)[0];
      const proj = Array.from({ length: 27 }, (_, e) => g[Math.floor(e / 3) * 6 + idx[e % 3]]);
      if (reset === 'afterStep') assert.ok(mu.every((x) => x === 0), 'm̂ = 0 after the refresh');
      else if (reset === 'beforeStep') assertClose(mu, proj.map((x) => 0.1 * x), 1e-6, 'm̂ = (1−β₁)ĝ');
      else assert.ok(mu.some((x, e) => Math.abs(x - 0.1 * proj[e]) > 1e-3), 'm̂ keeps the old momentum');
      tf.dispose(tensorsOf(r.state));
    }
  });

  it("'svd': on rank-r refresh gradients P spans their singular subspace, so the numerator is the float64 M + (I − Π)g (reset before the step)", () => {
    // refreshes at steps 1, 2, 4 (gap 2) see g = U·Vᵀ of rank 2; the other steps a full-rank g
    const r = 2;
    const shapes = [[5, 8], [9, 6], [6]];
    const lowRank = (rows: number, cols: number, seed: number) => {
      const u = gaussian(rows * r, seed);
      const v = gaussian(cols * r, seed + 1);
      const g = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let k = 0; k < r; k++) g[i * cols + j] += u[i * r + k] * v[j * r + k];
      return { g, u, v };
    };
    /** Π = A(AᵀA)⁻¹Aᵀ for an n×2 A, float64. */
    const projector = (a: Float32Array, n: number) => {
      let s00 = 0, s01 = 0, s11 = 0;
      for (let i = 0; i < n; i++) {
        s00 += a[i * 2] ** 2;
        s01 += a[i * 2] * a[i * 2 + 1];
        s11 += a[i * 2 + 1] ** 2;
      }
      const det = s00 * s11 - s01 * s01;
      const inv = [s11 / det, -s01 / det, -s01 / det, s00 / det];
      const pi = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let a1 = 0; a1 < 2; a1++) for (let b1 = 0; b1 < 2; b1++) pi[i * n + j] += a[i * 2 + a1] * inv[a1 * 2 + b1] * a[j * 2 + b1];
      return pi;
    };
    const refresh = (k: number) => k === 0 || (k + 1) % 2 === 0;
    const data = Array.from({ length: 5 }, (_, k) =>
      refresh(k) ? [lowRank(5, 8, 300 + 10 * k), lowRank(9, 6, 600 + 10 * k)] : [{ g: gaussian(40, 900 + k) }, { g: gaussian(54, 950 + k) }],
    );
    const grads = (k: number) => [data[k][0].g, data[k][1].g, gaussian(6, 990 + k)];
    const got = updatesOver(sm({ rank: r, projection: 'svd', updateProjGap: 2, reset: 'beforeStep', seed: 5 }), metasOf(shapes), grads, 5);
    // float64: rows of [5, 8] are projected by Π (5×5, from U); columns of [9, 6] by Π (6×6, from V)
    let pis: Float64Array[] = [];
    let ms = [new Float64Array(40), new Float64Array(54)];
    for (let k = 0; k < 5; k++) {
      const g = grads(k);
      if (refresh(k)) {
        pis = [projector((data[k][0] as { u: Float32Array }).u, 5), projector((data[k][1] as { v: Float32Array }).v, 6)];
        ms = [new Float64Array(40), new Float64Array(54)];
      }
      const apply = (i: number, x: ArrayLike<number>) => {
        const out = new Float64Array(x.length);
        if (i === 0) for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) for (let j = 0; j < 8; j++) out[a * 8 + j] += pis[0][a * 5 + b] * x[b * 8 + j];
        else for (let a = 0; a < 9; a++) for (let j = 0; j < 6; j++) for (let b = 0; b < 6; b++) out[a * 6 + j] += x[a * 6 + b] * pis[1][b * 6 + j];
        return out;
      };
      for (let i = 0; i < 2; i++) {
        const pg = apply(i, g[i]);
        ms[i] = ms[i].map((x, e) => 0.9 * x + 0.1 * pg[e]);
        const want = Float64Array.from(g[i], (x, e) => ms[i][e] + x - pg[e]);
        assertClose(got.outs[k][i], want, 1e-5, `step ${k + 1} param ${i}`);
      }
    }
    // the basis is orthonormal (n×r) and there are no indices
    const basis = slotAt(got.state, 'basis');
    const b0 = basis[0]!.dataSync();
    assert.deepEqual(basis[0]!.shape, [5, 2]);
    assert.deepEqual(basis[1]!.shape, [6, 2]);
    let dot = 0, n0 = 0;
    for (let a = 0; a < 5; a++) {
      dot += b0[a * 2] * b0[a * 2 + 1];
      n0 += b0[a * 2] ** 2;
    }
    assert.ok(Math.abs(dot) < 1e-5 && Math.abs(n0 - 1) < 1e-5);
    assert.deepEqual(slotAt(got.state, 'indices'), [null, null, null]);
    tf.dispose(tensorsOf(got.state));
  });

  it('the uniform projector is seeded: a copied state resumes exactly, another seed draws other rows', () => {
    const t = subspaceMomentumTransform({ learningRate: 0.01, rank: 2, updateProjGap: 2, projection: 'uniform', seed: 7 });
    const metas = metasOf(SHAPES);
    const grads = gradsAt(SHAPES, 12);
    const go = (state: StateTree, from: number, to: number) => {
      const outs: Float32Array[][] = [];
      for (let step = from; step < to; step++) {
        const params = SHAPES.map((s) => tf.zeros(s));
        const r = tf.tidy(() => {
          const out = t.update(grads(step).map((g, i) => tf.tensor(g, SHAPES[i])), state, { step, params, metas });
          outs.push(out.updates.map((u) => u.dataSync() as Float32Array));
          return out.state as unknown as tf.TensorContainer;
        }) as unknown as StateTree;
        tf.dispose(params);
        disposeReplaced(state, r);
        state = r;
      }
      return { outs, state };
    };
    const first = go(t.init(metas), 0, 3);
    const copy = (s: StateTree): StateTree =>
      s === null ? null : s instanceof tf.Tensor ? tf.tensor(s.dataSync().slice(), s.shape, s.dtype) : Array.isArray(s) ? s.map(copy) : Object.fromEntries(Object.entries(s).map(([k, v]) => [k, copy(v)]));
    const resumed = go(copy(first.state), 3, 6);
    const straight = go(first.state, 3, 6);
    for (let k = 0; k < 3; k++) for (let i = 0; i < 3; i++) assert.deepEqual(resumed.outs[k][i], straight.outs[k][i]);
    tf.dispose([...tensorsOf(resumed.state), ...tensorsOf(straight.state)]);
    // the draws depend on the seed
    const pick = (seed: number) => {
      const r = updatesOver(sm({ projection: 'uniform', rank: 3, seed }), metasOf([[9, 6]]), (k) => [gradsAt([[9, 6]], 1)(k)[0]], 1);
      const idx = Array.from(tensorListAt(r.state, 'indices')[0].dataSync());
      tf.dispose(tensorsOf(r.state));
      return idx;
    };
    assert.deepEqual(pick(7), pick(7));
    assert.ok([1, 2, 3, 4].some((s) => pick(s).join() !== pick(7).join()));
  });

  it('leaks no tensors per step (topk, uniform, dct, svd)', () => {
    for (const projection of ['topk', 'uniform', 'dct', 'svd'] as const) {
      const t = subspaceMomentumTransform({ learningRate: 0.01, rank: 2, updateProjGap: 2, projection, subsetSize: 4, weightDecay: 0.01 });
      const metas = metasOf(SHAPES);
      const grads = SHAPES.map((s, i) => tf.tensor(gaussian(sizeOf(s), i), s));
      const params = SHAPES.map((s) => tf.ones(s));
      let state = t.init(metas);
      const step = (k: number) => {
        const next = tf.tidy(() => t.update(grads, state, { step: k, params, metas }).state as unknown as tf.TensorContainer) as unknown as StateTree;
        disposeReplaced(state, next);
        state = next;
      };
      step(0);
      const count = tf.memory().numTensors;
      for (let k = 1; k < 5; k++) step(k);
      assert.equal(tf.memory().numTensors, count, projection);
      tf.dispose([...tensorsOf(state), ...grads, ...params]);
    }
  });
});

describe('subsetNorm / subspaceMomentum options', () => {
  it('reject a bad subset size, rank, β₂, gap or projector, naming the option', () => {
    for (const bad of [0, 2.5, 'rows']) {
      assert.throws(() => subsetNormTransform({ subsetSize: bad as never }), {
        name: 'RangeError',
        message: `subsetNorm: subsetSize must be a nonzero integer (−c: ⌊√numel/c⌋) or 'heuristics', got ${typeof bad === 'string' ? `'${bad}'` : bad}`,
      });
    }
    assert.throws(() => subspaceMomentumTransform({ subsetSize: 0 }), /subspaceMomentum: subsetSize must be a nonzero integer/);
    assert.throws(() => subspaceMomentumTransform({ rank: -1 }), { name: 'RangeError', message: 'subspaceMomentum: rank must be an integer in [0, inf), got -1' });
    assert.throws(() => subspaceMomentumTransform({ rank: 1.5 }), /subspaceMomentum: rank must be an integer in \[0, inf\), got 1\.5/);
    assert.throws(() => subsetNormTransform({ beta2: 1.5 }), /subsetNorm: beta2 must be in \[0, 1\], got 1\.5/);
    assert.throws(() => subspaceMomentumTransform({ updateProjGap: 0 }), /subspaceMomentum: updateProjGap must be an integer in \[1, inf\), got 0/);
    assert.throws(() => subspaceMomentumTransform({ projection: 'srht' as never }), /subspaceMomentum: projection must be one of/);
    assert.throws(() => subspaceMomentumTransform({ reset: 'always' as never }), /subspaceMomentum: reset must be one of/);
  });
});
