/**
 * dctAdamw (src/optimizers/dct.ts): registration, the reference's defaults, option errors, and the
 * optimizer contract on wasm (model.fit, leaks, checkpoints — the selected indices are state, so a resume
 * projects onto the same columns as the uninterrupted run).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';
import { dctAdamw } from '../../src/tfjs/register.js';

describe('dctAdamw options', () => {
  it('is registered with its paper and reference code', () => {
    const d = listOptimizers().find((x) => x.name === 'dctAdamw');
    assert.ok(d, 'dctAdamw is not registered');
    assert.match(d.paper, /arXiv 2505\.17967/);
    assert.match(d.reference, /^IST-DASLab\/ISTA-DASLab-Optimizers:ista_daslab_optimizers\/fft_low_rank\/dct_adamw\.py#DCTAdamW/);
  });

  it("defaults are dct_adamw.py's (update_proj_gap 1, no rotation, ℓ1, max_shape 32000, betas (0.9, 0.999), eps 1e-8, no EF)", () => {
    const r = dctAdamw().resolved;
    assert.deepEqual(
      [r.learningRate, r.rank, r.rankFraction, r.updateProjGap, r.rotateSubspace, r.errorFeedback, r.ellNorm, r.maxShape, r.beta1, r.beta2, r.epsilon, r.weightDecay],
      [1e-3, 128, null, 1, false, false, 1, 32000, 0.9, 0.999, 1e-8, 0],
    );
  });

  it('rejects bad values naming the optimizer and the option', () => {
    assert.throws(() => dctAdamw({ rank: -1 }), { name: 'RangeError', message: 'dctAdamw: rank must be an integer in [1, inf), got -1' });
    assert.throws(() => dctAdamw({ beta2: 1 }), { name: 'RangeError', message: 'dctAdamw: beta2 must be in [0, 1), got 1' });
    assert.throws(() => dctAdamw({ maxShape: 0 }), /dctAdamw: maxShape must be an integer in \[1, inf\), got 0/);
  });

  it('createOptimizer knows it by name', () => {
    const o = createOptimizer('dctAdamw', { rank: 2 });
    assert.equal(o.getClassName(), 'orthoptim.DctAdamw');
    o.dispose();
  });
});

describe('dctAdamw on wasm', () => {
  before(() => useBackend('wasm'));
  optimizerContract('dctAdamw (rank 2)', () => dctAdamw({ learningRate: 0.01, rank: 2 }));
  optimizerContract('dctAdamw (gap 3, rotation, error feedback, ℓ2, decay)', () =>
    dctAdamw({ learningRate: 0.01, rankFraction: 0.5, updateProjGap: 3, rotateSubspace: true, errorFeedback: true, ellNorm: 2, weightDecay: 1e-3 }), {
    zeroGradientKeepsWeights: false,
  });
});
