/**
 * Memory accounting of the optimizers on a benchmark task (issue 13 item 4, `npm run bench:memory`): for
 * each optimizer, the bytes of state it holds ({@link TransformOptimizer.stateBytes}), on the whole model
 * and on its hidden matrices alone (the parameters of role `hidden`, which the low-rank methods of the
 * seed-methods spec B4–B6 — GaLore, Online Subspace Descent, DCT-AdamW, SN-SM — compress), each ÷ AdamW's;
 * and the peak `tf.memory().numBytes` during a step, read from `tf.profile` (its `peakBytes`: the largest
 * byte count after any kernel of the profiled function) and sampled before and after.
 *
 * Every optimizer is made as the comparison runner makes it ({@link runnerOptions}: the task's
 * embeddings and head routed to the auxiliary AdamW, SGD's momentum 0.9), on fresh variables with the
 * task's initial parameters, and takes three steps on the same batch:
 * 1. gradients computed, then `applyGradients` profiled — the first step, which creates the state;
 * 2. `applyGradients` of the same gradients profiled again — a step with the state in place (the byte
 *    counts do not depend on the gradient's values), and its tensor count compared (a leak check);
 * 3. the whole training step profiled (forward, backward with `tf.variableGrads`, `applyGradients`).
 * Byte counts "above the baseline" subtract what was held before the optimizer existed (the task's data
 * tensors and the parameters), so that they compare across optimizers and tasks.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, listOptimizers, type TransformOptimizer } from '../index.js';
import { runnerOptions } from './runner.js';
import { formatTable } from './table.js';
import type { ParamInit, TaskInstance } from './tasks/types.js';

/** The memory of one optimizer on one task. */
export interface OptimizerMemory {
  readonly optimizer: string;
  /** The row's name: the optimizer's, with the options of a target variant (`galore rankFraction=0.125`). */
  readonly label: string;
  /** `'default'`: the runner's options; `'target'`: also the options its {@link MemoryTarget} is judged at. */
  readonly variant: 'default' | 'target';
  /** Options it was made with besides its defaults (the runner's routing), as JSON-able values. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Bytes of state held after the steps (`stateBytes()`). */
  readonly stateBytes: number;
  /** Of which on the hidden matrices (each parameter's share, `stateBytes({perParameter: true})`). */
  readonly hiddenStateBytes: number;
  /** Of which on no one parameter (global scalars). */
  readonly sharedStateBytes: number;
  /** `tf.memory().numBytes` before the optimizer was made: the task's data and the parameters. */
  readonly baselineBytes: number;
  /** Peak bytes inside the first `applyGradients` (which creates the state) above what was held just before it. */
  readonly firstStepTransientBytes: number;
  /** Peak bytes inside a later `applyGradients` above what was held just before it (state, gradients, data, parameters). */
  readonly stepTransientBytes: number;
  /** Peak `tf.memory().numBytes` of a whole training step (forward, backward, update), absolute. */
  readonly trainStepPeakBytes: number;
  /** The same above {@link baselineBytes}: activations, gradients, state and the update's temporaries. */
  readonly trainStepPeakAboveBaseline: number;
  /** `tf.memory().numTensors` growth over step 2 (0: no leak). */
  readonly leakedTensors: number;
}

/** A failed measurement: the optimizer could not be made or stepped on this task. */
export interface OptimizerMemoryError {
  readonly optimizer: string;
  readonly label: string;
  readonly error: string;
}

/** A measurement with its ratios to the baseline optimizer's (AdamW's). */
export interface MemoryRow extends OptimizerMemory {
  /** `stateBytes` ÷ the baseline's; null without a baseline or when its state is 0. */
  readonly stateRatio: number | null;
  /** `hiddenStateBytes` ÷ the baseline's; null likewise or when the task has no hidden matrix. */
  readonly hiddenStateRatio: number | null;
  /**
   * The issue's target for this method on the hidden matrices, when it has one and this row is the one it
   * is judged on (the target variant where there is one), and whether it is met.
   */
  readonly target: { readonly maxHiddenRatio: number; readonly met: boolean | null } | null;
}

/** The memory of every optimizer on one task. */
export interface TaskMemory {
  readonly task: string;
  readonly model: string;
  readonly batch: number;
  readonly parameters: number;
  readonly hiddenParameters: number;
  /** Optimizer whose state the ratios divide by. */
  readonly baseline: string;
  readonly rows: readonly MemoryRow[];
  readonly errors: readonly OptimizerMemoryError[];
}

/** A memory target of one method: its largest state on the hidden matrices ÷ AdamW's, at some options. */
export interface MemoryTarget {
  readonly maxHiddenRatio: number;
  /**
   * Options the target is stated at (GaLore's rank n/8: `rankFraction: 0.125`). The method is measured at
   * its defaults and, when it accepts every one of these options, once more with them: the target is
   * judged on that row.
   */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** Rank n/8 on every matrix, as the issue states the low-rank targets (`⌈n/8⌉` for a short side n). */
const rankEighth = { rankFraction: 0.125 };

/**
 * Issue 13's targets on the hidden matrices: GaLore, Online Subspace Descent and DCT-AdamW at rank n/8 ≤
 * 0.3× AdamW's state; SN-SM (`subspaceMomentum`, AdamSNSM: Subset-Norm step size + Subspace-Momentum) ≤
 * 0.5×, judged at the same rank n/8 (its default rank 128 projects no matrix whose short side is at most
 * 128, all of the small char transformer's). `subsetNorm` (AdamSN) keeps a full first moment, half of
 * AdamW's state by construction: it has no target of its own.
 */
export const memoryTargets: Readonly<Record<string, MemoryTarget>> = {
  galore: { maxHiddenRatio: 0.3, options: rankEighth },
  onlineSubspaceDescent: { maxHiddenRatio: 0.3, options: rankEighth },
  dctAdamw: { maxHiddenRatio: 0.3, options: rankEighth },
  subspaceMomentum: { maxHiddenRatio: 0.5, options: rankEighth },
};

/** One row to measure: an optimizer, the options over the runner's, and its label. */
export interface MemoryPlanEntry {
  readonly optimizer: string;
  readonly label: string;
  readonly variant: 'default' | 'target';
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * The rows to measure for `names`: each at the runner's options, and a method with a target stated at
 * options it accepts (`accepts(name)`: its option names) once more at those. Pure.
 */
export function memoryPlan(
  names: readonly string[],
  accepts: (name: string) => readonly string[],
  targets: Readonly<Record<string, MemoryTarget>> = memoryTargets,
): MemoryPlanEntry[] {
  return names.flatMap((optimizer): MemoryPlanEntry[] => {
    const row: MemoryPlanEntry = { optimizer, label: optimizer, variant: 'default', options: {} };
    const extra = targets[optimizer]?.options;
    if (extra === undefined || !Object.keys(extra).every((k) => accepts(optimizer).includes(k))) return [row];
    const label = `${optimizer} ${Object.entries(extra).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`;
    return [row, { optimizer, label, variant: 'target', options: extra }];
  });
}

function ratio(value: number, base: number | undefined): number | null {
  return base === undefined || base === 0 ? null : value / base;
}

/**
 * The rows of a task: each measurement with its state ÷ the baseline's (total and hidden matrices) and
 * its target's verdict. Pure.
 */
export function memoryRows(
  measurements: readonly OptimizerMemory[],
  baseline = 'adamw',
  targets: Readonly<Record<string, MemoryTarget>> = memoryTargets,
): MemoryRow[] {
  const base = measurements.find((m) => m.optimizer === baseline && m.variant === 'default');
  const hasVariant = new Set(measurements.filter((m) => m.variant === 'target').map((m) => m.optimizer));
  return measurements.map((m) => {
    const hiddenStateRatio = ratio(m.hiddenStateBytes, base?.hiddenStateBytes);
    const target = targets[m.optimizer];
    const judged = target !== undefined && (m.variant === 'target' || !hasVariant.has(m.optimizer));
    return {
      ...m,
      stateRatio: ratio(m.stateBytes, base?.stateBytes),
      hiddenStateRatio,
      target: judged
        ? { maxHiddenRatio: target.maxHiddenRatio, met: hiddenStateRatio === null ? null : hiddenStateRatio <= target.maxHiddenRatio }
        : null,
    };
  });
}

/** Bytes in binary units: `512 B`, `1.50 KiB`, `2.25 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  const sign = bytes < 0 ? '−' : '';
  const b = Math.abs(bytes);
  if (b < 1024) return `${sign}${b} B`;
  if (b < 1024 ** 2) return `${sign}${(b / 1024).toFixed(2)} KiB`;
  if (b < 1024 ** 3) return `${sign}${(b / 1024 ** 2).toFixed(2)} MiB`;
  return `${sign}${(b / 1024 ** 3).toFixed(2)} GiB`;
}

const times = (r: number | null) => (r === null ? 'n/a' : `${r.toFixed(3)}×`);

/** The markdown table of a task: one row per optimizer, then one line per failure. Pure. */
export function memoryTable(t: TaskMemory): string {
  const table = formatTable(
    [
      { header: 'optimizer' },
      { header: 'state', align: 'right' },
      { header: `÷ ${t.baseline}`, align: 'right' },
      { header: 'hidden-matrix state', align: 'right' },
      { header: `÷ ${t.baseline}`, align: 'right' },
      { header: 'target', align: 'right' },
      { header: 'step peak − held', align: 'right' },
      { header: 'first step', align: 'right' },
      { header: 'train-step peak − baseline', align: 'right' },
      { header: 'leak', align: 'right' },
    ],
    t.rows.map((r) => [
      r.label,
      formatBytes(r.stateBytes),
      times(r.stateRatio),
      formatBytes(r.hiddenStateBytes),
      times(r.hiddenStateRatio),
      r.target === null ? '' : `≤ ${r.target.maxHiddenRatio}× ${r.target.met === null ? '?' : r.target.met ? 'met' : 'NOT met'}`,
      formatBytes(r.stepTransientBytes),
      formatBytes(r.firstStepTransientBytes),
      formatBytes(r.trainStepPeakAboveBaseline),
      String(r.leakedTensors),
    ]),
  );
  const failed = t.errors.map((e) => `- ${e.label}: ${e.error}`);
  return [
    `### ${t.task}: ${t.model}, batch ${t.batch}`,
    '',
    `${t.parameters.toLocaleString('en-US')} parameters, of which ${t.hiddenParameters.toLocaleString('en-US')} in hidden matrices ` +
      `(AdamW: ${formatBytes(8 * t.parameters)} of state, ${formatBytes(8 * t.hiddenParameters)} on them).`,
    '',
    table,
    ...(failed.length > 0 ? ['', 'Not measured:', ...failed] : []),
  ].join('\n');
}

/** What a bench report says each column is. */
export const memoryColumns =
  '`state`: bytes of optimizer state held (optimizer.stateBytes(): size × 4 bytes per float32 slot, scalars included; the step ' +
  'count is a JS number). `hidden-matrix state`: its part on the parameters of role hidden (stateBytes({perParameter: true})). ' +
  '`step peak − held`: peak tf.memory().numBytes inside applyGradients (tf.profile peakBytes) less the bytes held just before it ' +
  '(the update\'s temporaries), with the state in place; `first step`: the same for the first step, which creates the state. ' +
  '`train-step peak − baseline`: peak of a whole step (forward, backward, update) less the bytes held before the optimizer was made ' +
  '(data and parameters): activations, gradients, state and temporaries. `leak`: tensors left by one step.';

/** What {@link measureMemory} needs besides the task. */
export interface MeasureOptions {
  readonly batch: number;
  /** The row's label and variant (default: the optimizer's name, `'default'`). */
  readonly label?: string;
  readonly variant?: 'default' | 'target';
  /** Options over the runner's (`runnerOptions`) for this optimizer. */
  readonly options?: Readonly<Record<string, unknown>>;
}

let instanceCount = 0;

/** JSON-able form of options (RegExps as their source). */
function describeOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(options, (_k, v: unknown) => (v instanceof RegExp ? v.source : v))) as Record<string, unknown>;
}

/**
 * Measures one optimizer on a loaded task (the three steps of this module's description), on fresh
 * variables from `params` (the task's initial parameters, so every optimizer starts from the same ones),
 * which it disposes with the optimizer. Throws what making or stepping the optimizer throws.
 */
export async function measureMemory(
  instance: TaskInstance,
  params: readonly ParamInit[],
  optimizerName: string,
  settings: MeasureOptions,
): Promise<OptimizerMemory> {
  const tag = `orthoptim-memory${instanceCount++}`;
  const variableName = (p: ParamInit) => `${tag}/${p.name}`;
  const options = { ...runnerOptions(optimizerName, params, variableName), ...(settings.options ?? {}) };
  const indices = Uint32Array.from({ length: settings.batch }, (_, i) => i % instance.trainCount);
  const batch = instance.batch(indices);
  const variables = params.map((p) => tf.tidy(() => tf.variable(tf.tensor(p.values, p.shape), true, variableName(p))));
  let optimizer: TransformOptimizer | null = null;
  try {
    const baselineBytes = tf.memory().numBytes;
    optimizer = createOptimizer(optimizerName, options);
    const opt = optimizer;
    const gradients = () => tf.variableGrads(() => instance.loss(variables, batch), variables);
    const apply = (value: tf.Scalar, grads: tf.NamedTensorMap) =>
      opt.applyGradients(
        variables.map((v) => ({ name: v.name, tensor: grads[v.name] })),
        { loss: value },
      );
    /** `applyGradients` alone, profiled: its peak above what was held just before it. */
    const profiledUpdate = async (value: tf.Scalar, grads: tf.NamedTensorMap): Promise<number> => {
      const held = tf.memory().numBytes;
      const info = await tf.profile(() => apply(value, grads));
      return Math.max(held, info.peakBytes, tf.memory().numBytes) - held;
    };
    // Steps 1 and 2 share one gradient (bytes do not depend on its values): one forward + backward fewer.
    const { value, grads } = gradients();
    let firstStepTransientBytes: number;
    let stepTransientBytes: number;
    let leakedTensors: number;
    try {
      firstStepTransientBytes = await profiledUpdate(value, grads);
      const count = tf.memory().numTensors;
      stepTransientBytes = await profiledUpdate(value, grads);
      leakedTensors = tf.memory().numTensors - count;
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
    const whole = await tf.profile(() => {
      const step = gradients();
      apply(step.value, step.grads);
      tf.dispose([step.value, ...Object.values(step.grads)]);
    });
    const trainStepPeakBytes = Math.max(whole.peakBytes, baselineBytes);
    const report = opt.stateBytes({ perParameter: true });
    const hiddenStateBytes = report.perParameter.reduce((a, p, i) => a + (params[i].role === 'hidden' ? p.bytes : 0), 0);
    return {
      optimizer: optimizerName,
      label: settings.label ?? optimizerName,
      variant: settings.variant ?? 'default',
      options: describeOptions(options),
      stateBytes: report.total,
      hiddenStateBytes,
      sharedStateBytes: report.shared,
      baselineBytes,
      firstStepTransientBytes,
      stepTransientBytes,
      trainStepPeakBytes,
      trainStepPeakAboveBaseline: trainStepPeakBytes - baselineBytes,
      leakedTensors,
    };
  } finally {
    optimizer?.dispose();
    tf.dispose(variables);
    tf.dispose(batch.tensors);
  }
}

/**
 * Measures every row of {@link memoryPlan} for `names` on a loaded task, in order, and puts the rows
 * together ({@link memoryRows}); an optimizer that throws is listed in `errors` and the others go on.
 * `onRow` is told each label and the milliseconds it took (progress).
 */
export async function taskMemory(
  task: string,
  instance: TaskInstance,
  names: readonly string[],
  settings: {
    readonly batch: number;
    readonly seed: number;
    readonly baseline?: string;
    readonly targets?: Readonly<Record<string, MemoryTarget>>;
    readonly onRow?: (label: string, ms: number) => void;
  },
): Promise<TaskMemory> {
  const params = instance.initialParams(settings.seed);
  const measurements: OptimizerMemory[] = [];
  const errors: OptimizerMemoryError[] = [];
  const accepts = (name: string) => listOptimizers().find((o) => o.name === name)?.options ?? [];
  const targets = settings.targets ?? memoryTargets;
  for (const entry of memoryPlan(names, accepts, targets)) {
    const t0 = performance.now();
    try {
      measurements.push(await measureMemory(instance, params, entry.optimizer, { batch: settings.batch, ...entry }));
    } catch (e) {
      errors.push({ optimizer: entry.optimizer, label: entry.label, error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
    }
    settings.onRow?.(entry.label, performance.now() - t0);
  }
  const size = (p: ParamInit) => p.shape.reduce((a, b) => a * b, 1);
  const baseline = settings.baseline ?? 'adamw';
  return {
    task,
    model: instance.model,
    batch: settings.batch,
    parameters: params.reduce((a, p) => a + size(p), 0),
    hiddenParameters: params.reduce((a, p) => a + (p.role === 'hidden' ? size(p) : 0), 0),
    baseline,
    rows: memoryRows(measurements, baseline, targets),
    errors,
  };
}
