/**
 * alrSmag and polyakSgd (src/optimizers/polyak.ts): registration, option validation and the config
 * round trip, and the optimizer contract on wasm (model.fit, leaks, NaN, checkpoints, model.save) —
 * driven with a loss, which both need every step.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { createOptimizer, listOptimizers, optimizerFromConfig } from '../../src/index.js';
import { alrSmag, polyakSgd } from '../../src/tfjs/register.js';

describe('alrSmag / polyakSgd options', () => {
  it('are registered with their paper, reference and options', () => {
    const a = listOptimizers().find((x) => x.name === 'alrSmag');
    const p = listOptimizers().find((x) => x.name === 'polyakSgd');
    assert.ok(a && p, 'both registered');
    assert.match(a.paper, /Generalized Polyak Step Size .* arXiv 2305\.12939/);
    assert.match(a.reference, /^fabian-sp\/step-back@94f055b1:stepback\/optim\/alr_smag\.py#AlrSmag \(reference form\)$/);
    assert.deepEqual(a.options, ['learningRate', 'momentum', 'lowerBound', 'c', 'weightDecay']);
    assert.match(p.reference, /optax\/_src\/alias\.py#polyak_sgd$/);
    assert.deepEqual(p.options, ['learningRate', 'maxLearningRate', 'fMin', 'epsilon', 'variant']);
  });

  it('default as the references: alrSmag lr 0.1, β 0.9, lb 0, c 1, λ 0; polyakSgd max lr 1, f* 0, ε 0, sps', () => {
    assert.deepEqual(alrSmag().getConfig(), {
      learningRate: 0.1, momentum: 0.9, lowerBound: 0, c: 1, weightDecay: 0, nonFinite: 'throw', clipGlobalNorm: null, engine: null,
    });
    assert.deepEqual(polyakSgd().getConfig(), {
      learningRate: 1, maxLearningRate: 1, fMin: 0, epsilon: 0, variant: 'sps', nonFinite: 'throw', clipGlobalNorm: null, engine: null,
    });
    const custom = alrSmag({ learningRate: 0.5, momentum: 0.5, lowerBound: -1, c: 2, weightDecay: 0.1 });
    assert.deepEqual(optimizerFromConfig('alrSmag', custom.getConfig() as object).getConfig(), custom.getConfig());
  });

  it('reject bad values naming the optimizer and the option', () => {
    assert.throws(() => alrSmag({ momentum: 1.5 }), /^RangeError: alrSmag: momentum must be in \[0, 1\], got 1.5$/);
    assert.throws(() => alrSmag({ c: 0 }), /alrSmag: c must be in \(0, inf\), got 0/);
    assert.throws(() => alrSmag({ lowerBound: Number.NaN }), /alrSmag: lowerBound must be/);
    assert.throws(() => alrSmag({ learningRate: 1, weightDecay: 2 }), /alrSmag: .*weightDecay/);
    assert.throws(() => polyakSgd({ variant: 'sps+' as never }), /polyakSgd: variant must be one of 'sps', 'spsPlus'/);
    assert.throws(() => polyakSgd({ maxLearningRate: -1 }), /polyakSgd: maxLearningRate must be in \[0, inf\), got -1/);
    assert.throws(() => polyakSgd({ fMin: Infinity }), /polyakSgd: fMin must be/);
    assert.throws(() => createOptimizer('polyakSgd', { f_min: 0 }), /polyakSgd: unknown option 'f_min'/);
  });
});

describe('alrSmag / polyakSgd on wasm', () => {
  before(() => useBackend('wasm'));
  optimizerContract('alrSmag', () => alrSmag());
  // the weight decay θ(1 − λτ) moves the weights under a zero gradient (τ = γ_max at d = 0)
  optimizerContract('alrSmag (weight decay, β = 0.5)', () => alrSmag({ momentum: 0.5, weightDecay: 1e-3 }), { zeroGradientKeepsWeights: false });
  optimizerContract('polyakSgd', () => polyakSgd({ maxLearningRate: 0.5 }));
  optimizerContract('polyakSgd (spsPlus)', () => polyakSgd({ variant: 'spsPlus', learningRate: 0.5 }));
});
