/**
 * distributed(optimizer, comm, { shardOptimizerState: true }) (src/tfjs/distributed.ts, issue 17 item 3):
 * ZeRO-1 — each rank steps only the parameters shardAssignment gives it, then the new values are
 * all-gathered.
 *
 * In one process: the assignment (hand-worked LPT example, Graham's bound on random shapes, a pure
 * function of the shapes), one rank = the plain optimizer bit for bit, refusals (global-norm clip,
 * loss-aware, bad option), the shard checkpoint's named errors with nothing written, non-finite
 * gradients refused before any write, no leaks.
 *
 * Over mpirun (fixtures/sharded.ts; skipped without mpirun/addon, a failure under CI=true): Muon,
 * NorMuon, Turbo-Muon, AdaMuon, ROOT and AdamW, 25 steps on N = 2 and 3 ranks from different initial
 * values: parameters bit-identical across ranks, ≤ 1e-6 relative of the replicated (unsharded) run on
 * the same N, state bytes summing to the replicated total with each rank near 1/N of it, a resumed
 * shard checkpoint equal to the uninterrupted run, another rank's shard refused.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { muon, polyakSgd } from '../../src/tfjs/register.js';
import { NonFiniteGradientError } from '../../src/tfjs/optimizer.js';
import { distributed, parameterCost, SHARD_MANIFEST_NAME, shardAssignment } from '../../src/tfjs/distributed.js';
import { singleRankCommunicator } from '../../src/linalg/communicator.js';
import { mpiAvailability } from '../../src/node/mpi.js';
import { optionalSkip } from '../support/engines.js';
import { gaussian, mulberry32 } from '../support/random.js';

before(() => useBackend('cpu'));

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

describe('shardAssignment', () => {
  it('costs: 5 standard Newton–Schulz steps for a matrix, the element count otherwise', () => {
    // k = 6, n = 16: 5·(4·36·16 + 2·216)
    assert.equal(parameterCost([6, 16]), 13_680);
    assert.equal(parameterCost([16, 6]), 13_680);
    // a conv kernel [3, 3, 4, 8] as [36, 8]: k = 8, n = 36: 5·(4·64·36 + 2·512)
    assert.equal(parameterCost([3, 3, 4, 8]), 51_200);
    assert.equal(parameterCost([16]), 16);
    assert.equal(parameterCost([]), 1);
  });

  it('largest first to the least loaded rank, ties to the lowest rank and the earlier parameter', () => {
    // costs: [6,16] 13680, [16] 16, three [16,16] 122880, [16,3] 3150, [3] 3
    const shapes = [[6, 16], [16], [16, 16], [16], [16, 16], [16], [16, 16], [16], [16, 3], [3]];
    // order: 2, 4, 6 (→ 0, 1, 0), 0 (→ 1: 122880 < 245760), 8 (→ 1), then the biases (→ 1 while it stays lighter)
    assert.deepEqual(shardAssignment(shapes, 2), [1, 1, 0, 1, 1, 1, 0, 1, 1, 1]);
    assert.deepEqual(shardAssignment(shapes, 3), [0, 2, 0, 2, 1, 2, 2, 2, 1, 2]);
    assert.deepEqual(shardAssignment(shapes, 1), new Array(10).fill(0));
    // more ranks than parameters: the rest own nothing
    assert.deepEqual(shardAssignment([[4, 4], [2]], 4), [0, 1]);
  });

  it("Graham's bound on random shape lists: busiest rank ≤ total/N + largest cost; the same answer every call", () => {
    const rand = mulberry32(5);
    for (let trial = 0; trial < 50; trial++) {
      const shapes = Array.from({ length: 1 + Math.floor(rand() * 30) }, () =>
        rand() < 0.3 ? [1 + Math.floor(rand() * 64)] : [1 + Math.floor(rand() * 64), 1 + Math.floor(rand() * 64)],
      );
      const size = 1 + Math.floor(rand() * 5);
      const owners = shardAssignment(shapes, size);
      assert.deepEqual(shardAssignment(shapes.map((s) => [...s]), size), owners);
      const loads = new Array<number>(size).fill(0);
      owners.forEach((r, i) => {
        assert.ok(Number.isInteger(r) && r >= 0 && r < size);
        loads[r] += parameterCost(shapes[i]);
      });
      const total = loads.reduce((a, b) => a + b, 0);
      const largest = Math.max(...shapes.map((s) => parameterCost(s)));
      assert.ok(Math.max(...loads) <= total / size + largest, `trial ${trial}: ${JSON.stringify(loads)}`);
    }
  });

  it('refuses a bad size', () => {
    assert.throws(() => shardAssignment([[2, 2]], 0), { name: 'RangeError', message: 'shardAssignment: size must be a positive integer, got 0' });
  });
});

/** A 6 → 8 → 3 tanh MLP as plain variables, and its loss on fixed data. */
function mlp(tag: string) {
  const shapes = [[6, 8], [8], [8, 3], [3]];
  const vars = shapes.map((s, i) =>
    tf.tidy(() => tf.variable(tf.mul(tf.tensor(gaussian(s.reduce((a, b) => a * b, 1), 40 + i), s), 0.3), true, `${tag}_${i}`)),
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

describe('shardOptimizerState in one process', () => {
  it('one rank owns everything: the plain optimizer bit for bit, the same state bytes, no leaks', async () => {
    const a = mlp('shard1a');
    const b = mlp('shard1b');
    const plain = muon({ learningRate: 0.02 });
    const sharded = distributed(muon({ learningRate: 0.02 }), singleRankCommunicator(), { shardOptimizerState: true });
    plain.minimize(a.loss, false, a.vars);
    sharded.minimize(b.loss, false, b.vars);
    const before = tf.memory().numTensors;
    for (let s = 0; s < 10; s++) {
      plain.minimize(a.loss, false, a.vars);
      sharded.minimize(b.loss, false, b.vars);
    }
    assert.equal(tf.memory().numTensors, before);
    a.vars.forEach((v, i) => assert.deepEqual(b.vars[i].dataSync(), v.dataSync()));
    assert.equal(sharded.iterations, 11);
    assert.deepEqual(sharded.ownerRanks, [0, 0, 0, 0]);
    assert.equal(sharded.stateBytes(), plain.stateBytes());
    assert.ok(sharded.stateBytes() > 0);
    await assert.rejects(sharded.getWeights(), { name: 'ShardedStateError', message: /^distributed: with shardOptimizerState each rank holds only its shard of the optimizer state; save it per rank with getShardWeights\(\) \(model.save\(\{ includeOptimizer: true \}\) is not supported/ });
    const w = await sharded.getShardWeights();
    await assert.rejects(sharded.setWeights(w), { name: 'ShardedStateError', message: "distributed: with shardOptimizerState restore each rank's state with setShardWeights(its getShardWeights())" });
    await assert.rejects(distributed(muon(), singleRankCommunicator()).getShardWeights(), { name: 'ShardedStateError' });
    assert.equal(w[0].name, SHARD_MANIFEST_NAME);
    assert.deepEqual(Array.from(w[0].tensor.dataSync()), [1, 0, 1, 11, 0, 0, 0, 0]);
    assert.equal(w[1].name, 'iter');
    tf.dispose([w[0].tensor, w[1].tensor]);
    plain.dispose();
    sharded.dispose();
    a.dispose();
    b.dispose();
  });

  it('refuses what would see only the owned parameters, and a non-boolean option', () => {
    const c = singleRankCommunicator();
    assert.throws(() => distributed(muon({ clipGlobalNorm: 1 }), c, { shardOptimizerState: true }), {
      name: 'RangeError',
      message: 'distributed: shardOptimizerState cannot run clipGlobalNorm (1): each rank would clip by the norm of its own parameters only',
    });
    assert.throws(() => distributed(polyakSgd(), c, { shardOptimizerState: true }), {
      name: 'RangeError',
      message: /^distributed: shardOptimizerState cannot run polyakSgd: its loss-aware step reads every parameter$/,
    });
    assert.throws(() => distributed(muon(), c, { shardOptimizerState: 'yes' as unknown as boolean }), {
      name: 'TypeError',
      message: 'distributed: shardOptimizerState must be a boolean, got yes',
    });
    // without sharding both are fine
    distributed(muon({ clipGlobalNorm: 1 }), c).dispose();
  });

  it('shard checkpoints: restored on the same rank and layout; otherwise ShardedStateError and nothing written', async () => {
    const a = mlp('shardCk');
    const c = singleRankCommunicator();
    const opt = distributed(muon({ learningRate: 0.02 }), c, { shardOptimizerState: true });
    for (let s = 0; s < 3; s++) opt.minimize(a.loss, false, a.vars);
    const saved = await opt.getShardWeights();
    const fresh = distributed(muon({ learningRate: 0.02 }), c, { shardOptimizerState: true });
    await assert.rejects(fresh.setShardWeights(saved), {
      name: 'ShardedStateError',
      message: 'distributed: call broadcastParameters(variables) before setShardWeights, so that the shard assignment is known',
    });
    const b = mlp('shardCk2');
    b.vars.forEach((v, i) => v.assign(a.vars[i]));
    fresh.broadcastParameters(b.vars);
    await assert.rejects(fresh.setShardWeights(saved.slice(1)), {
      name: 'ShardedStateError',
      message: /^distributed: a sharded optimizer state is restored per rank from its own getShardWeights\(\) \(led by 'orthoptim\/shard'\); these weights have no shard manifest/,
    });
    const tampered = (k: number, v: number) => [{ name: SHARD_MANIFEST_NAME, tensor: tf.tensor1d(Int32Array.from(saved[0].tensor.dataSync(), (x, i) => (i === k ? v : x)), 'int32') }, ...saved.slice(1)];
    const wrongSize = tampered(2, 2);
    await assert.rejects(fresh.setShardWeights(wrongSize), {
      name: 'ShardedStateError',
      message: 'distributed: this shard was saved by rank 0 of 2; this is rank 0 of 1, owning 4 of 4 parameters',
    });
    const wrongOwner = tampered(5, 1);
    await assert.rejects(fresh.setShardWeights(wrongOwner), { name: 'ShardedStateError', message: /saved with another assignment of parameters to ranks \(\[0,1,0,0\]\); this is rank 0 of 1, owning 4 of 4 parameters$/ });
    assert.equal(fresh.iterations, 0);
    assert.equal(fresh.stateBytes(), 0);
    // an unsharded optimizer refuses a shard too
    const plain = distributed(muon({ learningRate: 0.02 }), c);
    await assert.rejects(plain.setWeights(saved), { name: 'ShardedStateError', message: /one rank's shard of a sharded optimizer state/ });
    // the right shard: the run continues as the uninterrupted one
    await fresh.setShardWeights(saved);
    assert.equal(fresh.iterations, 3);
    for (let s = 0; s < 3; s++) {
      opt.minimize(a.loss, false, a.vars);
      fresh.minimize(b.loss, false, b.vars);
    }
    a.vars.forEach((v, i) => assert.deepEqual(b.vars[i].dataSync(), v.dataSync()));
    tf.dispose([saved[0].tensor, saved[1].tensor, wrongSize[0].tensor, wrongOwner[0].tensor]);
    for (const o of [opt, fresh, plain]) o.dispose();
    a.dispose();
    b.dispose();
  });

  it('a non-finite averaged gradient: NonFiniteGradientError before anything is written', () => {
    const a = mlp('shardNaN');
    const opt = distributed(muon({ learningRate: 0.02 }), singleRankCommunicator(), { shardOptimizerState: true });
    opt.minimize(a.loss, false, a.vars);
    const values = a.vars.map((v) => v.dataSync().slice());
    const bytes = opt.stateBytes();
    const grads = a.vars.map((v, i) => ({ name: v.name, tensor: i === 2 ? tf.fill(v.shape, NaN) : tf.onesLike(v) }));
    assert.throws(() => opt.applyGradients(grads), (e: unknown) => e instanceof NonFiniteGradientError && /for 'shardNaN_2'/.test(e.message));
    a.vars.forEach((v, i) => assert.deepEqual(v.dataSync(), values[i]));
    assert.equal(opt.iterations, 1);
    assert.equal(opt.stateBytes(), bytes);
    tf.dispose(grads.map((g) => g.tensor));
    opt.dispose();
    a.dispose();
  });
});

function mpiMissing(): string | null {
  const which = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (which.error !== undefined || which.status !== 0) return 'mpirun is not on the PATH (install openmpi-bin libopenmpi-dev)';
  const a = mpiAvailability();
  return a.ok ? null : a.reason;
}

const skip = optionalSkip(mpiMissing());

type Params = Record<string, number[]>;
interface Result {
  params: Params;
  stateBytes: number;
  owners: number[] | null;
  iterations: number;
  resumed?: { params: Params; iterations: number; error?: { name: string; message: string } };
}

/** The fixture under `mpirun -np n` (or alone for n = 0: `--comm single`); every rank's results. */
function run(n: number, args: string[]): Record<string, Result>[] {
  const out = mkdtempSync(join(tmpdir(), 'orthoptim-shard-'));
  const script = [process.execPath, '--import', 'tsx', join(FIXTURES, 'sharded.ts'), '--out', out, ...args];
  const r =
    n === 0
      ? spawnSync(script[0], [...script.slice(1), '--comm', 'single'], { encoding: 'utf8', timeout: 120_000 })
      : spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(n), ...script], {
          encoding: 'utf8',
          timeout: 180_000,
          env: { ...process.env, OMPI_MCA_rmaps_base_oversubscribe: '1' },
        });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const files = Array.from({ length: Math.max(n, 1) }, (_, k) => join(out, `rank${k}.json`));
  assert.ok(files.every((f) => existsSync(f)), `${r.stdout}${r.stderr}`);
  const ranks = files.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { results: Record<string, Result> }).results);
  rmSync(out, { recursive: true, force: true });
  return ranks;
}

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

/** Largest |difference| between any two parameter sets. */
function maxDifference(sets: Params[]): number {
  let worst = 0;
  for (const name of Object.keys(sets[0])) {
    for (const p of sets) sets[0][name].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - p[name][i]))));
  }
  return worst;
}

const OPTIMIZERS = ['muon', 'norMuon', 'turboMuon', 'adaMuon', 'root', 'adamw'];

describe('shardOptimizerState over MPI: 25 steps of a 6-16-16-16-16-3 MLP, shards of a global batch of 12', { skip }, () => {
  for (const n of [2, 3]) {
    it(`${n} ranks: bit-identical across ranks, ≤ 1e-6 of the replicated run, state ≈ 1/${n} per rank, shard checkpoints`, (t) => {
      const sharded = run(n, ['--shard', 'yes', '--resume', '10']);
      const replicated = run(n, ['--shard', 'no']);
      const owners = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1];
      for (const name of OPTIMIZERS) {
        const ranks = sharded.map((r) => r[name]);
        assert.equal(maxDifference(ranks.map((r) => r.params)), 0, `${name}: difference across ranks`);
        assert.equal(maxDifference(replicated.map((r) => r[name].params)), 0);
        const rel = relativeTo(ranks[0].params, replicated[0][name].params);
        t.diagnostic(`${name} N=${n}: across ranks 0, sharded vs replicated ${rel.toExponential(2)}, state bytes ${ranks.map((r) => r.stateBytes).join('/')} of ${replicated[0][name].stateBytes}`);
        assert.ok(rel <= 1e-6, `${name}: relative difference ${rel}`);
        ranks.forEach((r) => {
          assert.equal(r.iterations, 25);
          assert.deepEqual(r.owners, n === 2 ? owners : [0, 2, 0, 2, 1, 2, 2, 2, 1, 2]);
        });
        // ZeRO-1: the shards add up to the replicated state, each near 1/N of it (three equal 16×16 kernels dominate)
        const total = replicated[0][name].stateBytes;
        assert.equal(ranks.reduce((a, r) => a + r.stateBytes, 0), total, `${name}: state bytes add up`);
        for (const r of ranks) assert.ok(r.stateBytes <= 1.25 * (total / n) && r.stateBytes > 0, `${name}: ${r.stateBytes} of ${total}`);
        // the shard checkpoint at step 10, restored into a fresh optimizer: the uninterrupted run, bit for bit
        ranks.forEach((r) => {
          assert.equal(r.resumed?.iterations, 25);
          assert.equal(maxDifference([r.params, r.resumed!.params]), 0, `${name}: resumed`);
          // rank r was handed its shard with the manifest's rank changed to r + 1 (mod N)
          assert.equal(r.resumed?.error?.name, 'ShardedStateError');
        });
        assert.match(ranks[1].resumed!.error!.message, new RegExp(`^distributed: this shard was saved by rank ${2 % n} of ${n}; this is rank 1 of ${n}, owning \\d+ of 10 parameters$`));
      }
    });
  }

  it('one process on the whole batch: the same state bytes as the replicated ranks (no sharding with one rank)', () => {
    const [one] = run(0, ['--shard', 'yes', '--optimizers', 'muon,adamw']);
    assert.equal(one.muon.stateBytes, 4184); // momentum of 96 + 3·256 + 48 floats, AdamW m and v of 4·16 + 3: 4·(912 + 134)
    assert.equal(one.adamw.stateBytes, 7832); // m and v of every parameter: 4·2·979
    assert.deepEqual(one.muon.owners, new Array(10).fill(0));
  });
});
