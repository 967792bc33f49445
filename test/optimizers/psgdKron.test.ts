/**
 * psgdKron (src/optimizers/psgdKron.ts): registration, defaults of both references, option errors, and
 * the optimizer contract on cpu and wasm (model.fit, leaks, checkpoints — the seed and step count are state, so
 * every resume draws the same random numbers as the uninterrupted run).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';
import { psgdKron } from '../../src/tfjs/register.js';

/** The state-size and contract tests run on both Node backends. */
const BACKENDS = ['cpu', 'wasm'] as const;

describe('psgdKron options', () => {
  it('is registered with its paper and reference code', () => {
    const d = listOptimizers().find((x) => x.name === 'psgdKron');
    assert.ok(d, 'psgdKron is not registered');
    assert.match(d.paper, /arXiv 2402\.04553/);
    assert.match(d.reference, /^lixilinx\/psgd_torch:psgd\.py#KronWhiten/);
  });

  it("defaults are psgd_torch KronWhiten's; defaults: 'kozistr' takes pytorch_optimizer Kron's", () => {
    const r = psgdKron().resolved;
    assert.deepEqual(
      [r.learningRate, r.preconditionerLr, r.betaL, r.damping, r.momentum, r.clipRms, r.clipMax, r.updateProbability, r.updateSchedule, r.maxSize, r.maxSkew, r.initScale, r.seed, r.weightDecay],
      [1e-3, 0.1, 0.9, 1e-9, 0, 2, 10, 1, 'constant', null, 1, null, 0, 0],
    );
    const k = psgdKron({ defaults: 'kozistr' }).resolved;
    assert.deepEqual([k.momentum, k.updateSchedule, k.initScale, k.maxSize, k.clipRms, k.learningRate], [0.9, 'anneal', 1, 8192, 1.1, 1e-3]);
    // an explicit value wins over the preset
    assert.equal(psgdKron({ defaults: 'kozistr', momentum: 0.5 }).resolved.momentum, 0.5);
  });

  it('rejects bad values naming the optimizer and the option', () => {
    assert.throws(() => psgdKron({ betaL: 1 }), { name: 'RangeError', message: 'psgdKron: betaL must be in [0, 1), got 1' });
    assert.throws(() => psgdKron({ updateProbability: 0 }), { name: 'RangeError', message: 'psgdKron: updateProbability must be in (0, 1], got 0' });
    assert.throws(() => psgdKron({ maxSize: 2.5 }), /psgdKron: maxSize must be an integer in \[1, inf\), got 2.5/);
    assert.throws(() => psgdKron({ initScale: 0 }), /psgdKron: initScale must be in \(0, inf\), got 0/);
    assert.throws(() => psgdKron({ seed: 2 ** 24 + 1 }), /psgdKron: seed must be an integer in \[0, 16777216\]/);
    assert.throws(() => psgdKron({ defaults: 'torch' } as never), /psgdKron: defaults must be one of/);
    assert.throws(() => psgdKron({ precondLr: 0.1 } as never), /psgdKron: unknown option 'precondLr'/);
  });

  it('createOptimizer knows it by name', () => {
    const o = createOptimizer('psgdKron', { seed: 3 });
    assert.equal(o.getClassName(), 'orthoptim.PsgdKron');
    o.dispose();
  });
});

for (const backend of BACKENDS) describe(`psgdKron on ${backend}`, () => {
  before(() => useBackend(backend));
  // the damping noise (1e-9·ν) moves the weights under a zero gradient, by ≈ lr·1e-9·P
  optimizerContract('psgdKron', () => psgdKron({ learningRate: 0.01, seed: 5 }), { zeroGradientKeepsWeights: false });
  optimizerContract('psgdKron (momentum, anneal, dense both sides, decay)', () =>
    psgdKron({ learningRate: 0.01, momentum: 0.9, updateSchedule: 'anneal', maxSkew: 100, initScale: 1, weightDecay: 1e-4, seed: 9 }), {
    zeroGradientKeepsWeights: false,
  });
});
