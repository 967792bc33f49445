/**
 * src/transforms/clip.ts: clipByGlobalNorm below, at and above the threshold, across several
 * parameters (the norm is global, not per tensor), zero and empty gradients, and allocations.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { clipByGlobalNorm } from '../../src/transforms/clip.js';

function close(got: ArrayLike<number>, want: number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)), `[${i}] ${got[i]} vs ${w}`));
}

// Two parameters, g = ([3, 4], [[12]]): ‖g‖ = √(9 + 16 + 144) = 13 (a 3-4-5 and 5-12-13 triple).
const metas: ParamMeta[] = [{ name: 'a', shape: [2] }, { name: 'b', shape: [1, 1] }];
function clip(maxNorm: number, a = [3, 4], b = 12): Float32Array[] {
  const g = [tf.tensor1d(a), tf.tensor2d([[b]])];
  const p = [tf.zeros([2]), tf.zeros([1, 1])];
  const t = clipByGlobalNorm(maxNorm);
  const r = t.update(g, t.init(metas), { step: 0, params: p, metas });
  assert.equal(r.state, null);
  assert.deepEqual(r.updates.map((u) => u.shape), [[2], [1, 1]]);
  const out = r.updates.map((u) => u.dataSync() as Float32Array);
  tf.dispose([...g, ...p, ...r.updates]);
  return out;
}

describe('clipByGlobalNorm', () => {
  before(() => useBackend('cpu'));

  it('above the threshold: every tensor scaled by maxNorm/‖g‖ with the GLOBAL norm (13), not per tensor', () => {
    const [a, b] = clip(6.5);
    close(a, [1.5, 2]);
    close(b, [6]);
    // the result has global norm maxNorm
    assert.ok(Math.abs(Math.hypot(a[0], a[1], b[0]) - 6.5) < 1e-5);
    // per-tensor clipping would have left [3, 4] (norm 5 < 6.5) untouched
    assert.notDeepEqual(Array.from(a), [3, 4]);
  });

  it('at the threshold (‖g‖ = maxNorm = 13) and below it (maxNorm = 100): unchanged', () => {
    for (const maxNorm of [13, 100, 13.0001]) {
      const [a, b] = clip(maxNorm);
      close(a, [3, 4]);
      close(b, [12]);
    }
  });

  it('just above the threshold scales by exactly maxNorm/13', () => {
    const [a, b] = clip(12.9);
    const f = 12.9 / 13;
    close(a, [3 * f, 4 * f]);
    close(b, [12 * f]);
  });

  it('a zero gradient stays zero (no 0/0), with any maxNorm', () => {
    for (const maxNorm of [1, 1e-6]) {
      const [a, b] = clip(maxNorm, [0, 0], 0);
      assert.deepEqual(Array.from(a), [0, 0]);
      assert.deepEqual(Array.from(b), [0]);
    }
  });

  it('matches a float64 reference on random gradients of dense and conv shapes', () => {
    const shapes = [[8, 4], [4], [3, 3, 2, 5]];
    const ms: ParamMeta[] = shapes.map((s, i) => ({ name: `p${i}`, shape: s }));
    const g = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 7 + i));
    const host = g.map((x) => Array.from(x.dataSync()));
    const norm = Math.sqrt(host.flat().reduce((s, v) => s + v * v, 0));
    for (const maxNorm of [norm / 4, norm * 2]) {
      const t = clipByGlobalNorm(maxNorm);
      const r = t.update(g, null, { step: 0, params: g, metas: ms });
      const f = Math.min(1, maxNorm / norm);
      r.updates.forEach((u, i) => close(u.dataSync(), host[i].map((v) => v * f), 1e-5));
      tf.dispose(r.updates);
    }
    tf.dispose(g);
  });

  it('no parameters: no updates; and it allocates only the outputs in a tidy', () => {
    const t = clipByGlobalNorm(1);
    assert.deepEqual(t.update([], null, { step: 0, params: [], metas: [] }).updates, []);
    const g = [tf.tensor1d([3, 4]), tf.tensor2d([[12]])];
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => t.update(g, null, { step: 0, params: g, metas }).updates);
    assert.equal(tf.memory().numTensors - before, 2);
    tf.dispose([...g, ...out]);
  });
});
