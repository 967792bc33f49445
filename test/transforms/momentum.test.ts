/**
 * src/transforms/momentum.ts: emaMomentum (plain and Nesterov) and trace (torch SGD heavy ball)
 * against their closed forms after k steps, computed in float64, with state layout and leak checks.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { keysAt, tensorListAt } from '../support/transforms.js';
import type { GradientTransformation, ParamMeta, StateTree } from '../../src/core/transform.js';
import { emaMomentum, trace } from '../../src/transforms/momentum.js';

function close(got: ArrayLike<number>, want: number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)), `[${i}] ${got[i]} vs ${w}`));
}

/** Gradients of step k (k = 0, 1, …) for a 3-vector: distinct per coordinate and per step. */
const gradOf = (k: number): number[] => [1 + k, -2 + 0.5 * k * k, Math.sin(k + 1)];

/** Runs `t` for `steps` steps on one [3] parameter; returns each step's outputs and the final state. */
function run(t: GradientTransformation, steps: number): { outs: Float32Array[]; state: StateTree } {
  const metas: ParamMeta[] = [{ name: 'w', shape: [3] }];
  const p = tf.zeros([3]);
  let state = t.init(metas);
  const outs: Float32Array[] = [];
  for (let k = 0; k < steps; k++) {
    const g = tf.tensor1d(gradOf(k));
    const r = t.update([g], state, { step: k, params: [p], metas });
    outs.push(r.updates[0].dataSync() as Float32Array);
    state = r.state;
  }
  return { outs, state };
}

describe('emaMomentum', () => {
  before(() => useBackend('cpu'));

  it('state is { mu: [zeros per parameter] } in parameter order and shape', () => {
    const t = emaMomentum({ beta: 0.9, nesterov: false });
    const s = t.init([{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [4] }]);
    assert.deepEqual(keysAt(s), ['mu']);
    const mu = tensorListAt(s, 'mu');
    assert.deepEqual(mu.map((m) => m.shape), [[2, 3], [4]]);
    assert.deepEqual(mu.map((m) => Array.from(m.dataSync()).every((v) => v === 0)), [true, true]);
    tf.dispose(mu);
  });

  for (const beta of [0.9, 0.5]) {
    it(`β = ${beta}: after k steps M_k = (1−β) Σ_{j<k} β^{k−1−j} g_j (float64 closed form), output M_k`, () => {
      const steps = 6;
      const { outs, state } = run(emaMomentum({ beta, nesterov: false }), steps);
      for (let k = 1; k <= steps; k++) {
        const want = [0, 1, 2].map((c) => {
          let s = 0;
          for (let j = 0; j < k; j++) s += (1 - beta) * beta ** (k - 1 - j) * gradOf(j)[c];
          return s;
        });
        close(outs[k - 1], want);
      }
      const mu = tensorListAt(state, 'mu')[0].dataSync();
      close(mu, Array.from(outs[steps - 1]));
    });

    it(`β = ${beta}, Nesterov: output (1−β) g_k + β M_k, state still M_k`, () => {
      const steps = 6;
      const { outs, state } = run(emaMomentum({ beta, nesterov: true }), steps);
      let m = [0, 0, 0];
      for (let k = 0; k < steps; k++) {
        const g = gradOf(k);
        m = m.map((v, c) => beta * v + (1 - beta) * g[c]);
        close(outs[k], g.map((gc, c) => (1 - beta) * gc + beta * m[c]));
      }
      close(tensorListAt(state, 'mu')[0].dataSync(), m);
    });
  }

  it('hand values: β = 0.9, g = 1 each step: M = 0.1, 0.19, 0.271; Nesterov 0.19, 0.271, 0.3439', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [] }];
    for (const [nesterov, want] of [[false, [0.1, 0.19, 0.271]], [true, [0.19, 0.271, 0.3439]]] as const) {
      const t = emaMomentum({ beta: 0.9, nesterov });
      let state = t.init(metas);
      const p = tf.scalar(0);
      want.forEach((w, k) => {
        const r = t.update([tf.scalar(1)], state, { step: k, params: [p], metas });
        close(r.updates[0].dataSync(), [w]);
        state = r.state;
      });
    }
  });

  it('allocates in a tidy only the outputs and the new state', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [5] }, { name: 'b', shape: [2, 2] }];
    for (const nesterov of [false, true]) {
      const t = emaMomentum({ beta: 0.95, nesterov });
      const s0 = t.init(metas);
      const params = [tf.ones([5]), tf.ones([2, 2])];
      const before = tf.memory().numTensors;
      const kept = tf.tidy(() => {
        const r = t.update([tf.ones([5]), tf.ones([2, 2])], s0, { step: 0, params, metas });
        return [...r.updates, ...tensorListAt(r.state, 'mu')];
      });
      const fresh = new Set(kept).size;
      assert.equal(fresh, nesterov ? 4 : 2);
      assert.equal(tf.memory().numTensors - before, fresh);
      tf.dispose([...new Set(kept), ...params, ...tensorListAt(s0, 'mu')]);
    }
  });
});

describe('trace (torch SGD momentum)', () => {
  before(() => useBackend('cpu'));

  it('first step buf = g; then buf ← μ buf + (1−d) g; output buf or g + μ buf (float64 recurrence)', () => {
    for (const [momentum, dampening, nesterov] of [[0.9, 0, false], [0.9, 0, true], [0.8, 0.3, false], [0.5, 0.5, true]] as const) {
      const steps = 5;
      const { outs, state } = run(trace({ momentum, dampening, nesterov }), steps);
      let buf = [0, 0, 0];
      for (let k = 0; k < steps; k++) {
        const g = gradOf(k);
        buf = k === 0 ? [...g] : buf.map((b, c) => momentum * b + (1 - dampening) * g[c]);
        close(outs[k], nesterov ? g.map((gc, c) => gc + momentum * buf[c]) : buf);
      }
      close(tensorListAt(state, 'trace')[0].dataSync(), buf);
    }
  });

  it('closed form, no dampening: buf_k = Σ_{j≤k} μ^{k−j} g_j (the first step is not damped)', () => {
    const { outs } = run(trace({ momentum: 0.9, dampening: 0.5, nesterov: false }), 1);
    close(outs[0], gradOf(0)); // dampening does not touch step 0
    const { outs: o2 } = run(trace({ momentum: 0.7, dampening: 0, nesterov: false }), 4);
    const want = [0, 1, 2].map((c) => [0, 1, 2, 3].reduce((s, j) => s + 0.7 ** (3 - j) * gradOf(j)[c], 0));
    close(o2[3], want);
  });
});
