/**
 * src/core/transform.ts: identity, stateless, chain (order of stages and of their states) and
 * partition (routing by label function or name map, per-label state layout, sub-contexts, errors),
 * with hand-derived numbers.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { keysAt, nodeAt, tensorAt } from '../support/transforms.js';
import {
  chain,
  identity,
  partition,
  resolveLabels,
  stateless,
  type GradientTransformation,
  type ParamMeta,
  type StepContext,
} from '../../src/core/transform.js';

/** A stateful stage: state `{ n: count }` (a scalar tensor), output `u·factor + n` (n before this step). */
function counter(factor: number): GradientTransformation {
  return {
    init: (metas) => ({ n: tf.scalar(0), size: tf.scalar(metas.length) }),
    update(updates, state) {
      const s = state as { n: tf.Tensor; size: tf.Tensor };
      return {
        updates: updates.map((u) => tf.add(tf.mul(u, factor), s.n)),
        state: { n: tf.add(s.n, 1), size: s.size },
      };
    },
  };
}

/** A stage that records what it was called with; its state is a record keyed by the names it was initialised with. */
function spy(log: { metas: string[]; params: number[]; step: number; updates: number[] }[], add: number): GradientTransformation {
  return {
    init: (metas) => Object.fromEntries(metas.map((m) => [m.name, null])),
    update(updates, state, ctx) {
      log.push({
        metas: ctx.metas.map((m) => m.name),
        params: ctx.params.map((p) => p.dataSync()[0]),
        step: ctx.step,
        updates: updates.map((u) => u.dataSync()[0]),
      });
      return { updates: updates.map((u) => tf.add(u, add)), state };
    },
  };
}

const vals = (ts: readonly tf.Tensor[]): number[] => ts.map((t) => t.dataSync()[0]);

function ctxOf(params: tf.Tensor[], metas: ParamMeta[], step = 0): StepContext {
  return { step, params, metas };
}

describe('core/transform', () => {
  before(() => useBackend('cpu'));

  it('identity returns the same tensors and keeps a null state', () => {
    const g = [tf.scalar(2), tf.scalar(-3)];
    const metas: ParamMeta[] = [{ name: 'a', shape: [] }, { name: 'b', shape: [] }];
    const t = identity();
    assert.equal(t.init(metas), null);
    const r = t.update(g, null, ctxOf(g, metas));
    assert.equal(r.updates[0], g[0]);
    assert.equal(r.updates[1], g[1]);
    assert.equal(r.state, null);
    tf.dispose(g);
  });

  it('stateless passes each update its own param, meta and the context', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [] }, { name: 'b', shape: [] }];
    const g = [tf.scalar(1), tf.scalar(2)];
    const p = [tf.scalar(10), tf.scalar(20)];
    const t = stateless((u, param, meta, ctx) => tf.add(tf.mul(u, param), meta.name === 'b' ? 100 * (ctx.step + 1) : 0));
    const r = t.update(g, t.init(metas), ctxOf(p, metas, 2));
    assert.deepEqual(vals(r.updates), [10, 340]);
    assert.equal(r.state, null);
    tf.dispose([...g, ...p, ...r.updates]);
  });

  it('chain applies stages in order and keeps their states as a list in the same order', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [] }];
    const p = [tf.scalar(0)];
    // u → u·2 + n1 → (u·2 + n1)·3 + n2 : order matters ((1·2)·3 = 6 vs adding first)
    const t = chain(counter(2), identity(), counter(3));
    let state = t.init(metas);
    assert.ok(Array.isArray(state));
    assert.equal(state.length, 3);
    assert.equal(nodeAt(state, 1), null);
    const outs: number[] = [];
    for (let step = 0; step < 3; step++) {
      const g = [tf.scalar(1)];
      const r = t.update(g, state, ctxOf(p, metas, step));
      outs.push(r.updates[0].dataSync()[0]);
      state = r.state;
    }
    // step k (n = k in both): (1·2 + k)·3 + k = 6 + 4k
    assert.deepEqual(outs, [6, 10, 14]);
    assert.equal(tensorAt(state, 0, 'n').dataSync()[0], 3);
    assert.equal(tensorAt(state, 2, 'n').dataSync()[0], 3);
    // reversed order gives (1·3 + k)·2 + k = 6 + 3k on the same inputs
    const rev = chain(counter(3), counter(2));
    const r0 = rev.update([tf.scalar(1)], [{ n: tf.scalar(2), size: tf.scalar(1) }, { n: tf.scalar(2), size: tf.scalar(1) }], ctxOf(p, metas, 2));
    assert.equal(r0.updates[0].dataSync()[0], 12);
  });

  it('chain of nothing is the identity with an empty state list', () => {
    const t = chain();
    assert.deepEqual(t.init([]), []);
    const g = [tf.scalar(5)];
    const r = t.update(g, [], ctxOf(g, [{ name: 'a', shape: [] }]));
    assert.deepEqual(vals(r.updates), [5]);
    assert.deepEqual(r.state, []);
  });

  it('partition routes by a label function: each inner transform sees only its params, in order, and outputs land back in place', () => {
    const metas: ParamMeta[] = [
      { name: 'w0', shape: [2, 2] },
      { name: 'b0', shape: [2] },
      { name: 'w1', shape: [2, 3] },
      { name: 'b1', shape: [3] },
      { name: 'w2', shape: [3, 3, 1, 2] },
    ];
    const logM: Parameters<typeof spy>[0] = [];
    const logA: Parameters<typeof spy>[0] = [];
    const t = partition({ matrix: spy(logM, 100), vector: spy(logA, 1000) }, (m) => (m.shape.length >= 2 ? 'matrix' : 'vector'));
    const state = t.init(metas);
    // state layout: a record keyed by label, in the transforms' key order, each the inner init of its own metas
    assert.deepEqual(keysAt(state), ['matrix', 'vector']);
    assert.deepEqual(keysAt(state, 'matrix'), ['w0', 'w1', 'w2']);
    assert.deepEqual(keysAt(state, 'vector'), ['b0', 'b1']);
    const g = [1, 2, 3, 4, 5].map((v) => tf.scalar(v));
    const p = [10, 20, 30, 40, 50].map((v) => tf.scalar(v));
    const r = t.update(g, state, ctxOf(p, metas, 7));
    assert.deepEqual(vals(r.updates), [101, 1002, 103, 1004, 105]);
    assert.deepEqual(logM, [{ metas: ['w0', 'w1', 'w2'], params: [10, 30, 50], step: 7, updates: [1, 3, 5] }]);
    assert.deepEqual(logA, [{ metas: ['b0', 'b1'], params: [20, 40], step: 7, updates: [2, 4] }]);
    assert.deepEqual(keysAt(r.state, 'matrix'), ['w0', 'w1', 'w2']);
    tf.dispose([...g, ...p, ...r.updates]);
  });

  it('partition routes by a name map and carries each label its own state (stateful inner transforms)', () => {
    const metas: ParamMeta[] = [{ name: 'x', shape: [] }, { name: 'y', shape: [] }, { name: 'z', shape: [] }];
    const t = partition({ fast: counter(10), slow: counter(1) }, { x: 'slow', y: 'fast', z: 'slow' });
    let state = t.init(metas);
    assert.equal(tensorAt(state, 'fast', 'size').dataSync()[0], 1);
    assert.equal(tensorAt(state, 'slow', 'size').dataSync()[0], 2);
    const p = [tf.scalar(0), tf.scalar(0), tf.scalar(0)];
    const outs: number[][] = [];
    for (let step = 0; step < 2; step++) {
      const r = t.update([tf.scalar(1), tf.scalar(2), tf.scalar(3)], state, ctxOf(p, metas, step));
      outs.push(vals(r.updates));
      state = r.state;
    }
    // step k: slow u·1 + k, fast u·10 + k
    assert.deepEqual(outs, [[1, 20, 3], [2, 21, 4]]);
    assert.equal(tensorAt(state, 'fast', 'n').dataSync()[0], 2);
    assert.equal(tensorAt(state, 'slow', 'n').dataSync()[0], 2);
  });

  it('partition gives a label with no parameters an empty group (init of [] and update of [])', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [] }];
    const seen: number[] = [];
    const empty: GradientTransformation = {
      init: (m) => tf.scalar(m.length),
      update: (u, s) => {
        seen.push(u.length);
        return { updates: [...u], state: s };
      },
    };
    const t = partition({ used: identity(), unused: empty }, () => 'used');
    const state = t.init(metas);
    assert.equal(tensorAt(state, 'unused').dataSync()[0], 0);
    assert.equal(nodeAt(state, 'used'), null);
    const g = [tf.scalar(4)];
    const r = t.update(g, state, ctxOf(g, metas));
    assert.deepEqual(vals(r.updates), [4]);
    assert.deepEqual(seen, [0]);
    g[0].dispose();
  });

  it('partition passes the label function the position, and labels are resolved once per metas list', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [] }, { name: 'a', shape: [] }];
    let calls = 0;
    const t = partition({ even: counter(1), odd: counter(-1) }, (_m, i) => {
      calls++;
      return i % 2 === 0 ? 'even' : 'odd';
    });
    let state = t.init(metas);
    assert.equal(calls, 2);
    const p = [tf.scalar(0), tf.scalar(0)];
    for (let step = 0; step < 3; step++) {
      const r = t.update([tf.scalar(5), tf.scalar(5)], state, ctxOf(p, metas, step));
      if (step === 2) assert.deepEqual(vals(r.updates), [7, -3]);
      state = r.state;
    }
    assert.equal(calls, 2);
  });

  it('partition refuses a parameter without a label, and a label without a transform, naming both', () => {
    const metas: ParamMeta[] = [{ name: 'dense/kernel', shape: [2, 2] }, { name: 'dense/bias', shape: [2] }];
    assert.throws(
      () => partition({ muon: identity(), adam: identity() }, { 'dense/kernel': 'muon' }).init(metas),
      (e: Error) => /partition: no label for parameter 'dense\/bias'/.test(e.message) && /muon, adam/.test(e.message),
    );
    assert.throws(
      () => partition({ muon: identity() }, () => 'adamw').init(metas),
      /parameter 'dense\/kernel' has label 'adamw', which has no transform \(known: muon\)/,
    );
    assert.deepEqual(resolveLabels({ 'dense/kernel': 'm', 'dense/bias': 'a' }, metas, ['a', 'm']), ['m', 'a']);
  });

  it('a chain containing a partition leaves no tensor behind in a tidy beyond outputs and state', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [3] }, { name: 'b', shape: [3] }];
    const t = chain(partition({ x: counter(2), y: identity() }, { a: 'x', b: 'y' }), counter(3));
    const state0 = t.init(metas);
    const p = [tf.ones([3]), tf.ones([3])];
    const before = tf.memory().numTensors;
    const kept = tf.tidy(() => {
      const r = t.update([tf.ones([3]), tf.ones([3])], state0, ctxOf(p, metas));
      return [...r.updates, tensorAt(r.state, 0, 'x', 'n'), tensorAt(r.state, 1, 'n')];
    });
    // 2 updates + 2 new counters; `size` is carried over, not new
    assert.equal(tf.memory().numTensors - before, 4);
    assert.deepEqual(Array.from(kept[0].dataSync()), [6, 6, 6]);
    assert.deepEqual(Array.from(kept[1].dataSync()), [3, 3, 3]);
    tf.dispose([...kept, ...p]);
  });
});
