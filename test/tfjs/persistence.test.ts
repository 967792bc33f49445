/**
 * Persistence beyond the per-optimizer contract: configs with schedules, name patterns and predicates
 * survive a save and reload, and checkpoints refuse mismatched or damaged files, saying what differs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, mkdirSync, readdirSync, renameSync, rmSync, readFileSync, symlinkSync, writeFileSync, truncateSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
  restoreCheckpoint,
  serializeCheckpoint,
  wsd,
  type CheckpointManifest,
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
    m.version = 3;
    writeFileSync(join(ck, 'manifest.json'), JSON.stringify(m));
    const o = createOptimizer('adamw', {});
    await assert.rejects(loadCheckpoint(o, ck), /checkpoint format version 3 is not supported \(this orthoptim reads versions 1 and 2\)/);
    o.dispose();
  });

  it('a truncated or altered data file', async () => {
    const ck = await saved('adamw', {}, 'truncated');
    const dataFile = (JSON.parse(readFileSync(join(ck, 'manifest.json'), 'utf8')) as CheckpointManifest).dataFile;
    const bin = join(ck, dataFile);
    const size = readFileSync(bin).byteLength;
    const bytes = readFileSync(bin);
    bytes[10] ^= 0xff;
    writeFileSync(bin, bytes);
    const o = createOptimizer('adamw', {});
    await assert.rejects(loadCheckpoint(o, ck), new RegExp(`${dataFile.replace(/\./g, '\\.')} is corrupt: sha256 [0-9a-f]{64}, the manifest says`));
    truncateSync(bin, size - 8);
    await assert.rejects(
      loadCheckpoint(o, ck),
      new RegExp(`${dataFile.replace(/\./g, '\\.')} is truncated or wrong: it has ${size - 8} bytes, the manifest says ${size}`),
    );
    rmSync(bin);
    await assert.rejects(loadCheckpoint(o, ck), isCheckpointError(new RegExp(`data file '${dataFile.replace(/\./g, '\\.')}' is missing`)));
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

/** sha256 over the canonical JSON (keys sorted, no whitespace) of the manifest without `manifestSha256`. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
function sign(m: Record<string, unknown>): Record<string, unknown> {
  const { manifestSha256: _drop, ...rest } = m;
  void _drop;
  return { ...rest, manifestSha256: createHash('sha256').update(canonical(rest)).digest('hex') };
}
/** A manifest as parsed JSON, for editing. */
type Manifest = { [k: string]: unknown; slots: { [k: string]: unknown }[] };
function isCheckpointError(pattern: RegExp) {
  return (e: unknown) => e instanceof Error && e.name === 'CheckpointError' && pattern.test(e.message);
}
function slotValues(o: TransformOptimizer): number[][] {
  return o.stateSlots.map((s) => Array.from(s.variable.dataSync()));
}

describe('checkpoints: nothing changes until the checkpoint is known to fit', () => {
  it('other shapes at the first step: the step is not the checkpoint\'s, a retry trains as a fresh optimizer', async () => {
    const v = vars(21);
    const src = createOptimizer('adam', {});
    step(src, v, 0);
    step(src, v, 1);
    const ck = join(dir, 'staged');
    await saveCheckpoint(src, ck);
    const o = createOptimizer('adam', {});
    const report = await loadCheckpoint(o, ck);
    assert.equal(report.step, 2);
    assert.equal(o.step, 2, 'the staged step shows before the first step');
    const other = [[6, 9], [9], [9, 3]].map((s, i) => tf.variable(tf.tensor(gaussian(s[0] * (s[1] ?? 1), 40 + i), s), true, `r${uid++}`));
    const copy = other.map((x) => tf.variable(tf.clone(x), true, `r${uid++}`));
    assert.throws(() => step(o, other, 3), /parameter 0 was 'p\d+\/v0' with shape \[6, 8\], here it is 'r\d+' with shape \[6, 9\]/);
    assert.equal(o.step, 0);
    assert.equal(o.skippedSteps, 0);
    const fresh = createOptimizer('adam', {});
    step(o, other, 3);
    step(fresh, copy, 3);
    assert.equal(o.step, 1);
    other.forEach((x, i) => assert.deepEqual(x.dataSync(), copy[i].dataSync()));
    [src, o, fresh].forEach((x) => x.dispose());
    tf.dispose([...v, ...other, ...copy]);
  });
});

describe('restored state follows the parameters by name where the names are the same', () => {
  it('a checkpoint for [p, q] refused at a first step with [q, p] (same shapes), nothing applied', async () => {
    const p = tf.variable(tf.tensor(gaussian(4, 50), [2, 2]), true, `n${uid++}/p`);
    const q = tf.variable(tf.tensor(gaussian(4, 51), [2, 2]), true, `n${uid++}/q`);
    const src = createOptimizer('sgd', { learningRate: 0.1, momentum: 0.9 });
    step(src, [p, q], 0);
    const { manifest, data } = await serializeCheckpoint(src);
    const o = createOptimizer('sgd', { learningRate: 0.1, momentum: 0.9 });
    await restoreCheckpoint(o, manifest, data);
    assert.throws(
      () => step(o, [q, p], 1),
      new RegExp(`was saved for the parameters ${p.name}, ${q.name} in that order; here they come as ${q.name}, ${p.name}`),
    );
    assert.equal(o.step, 0);
    [src, o].forEach((x) => x.dispose());
    tf.dispose([p, q]);
  });

  it('state staged by setWeights (named by getWeights or not) is saved as staged and restores', async () => {
    const v = vars(52);
    const src = createOptimizer('adamw', {});
    step(src, v, 0);
    step(src, v, 1);
    const weights = await src.getWeights();
    for (const rename of [false, true]) {
      const staged = createOptimizer('adamw', {});
      await staged.setWeights(rename ? weights.map((w, i) => ({ name: `foreign_${i}`, tensor: w.tensor })) : weights);
      const { manifest, data } = await serializeCheckpoint(staged);
      assert.equal(manifest.step, 2);
      assert.equal(manifest.params, null);
      const again = createOptimizer('adamw', {});
      await restoreCheckpoint(again, manifest, data);
      const a = vars(53);
      const b = vars(53);
      const ref = createOptimizer('adamw', {});
      await ref.setWeights(weights);
      step(again, a, 2);
      step(ref, b, 2);
      assert.equal(again.step, 3);
      a.forEach((x, i) => assert.deepEqual(x.dataSync(), b[i].dataSync()));
      [staged, again, ref].forEach((x) => x.dispose());
      tf.dispose([...a, ...b]);
    }
    src.dispose();
    tf.dispose(v);
  });
});

describe('checkpoint manifests are validated field by field and checksummed', () => {
  let ck: string;
  before(async () => {
    const v = vars(22);
    const o = createOptimizer('adam', {});
    step(o, v, 0);
    ck = join(dir, 'schema');
    await saveCheckpoint(o, ck);
    o.dispose();
    tf.dispose(v);
  });
  let n = 0;
  /** A copy of the checkpoint with an edited manifest (re-signed unless asked not to). */
  function edited(edit: (m: Manifest) => void, resign = true): string {
    const to = join(dir, `edited-${n++}`, 'ck');
    cpSync(ck, to, { recursive: true });
    const m = JSON.parse(readFileSync(join(ck, 'manifest.json'), 'utf8'));
    edit(m);
    writeFileSync(join(to, 'manifest.json'), JSON.stringify(resign ? sign(m) : m));
    return to;
  }
  const cases: [string, (m: Manifest) => void, RegExp][] = [
    ['step "abc"', (m) => (m.step = 'abc'), /manifest\.json: step must be a non-negative integer, got "abc"/],
    ['step deleted', (m) => delete m.step, /manifest\.json: step is missing/],
    ['step -1', (m) => (m.step = -1), /step must be a non-negative integer, got -1/],
    ['step 1.5', (m) => (m.step = 1.5), /step must be a non-negative integer, got 1\.5/],
    ['negative byteOffset', (m) => (m.slots[0].byteOffset = -4), /slots\[0\]\.byteOffset must be a non-negative integer, got -4/],
    ['missing byteOffset', (m) => delete m.slots[1].byteOffset, /slots\[1\]\.byteOffset is missing/],
    ['overlapping byteOffsets', (m) => (m.slots[1].byteOffset = m.slots[0].byteOffset), /slots\[1\]\.byteOffset must be 192 \(right after slots\[0\]\), got 0/],
    [
      'swapped byteOffsets of two same-sized slots',
      (m) => ([m.slots[0].byteOffset, m.slots[3].byteOffset] = [m.slots[3].byteOffset, m.slots[0].byteOffset]),
      /slots\[0\]\.byteOffset must be 0 \(the first slot\), got \d+/,
    ],
    ['dtype float16', (m) => (m.slots[0].dtype = 'float16'), /slots\[0\]\.dtype must be 'float32', got "float16"/],
    ['dataFile outside the directory', (m) => (m.dataFile = '../other/state.bin'), /dataFile must be a file name inside the checkpoint directory, got "\.\.\/other\/state\.bin"/],
    ['slots missing', (m) => delete (m as { slots?: unknown }).slots, /manifest\.json: slots is missing/],
    ['slots null', (m) => (m.slots = null as never), /slots must be an array, got null/],
    ['a slot shape as a string', (m) => (m.slots[0].shape = '[6, 8]'), /slots\[0\]\.shape must be an array of non-negative integers, got "\[6, 8\]"/],
    ['an unknown field', (m) => (m.extra = 1), /manifest\.json: unknown field 'extra'/],
    ['a byteLength that does not fit the shape', (m) => (m.slots[1].byteLength = 4), /slots\[1\]\.byteLength must be 32 \(shape \[8\], float32\), got 4/],
  ];
  for (const [what, edit, message] of cases) {
    it(`${what} → CheckpointError naming the field; the optimizer is untouched`, async () => {
      const at = edited(edit);
      // a file where the escaping path would lead: it must not be read
      cpSync(join(ck, readdirSync(ck).find((f) => f.endsWith('.bin'))!), join(at, '..', 'other', 'state.bin'), { recursive: true });
      const o = createOptimizer('adam', {});
      await assert.rejects(loadCheckpoint(o, at), isCheckpointError(message));
      assert.equal(o.step, 0);
      assert.equal(o.stateSlots.length, 0);
      o.dispose();
    });
  }
  it('an edit that is not re-signed → CheckpointError: the manifest was altered', async () => {
    const at = edited((m) => (m.step = 2), false);
    const o = createOptimizer('adam', {});
    await assert.rejects(loadCheckpoint(o, at), isCheckpointError(/manifest\.json has been altered: its sha256 is [0-9a-f]{64}, manifestSha256 says [0-9a-f]{64}/));
    assert.equal(o.step, 0);
    o.dispose();
  });
  it('a data file that is a symbolic link is not followed', async () => {
    const at = edited(() => {});
    const bin = readdirSync(at).find((f) => f.endsWith('.bin'))!;
    renameSync(join(at, bin), join(at, '..', 'real.bin'));
    symlinkSync(join(at, '..', 'real.bin'), join(at, bin));
    const o = createOptimizer('adam', {});
    await assert.rejects(loadCheckpoint(o, at), isCheckpointError(/is not a regular file/));
    o.dispose();
  });
});

describe('restoreCheckpoint takes bytes only and names bad arguments', () => {
  it('a Float32Array is a TypeError; an ArrayBuffer and a Uint8Array view with an offset restore bit-identically', async () => {
    const v = vars(23);
    const o = createOptimizer('adamw', {});
    step(o, v, 0);
    const { manifest, data } = await serializeCheckpoint(o);
    const target = createOptimizer('adamw', {});
    await assert.rejects(
      restoreCheckpoint(target, manifest, new Float32Array(data.buffer) as unknown as Uint8Array),
      (e: unknown) => e instanceof TypeError && /restoreCheckpoint: data must be a Uint8Array or an ArrayBuffer, got a Float32Array/.test(e.message),
    );
    assert.equal(target.step, 0);
    const padded = new Uint8Array(data.byteLength + 7);
    padded.set(data, 3);
    for (const bytes of [data.slice().buffer, padded.subarray(3, 3 + data.byteLength)]) {
      const again = createOptimizer('adamw', {});
      await restoreCheckpoint(again, manifest, bytes as Uint8Array);
      const w = vars(23);
      step(again, w, 1);
      const ref = createOptimizer('adamw', {});
      await restoreCheckpoint(ref, manifest, data);
      const w2 = vars(23);
      step(ref, w2, 1);
      assert.deepEqual(slotValues(again), slotValues(ref));
      [again, ref].forEach((x) => x.dispose());
      tf.dispose([...w, ...w2]);
    }
    [o, target].forEach((x) => x.dispose());
    tf.dispose(v);
  });

  it('a null optimizer or manifest → TypeError naming the argument', async () => {
    const o = createOptimizer('adamw', {});
    const { manifest, data } = await serializeCheckpoint(o);
    await assert.rejects(
      restoreCheckpoint(null as unknown as TransformOptimizer, manifest, data),
      (e: unknown) => e instanceof TypeError && e.message === 'restoreCheckpoint: optimizer must be an orthoptim optimizer, got null',
    );
    await assert.rejects(
      restoreCheckpoint(o, null as unknown as CheckpointManifest, data),
      (e: unknown) => e instanceof TypeError && e.message === 'restoreCheckpoint: manifest must be an object, got null',
    );
    o.dispose();
  });
});

describe('a checkpoint saved before the first step', () => {
  it('restores into a fresh optimizer and into a stepped one (which starts afresh)', async () => {
    const empty = createOptimizer('adamw', { learningRate: 0.05 });
    const ck = join(dir, 'before-first-step');
    await saveCheckpoint(empty, ck);
    for (const stepped of [false, true]) {
      const o = createOptimizer('adamw', { learningRate: 0.05 });
      const w = vars(24);
      if (stepped) step(o, w, 9);
      const report = await loadCheckpoint(o, ck);
      assert.equal(report.step, 0);
      assert.equal(o.step, 0);
      assert.equal(o.stateSlots.length, 0);
      const a = vars(25);
      const b = vars(25);
      const fresh = createOptimizer('adamw', { learningRate: 0.05 });
      for (let s = 0; s < 2; s++) {
        step(o, a, s);
        step(fresh, b, s);
      }
      a.forEach((x, i) => assert.deepEqual(x.dataSync(), b[i].dataSync()));
      [o, fresh].forEach((x) => x.dispose());
      tf.dispose([...w, ...a, ...b]);
    }
    empty.dispose();
  });
});

describe('saveCheckpoint replaces a checkpoint atomically', () => {
  it('20 saves started at once, with steps between them: all resolve, the last one is what loads, no stray files', async () => {
    const v = vars(26);
    const o = createOptimizer('adamw', {});
    step(o, v, 0);
    const ck = join(dir, 'concurrent');
    const saves: Promise<unknown>[] = [];
    let last: number[][] = [];
    for (let i = 0; i < 20; i++) {
      saves.push(saveCheckpoint(o, ck));
      last = slotValues(o);
      if (i < 19) step(o, v, i + 1);
    }
    await Promise.all(saves);
    const files = readdirSync(ck).sort();
    assert.equal(files.length, 2, files.join(', '));
    assert.equal(files[0], 'manifest.json');
    const manifest = JSON.parse(readFileSync(join(ck, 'manifest.json'), 'utf8')) as CheckpointManifest;
    assert.equal(manifest.step, 20);
    assert.equal(manifest.dataFile, files[1]);
    // the data is the snapshot taken when the 20th save was called
    const bin = readFileSync(join(ck, manifest.dataFile));
    const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    let off = 0;
    last.forEach((slot) => {
      assert.deepEqual(Array.from(floats.subarray(off, off + slot.length)), slot);
      off += slot.length;
    });
    assert.equal(off, floats.length);
    const again = createOptimizer('adamw', {});
    assert.equal((await loadCheckpoint(again, ck)).step, 20);
    [o, again].forEach((x) => x.dispose());
    tf.dispose(v);
  });

  it('a load started while a save to the same directory runs waits for it', async () => {
    const v = vars(29);
    const o = createOptimizer('adamw', {});
    const ck = join(dir, 'save-then-load');
    step(o, v, 0);
    await saveCheckpoint(o, ck);
    step(o, v, 1);
    const saving = saveCheckpoint(o, ck);
    const again = createOptimizer('adamw', {});
    const loading = loadCheckpoint(again, ck);
    await saving;
    assert.equal((await loading).step, 2);
    [o, again].forEach((x) => x.dispose());
    tf.dispose(v);
  });

  it('a directory named manifest.json: a clear error before anything is written', async () => {
    const ck = join(dir, 'manifest-is-dir');
    mkdirSync(join(ck, 'manifest.json'), { recursive: true });
    writeFileSync(join(ck, 'state.bin'), 'old');
    const v = vars(28);
    const o = createOptimizer('adamw', {});
    step(o, v, 0);
    await assert.rejects(saveCheckpoint(o, ck), isCheckpointError(/manifest\.json is not a file/));
    assert.equal(readFileSync(join(ck, 'state.bin'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(ck).sort(), ['manifest.json', 'state.bin']);
    o.dispose();
    tf.dispose(v);
  });

  it('reads the version-1 layout (manifest.json + state.bin) of older saves, and a new save replaces it', async () => {
    // test/tfjs/fixtures/checkpoint-v1: adamw (lr 0.01, weight decay 0.1) on [3, 4] + [4], 2 steps,
    // written by saveCheckpoint before the format went to version 2.
    const ck = join(dir, 'v1');
    cpSync(fileURLToPath(new URL('./fixtures/checkpoint-v1', import.meta.url)), ck, { recursive: true });
    const o = createOptimizer('adamw', { learningRate: 0.01, weightDecay: 0.1 });
    const report = await loadCheckpoint(o, ck);
    assert.equal(report.step, 2);
    assert.deepEqual(report.configDifferences, []);
    const w = [tf.variable(tf.zeros([3, 4]), true, `f${uid++}`), tf.variable(tf.zeros([4]), true, `f${uid++}`)];
    const bin = readFileSync(join(ck, 'state.bin'));
    const expected = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    const g = w.map((x) => ({ name: x.name, tensor: tf.zeros(x.shape) }));
    // zero gradients: m ← β₁m, v ← β₂v — the restored moments show through exactly
    o.applyGradients(g);
    assert.equal(o.step, 3);
    const mu = o.stateSlots[0].variable.dataSync();
    for (let i = 0; i < 12; i++) assert.equal(mu[i], Math.fround(expected[i] * Math.fround(0.9)));
    await saveCheckpoint(o, ck);
    assert.ok(!readdirSync(ck).includes('state.bin'), 'the version-1 data file is gone once replaced');
    const again = createOptimizer('adamw', { learningRate: 0.01, weightDecay: 0.1 });
    assert.equal((await loadCheckpoint(again, ck)).step, 3);
    [o, again].forEach((x) => x.dispose());
    tf.dispose([...w, ...g.map((x) => x.tensor)]);
  });
});
