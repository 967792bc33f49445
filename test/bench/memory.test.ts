/**
 * The memory benchmark's helpers (src/bench/memory.ts, bench/memory.ts; issue 13 item 4) on a tiny
 * teacher–student MLP 6-5-3 (53 parameters, 30 of them in the hidden matrix): state bytes and their
 * ratios to AdamW's against closed forms (routing as the runner does: the head goes to Muon's AdamW),
 * the ratio / target / table code on hand-made measurements, failures listed, the command line.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { formatBytes, memoryPlan, memoryRows, memoryTable, memoryTargets, taskMemory, type OptimizerMemory, type TaskMemory } from '../../src/bench/memory.js';
import { syntheticTask } from '../../src/bench/tasks/index.js';
import { parseMemoryArgs } from '../../bench/memory.js';
import { UsageError } from '../../src/cli/args.js';

const tiny = syntheticTask({ name: 'memory-tiny', inputSize: 6, hidden: [5], numClasses: 3, teacherHidden: 4, trainCount: 64, testCount: 8 });
const P = 6 * 5 + 5 + 5 * 3 + 3; // 53
const H = 6 * 5; // the one hidden matrix

/** A measurement with the given state bytes; the rest does not enter the ratios. */
function measurement(optimizer: string, stateBytes: number, hiddenStateBytes: number, variant: 'default' | 'target' = 'default'): OptimizerMemory {
  return {
    optimizer,
    label: variant === 'default' ? optimizer : `${optimizer} rankFraction=0.125`,
    variant,
    options: {},
    stateBytes,
    hiddenStateBytes,
    sharedStateBytes: 0,
    baselineBytes: 1000,
    firstStepTransientBytes: 10,
    stepTransientBytes: 5,
    trainStepPeakBytes: 2000,
    trainStepPeakAboveBaseline: 1000,
    leakedTensors: 0,
  };
}

describe('bench:memory helpers', () => {
  before(() => useBackend('cpu'));

  it('measures state against the closed forms on a tiny task, with the runner routing, leaking nothing', async () => {
    const count = tf.memory().numTensors;
    const instance = await tiny.load({ seed: 0 });
    let t: TaskMemory;
    try {
      t = await taskMemory('memory-tiny', instance, ['adamw', 'sgd', 'muon', 'lookahead'], { batch: 8, seed: 0 });
    } finally {
      instance.dispose();
    }
    assert.equal(tf.memory().numTensors, count); // variables, batches and optimizers all disposed
    assert.equal(t.parameters, P);
    assert.equal(t.hiddenParameters, H);
    assert.deepEqual(t.errors, []);
    const row = (name: string) => t.rows.find((r) => r.optimizer === name)!;
    // AdamW: m and v, 8 bytes per weight; SGD (momentum 0.9 from the runner): 4; lookahead(AdamW): 12.
    assert.deepEqual([row('adamw').stateBytes, row('adamw').hiddenStateBytes], [8 * P, 8 * H]);
    assert.deepEqual([row('sgd').stateBytes, row('sgd').hiddenStateBytes], [4 * P, 4 * H]);
    assert.deepEqual([row('lookahead').stateBytes, row('lookahead').hiddenStateBytes], [12 * P, 12 * H]);
    // Muon: momentum on the hidden matrix, AdamW on the head (excluded by the runner) and the biases.
    assert.deepEqual([row('muon').stateBytes, row('muon').hiddenStateBytes], [4 * H + 8 * (P - H), 4 * H]);
    assert.equal(row('muon').stateRatio, (4 * H + 8 * (P - H)) / (8 * P));
    assert.equal(row('muon').hiddenStateRatio, 0.5);
    assert.equal(row('sgd').stateRatio, 0.5);
    assert.equal(row('lookahead').stateRatio, 1.5);
    assert.equal(row('adamw').stateRatio, 1);
    assert.equal(row('muon').target, null);
    const exclude = row('muon').options.exclude as string[];
    assert.equal(exclude.length, 1);
    assert.match(exclude[0], /^\^orthoptim-memory\d+\\\/logits\\\/kernel\$$/);
    for (const r of t.rows) {
      assert.equal(r.leakedTensors, 0, r.optimizer);
      assert.equal(r.sharedStateBytes, 0, r.optimizer);
      assert.ok(r.stepTransientBytes > 0, r.optimizer);
      // The state is held through the whole step, so the step's peak above the baseline is at least the state.
      assert.ok(r.trainStepPeakAboveBaseline >= r.stateBytes, r.optimizer);
      assert.equal(r.trainStepPeakBytes - r.baselineBytes, r.trainStepPeakAboveBaseline);
    }
  });

  it('lists an optimizer that cannot be made, and measures the others', async () => {
    const instance = await tiny.load({ seed: 0 });
    try {
      const t = await taskMemory('memory-tiny', instance, ['adamw', 'noSuchOptimizer'], { batch: 4, seed: 1 });
      assert.deepEqual(t.rows.map((r) => r.optimizer), ['adamw']);
      assert.equal(t.errors.length, 1);
      assert.equal(t.errors[0].optimizer, 'noSuchOptimizer');
      assert.equal(t.errors[0].label, 'noSuchOptimizer');
      assert.match(t.errors[0].error, /unknown optimizer 'noSuchOptimizer'/);
      assert.match(memoryTable(t), /Not measured:\n- noSuchOptimizer: createOptimizer: unknown optimizer/);
    } finally {
      instance.dispose();
    }
  });

  it('divides by the baseline and judges the issue targets on the hidden matrices', () => {
    const rows = memoryRows([
      measurement('adamw', 1000, 800),
      measurement('galore', 300, 200),
      measurement('subspaceMomentum', 700, 480),
      measurement('subsetNorm', 600, 400),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.optimizer, r.stateRatio, r.hiddenStateRatio, r.target]),
      [
        ['adamw', 1, 1, null],
        ['galore', 0.3, 0.25, { maxHiddenRatio: 0.3, met: true }],
        ['subspaceMomentum', 0.7, 0.6, { maxHiddenRatio: 0.5, met: false }],
        ['subsetNorm', 0.6, 0.5, null],
      ],
    );
    // No baseline, or a baseline without state: no ratio, and no verdict.
    const alone = memoryRows([measurement('galore', 300, 200)]);
    assert.deepEqual([alone[0].stateRatio, alone[0].hiddenStateRatio, alone[0].target], [null, null, { maxHiddenRatio: 0.3, met: null }]);
    const zero = memoryRows([measurement('sgd', 0, 0), measurement('adamw', 100, 80)], 'sgd');
    assert.deepEqual([zero[1].stateRatio, zero[1].hiddenStateRatio], [null, null]);
    // With a target variant (rank n/8), the target is judged on it, not on the defaults' row.
    const variants = memoryRows([
      measurement('adamw', 1000, 800),
      measurement('galore', 1000, 800),
      measurement('galore', 400, 160, 'target'),
    ]);
    assert.deepEqual(
      variants.map((r) => [r.label, r.hiddenStateRatio, r.target]),
      [
        ['adamw', 1, null],
        ['galore', 1, null],
        ['galore rankFraction=0.125', 0.2, { maxHiddenRatio: 0.3, met: true }],
      ],
    );
  });

  it('plans a second row at the target options for a method that accepts them', () => {
    const accepts = (name: string) => (name === 'galore' ? ['rank', 'rankFraction'] : name === 'dctAdamw' ? ['rank'] : []);
    assert.deepEqual(memoryPlan(['adamw', 'galore', 'dctAdamw', 'subsetNorm', 'subspaceMomentum'], accepts), [
      { optimizer: 'adamw', label: 'adamw', variant: 'default', options: {} },
      { optimizer: 'galore', label: 'galore', variant: 'default', options: {} },
      { optimizer: 'galore', label: 'galore rankFraction=0.125', variant: 'target', options: { rankFraction: 0.125 } },
      // dctAdamw and subspaceMomentum here have no rankFraction: judged at their defaults; subsetNorm has no target.
      { optimizer: 'dctAdamw', label: 'dctAdamw', variant: 'default', options: {} },
      { optimizer: 'subsetNorm', label: 'subsetNorm', variant: 'default', options: {} },
      { optimizer: 'subspaceMomentum', label: 'subspaceMomentum', variant: 'default', options: {} },
    ]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(memoryTargets).map(([k, t]) => [k, t.maxHiddenRatio])),
      { galore: 0.3, onlineSubspaceDescent: 0.3, dctAdamw: 0.3, subspaceMomentum: 0.5 },
    );
  });

  it('renders a table with bytes in binary units, ratios and verdicts', () => {
    assert.deepEqual([formatBytes(512), formatBytes(1536), formatBytes(2.25 * 1024 ** 2), formatBytes(NaN)], ['512 B', '1.50 KiB', '2.25 MiB', 'n/a']);
    const t: TaskMemory = {
      task: 'memory-tiny',
      model: '6-5-3 MLP',
      batch: 8,
      parameters: P,
      hiddenParameters: H,
      baseline: 'adamw',
      rows: memoryRows([measurement('adamw', 8 * P, 8 * H), measurement('subspaceMomentum', 4 * P, 6 * H)]),
      errors: [],
    };
    const text = memoryTable(t);
    assert.match(text, /^### memory-tiny: 6-5-3 MLP, batch 8\n\n53 parameters, of which 30 in hidden matrices \(AdamW: 424 B of state, 240 B on them\)\./);
    assert.match(text, /\| adamw +\| +424 B \| +1\.000× \| +240 B \| +1\.000× \| +\| +5 B \| +10 B \| +1000 B \| +0 \|/);
    assert.match(text, /\| subspaceMomentum +\| +212 B \| +0\.500× \| +180 B \| +0\.750× \| ≤ 0\.5× NOT met \|/);
    assert.doesNotMatch(text, /Not measured/);
  });

  it('parses the command line: the baseline measured first, unknown names refused', () => {
    const c = parseMemoryArgs(['--optimizers', 'sgd,muon', '--tasks', 'synthetic', '--backend', 'cpu']);
    assert.notEqual(c, 'help');
    if (c === 'help') return;
    assert.deepEqual(c.optimizers, ['adamw', 'sgd', 'muon']);
    assert.deepEqual(c.tasks, ['synthetic']);
    assert.equal(c.backend, 'cpu');
    assert.equal(c.out, 'results/memory');
    assert.equal(c.batch, undefined);
    const all = parseMemoryArgs([]);
    assert.notEqual(all, 'help');
    if (all !== 'help') {
      assert.deepEqual(all.tasks, ['fashion-mnist-mlp', 'shakespeare-char-small']);
      assert.equal(all.optimizers[0], 'adamw');
      assert.ok(all.optimizers.includes('psgdKron'));
    }
    assert.throws(() => parseMemoryArgs(['--optimizers', 'adamw,nope']), (e: unknown) => e instanceof UsageError && /unknown optimizer 'nope'/.test(e.message));
    assert.throws(() => parseMemoryArgs(['--tasks', 'nope']), (e: unknown) => e instanceof UsageError && /unknown task 'nope'/.test(e.message));
    assert.throws(() => parseMemoryArgs(['--backend', 'webgl']), UsageError);
    assert.equal(parseMemoryArgs(['--help']), 'help');
  });
});
