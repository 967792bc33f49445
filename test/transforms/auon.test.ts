/**
 * src/transforms/auon.ts: frobeniusNorm (float64, empty, extreme magnitudes), coshRms by hand and its
 * bounds, normalizeByFrobenius, the cosh brake in code and paper form, and orthogonalizeOrPass (vectors
 * untouched, matrices and flattened conv kernels by Newton–Schulz, 'spatial' conv kernels per kh×kw
 * slice) against a float64 Newton–Schulz.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { coshBrake, coshRms, frobeniusNorm, normalizeByFrobenius, orthogonalizeOrPass } from '../../src/transforms/auon.js';
import { resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { matrix64, newtonSchulz64 } from '../../src/linalg/reference.js';

const JORDAN: [number, number, number][] = Array.from({ length: 5 }, () => [3.4445, -4.775, 2.0315]);
const norm64 = (x: ArrayLike<number>): number => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0));
const coshRms64 = (x: ArrayLike<number>, gamma: number): number =>
  Math.sqrt(Array.from(x).reduce((s, v) => s + Math.cosh(gamma * v) ** 2, 0) / x.length);

function scalarOf(f: () => tf.Scalar): number {
  const s = f();
  const v = s.dataSync()[0];
  s.dispose();
  return v;
}

describe('frobeniusNorm and coshRms', () => {
  before(() => useBackend('cpu'));

  it('frobeniusNorm matches float64 on vectors, matrices and conv kernels; an empty tensor has norm 0', () => {
    for (const shape of [[7], [5, 9], [3, 3, 2, 4]]) {
      const v = gaussian(shape.reduce((a, b) => a * b, 1), shape.length);
      const x = tf.tensor(v, shape);
      assertClose([scalarOf(() => frobeniusNorm(x))], [norm64(v)], 1e-6, `[${shape.join(', ')}]`);
      x.dispose();
    }
    const e = tf.zeros([0, 3]);
    assert.equal(scalarOf(() => frobeniusNorm(e)), 0);
    e.dispose();
  });

  it('frobeniusNorm is finite and exact for entries whose squares overflow or underflow float32', () => {
    for (const [values, want] of [[[3e30, 4e30], 5e30], [[3e-30, -4e-30], 5e-30], [[3e19, 4e19], 5e19]] as const) {
      const x = tf.tensor1d([...values]);
      const got = scalarOf(() => frobeniusNorm(x));
      assert.ok(Math.abs(got / want - 1) < 1e-6, `${got} vs ${want}`);
      x.dispose();
    }
  });

  it('coshRms: √mean(cosh(γx)²) by hand (zeros → 1) and against float64', () => {
    const z = tf.zeros([4]);
    assert.equal(scalarOf(() => coshRms(z, 1.5)), 1);
    z.dispose();
    const one = tf.tensor1d([2]);
    assertClose([scalarOf(() => coshRms(one, 0.5))], [Math.cosh(1)], 1e-6);
    one.dispose();
    const v = gaussian(30, 3);
    const x = tf.tensor(v, [5, 6]);
    assertClose([scalarOf(() => coshRms(x, 1.5))], [coshRms64(v, 1.5)], 1e-6);
    x.dispose();
  });
});

describe('normalizeByFrobenius and coshBrake', () => {
  before(() => useBackend('cpu'));
  const metas: ParamMeta[] = [{ name: 'w', shape: [3, 4] }, { name: 'b', shape: [2] }];
  const w = gaussian(12, 21).map((x) => 40 * x);
  const b = [3, 4];

  it('normalizeByFrobenius: U/(‖U‖_F + eps) per tensor (default eps 1e-7)', () => {
    const { outs } = updatesOver(normalizeByFrobenius(), metas, () => [w, b], 1);
    assertClose(outs[0][0], Array.from(w, (x) => x / (norm64(w) + 1e-7)), 1e-6);
    assertClose(outs[0][1], [0.6, 0.8], 1e-6);
    const { outs: o2 } = updatesOver(normalizeByFrobenius(1), metas, () => [w, b], 1);
    assertClose(o2[0][1], [0.5, 4 / 6], 1e-6);
  });

  it('code form (default): U/(r + 1e-8) with r the cosh-RMS of γ·U/(‖U‖ + 1e-7): U keeps its magnitude', () => {
    const { outs } = updatesOver(coshBrake(), metas, () => [w, b], 1);
    for (const [i, u] of [w, Float32Array.from(b)].entries()) {
      const g = Array.from(u, (x) => x / (norm64(u) + 1e-7));
      const r = coshRms64(g, 1.5);
      assertClose(outs[0][i], Array.from(u, (x) => x / (r + 1e-8)), 1e-5, `param ${i}`);
      assert.ok(r > 1 && r < 1.7, `r = ${r}`);
    }
  });

  it('paper form (normalize: false): r read from γ·U itself; gamma and eps options', () => {
    const u = [0.6, 0.8];
    const { outs } = updatesOver(coshBrake({ normalize: false, gamma: 1, eps: 0.5 }), [metas[1]], () => [u], 1);
    const r = coshRms64(u, 1);
    assertClose(outs[0][0], u.map((x) => x / (r + 0.5)), 1e-6);
    // on the unnormalized b = [3, 4] the paper form gives a very different r than the code form
    const { outs: big } = updatesOver(coshBrake({ normalize: false }), [metas[1]], () => [b], 1);
    assertClose(big[0][0], b.map((x) => x / (coshRms64(b, 1.5) + 1e-8)), 1e-5);
  });

  it('a zero update stays zero in both forms (r = 1)', () => {
    for (const normalize of [true, false]) {
      const { outs } = updatesOver(coshBrake({ normalize }), [metas[0]], () => [new Float32Array(12)], 1);
      assert.ok(outs[0][0].every((v) => v === 0));
    }
  });
});

describe('orthogonalizeOrPass', () => {
  before(() => useBackend('cpu'));
  const ns = resolveNewtonSchulz({ coefficients: JORDAN });

  it('vectors and scalars pass through as the same tensor; matrices are NS₅ (float64 reference)', () => {
    const metas: ParamMeta[] = [{ name: 'b', shape: [3] }, { name: 's', shape: [] }, { name: 'w', shape: [4, 6] }];
    const g = [tf.tensor1d([1, 2, 3]), tf.scalar(5), tf.tensor(gaussian(24, 8), [4, 6])];
    const r = orthogonalizeOrPass(ns).update(g, null, { step: 0, params: g, metas });
    assert.equal(r.updates[0], g[0]);
    assert.equal(r.updates[1], g[1]);
    assert.equal(r.state, null);
    assertClose(r.updates[2].dataSync(), newtonSchulz64(matrix64(4, 6, g[2].dataSync()), JORDAN).data, 2e-5);
    tf.dispose([...g, r.updates[2]]);
  });

  it("conv [kh, kw, in, out]: 'flattened' is NS₅ of [kh·kw·in, out]; 'spatial' is NS₅ of each kh×kw slice kernel[:, :, i, o]", () => {
    const shape = [3, 2, 2, 3];
    const [kh, kw, cin, cout] = shape;
    const v = gaussian(36, 12);
    const metas: ParamMeta[] = [{ name: 'c', shape }];
    const flat = updatesOver(orthogonalizeOrPass(ns), metas, () => [v], 1).outs[0][0];
    assertClose(flat, newtonSchulz64(matrix64(kh * kw * cin, cout, v), JORDAN).data, 2e-5, 'flattened');
    const spatial = updatesOver(orthogonalizeOrPass(ns, 'spatial'), metas, () => [v], 1).outs[0][0];
    const at = (a: number, bb: number, i: number, o: number) => ((a * kw + bb) * cin + i) * cout + o;
    for (let i = 0; i < cin; i++) {
      for (let o = 0; o < cout; o++) {
        const slice = Array.from({ length: kh * kw }, (_, j) => v[at(Math.floor(j / kw), j % kw, i, o)]);
        const want = newtonSchulz64(matrix64(kh, kw, slice), JORDAN).data;
        const got = Array.from({ length: kh * kw }, (_, j) => spatial[at(Math.floor(j / kw), j % kw, i, o)]);
        assertClose(got, want, 2e-5, `slice (${i}, ${o})`);
      }
    }
    assert.ok(Math.abs(flat[0] - spatial[0]) > 1e-3, 'the two readings differ');
  });
});
