/**
 * The benchmark task registry. Built in: `fashion-mnist-mlp`, `mnist-mlp`, `synthetic` (MLPs, see
 * `mlp.ts`); the other tasks register themselves here too.
 * @module
 */
import { DataNotFoundError } from '../data/index.js';
import { cifar10CnnTask } from './cifar10.js';
import { mnistMlpTask, syntheticTask } from './mlp.js';
import { functionRegression } from './regression.js';
import { shakespeareCharTask } from './shakespeare.js';
import type { TaskDefinition, TaskInstance, TaskLoadOptions } from './types.js';

export type * from './types.js';
export { mlpLogits, mlpParams, mnistMlpTask, syntheticTask, type SyntheticTaskOptions } from './mlp.js';
export {
  shakespeareCharTask,
  charTransformerLogits,
  charTransformerParams,
  charTransformerSize,
  type ShakespeareCharOptions,
  type CharTransformerConfig,
} from './shakespeare.js';
export { functionRegressionTask, functionRegression } from './regression.js';
export { cifar10CnnTask } from './cifar10.js';
export { classificationInstance, holdOut, takeRows, type ClassificationSpec, type Split } from './classification.js';

const registry = new Map<string, TaskDefinition>();

/** Adds a task to the registry (replacing one of the same name). */
export function registerTask(task: TaskDefinition): TaskDefinition {
  registry.set(task.name, task);
  return task;
}

registerTask(mnistMlpTask('fashion-mnist-mlp', 'fashionMnist', 'Fashion-MNIST'));
registerTask(mnistMlpTask('mnist-mlp', 'mnist', 'MNIST'));
registerTask(syntheticTask());
registerTask(cifar10CnnTask);
registerTask(functionRegression);
registerTask(shakespeareCharTask());
registerTask(shakespeareCharTask({ name: 'shakespeare-char-small' }));

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

/** Why a run uses another task than the one asked for. */
export interface TaskFallback {
  requestedTask: string;
  /** Directories searched for the dataset, in order. */
  lookedIn: string[];
  /** The one-line notice printed by the CLI. */
  message: string;
}

/** The task actually run, its loaded instance, and the fallback taken, if any. */
export interface LoadedTask {
  task: TaskDefinition;
  instance: TaskInstance;
  fallback: TaskFallback | null;
}

/**
 * Loads a task. A missing dataset is a `DataNotFoundError` (its `searched` lists every directory looked
 * at; the CLI prints its `brief` and exits with code 2) — an explicitly named task never quietly runs
 * another. Only when `fallback` is true (programs that ask for it; the CLI never does) is the task's
 * {@link TaskDefinition.fallback} loaded instead (default: `function-regression`, which needs no data),
 * and the substitution described. What remains of the fallback: the CLI asks for it only for the
 * default run (no --task, --data-dir or --download), and that run needs none in a clone of the
 * repository, where `fashion-mnist-mlp` reads the embedded subset when the full set is absent; it is
 * taken only where the subset is missing too (an installed package, which does not ship `data/`).
 */
export async function loadTask(task: TaskDefinition, options: TaskLoadOptions & { fallback?: boolean }): Promise<LoadedTask> {
  try {
    return { task, instance: await task.load(options), fallback: null };
  } catch (e) {
    if (!(e instanceof DataNotFoundError) || options.fallback !== true) throw e;
    const substitute = task.fallback ?? getTask('function-regression');
    const message =
      `no data found for ${task.name} (looked in: ${e.searched.join(', ')}); running the embedded ${substitute.name} task ` +
      `instead (pass --download or --data-dir, or set ORTHOPTIM_DATA_DIR, to use the real data)`;
    return {
      task: substitute,
      instance: await substitute.load(options),
      fallback: { requestedTask: task.name, lookedIn: e.searched, message },
    };
  }
}
