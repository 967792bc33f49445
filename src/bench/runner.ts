/**
 * A fair comparison of optimizers on one task.
 *
 * Fairness: every optimizer trains the same model from the same initial parameters (drawn once per seed
 * by the task, in float64 JavaScript) on the same batches in the same order (a {@link BatchSampler} with
 * a seed derived from the run's seed); each may first get its own learning rate from a sweep (a small
 * log grid around its default, best by validation loss after a few steps, on the first seed), so no
 * optimizer is judged at a bad learning rate. Several seeds give a mean and a spread.
 *
 * Record: with `outDir`, every step and evaluation goes to a JSON-lines log, finished runs to
 * `runs/<id>.json` and the comparison to `summary.json` (layout and types: {@link ./results.js}); an
 * unfinished run leaves a checkpoint (parameters, optimizer state, timers) every `checkpointEvery` steps,
 * and running the same comparison again resumes it from there with bit-identical results. Every file is
 * written atomically; what a resume reads is checked first (checksums, fields, steps: see
 * {@link ./resultsFiles.js}), and a damaged or edited file is an error naming it, with nothing written.
 *
 * Timing (see {@link timingMethod}): each step computes loss and gradients with `tf.variableGrads`, reads
 * the loss back (which waits for the forward and backward passes), then times
 * `optimizer.applyGradients(grads)` closed by a read-back of one element of the last parameter, so
 * asynchronous backends (webgl, webgpu, tfjs-node) are timed to completion too.
 * @module
 */
import { mkdirSync, rmSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// In Node, only tfjs-layers registers the gradients of tfjs-core's ops.
import '@tensorflow/tfjs-layers';
import { createOptimizer, hasAveragedWeights, listOptimizers, withAveragedWeights, type TransformOptimizer } from '../index.js';
import { writeAtomic } from '../node/fileSystem.js';
import { describeEngine, type EngineChoice } from '../engines/engine.js';
import { cosine } from '../schedules/schedule.js';
import { BatchSampler, deriveSeed } from '../core/random.js';
import { OrthogonalityProbe } from '../tfjs/orthogonalityMonitor.js';
import { accelerateWasm } from '../tfjs/wasmMatMul.js';
import { machineInfo } from './machine.js';
import { median, stat } from './stats.js';
import { getTask, loadTask, type TaskFallback } from './tasks/index.js';
import type { ParamInit, TaskDefinition, TaskInstance } from './tasks/types.js';
import type { Aggregate, ComparisonSummary, LogLine, OrthogonalityLine, RunFinal, RunRecord, SweepPoint } from './results.js';
import {
  loadRunOptimizer,
  logUpTo,
  readLog,
  readRunCheckpoint,
  readRunRecord,
  readSettings,
  readSweep,
  toJson,
  writeRunCheckpoint,
  type RunTimers,
} from './resultsFiles.js';

/** One optimizer to compare: a registry name, options, and a display label (default: the name). */
export interface OptimizerSpec {
  name: string;
  /** Distinguishes two entries of the same optimizer with different options (default: `name`). */
  label?: string;
  options?: Record<string, unknown>;
  /**
   * Whether a sweep tunes this entry's learning rate (default true). False keeps it at the given or
   * default value: a parameter-free method (DoG, L-DoG) judged untuned, as its papers judge it.
   */
  tune?: boolean;
  /**
   * The learning rate's shape over a run: `'constant'` (default) or `'cosine'` — half-period cosine decay
   * from the learning rate to 0 over the run's steps (over a sweep trial's steps in the sweep), so the
   * schedule knows the horizon, as a tuned cosine baseline does.
   */
  schedule?: 'constant' | 'cosine';
}

/** A learning-rate sweep: factors × the optimizer's default learning rate, each trained `steps` steps. */
export interface SweepOptions {
  /** Multipliers of the default learning rate (default: `10^(-1, -0.5, 0, 0.5, 1)` for 5 points). */
  factors?: readonly number[];
  /** Number of log-spaced factors from 1/10 to 10 when `factors` is not given (default 5). */
  points?: number;
  /** Training steps per trial (default: a fifth of the run's steps, at least 10). */
  steps?: number;
}

/** What the runner reports while it works. */
export type ProgressEvent =
  | { type: 'data'; task: string; source: string; fallback: TaskFallback | null }
  | { type: 'sweepStart'; label: string; grid: number[]; steps: number }
  | { type: 'sweepPoint'; label: string; point: SweepPoint }
  | { type: 'sweepEnd'; label: string; learningRate: number | null }
  | { type: 'runStart'; id: string; label: string; seed: number; steps: number; fromStep: number }
  | { type: 'step'; id: string; step: number; steps: number; loss: number }
  | { type: 'eval'; id: string; line: Extract<LogLine, { type: 'eval' }> }
  | { type: 'runEnd'; id: string; run: RunRecord; skipped: boolean };

export interface ComparisonOptions {
  /** A registered task name or a task definition. */
  task: string | TaskDefinition;
  optimizers: readonly OptimizerSpec[];
  /** Training steps per run (default: the task's). */
  steps?: number;
  /** Batch size (default: the task's). */
  batch?: number;
  /** Seeds of the runs: initial parameters and batch order (default `[0]`); the data uses the first. */
  seeds?: readonly number[];
  /** Evaluate on the validation split every this many steps (0: only at the end; default: the task's). */
  evalEvery?: number;
  /** Examples of intermediate evaluations (default: the task's, else the whole split). */
  evalLimit?: number;
  /** Learning-rate sweep per optimizer before the runs (default: none). */
  sweep?: SweepOptions | null;
  /** Training-loss target for steps-to-target (default: chosen from the runs, see {@link targetRule}). */
  target?: number | null;
  /** Folder of this comparison's record (logs, checkpoints, summary); without it nothing is written. */
  outDir?: string;
  /** Checkpoint an unfinished run every this many steps (default 50; 0: never). Needs `outDir`. */
  checkpointEvery?: number;
  /** Continue from what `outDir` holds (default true); false starts over and replaces it. */
  resume?: boolean;
  /** TensorFlow.js backend to select first (`'wasm'`, `'cpu'`, …); default: keep the current one. */
  backend?: string;
  /** `engine` option given to every optimizer (default: each optimizer's own, normally `'auto'`). */
  engine?: string;
  dataDir?: string;
  download?: boolean;
  cacheDir?: string;
  /**
   * Run a task that needs no data when the dataset is not found (default false: a missing dataset is a
   * `DataNotFoundError` naming every directory searched; the default task has the embedded subset).
   */
  fallback?: boolean;
  /** The command line, for the record. */
  command?: readonly string[];
  onProgress?: (event: ProgressEvent) => void;
  /** Stops with {@link RunInterrupted} after this many training steps in this call (to test resuming). */
  interruptAfter?: number;
  /**
   * Live orthogonality diagnostics (default: none, and the logs are what they were): every `every`
   * steps of a full run (not of sweep trials), one `orthogonality` line per weight matrix (rank ≥ 2)
   * with the diagnostics of that step's update (see {@link OrthogonalityLine}); with `spectrum`, every
   * singular value too (the exact float64 method: O(rows·cols·k) on the host per matrix). Measured
   * outside the step timers; part of `settings.json`, so a resume keeps it.
   */
  orthogonality?: { every: number; spectrum?: boolean } | null;
}

/** Thrown when `interruptAfter` steps have run; the checkpoints on disk let a second call resume. */
export class RunInterrupted extends Error {
  constructor(readonly stepsRun: number) {
    super(`interrupted after ${stepsRun} training steps`);
    this.name = 'RunInterrupted';
  }
}

/** The summary plus the curves of every run (also in the logs when `outDir` is set). */
export interface ComparisonOutcome {
  summary: ComparisonSummary;
  /**
   * Per run id: the training loss of every step (`losses[i]` is step i + 1), the training wall time at
   * each step (ms, cumulative), and the evaluations.
   */
  curves: Record<string, { losses: number[]; wallMs: number[]; evals: Extract<LogLine, { type: 'eval' }>[] }>;
}

/** How the timings are measured; written into every summary. */
export const timingMethod =
  'performance.now() per step. Total: the whole step (batch tensors created, forward + backward with ' +
  'tf.variableGrads, loss read back with await data(), optimizer.applyGradients, tensors disposed). ' +
  'Optimizer: optimizer.applyGradients(grads) alone, started after the loss read-back (so forward and ' +
  'backward have finished) and stopped after awaiting data() of a 1-element slice of the last ' +
  'parameter (so asynchronous backends have finished the update). Evaluations are not timed.';

/** How the default target of steps-to-target is chosen; written into the summary. */
export const targetRule =
  "the mean over seeds of AdamW's final smoothed training loss when adamw is compared (steps for each " +
  "optimizer to reach what AdamW reaches at the end), else the worst optimizer's";

/**
 * Learning rates this benchmark uses when neither the command line nor the task gives one: the
 * optimizer's library default otherwise. Muon 0.02 (KellerJordan/Muon README), AdamW/Adam 1e-3,
 * SGD 0.05 with momentum 0.9.
 */
export const defaultLearningRates: Readonly<Record<string, number>> = { muon: 0.02, adamw: 1e-3, adam: 1e-3, sgd: 0.05 };

/**
 * Options the runner adds for an optimizer unless the spec sets them: SGD's momentum 0.9, and — for
 * every optimizer with an auxiliary AdamW (an `exclude` option) — the task's embeddings and output layer
 * sent to AdamW, as the Muon authors prescribe (vectors go there anyway), at the task's
 * `auxiliaryLearningRate`, else at the task's AdamW learning rate — so the parameters that every
 * optimizer trains with AdamW train at the same rate whichever optimizer is compared.
 */
export function runnerOptions(
  name: string,
  params: readonly ParamInit[],
  variableName: (p: ParamInit) => string,
  auxiliaryLearningRate?: number,
): Record<string, unknown> {
  const info = listOptimizers().find((o) => o.name === name);
  const out: Record<string, unknown> = {};
  if (name === 'sgd') out.momentum = 0.9;
  if (auxiliaryLearningRate !== undefined && info?.options.includes('adamwLearningRate') === true) out.adamwLearningRate = auxiliaryLearningRate;
  if (info?.options.includes('exclude') === true) {
    out.exclude = params
      .filter((p) => p.role === 'embedding' || p.role === 'head')
      .map((p) => new RegExp(`^${variableName(p).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
  }
  return out;
}

/**
 * Selects a backend, importing its package first; an `Error` saying what to install when it is missing.
 * On wasm it also applies {@link accelerateWasm} (idempotent): the benchmarks and the CLI train on
 * XNNPACK's kernels, as a user following the README does.
 */
export async function useBackend(name: string): Promise<void> {
  if (tf.getBackend() === name) {
    if (name === 'wasm') accelerateWasm();
    return;
  }
  if (tf.findBackendFactory(name) === null) {
    const pkg: Record<string, string> = {
      wasm: '@tensorflow/tfjs-backend-wasm',
      cpu: '@tensorflow/tfjs-backend-cpu',
      tensorflow: '@tensorflow/tfjs-node',
    };
    const specifier = pkg[name];
    if (specifier === undefined) {
      throw new Error(`unknown TensorFlow.js backend '${name}' (known here: ${Object.keys(pkg).join(', ')})`);
    }
    try {
      await import(specifier);
    } catch (e) {
      throw new Error(`the ${name} backend needs the package ${specifier}: npm install ${specifier}`, { cause: e });
    }
  }
  if (name === 'wasm') accelerateWasm();
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`could not initialise the TensorFlow.js ${name} backend`);
}

function checkInteger(what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`runComparison: ${what} must be an integer >= ${min}, got ${v}`);
}

/** Trailing mean over `window` steps: `out[i]` = mean of `xs[max(0, i−window+1) … i]`. */
export function smooth(xs: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i];
    if (i >= window) sum -= xs[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/** The smoothing window of steps-to-target for a run of `steps` steps: 5 % of the steps, at least 1. */
export function smoothingWindow(steps: number): number {
  return Math.max(1, Math.round(steps / 20));
}

/** First step (1-based) whose smoothed loss is ≤ `target`, or null. */
export function stepsToTarget(losses: readonly number[], target: number, window: number): number | null {
  const s = smooth(losses, window);
  const i = s.findIndex((v) => v <= target);
  return i < 0 ? null : i + 1;
}

/** The log-spaced sweep factors. */
export function sweepFactors(options: SweepOptions): number[] {
  if (options.factors !== undefined) {
    if (options.factors.length === 0 || !options.factors.every((f) => Number.isFinite(f) && f > 0)) {
      throw new RangeError(`runComparison: sweep factors must be positive numbers, got [${options.factors.join(', ')}]`);
    }
    return [...options.factors];
  }
  const points = options.points ?? 5;
  checkInteger('sweep points', points, 1);
  if (points === 1) return [1];
  return Array.from({ length: points }, (_, i) => 10 ** (-1 + (2 * i) / (points - 1)));
}

/** The variables of a task's parameters, named `orthoptim-bench/<name>` (names are stable across processes, so checkpoints match). */
function createVariables(init: readonly ParamInit[]): tf.Variable[] {
  return init.map((p) => {
    const value = tf.tensor(p.values, p.shape);
    const v = tf.variable(value, true, variableName(p));
    value.dispose();
    return v;
  });
}

function variableName(p: ParamInit): string {
  return `${variablePrefix}${p.name}`;
}

function assignAll(variables: readonly tf.Variable[], values: readonly { shape: number[]; values: Float32Array }[]): void {
  tf.tidy(() => variables.forEach((v, i) => v.assign(tf.tensor(values[i].values, values[i].shape))));
}

/** One untimed forward and backward pass, so the backend's one-time set-up is charged to no optimizer. */
function warmUp(instance: TaskInstance, variables: tf.Variable[], batch: number): void {
  const b = instance.batch(Uint32Array.from({ length: batch }, (_, i) => i));
  const { value, grads } = tf.variableGrads(() => instance.loss(variables, b), variables);
  value.dataSync();
  tf.dispose([value, ...Object.values(grads), ...b.tensors]);
}

interface TrainContext {
  instance: TaskInstance;
  variables: tf.Variable[];
  batch: number;
  evalEvery: number;
  evalLimit: number | undefined;
  emit: (event: ProgressEvent) => void;
  budget: { left: number; ran: number };
  orthogonality: { every: number; spectrum: boolean } | null;
}

interface TrainRequest {
  id: string;
  label: string;
  optimizerName: string;
  options: Record<string, unknown>;
  seed: number;
  steps: number;
  /** Log, checkpoint and record folder; null: keep everything in memory (sweep trials, no outDir). */
  dir: string | null;
  checkpointEvery: number;
  /** Evaluate at the end only, on the validation split (sweep trials). */
  trial: boolean;
  /** The learning rate's shape over the `steps` of this run (see {@link OptimizerSpec.schedule}). */
  schedule: 'constant' | 'cosine';
}

interface TrainResult {
  losses: number[];
  evals: Extract<LogLine, { type: 'eval' }>[];
  final: RunFinal;
  timing: RunRecord['timing'];
  options: Record<string, unknown>;
  resumed: boolean;
  diverged: number | null;
  wallMs: number[];
}

type RunState = RunTimers;

async function train(ctx: TrainContext, req: TrainRequest): Promise<TrainResult> {
  const { instance, variables } = ctx;
  const logPath = req.dir === null ? null : join(req.dir, 'logs', `${req.id}.jsonl`);
  const ckptDir = req.dir === null ? null : join(req.dir, 'checkpoints', req.id);
  const optimizer: TransformOptimizer = createOptimizer(req.optimizerName, scheduled(req));
  // Optimizers that train at one point and evaluate at another (schedule-free's x, an `averaged`
  // wrapper's average) are evaluated where their authors evaluate them: on the averaged weights.
  const averaged = hasAveragedWeights(optimizer);
  const sampler = new BatchSampler(instance.trainCount, ctx.batch, deriveSeed(req.seed, 'batch-order'));
  const state: RunState = { step: 0, wallMs: 0, evalMs: 0, stepMs: [], optimizerMs: [] };
  const losses: number[] = [];
  const cumulative: number[] = [];
  const evals: Extract<LogLine, { type: 'eval' }>[] = [];
  let resumed = false;
  let probe: OrthogonalityProbe | null = null;
  const log = (line: LogLine): void => {
    if (logPath !== null) appendFileSync(logPath, `${JSON.stringify(line)}\n`);
  };
  try {
    const init = instance.initialParams(req.seed);
    assignAll(variables, init);
    if (ckptDir !== null && logPath !== null) {
      mkdirSync(join(req.dir!, 'logs'), { recursive: true });
      const found = readRunCheckpoint(ckptDir, { id: req.id, steps: req.steps, parameters: parameterCount(init) });
      if (found !== null) {
        // Resume: every file is checked (run.json's seal, the parameters' sha256, the optimizer
        // checkpoint and its step, the log's steps) before anything is assigned or written.
        const meta = found.checkpoint;
        await loadRunOptimizer(ckptDir, meta, optimizer);
        const kept = logUpTo(logPath, meta.step);
        let offset = 0;
        assignAll(
          variables,
          init.map((p) => {
            const values = found.params.subarray(offset, offset + p.values.length);
            offset += p.values.length;
            return { shape: p.shape, values };
          }),
        );
        const { step, wallMs, evalMs, stepMs, optimizerMs } = meta;
        Object.assign(state, { step, wallMs, evalMs, stepMs: [...stepMs], optimizerMs: [...optimizerMs] });
        await writeAtomic(logPath, kept.map((l) => `${JSON.stringify(l)}\n`).join(''));
        for (const l of kept) {
          if (l.type === 'step') {
            losses.push(l.loss);
            cumulative.push(l.wallMs);
          } else if (l.type === 'eval') evals.push(l);
        }
        for (let s = 0; s < meta.step; s++) sampler.next();
        resumed = true;
      } else {
        await writeAtomic(logPath, '');
      }
    }
    ctx.emit({ type: 'runStart', id: req.id, label: req.label, seed: req.seed, steps: req.steps, fromStep: state.step });
    const last = variables[variables.length - 1];
    const evaluate = (split: 'validation' | 'test', limit: number | undefined, step: number): Extract<LogLine, { type: 'eval' }> => {
      const e0 = performance.now();
      const m = averaged ? withAveragedWeights(optimizer, () => instance.evaluate(variables, split, limit)) : instance.evaluate(variables, split, limit);
      state.evalMs += performance.now() - e0;
      const examples = Math.min(limit ?? Infinity, split === 'validation' ? instance.splits.validation : instance.splits.test);
      return { type: 'eval', step, split, loss: m.loss, metric: m.metric, wallMs: state.wallMs, examples };
    };
    let diverged: number | null = null;
    // Live diagnostics of full runs only, counted from the resumed step (snapshot and measurement untimed).
    probe = req.trial || ctx.orthogonality === null ? null : benchProbe(variables, ctx.orthogonality, state.step);
    while (state.step < req.steps) {
      if (ctx.budget.left <= 0) throw new RunInterrupted(ctx.budget.ran);
      probe?.before();
      const t0 = performance.now();
      const b = instance.batch(sampler.next());
      const { value, grads } = tf.variableGrads(() => instance.loss(variables, b), variables);
      const loss = (await value.data())[0];
      const t1 = performance.now();
      let t2 = t1;
      if (Number.isFinite(loss)) {
        // the loss goes along for the loss-aware optimizers (alrSmag, polyakSgd); the others ignore it
        optimizer.applyGradients(grads, { loss: value });
        const probe = tf.tidy(() => tf.slice(tf.reshape(last, [-1]), 0, 1));
        await probe.data();
        probe.dispose();
        t2 = performance.now();
      }
      tf.dispose([value, ...b.tensors, ...Object.values(grads)]);
      const t3 = performance.now();
      state.step++;
      ctx.budget.left--;
      ctx.budget.ran++;
      state.wallMs += t3 - t0;
      state.stepMs.push(t3 - t0);
      state.optimizerMs.push(t2 - t1);
      losses.push(loss);
      cumulative.push(state.wallMs);
      log({ type: 'step', step: state.step, loss, wallMs: state.wallMs, optimizerMs: t2 - t1 });
      if (probe !== null) {
        if (Number.isFinite(loss)) for (const r of probe.after()) log(orthogonalityLine(r));
        else probe.dispose();
      }
      ctx.emit({ type: 'step', id: req.id, step: state.step, steps: req.steps, loss });
      if (!Number.isFinite(loss)) {
        diverged = state.step;
        break;
      }
      if (!req.trial && ctx.evalEvery > 0 && state.step % ctx.evalEvery === 0 && state.step < req.steps) {
        const line = evaluate('validation', ctx.evalLimit, state.step);
        evals.push(line);
        log(line);
        ctx.emit({ type: 'eval', id: req.id, line });
      }
      if (ckptDir !== null && req.checkpointEvery > 0 && state.step % req.checkpointEvery === 0 && state.step < req.steps) {
        await writeRunCheckpoint(ckptDir, req.id, variables, optimizer, state);
      }
    }
    let final: RunFinal;
    const tail = Math.max(1, Math.ceil(req.steps / 10));
    const trainLoss = losses.slice(-tail).reduce((a, b) => a + b, 0) / Math.min(tail, losses.length);
    if (diverged !== null) {
      final = { trainLoss: NaN, validationLoss: NaN, validationMetric: NaN, testLoss: NaN, testMetric: NaN };
    } else if (req.trial) {
      const v = evaluate('validation', undefined, state.step);
      final = { trainLoss, validationLoss: v.loss, validationMetric: v.metric, testLoss: NaN, testMetric: NaN };
    } else {
      const v = evaluate('validation', undefined, state.step);
      const t = evaluate('test', undefined, state.step);
      for (const line of [v, t]) {
        evals.push(line);
        log(line);
        ctx.emit({ type: 'eval', id: req.id, line });
      }
      final = { trainLoss, validationLoss: v.loss, validationMetric: v.metric, testLoss: t.loss, testMetric: t.metric };
    }
    const timing = {
      msPerStep: state.stepMs.reduce((a, b) => a + b, 0) / Math.max(1, state.stepMs.length),
      msPerStepOptimizer: state.optimizerMs.reduce((a, b) => a + b, 0) / Math.max(1, state.optimizerMs.length),
      medianMsPerStep: median(state.stepMs),
      medianMsPerStepOptimizer: median(state.optimizerMs),
      trainSeconds: state.wallMs / 1000,
      evalSeconds: state.evalMs / 1000,
    };
    return {
      losses,
      evals,
      final,
      timing,
      options: optimizer.getConfig() as Record<string, unknown>,
      resumed,
      diverged,
      wallMs: cumulative,
    };
  } finally {
    probe?.dispose();
    optimizer.dispose();
  }
}

/** The prefix of the runner's variable names, stripped from the names in `orthogonality` lines. */
const variablePrefix = 'orthoptim-bench/';

/** A probe of the run's weight matrices for `ComparisonOptions.orthogonality`. */
function benchProbe(variables: readonly tf.Variable[], o: { every: number; spectrum: boolean }, startStep: number): OrthogonalityProbe {
  return new OrthogonalityProbe(variables, { every: o.every, spectrum: o.spectrum }, startStep);
}

/** A probe record as a log line (the task's parameter name, plain numbers). */
function orthogonalityLine(r: ReturnType<OrthogonalityProbe['after']>[number]): OrthogonalityLine {
  const line: OrthogonalityLine = {
    type: 'orthogonality',
    step: r.step,
    name: r.name.startsWith(variablePrefix) ? r.name.slice(variablePrefix.length) : r.name,
    rows: r.rows,
    cols: r.cols,
    orthogonalityError: r.orthogonalityError,
    sigmaMax: r.sigmaMax,
    sigmaMin: r.sigmaMin,
    stableRank: r.stableRank,
    frobeniusNorm: r.frobeniusNorm,
    method: r.method,
  };
  return r.singularValues === undefined ? line : { ...line, singularValues: [...r.singularValues] };
}

/**
 * The options a run's optimizer is made with: `req.options`, with a `'cosine'` schedule's learning rate
 * (the given one, else the optimizer's default) turned into a cosine decay to 0 over `req.steps`.
 */
function scheduled(req: TrainRequest): Record<string, unknown> {
  if (req.schedule === 'constant') return req.options;
  const given = req.options.learningRate;
  const init = typeof given === 'number' ? given : defaultOptimizerLearningRate(req.optimizerName);
  return { ...req.options, learningRate: cosine({ init, decaySteps: req.steps }) };
}

/**
 * Reads every file a resume of `dir` would use — finished runs' records and logs, sweeps, unfinished
 * runs' `run.json` and parameters — so a damaged one is an error before any run trains or writes (the
 * optimizer checkpoints are checked when their run loads them, still before it writes).
 */
function checkResultsFolder(dir: string, specs: readonly OptimizerSpec[], seeds: readonly number[], steps: number, parameters: number): void {
  for (const spec of specs) {
    const label = spec.label ?? spec.name;
    readSweep(join(dir, 'runs', `sweep-${label}.json`));
    for (const seed of seeds) {
      const id = `${label}-s${seed}`;
      const record = readRunRecord(join(dir, 'runs', `${id}.json`), id);
      if (record !== null) readLog(join(dir, record.log));
      else readRunCheckpoint(join(dir, 'checkpoints', id), { id, steps, parameters });
    }
  }
}

function parameterCount(init: readonly ParamInit[]): number {
  return init.reduce((n, p) => n + p.values.length, 0);
}

/** The run settings once the task is loaded: the options' values, else the (loaded) task's defaults. */
interface RunSettings {
  readonly steps: number;
  readonly batch: number;
  readonly evalEvery: number;
  readonly evalLimit: number | undefined;
}

type Curves = ComparisonOutcome['curves'];

/**
 * Stage 1 of {@link runComparison}, before anything runs: the optimizers are known and their labels
 * unique, the seeds distinct non-negative integers, the checkpoint and interrupt counts integers.
 */
function validateOptions(options: ComparisonOptions): { requested: TaskDefinition; seeds: readonly number[]; checkpointEvery: number } {
  const requested = typeof options.task === 'string' ? getTask(options.task) : options.task;
  if (options.optimizers.length === 0) throw new RangeError('runComparison: optimizers is empty');
  const known = new Set(listOptimizers().map((o) => o.name));
  const labels = new Set<string>();
  for (const o of options.optimizers) {
    if (!known.has(o.name)) throw new RangeError(`runComparison: unknown optimizer '${o.name}' (known: ${[...known].join(', ')})`);
    const label = o.label ?? o.name;
    if (labels.has(label)) throw new RangeError(`runComparison: two entries are labelled '${label}': give them different labels`);
    labels.add(label);
  }
  const seeds = options.seeds ?? [0];
  if (seeds.length === 0) throw new RangeError('runComparison: seeds is empty');
  for (const s of seeds) checkInteger('seed', s, 0);
  if (new Set(seeds).size !== seeds.length) throw new RangeError(`runComparison: seeds repeat: [${seeds.join(', ')}]`);
  const checkpointEvery = options.checkpointEvery ?? 50;
  checkInteger('checkpointEvery', checkpointEvery, 0);
  if (options.interruptAfter !== undefined) checkInteger('interruptAfter', options.interruptAfter, 0);
  if (options.orthogonality != null) {
    checkInteger('orthogonality.every', options.orthogonality.every, 1);
    const spectrum = options.orthogonality.spectrum;
    if (spectrum !== undefined && typeof spectrum !== 'boolean') throw new RangeError(`runComparison: orthogonality.spectrum must be a boolean, got ${String(spectrum)}`);
  }
  return { requested, seeds, checkpointEvery };
}

/**
 * Stage 2: steps, batch and evaluation from the options, else the loaded task's defaults (a fallback
 * task keeps its own batch and at most its own steps), checked against the data; emits `data`.
 */
function settingsFor(options: ComparisonOptions, loaded: Awaited<ReturnType<typeof loadTask>>, emit: (e: ProgressEvent) => void): RunSettings {
  const { task, instance, fallback } = loaded;
  // When another task replaced the requested one, its own defaults apply.
  const d = task.defaults;
  const steps = fallback === null ? (options.steps ?? d.steps) : Math.min(options.steps ?? d.steps, d.steps);
  const batch = fallback === null ? (options.batch ?? d.batch) : d.batch;
  const evalEvery = options.evalEvery ?? d.evalEvery;
  const evalLimit = options.evalLimit ?? d.evalLimit;
  checkInteger('steps', steps, 1);
  checkInteger('batch', batch, 1);
  checkInteger('evalEvery', evalEvery, 0);
  emit({ type: 'data', task: task.name, source: instance.source, fallback });
  if (batch > instance.trainCount) {
    throw new RangeError(`runComparison: batch ${batch} is larger than the training set (${instance.trainCount} examples)`);
  }
  return { steps, batch, evalEvery, evalLimit };
}

/**
 * Stage 3: the results folder — emptied when `resume` is false, else its `settings.json` must match
 * this run's (resuming must not mix two experiments); written when new.
 */
async function openRunDir(
  dir: string,
  options: ComparisonOptions,
  task: TaskDefinition,
  instance: TaskInstance,
  seeds: readonly number[],
  run: RunSettings,
): Promise<void> {
  if (options.resume === false) rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'runs'), { recursive: true });
  // What was run there must be what runs now, or resuming would mix two experiments.
  const settings = {
    task: task.name,
    // Which data (the full set or the embedded subset): resuming must not mix the two.
    data: instance.source,
    steps: run.steps,
    batch: run.batch,
    seeds,
    evalEvery: run.evalEvery,
    evalLimit: run.evalLimit ?? null,
    sweep: options.sweep == null ? null : { factors: sweepFactors(options.sweep), steps: options.sweep.steps ?? null },
    engine: options.engine ?? null,
    backend: tf.getBackend(),
    // `tune` and `schedule` only where set, so folders written before they existed still match.
    optimizers: options.optimizers.map((o) => ({
      name: o.name,
      label: o.label ?? o.name,
      options: o.options ?? {},
      ...(o.tune === undefined ? {} : { tune: o.tune }),
      ...(o.schedule === undefined || o.schedule === 'constant' ? {} : { schedule: o.schedule }),
    })),
    // Only when asked for, so folders written before it existed (and runs without it) still match.
    ...(options.orthogonality == null ? {} : { orthogonality: { every: options.orthogonality.every, spectrum: options.orthogonality.spectrum ?? false } }),
  };
  const file = join(dir, 'settings.json');
  const text = JSON.stringify(settings, (_k, v: unknown) => (v instanceof RegExp ? String(v) : v), 1);
  const before = readSettings(file);
  if (before !== null) {
    const now = JSON.parse(text) as Record<string, unknown>;
    // Keys of both: one written only when set (orthogonality) must not be dropped silently on a resume.
    const differ = [...new Set([...Object.keys(now), ...Object.keys(before)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k]));
    if (differ.length > 0) {
      throw new Error(
        `${dir} holds runs made with other settings (${differ.map((k) => `${k}: ${JSON.stringify(before[k])} there, ${JSON.stringify(now[k])} now`).join('; ')}): ` +
          'use another output folder, or start over (--fresh)',
      );
    }
  } else {
    await writeAtomic(file, `${text}\n`);
  }
}

/**
 * Stage 4: one optimizer's learning-rate sweep (short trial runs on the first seed over `grid`), or the
 * points a finished sweep saved in `dir`. Returns the points; the best is the lowest validation loss.
 */
async function sweep(
  ctx: TrainContext,
  spec: OptimizerSpec,
  base: Record<string, unknown>,
  grid: readonly number[],
  steps: number,
  seed: number,
  dir: string | null,
): Promise<SweepPoint[]> {
  const label = spec.label ?? spec.name;
  const sweepFile = dir === null ? null : join(dir, 'runs', `sweep-${label}.json`);
  const savedPoints = sweepFile === null ? null : readSweep(sweepFile);
  if (savedPoints !== null) return savedPoints;
  ctx.emit({ type: 'sweepStart', label, grid: [...grid], steps });
  const points: SweepPoint[] = [];
  for (const lr of grid) {
    const r = await train(ctx, {
      id: `${label}-sweep-lr${lr}`,
      label,
      optimizerName: spec.name,
      options: { ...base, learningRate: lr },
      seed,
      steps,
      dir: null,
      checkpointEvery: 0,
      trial: true,
      schedule: spec.schedule ?? 'constant',
    });
    const v = r.final.validationLoss;
    const point = { learningRate: lr, validationLoss: Number.isFinite(v) ? v : null };
    points.push(point);
    ctx.emit({ type: 'sweepPoint', label, point });
  }
  if (sweepFile !== null) await writeAtomic(sweepFile, toJson({ label, steps, points }));
  return points;
}

/** The learning rate of the lowest finite validation loss of a sweep (the first of equals), or null. */
function bestLearningRate(points: readonly SweepPoint[]): number | null {
  let best: SweepPoint | null = null;
  for (const p of points) if (p.validationLoss !== null && (best === null || p.validationLoss < best.validationLoss!)) best = p;
  return best?.learningRate ?? null;
}

/**
 * Stage 5: one optimizer's run per seed — a run recorded in `dir` is read back (with its curve from the
 * log), the others trained (resuming from a checkpoint), recorded, and their checkpoints removed.
 */
async function runSeeds(
  ctx: TrainContext,
  spec: OptimizerSpec,
  runOptions: Record<string, unknown>,
  learningRate: number | null,
  seeds: readonly number[],
  steps: number,
  dir: string | null,
  checkpointEvery: number,
  out: { runs: RunRecord[]; curves: Curves },
): Promise<void> {
  const label = spec.label ?? spec.name;
  for (const seed of seeds) {
    const id = `${label}-s${seed}`;
    const recordFile = dir === null ? null : join(dir, 'runs', `${id}.json`);
    const saved = recordFile === null ? null : readRunRecord(recordFile, id);
    if (saved !== null) {
      const lines = readLog(join(dir!, saved.log));
      const stepLines = lines.filter((l) => l.type === 'step');
      out.curves[id] = {
        losses: stepLines.map((l) => l.loss ?? NaN),
        wallMs: stepLines.map((l) => l.wallMs),
        evals: lines.filter((l): l is Extract<LogLine, { type: 'eval' }> => l.type === 'eval'),
      };
      out.runs.push(saved);
      ctx.emit({ type: 'runEnd', id, run: saved, skipped: true });
      continue;
    }
    const r = await train(ctx, {
      id,
      label,
      optimizerName: spec.name,
      options: runOptions,
      seed,
      steps,
      dir,
      checkpointEvery: dir === null ? 0 : checkpointEvery,
      trial: false,
      schedule: spec.schedule ?? 'constant',
    });
    const record: RunRecord = {
      id,
      optimizer: spec.name,
      label,
      seed,
      learningRate,
      options: r.options,
      log: `logs/${id}.jsonl`,
      final: r.final,
      timing: r.timing,
      stepsToTarget: null,
      secondsToTarget: null,
      resumed: r.resumed,
      diverged: r.diverged,
    };
    out.curves[id] = { losses: r.losses, wallMs: r.wallMs, evals: r.evals };
    if (recordFile !== null) {
      await writeAtomic(recordFile, toJson(record));
      rmSync(join(dir!, 'checkpoints', id), { recursive: true, force: true });
    }
    out.runs.push(record);
    ctx.emit({ type: 'runEnd', id, run: record, skipped: false });
  }
}

/**
 * Stage 6a: the steps-to-target target (given, else {@link targetRule} over the smoothed final losses)
 * and each run's steps and seconds to it (set on the records).
 */
function applyTarget(given: number | null | undefined, runs: RunRecord[], curves: Curves, steps: number): ComparisonSummary['target'] {
  const window = smoothingWindow(steps);
  let target: ComparisonSummary['target'] = null;
  if (given != null) {
    target = { value: given, rule: 'given on the command line', smoothing: window };
  } else {
    const value = defaultTarget(runs.map((r) => ({ label: r.label, losses: curves[r.id].losses })), window);
    if (value !== null) target = { value, rule: targetRule, smoothing: window };
  }
  if (target !== null) {
    for (const r of runs) {
      const reached = timeToTarget(curves[r.id].losses, curves[r.id].wallMs, target.value, window);
      r.stepsToTarget = reached.steps;
      r.secondsToTarget = reached.seconds;
    }
  }
  return target;
}

/**
 * The default target of steps-to-target ({@link targetRule}): per label the mean over its runs of the
 * final loss smoothed over `window` steps; AdamW's (label `adamw`) when present, else the worst label's.
 * Null when no label has a finite mean. Shared by the runner and `bench/fitTarget.ts`.
 */
export function defaultTarget(runs: readonly { readonly label: string; readonly losses: readonly number[] }[], window: number): number | null {
  const byLabel = new Map<string, number[]>();
  for (const r of runs) {
    const s = smooth(r.losses, window);
    byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), s.length === 0 ? NaN : s[s.length - 1]]);
  }
  const means = [...byLabel.entries()].map(([l, v]) => [l, stat(v).mean] as const).filter(([, m]) => Number.isFinite(m));
  if (means.length === 0) return null;
  const adamw = means.find(([l]) => l === 'adamw');
  const value = adamw?.[1] ?? Math.max(...means.map(([, m]) => m));
  return Number.isFinite(value) ? value : null;
}

/**
 * Steps ({@link stepsToTarget}) and seconds to `target`: the seconds are `wallMs[steps − 1]` (the
 * run's cumulative wall-clock, ms, at the end of that step) ÷ 1000; both null when never reached.
 */
export function timeToTarget(losses: readonly number[], wallMs: readonly number[], target: number, window: number): { steps: number | null; seconds: number | null } {
  const steps = stepsToTarget(losses, target, window);
  return { steps, seconds: steps === null ? null : wallMs[steps - 1] / 1000 };
}

/** Stage 6b: mean ± std over seeds of every final number, per optimizer entry (in the options' order). */
function aggregate(
  optimizers: readonly OptimizerSpec[],
  runs: readonly RunRecord[],
  chosen: ReadonlyMap<string, number | null>,
  sweeps: ReadonlyMap<string, SweepPoint[]>,
): Aggregate[] {
  return optimizers.map((spec) => {
    const label = spec.label ?? spec.name;
    const rs = runs.filter((r) => r.label === label);
    return {
      label,
      optimizer: spec.name,
      learningRate: chosen.get(label) ?? null,
      trainLoss: stat(rs.map((r) => r.final.trainLoss)),
      validationLoss: stat(rs.map((r) => r.final.validationLoss)),
      validationMetric: stat(rs.map((r) => r.final.validationMetric)),
      testLoss: stat(rs.map((r) => r.final.testLoss)),
      testMetric: stat(rs.map((r) => r.final.testMetric)),
      msPerStep: stat(rs.map((r) => r.timing.msPerStep)),
      msPerStepOptimizer: stat(rs.map((r) => r.timing.msPerStepOptimizer)),
      stepsToTarget: stat(rs.map((r) => r.stepsToTarget)),
      secondsToTarget: stat(rs.map((r) => r.secondsToTarget)),
      sweep: sweeps.get(label) ?? null,
    };
  });
}

/**
 * Trains the task's model once per optimizer and seed — same initial parameters, same batches — after an
 * optional learning-rate sweep, and returns (and with `outDir`, writes) the record of the comparison.
 * In named stages: {@link validateOptions}, load the task and {@link settingsFor}, {@link
 * openRunDir} (resume), then per optimizer {@link sweep} and {@link runSeeds}, then summarize
 * ({@link applyTarget}, {@link aggregate}) and write `summary.json`.
 */
export async function runComparison(options: ComparisonOptions): Promise<ComparisonOutcome> {
  const { requested, seeds, checkpointEvery } = validateOptions(options);
  const startedAt = new Date();
  const wallStart = performance.now();
  if (options.backend !== undefined) await useBackend(options.backend);
  const emit = options.onProgress ?? (() => undefined);

  const loaded = await loadTask(requested, {
    seed: seeds[0],
    dataDir: options.dataDir,
    download: options.download,
    cacheDir: options.cacheDir,
    fallback: options.fallback ?? false,
  });
  const { task, instance, fallback } = loaded;
  const d = task.defaults;
  const dir = options.outDir ?? null;
  let run: RunSettings;
  try {
    run = settingsFor(options, loaded, emit);
    if (dir !== null) await openRunDir(dir, options, task, instance, seeds, run);
  } catch (e) {
    instance.dispose();
    throw e;
  }
  const { steps, batch, evalEvery, evalLimit } = run;

  const sweepSteps = options.sweep == null ? 0 : (options.sweep.steps ?? Math.max(10, Math.round(steps / 5)));
  const factors = options.sweep == null ? null : sweepFactors(options.sweep);
  const init0 = instance.initialParams(seeds[0]);
  const variables = createVariables(init0);
  const ctx: TrainContext = {
    instance,
    variables,
    batch,
    evalEvery,
    evalLimit,
    emit,
    budget: { left: options.interruptAfter ?? Infinity, ran: 0 },
    orthogonality: options.orthogonality == null ? null : { every: options.orthogonality.every, spectrum: options.orthogonality.spectrum ?? false },
  };
  const out: { runs: RunRecord[]; curves: Curves } = { runs: [], curves: {} };
  const sweeps = new Map<string, SweepPoint[]>();
  const chosen = new Map<string, number | null>();
  try {
    if (dir !== null) checkResultsFolder(dir, options.optimizers, seeds, steps, parameterCount(init0));
    warmUp(instance, variables, batch);
    for (const spec of options.optimizers) {
      const label = spec.label ?? spec.name;
      const base: Record<string, unknown> = {
        ...runnerOptions(spec.name, init0, variableName, d.auxiliaryLearningRate ?? d.learningRates?.adamw),
        ...(options.engine === undefined ? {} : { engine: options.engine }),
        ...(spec.options ?? {}),
      };
      const given = spec.options?.learningRate;
      const lr0 = typeof given === 'number' ? given : (d.learningRates?.[spec.name] ?? defaultLearningRates[spec.name]);
      let learningRate: number | null = typeof lr0 === 'number' ? lr0 : null;
      if (factors !== null && spec.tune !== false) {
        const defaultLr = learningRate ?? defaultOptimizerLearningRate(spec.name);
        const points = await sweep(ctx, spec, base, factors.map((f) => defaultLr * f), sweepSteps, seeds[0], dir);
        learningRate = bestLearningRate(points);
        sweeps.set(label, points);
        emit({ type: 'sweepEnd', label, learningRate });
        if (learningRate === null) continue; // every trial diverged: nothing to run
      }
      chosen.set(label, learningRate);
      const runOptions = learningRate === null ? base : { ...base, learningRate };
      await runSeeds(ctx, spec, runOptions, learningRate, seeds, steps, dir, checkpointEvery, out);
    }
  } finally {
    tf.dispose(variables);
    instance.dispose();
  }

  const { runs, curves } = out;
  const target = applyTarget(options.target, runs, curves, steps);
  const summary: ComparisonSummary = {
    format: 'orthoptim-bench/2',
    task: task.name,
    requestedTask: requested.name,
    taskSummary: task.summary,
    model: instance.model,
    metric: instance.metric,
    dataSource: instance.source,
    data: instance.data ?? null,
    fallback: fallback?.message ?? null,
    splits: instance.splits,
    parameters: init0.reduce((a, p) => a + p.values.length, 0),
    backend: tf.getBackend(),
    engine: describeEngineSafe(options.engine),
    steps,
    batch,
    seeds: [...seeds],
    evalEvery,
    sweep: factors === null ? null : { grid: factors, steps: sweepSteps },
    target,
    timingMethod,
    machine: machineInfo(),
    command: [...(options.command ?? [])],
    startedAt: startedAt.toISOString(),
    wallSeconds: (performance.now() - wallStart) / 1000,
    runs,
    aggregates: aggregate(options.optimizers, runs, chosen, sweeps),
  };
  if (dir !== null) await writeAtomic(join(dir, 'summary.json'), toJson(summary));
  return { summary, curves };
}

function defaultOptimizerLearningRate(name: string): number {
  const o = createOptimizer(name);
  try {
    const lr = o.getConfig().learningRate;
    if (typeof lr !== 'number') throw new RangeError(`runComparison: cannot sweep ${name}: its learning rate is not a number`);
    return lr;
  } finally {
    o.dispose();
  }
}

function describeEngineSafe(engine: string | undefined): string {
  try {
    return describeEngine(engine as EngineChoice | undefined, tf.getBackend());
  } catch {
    return 'unknown';
  }
}
