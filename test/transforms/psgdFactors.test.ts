/**
 * P's factors kept in psgdKron's state (src/linalg/psgd.ts `kronPreconditionerFactors` /
 * `applyKronFactors`, src/transforms/psgd.ts slot `p`; issue 13, task HP): they equal float64 `QᵀQ` / `q²`
 * of the factors they sit beside after every step (the first step's scale, fits before or after the
 * update, balancing every fit, steps without a fit), the fit given them is the fit that forms them, and
 * no tensor leaks. On cpu and wasm.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { runTransform, tensorListAt, tensorsOf } from '../support/transforms.js';
import { mulberry32 } from '../../src/core/random.js';
import {
  applyKronFactors,
  applyKronPreconditioner,
  initKronFactors,
  kronLayout,
  kronPreconditionerFactors,
  updateKronWhitening,
} from '../../src/linalg/psgd.js';
import { scaleByPsgdKron, type PsgdKronOptions } from '../../src/transforms/psgd.js';

/** The property tests run on both Node backends (wasm reductions are the less precise). */
const BACKENDS = ['cpu', 'wasm'] as const;

const base: PsgdKronOptions = {
  preconditionerLr: 0.1,
  betaL: 0.9,
  damping: 1e-9,
  momentum: 0,
  clipRms: 2,
  clipMax: 10,
  updateProbability: 1,
  updateSchedule: 'constant',
  maxSize: null,
  maxSkew: 4,
  initScale: null,
  seed: 3,
};

/** Float64 `QᵀQ` of a d×d row-major `q`. */
function gram64(q: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += q[k * d + i] * q[k * d + j];
      out[i * d + j] = s;
    }
  }
  return out;
}

/** Asserts every `p` factor of `state` is float64 `QᵀQ` (dense) or `q²` (diagonal) of its `q` factor, to 1e-6 of max|P|. */
function assertFactorsMatch(state: Parameters<typeof tensorListAt>[0], shapes: number[][], what: string): void {
  shapes.forEach((shape, i) => {
    const qs = tensorListAt(state, 'q', i);
    const ps = tensorListAt(state, 'p', i);
    assert.equal(ps.length, qs.length, `${what}: parameter ${i} has ${ps.length} P factors for ${qs.length} Q factors`);
    qs.forEach((q, j) => {
      const values = q.dataSync();
      const want = q.rank === 2 ? gram64(values, q.shape[0]) : Float64Array.from(values, (v) => v * v);
      const got = ps[j].dataSync();
      assert.deepEqual(ps[j].shape, q.rank === 2 ? [q.shape[0], q.shape[0]] : q.shape, `${what}: shape of P[${i}][${j}]`);
      const scale = Math.max(...Array.from(want, Math.abs));
      want.forEach((w, k) => assert.ok(Math.abs(got[k] - w) <= 1e-6 * scale, `${what}: P[${i}][${j}][${k}] = ${got[k]}, QᵀQ = ${w}`));
    });
  });
}

for (const backend of BACKENDS) describe(`psgdKron's kept P factors (${backend})`, () => {
  before(() => useBackend(backend));

  const shapes = [[4, 3], [6], [2, 3, 2]];
  const grads = (_: tf.Tensor[], step: number) => shapes.map((s, i) => tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), 10 * step + i), s));
  const x0 = () => shapes.map((s) => tf.zeros(s));

  for (const [what, extra] of [
    ['fit first (the default), balanced at every fit', { balanceProbability: 1 }],
    ['fit after the update', { updateFirst: false }],
    ['fit with probability 0.5 (some steps without a fit)', { updateProbability: 0.5, initScale: 0.7 }],
  ] as const) {
    it(`are QᵀQ / q² of the factors after every step: ${what}`, () => {
      for (const steps of [1, 2, 5]) {
        const start = x0();
        const before = tf.memory().numTensors;
        const { state } = runTransform(scaleByPsgdKron({ ...base, ...extra }), start, grads, steps);
        assert.equal(tf.memory().numTensors, before + tensorsOf(state).length, `${what}: leak after ${steps} steps`);
        assertFactorsMatch(state, shapes, `${what}, ${steps} steps`);
        tf.dispose([...start, ...tensorsOf(state)]);
      }
    });
  }

  it('the factors have moved from their start (the check above compares fitted Q, not only the identity)', () => {
    const start = x0();
    const { state } = runTransform(scaleByPsgdKron({ ...base, initScale: 1 }), start, grads, 3);
    const q = tensorListAt(state, 'q', 0)[0].dataSync();
    const offDiagonal = Array.from(q).filter((_, k) => k % 5 !== 0);
    assert.ok(Math.max(...offDiagonal.map(Math.abs)) > 1e-3, `Q[0][0] is still diagonal: ${Array.from(q).join(", ")}`);
    tf.dispose([...start, ...tensorsOf(state)]);
  });

  it('kronPreconditionerFactors: dense QᵀQ and diagonal q² by hand; applyKronFactors equals applyKronPreconditioner', () => {
    const layout = kronLayout([2, 3], { maxSize: null, maxSkew: 4 }); // 4 ≤ 24 and 9 ≤ 24: both dense
    assert.deepEqual(layout.kinds, ['dense', 'dense']);
    const q0 = tf.tensor2d([[1, 2], [0, 3]]);
    const q1 = tf.tensor2d([[2, 0, 1], [0, 1, 0], [1, 0, 1]]);
    const [p0, p1] = kronPreconditionerFactors([q0, q1], layout);
    // Q₀ᵀQ₀ = [[1, 2], [2, 13]]; Q₁ᵀQ₁ = [[5, 0, 3], [0, 1, 0], [3, 0, 2]]
    assert.deepEqual(Array.from(p0.dataSync()), [1, 2, 2, 13]);
    assert.deepEqual(Array.from(p1.dataSync()), [5, 0, 3, 0, 1, 0, 3, 0, 2]);
    const x = tf.tensor2d([[1, -1, 2], [0, 3, 1]]);
    // P·x = (Q₀ᵀQ₀)·x·(Q₁ᵀQ₁) = [[1, 5, 4], [2, 37, 17]]·Q₁ᵀQ₁ = [[17, 5, 11], [61, 37, 40]]
    assert.deepEqual(Array.from(applyKronFactors([p0, p1], layout, x).dataSync()), [17, 5, 11, 61, 37, 40]);
    assert.deepEqual(Array.from(applyKronPreconditioner([q0, q1], layout, x).dataSync()), [17, 5, 11, 61, 37, 40]);
    const diagonal = kronLayout([5], { maxSize: null, maxSkew: 1 });
    const [pd] = kronPreconditionerFactors([tf.tensor1d([1, -2, 0.5, 3, 0])], diagonal);
    assert.deepEqual(Array.from(pd.dataSync()), [1, 4, 0.25, 9, 0]);
    tf.dispose([q0, q1, p0, p1, x, pd]);
  });

  it('updateKronWhitening given the factors returns what it returns forming them, draw for draw', () => {
    const layout = kronLayout([4, 3], { maxSize: null, maxSkew: 4 });
    const qs = initKronFactors(layout, 0.8);
    const ls = layout.dims.map(() => tf.scalar(0.5));
    const g = tf.tensor(gaussian(12, 4), [4, 3]);
    const factors = kronPreconditionerFactors(qs, layout);
    const options = { lr: 0.1, betaL: 0.9, damping: 1e-9, balanceProbability: 1 };
    const a = updateKronWhitening(qs, ls, layout, g, { ...options, rand: mulberry32(11) });
    const before = tf.memory().numTensors;
    const b = updateKronWhitening(qs, ls, layout, g, { ...options, rand: mulberry32(11), factors });
    assert.equal(tf.memory().numTensors, before + b.qs.length + b.ls.length);
    a.qs.forEach((q, i) => assert.deepEqual(Array.from(b.qs[i].dataSync()), Array.from(q.dataSync()), `factor ${i}`));
    a.ls.forEach((l, i) => assert.equal(b.ls[i].dataSync()[0], l.dataSync()[0]));
    tf.dispose([...qs, ...ls, g, ...factors, ...a.qs, ...a.ls, ...b.qs, ...b.ls]);
  });
});
