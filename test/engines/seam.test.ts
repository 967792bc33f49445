/**
 * The engine seam inside newtonSchulz, with a fake native engine (float64 JavaScript, in process):
 * selection (explicit, auto, global default, per optimizer), one engine call per optimizer step for all
 * matrices, exactness against the tfjs engine, AOL going to the engine (the Gram form staying on tfjs),
 * and errors that write nothing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { describeEngine, disposeEngines, muon, newtonSchulz, registerEngine, resolveEngine, setDefaultEngine, turboMuon, type EngineIteration, type EngineMatrix } from '../../src/index.js';
import { matmul64, matrix64, newtonSchulz64, transpose64 } from '../../src/reference.js';

await useBackend('wasm');

const calls: number[] = [];
let fail = false;
let available = true;

registerEngine({
  name: 'workers',
  minimumElements: 100,
  available: () => (available ? { ok: true } : { ok: false, reason: 'switched off by the test' }),
  create: () => ({
    name: 'workers',
    run(ms: readonly EngineMatrix[], it: EngineIteration): Float32Array[] {
      calls.push(ms.length);
      if (fail) throw new Error('fake engine failed');
      return ms.map((m) => Float32Array.from(fake64(m, it)));
    },
    dispose() {},
  }),
});

/**
 * The fake engine's iteration in float64: `newtonSchulz64` for Frobenius; for AOL the tfjs orientation
 * (tall, square included: columns scaled by `1/√max(Σ_j |XᵀX|_ij, eps)`) and the plain loop.
 */
function fake64(m: EngineMatrix, it: EngineIteration): Float64Array {
  if (it.precondition !== 'aol') return newtonSchulz64(matrix64(m.rows, m.cols, m.data), it.steps, { eps: it.eps, normScale: it.normScale }).data;
  const tall = m.rows >= m.cols;
  let x = tall ? matrix64(m.rows, m.cols, m.data) : transpose64(matrix64(m.rows, m.cols, m.data));
  const k = x.cols;
  const a0 = matmul64(transpose64(x), x);
  const s = Array.from({ length: k }, (_, i) => {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.abs(a0.data[i * k + j]);
    return 1 / Math.sqrt(Math.max(sum, it.eps));
  });
  x = { ...x, data: x.data.map((v, e) => v * s[e % k]) };
  for (const [a, b, c] of it.steps) {
    const A = matmul64(transpose64(x), x);
    const A2 = matmul64(A, A);
    const P = { ...A, data: A.data.map((v, e) => b * v + c * A2.data[e] + (Math.floor(e / k) === e % k ? a : 0)) };
    x = matmul64(x, P);
  }
  return tall ? x.data : transpose64(x).data;
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(gaussian(shape.reduce((a, b) => a * b, 1), seed), shape);
}

function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

describe('engine seam', () => {
  after(() => {
    setDefaultEngine('tfjs');
    disposeEngines();
  });
  before(() => {
    calls.length = 0;
  });

  it('an explicit engine gives the tfjs result to float32 precision, for every shape', () => {
    for (const shape of [[1, 40], [40, 1], [24, 24], [48, 16], [3, 3, 4, 6]]) {
      const x = rand(shape, shape[0]);
      const ref = newtonSchulz(x, { engine: 'tfjs' });
      const got = newtonSchulz(x, { engine: 'workers' });
      assert.deepEqual(got.shape, x.shape);
      const d = maxRel(got, ref);
      assert.ok(d <= 1e-5, `shape [${shape.join(', ')}]: ${d}`);
      tf.dispose([x, ref, got]);
    }
  });

  it('auto picks the native engine for large enough matrices on a CPU backend', () => {
    assert.equal(resolveEngine('auto', 'wasm', 1000), 'workers');
    assert.equal(resolveEngine('auto', 'wasm', 10), 'tfjs');
    assert.equal(resolveEngine('auto', 'webgl', 1e6), 'tfjs');
    available = false;
    assert.equal(resolveEngine('auto', 'wasm', 1e6), 'tfjs');
    assert.throws(() => resolveEngine('workers', 'wasm', 1e6), /engine 'workers' cannot run here: switched off by the test/);
    available = true;
    assert.throws(() => resolveEngine('workers', 'webgl', 1e6), /needs tensors on a CPU backend/);
    assert.match(describeEngine('auto', 'wasm'), /^auto → workers on backend wasm$/);
    assert.match(describeEngine('auto', 'webgpu'), /auto → tfjs \(backend webgpu is not a CPU backend\)/);
  });

  it('an optimizer step sends all its matrices in one engine call, and matches the tfjs engine', () => {
    const shapes = [[20, 30], [30], [30, 10]];
    const mk = (seed: number, tag: string) => shapes.map((s, i) => tf.variable(rand(s, seed + i), true, `seam${tag}_${i}`));
    const a = mk(1, 'a');
    const b = mk(1, 'b');
    const native = muon({ learningRate: 0.05, engine: 'workers' });
    const plain = muon({ learningRate: 0.05, engine: 'tfjs' });
    calls.length = 0;
    for (let s = 0; s < 3; s++) {
      const ga = a.map((v, i) => ({ name: v.name, tensor: rand(v.shape, 100 * s + i) }));
      const gb = b.map((v, i) => ({ name: v.name, tensor: rand(v.shape, 100 * s + i) }));
      native.applyGradients(ga);
      plain.applyGradients(gb);
      tf.dispose([...ga, ...gb].map((g) => g.tensor));
    }
    assert.deepEqual(calls, [2, 2, 2], 'one call per step with both matrices');
    a.forEach((v, i) => assert.ok(maxRel(v, b[i]) < 1e-5, `param ${i}`));
    assert.equal((native.getConfig() as { engine: string }).engine, 'workers');
    [native, plain].forEach((o) => o.dispose());
    tf.dispose([...a, ...b]);
  });

  it('the global default applies where nothing is said; AOL goes to the engine, the Gram form stays on tfjs', () => {
    setDefaultEngine('workers');
    calls.length = 0;
    const x = rand([20, 30], 5);
    newtonSchulz(x).dispose();
    assert.deepEqual(calls, [1]);
    setDefaultEngine('auto');
    calls.length = 0;
    for (const shape of [[20, 30], [30, 20], [24, 24]]) {
      const m = rand(shape, shape[0] + shape[1]);
      const got = newtonSchulz(m, { coefficients: 'turbo' });
      const ref = newtonSchulz(m, { coefficients: 'turbo', engine: 'tfjs' });
      const d = maxRel(got, ref);
      assert.ok(d <= 1e-5, `AOL [${shape.join(', ')}]: ${d}`);
      tf.dispose([m, got, ref]);
    }
    assert.deepEqual(calls, [1, 1, 1], 'AOL ran on the engine');
    calls.length = 0;
    newtonSchulz(x, { form: 'gram' }).dispose();
    assert.deepEqual(calls, [], 'the Gram form ran on tfjs');
    assert.throws(() => newtonSchulz(x, { form: 'gram', engine: 'workers' }), /the Gram form needs engine 'onnxruntime' or 'tfjs'/);
    const t = turboMuon({ engine: 'auto' });
    assert.equal(t.name, 'turboMuon');
    t.dispose();
    setDefaultEngine('tfjs');
    x.dispose();
  });

  it('an engine error is an error of the step, and nothing is written', () => {
    const v = tf.variable(rand([20, 30], 9), true, 'seamFail');
    const before = v.dataSync().slice();
    const opt = muon({ engine: 'workers' });
    const g = rand([20, 30], 10);
    fail = true;
    assert.throws(() => opt.applyGradients([{ name: v.name, tensor: g }]), /fake engine failed/);
    fail = false;
    assert.deepEqual(v.dataSync(), before);
    assert.equal(opt.step, 0);
    opt.applyGradients([{ name: v.name, tensor: g }]);
    assert.equal(opt.step, 1);
    opt.dispose();
    tf.dispose([v, g]);
  });

  it('rejects an unknown engine by name', () => {
    assert.throws(() => muon({ engine: 'gpu' as 'auto' }), /muon: engine must be one of 'tfjs', 'workers', 'onnxruntime', 'auto', got 'gpu'/);
    assert.throws(() => setDefaultEngine('fast' as 'auto'), /setDefaultEngine: engine must be one of/);
  });
});
