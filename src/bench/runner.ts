/**
 * A fair comparison of optimizers on one task: every optimizer trains the same model from the same
 * initial weights on the same batches in the same order, and its time inside the optimizer is measured
 * apart from the forward and backward passes.
 *
 * Fairness: the weights are drawn once from the seed (Glorot-uniform kernels from {@link mulberry32},
 * zero biases — the same numbers on every backend), written into the model with `setWeights` before each
 * run; the batch order comes from a {@link BatchSampler} with a seed derived from the run's seed, made
 * afresh for each run. With the same seed, two comparisons produce identical per-step losses.
 *
 * Timing (see {@link timingMethod}): each step computes loss and gradients with `tf.variableGrads`, reads
 * the loss back (which waits for the forward and backward passes), then times
 * `optimizer.applyGradients(grads)` closed by a read-back of one element of the last updated parameter,
 * so asynchronous backends (webgl, webgpu, tfjs-node) are timed to completion too.
 * @module
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
// In Node, only tfjs-layers registers the gradients of tfjs-core's ops.
import '@tensorflow/tfjs-layers';
import { createOptimizer, listOptimizers, type TransformOptimizer } from '../index.js';
import { BatchSampler, deriveSeed, getTask, loadTaskData, mulberry32, type Split, type TaskDefinition, type TaskFallback } from './tasks.js';

/** One optimizer to compare: a registry name and options (merged over {@link benchDefaults}). */
export interface OptimizerSpec {
  name: string;
  options?: object;
}

/** What the runner reports while it works. */
export type ProgressEvent =
  | { type: 'data'; task: string; source: string; fallback: TaskFallback | null }
  | { type: 'runStart'; optimizer: string; index: number; steps: number }
  | { type: 'step'; optimizer: string; index: number; step: number; steps: number; loss: number }
  | { type: 'eval'; optimizer: string; index: number; point: EvalPoint }
  | { type: 'runEnd'; optimizer: string; index: number; run: RunResult };

export interface ComparisonOptions {
  /** A registered task name (`'fashion-mnist-mlp'`, `'mnist-mlp'`, `'synthetic'`) or a task definition. */
  task: string | TaskDefinition;
  optimizers: readonly OptimizerSpec[];
  /** Training steps per optimizer. */
  steps: number;
  /** Batch size. */
  batch: number;
  /** Seeds data (synthetic task), initial weights and batch order. */
  seed: number;
  /** TensorFlow.js backend to select first (`'wasm'`, `'cpu'`, …); default: keep the current one. */
  backend?: string;
  /** Evaluate on the test set every this many steps (0: only at the end; default 0). */
  evalEvery?: number;
  /** Dataset directory (see `loadMnist`). */
  dataDir?: string;
  /** Download a missing dataset instead of falling back to the synthetic task. */
  download?: boolean;
  /** Root of the download cache. */
  cacheDir?: string;
  /** Run the synthetic task when the dataset is not found (default true); false: throw `DataNotFoundError`. */
  fallbackToSynthetic?: boolean;
  onProgress?: (event: ProgressEvent) => void;
}

/** Test-set metrics after `step` training steps. */
export interface EvalPoint {
  step: number;
  testLoss: number;
  testAccuracy: number;
}

/** Timings of one run, in milliseconds per step unless named otherwise. */
export interface RunTiming {
  /** Mean wall time of a whole step: batch upload, forward, backward, optimizer step, loss read-back. */
  msPerStep: number;
  /** Mean wall time of `optimizer.applyGradients` alone, synchronized (see {@link timingMethod}). */
  msPerStepOptimizer: number;
  /** Medians of the same (robust to the first step's warm-up and state creation). */
  medianMsPerStep: number;
  medianMsPerStepOptimizer: number;
  /** Training time of the run in seconds, evaluations excluded. */
  trainSeconds: number;
  /** Time spent evaluating, seconds. */
  evalSeconds: number;
}

/** One optimizer's run. */
export interface RunResult {
  optimizer: string;
  /** `optimizer.getConfig()` after training: every option with its default filled in. */
  options: tf.serialization.ConfigDict;
  /** Training loss (mean over the batch) before each step's update, one per step. */
  losses: number[];
  evals: EvalPoint[];
  final: {
    /** Mean training loss over the last 10 % of steps (at least one). */
    trainLoss: number;
    testLoss: number;
    testAccuracy: number;
  };
  timing: RunTiming;
}

/** Where a comparison ran. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  arch: string;
  node: string;
  tfjs: string;
  backend: string;
}

export interface ComparisonResult {
  /** Format tag of the results JSON. */
  format: 'orthoptim-bench/1';
  /** The task run (`'synthetic'` when it replaced a missing dataset). */
  task: string;
  /** The task asked for. */
  requestedTask: string;
  /** The dataset directory read, or `'synthetic'`. */
  dataSource: string;
  /** Set when the synthetic task replaced the requested one. */
  fallback: TaskFallback | null;
  backend: string;
  steps: number;
  batch: number;
  seed: number;
  evalEvery: number;
  model: { layers: number[]; activation: 'relu'; loss: 'softmaxCrossEntropy'; parameters: number; init: string };
  data: { trainCount: number; testCount: number };
  timingMethod: string;
  machine: MachineInfo;
  startedAt: string;
  wallSeconds: number;
  runs: RunResult[];
}

/** How {@link RunTiming} is measured; written into every results file. */
export const timingMethod =
  'performance.now() per step. Total: the whole step (batch tensors created, forward + backward with ' +
  'tf.variableGrads, loss read back with await data(), optimizer.applyGradients, tensors disposed). ' +
  'Optimizer: optimizer.applyGradients(grads) alone, started after the loss read-back (so forward and ' +
  'backward have finished) and stopped after awaiting data() of a 1-element slice of the last updated ' +
  'parameter (so asynchronous backends have finished the update). Test-set evaluations are not timed.';

/** Layer name of the output layer: its kernel is excluded from Muon (Muon's authors: output layers get AdamW). */
export const outputLayerName = 'logits';

/**
 * The learning rates (and momentum) this benchmark uses per optimizer unless told otherwise: Muon 0.02
 * for hidden matrices with its auxiliary-AdamW defaults for the rest and the output kernel sent to AdamW
 * (KellerJordan/Muon README), AdamW and Adam 1e-3, SGD 0.05 with momentum 0.9. Other optimizers: their
 * library defaults.
 */
export function benchDefaults(name: string): Record<string, unknown> {
  switch (name) {
    case 'muon':
      return { learningRate: 0.02, exclude: [`${outputLayerName}/kernel`] };
    case 'adamw':
    case 'adam':
      return { learningRate: 1e-3 };
    case 'sgd':
      return { learningRate: 0.05, momentum: 0.9 };
    default:
      return {};
  }
}

/** Selects a backend, importing its package first; an `Error` saying what to install when it is missing. */
export async function useBackend(name: string): Promise<void> {
  if (tf.getBackend() === name) return;
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
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`could not initialise the TensorFlow.js ${name} backend`);
}

/** What the run needs to know about the machine. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
  };
}

/** Glorot-uniform kernels and zero biases for an MLP, from the seed (float64 JS, then float32). */
function initialWeights(sizes: readonly number[], seed: number): { shape: number[]; values: Float32Array }[] {
  const rand = mulberry32(deriveSeed(seed, 'initial-weights'));
  const out: { shape: number[]; values: Float32Array }[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l];
    const fanOut = sizes[l + 1];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const kernel = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < kernel.length; i++) kernel[i] = (2 * rand() - 1) * limit;
    out.push({ shape: [fanIn, fanOut], values: kernel }, { shape: [fanOut], values: new Float32Array(fanOut) });
  }
  return out;
}

/**
 * The MLP's parameters as variables named like a tfjs-layers model's (`hidden1/kernel`, …,
 * `logits/kernel`), under a prefix unique in the process so that comparisons can follow one another.
 */
function createVariables(init: readonly { shape: number[]; values: Float32Array }[]): tf.Variable[] {
  const prefix = `bench${variableSet++}`;
  const layers = init.length / 2;
  return init.map((w, i) => {
    const layer = Math.floor(i / 2);
    const layerName = layer === layers - 1 ? outputLayerName : `hidden${layer + 1}`;
    const value = tf.tensor(w.values, w.shape);
    const variable = tf.variable(value, true, `${prefix}/${layerName}/${i % 2 === 0 ? 'kernel' : 'bias'}`);
    value.dispose();
    return variable;
  });
}
let variableSet = 0;

/**
 * A dense layer `x·W + b` whose gradient uses explicitly transposed operands: tfjs's own MatMul gradient
 * calls `matMul` with `transposeA`/`transposeB`, which on wasm leaves XNNPACK for a naive loop (8–20×
 * slower, measured: 35 ms instead of 5 ms for 128×512 · (784×512)ᵀ). `inputGrad` false skips dx (first layer).
 */
function dense(x: tf.Tensor2D, w: tf.Variable, b: tf.Variable, inputGrad: boolean): tf.Tensor2D {
  if (!inputGrad) {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [wi, bi] = args as [tf.Tensor2D, tf.Tensor1D];
      return {
        value: tf.add(tf.matMul(x, wi), bi),
        gradFunc: (dy: tf.Tensor) => [tf.matMul(tf.transpose(x), dy as tf.Tensor2D), tf.sum(dy, 0)],
      };
    });
    return op(w, b) as tf.Tensor2D;
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, bi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.add(tf.matMul(xi, wi), bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1] as tf.Tensor2D)),
        tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
        tf.sum(dy, 0),
      ],
    };
  });
  return op(x, w, b) as tf.Tensor2D;
}

/** Logits of the ReLU MLP whose kernels and biases alternate in `variables`. */
function forward(variables: readonly tf.Variable[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  const layers = variables.length / 2;
  for (let l = 0; l < layers; l++) {
    h = dense(h, variables[2 * l], variables[2 * l + 1], l > 0);
    if (l < layers - 1) h = tf.relu(h);
  }
  return h;
}

/** Rows `indices` of a split as an `[n, inputSize]` batch and one-hot `[n, numClasses]` labels. */
function gather(split: Split, indices: ArrayLike<number>, inputSize: number, numClasses: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = indices.length;
  const xs = new Float32Array(n * inputSize);
  const ys = new Float32Array(n * numClasses);
  for (let r = 0; r < n; r++) {
    const i = indices[r];
    xs.set(split.images.subarray(i * inputSize, (i + 1) * inputSize), r * inputSize);
    ys[r * numClasses + split.labels[i]] = 1;
  }
  return { x: tf.tensor2d(xs, [n, inputSize]), y: tf.tensor2d(ys, [n, numClasses]) };
}

/**
 * One untimed forward and backward pass, so that the backend's one-time kernel set-up is not charged to
 * whichever optimizer runs first. Parameters are not changed.
 */
function warmUp(variables: tf.Variable[], split: Split, batch: number, inputSize: number, numClasses: number): void {
  const { x, y } = gather(split, Array.from({ length: batch }, (_, i) => i), inputSize, numClasses);
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(variables, x)) as tf.Scalar, variables);
  value.dataSync();
  tf.dispose([x, y, value, ...Object.values(grads)]);
}

const evalChunk = 1000;

function evaluate(variables: readonly tf.Variable[], split: Split, inputSize: number, numClasses: number, step: number): EvalPoint {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < split.count; start += evalChunk) {
    const end = Math.min(split.count, start + evalChunk);
    const indices = Array.from({ length: end - start }, (_, k) => start + k);
    const [loss, hits] = tf.tidy(() => {
      const { x, y } = gather(split, indices, inputSize, numClasses);
      const logits = forward(variables, x);
      const l = tf.losses.softmaxCrossEntropy(y, logits, undefined, 0, tf.Reduction.SUM);
      const h = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'));
      return [l, h];
    });
    lossSum += loss.dataSync()[0];
    correct += hits.dataSync()[0];
    tf.dispose([loss, hits]);
  }
  return { step, testLoss: lossSum / split.count, testAccuracy: correct / split.count };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function checkInteger(what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`runComparison: ${what} must be an integer >= ${min}, got ${v}`);
}

/**
 * Trains the task's MLP once per optimizer, from identical initial weights on identical batches, and
 * returns losses, test metrics and timings. The backend is selected first when `backend` is given.
 */
export async function runComparison(options: ComparisonOptions): Promise<ComparisonResult> {
  const { steps, batch, seed } = options;
  const evalEvery = options.evalEvery ?? 0;
  checkInteger('steps', steps, 1);
  checkInteger('batch', batch, 1);
  checkInteger('seed', seed, 0);
  checkInteger('evalEvery', evalEvery, 0);
  if (options.optimizers.length === 0) throw new RangeError('runComparison: optimizers is empty');
  const known = new Set(listOptimizers().map((o) => o.name));
  for (const o of options.optimizers) {
    if (!known.has(o.name)) throw new RangeError(`runComparison: unknown optimizer '${o.name}' (known: ${[...known].join(', ')})`);
  }
  const requested = typeof options.task === 'string' ? getTask(options.task) : options.task;

  const startedAt = new Date();
  const wallStart = performance.now();
  if (options.backend !== undefined) await useBackend(options.backend);
  const emit = options.onProgress ?? (() => undefined);

  const { task, data, fallback } = await loadTaskData(requested, {
    seed,
    dataDir: options.dataDir,
    download: options.download,
    cacheDir: options.cacheDir,
    fallback: options.fallbackToSynthetic ?? true,
  });
  emit({ type: 'data', task: task.name, source: data.source, fallback });
  if (batch > data.train.count) {
    throw new RangeError(`runComparison: batch ${batch} is larger than the training set (${data.train.count} examples)`);
  }
  const { inputSize, numClasses } = task;
  const sizes = [inputSize, ...task.hidden, numClasses];
  const init = initialWeights(sizes, seed);
  const batchSeed = deriveSeed(seed, 'batch-order');

  const variables = createVariables(init);
  const runs: RunResult[] = [];
  try {
    warmUp(variables, data.train, batch, inputSize, numClasses);
    const lastVariable = variables[variables.length - 1];
    for (const [index, spec] of options.optimizers.entries()) {
      // Every run starts from the same weights.
      tf.tidy(() => variables.forEach((v, i) => v.assign(tf.tensor(init[i].values, init[i].shape))));
      const optimizer = createOptimizer(spec.name, { ...benchDefaults(spec.name), ...(spec.options ?? {}) });
      try {
        runs.push(await trainOne({ variables, lastVariable, optimizer, spec, index, data, inputSize, numClasses, batchSeed, steps, batch, evalEvery, emit }));
      } finally {
        optimizer.dispose();
      }
    }
  } finally {
    tf.dispose(variables);
  }

  const parameters = init.reduce((a, w) => a + w.values.length, 0);
  return {
    format: 'orthoptim-bench/1',
    task: task.name,
    requestedTask: requested.name,
    dataSource: data.source,
    fallback,
    backend: tf.getBackend(),
    steps,
    batch,
    seed,
    evalEvery,
    model: {
      layers: sizes,
      activation: 'relu',
      loss: 'softmaxCrossEntropy',
      parameters,
      init: 'Glorot-uniform kernels (mulberry32 from the seed), zero biases; identical for every optimizer',
    },
    data: { trainCount: data.train.count, testCount: data.test.count },
    timingMethod,
    machine: machineInfo(),
    startedAt: startedAt.toISOString(),
    wallSeconds: (performance.now() - wallStart) / 1000,
    runs,
  };
}

interface TrainArgs {
  variables: tf.Variable[];
  lastVariable: tf.Variable;
  optimizer: TransformOptimizer;
  spec: OptimizerSpec;
  index: number;
  data: { train: Split; test: Split };
  inputSize: number;
  numClasses: number;
  batchSeed: number;
  steps: number;
  batch: number;
  evalEvery: number;
  emit: (event: ProgressEvent) => void;
}

async function trainOne(a: TrainArgs): Promise<RunResult> {
  const { variables, lastVariable, optimizer, spec, index, data, inputSize, numClasses, steps, evalEvery, emit } = a;
  const sampler = new BatchSampler(data.train.count, a.batch, a.batchSeed);
  const losses: number[] = [];
  const stepMs: number[] = [];
  const optimizerMs: number[] = [];
  const evals: EvalPoint[] = [];
  let evalMs = 0;
  emit({ type: 'runStart', optimizer: spec.name, index, steps });

  for (let step = 0; step < steps; step++) {
    const t0 = performance.now();
    const { x, y } = gather(data.train, sampler.next(), inputSize, numClasses);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, forward(variables, x)) as tf.Scalar,
      variables,
    );
    const loss = (await value.data())[0];
    const t1 = performance.now();
    optimizer.applyGradients(grads);
    const probe = tf.tidy(() => tf.slice(tf.reshape(lastVariable, [-1]), 0, 1));
    await probe.data();
    const t2 = performance.now();
    tf.dispose([x, y, value, probe, ...Object.values(grads)]);
    const t3 = performance.now();
    losses.push(loss);
    stepMs.push(t3 - t0);
    optimizerMs.push(t2 - t1);
    emit({ type: 'step', optimizer: spec.name, index, step: step + 1, steps, loss });
    if (!Number.isFinite(loss)) {
      throw new Error(`${spec.name}: the training loss became ${loss} at step ${step} (learning rate too high?)`);
    }
    if (evalEvery > 0 && (step + 1) % evalEvery === 0 && step + 1 < steps) {
      const e0 = performance.now();
      const point = evaluate(variables, data.test, inputSize, numClasses, step + 1);
      evalMs += performance.now() - e0;
      evals.push(point);
      emit({ type: 'eval', optimizer: spec.name, index, point });
    }
  }
  const e0 = performance.now();
  const last = evaluate(variables, data.test, inputSize, numClasses, steps);
  evalMs += performance.now() - e0;
  evals.push(last);
  emit({ type: 'eval', optimizer: spec.name, index, point: last });

  const tail = Math.max(1, Math.ceil(steps / 10));
  const run: RunResult = {
    optimizer: spec.name,
    options: optimizer.getConfig(),
    losses,
    evals,
    final: { trainLoss: mean(losses.slice(-tail)), testLoss: last.testLoss, testAccuracy: last.testAccuracy },
    timing: {
      msPerStep: mean(stepMs),
      msPerStepOptimizer: mean(optimizerMs),
      medianMsPerStep: median(stepMs),
      medianMsPerStepOptimizer: median(optimizerMs),
      trainSeconds: stepMs.reduce((s, v) => s + v, 0) / 1000,
      evalSeconds: evalMs / 1000,
    },
  };
  emit({ type: 'runEnd', optimizer: spec.name, index, run });
  return run;
}
