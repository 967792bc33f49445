/**
 * The native engines behind the optimizers: the golden Muon replays pass with each engine (wasm backend,
 * README tolerance), `auto` picks onnxruntime on a CPU backend, training through model.fit works, and
 * nothing is left behind after disposeEngines().
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { engineSkip } from '../support/engines.js';
import { goldenCases, goldenDir, type GoldenFile } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { blobs, mlp } from '../support/models.js';
import '../../src/engines/node.js';
import { describeEngine, disposeEngines, listEngines, muon, resolveEngine, type EngineName } from '../../src/index.js';

await useBackend('wasm');

const skips = { onnxruntime: engineSkip('onnxruntime'), workers: engineSkip('workers') } as const;

type Hp = Record<string, unknown>;

function muonWith(engine: EngineName) {
  return (g: GoldenFile): tf.Optimizer => {
    if (g.effective_hyperparams) {
      const [m, a] = g.effective_hyperparams as Hp[];
      const betas = a.betas as number[];
      return muon({
        learningRate: m.lr as number, momentum: m.momentum as number, weightDecay: m.weight_decay as number,
        convScale: 'torchKernel', adamwLearningRate: a.lr as number, adamwBeta1: betas[0], adamwBeta2: betas[1],
        adamwEpsilon: a.eps as number, adamwWeightDecay: a.weight_decay as number, engine,
      });
    }
    const hp = g.hyperparams as Hp;
    return muon({
      learningRate: hp.lr as number, momentum: hp.momentum as number, weightDecay: hp.weight_decay as number,
      nesterov: g.injected?.['muon_update.nesterov'] !== false, convScale: 'torchKernel', engine,
    });
  };
}

describe('native engines behind muon', () => {
  after(() => disposeEngines());

  it('both native engines can run here (CI installs onnxruntime-node as an optional dependency)', { skip: skips.onnxruntime || skips.workers }, () => {
    const engines = listEngines();
    for (const name of ['workers', 'onnxruntime']) {
      const e = engines.find((x) => x.name === name);
      assert.ok(e?.available, `${name}: ${e?.reason ?? 'not registered'}`);
    }
    assert.equal(resolveEngine('auto', 'wasm', 1e6), 'onnxruntime');
    assert.equal(resolveEngine('auto', 'webgl', 1e6), 'tfjs');
    assert.match(describeEngine('auto', 'wasm'), /auto → onnxruntime/);
  });

  for (const engine of ['workers', 'onnxruntime'] as const) {
    it(`${engine}: every muon and muon_aux_adam golden file within 1e-5`, { skip: skips[engine] }, (t) => {
      if (!existsSync(goldenDir)) {
        if (process.env.CI === 'true') throw new Error(`missing golden files at ${goldenDir}`);
        t.skip(`missing golden files at ${goldenDir}`);
        return;
      }
      const before = tf.memory().numTensors;
      for (const c of [...goldenCases('muon'), ...goldenCases('muon_aux_adam')]) {
        const r = replayGolden(c, muonWith(engine));
        t.diagnostic(`${c}: ${r.maxDeviation.toExponential(2)}`);
        assert.ok(r.maxDeviation <= 1e-5, `${engine} ${c}: ${r.maxDeviation}`);
      }
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    });
  }

  async function fitLosses(engine: EngineName): Promise<number[]> {
    const { x, y } = blobs();
    const model = mlp();
    const opt = muon({ learningRate: 0.05, adamwLearningRate: 0.01, engine });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const h = await model.fit(x, y, { epochs: 5, batchSize: 64, shuffle: false, verbose: 0 });
    model.dispose();
    opt.dispose();
    tf.dispose([x, y]);
    return h.history.loss as number[];
  }

  for (const engine of ['onnxruntime', 'workers'] as const) {
    it(`model.fit with the ${engine} engine trains like the tfjs engine`, { skip: skips[engine] }, async () => {
      const plain = await fitLosses('tfjs');
      const native = await fitLosses(engine);
      native.forEach((l, i) => assert.ok(Math.abs(l - plain[i]) <= 1e-4 * Math.abs(plain[i]), `epoch ${i}: ${l} vs ${plain[i]}`));
    });
  }
});
