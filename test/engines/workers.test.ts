/**
 * The `workers` engine (src/engines/workers.ts): agreement with the tfjs engine (`newtonSchulz` on wasm)
 * to 1e-5 relative on every muon_ns golden input and on random shapes, for whole matrices (one thread
 * each) and for matrices split over the threads (collectives every step); several matrices per call;
 * errors that surface instead of hanging; dispose leaving no threads or tensors; a process that exits by
 * itself after using the engine; registration through `orthoptim/engines` (src/engines/node.ts).
 */
import { useBackend } from '../support/backend.js';
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { gaussian } from '../support/random.js';
import { goldenCases, goldenDir, loadGolden, normwiseDeviation, repoRoot, requireGolden } from '../support/golden.js';
import { coefficientTable, coefficientsAt, newtonSchulz, type CoefficientsOption } from '../../src/index.js';
import type { EngineIteration, EngineMatrix } from '../../src/engines/engine.js';
import { PROFILE_PHASES, WorkersEngine, workersEngineProvider, WORKERS_MINIMUM_ELEMENTS } from '../../src/engines/workers.js';
import { accelerateWasm, restoreWasmKernels } from '../../src/tfjs/wasmMatMul.js';

await useBackend('wasm');

const JORDAN: [number, number, number] = [3.4445, -4.775, 2.0315];

/** The engine iteration for a coefficient option, as newtonSchulz runs it. */
function iterationFor(coefficients: CoefficientsOption, steps?: number): EngineIteration {
  const table = coefficientTable(coefficients);
  const n = steps ?? table.defaultSteps;
  return { steps: Array.from({ length: n }, (_, i) => coefficientsAt(table, i)), normScale: table.normScale, eps: table.eps };
}

/** The tfjs engine's result for a matrix. */
function tfjsReference(m: EngineMatrix, coefficients: CoefficientsOption, steps?: number, eps?: number): Float32Array {
  return tf.tidy(() => newtonSchulz(tf.tensor2d(m.data, [m.rows, m.cols]), { coefficients, steps, eps }).dataSync() as Float32Array);
}

function randomMatrix(rows: number, cols: number, seed: number): EngineMatrix {
  return { rows, cols, data: gaussian(rows * cols, seed) };
}

/** Shapes the brief names: 1×n, n×1, square, 3:1 both ways, a conv kernel [3, 3, 4, 6] flattened to [36, 6]. */
const SHAPES: [number, number][] = [
  [1, 40],
  [40, 1],
  [32, 32],
  [96, 32],
  [32, 96],
  [36, 6],
];

const MODES = {
  // default scheduling: these small matrices run whole, one per thread
  whole: { threads: 2 },
  // every matrix split over the threads: partial Grams all-reduced and P all-gathered every step
  sharded: { threads: 2, minShardElements: 0, splitPolynomialFrom: 1 },
} as const;

for (const [mode, options] of Object.entries(MODES)) {
  describe(`workers engine, ${mode} matrices`, () => {
    const engine = new WorkersEngine(options);
    after(() => engine.shutdown());

    it('matches the tfjs engine within 1e-5 on every muon_ns golden input (and the golden output within 1e-4)', (t) => {
      if (!requireGolden(t)) return;
      // A split matrix sums its Gram matrix in another order than tfjs's one matmul. On the rank-deficient
      // input that rounding noise is amplified ~a^steps in the null space (golden README): there the
      // bound is the reference's own float32-vs-float64 disagreement on that file (4.3e-5), not 1e-5.
      const manifest = JSON.parse(readFileSync(join(goldenDir, 'MANIFEST.json'), 'utf8')) as {
        files: { file: string; float64_rerun_max_normwise_dev?: number }[];
      };
      const noise = (c: string): number => manifest.files.find((f) => f.file === `${c}.json`)?.float64_rerun_max_normwise_dev ?? 0;
      const cases = goldenCases('muon_ns');
      assert.equal(cases.length, 11);
      for (const c of cases) {
        const g = loadGolden(c);
        const args = g.args as { steps: number; coefficients: [number, number, number]; norm_eps: number };
        const input = g.inputs![0];
        const want = g.outputs![0].data;
        // leadingDims 'batch': the engine gets each 2-D matrix of a stack
        const [rows, cols] = input.shape.slice(-2);
        const batch = input.data.length / (rows * cols);
        const matrices: EngineMatrix[] = Array.from({ length: batch }, (_, b) => ({
          rows,
          cols,
          data: Float32Array.from(input.data.slice(b * rows * cols, (b + 1) * rows * cols), (v) => Math.fround(v)),
        }));
        const it = { steps: Array.from({ length: args.steps }, () => args.coefficients), normScale: 1, eps: args.norm_eps };
        const got = engine.run(matrices, it);
        let devTfjs = 0;
        matrices.forEach((m, b) => {
          const ref = tfjsReference(m, [args.coefficients], args.steps, args.norm_eps);
          devTfjs = Math.max(devTfjs, normwiseDeviation(got[b], ref));
        });
        const all = new Float32Array(input.data.length);
        got.forEach((o, b) => all.set(o, b * rows * cols));
        const devGolden = normwiseDeviation(all, want);
        t.diagnostic(`${c}: vs tfjs ${devTfjs.toExponential(2)}, vs golden ${devGolden.toExponential(2)}`);
        const bound = mode === 'whole' ? 1e-5 : Math.max(1e-5, noise(c));
        assert.ok(devTfjs <= bound, `${c}: ${devTfjs} from the tfjs engine (bound ${bound})`);
        assert.ok(devGolden <= 1e-4, `${c}: ${devGolden} from the golden output`);
      }
    });

    it('matches the tfjs engine on 1×n, n×1, square, 3:1, 1:3 and a flattened conv kernel, all in one call', (t) => {
      const matrices = SHAPES.map(([r, c], i) => randomMatrix(r, c, 100 + i));
      const got = engine.run(matrices, iterationFor([JORDAN], 5));
      assert.equal(got.length, matrices.length);
      matrices.forEach((m, i) => {
        assert.equal(got[i].length, m.rows * m.cols);
        const dev = normwiseDeviation(got[i], tfjsReference(m, [JORDAN], 5));
        t.diagnostic(`${m.rows}×${m.cols}: ${dev.toExponential(2)}`);
        assert.ok(dev <= 1e-5, `${m.rows}×${m.cols}: ${dev}`);
      });
      // inputs are left untouched
      assert.deepEqual(matrices[2].data, gaussian(32 * 32, 102));
    });

    it('runs per-step coefficient tables with a norm scale (Polar Express), and 0 steps', () => {
      const m = randomMatrix(24, 72, 7);
      const [pe] = engine.run([m], iterationFor('polarExpress5'));
      assert.ok(normwiseDeviation(pe, tfjsReference(m, 'polarExpress5')) <= 1e-5);
      const [zero] = engine.run([m], iterationFor([JORDAN], 0));
      assert.ok(normwiseDeviation(zero, tfjsReference(m, [JORDAN], 0)) <= 1e-6);
    });

    it('gives zeros for a zero matrix, empty results for empty matrices and calls', () => {
      const out = engine.run(
        [
          { rows: 8, cols: 12, data: new Float32Array(96) },
          { rows: 0, cols: 5, data: new Float32Array(0) },
        ],
        iterationFor([JORDAN], 5),
      );
      assert.deepEqual(out, [new Float32Array(96), new Float32Array(0)]);
      assert.deepEqual(engine.run([], iterationFor([JORDAN], 5)), []);
    });

    it('leaves no tensors in the calling thread or the workers', () => {
      const before = tf.memory().numTensors;
      engine.run([randomMatrix(20, 30, 3), randomMatrix(30, 20, 4)], iterationFor([JORDAN], 5));
      assert.equal(tf.memory().numTensors, before);
      const inWorkers = engine.workerTensors();
      assert.ok(inWorkers.length >= 1);
      assert.deepEqual(inWorkers, inWorkers.map(() => 0));
    });
  });
}

describe('workers engine: scheduling, errors, lifetime', () => {
  it('splits a large matrix and runs small ones whole in the same call, matching tfjs', async () => {
    const engine = new WorkersEngine({ threads: 2 });
    // 512×256 has the default minShardElements (131 072 entries): split, with P by row blocks (k = 256)
    const matrices = [randomMatrix(512, 256, 11), randomMatrix(16, 48, 12), randomMatrix(300, 20, 13), randomMatrix(8, 8, 14)];
    const got = engine.run(matrices, iterationFor([JORDAN], 5));
    const devs = matrices.map((m, i) => normwiseDeviation(got[i], tfjsReference(m, [JORDAN], 5)));
    // the split one differs from tfjs's single Gram matmul by summation order only; whole ones run tfjs's ops
    assert.ok(devs[0] > 0 && devs[0] <= 1e-5, `512×256: ${devs[0]}`);
    assert.deepEqual(devs.slice(1), [0, 0, 0]);
    await engine.shutdown();
  });

  it('split matrices: every Gram block count and 2–3 threads match tfjs; the symmetric blocks change no bit', async () => {
    // k ≥ splitPolynomialFrom: the rows of A² are split over the threads (symmetricRowBlocks); the partial
    // Gram by gramBlocks column blocks, only those on and above the diagonal. Both products are symmetric
    // and their mirrored entries are the same dot products, so the block count gives identical bits.
    const matrices = [randomMatrix(150, 70, 21), randomMatrix(60, 200, 22)];
    const it5 = iterationFor([JORDAN], 5);
    const refs = matrices.map((m) => tfjsReference(m, [JORDAN], 5));
    for (const [threads, blockCounts] of [[2, [1, 3]], [3, [1, 7]]] as const) {
      let baseline: Float32Array[] | undefined;
      for (const gramBlocks of blockCounts) {
        const engine = new WorkersEngine({ threads, minShardElements: 0, splitPolynomialFrom: 1, gramBlocks });
        const got = engine.run(matrices, it5);
        await engine.shutdown();
        got.forEach((o, i) => {
          const dev = normwiseDeviation(o, refs[i]);
          assert.ok(dev <= 1e-5, `threads ${threads}, gramBlocks ${gramBlocks}, ${matrices[i].rows}×${matrices[i].cols}: ${dev}`);
        });
        baseline ??= got;
        assert.deepEqual(got, baseline, `threads ${threads}, gramBlocks ${gramBlocks}`);
      }
    }
  });

  it('the calling thread computes a share: threads 2 is one worker and the calling thread, the same bits as two workers', async () => {
    const before = tf.memory().numTensors;
    const it5 = iterationFor([JORDAN], 5);
    // split: each matrix's column blocks over the two ranks, rank 1 on the calling thread
    const split = [randomMatrix(150, 70, 41), randomMatrix(60, 200, 42)];
    const shared = new WorkersEngine({ threads: 2, minShardElements: 0, splitPolynomialFrom: 1, profile: true });
    const workersOnly = new WorkersEngine({ threads: 2, minShardElements: 0, splitPolynomialFrom: 1, mainThreadShare: false });
    assert.equal(shared.mainRank(), 1);
    assert.equal(workersOnly.mainRank(), -1);
    const a = shared.run(split, it5);
    const b = workersOnly.run(split, it5);
    assert.equal(shared.lastMainThreadTasks, 2, 'one block of each split matrix on the calling thread');
    assert.equal(workersOnly.lastMainThreadTasks, 0);
    assert.deepEqual(shared.workerTensors(), [0], 'one worker thread started');
    assert.deepEqual(workersOnly.workerTensors(), [0, 0]);
    assert.deepEqual(a, b, 'the same bits whichever thread runs rank 1');
    split.forEach((m, i) => assert.ok(normwiseDeviation(a[i], tfjsReference(m, [JORDAN], 5)) <= 1e-5));
    // both ranks did products: the worker's profile, then the calling thread's
    assert.equal(shared.lastProfile?.length, 2);
    for (const t of shared.lastProfile!) assert.ok(t.gram > 0 && t.poly > 0 && t.update > 0, JSON.stringify(t));
    await Promise.all([shared.shutdown(), workersOnly.shutdown()]);

    // whole matrices: the largest on the calling thread (a tie goes to it), the next on the worker; tfjs's bits
    const whole = new WorkersEngine({ threads: 2 });
    const ms = [randomMatrix(40, 24, 43), randomMatrix(32, 32, 44)];
    const got = whole.run(ms, it5);
    assert.equal(whole.lastMainThreadTasks, 1);
    ms.forEach((m, i) => assert.deepEqual(got[i], tfjsReference(m, [JORDAN], 5)));
    const [one] = whole.run([ms[0]], it5);
    assert.equal(whole.lastMainThreadTasks, 1, 'a lone whole matrix runs on the calling thread');
    assert.deepEqual(one, got[0]);
    await whole.shutdown();

    // threads 1: no worker at all, the calling thread runs everything
    const alone = new WorkersEngine({ threads: 1, minShardElements: 0 });
    const solo = alone.run(ms, it5);
    assert.equal(alone.lastMainThreadTasks, 2);
    assert.deepEqual(alone.workerTensors(), []);
    ms.forEach((m, i) => assert.deepEqual(solo[i], got[i]));
    await alone.shutdown();
    assert.equal(tf.memory().numTensors, before, 'no tensor left on the calling thread');
  });

  it("the calling thread's share keeps the workers' bits with accelerateWasm's kernels on the calling thread (Jordan and AOL)", async () => {
    // accelerateWasm (orthoptim/node) replaces wasm kernels on the calling thread only; the share's ops
    // (rank-2 matMuls without flags, full and row sums) must still reach wasm's own kernels
    const ms = [randomMatrix(150, 70, 51), randomMatrix(60, 200, 52), randomMatrix(40, 24, 53), randomMatrix(32, 32, 54)];
    const jordan = iterationFor([JORDAN], 5);
    const aol: EngineIteration = { ...iterationFor([JORDAN], 4), precondition: 'aol' };
    accelerateWasm();
    try {
      for (const options of [{ threads: 2 }, { threads: 2, minShardElements: 0, splitPolynomialFrom: 1 }]) {
        for (const it of [jordan, aol]) {
          const shared = new WorkersEngine(options);
          const workersOnly = new WorkersEngine({ ...options, mainThreadShare: false });
          const a = shared.run(ms, it);
          assert.ok(shared.lastMainThreadTasks >= 1);
          assert.deepEqual(a, workersOnly.run(ms, it), `${JSON.stringify(options)} ${it.precondition ?? 'frobenius'}`);
          await Promise.all([shared.shutdown(), workersOnly.shutdown()]);
        }
      }
    } finally {
      restoreWasmKernels();
    }
  });

  it('the calling thread takes no share when its backend is not wasm (the workers\' bits), nor with a custom worker script', async () => {
    const m = randomMatrix(60, 200, 45);
    const it5 = iterationFor([JORDAN], 5);
    const engine = new WorkersEngine({ threads: 2, minShardElements: 0 });
    const onWasm = engine.run([m], it5);
    assert.equal(engine.lastMainThreadTasks, 1);
    await useBackend('cpu');
    try {
      assert.equal(engine.mainRank(), -1);
      const onCpu = engine.run([m], it5);
      assert.equal(engine.lastMainThreadTasks, 0);
      assert.equal(engine.workerTensors().length, 2, 'both ranks on worker threads');
      assert.deepEqual(onCpu, onWasm);
    } finally {
      await useBackend('wasm');
      await engine.shutdown();
    }
    const custom = new WorkersEngine({ threads: 2, workerScript: new URL('./echo.worker.js', import.meta.url) });
    assert.equal(custom.mainThreadShare, false);
    assert.equal(custom.mainRank(), -1);
    custom.dispose();
  });

  it('profile: per-thread phase times of the last call, only when asked for', async () => {
    const engine = new WorkersEngine({ threads: 2, minShardElements: 0, profile: true });
    engine.run([randomMatrix(64, 96, 31)], iterationFor([JORDAN], 5));
    const p = engine.lastProfile;
    assert.ok(p !== undefined && p.length === 2);
    for (const t of p) {
      assert.deepEqual(Object.keys(t), [...PROFILE_PHASES]);
      assert.ok(Object.values(t).every((v) => Number.isFinite(v) && v >= 0));
      assert.ok(t.gram > 0 && t.update > 0, JSON.stringify(t));
    }
    await engine.shutdown();
    const quiet = new WorkersEngine({ threads: 2, minShardElements: 0 });
    quiet.run([randomMatrix(64, 96, 31)], iterationFor([JORDAN], 5));
    assert.equal(quiet.lastProfile, undefined);
    await quiet.shutdown();
  });

  it('validates options and inputs', () => {
    assert.throws(() => new WorkersEngine({ threads: 0 }), /workers engine: threads must be an integer in \[1, inf\), got 0/);
    assert.throws(() => new WorkersEngine({ timeoutMs: -1 }), /workers engine: timeoutMs must be in \[1, inf\), got -1/);
    assert.throws(() => new WorkersEngine({ gramBlocks: 1.5 }), /workers engine: gramBlocks must be an integer in \[1, inf\), got 1.5/);
    const engine = new WorkersEngine({ threads: 2 });
    assert.throws(() => engine.run([{ rows: 2, cols: 3, data: new Float32Array(5) }], iterationFor([JORDAN], 5)), /workers engine: matrix 0 \(2×3\) needs a Float32Array of 6 values, got 5/);
    assert.throws(() => engine.run([randomMatrix(2, 2, 1)], { steps: [[1, 2, Number.NaN]], normScale: 1, eps: 0 }), /iteration\.steps must be rows \[a, b, c\] of finite numbers/);
    assert.throws(() => engine.run([randomMatrix(2, 2, 1)], { steps: [], normScale: 0, eps: 0 }), /normScale must be in \(0, inf\), got 0/);
  });

  it('a thread that does not answer makes run throw after timeoutMs (no hang), and the engine recovers', async () => {
    // 30 ms is shorter than a thread's start-up (loading tfjs-wasm), so the first call times out
    const engine = new WorkersEngine({ threads: 2, timeoutMs: 30, minShardElements: 0 });
    const t0 = performance.now();
    assert.throws(() => engine.run([randomMatrix(16, 16, 1)], iterationFor([JORDAN], 5)), /workers engine: .*did not answer within 30 ms/);
    assert.ok(performance.now() - t0 < 5000);
    await engine.shutdown();
  });

  it('dispose stops every thread: no MessagePort or Worker handles, and a later run starts again', async () => {
    const handles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker').length;
    const baseline = handles();
    const engine = new WorkersEngine({ threads: 2 });
    const m = randomMatrix(64, 64, 5);
    const first = engine.run([m, m], iterationFor([JORDAN], 5));
    await engine.shutdown();
    assert.equal(handles(), baseline);
    assert.deepEqual(engine.workerTensors(), []);
    const again = engine.run([m], iterationFor([JORDAN], 5));
    assert.deepEqual(again[0], first[0]);
    engine.dispose(); // the interface's synchronous form
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(handles(), baseline);
  });

  it('the process exits by itself after using the engine without dispose', () => {
    const script = [
      "import { WorkersEngine } from './src/engines/workers.ts';",
      'const e = new WorkersEngine({ threads: 2, minShardElements: 0 });',
      'const [o] = e.run([{ rows: 4, cols: 6, data: new Float32Array(24).fill(1) }], { steps: [[3.4445, -4.775, 2.0315]], normScale: 1, eps: 1e-7 });',
      'const end = Date.now();',
      "process.on('exit', () => console.log(JSON.stringify({ value: o[0], exitAfterMs: Date.now() - end })));",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, `child did not exit: ${String(r.error)}`);
    assert.equal(r.status, 0, r.stderr);
    const { value, exitAfterMs } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { value: number; exitAfterMs: number };
    assert.ok(Number.isFinite(value) && value > 0);
    assert.ok(exitAfterMs < 2000, `exited ${exitAfterMs} ms after its last statement`);
  });

  it('provider: available here, registered by orthoptim/engines, created through the seam', async () => {
    assert.deepEqual(workersEngineProvider.available(), { ok: true });
    assert.equal(workersEngineProvider.name, 'workers');
    assert.equal(workersEngineProvider.minimumElements, WORKERS_MINIMUM_ELEMENTS);
    await import('../../src/engines/node.js');
    const { listEngines, resolveEngine, engineInstance, disposeEngines } = await import('../../src/engines/engine.js');
    assert.ok(listEngines().some((e) => e.name === 'workers' && e.available));
    assert.equal(resolveEngine('workers', 'wasm', 4), 'workers');
    const m = randomMatrix(10, 14, 9);
    const [o] = engineInstance('workers').run([m], iterationFor([JORDAN], 5));
    assert.ok(normwiseDeviation(o, tfjsReference(m, [JORDAN], 5)) <= 1e-5);
    disposeEngines();
  });
});
