/**
 * AuON and Hybrid-AuON: golden replays of ryyzn9/AuON (cpu at the README's 1e-5; wasm reported and held
 * to the same tolerance), the cosh-RMS bound of spec §7.3, the paper form, option validation, and the
 * optimizer contract on wasm.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { goldenCases, goldenDir, type GoldenFile } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { auon, hybridAuon } from '../../src/tfjs/register.js';
import { coshRms, frobeniusNorm } from '../../src/transforms/auon.js';
import { newtonSchulz } from '../../src/linalg/newtonSchulz.js';
import type { ConvScaleChoice } from '../../src/optimizers/definition.js';

await useBackend('cpu');

const RTOL = 1e-5;
type Hp = Record<string, unknown>;

/** The golden classes optimize every tensor they are given (bias included): route all of them to AuON. */
function fromGolden(factory: typeof auon | typeof hybridAuon, convScale?: ConvScaleChoice) {
  return (g: GoldenFile): tf.Optimizer => {
    const hp = g.hyperparams as Hp;
    const common = {
      learningRate: hp.lr as number,
      momentum: hp.momentum as number,
      weightDecay: hp.weight_decay as number,
      gamma: hp.gamma as number,
      paramLabels: g.param_order!.map(() => 'matrix' as const),
    };
    if (factory === auon) return auon(common);
    return hybridAuon({ ...common, nsSteps: hp.ns_steps as number, convScale: convScale ?? 'torchKernel' });
  };
}

function haveGolden(t: { skip: (m: string) => void }): boolean {
  if (existsSync(goldenDir)) return true;
  const msg = `missing golden files at ${goldenDir}: set ORTHOPTIM_GOLDEN_DIR`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`auon / hybrid_auon golden replays on ${backend}`, () => {
    before(async () => useBackend(backend));
    for (const [method, make] of [
      ['auon', fromGolden(auon)],
      ['hybrid_auon', fromGolden(hybridAuon)],
    ] as const) {
      it(`${method}: every case within ${RTOL} of ryyzn9/AuON`, (t) => {
        if (!haveGolden(t)) return;
        const cases = goldenCases(method);
        assert.ok(cases.length >= (method === 'auon' ? 4 : 2), `golden cases for ${method}: ${cases.join(', ')}`);
        if (method === 'auon') assert.ok(cases.includes('auon__wd_g1e3'), 'the g1e3 case is replayed');
        const count = tf.memory().numTensors;
        for (const c of cases) {
          const r = replayGolden(c, make);
          t.diagnostic(`${backend} ${c}: max deviation ${r.maxDeviation.toExponential(2)}`);
          assert.ok(r.maxDeviation <= RTOL, `${c}: deviation ${r.maxDeviation} > ${RTOL} (per step ${r.perStep.join(', ')})`);
        }
        assert.equal(tf.memory().numTensors, count, 'replays leaked tensors');
      });
    }
  });
}

describe('auon: replay controls (cpu)', () => {
  before(async () => useBackend('cpu'));

  it("the conv rule matters: hybridAuon's flattened default misses the reference conv by far more than the tolerance", (t) => {
    if (!haveGolden(t)) return;
    const r = replayGolden('hybrid_auon__wd', fromGolden(hybridAuon, 'flattened'));
    assert.ok(r.maxDeviation > 1e-3, `expected a visible deviation, got ${r.maxDeviation}`);
  });

  it('the paper form is not the code form (g1e3: the code keeps the gradient magnitude)', (t) => {
    if (!haveGolden(t)) return;
    const r = replayGolden('auon__wd_g1e3', (g) => {
      const hp = g.hyperparams as Hp;
      return auon({
        form: 'paper', learningRate: hp.lr as number, momentum: hp.momentum as number,
        weightDecay: hp.weight_decay as number, paramLabels: g.param_order!.map(() => 'matrix' as const),
      });
    });
    assert.ok(r.maxDeviation > 0.1, `expected the paper form to move far less, got deviation ${r.maxDeviation}`);
  });
});

/** √mean(cosh(γ·gᵢ)²) in float64. */
function coshRms64(g: ArrayLike<number>, gamma: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += Math.cosh(gamma * g[i]) ** 2;
  return Math.sqrt(s / g.length);
}

function unitFrobenius(x: Float32Array): Float32Array {
  let s = 0;
  for (const v of x) s += v * v;
  const n = Math.sqrt(s);
  return Float32Array.from(x, (v) => v / n);
}

describe('the cosh-RMS brake (spec §7.3)', () => {
  before(async () => useBackend('cpu'));

  it('r lies in [cosh(γ/√N), √(1 + (cosh²γ − 1)/N)] for random unit-Frobenius inputs', () => {
    const shapes = [[4, 4], [10, 16], [64, 64], [3, 3, 8, 16], [7]];
    let seed = 1;
    for (const gamma of [0.5, 1, 1.5, 3]) {
      for (const shape of shapes) {
        for (const kind of ['gaussian', 'heavy'] as const) {
          const n = shape.reduce((a, b) => a * b, 1);
          const raw = gaussian(n, seed++);
          // heavy-tailed: cube the draws so a few entries dominate
          const x = unitFrobenius(kind === 'heavy' ? raw.map((v) => v * v * v) : raw);
          const r = tf.tidy(() => coshRms(tf.tensor(x, shape), gamma).dataSync()[0]);
          const lo = Math.cosh(gamma / Math.sqrt(n));
          const hi = Math.sqrt(1 + (Math.cosh(gamma) ** 2 - 1) / n);
          const want = coshRms64(x, gamma);
          assert.ok(Math.abs(r - want) <= 1e-6 * want, `γ ${gamma} [${shape.join(', ')}]: r ${r} vs float64 ${want}`);
          assert.ok(r >= lo * (1 - 1e-6) && r <= hi * (1 + 1e-6), `γ ${gamma} [${shape.join(', ')}] ${kind}: r ${r} outside [${lo}, ${hi}]`);
        }
      }
    }
  });

  it('the bounds are attained: equal magnitudes give the lower end, a single spike the upper end', () => {
    const gamma = 1.5;
    for (const [m, k] of [[8, 8], [10, 16], [64, 64]]) {
      const n = m * k;
      const signs = gaussian(n, n).map((v) => (v >= 0 ? 1 : -1) / Math.sqrt(n));
      const spike = new Float32Array(n);
      spike[5] = 1;
      const [rFlat, rSpike] = tf.tidy(() => [
        coshRms(tf.tensor(signs, [m, k]), gamma).dataSync()[0],
        coshRms(tf.tensor(spike, [m, k]), gamma).dataSync()[0],
      ]);
      const lo = Math.cosh(gamma / Math.sqrt(n));
      const hi = Math.sqrt(1 + (Math.cosh(gamma) ** 2 - 1) / n);
      assert.ok(Math.abs(rFlat - lo) <= 1e-6, `${m}×${k}: equal magnitudes r ${rFlat} vs ${lo}`);
      assert.ok(Math.abs(rSpike - hi) <= 1e-6, `${m}×${k}: spike r ${rSpike} vs ${hi}`);
    }
    // 64×64 at γ = 1.5: the brake is within 6e-4 of 1 (spec §7.3)
    assert.ok(Math.sqrt(1 + (Math.cosh(1.5) ** 2 - 1) / 4096) < 1.00056);
  });

  it('frobeniusNorm matches float64 on a 1024×1024 matrix (two-level sum)', () => {
    const x = gaussian(1024 * 1024, 3);
    let s = 0;
    for (const v of x) s += v * v;
    const want = Math.sqrt(s);
    const got = tf.tidy(() => frobeniusNorm(tf.tensor(x, [1024, 1024])).dataSync()[0]);
    assert.ok(Math.abs(got - want) <= 1e-6 * want, `‖x‖ ${got} vs ${want}`);
  });
});

/** One step of `opt` on a single matrix from `w`, returning Δw. */
function firstStepDelta(opt: tf.Optimizer, shape: number[], seed: number): { g: Float32Array; delta: Float32Array } {
  const n = shape.reduce((a, b) => a * b, 1);
  const w0 = gaussian(n, seed);
  const g = gaussian(n, seed + 1);
  const v = tf.variable(tf.tensor(w0, shape), true, `auon_first_${seed}_${Math.random().toString(36).slice(2)}`);
  const gt = tf.tensor(g, shape);
  opt.applyGradients([{ name: v.name, tensor: gt }]);
  const w1 = v.dataSync();
  const delta = Float32Array.from(w1, (x, i) => x - w0[i]);
  opt.dispose();
  tf.dispose([v, gt]);
  return { g, delta };
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

describe('auon forms, one step by hand (cpu)', () => {
  before(async () => useBackend('cpu'));
  const beta = 0.95;
  const lr = 0.1;

  it("code form: Δw = −η·U/(r + 1e-8) with U = (1−β)(1+β)G, r from γ·U/‖U‖ (γ 1.5)", () => {
    const { g, delta } = firstStepDelta(auon({ learningRate: lr }), [12, 7], 10);
    const u = Float32Array.from(g, (v) => (1 - beta) * (1 + beta) * v);
    let s = 0;
    for (const v of u) s += v * v;
    const r = coshRms64(u.map((v) => v / (Math.sqrt(s) + 1e-7)), 1.5);
    assertClose(delta, Array.from(u, (v) => (-lr * v) / (r + 1e-8)), 1e-5, 'code AuON');
  });

  it("paper form: Δw = −η·X/(r + 1e-8), X = U/(‖U‖ + 1e-7), r = √mean(cosh(X)²) (γ 1): a unit-norm step", () => {
    const { g, delta } = firstStepDelta(auon({ learningRate: lr, form: 'paper' }), [12, 7], 20);
    const u = Float32Array.from(g, (v) => (1 - beta) * (1 + beta) * v);
    let s = 0;
    for (const v of u) s += v * v;
    const x = u.map((v) => v / (Math.sqrt(s) + 1e-7));
    const r = coshRms64(x, 1);
    assertClose(delta, Array.from(x, (v) => (-lr * v) / (r + 1e-8)), 1e-5, 'paper AuON');
    let d = 0;
    for (const v of delta) d += v * v;
    assert.ok(Math.abs(Math.sqrt(d) - lr / r) < 1e-6, `‖Δw‖ = ${Math.sqrt(d)}, want η/r = ${lr / r}`);
  });

  it('paper hybrid: ONE Newton–Schulz step on the normalized momentum, then X/(r + 1e-8)', () => {
    const { g, delta } = firstStepDelta(hybridAuon({ learningRate: lr, form: 'paper' }), [12, 7], 30);
    const y = tf.tidy(() => {
      const u = tf.mul(tf.tensor(g, [12, 7]), (1 - beta) * (1 + beta));
      const x = tf.div(u, tf.add(frobeniusNorm(u), 1e-7));
      return newtonSchulz(x, { steps: 1 }).dataSync() as Float32Array;
    });
    const r = coshRms64(y, 1);
    assertClose(delta, Array.from(y, (v) => (-lr * v) / (r + 1e-8)), 1e-5, 'paper Hybrid-AuON');
    // and it is not the 5-step code form
    const five = tf.tidy(() => newtonSchulz(tf.tensor(g, [12, 7])).dataSync() as Float32Array);
    let diff = 0;
    for (let i = 0; i < five.length; i++) diff = Math.max(diff, Math.abs(five[i] * -lr - delta[i]));
    assert.ok(diff > 1e-3, 'paper hybrid equals NS5');
  });

  it('code hybrid on a flattened conv kernel: Δw = −η·NS₅(U)/(r + 1e-8) of the [kh·kw·in, out] matrix', () => {
    const shape = [3, 3, 2, 5];
    const { g, delta } = firstStepDelta(hybridAuon({ learningRate: lr }), shape, 40);
    const o = tf.tidy(() => newtonSchulz(tf.reshape(tf.tensor(g, shape), [18, 5])).dataSync() as Float32Array);
    let s = 0;
    for (const v of o) s += v * v;
    const r = coshRms64(o.map((v) => v / (Math.sqrt(s) + 1e-7)), 1.5);
    assertClose(delta, Array.from(o, (v) => (-lr * v) / (r + 1e-8)), 1e-5, 'code Hybrid-AuON conv');
  });

  it('weight decay multiplies the base learning rate and is decoupled: W(1 − ηλ) − η·update', () => {
    const plain = firstStepDelta(auon({ learningRate: lr }), [6, 4], 50).delta;
    const w0 = gaussian(24, 50);
    const decayed = firstStepDelta(auon({ learningRate: lr, weightDecay: 0.5 }), [6, 4], 50).delta;
    assertClose(decayed, Array.from(plain, (v, i) => v - lr * 0.5 * w0[i]), 1e-5, 'decay');
  });
});

describe('auon options', () => {
  it('defaults: the class (lr 0.24, β 0.95, wd 0, γ 1.5, Nesterov) and the training script’s AdamW', () => {
    const c = auon().getConfig();
    assert.equal(c.learningRate, 0.24);
    assert.equal(c.momentum, 0.95);
    assert.equal(c.weightDecay, 0);
    assert.equal(c.gamma, 1.5);
    assert.equal(c.nesterov, true);
    assert.equal(c.form, 'code');
    assert.equal(c.adamwLearningRate, 0.008);
    assert.equal(c.adamwBeta1, 0.8);
    const h = hybridAuon().getConfig();
    assert.equal(h.nsSteps, 5);
    assert.equal(h.convScale, 'flattened');
    const p = hybridAuon({ form: 'paper' }).getConfig();
    assert.equal(p.nsSteps, 1);
    assert.equal(p.gamma, 1);
  });

  it('rejects bad options with a RangeError naming optimizer, option, range and value', () => {
    assert.throws(() => auon({ momentum: 1 }), { name: 'RangeError', message: 'auon: momentum must be in [0, 1), got 1' });
    assert.throws(() => auon({ gamma: 0 }), { name: 'RangeError', message: 'auon: gamma must be in (0, 40], got 0' });
    assert.throws(() => auon({ gamma: 50 }), { name: 'RangeError', message: 'auon: gamma must be in (0, 40], got 50' });
    assert.throws(() => auon({ weightDecay: -1 }), { name: 'RangeError', message: 'auon: weightDecay must be in [0, inf), got -1' });
    assert.throws(() => auon({ form: 'Paper' as never }), {
      name: 'RangeError', message: "auon: form must be one of 'code', 'paper', got 'Paper'",
    });
    assert.throws(() => hybridAuon({ convScale: 'batched' as never }), {
      name: 'RangeError', message: "hybridAuon: convScale must be one of 'flattened', 'torchKernel', got 'batched'",
    });
    assert.throws(() => hybridAuon({ nsSteps: 1.5 }), /hybridAuon: nsSteps must be an integer in \[0, 100\], got 1.5/);
    assert.throws(() => auon({ nsSteps: 3 } as never), /auon: unknown option 'nsSteps'/);
  });
});

describe('contracts on wasm', () => {
  before(async () => useBackend('wasm'));
  optimizerContract('auon', () => auon({ adamwLearningRate: 0.01 }));
  optimizerContract('auon (paper form, decay)', () => auon({ form: 'paper', learningRate: 0.05, weightDecay: 0.01, adamwLearningRate: 0.01 }), {
    zeroGradientKeepsWeights: false,
  });
  optimizerContract('hybridAuon', () => hybridAuon({ learningRate: 0.05, adamwLearningRate: 0.01 }));
});
