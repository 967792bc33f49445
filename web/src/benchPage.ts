/**
 * The browser benchmark page (web/bench.html; `npm run bench:browser` drives it in headless Chromium,
 * `npm run web` serves it at /bench.html for a person). On one backend it times, interleaved in the same
 * rounds (bench/timing.ts `measureRounds`, median of the repeats):
 * - `newtonSchulz` (Muon's default: Jordan's quintic, 5 steps) on an n×n Gaussian matrix, beside one
 *   plain n×n·n×n `tf.matMul` — a square step is three n³ products (X·Xᵀ, A·A, B·X), so the ratio
 *   NS ÷ (15 × matMul) is 1 when Newton–Schulz runs at the backend's matMul rate;
 * - one `muon` step (createOptimizer, as the runner sets it up: the output layer to the auxiliary AdamW)
 *   on the fashion-mnist-mlp's parameters (784-512-512-10, fixed random gradients), beside the matMul
 *   rate measured on its largest Gram product (512×784·784×512): the ratio is the step's time over the
 *   time its Newton–Schulz products would take at that rate.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, newtonSchulz } from '../../src/index.js';
import { measureRounds, repeatsFor, sync } from '../../bench/timing.js';
import { startBackend } from './backend.js';
import type { BackendBench, BenchOptions, MuonRow, NsRow } from './benchTypes.js';
import type { BackendName } from './settings.js';

/** The fashion-mnist-mlp's widths (src/bench/tasks/mlp.ts). */
export const fashionLayers = [784, 512, 512, 10] as const;

export type { BackendBench, BenchOptions, MuonRow, NsRow } from './benchTypes.js';

/** Flops of `steps` quintic Newton–Schulz steps on an m×n matrix (oriented so m ≤ n): 4m²n + 2m³ each. */
export function nsFlops(rows: number, cols: number, steps: number): number {
  const m = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  return steps * (4 * m * m * n + 2 * m * m * m);
}

async function timed(fn: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const t0 = performance.now();
  const out = fn();
  await sync(out);
  const ms = performance.now() - t0;
  tf.dispose(out);
  return ms;
}

async function benchNs(n: number, budgetMs: number): Promise<NsRow> {
  const x = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  try {
    const steps = 5;
    const m = await measureRounds(async () => ({
      ns: await timed(() => newtonSchulz(x, { coefficients: 'jordan', steps })),
      matMul: await timed(() => tf.matMul(x, x)),
    }), { warmup: 1, repeats: (warm) => repeatsFor(budgetMs, warm, 3, 20) });
    const flops = nsFlops(n, n, steps);
    return {
      n,
      steps,
      ns: m.stats.ns,
      matMul: m.stats.matMul,
      nsGflops: flops / m.stats.ns.median / 1e6,
      matMulGflops: (2 * n * n * n) / m.stats.matMul.median / 1e6,
      ratio: m.stats.ns.median / (15 * m.stats.matMul.median),
    };
  } finally {
    x.dispose();
  }
}

async function benchMuon(budgetMs: number): Promise<MuonRow> {
  const names: string[] = [];
  const shapes: number[][] = [];
  for (let l = 1; l < fashionLayers.length; l++) {
    const layer = l === fashionLayers.length - 1 ? 'logits' : `hidden${l}`;
    names.push(`${layer}/kernel`, `${layer}/bias`);
    shapes.push([fashionLayers[l - 1], fashionLayers[l]], [fashionLayers[l]]);
  }
  const grads = shapes.map((s, i) => tf.randomNormal(s, 0, 0.01, 'float32', 10 + i));
  const make = (tag: string) => shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1 / Math.sqrt(s[0]), 'float32', 100 + i), true, `bench/${tag}/${names[i]}`));
  const muonVars = make('muon');
  const adamwVars = make('adamw');
  const muon = createOptimizer('muon', { learningRate: 0.02, adamwLearningRate: 1e-3, exclude: [/^bench\/muon\/logits\/kernel$/] });
  const adamw = createOptimizer('adamw', { learningRate: 1e-3 });
  const a = tf.randomNormal([512, 784], 0, 1, 'float32', 3);
  const b = tf.randomNormal([784, 512], 0, 1, 'float32', 4);
  const step = async (opt: tf.Optimizer, vars: tf.Variable[]): Promise<number> => {
    const t0 = performance.now();
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    await sync(vars[vars.length - 2]);
    return performance.now() - t0;
  };
  try {
    await step(muon, muonVars);
    await step(adamw, adamwVars);
    const before = tf.memory().numTensors;
    const m = await measureRounds(async () => ({
      muon: await step(muon, muonVars),
      adamw: await step(adamw, adamwVars),
      matMul: await timed(() => tf.matMul(a, b)),
    }), { warmup: 1, repeats: (warm) => repeatsFor(budgetMs, warm, 3, 20) });
    const leakedTensors = tf.memory().numTensors - before;
    const flops = shapes.filter((s, i) => s.length === 2 && !names[i].startsWith('logits')).reduce((sum, s) => sum + nsFlops(s[0], s[1], 5), 0);
    const matMulGflops = (2 * 512 * 784 * 512) / m.stats.matMul.median / 1e6;
    return {
      layers: [...fashionLayers],
      muonStep: m.stats.muon,
      adamwStep: m.stats.adamw,
      nsFlops: flops,
      matMul: m.stats.matMul,
      matMulGflops,
      ratio: m.stats.muon.median / (flops / (matMulGflops * 1e6)),
      leakedTensors,
    };
  } finally {
    muon.dispose();
    adamw.dispose();
    tf.dispose([...grads, ...muonVars, ...adamwVars, a, b]);
  }
}

/** Runs the benchmark on `backend` (starting it; the result says which one ran). */
export async function runBench(backend: BackendName, options: BenchOptions): Promise<BackendBench> {
  const t0 = performance.now();
  const status = await startBackend(backend);
  if (status.running !== backend) throw new Error(`bench: backend ${backend} did not start (${status.note})`);
  const ns: NsRow[] = [];
  for (const n of options.sizes) ns.push(await benchNs(n, options.budgetMs));
  const muon = options.muon ? await benchMuon(options.budgetMs) : null;
  return { backend: status, ns, muon, wallMs: performance.now() - t0 };
}

const out = document.getElementById('out');
const runButton = document.getElementById('run') as HTMLButtonElement | null;
runButton?.addEventListener('click', () => {
  void (async () => {
    runButton.disabled = true;
    const backend = (document.getElementById('backend') as HTMLSelectElement).value as BackendName;
    if (out !== null) out.textContent = `running on ${backend}…`;
    try {
      const r = await runBench(backend, { sizes: [256, 1024], budgetMs: 3000, muon: true });
      if (out !== null) out.textContent = JSON.stringify(r, (k, v: unknown) => (k === 'samples' ? undefined : v), 2);
    } catch (e) {
      if (out !== null) out.textContent = String(e);
    } finally {
      runButton.disabled = false;
    }
  })();
});

(globalThis as unknown as { orthoptimBench: { ready: boolean; run: typeof runBench } }).orthoptimBench = { ready: true, run: runBench };
