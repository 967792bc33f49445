/**
 * `fileSystem(dir)` from orthoptim/node: model.save + tf.loadLayersModel on Node without tfjs-node, in
 * the tfjs-layers file format, optimizer included — and training resumed in a fresh process is
 * bit-identical to never stopping. Also its errors, and the atomic, pinned pair of files.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { blobs, maxDifference, mlp, weightValues } from '../support/models.js';
import { repoRoot } from '../support/golden.js';
import { adamw, type TransformOptimizer } from '../../src/index.js';
import { fileSystem } from '../../src/node/index.js';

await useBackend('wasm');
const root = mkdtempSync(join(tmpdir(), 'orthoptim-fs-'));
after(() => rmSync(root, { recursive: true, force: true }));

function child(...args: string[]): { step: number; hex: string[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(repoRoot, 'test/node/fileSystem.child.ts'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { step: number; hex: string[] };
}

describe('fileSystem IO handler', () => {
  it('resumes training in a fresh process bit-identically to never stopping (muon, wasm)', () => {
    const dir = join(root, 'resume');
    const first = child('fresh', '', '3', dir);
    assert.equal(first.step, 3);
    assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
    const resumed = child('resume', dir, '4');
    const straight = child('fresh', '', '7');
    assert.equal(resumed.step, 7);
    assert.equal(straight.step, 7);
    assert.deepEqual(resumed.hex, straight.hex);
    assert.notDeepEqual(first.hex, straight.hex); // training moved the weights
  });

  it('writes the tfjs-layers format: weightsManifest → ./weights.bin, optimizer weights included', async () => {
    const { x, y } = blobs(5);
    const model = mlp(5);
    const opt = adamw({ learningRate: 0.01 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    await model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
    const dir = join(root, 'format');
    const result = await model.save(fileSystem(dir), { includeOptimizer: true });
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
    const specs = json.weightsManifest[0].weights as { name: string; shape: number[]; group?: string }[];
    const bytes = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(readFileSync(join(dir, 'weights.bin')).byteLength, bytes);
    assert.equal(result.modelArtifactsInfo.weightDataBytes, bytes);
    assert.ok(specs.some((s) => s.group === 'optimizer'), 'optimizer weights are saved');
    assert.ok(json.trainingConfig.optimizer_config, 'training config is saved');
    assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin'], 'no temporary file is left');
    // Loads through the model.json path too, with the optimizer.
    const again = await tfl.loadLayersModel(fileSystem(join(dir, 'model.json')));
    assert.equal(maxDifference(weightValues(model), weightValues(again)), 0);
    assert.equal((again.optimizer as TransformOptimizer).step, opt.step);
    model.dispose();
    again.dispose();
    tf.dispose([x, y]);
  });

  it('refuses weights that do not belong to model.json (an interrupted save, mixed files)', async () => {
    const model = mlp(6);
    const dir = join(root, 'pin');
    await model.save(fileSystem(dir));
    const w = readFileSync(join(dir, 'weights.bin'));
    w[10] ^= 0x40;
    writeFileSync(join(dir, 'weights.bin'), w);
    await assert.rejects(tfl.loadLayersModel(fileSystem(dir)), /weights\.bin does not belong to model\.json .*a save was interrupted or the files were mixed/);
    writeFileSync(join(dir, 'weights.bin'), w.subarray(0, 100));
    await assert.rejects(tfl.loadLayersModel(fileSystem(dir)), /does not belong to model\.json \(100 bytes/);
    model.dispose();
  });

  it('names what is wrong: missing directory, not JSON, not a model, weights outside, model.json a directory', async () => {
    await assert.rejects(tfl.loadLayersModel(fileSystem(join(root, 'nowhere'))), /fileSystem\(.*nowhere\): cannot read .*model\.json/);
    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'model.json'), '{"modelTopology": ');
    await assert.rejects(tfl.loadLayersModel(fileSystem(bad)), /model\.json is not valid JSON/);
    writeFileSync(join(bad, 'model.json'), '{"weights": []}');
    await assert.rejects(tfl.loadLayersModel(fileSystem(bad)), /has no modelTopology: not a TensorFlow\.js model file/);
    const model = mlp(7);
    const out = join(root, 'outside');
    await model.save(fileSystem(out));
    const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../format/weights.bin'];
    writeFileSync(join(out, 'model.json'), JSON.stringify(json));
    await assert.rejects(tfl.loadLayersModel(fileSystem(out)), /weights path '\.\.\/format\/weights\.bin' points outside/);
    const clash = join(root, 'clash');
    mkdirSync(join(clash, 'model.json'), { recursive: true });
    await assert.rejects(model.save(fileSystem(clash)), /model\.json is a directory; nothing was written/);
    assert.equal(existsSync(join(clash, 'weights.bin')), false);
    assert.throws(() => fileSystem(''), /fileSystem: the target must be a directory path/);
    model.dispose();
  });
});
