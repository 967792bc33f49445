/**
 * The `onnxruntime` engine (src/engines/onnxruntime.ts): onnxruntime-node sessions on a worker thread behind
 * the synchronous bridge. Golden `muon_ns` inputs and random shapes against the tfjs engine (wasm) and the
 * float64 oracle, several matrices per call, the session cache, errors (thrown, never a hang, nothing
 * written), dispose leaving no handles, a process that exits by itself, and the provider's availability
 * (also with onnxruntime-node hidden). Skipped when the optional onnxruntime-node is not installed,
 * except under CI=true (then a failure).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { engineSkip } from '../support/engines.js';
import { goldenCases, goldenDir, loadGolden, normwiseDeviation, repoRoot } from '../support/golden.js';
import { gaussian } from '../support/random.js';
import { coefficientTable, coefficientsAt, type CoefficientPreset } from '../../src/linalg/coefficients.js';
import { newtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { matrix64, newtonSchulz64, quinticCompose } from '../../src/linalg/reference.js';
import { SyncWorker } from '../../src/engines/bridge.js';
import type { EngineIteration, EngineMatrix } from '../../src/engines/engine.js';
import {
  ONNXRUNTIME_MINIMUM_ELEMENTS,
  OnnxRuntimeEngine,
  onnxRuntimeAvailability,
  onnxRuntimeEngineProvider,
} from '../../src/engines/onnxruntime.js';

await useBackend('wasm');

const status = onnxRuntimeAvailability();
const skip = engineSkip('onnxruntime');
const engineModule = pathToFileURL(join(repoRoot, 'src/engines/onnxruntime.ts')).href;

function iterationOf(preset: CoefficientPreset): EngineIteration {
  const table = coefficientTable(preset);
  return {
    steps: Array.from({ length: table.defaultSteps }, (_, i) => coefficientsAt(table, i)),
    normScale: table.normScale,
    eps: table.eps,
  };
}

const jordan = iterationOf('jordan');

function randomMatrix(rows: number, cols: number, seed: number): EngineMatrix {
  return { rows, cols, data: gaussian(rows * cols, seed) };
}

/** The tfjs engine (newtonSchulz on the wasm backend) on the same matrix and iteration. */
function tfjsEngine(m: EngineMatrix, it: EngineIteration): Float32Array {
  return tf.tidy(() => {
    const y = newtonSchulz(tf.tensor2d(m.data, [m.rows, m.cols]), {
      coefficients: it.steps,
      steps: it.steps.length,
      eps: it.eps,
      normScale: it.normScale,
    });
    return y.dataSync() as Float32Array;
  });
}

function oracle(m: EngineMatrix, it: EngineIteration): Float64Array {
  return newtonSchulz64(matrix64(m.rows, m.cols, m.data), it.steps, { eps: it.eps, normScale: it.normScale }).data;
}

/** Runs a script (ESM TypeScript) in a child `node --import tsx`, from the repository root. */
function child(source: string, extraArgs: string[] = []): { status: number | null; stdout: string; stderr: string; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'orthoptim-onnx-'));
  try {
    const file = join(dir, 'script.mts');
    writeFileSync(file, source);
    writeFileSync(
      join(dir, 'hide.cjs'),
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'onnxruntime-node') {
    const e = new Error("Cannot find module 'onnxruntime-node'");
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  return resolve.call(this, request, ...rest);
};
`,
    );
    const start = Date.now();
    const r = spawnSync(process.execPath, [...extraArgs.map((a) => a.replace('$DIR', dir)), '--import', 'tsx', file], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, CI: undefined },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('onnxruntime provider', () => {
  it('is named onnxruntime, says whether it can run, and creates the engine', () => {
    assert.equal(onnxRuntimeEngineProvider.name, 'onnxruntime');
    assert.equal(onnxRuntimeEngineProvider.minimumElements, ONNXRUNTIME_MINIMUM_ELEMENTS);
    const a = onnxRuntimeEngineProvider.available();
    assert.deepEqual(a, status);
    if (!a.ok) assert.match(a.reason, /onnxruntime/);
    const e = onnxRuntimeEngineProvider.create();
    assert.ok(e instanceof OnnxRuntimeEngine);
    assert.equal(e.name, 'onnxruntime');
    e.dispose(); // never started: nothing to stop
  });

  it('without onnxruntime-node installed, available() says so and how to install it', () => {
    const r = child(
      `import { onnxRuntimeEngineProvider } from ${JSON.stringify(engineModule)};\n` +
        `console.log(JSON.stringify(onnxRuntimeEngineProvider.available()));\n`,
      ['--require', '$DIR/hide.cjs'],
    );
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(r.stdout.trim()) as { ok: boolean; reason?: string };
    assert.equal(a.ok, false);
    assert.match(a.reason ?? '', /optional dependency onnxruntime-node is not installed \(npm install onnxruntime-node@1\.30\.0\)/);
  });

  it('rejects invalid options with a RangeError naming the option', () => {
    assert.throws(() => new OnnxRuntimeEngine({ threads: 0 }), /onnxruntime engine: threads must be an integer in \[1, inf\), got 0/);
    assert.throws(() => new OnnxRuntimeEngine({ timeoutMs: -1 }), /timeoutMs must be in \[1, inf\), got -1/);
    assert.throws(() => new OnnxRuntimeEngine({ capacity: 1.5 }), /capacity must be an integer/);
  });

  it('onnxruntime-node is installed under CI', () => {
    if (process.env.CI === 'true') assert.ok(status.ok, status.ok ? '' : status.reason);
  });
});

describe('onnxruntime engine', { skip }, () => {
  const engine = new OnnxRuntimeEngine({ threads: 2 });
  after(() => engine.close());

  it('matches the tfjs engine on every muon_ns golden input, all in one call per iteration', (t) => {
    if (!existsSync(goldenDir)) {
      if (process.env.CI === 'true') throw new Error(`missing golden files at ${goldenDir}`);
      t.skip(`missing golden files at ${goldenDir}`);
      return;
    }
    const cases = goldenCases('muon_ns');
    assert.equal(cases.length, 11);
    // group the matrices by iteration: every group is one engine call (the batched case adds 3 matrices)
    const groups = new Map<string, { it: EngineIteration; items: { name: string; m: EngineMatrix; want: Float32Array }[] }>();
    for (const c of cases) {
      const g = loadGolden(c);
      const args = g.args as { steps: number; coefficients: [number, number, number]; norm_eps: number };
      const it: EngineIteration = { steps: Array(args.steps).fill(args.coefficients), normScale: 1, eps: args.norm_eps };
      const key = JSON.stringify(it);
      if (!groups.has(key)) groups.set(key, { it, items: [] });
      const [rows, cols] = g.inputs![0].shape.slice(-2);
      const x = Float32Array.from(g.inputs![0].data, (v) => Math.fround(v));
      const want = Float32Array.from(g.outputs![0].data, (v) => Math.fround(v));
      for (let off = 0, b = 0; off < x.length; off += rows * cols, b++) {
        groups.get(key)!.items.push({ name: `${c}[${b}]`, m: { rows, cols, data: x.slice(off, off + rows * cols) }, want: want.slice(off, off + rows * cols) });
      }
    }
    assert.equal(groups.size, 2);
    for (const { it, items } of groups.values()) {
      const got = engine.run(items.map((i) => i.m), it);
      assert.equal(got.length, items.length);
      items.forEach(({ name, m, want }, i) => {
        const dTfjs = normwiseDeviation(got[i], tfjsEngine(m, it));
        const dGolden = normwiseDeviation(got[i], want);
        t.diagnostic(`${name}: tfjs ${dTfjs.toExponential(2)}, golden ${dGolden.toExponential(2)}`);
        // rankdef: float32 noise in the null space grows ~a^steps (golden README: its float64 re-run is
        // 4.3e-5 off); two float32 engines differ there by that noise, so it gets the README tolerance.
        assert.ok(dTfjs <= (name.includes('rankdef') ? 1e-4 : 1e-5), `${name}: tfjs deviation ${dTfjs}`);
        assert.ok(dGolden <= 1e-4, `${name}: golden deviation ${dGolden}`);
      });
    }
  });

  const shapes: [string, number, number][] = [
    ['1×n', 1, 50],
    ['n×1', 50, 1],
    ['square', 40, 40],
    ['3:1', 60, 20],
    ['1:3', 20, 60],
    ['conv 3×3×4→6 flattened', 36, 6],
  ];
  for (const preset of ['jordan', 'you', 'polarExpress5', 'polarExpress8'] as const) {
    it(`${preset}: random shapes in one call match the tfjs engine and the float64 oracle`, (t) => {
      const it = iterationOf(preset);
      // rank-1 inputs: one float32 rounding of σ = 1/normScale moves the output by κ·2⁻²³, κ = σφ'(σ)/φ(σ)
      // (175 for polarExpress5, ≈1.5 for the others); see test/engines/onnxGraph.test.ts
      const s = 1 / it.normScale;
      const kappa = Math.abs((quinticCompose(it.steps, s * (1 + 1e-7)) - quinticCompose(it.steps, s * (1 - 1e-7))) / 2e-7 / quinticCompose(it.steps, s));
      const ms = shapes.map(([, r, c], i) => randomMatrix(r, c, 200 + i));
      const copies = ms.map((m) => m.data.slice());
      const got = engine.run(ms, it);
      ms.forEach((m, i) => assert.deepEqual(m.data, copies[i], 'inputs are not modified'));
      shapes.forEach(([name, r, c], i) => {
        assert.equal(got[i].length, r * c);
        const tol = Math.min(r, c) === 1 ? Math.max(1e-5, 2 * kappa * 2 ** -23) : 1e-5;
        const dTfjs = normwiseDeviation(got[i], tfjsEngine(ms[i], it));
        const dOracle = normwiseDeviation(got[i], oracle(ms[i], it));
        t.diagnostic(`${name}: tfjs ${dTfjs.toExponential(2)}, float64 ${dOracle.toExponential(2)}`);
        assert.ok(dTfjs <= tol, `${name}: tfjs deviation ${dTfjs}`);
        assert.ok(dOracle <= tol, `${name}: float64 deviation ${dOracle}`);
      });
    });
  }

  it('returns empty results for empty matrices and an empty list', () => {
    const out = engine.run([{ rows: 0, cols: 5, data: new Float32Array(0) }, randomMatrix(3, 4, 1), { rows: 2, cols: 0, data: new Float32Array(0) }], jordan);
    assert.deepEqual(out.map((o) => o.length), [0, 12, 0]);
    assert.deepEqual(engine.run([], jordan), []);
  });

  it('keeps one session per iteration and orientation', () => {
    const wide = randomMatrix(8, 24, 3);
    const tall = randomMatrix(24, 8, 4);
    const it = { ...jordan, normScale: 1.0625 }; // a graph no other test uses (eps is fed, not part of the key)
    const before = engine.sessions();
    engine.run([wide, tall], it);
    assert.equal(engine.sessions(), before + 2);
    engine.run([tall, wide, wide], it);
    assert.equal(engine.sessions(), before + 2);
    engine.run([wide], { ...it, normScale: 1.5 });
    assert.equal(engine.sessions(), before + 3);
  });

  it('throws on a malformed matrix or iteration before starting anything', () => {
    const fresh = new OnnxRuntimeEngine();
    assert.throws(() => fresh.run([{ rows: 3, cols: 4, data: new Float32Array(10) }], jordan), {
      name: 'RangeError',
      message: 'onnxruntime engine: matrix 0 (3×4) needs a Float32Array of 12 values, got 10',
    });
    assert.throws(() => fresh.run([randomMatrix(2, 2, 1)], { ...jordan, steps: [[1, Number.NaN, 0]] }), /finite numbers/);
    assert.throws(() => fresh.run([randomMatrix(2, 2, 1)], { ...jordan, normScale: 0 }), /normScale must be in \(0, inf\), got 0/);
    assert.equal(fresh.started, false);
  });

  it('an error inside the worker comes back as a thrown Error, and the worker keeps serving', async () => {
    const w = new SyncWorker(new URL('../../src/engines/onnxruntime.worker.js', import.meta.url), {
      name: 'onnxruntime test',
      workerData: { threads: 1, capacity: 4, spinning: false },
      timeoutMs: 60_000,
    });
    try {
      // shapes that do not match the data: the session runner rejects it in the worker
      assert.throws(() => w.call('run', [new Float32Array(10)], { ...jordan, shapes: [[3, 4]] }), {
        name: 'RangeError',
        message: 'onnxruntime: matrix 0 is 3×4 but has 10 values',
      });
      assert.throws(() => w.call('run', [new Float32Array(4)], { ...jordan, shapes: [] }), /1 inputs for 0 shapes/);
      // a graph onnxruntime cannot build (non-finite coefficient): rejected while making the session
      assert.throws(() => w.call('run', [new Float32Array(4)], { ...jordan, steps: [[Number.NaN, 0, 0]], shapes: [[2, 2]] }), /finite/);
      const m = randomMatrix(5, 7, 9);
      const [y] = w.call('run', [m.data], { ...jordan, shapes: [[5, 7]] });
      assert.ok(normwiseDeviation(y, tfjsEngine(m, jordan)) <= 1e-5);
    } finally {
      await w.terminate();
    }
  });

  it('dispose stops the threads and leaves no handles; the next run starts again', async () => {
    // Live threads of this process (Linux): the worker and onnxruntime's pool must go away on close.
    // The first start may leave one process-wide helper thread behind, so compare two cycles.
    const threads = (): number => (existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : 0);
    const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort');
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));
    const tensors = tf.memory().numTensors;
    const e = new OnnxRuntimeEngine({ threads: 2 });
    const m = randomMatrix(16, 8, 5);
    const cycle = async (): Promise<{ running: number; closed: number; y: Float32Array }> => {
      const [y] = e.run([m], jordan);
      assert.equal(e.started, true);
      const running = threads();
      await e.close();
      assert.equal(e.started, false);
      assert.equal(e.sessions(), 0);
      await settle();
      return { running, closed: threads(), y };
    };
    const first = await cycle();
    const second = await cycle();
    assert.deepEqual(second.y, first.y);
    assert.deepEqual(handles(), []);
    if (existsSync('/proc/self/task')) {
      assert.equal(second.closed, first.closed, 'threads left behind by a start/close cycle');
      assert.ok(second.running >= second.closed + 2, `running ${second.running}, closed ${second.closed}`);
    }
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('a process that used the engine exits by itself, without dispose', () => {
    const r = child(
      `import { OnnxRuntimeEngine } from ${JSON.stringify(engineModule)};\n` +
        `const e = new OnnxRuntimeEngine();\n` +
        `const [y] = e.run([{ rows: 4, cols: 6, data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)) }],\n` +
        `  { steps: [[3.4445, -4.775, 2.0315]], normScale: 1, eps: 1e-7 });\n` +
        `console.log(y.length);\n`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '24');
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
  });
});
