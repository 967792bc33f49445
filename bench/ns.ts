/**
 * `npm run bench:ns` — how fast orthoptim's Newton–Schulz is on the wasm backend, and what an optimizer
 * step costs.
 *
 * Section 1 (Newton–Schulz): for each shape, the median time of `newtonSchulz` (Jordan coefficients,
 * 5 steps) next to the time of the plain `tf.matMul`s it contains (per step `k×n · n×k`, `k×k · k×k`,
 * `k×k · k×n`, on same-shaped operands, measured in the same rounds; each right operand is a tensor
 * not multiplied before, as inside NS, because tfjs-wasm caches XNNPACK's packed copy of the right
 * operand per tensor and a reused operand would skip that packing), their ratio (the target is
 * ≤ 1.10), effective GFLOP/s with flops = 5·(4k²n + 2k³) (spec §13.1; k = min side, n = max side), a
 * breakdown of the rest (explicit transposes, k×k element-wise work, normalization), and the textbook
 * NS (`tf.norm`, `matMul` with the transpose flag, `aX + B·X`) as a baseline. Repeats are sized from a
 * warm-up round so the section stays within its time budget.
 *
 * Section 2 (every orthogonalizer: Jordan, You, Polar Express 5, Turbo AOL ×4, ROOT, Dion at rank ¼ and
 * ½ — time, GFLOP/s, time ÷ Jordan ×5, quality against the float64 polar factor, and the papers' speed
 * claims checked): see `bench/orthogonalizers.ts`.
 *
 * Section 3 (optimizer step): see `bench/step.ts`.
 *
 * Section 4 (native engines: the machine's matmul limit measured in the run, Newton–Schulz per engine —
 * tfjs, workers, onnxruntime — as "× of the limit" against the issue's targets, Gram Newton–Schulz
 * against the standard form, and a muon step per engine): see `bench/engines.ts` (also
 * `npm run bench:engines` alone); `--no-engines` skips it.
 *
 * Prints markdown tables to stdout (progress goes to stderr) and writes JSON (default
 * `results/bench-ns.json`). Timings are measured here and never asserted in tests.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { writeAtomic } from '../src/node/fileSystem.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers gradients (tfjs-core alone has none in Node)
import { version_layers } from '@tensorflow/tfjs-layers';
import { coefficientsAt, newtonSchulz, resolveNewtonSchulz, type ResolvedNewtonSchulz } from '../src/index.js';
import { formatMs, measureRounds, now, repeatsFor, sync, timeOnce } from './timing.js';
import { median, stats, type Stats } from '../src/bench/stats.js';
import { machineDetails, type MachineDetails } from '../src/bench/machine.js';
import { formatTable } from '../src/bench/table.js';
import { shapesFlag, type Shape } from './timing.js';
import { makeInput } from '../src/bench/inputs.js';
import { standardFlops } from '../src/linalg/flops.js';
import { relFrobenius } from '../src/bench/relativeError.js';
import { commandLine, parseArgs as parseFlags, usageError, type CommandSpec } from '../src/cli/args.js';
import {
  fullOrthoConfig,
  quickOrthoConfig,
  renderOrthoReport,
  runOrthoSection,
  type OrthoBenchConfig,
  type OrthoSectionResult,
} from './orthogonalizers.js';
import { defaultStepConfig, renderStepReport, runStepBench, type StepBenchConfig, type StepBenchResult } from './step.js';
import { fullEngineSections, quickEngineSections, type EngineSectionsConfig, type EngineSectionsResult } from './engines/settings.js';
import { renderEngineSections } from './engines/render.js';
import { runEngineSections } from './engines.js';
import { disposeEngines } from '../src/index.js';
import { runIfMain } from '../src/bench/script.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Section 1 settings. */
export interface NsBenchConfig {
  readonly shapes: readonly Shape[];
  /** Unrecorded rounds per shape (the first also sizes the repeats). */
  readonly warmup: number;
  readonly minRepeats: number;
  readonly maxRepeats: number;
  /** Target wall time of the whole section (ms); split over the shapes still to run. */
  readonly budgetMs: number;
  /** The textbook NS baseline: skipped when predicted above `maxMs`; at most `budgetShare` of a shape's budget. */
  readonly naive: { readonly maxMs: number; readonly maxRepeats: number; readonly budgetShare: number };
  readonly seed: number;
}

/** Everything a run does. */
export interface BenchConfig {
  readonly quick: boolean;
  /** JSON output path, or null to write nothing. */
  readonly out: string | null;
  readonly ns: NsBenchConfig;
  /** Section 2 (every orthogonalizer), or null to skip it. */
  readonly ortho: OrthoBenchConfig | null;
  /** Section 3, or null to skip it. */
  readonly step: StepBenchConfig | null;
  /** Section 4 (native engines, `bench/engines.ts`); null or absent skips it. */
  readonly engines?: EngineSectionsConfig | null;
}

export const fullShapes: readonly Shape[] = [
  [256, 256],
  [1024, 1024],
  [768, 3072],
  [1024, 4096],
];

/** The settings of a full run, or of `--quick` (fewer repeats, small shapes, a small MLP). */
export function defaultConfig(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        out: resolve(repoRoot, 'results/bench-ns.json'),
        ns: {
          shapes: [[256, 256]],
          warmup: 1,
          minRepeats: 2,
          maxRepeats: 3,
          budgetMs: 10_000,
          naive: { maxMs: 10_000, maxRepeats: 1, budgetShare: 0.3 },
          seed: 42,
        },
        ortho: quickOrthoConfig,
        step: { layers: [128, 256, 64, 10], warmup: 1, steps: 3, seed: 7 },
        engines: quickEngineSections,
      }
    : {
        quick,
        out: resolve(repoRoot, 'results/bench-ns.json'),
        ns: {
          shapes: fullShapes,
          warmup: 1,
          minRepeats: 3,
          maxRepeats: 25,
          budgetMs: 180_000,
          naive: { maxMs: 30_000, maxRepeats: 5, budgetShare: 0.3 },
          seed: 42,
        },
        ortho: fullOrthoConfig,
        step: defaultStepConfig,
        engines: fullEngineSections,
      };
}

/** Where one shape's NS time goes (medians, ms); `other` = NS − the parts (allocation, tidy, scalars). */
export interface NsBreakdown {
  readonly matmul: number;
  /** Of `matmul`: packing the right operands (fresh − cached operands). */
  readonly packing: number;
  readonly transpose: number;
  readonly elementwise: number;
  readonly normalize: number;
  readonly other: number;
}

/** The textbook baseline's result for one shape. */
export type NaiveResult =
  | {
      readonly status: 'measured';
      readonly ms: Stats;
      readonly gflops: number;
      /** Median naive ÷ median orthoptim NS. */
      readonly ratioToNs: number;
      readonly predictedMs: number;
      /** ‖naive − newtonSchulz‖_F / ‖newtonSchulz‖_F (float32 rounding only; sanity). */
      readonly relDiffToNs: number;
    }
  | { readonly status: 'skipped'; readonly reason: string; readonly predictedMs: number };

/** Section 1 result for one shape. */
export interface NsShapeResult {
  readonly shape: Shape;
  /** min side, max side. */
  readonly k: number;
  readonly n: number;
  readonly steps: number;
  /** steps·(4k²n + 2k³). */
  readonly flops: number;
  readonly repeats: number;
  readonly warmupRoundMs: number;
  readonly ns: Stats;
  /** The 3·steps plain matMuls on same-shaped operands, each right operand new (as inside NS). */
  readonly matmul: Stats;
  /** The same products on operands multiplied before (XNNPACK's packed right operand cached). */
  readonly matmulCached: Stats;
  /** The explicit transposes NS does (one per step; two more for a tall input). */
  readonly transpose: Stats;
  /** The k×k element-wise work building `P = aI + bA + cA²`, every step. */
  readonly elementwise: Stats;
  /** Trace of the first Gram, sqrt, `X / d`, `A₀ / d²`. */
  readonly normalize: Stats;
  readonly breakdown: NsBreakdown;
  readonly gflops: { readonly ns: number; readonly matmul: number };
  /**
   * Median NS ÷ median matmul (the headline; target ≤ 1.10), the median of the per-round ratios, and
   * min ÷ min (least disturbed by other load on a shared machine).
   */
  readonly ratio: { readonly nsOverMatmul: number; readonly perRoundMedian: number; readonly ofMins: number };
  readonly naive: NaiveResult;
  /** The output of the last timed `newtonSchulz` call, for sanity checks against a fresh call. */
  readonly check: { readonly outputFrobenius: number; readonly outputSample: readonly number[] };
}

/** Section 1 result. */
export interface NsSectionResult {
  readonly config: NsBenchConfig;
  readonly coefficients: string;
  readonly shapes: NsShapeResult[];
  readonly wallMs: number;
}

/** The whole JSON file. */
export interface BenchResult {
  readonly schema: 'orthoptim/bench-ns@1';
  readonly machine: MachineDetails;
  readonly quick: boolean;
  readonly ns: NsSectionResult;
  /** Every orthogonalizer (null when skipped). */
  readonly orthogonalizers: OrthoSectionResult | null;
  readonly step: StepBenchResult | null;
  /** Section 4 (null when skipped). */
  readonly engines: EngineSectionsResult | null;
  readonly wallMs: number;
}

/**
 * The textbook Newton–Schulz in TensorFlow.js (KellerJordan/Muon `zeropower_via_newtonschulz5` written
 * op for op): `X / (tf.norm(X) + ε)`, then per step `A = X·Xᵀ` (matMul's transpose flag),
 * `B = bA + c·A·A`, `X = aX + B·X`. The baseline the fused implementation is compared against.
 */
export function naiveNewtonSchulz(g: tf.Tensor2D, ns: ResolvedNewtonSchulz): tf.Tensor2D {
  return tf.tidy(() => {
    const tall = g.shape[0] > g.shape[1];
    let X = tall ? tf.transpose(g) : g;
    X = tf.div(X, tf.add(tf.mul(tf.norm(X), ns.normScale), ns.eps));
    for (let i = 0; i < ns.steps; i++) {
      const [a, b, c] = coefficientsAt(ns.table, i);
      const A = tf.matMul(X, X, false, true);
      const B = tf.add(tf.mul(A, b), tf.mul(tf.matMul(A, A), c));
      X = tf.add(tf.mul(X, a), tf.matMul(B, X));
    }
    return tall ? tf.transpose(X) : X;
  });
}

/** Benchmarks one shape within `budgetMs` (see the module comment for what is measured). */
export async function benchNsShape(
  shape: Shape,
  config: NsBenchConfig,
  budgetMs: number,
  log: (msg: string) => void = () => {},
): Promise<NsShapeResult> {
  const start = now();
  const ns = resolveNewtonSchulz({ coefficients: 'jordan' });
  const steps = ns.steps;
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  const flops = standardFlops(shape[0], shape[1], steps);

  const input = makeInput(shape, config.seed);
  // Same-shaped operands for the plain matMuls and the parts: wide X (k×n), Xᵀ (n×k), a k×k matrix.
  const x = shape[0] > shape[1] ? tf.transpose(input) : tf.clone(input);
  const xt = tf.transpose(x);
  const sq = tf.randomNormal([k, k], 0, 1 / Math.sqrt(k), 'float32', config.seed + 1);
  const sq2 = tf.randomNormal([k, k], 0, 1 / Math.sqrt(k), 'float32', config.seed + 2);
  const transposes = steps + (shape[0] > shape[1] ? 2 : 0);
  let lastOutput: tf.Tensor | null = null;

  const parts: Record<string, () => tf.Tensor | tf.Tensor[]> = {
    // The same 15 products on operands used before: tfjs-wasm caches XNNPACK's packed copy of the right
    // operand by tensor, so this skips the packing that every product inside NS pays (its B is new).
    matmulCached: () => {
      const outs: tf.Tensor[] = [];
      for (let i = 0; i < steps; i++) outs.push(tf.matMul(x, xt), tf.matMul(sq, sq), tf.matMul(sq, x));
      return outs;
    },
    transpose: () => {
      const outs: tf.Tensor[] = [];
      for (let i = 0; i < transposes; i++) outs.push(tf.transpose(x));
      return outs;
    },
    // As newtonSchulzWide builds P = aI + bA + cA² (with A·A given).
    elementwise: () =>
      tf.tidy(() => {
        const eye = tf.eye(k);
        let P = eye;
        for (let i = 0; i < steps; i++) {
          const [a, b, c] = coefficientsAt(ns.table, i);
          P = tf.add(tf.add(tf.mul(sq2, c), tf.mul(sq, b)), tf.mul(eye, a));
        }
        return P;
      }),
    // As newtonSchulzWide normalizes: trace of the first Gram, then X / d and A₀ / d².
    normalize: () =>
      tf.tidy(() => {
        const trace = tf.sum(tf.mul(sq, tf.eye(k)));
        const d = tf.add(tf.mul(tf.sqrt(tf.abs(trace)), ns.normScale), ns.eps);
        return [tf.div(sq, tf.square(d)), tf.div(x, d)];
      }),
  };

  // The 15 products as NS meets them: every right operand a tensor never multiplied before (made,
  // untimed, as `x + 0`), so XNNPACK packs it as it does inside NS. Left operands need no copy.
  const freshMatmul = async (): Promise<number> => {
    const bs: tf.Tensor2D[] = [];
    for (let i = 0; i < steps; i++) bs.push(tf.add(xt, 0), tf.add(sq, 0), tf.add(x, 0));
    await sync(bs);
    const { ms } = await timeOnce(() => {
      const outs: tf.Tensor[] = [];
      for (let i = 0; i < steps; i++) {
        outs.push(tf.matMul(x, bs[3 * i]), tf.matMul(sq, bs[3 * i + 1]), tf.matMul(sq, bs[3 * i + 2]));
      }
      return outs;
    });
    tf.dispose(bs);
    return ms;
  };

  let roundIndex = 0;
  const round = async (): Promise<Record<string, number>> => {
    const times: Record<string, number> = {};
    // Alternate which of the two main measurements goes first.
    const order = roundIndex++ % 2 === 0 ? ['ns', 'matmul'] : ['matmul', 'ns'];
    for (const key of order) {
      if (key === 'ns') {
        const { ms, out } = await timeOnce(() => newtonSchulz(input, ns), true);
        tf.dispose(lastOutput ?? []);
        lastOutput = out;
        times.ns = ms;
      } else {
        times.matmul = await freshMatmul();
      }
    }
    for (const key of ['matmulCached', 'transpose', 'elementwise', 'normalize']) times[key] = (await timeOnce(parts[key])).ms;
    return times;
  };

  try {
    let warmRound = 0;
    let warmNs = 0;
    for (let i = 0; i < Math.max(1, config.warmup); i++) {
      const t0 = now();
      const w = await round();
      warmRound = now() - t0;
      warmNs = w.ns;
    }
    log(`  ${shape.join('x')}: warm-up round ${formatMs(warmRound)}`);

    // The textbook baseline: predict its time from one transpose-flag Gram, skip it when too slow.
    const probe = (await timeOnce(() => tf.matMul(x, x, false, true))).ms;
    const predictedMs = steps * probe + warmNs;
    let naive: NaiveResult;
    if (predictedMs > config.naive.maxMs) {
      naive = {
        status: 'skipped',
        reason: `predicted ${formatMs(predictedMs)} > ${formatMs(config.naive.maxMs)} (one transpose-flag Gram took ${formatMs(probe)})`,
        predictedMs,
      };
      log(`  ${shape.join('x')}: naive NS skipped, ${naive.reason}`);
    } else {
      const naiveRepeats = repeatsFor(config.naive.budgetShare * budgetMs, predictedMs, 1, config.naive.maxRepeats);
      const times: number[] = [];
      let naiveOut: tf.Tensor | null = null;
      for (let i = 0; i < naiveRepeats; i++) {
        const { ms, out } = await timeOnce(() => naiveNewtonSchulz(input, ns), true);
        tf.dispose(naiveOut ?? []);
        naiveOut = out;
        times.push(ms);
      }
      const ref = await (lastOutput as unknown as tf.Tensor).data();
      const relDiffToNs = relFrobenius(await naiveOut!.data(), ref);
      tf.dispose(naiveOut!);
      const s = stats(times);
      naive = { status: 'measured', ms: s, gflops: flops / (s.median * 1e6), ratioToNs: NaN, predictedMs, relDiffToNs };
      log(`  ${shape.join('x')}: naive NS ${formatMs(s.median)} (${naiveRepeats}×, predicted ${formatMs(predictedMs)})`);
    }

    const spent = now() - start;
    const repeats = repeatsFor(budgetMs - spent, warmRound, config.minRepeats, config.maxRepeats);
    const measured = await measureRounds(round, { warmup: 0, repeats });
    const st = measured.stats;
    const m = (key: string) => st[key].median;
    const nsOverMatmul = m('ns') / m('matmul');
    if (naive.status === 'measured') naive = { ...naive, ratioToNs: naive.ms.median / m('ns') };
    const out = lastOutput as unknown as tf.Tensor;
    const data = await out.data();
    let sq0 = 0;
    for (const v of data) sq0 += v * v;
    const result: NsShapeResult = {
      shape,
      k,
      n,
      steps,
      flops,
      repeats,
      warmupRoundMs: warmRound,
      ns: st.ns,
      matmul: st.matmul,
      matmulCached: st.matmulCached,
      transpose: st.transpose,
      elementwise: st.elementwise,
      normalize: st.normalize,
      breakdown: {
        matmul: m('matmul'),
        packing: m('matmul') - m('matmulCached'),
        transpose: m('transpose'),
        elementwise: m('elementwise'),
        normalize: m('normalize'),
        other: m('ns') - m('matmul') - m('transpose') - m('elementwise') - m('normalize'),
      },
      gflops: { ns: flops / (m('ns') * 1e6), matmul: flops / (m('matmul') * 1e6) },
      ratio: {
        nsOverMatmul,
        perRoundMedian: median(measured.rounds.map((r) => r.ns / r.matmul)),
        ofMins: st.ns.min / st.matmul.min,
      },
      naive,
      check: { outputFrobenius: Math.sqrt(sq0), outputSample: Array.from(data.slice(0, 8)) },
    };
    log(
      `  ${shape.join('x')}: NS ${formatMs(m('ns'))}, matmuls ${formatMs(m('matmul'))}, ` +
        `ratio ${nsOverMatmul.toFixed(3)} (${repeats} repeats, ${formatMs(now() - start)})`,
    );
    return result;
  } finally {
    tf.dispose([input, x, xt, sq, sq2]);
    tf.dispose(lastOutput ?? []);
  }
}

/** Section 1: every shape, the time budget split over the shapes still to run. */
export async function runNsSection(config: NsBenchConfig, log: (msg: string) => void = () => {}): Promise<NsSectionResult> {
  const start = now();
  const shapes: NsShapeResult[] = [];
  for (let i = 0; i < config.shapes.length; i++) {
    const left = config.budgetMs - (now() - start);
    const budget = Math.max(0, left) / (config.shapes.length - i);
    shapes.push(await benchNsShape(config.shapes[i], config, budget, log));
  }
  return { config, coefficients: 'jordan', shapes, wallMs: now() - start };
}

/** Runs both sections on the wasm backend and writes the JSON (when `config.out` is set). */
export async function runBenchmark(config: BenchConfig, log: (msg: string) => void = () => {}): Promise<BenchResult> {
  const start = now();
  tf.env().set('IS_TEST', true);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('bench:ns: could not initialise the wasm backend');
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  log(`Newton–Schulz on ${machine.backend} (${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node})`);
  const ns = await runNsSection(config.ns, log);
  let orthogonalizers: OrthoSectionResult | null = null;
  if (config.ortho !== null) {
    log('every orthogonalizer:');
    orthogonalizers = await runOrthoSection(config.ortho, log);
  }
  let step: StepBenchResult | null = null;
  if (config.step !== null) {
    log(`optimizer step: MLP ${config.step.layers.join('→')}`);
    step = await runStepBench(config.step);
  }
  let engines: EngineSectionsResult | null = null;
  if (config.engines) {
    log('native engines:');
    engines = await runEngineSections(config.engines, log);
  }
  const result: BenchResult = {
    schema: 'orthoptim/bench-ns@1',
    machine,
    quick: config.quick,
    ns,
    orthogonalizers,
    step,
    engines,
    wallMs: now() - start,
  };
  if (config.out !== null) {
    mkdirSync(dirname(config.out), { recursive: true });
    await writeAtomic(config.out, `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}

function gflops(v: number): string {
  return Number.isFinite(v) ? v.toFixed(1) : '—';
}

/** The markdown report printed to stdout. */
export function renderReport(r: BenchResult): string {
  const m = r.machine;
  const head =
    `## Newton–Schulz (Jordan, ${r.ns.shapes[0]?.steps ?? 5} steps) on ${m.backend}\n\n` +
    `${m.cpuModel}, ${m.cores} cores, Node ${m.node}, tfjs-core ${m.tfjsCore}` +
    `${m.tfjsBackendWasm ? `, tfjs-backend-wasm ${m.tfjsBackendWasm}` : ''}` +
    `${Object.keys(m.backendFlags).length ? ` (${Object.entries(m.backendFlags).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''}, ${m.date}` +
    `${r.quick ? ' — quick mode' : ''}\n\n` +
    `flops = 5·(4k²n + 2k³); "matmuls" = the 15 plain tf.matMul's NS contains (per step k×n·n×k, k×k·k×k, ` +
    `k×k·k×n) on same-shaped operands whose right operand is new each time, as inside NS (tfjs-wasm caches ` +
    `XNNPACK's packed right operand per tensor), measured in the same rounds. Target NS ÷ matmuls ≤ 1.10.`;
  const main = formatTable(
    ['shape', 'k×n', 'reps', 'NS (median)', 'NS GFLOP/s', 'matmuls', 'matmul GFLOP/s', 'NS ÷ matmuls', 'min ÷ min', 'naive NS', 'naive ÷ NS'],
    r.ns.shapes.map((s) => [
      s.shape.join('×'),
      `${s.k}×${s.n}`,
      String(s.repeats),
      formatMs(s.ns.median),
      gflops(s.gflops.ns),
      formatMs(s.matmul.median),
      gflops(s.gflops.matmul),
      `**${s.ratio.nsOverMatmul.toFixed(3)}**`,
      s.ratio.ofMins.toFixed(3),
      s.naive.status === 'measured' ? `${formatMs(s.naive.ms.median)} (${s.naive.ms.n}×)` : 'skipped',
      s.naive.status === 'measured' ? `${s.naive.ratioToNs.toFixed(2)}×` : '—',
    ]),
  );
  const parts = formatTable(
    ['shape', 'matmuls', '(of which B packing)', 'transposes', 'k×k element-wise', 'normalize', 'other', 'NS', 'per-round ratio', 'NS IQR', 'naive vs NS (rel. F)'],
    r.ns.shapes.map((s) => [
      s.shape.join('×'),
      formatMs(s.breakdown.matmul),
      formatMs(s.breakdown.packing),
      formatMs(s.breakdown.transpose),
      formatMs(s.breakdown.elementwise),
      formatMs(s.breakdown.normalize),
      formatMs(s.breakdown.other),
      formatMs(s.ns.median),
      s.ratio.perRoundMedian.toFixed(3),
      formatMs(s.ns.iqr),
      s.naive.status === 'measured' ? s.naive.relDiffToNs.toExponential(1) : '—',
    ]),
  );
  const skipped = r.ns.shapes
    .filter((s) => s.naive.status === 'skipped')
    .map((s) => `naive NS skipped for ${s.shape.join('×')}: ${s.naive.status === 'skipped' ? s.naive.reason : ''}`);
  const sections = [
    head,
    main,
    '### Where the NS time goes (medians; parts measured separately, "other" = NS − parts)\n\n' +
      '"B packing" = matmuls on new right operands − the same on cached ones (inside "matmuls"). ' +
      '"naive vs NS" is mostly the naive\'s error: its tf.norm on wasm is ~1e-4 off and the iteration ' +
      'amplifies that, while newtonSchulz normalizes by the trace of its first Gram.',
    parts,
    ...skipped,
  ];
  if (r.orthogonalizers !== null) sections.push(renderOrthoReport(r.orthogonalizers));
  if (r.step !== null) sections.push(`## Optimizer step on ${m.backend}`, renderStepReport(r.step));
  // `?? null`: results files written before the engine section existed have no `engines`
  const engines = r.engines ?? null;
  if (engines !== null) sections.push(renderEngineSections(engines));
  sections.push(
    `total wall time ${formatMs(r.wallMs)} (Newton–Schulz: ${formatMs(r.ns.wallMs)}` +
      `${r.orthogonalizers !== null ? `, every orthogonalizer: ${formatMs(r.orthogonalizers.wallMs)}` : ''}` +
      `${r.step !== null ? `, optimizer step: ${formatMs(r.step.wallMs)}` : ''}` +
      `${engines !== null ? `, native engines: ${formatMs(engines.wallMs)}` : ''})`,
  );
  return sections.join('\n\n');
}

/** The flags of `bench:ns`, parsed by src/cli/args.ts. */
export const command = {
  name: 'npm run bench:ns --',
  summary: "Newton–Schulz on wasm beside its matmuls, every orthogonalizer, an optimizer step, and the native engines' section.",
  flags: {
    quick: { type: 'boolean', description: 'Smoke run: fewer repeats, small shapes only (256x256), small quality inputs, a small MLP.' },
    shapes: { type: 'string', valueName: 'RxC,...', description: `Newton–Schulz section shapes, e.g. 256x256,1024x1024 (default: ${fullShapes.map((s) => s.join('x')).join(',')}).` },
    'ortho-shapes': { type: 'string', valueName: 'RxC,...', description: `Timing shapes of the every-orthogonalizer section (default: ${fullOrthoConfig.shapes.map((s) => s.join('x')).join(',')}).` },
    'quality-shapes': { type: 'string', valueName: 'RxC,...', description: `Its quality inputs (float64 SVD, keep them small; default: ${fullOrthoConfig.qualityShapes.map((s) => s.join('x')).join(',')}).` },
    'no-ortho': { type: 'boolean', description: 'Skip the every-orthogonalizer section.' },
    'no-engines': { type: 'boolean', description: 'Skip the native-engine section (limit, NS per engine, Gram NS, muon step per engine; run it alone, with its own flags, by npm run bench:engines).' },
    out: { type: 'string', valueName: 'PATH', description: 'JSON output (default results/bench-ns.json).' },
  },
} as const satisfies CommandSpec;

/** Parses the command line (flags as `--flag value` or `--flag=value`); throws a UsageError naming the flag. */
export function parseArgs(argv: readonly string[], cwd = process.cwd()): BenchConfig | 'help' {
  const parsed = parseFlags(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const shapes = shapesFlag(command, 'shapes', f.shapes);
  const orthoShapes = shapesFlag(command, 'ortho-shapes', f['ortho-shapes']);
  const qualityShapes = shapesFlag(command, 'quality-shapes', f['quality-shapes']);
  if (f.out === '') throw usageError(command, '--out needs a path');
  const base = defaultConfig(f.quick);
  const ortho =
    f['no-ortho'] || base.ortho === null
      ? null
      : {
          ...base.ortho,
          shapes: orthoShapes ?? base.ortho.shapes,
          qualityShapes: qualityShapes ?? base.ortho.qualityShapes,
        };
  return {
    ...base,
    out: f.out === undefined ? base.out : resolve(cwd, f.out),
    ns: shapes === null ? base.ns : { ...base.ns, shapes },
    ortho,
    engines: f['no-engines'] ? null : base.engines,
  };
}

async function main(): Promise<void> {
  const config = commandLine(command, process.argv.slice(2), (argv) => parseArgs(argv));
  if (config === null) return;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  try {
    const result = await runBenchmark(config, log);
    process.stdout.write(`${renderReport(result)}\n`);
    if (config.out !== null) log(`wrote ${config.out}`);
  } finally {
    disposeEngines(); // the native engines' threads and sessions
  }
}

runIfMain(import.meta.url, main);
