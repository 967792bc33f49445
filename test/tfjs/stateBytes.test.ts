/**
 * `optimizer.stateBytes()` (src/tfjs/optimizer.ts), issue 13 item 4: the bytes of state an optimizer
 * holds, against closed forms (AdamW 2·4 bytes per weight, SGD with momentum 4, Muon 4 on matrices + 8 on
 * the rest, lookahead a slow copy more, DoG a copy of x₀ plus two global scalars) and against what the
 * first step adds to `tf.memory().numBytes`; the per-parameter breakdown (routing by name and by
 * position), state staged by `setWeights` before the first step, no tensor leaked and no effect on the
 * trajectory (PSGD's seeded randomness included).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { adamw, dog, lookaheadOptimizer, muon, psgdKron, sgd } from '../../src/tfjs/register.js';
import type { TransformOptimizer } from '../../src/tfjs/optimizer.js';
import { transformOptimizer } from '../../src/tfjs/custom.js';
import type { GradientTransformation } from '../../src/core/transform.js';

const shapes = [[8, 16], [16], [16, 4], [4]];
const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
const total = sizes.reduce((a, b) => a + b, 0); // 128 + 16 + 64 + 4 = 212
let uid = 0;

/** Fresh variables of `shapes` (seeded values) and a seeded gradient list for them. */
function problem(): { vars: tf.Variable[]; grads: () => { name: string; tensor: tf.Tensor }[] } {
  const tag = `stateBytes${uid++}`;
  const vars = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 0.1, 'float32', 10 + i), true, `${tag}/p${i}`));
  let step = 0;
  const grads = () => {
    step++;
    return vars.map((v, i) => ({ name: v.name, tensor: tf.randomNormal(v.shape, 0, 0.1, 'float32', 100 * step + i) }));
  };
  return { vars, grads };
}

/** One step; returns how much `tf.memory().numBytes` grew (the gradients disposed). */
function step(opt: TransformOptimizer, grads: { name: string; tensor: tf.Tensor }[]): number {
  const before = tf.memory().numBytes - grads.reduce((a, g) => a + 4 * g.tensor.size, 0);
  opt.applyGradients(grads, { loss: 1 });
  tf.dispose(grads.map((g) => g.tensor));
  return tf.memory().numBytes - before;
}

/** Makes an optimizer, steps it once on a fresh problem; returns the bytes the step added and the report. */
function measured(make: () => TransformOptimizer) {
  const { vars, grads } = problem();
  const opt = make();
  const grew = step(opt, grads());
  const report = opt.stateBytes({ perParameter: true });
  const bytes = opt.stateBytes();
  opt.dispose();
  tf.dispose(vars);
  return { grew, report, bytes };
}

// the closed forms and tf.memory() byte counts do not depend on the backend: checked on both
for (const backend of ['cpu', 'wasm'] as const) describe(`optimizer.stateBytes() (${backend})`, () => {
  before(() => useBackend(backend));

  it('AdamW holds 2 float32 slots per weight: 8 bytes × 212 = 1696, what the first step adds to tf.memory()', () => {
    const { grew, report, bytes } = measured(() => adamw());
    assert.equal(bytes, 8 * total);
    assert.equal(bytes, 1696);
    assert.equal(grew, bytes);
    assert.equal(report.total, bytes);
    assert.equal(report.shared, 0);
    assert.deepEqual(report.perParameter.map((p) => p.bytes), sizes.map((n) => 8 * n));
    assert.deepEqual(report.perParameter.map((p) => p.size), sizes);
    assert.deepEqual(report.perParameter.map((p) => p.shape), shapes);
    assert.deepEqual(
      report.slots.map((s) => [s.path, s.bytes]),
      ['mu', 'nu'].flatMap((slot) => sizes.map((n, i) => [`0/${slot}/${i}`, 4 * n])),
    );
    assert.ok(report.slots.every((s) => s.dtype === 'float32'));
  });

  it('global-norm clipping adds no state', () => {
    assert.equal(measured(() => adamw({ clipGlobalNorm: 1 })).bytes, 8 * total);
  });

  it('SGD with momentum holds one buffer (4 bytes per weight); plain SGD none', () => {
    const m = measured(() => sgd({ momentum: 0.9 }));
    assert.equal(m.bytes, 4 * total);
    assert.equal(m.grew, m.bytes);
    assert.deepEqual(m.report.perParameter.map((p) => p.bytes), sizes.map((n) => 4 * n));
    const plain = measured(() => sgd());
    assert.equal(plain.bytes, 0);
    assert.equal(plain.grew, 0);
    assert.deepEqual(plain.report.perParameter.map((p) => p.bytes), [0, 0, 0, 0]);
    assert.deepEqual(plain.report.slots, []);
  });

  it('Muon: a momentum buffer on the matrices (4 bytes per weight), AdamW on the vectors (8)', () => {
    const m = measured(() => muon());
    const expected = [4 * 128, 8 * 16, 4 * 64, 8 * 4];
    assert.equal(m.bytes, 4 * (128 + 64) + 8 * (16 + 4));
    assert.equal(m.grew, m.bytes);
    assert.deepEqual(m.report.perParameter.map((p) => p.bytes), expected);
    assert.equal(m.report.shared, 0);
  });

  it('routing by name (exclude) and by position (paramLabels) is attributed to the right parameter', () => {
    const byName = measured(() => muon({ exclude: ['/p2'] }));
    assert.deepEqual(byName.report.perParameter.map((p) => p.bytes), [4 * 128, 8 * 16, 8 * 64, 8 * 4]);
    assert.equal(byName.bytes, 4 * 128 + 8 * (16 + 64 + 4));
    const byPosition = measured(() => muon({ paramLabels: ['adamw', 'adamw', 'matrix', 'adamw'] }));
    assert.deepEqual(byPosition.report.perParameter.map((p) => p.bytes), [8 * 128, 8 * 16, 4 * 64, 8 * 4]);
    assert.equal(byPosition.bytes, byPosition.grew);
  });

  it('lookahead adds a slow copy of the weights to its inner AdamW: 12 bytes per weight', () => {
    const m = measured(() => lookaheadOptimizer({ inner: 'adamw' }));
    assert.equal(m.bytes, 12 * total);
    assert.equal(m.grew, m.bytes);
    assert.deepEqual(m.report.perParameter.map((p) => p.bytes), sizes.map((n) => 12 * n));
  });

  it('DoG: a copy of x₀ per parameter and two global scalars (r̄, Σ‖g‖²) in shared', () => {
    const m = measured(() => dog());
    assert.equal(m.bytes, 4 * total + 8);
    assert.equal(m.grew, m.bytes);
    assert.equal(m.report.shared, 8);
    assert.deepEqual(m.report.perParameter.map((p) => p.bytes), sizes.map((n) => 4 * n));
    assert.equal(m.report.perParameter.reduce((a, p) => a + p.bytes, 0) + m.report.shared, m.report.total);
  });

  it('attributes the state of a pipeline whose init reads the list by index (each parameter alone)', () => {
    // A buffer per matrix and one global scalar, made in an index loop (a list with gaps would throw here).
    const indexed: GradientTransformation = {
      init(metas) {
        const buffers: (tf.Tensor | null)[] = [];
        for (let i = 0; i < metas.length; i++) buffers.push(metas[i].shape.length >= 2 ? tf.zeros([...metas[i].shape]) : null);
        return { buffers, count: tf.scalar(0) };
      },
      update: (updates, state) => ({ updates: updates.map((u) => tf.mul(u, -0.1)), state }),
    };
    const m = measured(() => transformOptimizer(indexed, { name: `stateBytesIndexedInit${backend}` }));
    assert.equal(m.bytes, 4 * (128 + 64) + 4);
    assert.equal(m.grew, m.bytes);
    assert.deepEqual(m.report.perParameter.map((p) => p.bytes), [4 * 128, 0, 4 * 64, 0]);
    assert.equal(m.report.shared, 4);
  });

  it('is 0 before the first step; a state staged by setWeights counts as soon as it is staged', async () => {
    const { vars, grads } = problem();
    const first = adamw();
    assert.equal(first.stateBytes(), 0);
    assert.deepEqual(first.stateBytes({ perParameter: true }), { total: 0, perParameter: [], shared: 0, slots: [] });
    step(first, grads());
    const weights = await first.getWeights();
    const second = adamw();
    await second.setWeights(weights);
    assert.equal(second.stateBytes(), 8 * total);
    const staged = second.stateBytes({ perParameter: true });
    assert.equal(staged.total, 8 * total);
    assert.deepEqual(staged.perParameter, []); // setWeights does not say which parameters
    assert.equal(staged.shared, 8 * total);
    step(second, grads());
    assert.equal(second.stateBytes(), 8 * total);
    first.dispose();
    second.dispose();
    tf.dispose(vars);
  });

  it('leaks no tensor and leaves the trajectory as it was (PSGD draws seeded random vectors)', () => {
    const a = problem();
    const b = problem();
    const optA = psgdKron({ updateProbability: 1 });
    const optB = psgdKron({ updateProbability: 1 });
    for (let t = 0; t < 3; t++) {
      const ga = a.grads();
      const gb = b.grads();
      step(optA, ga);
      step(optB, gb);
      const count = tf.memory().numTensors;
      const bytes = tf.memory().numBytes;
      const report = optA.stateBytes({ perParameter: true });
      assert.equal(tf.memory().numTensors, count);
      assert.equal(tf.memory().numBytes, bytes);
      assert.equal(report.perParameter.reduce((s, p) => s + p.bytes, 0) + report.shared, report.total);
      assert.ok(report.perParameter.every((p) => p.bytes > 0));
    }
    a.vars.forEach((v, i) => assert.deepEqual(v.dataSync(), b.vars[i].dataSync()));
    optA.dispose();
    optB.dispose();
    tf.dispose([...a.vars, ...b.vars]);
  });
});
