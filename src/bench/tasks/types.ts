/**
 * What a benchmark task is: data, a model written with tfjs ops over a flat list of named parameters, a
 * loss, and an evaluation with one headline metric. The runner ({@link ../runner.js}) treats every task
 * the same way: it draws the initial parameters once from the seed, makes one `tf.Variable` per
 * {@link ParamInit}, asks the task for the batch of each step's example indices (from a seeded
 * `BatchSampler` over `trainCount`), differentiates {@link TaskInstance.loss} with `tf.variableGrads`,
 * and hands the gradients to the optimizer.
 *
 * Fairness rules every task keeps: parameters and data come only from the seed through `mulberry32`
 * (float64 JavaScript, never a backend RNG), so every optimizer and every backend starts from the same
 * numbers; a task's validation split is never its test set (classification tasks carve it out of the
 * training data; the language model holds out a stretch of text), because learning-rate sweeps select on it.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Which optimizer route a parameter takes in the Muon family: `hidden` matrices (rank ≥ 2, including
 * conv kernels) are orthogonalized; `embedding`, `head` (the output layer) and `vector` (biases, gains)
 * go to the auxiliary AdamW, as the Muon authors prescribe.
 */
export type ParamRole = 'hidden' | 'embedding' | 'head' | 'vector';

/** One parameter's initial value. */
export interface ParamInit {
  /** Unique within the task, `layer/kind` style, e.g. `'block1/attn/wq'`, `'logits/kernel'`. */
  name: string;
  shape: number[];
  values: Float32Array;
  role: ParamRole;
}

/** The headline metric of a task. */
export interface MetricInfo {
  /** Short key, e.g. `'accuracy'`, `'bpc'`, `'mse'`. */
  name: string;
  /** Label for tables and plots, e.g. `'test accuracy'`, `'validation bits per character'`. */
  label: string;
  higherIsBetter: boolean;
}

/** Evaluation of the current parameters on one split. */
export interface EvalMetrics {
  /** Mean loss over the split (the training loss function). */
  loss: number;
  /** The task's headline metric (see {@link TaskInstance.metric}). */
  metric: number;
}

/** A batch made from example indices: the tensors the task's loss reads. The runner disposes them. */
export interface Batch {
  readonly tensors: tf.Tensor[];
}

/** Which data a task instance trains on, for the console caption and the results (`summary.json`). */
export interface DataInfo {
  /** The dataset, e.g. `'Fashion-MNIST'`. */
  readonly dataset: string;
  /**
   * `full`: the dataset as distributed, read from `path`; `subset`: the repository's embedded subset at
   * `path`; `generated`: drawn from the seed (no files).
   */
  readonly kind: 'full' | 'subset' | 'generated';
  /** The directory read, or null for generated data. */
  readonly path: string | null;
  /** Examples per split (for text tasks: characters). */
  readonly splits: { readonly train: number; readonly validation: number; readonly test: number };
  /** Directories searched for the full set before this data was chosen, in order (empty for generated data). */
  readonly searched: readonly string[];
  /** One line, e.g. `Fashion-MNIST embedded subset (data/fashion-mnist-subset): 9,000 train / 1,000 validation / 2,000 test`. */
  readonly description: string;
}

/** A task with its data loaded: everything the runner needs to train and evaluate a model. */
export interface TaskInstance {
  /** Registry name of the task. */
  readonly name: string;
  /** Where the data came from: a directory, `'synthetic'` or `'generated'`. */
  readonly source: string;
  /** Which data, in words and numbers (tasks that do not say leave it out: `source` is all there is). */
  readonly data?: DataInfo;
  /** Number of training examples (or window starts): batch indices are drawn from `[0, trainCount)`. */
  readonly trainCount: number;
  /** Sizes of the splits, for the record: `{ train, validation, test }` (examples, or characters for text). */
  readonly splits: { train: number; validation: number; test: number };
  readonly metric: MetricInfo;
  /** One line describing the model, e.g. `'784-512-512-10 ReLU MLP'`. */
  readonly model: string;
  /** Initial parameters drawn from `seed` (same seed → same numbers, on every backend). */
  initialParams(seed: number): ParamInit[];
  /** The tensors of the batch with these training-example indices (the runner disposes them). */
  batch(indices: Uint32Array): Batch;
  /**
   * Mean loss of the batch, a scalar; runs inside `tf.variableGrads`, so it must be built from `params`
   * (in the order of {@link initialParams}) with differentiable tfjs ops only. Must not dispose its inputs.
   */
  loss(params: readonly tf.Variable[], batch: Batch): tf.Scalar;
  /**
   * Loss and metric on a held-out split, computed in chunks; `limit` caps the number of examples
   * evaluated (the first `limit`, a fixed subset) for quick intermediate evaluations.
   */
  evaluate(params: readonly tf.Variable[], split: 'validation' | 'test', limit?: number): EvalMetrics;
  /** Frees whatever the task holds (tensors kept between calls). */
  dispose(): void;
}

/** What {@link TaskDefinition.load} gets. */
export interface TaskLoadOptions {
  /** Seeds generated data and the validation split. */
  seed: number;
  /** A directory holding the dataset (the loaders also search `ORTHOPTIM_DATA_DIR` and the cache). */
  dataDir?: string;
  /** Download the dataset when it is not found. */
  download?: boolean;
  /** Root of the download cache. */
  cacheDir?: string;
}

/** Settings a task runs with unless the command line says otherwise. */
export interface TaskDefaults {
  steps: number;
  batch: number;
  /** Evaluate on the validation split every this many steps (0: only at the end). */
  evalEvery: number;
  /** Examples used by intermediate evaluations (the final one uses the whole split). */
  evalLimit?: number;
  /**
   * Learning rates per optimizer name that suit this task's model (the runner falls back to its own
   * table, then to the optimizer's default). A sweep ignores them.
   */
  learningRates?: Readonly<Record<string, number>>;
  /**
   * Learning rate of the auxiliary AdamW (embeddings, head, vectors) of the optimizers that have one
   * (`adamwLearningRate`), when this task's small model needs another than the library's 3e-4.
   */
  auxiliaryLearningRate?: number;
}

/** A registered benchmark task. */
export interface TaskDefinition {
  /** Registry name, e.g. `'fashion-mnist-mlp'`. */
  readonly name: string;
  /** One line for `--help`. */
  readonly summary: string;
  /** True when it reads a dataset from disk (false: generated from the seed). */
  readonly needsData: boolean;
  readonly defaults: TaskDefaults;
  /**
   * The task to run instead when this one's dataset is not on disk and the caller asked for a fallback
   * (`loadTask(…, {fallback: true})`; default: the embedded `function-regression` task, which needs no data).
   */
  readonly fallback?: TaskDefinition;
  /** Loads (or generates) the data; throws `DataNotFoundError` when a dataset is not on disk. */
  load(options: TaskLoadOptions): Promise<TaskInstance>;
}
