/**
 * Recipes as option schemas (issue 11 items 1, 2 and 4): the keys, defaults, errors and configs that
 * come from one declaration per option; the pure transforms; the one `convScale` option and its refusal
 * of the 0.1.0 names; Scion's momentum as β with its config version; Dion's `initialQ`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import {
  createOptimizer,
  listOptimizers,
  muonDefinition,
  muonTransform,
  optimizerFromConfig,
  type TransformOptimizer,
} from '../../src/index.js';
import { dion, muon, scion } from '../../src/tfjs/register.js';
import { schemaKeys } from '../../src/core/schema.js';
import type { Recipe } from '../../src/optimizers/definition.js';
import type { Schema } from '../../src/core/schema.js';

await useBackend('cpu');

function steps(opt: TransformOptimizer, vars: tf.Variable[], n: number): void {
  for (let t = 0; t < n; t++) {
    const g = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(gaussian(v.size, 100 * t + i), v.shape) }));
    opt.applyGradients(g);
    tf.dispose(g.map((x) => x.tensor));
  }
}

describe('one declaration per option', () => {
  it('every registered recipe lists exactly its schema options, and its config round-trips', () => {
    for (const info of listOptimizers()) {
      const opt = createOptimizer(info.name, {});
      const d = opt.definition as unknown as Recipe<Schema>;
      assert.deepEqual(info.options, schemaKeys(d.schema), info.name);
      const config = JSON.parse(JSON.stringify(opt.getConfig())) as object;
      const back = optimizerFromConfig(info.name, config);
      assert.deepEqual(back.getConfig(), opt.getConfig(), info.name);
      opt.dispose();
      back.dispose();
    }
  });

  it('defaults and errors come from the schema (muon)', () => {
    const r = muon().resolved;
    assert.deepEqual(
      [r.learningRate, r.momentum, r.nesterov, r.coefficients, r.ns.steps, r.scaleRule, r.rms, r.convScale, r.weightDecay],
      [0.02, 0.95, true, 'jordan', 5, 'jordan', 0.2, 'flattened', 0],
    );
    assert.throws(() => muon({ momentum: 1.2 }), { name: 'RangeError', message: 'muon: momentum must be in [0, 1), got 1.2' });
    assert.throws(() => muon({ nsSteps: 1.5 }), { name: 'RangeError', message: 'muon: nsSteps must be an integer in [0, 100], got 1.5' });
    assert.throws(() => muon({ momentun: 0.9 } as never), /muon: unknown option 'momentun' \(known: learningRate, momentum,/);
  });
});

describe('pure transforms', () => {
  it('muonTransform(options) is the chain muon(options) runs, validated the same way', () => {
    const shapes = [[6, 4], [4]];
    const a = shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s[0] * (s[1] ?? 1), 7 + i), s), true, `pt/a${i}`));
    const b = shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s[0] * (s[1] ?? 1), 7 + i), s), true, `pt/b${i}`));
    const opt = muon({ learningRate: 0.05, weightDecay: 0.1 });
    steps(opt, a, 3);
    const t = muonTransform({ learningRate: 0.05, weightDecay: 0.1 });
    const metas = b.map((v) => ({ name: v.name, shape: v.shape }));
    let state = t.init(metas);
    for (let k = 0; k < 3; k++) {
      const grads = b.map((v, i) => tf.tensor(gaussian(v.size, 100 * k + i), v.shape));
      const out = t.update(grads, state, { step: k, metas, params: b });
      b.forEach((v, i) => v.assign(tf.add(v, out.updates[i])));
      state = out.state;
      tf.dispose(grads);
    }
    a.forEach((v, i) => assert.deepEqual(Array.from(b[i].dataSync()), Array.from(v.dataSync()), v.name));
    assert.throws(() => muonTransform({ rms: -1 }), { name: 'RangeError', message: 'muon: rms must be in (0, inf), got -1' });
    assert.throws(() => muonTransform({ nonFinite: 'skip' } as never), /muon: unknown option 'nonFinite'/);
    assert.equal(muonDefinition.name, 'muon');
    opt.dispose();
    tf.dispose([...a, ...b]);
  });
});

describe('one convScale for one idea', () => {
  const conv = ['muon', 'turboMuon', 'adaMuon', 'norMuon', 'hybridAuon'];

  it("every method with a conv rule takes convScale 'flattened' | 'torchKernel', and 'torchKernel' changes a conv step", () => {
    for (const name of conv) {
      assert.ok(listOptimizers().find((o) => o.name === name)!.options.includes('convScale'), name);
      const run = (convScale: string) => {
        const v = tf.variable(tf.tensor(gaussian(3 * 2 * 2 * 4, 5), [3, 2, 2, 4]), true, `conv/${name}/${convScale}/kernel`);
        const opt = createOptimizer(name, { convScale });
        steps(opt, [v], 2);
        const out = v.dataSync().slice();
        opt.dispose();
        v.dispose();
        return out;
      };
      const [flat, torch] = [run('flattened'), run('torchKernel')];
      assert.ok(flat.some((x, i) => x !== torch[i]), `${name}: torchKernel gives the same conv step`);
    }
  });

  it('the 0.1.0 names are refused with the new one', () => {
    assert.throws(() => createOptimizer('norMuon', { convRule: 'kernel' }), {
      name: 'RangeError', message: "norMuon: unknown option 'convRule' (renamed: did you mean 'convScale'?)",
    });
    assert.throws(() => createOptimizer('hybridAuon', { convMatrix: 'spatial' }), {
      name: 'RangeError', message: "hybridAuon: unknown option 'convMatrix' (renamed: did you mean 'convScale'?)",
    });
    for (const name of ['muon', 'turboMuon', 'adaMuon']) {
      assert.throws(() => createOptimizer(name, { convScale: 'kernel' }), {
        name: 'RangeError',
        message: `${name}: convScale must be one of 'flattened', 'torchKernel', got 'kernel' (renamed: did you mean 'torchKernel'?)`,
      });
    }
    assert.throws(() => muonTransform({ convRule: 'kernel' } as never), /muon: unknown option 'convRule' \(known:/);
  });
});

describe("scion's momentum is β, like every other recipe's", () => {
  it('writes configVersion 2 and reads an unversioned (0.1.0) config as α', () => {
    const c = scion({ momentum: 0.75 }).getConfig() as Record<string, unknown>;
    assert.equal(c.momentum, 0.75);
    assert.equal(c.configVersion, 2);
    assert.equal((optimizerFromConfig('scion', c).resolved as { momentum: number }).momentum, 0.75);
    const { configVersion: _, ...old } = c;
    assert.equal((optimizerFromConfig('scion', { ...old, momentum: 0.25 }).resolved as { momentum: number }).momentum, 0.75);
    assert.equal(scion().resolved.momentum, 0.9);
  });
});

describe("Dion's initial Q", () => {
  it('initialQ sets Q (shape [qDim, rank]); it is checked and not written into the config', () => {
    const v = tf.variable(tf.zeros([6, 4]), true, 'dq/kernel');
    const seen: [number, number][] = [];
    const opt = dion({
      rankFraction: 0.5,
      initialQ: (_meta, shape) => {
        seen.push([shape[0], shape[1]]);
        return Array.from({ length: shape[0] * shape[1] }, (_x, k) => k + 1);
      },
    });
    opt.applyGradients([{ name: v.name, tensor: tf.zeros([6, 4]) }]);
    assert.deepEqual(seen, [[4, 2]]);
    // A zero gradient leaves Q as it was given (B = 0: P ← 0, R ← Q, Q ← R column-normalized).
    const q = opt.stateSlots.find((s) => /\/q\/0$/.test(s.path))!.variable.dataSync();
    const given = Array.from({ length: 8 }, (_x, k) => k + 1);
    const norms = [0, 1].map((j) => Math.hypot(...given.filter((_x, k) => k % 2 === j)));
    given.forEach((g, k) => assert.ok(Math.abs(q[k] - g / (norms[k % 2] + 1e-8)) < 1e-6, `q[${k}]`));
    assert.equal('initialQ' in opt.getConfig(), false);
    opt.dispose();
    const bad = dion({ initialQ: () => [1, 2, 3] });
    assert.throws(() => bad.applyGradients([{ name: v.name, tensor: tf.zeros([6, 4]) }]), /dion: initialQ\('dq\/kernel'\) must give 16 values \(shape \[4, 4\]\), got 3/);
    assert.throws(() => dion({ initialQ: 3 as never }), /dion: initialQ must be a function/);
    bad.dispose();
    v.dispose();
  });
});
