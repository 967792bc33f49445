/**
 * Golden replays: every test/fixtures/golden trajectory of muon, muon_aux_adam, torch_adam, torch_adamw and
 * torch_sgd, 5 steps without re-syncing, on the cpu backend at the golden README's tolerance (1e-5 of
 * max|want| per tensor) and on wasm (see WASM_RTOL).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenCases, goldenDir, type GoldenFile } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { existsSync } from 'node:fs';
import { adam, adamw, muon, sgd } from '../../src/index.js';

const RTOL = 1e-5;
/**
 * wasm: measured worst deviation over these files is reported by the test; XNNPACK's blocked float32
 * sums differ from torch's in summation order only, so the README's tolerance applies unchanged.
 */
const WASM_RTOL = 1e-5;

type Hp = Record<string, unknown>;

function muonFromGolden(g: GoldenFile): tf.Optimizer {
  const hp = g.hyperparams as Hp;
  const nesterov = g.injected?.['muon_update.nesterov'] !== false;
  return muon({
    learningRate: hp.lr as number,
    momentum: hp.momentum as number,
    weightDecay: hp.weight_decay as number,
    nesterov,
    convScale: 'torchKernel', // the reference's kh/kw rule (golden README, "Muon conv scale")
  });
}

function muonAuxFromGolden(g: GoldenFile): tf.Optimizer {
  const [m, a] = g.effective_hyperparams as Hp[];
  const betas = a.betas as number[];
  return muon({
    learningRate: m.lr as number,
    momentum: m.momentum as number,
    weightDecay: m.weight_decay as number,
    convScale: 'torchKernel',
    adamwLearningRate: a.lr as number,
    adamwBeta1: betas[0],
    adamwBeta2: betas[1],
    adamwEpsilon: a.eps as number,
    adamwWeightDecay: a.weight_decay as number,
  });
}

function adamFromGolden(factory: typeof adam) {
  return (g: GoldenFile): tf.Optimizer => {
    const hp = g.effective_hyperparams as Hp;
    const betas = hp.betas as number[];
    return factory({
      learningRate: hp.lr as number,
      beta1: betas[0],
      beta2: betas[1],
      epsilon: hp.eps as number,
      weightDecay: hp.weight_decay as number,
      amsgrad: hp.amsgrad as boolean,
    });
  };
}

function sgdFromGolden(g: GoldenFile): tf.Optimizer {
  const hp = g.effective_hyperparams as Hp;
  return sgd({
    learningRate: hp.lr as number,
    momentum: hp.momentum as number,
    dampening: hp.dampening as number,
    nesterov: hp.nesterov as boolean,
    weightDecay: hp.weight_decay as number,
  });
}

const suites: [string, (g: GoldenFile) => tf.Optimizer][] = [
  ['muon', muonFromGolden],
  ['muon_aux_adam', muonAuxFromGolden],
  ['torch_adam', adamFromGolden(adam)],
  ['torch_adamw', adamFromGolden(adamw)],
  ['torch_sgd', sgdFromGolden],
];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`golden optimizer replays on ${backend}`, () => {
    before(async () => useBackend(backend));
    const tol = backend === 'cpu' ? RTOL : WASM_RTOL;
    for (const [method, make] of suites) {
      it(`${method}: every case within ${tol} of the reference`, (t) => {
        if (!existsSync(goldenDir)) {
          const msg = `missing golden files at ${goldenDir}: set ORTHOPTIM_GOLDEN_DIR`;
          if (process.env.CI === 'true') throw new Error(msg);
          t.skip(msg);
          return;
        }
        const cases = goldenCases(method);
        assert.ok(cases.length > 0, `no golden cases for ${method}`);
        const before = tf.memory().numTensors;
        for (const c of cases) {
          const r = replayGolden(c, make);
          t.diagnostic(`${c}: max deviation ${r.maxDeviation.toExponential(2)}`);
          assert.ok(r.maxDeviation <= tol, `${c}: deviation ${r.maxDeviation} > ${tol} (per step ${r.perStep.join(', ')})`);
        }
        assert.equal(tf.memory().numTensors, before, 'replays leaked tensors');
      });
    }
  });
}

describe('golden replay controls', () => {
  before(async () => useBackend('cpu'));
  it('the conv scale rule matters: the flattened rule misses the reference by far more than the tolerance', (t) => {
    if (!existsSync(goldenDir)) {
      if (process.env.CI === 'true') throw new Error(`missing golden files at ${goldenDir}`);
      t.skip('missing golden files');
      return;
    }
    const r = replayGolden('muon__nesterov_wd', (g) => {
      const hp = g.hyperparams as Hp;
      return muon({ learningRate: hp.lr as number, momentum: hp.momentum as number, weightDecay: hp.weight_decay as number });
    });
    assert.ok(r.maxDeviation > 1e-3, `expected a visible deviation, got ${r.maxDeviation}`);
  });
});
