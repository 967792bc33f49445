/**
 * The on-disk record of benchmark runs — what `orthoptim bench` writes and `orthoptim report` reads.
 *
 * A results directory holds one folder per task comparison:
 *
 * ```text
 * RESULTS_DIR/
 *   <task>/summary.json            ComparisonSummary (format 'orthoptim-bench/2')
 *   <task>/logs/<run-id>.jsonl     one LogLine per line: every training step, every evaluation, and —
 *                                  when the run was asked to (`orthogonality`) — one `orthogonality` line
 *                                  per weight matrix on every sampled step
 *   <task>/checkpoints/<run-id>/   the latest checkpoint of an unfinished run (removed when it finishes)
 *   ns/summary.json                NsTimingSummary   (optional: Newton–Schulz time vs size)
 *   deep-tanh/summary.json         written by the deep-tanh-init experiment (optional)
 * ```
 *
 * A run id is `<optimizer>-s<seed>` (or `<label>-s<seed>` when a comparison runs one optimizer twice
 * with different options). Every number here is plain JSON; non-finite numbers are written as `null`.
 * @module
 */
import type { DataInfo, MetricInfo } from './tasks/types.js';

/** One line of a run's JSON-lines log. */
export type LogLine =
  | {
      type: 'step';
      /** 1-based: the loss is the batch loss before update `step` was applied. */
      step: number;
      loss: number;
      /** Training wall time since the run started, evaluations excluded, ms (cumulative). */
      wallMs: number;
      /** Time inside `applyGradients` for this step, ms. */
      optimizerMs: number;
    }
  | {
      type: 'eval';
      step: number;
      split: 'validation' | 'test';
      loss: number;
      metric: number;
      /** Training wall time at this evaluation (cumulative, evaluations excluded), ms. */
      wallMs: number;
      /** Examples evaluated. */
      examples: number;
    }
  | OrthogonalityLine;

/**
 * What update `step` did to one weight matrix (`ComparisonOptions.orthogonality`): the diagnostics of
 * `W_after − W_before` by `matrixDiagnostics` (`src/linalg/diagnostics.ts`), written after that step's
 * `step` line. Untimed: the runner measures outside the step's timers.
 */
export interface OrthogonalityLine {
  type: 'orthogonality';
  /** 1-based: the update applied at step `step`. */
  step: number;
  /** The task's parameter name, e.g. `'hidden1/kernel'`. */
  name: string;
  /** The matrix view: `[∏ leading dims, last dim]` (fan-in × fan-out). */
  rows: number;
  cols: number;
  /** `‖Û·Ûᵀ − I_k‖_F / √k` of `Û = U / σ_max` (wide orientation, k = min side). */
  orthogonalityError: number;
  /** The spectral norm ‖U‖₂. */
  sigmaMax: number;
  sigmaMin: number;
  /** ‖U‖_F² / ‖U‖₂². */
  stableRank: number;
  frobeniusNorm: number;
  method: 'exact' | 'lanczos';
  /** Every singular value, descending (with `orthogonality.spectrum`). */
  singularValues?: number[];
}

/** One learning rate tried by a sweep. */
export interface SweepPoint {
  learningRate: number;
  /** Validation loss after the sweep's steps (`null` when training diverged). */
  validationLoss: number | null;
}

/** Final numbers of one run. */
export interface RunFinal {
  /** Mean training loss over the last 10 % of steps (at least one). */
  trainLoss: number;
  validationLoss: number;
  validationMetric: number;
  testLoss: number;
  testMetric: number;
}

/** One optimizer trained with one seed. */
export interface RunRecord {
  /** `<label>-s<seed>`; the log is `logs/<id>.jsonl`. */
  id: string;
  /** Registry name of the optimizer. */
  optimizer: string;
  /** Display name: the optimizer's name, or the label given on the command line. */
  label: string;
  seed: number;
  /** The learning rate used (chosen by the sweep when there was one). */
  learningRate: number | null;
  /** `optimizer.getConfig()`: every option with its default filled in. */
  options: Record<string, unknown>;
  /** Log file, relative to the comparison's folder. */
  log: string;
  final: RunFinal;
  timing: {
    msPerStep: number;
    msPerStepOptimizer: number;
    medianMsPerStep: number;
    medianMsPerStepOptimizer: number;
    trainSeconds: number;
    evalSeconds: number;
  };
  /** First step whose smoothed training loss is ≤ the comparison's target (`null`: never reached). */
  stepsToTarget: number | null;
  /** Training wall time at that step, seconds. */
  secondsToTarget: number | null;
  /** True when this run continued from a checkpoint of an interrupted one. */
  resumed: boolean;
  /** The step whose training loss was not finite (the run stopped there), or null. */
  diverged: number | null;
}

/** Mean and spread over seeds. */
export interface Stat {
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
}

/** One optimizer's runs summarized over seeds. */
export interface Aggregate {
  label: string;
  optimizer: string;
  learningRate: number | null;
  trainLoss: Stat;
  validationLoss: Stat;
  validationMetric: Stat;
  testLoss: Stat;
  testMetric: Stat;
  msPerStep: Stat;
  msPerStepOptimizer: Stat;
  /** Over the seeds that reached the target; `n` says how many did. */
  stepsToTarget: Stat;
  secondsToTarget: Stat;
  /** The sweep of the first seed (the learning rate is chosen once, on seed `seeds[0]`). */
  sweep: SweepPoint[] | null;
}

/** The summary of one task comparison (`<task>/summary.json`). */
export interface ComparisonSummary {
  format: 'orthoptim-bench/2';
  /** The task that ran (`'synthetic'` when it replaced a missing dataset). */
  task: string;
  requestedTask: string;
  taskSummary: string;
  model: string;
  metric: MetricInfo;
  dataSource: string;
  /** Which data it trained on (full set / embedded subset, path, examples per split), when the task says. */
  data?: DataInfo | null;
  /** Set when the synthetic task replaced the requested one: the notice printed. */
  fallback: string | null;
  splits: { train: number; validation: number; test: number };
  parameters: number;
  backend: string;
  engine: string;
  steps: number;
  batch: number;
  seeds: number[];
  evalEvery: number;
  sweep: { grid: number[]; steps: number } | null;
  /** The training-loss target of steps-to-target and how it was chosen. */
  target: { value: number; rule: string; smoothing: number } | null;
  timingMethod: string;
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    platform: string;
    arch: string;
    node: string;
    tfjs: string;
    backend: string;
  };
  command: string[];
  startedAt: string;
  wallSeconds: number;
  runs: RunRecord[];
  aggregates: Aggregate[];
}

/** Newton–Schulz (and other orthogonalizers) time against matrix size (`ns/summary.json`). */
export interface NsTimingSummary {
  format: 'orthoptim-ns/1';
  backend: string;
  engine: string;
  machine: ComparisonSummary['machine'];
  rows: {
    /** e.g. `'jordan×5'`, `'turbo×4'`, `'auon'`, `'matmul'`. */
    method: string;
    rows: number;
    cols: number;
    ms: number;
    /** Orthogonality error ‖XXᵀ − I‖_F / √k of the result (null for plain matmul). */
    error: number | null;
  }[];
}
