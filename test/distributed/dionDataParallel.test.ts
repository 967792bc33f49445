/**
 * Data-parallel Dion (issue 17 item 4; src/transforms/dion.ts `dionStepsDataParallel`, the
 * `reducesOwnGradients` seam of src/core/transform.ts, src/tfjs/distributed.ts): under
 * `distributed(dion(…), comm)` each rank keeps its own momentum from its own gradient and only P and R
 * are all-reduced (microsoft/dion `dion_reference.py`, `compressed_all_reduce`).
 *
 * - which matrices are compressed: `powerIters·(m + n)·r < m·n`, closed forms; the seam through
 *   chain / partition / clipGlobalNorm / sharding;
 * - one rank: bit-identical to plain Dion (the same kernels), and the traffic per step counted by
 *   countingCommunicator equals the closed form (biases + one max per matrix + P's + R's + one flag);
 * - 2 and 3 worker threads over SharedCollective, 30 steps, ranks started from different values, each
 *   on its shard of a global batch of 12: parameters bit-identical across ranks, ≤ 1e-6 relative to
 *   one process on the whole batch; the mean of the ranks' (different) momenta is the one process's
 *   momentum; a NaN on one rank's gradient throws NonFiniteGradientError on every rank (or is skipped
 *   on every rank); powerIters 2 (one matrix no longer compressed: both paths in one step);
 *   synchronizeState (the reference's synchronize_for_checkpoint) averages exactly the local momenta.
 * The same over mpirun: test/distributed/mpi.test.ts.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SharedCollective, SyncWorker } from '../../src/engines/bridge.js';
import { countingCommunicator, singleRankCommunicator } from '../../src/linalg/communicator.js';
import { dionCompressesAllReduce, scaleByDion } from '../../src/transforms/dion.js';
import { chain, partition, identity } from '../../src/core/transform.js';
import { dion, muon } from '../../src/tfjs/register.js';
import { trainDion, type DionTrainOptions, type DionTrainResult } from './dionTrain.js';

type Params = Record<string, number[]>;

/** Largest over tensors of max|a − b| / max|b|. */
function relativeTo(a: Params, b: Params): number {
  let worst = 0;
  for (const name of Object.keys(b)) {
    assert.equal(a[name].length, b[name].length, name);
    let d = 0;
    let m = 0;
    b[name].forEach((v, i) => {
      d = Math.max(d, Math.abs(a[name][i] - v));
      m = Math.max(m, Math.abs(v));
    });
    worst = Math.max(worst, d / m);
  }
  return worst;
}

function acrossRanks(ranks: Params[]): number {
  let worst = 0;
  for (const name of Object.keys(ranks[0])) ranks[0][name].forEach((v, i) => ranks.forEach((p) => (worst = Math.max(worst, Math.abs(v - p[name][i])))));
  return worst;
}

const metas = [
  { name: 'k0', shape: [6, 16] },
  { name: 'b0', shape: [16] },
  { name: 'k1', shape: [16, 16] },
  { name: 'b1', shape: [16] },
  { name: 'k2', shape: [16, 3] },
  { name: 'b2', shape: [3] },
];

// Per step on dionTrain's MLP at rank ¼: biases 16 + 16 + 3; one max per matrix (3); P: 16×2 + 16×4 +
// 16×1; R: 6×2 + 16×4 + 3×1; the non-finite flag (1). The full gradient is 435 floats.
const FACTORS = 16 * 2 + 16 * 4 + 16 * 1 + (6 * 2 + 16 * 4 + 3 * 1);
const BYTES_PER_STEP = 4 * (35 + 3 + FACTORS + 1);

describe('which matrices data-parallel Dion compresses', () => {
  const o = { orientation: 'tall', rankFraction: 0.25, rankMultipleOf: 1, rank: null, powerIters: 1 } as const;

  it('powerIters·(m + n)·r < m·n, in closed form', () => {
    assert.equal(dionCompressesAllReduce([6, 8], o), true); // r 2: 28 < 48
    assert.equal(dionCompressesAllReduce([8, 3], o), true); // r 1: 11 < 24
    assert.equal(dionCompressesAllReduce([6, 8], { ...o, powerIters: 2 }), false); // 56 ≥ 48
    assert.equal(dionCompressesAllReduce([6, 8], { ...o, rankFraction: 1 }), false); // r 6: 84 ≥ 48
    assert.equal(dionCompressesAllReduce([4, 4], { ...o, rankFraction: 0.5 }), false); // r 2: 16 = 16, not fewer
    assert.equal(dionCompressesAllReduce([3, 3, 4, 8], o), true); // [36, 8], r 2: 88 < 288
    assert.equal(dionCompressesAllReduce([0, 5], o), false);
  });

  it("the seam: dion's matrices, not its biases; nothing under clipGlobalNorm, rank 1 (fraction), sharding, Muon; chain takes its first transform's answer", () => {
    const d = dion({ rankFraction: 0.25 }) as unknown as { reducesOwnGradients(m: typeof metas): boolean[] };
    assert.deepEqual(d.reducesOwnGradients(metas), [true, false, true, false, true, false]);
    const none = [false, false, false, false, false, false];
    for (const opt of [dion({ rankFraction: 0.25, clipGlobalNorm: 1 }), dion(), muon()]) {
      assert.deepEqual((opt as unknown as typeof d).reducesOwnGradients(metas), none);
    }
    const base = { mu: 0.95, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky', orientation: 'tall', rankFraction: 0.25, rankMultipleOf: 1, rank: null, seed: 0 } as const;
    const matrices = metas.filter((m) => m.shape.length === 2);
    assert.deepEqual(scaleByDion(base).reducesOwnGradients!(matrices), [true, true, true]);
    assert.equal('reducesOwnGradients' in scaleByDion({ ...base, sharding: { count: 2, axis: 'fanIn' } }), false);
    assert.deepEqual(chain(scaleByDion(base), identity()).reducesOwnGradients!(matrices), [true, true, true]);
    assert.equal('reducesOwnGradients' in chain(identity(), scaleByDion(base)), false);
    const p = partition({ d: scaleByDion(base), rest: identity() }, (m) => (m.shape.length === 2 ? 'd' : 'rest'));
    assert.deepEqual(p.reducesOwnGradients!(metas), [true, false, true, false, true, false]);
  });
});

describe('data-parallel Dion on one rank', () => {
  before(() => useBackend('cpu'));

  it('is plain Dion bit for bit, sends only the factors (closed-form bytes), and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const plain = trainDion(null, { steps: 6, tag: 'plain' });
    const one = trainDion(singleRankCommunicator(), { steps: 6, tag: 'one' });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(one.reduced, ['dion_k0', 'dion_k1', 'dion_k2']);
    assert.deepEqual(one.params, plain.params);
    assert.deepEqual(one.momentum, plain.momentum);
    // biases bucket, maxes, P's, R's, the non-finite flag: 5 all-reduces of 230 floats (vs 435 for the gradient)
    assert.deepEqual(one.traffic, { bytes: BYTES_PER_STEP, calls: 5, other: 0 });
    assert.equal(BYTES_PER_STEP, 920);
  });

  it('countingCommunicator counts calls and payload per collective and passes results through', () => {
    const c = countingCommunicator(singleRankCommunicator());
    assert.deepEqual(c.allReduce(Float32Array.of(1, 2, 3), 'mean'), Float32Array.of(1, 2, 3));
    c.allGather(Float32Array.of(1, 2));
    c.broadcast(new Float32Array(5));
    c.reduceScatter(new Float32Array(4));
    c.allToAll(new Float32Array(6));
    c.barrier();
    c.allGatherHash('abcd');
    assert.throws(() => c.allReduce(new Float32Array(2), 'min' as 'sum'), { name: 'RangeError' });
    const t = c.traffic();
    assert.deepEqual(t.calls, { allReduce: 2, allGather: 1, reduceScatter: 1, allToAll: 1, broadcast: 1, barrier: 1, allGatherHash: 1 });
    assert.deepEqual(t.bytes, { allReduce: 20, allGather: 8, reduceScatter: 16, allToAll: 24, broadcast: 20, barrier: 0, allGatherHash: 4 });
    c.reset();
    assert.equal(c.traffic().bytes.allReduce, 0);
    assert.equal(c.inner.kind, 'single');
  });
});

describe('data-parallel Dion over SharedCollective (worker threads)', () => {
  const workers = [0, 1, 2].map((r) => new SyncWorker(new URL('./dionTrain.worker.js', import.meta.url), { name: `rank ${r}`, timeoutMs: 120_000 }));
  after(() => Promise.all(workers.map((w) => w.terminate())));
  let reference: DionTrainResult;
  before(async () => {
    await useBackend('cpu');
    reference = trainDion(null, { steps: 30, tag: 'reference' });
  });

  let runs = 0;
  const run = (n: number, o: DionTrainOptions): DionTrainResult[] => {
    const options = { ...o, tag: `run${runs++}` };
    const buffers = SharedCollective.allocate(n, 4096);
    const ranks = workers.slice(0, n);
    ranks.forEach((w, rank) => w.post('train', [], { buffers, rank, options }));
    return ranks.map((w) => JSON.parse(String.fromCharCode(...Array.from(w.wait()[0]))) as DionTrainResult);
  };

  for (const n of [2, 3]) {
    it(`${n} ranks, 30 steps from different initial values: bit-identical across ranks, ≤ 1e-6 of one process; mean momentum = one process's`, (t) => {
      const ranks = run(n, { steps: 30 });
      ranks.forEach((r) => assert.equal(r.error, undefined, JSON.stringify(r.error)));
      assert.equal(acrossRanks(ranks.map((r) => r.params)), 0, 'max difference across ranks');
      const rel = relativeTo(ranks[0].params, reference.params);
      // each rank's momentum is its own …
      assert.ok(ranks[0].momentum[0].some((v, i) => v !== ranks[1].momentum[0][i]), 'the momenta are local');
      // … and their mean is the momentum of one process on the whole batch
      const mean: Params = {};
      reference.momentum.forEach((m, k) => (mean[k] = m.map((_, i) => ranks.reduce((a, r) => a + r.momentum[k][i], 0) / n)));
      const relMomentum = relativeTo(mean, Object.fromEntries(reference.momentum.map((m, k) => [k, m])));
      t.diagnostic(`dion DDP N=${n} (threads): across ranks 0, parameters vs one process ${rel.toExponential(2)}, mean momentum ${relMomentum.toExponential(2)}`);
      assert.ok(rel <= 1e-6, `relative difference ${rel}`);
      assert.ok(rel > 0, 'the sums reassociate: exactly 0 would mean the data was not sharded');
      assert.ok(relMomentum <= 1e-5, `mean momentum ${relMomentum}`);
      assert.deepEqual(ranks[0].traffic, { bytes: BYTES_PER_STEP, calls: 5, other: 0 });
    });
  }

  it('powerIters 2: [16, 16] is no longer compressed (2·32·4 = 256 floats = its gradient) and is averaged; the others stay local; ≤ 1e-6 of one process', (t) => {
    const one = trainDion(null, { steps: 20, powerIters: 2, tag: 'p2' });
    const ranks = run(2, { steps: 20, powerIters: 2 });
    ranks.forEach((r) => assert.equal(r.error, undefined, JSON.stringify(r.error)));
    assert.deepEqual(ranks[0].reduced, ['dion_k0', 'dion_k2']);
    assert.equal(acrossRanks(ranks.map((r) => r.params)), 0);
    const rel = relativeTo(ranks[0].params, one.params);
    t.diagnostic(`dion DDP powerIters 2, N=2: across ranks 0, vs one process ${rel.toExponential(2)}`);
    assert.ok(rel <= 1e-6 && rel > 0, `relative difference ${rel}`);
    // one bucket (b0, k1, b1, b2: 35 + 256), the maxes (2), per power iteration P (16·2 + 16·1) and R
    // (6·2 + 3·1), the flag: 7 all-reduces
    assert.deepEqual(ranks[0].traffic, { bytes: 4 * (35 + 256 + 2 + 2 * (48 + 15) + 1), calls: 7, other: 0 });
  });

  it('synchronizeState before step 15 of 30: averages exactly the Dion momenta; then every rank holds one state, ≈ one process\'s, and training on stays ≤ 1e-6 of one process', (t) => {
    const ranks = run(2, { steps: 30, syncAt: 15 });
    ranks.forEach((r) => assert.equal(r.error, undefined, JSON.stringify(r.error)));
    for (const r of ranks) assert.deepEqual(r.synced?.paths, ['matrix/0/momentum/0', 'matrix/0/momentum/1', 'matrix/0/momentum/2']);
    assert.deepEqual(ranks[0].synced!.momentum, ranks[1].synced!.momentum, 'the same momentum on every rank');
    const at15 = trainDion(null, { steps: 15, tag: 'at15' });
    const toOne = relativeTo(Object.fromEntries(ranks[0].synced!.momentum.map((m, k) => [k, m])), Object.fromEntries(at15.momentum.map((m, k) => [k, m])));
    assert.equal(acrossRanks(ranks.map((r) => r.params)), 0);
    const rel = relativeTo(ranks[0].params, reference.params);
    t.diagnostic(`synchronizeState N=2: synced momentum vs one process ${toOne.toExponential(2)}, final parameters ${rel.toExponential(2)}`);
    assert.ok(toOne <= 1e-5, `synced momentum ${toOne}`);
    assert.ok(rel <= 1e-6, `relative difference ${rel}`);
  });

  it("nonFinite 'skip': a NaN on one rank's local gradient is skipped on every rank; the ranks stay equal", () => {
    const ranks = run(2, { steps: 5, nanRank: 0, nanStep: 3, nonFinite: 'skip' });
    ranks.forEach((r) => assert.equal(r.error, undefined, JSON.stringify(r.error)));
    assert.deepEqual(ranks.map((r) => [r.iterations, r.skipped]), [[4, 1], [4, 1]]);
    assert.equal(acrossRanks(ranks.map((r) => r.params)), 0);
  });

  it('a NaN in one rank\'s local gradient: NonFiniteGradientError on every rank, parameters untouched and still equal', () => {
    const ranks = run(2, { steps: 4, nanRank: 1, nanStep: 2 });
    for (const r of ranks) {
      assert.equal(r.error?.name, 'NonFiniteGradientError');
      assert.match(r.error.message, /^dion: non-finite gradient \(NaN or Inf\) for 'dion_k0', 'dion_b0'/);
    }
    assert.equal(acrossRanks(ranks.map((r) => r.params)), 0);
  });
});
