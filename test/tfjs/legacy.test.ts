/**
 * Models saved by orthoptim 0.1.0 still load: `test/fixtures/v0.1.0/<optimizer>/` holds a conv model
 * saved with `includeOptimizer: true` by the 0.1.0 code (`make.ts` there) under the option names 0.2.0
 * renamed, and the weights after one more step. Loading the model and taking that step must reproduce
 * them (cpu backend, same batch) — the old config keys and state are read, not ignored — and the
 * reloaded config speaks 0.2.0's names.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { maxDifference } from '../support/models.js';
import { fixtureBatch, fixtureOptions } from '../fixtures/v0.1.0/make.js';
import { type TransformOptimizer } from '../../src/index.js';

await useBackend('cpu');

const root = fileURLToPath(new URL('../fixtures/v0.1.0/', import.meta.url));

async function load(name: string): Promise<tfl.LayersModel> {
  const dir = join(root, name);
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    trainingConfig: tf.io.TrainingConfig;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const bin = readFileSync(join(dir, 'weights.bin'));
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      trainingConfig: json.trainingConfig,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
}

/** What the 0.1.0 options became: one convScale, Scion's α 0.25 as β 0.75. */
const expectedConfig: Record<string, Record<string, unknown>> = {
  muon: { convScale: 'torchKernel' },
  turboMuon: { convScale: 'torchKernel' },
  adaMuon: { convScale: 'torchKernel' },
  norMuon: { convScale: 'torchKernel' },
  hybridAuon: { convScale: 'torchKernel' },
  scion: { momentum: 0.75, configVersion: 2 },
  signum: { momentum: 0.8 },
  dion: { seed: 3 },
};

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

describe('models saved by 0.1.0 load and continue exactly', () => {
  for (const name of Object.keys(fixtureOptions)) {
    it(name, async () => {
      const model = await load(name);
      const opt = model.optimizer as TransformOptimizer;
      assert.equal(opt.name, name);
      assert.equal(opt.step, 2);
      const config = opt.getConfig() as Record<string, unknown>;
      for (const old of ['convRule', 'convMatrix']) assert.equal(old in config, false, `${name}: ${old} in the config`);
      if (expectedConfig[name]) assert.deepEqual(pick(config, Object.keys(expectedConfig[name])), expectedConfig[name]);
      model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
      const { x, y } = fixtureBatch();
      await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
      const expected = (JSON.parse(readFileSync(join(root, name, 'next.json'), 'utf8')) as { weights: number[][] }).weights;
      const got = model.getWeights().map((w) => w.dataSync() as Float32Array);
      assert.equal(maxDifference(got, expected), 0, `${name}: weights after the step taken after the reload`);
      opt.dispose();
      model.dispose();
      tf.dispose([x, y]);
    });
  }
});
