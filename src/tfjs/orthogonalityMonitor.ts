/**
 * Live orthogonality diagnostics during training (issue 14 item 6): every `every` steps, what one
 * optimizer step did to each weight matrix — the update `U = W_after − W_before` — measured by
 * {@link matrixDiagnostics}: the orthogonality error of `U / σ_max`, σ_max (the spectral norm), σ_min,
 * the stable rank and ‖U‖_F. Muon's update is an orthogonalized momentum (Jordan et al., "Muon: an
 * optimizer for hidden layers", kellerjordan.github.io/posts/muon, 2024; reference
 * `KellerJordan/Muon:muon.py`), so its error stays in the Newton–Schulz band (spec `muon-family.md`
 * §12.3–§12.4) while AdamW's update has a decaying spectrum; these records let a run show it.
 *
 * Two faces, one mechanism ({@link OrthogonalityProbe}): `probe.before()` / `probe.after()` around a
 * step of a custom loop, and {@link orthogonalityMonitor}, a `model.fit` callback (the
 * `CustomCallbackArgs` shape tfjs-layers wraps in a `CustomCallback`, so tfjs-layers stays an optional
 * dependency). The snapshot is `tf.clone` — it shares the variable's buffer until the optimizer's
 * `assign` replaces it, so taking one copies nothing — and only due steps take one. Measuring reads
 * back synchronously (see {@link matrixDiagnostics}): keep `every` large on GPU backends.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { matrixDiagnostics, type MatrixDiagnostics, type MatrixDiagnosticsOptions } from '../linalg/diagnostics.js';

/** A weight the probe can watch: a `tf.Variable`, or a tfjs-layers `LayerVariable` (which has `read()`). */
export type WatchedWeight = tf.Variable | { readonly name: string; readonly shape: readonly (number | null)[]; read(): tf.Tensor };

/** One weight matrix's update at one step. */
export interface OrthogonalityRecord extends MatrixDiagnostics {
  /** 1-based count of steps seen by the probe: the update of step `step`. */
  readonly step: number;
  /** The weight's name (a `LayerVariable`'s or `tf.Variable`'s). */
  readonly name: string;
}

/** Options of {@link orthogonalityProbe} (and {@link orthogonalityMonitor}). */
export interface OrthogonalityProbeOptions extends MatrixDiagnosticsOptions {
  /** Record the update of every `every`-th step: steps every, 2·every, … (default 10). */
  every?: number;
  /** Which weights of rank ≥ 2 to watch, by name (default: all of them; vectors are never watched). */
  include?: (name: string) => boolean;
  /** Called once per recorded step with one record per watched matrix. */
  onRecord?: (records: readonly OrthogonalityRecord[]) => void;
}

function tensorOf(w: WatchedWeight): tf.Tensor {
  return 'read' in w && typeof w.read === 'function' ? w.read() : (w as tf.Variable);
}

function checkOptions(fn: string, options: OrthogonalityProbeOptions): number {
  const every = options.every ?? 10;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`${fn}: every must be an integer >= 1, got ${every}`);
  if (options.include !== undefined && typeof options.include !== 'function') {
    throw new TypeError(`${fn}: include must be a function (name) => boolean, got ${typeof options.include}`);
  }
  if (options.onRecord !== undefined && typeof options.onRecord !== 'function') {
    throw new TypeError(`${fn}: onRecord must be a function, got ${typeof options.onRecord}`);
  }
  // The diagnostics options are checked once here, on a 1×1 matrix, so a bad one fails at construction.
  const probe = tf.zeros([1, 1]);
  try {
    matrixDiagnostics(probe, { method: options.method, exactMaxSide: options.exactMaxSide, iterations: options.iterations, spectrum: options.spectrum });
  } catch (e) {
    throw new RangeError(`${fn}: ${(e as Error).message.replace(/^matrixDiagnostics: /, '')}`, { cause: e });
  } finally {
    probe.dispose();
  }
  return every;
}

/**
 * Snapshots the watched matrices before a due step and measures their updates after it. Not tied to
 * an optimizer: whatever changes the weights between `before()` and `after()` is the update.
 */
export class OrthogonalityProbe {
  /** Every record so far, in order (step, then weight). */
  readonly records: OrthogonalityRecord[] = [];
  private readonly every: number;
  private readonly weights: readonly WatchedWeight[];
  private readonly options: OrthogonalityProbeOptions;
  private snapshot: tf.Tensor[] | null = null;
  private steps: number;

  /**
   * @param startStep - Steps already taken (a resumed loop): the next `before()` is step `startStep + 1`.
   */
  constructor(weights: readonly WatchedWeight[], options: OrthogonalityProbeOptions = {}, startStep = 0) {
    this.every = checkOptions('orthogonalityProbe', options);
    if (!Number.isInteger(startStep) || startStep < 0) throw new RangeError(`orthogonalityProbe: startStep must be an integer >= 0, got ${startStep}`);
    this.steps = startStep;
    this.options = options;
    const include = options.include ?? (() => true);
    this.weights = weights.filter((w) => w.shape.length >= 2 && include(w.name));
  }

  /** Names of the watched matrices (rank ≥ 2, passing `include`), in order. */
  get names(): string[] {
    return this.weights.map((w) => w.name);
  }

  /** Steps seen so far (calls of {@link before}). */
  get step(): number {
    return this.steps;
  }

  /** Whether step `step` (1-based) is recorded. */
  isDue(step: number): boolean {
    return step % this.every === 0;
  }

  /**
   * Call before a step: counts it and, when it is due, snapshots the watched matrices. Returns whether
   * it took a snapshot. A snapshot left by a `before()` without its `after()` is replaced.
   * @throws Error when a weight was disposed.
   */
  before(): boolean {
    this.steps++;
    this.release();
    if (!this.isDue(this.steps) || this.weights.length === 0) return false;
    this.snapshot = this.weights.map((w) => tf.clone(tensorOf(w)));
    return true;
  }

  /**
   * Call after the step: on a due step, measures every watched matrix's update, keeps and returns the
   * records (and hands them to `onRecord`); otherwise returns `[]`.
   */
  after(): OrthogonalityRecord[] {
    const before = this.snapshot;
    if (before === null) return [];
    this.snapshot = null;
    const { method, exactMaxSide, iterations, spectrum } = this.options;
    const out: OrthogonalityRecord[] = [];
    try {
      this.weights.forEach((w, i) => {
        const update = tf.sub(tensorOf(w), before[i]);
        try {
          out.push({ step: this.steps, name: w.name, ...matrixDiagnostics(update, { method, exactMaxSide, iterations, spectrum }) });
        } finally {
          update.dispose();
        }
      });
    } finally {
      tf.dispose(before);
    }
    this.records.push(...out);
    this.options.onRecord?.(out);
    return out;
  }

  /** Drops a pending snapshot (the records stay). */
  dispose(): void {
    this.release();
  }

  private release(): void {
    if (this.snapshot !== null) tf.dispose(this.snapshot);
    this.snapshot = null;
  }
}

/**
 * A probe of `weights` for a custom training loop:
 *
 * @example
 * const probe = orthogonalityProbe(variables, { every: 20 });
 * for (let s = 0; s < steps; s++) {
 *   probe.before();
 *   optimizer.minimize(() => loss(batch(s)));
 *   probe.after(); // records on steps 20, 40, …
 * }
 * console.log(probe.records);
 *
 * @param weights - `tf.Variable`s or `LayerVariable`s (`model.trainableWeights`); those of rank < 2 are ignored.
 * @throws RangeError / TypeError naming a bad option.
 */
export function orthogonalityProbe(weights: readonly WatchedWeight[], options: OrthogonalityProbeOptions = {}, startStep = 0): OrthogonalityProbe {
  return new OrthogonalityProbe(weights, options, startStep);
}

/** The part of a tfjs-layers `LayersModel` the monitor reads. */
export interface MonitoredModel {
  readonly trainableWeights: readonly WatchedWeight[];
}

/** Options of {@link orthogonalityMonitor}. */
export interface OrthogonalityMonitorOptions extends OrthogonalityProbeOptions {
  /** The model being fitted (tfjs-layers' `CustomCallback` does not hand its hooks the model). */
  model: MonitoredModel;
}

/** A `model.fit` callback (tfjs-layers `CustomCallbackArgs`) with the records it made. */
export interface OrthogonalityMonitor {
  onTrainBegin(): Promise<void>;
  onBatchBegin(batch: number): Promise<void>;
  onBatchEnd(batch: number): Promise<void>;
  onTrainEnd(): Promise<void>;
  /** Every record of the fits so far (steps count batches over all epochs and fits). */
  readonly records: readonly OrthogonalityRecord[];
  /** The probe behind it (watched names, step count). */
  readonly probe: OrthogonalityProbe | null;
}

/**
 * A tfjs-layers callback that records the orthogonality of every `every`-th batch's update of each
 * kernel (weights of rank ≥ 2: Dense `[fanIn, fanOut]`, Conv2D `[kh, kw, in, out]` viewed as
 * `[kh·kw·in, out]`), for `model.fit` / `model.fitDataset`:
 *
 * @example
 * const monitor = orthogonalityMonitor({ model, every: 25, onRecord: (rs) => console.table(rs) });
 * await model.fit(xs, ys, { epochs: 3, callbacks: [monitor] });
 * monitor.records; // { step, name, orthogonalityError, sigmaMax, sigmaMin, stableRank, … }
 *
 * The watched weights are read from `model.trainableWeights` when training begins (so a model
 * compiled or rebuilt after the monitor was made is watched as it trains).
 *
 * @throws TypeError when `model` has no `trainableWeights`; RangeError / TypeError naming a bad option.
 */
export function orthogonalityMonitor(options: OrthogonalityMonitorOptions): OrthogonalityMonitor {
  const model = (options as Partial<OrthogonalityMonitorOptions> | undefined)?.model;
  if (model === undefined || model === null || !Array.isArray(model.trainableWeights)) {
    throw new TypeError('orthogonalityMonitor: options.model must be the tfjs-layers model being fitted (it has trainableWeights)');
  }
  checkOptions('orthogonalityMonitor', options);
  const records: OrthogonalityRecord[] = [];
  let probe: OrthogonalityProbe | null = null;
  let steps = 0;
  const probeOptions: OrthogonalityProbeOptions = { ...options };
  delete (probeOptions as Partial<OrthogonalityMonitorOptions>).model;
  return {
    records,
    get probe() {
      return probe;
    },
    onTrainBegin() {
      probe?.dispose();
      // Steps keep counting across fits, as the records' steps do.
      probe = new OrthogonalityProbe(
        model.trainableWeights,
        {
          ...probeOptions,
          onRecord: (rs) => {
            records.push(...rs);
            options.onRecord?.(rs);
          },
        },
        steps,
      );
      return Promise.resolve();
    },
    onBatchBegin() {
      probe?.before();
      return Promise.resolve();
    },
    onBatchEnd() {
      if (probe !== null) {
        probe.after();
        steps = probe.step;
      }
      return Promise.resolve();
    },
    onTrainEnd() {
      probe?.dispose();
      return Promise.resolve();
    },
  };
}
