/**
 * `npm run bench:engines` — how fast Newton–Schulz runs through each engine (`tfjs` on tfjs-wasm,
 * `workers`, `onnxruntime`; `src/engines/`), measured against this machine's own matmul limit.
 *
 * Section 1 (the limit): the best plain float32 matmul rate any engine reaches on a 2048×2048 product,
 * in this run — tfjs-wasm `tf.matMul` (one thread; every right operand a tensor not multiplied before,
 * because tfjs-wasm caches XNNPACK's packed right operand per tensor), a one-`MatMul` ONNX graph on
 * onnxruntime-node (intra-op threads = available cores, with and without spinning threads), and worker
 * threads each running tfjs-wasm on its share of the columns of the right operand (wall time of the
 * slowest). The best median rate is "the limit"; `flops / limit` is the time a computation would take at
 * it. The best rate of the fastest single product (from the minimum time) is reported too ("peak"): on a
 * shared machine other tenants take a core now and then, which halves a 2-thread product.
 *
 * Section 2 (NS per engine): `newtonSchulz(x, {engine})` (Jordan, 5 steps, Frobenius normalization) per
 * shape and engine — median warm time (copies off and onto the backend included for the native engines;
 * every call on a fresh copy of the input), the first call reported apart (thread start-up, wasm
 * initialisation, session creation), GFLOP/s with flops = 5·(4k²n + 2k³) (spec §13.1), and
 * "× of the limit" = median time ÷ (flops / limit), checked against the issue's targets on 1024×1024 and
 * 1024×4096 (onnxruntime ≤ ×1.3, workers ≤ ×5, tfjs-wasm ≤ ×8.5), and the least disturbed figure
 * min time ÷ (flops / peak). Each engine's output is compared with the tfjs engine's (max|Δ| / max|ref|).
 *
 * Section 3 (Gram NS): `form: 'gram'` against the standard form on the tfjs engine — time, flops of each
 * form (as implemented, and the spec's §13.1 formulas 20k²n + 10k³ and 8k²n + 32k³), and how far the
 * outputs are apart.
 *
 * Section 4 (optimizer step): ms per `optimizer.applyGradients` (fixed gradients) of `muon({engine})` and
 * `turboMuon({engine})` for each engine beside `adamw()`, on an MLP with four 1024×1024 hidden kernels.
 *
 * Prints markdown tables to stdout (progress to stderr), writes JSON (default
 * `results/bench-engines.json`). `bench/ns.ts` runs the same sections (`--no-engines` skips them).
 * Timings are measured here and never asserted in tests.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers gradients (tfjs-core alone has none in Node)
import { version_layers } from '@tensorflow/tfjs-layers';
import '../src/engines/node.js';
import {
  adamw,
  describeEngine,
  disposeEngines,
  listEngines,
  muon,
  turboMuon,
  newtonSchulz,
  resolveNewtonSchulz,
  type EngineName,
} from '../src/index.js';
import { IR_VERSION, OPSET, type OnnxRuntime, type OrtSession } from '../src/engines/onnxGraph.js';
import { loadOnnxRuntime } from '../src/engines/onnxruntime.js';
import { PROFILE_PHASES, WorkersEngine, type WorkersProfile } from '../src/engines/workers.js';
import { formatMs, measureRounds, now, repeatsFor, sync, timeOnce } from './timing.js';
import { stats, type Stats } from '../src/bench/stats.js';
import { machineDetails, type MachineDetails } from '../src/bench/machine.js';
import { formatTable } from '../src/bench/table.js';
import { shapesFlag, type Shape } from './timing.js';
import { makeInput, seededUniform } from '../src/bench/inputs.js';
import { relativeError } from '../src/bench/relativeError.js';
import { commandLine, parseArgs, usageError, type CommandSpec } from '../src/cli/args.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');


/** Every engine, in table order. */
export const allEngines: readonly EngineName[] = ['tfjs', 'workers', 'onnxruntime'];

/** The issue's targets: NS time ÷ (flops / limit) at most this, on {@link targetShapes}. */
export const targetXLimit: Readonly<Record<EngineName, number>> = { onnxruntime: 1.3, workers: 5, tfjs: 8.5 };
/** The shapes the targets are stated for. */
export const targetShapes: readonly Shape[] = [
  [1024, 1024],
  [1024, 4096],
];

/** Section 1 settings. */
export interface LimitConfig {
  /** The product is size×size · size×size. */
  readonly size: number;
  /** Unrecorded products per method (the last sizes the repeats). */
  readonly warmup: number;
  readonly minRepeats: number;
  readonly maxRepeats: number;
  /** Target wall time of each method's recorded products (ms). */
  readonly budgetMs: number;
  /** Threads of the worker-thread measurement (each takes a share of the columns); 0 skips it. */
  readonly workerThreads: number;
  /** onnxruntime intra-op threads (default: available cores). */
  readonly onnxThreads?: number;
  /**
   * Engines whose plain matmul measures the limit (default: the engines the run measures). Lets a run
   * time only some engines' Newton–Schulz against the full limit (`--limit-engines`).
   */
  readonly engines?: readonly EngineName[];
}

/** Section 2 settings. */
export interface EngineNsConfig {
  readonly shapes: readonly Shape[];
  /** Unrecorded rounds after the first calls (the first sizes the repeats). */
  readonly warmup: number;
  readonly minRepeats: number;
  readonly maxRepeats: number;
  /** Target wall time of the section (ms), split over the shapes still to run. */
  readonly budgetMs: number;
  readonly seed: number;
  /**
   * Calls per shape of a separate `WorkersEngine({profile: true})` to show where the workers engine's time
   * goes (per thread and phase; 0 or absent: none). `--workers-profile N`.
   */
  readonly workersProfile?: number;
}

/** Section 3 settings. */
export interface GramConfig {
  readonly shapes: readonly Shape[];
  readonly warmup: number;
  readonly minRepeats: number;
  readonly maxRepeats: number;
  readonly budgetMs: number;
  readonly seed: number;
  /** Steps after which the Gram form restarts (the library's default `[2]`). */
  readonly restarts: readonly number[];
}

/** Section 4 settings. */
export interface EngineStepConfig {
  /** MLP widths `[in, hidden…, out]`: a Dense kernel `[fanIn, fanOut]` and a bias per layer. */
  readonly layers: readonly number[];
  /** Unrecorded rounds (the first step creates the state), the first one reported apart. */
  readonly warmup: number;
  readonly minSteps: number;
  readonly maxSteps: number;
  /** Target wall time of the recorded rounds (ms). */
  readonly budgetMs: number;
  readonly seed: number;
}

/** What the engine sections run (each section null to skip it). */
export interface EngineSectionsConfig {
  readonly engines: readonly EngineName[];
  readonly limit: LimitConfig | null;
  readonly ns: EngineNsConfig | null;
  readonly gram: GramConfig | null;
  readonly step: EngineStepConfig | null;
}

/** Everything `bench:engines` does. */
export interface EnginesBenchConfig {
  readonly quick: boolean;
  /** JSON output path, or null to write nothing. */
  readonly out: string | null;
  readonly sections: EngineSectionsConfig;
}

/** 784 → 4 × 1024 → 10: kernels 784×1024, four 1024×1024, 1024×10, and a bias per layer. */
export const stepLayers: readonly number[] = [784, 1024, 1024, 1024, 1024, 1024, 10];

export const fullEngineSections: EngineSectionsConfig = {
  engines: allEngines,
  limit: { size: 2048, warmup: 2, minRepeats: 5, maxRepeats: 30, budgetMs: 3_000, workerThreads: 2 },
  ns: {
    shapes: [
      [256, 256],
      [1024, 1024],
      [768, 3072],
      [1024, 4096],
    ],
    warmup: 1,
    minRepeats: 3,
    maxRepeats: 15,
    budgetMs: 90_000,
    seed: 42,
  },
  gram: {
    shapes: [
      [256, 4096],
      [512, 4096],
      [1024, 4096],
      [1024, 1024],
    ],
    warmup: 1,
    minRepeats: 3,
    maxRepeats: 10,
    budgetMs: 45_000,
    seed: 43,
    restarts: [2],
  },
  step: { layers: stepLayers, warmup: 2, minSteps: 5, maxSteps: 10, budgetMs: 75_000, seed: 7 },
};

export const quickEngineSections: EngineSectionsConfig = {
  engines: allEngines,
  limit: { size: 512, warmup: 1, minRepeats: 3, maxRepeats: 10, budgetMs: 200, workerThreads: 2 },
  ns: { shapes: [[256, 256], [256, 1024]], warmup: 1, minRepeats: 3, maxRepeats: 5, budgetMs: 10_000, seed: 42 },
  gram: { shapes: [[128, 1024], [256, 256]], warmup: 1, minRepeats: 3, maxRepeats: 5, budgetMs: 5_000, seed: 43, restarts: [2] },
  step: { layers: [128, 256, 256, 10], warmup: 2, minSteps: 3, maxSteps: 5, budgetMs: 5_000, seed: 7 },
};

/** The settings of a full run, or of `--quick` (small shapes, few repeats). */
export function defaultEnginesConfig(quick: boolean): EnginesBenchConfig {
  return { quick, out: resolve(repoRoot, 'results/bench-engines.json'), sections: quick ? quickEngineSections : fullEngineSections };
}

// ---------------------------------------------------------------------------------------------------
// Results

/** One way of multiplying the limit's matrices. */
export interface LimitRow {
  readonly engine: EngineName;
  /** How, in words. */
  readonly method: string;
  readonly threads: number;
  readonly ms: Stats;
  /** From the median time. */
  readonly gflops: number;
  /** From the minimum time (the least disturbed product). */
  readonly peakGflops: number;
  /** The limit ÷ this rate: the best "× of the limit" an engine built on this product can reach. */
  readonly xLimit: number;
}

/** The limit (best median rate, GFLOP/s), the peak (best rate of one product) and each engine's own best rate. */
export interface MatmulRates {
  readonly limit: number;
  readonly peak: number;
  readonly own: Partial<Record<EngineName, number>>;
}

/** The rates a limit section measured (NaN where nothing was measured). */
export function matmulRates(limit: LimitResult | null): MatmulRates {
  const own: Partial<Record<EngineName, number>> = {};
  for (const r of limit?.rows ?? []) own[r.engine] = Math.max(own[r.engine] ?? 0, r.gflops);
  return { limit: limit?.best?.gflops ?? NaN, peak: limit?.peak?.gflops ?? NaN, own };
}

export interface LimitResult {
  readonly size: number;
  /** 2·size³. */
  readonly flops: number;
  readonly rows: readonly LimitRow[];
  readonly skipped: readonly { readonly engine: EngineName; readonly reason: string }[];
  /** The best median rate (GFLOP/s): the limit. */
  readonly best: { readonly engine: EngineName; readonly method: string; readonly gflops: number } | null;
  /** The best rate of a single product (from the minimum times). */
  readonly peak: { readonly engine: EngineName; readonly method: string; readonly gflops: number } | null;
  readonly wallMs: number;
}

/** One engine on one shape. */
export interface EngineNsRow {
  readonly engine: EngineName;
  /** `describeEngine(engine, backend, k·n)`. */
  readonly description: string;
  readonly status: 'measured' | 'unavailable';
  readonly reason?: string;
  /** The first call on this shape (the first shape's includes thread start-up / session creation). */
  readonly firstCallMs: number;
  readonly ms: Stats | null;
  readonly gflops: number;
  /** "× of the limit": median time ÷ (flops / limit); NaN without a limit. */
  readonly xLimit: number;
  /** Minimum time ÷ (flops / peak): both sides least disturbed by other load. */
  readonly xLimitOfMins: number;
  /**
   * Median time ÷ (flops / this engine's own plain-matmul rate in the limit section: tfjs-wasm's
   * `tf.matMul`, the worker threads', onnxruntime's MatMul): the engine's overhead over its kernels.
   */
  readonly xOwnMatmul: number;
  /** The issue's target on this shape, or null where none is stated. */
  readonly target: number | null;
  readonly holds: boolean | null;
  /** max|out − tfjs| / max|tfjs| (0 for tfjs itself). */
  readonly maxRelDiffToTfjs: number;
  /** Of the first call's output: Frobenius norm and the first 8 values (tests compare with newtonSchulz). */
  readonly check: { readonly frobenius: number; readonly sample: readonly number[] };
}

/** Where the workers engine's time goes on one shape: median per thread and phase over `calls` calls. */
export interface WorkersBreakdown {
  readonly calls: number;
  /** Median wall time of the calls (ms). */
  readonly wallMs: number;
  /** Per thread: median ms per phase ({@link PROFILE_PHASES}). */
  readonly threads: readonly WorkersProfile[];
}

export interface EngineNsShape {
  readonly shape: Shape;
  readonly k: number;
  readonly n: number;
  readonly steps: number;
  /** steps·(4k²n + 2k³). */
  readonly flops: number;
  /** flops / limit, in ms (NaN without a limit). */
  readonly idealMs: number;
  readonly repeats: number;
  readonly warmupRoundMs: number;
  readonly rows: readonly EngineNsRow[];
  /** With {@link EngineNsConfig.workersProfile}. */
  readonly workersBreakdown?: WorkersBreakdown;
}

export interface EngineNsResult {
  readonly shapes: readonly EngineNsShape[];
  /** Per engine: the first call ever (first shape), the warm median there, and the difference. */
  readonly startup: readonly { readonly engine: EngineName; readonly coldMs: number; readonly warmMs: number; readonly startupMs: number }[];
  readonly wallMs: number;
}

export interface GramShape {
  readonly shape: Shape;
  readonly k: number;
  readonly n: number;
  readonly repeats: number;
  readonly standard: { readonly ms: Stats; readonly flops: number; readonly flopsSpec: number };
  /** `flops`: as `newtonSchulzGramTall` computes (dense); `flopsSpec`: 8k²n + 32k³ (§13.1). */
  readonly gram: { readonly ms: Stats; readonly flops: number; readonly flopsSpec: number };
  /** Median gram ÷ median standard. */
  readonly timeRatio: number;
  /** Gram flops ÷ standard flops (as implemented). */
  readonly flopRatio: number;
  /** max|gram − standard| / max|standard|. */
  readonly maxRelDiff: number;
  /** ‖gram − standard‖_F / ‖standard‖_F. */
  readonly relFrobenius: number;
}

export interface GramResult {
  readonly restarts: readonly number[];
  readonly steps: number;
  readonly shapes: readonly GramShape[];
  readonly wallMs: number;
}

export interface StepRow {
  /** `adamw()` or `muon({engine: 'x'})`. */
  readonly name: string;
  readonly engine: EngineName | null;
  readonly description: string;
  readonly status: 'measured' | 'unavailable';
  readonly reason?: string;
  readonly firstStepMs: number;
  readonly msPerStep: Stats | null;
  /** Median ÷ adamw's median. */
  readonly ratioToAdamw: number;
  /**
   * The whole step as × of the limit for its Newton–Schulz flops alone: median step time ÷ (NS flops per
   * step / limit); NaN for adamw or without a limit.
   */
  readonly xLimitNs: number;
  /** `tf.memory().numTensors` growth per recorded step (0 = no leak). */
  readonly leakedTensorsPerStep: number;
}

export interface StepResult {
  readonly layers: readonly number[];
  readonly params: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly totalParams: number;
  /** Newton–Schulz flops of one muon step (every kernel; Jordan, 5 steps). */
  readonly nsFlopsPerStep: number;
  readonly warmup: number;
  readonly steps: number;
  readonly rows: readonly StepRow[];
  readonly wallMs: number;
}

/** One target check. */
export interface TargetCheck {
  readonly engine: EngineName;
  readonly shape: Shape;
  readonly xLimit: number;
  readonly target: number;
  readonly holds: boolean;
}

export interface EngineSectionsResult {
  readonly config: EngineSectionsConfig;
  readonly backend: string;
  readonly available: ReturnType<typeof listEngines>;
  /** `os.loadavg()` at the start and the end (the machine is shared). */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly limit: LimitResult | null;
  readonly ns: EngineNsResult | null;
  readonly gram: GramResult | null;
  readonly step: StepResult | null;
  readonly targets: readonly TargetCheck[];
  readonly wallMs: number;
}

export interface EnginesBenchResult {
  readonly schema: 'orthoptim/bench-engines@1';
  readonly machine: MachineDetails;
  readonly quick: boolean;
  readonly engines: EngineSectionsResult;
  readonly wallMs: number;
}

// ---------------------------------------------------------------------------------------------------
// Flops and small helpers

/** Standard NS: steps·(4k²n + 2k³) (spec §13.1; k = min side, n = max side). */
export function standardFlops(shape: Shape, steps: number): number {
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  return steps * (4 * k * k * n + 2 * k ** 3);
}

/**
 * Gram NS as `newtonSchulzGramTall` computes it (dense GEMM flops): `R = XXᵀ` (2k²n); per step
 * `W = R(cR + bI) + aI` (2k³), `Q ← Q·W` (2k³, not at the first step or after a restart),
 * `R ← W(RW)` (4k³, not before a restart or after the last step); a restart `X ← QX`, `R ← XXᵀ` (4k²n);
 * the end `X ← QX` (2k²n). 5 steps, restart after step 2: 8k²n + 28k³.
 */
export function gramFlops(shape: Shape, steps: number, restarts: readonly number[]): number {
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  const at = new Set(restarts);
  let flops = 2 * k * k * n;
  let haveQ = false;
  for (let i = 0; i < steps; i++) {
    if (i > 0 && at.has(i) && haveQ) {
      flops += 4 * k * k * n;
      haveQ = false;
    }
    flops += 2 * k ** 3;
    if (haveQ) flops += 2 * k ** 3;
    haveQ = true;
    if (i + 1 < steps && !at.has(i + 1)) flops += 4 * k ** 3;
  }
  return haveQ ? flops + 2 * k * k * n : flops;
}

/** The spec's §13.1 dense count for Gram NS with 5 steps and one restart: 8k²n + 32k³. */
export function gramFlopsSpec(shape: Shape): number {
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  return 8 * k * k * n + 32 * k ** 3;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function availability(engine: EngineName): { ok: true } | { ok: false; reason: string } {
  const e = listEngines().find((x) => x.name === engine);
  if (e === undefined) return { ok: false, reason: 'not registered' };
  return e.available ? { ok: true } : { ok: false, reason: e.reason ?? 'unavailable' };
}

// ---------------------------------------------------------------------------------------------------
// Section 1: the matmul limit

/** Minimal protobuf writing for the one-MatMul ONNX model (field numbers from onnx.proto, v1.12). */
const utf8 = new TextEncoder();
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const pbInt = (field: number, v: number): number[] => [...varint(field * 8), ...varint(v)];
const pbBytes = (field: number, bytes: readonly number[]): number[] => [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
const pbString = (field: number, s: string): number[] => pbBytes(field, [...utf8.encode(s)]);

/** ValueInfoProto of a float matrix with symbolic dimensions. */
function matrixInfo(name: string, dims: readonly [string, string]): number[] {
  const shape = dims.flatMap((d) => pbBytes(1, pbString(2, d))); // TensorShapeProto.dim { dim_param }
  const tensorType = [...pbInt(1, 1 /* FLOAT */), ...pbBytes(2, shape)];
  return [...pbString(1, name), ...pbBytes(2, pbBytes(1, tensorType))];
}

/** A serialized ONNX model `Y = MatMul(A, B)`: float32 `A` [m, k], `B` [k, n] (dynamic dimensions). */
export function matMulModel(): Uint8Array {
  const node = [...pbString(1, 'A'), ...pbString(1, 'B'), ...pbString(2, 'Y'), ...pbString(3, 'matmul'), ...pbString(4, 'MatMul')];
  const graph = [
    ...pbBytes(1, node),
    ...pbString(2, 'matmul'),
    ...pbBytes(11, matrixInfo('A', ['m', 'k'])),
    ...pbBytes(11, matrixInfo('B', ['k', 'n'])),
    ...pbBytes(12, matrixInfo('Y', ['m', 'n'])),
  ];
  return Uint8Array.from([
    ...pbInt(1, IR_VERSION),
    ...pbString(2, 'orthoptim-bench'),
    ...pbBytes(7, graph),
    ...pbBytes(8, [...pbString(1, ''), ...pbInt(2, OPSET)]),
  ]);
}

/** One way of multiplying the limit's matrices, set up once and timed repeatedly. */
interface MatmulProbe {
  readonly engine: EngineName;
  readonly method: string;
  readonly threads: number;
  /** size·size · size·size flops. */
  readonly flops: number;
  /** One product on a fresh right operand (prepared untimed); returns its wall time in ms. */
  once(): Promise<number>;
  close(): Promise<void>;
}

/** Warm-up products (the last one timed sizes the repeats), then the recorded ones. */
async function repeated(config: LimitConfig, probe: MatmulProbe): Promise<Stats> {
  let warm = 0;
  for (let i = 0; i < Math.max(1, config.warmup); i++) warm = await probe.once();
  const repeats = repeatsFor(config.budgetMs, warm, config.minRepeats, config.maxRepeats);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await probe.once());
  return stats(times);
}

/** tfjs-wasm `tf.matMul` on the calling thread. */
function tfjsProbe(size: number): MatmulProbe {
  const a = tf.randomNormal([size, size], 0, 1, 'float32', 1);
  const b = tf.randomNormal([size, size], 0, 1, 'float32', 2);
  return {
    engine: 'tfjs',
    method: `tf.matMul ${size}×${size} on tfjs-wasm (fresh right operand)`,
    threads: 1,
    flops: 2 * size ** 3,
    async once() {
      const fresh = tf.add(b, 0);
      await sync(fresh);
      const { ms } = await timeOnce(() => tf.matMul(a, fresh));
      fresh.dispose();
      return ms;
    },
    close() {
      tf.dispose([a, b]);
      return Promise.resolve();
    },
  };
}

/** A one-MatMul ONNX graph on onnxruntime-node. */
async function onnxProbe(ort: OnnxRuntime, size: number, threads: number, spinning: boolean): Promise<MatmulProbe> {
  const session: OrtSession = await ort.InferenceSession.create(matMulModel(), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } },
  });
  const a = new ort.Tensor('float32', seededUniform(size * size, 1), [size, size]);
  const bData = seededUniform(size * size, 2);
  return {
    engine: 'onnxruntime',
    method: `one-MatMul ONNX graph ${size}×${size}, ${spinning ? 'spinning' : 'non-spinning'} threads`,
    threads,
    flops: 2 * size ** 3,
    async once() {
      // a new tensor on the same data: onnxruntime keeps nothing of an input between runs, and a 16 MB
      // copy per product would only feed the garbage collector (which then competes for the 2 cores)
      const b = new ort.Tensor('float32', bData, [size, size]);
      const t0 = now();
      const out = await session.run({ A: a, B: b });
      const ms = now() - t0;
      if ((out.Y.data as Float32Array).length !== size * size) throw new Error('onnxruntime MatMul: wrong output size');
      return ms;
    },
    close: () => session.release(),
  };
}

/**
 * The worker threads of the limit: CommonJS evaluated in each thread (no loader needed), tfjs-wasm on
 * `A (size×size) · B_j (size×cols_j)`. Messages: `prepare` (a fresh copy of B_j, untimed) → `ready`;
 * `go` → `{ms}`.
 */
const LIMIT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const tf = require(workerData.core);
require(workerData.wasm);
tf.env().set('PROD', true);
(async () => {
  if (!(await tf.setBackend('wasm'))) throw new Error('no wasm backend in the limit worker');
  const a = tf.randomNormal([workerData.size, workerData.size], 0, 1, 'float32', 1);
  const b = tf.randomNormal([workerData.size, workerData.cols], 0, 1, 'float32', 2 + workerData.rank);
  let fresh = null;
  parentPort.on('message', (m) => {
    if (m === 'prepare') {
      fresh = tf.add(b, 0);
      fresh.dataSync();
      parentPort.postMessage({ ready: true });
    } else if (m === 'go') {
      const t0 = performance.now();
      const y = tf.matMul(a, fresh);
      const ms = performance.now() - t0;
      tf.dispose([y, fresh]);
      parentPort.postMessage({ ms });
    }
  });
  parentPort.postMessage({ started: true });
})().catch((e) => { throw e; });
`;

/** Worker threads each multiplying A by its share of B's columns; the wall time of all of them. */
async function workersProbe(size: number, threads: number): Promise<MatmulProbe> {
  const require = createRequire(import.meta.url);
  const core = require.resolve('@tensorflow/tfjs-core');
  const wasm = require.resolve('@tensorflow/tfjs-backend-wasm');
  const base = Math.floor(size / threads);
  const cols = Array.from({ length: threads }, (_, r) => base + (r < size % threads ? 1 : 0));
  const workers = cols.map(
    (c, rank) => new Worker(LIMIT_WORKER, { eval: true, execArgv: [], workerData: { core, wasm, size, cols: c, rank } }),
  );
  // A worker's next message, or its error/exit as a rejection.
  const next = (w: Worker): Promise<{ ms?: number }> =>
    new Promise((res, rej) => {
      const onMessage = (m: { ms?: number }) => {
        cleanup();
        res(m);
      };
      const onError = (e: Error) => {
        cleanup();
        rej(e);
      };
      const onExit = (code: number) => {
        cleanup();
        rej(new Error(`limit worker exited with code ${code}`));
      };
      const cleanup = () => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
  const all = (msg: string) =>
    Promise.all(
      workers.map((w) => {
        const p = next(w);
        w.postMessage(msg);
        return p;
      }),
    );
  const close = async () => {
    await Promise.all(workers.map((w) => w.terminate()));
  };
  try {
    await Promise.all(workers.map(next)); // started
  } catch (e) {
    await close();
    throw e;
  }
  return {
    engine: 'workers',
    method: `${threads} worker threads on tfjs-wasm, each A·B_j on 1/${threads} of the columns (wall time)`,
    threads,
    flops: 2 * size ** 3,
    async once() {
      await all('prepare');
      const t0 = now();
      await all('go');
      return now() - t0;
    },
    close,
  };
}

/** Section 1: the best float32 matmul rate of size×size products, per engine. */
export async function runLimitSection(
  config: LimitConfig,
  engines: readonly EngineName[],
  log: (msg: string) => void = () => {},
): Promise<LimitResult> {
  const start = now();
  const flops = 2 * config.size ** 3;
  const rows: LimitRow[] = [];
  const skipped: { engine: EngineName; reason: string }[] = [];
  const open: (() => Promise<MatmulProbe>)[] = [];
  if (engines.includes('tfjs')) open.push(() => Promise.resolve(tfjsProbe(config.size)));
  if (engines.includes('onnxruntime')) {
    const l = loadOnnxRuntime();
    if (!l.ok) skipped.push({ engine: 'onnxruntime', reason: l.reason });
    else {
      const threads = config.onnxThreads ?? os.availableParallelism();
      for (const spinning of [true, false]) open.push(() => onnxProbe(l.ort, config.size, threads, spinning));
    }
  }
  if (engines.includes('workers')) {
    if (config.workerThreads < 1) skipped.push({ engine: 'workers', reason: 'workerThreads = 0' });
    else open.push(() => workersProbe(config.size, config.workerThreads));
  }
  for (const make of open) {
    const probe = await make();
    try {
      const ms = await repeated(config, probe);
      const row = {
        engine: probe.engine, method: probe.method, threads: probe.threads, ms,
        gflops: flops / (ms.median * 1e6), peakGflops: flops / (ms.min * 1e6), xLimit: NaN,
      };
      rows.push(row);
      log(`  limit: ${probe.method}: ${formatMs(ms.median)} (${row.gflops.toFixed(1)} GFLOP/s; best ${formatMs(ms.min)})`);
    } finally {
      await probe.close();
    }
  }
  const bestOf = (rate: (r: LimitRow) => number) => {
    let b: LimitRow | null = null;
    for (const r of rows) if (b === null || rate(r) > rate(b)) b = r;
    return b === null ? null : { engine: b.engine, method: b.method, gflops: rate(b) };
  };
  const best = bestOf((r) => r.gflops);
  const limit = best?.gflops ?? NaN;
  return {
    size: config.size,
    flops,
    rows: rows.map((r) => ({ ...r, xLimit: limit / r.gflops })),
    skipped,
    best,
    peak: bestOf((r) => r.peakGflops),
    wallMs: now() - start,
  };
}

// ---------------------------------------------------------------------------------------------------
// Section 2: Newton–Schulz per engine

/** One shape: first calls, exactness, then interleaved rounds (engine order rotated each round). */
async function benchEngineShape(
  shape: Shape,
  config: EngineNsConfig,
  engines: readonly EngineName[],
  rates: MatmulRates,
  budgetMs: number,
  log: (msg: string) => void,
): Promise<EngineNsShape> {
  const start = now();
  const ns = resolveNewtonSchulz({ coefficients: 'jordan' });
  const steps = ns.steps;
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  const flops = standardFlops(shape, steps);
  const backend = tf.getBackend();
  const input = makeInput(shape, config.seed);
  const usable = engines.filter((e) => availability(e).ok);
  const callOnce = async (engine: EngineName, keep: boolean) => {
    const x = tf.add(input, 0); // a fresh tensor per call (tfjs-wasm caches packed right operands)
    await sync(x);
    const r = await timeOnce(() => newtonSchulz(x, { ...ns, engine }), keep);
    x.dispose();
    return r;
  };
  const first = new Map<EngineName, { ms: number; data: Float32Array }>();
  try {
    for (const engine of usable) {
      const { ms, out } = await callOnce(engine, true);
      first.set(engine, { ms, data: (await out!.data()) as Float32Array });
      out!.dispose();
    }
    let roundIndex = 0;
    const round = async (): Promise<Record<string, number>> => {
      const times: Record<string, number> = {};
      const shift = roundIndex++ % Math.max(1, usable.length);
      for (let i = 0; i < usable.length; i++) {
        const engine = usable[(i + shift) % usable.length];
        times[engine] = (await callOnce(engine, false)).ms;
      }
      return times;
    };
    const measured = await measureRounds(round, {
      warmup: Math.max(1, config.warmup),
      repeats: (warm) => repeatsFor(budgetMs - (now() - start), warm, config.minRepeats, config.maxRepeats),
    });
    const idealMs = flops / (rates.limit * 1e6);
    const ref = first.get('tfjs')?.data;
    const target = targetShapes.some((s) => sameShape(s, shape)) ? targetXLimit : null;
    const rows: EngineNsRow[] = engines.map((engine) => {
      const description = describeEngine(engine, backend, k * n);
      const a = availability(engine);
      const f = first.get(engine);
      if (!a.ok || f === undefined) {
        return {
          engine, description, status: 'unavailable', reason: a.ok ? 'not run' : a.reason, firstCallMs: NaN, ms: null,
          gflops: NaN, xLimit: NaN, xLimitOfMins: NaN, xOwnMatmul: NaN, target: target?.[engine] ?? null, holds: null, maxRelDiffToTfjs: NaN,
          check: { frobenius: NaN, sample: [] },
        };
      }
      const ms = measured.stats[engine];
      const xLimit = ms.median / idealMs;
      let sq = 0;
      for (const v of f.data) sq += v * v;
      const t = target?.[engine] ?? null;
      return {
        engine,
        description,
        status: 'measured',
        firstCallMs: f.ms,
        ms,
        gflops: flops / (ms.median * 1e6),
        xLimit,
        xLimitOfMins: ms.min / (flops / (rates.peak * 1e6)),
        xOwnMatmul: ms.median / (flops / ((rates.own[engine] ?? NaN) * 1e6)),
        target: t,
        holds: t === null || !Number.isFinite(xLimit) ? null : xLimit <= t,
        maxRelDiffToTfjs: ref === undefined ? NaN : relativeError(f.data, ref).maxRel,
        check: { frobenius: Math.sqrt(sq), sample: Array.from(f.data.slice(0, 8)) },
      };
    });
    log(
      `  NS ${shape.join('x')}: ` +
        rows.map((r) => `${r.engine} ${r.ms === null ? 'n/a' : `${formatMs(r.ms.median)} (×${r.xLimit.toFixed(2)})`}`).join(', ') +
        ` (${measured.rounds.length} repeats, ${formatMs(now() - start)})`,
    );
    let breakdown: WorkersBreakdown | undefined;
    if ((config.workersProfile ?? 0) > 0 && usable.includes('workers')) {
      breakdown = await workersBreakdown((await input.data()) as Float32Array, shape, config.workersProfile!);
      log(`  workers breakdown ${shape.join('x')}: wall ${formatMs(breakdown.wallMs)}; ` +
        breakdown.threads.map((t, i) => `thread ${i}: ${PROFILE_PHASES.map((p) => `${p} ${t[p].toFixed(0)}`).join(' ')}`).join(' | '));
    }
    return {
      shape, k, n, steps, flops, idealMs,
      repeats: measured.rounds.length, warmupRoundMs: measured.warmupRoundMs, rows,
      ...(breakdown === undefined ? {} : { workersBreakdown: breakdown }),
    };
  } finally {
    input.dispose();
  }
}

/**
 * The workers engine's time on one shape by thread and phase: `calls` calls (after one untimed) of a
 * separate `WorkersEngine({profile: true})` with the default options on the raw float32 data.
 */
export async function workersBreakdown(input: Float32Array, shape: Shape, calls: number): Promise<WorkersBreakdown> {
  const engine = new WorkersEngine({ profile: true });
  const ns = resolveNewtonSchulz({ coefficients: 'jordan' });
  const iteration = { steps: Array.from({ length: ns.steps }, () => [3.4445, -4.775, 2.0315] as const), normScale: 1, eps: 1e-7 };
  const matrix = { rows: shape[0], cols: shape[1], data: input };
  try {
    engine.run([matrix], iteration);
    const walls: number[] = [];
    const runs: WorkersProfile[][] = [];
    for (let c = 0; c < calls; c++) {
      const t0 = now();
      engine.run([matrix], iteration);
      walls.push(now() - t0);
      runs.push(engine.lastProfile ?? []);
    }
    const median = (v: number[]) => stats(v).median;
    const threads = (runs[0] ?? []).map((_, t) =>
      Object.fromEntries(PROFILE_PHASES.map((p) => [p, median(runs.map((r) => r[t]?.[p] ?? NaN))])) as WorkersProfile,
    );
    return { calls, wallMs: median(walls), threads };
  } finally {
    await engine.shutdown();
  }
}

/** Section 2: every shape, the budget split over the shapes still to run. */
export async function runEngineNsSection(
  config: EngineNsConfig,
  engines: readonly EngineName[],
  rates: MatmulRates,
  log: (msg: string) => void = () => {},
): Promise<EngineNsResult> {
  const start = now();
  const shapes: EngineNsShape[] = [];
  for (let i = 0; i < config.shapes.length; i++) {
    const left = config.budgetMs - (now() - start);
    shapes.push(await benchEngineShape(config.shapes[i], config, engines, rates, Math.max(0, left) / (config.shapes.length - i), log));
  }
  const startup = shapes.length === 0 ? [] : shapes[0].rows.flatMap((r) =>
    r.ms === null ? [] : [{ engine: r.engine, coldMs: r.firstCallMs, warmMs: r.ms.median, startupMs: r.firstCallMs - r.ms.median }],
  );
  return { shapes, startup, wallMs: now() - start };
}

// ---------------------------------------------------------------------------------------------------
// Section 3: Gram NS against the standard form (tfjs engine)

/** Section 3. */
export async function runGramSection(config: GramConfig, log: (msg: string) => void = () => {}): Promise<GramResult> {
  const start = now();
  const standard = resolveNewtonSchulz({ coefficients: 'jordan', engine: 'tfjs' });
  const gram = resolveNewtonSchulz({ coefficients: 'jordan', engine: 'tfjs', form: 'gram', gramRestarts: config.restarts });
  const steps = standard.steps;
  const shapes: GramShape[] = [];
  for (let s = 0; s < config.shapes.length; s++) {
    const shapeStart = now();
    const budgetMs = Math.max(0, config.budgetMs - (shapeStart - start)) / (config.shapes.length - s);
    const shape = config.shapes[s];
    const input = makeInput(shape, config.seed);
    try {
      const call = async (ns: typeof standard) => {
        const x = tf.add(input, 0);
        await sync(x);
        const r = await timeOnce(() => newtonSchulz(x, ns));
        x.dispose();
        return r.ms;
      };
      const outS = newtonSchulz(input, standard);
      const outG = newtonSchulz(input, gram);
      const d = relativeError(await outG.data(), await outS.data());
      tf.dispose([outS, outG]);
      let roundIndex = 0;
      const round = async (): Promise<Record<'standard' | 'gram', number>> => {
        if (roundIndex++ % 2 === 0) {
          const a = await call(standard);
          return { standard: a, gram: await call(gram) };
        }
        const g = await call(gram);
        return { gram: g, standard: await call(standard) };
      };
      const m = await measureRounds(round, {
        warmup: Math.max(1, config.warmup),
        repeats: (warm) => repeatsFor(budgetMs - (now() - shapeStart), warm, config.minRepeats, config.maxRepeats),
      });
      const sf = standardFlops(shape, steps);
      const gf = gramFlops(shape, steps, config.restarts);
      const r: GramShape = {
        shape,
        k: Math.min(...shape),
        n: Math.max(...shape),
        repeats: m.rounds.length,
        standard: { ms: m.stats.standard, flops: sf, flopsSpec: sf },
        gram: { ms: m.stats.gram, flops: gf, flopsSpec: gramFlopsSpec(shape) },
        timeRatio: m.stats.gram.median / m.stats.standard.median,
        flopRatio: gf / sf,
        maxRelDiff: d.maxRel,
        relFrobenius: d.frobenius,
      };
      shapes.push(r);
      log(`  gram ${shape.join('x')}: standard ${formatMs(r.standard.ms.median)}, gram ${formatMs(r.gram.ms.median)} (×${r.timeRatio.toFixed(2)}; flops ×${r.flopRatio.toFixed(2)})`);
    } finally {
      input.dispose();
    }
  }
  return { restarts: [...config.restarts], steps, shapes, wallMs: now() - start };
}

// ---------------------------------------------------------------------------------------------------
// Section 4: optimizer step per engine

let stepInstance = 0;

/** Section 4: ms per `applyGradients` of `adamw()`, `muon({engine})` and `turboMuon({engine})` on an MLP (fixed gradients). */
export async function runEngineStepSection(
  config: EngineStepConfig,
  engines: readonly EngineName[],
  limitGflops: number = NaN,
  log: (msg: string) => void = () => {},
): Promise<StepResult> {
  const start = now();
  const id = stepInstance++;
  const params: { name: string; shape: number[] }[] = [];
  for (let l = 1; l < config.layers.length; l++) {
    params.push({ name: `dense_${l}/kernel`, shape: [config.layers[l - 1], config.layers[l]] });
    params.push({ name: `dense_${l}/bias`, shape: [config.layers[l]] });
  }
  const nsFlopsPerStep = params
    .filter((p) => p.shape.length === 2)
    .reduce((s, p) => s + standardFlops([p.shape[0], p.shape[1]], 5), 0);
  const grads = params.map((p, i) => tf.randomNormal(p.shape, 0, 0.01, 'float32', config.seed + i));
  const inits = params.map((p, i) => tf.randomNormal(p.shape, 0, 1 / Math.sqrt(p.shape[0]), 'float32', config.seed + 1000 + i));
  const backend = tf.getBackend();
  interface Contender {
    name: string;
    engine: EngineName | null;
    optimizer: tf.Optimizer;
    vars: tf.Variable[];
    firstStepMs: number;
  }
  const contenders: Contender[] = [];
  const unavailable: StepRow[] = [];
  const make = (name: string, engine: EngineName | null, optimizer: tf.Optimizer, tag: string): Contender => ({
    name,
    engine,
    optimizer,
    vars: params.map((p, i) => tf.variable(inits[i], true, `bench_engines${id}_${tag}/${p.name}`)),
    firstStepMs: NaN,
  });
  contenders.push(make('adamw()', null, adamw(), 'adamw'));
  for (const engine of engines) {
    const a = availability(engine);
    // Muon, and Turbo-Muon (AOL preconditioning + 4 steps; its "× of the limit" is taken against Muon's NS flops).
    for (const [recipe, factory] of [['muon', muon], ['turboMuon', turboMuon]] as const) {
      const name = `${recipe}({engine: '${engine}'})`;
      if (a.ok) contenders.push(make(name, engine, factory({ engine }), `${recipe}_${engine}`));
      else {
        unavailable.push({
          name, engine, description: describeEngine(engine, backend), status: 'unavailable', reason: a.reason,
          firstStepMs: NaN, msPerStep: null, ratioToAdamw: NaN, xLimitNs: NaN, leakedTensorsPerStep: NaN,
        });
      }
    }
  }
  const growth = new Map<string, number>();
  let recording = false;
  const stepOnce = async (c: Contender): Promise<number> => {
    const named = c.vars.map((v, i) => ({ name: v.name, tensor: grads[i] }));
    const count = tf.memory().numTensors;
    const t0 = now();
    c.optimizer.applyGradients(named);
    await sync(c.vars[c.vars.length - 1]);
    const ms = now() - t0;
    if (recording) growth.set(c.name, (growth.get(c.name) ?? 0) + tf.memory().numTensors - count);
    return ms;
  };
  let roundIndex = 0;
  const round = async (): Promise<Record<string, number>> => {
    const times: Record<string, number> = {};
    const shift = roundIndex++ % contenders.length;
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + shift) % contenders.length];
      times[c.name] = await stepOnce(c);
    }
    return times;
  };
  try {
    let warmRoundMs = 0;
    for (let w = 0; w < Math.max(1, config.warmup); w++) {
      const t0 = now();
      const times = await round();
      warmRoundMs = now() - t0;
      if (w === 0) for (const c of contenders) c.firstStepMs = times[c.name];
    }
    log(`  step: warm-up round ${formatMs(warmRoundMs)}`);
    recording = true;
    const steps = repeatsFor(config.budgetMs, warmRoundMs, config.minSteps, config.maxSteps);
    const m = await measureRounds(round, { warmup: 0, repeats: steps });
    const base = m.stats['adamw()'].median;
    const rows: StepRow[] = contenders.map((c) => ({
      name: c.name,
      engine: c.engine,
      description: c.engine === null ? `no orthogonalization (backend ${backend})` : describeEngine(c.engine, backend),
      status: 'measured',
      firstStepMs: c.firstStepMs,
      msPerStep: m.stats[c.name],
      ratioToAdamw: m.stats[c.name].median / base,
      xLimitNs: c.engine === null ? NaN : m.stats[c.name].median / (nsFlopsPerStep / (limitGflops * 1e6)),
      leakedTensorsPerStep: (growth.get(c.name) ?? 0) / Math.max(1, steps),
    }));
    rows.push(...unavailable);
    log(`  step: ${rows.map((r) => `${r.name} ${r.msPerStep === null ? 'n/a' : formatMs(r.msPerStep.median)}`).join(', ')}`);
    return {
      layers: [...config.layers],
      params,
      totalParams: params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
      nsFlopsPerStep,
      warmup: Math.max(1, config.warmup),
      steps,
      rows,
      wallMs: now() - start,
    };
  } finally {
    for (const c of contenders) {
      c.optimizer.dispose();
      tf.dispose(c.vars);
    }
    tf.dispose([...grads, ...inits]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Running and reporting

/** The issue's targets, checked on the measured rows that have one (engine × shape). */
export function targetChecks(ns: Pick<EngineNsResult, 'shapes'> | null): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const s of ns?.shapes ?? []) {
    for (const r of s.rows) {
      if (r.target !== null && r.holds !== null) out.push({ engine: r.engine, shape: s.shape, xLimit: r.xLimit, target: r.target, holds: r.holds });
    }
  }
  return out;
}

/** Runs the engine sections on the active backend (the callers select wasm). */
export async function runEngineSections(
  config: EngineSectionsConfig,
  log: (msg: string) => void = () => {},
): Promise<EngineSectionsResult> {
  const start = now();
  const loadStart = os.loadavg();
  const available = listEngines();
  for (const e of available) if (!e.available) log(`  engine ${e.name} unavailable: ${e.reason ?? ''}`);
  let limit: LimitResult | null = null;
  if (config.limit !== null) {
    log(`limit: ${config.limit.size}×${config.limit.size} float32 matmul per engine`);
    limit = await runLimitSection(config.limit, config.limit.engines ?? config.engines, log);
  }
  const rates = matmulRates(limit);
  let ns: EngineNsResult | null = null;
  if (config.ns !== null) {
    log('Newton–Schulz per engine:');
    ns = await runEngineNsSection(config.ns, config.engines, rates, log);
  }
  let gram: GramResult | null = null;
  if (config.gram !== null) {
    log('Gram Newton–Schulz vs standard (tfjs engine):');
    gram = await runGramSection(config.gram, log);
  }
  let step: StepResult | null = null;
  if (config.step !== null) {
    log(`optimizer step per engine: MLP ${config.step.layers.join('→')}`);
    step = await runEngineStepSection(config.step, config.engines, rates.limit, log);
  }
  const targets = targetChecks(ns);
  return {
    config,
    backend: tf.getBackend(),
    available,
    loadAverage: { start: loadStart, end: os.loadavg() },
    limit,
    ns,
    gram,
    step,
    targets,
    wallMs: now() - start,
  };
}

/** Selects the wasm backend, runs the sections, writes the JSON (when `config.out` is set). */
export async function runEnginesBenchmark(config: EnginesBenchConfig, log: (msg: string) => void = () => {}): Promise<EnginesBenchResult> {
  const start = now();
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('bench:engines: could not initialise the wasm backend');
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  log(`engines on ${machine.backend} (${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}), load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const engines = await runEngineSections(config.sections, log);
  const result: EnginesBenchResult = { schema: 'orthoptim/bench-engines@1', machine, quick: config.quick, engines, wallMs: now() - start };
  if (config.out !== null) {
    mkdirSync(dirname(config.out), { recursive: true });
    writeFileSync(config.out, `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}

const fmtX = (v: number): string => (Number.isFinite(v) ? `×${v.toFixed(2)}` : '—');
const fmtG = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—');
const fmtE = (v: number): string => (Number.isFinite(v) ? v.toExponential(1) : '—');
const fmtGflop = (flops: number): string => (flops / 1e9).toFixed(2);
const verdict = (h: boolean | null): string => (h === null ? '—' : h ? 'yes' : '**no**');

/** The markdown tables of the engine sections. */
export function renderEngineSections(r: EngineSectionsResult): string {
  const out: string[] = [];
  const load = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' ');
  out.push(
    `## Native Newton–Schulz engines on ${r.backend}\n\n` +
      `Load average (1/5/15 min) ${load(r.loadAverage.start)} at the start, ${load(r.loadAverage.end)} at the end (shared machine). ` +
      `Engines: ${r.available.map((e) => `${e.name} ${e.available ? 'available' : `unavailable (${e.reason ?? ''})`}`).join(', ')}.`,
  );
  const rates = matmulRates(r.limit);
  const limitGflops = rates.limit;
  if (r.limit !== null) {
    const l = r.limit;
    out.push(
      `### The matmul limit: float32 ${l.size}×${l.size}·${l.size}×${l.size} (${fmtGflop(l.flops)} GFLOP), measured in this run`,
      formatTable(
        ['engine', 'how', 'threads', 'reps', 'time (median)', 'IQR', 'min', 'GFLOP/s (median)', 'GFLOP/s (min)', '× of the limit'],
        l.rows.map((x) => [
          x.engine, x.method, String(x.threads), String(x.ms.n), formatMs(x.ms.median), formatMs(x.ms.iqr), formatMs(x.ms.min),
          x.gflops === l.best?.gflops ? `**${fmtG(x.gflops)}**` : fmtG(x.gflops), fmtG(x.peakGflops), fmtX(x.xLimit),
        ]),
      ),
      (l.best === null ? 'no limit measured' : `**limit = ${fmtG(l.best.gflops)} GFLOP/s** (${l.best.engine}: ${l.best.method}; median).`) +
        (l.peak === null ? '' : ` Peak (fastest single product): ${fmtG(l.peak.gflops)} GFLOP/s (${l.peak.engine}: ${l.peak.method}).`) +
        (l.skipped.length ? ` Skipped: ${l.skipped.map((s) => `${s.engine} (${s.reason})`).join('; ')}.` : ''),
    );
  }
  if (r.ns !== null) {
    out.push(
      `### Newton–Schulz (Jordan, 5 steps) per engine\n\n` +
        'Median warm time (the first call on each shape apart; native engines include the copies off and onto the backend), ' +
        'flops = 5·(4k²n + 2k³), "× of the limit" = median time ÷ (flops / limit), "min ÷ peak" = minimum time ÷ (flops / peak) ' +
        '(both sides least disturbed by other load). Targets (issue, 1024×1024 and 1024×4096): ' +
        `onnxruntime ≤ ×${targetXLimit.onnxruntime}, workers ≤ ×${targetXLimit.workers}, tfjs-wasm ≤ ×${targetXLimit.tfjs}, judged on "× of the limit". ` +
        '"× own matmul" = time ÷ (flops / the engine\'s own plain-matmul rate in the limit section): its overhead over its kernels. ' +
        '"max rel. Δ" = max|out − tfjs| / max|tfjs|.',
      formatTable(
        [
          'shape', 'GFLOP', 'at the limit', 'engine', 'reps', 'time (median)', 'IQR', 'GFLOP/s',
          '× of the limit', 'target', 'holds', 'min ÷ peak', '× own matmul', 'first call', 'max rel. Δ vs tfjs',
        ],
        r.ns.shapes.flatMap((s) =>
          s.rows.map((x) => [
            s.shape.join('×'), fmtGflop(s.flops), formatMs(s.idealMs), x.engine,
            x.ms === null ? '—' : String(x.ms.n),
            x.ms === null ? `unavailable: ${x.reason ?? ''}` : `**${formatMs(x.ms.median)}**`,
            x.ms === null ? '—' : formatMs(x.ms.iqr),
            fmtG(x.gflops), `**${fmtX(x.xLimit)}**`, x.target === null ? '—' : `≤ ×${x.target}`, verdict(x.holds),
            fmtX(x.xLimitOfMins), fmtX(x.xOwnMatmul), formatMs(x.firstCallMs), x.engine === 'tfjs' ? '(ref)' : fmtE(x.maxRelDiffToTfjs),
          ]),
        ),
      ),
      `Engines as resolved: ${[...new Set(r.ns.shapes.flatMap((s) => s.rows.map((x) => x.description)))].join('; ')}.`,
    );
    if (r.ns.startup.length) {
      out.push(
        `Start-up (first call ever, on ${r.ns.shapes[0].shape.join('×')}, minus the warm median there):\n\n` +
          formatTable(
            ['engine', 'first call', 'warm median', 'start-up'],
            r.ns.startup.map((s) => [s.engine, formatMs(s.coldMs), formatMs(s.warmMs), formatMs(s.startupMs)]),
          ),
      );
    }
    const broken = r.ns.shapes.filter((s) => s.workersBreakdown !== undefined);
    if (broken.length) {
      out.push(
        '### Where the workers engine\'s time goes\n\n' +
          'Median ms per phase and thread over the profiled calls (a separate engine with the default options): ' +
          '`in`/`out` copies between the call\'s shared buffer and the thread\'s wasm heap; per step `transpose` (JS), ' +
          '`gram` (X_jᵀX_j), `copy` (partial Gram into shared memory), `wait` (barriers), `sum` (all-reduce, norm), ' +
          '`poly` (A_r·A), `combine` (P rows), `update` (X_j·P). "products" = gram + poly + update.',
        formatTable(
          ['shape', 'wall (median)', 'thread', ...PROFILE_PHASES, 'products', 'other'],
          broken.flatMap((s) =>
            s.workersBreakdown!.threads.map((t, i) => {
              const products = t.gram + t.poly + t.update;
              const all = PROFILE_PHASES.reduce((sum, p) => sum + t[p], 0);
              return [
                s.shape.join('×'), formatMs(s.workersBreakdown!.wallMs), String(i),
                ...PROFILE_PHASES.map((p) => t[p].toFixed(1)), products.toFixed(1), (all - products).toFixed(1),
              ];
            }),
          ),
        ),
      );
    }
    if (r.targets.length) {
      const engines = [...new Set(r.targets.map((t) => t.engine))];
      const shapes = [...new Set(r.targets.map((t) => t.shape.join('×')))];
      out.push(
        '### Targets\n\n' +
          `"× of the limit" as above. The floor: the engine's own plain ${r.limit?.size ?? ''}² matmul rate as × of the ` +
          'limit — roughly the best an engine built on those kernels can do.\n\n' +
          formatTable(
            ['engine', 'target', ...shapes, 'holds', 'floor (own matmul)'],
            engines.map((e) => {
              const ts = r.targets.filter((t) => t.engine === e);
              return [
                e, `≤ ×${ts[0].target}`,
                ...shapes.map((sh) => {
                  const t = ts.find((x) => x.shape.join('×') === sh);
                  return t === undefined ? '—' : `${fmtX(t.xLimit)} ${t.holds ? '✓' : '✗'}`;
                }),
                ts.every((t) => t.holds) ? 'yes' : '**no**',
                fmtX(rates.limit / (rates.own[e] ?? NaN)),
              ];
            }),
          ),
      );
    }
  }
  if (r.gram !== null) {
    const g = r.gram;
    out.push(
      `### Gram Newton–Schulz vs standard (tfjs engine, Jordan, ${g.steps} steps, restart after step ${g.restarts.join(', ')})\n\n` +
        'Flops as implemented (dense): standard 20k²n + 10k³; Gram 8k²n + 28k³ (the spec\'s §13.1 count, 8k²n + 32k³, also shown). ' +
        '"max rel. Δ" = max|gram − standard| / max|standard|.',
      formatTable(
        ['shape', 'reps', 'standard', 'gram', 'gram ÷ standard (time)', 'GFLOP standard', 'GFLOP gram (spec)', 'gram ÷ standard (flops)', 'GFLOP/s std / gram', 'max rel. Δ', 'rel. Δ (F)'],
        g.shapes.map((s) => [
          s.shape.join('×'), String(s.repeats), formatMs(s.standard.ms.median), formatMs(s.gram.ms.median),
          `**${s.timeRatio.toFixed(2)}**`, fmtGflop(s.standard.flops), `${fmtGflop(s.gram.flops)} (${fmtGflop(s.gram.flopsSpec)})`,
          s.flopRatio.toFixed(2),
          `${fmtG(s.standard.flops / (s.standard.ms.median * 1e6))} / ${fmtG(s.gram.flops / (s.gram.ms.median * 1e6))}`,
          fmtE(s.maxRelDiff), fmtE(s.relFrobenius),
        ]),
      ),
    );
  }
  if (r.step !== null) {
    const s = r.step;
    const kernels = s.params.filter((p) => p.shape.length === 2).map((p) => p.shape.join('×'));
    const idealNs = s.nsFlopsPerStep / (limitGflops * 1e6);
    out.push(
      `### Optimizer step per engine: MLP ${s.layers.join('→')}\n\n` +
        `${s.totalParams.toLocaleString('en-US')} parameters: kernels ${kernels.join(', ')} (all orthogonalized by muon) and ` +
        `${s.params.length - kernels.length} biases (muon's auxiliary AdamW). Fixed gradients; median of ${s.steps} steps after ${s.warmup} ` +
        `warm-up rounds (first step apart: state creation; the engines were already started by the sections above). ` +
        `NS per muon step: ${fmtGflop(s.nsFlopsPerStep)} GFLOP = ${formatMs(idealNs)} at the limit; ` +
        '"step × of the limit" = median step time ÷ that (the whole step against its NS flops alone).',
      formatTable(
        ['optimizer', 'engine (describeEngine)', 'first step', 'ms/step (median)', 'IQR', '÷ adamw', 'step × of the limit', 'tensors leaked/step'],
        s.rows.map((x) => [
          x.name, x.description, formatMs(x.firstStepMs),
          x.msPerStep === null ? `unavailable: ${x.reason ?? ''}` : `**${formatMs(x.msPerStep.median)}**`,
          x.msPerStep === null ? '—' : formatMs(x.msPerStep.iqr),
          Number.isFinite(x.ratioToAdamw) ? `${x.ratioToAdamw.toFixed(1)}×` : '—',
          fmtX(x.xLimitNs),
          Number.isFinite(x.leakedTensorsPerStep) ? String(x.leakedTensorsPerStep) : '—',
        ]),
      ),
    );
  }
  const walls = [
    r.limit && `limit ${formatMs(r.limit.wallMs)}`,
    r.ns && `NS ${formatMs(r.ns.wallMs)}`,
    r.gram && `Gram ${formatMs(r.gram.wallMs)}`,
    r.step && `step ${formatMs(r.step.wallMs)}`,
  ].filter((x): x is string => typeof x === 'string');
  out.push(`engine sections: ${formatMs(r.wallMs)} (${walls.join(', ')})`);
  return out.join('\n\n');
}

/** The markdown report of `bench:engines`. */
export function renderEnginesReport(r: EnginesBenchResult): string {
  const m = r.machine;
  const head =
    `${m.cpuModel}, ${m.cores} cores, Node ${m.node}, tfjs-core ${m.tfjsCore}` +
    `${m.tfjsBackendWasm ? `, tfjs-backend-wasm ${m.tfjsBackendWasm}` : ''}` +
    `${Object.keys(m.backendFlags).length ? ` (${Object.entries(m.backendFlags).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''}, ${m.date}` +
    `${r.quick ? ' — quick mode' : ''}`;
  return `${renderEngineSections(r.engines).replace('\n\n', `\n\n${head}\n\n`)}\n\ntotal wall time ${formatMs(r.wallMs)}`;
}

/** The flags of `bench:engines`, parsed by src/cli/args.ts. */
export const enginesCommand = {
  name: 'npm run bench:engines --',
  summary: "Newton–Schulz per engine (tfjs, workers, onnxruntime) against this machine's matmul limit, Gram vs standard NS, a muon step per engine.",
  flags: {
    quick: { type: 'boolean', description: 'Smoke run: small shapes, few repeats, a small MLP.' },
    engines: { type: 'list', choices: allEngines, valueName: 'LIST', description: `Engines to measure, e.g. tfjs,onnxruntime (default: ${allEngines.join(',')}).` },
    shapes: { type: 'string', valueName: 'RxC,...', description: `Newton–Schulz shapes (default: ${fullEngineSections.ns!.shapes.map((s) => s.join('x')).join(',')}).` },
    'gram-shapes': { type: 'string', valueName: 'RxC,...', description: `Gram-vs-standard shapes (default: ${fullEngineSections.gram!.shapes.map((s) => s.join('x')).join(',')}).` },
    'limit-size': { type: 'integer', min: 1, description: `Side of the square matmul that measures the limit (default ${fullEngineSections.limit!.size}).` },
    'limit-engines': {
      type: 'list',
      choices: allEngines,
      valueName: 'LIST',
      description: 'Engines whose plain matmul measures the limit (default: --engines), e.g. --engines tfjs,workers --limit-engines tfjs,workers,onnxruntime.',
    },
    'workers-profile': { type: 'integer', min: 0, description: "N profiled calls per shape: where the workers engine's time goes (default 0)." },
    'no-limit': { type: 'boolean', description: 'Skip the limit (× of the limit is then not computed).' },
    'no-ns': { type: 'boolean', description: 'Skip the Newton–Schulz-per-engine section.' },
    'no-gram': { type: 'boolean', description: 'Skip the Gram section.' },
    'no-step': { type: 'boolean', description: 'Skip the optimizer-step section.' },
    out: { type: 'string', valueName: 'PATH', description: 'JSON output (default results/bench-engines.json).' },
  },
} as const satisfies CommandSpec;

/**
 * Parses the command line (flags as `--flag value` or `--flag=value`); throws a UsageError naming the
 * flag. Engine lists come back in table order ({@link allEngines}).
 */
export function parseEnginesArgs(argv: readonly string[], cwd = process.cwd()): EnginesBenchConfig | 'help' {
  const parsed = parseArgs(argv, enginesCommand);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const inTableOrder = (list: readonly string[]): EngineName[] => allEngines.filter((e) => list.includes(e));
  const shapes = f.shapes === undefined ? null : shapesFlag(enginesCommand, 'shapes', f.shapes);
  const gramShapes = f['gram-shapes'] === undefined ? null : shapesFlag(enginesCommand, 'gram-shapes', f['gram-shapes']);
  if (f.out === '') throw usageError(enginesCommand, '--out needs a path');
  const base = defaultEnginesConfig(f.quick);
  const b = base.sections;
  const sections: EngineSectionsConfig = {
    engines: f.engines === undefined ? b.engines : inTableOrder(f.engines),
    limit: f['no-limit'] || b.limit === null ? null : {
      ...b.limit,
      size: f['limit-size'] ?? b.limit.size,
      ...(f['limit-engines'] === undefined ? {} : { engines: inTableOrder(f['limit-engines']) }),
    },
    ns: f['no-ns'] || b.ns === null ? null : {
      ...b.ns,
      shapes: shapes ?? b.ns.shapes,
      ...(f['workers-profile'] === undefined ? {} : { workersProfile: f['workers-profile'] }),
    },
    gram: f['no-gram'] || b.gram === null ? null : { ...b.gram, shapes: gramShapes ?? b.gram.shapes },
    step: f['no-step'] ? null : b.step,
  };
  return { ...base, out: f.out === undefined ? base.out : resolve(cwd, f.out), sections };
}

async function main(): Promise<void> {
  const config = commandLine(enginesCommand, process.argv.slice(2), (argv) => parseEnginesArgs(argv));
  if (config === null) return;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  try {
    const result = await runEnginesBenchmark(config, log);
    process.stdout.write(`${renderEnginesReport(result)}\n`);
    if (config.out !== null) log(`wrote ${config.out}`);
  } finally {
    disposeEngines();
  }
}

const invokedPath = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedPath === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
