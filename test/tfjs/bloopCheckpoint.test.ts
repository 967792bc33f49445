/**
 * Bloop / ODICE EMA state in optimizer checkpoints (src/tfjs/checkpoint.ts `{ surgery }`,
 * src/node/checkpointFiles.ts): k steps, a checkpoint, a fresh optimizer and a fresh surgery restored
 * from it, more steps — bit for bit the uninterrupted run, for bloop (init zeros), pcgrad (two EMAs) and
 * odice, in memory and through files; a run whose surgery restarts from scratch differs (the EMA is what
 * the checkpoint adds). Refusals: surgery state missing on either side, another surgery, another
 * variant's layout, EMA shapes unlike the parameters', edited / truncated / corrupt checkpoints, bad
 * arguments — each a named error, and neither the optimizer nor the surgery changes, nothing leaks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { adam } from '../../src/tfjs/register.js';
import { bloop, odice, type GradientSurgery } from '../../src/tfjs/bloop.js';
import {
  CheckpointError,
  checkpointManifestDigest,
  restoreCheckpoint,
  serializeCheckpoint,
  validateCheckpointManifest,
  type CheckpointManifest,
} from '../../src/tfjs/checkpoint.js';
import type { TransformOptimizer } from '../../src/tfjs/optimizer.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/checkpointFiles.js';

await useBackend('cpu');

let uid = 0;
const SHAPES = [[3, 4], [4]];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const D = SHAPES.reduce((a, s) => a + size(s), 0);
const C_MAIN = gaussian(D, 1);
const W_MAIN = gaussian(D, 2).map((x) => 0.5 + Math.abs(x));
const THETA0 = gaussian(D, 9);
// The auxiliary centre mirrors the main one through θ₀ (plus noise): the two gradients conflict, so
// PCGrad's clipped projections are active and the EMAs shape every direction.
const NOISE = gaussian(D, 3);
const C_AUX = THETA0.map((t, i) => 2 * t - C_MAIN[i] + 0.5 * NOISE[i]);
const W_AUX = gaussian(D, 4).map((x) => 0.5 + Math.abs(x));

function variables(values: Float32Array): tf.Variable[] {
  let off = 0;
  return SHAPES.map((s, i) => {
    const v = tf.variable(tf.tensor(values.slice(off, off + size(s)), s), true, `bloopck${uid++}/w${i}`);
    off += size(s);
    return v;
  });
}
const values = (vs: readonly tf.Variable[]): Float32Array => Float32Array.from(vs.flatMap((v) => Array.from(v.dataSync())));

/** ½·Σ w·(θ − c)² (diagonal weights w) over the variables, as one vector. */
function quadratic(vars: tf.Variable[], c: Float32Array, w: Float32Array): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      let off = 0;
      const terms = vars.map((v) => {
        const n = v.size;
        const ci = tf.tensor(c.subarray(off, off + n), v.shape);
        const wi = tf.tensor(w.subarray(off, off + n), v.shape);
        off += n;
        return tf.sum(tf.mul(wi, tf.square(tf.sub(v, ci))));
      });
      return tf.mul(tf.addN(terms), 0.5) as tf.Scalar;
    });
}

/** A run: variables, an orthoptim Adam (stateful) and a surgery; `steps(n)` takes n surgery steps. */
function run(theta: Float32Array, surgery: GradientSurgery): { vars: tf.Variable[]; opt: TransformOptimizer; surgery: GradientSurgery; steps(n: number): void; dispose(): void } {
  const vars = variables(theta);
  const opt = adam({ learningRate: 0.05 });
  const objectives = { main: quadratic(vars, C_MAIN, W_MAIN), aux: quadratic(vars, C_AUX, W_AUX) };
  return {
    vars,
    opt,
    surgery,
    steps(n: number) {
      for (let k = 0; k < n; k++) surgery.step(objectives, opt, { varList: vars });
    },
    dispose() {
      tf.dispose(vars);
      opt.dispose();
      surgery.dispose();
    },
  };
}

const K = 3;
const MORE = 4;

const VARIANTS: [string, () => GradientSurgery][] = [
  ['bloop (init zeros)', () => bloop({ ema: 0.3, lambda: 0.5, init: 'zeros' })],
  ['pcgrad', () => bloop({ variant: 'pcgrad', ema: 0.3, lambda: 0.5 })],
  ['odice', () => odice({ eta: 0.7 })],
];

/** The optimizer's and the surgery's state as plain numbers (to compare before / after a refused restore). */
function stateOf(opt: TransformOptimizer, surgery: GradientSurgery): unknown {
  const snap = opt.snapshotState();
  const weights = surgery.getWeights();
  const out = {
    step: snap.step,
    params: snap.params,
    slots: snap.slots.map((s) => [s.path, Array.from(s.tensor.dataSync())]),
    surgery: weights.map((w) => [w.name, Array.from(w.tensor.dataSync())]),
  };
  tf.dispose([...snap.slots.map((s) => s.tensor), ...weights.map((w) => w.tensor)]);
  return out;
}

async function resign(m: CheckpointManifest): Promise<CheckpointManifest> {
  const { manifestSha256: _drop, ...rest } = m;
  return { ...rest, manifestSha256: await checkpointManifestDigest(rest) } as CheckpointManifest;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'orthoptim-bloop-ckpt-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('gradient-surgery state in checkpoints', () => {
  it('k steps, checkpoint, a fresh optimizer and surgery restored, more steps = the uninterrupted run bit for bit (bloop, pcgrad, odice)', async () => {
    for (const [label, make] of VARIANTS) {
      const a = run(THETA0, make());
      a.steps(K);
      const theta = values(a.vars);
      const { manifest, data } = await serializeCheckpoint(a.opt, 'state.bin', { surgery: a.surgery });
      const plain = await serializeCheckpoint(a.opt); // the optimizer alone, for the control below
      a.steps(MORE);
      const uninterrupted = values(a.vars);

      // The manifest: the surgery's part after the optimizer's slots, under the same digests.
      const s = manifest.surgery!;
      assert.equal(s.name, a.surgery.name, label);
      assert.equal(s.iterations, K, label);
      const paths = label === 'pcgrad' ? ['emaMain/0', 'emaMain/1', 'emaAux/0', 'emaAux/1'] : ['emaMain/0', 'emaMain/1'];
      assert.deepEqual(s.slots.map((x) => x.path), paths, label);
      assert.deepEqual(s.slots.map((x) => x.shape), paths.map((_, i) => SHAPES[i % 2]), label);
      const optimizerBytes = plain.manifest.dataBytes;
      assert.equal(s.slots[0].byteOffset, optimizerBytes, `${label}: right after the optimizer's slots`);
      assert.equal(manifest.dataBytes, optimizerBytes + 4 * D * (label === 'pcgrad' ? 2 : 1), label);
      assert.deepEqual(await validateCheckpointManifest(JSON.parse(JSON.stringify(manifest))), manifest);
      assert.equal('surgery' in plain.manifest, false, 'no surgery: no surgery field (the manifest as before)');

      const b = run(theta, make());
      const report = await restoreCheckpoint(b.opt, JSON.parse(JSON.stringify(manifest)) as CheckpointManifest, data.slice(), 'checkpoint', { surgery: b.surgery });
      assert.equal(report.step, K);
      assert.deepEqual(report.configDifferences, []);
      assert.equal(b.surgery.iterations, K, label);
      b.steps(MORE);
      assert.deepEqual(values(b.vars), uninterrupted, `${label}: resumed = uninterrupted, bit for bit`);

      // Control: the optimizer resumed exactly but the surgery restarted: another trajectory — except for
      // ODICE, whose ρ = 1 keeps no memory (e = g every step), so only its step count is state.
      const c = run(theta, make());
      await restoreCheckpoint(c.opt, plain.manifest, plain.data);
      c.steps(MORE);
      const dev = Math.max(...values(c.vars).map((v, i) => Math.abs(v - uninterrupted[i])));
      if (label === 'odice') assert.equal(dev, 0, 'odice: no memory, the same run');
      else assert.ok(dev > 1e-4, `${label}: a restarted EMA changes the run (max deviation ${dev})`);
      [a, b, c].forEach((r) => r.dispose());
    }
  });

  it('saveCheckpoint / loadCheckpoint carry the surgery too, and a differing λ is reported', async () => {
    const a = run(THETA0, bloop({ variant: 'pcgrad', ema: 0.3, lambda: 0.5 }));
    a.steps(K);
    const theta = values(a.vars);
    const ck = join(dir, 'pcgrad');
    await saveCheckpoint(a.opt, ck, { surgery: a.surgery });
    a.steps(MORE);
    const b = run(theta, bloop({ variant: 'pcgrad', ema: 0.3, lambda: 0.5 }));
    await loadCheckpoint(b.opt, ck, { surgery: b.surgery });
    b.steps(MORE);
    assert.deepEqual(values(b.vars), values(a.vars));
    const c = run(theta, bloop({ variant: 'pcgrad', ema: 0.3, lambda: 0.25 }));
    const report = await loadCheckpoint(c.opt, ck, { surgery: c.surgery });
    assert.deepEqual(report.configDifferences, ['surgery.lambda: 0.5 in the checkpoint, 0.25 here']);
    [a, b, c].forEach((r) => r.dispose());
  });

  it('refuses missing, foreign or damaged surgery state with a named error, and writes nothing', async () => {
    const a = run(THETA0, bloop({ ema: 0.3, lambda: 0.5 }));
    a.steps(K);
    const { manifest, data } = await serializeCheckpoint(a.opt, 'state.bin', { surgery: a.surgery });
    const plain = await serializeCheckpoint(a.opt);
    const p = run(THETA0, bloop({ variant: 'pcgrad', ema: 0.3, lambda: 0.5 }));
    p.steps(1);
    const pcgradCk = await serializeCheckpoint(p.opt, 'state.bin', { surgery: p.surgery });

    // Targets with state of their own (one step on other values), and fresh ones (state staged at the first step).
    const stepped = run(gaussian(D, 77), bloop({ ema: 0.3, lambda: 0.5 }));
    stepped.steps(1);
    const fresh = run(gaussian(D, 78), bloop({ ema: 0.3, lambda: 0.5 }));
    const freshOdice = odice();
    const before = [stateOf(stepped.opt, stepped.surgery), stateOf(fresh.opt, fresh.surgery), stateOf(fresh.opt, freshOdice)];
    const n = tf.memory().numTensors;
    const unchanged = (what: string) => {
      assert.deepEqual([stateOf(stepped.opt, stepped.surgery), stateOf(fresh.opt, fresh.surgery), stateOf(fresh.opt, freshOdice)], before, `${what}: nothing written`);
      assert.equal(tf.memory().numTensors, n, `${what}: nothing left behind`);
    };
    const refused = async (what: string, m: CheckpointManifest, bytes: Uint8Array, surgery: 'target' | 'none' | 'odice', pattern: RegExp) => {
      for (const target of [stepped, fresh]) {
        const options = surgery === 'none' ? undefined : { surgery: surgery === 'odice' ? freshOdice : target.surgery };
        await assert.rejects(
          restoreCheckpoint(target.opt, m, bytes, 'checkpoint', options),
          (e: unknown) => e instanceof CheckpointError && pattern.test(e.message),
          what,
        );
      }
      unchanged(what);
    };

    await refused('surgery state but no surgery', manifest, data, 'none', /^checkpoint: the checkpoint holds the state of gradient surgery 'bloop' \(3 steps\): pass that surgery as \{ surgery \} to restore it; nothing was restored$/);
    await refused('a surgery but no state', plain.manifest, plain.data, 'target', /the checkpoint holds no gradient-surgery state \(it was saved without \{ surgery \}\), but a 'bloop' surgery was given; nothing was restored/);
    await refused('another surgery', manifest, data, 'odice', /holds the state of gradient surgery 'bloop', the surgery given is 'odice'; nothing was restored/);
    await refused('another variant\'s layout', pcgradCk.manifest, pcgradCk.data, 'target', /gradient surgery 'bloop': restoreCheckpoint: variant 'bloop' keeps no auxiliary EMA; nothing was restored/);

    const edited = JSON.parse(JSON.stringify(manifest)) as { surgery: { iterations: number; slots: { path: string; shape: number[]; byteOffset: number }[] } };
    edited.surgery.iterations = 4;
    await refused('an edited manifest', edited as unknown as CheckpointManifest, data, 'target', /manifest\.json has been altered/);

    const withShape = (f: (m: typeof edited) => void) => {
      const m = JSON.parse(JSON.stringify(manifest)) as typeof edited;
      f(m);
      return resign(m as unknown as CheckpointManifest);
    };
    await refused('EMA shapes unlike the parameters', await withShape((m) => (m.surgery.slots[0].shape = [4, 3])), data, 'target', /gradient surgery 'bloop': emaMain\/0 has shape \[4, 3\], parameter 0 \('bloopck\d+\/w0'\) \[3, 4\]; nothing was restored/);
    await refused('a renamed slot', await withShape((m) => (m.surgery.slots[1].path = 'emaMain/7')), data, 'target', /expected 'bloop\/emaMain\/1', got 'bloop\/emaMain\/7'/);
    await refused('a slot out of place', await withShape((m) => (m.surgery.slots[0].byteOffset += 4)), data, 'target', new RegExp(`surgery\\.slots\\[0\\]\\.byteOffset must be ${plain.manifest.dataBytes} \\(right after the optimizer's slots\\)`));
    await refused('an empty slot path', await withShape((m) => (m.surgery.slots[0].path = '')), data, 'target', /surgery\.slots\[0\]\.path must be a non-empty string/);
    await refused('a truncated data file', manifest, data.slice(0, data.byteLength - 4), 'target', /is truncated or wrong: it has \d+ bytes, the manifest says \d+/);
    const corrupt = data.slice();
    corrupt[corrupt.byteLength - 2] ^= 0x40; // inside the surgery's last EMA value
    await refused('corrupt surgery bytes', manifest, corrupt, 'target', /is corrupt: sha256/);

    // Bad arguments.
    await assert.rejects(restoreCheckpoint(stepped.opt, manifest, data, 'checkpoint', { surgery: {} as never }), (e: unknown) => e instanceof TypeError && /restoreCheckpoint: surgery must be a gradient surgery \(bloop\(\) or odice\(\)\), got an object/.test(e.message));
    await assert.rejects(restoreCheckpoint(stepped.opt, manifest, data, 'checkpoint', { surgry: stepped.surgery } as never), (e: unknown) => e instanceof RangeError && /restoreCheckpoint: unknown option 'surgry'/.test(e.message));
    await assert.rejects(serializeCheckpoint(stepped.opt, 'state.bin', { surgery: 1 } as never), (e: unknown) => e instanceof TypeError && /serializeCheckpoint: surgery must be a gradient surgery/.test(e.message));
    unchanged('bad arguments');

    // Through files: the same refusal, nothing written.
    const ck = join(dir, 'bloop');
    await saveCheckpoint(a.opt, ck, { surgery: a.surgery });
    await assert.rejects(loadCheckpoint(stepped.opt, ck), (e: unknown) => e instanceof CheckpointError && new RegExp(`^checkpoint ${ck.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the checkpoint holds the state of gradient surgery 'bloop'`).test(e.message));
    unchanged('loadCheckpoint without the surgery');

    // And the good checkpoint still restores into the targets afterwards.
    await restoreCheckpoint(stepped.opt, manifest, data, 'checkpoint', { surgery: stepped.surgery });
    assert.equal(stepped.surgery.iterations, K);
    [a, p, stepped, fresh].forEach((r) => r.dispose());
    freshOdice.dispose();
  });
});
