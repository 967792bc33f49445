/**
 * Benchmark tasks: what is learned (a dataset as plain typed arrays) and by which model (an MLP's layer
 * sizes). `fashion-mnist-mlp` and `mnist-mlp` read the IDX files through `loadMnist`; `synthetic` is a
 * teacher–student classification problem generated from the seed, so a benchmark always has something
 * to run: when a dataset is not on disk, {@link loadTaskData} falls back to it and says so.
 *
 * Every random choice here comes from {@link mulberry32} in float64 JavaScript, never from a backend's
 * RNG, so data, batch order and initial weights are identical on wasm, cpu, webgl or tfjs-node.
 * @module
 */
import { DataNotFoundError, loadMnist, type MnistDataset } from './data/index.js';
import { deriveSeed, gaussian, mulberry32 } from './random.js';

export { BatchSampler, deriveSeed, gaussian, mulberry32, shuffledIndices } from './random.js';

/** One split of a classification dataset: `count` rows of `inputSize` floats, and labels. */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** A loaded task's data. */
export interface TaskData {
  train: Split;
  test: Split;
  /** Where it came from: the directory read, or `'synthetic'`. */
  source: string;
}

/** What {@link TaskDefinition.load} gets. */
export interface TaskLoadOptions {
  seed: number;
  /** A directory holding the dataset (see `loadMnist`). */
  dataDir?: string;
  /** Download the dataset when it is not found. */
  download?: boolean;
  /** Root of the download cache. */
  cacheDir?: string;
}

/** A benchmark task: a classification dataset and the MLP that learns it. */
export interface TaskDefinition {
  /** Registry name, e.g. `'fashion-mnist-mlp'`. */
  readonly name: string;
  /** One line for `--help`. */
  readonly summary: string;
  readonly inputSize: number;
  readonly numClasses: number;
  /** Hidden layer widths of the ReLU MLP (input → hidden… → numClasses logits). */
  readonly hidden: readonly number[];
  /** Loads (or generates) the data; throws `DataNotFoundError` when a dataset is not on disk. */
  load(options: TaskLoadOptions): Promise<TaskData>;
}

/** A 784-512-512-10 ReLU MLP on MNIST or Fashion-MNIST (softmax cross-entropy). */
export function mnistMlpTask(name: string, dataset: MnistDataset, title: string): TaskDefinition {
  return {
    name,
    summary: `${title} (60k train / 10k test), 784-512-512-10 ReLU MLP, softmax cross-entropy`,
    inputSize: 784,
    numClasses: 10,
    hidden: [512, 512],
    async load(o) {
      const data = await loadMnist({ dataset, dataDir: o.dataDir, download: o.download, cacheDir: o.cacheDir });
      return { train: data.train, test: data.test, source: data.dir };
    },
  };
}

/** Sizes of a {@link syntheticTask}. */
export interface SyntheticTaskOptions {
  /** Registry name (default `'synthetic'`). */
  name?: string;
  /** Input dimension (default 784, as MNIST). */
  inputSize?: number;
  /** Classes (default 10). */
  numClasses?: number;
  /** Hidden widths of the student MLP (default [512, 512], as the MNIST tasks). */
  hidden?: readonly number[];
  /** Hidden width of the teacher (default 64). */
  teacherHidden?: number;
  /** Training examples (default 8192). */
  trainCount?: number;
  /** Test examples (default 2048). */
  testCount?: number;
}

/**
 * A teacher–student classification task that needs no files. Inputs are standard Gaussian vectors; a
 * random teacher MLP `x → tanh(W₁x) → W₂h` (W₁ ~ N(0, 1/inputSize), W₂ ~ N(0, 1/teacherHidden)) scores
 * the classes and the label is the highest score, after the teacher's mean score per class is
 * subtracted so the classes come out roughly balanced. Everything is drawn from the seed in float64.
 */
export function syntheticTask(options: SyntheticTaskOptions = {}): TaskDefinition {
  const inputSize = options.inputSize ?? 784;
  const numClasses = options.numClasses ?? 10;
  const hidden = options.hidden ?? [512, 512];
  const teacherHidden = options.teacherHidden ?? 64;
  const trainCount = options.trainCount ?? 8192;
  const testCount = options.testCount ?? 2048;
  for (const [k, v] of Object.entries({ inputSize, numClasses, teacherHidden, trainCount, testCount })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`syntheticTask: ${k} must be a positive integer, got ${v}`);
  }
  if (numClasses < 2) throw new RangeError(`syntheticTask: numClasses must be at least 2, got ${numClasses}`);
  return {
    name: options.name ?? 'synthetic',
    summary:
      `embedded teacher–student task (no data needed): ${inputSize}-d Gaussian inputs, ${numClasses} classes ` +
      `from a random tanh teacher, ${trainCount} train / ${testCount} test, ` +
      `${[inputSize, ...hidden, numClasses].join('-')} ReLU MLP`,
    inputSize,
    numClasses,
    hidden,
    load(o) {
      return Promise.resolve(generateTeacherStudent(o.seed, inputSize, numClasses, teacherHidden, trainCount, testCount));
    },
  };
}

function generateTeacherStudent(
  seed: number,
  inputSize: number,
  numClasses: number,
  teacherHidden: number,
  trainCount: number,
  testCount: number,
): TaskData {
  const rand = mulberry32(deriveSeed(seed, 'synthetic-task'));
  const w1 = new Float64Array(teacherHidden * inputSize);
  const s1 = 1 / Math.sqrt(inputSize);
  for (let i = 0; i < w1.length; i++) w1[i] = gaussian(rand) * s1;
  const w2 = new Float64Array(numClasses * teacherHidden);
  const s2 = 1 / Math.sqrt(teacherHidden);
  for (let i = 0; i < w2.length; i++) w2[i] = gaussian(rand) * s2;

  const total = trainCount + testCount;
  const images = new Float32Array(total * inputSize);
  for (let i = 0; i < images.length; i++) images[i] = gaussian(rand);
  const scores = new Float64Array(total * numClasses);
  const h = new Float64Array(teacherHidden);
  for (let n = 0; n < total; n++) {
    const x = n * inputSize;
    for (let j = 0; j < teacherHidden; j++) {
      let acc = 0;
      const w = j * inputSize;
      for (let i = 0; i < inputSize; i++) acc += w1[w + i] * images[x + i];
      h[j] = Math.tanh(acc);
    }
    for (let c = 0; c < numClasses; c++) {
      let acc = 0;
      const w = c * teacherHidden;
      for (let j = 0; j < teacherHidden; j++) acc += w2[w + j] * h[j];
      scores[n * numClasses + c] = acc;
    }
  }
  // argmax of the raw scores favours a few classes: fit one offset per class so that each class wins on
  // about 1/numClasses of the examples (a few rounds of multiplicative-style offset updates).
  const offset = new Float64Array(numClasses);
  const labels = new Uint8Array(total);
  const counts = new Float64Array(numClasses);
  const assign = (): void => {
    counts.fill(0);
    for (let n = 0; n < total; n++) {
      let best = 0;
      for (let c = 1; c < numClasses; c++) {
        if (scores[n * numClasses + c] + offset[c] > scores[n * numClasses + best] + offset[best]) best = c;
      }
      labels[n] = best;
      counts[best]++;
    }
  };
  let spread = 0;
  for (let i = 0; i < scores.length; i++) spread += scores[i] * scores[i];
  spread = Math.sqrt(spread / scores.length);
  for (let round = 0; round < 50; round++) {
    assign();
    for (let c = 0; c < numClasses; c++) {
      offset[c] += 0.1 * spread * Math.log(total / numClasses / (counts[c] + 1));
    }
  }
  assign();
  return {
    train: { images: images.subarray(0, trainCount * inputSize), labels: labels.subarray(0, trainCount), count: trainCount },
    test: { images: images.subarray(trainCount * inputSize), labels: labels.subarray(trainCount), count: testCount },
    source: 'synthetic',
  };
}

const registry = new Map<string, TaskDefinition>();

/** Adds a task to the registry (replacing one of the same name). */
export function registerTask(task: TaskDefinition): TaskDefinition {
  registry.set(task.name, task);
  return task;
}

registerTask(mnistMlpTask('fashion-mnist-mlp', 'fashionMnist', 'Fashion-MNIST'));
registerTask(mnistMlpTask('mnist-mlp', 'mnist', 'MNIST'));
registerTask(syntheticTask());

/** The registered tasks, in registration order. */
export function listTasks(): TaskDefinition[] {
  return [...registry.values()];
}

/** A registered task by name; `RangeError` naming the known tasks otherwise. */
export function getTask(name: string): TaskDefinition {
  const task = registry.get(name);
  if (task === undefined) {
    throw new RangeError(`unknown task '${name}' (known: ${[...registry.keys()].join(', ')})`);
  }
  return task;
}

/** Why a run uses the synthetic task instead of the one asked for. */
export interface TaskFallback {
  requestedTask: string;
  /** Directories searched for the dataset, in order. */
  lookedIn: string[];
  /** The one-line notice printed by the CLI. */
  message: string;
}

/** The task actually run, its data, and the fallback taken, if any. */
export interface LoadedTask {
  task: TaskDefinition;
  data: TaskData;
  fallback: TaskFallback | null;
}

/**
 * Loads a task's data. When its dataset is not on disk (`DataNotFoundError`) and `fallback` is true
 * (default), generates the `synthetic` task instead — with the same input size, classes and model as
 * the requested task — and describes the substitution in `fallback`.
 */
export async function loadTaskData(
  task: TaskDefinition,
  options: TaskLoadOptions & { fallback?: boolean },
): Promise<LoadedTask> {
  try {
    return { task, data: await task.load(options), fallback: null };
  } catch (e) {
    if (!(e instanceof DataNotFoundError) || options.fallback === false) throw e;
    const substitute = syntheticTask({ inputSize: task.inputSize, numClasses: task.numClasses, hidden: task.hidden });
    const message =
      `no data found for ${task.name} (looked in: ${e.tried.join(', ')}); ` +
      `running the embedded synthetic task instead (pass --download or --data-dir, or set ORTHOPTIM_DATA_DIR, to use the real data)`;
    return {
      task: substitute,
      data: await substitute.load(options),
      fallback: { requestedTask: task.name, lookedIn: e.tried, message },
    };
  }
}
