/**
 * `npm run bench:fit:target`: issue 16 point 5's wall-clock target on a plain tfjs-layers `model.fit` —
 * Muon's and Turbo-Muon's seconds to AdamW's final training loss against AdamW's own, on the stock
 * 784-512-512-10 ReLU MLP of `bench:fit` (softmax cross-entropy, batch 128) trained on Fashion-MNIST
 * (the full set when found, else the embedded subset `data/fashion-mnist-subset`), wasm backend with
 * {@link accelerateWasm}'s kernels, Newton–Schulz engine `auto` by default (onnxruntime when installed).
 *
 * Per seed, every optimizer starts from the same parameters (`mlpParams`: the bench task's seeded
 * Glorot-uniform kernels, zero biases) and sees the same batches (a seeded permutation of the training
 * images, repeated as needed), one `model.fit` of `--steps` batches each; the optimizers alternate within
 * each seed (order rotated per seed) so a load change on a shared machine hits all alike. The loss and the
 * wall-clock of every step come from a `onBatchEnd` callback; the clock starts before the run's batch
 * tensors are gathered (data included) and the callback's loss is read back, so each time is that of a
 * finished step. Learning rates are the `fashion-mnist-mlp` task's (Muon 0.02 — KellerJordan/Muon's README —
 * AdamW 1e-3, Turbo-Muon its library default 0.02); Muon's and Turbo-Muon's auxiliary AdamW runs at the
 * task's AdamW rate on `adamwParamNames(model)` (the output layer), as the README does.
 *
 * The target and each run's steps and seconds to it are the runner's (`defaultTarget`, `timeToTarget`,
 * `smoothingWindow` in src/bench/runner.ts): AdamW's final training loss smoothed over 5 % of the steps,
 * mean over seeds. Target rows: "<optimizer> s ≤ adamw s" is held when the optimizer reached the target in
 * every seed and its mean seconds are ≤ AdamW's (AdamW's mean over the seeds in which it reached it).
 *
 * Output: a Markdown report on stdout and `<out>/fit-target.md` and `<out>/fit-target.json` (with the
 * per-step curves).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { version_layers } from '@tensorflow/tfjs-layers';
import '../src/engines/node.js';
import { adamw, adamwParamNames, describeEngine, disposeEngines, muon, turboMuon, type EngineChoice } from '../src/index.js';
import { accelerateWasm } from '../src/tfjs/wasmMatMul.js';
import { commandLine, narrowTo, parseArgs, type CommandSpec } from '../src/cli/args.js';
import { formatNumber, formatStat, formatTable } from '../src/bench/table.js';
import { stat } from '../src/bench/stats.js';
import type { Stat } from '../src/bench/results.js';
import { defaultLearningRates, defaultTarget, smooth, smoothingWindow, timeToTarget } from '../src/bench/runner.js';
import { machineDetails, type MachineDetails } from '../src/bench/machine.js';
import { loadMnist, mnistImagePixels } from '../src/bench/data/index.js';
import { getTask } from '../src/bench/tasks/index.js';
import { mlpParams } from '../src/bench/tasks/mlp.js';
import { deriveSeed, mulberry32, shuffledIndices } from '../src/core/random.js';
import { models } from './fit.js';
import { now } from './timing.js';
import { runIfMain, writeReportFiles } from '../src/bench/script.js';

const optimizerNames = ['adamw', 'muon', 'turboMuon'] as const;
type OptimizerName = (typeof optimizerNames)[number];
const engineNames = ['auto', 'tfjs', 'onnxruntime', 'workers'] as const;
const TASK = 'fashion-mnist-mlp';
const SIZES = [784, 512, 512, 10] as const;

const command = {
  name: 'npm run bench:fit:target --',
  summary: "Seconds to AdamW's final loss of a stock tfjs-layers model.fit (784-512-512-10 MLP, Fashion-MNIST, accelerated wasm): adamw, muon, turboMuon.",
  flags: {
    steps: { type: 'integer', default: 300, min: 1, description: 'Steps (batches of 128) per run.' },
    seeds: { type: 'integer', default: 2, min: 1, description: 'Seeds 1…K (initial parameters and batch order).' },
    optimizers: { type: 'list', choices: optimizerNames, default: optimizerNames, description: 'The optimizers (adamw is the target).' },
    engine: { type: 'string', choices: engineNames, default: 'auto', description: 'Newton–Schulz engine of muon and turboMuon.' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'Fashion-MNIST directory (default: the searched places, else the embedded subset).' },
    out: { type: 'string', default: 'results/bench-fit-target', valueName: 'DIR', description: 'Folder for fit-target.md and fit-target.json.' },
  },
  notes: ['The machine may be shared: the optimizers alternate within each seed; compare seconds of one run only.'],
} as const satisfies CommandSpec;

export interface FitTargetConfig {
  readonly steps: number;
  readonly seeds: number;
  readonly optimizers: readonly OptimizerName[];
  readonly engine: EngineChoice;
  readonly dataDir?: string;
  readonly out: string;
}

export function parseFitTargetArgs(argv: readonly string[]): FitTargetConfig | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  return {
    steps: f.steps,
    seeds: f.seeds,
    optimizers: narrowTo(f.optimizers, optimizerNames),
    engine: f.engine as EngineChoice,
    ...(f['data-dir'] === undefined ? {} : { dataDir: f['data-dir'] }),
    out: f.out,
  };
}

/** One optimizer's run on one seed: per-step training loss and cumulative wall-clock (ms). */
export interface FitRun {
  readonly optimizer: string;
  readonly seed: number;
  readonly losses: readonly number[];
  readonly wallMs: readonly number[];
}

export interface FitRunSummary {
  readonly optimizer: string;
  readonly seed: number;
  /** The last smoothed training loss. */
  readonly finalLoss: number;
  readonly stepsToTarget: number | null;
  readonly secondsToTarget: number | null;
  readonly totalSeconds: number;
  readonly msPerStep: number;
}

export interface FitAggregate {
  readonly optimizer: string;
  readonly runs: number;
  readonly finalLoss: Stat;
  /** Over the seeds that reached the target (`n` says how many). */
  readonly stepsToTarget: Stat;
  readonly secondsToTarget: Stat;
  readonly totalSeconds: Stat;
  readonly msPerStep: Stat;
}

export interface TargetCheck {
  /** `muon s ≤ adamw s`. */
  readonly name: string;
  readonly optimizer: string;
  readonly seconds: number;
  readonly adamwSeconds: number;
  /** Seeds in which the optimizer reached the target, of `runs`. */
  readonly reached: number;
  readonly runs: number;
  readonly held: boolean;
}

export interface FitTargetSummary {
  readonly steps: number;
  readonly smoothing: number;
  /** AdamW's final smoothed loss, mean over seeds (null: no adamw run with a finite loss). */
  readonly target: number | null;
  readonly runs: FitRunSummary[];
  readonly aggregates: FitAggregate[];
  readonly checks: TargetCheck[];
}

/** The target, each run's steps and seconds to it, the per-optimizer aggregates and the held/missed checks. */
export function summarizeFitTarget(runs: readonly FitRun[], steps: number): FitTargetSummary {
  const smoothing = smoothingWindow(steps);
  const target = runs.some((r) => r.optimizer === 'adamw') ? defaultTarget(runs.map((r) => ({ label: r.optimizer, losses: r.losses })), smoothing) : null;
  const summaries: FitRunSummary[] = runs.map((r) => {
    const s = smooth(r.losses, smoothing);
    const reached = target === null ? { steps: null, seconds: null } : timeToTarget(r.losses, r.wallMs, target, smoothing);
    const totalMs = r.wallMs.length === 0 ? NaN : r.wallMs[r.wallMs.length - 1];
    return {
      optimizer: r.optimizer,
      seed: r.seed,
      finalLoss: s.length === 0 ? NaN : s[s.length - 1],
      stepsToTarget: reached.steps,
      secondsToTarget: reached.seconds,
      totalSeconds: totalMs / 1000,
      msPerStep: totalMs / r.wallMs.length,
    };
  });
  const labels = [...new Set(runs.map((r) => r.optimizer))];
  const aggregates: FitAggregate[] = labels.map((optimizer) => {
    const rs = summaries.filter((r) => r.optimizer === optimizer);
    return {
      optimizer,
      runs: rs.length,
      finalLoss: stat(rs.map((r) => r.finalLoss)),
      stepsToTarget: stat(rs.map((r) => r.stepsToTarget)),
      secondsToTarget: stat(rs.map((r) => r.secondsToTarget)),
      totalSeconds: stat(rs.map((r) => r.totalSeconds)),
      msPerStep: stat(rs.map((r) => r.msPerStep)),
    };
  });
  const base = aggregates.find((a) => a.optimizer === 'adamw');
  const checks: TargetCheck[] =
    base === undefined || target === null
      ? []
      : aggregates
          .filter((a) => a.optimizer !== 'adamw')
          .map((a) => {
            const seconds = a.secondsToTarget.mean;
            const adamwSeconds = base.secondsToTarget.mean;
            const reached = a.secondsToTarget.n;
            return {
              name: `${a.optimizer} s ≤ adamw s`,
              optimizer: a.optimizer,
              seconds,
              adamwSeconds,
              reached,
              runs: a.runs,
              held: reached === a.runs && Number.isFinite(seconds) && Number.isFinite(adamwSeconds) && seconds <= adamwSeconds,
            };
          });
  return { steps, smoothing, target, runs: summaries, aggregates, checks };
}

/** The summary's tables (per optimizer, per seed, then the targets) as Markdown lines. */
export function renderFitTargetTables(s: FitTargetSummary): string[] {
  const reachedOf = (a: FitAggregate) => `${a.secondsToTarget.n}/${a.runs}`;
  return [
    formatTable(
      [
        { header: 'optimizer' },
        { header: 'final loss', align: 'right' },
        { header: 'steps to target', align: 'right' },
        { header: 's to target', align: 'right' },
        { header: 'reached', align: 'right' },
        { header: 'ms/step', align: 'right' },
        { header: `s for ${s.steps} steps`, align: 'right' },
      ],
      s.aggregates.map((a) => [
        a.optimizer,
        formatStat(a.finalLoss, 4),
        formatStat(a.stepsToTarget, 0),
        formatStat(a.secondsToTarget, 2),
        reachedOf(a),
        formatStat(a.msPerStep, 1),
        formatStat(a.totalSeconds, 2),
      ]),
    ),
    '',
    formatTable(
      [
        { header: 'seed', align: 'right' },
        { header: 'optimizer' },
        { header: 'final loss', align: 'right' },
        { header: 'steps to target', align: 'right' },
        { header: 's to target', align: 'right' },
        { header: 'ms/step', align: 'right' },
      ],
      [...s.runs]
        .sort((a, b) => a.seed - b.seed)
        .map((r) => [
          String(r.seed),
          r.optimizer,
          formatNumber(r.finalLoss, 4),
          r.stepsToTarget === null ? 'not reached' : String(r.stepsToTarget),
          r.secondsToTarget === null ? `> ${formatNumber(r.totalSeconds, 2)}` : formatNumber(r.secondsToTarget, 2),
          formatNumber(r.msPerStep, 1),
        ]),
    ),
    '',
    formatTable(
      [{ header: 'target' }, { header: 's', align: 'right' }, { header: 'adamw s', align: 'right' }, { header: 'reached', align: 'right' }, { header: 'result', align: 'right' }],
      s.checks.map((c) => [c.name, formatNumber(c.seconds, 2), formatNumber(c.adamwSeconds, 2), `${c.reached}/${c.runs}`, c.held ? 'held' : 'missed']),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------
// Running

interface Setting {
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  /** The auxiliary AdamW's rate (muon / turboMuon), else null. */
  readonly adamwLearningRate: number | null;
}

/** The `fashion-mnist-mlp` task's learning rates, else the runner's, else the optimizer's own default (0.02 for turboMuon). */
function settingOf(optimizer: OptimizerName): Setting {
  const d = getTask(TASK).defaults;
  const rates: Readonly<Record<string, number | undefined>> = { ...defaultLearningRates, ...(d.learningRates ?? {}) };
  const own = rates[optimizer] ?? (optimizer === 'adamw' ? undefined : turboMuon().getConfig().learningRate);
  if (typeof own !== 'number') throw new Error(`bench:fit:target: no learning rate for ${optimizer}`);
  const aux = d.auxiliaryLearningRate ?? rates.adamw;
  return { optimizer, learningRate: own, adamwLearningRate: optimizer === 'adamw' ? null : (aux ?? null) };
}

function makeOptimizer(s: Setting, exclude: string[], engine: EngineChoice): tf.Optimizer {
  const aux = s.adamwLearningRate === null ? {} : { adamwLearningRate: s.adamwLearningRate };
  if (s.optimizer === 'adamw') return adamw({ learningRate: s.learningRate });
  if (s.optimizer === 'muon') return muon({ learningRate: s.learningRate, exclude, engine, ...aux });
  return turboMuon({ learningRate: s.learningRate, exclude, engine, ...aux });
}

/** The stock MLP of `bench:fit` with the bench task's seeded initial parameters. */
function buildModel(seed: number): { model: tfl.LayersModel; exclude: string[] } {
  const { model } = models.mlp.build();
  const init = mlpParams(SIZES, seed).map((p) => tf.tensor(p.values, p.shape));
  model.setWeights(init);
  tf.dispose(init);
  return { model, exclude: adamwParamNames(model) };
}

interface TrainData {
  readonly images: tf.Tensor2D;
  readonly labels: tf.Tensor1D;
  readonly count: number;
}

/** Row indices of `steps` batches: seeded permutations of the training set, concatenated. */
function batchOrder(count: number, rows: number, seed: number): Int32Array {
  const rand = mulberry32(deriveSeed(seed, 'fit-target batches'));
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i += count) out.set(shuffledIndices(count, rand).subarray(0, Math.min(count, rows - i)), i);
  return out;
}

/**
 * One `model.fit` of `steps` batches; the clock starts before the batch tensors are gathered. `onBatchEnd`
 * records the (read-back) loss and the time since the start.
 */
async function fitRun(data: TrainData, s: Setting, engine: EngineChoice, seed: number, steps: number, batch: number): Promise<FitRun & { engine: string }> {
  const { model, exclude } = buildModel(seed);
  const optimizer = makeOptimizer(s, exclude, engine);
  model.compile({ optimizer, loss: models.mlp.loss });
  const order = batchOrder(data.count, steps * batch, seed);
  const losses: number[] = [];
  const wallMs: number[] = [];
  const t0 = now();
  const { x, y } = tf.tidy(() => {
    const idx = tf.tensor1d(order, 'int32');
    return { x: tf.gather(data.images, idx), y: tf.oneHot(tf.gather(data.labels, idx), 10) };
  });
  try {
    await model.fit(x, y, {
      epochs: 1,
      batchSize: batch,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchEnd: (_batch, logs) => {
          losses.push(Number(logs?.loss ?? NaN));
          wallMs.push(now() - t0);
        },
      },
    });
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  }
  return { optimizer: s.optimizer, seed, losses, wallMs, engine: s.optimizer === 'adamw' ? 'none' : describeEngine(engine, tf.getBackend()) };
}

export interface FitTargetResult {
  readonly config: FitTargetConfig;
  readonly machine: MachineDetails;
  readonly data: string;
  readonly settings: readonly (Setting & { engine: string })[];
  readonly summary: FitTargetSummary;
  readonly curves: readonly FitRun[];
  readonly leakedTensors: number;
  readonly wallMs: number;
}

export async function runFitTarget(config: FitTargetConfig, log: (m: string) => void): Promise<FitTargetResult> {
  const start = now();
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm'))) throw new Error('bench:fit:target: could not initialise the wasm backend');
  accelerateWasm();
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  const mnist = await loadMnist({ dataset: 'fashionMnist', dataDir: config.dataDir, embeddedSubset: config.dataDir === undefined, progress: false });
  const count = mnist.train.count;
  const data: TrainData = {
    images: tf.tensor2d(mnist.train.images, [count, mnistImagePixels]),
    labels: tf.tensor1d(Int32Array.from(mnist.train.labels), 'int32'),
    count,
  };
  const dataText = `Fashion-MNIST ${mnist.embedded ? 'embedded subset' : 'full set'} (${mnist.dir}): ${count} training images`;
  const batch = models.mlp.batch;
  const settings = config.optimizers.map(settingOf);
  const curves: FitRun[] = [];
  const engines = new Map<string, string>();
  try {
    // Untimed warm-up: one short fit per optimizer (kernels, engine sessions for these shapes).
    for (const s of settings) await fitRun(data, s, config.engine, 1, 2, batch);
    const before = tf.memory().numTensors;
    for (let seed = 1; seed <= config.seeds; seed++) {
      const rotated = settings.map((_, i) => settings[(i + seed - 1) % settings.length]);
      for (const s of rotated) {
        const r = await fitRun(data, s, config.engine, seed, config.steps, batch);
        engines.set(s.optimizer, r.engine);
        curves.push({ optimizer: r.optimizer, seed: r.seed, losses: r.losses, wallMs: r.wallMs });
        const last = r.wallMs[r.wallMs.length - 1] ?? NaN;
        log(`seed ${seed} ${s.optimizer}: ${r.losses.length} steps, ${(last / 1000).toFixed(1)} s, last loss ${formatNumber(r.losses[r.losses.length - 1] ?? NaN, 4)}`);
      }
    }
    const leakedTensors = tf.memory().numTensors - before;
    return {
      config,
      machine,
      data: dataText,
      settings: settings.map((s) => ({ ...s, engine: engines.get(s.optimizer) ?? '?' })),
      summary: summarizeFitTarget(curves, config.steps),
      curves,
      leakedTensors,
      wallMs: now() - start,
    };
  } finally {
    tf.dispose([data.images, data.labels]);
  }
}

export function renderFitTargetReport(r: FitTargetResult): string {
  const m = r.machine;
  const s = r.summary;
  return [
    "# bench:fit:target — seconds to AdamW's final loss, stock tfjs-layers model.fit",
    '',
    `${m.cpuModel}, ${m.availableParallelism} cores, Node ${m.node}, tfjs ${m.tfjsCore} (wasm ${m.tfjsBackendWasm ?? '?'}, layers ${m.tfjsLayers ?? '?'}), ` +
      `accelerateWasm(); load average ${m.loadAverage.join(' / ')} at the start; ${m.date}.`,
    `${models.mlp.description}, softmax cross-entropy; ${r.data}. ${r.config.steps} steps × ${r.config.seeds} seeds, optimizers alternating within each seed.`,
    'Settings: ' +
      r.settings.map((x) => `${x.optimizer} lr ${x.learningRate}${x.adamwLearningRate === null ? '' : `, auxiliary AdamW ${x.adamwLearningRate} on adamwParamNames(model), engine ${x.engine}`}`).join('; ') +
      '.',
    `Target: AdamW's final training loss smoothed over ${s.smoothing} steps, mean over seeds = ${formatNumber(s.target ?? NaN, 4)}; seconds from before the batch tensors are gathered to the end of the step that first reaches it (smoothed). Tensors left after the timed runs: ${r.leakedTensors}.`,
    '',
    ...renderFitTargetTables(s),
  ].join('\n');
}

async function main(): Promise<void> {
  const config = commandLine(command, process.argv.slice(2), parseFitTargetArgs);
  if (config === null) return;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  let result: FitTargetResult;
  try {
    result = await runFitTarget(config, log);
  } finally {
    disposeEngines();
  }
  const report = renderFitTargetReport(result);
  process.stdout.write(`${report}\n`);
  const dir = await writeReportFiles(config.out, 'fit-target', report, result);
  log(`wrote ${dir}/fit-target.md and fit-target.json (${(result.wallMs / 1000).toFixed(0)} s)`);
}

runIfMain(import.meta.url, main);
