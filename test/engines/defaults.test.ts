/**
 * Engines when registered (issue 16 point 2): the global default engine is `'auto'`, which is tfjs until
 * the native engines are registered — so a process without them runs exactly as before — and, once
 * `orthoptim/node` (or `orthoptim/engines`) is imported, optimizers not given an engine send their
 * Newton–Schulz to onnxruntime; the choice is visible (`describeEngine`, the optimizer's `engine` and
 * config); an explicit `engine: 'tfjs'` or `setDefaultEngine('tfjs')` keeps tfjs. The native half is
 * skipped without the optional onnxruntime-node, except under CI=true.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { engineSkip } from '../support/engines.js';
import { gaussian } from '../support/random.js';
import {
  adamw,
  defaultEngine,
  describeEngine,
  disposeEngines,
  listEngines,
  muon,
  optimizerFromConfig,
  setDefaultEngine,
  type TransformOptimizer,
} from '../../src/index.js';
import { engineInstance } from '../../src/engines/engine.js';

await useBackend('cpu');

let uid = 0;
/** One step of `opt` on a zero 64×256 parameter; returns the parameter after it. */
function step(opt: TransformOptimizer): Float32Array {
  const v = tf.variable(tf.zeros([64, 256]), true, `defaults${uid++}/w`);
  const g = tf.tensor(gaussian(v.size, 17), v.shape);
  opt.applyGradients([{ name: v.name, tensor: g }]);
  const out = v.dataSync() as Float32Array;
  opt.dispose();
  tf.dispose([v, g]);
  return out;
}

describe('the default engine before and after the native engines are registered', () => {
  after(() => {
    setDefaultEngine('auto');
    disposeEngines();
  });

  // Order matters: this file imports no engine module statically; the first test runs before the Node entry.
  it("without the native engines, the default 'auto' is tfjs: same numbers as engine 'tfjs'", () => {
    assert.equal(defaultEngine(), 'auto');
    assert.deepEqual(listEngines(), [{ name: 'tfjs', available: true }]);
    assert.equal(describeEngine(undefined, 'cpu'), 'auto → tfjs (no native engine available) on backend cpu');
    const m = muon({ learningRate: 0.02 });
    assert.equal(m.engine, 'auto');
    assert.equal(m.getConfig().engine, 'auto', 'the config says which choice the optimizer runs with');
    assert.deepEqual(step(m), step(muon({ learningRate: 0.02, engine: 'tfjs' })));
    const a = adamw();
    assert.equal(a.engine, null, 'no Newton–Schulz, no engine');
    assert.equal(a.getConfig().engine, null);
    a.dispose();
  });

  it("after import 'orthoptim/node', optimizers not given an engine run Newton–Schulz on onnxruntime", { skip: engineSkip('onnxruntime') }, async () => {
    await import('../../src/node/index.js');
    assert.ok(listEngines().some((e) => e.name === 'onnxruntime' && e.available));
    assert.equal(describeEngine(undefined, 'cpu'), 'auto → onnxruntime on backend cpu');
    assert.equal(describeEngine(undefined, 'webgl'), 'auto → tfjs (backend webgl is not a CPU backend) on backend webgl');
    const engine = engineInstance('onnxruntime');
    const run = engine.run.bind(engine);
    let calls = 0;
    engine.run = (ms, it) => {
      calls++;
      return run(ms, it);
    };
    try {
      const byDefault = muon({ learningRate: 0.02 });
      assert.equal(byDefault.getConfig().engine, 'auto');
      const native = step(byDefault);
      assert.equal(calls, 1, 'the step went to onnxruntime');
      const tfjs = step(muon({ learningRate: 0.02, engine: 'tfjs' }));
      assert.equal(calls, 1, "engine: 'tfjs' stays on tfjs");
      assert.deepEqual(native, step(muon({ learningRate: 0.02, engine: 'onnxruntime' })), "the default is 'auto' → onnxruntime");
      calls = 0;
      const restored = optimizerFromConfig('muon', muon({ engine: 'tfjs' }).getConfig());
      assert.equal(restored.engine, 'tfjs', 'an explicit tfjs survives the config');
      assert.deepEqual(step(restored as TransformOptimizer), tfjs);
      assert.equal(calls, 0);
      // a user who wants tfjs everywhere says so once
      setDefaultEngine('tfjs');
      const pinned = muon({ learningRate: 0.02 });
      assert.equal(pinned.getConfig().engine, 'tfjs');
      assert.deepEqual(step(pinned), tfjs);
      assert.equal(calls, 0);
    } finally {
      engine.run = run;
      setDefaultEngine('auto');
    }
  });
});
