/**
 * Every registered task: loads its data (from the shared data directory) and gives a consistent
 * instance, or — when its data is missing — fails with a DataNotFoundError that says where it looked
 * and how to fix it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { requireData, testDataDir } from '../support/data.js';
import { DataNotFoundError } from '../../src/bench/data/index.js';
import { listTasks, loadTask } from '../../src/bench/tasks/index.js';

const missing = '/nonexistent/orthoptim-task-data';
const saved = { data: process.env.ORTHOPTIM_DATA_DIR, cache: process.env.ORTHOPTIM_CACHE_DIR };

before(async () => {
  await useBackend('wasm');
});
after(() => {
  for (const [k, v] of [['ORTHOPTIM_DATA_DIR', saved.data], ['ORTHOPTIM_CACHE_DIR', saved.cache]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('every task', () => {
  it('registers the tasks of the benchmark issue', () => {
    const names = listTasks().map((t) => t.name);
    for (const n of ['fashion-mnist-mlp', 'mnist-mlp', 'cifar10-cnn', 'shakespeare-char', 'function-regression']) {
      assert.ok(names.includes(n), `${n} is registered (have: ${names.join(', ')})`);
    }
    for (const t of listTasks()) {
      assert.ok(t.summary.length > 10, `${t.name} has a summary`);
      assert.ok(t.defaults.steps >= 1 && t.defaults.batch >= 1, `${t.name} has defaults`);
    }
  });

  for (const task of listTasks()) {
    it(`${task.name}: loads, and its instance is consistent`, async (t) => {
      if (task.needsData && !requireData(t, 'the shared data directory', testDataDir)) return;
      process.env.ORTHOPTIM_DATA_DIR = testDataDir;
      const before = tf.memory().numTensors;
      const { instance, fallback } = await loadTask(task, { seed: 0, fallback: false });
      try {
        assert.equal(fallback, null);
        assert.equal(instance.name, task.name);
        assert.ok(instance.splits.train > 0 && instance.splits.validation > 0 && instance.splits.test > 0);
        assert.ok(instance.trainCount >= task.defaults.batch, 'a default batch fits');
        const params = instance.initialParams(0);
        const names = new Set(params.map((p) => p.name));
        assert.equal(names.size, params.length, 'parameter names are unique');
        for (const p of params) {
          assert.equal(p.values.length, p.shape.reduce((a, b) => a * b, 1), `${p.name} has as many values as its shape`);
          assert.ok(p.values.every(Number.isFinite), `${p.name} is finite`);
          if (p.role === 'hidden') assert.ok(p.shape.length >= 2, `${p.name}: hidden parameters are matrices`);
        }
        assert.ok(params.some((p) => p.role === 'hidden'), 'there is something to orthogonalize');
        // One batch: a finite loss and a gradient for every parameter.
        const vars = params.map((p) => {
          const value = tf.tensor(p.values, p.shape);
          const v = tf.variable(value, true, `tasks-test/${task.name}/${p.name}`);
          value.dispose();
          return v;
        });
        const batch = instance.batch(Uint32Array.from({ length: Math.min(4, instance.trainCount) }, (_, i) => i));
        const { value, grads } = tf.variableGrads(() => instance.loss(vars, batch), vars);
        assert.ok(Number.isFinite(value.dataSync()[0]), 'finite loss');
        assert.equal(Object.keys(grads).length, vars.length, 'every parameter gets a gradient');
        const m = instance.evaluate(vars, 'validation', 8);
        assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.metric));
        tf.dispose([value, ...Object.values(grads), ...batch.tensors, ...vars]);
      } finally {
        instance.dispose();
      }
      assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    });

    if (task.needsData) {
      it(`${task.name}: without its data, fails saying where it looked`, async () => {
        process.env.ORTHOPTIM_DATA_DIR = missing;
        process.env.ORTHOPTIM_CACHE_DIR = missing;
        // An explicit dataDir that does not exist is an error naming it, never another dataset (not the
        // Debian package's, not the embedded subset), and by default never another task.
        for (const options of [{ fallback: false }, {}]) {
          await assert.rejects(loadTask(task, { seed: 0, dataDir: missing, ...options }), (e: unknown) => {
            assert.ok(e instanceof DataNotFoundError, `a DataNotFoundError, got ${String(e)}`);
            assert.ok(e.searched.length > 0 && e.searched.every((d) => d.startsWith(missing)), `searched only ${missing}: ${e.searched.join(', ')}`);
            assert.ok(e.searched.includes(missing), 'names the directory it searched');
            assert.match(e.message, /not found/);
            assert.match(e.message, /ORTHOPTIM_DATA_DIR/);
            assert.match(e.brief, new RegExp(`not found; searched: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
            assert.doesNotMatch(e.brief, /\n/);
            return true;
          });
        }
        // …and only when asked, the runner's fallback runs a task that needs no data instead, saying so.
        const loaded = await loadTask(task, { seed: 0, dataDir: missing, fallback: true });
        assert.equal(loaded.task.needsData, false);
        assert.notEqual(loaded.task.name, 'synthetic', 'the synthetic task runs only when named');
        assert.match(loaded.fallback?.message ?? '', new RegExp(`^no data found for ${task.name}`));
        loaded.instance.dispose();
      });
    }
  }
});
