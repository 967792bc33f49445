/**
 * The in-process Communicators (src/linalg/communicator.ts): the single rank, the shared-memory one
 * between worker threads (SharedCollective, src/engines/bridge.ts) on program.ts's sequence of
 * collectives with closed-form results, argument checks (named errors), the deadline, and the tensor
 * ShardGroup over a communicator. Fixture: ./program.worker.ts.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SharedCollective, SyncWorker } from '../../src/engines/bridge.js';
import {
  inProcessCollective,
  shardGroup,
  singleRankCommunicator,
  type Communicator,
} from '../../src/linalg/communicator.js';
import { scaleByDion } from '../../src/transforms/dion.js';
import { expectedProgram, runProgram } from './program.js';

const WORKER = new URL('./program.worker.js', import.meta.url);
const text = (a: Float32Array) => String.fromCharCode(...Array.from(a));

describe('singleRankCommunicator', () => {
  it('runs the program with the results of rank 0 of 1, and hands back copies', () => {
    const c = singleRankCommunicator();
    assert.deepEqual([c.rank, c.size, c.kind], [0, 1, 'single']);
    assert.deepEqual(runProgram(c), expectedProgram(0, 1));
    const x = Float32Array.of(1, 2);
    const y = c.allReduce(x, 'mean');
    y[0] = 7;
    assert.deepEqual(x, Float32Array.of(1, 2));
    assert.notEqual(c.broadcast(x), x);
  });

  it('refuses bad arguments by name, as every implementation does', () => {
    const c = singleRankCommunicator();
    assert.throws(() => c.allReduce(new Float64Array(2) as unknown as Float32Array), {
      name: 'TypeError',
      message: 'allReduce: data must be a Float32Array, got Float64Array',
    });
    assert.throws(() => c.allReduce(new Float32Array(2), 'min' as 'sum'), {
      name: 'RangeError',
      message: 'allReduce: op must be one of sum, mean, max, got min',
    });
    assert.throws(() => c.reduceScatter(new Float32Array(3), [2]), {
      name: 'RangeError',
      message: 'reduceScatter: counts sum to 2, data has 3 floats',
    });
    assert.throws(() => c.allToAll(new Float32Array(3), [1, 2]), {
      name: 'RangeError',
      message: 'allToAll: counts must list 1 non-negative integers, got [1,2]',
    });
    assert.throws(() => c.broadcast(new Float32Array(1), 1), {
      name: 'RangeError',
      message: 'broadcast: root must be an integer in [0, 0], got 1',
    });
    assert.throws(() => c.allGatherHash('x'.repeat(65)), { name: 'RangeError', message: /at most 64 characters/ });
    assert.throws(() => c.allGatherHash('é'), { name: 'RangeError', message: /printable ASCII/ });
  });
});

describe('SharedCollective is the shared-memory Communicator (3 worker threads)', () => {
  const ranks = [0, 1, 2].map((r) => new SyncWorker(WORKER, { name: `rank ${r}`, timeoutMs: 30_000 }));
  after(() => Promise.all(ranks.map((w) => w.terminate())));

  it('every rank gets the closed-form results of the program', () => {
    const buffers = SharedCollective.allocate(3, 128);
    ranks.forEach((w, rank) => w.post('program', [], { buffers, rank }));
    ranks.forEach((w, rank) => assert.deepEqual(w.wait(), expectedProgram(rank, 3), `rank ${rank}`));
  });

  it('a rank that never arrives makes the others throw CommunicatorTimeoutError at the deadline', () => {
    const buffers = SharedCollective.allocate(3, 128);
    const t = performance.now();
    ranks.forEach((w, rank) => w.post('program', [], { buffers, rank, stall: 1 }));
    const outs = ranks.map((w) => w.wait());
    assert.ok(performance.now() - t < 10_000, 'within the 2 s deadline (+ start-up)');
    assert.deepEqual(outs[1], []);
    const errors = [outs[0], outs[2]].map((o) => text(o[0]));
    // one rank times out, the other sees the abort it sends
    assert.ok(errors.includes('CommunicatorTimeoutError: collective barrier timed out after 2000 ms'), errors.join(' | '));
    for (const e of errors) assert.match(e, /^(CommunicatorTimeoutError: collective barrier timed out after 2000 ms|Error: collective aborted by another thread)$/);
  });

  it('a Communicator of one rank needs no other thread', () => {
    const c: Communicator = new SharedCollective(SharedCollective.allocate(1, 128), 0);
    assert.deepEqual(runProgram(c), expectedProgram(0, 1));
  });
});

describe('shardGroup: tensor shards over a communicator', () => {
  before(() => useBackend('cpu'));

  it('three shards in this process: shard-order sums, mean over all shards, max, gather along an axis', () => {
    const g = shardGroup(singleRankCommunicator(), 3);
    assert.deepEqual([g.size, g.localShards, g.communicator.kind], [3, 3, 'single']);
    tf.tidy(() => {
      const ts = [tf.tensor1d([1, 2]), tf.tensor1d([3, -4]), tf.tensor1d([0.5, 8])];
      const sum = g.allReduce(ts);
      assert.equal(sum.length, 3);
      assert.equal(sum[0], sum[2], 'one result tensor for every shard');
      assert.deepEqual(sum[0].dataSync(), Float32Array.of(4.5, 6));
      assert.deepEqual(g.allReduce(ts, 'mean')[1].dataSync(), Float32Array.of(1.5, 2));
      assert.deepEqual(g.allReduce(ts, 'max')[0].dataSync(), Float32Array.of(3, 8));
      const ms = [tf.tensor2d([[1], [2]]), tf.tensor2d([[3, 4], [5, 6]]), tf.tensor2d([[7], [8]])];
      assert.deepEqual(g.allGather(ms, 1)[0].arraySync(), [[1, 3, 4, 7], [2, 5, 6, 8]]);
    });
  });

  it('inProcessCollective(n) is that group; refusals name the count', () => {
    const g = inProcessCollective(2);
    assert.deepEqual([g.size, g.localShards, g.communicator.size], [2, 2, 1]);
    assert.throws(() => inProcessCollective(0), { name: 'RangeError', message: 'inProcessCollective: size must be a positive integer, got 0' });
    assert.throws(() => shardGroup(singleRankCommunicator(), 1.5), { name: 'RangeError', message: 'shardGroup: localShards must be a positive integer, got 1.5' });
    tf.tidy(() => {
      assert.throws(() => g.allReduce([tf.scalar(1)]), { name: 'RangeError', message: 'allReduce: expected one tensor per shard (2), got 1' });
      assert.throws(() => g.allReduce([tf.zeros([2]), tf.zeros([3])]), { name: 'RangeError', message: 'allReduce: shard 1 has shape [3], shard 0 has [2]' });
    });
  });

  it('leaves no tensor behind inside tf.tidy', () => {
    const g = shardGroup(singleRankCommunicator(), 2);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      g.allGather([tf.ones([2, 2]), tf.ones([2, 1])], 1);
      g.allReduce([tf.ones([2]), tf.ones([2])], 'mean');
    });
    assert.equal(tf.memory().numTensors, before);
  });
});

describe("scaleByDion's sharding over a communicator", () => {
  it('refuses a shard count that is not a multiple of the ranks, and a shard group of the wrong size', () => {
    const two = { ...singleRankCommunicator(), size: 2, kind: 'fake' } as Communicator;
    const o = { mu: 0.9, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky', orientation: 'tall', rankFraction: 0.5, rankMultipleOf: 1, rank: null, seed: 1 } as const;
    assert.throws(() => scaleByDion({ ...o, owner: 'd', sharding: { count: 3, axis: 'fanIn', communicator: two } }), {
      name: 'RangeError',
      message: "d: sharding.count must be a positive multiple of the communicator's 2 ranks, got 3",
    });
    assert.throws(() => scaleByDion({ ...o, sharding: { count: 4, axis: 'fanIn', collective: shardGroup(two, 1) } }), {
      name: 'RangeError',
      message: 'dion: sharding.collective has size 2, sharding.count is 4',
    });
    assert.doesNotThrow(() => scaleByDion({ ...o, sharding: { count: 4, axis: 'fanIn', communicator: two } }));
  });
});
