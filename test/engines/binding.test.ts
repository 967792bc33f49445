/**
 * An optimizer's `engine` option reaches Newton–Schulz through the options its chain is built from
 * (`bindNewtonSchulzEngine`), not through a global scope around the step (issue 11 item 2): the built
 * transform carries the choice wherever it runs, every recipe's Newton–Schulz gets it (wrappers' inner
 * optimizers included), and `setDefaultEngine` is only the default of what names no engine.
 */
import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { bindNewtonSchulzEngine } from '../../src/linalg/newtonSchulz.js';
import {
  createOptimizer,
  listOptimizers,
  registerEngine,
  resolveNewtonSchulz,
  setDefaultEngine,
  type EngineMatrix,
  type TransformOptimizer,
} from '../../src/index.js';

await useBackend('cpu');

/** Matrices the fake engine was handed since the last reset. */
let handed = 0;
registerEngine({
  name: 'workers',
  minimumElements: 0,
  available: () => ({ ok: true }),
  create: () => ({
    name: 'workers',
    run(ms: readonly EngineMatrix[]): Float32Array[] {
      handed += ms.length;
      // The values do not matter here (seam.test.ts checks them): hand back a finite matrix of the shape.
      return ms.map((m) => Float32Array.from(m.data, (v) => v * 0.5));
    },
    dispose() {},
  }),
});

const shapes = [[8, 6], [6], [6, 3]];
let uid = 0;
function variables(): tf.Variable[] {
  return shapes.map((s, i) => tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), 11 + i), s), true, `bind${uid++}/v${i}`));
}
const wrappers = new Set(['lookahead', 'accumulate', 'cautious', 'averaged']);
function make(name: string, engine?: 'workers' | 'tfjs'): TransformOptimizer {
  const own = wrappers.has(name) ? { inner: 'muon' } : {};
  return createOptimizer(name, engine === undefined ? own : { ...own, engine });
}
/** Matrices handed to the engine by two steps of `opt`. */
function handedBySteps(opt: TransformOptimizer): number {
  const vs = variables();
  handed = 0;
  for (let k = 0; k < 2; k++) {
    const g = vs.map((v, i) => ({ name: v.name, tensor: tf.tensor(gaussian(v.size, 100 * k + i), v.shape) }));
    // a loss-aware optimizer (alrSmag, polyakSgd) takes the loss too
    opt.applyGradients(g, opt.needsLoss ? { loss: 1 } : {});
    tf.dispose(g.map((e) => e.tensor));
  }
  opt.dispose();
  tf.dispose(vs);
  return handed;
}

describe('the engine option travels in the resolved options', () => {
  beforeEach(() => setDefaultEngine('tfjs'));
  after(() => setDefaultEngine('tfjs'));

  it('bindNewtonSchulzEngine writes the engine into every Newton–Schulz setting, copying only those paths', () => {
    const ns = resolveNewtonSchulz({ coefficients: 'jordan' });
    const named = resolveNewtonSchulz({ engine: 'tfjs' });
    const schedule = (step: number) => step;
    const plain = { momentum: 0.9, list: [1, 2] };
    const resolved = { ns, nested: { inner: { resolved: { ns } } }, list: [ns, named], plain, schedule, tensor: null };
    const bound = bindNewtonSchulzEngine(resolved, 'workers');
    assert.equal(bound.ns.engine, 'workers');
    assert.equal(bound.nested.inner.resolved.ns.engine, 'workers');
    assert.equal(bound.list[0].engine, 'workers');
    assert.equal(bound.list[1].engine, 'tfjs', 'an engine already named is kept');
    assert.equal(bound.plain, plain, 'a branch without Newton–Schulz is not copied');
    assert.equal(bound.schedule, schedule);
    assert.equal(ns.engine, undefined, 'the input is not changed');
    assert.equal(bound.ns.steps, ns.steps);
    assert.equal(bound.ns.table, ns.table);
    assert.equal(bindNewtonSchulzEngine(resolved, null), resolved, 'null: the global default decides');
  });

  it('the built transform carries the choice outside applyGradients too (no scope around the step)', () => {
    const opt = createOptimizer('muon', { engine: 'workers' });
    const metas = [{ name: 'w', shape: [8, 6] }];
    handed = 0;
    tf.tidy(() => {
      const state = opt.transform.init(metas);
      const g = tf.tensor(gaussian(48, 3), [8, 6]);
      opt.transform.update([g], state, { step: 0, params: [tf.zerosLike(g)], metas });
    });
    assert.equal(handed, 1);
    // Without the option, the transform follows the global default, as a bare newtonSchulz call does.
    const plain = createOptimizer('muon');
    handed = 0;
    tf.tidy(() => {
      const g = tf.tensor(gaussian(48, 3), [8, 6]);
      plain.transform.update([g], plain.transform.init(metas), { step: 0, params: [tf.zerosLike(g)], metas });
    });
    assert.equal(handed, 0);
  });

  it('every registered recipe hands its Newton–Schulz to the engine it was given, as the global default would', () => {
    const users: string[] = [];
    for (const { name } of listOptimizers()) {
      const byOption = handedBySteps(make(name, 'workers'));
      setDefaultEngine('workers');
      const byDefault = handedBySteps(make(name));
      const refused = handedBySteps(make(name, 'tfjs'));
      setDefaultEngine('tfjs');
      assert.equal(byOption, byDefault, `${name}: engine option vs setDefaultEngine`);
      assert.equal(refused, 0, `${name}: engine 'tfjs' beats the global default`);
      if (byOption > 0) users.push(name);
    }
    for (const name of ['muon', 'turboMuon', 'norMuon', 'adaMuon', 'root', 'orthogonalSgdm', 'dion2', 'scion', 'lookahead', 'accumulate', 'cautious', 'averaged']) {
      assert.ok(users.includes(name), `${name} runs Newton–Schulz on the engine (users: ${users.join(', ')})`);
    }
    assert.ok(!users.includes('adamw') && !users.includes('sgd'));
  });
});
