/**
 * scaleByDctAdam (src/transforms/dct.ts) and the dctAdamw chain (src/optimizers/dct.ts) against a float64
 * re-derivation of IST-DASLab `fft_low_rank/dct_adamw.py` `dct_low_rank_step` written here (selection by
 * ℓ1/ℓ2 column norms of A·Q, indices ascending, error feedback, the subspace rotation), and the spec's
 * properties (../shared/specs/seed-methods.md B5):
 * - layouts: which side is projected (the fan-in side when fanIn ≤ fanOut), state shapes, AdamW fallbacks;
 * - steps vs float64 for both sides, gap > 1 with and without rotation, ℓ2, error feedback, and the recipe
 *   with weight decay and a learning rate (params after each step);
 * - every update lies in span(Q[:, idx]) of that step's indices; indices and m/v vs float64;
 * - r = n is Adam in the DCT basis, Q·Adam(QᵀG) (not AdamW in the original basis); vectors get AdamW;
 * - resuming from a copy of the state continues identically; no leaks; named option errors.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, disposeReplaced, runTransform, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta, StateTree } from '../../src/core/transform.js';
import { clearDctCache, dctMatrix64 } from '../../src/linalg/dct.js';
import { dctLayout, scaleByDctAdam, type ScaleByDctAdamOptions } from '../../src/transforms/dct.js';
import { scaleByAdam } from '../../src/transforms/adam.js';
import { dctAdamwTransform } from '../../src/optimizers/dct.js';

/** The property tests run on both Node backends (wasm reductions are the less precise). */
const BACKENDS = ['cpu', 'wasm'] as const;

const base: ScaleByDctAdamOptions = {
  rank: 3,
  updateProjGap: 1,
  rotateSubspace: false,
  errorFeedback: false,
  norm: 1,
  maxShape: 32000,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
};

// ------------------------------------------------------------------ float64 reference (row-major)

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
/** Columns `idx` of the n×n row-major matrix q, as an n×r matrix. */
function columns(q: Float64Array, n: number, idx: readonly number[]): Float64Array {
  const out = new Float64Array(n * idx.length);
  for (let i = 0; i < n; i++) idx.forEach((j, k) => (out[i * idx.length + k] = q[i * n + j]));
  return out;
}

/**
 * One DCT-AdamW parameter in float64, as dct_adamw.py with the library's conventions (TensorFlow.js layout
 * [fanIn, fanOut]: rows are projected when fanIn ≤ fanOut; indices ascending).
 */
class DctAdam64 {
  t = 0;
  readonly side: 'rows' | 'columns';
  readonly n: number;
  readonly r: number;
  readonly q: Float64Array;
  m: Float64Array;
  v: Float64Array;
  idx: number[] = [];
  e: Float64Array;
  constructor(readonly rows: number, readonly cols: number, readonly o: ScaleByDctAdamOptions) {
    this.side = rows <= cols ? 'rows' : 'columns';
    this.n = Math.min(rows, cols);
    this.r = Math.min(o.rank, this.n);
    this.q = dctMatrix64(this.n);
    const stateSize = this.side === 'rows' ? this.r * cols : rows * this.r;
    this.m = new Float64Array(stateSize);
    this.v = new Float64Array(stateSize);
    this.e = new Float64Array(rows * cols);
  }
  private project(a: ArrayLike<number>, qi: Float64Array): Float64Array {
    return this.side === 'columns' ? mm(a, qi, this.rows, this.cols, this.r) : mm(tr(qi, this.n, this.r), a, this.r, this.rows, this.cols);
  }
  private back(x: ArrayLike<number>, qi: Float64Array): Float64Array {
    return this.side === 'columns' ? mm(x, tr(qi, this.n, this.r), this.rows, this.r, this.cols) : mm(qi, x, this.n, this.r, this.cols);
  }
  step(g: ArrayLike<number>): Float64Array {
    const { o } = this;
    this.t += 1;
    const t = this.t;
    const a = Float64Array.from(g, (x, i) => x + (o.errorFeedback ? this.e[i] : 0));
    const reselect = t === 1 || t % o.updateProjGap === 0;
    const previous = this.idx;
    if (reselect) {
      const s = this.side === 'columns' ? mm(a, this.q, this.rows, this.cols, this.n) : mm(tr(this.q, this.n, this.n), a, this.n, this.rows, this.cols);
      const sc = new Float64Array(this.n);
      const other = this.side === 'columns' ? this.rows : this.cols;
      for (let j = 0; j < this.n; j++) {
        for (let k = 0; k < other; k++) {
          const x = this.side === 'columns' ? s[k * this.n + j] : s[j * this.cols + k];
          sc[j] += o.norm === 1 ? Math.abs(x) : x * x;
        }
      }
      const order = Array.from(sc.keys()).sort((x, y) => sc[y] - sc[x]);
      if (this.r < this.n) {
        const gap = Math.abs(sc[order[this.r - 1]] - sc[order[this.r]]);
        if (gap < 1e-4 * sc[order[0]]) throw new Error(`test data: near tie at the rank boundary (step ${t})`);
      }
      this.idx = order.slice(0, this.r).sort((x, y) => x - y);
    }
    const qi = columns(this.q, this.n, this.idx);
    const low = this.project(a, qi);
    if (o.errorFeedback) {
      const b = this.back(low, qi);
      this.e = Float64Array.from(a, (x, i) => x - b[i]);
    }
    if (o.rotateSubspace && reselect && t > 1) {
      const rot = mm(tr(columns(this.q, this.n, previous), this.n, this.r), qi, this.r, this.n, this.r);
      const other = this.side === 'columns' ? this.rows : this.cols;
      const rotate = (x: Float64Array) => (this.side === 'columns' ? mm(x, rot, other, this.r, this.r) : mm(tr(rot, this.r, this.r), x, this.r, this.r, other));
      this.m = rotate(this.m);
      this.v = rotate(this.v).map(Math.abs);
    }
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = Math.sqrt(1 - o.beta2 ** t);
    const u = new Float64Array(low.length);
    for (let i = 0; i < low.length; i++) {
      this.m[i] = o.beta1 * this.m[i] + (1 - o.beta1) * low[i];
      this.v[i] = o.beta2 * this.v[i] + (1 - o.beta2) * low[i] * low[i];
      u[i] = this.m[i] / bc1 / (Math.sqrt(this.v[i]) / bc2 + o.epsilon);
    }
    return this.back(u, qi);
  }
}

/** Float64 Adam (torch form) on a vector. */
class Adam64 {
  t = 0;
  m: Float64Array;
  v: Float64Array;
  constructor(size: number, readonly o: ScaleByDctAdamOptions) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  step(g: ArrayLike<number>): Float64Array {
    this.t += 1;
    const { beta1, beta2, epsilon } = this.o;
    return Float64Array.from(g, (x, i) => {
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * x;
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * x * x;
      return this.m[i] / (1 - beta1 ** this.t) / (Math.sqrt(this.v[i]) / Math.sqrt(1 - beta2 ** this.t) + epsilon);
    });
  }
}

const SHAPES = [[5, 8], [9, 6], [6]];
const metasOf = (shapes: number[][]): ParamMeta[] => shapes.map((shape, i) => ({ name: `p${i}`, shape }));
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Gradients that change each step (and in scale, so the moments mix). */
const gradsAt = (shapes: number[][], seed: number) => (step: number) => shapes.map((s, i) => Float32Array.from(gaussian(sizeOf(s), seed + 97 * step + i), (x) => x * (1 + 0.5 * step)));

function referenceOutputs(shapes: number[][], o: ScaleByDctAdamOptions, grads: (step: number) => Float32Array[], steps: number) {
  const refs = shapes.map((s) => (s.length === 2 ? new DctAdam64(s[0], s[1], o) : new Adam64(sizeOf(s), o)));
  const outs: Float64Array[][] = [];
  for (let k = 0; k < steps; k++) outs.push(grads(k).map((g, i) => refs[i].step(g)));
  return { outs, refs };
}

describe('dctLayout', () => {
  it('projects the fan-in side when fanIn ≤ fanOut (the reference’s right projection of the torch weight), else the fan-out side', () => {
    assert.deepEqual(dctLayout([5, 8], 3, 32000), { side: 'rows', n: 5, rank: 3, stateShape: [3, 8] });
    assert.deepEqual(dctLayout([9, 6], 3, 32000), { side: 'columns', n: 6, rank: 3, stateShape: [9, 3] });
    assert.deepEqual(dctLayout([4, 4], 3, 32000), { side: 'rows', n: 4, rank: 3, stateShape: [3, 4] });
    // capped at n; a fraction of n, rounded up
    assert.deepEqual(dctLayout([9, 6], 10, 32000).rank, 6);
    assert.deepEqual(dctLayout([64, 200], 128, 32000, 0.125), { side: 'rows', n: 64, rank: 8, stateShape: [8, 200] });
    assert.equal(dctLayout([10, 50], 128, 32000, 0.14).rank, 2);
    // AdamW: vectors, conv kernels, a side ≥ maxShape, zero-size
    for (const s of [[7], [3, 3, 2, 4], [10, 40], [0, 5]]) assert.deepEqual(dctLayout(s, 3, 40), { side: null, n: 0, rank: 0, stateShape: s });
  });
});

for (const backend of BACKENDS) describe(`scaleByDctAdam vs float64 (${backend})`, () => {
  before(() => useBackend(backend));
  after(() => clearDctCache());

  const cases: [string, Partial<ScaleByDctAdamOptions>, number][] = [
    ['defaults (re-select every step, no rotation)', {}, 3],
    ['gap 2, no rotation: m and v keep their coordinates across a re-selection', { updateProjGap: 2 }, 5],
    ['gap 2 with rotateSubspace', { updateProjGap: 2, rotateSubspace: true }, 5],
    ['rotateSubspace every step, ℓ2 scores', { rotateSubspace: true, norm: 2 }, 4],
    ['error feedback', { errorFeedback: true }, 4],
    ['error feedback, gap 3, rotation', { errorFeedback: true, updateProjGap: 3, rotateSubspace: true }, 6],
  ];
  for (const [what, extra, steps] of cases) {
    it(`${what}: ${steps} steps`, () => {
      const o = { ...base, ...extra };
      const grads = gradsAt(SHAPES, 11);
      const want = referenceOutputs(SHAPES, o, grads, steps);
      const got = updatesOver(scaleByDctAdam(o), metasOf(SHAPES), grads, steps);
      for (let k = 0; k < steps; k++) for (let i = 0; i < SHAPES.length; i++) assertClose(got.outs[k][i], want.outs[k][i], 2e-5, `step ${k + 1} param ${i}`);
      // the state: indices (ascending, float32) and the moments
      const indices = (got.state as { indices: (tf.Tensor | null)[] }).indices;
      for (let i = 0; i < 2; i++) {
        const ref = want.refs[i] as DctAdam64;
        assert.deepEqual(Array.from(indices[i]!.dataSync()), ref.idx, `indices of param ${i}`);
        assertClose(tensorListAt(got.state, 'mu')[i].dataSync(), ref.m, 2e-5, `m of param ${i}`);
        assertClose(tensorListAt(got.state, 'nu')[i].dataSync(), ref.v, 2e-5, `v of param ${i}`);
        if (o.errorFeedback) assertClose((got.state as { error: tf.Tensor[] }).error[i].dataSync(), ref.e, 2e-5, `E of param ${i}`);
      }
      assert.equal(indices[2], null, 'the vector keeps no indices');
      tf.dispose(tensorsOf(got.state));
    });
  }

  it('without rotation the reference really differs from with it (the gap-2 case is not vacuous)', () => {
    const grads = gradsAt(SHAPES, 11);
    const plain = referenceOutputs(SHAPES, { ...base, updateProjGap: 2 }, grads, 5).outs[4][0];
    const rotated = referenceOutputs(SHAPES, { ...base, updateProjGap: 2, rotateSubspace: true }, grads, 5).outs[4][0];
    assert.ok(plain.some((x, i) => Math.abs(x - rotated[i]) > 1e-3));
  });

  it('the recipe: W ← W(1 − ηλ) − η·update, params after 3 steps vs float64', () => {
    const lr = 0.01;
    const wd = 0.1;
    const x0 = SHAPES.map((s, i) => gaussian(sizeOf(s), 500 + i));
    const grads = gradsAt(SHAPES, 21);
    const { outs } = referenceOutputs(SHAPES, base, grads, 3);
    const w = x0.map((x) => Float64Array.from(x));
    const history: Float64Array[][] = [];
    for (let k = 0; k < 3; k++) {
      w.forEach((p, i) => p.forEach((x, j) => (p[j] = x * (1 - lr * wd) - lr * outs[k][i][j])));
      history.push(w.map((p) => Float64Array.from(p)));
    }
    const run = runTransform(
      dctAdamwTransform({ learningRate: lr, weightDecay: wd, rank: 3 }),
      x0.map((x, i) => tf.tensor(x, SHAPES[i])),
      (_p, step) => grads(step).map((g, i) => tf.tensor(g, SHAPES[i])),
      3,
    );
    for (let k = 0; k < 3; k++) for (let i = 0; i < SHAPES.length; i++) assertClose(run.history[k][i], history[k][i], 1e-6, `params step ${k + 1} #${i}`);
    tf.dispose(tensorsOf(run.state));
  });
});

for (const backend of BACKENDS) describe(`scaleByDctAdam properties (${backend})`, () => {
  before(() => useBackend(backend));
  after(() => clearDctCache());

  it('each update lies in span(Q[:, idx]) of its step’s indices (both sides)', () => {
    const shapes = [[5, 8], [9, 6]];
    const grads = gradsAt(shapes, 3);
    const t = scaleByDctAdam({ ...base, updateProjGap: 2 });
    const metas = metasOf(shapes);
    let state = t.init(metas);
    for (let step = 0; step < 4; step++) {
      const r = tf.tidy(() => {
        const out = t.update(grads(step).map((g, i) => tf.tensor(g, shapes[i])), state, { step, params: [], metas });
        return { u: out.updates.map((u) => u.dataSync()), state: out.state as unknown as tf.TensorContainer };
      });
      const next = r.state as unknown as StateTree;
      const indices = (next as { indices: tf.Tensor[] }).indices.map((x) => Array.from(x.dataSync()));
      shapes.forEach(([rows, cols], i) => {
        const n = Math.min(rows, cols);
        const q = dctMatrix64(n);
        const qi = columns(q, n, indices[i]);
        const proj = mm(qi, tr(qi, n, 3), n, 3, n); // Q_idx Q_idxᵀ
        // the residual U − U·P (columns) or U − P·U (rows) vanishes; U itself does not
        const u = r.u[i];
        const inSpan = rows <= cols ? mm(proj, u, n, n, cols) : mm(u, proj, rows, n, n);
        const norm = Math.sqrt(Array.from(u).reduce((a, x) => a + x * x, 0));
        assert.ok(norm > 0.1);
        const resid = Math.sqrt(Array.from(u).reduce((a, x, j) => a + (x - inSpan[j]) ** 2, 0));
        assert.ok(resid < 1e-5 * norm, `step ${step} param ${i}: residual ${resid} of ${norm}`);
      });
      disposeReplaced(state, next);
      state = next;
    }
    tf.dispose(tensorsOf(state));
  });

  it('r = n is Adam in the DCT basis, Q·Adam(QᵀG), and not AdamW on G; vectors get AdamW exactly', () => {
    const shapes = [[4, 7], [6]];
    const grads = gradsAt(shapes, 8);
    const full = updatesOver(scaleByDctAdam({ ...base, rank: 4 }), metasOf(shapes), grads, 3);
    // Adam on the rotated gradient QᵀG (4×7), then rotated back
    const q = dctMatrix64(4);
    const qt32 = Float32Array.from(tr(q, 4, 4));
    const rotated = (step: number) => [Float32Array.from(mm(qt32, grads(step)[0], 4, 4, 7)), grads(step)[1]];
    const adam = updatesOver(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false }), metasOf(shapes), rotated, 3);
    const plain = updatesOver(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false }), metasOf(shapes), grads, 3);
    for (let k = 0; k < 3; k++) {
      assertClose(full.outs[k][0], mm(q, adam.outs[k][0], 4, 4, 7), 2e-5, `step ${k + 1}: Q·Adam(QᵀG)`);
      assert.deepEqual(Array.from(full.outs[k][1]), Array.from(adam.outs[k][1]), `step ${k + 1}: the vector is AdamW, bit for bit`);
      assert.ok(full.outs[k][0].some((x, j) => Math.abs(x - plain.outs[k][0][j]) > 1e-2), 'r = n is not AdamW in the original basis');
    }
    tf.dispose([...tensorsOf(full.state), ...tensorsOf(adam.state), ...tensorsOf(plain.state)]);
  });

  it('a state copied after 3 steps continues exactly as the uninterrupted run', () => {
    const o = { ...base, updateProjGap: 2, rotateSubspace: true, errorFeedback: true };
    const grads = gradsAt(SHAPES, 41);
    const t = scaleByDctAdam(o);
    const metas = metasOf(SHAPES);
    const run = (state: StateTree, from: number, to: number) => {
      const outs: Float32Array[][] = [];
      for (let step = from; step < to; step++) {
        const r = tf.tidy(() => {
          const out = t.update(grads(step).map((g, i) => tf.tensor(g, SHAPES[i])), state, { step, params: [], metas });
          outs.push(out.updates.map((u) => u.dataSync() as Float32Array));
          return out.state as unknown as tf.TensorContainer;
        }) as unknown as StateTree;
        disposeReplaced(state, r);
        state = r;
      }
      return { outs, state };
    };
    const first = run(t.init(metas), 0, 3);
    // a "checkpoint": every slot read back to the host and rebuilt, as getWeights/setWeights do
    const copy = (s: StateTree): StateTree =>
      s === null ? null : s instanceof tf.Tensor ? tf.tensor(s.dataSync().slice(), s.shape, s.dtype) : Array.isArray(s) ? s.map(copy) : Object.fromEntries(Object.entries(s).map(([k, v]) => [k, copy(v)]));
    const resumed = run(copy(first.state), 3, 6);
    const straight = run(first.state, 3, 6);
    for (let k = 0; k < 3; k++) for (let i = 0; i < SHAPES.length; i++) assert.deepEqual(resumed.outs[k][i], straight.outs[k][i]);
    tf.dispose([...tensorsOf(resumed.state), ...tensorsOf(straight.state)]);
  });

  it('leaks no tensors per step (beyond the cached bases)', () => {
    const o = { ...base, updateProjGap: 2, rotateSubspace: true, errorFeedback: true };
    const t = scaleByDctAdam(o);
    const metas = metasOf(SHAPES);
    const grads = SHAPES.map((s, i) => tf.tensor(gaussian(sizeOf(s), i), s));
    let state = t.init(metas);
    const step = (k: number) => {
      const next = tf.tidy(() => t.update(grads, state, { step: k, params: [], metas }).state as unknown as tf.TensorContainer) as unknown as StateTree;
      disposeReplaced(state, next);
      state = next;
    };
    step(0);
    const count = tf.memory().numTensors;
    for (let k = 1; k < 6; k++) step(k);
    assert.equal(tf.memory().numTensors, count);
    tf.dispose([...tensorsOf(state), ...grads]);
  });
});

describe('dctAdamw options', () => {
  it('rejects a bad rank, fraction, gap or norm, naming the option', () => {
    assert.throws(() => dctAdamwTransform({ rank: 0 }), { name: 'RangeError', message: 'dctAdamw: rank must be an integer in [1, inf), got 0' });
    assert.throws(() => dctAdamwTransform({ rank: 2.5 }), /dctAdamw: rank must be an integer in \[1, inf\), got 2\.5/);
    assert.throws(() => dctAdamwTransform({ rankFraction: 0 }), /dctAdamw: rankFraction must be in \(0, 1\], got 0/);
    assert.throws(() => dctAdamwTransform({ rankFraction: 1.5 }), /dctAdamw: rankFraction must be in \(0, 1\], got 1\.5/);
    assert.throws(() => dctAdamwTransform({ updateProjGap: 0 }), /dctAdamw: updateProjGap must be an integer in \[1, inf\), got 0/);
    assert.throws(() => dctAdamwTransform({ ellNorm: 3 }), /dctAdamw: ellNorm must be an integer in \[1, 2\], got 3/);
    assert.throws(() => dctAdamwTransform({ rotate: true } as never), /dctAdamw: unknown option 'rotate'/);
  });
});
