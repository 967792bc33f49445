/**
 * Gram Newton–Schulz in the native engines (issue 16 point 4): the onnxruntime graph's Gram form
 * (src/engines/onnxGraph.ts `gramSteps`) against the float64 oracle of the standard iteration, against the
 * standard graph with AOL preconditioning, through the engine's worker; restarts; the session key; the
 * workers engine refusing the form by name. Skipped without the optional onnxruntime-node, except
 * under CI=true.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineSkip } from '../support/engines.js';
import { normwiseDeviation } from '../support/golden.js';
import { gaussian } from '../support/random.js';
import { coefficientTable, coefficientsAt, type CoefficientPreset } from '../../src/linalg/coefficients.js';
import { matrix64, newtonSchulz64 } from '../../src/linalg/reference.js';
import type { EngineIteration, EngineMatrix } from '../../src/engines/engine.js';
import { NewtonSchulzSessions, graphKey, iterationKey, newtonSchulzModel, type OnnxRuntime } from '../../src/engines/onnxGraph.js';
import { OnnxRuntimeEngine, loadOnnxRuntime } from '../../src/engines/onnxruntime.js';
import { WorkersEngine } from '../../src/engines/workers.js';

const status = loadOnnxRuntime();
const skip = engineSkip('onnxruntime');
const ort = (): OnnxRuntime => {
  if (!status.ok) throw new Error(status.reason);
  return status.ort;
};

function iterationOf(preset: CoefficientPreset, extra: Partial<EngineIteration> = {}): EngineIteration {
  const table = coefficientTable(preset);
  const steps = Array.from({ length: table.defaultSteps }, (_, i) => coefficientsAt(table, i));
  return { steps, normScale: table.normScale, eps: table.eps, ...extra };
}

const randomMatrix = (rows: number, cols: number, seed: number): EngineMatrix => ({ rows, cols, data: gaussian(rows * cols, seed) });
const oracle = (m: EngineMatrix, it: EngineIteration): Float64Array =>
  newtonSchulz64(matrix64(m.rows, m.cols, m.data), it.steps, { eps: it.eps, normScale: it.normScale }).data;

describe('Gram Newton–Schulz: the graph', () => {
  it('keys the Gram form and its restarts apart from the standard form', () => {
    const j = iterationOf('jordan');
    const keys = new Set([
      graphKey(j),
      graphKey({ ...j, form: 'standard' }),
      graphKey({ ...j, form: 'gram' }),
      graphKey({ ...j, form: 'gram', gramRestarts: [2] }),
      graphKey({ ...j, form: 'gram', gramRestarts: [] }),
      graphKey({ ...j, form: 'gram', gramRestarts: [3, 1] }),
    ]);
    assert.equal(keys.size, 4); // standard = default; gram = gram@2; gram@; gram@1,3
    assert.match(iterationKey({ ...j, form: 'gram', gramRestarts: [3, 1, 3] }), /^gram@1,3\|frobenius\|/);
  });

  it('rejects an unknown form and bad restart steps', () => {
    const j = iterationOf('jordan');
    assert.throws(() => newtonSchulzModel({ ...j, form: 'fast' as 'gram' }, 'tall'), /form must be 'standard' or 'gram', got 'fast'/);
    assert.throws(() => newtonSchulzModel({ ...j, form: 'gram', gramRestarts: [1.5] }, 'wide'), /gramRestarts must be non-negative integers/);
    assert.throws(() => new OnnxRuntimeEngine().run([randomMatrix(2, 3, 1)], { ...j, form: 'gram', gramRestarts: [-1] }), /onnxruntime engine: gramRestarts/);
  });

  it('the workers engine refuses the Gram form by name, before starting a thread', () => {
    const e = new WorkersEngine({ threads: 2 });
    try {
      assert.throws(() => e.run([randomMatrix(8, 16, 2)], iterationOf('jordan', { form: 'gram' })), /workers engine: runs the standard form only; the Gram form needs engine 'onnxruntime' or 'tfjs'/);
    } finally {
      e.dispose();
    }
  });
});

describe('Gram Newton–Schulz on onnxruntime', { skip }, () => {
  const shapes: [number, number][] = [[64, 256], [256, 64], [48, 48], [20, 300], [300, 20]];

  it('equals the standard iteration (float64 oracle) within 1.5e-5, with and without restarts', async () => {
    const s = new NewtonSchulzSessions(ort(), { threads: 1 });
    try {
      for (const preset of ['jordan', 'polarExpress5', 'polarExpress8'] as const) {
        for (const gramRestarts of [[2], [], [1, 3]]) {
          for (const [r, c] of shapes) {
            // Without restarts the k×k products accumulate rounding: on a square matrix (no flop saving,
            // never chosen automatically) 5–8 steps drift to 1e-5…1e-4 (measured: Jordan 1.4e-5,
            // polarExpress8 1.1e-4); one restart (the default, after step 2) keeps it under 1e-5.
            if (gramRestarts.length === 0 && r === c) continue;
            const m = randomMatrix(r, c, r * 7 + c);
            const it = iterationOf(preset, { form: 'gram', gramRestarts });
            const [y] = await s.run([m], it);
            const d = normwiseDeviation(y, oracle(m, it));
            assert.ok(d <= 1.5e-5, `${preset} ${r}×${c} restarts ${JSON.stringify(gramRestarts)}: ${d}`);
          }
        }
      }
    } finally {
      await s.release();
    }
  });

  it('with AOL preconditioning (Turbo-Muon) equals the standard AOL graph within 1.5e-5', async () => {
    const s = new NewtonSchulzSessions(ort(), { threads: 1 });
    try {
      for (const [r, c] of shapes) {
        const m = randomMatrix(r, c, r + 3 * c);
        const aol = iterationOf('turbo', { precondition: 'aol' });
        const [standard] = await s.run([m], aol);
        const [gram] = await s.run([m], { ...aol, form: 'gram' });
        const d = normwiseDeviation(gram, standard);
        assert.ok(d <= 1.5e-5, `${r}×${c}: ${d}`);
        assert.ok(normwiseDeviation(gram, oracle(m, iterationOf('jordan'))) > 1e-3, 'AOL is not the Frobenius iteration');
      }
    } finally {
      await s.release();
    }
  });

  it('zero steps only normalize; a zero matrix stays zero', async () => {
    const s = new NewtonSchulzSessions(ort(), { threads: 1 });
    try {
      const m = randomMatrix(6, 10, 3);
      const [y] = await s.run([m], { steps: [], normScale: 1.02, eps: 1e-6, form: 'gram' });
      const norm = Math.hypot(...m.data);
      for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - m.data[i] / (norm * 1.02 + 1e-6)) <= 1e-6);
      const [z] = await s.run([{ rows: 5, cols: 3, data: new Float32Array(15) }], iterationOf('jordan', { form: 'gram' }));
      assert.ok(z.every((v) => v === 0));
    } finally {
      await s.release();
    }
  });

  it('runs through the engine worker, in one call beside standard-form matrices of other iterations', () => {
    const e = new OnnxRuntimeEngine({ threads: 1 });
    try {
      const a = randomMatrix(32, 128, 11);
      const b = randomMatrix(128, 32, 12);
      const it = iterationOf('jordan', { form: 'gram' });
      const [ya, yb] = e.run([a, b], it);
      assert.ok(normwiseDeviation(ya, oracle(a, it)) <= 1.5e-5);
      assert.ok(normwiseDeviation(yb, oracle(b, it)) <= 1.5e-5);
      const before = e.sessions();
      e.run([a], iterationOf('jordan'));
      assert.equal(e.sessions(), before + 1, 'the standard form has its own session');
    } finally {
      e.dispose();
    }
  });
});
