/**
 * src/transforms/orthogonalize.ts: shapeScale / scaleByShape — every rule ('jordan', 'moonlight',
 * 'spectral', 'none') on dense, conv and vector shapes with hand-derived factors, the conv-scale
 * option, and that the transform multiplies by exactly that factor; orthogonalize's rank check.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { orthogonalize, scaleByShape, shapeScale, type ShapeRule } from '../../src/transforms/orthogonalize.js';
import { resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';

const m = (shape: number[]): ParamMeta => ({ name: `w[${shape.join('x')}]`, shape });
const near = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe('shapeScale', () => {
  it("jordan: √max(1, fanOut/fanIn) of the flattened [fanIn, fanOut] matrix", () => {
    near(shapeScale(m([64, 256]), 'jordan'), 2); // fanOut/fanIn = 4
    near(shapeScale(m([256, 64]), 'jordan'), 1); // tall: max(1, ·) = 1
    near(shapeScale(m([10, 10]), 'jordan'), 1);
    near(shapeScale(m([2, 9]), 'jordan'), Math.sqrt(4.5));
    // conv [kh, kw, in, out] = [3, 3, 1, 36]: fanIn = 9, fanOut = 36 → 2
    near(shapeScale(m([3, 3, 1, 36]), 'jordan'), 2);
    near(shapeScale(m([3, 3, 16, 32]), 'jordan'), 1); // 144 × 32
    // rank 3 flattens the same way: [2, 2, 16] → 4 × 16
    near(shapeScale(m([2, 2, 16]), 'jordan'), 2);
  });

  it("jordan with convScale 'kernel': √max(1, kh/kw) on rank-4 kernels only (KellerJordan/Muon's 4-D size(-2)/size(-1))", () => {
    near(shapeScale(m([5, 1, 4, 8]), 'jordan', { convScale: 'kernel' }), Math.sqrt(5));
    near(shapeScale(m([1, 5, 4, 8]), 'jordan', { convScale: 'kernel' }), 1);
    near(shapeScale(m([3, 3, 1, 36]), 'jordan', { convScale: 'kernel' }), 1); // flattened would give 2
    near(shapeScale(m([3, 3, 1, 36]), 'jordan', { convScale: 'flattened' }), 2);
    // dense matrices ignore the option
    near(shapeScale(m([64, 256]), 'jordan', { convScale: 'kernel' }), 2);
  });

  it('moonlight: rms·√max(fanIn, fanOut), rms 0.2 by default', () => {
    near(shapeScale(m([64, 256]), 'moonlight'), 0.2 * 16);
    near(shapeScale(m([256, 64]), 'moonlight'), 0.2 * 16);
    near(shapeScale(m([64, 256]), 'moonlight', { rms: 0.5 }), 8);
    near(shapeScale(m([3, 3, 4, 2]), 'moonlight'), 0.2 * 6); // 36 × 2
  });

  it('spectral: √(fanOut/fanIn), below 1 for tall matrices', () => {
    near(shapeScale(m([64, 256]), 'spectral'), 2);
    near(shapeScale(m([256, 64]), 'spectral'), 0.5);
    near(shapeScale(m([3, 3, 1, 36]), 'spectral'), 2);
    near(shapeScale(m([3, 3, 4, 9]), 'spectral'), 0.5); // 36 × 9
  });

  it("'none', and every rule on vectors and scalars: 1", () => {
    for (const rule of ['jordan', 'moonlight', 'spectral', 'none'] as ShapeRule[]) {
      near(shapeScale(m([7]), rule), 1);
      near(shapeScale(m([]), rule), 1);
    }
    near(shapeScale(m([64, 256]), 'none'), 1);
  });
});

describe('scaleByShape', () => {
  before(() => useBackend('cpu'));

  it('multiplies each update by its own factor (dense, conv, vector in one list), stateless', () => {
    const shapes = [[2, 8], [3, 3, 1, 36], [8, 2], [5]];
    const metas = shapes.map(m);
    const g = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 11 + i));
    const want: Record<ShapeRule, number[]> = {
      jordan: [2, 2, 1, 1],
      moonlight: [0.2 * Math.sqrt(8), 0.2 * 6, 0.2 * Math.sqrt(8), 1],
      spectral: [2, 2, 0.5, 1],
      none: [1, 1, 1, 1],
    };
    for (const rule of Object.keys(want) as ShapeRule[]) {
      const t = scaleByShape(rule);
      assert.equal(t.init(metas), null);
      const r = t.update(g, null, { step: 0, params: g, metas });
      r.updates.forEach((u, i) => {
        assert.deepEqual(u.shape, shapes[i]);
        const got = u.dataSync();
        const src = g[i].dataSync();
        for (let j = 0; j < got.length; j++) near(got[j], src[j] * want[rule][i], 1e-6);
      });
      tf.dispose(r.updates.filter((u) => !g.includes(u)));
    }
    // with options
    const r = scaleByShape('jordan', { convScale: 'kernel' }).update(g, null, { step: 0, params: g, metas });
    near(r.updates[1].dataSync()[0], g[1].dataSync()[0] * 1, 1e-6);
    const r2 = scaleByShape('moonlight', { rms: 1 }).update(g, null, { step: 0, params: g, metas });
    near(r2.updates[1].dataSync()[0], g[1].dataSync()[0] * 6, 1e-6);
    tf.dispose([...g, ...r.updates, ...r2.updates].filter((x, i, a) => a.indexOf(x) === i));
  });

  it('factor 1 passes the tensor through; others allocate exactly one output each', () => {
    const metas = [m([8, 2]), m([2, 8])];
    const g = [tf.ones([8, 2]), tf.ones([2, 8])];
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => scaleByShape('jordan').update(g, null, { step: 0, params: g, metas }).updates);
    assert.equal(out[0], g[0]);
    assert.equal(tf.memory().numTensors - before, 1);
    assert.deepEqual(Array.from(out[1].dataSync()).slice(0, 2), [2, 2]);
    tf.dispose([...g, out[1]]);
  });
});

describe('orthogonalize', () => {
  before(() => useBackend('cpu'));

  it('refuses a vector, naming the owner, the parameter and its shape', () => {
    const t = orthogonalize(resolveNewtonSchulz({}), 'muon');
    const g = [tf.ones([3])];
    assert.throws(() => t.update(g, null, { step: 0, params: g, metas: [{ name: 'dense/bias', shape: [3] }] }), /muon: parameter 'dense\/bias' has shape \[3\]/);
    g[0].dispose();
  });
});
