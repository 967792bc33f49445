/**
 * Persistence beyond the per-optimizer contract: configs with schedules, name patterns and predicates
 * survive a save and reload, and checkpoints refuse mismatched or damaged files, saying what differs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../support/backend.js';
import { blobs, mlp } from '../support/models.js';
import { gaussian } from '../support/random.js';
import {
  adamwParamNames,
  createOptimizer,
  muon,
  wsd,
  type TransformOptimizer,
} from '../../src/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/index.js';

await useBackend('wasm');

let uid = 0;
function vars(seed: number): tf.Variable[] {
  const shapes = [[6, 8], [8], [8, 3]];
  return shapes.map((s, i) =>
    tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), true, `p${uid++}/v${i}`),
  );
}
function step(opt: TransformOptimizer, vs: tf.Variable[], seed: number): void {
  const g = vs.map((v, i) => ({ name: v.name, tensor: tf.tensor(gaussian(v.size, seed * 31 + i), v.shape) }));
  opt.applyGradients(g);
  tf.dispose(g.map((x) => x.tensor));
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'orthoptim-ckpt-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('configs survive a save and reload', () => {
  it('schedules, exclude patterns (with underscores) and predicates are kept', async () => {
    const { x, y } = blobs(4);
    const model = mlp(4);
    const names = adamwParamNames(model);
    assert.equal(names.length, 2, `output layer kernel and bias: ${names.join(', ')}`);
    assert.ok(names.every((n) => n.includes('_')));
    const opt = muon({
      learningRate: wsd({ peak: 0.05, warmupSteps: 2, stableSteps: 4, decaySteps: 4, cooldown: 'oneMinusSqrt' }),
      exclude: [...names, /never_matches/i],
    });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    await model.fit(x, y, { epochs: 1, batchSize: 128, verbose: 0 });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler((a) => {
        saved = a;
        return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
      }),
      { includeOptimizer: true },
    );
    const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const ropt = reloaded.optimizer as TransformOptimizer;
    assert.deepEqual(ropt.getConfig(), opt.getConfig());
    const cfg = ropt.getConfig() as { exclude: { name: string }[]; learningRate: { kind: string } };
    assert.equal(cfg.exclude[0].name, names[0]);
    assert.equal(cfg.learningRate.kind, 'wsd');

    // A predicate cannot be saved: its decisions are saved by position instead.
    const byFn = muon({ exclude: (m) => m.shape[1] === 3 });
    const m2 = mlp(4);
    m2.compile({ optimizer: byFn, loss: 'categoricalCrossentropy' });
    await m2.fit(x, y, { epochs: 1, batchSize: 256, verbose: 0 });
    const labels = (byFn.getConfig() as { paramLabels: string[] }).paramLabels;
    assert.deepEqual(labels, ['matrix', 'adamw', 'matrix', 'adamw', 'adamw', 'adamw']);
    [model, reloaded, m2].forEach((m) => m.dispose());
    [opt, ropt, byFn].forEach((o) => o.dispose());
    tf.dispose([x, y]);
  });
});

describe('checkpoints refuse what does not fit, saying what differs', () => {
  async function saved(name: string, options: object, tag: string): Promise<string> {
    const v = vars(5);
    const o = createOptimizer(name, options);
    step(o, v, 0);
    const ck = join(dir, tag);
    await saveCheckpoint(o, ck);
    o.dispose();
    tf.dispose(v);
    return ck;
  }

  it('another optimizer', async () => {
    const ck = await saved('adamw', {}, 'other');
    const o = createOptimizer('muon', {});
    await assert.rejects(loadCheckpoint(o, ck), /the checkpoint is of optimizer 'adamw', this optimizer is 'muon'/);
    o.dispose();
  });

  it('another format version', async () => {
    const ck = await saved('adamw', {}, 'version');
    const m = JSON.parse(readFileSync(join(ck, 'manifest.json'), 'utf8'));
    m.version = 2;
    writeFileSync(join(ck, 'manifest.json'), JSON.stringify(m));
    const o = createOptimizer('adamw', {});
    await assert.rejects(loadCheckpoint(o, ck), /checkpoint format version 2 is not supported \(this orthoptim reads version 1\)/);
    o.dispose();
  });

  it('a truncated or altered data file', async () => {
    const ck = await saved('adamw', {}, 'truncated');
    const bin = join(ck, 'state.bin');
    const size = readFileSync(bin).byteLength;
    const bytes = readFileSync(bin);
    bytes[10] ^= 0xff;
    writeFileSync(bin, bytes);
    const o = createOptimizer('adamw', {});
    await assert.rejects(loadCheckpoint(o, ck), /state\.bin is corrupt: sha256 [0-9a-f]{64}, the manifest says/);
    truncateSync(bin, size - 8);
    await assert.rejects(
      loadCheckpoint(o, ck),
      new RegExp(`state\\.bin is truncated or wrong: it has ${size - 8} bytes, the manifest says ${size}`),
    );
    await assert.rejects(loadCheckpoint(o, join(dir, 'nowhere')), /no manifest\.json there/);
    o.dispose();
  });

  it('other parameter shapes (found at the first step) and other slots (amsgrad on/off)', async () => {
    const ck = await saved('adam', {}, 'shapes');
    const o = createOptimizer('adam', {});
    await loadCheckpoint(o, ck);
    const other = [tf.variable(tf.zeros([6, 9]), true, `q${uid++}`), tf.variable(tf.zeros([9]), true, `q${uid++}`), tf.variable(tf.zeros([9, 3]), true, `q${uid++}`)];
    const before = other.map((v) => v.dataSync().slice());
    assert.throws(
      () => step(o, other, 1),
      /parameter 0 was 'p\d+\/v0' with shape \[6, 8\], here it is 'q\d+' with shape \[6, 9\]/,
    );
    other.forEach((v, i) => assert.deepEqual(v.dataSync(), before[i]));
    o.dispose();

    const v = vars(5);
    const ams = createOptimizer('adam', { amsgrad: true });
    step(ams, v, 0);
    await assert.rejects(loadCheckpoint(ams, ck), /holds 6 state tensors, but this optimizer keeps 9/);
    ams.dispose();
    tf.dispose([...other, ...v]);
  });
});
