/**
 * Engine faults that used to pass silently or block (issue 10 items 10 and 13), injected with the
 * worker module `./faulty.worker.ts`:
 * - a worker that answers without results: the workers engine (which writes results in place) used to
 *   return the un-orthogonalized input, onnxruntime failed with a raw tfjs shape message — both now
 *   throw a named engine error, and through an optimizer nothing is written;
 * - a worker thread that dies while its peer waits for it in a barrier used to block the step for the
 *   whole timeout (300 s) and then blame thread 0 — now the step fails at once, naming the dead thread.
 * Needs no optional package: the fixture stands in for both engines' worker modules.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { muon } from '../../src/index.js';
import { WorkersEngine } from '../../src/engines/workers.js';
import { OnnxRuntimeEngine } from '../../src/engines/onnxruntime.js';
import { disposeEngines, registerEngine } from '../../src/engines/engine.js';

const FAULTY = new URL('./faulty.worker.js', import.meta.url);
const JORDAN = [3.4445, -4.775, 2.0315] as const;
const iteration = { steps: Array.from({ length: 5 }, () => JORDAN), normScale: 1, eps: 1e-7 };

function matrix(rows: number, cols: number, seed: number): { rows: number; cols: number; data: Float32Array } {
  return { rows, cols, data: Float32Array.from(gaussian(rows * cols, seed)) };
}

await useBackend('wasm');

describe('engine faults', () => {
  const engines: { shutdown?: () => Promise<void>; close?: () => Promise<void> }[] = [];
  after(async () => {
    disposeEngines();
    for (const e of engines) await (e.shutdown?.() ?? e.close?.());
  });

  it('workers: a thread that answers without results is an engine error naming the thread', () => {
    process.env.ORTHOPTIM_TEST_FAULT = 'silent'; // read by the threads this engine starts
    const engine = new WorkersEngine({ threads: 2, workerScript: FAULTY });
    engines.push(engine);
    const m = matrix(12, 8, 1);
    const before = m.data.slice();
    assert.throws(() => engine.run([m], iteration), /^Error: workers engine: thread 0 replied without its results \(1 matrix block expected, receipt missing\); nothing was written$/);
    assert.deepEqual(m.data, before);
  });

  it('workers, through an optimizer: the step throws and writes nothing (parameter, state, iterations)', () => {
    process.env.ORTHOPTIM_TEST_FAULT = 'silent';
    const engine = new WorkersEngine({ threads: 2, workerScript: FAULTY });
    engines.push(engine);
    registerEngine({ name: 'workers', available: () => ({ ok: true }), minimumElements: 0, create: () => engine });
    const v = tf.variable(tf.tensor2d(Float32Array.from(gaussian(96, 2)), [12, 8]));
    const start = v.dataSync().slice();
    const o = muon({ engine: 'workers' });
    const g = tf.tensor2d(Float32Array.from(gaussian(96, 3)), [12, 8]);
    assert.throws(() => o.applyGradients({ [v.name]: g }), /workers engine: thread \d replied without its results/);
    assert.deepEqual(v.dataSync(), start);
    assert.equal(o.iterations, 0);
    tf.dispose([v, g]);
    o.dispose();
  });

  it('onnxruntime: a worker that answers without results is a named engine error, not a tfjs shape message', () => {
    const engine = new OnnxRuntimeEngine({ threads: 1, workerScript: FAULTY });
    engines.push(engine);
    assert.throws(
      () => engine.run([matrix(12, 8, 4), matrix(6, 6, 5)], iteration),
      /^Error: onnxruntime engine: the worker answered 0 outputs for 2 matrices; nothing was written$/,
    );
  });

  it('workers: a worker that dies while the calling thread computes its share and waits in a barrier fails the call at once', { timeout: 30_000 }, () => {
    process.env.ORTHOPTIM_TEST_FAULT = 'die';
    // ranks 0 and 1 on the fixture (rank 1 exits without the engine's exit hook, which would abort the
    // collective), rank 2 the calling thread running the real share: only its watch in the barrier
    // (the dead worker's control block) can end the call before the 300 s timeout
    const engine = new WorkersEngine({ threads: 3, minShardElements: 0, workerScript: FAULTY, mainThreadShare: true });
    engines.push(engine);
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    let error: Error | undefined;
    try {
      engine.run([matrix(16, 24, 8)], iteration);
    } catch (e) {
      error = e as Error;
    }
    const ms = performance.now() - t0;
    assert.match(error?.message ?? 'no error', /^workers engine: workers engine thread 1: worker exited with code 3 during 'newtonSchulz'$/);
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
    assert.equal(engine.lastMainThreadTasks, 0, 'the calling thread wrote nothing back');
    assert.equal(tf.memory().numTensors, before, 'the aborted share left no tensor behind');
  });

  it('workers: a thread that dies while its peer waits in a barrier fails the call at once, naming it', { timeout: 30_000 }, () => {
    process.env.ORTHOPTIM_TEST_FAULT = 'die';
    // the default timeout (300 s): only the detection of the exit can end the call early
    const engine = new WorkersEngine({ threads: 2, minShardElements: 0, workerScript: FAULTY });
    engines.push(engine);
    const t0 = performance.now();
    let error: Error | undefined;
    try {
      engine.run([matrix(16, 16, 6)], iteration);
    } catch (e) {
      error = e as Error;
    }
    const ms = performance.now() - t0;
    assert.match(error?.message ?? 'no error', /^workers engine: workers engine thread 1: worker exited with code 3 during 'newtonSchulz'$/);
    // thread start-up (tsx and the fixture module) + 50 ms before the exit + the detection
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
    // the engine recovers: the next call starts fresh threads (which die again the same way)
    assert.throws(() => engine.run([matrix(16, 16, 7)], iteration), /thread 1: worker exited with code 3/);
  });
});
