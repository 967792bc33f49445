/**
 * dog, ldog, dowg (src/optimizers/dog.ts): formll/dog's golden trajectories replayed through the
 * optimizers on cpu and wasm (golden README tolerance 1e-5 of max |x| per tensor), option validation,
 * and the optimizer contract on wasm (model.fit, leaks, NaN, checkpoints, model.save).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenCases, requireGolden } from '../support/golden.js';
import { goldenOptimizers } from '../support/goldenOptimizers.js';
import { replayGolden } from '../support/replay.js';
import { optimizerContract } from '../support/contract.js';
import { dog, dowg, ldog, listOptimizers } from '../../src/index.js';

const TOL = 1e-5;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`dog / ldog golden replays on ${backend}`, () => {
    before(() => useBackend(backend));
    for (const [method, count] of [['dog', 3], ['ldog', 2]] as const) {
      it(`${method}: every case within ${TOL} of formll/dog over 5 steps`, (t) => {
        if (!requireGolden(t)) return;
        const cases = goldenCases(method);
        assert.equal(cases.length, count);
        const before = tf.memory().numTensors;
        for (const c of cases) {
          const r = replayGolden(c, goldenOptimizers[method]);
          t.diagnostic(`${c}: max deviation ${r.maxDeviation.toExponential(2)}`);
          assert.ok(r.maxDeviation <= TOL, `${c}: deviation ${r.maxDeviation} (per step ${r.perStep.join(', ')})`);
        }
        assert.equal(tf.memory().numTensors, before, 'replays leaked tensors');
      });
    }
  });
}

describe('dog / ldog / dowg options', () => {
  it('are registered with their paper and reference', () => {
    for (const name of ['dog', 'ldog', 'dowg']) {
      const d = listOptimizers().find((x) => x.name === name);
      assert.ok(d, `${name} is not registered`);
      assert.match(d.paper, /arXiv 230[25]\./);
    }
  });

  it('reject bad values naming the optimizer and the option', () => {
    assert.throws(() => dog({ repsRel: 0 }), /dog: repsRel must be/);
    assert.throws(() => ldog({ initEta: -1 }), /ldog: initEta must be/);
    assert.throws(() => dog({ learningRate: -1 }), /dog: learningRate/);
    assert.throws(() => dowg({ epsilon: Number.NaN }), /dowg: epsilon/);
    assert.throws(() => dog({ reps_rel: 1e-6 } as never), /dog: unknown option 'reps_rel'/);
  });
});

describe('dog / ldog / dowg on wasm', () => {
  before(() => useBackend('wasm'));
  optimizerContract('dog', () => dog({ repsRel: 1e-4 }));
  // L2 weight decay moves the weights under a zero gradient (g + λW), as torch's does
  optimizerContract('ldog', () => ldog({ repsRel: 1e-4, weightDecay: 1e-4 }), { zeroGradientKeepsWeights: false });
  optimizerContract('dowg', () => dowg());
});
