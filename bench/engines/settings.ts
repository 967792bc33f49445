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

/**
 * The Newton–Schulz iteration a row times: `'jordan'` — `resolveNewtonSchulz({coefficients: 'jordan'})`,
 * 5 steps, Frobenius normalization, form `'auto'` (the default: onnxruntime takes the Gram form where it
 * does fewer flops, tfjs and workers the standard form); `'turbo'` — Turbo-Muon's, `{coefficients:
 * 'turbo'}`: You's last 4 rows, AOL preconditioning, form `'auto'` as well.
 */
export type NsIteration = 'jordan' | 'turbo';

/** A row's name: the engine, with ` · turbo` for Turbo-Muon's iteration. */
export function variantName(engine: EngineName, iteration: NsIteration): string {
  return iteration === 'jordan' ? engine : `${engine} · turbo`;
}

/** One of the targets: that row's "× of the limit" at most `max` on `shape`. */
export interface NsTarget {
  readonly engine: EngineName;
  readonly iteration: NsIteration;
  readonly shape: Shape;
  /** Largest "× of the limit" (median time ÷ (5-step Jordan flops / limit)) that holds the target. */
  readonly max: number;
  /** In words, for the table. */
  readonly label: string;
}

/**
 * Issue 16 point 4's targets, each judged on "× of the limit" measured in the same run, with the 5-step
 * Jordan flop count 5·(4k²n + 2k³) for every row (Turbo-Muon's 4 steps and the Gram form included: the
 * count is the work Jordan's standard iteration does, so fewer flops show as a lower ×).
 */
export const nsTargets: readonly NsTarget[] = [
  { engine: 'onnxruntime', iteration: 'jordan', shape: [1024, 4096], max: 0.75, label: "onnxruntime, form 'auto' (Gram where cheaper)" },
  { engine: 'onnxruntime', iteration: 'jordan', shape: [1024, 1024], max: 1.0, label: "onnxruntime, form 'auto' (standard on a square)" },
  { engine: 'onnxruntime', iteration: 'turbo', shape: [1024, 4096], max: 0.6, label: 'Turbo-Muon (4 steps, AOL) on onnxruntime' },
  { engine: 'workers', iteration: 'jordan', shape: [1024, 1024], max: 5, label: 'workers (the calling thread computing a share)' },
];

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
  /** Engines (of the run's) on which Turbo-Muon's iteration is timed as well (default none). */
  readonly turbo?: readonly EngineName[];
  /**
   * `'targets'`: on each shape only the rows that have a target there ({@link nsTargets}; `--targets-only`);
   * `'all'` (default): every row on every shape.
   */
  readonly rows?: 'all' | 'targets';
  /**
   * Time one product of the limit's best method in every round as well, beside the rows (`--targets-only`
   * sets it): "× of the limit in rounds" divides by that rate, measured under the same load as the rows
   * — on a shared machine the limit section's rate, minutes earlier, may have seen other load.
   */
  readonly limitInRounds?: boolean;
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
    turbo: ['onnxruntime'],
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

/**
 * `--targets-only`: just the rows of {@link nsTargets} on their shapes, after the limit (all three
 * engines' plain matmul, as in a full run), with the workers engine's phase profile; no Gram or step
 * section. About 1–2 minutes here.
 */
export const targetEngineSections: EngineSectionsConfig = {
  engines: allEngines.filter((e) => nsTargets.some((t) => t.engine === e)),
  limit: { ...fullEngineSections.limit!, budgetMs: 2_000, maxRepeats: 15, engines: allEngines },
  ns: {
    shapes: targetShapes,
    warmup: 1,
    minRepeats: 5,
    maxRepeats: 9,
    budgetMs: 60_000,
    seed: 42,
    turbo: ['onnxruntime'],
    rows: 'targets',
    workersProfile: 2,
    limitInRounds: true,
  },
  gram: null,
  step: null,
};

/** The settings of a full run, of `--quick` (small shapes, few repeats), or of `--targets-only`. */
export function defaultEnginesConfig(quick: boolean, targetsOnly = false): EnginesBenchConfig {
  const sections = targetsOnly ? targetEngineSections : quick ? quickEngineSections : fullEngineSections;
  return { quick, out: resolve(repoRoot, 'results/bench-engines.json'), sections };
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

/** One engine (and iteration) on one shape. */
export interface EngineNsRow {
  readonly engine: EngineName;
  readonly iteration: NsIteration;
  /** {@link variantName}. */
  readonly name: string;
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
   * With {@link EngineNsConfig.limitInRounds}: median time ÷ (flops / the limit method's median rate in
   * this shape's rounds); NaN otherwise.
   */
  readonly xLimitInRounds?: number;
  /**
   * Median time ÷ (flops / this engine's own plain-matmul rate in the limit section: tfjs-wasm's
   * `tf.matMul`, the worker threads', onnxruntime's MatMul): the engine's overhead over its kernels.
   */
  readonly xOwnMatmul: number;
  /** The target ({@link nsTargets}) for this row on this shape, or null where none is stated. */
  readonly target: number | null;
  readonly holds: boolean | null;
  /** max|out − tfjs| / max|tfjs| for the same iteration (0 for tfjs itself; NaN when tfjs was not run). */
  readonly maxRelDiffToTfjs: number;
  /** Of the first call's output: Frobenius norm and the first 8 values (tests compare with newtonSchulz). */
  readonly check: { readonly frobenius: number; readonly sample: readonly number[] };
}

/** Where the workers engine's time goes on one shape: median per thread and phase over `calls` calls. */
export interface WorkersBreakdown {
  readonly calls: number;
  /** Median wall time of the calls (ms). */
  readonly wallMs: number;
  /** Per rank: median ms per phase ({@link PROFILE_PHASES}). */
  readonly threads: readonly WorkersProfile[];
  /** Whether the last entry of `threads` is the calling thread's own share (`mainThreadShare`). */
  readonly callingThread: boolean;
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
  /** With {@link EngineNsConfig.limitInRounds}: the limit method's median rate (GFLOP/s) in this shape's rounds. */
  readonly limitInRoundsGflops?: number;
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

/** One target check: held, missed, or (null) not measured — the engine unavailable or no limit. */
export interface TargetCheck {
  readonly engine: EngineName;
  readonly iteration: NsIteration;
  readonly label: string;
  readonly shape: Shape;
  /** NaN when not measured. */
  readonly xLimit: number;
  readonly target: number;
  readonly holds: boolean | null;
  /** Median time (ms); NaN when not measured. */
  readonly ms: number;
  /** The engine's overhead over its own plain matmul: median ÷ (flops / own rate) (NaN when unknown). */
  readonly xOwnMatmul: number;
  /** The row's {@link EngineNsRow.xLimitInRounds} (NaN without it): shown beside, not judged. */
  readonly xLimitInRounds: number;
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
