/**
 * dctAdamw (src/optimizers/dct.ts): registration, the reference's defaults, option errors, and the
 * optimizer contract on cpu and wasm (model.fit, leaks, checkpoints — the selected indices are state, so a resume
 * projects onto the same columns as the uninterrupted run).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { clearDctCache } from '../../src/linalg/dct.js';
import { optimizerContract } from '../support/contract.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';
import { dctAdamw } from '../../src/tfjs/register.js';

/** The state-size and contract tests run on both Node backends. */
const BACKENDS = ['cpu', 'wasm'] as const;

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

for (const backend of BACKENDS) describe(`dctAdamw state bytes (${backend})`, () => {
  before(() => useBackend(backend));

  it('a 256×512 kernel at rank n/8 keeps 2·N·r + r floats (0.125× AdamW’s 2·m·n), a bias 2·size', () => {
    const w = tf.variable(tf.zeros([256, 512]), true, `dctBytes_${backend}/w`);
    const b = tf.variable(tf.zeros([512]), true, `dctBytes_${backend}/b`);
    const bytes = (o: ReturnType<typeof dctAdamw>) => {
      tf.tidy(() => o.applyGradients({ [w.name]: tf.ones([256, 512]), [b.name]: tf.ones([512]) }));
      const r = o.stateBytes({ perParameter: true });
      o.dispose();
      return r.perParameter.map((p) => p.bytes);
    };
    const r = 32;
    assert.deepEqual(bytes(dctAdamw({ rankFraction: 0.125 })), [4 * (2 * 512 * r + r), 4 * 2 * 512]);
    assert.deepEqual(bytes(dctAdamw({ rank: 32, errorFeedback: true })), [4 * (2 * 512 * r + r + 256 * 512), 4 * 2 * 512]);
    const adamwBytes = 4 * 2 * 256 * 512;
    assert.ok((4 * (2 * 512 * r + r)) / adamwBytes < 0.126);
    tf.dispose([w, b]);
    clearDctCache();
  });
});

for (const backend of BACKENDS) describe(`dctAdamw on ${backend}`, () => {
  before(() => useBackend(backend));
  optimizerContract('dctAdamw (rank 2)', () => dctAdamw({ learningRate: 0.01, rank: 2 }));
  optimizerContract('dctAdamw (gap 3, rotation, error feedback, ℓ2, decay)', () =>
    dctAdamw({ learningRate: 0.01, rankFraction: 0.5, updateProjGap: 3, rotateSubspace: true, errorFeedback: true, ellNorm: 2, weightDecay: 1e-3 }), {
    zeroGradientKeepsWeights: false,
  });
});
