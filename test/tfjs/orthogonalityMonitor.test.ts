/**
 * orthogonalityProbe / orthogonalityMonitor (issue 14 item 6): the records of a custom loop against the
 * float64 SVD of the update (SGD on a linear loss: U = −lr·A exactly), Muon's orthogonalized update
 * against SGD's, every / include / vectors, a tiny model.fit against a float64 reference callback,
 * leak checks and the refusals.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { gaussianArray, mulberry32 } from '../../src/core/random.js';
import { matrix64, newtonSchulz64, singularValues64 } from '../../src/linalg/reference.js';
import { createOptimizer } from '../../src/index.js';
import { orthogonalityMonitor, orthogonalityProbe, type OrthogonalityRecord } from '../../src/tfjs/orthogonalityMonitor.js';

await useBackend('cpu');

/** Float64 numbers of a matrix given row-major: σmax, σmin, stable rank, ‖·‖F, error of ·/σmax. */
function reference(values: ArrayLike<number>, rows: number, cols: number) {
  const s = singularValues64(matrix64(rows, cols, values));
  const max = s[0];
  const sum2 = s.reduce((a, x) => a + x * x, 0);
  return {
    sigmaMax: max,
    sigmaMin: s[s.length - 1],
    stableRank: sum2 / (max * max),
    frobeniusNorm: Math.sqrt(sum2),
    orthogonalityError: Math.sqrt(s.reduce((a, x) => a + ((x / max) ** 2 - 1) ** 2, 0) / s.length),
  };
}

function assertMatches(r: OrthogonalityRecord, ref: ReturnType<typeof reference>, rel: number, what: string): void {
  for (const key of ['sigmaMax', 'sigmaMin', 'stableRank', 'frobeniusNorm'] as const) {
    assert.ok(Math.abs(r[key] - ref[key]) <= rel * Math.max(ref[key], ref.sigmaMax), `${what} ${key}: ${r[key]} vs ${ref[key]}`);
  }
  assert.ok(Math.abs(r.orthogonalityError - ref.orthogonalityError) <= rel, `${what} error: ${r.orthogonalityError} vs ${ref.orthogonalityError}`);
}

describe('orthogonalityProbe in a custom loop', () => {
  it('records SGD on a linear loss as U = −lr·A: the float64 SVD of A, on due steps only, vectors left out', () => {
    const rows = 12;
    const cols = 7;
    const a = gaussianArray(rows * cols, 1, mulberry32(3));
    const at = tf.tensor2d(a, [rows, cols]);
    const w = tf.variable(tf.zeros([rows, cols]), true, 'probe/w');
    const b = tf.variable(tf.zeros([cols]), true, 'probe/b');
    const sgd = tf.train.sgd(0.5);
    const probe = orthogonalityProbe([w, b], { every: 3 });
    assert.deepEqual(probe.names, ['probe/w']);
    const got: number[][] = [];
    const n0 = tf.memory().numTensors;
    for (let s = 0; s < 7; s++) {
      probe.before();
      sgd.minimize(() => tf.add(tf.sum(tf.mul(at, w)), tf.sum(b)) as tf.Scalar, false, [w, b]);
      got.push(probe.after().map((r) => r.step));
    }
    assert.equal(tf.memory().numTensors, n0);
    assert.deepEqual(got, [[], [], [3], [], [], [6], []]);
    assert.equal(probe.records.length, 2);
    // U = −0.5·A: σ scale by 0.5; error and stable rank are scale-free.
    const ref = reference(Float64Array.from(a, (x) => 0.5 * x), rows, cols);
    for (const r of probe.records) {
      assert.equal(r.name, 'probe/w');
      assert.equal(r.method, 'exact');
      assert.deepEqual([r.rows, r.cols], [rows, cols]);
      assertMatches(r, ref, 1e-6, `step ${r.step}`);
    }
    tf.dispose([at, w, b]);
    sgd.dispose();
  });

  it("Muon's first update is Jordan's 5-step Newton–Schulz of the gradient (float64 reference), SGD's is the gradient's own spectrum", () => {
    const rows = 32;
    const cols = 64;
    const g = tf.tensor2d(gaussianArray(rows * cols, 1, mulberry32(8)), [rows, cols]);
    const ref = reference(g.dataSync(), rows, cols);
    const out: Record<string, OrthogonalityRecord> = {};
    for (const name of ['muon', 'sgd'] as const) {
      const w = tf.variable(tf.zeros([rows, cols]), true, `probe-${name}/w`);
      const opt = createOptimizer(name, { learningRate: 0.01 });
      const probe = orthogonalityProbe([w], { every: 1, spectrum: true });
      probe.before();
      opt.applyGradients([{ name: w.name, tensor: g }]);
      [out[name]] = probe.after();
      opt.dispose();
      w.dispose();
    }
    // SGD: U = −lr·g, the Gaussian's own spectrum (Marchenko–Pastur, ratio ½).
    assertMatches(out.sgd, reference(Float64Array.from(g.dataSync(), (x) => -0.01 * x), rows, cols), 1e-6, 'sgd');
    assert.ok(ref.orthogonalityError > 0.6, `gaussian error ${ref.orthogonalityError}`);
    // Muon, step 1 from zero state: the direction is a positive multiple of g (Nesterov EMA of one
    // gradient), so the update is ∝ NS₅(g) with Jordan's coefficients (muon's default) — scale-free
    // quantities equal those of newtonSchulz64(g). float32 NS vs float64: σ within ±0.005 (spec §12.4).
    const jordan: [number, number, number] = [3.4445, -4.775, 2.0315];
    const ns = newtonSchulz64(matrix64(rows, cols, g.dataSync()), Array.from({ length: 5 }, () => jordan));
    const nsRef = reference(ns.data, rows, cols);
    const s = out.muon.singularValues!;
    assert.equal(s.length, rows);
    assert.ok(Math.abs(out.muon.orthogonalityError - nsRef.orthogonalityError) < 5e-3, `muon error ${out.muon.orthogonalityError} vs NS64 ${nsRef.orthogonalityError}`);
    assert.ok(Math.abs(out.muon.stableRank - nsRef.stableRank) < 5e-3 * rows, `muon stable rank ${out.muon.stableRank} vs ${nsRef.stableRank}`);
    assert.ok(Math.abs(s[rows - 1] / s[0] - nsRef.sigmaMin / nsRef.sigmaMax) < 5e-3, `muon σmin/σmax ${s[rows - 1] / s[0]}`);
    // … and far flatter than SGD's: σmin/σmax inside Jordan's band [0.68, 1.13] (§12.3) against the Gaussian's.
    assert.ok(s[rows - 1] / s[0] > 0.68 / 1.21 && out.sgd.sigmaMin / out.sgd.sigmaMax < 0.4);
    assert.ok(out.muon.orthogonalityError < out.sgd.orthogonalityError - 0.1);
    assert.ok(out.muon.stableRank > 1.5 * out.sgd.stableRank, `stable ranks ${out.muon.stableRank}, ${out.sgd.stableRank}`);
    g.dispose();
  });

  it('include filters by name; a before() without after() is replaced, dispose() drops it; startStep resumes the count', () => {
    const w1 = tf.variable(tf.ones([3, 2]), true, 'keep/kernel');
    const w2 = tf.variable(tf.ones([2, 2]), true, 'drop/kernel');
    const seen: (readonly OrthogonalityRecord[])[] = [];
    const probe = orthogonalityProbe([w1, w2], { every: 1, include: (n) => n.startsWith('keep'), onRecord: (rs) => seen.push(rs) }, 4);
    assert.deepEqual(probe.names, ['keep/kernel']);
    const next = tf.tensor2d([[2, 1], [1, 2], [1, 1]]);
    const n0 = tf.memory().numTensors;
    assert.equal(probe.before(), true);
    assert.equal(tf.memory().numTensors, n0 + 1);
    assert.equal(probe.before(), true); // replaces, does not leak
    assert.equal(tf.memory().numTensors, n0 + 1);
    w1.assign(next);
    const [r] = probe.after();
    assert.equal(tf.memory().numTensors, n0);
    assert.equal(r.step, 6);
    // U = [[1, 0], [0, 1], [0, 0]]: orthogonal columns.
    assert.ok(r.orthogonalityError < 1e-12 && Math.abs(r.stableRank - 2) < 1e-12);
    assert.equal(seen.length, 1);
    probe.before();
    probe.dispose();
    assert.equal(tf.memory().numTensors, n0);
    assert.deepEqual(probe.after(), []);
    tf.dispose([w1, w2, next]);
  });

  it('refuses bad options by name, creating nothing', () => {
    const w = tf.variable(tf.zeros([2, 2]));
    const n0 = tf.memory().numTensors;
    assert.throws(() => orthogonalityProbe([w], { every: 0 }), /orthogonalityProbe: every must be an integer >= 1, got 0/);
    assert.throws(() => orthogonalityProbe([w], { every: 1.5 }), /every must be an integer >= 1, got 1.5/);
    assert.throws(() => orthogonalityProbe([w], { method: 'svd' as never }), /orthogonalityProbe: method must be 'auto', 'exact' or 'lanczos'/);
    assert.throws(() => orthogonalityProbe([w], { iterations: -1 }), /orthogonalityProbe: iterations must be an integer >= 1, got -1/);
    assert.throws(() => orthogonalityProbe([w], { include: 'kernel' as never }), /TypeError|include must be a function/);
    assert.throws(() => orthogonalityProbe([w], {}, -2), /startStep must be an integer >= 0, got -2/);
    assert.equal(tf.memory().numTensors, n0);
    w.dispose();
  });
});

describe('orthogonalityMonitor in model.fit', () => {
  function tinyModel(): tfl.Sequential {
    const model = tfl.sequential();
    model.add(tfl.layers.dense({ inputShape: [6], units: 8, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
    model.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
    model.compile({ optimizer: createOptimizer('muon', { learningRate: 0.02 }), loss: 'meanSquaredError' });
    return model;
  }

  it('records every 2nd batch of each kernel (steps counted over epochs), equal to a float64 reference taken around the same batches', async () => {
    const model = tinyModel();
    const xs = tf.tensor2d(gaussianArray(24 * 6, 1, mulberry32(4)), [24, 6]);
    const ys = tf.tensor2d(gaussianArray(24 * 3, 1, mulberry32(5)), [24, 3]);
    const kernels = model.trainableWeights.filter((w) => w.shape.length === 2);
    // A reference callback after the monitor: the kernels as float64 before and after each batch.
    const refs: { step: number; name: string; ref: ReturnType<typeof reference> }[] = [];
    let step = 0;
    let before: Float32Array[] = [];
    const referenceCallback = {
      onBatchBegin: async () => {
        step++;
        before = kernels.map((k) => Float32Array.from(k.read().dataSync()));
        return Promise.resolve();
      },
      onBatchEnd: async () => {
        if (step % 2 === 0) {
          kernels.forEach((k, i) => {
            const after = k.read().dataSync();
            const diff = Float64Array.from(after, (v, j) => v - before[i][j]);
            refs.push({ step, name: k.name, ref: reference(diff, k.shape[0]!, k.shape[1]!) });
          });
        }
        return Promise.resolve();
      },
    };
    const calls: number[] = [];
    const monitor = orthogonalityMonitor({ model, every: 2, onRecord: (rs) => calls.push(rs[0].step) });
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [monitor, referenceCallback] });
    // 3 batches per epoch, 2 epochs: steps 2, 4, 6, two kernels each.
    assert.deepEqual(calls, [2, 4, 6]);
    assert.equal(monitor.records.length, 6);
    assert.deepEqual(monitor.records.map((r) => r.name), refs.map((r) => r.name));
    monitor.records.forEach((r, i) => {
      assert.equal(r.step, refs[i].step);
      // float32 after − before on the device vs the exact float64 difference: ~1e-7 relative per entry.
      assertMatches(r, refs[i].ref, 1e-5, `${r.name} step ${r.step}`);
    });
    // muon with no exclude sends both 2-D kernels to Newton–Schulz: σmin/σmax of every update stays in
    // Jordan's band [0.68, 1.13] (spec muon-family.md §12.3; a 6×8 / 8×3 NS output, ratio > 0.68/1.21).
    for (const r of monitor.records) assert.ok(r.sigmaMin / r.sigmaMax > 0.68 / 1.21, `${r.name} step ${r.step}: σmin/σmax ${r.sigmaMin / r.sigmaMax}`);
    // A second fit keeps counting: steps 8, 10, 12.
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [monitor] });
    assert.deepEqual(calls, [2, 4, 6, 8, 10, 12]);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('leaves no tensors behind: a fit with the monitor leaks what a fit without it leaks', async () => {
    const model = tinyModel();
    const xs = tf.tensor2d(gaussianArray(16 * 6, 1, mulberry32(6)), [16, 6]);
    const ys = tf.tensor2d(gaussianArray(16 * 3, 1, mulberry32(7)), [16, 3]);
    const fit = (callbacks: unknown[]) => model.fit(xs, ys, { epochs: 1, batchSize: 4, verbose: 0, callbacks: callbacks as tfl.CustomCallbackArgs[] });
    await fit([]); // optimizer state is created on the first step
    const n0 = tf.memory().numTensors;
    await fit([]);
    const plain = tf.memory().numTensors - n0;
    const n1 = tf.memory().numTensors;
    const monitor = orthogonalityMonitor({ model, every: 1, method: 'lanczos' });
    await fit([monitor]);
    assert.equal(tf.memory().numTensors - n1, plain);
    assert.equal(monitor.records.length, 8);
    assert.ok(monitor.records.every((r) => r.method === 'lanczos'));
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('refuses a missing model and bad options by name', () => {
    assert.throws(() => orthogonalityMonitor({} as never), (e: unknown) => e instanceof TypeError && /orthogonalityMonitor: options.model must be the tfjs-layers model/.test(e.message));
    assert.throws(() => orthogonalityMonitor(undefined as never), TypeError);
    const model = { trainableWeights: [] };
    assert.throws(() => orthogonalityMonitor({ model, every: -1 }), /orthogonalityMonitor: every must be an integer >= 1, got -1/);
    assert.throws(() => orthogonalityMonitor({ model, onRecord: 3 as never }), /orthogonalityMonitor: onRecord must be a function/);
  });
});
