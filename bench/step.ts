/**
 * Optimizer step benchmark: ms per `optimizer.applyGradients(grads)` on an MLP's parameters, for
 * orthoptim's `muon()` (matrices → Muon, vectors → AdamW) and `adamw()` against tfjs's built-in
 * `tf.train.adam()`, plus the time `newtonSchulz` alone takes on Muon's matrices (its share of a step).
 *
 * The gradients are fixed, seeded random tensors, the same every step: the step's cost does not depend
 * on their values (no data-dependent branches besides the non-finite check, which always runs). Every
 * optimizer gets its own copy of the parameters. One round times one step of every optimizer, in turn,
 * so a slow phase of a shared machine hits them all alike.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { adamw, muon, newtonSchulz, resolveNewtonSchulz } from '../src/index.js';
import { formatMs, measureRounds, now, sync } from './timing.js';
import { type Stats } from '../src/bench/stats.js';
import { formatTable } from '../src/bench/table.js';

/** What to measure. */
export interface StepBenchConfig {
  /** MLP widths `[in, hidden…, out]`: a Dense kernel `[fanIn, fanOut]` and a bias per layer. */
  readonly layers: readonly number[];
  /** Unrecorded steps first (state creation, wasm memory growth). */
  readonly warmup: number;
  /** Recorded steps (the median is reported). */
  readonly steps: number;
  readonly seed: number;
}

/** ≈1.07M parameters: 784·1024 + 1024 + 1024·256 + 256 + 256·10 + 10 = 1,068,810. */
export const defaultStepConfig: StepBenchConfig = { layers: [784, 1024, 256, 10], warmup: 3, steps: 20, seed: 7 };

/** One optimizer's timing. */
export interface OptimizerTiming {
  /** Key in the tables, e.g. `orthoptim muon()`. */
  readonly name: string;
  readonly msPerStep: Stats;
  /** Median ms/step ÷ the median of `tf.train.adam()`. */
  readonly ratioToTfAdam: number;
  /** `tf.memory().numTensors` growth per recorded step (0 = no leak). */
  readonly leakedTensorsPerStep: number;
}

/** Result of {@link runStepBench}. */
export interface StepBenchResult {
  readonly config: StepBenchConfig;
  readonly params: { readonly name: string; readonly shape: readonly number[]; readonly muonLabel: 'muon' | 'adamw' }[];
  readonly totalParams: number;
  readonly optimizers: OptimizerTiming[];
  /** `newtonSchulz` (muon's default options) alone on every Muon matrix, one call each, per round. */
  readonly newtonSchulz: { readonly shapes: readonly (readonly number[])[]; readonly msPerStep: Stats; readonly shareOfMuonStep: number };
  readonly wallMs: number;
}

let instance = 0;

interface Contender {
  readonly name: string;
  readonly optimizer: tf.Optimizer;
  readonly vars: tf.Variable[];
}

/** The MLP's parameter shapes, in layer order: kernel, bias, kernel, bias, … */
export function mlpShapes(layers: readonly number[]): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  for (let l = 1; l < layers.length; l++) {
    out.push({ name: `dense_${l}/kernel`, shape: [layers[l - 1], layers[l]] });
    out.push({ name: `dense_${l}/bias`, shape: [layers[l]] });
  }
  return out;
}

/** Runs the step benchmark on the active backend. */
export async function runStepBench(config: StepBenchConfig = defaultStepConfig): Promise<StepBenchResult> {
  const t0 = now();
  const shapes = mlpShapes(config.layers);
  const id = instance++;
  // Fixed gradients (and initial values), shared by every optimizer; ~N(0, 0.01²) like a real gradient's scale.
  const grads = shapes.map((s, i) => tf.randomNormal(s.shape, 0, 0.01, 'float32', config.seed + i));
  const inits = shapes.map((s, i) =>
    tf.randomNormal(s.shape, 0, 1 / Math.sqrt(s.shape[0]), 'float32', config.seed + 1000 + i),
  );
  const makeVars = (tag: string) =>
    shapes.map((s, i) => tf.variable(inits[i], true, `bench_step${id}_${tag}/${s.name}`));

  const contenders: Contender[] = [
    { name: 'tf.train.adam()', optimizer: tf.train.adam(1e-3), vars: makeVars('tfadam') },
    { name: 'orthoptim adamw()', optimizer: adamw(), vars: makeVars('adamw') },
    { name: "orthoptim adamw({nonFinite: 'ignore'})", optimizer: adamw({ nonFinite: 'ignore' }), vars: makeVars('adamwIgnore') },
    { name: 'orthoptim muon()', optimizer: muon(), vars: makeVars('muon') },
  ];
  // Muon's matrices and the options its orthogonalization uses (defaults: Jordan, 5 steps).
  const ns = resolveNewtonSchulz({});
  const muonIdx = shapes.map((s, i) => (s.shape.length >= 2 ? i : -1)).filter((i) => i >= 0);
  const nsInputs = muonIdx.map((i) => grads[i]);

  // Tensor-count growth per contender, summed over recorded steps (a leak check for free).
  const growth = new Map<string, number>();
  let recording = false;
  const stepOnce = async (c: Contender): Promise<number> => {
    const named = c.vars.map((v, i) => ({ name: v.name, tensor: grads[i] }));
    const count = tf.memory().numTensors;
    const s = now();
    c.optimizer.applyGradients(named);
    await sync(c.vars[c.vars.length - 1]);
    const ms = now() - s;
    if (recording) growth.set(c.name, (growth.get(c.name) ?? 0) + tf.memory().numTensors - count);
    return ms;
  };
  const round = async (): Promise<Record<string, number>> => {
    const times: Record<string, number> = {};
    for (const c of contenders) times[c.name] = await stepOnce(c);
    const s = now();
    const outs = nsInputs.map((g) => newtonSchulz(g, ns));
    await sync(outs);
    times.newtonSchulz = now() - s;
    tf.dispose(outs);
    return times;
  };

  let measured: Awaited<ReturnType<typeof measureRounds<string>>>;
  try {
    // Warm-up by hand so that tensor counts are compared only after the state was created.
    for (let i = 0; i < config.warmup; i++) await round();
    recording = true;
    measured = await measureRounds(round, { warmup: 0, repeats: config.steps });
  } finally {
    cleanup(contenders, grads, inits);
  }

  const base = measured.stats['tf.train.adam()'].median;
  const optimizers = contenders.map((c) => ({
    name: c.name,
    msPerStep: measured.stats[c.name],
    ratioToTfAdam: measured.stats[c.name].median / base,
    leakedTensorsPerStep: (growth.get(c.name) ?? 0) / Math.max(1, config.steps),
  }));
  const nsStats = measured.stats.newtonSchulz;
  return {
    config,
    params: shapes.map((s) => ({ name: s.name, shape: s.shape, muonLabel: s.shape.length >= 2 ? 'muon' : 'adamw' })),
    totalParams: shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0),
    optimizers,
    newtonSchulz: {
      shapes: muonIdx.map((i) => shapes[i].shape),
      msPerStep: nsStats,
      shareOfMuonStep: nsStats.median / measured.stats['orthoptim muon()'].median,
    },
    wallMs: now() - t0,
  };
}

function cleanup(contenders: Contender[], grads: tf.Tensor[], inits: tf.Tensor[]): void {
  for (const c of contenders) {
    c.optimizer.dispose();
    tf.dispose(c.vars);
  }
  tf.dispose(grads);
  tf.dispose(inits);
}

/** The markdown report of a step benchmark. */
export function renderStepReport(r: StepBenchResult): string {
  const rows = r.optimizers.map((o) => [
    o.name,
    formatMs(o.msPerStep.median),
    formatMs(o.msPerStep.iqr),
    `${o.ratioToTfAdam.toFixed(2)}×`,
    String(o.leakedTensorsPerStep),
  ]);
  const nsShapes = r.newtonSchulz.shapes.map((s) => s.join('×')).join(', ');
  return [
    `MLP ${r.config.layers.join('→')} (${r.totalParams.toLocaleString('en-US')} parameters), ` +
      `median of ${r.config.steps} steps after ${r.config.warmup} warm-up steps`,
    '',
    formatTable(['optimizer', 'ms/step (median)', 'IQR', '÷ tf.train.adam', 'tensors leaked/step'], rows),
    '',
    `newtonSchulz alone on Muon's matrices (${nsShapes}): ${formatMs(r.newtonSchulz.msPerStep.median)} per step = ` +
      `${(100 * r.newtonSchulz.shareOfMuonStep).toFixed(1)}% of muon()'s step.`,
  ].join('\n');
}
