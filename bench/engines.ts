/**
 * `npm run bench:engines` — how fast Newton–Schulz runs through each engine (`tfjs` on tfjs-wasm,
 * `workers`, `onnxruntime`; `src/engines/`), measured against this machine's own matmul limit.
 *
 * Section 1 (the limit): the best plain float32 matmul rate any engine reaches on a 2048×2048 product,
 * in this run — tfjs-wasm `tf.matMul` (one thread; every right operand a tensor not multiplied before,
 * because tfjs-wasm caches XNNPACK's packed right operand per tensor), a one-`MatMul` ONNX graph on
 * onnxruntime-node (intra-op threads = available cores, with and without spinning threads), and worker
 * threads each running tfjs-wasm on its share of the columns of the right operand (wall time of the
 * slowest). The best median rate is "the limit"; `flops / limit` is the time a computation would take at
 * it. The best rate of the fastest single product (from the minimum time) is reported too ("peak"): on a
 * shared machine other tenants take a core now and then, which halves a 2-thread product.
 *
 * Section 2 (NS per engine): `newtonSchulz(x, {engine})` (Jordan, 5 steps, Frobenius normalization) per
 * shape and engine — median warm time (copies off and onto the backend included for the native engines;
 * every call on a fresh copy of the input), the first call reported apart (thread start-up, wasm
 * initialisation, session creation), GFLOP/s with flops = 5·(4k²n + 2k³) (spec §13.1), and
 * "× of the limit" = median time ÷ (flops / limit), checked against the targets on 1024×1024 and
 * 1024×4096 (issue 16 point 4, `nsTargets` in `engines/settings.ts`: onnxruntime with form 'auto' ≤ ×0.75 at
 * 1024×4096 and ≤ ×1.0 at 1024², Turbo-Muon's iteration — 4 steps, AOL — on onnxruntime ≤ ×0.6 at
 * 1024×4096, workers ≤ ×5 at 1024²; every row against the 5-step Jordan flop count), and the least
 * disturbed figure min time ÷ (flops / peak). Each engine's output is compared with the tfjs engine's
 * (max|Δ| / max|ref|). `--targets-only` runs the limit and just the target rows (about 1–2 minutes).
 *
 * Section 3 (Gram NS): `form: 'gram'` against the standard form on the tfjs engine — time, flops of each
 * form (as implemented, and the spec's §13.1 formulas 20k²n + 10k³ and 8k²n + 32k³), and how far the
 * outputs are apart.
 *
 * Section 4 (optimizer step): ms per `optimizer.applyGradients` (fixed gradients) of `muon({engine})` and
 * `turboMuon({engine})` for each engine beside `adamw()`, on an MLP with four 1024×1024 hidden kernels.
 *
 * Prints markdown tables to stdout (progress to stderr), writes JSON (default
 * `results/bench-engines.json`). `bench/ns.ts` runs the same sections (`--no-engines` skips them).
 * Timings are measured here and never asserted in tests.
 *
 * Files, one concern each: `engines/settings.ts` (settings, defaults, result shapes), `engines/common.ts`
 * (flops, availability, targets), `engines/limit.ts` (section 1, its worker `engines/limit.worker.cjs`),
 * `engines/ns.ts`, `engines/gram.ts`, `engines/step.ts` (sections 2–4), `engines/render.ts` (Markdown);
 * this file runs the sections and parses the command line.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { writeAtomic } from '../src/node/fileSystem.js';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { version_layers } from '@tensorflow/tfjs-layers';
import '../src/engines/node.js';
import { disposeEngines, listEngines, type EngineName } from '../src/index.js';
import { now } from './timing.js';
import { machineDetails } from '../src/bench/machine.js';
import { shapesFlag } from './timing.js';
import { commandLine, parseArgs, usageError, type CommandSpec } from '../src/cli/args.js';
import { type EngineNsResult, type EngineSectionsConfig, type EngineSectionsResult, type EnginesBenchConfig, type EnginesBenchResult, type GramResult, type LimitResult, type StepResult, allEngines, defaultEnginesConfig, fullEngineSections, matmulRates } from './engines/settings.js';
import { targetChecks } from './engines/common.js';
import { probeLike, runLimitSection, type MatmulProbe } from './engines/limit.js';
import { runEngineNsSection } from './engines/ns.js';
import { runGramSection } from './engines/gram.js';
import { runEngineStepSection } from './engines/step.js';
import { renderEnginesReport } from './engines/render.js';
import { runIfMain } from '../src/bench/script.js';

/** Runs the engine sections on the active backend (the callers select wasm). */
export async function runEngineSections(
  config: EngineSectionsConfig,
  log: (msg: string) => void = () => {},
): Promise<EngineSectionsResult> {
  const start = now();
  const loadStart = os.loadavg();
  const available = listEngines();
  for (const e of available) if (!e.available) log(`  engine ${e.name} unavailable: ${e.reason ?? ''}`);
  let limit: LimitResult | null = null;
  if (config.limit !== null) {
    log(`limit: ${config.limit.size}×${config.limit.size} float32 matmul per engine`);
    limit = await runLimitSection(config.limit, config.limit.engines ?? config.engines, log);
  }
  const rates = matmulRates(limit);
  let ns: EngineNsResult | null = null;
  if (config.ns !== null) {
    log('Newton–Schulz per engine:');
    const best = limit?.rows.find((r) => r.gflops === limit.best?.gflops);
    let probe: MatmulProbe | undefined;
    if (config.ns.limitInRounds === true && best !== undefined && config.limit !== null) probe = await probeLike(config.limit, best);
    try {
      ns = await runEngineNsSection(config.ns, config.engines, rates, log, probe);
    } finally {
      await probe?.close();
    }
  }
  let gram: GramResult | null = null;
  if (config.gram !== null) {
    log('Gram Newton–Schulz vs standard (tfjs engine):');
    gram = await runGramSection(config.gram, log);
  }
  let step: StepResult | null = null;
  if (config.step !== null) {
    log(`optimizer step per engine: MLP ${config.step.layers.join('→')}`);
    step = await runEngineStepSection(config.step, config.engines, rates.limit, log);
  }
  const targets = targetChecks(ns);
  return {
    config,
    backend: tf.getBackend(),
    available,
    loadAverage: { start: loadStart, end: os.loadavg() },
    limit,
    ns,
    gram,
    step,
    targets,
    wallMs: now() - start,
  };
}

/** Selects the wasm backend, runs the sections, writes the JSON (when `config.out` is set). */
export async function runEnginesBenchmark(config: EnginesBenchConfig, log: (msg: string) => void = () => {}): Promise<EnginesBenchResult> {
  const start = now();
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('bench:engines: could not initialise the wasm backend');
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  log(`engines on ${machine.backend} (${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}), load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const engines = await runEngineSections(config.sections, log);
  const result: EnginesBenchResult = { schema: 'orthoptim/bench-engines@1', machine, quick: config.quick, engines, wallMs: now() - start };
  if (config.out !== null) {
    mkdirSync(dirname(config.out), { recursive: true });
    await writeAtomic(config.out, `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}

/** The flags of `bench:engines`, parsed by src/cli/args.ts. */
export const enginesCommand = {
  name: 'npm run bench:engines --',
  summary: "Newton–Schulz per engine (tfjs, workers, onnxruntime) against this machine's matmul limit, Gram vs standard NS, a muon step per engine.",
  flags: {
    quick: { type: 'boolean', description: 'Smoke run: small shapes, few repeats, a small MLP.' },
    'targets-only': {
      type: 'boolean',
      description: "Only issue 16's target rows (onnxruntime and Turbo-Muon at 1024×4096, onnxruntime and workers at 1024²) after the limit; ~1–2 min.",
    },
    engines: { type: 'list', choices: allEngines, valueName: 'LIST', description: `Engines to measure, e.g. tfjs,onnxruntime (default: ${allEngines.join(',')}).` },
    shapes: { type: 'string', valueName: 'RxC,...', description: `Newton–Schulz shapes (default: ${fullEngineSections.ns!.shapes.map((s) => s.join('x')).join(',')}).` },
    'gram-shapes': { type: 'string', valueName: 'RxC,...', description: `Gram-vs-standard shapes (default: ${fullEngineSections.gram!.shapes.map((s) => s.join('x')).join(',')}).` },
    'limit-size': { type: 'integer', min: 1, description: `Side of the square matmul that measures the limit (default ${fullEngineSections.limit!.size}).` },
    'limit-engines': {
      type: 'list',
      choices: allEngines,
      valueName: 'LIST',
      description: 'Engines whose plain matmul measures the limit (default: --engines), e.g. --engines tfjs,workers --limit-engines tfjs,workers,onnxruntime.',
    },
    'workers-profile': { type: 'integer', min: 0, description: "N profiled calls per shape: where the workers engine's time goes (default 0)." },
    'no-limit': { type: 'boolean', description: 'Skip the limit (× of the limit is then not computed).' },
    'no-ns': { type: 'boolean', description: 'Skip the Newton–Schulz-per-engine section.' },
    'no-gram': { type: 'boolean', description: 'Skip the Gram section.' },
    'no-step': { type: 'boolean', description: 'Skip the optimizer-step section.' },
    out: { type: 'string', valueName: 'PATH', description: 'JSON output (default results/bench-engines.json).' },
  },
} as const satisfies CommandSpec;

/**
 * Parses the command line (flags as `--flag value` or `--flag=value`); throws a UsageError naming the
 * flag. Engine lists come back in table order ({@link allEngines}).
 */
export function parseEnginesArgs(argv: readonly string[], cwd = process.cwd()): EnginesBenchConfig | 'help' {
  const parsed = parseArgs(argv, enginesCommand);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const inTableOrder = (list: readonly string[]): EngineName[] => allEngines.filter((e) => list.includes(e));
  const shapes = shapesFlag(enginesCommand, 'shapes', f.shapes);
  const gramShapes = shapesFlag(enginesCommand, 'gram-shapes', f['gram-shapes']);
  if (f.out === '') throw usageError(enginesCommand, '--out needs a path');
  const base = defaultEnginesConfig(f.quick, f['targets-only']);
  const b = base.sections;
  const sections: EngineSectionsConfig = {
    engines: f.engines === undefined ? b.engines : inTableOrder(f.engines),
    limit: f['no-limit'] || b.limit === null ? null : {
      ...b.limit,
      size: f['limit-size'] ?? b.limit.size,
      ...(f['limit-engines'] === undefined ? {} : { engines: inTableOrder(f['limit-engines']) }),
    },
    ns: f['no-ns'] || b.ns === null ? null : {
      ...b.ns,
      shapes: shapes ?? b.ns.shapes,
      ...(f['workers-profile'] === undefined ? {} : { workersProfile: f['workers-profile'] }),
    },
    gram: f['no-gram'] || b.gram === null ? null : { ...b.gram, shapes: gramShapes ?? b.gram.shapes },
    step: f['no-step'] ? null : b.step,
  };
  return { ...base, out: f.out === undefined ? base.out : resolve(cwd, f.out), sections };
}

async function main(): Promise<void> {
  const config = commandLine(enginesCommand, process.argv.slice(2), (argv) => parseEnginesArgs(argv));
  if (config === null) return;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  try {
    const result = await runEnginesBenchmark(config, log);
    process.stdout.write(`${renderEnginesReport(result)}\n`);
    if (config.out !== null) log(`wrote ${config.out}`);
  } finally {
    disposeEngines();
  }
}

runIfMain(import.meta.url, main);
