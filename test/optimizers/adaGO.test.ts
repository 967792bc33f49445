/**
 * AdaGO (no golden file: there is no code from the authors): the step-size clamps (ε floor, γ cap), the
 * exact first step, the direction = NS(M) exactly over several steps, the scalar state, no read-back per
 * step, option validation, and the optimizer contract on wasm (spec §6, §16).
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { adaGO } from '../../src/tfjs/register.js';
import { newtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { linear } from '../../src/schedules/index.js';
import type { TransformOptimizer } from '../../src/tfjs/optimizer.js';

await useBackend('cpu');

let uid = 0;

function norm64(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string): void {
  let maxDiff = 0;
  let maxWant = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxWant = Math.max(maxWant, Math.abs(want[i]));
  }
  assert.ok(maxDiff <= rtol * maxWant, `${what}: max diff ${maxDiff} > ${rtol} × ${maxWant}`);
}

/**
 * Runs `opt` on one parameter of `shape` (starting at `w0`, zeros by default) with the given gradients
 * and returns each step's Δw together with the momentum M_t = μM + (1−μ)G and NS(M_t) computed
 * independently with `newtonSchulz`.
 */
function run(
  opt: tf.Optimizer,
  shape: number[],
  grads: Float32Array[],
  options: { momentum?: number; nesterov?: boolean; w0?: Float32Array } = {},
): { deltas: Float32Array[]; ns: Float32Array[] } {
  const mu = options.momentum ?? 0.95;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = tf.variable(tf.tensor(options.w0 ?? new Float32Array(n), shape), true, `adago_${uid++}/kernel`);
  let m = tf.zeros(shape);
  const deltas: Float32Array[] = [];
  const ns: Float32Array[] = [];
  for (const g of grads) {
    const before = v.dataSync().slice();
    const gt = tf.tensor(g, shape);
    opt.applyGradients([{ name: v.name, tensor: gt }]);
    const after = v.dataSync();
    deltas.push(Float32Array.from(after, (x, i) => x - before[i]));
    const next = tf.tidy(() => tf.add(tf.mul(m, mu), tf.mul(gt, 1 - mu)));
    m.dispose();
    m = next;
    ns.push(
      tf.tidy(() => {
        const dir = options.nesterov ? tf.add(tf.mul(gt, 1 - mu), tf.mul(m, mu)) : m;
        return newtonSchulz(dir).dataSync() as Float32Array;
      }),
    );
    gt.dispose();
  }
  opt.dispose();
  tf.dispose([v, m]);
  return { deltas, ns };
}

/** The paper's α_t sequence in float64: v_t² = v_{t−1}² + min(‖G_t‖, γ)², α_t = max(ε, η·min(‖G_t‖, γ)/v_t). */
function paperSteps(grads: Float32Array[], o: { lr: number; gamma: number; epsilon: number; v0: number }): number[] {
  let v2 = o.v0 * o.v0;
  return grads.map((g) => {
    const c = Math.min(norm64(g), o.gamma);
    v2 += c * c;
    return Math.max(o.epsilon, (o.lr * c) / Math.sqrt(v2));
  });
}

const scaled = (x: Float32Array, s: number): Float32Array => Float32Array.from(x, (v) => v * s);

describe('adaGO step size (cpu)', () => {
  before(async () => useBackend('cpu'));

  it('first step: α₁ = max(ε, η·min(‖G₁‖,γ)/√(v₀² + min(‖G₁‖²,γ²))) exactly, times NS(M₁)', () => {
    const shape = [6, 10];
    const g = gaussian(60, 1); // ‖G‖ ≈ 7.7 < γ
    const o = { lr: 0.05, gamma: 10, epsilon: 5e-4, v0: 3 };
    const { deltas, ns } = run(adaGO({ learningRate: o.lr, v0: o.v0 }), shape, [g]);
    const [alpha] = paperSteps([g], o);
    const c = norm64(g);
    assert.ok(Math.abs(alpha - (o.lr * c) / Math.sqrt(9 + c * c)) < 1e-12);
    assertClose(deltas[0], scaled(ns[0], -alpha), 1e-5, 'Δw₁');
    // the measured step is the paper's, not the port's division by the squared accumulator
    const measured = norm64(deltas[0]) / norm64(ns[0]);
    assert.ok(Math.abs(measured - alpha) <= 1e-5 * alpha, `α₁ ${measured} vs ${alpha}`);
    const port = (o.lr * c) / (9 + c * c);
    assert.ok(Math.abs(measured - port) > 0.1 * alpha, 'matches the no-sqrt port');
  });

  it('with the default v₀ = 1e-6 the first step is η (to 1e-6) unless the floor is higher', () => {
    const g = gaussian(60, 2);
    const { deltas, ns } = run(adaGO({ learningRate: 0.05 }), [6, 10], [g]);
    const measured = norm64(deltas[0]) / norm64(ns[0]);
    assert.ok(Math.abs(measured - 0.05) < 0.05 * 1e-5, `α₁ = ${measured}`);
  });

  it('γ caps a huge gradient: α = η·γ/v with v² accumulating γ² per step', () => {
    const o = { lr: 0.05, gamma: 10, epsilon: 5e-4, v0: 10 };
    const grads = [1, 2, 3].map((s) => {
      const g = gaussian(60, 10 + s);
      return scaled(g, 1e3 / norm64(g)); // ‖G‖ = 1000 ≫ γ
    });
    const { deltas, ns } = run(adaGO({ learningRate: o.lr, gamma: o.gamma, v0: o.v0 }), [6, 10], grads);
    const want = [1, 2, 3].map((t) => (o.lr * o.gamma) / Math.sqrt(o.v0 ** 2 + t * o.gamma ** 2));
    assert.deepEqual(
      paperSteps(grads, o).map((a) => a.toPrecision(6)),
      want.map((a) => a.toPrecision(6)),
    );
    deltas.forEach((d, t) => assertClose(d, scaled(ns[t], -want[t]), 1e-5, `step ${t + 1}`));
    // uncapped, the first step would be η·1000/√(100 + 10⁶) ≈ η, not η/√2
    assert.ok(Math.abs(want[0] - o.lr / Math.SQRT2) < 1e-9);
  });

  it('ε floors the step when the gradient is tiny relative to v (absolute: independent of η)', () => {
    const g = scaled(gaussian(60, 20), 1e-3);
    for (const lr of [0.05, 0.001]) {
      const o = { lr, gamma: 10, epsilon: 5e-4, v0: 1e3 };
      const [alpha] = paperSteps([g], o);
      assert.equal(alpha, 5e-4);
      const { deltas, ns } = run(adaGO({ learningRate: lr, v0: o.v0 }), [6, 10], [g]);
      assertClose(deltas[0], scaled(ns[0], -5e-4), 1e-5, `floored step at η ${lr}`);
    }
  });

  it('the floor stays ε and decay stays η·λ·W when combined: Δw = −ε·NS(M) − ηλW', () => {
    const w0 = gaussian(60, 30);
    const g = scaled(gaussian(60, 31), 1e-3);
    const lr = 0.05;
    const { deltas, ns } = run(adaGO({ learningRate: lr, v0: 1e3, weightDecay: 0.1 }), [6, 10], [g], { w0 });
    const want = Float32Array.from(ns[0], (o, i) => -5e-4 * o - lr * 0.1 * w0[i]);
    assertClose(deltas[0], want, 1e-5, 'floor + decay');
  });

  it('the direction is exactly NS(M_t) over several steps (wide, tall and conv kernels; no shape factor)', () => {
    const o = { lr: 0.05, gamma: 10, epsilon: 5e-4, v0: 2 };
    for (const shape of [[6, 10], [10, 6], [3, 3, 2, 4]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const grads = [0, 1, 2, 3].map((s) => scaled(gaussian(n, 40 + s), s === 2 ? 4 : 0.5));
      const { deltas, ns } = run(adaGO({ learningRate: o.lr, v0: o.v0 }), shape, grads);
      const alphas = paperSteps(grads, o);
      deltas.forEach((d, t) => assertClose(d, scaled(ns[t], -alphas[t]), 1e-5, `[${shape.join(', ')}] step ${t + 1}`));
    }
  });

  it("Nesterov and the shape scale are options: scaleRule 'jordan' multiplies by max(1, fanOut/fanIn)^½", () => {
    const o = { lr: 0.05, gamma: 10, epsilon: 5e-4, v0: 2 };
    const grads = [gaussian(60, 50), gaussian(60, 51)];
    const alphas = paperSteps(grads, o);
    const jordan = run(adaGO({ learningRate: o.lr, v0: o.v0, scaleRule: 'jordan', nesterov: true }), [6, 10], grads, {
      nesterov: true,
    });
    const s = Math.sqrt(10 / 6); // Dense kernel [fanIn 6, fanOut 10]
    jordan.deltas.forEach((d, t) => assertClose(d, scaled(jordan.ns[t], -alphas[t] * s), 1e-5, `jordan step ${t + 1}`));
  });

  it('the state is the momentum and one scalar v² per matrix, equal to v₀² + Σ min(‖G‖,γ)²', () => {
    const grads = [gaussian(60, 60), scaled(gaussian(60, 61), 3)];
    const opt = adaGO({ v0: 0.5 }) as TransformOptimizer;
    const v = tf.variable(tf.zeros([6, 10]), true, `adago_${uid++}/kernel`);
    for (const g of grads) {
      const gt = tf.tensor(g, [6, 10]);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      gt.dispose();
    }
    const shapes = opt.stateSlots.map((s) => `${s.path}:[${s.variable.shape.join(',')}]`);
    const scalars = opt.stateSlots.filter((s) => s.variable.rank === 0);
    assert.equal(scalars.length, 1, shapes.join(' '));
    assert.equal(opt.stateSlots.filter((s) => s.variable.size === 60).length, 1, shapes.join(' '));
    const want = 0.25 + grads.reduce((a, g) => a + Math.min(norm64(g), 10) ** 2, 0);
    const got = scalars[0].variable.dataSync()[0];
    assert.ok(Math.abs(got - want) <= 1e-6 * want, `v² = ${got}, want ${want}`);
    opt.dispose();
    v.dispose();
  });

  it('reads nothing back from the device during a step (nonFinite: ignore)', () => {
    const opt = adaGO({ nonFinite: 'ignore' });
    const v = tf.variable(tf.zeros([6, 10]), true, `adago_${uid++}/kernel`);
    const gt = tf.tensor(gaussian(60, 70), [6, 10]);
    opt.applyGradients([{ name: v.name, tensor: gt }]); // first step creates the state
    const backend = tf.backend() as unknown as { readSync: (id: unknown) => unknown; read: (id: unknown) => unknown };
    const [readSync, read] = [backend.readSync, backend.read];
    let reads = 0;
    backend.readSync = function (this: unknown, id: unknown) {
      reads++;
      return readSync.call(this, id);
    };
    backend.read = function (this: unknown, id: unknown) {
      reads++;
      return read.call(this, id);
    };
    try {
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
    } finally {
      backend.readSync = readSync;
      backend.read = read;
    }
    assert.equal(reads, 0);
    opt.dispose();
    tf.dispose([v, gt]);
  });

  it('a learning-rate schedule reaching 0 gives no step and no NaN', () => {
    const g = gaussian(60, 80);
    const { deltas } = run(adaGO({ learningRate: linear({ init: 0.05, end: 0, steps: 1 }) }), [6, 10], [g, g]);
    assert.ok(norm64(deltas[0]) > 0);
    assert.ok(deltas[1].every((d) => d === 0), 'η = 0 moved the weights');
  });
});

describe('adaGO options', () => {
  it('defaults: η 0.05, μ 0.95, no Nesterov, γ 10, ε 5e-4, v₀ 1e-6, 5 NS steps, no shape scale, wd 0', () => {
    const c = adaGO().getConfig();
    assert.deepEqual(
      [c.learningRate, c.momentum, c.nesterov, c.gamma, c.epsilon, c.v0, c.nsSteps, c.scaleRule, c.weightDecay],
      [0.05, 0.95, false, 10, 5e-4, 1e-6, 5, 'none', 0],
    );
  });

  it('rejects bad options with a RangeError naming optimizer, option, range and value', () => {
    assert.throws(() => adaGO({ momentum: 1.2 }), { name: 'RangeError', message: 'adaGO: momentum must be in [0, 1), got 1.2' });
    assert.throws(() => adaGO({ gamma: 0 }), { name: 'RangeError', message: 'adaGO: gamma must be in (0, inf), got 0' });
    assert.throws(() => adaGO({ v0: 0 }), { name: 'RangeError', message: 'adaGO: v0 must be in (0, inf), got 0' });
    assert.throws(() => adaGO({ epsilon: -1 }), { name: 'RangeError', message: 'adaGO: epsilon must be in [0, inf), got -1' });
    assert.throws(() => adaGO({ scaleRule: 'kernel' as never }), {
      name: 'RangeError', message: "adaGO: scaleRule must be one of 'none', 'jordan', 'moonlight', 'spectral', got 'kernel'",
    });
  });
});

describe('contracts on wasm', () => {
  before(async () => useBackend('wasm'));
  optimizerContract('adaGO', () => adaGO({ adamwLearningRate: 0.01 }));
  optimizerContract('adaGO (Nesterov, jordan scale, decay)', () =>
    adaGO({ nesterov: true, scaleRule: 'jordan', weightDecay: 0.01, adamwLearningRate: 0.01, exclude: ['dense_Dense3'] }), {
    zeroGradientKeepsWeights: false,
  });
});
