/**
 * galore and onlineSubspaceDescent (src/optimizers/subspace.ts): registration, the READMEs' defaults,
 * option errors, routing (vectors, excluded and small matrices to the unprojected Adam), the state size
 * per matrix (2·r·other + d·r, + 2·d·r online, against AdamW's 2·d·other), and the optimizer contract on
 * wasm and cpu (model.fit, leaks, checkpoints — count, seed and P are state, so a resume refreshes from the same
 * draws as the uninterrupted run).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';
import { galore, onlineSubspaceDescent } from '../../src/tfjs/register.js';
import { isProjected, projectorLearningRate } from '../../src/optimizers/subspace.js';
import { asSchedule, warmupCosine } from '../../src/schedules/index.js';

for (const backend of ['cpu', 'wasm'] as const) describe(`galore / onlineSubspaceDescent options and state size (${backend})`, () => {
  before(() => useBackend(backend));

  it('are registered with their papers and reference code', () => {
    const g = listOptimizers().find((x) => x.name === 'galore');
    const o = listOptimizers().find((x) => x.name === 'onlineSubspaceDescent');
    assert.ok(g && o, 'not registered');
    assert.match(g.paper, /arXiv 2403\.03507/);
    assert.match(g.reference, /^jiaweizzhao\/GaLore:galore_torch\/adamw\.py#AdamW/);
    assert.match(o.paper, /arXiv 2408\.12857/);
    assert.match(o.reference, /^kyleliang919\/Online-Subspace-Descent:galore_torch\/galore_projector\.py#GaLoreProjector/);
  });

  it("defaults are the READMEs' (rank 128, gap 200, scale 0.25, lr 0.01), galore_torch AdamW's (ε 1e-6, no decay) and torch AdamW's for P", () => {
    const r = galore().resolved;
    assert.deepEqual(
      [r.learningRate, r.rank, r.rankFraction, r.updateGap, r.scale, r.beta1, r.beta2, r.epsilon, r.weightDecay, r.powerIters, r.oversample, r.seed, r.exclude],
      [0.01, 128, null, 200, 0.25, 0.9, 0.999, 1e-6, 0, 2, 5, 0, []],
    );
    const o = onlineSubspaceDescent().resolved;
    assert.deepEqual([o.rank, o.updateGap, o.scale, o.epsilon, o.projectorBeta1, o.projectorBeta2, o.projectorEpsilon, o.projectorWeightDecay], [128, 200, 0.25, 1e-6, 0.9, 0.999, 1e-8, 0.01]);
  });

  it('rejects bad values naming the optimizer and the option, before anything is made', () => {
    const before = tf.memory().numTensors;
    assert.throws(() => galore({ rank: 0 }), { name: 'RangeError', message: 'galore: rank must be an integer in [1, inf), got 0' });
    assert.throws(() => galore({ rank: 2.5 }), { name: 'RangeError', message: 'galore: rank must be an integer in [1, inf), got 2.5' });
    assert.throws(() => galore({ rankFraction: 0 }), { name: 'RangeError', message: 'galore: rankFraction must be in (0, 1], got 0' });
    assert.throws(() => galore({ rankFraction: 1.5 }), { name: 'RangeError', message: 'galore: rankFraction must be in (0, 1], got 1.5' });
    assert.throws(() => galore({ updateGap: 0 }), { name: 'RangeError', message: 'galore: updateGap must be an integer in [1, inf), got 0' });
    assert.throws(() => galore({ seed: 2 ** 24 + 1 }), /galore: seed must be an integer in \[0, 16777216\]/);
    assert.throws(() => galore({ rankfraction: 0.1 } as never), /galore: unknown option 'rankfraction'/);
    assert.throws(() => onlineSubspaceDescent({ projectorBeta2: 1 }), { name: 'RangeError', message: 'onlineSubspaceDescent: projectorBeta2 must be in [0, 1), got 1' });
    assert.throws(() => onlineSubspaceDescent({ updateGap: 10, projectorWeightDecay: 11 }), {
      name: 'RangeError',
      message: "onlineSubspaceDescent: projectorWeightDecay must be at most updateGap (P's learning rate 1/updateGap × projectorWeightDecay ≤ 1), got projectorWeightDecay 11 with updateGap 10",
    });
    assert.equal(tf.memory().numTensors, before);
  });

  it('projects only matrices whose smaller side exceeds the rank and that are not excluded', () => {
    const o = { rank: 4, rankFraction: null, exclude: ['embed'] };
    assert.equal(isProjected({ name: 'dense/kernel', shape: [8, 32] }, o), true);
    assert.equal(isProjected({ name: 'dense/kernel', shape: [4, 32] }, o), false); // min side = rank
    assert.equal(isProjected({ name: 'dense/bias', shape: [32] }, o), false);
    assert.equal(isProjected({ name: 'embed/embeddings', shape: [100, 16] }, o), false);
    assert.equal(isProjected({ name: 'conv/kernel', shape: [3, 3, 1, 8] }, o), true); // [9, 8]
    assert.equal(isProjected({ name: 'w', shape: [0, 8] }, o), false);
    assert.equal(isProjected({ name: 'w', shape: [64, 64] }, { ...o, rankFraction: 0.125 }), true);
    assert.equal(isProjected({ name: 'w', shape: [4, 64] }, { ...o, rankFraction: 0.125 }), true); // ⌈0.5⌉ = 1 < 4
  });

  it('state per matrix: 2·r·other + d·r (GaLore), + 2·d·r (OSD), against AdamW’s 2·d·other', () => {
    const shapes = [[64, 256], [256, 64], [256]];
    const measure = (name: string, options: object) => {
      const vars = shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), i), s), true, `${name}_${backend}/w${i}`));
      const opt = createOptimizer(name, options);
      opt.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(gaussian(v.size, 10 + i), v.shape)])));
      const report = opt.stateBytes({ perParameter: true });
      const bytes = report.perParameter.map((p) => p.bytes);
      opt.dispose();
      tf.dispose(vars);
      return bytes;
    };
    const r = 8;
    const adamw = measure('adamw', {});
    assert.deepEqual(adamw, [4 * 2 * 64 * 256, 4 * 2 * 64 * 256, 4 * 2 * 256]);
    assert.deepEqual(measure('galore', { rank: r }), [4 * (2 * r * 256 + 64 * r), 4 * (2 * r * 256 + 64 * r), 4 * 2 * 256]);
    assert.deepEqual(measure('onlineSubspaceDescent', { rank: r }), [4 * (2 * r * 256 + 3 * 64 * r), 4 * (2 * r * 256 + 3 * 64 * r), 4 * 2 * 256]);
    // rankFraction 1/8 on these matrices is rank 8 again
    assert.deepEqual(measure('galore', { rankFraction: 0.125 }), [4 * (2 * r * 256 + 64 * r), 4 * (2 * r * 256 + 64 * r), 4 * 2 * 256]);
  });

  it("OSD's P learning rate is (1/updateGap)·η_t/η_max: 1/gap for a constant lr, following a warmup-cosine schedule", () => {
    const constant = projectorLearningRate(asSchedule(0.01, 't', 'lr'), 200);
    assert.deepEqual([0, 1, 1000].map(constant), [1 / 200, 1 / 200, 1 / 200]);
    const s = warmupCosine({ peak: 0.02, warmupSteps: 10, decaySteps: 110 });
    const p = projectorLearningRate(s, 50);
    for (const k of [0, 5, 10, 60, 110, 500]) assert.equal(p(k), s(k) / 0.02 / 50, `step ${k}`);
    assert.equal(p(5), 0.5 / 50);
    assert.equal(p(10), 1 / 50);
    assert.equal(projectorLearningRate(asSchedule(0, 't', 'lr'), 10)(3), 0);
  });

  it('createOptimizer knows them by name', () => {
    const g = createOptimizer('galore', { rank: 2 });
    const o = createOptimizer('onlineSubspaceDescent', { rank: 2 });
    assert.equal(g.getClassName(), 'orthoptim.Galore');
    assert.equal(o.getClassName(), 'orthoptim.OnlineSubspaceDescent');
    g.dispose();
    o.dispose();
  });
});

describe('galore / onlineSubspaceDescent on wasm', () => {
  before(() => useBackend('wasm'));
  // rank 4 projects the contract MLP's [8, 32] and [32, 32] kernels; the [32, 3] head and the biases get plain Adam
  optimizerContract('galore', () => galore({ learningRate: 0.01, rank: 4, updateGap: 5, scale: 1, seed: 3 }));
  // the default scale 0.25 with lr 0.04: the projected matrices move at 0.01, as in the first run
  optimizerContract('galore (rankFraction, default scale, decay, excluded first layer)', () =>
    galore({ learningRate: 0.04, rankFraction: 0.25, updateGap: 3, weightDecay: 1e-3, exclude: ['dense_Dense1'], seed: 7 }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('onlineSubspaceDescent', () => onlineSubspaceDescent({ learningRate: 0.01, rank: 4, updateGap: 5, scale: 1, seed: 5 }));
});

describe('galore / onlineSubspaceDescent on cpu', () => {
  before(() => useBackend('cpu'));
  optimizerContract('galore (cpu)', () => galore({ learningRate: 0.01, rank: 4, updateGap: 5, scale: 1, seed: 3 }));
  optimizerContract('onlineSubspaceDescent (cpu)', () => onlineSubspaceDescent({ learningRate: 0.01, rank: 4, updateGap: 5, scale: 1, seed: 5 }));
});
