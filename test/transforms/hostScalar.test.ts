/**
 * Host-side step counts and seeds (src/transforms/hostScalar.ts; issue 13): psgdKron, GaLore and OSD keep
 * `count` and `seed` as float32 state tensors (checkpoints carry them as before) and their values on the
 * host, so a step reads nothing back for them. Counted here by wrapping the engine's read calls
 * (`Tensor.dataSync` / `data` go through `engine.readSync` / `engine.read`): no read on any step after the
 * first (whose psgdKron initial scale and GaLore/OSD range finder read by design), one read on the first
 * step of a state rebuilt from saved values (a restore), and through the optimizer adapter psgdKron's step
 * reads exactly as often as AdamW's. On cpu and wasm. That a resumed run continues the uninterrupted one
 * bit for bit is asserted in test/transforms/psgd.test.ts and subspace.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { disposeReplaced, tensorAt, tensorsOf, tidyStep } from '../support/transforms.js';
import type { GradientTransformation, ParamMeta, StateTree } from '../../src/core/transform.js';
import { hostScalar, hostScalars } from '../../src/transforms/hostScalar.js';
import { psgdKronTransform } from '../../src/optimizers/psgdKron.js';
import { galoreTransform, onlineSubspaceDescentTransform } from '../../src/optimizers/subspace.js';
import { createOptimizer } from '../../src/index.js';

const BACKENDS = ['cpu', 'wasm'] as const;

/** Counts the engine's device reads (sync and async) while installed. */
function readCounter() {
  const engine = tf.engine() as unknown as { readSync: (...a: unknown[]) => unknown; read: (...a: unknown[]) => unknown };
  const { readSync, read } = engine;
  let reads = 0;
  engine.readSync = function (...a: unknown[]) {
    reads++;
    return readSync.apply(this, a);
  };
  engine.read = function (...a: unknown[]) {
    reads++;
    return read.apply(this, a);
  };
  return {
    take: () => {
      const r = reads;
      reads = 0;
      return r;
    },
    restore: () => {
      engine.readSync = readSync;
      engine.read = read;
    },
  };
}

const SHAPES = [[6, 4], [12, 8], [5]];
const metas: ParamMeta[] = SHAPES.map((shape, i) => ({ name: `p${i}`, shape }));
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** One step as the adapter runs it (tidy, params += updates, replaced state disposed). */
function stepOnce(t: GradientTransformation, params: tf.Tensor[], state: StateTree, step: number) {
  const r = tidyStep(() => {
    const g = SHAPES.map((s, i) => tf.tensor(gaussian(size(s), 100 * step + i), s));
    const out = t.update(g, state, { step, params, metas });
    return { next: params.map((p, i) => tf.add(p, out.updates[i])), state: out.state };
  });
  tf.dispose(params);
  disposeReplaced(state, r.state);
  return r;
}

/** The state tree with every tensor rebuilt from its values (what a checkpoint restore hands over). */
function rebuilt(state: StateTree): StateTree {
  if (state instanceof tf.Tensor) return tf.tensor(state.dataSync(), state.shape);
  if (Array.isArray(state)) return state.map(rebuilt);
  if (state === null) return null;
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, rebuilt(v)]));
}

/** Each recipe, and where its count sits in the chain's state. */
const MAKERS: [string, () => GradientTransformation, (string | number)[]][] = [
  ['psgdKron', () => psgdKronTransform({ learningRate: 0.01, momentum: 0.5, seed: 11 }), [0, 'count']],
  ['psgdKron (dense both sides, anneal, initScale)', () => psgdKronTransform({ learningRate: 0.01, maxSkew: 100, updateSchedule: 'anneal', initScale: 1, seed: 4 }), [0, 'count']],
  // gap 100: the range finder (which reads its Gram matrix back by design) runs at step 0 only
  ['galore', () => galoreTransform({ learningRate: 0.01, rank: 2, updateGap: 100, scale: 1, seed: 3 }), ['matrix', 0, 'count']],
  ['onlineSubspaceDescent', () => onlineSubspaceDescentTransform({ learningRate: 0.01, rank: 2, updateGap: 5, scale: 1, seed: 5 }), ['matrix', 0, 'count']],
];

for (const backend of BACKENDS) describe(`host-side count and seed (${backend})`, () => {
  let counter: ReturnType<typeof readCounter>;
  before(async () => {
    await useBackend(backend);
    counter = readCounter();
  });
  after(() => counter.restore());

  it('hostScalars: values made by hostScalar come from the host (no read), float32-rounded; others are read once, then known', () => {
    const a = hostScalar(3);
    const b = hostScalar(0.1);
    counter.take();
    assert.deepEqual(hostScalars([a, b]), [3, Math.fround(0.1)]);
    assert.equal(counter.take(), 0);
    // a variable made from it, and one assigned it, hold its data: still known
    const v = tf.variable(tf.scalar(0));
    v.assign(a);
    const w = tf.variable(b);
    counter.take();
    assert.deepEqual(hostScalars([v as tf.Scalar, w as tf.Scalar]), [3, Math.fround(0.1)]);
    assert.equal(counter.take(), 0);
    // a scalar made elsewhere: one read for the whole list, then remembered
    const c = tf.scalar(7);
    assert.deepEqual(hostScalars([a, c]), [3, 7]);
    assert.equal(counter.take(), 1);
    assert.deepEqual(hostScalars([c, a]), [7, 3]);
    assert.equal(counter.take(), 0);
    // the host value is what the device holds
    assert.equal(b.dataSync()[0], Math.fround(0.1));
    tf.dispose([a, b, c, v, w]);
  });

  for (const [name, make, countAt] of MAKERS) {
    it(`${name}: no device read on steps 2–6; a rebuilt (restored) state reads once, on its first step`, () => {
      const t = make();
      let params = SHAPES.map((s) => tf.zeros(s));
      let state = t.init(metas);
      ({ next: params, state } = stepOnce(t, params, state, 0));
      counter.take();
      for (let step = 1; step < 6; step++) {
        ({ next: params, state } = stepOnce(t, params, state, step));
        assert.equal(counter.take(), 0, `step ${step}: device reads`);
      }
      // the count the host knew is what the device holds
      assert.equal(tensorAt(state, ...countAt).dataSync()[0], 6);
      const restored = rebuilt(state);
      tf.dispose(tensorsOf(state));
      counter.take();
      ({ next: params, state } = stepOnce(t, params, restored, 6));
      assert.equal(counter.take(), 1, 'the first step after a restore: one read of count and seed');
      ({ next: params, state } = stepOnce(t, params, state, 7));
      assert.equal(counter.take(), 0, 'then none');
      assert.equal(tensorAt(state, ...countAt).dataSync()[0], 8);
      tf.dispose([...params, ...tensorsOf(state)]);
    });
  }

  it('through the optimizer adapter, a psgdKron step reads exactly as often as an AdamW step', () => {
    const readsPerStep = (name: string, options: Record<string, unknown>) => {
      const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(gaussian(size(s), 50 + i), s), true, `hs_${name}_${backend}_${i}`));
      const opt = createOptimizer(name, options);
      const counts: number[] = [];
      for (let step = 0; step < 5; step++) {
        const grads = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(gaussian(size(v.shape), 10 * step + i), v.shape)]));
        counter.take();
        opt.applyGradients(grads);
        counts.push(counter.take());
        tf.dispose(Object.values(grads));
      }
      opt.dispose();
      tf.dispose(vars);
      return counts.slice(2);
    };
    const adamw = readsPerStep('adamw', { learningRate: 0.01 });
    assert.deepEqual(readsPerStep('psgdKron', { learningRate: 0.01, seed: 2 }), adamw);
  });
});
