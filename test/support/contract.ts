/**
 * The contract every orthoptim optimizer keeps, as a reusable test suite:
 * - `model.fit` on a small MLP lowers the loss by more than `lossRatio` (1.5×);
 * - no tensor leak over 200 `minimize` steps;
 * - the map form, the list form of `applyGradients` and `minimize` agree;
 * - a NaN/Inf gradient throws before anything is written; `nonFinite: 'skip'` skips and counts;
 * - an all-zero gradient never produces NaN (and leaves the weights alone without weight decay);
 * - a gradient of the wrong shape names the variable; the state stays bound to the first step's variables
 *   (another order, an int32 variable: refused before any write);
 * - getWeights → setWeights, a directory checkpoint, and model.save → tf.loadLayersModel all resume
 *   with identical next steps; the config survives `fromConfig(getConfig())`.
 * A loss-aware optimizer (`needsLoss`: alrSmag, polyakSgd) gets a loss with every `applyGradients` call
 * (`{ loss }`: a fixed positive number per step, or the value of `minimize`'s objective in the test that
 * compares them); `model.fit` and `minimize` hand it over themselves.
 *
 * Call `optimizerContract(name, make)` at the top level of a test file (after selecting a backend).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { blobs, maxDifference, mlp, weightValues } from './models.js';
import { gaussian } from './random.js';
import {
  optimizerFromConfig,
  NonFiniteGradientError,
  type TransformOptimizer,
} from '../../src/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/index.js';

export interface ContractOptions {
  /** Required ratio of first to last epoch loss in model.fit (default 1.5). */
  readonly lossRatio?: number;
  /** Epochs of model.fit (default 15, 4 batches each). */
  readonly epochs?: number;
  /**
   * Whether an all-zero gradient must leave the weights exactly unchanged (false for optimizers with a
   * default weight decay, or whose step does not vanish at zero gradient, e.g. a floored step size).
   */
  readonly zeroGradientKeepsWeights?: boolean;
  /** Maximum |difference| allowed between minimize and applyGradients (default 1e-6). */
  readonly minimizeTolerance?: number;
}

let uid = 0;

function variables(shapes: number[][], seed: number): tf.Variable[] {
  return shapes.map((s, i) =>
    tf.variable(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), true, `c${uid++}/w${i}`),
  );
}

function gradients(vars: tf.Variable[], seed: number): { name: string; tensor: tf.Tensor }[] {
  return vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(gaussian(v.size, seed * 100 + i), v.shape) }));
}

/** `applyGradients`' options: a loss for a loss-aware optimizer (none for the others, which ignore it). */
function lossFor(opt: TransformOptimizer, loss: number | tf.Tensor): { loss?: number | tf.Tensor } {
  return opt.needsLoss ? { loss } : {};
}

function step(opt: TransformOptimizer, vs: tf.Variable[], seed: number): void {
  const g = gradients(vs, seed);
  opt.applyGradients(g, lossFor(opt, 1 + seed));
  tf.dispose(g.map((x) => x.tensor));
}

function values(vs: tf.Variable[]): Float32Array[] {
  return vs.map((v) => v.dataSync() as Float32Array);
}

const SHAPES = [[6, 10], [10], [10, 3]];

/** Registers the contract suite for one optimizer. `make` builds it with the options under test. */
export function optimizerContract(
  name: string,
  make: () => TransformOptimizer,
  options: ContractOptions = {},
): void {
  const lossRatio = options.lossRatio ?? 1.5;
  const epochs = options.epochs ?? 15;
  describe(`${name}: the optimizer contract`, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), `orthoptim-${name}-`));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it(`trains a small MLP in model.fit: final loss < initial / ${lossRatio}`, async () => {
      const { x, y } = blobs();
      const model = mlp();
      const opt = make();
      model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
      const h = await model.fit(x, y, { epochs, batchSize: 64, shuffle: false, verbose: 0 });
      const loss = h.history.loss as number[];
      assert.ok(loss.every(Number.isFinite), `${name}: non-finite loss ${loss.join(', ')}`);
      assert.ok(loss[0] / loss[loss.length - 1] > lossRatio, `${name}: loss ${loss[0]} → ${loss[loss.length - 1]}`);
      assert.equal(opt.step, epochs * 4);
      model.dispose();
      opt.dispose();
      tf.dispose([x, y]);
    });

    it('leaks no tensors over 200 minimize steps', () => {
      const vars = variables([[6, 10], [10], [10, 3]], 1);
      const xin = tf.tensor2d(gaussian(16 * 6, 9), [16, 6]);
      const opt = make();
      const loss = () =>
        tf.tidy(() => {
          const h = tf.relu(tf.add(tf.matMul(xin, vars[0]), vars[1]));
          return tf.mean(tf.square(tf.matMul(h, vars[2])));
        }) as tf.Scalar;
      opt.minimize(loss, false, vars);
      const after1 = tf.memory().numTensors;
      for (let i = 0; i < 199; i++) opt.minimize(loss, false, vars);
      assert.equal(tf.memory().numTensors, after1, 'tensor count grew');
      assert.equal(opt.step, 200);
      for (const v of vars) assert.ok(v.dataSync().every(Number.isFinite), 'non-finite weights after 200 steps');
      opt.dispose();
      tf.dispose([...vars, xin]);
    });

    it('gives the same result with the map form, the list form and minimize', () => {
      const [va, vb, vc] = [variables(SHAPES, 2), variables(SHAPES, 2), variables(SHAPES, 2)];
      const [oa, ob, oc] = [make(), make(), make()];
      // a linear loss (plus a constant, which keeps it positive for the loss-aware optimizers)
      const linear = (vs: tf.Variable[], gs: { tensor: tf.Tensor }[]) => () =>
        tf.add(tf.addN(vs.map((v, i) => tf.sum(tf.mul(v, gs[i].tensor)))), 1000) as tf.Scalar;
      for (let s = 0; s < 3; s++) {
        const ga = gradients(va, s);
        const la = linear(va, ga)();
        oa.applyGradients(ga, lossFor(oa, la));
        const gb = gradients(vb, s);
        const lb = linear(vb, gb)();
        const map: tf.NamedTensorMap = {};
        gb.forEach((g) => (map[g.name] = g.tensor));
        ob.applyGradients(map, lossFor(ob, lb));
        const gc = gradients(vc, s);
        oc.minimize(linear(vc, gc), false, vc);
        tf.dispose([la, lb, ...[...ga, ...gb, ...gc].map((g) => g.tensor)]);
      }
      va.forEach((v, i) => {
        assert.deepEqual(vb[i].dataSync(), v.dataSync());
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(vc[i], v))).dataSync()[0]);
        assert.ok(d <= (options.minimizeTolerance ?? 1e-6), `minimize differs by ${d}`);
      });
      [oa, ob, oc].forEach((o) => o.dispose());
      tf.dispose([...va, ...vb, ...vc]);
    });

    it('a NaN or Inf gradient throws before anything is written; nonFinite: skip skips and counts', () => {
      const vars = variables([[4, 6], [6]], 3);
      const opt = make();
      step(opt, vars, 0);
      const params = values(vars).map((a) => a.slice());
      const state = opt.stateSlots.map((s) => s.variable.dataSync().slice());
      const bad = gradients(vars, 1);
      const nan = tf.tidy(() => tf.concat([tf.tensor1d([Number.NaN]), tf.slice(bad[1].tensor, [1], [5])]));
      assert.throws(
        () => opt.applyGradients([bad[0], { name: bad[1].name, tensor: nan }], lossFor(opt, 2)),
        (e: unknown) => e instanceof NonFiniteGradientError && e.params.includes(vars[1].name),
      );
      vars.forEach((v, i) => assert.deepEqual(v.dataSync(), params[i]));
      opt.stateSlots.forEach((s, i) => assert.deepEqual(s.variable.dataSync(), state[i]));
      assert.equal(opt.step, 1);

      const skipper = optimizerFromConfig(opt.name, { ...(opt.getConfig() as object), nonFinite: 'skip' });
      const inf = bad.map((g) => ({ name: g.name, tensor: tf.tidy(() => tf.mul(g.tensor, Infinity)) }));
      skipper.applyGradients(inf, lossFor(skipper, 2));
      assert.equal(skipper.skippedSteps, 1);
      assert.equal(skipper.step, 0);
      vars.forEach((v, i) => assert.deepEqual(v.dataSync(), params[i]));
      tf.dispose([nan, ...bad.map((g) => g.tensor), ...inf.map((g) => g.tensor)]);
      [opt, skipper].forEach((o) => o.dispose());
      tf.dispose(vars);
    });

    it('an all-zero gradient never gives NaN, also for 1×n, n×1 and 1×1 matrices', () => {
      const vars = variables([[4, 6], [6], [1, 5], [5, 1], [1, 1]], 4);
      const before = values(vars).map((a) => a.slice());
      const opt = make();
      const zeros = vars.map((v) => ({ name: v.name, tensor: tf.zerosLike(v) }));
      opt.applyGradients(zeros, lossFor(opt, 1));
      opt.applyGradients(zeros, lossFor(opt, 1));
      vars.forEach((v, i) => {
        const now = v.dataSync();
        assert.ok(now.every(Number.isFinite), `non-finite after zero gradients: ${v.name}`);
        if (options.zeroGradientKeepsWeights ?? true) assert.deepEqual(now, before[i]);
      });
      // and real gradients on thin matrices give finite, non-zero updates
      step(opt, vars, 7);
      vars.forEach((v) => assert.ok(v.dataSync().every(Number.isFinite), `non-finite update of ${v.name}`));
      opt.dispose();
      tf.dispose([...vars, ...zeros.map((z) => z.tensor)]);
    });

    it('rejects a gradient of the wrong shape, naming the variable', () => {
      const vars = variables([[4, 6]], 5);
      const opt = make();
      const g = tf.ones([6, 4]);
      assert.throws(() => opt.applyGradients([{ name: vars[0].name, tensor: g }], lossFor(opt, 1)), (e: unknown) =>
        (e as Error).message.includes(`the gradient for '${vars[0].name}' has shape [6, 4], but the variable has shape [4, 6]`),
      );
      assert.equal(opt.step, 0);
      opt.dispose();
      tf.dispose([g, ...vars]);
    });

    it('binds its state to the first step\'s variables: another order or an int32 variable is refused before any write', () => {
      const vars = variables([[4, 6], [4, 6], [6]], 6);
      const opt = make();
      step(opt, vars, 0);
      const params = values(vars).map((a) => a.slice());
      const state = opt.stateSlots.map((s) => s.variable.dataSync().slice());
      const g = gradients(vars, 1);
      assert.throws(
        () => opt.applyGradients([g[1], g[0], g[2]], lossFor(opt, 2)),
        (e: unknown) => (e as Error).message.includes(`parameter 0 is '${vars[1].name}', but the optimizer state at position 0 belongs to '${vars[0].name}'`),
      );
      vars.forEach((v, i) => assert.deepEqual(v.dataSync(), params[i]));
      opt.stateSlots.forEach((s, i) => assert.deepEqual(s.variable.dataSync(), state[i]));
      assert.equal(opt.step, 1);
      const counter = tf.variable(tf.zeros([6], 'int32'), true, `c${uid++}/int`);
      const ones = tf.ones([6]);
      const fresh = make();
      assert.throws(
        () => fresh.applyGradients([g[0], { name: counter.name, tensor: ones }], lossFor(fresh, 1)),
        (e: unknown) => e instanceof TypeError && e.message.includes(`variable '${counter.name}' has dtype int32`),
      );
      assert.deepEqual(vars[0].dataSync(), params[0]);
      assert.equal(fresh.stateSlots.length, 0);
      assert.equal(fresh.step, 0);
      [opt, fresh].forEach((o) => o.dispose());
      tf.dispose([...vars, counter, ones, ...g.map((x) => x.tensor)]);
    });

    it('getWeights → a fresh optimizer → setWeights resumes identically', async () => {
      const a = variables(SHAPES, 11);
      const b = variables(SHAPES, 11);
      const oa = make();
      for (let s = 0; s < 3; s++) step(oa, a, s);
      b.forEach((v, i) => v.assign(a[i]));
      const ob = make();
      await ob.setWeights(await oa.getWeights());
      assert.equal(ob.step, 3);
      for (let s = 3; s < 6; s++) {
        step(oa, a, s);
        step(ob, b, s);
      }
      assert.equal(maxDifference(values(a), values(b)), 0);
      [oa, ob].forEach((o) => o.dispose());
      tf.dispose([...a, ...b]);
    });

    it('a directory checkpoint resumes identically and leaves no tensors behind', async () => {
      const a = variables(SHAPES, 12);
      const b = variables(SHAPES, 12);
      const oa = make();
      for (let s = 0; s < 4; s++) step(oa, a, s);
      const ck = join(dir, 'resume');
      await saveCheckpoint(oa, ck);
      b.forEach((v, i) => v.assign(a[i]));
      const count = tf.memory().numTensors;
      const ob = make();
      const report = await loadCheckpoint(ob, ck);
      assert.equal(report.step, 4);
      assert.deepEqual(report.configDifferences, []);
      for (let s = 4; s < 7; s++) {
        step(oa, a, s);
        step(ob, b, s);
      }
      assert.equal(maxDifference(values(a), values(b)), 0);
      ob.dispose();
      assert.equal(tf.memory().numTensors, count);
      oa.dispose();
      tf.dispose([...a, ...b]);
    });

    it('model.save({includeOptimizer: true}) → tf.loadLayersModel continues identically', async () => {
      const { x, y } = blobs(3);
      const model = mlp(3);
      const opt = make();
      model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
      await model.fit(x, y, { epochs: 2, batchSize: 64, shuffle: false, verbose: 0 });
      let saved: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler((artifacts) => {
          saved = artifacts;
          return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
        }),
        { includeOptimizer: true },
      );
      const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      const ropt = reloaded.optimizer as TransformOptimizer;
      assert.equal(ropt.getClassName(), opt.getClassName());
      assert.deepEqual(ropt.getConfig(), opt.getConfig());
      assert.equal(ropt.step, opt.step);
      await model.fit(x, y, { epochs: 2, batchSize: 64, shuffle: false, verbose: 0 });
      await reloaded.fit(x, y, { epochs: 2, batchSize: 64, shuffle: false, verbose: 0 });
      assert.equal(maxDifference(weightValues(model), weightValues(reloaded)), 0);
      model.dispose();
      reloaded.dispose();
      opt.dispose();
      ropt.dispose();
      tf.dispose([x, y]);
    });

    it('the config round-trips through optimizerFromConfig(name, getConfig())', () => {
      const opt = make();
      const again = optimizerFromConfig(opt.name, opt.getConfig() as object);
      assert.deepEqual(again.getConfig(), opt.getConfig());
      opt.dispose();
      again.dispose();
    });
  });
}
