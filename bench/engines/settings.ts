/**
 * `bench:engines` settings and results: the engines and the targets, each section's settings
 * (full and `--quick`), and the shape of every section's result (the JSON the run writes).
 * @module
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listEngines, type EngineName } from '../../src/index.js';
import { type WorkersProfile } from '../../src/engines/workers.js';
import { type Stats } from '../../src/bench/stats.js';
import { type MachineDetails } from '../../src/bench/machine.js';
import { type Shape } from '../timing.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every engine, in table order. */
export const allEngines: readonly EngineName[] = ['tfjs', 'workers', 'onnxruntime'];

/** The targets: NS time ÷ (flops / limit) at most this, on {@link targetShapes}. */
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
  /** The target on this shape, or null where none is stated. */
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
