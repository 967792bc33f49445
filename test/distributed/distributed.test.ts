/**
 * distributed() (src/tfjs/distributed.ts) in one process: the bucket layout, the single rank being the
 * plain optimizer bit for bit, the all-reduces per step (one per bucket, lengths = bucket sizes) on a
 * two-rank communicator whose other rank mirrors this one, the start-up checks (parameters, optimizer,
 * initial values) and their named errors, argument checks, and no leaked tensors. The MPI runs are in
 * mpi.test.ts.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { adamw, polyakSgd } from '../../src/tfjs/register.js';
import { DEFAULT_BUCKET_BYTES, DistributedMismatchError, distributed, gradientBuckets } from '../../src/tfjs/distributed.js';
import { divideInPlace, singleRankCommunicator, type Communicator, type ReduceOp } from '../../src/linalg/communicator.js';
import { gaussian } from '../support/random.js';

before(() => useBackend('cpu'));

interface Call {
  fn: string;
  length: number;
}

/**
 * Rank 0 of 2 whose peer sends exactly what this rank sends (so a mean is the identity), except a
 * start-up hash (`peerHash`) or the root's parameter values (`rootValues`) when given.
 */
function mirror(options: { peerHash?: (h: string) => string; rootValues?: (d: Float32Array) => Float32Array } = {}): Communicator & { calls: Call[] } {
  const calls: Call[] = [];
  const single = singleRankCommunicator();
  return {
    rank: 0,
    size: 2,
    kind: 'mirror',
    calls,
    allReduce(data: Float32Array, op: ReduceOp = 'sum') {
      calls.push({ fn: `allReduce:${op}`, length: data.length });
      if (op === 'max') return data.slice();
      const sum = Float32Array.from(data, (v) => 2 * v);
      return op === 'mean' ? divideInPlace(sum, 2) : sum;
    },
    allGather: (d, c) => single.allGather(d, c),
    reduceScatter: (d, c, op) => single.reduceScatter(d, c, op),
    allToAll: (d, c) => single.allToAll(d, c),
    broadcast(data: Float32Array) {
      calls.push({ fn: 'broadcast', length: data.length });
      return options.rootValues ? options.rootValues(data) : data.slice();
    },
    barrier() {},
    allGatherHash(hash: string) {
      calls.push({ fn: 'allGatherHash', length: hash.length });
      return [hash, options.peerHash ? options.peerHash(hash) : hash];
    },
  };
}

/** A 6 → 8 → 3 tanh MLP as plain variables (48 + 8 + 24 + 3 floats), and its loss on fixed data. */
function mlp(seed: number, tag = `mlp${seed}`) {
  const shapes = [[6, 8], [8], [8, 3], [3]];
  const vars = shapes.map((s, i) =>
    tf.tidy(() => tf.variable(tf.mul(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), seed + i), s), 0.3), true, `${tag}_${i}`)),
  );
  const x = tf.tensor2d(gaussian(12 * 6, 90), [12, 6]);
  const y = tf.tensor2d(gaussian(12 * 3, 91), [12, 3]);
  const loss = () =>
    tf.tidy(() => {
      const h = tf.tanh(tf.add(tf.matMul(x, vars[0]), vars[1]));
      return tf.losses.meanSquaredError(y, tf.add(tf.matMul(h, vars[2]), vars[3])) as tf.Scalar;
    });
  return { vars, loss, dispose: () => tf.dispose([...vars, x, y]) };
}

describe('gradientBuckets', () => {
  it('packs consecutive tensors up to the byte limit; a larger tensor is a bucket of its own', () => {
    assert.deepEqual(gradientBuckets([10, 10, 10], 80), [[0, 1], [2]]);
    assert.deepEqual(gradientBuckets([30, 1, 1], 80), [[0], [1, 2]]);
    assert.deepEqual(gradientBuckets([48, 8, 24, 3], 100), [[0], [1], [2], [3]]);
    assert.deepEqual(gradientBuckets([48, 8, 24, 3], 400), [[0, 1, 2, 3]]);
    assert.deepEqual(gradientBuckets([0, 5, 0], 20), [[0, 1, 2]]);
    assert.deepEqual(gradientBuckets([], 4), []);
    assert.equal(DEFAULT_BUCKET_BYTES, 26_214_400);
  });

  it('refuses a bad limit or size by name', () => {
    assert.throws(() => gradientBuckets([1], 0), { name: 'RangeError', message: 'distributed: bucketBytes must be a positive integer, got 0' });
    assert.throws(() => gradientBuckets([1, -2], 8), { name: 'RangeError', message: 'gradientBuckets: size 1 must be a non-negative integer, got -2' });
  });
});

describe('distributed() in one process', () => {
  it('over the single rank it is the plain optimizer, bit for bit, and leaks nothing per step', () => {
    const a = mlp(1, 'plain1');
    const b = mlp(1, 'wrapped1');
    const start = a.vars[0].dataSync().slice();
    const plain = adamw({ learningRate: 1e-2, weightDecay: 0.1 });
    const wrapped = distributed(adamw({ learningRate: 1e-2, weightDecay: 0.1 }), singleRankCommunicator());
    let before = 0;
    for (let step = 0; step < 6; step++) {
      if (step === 2) before = tf.memory().numTensors;
      plain.minimize(a.loss, false, a.vars);
      wrapped.minimize(b.loss, false, b.vars);
    }
    assert.equal(tf.memory().numTensors, before, 'no tensor left per step');
    a.vars.forEach((v, i) => assert.deepEqual(b.vars[i].dataSync(), v.dataSync(), `parameter ${i}`));
    assert.equal(wrapped.iterations, 6);
    assert.equal(wrapped.getClassName(), plain.getClassName());
    assert.deepEqual(wrapped.getConfig(), plain.getConfig());
    assert.ok(a.vars[0].dataSync().some((v, i) => v !== start[i]), 'the parameters moved');
    a.dispose();
    b.dispose();
  });

  it("wraps a tfjs optimizer too (tf.train.sgd): the averaged gradients go to its applyGradients", () => {
    const a = mlp(7, 'tfsgd_a');
    const b = mlp(7, 'tfsgd_b');
    const plain = tf.train.sgd(0.1);
    const wrapped = distributed(tf.train.sgd(0.1), mirror());
    for (let step = 0; step < 3; step++) {
      plain.minimize(a.loss, false, a.vars);
      wrapped.minimize(b.loss, false, b.vars);
    }
    a.vars.forEach((v, i) => assert.deepEqual(b.vars[i].dataSync(), v.dataSync(), `parameter ${i}`));
    assert.equal(wrapped.getClassName(), 'SGD');
    a.dispose();
    b.dispose();
  });

  it('one all-reduce (mean) per bucket per step, of the bucket sizes; the start-up hash and broadcast once', () => {
    const m = mlp(2);
    const comm = mirror();
    const opt = distributed(adamw({ learningRate: 1e-2 }), comm, { bucketBytes: 100 });
    for (let step = 0; step < 3; step++) opt.minimize(m.loss, false, m.vars);
    assert.deepEqual(opt.bucketLayout, [[0], [1], [2], [3]]);
    const sizes = [48, 8, 24, 3];
    assert.deepEqual(comm.calls, [
      { fn: 'allGatherHash', length: 34 },
      ...sizes.map((length) => ({ fn: 'broadcast', length })),
      ...[0, 1, 2].flatMap(() => sizes.map((length) => ({ fn: 'allReduce:mean', length }))),
    ]);
    // the peer mirrors this rank: the mean is the identity, so the step is the plain optimizer's
    const ref = mlp(2, 'ref2');
    const plain = adamw({ learningRate: 1e-2 });
    for (let step = 0; step < 3; step++) plain.minimize(ref.loss, false, ref.vars);
    ref.vars.forEach((v, i) => assert.deepEqual(m.vars[i].dataSync(), v.dataSync()));
    m.dispose();
    ref.dispose();
  });

  it("a loss-aware optimizer's loss is averaged too (one more scalar all-reduce)", () => {
    const m = mlp(3);
    const comm = mirror();
    const opt = distributed(polyakSgd({}), comm);
    opt.minimize(m.loss, false, m.vars);
    assert.deepEqual(comm.calls.slice(-2), [
      { fn: 'allReduce:mean', length: 83 },
      { fn: 'allReduce:mean', length: 1 },
    ]);
    m.dispose();
  });

  it('a rank with other parameters or settings fails the start with DistributedMismatchError, before any write', () => {
    const m = mlp(4);
    const start = m.vars.map((v) => v.dataSync().slice());
    const flip = (part: 0 | 1) => (h: string) => h.slice(0, 1 + 17 * part) + (h[1 + 17 * part] === '0' ? '1' : '0') + h.slice(2 + 17 * part);
    assert.throws(() => distributed(adamw({}), mirror({ peerHash: flip(0) })).minimize(m.loss, false, m.vars), (e: unknown) => {
      assert.ok(e instanceof DistributedMismatchError);
      assert.deepEqual([e.name, e.what, e.ranks], ['DistributedMismatchError', 'parameters', [1]]);
      assert.equal(
        e.message,
        'distributed: the ranks train different parameters: rank 1 differs from rank 0 (names, shapes, dtypes and order must match; ' +
          'this is rank 0 of 2, with 4: mlp4_0:float32[6,8], mlp4_1:float32[8], mlp4_2:float32[8,3], mlp4_3:float32[3])',
      );
      return true;
    });
    assert.throws(() => distributed(adamw({ learningRate: 0.5 }), mirror({ peerHash: flip(1) })).minimize(m.loss, false, m.vars), (e: unknown) => {
      assert.ok(e instanceof DistributedMismatchError);
      assert.deepEqual([e.what, e.ranks], ['optimizer', [1]]);
      assert.match(e.message, /^distributed: the ranks run different optimizer settings: rank 1 differs from rank 0 \(this is rank 0 of 2, with orthoptim\.AdamW \{.*"learningRate":0\.5.*\} bucketBytes=26214400 root=0\)$/);
      return true;
    });
    m.vars.forEach((v, i) => assert.deepEqual(v.dataSync(), start[i], 'nothing written'));
    m.dispose();
  });

  it("applyGradients at values other than the root's: refused once (the root's values are then in place), then it trains", () => {
    const m = mlp(5);
    const rootValues = (d: Float32Array) => Float32Array.from(d, (v) => v + 1);
    const opt = distributed(adamw({ learningRate: 1e-2 }), mirror({ rootValues }));
    const before = m.vars.map((v) => v.dataSync().slice());
    const step = () => {
      const { grads, value } = tf.variableGrads(m.loss, m.vars);
      try {
        opt.applyGradients(grads);
      } finally {
        tf.dispose([value, ...Object.values(grads)]);
      }
    };
    assert.throws(step, (e: unknown) => {
      assert.ok(e instanceof DistributedMismatchError);
      assert.equal(e.what, 'parameter values');
      assert.equal(
        e.message,
        "distributed: the ranks computed their first gradients at different parameter values; rank 0's values are now everywhere: " +
          'call broadcastParameters(variables) before the first gradient (minimize and model.fit do), then recompute the gradients (this is rank 0 of 2)',
      );
      return true;
    });
    m.vars.forEach((v, i) => assert.deepEqual(v.dataSync(), Float32Array.from(before[i], (x) => x + 1)));
    assert.equal(opt.iterations, 0);
    step();
    assert.equal(opt.iterations, 1);
    m.dispose();
  });

  it('refuses bad arguments and a changed gradient list by name', () => {
    const comm = singleRankCommunicator();
    assert.throws(() => distributed({} as tf.Optimizer, comm), { name: 'TypeError', message: 'distributed: optimizer must be a tf.Optimizer, got object' });
    assert.throws(() => distributed(adamw({}), {} as Communicator), { name: 'TypeError', message: /comm must be a Communicator/ });
    assert.throws(() => distributed(adamw({}), comm, { bucketBytes: 0.5 }), { name: 'RangeError', message: 'distributed: bucketBytes must be a positive integer, got 0.5' });
    assert.throws(() => distributed(adamw({}), comm, { root: 1 }), { name: 'RangeError', message: 'distributed: root must be an integer in [0, 0], got 1' });
    const m = mlp(6);
    const opt = distributed(adamw({}), comm);
    opt.minimize(m.loss, false, m.vars);
    assert.throws(() => opt.minimize(m.loss, false, m.vars.slice(1)), {
      name: 'Error',
      message: 'distributed: the gradients must name the same variables in the same order every step (started with mlp6_0, mlp6_1, mlp6_2, mlp6_3; got mlp6_1, mlp6_2, mlp6_3)',
    });
    assert.throws(() => opt.applyGradients({ nowhere: tf.scalar(1) }), { name: 'Error', message: "distributed: no variable named 'nowhere' is registered" });
    m.dispose();
  });
});
