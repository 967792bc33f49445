/**
 * src/transforms/scheduleFree.ts at the transform layer: the state layout (z, x, v for 'adam', the
 * scalars lrMax and relativeWeightSum) and its initial values; the first step starting z and x at the
 * parameters; three SGD steps by hand; z, x, v, lrMax, the relative weight sum Σwᵢ/wₜ and the
 * parameters y against a float64 loop of facebookresearch/schedule_free's SGDScheduleFreeReference /
 * AdamWScheduleFreeReference (warmup, r, weight_lr_power, weight decay, and a learning-rate schedule,
 * which the references do not have: the weights follow the running maximum lrMax, not the current lr);
 * the zero-weight branch (cₜ = 0 while lrMax = 0); the update y_new − y read against the parameters it
 * is given; weights that overflow float32 kept relative; no tensors leaked per step.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { disposeReplaced, keysAt, tensorAt, tensorListAt, tensorsOf, tidyStep } from '../support/transforms.js';
import type { ParamMeta, StateTree } from '../../src/core/transform.js';
import { scheduleFree, type ScheduleFreeOptions } from '../../src/transforms/scheduleFree.js';
import type { Schedule } from '../../src/schedules/index.js';

/** |got − want| ≤ tol·max(floor, |want|) entry by entry (floor 1: relative above 1, absolute below). */
function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string, floor = 1): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(floor, Math.abs(want[i]));
    assert.ok(err <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]} (${err.toExponential(2)}, tol ${tol})`);
  }
}

/** One step's view: the parameters y and the state, per parameter flattened. */
interface Snapshot {
  y: number[][];
  z: number[][];
  x: number[][];
  v: number[][] | null;
  lrMax: number;
  relativeWeightSum: number;
}

/** A float64 step's view, with the averaging coefficient cₜ and the absolute weight sum. */
interface Snapshot64 extends Snapshot {
  c: number;
  weightSum: number;
}

const SHAPES = [[2, 3], [4]];
const X0 = SHAPES.map((s, i) => Array.from(gaussian(s.reduce((a, b) => a * b, 1), 3 + i)));

/** Gradient at y: a quadratic with a curvature per coordinate plus a fixed pseudo-random term per step. */
const gradAt = (ys: number[][], k: number): number[][] =>
  ys.map((y, p) => {
    const noise = gaussian(y.length, 100 + 10 * k + p);
    return y.map((v, i) => (0.5 + 0.3 * i) * v + 0.2 * noise[i]);
  });

/**
 * Runs the transform as the optimizer adapter does (each step in a tidy, params += updates, replaced
 * state disposed) from `x0s`, gradients `grad(y, k)` taken at the current parameters; returns a
 * snapshot after each step and checks that no step leaks tensors.
 */
function run(t: ReturnType<typeof scheduleFree>, x0s: number[][], grad: (ys: number[][], k: number) => number[][], steps: number, shapes = SHAPES): Snapshot[] {
  const metas: ParamMeta[] = shapes.map((shape, i) => ({ name: `p${i}`, shape }));
  let params = x0s.map((x, i) => tf.tensor(x, shapes[i]));
  let state: StateTree = t.init(metas);
  const out: Snapshot[] = [];
  const counts: number[] = [];
  for (let k = 0; k < steps; k++) {
    const gs = grad(params.map((p) => Array.from(p.dataSync())), k);
    const r = tidyStep(() => {
      const o = t.update(gs.map((g, i) => tf.tensor(g, shapes[i])), state, { step: k, params, metas });
      return { next: params.map((p, i) => tf.add(p, o.updates[i])), state: o.state };
    });
    tf.dispose(params);
    disposeReplaced(state, r.state);
    params = r.next;
    state = r.state;
    const list = (key: string) => tensorListAt(state, key).map((s) => Array.from(s.dataSync()));
    out.push({
      y: params.map((p) => Array.from(p.dataSync())),
      z: list('z'),
      x: list('x'),
      v: keysAt(state).includes('v') ? list('v') : null,
      lrMax: tensorAt(state, 'lrMax').dataSync()[0],
      relativeWeightSum: tensorAt(state, 'relativeWeightSum').dataSync()[0],
    });
    counts.push(tf.memory().numTensors);
  }
  assert.ok(counts.every((c) => c === counts[0]), `tensors per step: ${counts.join(', ')}`);
  tf.dispose([...params, ...tensorsOf(state)]);
  return out;
}

type Reference = Omit<ScheduleFreeOptions, 'learningRate'> & { readonly lr: (k: number) => number };

/**
 * The reference optimizers' step in float64, written from sgd_schedulefree_reference.py and
 * adamw_schedulefree_reference.py (absolute weights and their running sum; ckp1 = 0 on the
 * ZeroDivisionError), with the constant `lr` generalized to `lr(k)`.
 */
function scheduleFree64(o: Reference, x0s: number[][], grad: (ys: number[][], k: number) => number[][], steps: number): Snapshot64[] {
  const adam = o.base === 'adam';
  const z = x0s.map((x) => [...x]);
  const x = x0s.map((v) => [...v]);
  const y = x0s.map((v) => [...v]);
  const v = x0s.map((p) => p.map(() => 0));
  let lrMax = -1;
  let weightSum = 0;
  const out: Snapshot64[] = [];
  for (let k = 0; k < steps; k++) {
    const sched = k < o.warmupSteps ? (k + 1) / o.warmupSteps : 1;
    const lr = o.lr(k) * sched * (adam ? Math.sqrt(1 - o.beta2 ** (k + 1)) : 1);
    lrMax = Math.max(lr, lrMax);
    const weight = (k + 1) ** o.r * lrMax ** o.weightLrPower;
    weightSum += weight;
    const c = weightSum === 0 ? 0 : weight / weightSum;
    const g = grad(y.map((p) => [...p]), k);
    y.forEach((yp, p) => {
      for (let i = 0; i < yp.length; i++) {
        if (!adam) z[p][i] -= lr * (g[p][i] + o.weightDecay * yp[i]);
        else {
          z[p][i] -= lr * o.weightDecay * yp[i];
          v[p][i] = o.beta2 * v[p][i] + (1 - o.beta2) * g[p][i] ** 2;
          z[p][i] -= (lr * g[p][i]) / (Math.sqrt(v[p][i]) + o.epsilon);
        }
        x[p][i] = (1 - c) * x[p][i] + c * z[p][i];
        yp[i] = o.beta * x[p][i] + (1 - o.beta) * z[p][i];
      }
    });
    const copy = (a: number[][]) => a.map((p) => [...p]);
    out.push({ y: copy(y), z: copy(z), x: copy(x), v: adam ? copy(v) : null, lrMax, relativeWeightSum: weightSum / weight, c, weightSum });
  }
  return out;
}

/** The transform's options for a reference configuration (the transform only calls the schedule; no spec needed). */
const optionsOf = (o: Reference): ScheduleFreeOptions => ({ ...o, learningRate: o.lr as Schedule });

/** Every slot of every step within `tol` of the float64 loop (relativeWeightSum only where Σw > 0). */
function compare(got: Snapshot[], want: Snapshot64[], tol: number): void {
  got.forEach((s, k) => {
    for (const key of ['y', 'z', 'x', 'v'] as const) {
      const w = want[k][key];
      if (w === null) assert.equal(s[key], null, `step ${k}: ${key} slot`);
      // v (≈ (1 − β₂)·g², small) entry-wise relative; the others relative above 1, absolute below
      else w.forEach((wp, p) => close(s[key]![p], wp, tol, `step ${k} ${key}[${p}]`, key === 'v' ? 0 : 1));
    }
    close([s.lrMax], [want[k].lrMax], 1e-6, `step ${k} lrMax`);
    if (want[k].weightSum > 0) close([s.relativeWeightSum], [want[k].relativeWeightSum], 1e-6, `step ${k} Σw/wₜ`);
  });
}

/** Two float32 ulps relative at [1, 2): a few rounded float32 operations away from the exact value. */
const ULP2 = 2 ** -22;

const SGD: Reference = { base: 'sgd', lr: () => 0.2, beta: 0.9, beta2: 0, epsilon: 0, weightDecay: 0, warmupSteps: 0, r: 0, weightLrPower: 2 };
const ADAM: Reference = { base: 'adam', lr: () => 0.05, beta: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, warmupSteps: 0, r: 0, weightLrPower: 2 };

describe('scheduleFree: state', () => {
  before(() => useBackend('cpu'));

  it("init: z and x (and v for 'adam') are zeros per parameter, lrMax = −1, relativeWeightSum = 0", () => {
    const metas: ParamMeta[] = SHAPES.map((shape, i) => ({ name: `p${i}`, shape }));
    for (const [o, keys] of [
      [SGD, ['z', 'x', 'lrMax', 'relativeWeightSum']],
      [ADAM, ['z', 'x', 'v', 'lrMax', 'relativeWeightSum']],
    ] as const) {
      const s = scheduleFree(optionsOf(o)).init(metas);
      assert.deepEqual(keysAt(s), keys, o.base);
      for (const key of keys.slice(0, -2)) {
        const list = tensorListAt(s, key);
        assert.deepEqual(list.map((t) => t.shape), SHAPES, `${o.base} ${key}`);
        assert.ok(list.every((t) => t.dataSync().every((v) => v === 0)), `${o.base} ${key} zeros`);
      }
      assert.equal(tensorAt(s, 'lrMax').dataSync()[0], -1);
      assert.equal(tensorAt(s, 'relativeWeightSum').dataSync()[0], 0);
      tf.dispose(tensorsOf(s));
    }
  });

  it('SGD by hand on f = y²/2 from y = 1 (γ 0.5, β 0.9): z and x start at the parameter, cₜ = 1/t, y = z + β(x − z)', () => {
    const got = run(scheduleFree(optionsOf({ ...SGD, lr: () => 0.5 })), [[1]], (ys) => ys, 3, [[1]]);
    // k = 0: g = 1, z = 1 − 0.5 = 0.5, c = 1: x = z = 0.5, y = 0.5 (not 0 − 0.5: z starts at y, not at the zero init)
    // k = 1: g = 0.5, z = 0.25, c = 1/2: x = 0.375, y = 0.25 + 0.9·0.125 = 0.3625
    // k = 2: g = 0.3625, z = 0.06875, c = 1/3: x = 0.375 − 0.30625/3 = 0.2729166…, y = 0.06875 + 0.9·(x − z) = 0.2525
    const want = [
      { z: 0.5, x: 0.5, y: 0.5, s: 1 },
      { z: 0.25, x: 0.375, y: 0.3625, s: 2 },
      { z: 0.06875, x: 0.375 - 0.30625 / 3, y: 0.2525, s: 3 },
    ];
    got.forEach((s, k) => {
      close([s.z[0][0], s.x[0][0], s.y[0][0]], [want[k].z, want[k].x, want[k].y], 1e-7, `step ${k} z, x, y`);
      assert.equal(s.lrMax, 0.5);
      assert.equal(s.relativeWeightSum, want[k].s, `step ${k} Σw/wₜ`);
    });
  });
});

describe('scheduleFree: against a float64 loop of the reference optimizers (6 steps, two parameters)', () => {
  before(() => useBackend('cpu'));
  const cases: { name: string; ref: Reference }[] = [
    { name: 'sgd, constant γ', ref: SGD },
    { name: 'sgd, warmup 3, r 1, weightLrPower 1, L2 decay 0.05, β 0.8', ref: { ...SGD, warmupSteps: 3, r: 1, weightLrPower: 1, weightDecay: 0.05, beta: 0.8 } },
    { name: 'sgd, weightLrPower 0 and r 2: weights (k+1)², learning rate ignored', ref: { ...SGD, weightLrPower: 0, r: 2, warmupSteps: 4 } },
    { name: 'adam, constant γ (γₜ includes √(1 − β₂ᵗ))', ref: ADAM },
    { name: 'adam, warmup 2, r 0.5, decoupled decay 0.1, β = (0.95, 0.99)', ref: { ...ADAM, warmupSteps: 2, r: 0.5, weightDecay: 0.1, beta: 0.95, beta2: 0.99 } },
    // a schedule that rises, falls and rises again: lrMax moves at k = 1 and k = 4 only
    { name: 'sgd, γ schedule 0.1, 0.3, 0.2, 0.05, 0.4, 0.1: weights follow lrMax', ref: { ...SGD, lr: (k) => [0.1, 0.3, 0.2, 0.05, 0.4, 0.1][k] } },
    { name: 'adam, γ schedule and warmup 3', ref: { ...ADAM, warmupSteps: 3, lr: (k) => [0.02, 0.08, 0.05, 0.01, 0.1, 0.03][k] } },
  ];
  for (const { name, ref } of cases) {
    it(`${name}: y, z, x${ref.base === 'adam' ? ', v' : ''}, lrMax and Σwᵢ/wₜ within 1e-6`, () => {
      const got = run(scheduleFree(optionsOf(ref)), X0, gradAt, 6);
      const want = scheduleFree64(ref, X0, gradAt, 6);
      compare(got, want, 1e-6);
      // the average really lags the iterate: x, y and z are three different sequences
      assert.ok(Math.abs(got[5].x[0][0] - got[5].z[0][0]) > 1e-3 && Math.abs(got[5].y[0][0] - got[5].x[0][0]) > 1e-4);
    });
  }

  it('the schedule case: cₜ from lrMax (0.1, 0.3, 0.3, 0.3, 0.4, 0.4), not from the current γ', () => {
    const want = scheduleFree64(cases[5].ref, X0, gradAt, 6);
    assert.deepEqual(want.map((s) => s.lrMax), [0.1, 0.3, 0.3, 0.3, 0.4, 0.4]);
    // weights 0.01, 0.09, 0.09, 0.09, 0.16, 0.16: c = w/Σw
    const w = [0.01, 0.09, 0.09, 0.09, 0.16, 0.16];
    close(want.map((s) => s.c), w.map((wk, k) => wk / w.slice(0, k + 1).reduce((a, b) => a + b, 0)), 1e-12, 'c');
    const got = run(scheduleFree(optionsOf(cases[5].ref)), X0, gradAt, 6);
    close(got.map((s) => s.lrMax), [0.1, 0.3, 0.3, 0.3, 0.4, 0.4], 1e-7, 'lrMax');
    close(got.map((s) => s.relativeWeightSum), w.map((wk, k) => w.slice(0, k + 1).reduce((a, b) => a + b, 0) / wk), 1e-6, 'Σw/wₜ');
  });
});

describe('scheduleFree: edge cases of the averaging weights', () => {
  before(() => useBackend('cpu'));

  it('γ = 0 for the first two steps (weightLrPower 2): every weight is 0 (lrMax = 0, no 0/0), x stays at x₀ exactly; then cₜ = 1', () => {
    const ref: Reference = { ...SGD, lr: (k) => (k < 2 ? 0 : 0.1) };
    const got = run(scheduleFree(optionsOf(ref)), X0, gradAt, 4);
    const want = scheduleFree64(ref, X0, gradAt, 4);
    assert.deepEqual(want.map((s) => s.c), [0, 0, 1, 0.5]);
    compare(got, want, 1e-6);
    for (const k of [0, 1]) assert.deepEqual(got[k].x, X0.map((p) => Array.from(Float32Array.from(p))), `step ${k}: x = x₀ exactly`);
  });

  it('γ = 0 for the first two steps with weightLrPower 0: the weights are 1 regardless, cₜ = 1/t', () => {
    const ref: Reference = { ...SGD, weightLrPower: 0, lr: (k) => (k < 2 ? 0 : 0.1) };
    const got = run(scheduleFree(optionsOf(ref)), X0, gradAt, 4);
    const want = scheduleFree64(ref, X0, gradAt, 4);
    assert.deepEqual(want.map((s) => s.c), [1, 1 / 2, 1 / 3, 1 / 4]);
    compare(got, want, 1e-6);
    close(got.map((s) => s.relativeWeightSum), [1, 2, 3, 4], 0, 'Σw/wₜ');
  });

  it('weights that overflow float32 stay relative: γ = 1e30 (γ² = ∞) gives Σw/wₜ = t, r = 1e30 (2ʳ = ∞) gives 1', () => {
    const lin = () => [[1, -1, 2, -2, 0.5, 3], [1, 1, -1, -1]];
    const big = run(scheduleFree(optionsOf({ ...SGD, lr: () => 1e30 })), X0, lin, 4);
    close(big.map((s) => s.relativeWeightSum), [1, 2, 3, 4], 0, 'γ = 1e30: Σw/wₜ');
    assert.ok(big.every((s) => s.y.flat().every(Number.isFinite)));
    const steep = run(scheduleFree(optionsOf({ ...SGD, r: 1e30 })), X0, lin, 4);
    close(steep.map((s) => s.relativeWeightSum), [1, 1, 1, 1], 0, 'r = 1e30: Σw/wₜ');
    // cₜ = 1: the average is the last iterate, x = z = y
    steep.forEach((s, k) => s.x.forEach((xp, p) => assert.deepEqual(xp, s.z[p], `step ${k}: x = z`)));
  });

  it('the update is y_new − (the parameters it is given): z and x do not depend on where the parameters were moved', () => {
    // Two runs of two steps; in the second, the parameters are shifted by +1 between the steps (as another
    // transform or a manual edit would). 'sgd' without decay uses y only through the gradient, which is
    // held fixed here, so z and x agree and the update lands the parameters on the same y_new.
    const metas: ParamMeta[] = [{ name: 'w', shape: [3] }];
    const t = scheduleFree(optionsOf(SGD));
    const g = [0.5, -1, 2];
    const stepTwice = (shift: number) =>
      tf.tidy(() => {
        const p0 = tf.tensor1d([1, 2, 3]);
        const a = t.update([tf.tensor1d(g)], t.init(metas), { step: 0, params: [p0], metas });
        const p1 = tf.add(tf.add(p0, a.updates[0]), shift);
        const b = t.update([tf.tensor1d(g)], a.state, { step: 1, params: [p1], metas });
        return [p1, b.updates[0], tf.add(p1, b.updates[0]), ...tensorListAt(b.state, 'z'), ...tensorListAt(b.state, 'x')].map((x) => Array.from(x.dataSync()));
      });
    const [p1, u, y2, z, x] = stepTwice(0);
    const [q1, v, w2, zs, xs] = stepTwice(1);
    assert.deepEqual(zs, z);
    assert.deepEqual(xs, x);
    close(w2, y2, ULP2, 'y_new');
    close(v, u.map((ui, i) => ui + p1[i] - q1[i]), ULP2, 'update');
    // and y_new = z + β(x − z) from the state (step 2: z = 1 − 2γg per entry, c = 1/2)
    close(y2, z.map((zi, i) => zi + 0.9 * (x[i] - zi)), ULP2, 'y_new from the state');
    close(z, [1, 2, 3].map((p, i) => p - 2 * 0.2 * g[i]), ULP2, 'z');
  });
});
