/**
 * `npm run bench:soak`: long `model.fit` runs that check nothing accumulates. For each optimizer
 * (muon, adamw, dion) and each Newton–Schulz engine it can use (muon: tfjs, workers, onnxruntime where
 * installed; adamw and dion run no Newton–Schulz, so one run each, engine `-`), a 64-128-64-10 ReLU MLP
 * on seeded random data (batch 32) is trained for `--steps` steps on the wasm backend, sampling
 * `tf.memory().numTensors`, the process's OS threads and RSS every `--sample-every` steps. The growth
 * rule (tensors and threads exactly flat after the warm-up sample, RSS slope over the second half
 * under 1 MiB per 1,000 steps) is {@link detectGrowth}'s, documented in src/bench/soak.ts.
 *
 * Output: progress lines on stderr, a Markdown table on stdout and `<out>/soak.md`, `<out>/soak.json`
 * (atomic writes). Exit code 1 when any run grows, 2 on a usage error. Models are disposed and engine
 * workers closed (`disposeEngines`) so the process exits by itself.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { version_layers } from '@tensorflow/tfjs-layers';
import '../src/node/index.js';
import { adamw, adamwParamNames, dion, disposeEngines, muon } from '../src/index.js';
import { listEngines } from '../src/engines/engine.js';
import { writeAtomic } from '../src/node/fileSystem.js';
import { parseArgs, UsageError, formatUsage, type CommandSpec } from '../src/cli/args.js';
import { formatTable } from '../src/bench/table.js';
import { detectGrowth, liveThreads, type GrowthVerdict, type SoakSample } from '../src/bench/soak.js';
import { now } from './timing.js';
import { machineDetails } from '../src/bench/machine.js';

export const soakOptimizers = ['muon', 'adamw', 'dion'] as const;
export type SoakOptimizer = (typeof soakOptimizers)[number];
export const soakEngines = ['tfjs', 'workers', 'onnxruntime'] as const;
export type SoakEngine = (typeof soakEngines)[number];

const command = {
  name: 'npm run bench:soak --',
  summary: 'Long model.fit runs per optimizer and engine; fails if tensors, threads or RSS grow.',
  flags: {
    steps: { type: 'integer', default: 10000, min: 2, description: 'Steps per run (a multiple of --sample-every).' },
    optimizers: { type: 'string', default: soakOptimizers.join(','), description: `Comma-separated, from: ${soakOptimizers.join(', ')}.` },
    engines: { type: 'string', default: soakEngines.join(','), description: `Newton–Schulz engines for muon, from: ${soakEngines.join(', ')} (unavailable ones are skipped).` },
    'sample-every': { type: 'integer', default: 500, min: 1, description: 'Steps between samples.' },
    out: { type: 'string', default: 'results/soak', valueName: 'DIR', description: 'Folder for soak.md and soak.json.' },
  },
  notes: ['Exit code 1 if any run grows (see src/bench/soak.ts for the rule).'],
} as const satisfies CommandSpec;

function pick<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const out: T[] = [];
  for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    if (!(allowed as readonly string[]).includes(part)) {
      throw new UsageError(`--${flag}: unknown '${part}' (known: ${allowed.join(', ')})`, formatUsage(command));
    }
    if (!out.includes(part as T)) out.push(part as T);
  }
  if (out.length === 0) throw new UsageError(`--${flag}: name at least one of ${allowed.join(', ')}`, formatUsage(command));
  return out;
}

export interface SoakConfig {
  readonly steps: number;
  readonly sampleEvery: number;
  readonly optimizers: readonly SoakOptimizer[];
  readonly engines: readonly SoakEngine[];
}

export interface SoakRun {
  readonly optimizer: SoakOptimizer;
  /** `-` for optimizers without Newton–Schulz. */
  readonly engine: SoakEngine | '-';
  readonly samples: SoakSample[];
  readonly verdict: GrowthVerdict;
  readonly msPerStep: number;
}

/** Parses the command line; 'help' for --help. Throws UsageError. */
export function parseSoakArgs(argv: readonly string[]): SoakConfig & { out: string } | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  if (f.steps % f['sample-every'] !== 0 || f.steps / f['sample-every'] < 2) {
    throw new UsageError(`--steps: ${f.steps} must be at least 2 × --sample-every (${f['sample-every']}) and a multiple of it`, formatUsage(command));
  }
  return {
    steps: f.steps,
    sampleEvery: f['sample-every'],
    optimizers: pick('optimizers', f.optimizers, soakOptimizers),
    engines: pick('engines', f.engines, soakEngines),
    out: f.out,
  };
}

function buildModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [64], units: 128, activation: 'relu' }));
  model.add(tfl.layers.dense({ units: 64, activation: 'relu' }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

function makeOptimizer(name: SoakOptimizer, engine: SoakEngine | '-', model: tfl.LayersModel): tf.Optimizer {
  const exclude = adamwParamNames(model);
  if (name === 'adamw') return adamw({ learningRate: 1e-3 });
  if (name === 'dion') return dion({ learningRate: 0.01, exclude });
  return muon({ learningRate: 0.02, exclude, engine: engine === '-' ? 'tfjs' : engine });
}

/** The (optimizer, engine) pairs to run: engines only for muon, and only those available. */
export function soakPairs(config: Pick<SoakConfig, 'optimizers' | 'engines'>): { optimizer: SoakOptimizer; engine: SoakEngine | '-'; skipped?: string }[] {
  const available = new Map(listEngines().map((e) => [e.name, e]));
  const pairs: { optimizer: SoakOptimizer; engine: SoakEngine | '-'; skipped?: string }[] = [];
  for (const optimizer of config.optimizers) {
    if (optimizer !== 'muon') {
      pairs.push({ optimizer, engine: '-' });
      continue;
    }
    for (const engine of config.engines) {
      const e = available.get(engine);
      if (e && !e.available) pairs.push({ optimizer, engine, skipped: e.reason ?? 'unavailable' });
      else pairs.push({ optimizer, engine });
    }
  }
  return pairs;
}

/** One soak run: trains, samples every `sampleEvery` steps, disposes model and optimizer. */
export async function soakOne(
  optimizer: SoakOptimizer,
  engine: SoakEngine | '-',
  config: Pick<SoakConfig, 'steps' | 'sampleEvery'>,
  progress: (line: string) => void = () => {},
): Promise<SoakRun> {
  const batch = 32;
  const rows = batch * config.sampleEvery;
  const x = tf.randomNormal([rows, 64], 0, 1, 'float32', 1);
  const labels = tf.randomUniform([rows], 0, 10, 'int32', 2);
  const y = tf.oneHot(labels, 10);
  tf.dispose(labels);
  const model = buildModel();
  const opt = makeOptimizer(optimizer, engine, model);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  const samples: SoakSample[] = [];
  const start = now();
  try {
    for (let step = config.sampleEvery; step <= config.steps; step += config.sampleEvery) {
      const h = await model.fit(x, y, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 });
      const loss = h.history['loss']?.[0];
      const s: SoakSample = { step, numTensors: tf.memory().numTensors, threads: liveThreads(), rssBytes: process.memoryUsage().rss };
      samples.push(s);
      progress(
        `${optimizer}/${engine} step ${step}/${config.steps}: tensors ${s.numTensors}, threads ${s.threads}, RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, loss ${Number(loss).toFixed(4)}`,
      );
    }
  } finally {
    model.dispose();
    opt.dispose();
    tf.dispose([x, y]);
  }
  const msPerStep = (now() - start) / config.steps;
  return { optimizer, engine, samples, verdict: detectGrowth(samples), msPerStep };
}

/** The Markdown table of a soak's runs. */
export function soakTable(runs: readonly SoakRun[]): string {
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  return formatTable(
    [
      { header: 'optimizer' }, { header: 'engine' }, { header: 'steps', align: 'right' }, { header: 'ms/step', align: 'right' },
      { header: 'tensors (first → last)', align: 'right' }, { header: 'threads (first → last)', align: 'right' },
      { header: 'RSS MiB (first → last)', align: 'right' }, { header: 'RSS slope, 2nd half (MiB/1k steps)', align: 'right' }, { header: 'verdict' },
    ],
    runs.map((r) => {
      const a = r.samples[0]!;
      const b = r.samples[r.samples.length - 1]!;
      return [
        r.optimizer, r.engine, String(b.step), r.msPerStep.toFixed(2),
        `${a.numTensors} → ${b.numTensors}`, `${a.threads} → ${b.threads}`, `${mib(a.rssBytes)} → ${mib(b.rssBytes)}`,
        (r.verdict.rssSlopePer1000 / 2 ** 20).toFixed(3), r.verdict.grows ? `GROWS: ${r.verdict.reasons.join('; ')}` : 'flat',
      ];
    }),
  );
}

async function main(): Promise<void> {
  let config: ReturnType<typeof parseSoakArgs>;
  try {
    config = parseSoakArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${e.usage}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  if (config === 'help') {
    process.stdout.write(`${formatUsage(command, { notes: true })}\n`);
    return;
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('bench:soak: could not initialise the wasm backend');
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  const runs: SoakRun[] = [];
  const skipped: string[] = [];
  try {
    for (const p of soakPairs(config)) {
      if (p.skipped !== undefined) {
        skipped.push(`${p.optimizer}/${p.engine}: ${p.skipped}`);
        process.stderr.write(`skip ${p.optimizer}/${p.engine}: ${p.skipped}\n`);
        continue;
      }
      runs.push(await soakOne(p.optimizer, p.engine, config, (l) => process.stderr.write(`${l}\n`)));
    }
  } finally {
    disposeEngines();
  }
  const m = machine;
  const md = [
    '# bench:soak — model.fit, 64-128-64-10 MLP, wasm',
    '',
    `${m.cpuModel}, ${m.availableParallelism} cores, Node ${m.node}, tfjs ${m.tfjsCore} (wasm ${m.tfjsBackendWasm ?? '?'}, layers ${m.tfjsLayers ?? '?'}); ` +
      `${config.steps} steps, sample every ${config.sampleEvery}. Rule: tensors and threads exactly flat after the first sample, RSS slope over the second half < 1 MiB per 1,000 steps.`,
    '',
    soakTable(runs),
    ...(skipped.length > 0 ? ['', `Skipped: ${skipped.join('; ')}`] : []),
    '',
  ].join('\n');
  process.stdout.write(md);
  const out = resolve(config.out);
  mkdirSync(out, { recursive: true });
  await writeAtomic(resolve(out, 'soak.json'), `${JSON.stringify({ machine, config, runs, skipped }, null, 2)}\n`);
  await writeAtomic(resolve(out, 'soak.md'), md);
  if (runs.some((r) => r.verdict.grows)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
