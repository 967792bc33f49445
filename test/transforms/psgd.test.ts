/**
 * scaleByPsgdKron (src/transforms/psgd.ts) and the psgdKron chain: hand-derived steps (the initial scale
 * from the first gradients, momentum's β = min(t/(1+t), μ), the clipping), the clipping bounds
 * RMS(step) ≤ 2·lr and max|step| ≤ 10·lr, the annealed update probability, shapes of every rank,
 * reproducibility from the seed, an exact resume from saved state, and no leaks — on cpu and wasm.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { runTransform, tensorAt, tensorListAt, tensorsOf, tidyStep, disposeReplaced } from '../support/transforms.js';
import type { GradientTransformation, ParamMeta, StateTree } from '../../src/core/transform.js';
import { annealedUpdateProbability, scaleByPsgdKron, type PsgdKronOptions } from '../../src/transforms/psgd.js';
import { psgdKronTransform } from '../../src/optimizers/psgdKron.js';

/** Every test runs on both Node backends (wasm reductions are the less precise). */
const BACKENDS = ['cpu', 'wasm'] as const;

/** psgd_torch's defaults, with the coin of the preconditioner update made (almost surely) false when asked. */
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
  maxSkew: 1,
  initScale: null,
  seed: 0,
};
/** A probability no mulberry32 draw of these tests falls under: the factors stay as initialised. */
const NEVER = 1e-12;

const rms = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0) / x.length);
const maxAbs = (x: ArrayLike<number>) => Math.max(...Array.from(x, Math.abs));

/** One step of `t` from its init, returning the update values and the new state (caller disposes the state). */
function oneStep(t: GradientTransformation, grads: tf.Tensor[], metas: ParamMeta[], state?: StateTree) {
  const s0 = state ?? t.init(metas);
  const params = grads.map((g) => tf.zerosLike(g));
  const r = tidyStep(() => {
    const out = t.update(grads, s0, { step: 0, params, metas });
    return { next: out.updates, state: out.state };
  });
  disposeReplaced(s0, r.state);
  const values = r.next.map((u) => Float32Array.from(u.dataSync()));
  tf.dispose([...r.next, ...params]);
  return { values, state: r.state };
}

const metasOf = (shapes: number[][]): ParamMeta[] => shapes.map((shape, i) => ({ name: `p${i}`, shape }));

for (const backend of BACKENDS) describe(`scaleByPsgdKron: hand-derived steps (${backend})`, () => {
  before(() => useBackend(backend));

  it('the first step without initScale: Q = s^(1/order)·I, s = (max mean|g|⁴ + damping⁴)^(−1/8), and the update P·g = s²·g', () => {
    const shapes = [[4, 3], [5]];
    const g = [Float32Array.from(gaussian(12, 1), (v) => 3 * v), Float32Array.from(gaussian(5, 2), (v) => 0.5 * v)];
    const grads = g.map((x, i) => tf.tensor(x, shapes[i]));
    const moment = (x: Float32Array) => Array.from(x).reduce((a, v) => a + v ** 4, 0) / x.length;
    const s = (Math.max(moment(g[0]), moment(g[1])) + 1e-36) ** (-1 / 8);
    const t = scaleByPsgdKron({ ...base, maxSkew: 4, updateProbability: NEVER });
    const { values, state } = oneStep(t, grads, metasOf(shapes));
    // maxSkew 4: [4, 3] gets two dense factors s^(1/2)·I (d² ≤ 4·12); [5] one diagonal factor s·1 (25 > 4·5)
    const q0 = tensorListAt(state, 'q', 0);
    assert.deepEqual(q0.map((q) => q.shape), [[4, 4], [3, 3]]);
    const eye = (d: number, v: number) => Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? v : 0));
    q0.forEach((q, i) => Array.from(q.dataSync()).forEach((v, k) => assert.ok(Math.abs(v - eye([4, 3][i], Math.sqrt(s))[k]) <= 1e-6 * Math.sqrt(s), `factor ${i}[${k}]: ${v} vs ${eye([4, 3][i], Math.sqrt(s))[k]}`)));
    Array.from(tensorListAt(state, 'q', 1)[0].dataSync()).forEach((v) => assert.ok(Math.abs(v - s) <= 1e-6 * s, `vector factor ${v} vs ${s}`));
    // P = s²·I on both; rms(s²·g) ≤ 1 (power means), so nothing is clipped
    values.forEach((u, i) => u.forEach((v, k) => assert.ok(Math.abs(v - s * s * g[i][k]) <= 1e-5 * Math.abs(s * s * g[i][k]) + 1e-7, `param ${i}[${k}]: ${v} vs ${s * s * g[i][k]}`)));
    assert.equal(tensorAt(state, 'count').dataSync()[0], 1);
    tf.dispose([...grads, ...tensorsOf(state)]);
  });

  it('clips to RMS 2 then to ±10, by hand: one dominant entry', () => {
    // P = I (initScale 1, no update): u = g = [100, 0.01 × 99] has RMS ≈ 10 → ×2/RMS → [≈20 → 10, ≈0.002 …]
    const g = Float32Array.from({ length: 100 }, (_, k) => (k === 0 ? 100 : 0.01));
    const r = Math.sqrt((100 ** 2 + 99 * 0.01 ** 2) / 100);
    const t = scaleByPsgdKron({ ...base, initScale: 1, updateProbability: NEVER });
    const grads = [tf.tensor1d(g)];
    const { values, state } = oneStep(t, grads, metasOf([[100]]));
    assert.equal(values[0][0], 10);
    for (let k = 1; k < 100; k++) assert.ok(Math.abs(values[0][k] - (0.01 * 2) / r) <= 1e-6 * (0.02 / r), `${values[0][k]}`);
    tf.dispose([...grads, ...tensorsOf(state)]);
  });

  it("momentum: m ← β·m + (1−β)·g with β = min(t/(1+t), μ), and P·m is the update (psgd_torch's EMA)", () => {
    const mu = 0.6;
    const t = scaleByPsgdKron({ ...base, momentum: mu, initScale: 1, updateProbability: NEVER, clipRms: 1e6, clipMax: 1e6 });
    const metas = metasOf([[3, 2]]);
    const gs = [0, 1, 2].map((k) => Float32Array.from(gaussian(6, 30 + k)));
    let state: StateTree = t.init(metas);
    let m = new Float64Array(6);
    for (let step = 0; step < 3; step++) {
      const beta = Math.min(step / (1 + step), mu); // 0, 0.5, 0.6
      m = Float64Array.from(m, (v, k) => beta * v + (1 - beta) * gs[step][k]);
      const grads = [tf.tensor2d(gs[step], [3, 2])];
      const r = oneStep(t, grads, metas, state);
      state = r.state;
      r.values[0].forEach((v, k) => assert.ok(Math.abs(v - m[k]) <= 1e-6, `step ${step}[${k}]: ${v} vs ${m[k]}`));
      Array.from(tensorListAt(state, 'mu')[0].dataSync()).forEach((v, k) => assert.ok(Math.abs(v - m[k]) <= 1e-6));
      tf.dispose(grads);
    }
    tf.dispose(tensorsOf(state));
  });

  it("kozistr's annealed update probability: 1 until step 500, e^(−0.5) at 1000, floored at 0.03", () => {
    assert.equal(annealedUpdateProbability(0), 1);
    assert.equal(annealedUpdateProbability(500), 1);
    assert.ok(Math.abs(annealedUpdateProbability(1000) - Math.exp(-0.5)) < 1e-15);
    assert.equal(annealedUpdateProbability(5000), 0.03);
    assert.equal(annealedUpdateProbability(400, 0.5), 0.5); // capped by the maximum
    assert.ok(Math.abs(annealedUpdateProbability(1000, 0.5) - 0.5 * Math.exp(-0.5)) < 1e-15);
  });
});

for (const backend of BACKENDS) describe(`psgdKron chain: clipping bounds, shapes, seeds, resume, leaks (${backend})`, () => {
  before(() => useBackend(backend));

  const SHAPES = [[], [5], [1, 7], [6, 4], [12, 8], [2, 3, 4], [2, 1, 2, 2, 3], [0, 5]];
  const grads = (scale: number) => (_: tf.Tensor[], step: number) =>
    SHAPES.map((shape, i) => tf.tensor(Float32Array.from(gaussian(shape.reduce((a, b) => a * b, 1), 100 * step + i), (v) => v * scale), shape));
  const x0 = () => SHAPES.map((shape, i) => tf.tensor(gaussian(shape.reduce((a, b) => a * b, 1), 7 + i), shape));

  it('every step obeys RMS(step) ≤ 2·lr and max|step| ≤ 10·lr, on every shape, also with a large initial P', () => {
    const lr = 0.01;
    for (const options of [{ learningRate: lr }, { learningRate: lr, initScale: 30, momentum: 0.9 }, { learningRate: lr, initScale: 1e4 }]) {
      const start = x0();
      const { history } = runTransform(psgdKronTransform({ ...options, seed: 1 }), start, grads(1), 6);
      let previous = start.map((x) => x.dataSync() as Float32Array);
      let clippedSteps = 0;
      history.forEach((params, step) => {
        params.forEach((p, i) => {
          if (p.length === 0) return;
          const d = Float32Array.from(p, (v, k) => v - previous[i][k]);
          assert.ok(d.every(Number.isFinite), `step ${step} param ${i}: not finite`);
          assert.ok(rms(d) <= 2 * lr * (1 + 1e-5), `step ${step} param ${i}: RMS ${rms(d)}`);
          assert.ok(maxAbs(d) <= 10 * lr * (1 + 1e-6), `step ${step} param ${i}: max ${maxAbs(d)}`);
          if (rms(d) > 1.99 * lr) clippedSteps++;
        });
        previous = params;
      });
      // the large initial P makes the RMS clip bind: the bound is reached, not only respected
      if (options.initScale === 1e4) assert.ok(clippedSteps > 0, 'the RMS clip never bound');
      tf.dispose(start);
    }
  });

  it('state per shape: diagonal for vectors, scalars and the larger side, dense for the smaller side; nothing for zero-size', () => {
    const t = scaleByPsgdKron(base);
    const state = t.init(metasOf(SHAPES));
    const q = (i: number) => tensorListAt(state, 'q', i).map((x) => x.shape);
    assert.deepEqual(q(0), [[1]]);
    assert.deepEqual(q(1), [[5]]);
    assert.deepEqual(q(2), [[7]]);
    assert.deepEqual(q(3), [[6], [4, 4]]);
    assert.deepEqual(q(4), [[12], [8, 8]]);
    assert.deepEqual(q(5), [[2, 2], [3, 3], [4, 4]]);
    assert.deepEqual(q(6), [[2, 2], [2, 2], [2, 2], [3, 3]]);
    assert.deepEqual(q(7), []);
    tf.dispose(tensorsOf(state));
  });

  it('the same seed gives the same run bit for bit; another seed another run', () => {
    const run = (seed: number) => {
      const start = x0();
      const { history } = runTransform(psgdKronTransform({ learningRate: 0.01, seed }), start, grads(1), 4);
      tf.dispose(start);
      return history[3].map((p) => Array.from(p));
    };
    const a = run(3);
    assert.deepEqual(run(3), a);
    assert.notDeepEqual(run(4), a);
  });

  it('saving the state after 3 steps and resuming in a fresh transform continues the uninterrupted run exactly', () => {
    const make = () => psgdKronTransform({ learningRate: 0.01, momentum: 0.5, seed: 11 });
    const metas = metasOf(SHAPES);
    const g = grads(1);
    const stepOnce = (t: GradientTransformation, params: tf.Tensor[], state: StateTree, step: number) => {
      const r = tidyStep(() => {
        const out = t.update(g(params, step), state, { step, params, metas });
        return { next: params.map((p, i) => tf.add(p, out.updates[i])), state: out.state };
      });
      tf.dispose(params);
      disposeReplaced(state, r.state);
      return r;
    };
    // uninterrupted
    const t1 = make();
    let p1 = x0();
    let s1 = t1.init(metas);
    for (let step = 0; step < 6; step++) ({ next: p1, state: s1 } = stepOnce(t1, p1, s1, step));
    // interrupted after 3: the state's values copied out (as a checkpoint does), then into a fresh transform
    const t2 = make();
    let p2 = x0();
    let s2 = t2.init(metas);
    for (let step = 0; step < 3; step++) ({ next: p2, state: s2 } = stepOnce(t2, p2, s2, step));
    assert.equal(tensorAt(s2, 0, 'count').dataSync()[0], 3);
    assert.equal(tensorAt(s2, 0, 'seed').dataSync()[0], 11);
    const saved = tensorsOf(s2).map((x) => ({ values: Float32Array.from(x.dataSync()), shape: x.shape }));
    const savedParams = p2.map((x) => ({ values: Float32Array.from(x.dataSync()), shape: x.shape }));
    tf.dispose([...tensorsOf(s2), ...p2]);
    const t3 = make();
    const fresh = t3.init(metas);
    const slots = tensorsOf(fresh);
    assert.equal(slots.length, saved.length);
    // rebuild the tree with the saved values, in tensorsOf's order
    let k = 0;
    const restore = (node: StateTree): StateTree => {
      if (node instanceof tf.Tensor) {
        const v = saved[k++];
        return tf.tensor(v.values, v.shape);
      }
      if (Array.isArray(node)) return node.map(restore);
      if (node === null) return null;
      return Object.fromEntries(Object.entries(node).map(([key, x]) => [key, restore(x)]));
    };
    let s3 = restore(fresh);
    tf.dispose(slots);
    let p3 = savedParams.map((x) => tf.tensor(x.values, x.shape));
    for (let step = 3; step < 6; step++) ({ next: p3, state: s3 } = stepOnce(t3, p3, s3, step));
    p3.forEach((p, i) => assert.deepEqual(Array.from(p.dataSync()), Array.from(p1[i].dataSync()), `param ${i}`));
    tf.dispose([...p1, ...p3, ...tensorsOf(s1), ...tensorsOf(s3)]);
  });

  it('leaks no tensors over 20 steps (with momentum and every shape)', () => {
    const start = x0();
    const before = tf.memory().numTensors;
    const { state } = runTransform(psgdKronTransform({ learningRate: 0.01, momentum: 0.9, seed: 2 }), start, grads(1), 20);
    const kept = tensorsOf(state).length;
    assert.equal(tf.memory().numTensors, before + kept);
    tf.dispose([...start, ...tensorsOf(state)]);
  });
});
