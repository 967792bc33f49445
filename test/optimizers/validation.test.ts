/**
 * Option validation across recipes (issue 10, items 9 and 14): learning-rate schedules are checked like
 * numbers when an optimizer is made and, when they are not this library's, at every step before anything
 * is written; errors name the optimizer and the option as the user wrote it (`nsSteps`, not `steps`;
 * `learningRate`, not the `adamwLearningRate` that inherits it); weight decay bounds its learning rate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import {
  adaMuon,
  adamw,
  constant,
  dion,
  dion2,
  hybridAuon,
  linear,
  muon,
  norMuon,
  orthogonalSgdm,
  root,
  scion,
  sgd,
  turboMuon,
  warmupCosine,
  type Schedule,
} from '../../src/index.js';

await useBackend('cpu');

/** Asserts `make` throws a RangeError with exactly `message`. */
function rejects(make: () => unknown, message: string): void {
  assert.throws(make, (e: unknown) => {
    assert.ok(e instanceof RangeError, `expected a RangeError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

/** A hand-made schedule: `fn` with `spec` attached, as a user (or another copy of the library) would make one. */
function foreign(fn: (step: number) => number, spec: unknown): Schedule {
  return Object.assign(fn, { spec }) as unknown as Schedule;
}

describe('learning-rate schedules are validated like numbers (item 9)', () => {
  it('a negative constant schedule is refused, as the number is', () => {
    rejects(() => sgd({ learningRate: -0.1 }), 'sgd: learningRate must be in [0, inf), got -0.1');
    rejects(
      () => sgd({ learningRate: constant(-0.1) }),
      'sgd: learningRate must be ≥ 0 at every step, but its constant schedule reaches -0.1',
    );
    rejects(
      () => muon({ learningRate: linear({ init: 0.02, end: -0.01, steps: 100 }) }),
      'muon: learningRate must be ≥ 0 at every step, but its linear schedule reaches -0.01',
    );
    rejects(
      () => muon({ adamwLearningRate: warmupCosine({ peak: 1e-3, warmupSteps: 10, decaySteps: 100, end: -1e-4 }) }),
      'muon: adamwLearningRate must be ≥ 0 at every step, but its warmupCosine schedule reaches -0.0001',
    );
  });

  it('a function with a forged spec is refused', () => {
    // The ascent step of the audit: a function giving −0.1 under a spec that says 0.1.
    rejects(
      () => sgd({ learningRate: foreign(() => -0.1, { kind: 'constant', value: 0.1 }) }),
      "sgd: learningRate is a function whose spec does not describe it: at step 0 it gives -0.1, its spec " +
        '{"kind":"constant","value":0.1} gives 0.1; make schedules with constant(), linear(), linearWarmup(), ' +
        'cosine(), warmupCosine(), wsd(), join() or scheduleFromSpec()',
    );
    // A spec the constructors would refuse.
    rejects(
      () => sgd({ learningRate: foreign(() => 0.1, { kind: 'constant', value: 0.1, extra: 1 }) }),
      "sgd: learningRate carries an invalid schedule spec (constant: unknown option 'extra' (known: kind, value))",
    );
    rejects(
      () => sgd({ learningRate: foreign(() => -1, { kind: 'constant', value: -1 }) }),
      'sgd: learningRate must be ≥ 0 at every step, but its constant schedule reaches -1',
    );
  });

  it('a foreign function that follows its spec is accepted and trains as the spec does', () => {
    const base = linear({ init: 0.1, end: 0.01, steps: 20 });
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'validation_v1');
    const w = tf.variable(tf.tensor1d([1, 2, 3]), true, 'validation_w1');
    const a = sgd({ learningRate: foreign((t) => base(t), base.spec) });
    const b = sgd({ learningRate: base });
    const g = tf.tensor1d([1, -1, 0.5]);
    for (let i = 0; i < 6; i++) {
      a.applyGradients({ [v.name]: g });
      b.applyGradients({ [w.name]: g });
    }
    assert.deepEqual(Array.from(v.dataSync()), Array.from(w.dataSync()));
    assert.deepEqual(a.getConfig().learningRate, base.spec);
    tf.dispose([v, w, g]);
    a.dispose();
    b.dispose();
  });

  it('a foreign schedule that goes negative at a step throws naming it, before anything is written', async () => {
    // Agrees with its spec at every probe step (0, 1, 2, 3, 5, …) but gives −0.1 at step 4.
    const lr = foreign((t) => (t === 4 ? -0.1 : 0.1), { kind: 'constant', value: 0.1 });
    const v = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, 'validation_v2');
    const opt = sgd({ learningRate: lr, momentum: 0.9 });
    const g = tf.tensor2d([[1, -1], [0.5, 2]]);
    for (let i = 0; i < 4; i++) opt.applyGradients({ [v.name]: g });
    const params = Array.from(v.dataSync());
    const state = await Promise.all((await opt.getWeights()).map(async (w) => Array.from(await w.tensor.data())));
    rejects(
      () => opt.applyGradients({ [v.name]: g }),
      'sgd: learningRate gave -0.1 at step 4; a learning rate must be a finite number ≥ 0',
    );
    assert.deepEqual(Array.from(v.dataSync()), params);
    const after = await Promise.all((await opt.getWeights()).map(async (w) => Array.from(await w.tensor.data())));
    assert.deepEqual(after, state);
    assert.equal(opt.iterations, 4);
    // The next step (step 4 again) throws again; nothing has moved.
    assert.throws(() => opt.applyGradients({ [v.name]: g }), RangeError);
    assert.equal(opt.iterations, 4);
    tf.dispose([v, g]);
    opt.dispose();
  });

  it('a foreign schedule that gives NaN or a string at a step throws naming it', () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'validation_v3');
    const g = tf.tensor1d([1, 1]);
    for (const [bad, shown] of [
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      ['0.1', "'0.1'"],
    ] as const) {
      const opt = muon({ adamwLearningRate: foreign((t) => (t === 4 ? (bad as number) : 1e-3), { kind: 'constant', value: 1e-3 }) });
      for (let i = 0; i < 4; i++) opt.applyGradients({ [v.name]: g });
      const before = Array.from(v.dataSync());
      rejects(
        () => opt.applyGradients({ [v.name]: g }),
        `muon: adamwLearningRate gave ${shown} at step 4; a learning rate must be a finite number ≥ 0`,
      );
      assert.deepEqual(Array.from(v.dataSync()), before);
      opt.dispose();
    }
    tf.dispose([v, g]);
  });
});

describe('weight decay bounds its learning rate: learningRate × weightDecay ≤ 1', () => {
  it('refuses a product above 1, naming both options, for numbers and over a schedule', () => {
    rejects(
      () => adamw({ weightDecay: 1e30 }),
      'adamw: learningRate × weightDecay must be at most 1 (no more decay in one step than the weights themselves), ' +
        'got learningRate 0.001 × weightDecay 1e+30',
    );
    rejects(
      () => sgd({ learningRate: 2, weightDecay: 1 }),
      'sgd: learningRate × weightDecay must be at most 1 (no more decay in one step than the weights themselves), ' +
        'got learningRate 2 × weightDecay 1',
    );
    rejects(
      () => muon({ learningRate: linear({ init: 0, end: 200, steps: 10 }), weightDecay: 0.01 }),
      'muon: learningRate × weightDecay must be at most 1 (no more decay in one step than the weights themselves), ' +
        'got learningRate 200 × weightDecay 0.01 (the largest value of its linear schedule)',
    );
    rejects(
      () => muon({ adamwWeightDecay: 1e4 }),
      'muon: adamwLearningRate × adamwWeightDecay must be at most 1 (no more decay in one step than the weights ' +
        'themselves), got adamwLearningRate 0.0003 × adamwWeightDecay 10000',
    );
    rejects(
      () => dion({ lion: ['bias'], lionLearningRate: 200, adamwWeightDecay: 0.01 }),
      'dion: lionLearningRate × adamwWeightDecay must be at most 1 (no more decay in one step than the weights ' +
        'themselves), got lionLearningRate 200 × adamwWeightDecay 0.01',
    );
    // At the bound and without decay, any learning rate is taken.
    adamw({ learningRate: 10, weightDecay: 0.1 }).dispose();
    sgd({ learningRate: 1e30 }).dispose();
  });

  it('a large weight decay no longer gives NaN parameters', () => {
    // Before: adamw({weightDecay: 1e30}) was accepted and the weights were NaN after five steps.
    assert.throws(() => adamw({ weightDecay: 1e30 }), RangeError);
    assert.throws(() => root({ learningRate: 1e30 }), /root: learningRate × weightDecay must be at most 1/);
  });
});

describe('errors name the optimizer and the option as written (item 14)', () => {
  it('coefficients and paramLabels of the wrong type', () => {
    rejects(
      () => muon({ coefficients: 7 as never }),
      "muon: coefficients must be a preset name ('jordan', 'you', 'polarExpress5', …) or a list of [a, b, c] rows, got 7",
    );
    rejects(
      () => norMuon({ coefficients: {} as never }),
      "norMuon: coefficients must be a preset name ('jordan', 'you', 'polarExpress5', …) or a list of [a, b, c] rows, got {}",
    );
    rejects(
      () => turboMuon({ coefficients: 5 as never }),
      "turboMuon: coefficients must be a preset name ('jordan', 'you', 'polarExpress5', …) or a list of [a, b, c] rows, got 5",
    );
  });

  it('paramLabels that is not a list', () => {
    rejects(
      () => muon({ paramLabels: 5 as never }),
      "muon: paramLabels must be a list of 'matrix' / 'adamw', one per parameter, got 5",
    );
    rejects(
      () => dion2({ paramLabels: 'matrix' as never }),
      "dion2: paramLabels must be a list of 'matrix' / 'adamw', one per parameter, got 'matrix'",
    );
  });

  it('nsSteps and nsEpsilon are called so, not steps and eps', () => {
    rejects(() => muon({ nsSteps: 2.5 }), 'muon: nsSteps must be an integer in [0, 100], got 2.5');
    rejects(() => muon({ nsEpsilon: -1 }), 'muon: nsEpsilon must be in [0, inf), got -1');
    rejects(() => hybridAuon({ nsEpsilon: NaN }), 'hybridAuon: nsEpsilon must be in [0, inf), got NaN');
    rejects(() => orthogonalSgdm({ nsSteps: 'five' as never }), "orthogonalSgdm: nsSteps must be an integer in [0, 100], got 'five'");
    rejects(() => scion({ nsEpsilon: Infinity }), 'scion: nsEpsilon must be in [0, inf), got Infinity');
    rejects(() => turboMuon({ coefficients: 'you', nsSteps: 101 }), 'turboMuon: nsSteps must be an integer in [0, 100], got 101');
    // dion2's NS epsilon is its `epsilon`.
    rejects(() => dion2({ nsSteps: -1 }), 'dion2: nsSteps must be an integer in [0, 100], got -1');
  });

  it('a bad learningRate is blamed on learningRate, not on the adamwLearningRate that inherits it', () => {
    rejects(() => adaMuon({ learningRate: -1 }), 'adaMuon: learningRate must be in [0, inf), got -1');
    rejects(
      () => adaMuon({ learningRate: 'fast' as never }),
      "adaMuon: learningRate must be a number in [0, inf) or a Schedule, got 'fast'",
    );
    rejects(() => root({ learningRate: -1 }), 'root: learningRate must be in [0, inf), got -1');
    rejects(() => dion({ learningRate: NaN }), 'dion: learningRate must be in [0, inf), got NaN');
    rejects(() => dion2({ learningRate: -Infinity }), 'dion2: learningRate must be in [0, inf), got -Infinity');
  });
});

describe('constrained LMO steps: learningRate ≤ 1 for schedules too', () => {
  it('refuses a constrained schedule above 1 and takes it unconstrained', () => {
    rejects(
      () => scion({ learningRate: linear({ init: 0.5, end: 2, steps: 10 }) }),
      'scion: learningRate must be at most 1 with constrained: true (the step (1 − learningRate)·x + ' +
        'learningRate·radius·lmo is a convex combination only for learningRate in [0, 1]), got 2 ' +
        '(the largest value of its linear schedule)',
    );
    scion({ learningRate: linear({ init: 0.5, end: 2, steps: 10 }), constrained: false }).dispose();
  });
});
