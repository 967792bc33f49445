/**
 * The Newton–Schulz ONNX graph built in code (src/engines/onnxGraph.ts), run directly by onnxruntime-node's
 * asynchronous API (no worker, no bridge): golden `muon_ns` inputs and random shapes against the float64
 * oracle `newtonSchulz64`, the golden outputs and the tfjs engine (wasm); the Jordan, You and Polar Express
 * tables; the session cache; malformed models and inputs rejected with an Error.
 * Skipped when the optional onnxruntime-node is not installed, except under CI=true (then a failure).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { engineSkip } from '../support/engines.js';
import { goldenCases, goldenDir, loadGolden, normwiseDeviation } from '../support/golden.js';
import { gaussian } from '../support/random.js';
import { coefficientTable, coefficientsAt, type CoefficientPreset } from '../../src/linalg/coefficients.js';
import { newtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { matrix64, newtonSchulz64, quinticCompose } from '../../src/linalg/reference.js';
import type { EngineIteration, EngineMatrix } from '../../src/engines/engine.js';
import {
  IR_VERSION,
  NewtonSchulzSessions,
  iterationKey,
  newtonSchulzModel,
  orientationOf,
  type OnnxRuntime,
} from '../../src/engines/onnxGraph.js';
import { loadOnnxRuntime } from '../../src/engines/onnxruntime.js';
import { existsSync } from 'node:fs';

await useBackend('wasm');

const status = loadOnnxRuntime();
const skip = engineSkip('onnxruntime');
const ort = (): OnnxRuntime => {
  if (!status.ok) throw new Error(status.reason);
  return status.ort;
};

function iterationOf(preset: CoefficientPreset, steps?: number): EngineIteration {
  const table = coefficientTable(preset);
  const n = steps ?? table.defaultSteps;
  return { steps: Array.from({ length: n }, (_, i) => coefficientsAt(table, i)), normScale: table.normScale, eps: table.eps };
}

const jordan = iterationOf('jordan');

function oracle(m: EngineMatrix, it: EngineIteration): Float64Array {
  return newtonSchulz64(matrix64(m.rows, m.cols, m.data), it.steps, { eps: it.eps, normScale: it.normScale }).data;
}

/** The tfjs engine (newtonSchulz on the wasm backend) on the same matrix and iteration. */
function tfjsEngine(m: EngineMatrix, it: EngineIteration): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor2d(m.data, [m.rows, m.cols]);
    const y = newtonSchulz(x, { coefficients: it.steps, steps: it.steps.length, eps: it.eps, normScale: it.normScale });
    return y.dataSync() as Float32Array;
  });
}

function randomMatrix(rows: number, cols: number, seed: number): EngineMatrix {
  return { rows, cols, data: gaussian(rows * cols, seed) };
}

function transposed(m: EngineMatrix): EngineMatrix {
  const data = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) data[j * m.rows + i] = m.data[i * m.cols + j];
  return { rows: m.cols, cols: m.rows, data };
}

describe('onnxGraph: the model bytes', () => {
  it('is a ModelProto that starts with ir_version and is deterministic', () => {
    const a = newtonSchulzModel(jordan, 'tall');
    const b = newtonSchulzModel({ ...jordan, steps: jordan.steps.map((r) => [...r] as const) }, 'tall');
    assert.deepEqual(a.subarray(0, 2), Uint8Array.of(0x08, IR_VERSION)); // field 1 (varint) = IR_VERSION
    assert.deepEqual(a, b);
    assert.notDeepEqual(newtonSchulzModel(jordan, 'wide'), a);
    const text = new TextDecoder().decode(a);
    for (const op of ['MatMul', 'Transpose', 'EyeLike', 'ReduceSum', 'Sqrt', 'Div', 'Mul', 'Add']) assert.ok(text.includes(op), op);
  });

  it('keys iterations by rows, normScale and eps', () => {
    const keys = new Set([
      iterationKey(jordan),
      iterationKey({ ...jordan, eps: 1e-6 }),
      iterationKey({ ...jordan, normScale: 1.02 }),
      iterationKey({ ...jordan, steps: jordan.steps.slice(1) }),
      iterationKey(iterationOf('you')),
    ]);
    assert.equal(keys.size, 5);
    assert.equal(iterationKey(iterationOf('jordan')), iterationKey(jordan));
  });

  it('orients square and tall matrices tall, wide ones wide', () => {
    assert.equal(orientationOf(4, 4), 'tall');
    assert.equal(orientationOf(5, 4), 'tall');
    assert.equal(orientationOf(4, 5), 'wide');
  });

  it('rejects non-finite coefficients', () => {
    assert.throws(() => newtonSchulzModel({ ...jordan, steps: [[Number.NaN, 1, 1]] }, 'tall'), /finite/);
    assert.throws(() => newtonSchulzModel({ ...jordan, eps: Number.POSITIVE_INFINITY }, 'wide'), /finite/);
  });
});

describe('onnxGraph: run by onnxruntime', { skip }, () => {
  const sessions = status.ok ? new NewtonSchulzSessions(status.ort, { threads: 2 }) : undefined;
  const run = (ms: EngineMatrix[], it: EngineIteration): Promise<Float32Array[]> => sessions!.run(ms, it);
  after(async () => sessions?.release());

  it('replays every muon_ns golden input: golden, float64 oracle and tfjs engine', async (t) => {
    if (!existsSync(goldenDir)) {
      if (process.env.CI === 'true') throw new Error(`missing golden files at ${goldenDir}`);
      t.skip(`missing golden files at ${goldenDir}`);
      return;
    }
    const cases = goldenCases('muon_ns');
    assert.equal(cases.length, 11);
    for (const c of cases) {
      const g = loadGolden(c);
      const args = g.args as { steps: number; coefficients: [number, number, number]; norm_eps: number };
      const it: EngineIteration = { steps: Array(args.steps).fill(args.coefficients), normScale: 1, eps: args.norm_eps };
      const input = g.inputs![0];
      const [r, cols] = input.shape.slice(-2);
      const whole = Float32Array.from(input.data, (v) => Math.fround(v));
      // a batched input is several matrices: they go to the graph in one call
      const ms: EngineMatrix[] = [];
      for (let off = 0; off < whole.length; off += r * cols) ms.push({ rows: r, cols, data: whole.slice(off, off + r * cols) });
      const got = await run(ms, it);
      const flat = new Float32Array(whole.length);
      got.forEach((y, i) => flat.set(y, i * r * cols));
      const devGolden = normwiseDeviation(flat, g.outputs![0].data);
      const devOracle = Math.max(...ms.map((m, i) => normwiseDeviation(got[i], oracle(m, it))));
      const devTfjs = Math.max(...ms.map((m, i) => normwiseDeviation(got[i], tfjsEngine(m, it))));
      t.diagnostic(`${c}: golden ${devGolden.toExponential(2)}, float64 ${devOracle.toExponential(2)}, tfjs ${devTfjs.toExponential(2)}`);
      // 'rankdef' is noise-sensitive (golden README: null-space rounding noise grows ~a^steps; its float64
      // re-run differs from the float32 golden by 4.3e-5, the tfjs engine on wasm from float64 by 3.4e-5):
      // any two float32 runs differ there by float32 noise, so it gets the README's tolerance.
      const tol = c === 'muon_ns__rankdef' ? 1e-4 : 1e-5;
      assert.ok(devGolden <= 1e-4, `${c}: golden deviation ${devGolden}`);
      assert.ok(devOracle <= tol, `${c}: float64 deviation ${devOracle}`);
      assert.ok(devTfjs <= tol, `${c}: tfjs deviation ${devTfjs}`);
    }
  });

  const shapes: [string, number, number][] = [
    ['1×n', 1, 40],
    ['n×1', 40, 1],
    ['square', 32, 32],
    ['3:1', 48, 16],
    ['1:3', 16, 48],
    ['conv 3×3×4→6 flattened', 36, 6],
  ];
  for (const preset of ['jordan', 'you', 'polarExpress5', 'polarExpress8'] as const) {
    it(`${preset}: random shapes in one call match the float64 oracle and the tfjs engine`, async (t) => {
      const it = iterationOf(preset);
      // A rank-1 input has one singular value, σ = 1/normScale after normalization, and leaves as
      // φ(σ)·x/‖x‖: one float32 rounding of σ moves it by κ·2⁻²³ relative, κ = σφ'(σ)/φ(σ). κ is ~1.5 for
      // Jordan and You but 175 for polarExpress5 (its first quintic is steep): there every float32 engine,
      // tfjs included (measured 1.9e-5 on wasm, 2.3e-5 on cpu), is that far from float64, so rank-1
      // inputs are held to two roundings of σ, max(1e-5, 2κ·2⁻²³).
      const sigma = 1 / it.normScale;
      const kappa = Math.abs(((quinticCompose(it.steps, sigma * (1 + 1e-7)) - quinticCompose(it.steps, sigma * (1 - 1e-7))) / 2e-7) / quinticCompose(it.steps, sigma));
      const rank1Tol = Math.max(1e-5, 2 * kappa * 2 ** -23);
      const ms = shapes.map(([, r, c], i) => randomMatrix(r, c, 100 + i));
      const got = await run(ms, it);
      shapes.forEach(([name, r, c], i) => {
        assert.equal(got[i].length, r * c);
        const tol = Math.min(r, c) === 1 ? rank1Tol : 1e-5;
        const dOracle = normwiseDeviation(got[i], oracle(ms[i], it));
        const dTfjs = normwiseDeviation(got[i], tfjsEngine(ms[i], it));
        t.diagnostic(`${name} ${r}×${c}: float64 ${dOracle.toExponential(2)}, tfjs ${dTfjs.toExponential(2)} (tolerance ${tol.toExponential(1)})`);
        assert.ok(dOracle <= tol, `${name}: float64 deviation ${dOracle}`);
        assert.ok(dTfjs <= tol, `${name}: tfjs deviation ${dTfjs}`);
      });
    });
  }

  it('the tall and wide graphs are transposes of each other', async () => {
    const m = randomMatrix(24, 40, 7);
    const [wide] = await run([m], jordan);
    const [tall] = await run([transposed(m)], jordan);
    assert.ok(normwiseDeviation(transposed({ rows: 40, cols: 24, data: tall }).data, wide) <= 1e-6);
  });

  it('zero steps only normalize; a zero matrix stays zero (no NaN)', async () => {
    const m = randomMatrix(6, 10, 3);
    const it: EngineIteration = { steps: [], normScale: 1.02, eps: 1e-6 };
    const [y] = await run([m], it);
    const norm = Math.hypot(...m.data);
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - m.data[i] / (norm * 1.02 + 1e-6)) <= 1e-6);
    const [z] = await run([{ rows: 5, cols: 3, data: new Float32Array(15) }], jordan);
    assert.ok(z.every((v) => v === 0));
  });

  it('eps is fed per run: one session serves every eps (the power-of-two rescale varies it per gradient)', async () => {
    // Regression (bench:soak, muon/onnxruntime): vanishing gradients are rescaled by 2^e with eps/2^e, so
    // eps took a new value per exponent; baked into the graph, each built a session and an intra-op
    // thread pool (2 → 16 sessions, threads 17 → 31 on 2 cores, by step 3,000).
    const s = new NewtonSchulzSessions(ort(), { threads: 1 });
    try {
      const m = randomMatrix(6, 10, 5);
      const norm = Math.hypot(...m.data);
      const epsilons = [0, 1e-7, ...Array.from({ length: 20 }, (_, e) => 1e-7 * 2 ** (e + 33)), 0.5 * norm, 3 * norm];
      for (const eps of epsilons) {
        const [y] = await s.run([m, transposed(m)], { steps: [], normScale: 1, eps });
        for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - m.data[i] / (norm + Math.fround(eps))) <= 1e-6, `eps ${eps}, entry ${i}`);
        const [z] = await s.run([m], { ...jordan, eps });
        assert.ok(normwiseDeviation(z, oracle(m, { ...jordan, eps: Math.fround(eps) })) <= 1e-5, `eps ${eps}`);
      }
      assert.equal(s.size, 3); // zero steps: tall and wide; Jordan: wide
    } finally {
      await s.release();
    }
  });

  it('caches one session per iteration and orientation', async () => {
    const s = new NewtonSchulzSessions(ort(), { threads: 1, capacity: 2 });
    try {
      const m = randomMatrix(4, 6, 1);
      await s.run([m, m, transposed(m)], jordan);
      assert.equal(s.size, 2);
      await s.run([m], jordan);
      assert.equal(s.size, 2);
      const [y] = await s.run([m], { ...jordan, normScale: 1.02 }); // a third: the least recently used one goes
      assert.equal(s.size, 2);
      assert.ok(normwiseDeviation(y, oracle(m, { ...jordan, normScale: 1.02 })) <= 1e-5);
    } finally {
      await s.release();
    }
    assert.equal(s.size, 0);
  });

  it('a malformed model or input is rejected with an Error', async () => {
    const model = newtonSchulzModel(jordan, 'tall');
    await assert.rejects(ort().InferenceSession.create(model.subarray(0, model.length - 7)), Error);
    // an op that does not exist in the default domain
    const bad = Uint8Array.from(model);
    const at = new TextDecoder().decode(bad).indexOf('EyeLike');
    bad.set(new TextEncoder().encode('EyeLiks'), at);
    await assert.rejects(ort().InferenceSession.create(bad), /EyeLiks/);
    await assert.rejects(run([{ rows: 3, cols: 4, data: new Float32Array(10) }], jordan), /matrix 0 is 3×4 but has 10 values/);
  });
});

it('onnxruntime-node is installed under CI', () => {
  if (process.env.CI === 'true') assert.ok(status.ok, status.ok ? '' : status.reason);
});
