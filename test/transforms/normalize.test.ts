/**
 * src/transforms/normalize.ts: NorMuon's neuron-wise second moment against a float64 re-implementation
 * over several steps (every layout: per output neuron, 'longerSide', a flattened and a 'kernel' conv;
 * with and without the norm-preserving rescale), its state shapes and errors; AdaMuon's element-wise
 * second moment (float64 and the first-step sign/√(1−β)); rmsRescale and rmsRescaleCount; exactSign /
 * scaleBySign on cpu and wasm.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, keysAt, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import {
  exactSign,
  rmsRescale,
  rmsRescaleCount,
  scaleByElementSecondMoment,
  scaleByNeuronSecondMoment,
  scaleBySign,
  type ScaleByNeuronSecondMomentOptions,
} from '../../src/transforms/normalize.js';

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * NorMuon's step in float64 on the `[p, r, q]` view of a row-major update (the statistic a mean over
 * r), for one parameter over all steps; returns each step's output and the final v (`[p, q]`).
 */
function neuron64(
  grads: Float32Array[],
  view: [number, number, number],
  o: { beta2: number; epsilon: number; preserveNorm: boolean; normPerColumn: boolean },
): { outs: number[][]; v: number[] } {
  const [P, R, Q] = view;
  const at = (a: number, b: number, c: number) => (a * R + b) * Q + c;
  const v = new Array<number>(P * Q).fill(0);
  const outs = grads.map((x) => {
    const f = new Array<number>(P * Q);
    const sumSq = new Array<number>(P * Q).fill(0);
    for (let a = 0; a < P; a++) {
      for (let c = 0; c < Q; c++) {
        for (let b = 0; b < R; b++) sumSq[a * Q + c] += x[at(a, b, c)] ** 2;
        v[a * Q + c] = o.beta2 * v[a * Q + c] + (1 - o.beta2) * (sumSq[a * Q + c] / R);
        f[a * Q + c] = 1 / (Math.sqrt(v[a * Q + c]) + o.epsilon);
      }
    }
    const out = Array.from(x, () => 0);
    for (let a = 0; a < P; a++) for (let b = 0; b < R; b++) for (let c = 0; c < Q; c++) out[at(a, b, c)] = x[at(a, b, c)] * f[a * Q + c];
    if (o.preserveNorm) {
      // norms over the whole tensor, or per column c (over a and b)
      const groupOf = (i: number) => (o.normPerColumn ? i % Q : 0);
      const before = new Map<number, number>();
      const after = new Map<number, number>();
      x.forEach((xi, i) => {
        before.set(groupOf(i), (before.get(groupOf(i)) ?? 0) + xi * xi);
        after.set(groupOf(i), (after.get(groupOf(i)) ?? 0) + out[i] * out[i]);
      });
      for (let i = 0; i < out.length; i++) {
        out[i] *= Math.sqrt(before.get(groupOf(i))!) / (Math.sqrt(after.get(groupOf(i))!) + o.epsilon);
      }
    }
    return out;
  });
  return { outs, v };
}

describe('scaleByNeuronSecondMoment', () => {
  before(() => useBackend('cpu'));

  const cases: {
    label: string;
    shape: number[];
    options: Partial<ScaleByNeuronSecondMomentOptions>;
    view: [number, number, number];
    stateShape: number[];
    normPerColumn: boolean;
  }[] = [
    { label: 'dense [4, 6], per output neuron', shape: [4, 6], options: {}, view: [1, 4, 6], stateShape: [1, 6], normPerColumn: false },
    { label: 'dense [6, 4], per output neuron', shape: [6, 4], options: {}, view: [1, 6, 4], stateShape: [1, 4], normPerColumn: false },
    { label: "dense [6, 4], 'longerSide' (fanIn > fanOut: per input row)", shape: [6, 4], options: { statistics: 'longerSide' }, view: [6, 4, 1], stateShape: [6, 1], normPerColumn: false },
    { label: "dense [4, 6], 'longerSide' (fanOut ≥ fanIn: per output neuron)", shape: [4, 6], options: { statistics: 'longerSide' }, view: [1, 4, 6], stateShape: [1, 6], normPerColumn: false },
    { label: 'conv [3, 2, 2, 3] flattened: per output channel of [12, 3]', shape: [3, 2, 2, 3], options: {}, view: [1, 12, 3], stateShape: [1, 3], normPerColumn: false },
    { label: "conv [3, 2, 2, 3] 'kernel': mean over kw, norm per (in, out) slice", shape: [3, 2, 2, 3], options: { convLayout: 'kernel' }, view: [3, 2, 6], stateShape: [3, 1, 2, 3], normPerColumn: true },
    { label: 'dense [4, 6] without preserveNorm', shape: [4, 6], options: { preserveNorm: false }, view: [1, 4, 6], stateShape: [1, 6], normPerColumn: false },
  ];

  for (const c of cases) {
    it(`${c.label}: 4 steps match float64, v of shape [${c.stateShape.join(', ')}]`, () => {
      const o = { beta2: 0.9, epsilon: 1e-8, ...c.options };
      const metas: ParamMeta[] = [{ name: 'w', shape: c.shape }];
      // columns of different scale, so per-neuron statistics differ from a global one
      const grads = [0, 1, 2, 3].map((k) => {
        const g = gaussian(size(c.shape), 100 + k);
        return g.map((x, i) => x * (1 + (i % 3)) * (k + 1));
      });
      const { outs, state } = updatesOver(scaleByNeuronSecondMoment(o), metas, (k) => [grads[k]], 4);
      const ref = neuron64(grads, c.view, { beta2: o.beta2, epsilon: o.epsilon, preserveNorm: o.preserveNorm ?? true, normPerColumn: c.normPerColumn });
      outs.forEach((out, k) => assertClose(out[0], ref.outs[k], 1e-5, `step ${k}`));
      const nu = tensorListAt(state, 'nu')[0];
      assert.deepEqual(nu.shape, c.stateShape);
      assertClose(nu.dataSync(), ref.v, 1e-5, 'v');
      if (o.preserveNorm ?? true) {
        const norm = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0));
        assertClose([norm(outs[3][0])], [norm(grads[3])], 1e-5, 'norm preserved');
      }
      tf.dispose(tensorsOf(state));
    });
  }

  it('init state { nu } of zeros per parameter; a vector is refused naming owner, parameter and shape', () => {
    const t = scaleByNeuronSecondMoment({ beta2: 0.95, epsilon: 1e-8 }, 'norMuon');
    const s = t.init([{ name: 'a', shape: [3, 5] }, { name: 'b', shape: [2, 2, 3, 4] }]);
    assert.deepEqual(keysAt(s), ['nu']);
    assert.deepEqual(tensorListAt(s, 'nu').map((x) => x.shape), [[1, 5], [1, 4]]);
    tf.dispose(tensorsOf(s));
    assert.throws(() => t.init([{ name: 'dense/bias', shape: [5] }]), /norMuon: parameter 'dense\/bias' has shape \[5\]; neuron-wise normalization needs a matrix/);
  });

  it('an all-zero update stays zero and leaves v at zero', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [3, 4] }];
    const { outs, state } = updatesOver(scaleByNeuronSecondMoment({ beta2: 0.9, epsilon: 1e-10 }), metas, () => [new Float32Array(12)], 2);
    for (const o of outs) assert.ok(o[0].every((v) => v === 0));
    assert.ok(tensorListAt(state, 'nu')[0].dataSync().every((v) => v === 0));
    tf.dispose(tensorsOf(state));
  });
});

describe('scaleByElementSecondMoment', () => {
  before(() => useBackend('cpu'));

  it('V ← βV + (1−β)O², out O/(√V + ε): 4 steps against float64; the first step is sign(O)/√(1−β)', () => {
    const beta = 0.95;
    const eps = 1e-8;
    const metas: ParamMeta[] = [{ name: 'w', shape: [3, 4] }];
    const grads = [0, 1, 2, 3].map((k) => gaussian(12, 7 + k));
    const { outs, state } = updatesOver(scaleByElementSecondMoment({ beta, epsilon: eps }), metas, (k) => [grads[k]], 4);
    const v = new Array<number>(12).fill(0);
    grads.forEach((g, k) => {
      const want = Array.from(g, (x, i) => {
        v[i] = beta * v[i] + (1 - beta) * x * x;
        return x / (Math.sqrt(v[i]) + eps);
      });
      assertClose(outs[k][0], want, 1e-5, `step ${k}`);
    });
    assertClose(outs[0][0], Array.from(grads[0], (x) => Math.sign(x) / Math.sqrt(1 - beta)), 1e-5, 'first step');
    assert.deepEqual(keysAt(state), ['nu']);
    assertClose(tensorListAt(state, 'nu')[0].dataSync(), v, 1e-6, 'V');
    tf.dispose(tensorsOf(state));
  });
});

describe('rmsRescale', () => {
  before(() => useBackend('cpu'));

  it('rmsRescaleCount: m·n of the flattened matrix; conv under kernel: min(shape)·max(shape)', () => {
    assert.equal(rmsRescaleCount([4, 6]), 24);
    assert.equal(rmsRescaleCount([3, 3, 2, 5]), 90);
    assert.equal(rmsRescaleCount([3, 3, 2, 5], 'kernel'), 10);
    assert.equal(rmsRescaleCount([2, 3, 4], 'kernel'), 8);
    assert.equal(rmsRescaleCount([4, 6], 'kernel'), 24); // rank 2 ignores the layout
  });

  it('U·rms·√count/(‖U‖ + ε): RMS rms over the matrix (flattened), rms·√(count/size) under kernel; vectors as 1×n', () => {
    const shapes = [[4, 6], [3, 3, 2, 5], [7]];
    const metas: ParamMeta[] = shapes.map((s, i) => ({ name: `p${i}`, shape: s }));
    const grads = shapes.map((s, i) => gaussian(size(s), 30 + i));
    const rmsOf = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0) / x.length);
    for (const [convLayout, rms] of [['flattened', 0.2], ['kernel', 0.5]] as const) {
      const { outs } = updatesOver(rmsRescale({ rms, epsilon: 1e-8, convLayout }), metas, () => grads, 1);
      assertClose([rmsOf(outs[0][0])], [rms], 1e-5, `${convLayout} dense`);
      assertClose([rmsOf(outs[0][2])], [rms], 1e-5, `${convLayout} vector`);
      const convWant = convLayout === 'kernel' ? rms * Math.sqrt(10 / 90) : rms;
      assertClose([rmsOf(outs[0][1])], [convWant], 1e-5, `${convLayout} conv`);
      // the direction is unchanged: out = c·g with one c per tensor
      const c = outs[0][0][0] / grads[0][0];
      assertClose(outs[0][0], Array.from(grads[0], (g) => g * c), 1e-5, 'direction');
    }
  });

  it('rms defaults to 0.2; an all-zero update stays zero', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [2, 2] }];
    const { outs } = updatesOver(rmsRescale({ epsilon: 1e-8 }), metas, (k) => [k === 0 ? [1, 1, 1, 1] : [0, 0, 0, 0]], 2);
    assertClose(outs[0][0], [0.2, 0.2, 0.2, 0.2], 1e-6);
    assert.deepEqual(Array.from(outs[1][0]), [0, 0, 0, 0]);
  });
});

describe('exactSign and scaleBySign', () => {
  const values = [-3, -1e-9, 0, 1e-30, 2e-8, 5];
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: sign(0) = 0 and tiny values keep their sign (wasm's Sign zeroes |x| < 1.19e-7)`, async () => {
      await useBackend(backend);
      const x = tf.tensor1d(values);
      const s = exactSign(x);
      assert.deepEqual(Array.from(s.dataSync()), [-1, -1, 0, 1, 1, 1]);
      const metas: ParamMeta[] = [{ name: 'x', shape: [6] }];
      const r = scaleBySign().update([x], null, { step: 0, params: [x], metas });
      assert.deepEqual(Array.from(r.updates[0].dataSync()), [-1, -1, 0, 1, 1, 1]);
      assert.equal(r.state, null);
      tf.dispose([x, s, ...r.updates]);
    });
  }
});
