/**
 * subsetNorm (AdamSN) and subspaceMomentum (AdamSNSM) (src/optimizers/subsetNorm.ts): registration,
 * GenericOptim's defaults, option errors, and the optimizer contract on cpu and wasm (model.fit, leaks,
 * checkpoints — the selected indices are state, the uniform draws follow the seed and the step).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';
import { subsetNorm, subspaceMomentum } from '../../src/tfjs/register.js';

/** The state-size and contract tests run on both Node backends. */
const BACKENDS = ['cpu', 'wasm'] as const;

describe('subsetNorm / subspaceMomentum options', () => {
  it('are registered with their paper and reference code', () => {
    for (const name of ['subsetNorm', 'subspaceMomentum']) {
      const d = listOptimizers().find((x) => x.name === name);
      assert.ok(d, `${name} is not registered`);
      assert.match(d.paper, /arXiv 2411\.07120/);
      assert.match(d.reference, /^timmytonga\/sn-sm:GenericOptim\.py#GenericOptim/);
    }
  });

  it("defaults are GenericOptim's (lr 1e-3, betas (0.9, 0.999), eps 1e-6, no decay, bias correction) with the README's heuristics subsets", () => {
    const r = subsetNorm().resolved;
    assert.deepEqual([r.learningRate, r.subsetSize, r.beta1, r.beta2, r.epsilon, r.correctBias, r.weightDecay], [1e-3, 'heuristics', 0.9, 0.999, 1e-6, true, 0]);
    const m = subspaceMomentum().resolved;
    assert.deepEqual(
      [m.learningRate, m.rank, m.rankFraction, m.updateProjGap, m.projection, m.reset, m.seed, m.subsetSize, m.epsilon],
      [1e-3, 128, null, 200, 'topk', 'afterStep', 0, 'heuristics', 1e-6],
    );
  });

  it('rejects bad values naming the optimizer and the option', () => {
    assert.throws(() => subsetNorm({ subsetSize: 0 }), { name: 'RangeError', message: "subsetNorm: subsetSize must be a nonzero integer (−c: ⌊√numel/c⌋) or 'heuristics', got 0" });
    assert.throws(() => subspaceMomentum({ rankFraction: 2 }), /subspaceMomentum: rankFraction must be in \(0, 1\], got 2/);
    assert.throws(() => subspaceMomentum({ seed: -1 }), /subspaceMomentum: seed must be an integer in \[0, 16777216\], got -1/);
  });

  it('createOptimizer knows them by name', () => {
    for (const [name, cls] of [['subsetNorm', 'orthoptim.SubsetNorm'], ['subspaceMomentum', 'orthoptim.SubspaceMomentum']]) {
      const o = createOptimizer(name, {});
      assert.equal(o.getClassName(), cls);
      o.dispose();
    }
  });
});

for (const backend of BACKENDS) describe(`subsetNorm / subspaceMomentum state bytes (${backend})`, () => {
  before(() => useBackend(backend));

  it('a 256×512 kernel: AdamSN m·n + max(m, n), AdamSNSM at rank n/8 N·r + r + max(m, n) floats (≤ 0.07× AdamW)', () => {
    const w = tf.variable(tf.zeros([256, 512]), true, `snBytes_${backend}/w`);
    const b = tf.variable(tf.zeros([512]), true, `snBytes_${backend}/b`);
    const bytes = (o: ReturnType<typeof subsetNorm>) => {
      tf.tidy(() => o.applyGradients({ [w.name]: tf.ones([256, 512]), [b.name]: tf.ones([512]) }));
      const r = o.stateBytes({ perParameter: true });
      o.dispose();
      return r.perParameter.map((p) => p.bytes);
    };
    const r = 32;
    assert.deepEqual(bytes(subsetNorm()), [4 * (256 * 512 + 512), 4 * 2 * 512]);
    assert.deepEqual(bytes(subsetNorm({ subsetSize: -1 })), [4 * (256 * 512 + (256 * 512) / 256), 4 * 2 * 512]);
    assert.deepEqual(bytes(subspaceMomentum({ rankFraction: 0.125 })), [4 * (512 * r + r + 512), 4 * 2 * 512]);
    assert.deepEqual(bytes(subspaceMomentum({ rank: 32, subsetSize: 1 })), [4 * (512 * r + r + 256 * 512), 4 * 2 * 512]);
    // 'svd' keeps the n×r basis instead of r indices
    assert.deepEqual(bytes(subspaceMomentum({ rank: 32, projection: 'svd' })), [4 * (512 * r + 256 * r + 512), 4 * 2 * 512]);
    tf.dispose([w, b]);
  });
});

for (const backend of BACKENDS) describe(`subsetNorm / subspaceMomentum on ${backend}`, () => {
  before(() => useBackend(backend));
  optimizerContract('subsetNorm', () => subsetNorm({ learningRate: 0.01 }));
  // AdaGrad's step shrinks as 1/√t: it gets a larger learning rate
  optimizerContract('subsetNorm (k = −1, AdaGrad β₂ = 1, decay)', () => subsetNorm({ learningRate: 0.1, subsetSize: -1, beta2: 1, weightDecay: 1e-3 }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('subspaceMomentum (topk, rank 2, gap 3)', () => subspaceMomentum({ learningRate: 0.01, rank: 2, updateProjGap: 3 }));
  optimizerContract('subspaceMomentum (uniform, gap 2, k = 4, decay)', () =>
    subspaceMomentum({ learningRate: 0.01, rankFraction: 0.5, updateProjGap: 2, projection: 'uniform', seed: 3, subsetSize: 4, weightDecay: 1e-3 }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('subspaceMomentum (svd by the range finder, gap 2, seed 4)', () => subspaceMomentum({ learningRate: 0.01, rank: 2, updateProjGap: 2, projection: 'svd', seed: 4 }));
  optimizerContract('subspaceMomentum (dct, reset before the step)', () => subspaceMomentum({ learningRate: 0.01, rank: 2, updateProjGap: 2, projection: 'dct', reset: 'beforeStep' }));
});
