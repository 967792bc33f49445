/**
 * `npm run bench:quick` / `bench:claims` / `bench:full`: the comparisons behind CLAIMS.md, then the report.
 *
 * Runs, per profile (see {@link profiles}): Newton–Schulz / Turbo / AuON time vs size, the deep-tanh-init
 * experiment, and optimizer comparisons on function-regression, fashion-mnist-mlp, shakespeare-char and
 * cifar10-cnn; then the issue-14 measurements (`iwrm`: UPGrad's per-example Jacobian descent vs the mean
 * loss, src/bench/experiments/iwrm.ts; `bloop-pareto`: Bloop vs surgery without an EMA over λ,
 * experiments/bloopPareto.ts; `adapters`: the bench:adapters table, bench/adapters.ts). Everything goes to `--out` (one folder per comparison, resumable: run the same command
 * again after an interruption and finished parts are kept); then `writeReport` makes the Markdown/HTML
 * report with plots there, and the claims are evaluated into `CLAIMS.md` in the results folder (and at
 * `--claims FILE`, which `bench:claims` points at the repository's CLAIMS.md). Every comparison in the
 * folder is read, also ones added with `orthoptim bench --out <folder>`.
 *
 * Flags: `--profile quick|claims|full` (default quick), `--out DIR` (default results/<profile>),
 * `--claims FILE`, `--fresh` (start over), `--only a,b` (run only these parts: ns, deep-tanh, projection,
 * subspace-memory, iwrm, bloop-pareto, adapters, or
 * comparison names — a task's, or a study's `<study>-<task>`), `--claim a,b` (only these claims: run the
 * parts they read and merge their rows into `--claims FILE`, every other row kept as it is there).
 *
 * A study is a comparison made for one claim on a task that already has its main comparison (DoG vs
 * tuned SGD on fashion-mnist-mlp beside Muon vs AdamW there): its own folder `<study>-<task>`, its own
 * optimizers, kept out of the steps-to-target table (which is about the main comparisons' AdamW target).
 * @module
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { writeAtomic } from '../src/node/fileSystem.js';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { runComparison, useBackend, type OptimizerSpec } from '../src/bench/runner.js';
import { machineInfo } from '../src/bench/machine.js';
import { runNsTiming } from '../src/bench/nsTiming.js';
import { runDeepTanh, type DeepTanhSummary } from '../src/bench/experiments/deepTanh.js';
import { runProjection, type ProjectionSummary } from '../src/bench/experiments/projection.js';
import { runIwrm, type IwrmOptions, type IwrmSummary } from '../src/bench/experiments/iwrm.js';
import { runBloopPareto, type BloopParetoOptions, type BloopParetoSummary } from '../src/bench/experiments/bloopPareto.js';
import { accelerateWasm } from '../src/tfjs/wasmMatMul.js';
import { adapterDefaults, runAdapters } from './adapters.js';
import { measureMemory } from '../src/bench/memory.js';
import { getTask } from '../src/bench/tasks/index.js';
import {
  claimParts,
  evaluateClaims,
  mergeClaims,
  renderClaims,
  studyKey,
  type AdapterTable,
  type ClaimsFile,
  type StateBytesSummary,
} from '../src/bench/claims.js';
import { comparisonTable } from '../src/bench/table.js';
import type { ComparisonSummary, NsTimingSummary } from '../src/bench/results.js';
import { ProgressBar, formatDuration } from '../src/bench/progress.js';
import { writeReport } from '../src/report/index.js';
import type { EngineChoice } from '../src/engines/engine.js';
import '../src/engines/node.js';
import { commandLine, parseArgs, usageError, type CommandSpec } from '../src/cli/args.js';

interface ComparisonPlan {
  /** A study's name (its folder is `<study>-<task>`); none for the task's main comparison (folder `<task>`). */
  study?: string;
  task: string;
  optimizers: OptimizerSpec[];
  steps: number;
  batch?: number;
  seeds: number;
  evalEvery?: number;
  sweep?: { points?: number; factors?: number[]; steps?: number };
}

interface Profile {
  name: string;
  /** What it is for, and how long it takes here. */
  about: string;
  ns: { sizes: number[]; repeats: number };
  deepTanh: 'quick' | 'full';
  comparisons: ComparisonPlan[];
  /** UPGrad's IWRM vs the average loss (part `iwrm`). */
  iwrm: Pick<IwrmOptions, 'epochs' | 'seeds' | 'lrs'>;
  /** Bloop's Pareto front vs surgery without an EMA (part `bloop-pareto`). */
  bloopPareto: Pick<BloopParetoOptions, 'steps' | 'seeds' | 'lambdas' | 'methods'>;
  /** The adapter table (part `adapters`): seeds and fine-tuning epochs of bench/adapters.ts. */
  adapters: { seeds: number; finetuneEpochs: number };
}

const names = (...xs: string[]): OptimizerSpec[] => xs.map((name) => ({ name }));

/** A plan's results folder below `--out`, and its name in `--only` and in the claims' inputs. */
const planKey = (plan: ComparisonPlan): string => (plan.study === undefined ? plan.task : studyKey(plan.study, plan.task));

/**
 * The DoG study: DoG and L-DoG untuned (c = 1, the authors' advice), also with the polynomial-decay
 * average (γ = 8) they recommend, against heavy-ball SGD (momentum 0.9) and Adam with swept rates.
 */
const dogStudy: OptimizerSpec[] = [
  { name: 'dog', tune: false },
  { name: 'averaged', label: 'dog-avg', options: { inner: 'dog' }, tune: false },
  { name: 'ldog', tune: false },
  { name: 'averaged', label: 'ldog-avg', options: { inner: 'ldog' }, tune: false },
  { name: 'sgd' },
  { name: 'adam' },
];

/**
 * The schedule-free study: schedule-free AdamW at a constant rate against AdamW with cosine decay over
 * the run and AdamW at a constant rate (does the schedule matter here at all?), every rate swept, all
 * at weight decay 0.01 (AdamW's default).
 */
const scheduleFreeStudy: OptimizerSpec[] = [
  { name: 'scheduleFreeAdamw', options: { weightDecay: 0.01 } },
  { name: 'adamw', label: 'adamw-cosine', schedule: 'cosine' },
  { name: 'adamw' },
];

/**
 * The ALR-SMAG study: one entry per momentum β, ALR-SMAG at its default cap γ_max = 0.1 and heavy-ball
 * SGD (d ← βd + g, the same un-normalized sum) at the task's SGD rate, neither tuned: how much does
 * the final loss move with β alone?
 */
const alrSmagStudy: OptimizerSpec[] = [0, 0.5, 0.9, 0.95].flatMap((beta): OptimizerSpec[] => [
  { name: 'alrSmag', label: `alrSmag-b${beta}`, options: { momentum: beta }, tune: false },
  { name: 'sgd', label: `sgd-b${beta}`, options: { momentum: beta }, tune: false },
]);

/**
 * The PSGD study (issue 13): PSGD Kron at its defaults, untuned, against Adam with swept rates. PSGD's
 * step costs about 12× AdamW's on the MLP here, so this study runs short (see the claims profile).
 */
const psgdStudy: OptimizerSpec[] = [{ name: 'psgdKron', tune: false }, { name: 'adam' }];

/**
 * The subspace study (issue 13): GaLore and Online Subspace Descent at the same rank (⌈n/4⌉ of each
 * hidden matrix's smaller side) and the same projector gap — so the same optimizer state — against
 * full-rank AdamW; every rate swept.
 */
const subspaceOptions = { rankFraction: 0.25, updateGap: 50 };
const subspaceStudy: OptimizerSpec[] = [
  { name: 'galore', options: subspaceOptions },
  { name: 'onlineSubspaceDescent', options: subspaceOptions },
  { name: 'adamw' },
];

/** The sweep of the studies' tuned baselines: 5 points, ×1/9 … ×9 around the default rate. */
const wideFactors = [1 / 9, 1 / 3, 1, 3, 9];

/** The runs of each profile. */
export const profiles: Record<string, Profile> = {
  quick: {
    name: 'quick',
    about: 'every claim once, one seed, short runs, fixed learning rates: under 10 minutes on a 2-core CPU',
    ns: { sizes: [128, 256, 512], repeats: 2 },
    deepTanh: 'quick',
    comparisons: [
      { task: 'function-regression', optimizers: names('adaGO', 'muon', 'adam', 'adamw'), steps: 300, seeds: 1 },
      { task: 'fashion-mnist-mlp', optimizers: names('muon', 'adamw', 'norMuon', 'turboMuon', 'auon'), steps: 150, seeds: 1, evalEvery: 50 },
      { task: 'shakespeare-char-small', optimizers: names('muon', 'adamw', 'norMuon'), steps: 150, seeds: 1, evalEvery: 50 },
      { task: 'cifar10-cnn', optimizers: names('adaGO', 'muon', 'adam'), steps: 120, seeds: 1, evalEvery: 40 },
      { study: 'dog', task: 'fashion-mnist-mlp', optimizers: dogStudy, steps: 150, seeds: 1, evalEvery: 50 },
      { study: 'schedule-free', task: 'fashion-mnist-mlp', optimizers: scheduleFreeStudy, steps: 150, seeds: 1, evalEvery: 50 },
      { study: 'alr-smag', task: 'fashion-mnist-mlp', optimizers: alrSmagStudy, steps: 150, seeds: 1, evalEvery: 50 },
    ],
    iwrm: { epochs: 2, seeds: 1, lrs: [0.1] },
    bloopPareto: { steps: 100, seeds: 1, lambdas: [0.3, 1], methods: ['bloop', 'bloop-no-ema'] },
    adapters: { seeds: 1, finetuneEpochs: 2 },
  },
  claims: {
    name: 'claims',
    about: 'the committed CLAIMS.md: 2 seeds, learning rates swept over ×1/3, ×1, ×3, longer runs (about 40 minutes here)',
    ns: { sizes: [128, 256, 512, 1024], repeats: 3 },
    deepTanh: 'quick',
    comparisons: [
      { task: 'function-regression', optimizers: names('adaGO', 'muon', 'adam', 'adamw'), steps: 600, seeds: 2, sweep: { factors: [1 / 3, 1, 3], steps: 150 } },
      { task: 'fashion-mnist-mlp', optimizers: names('muon', 'adamw', 'norMuon', 'turboMuon', 'auon'), steps: 400, seeds: 2, sweep: { factors: [1 / 3, 1, 3], steps: 100 } },
      { task: 'shakespeare-char-small', optimizers: names('muon', 'adamw', 'norMuon', 'turboMuon'), steps: 400, seeds: 2, sweep: { factors: [1 / 3, 1, 3], steps: 100 } },
      { task: 'cifar10-cnn', optimizers: names('adaGO', 'muon', 'adam'), steps: 300, seeds: 2, sweep: { factors: [1 / 3, 1, 3], steps: 75 } },
      { study: 'dog', task: 'fashion-mnist-mlp', optimizers: dogStudy, steps: 400, seeds: 2, sweep: { factors: wideFactors, steps: 100 } },
      { study: 'dog', task: 'cifar10-cnn', optimizers: dogStudy, steps: 300, seeds: 2, sweep: { factors: wideFactors, steps: 75 } },
      { study: 'schedule-free', task: 'fashion-mnist-mlp', optimizers: scheduleFreeStudy, steps: 400, seeds: 2, sweep: { factors: wideFactors, steps: 100 } },
      { study: 'schedule-free', task: 'shakespeare-char-small', optimizers: scheduleFreeStudy, steps: 400, seeds: 2, sweep: { factors: wideFactors, steps: 100 } },
      { study: 'alr-smag', task: 'fashion-mnist-mlp', optimizers: alrSmagStudy, steps: 400, seeds: 2 },
      { study: 'alr-smag', task: 'cifar10-cnn', optimizers: alrSmagStudy, steps: 300, seeds: 1 },
      // PSGD's step is ~5–12× Adam's on the MLP (1.0 s vs 0.19 s on the loaded 2-core machine): short runs, so the claims run fits in minutes here.
      { study: 'psgd', task: 'fashion-mnist-mlp', optimizers: psgdStudy, steps: 200, seeds: 2, evalEvery: 50, sweep: { factors: [1 / 3, 1, 3], steps: 50 } },
      { study: 'psgd', task: 'cifar10-cnn', optimizers: psgdStudy, steps: 150, seeds: 2, evalEvery: 50, sweep: { factors: [1 / 3, 1, 3], steps: 40 } },
      { study: 'subspace', task: 'shakespeare-char-small', optimizers: subspaceStudy, steps: 300, seeds: 2, sweep: { factors: [1 / 3, 1, 3], steps: 75 } },
    ],
    // Each of these three parts is sized to run in under 10 minutes here.
    iwrm: { epochs: 5, seeds: 3, lrs: [0.03, 0.1, 0.3] },
    bloopPareto: { steps: 200, seeds: 2, lambdas: [0.1, 0.3, 1, 3] },
    adapters: { seeds: 5, finetuneEpochs: 3 },
  },
  full: {
    name: 'full',
    about: '3 seeds, 5-point sweeps, the full-size transformer, long runs (several hours here)',
    ns: { sizes: [128, 256, 512, 1024, 2048], repeats: 5 },
    deepTanh: 'full',
    comparisons: [
      { task: 'function-regression', optimizers: names('adaGO', 'muon', 'adam', 'adamw'), steps: 3000, seeds: 3, sweep: { points: 5, steps: 500 } },
      {
        task: 'fashion-mnist-mlp',
        optimizers: names('muon', 'adamw', 'norMuon', 'turboMuon', 'auon', 'adaMuon', 'adaGO', 'root', 'dion', 'scion'),
        steps: 2000,
        seeds: 3,
        sweep: { points: 5, steps: 300 },
      },
      { task: 'shakespeare-char', optimizers: names('muon', 'adamw', 'norMuon', 'turboMuon', 'adaMuon'), steps: 3000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { task: 'cifar10-cnn', optimizers: names('adaGO', 'muon', 'adam', 'adamw'), steps: 2000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'dog', task: 'fashion-mnist-mlp', optimizers: dogStudy, steps: 2000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'dog', task: 'cifar10-cnn', optimizers: dogStudy, steps: 2000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'schedule-free', task: 'fashion-mnist-mlp', optimizers: scheduleFreeStudy, steps: 2000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'schedule-free', task: 'shakespeare-char-small', optimizers: scheduleFreeStudy, steps: 3000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'alr-smag', task: 'fashion-mnist-mlp', optimizers: alrSmagStudy, steps: 2000, seeds: 3 },
      { study: 'alr-smag', task: 'cifar10-cnn', optimizers: alrSmagStudy, steps: 2000, seeds: 3 },
      { study: 'psgd', task: 'fashion-mnist-mlp', optimizers: psgdStudy, steps: 2000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'psgd', task: 'cifar10-cnn', optimizers: psgdStudy, steps: 2000, seeds: 3, sweep: { points: 5, steps: 300 } },
      { study: 'subspace', task: 'shakespeare-char-small', optimizers: subspaceStudy, steps: 3000, seeds: 3, sweep: { points: 5, steps: 300 } },
    ],
    iwrm: { epochs: 20, seeds: 3, lrs: [0.01, 0.03, 0.1, 0.3, 1] },
    bloopPareto: { steps: 2000, seeds: 3, lambdas: [1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3], methods: ['bloop', 'bloop-no-ema', 'pcgrad-no-ema', 'dynamic-barrier-no-ema', 'mixed'] },
    adapters: { seeds: 5, finetuneEpochs: 3 },
  },
};

const engineChoices: readonly EngineChoice[] = ['auto', 'tfjs', 'workers', 'onnxruntime'];

const command = {
  name: 'tsx bench/claims.ts',
  summary: 'The comparisons behind CLAIMS.md, then the report and the claims.',
  flags: {
    profile: { type: 'string', choices: Object.keys(profiles), default: 'quick', description: 'Which runs (see profiles in bench/claims.ts).' },
    out: { type: 'string', valueName: 'DIR', description: 'Results folder (default results/<profile>).' },
    claims: { type: 'string', valueName: 'FILE', description: 'Also write the evaluated claims to FILE.' },
    fresh: { type: 'boolean', description: 'Start over: delete the results folder first.' },
    only: {
      type: 'string',
      valueName: 'PARTS',
      description: 'Run only these parts, comma-separated: ns, deep-tanh, projection, subspace-memory, iwrm, bloop-pareto, adapters, or comparison names (a task, or a study\'s <study>-<task>).',
    },
    claim: {
      type: 'string',
      valueName: 'IDS',
      description: `Only these claims, comma-separated (${Object.keys(claimParts).join(', ')}): run the parts they read and merge their rows into --claims FILE, keeping its other rows.`,
    },
    engine: { type: 'string', choices: engineChoices, default: 'auto', description: 'Newton–Schulz engine of every optimizer.' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'Where the datasets are.' },
    download: { type: 'boolean', description: 'Download missing datasets.' },
  },
} as const satisfies CommandSpec;

interface Flags {
  profile: Profile;
  out: string;
  claims: string | null;
  fresh: boolean;
  only: string[] | null;
  claim: string[] | null;
  engine: EngineChoice;
  dataDir: string | undefined;
  download: boolean;
}

/** The flags (declared in {@link command}, parsed by src/cli/args.ts), or 'help'. */
function parse(argv: readonly string[]): Flags | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const unknown = f.claim?.split(',').filter((id) => !(id in claimParts)) ?? [];
  if (unknown.length > 0) throw usageError(command, `--claim: unknown claim ${unknown.join(', ')} (known: ${Object.keys(claimParts).join(', ')})`);
  if (f.claim !== undefined && f.claims === undefined) throw usageError(command, '--claim merges rows into a file: give it --claims FILE');
  const profile = profiles[f.profile];
  // `choices` checked the engine name; the find narrows the string to EngineChoice without a cast.
  const engine = engineChoices.find((e) => e === f.engine) ?? 'auto';
  const dataDir = f['data-dir'];
  // In a checkout next to the project's shared data (as in CI), use it unless told otherwise.
  const shared = resolve(import.meta.dirname, '..', '..', 'shared', 'data');
  if (dataDir === undefined && process.env.ORTHOPTIM_DATA_DIR === undefined && existsSync(shared)) process.env.ORTHOPTIM_DATA_DIR = shared;
  return {
    profile,
    out: resolve(f.out ?? `results/${profile.name}`),
    claims: f.claims ?? null,
    fresh: f.fresh,
    only: f.only === undefined ? null : f.only.split(','),
    claim: f.claim === undefined ? null : f.claim.split(','),
    engine,
    dataDir,
    download: f.download,
  };
}

function readJson<T>(path: string): T | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

async function main(): Promise<void> {
  const flags = commandLine(command, process.argv.slice(2), parse);
  if (flags === null) return;
  const { profile, out, claims, fresh, only, claim, engine, dataDir, download } = flags;
  // A part runs when --only names it (or there is no --only) and a chosen claim reads it (or none is chosen).
  const wanted = (part: string): boolean =>
    (only === null || only.includes(part)) && (claim === null || claim.some((id) => claimParts[id].includes(part)));
  tf.enableProdMode();
  await useBackend('wasm');
  if (fresh) rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  log(`bench claims, profile ${profile.name} (${profile.about}) → ${out}`);
  log(`data: ${dataDir ?? process.env.ORTHOPTIM_DATA_DIR ?? 'the default search path'}`);

  if (wanted('ns')) {
    const file = join(out, 'ns', 'summary.json');
    if (!existsSync(file)) {
      log('Newton–Schulz / Turbo / AuON time vs size');
      const ns = await runNsTiming({ sizes: profile.ns.sizes, repeats: profile.ns.repeats, engine: 'tfjs', onProgress: (m) => log(`  ${m}`) });
      mkdirSync(join(out, 'ns'), { recursive: true });
      await writeAtomic(file, `${JSON.stringify(ns, null, 1)}\n`);
    }
  }
  if (wanted('deep-tanh')) {
    const file = join(out, 'deep-tanh', 'summary.json');
    if (!existsSync(file)) {
      log('deep-tanh-init: Gaussian vs orthogonal initialization');
      const d = await runDeepTanh({ preset: profile.deepTanh, onProgress: (m: string) => log(`  ${m}`) });
      mkdirSync(join(out, 'deep-tanh'), { recursive: true });
      await writeAtomic(file, `${JSON.stringify(d, null, 1)}\n`);
    }
  }
  // The measurements' files are not named summary.json: the report reads every folder's summary.json as
  // a comparison (src/report/read.ts) and would refuse them.
  if (wanted('projection')) {
    const file = join(out, 'projection', 'measurement.json');
    if (!existsSync(file)) {
      log('projection: DCT column selection vs the range finder vs the float64 SVD on fashion-mnist-mlp gradients');
      const p = await runProjection({ dataDir, download, onProgress: (m) => log(`  ${m}`) });
      mkdirSync(join(out, 'projection'), { recursive: true });
      await writeAtomic(file, `${JSON.stringify(p, null, 1)}\n`);
    }
  }
  if (wanted('subspace-memory')) {
    const file = join(out, 'subspace-memory', 'state-bytes.json');
    const plan = profile.comparisons.find((c) => c.study === 'subspace');
    if (!existsSync(file) && plan !== undefined) {
      log(`subspace-memory: optimizer.stateBytes() of ${plan.optimizers.map((o) => o.label ?? o.name).join(', ')} on ${plan.task}`);
      const task = getTask(plan.task);
      const instance = await task.load({ seed: 0, dataDir, download });
      try {
        const params = instance.initialParams(0);
        const rows: StateBytesSummary['rows'] = [];
        for (const o of plan.optimizers) {
          const m = await measureMemory(instance, params, o.name, { batch: plan.batch ?? task.defaults.batch, label: o.label ?? o.name, options: o.options });
          rows.push({ label: m.label, options: o.options ?? {}, stateBytes: m.stateBytes, hiddenStateBytes: m.hiddenStateBytes });
          log(`  ${m.label}: ${m.stateBytes} bytes of state (${m.hiddenStateBytes} on hidden matrices)`);
        }
        const summary: StateBytesSummary = { format: 'orthoptim-state-bytes/1', task: plan.task, rows };
        mkdirSync(join(out, 'subspace-memory'), { recursive: true });
        await writeAtomic(file, `${JSON.stringify(summary, null, 1)}\n`);
      } finally {
        instance.dispose();
      }
    }
  }
  for (const plan of profile.comparisons) {
    const key = planKey(plan);
    if (!wanted(key)) continue;
    log(`${key}: ${plan.optimizers.map((o) => o.label ?? o.name).join(', ')}; ${plan.steps} steps, ${plan.seeds} seed(s)${plan.sweep ? ', sweep' : ''}`);
    let bar: ProgressBar | undefined;
    const { summary } = await runComparison({
      task: plan.task,
      optimizers: plan.optimizers,
      steps: plan.steps,
      batch: plan.batch,
      seeds: Array.from({ length: plan.seeds }, (_, i) => i),
      evalEvery: plan.evalEvery,
      sweep: plan.sweep ?? null,
      engine,
      dataDir,
      download,
      outDir: join(out, key),
      command: ['npm', 'run', `bench:${profile.name}`],
      onProgress(e) {
        if (e.type === 'data' && e.fallback !== null) log(`  warning: ${e.fallback.message}`);
        if (e.type === 'sweepStart') bar = new ProgressBar({ label: `  ${e.label} lr`.padEnd(24), total: e.grid.length });
        if (e.type === 'sweepPoint') bar?.tick(1, `lr ${e.point.learningRate.toPrecision(3)}: ${e.point.validationLoss?.toFixed(4) ?? 'diverged'}`);
        if (e.type === 'sweepEnd') bar?.finish(`lr ${e.learningRate?.toPrecision(3) ?? 'none'}`);
        if (e.type === 'runStart') {
          bar = new ProgressBar({ label: `  ${e.id}`.padEnd(24), total: e.steps });
          if (e.fromStep > 0) bar.tick(e.fromStep, 'resumed');
        }
        if (e.type === 'step') bar?.tick(1, `loss ${e.loss.toFixed(4)}`);
        if (e.type === 'runEnd') {
          if (e.skipped) log(`  ${e.id}: kept from an earlier run`);
          else bar?.finish(`val loss ${e.run.final.validationLoss.toFixed(4)}`);
        }
      },
    });
    log(comparisonTable(summary));
  }
  // The issue-14 measurements train with accelerateWasm()'s kernels (as bench:adapters does); they run
  // after the comparisons so that registering those kernels changes no other part's timing.
  const late = ['iwrm', 'bloop-pareto', 'adapters'].filter(wanted);
  if (late.length > 0) accelerateWasm();
  if (wanted('iwrm') && !existsSync(join(out, 'iwrm', 'measurement.json'))) {
    log(`iwrm: UPGrad per-example Jacobian descent vs SGD on the mean loss, ${JSON.stringify(profile.iwrm)}`);
    const r = await runIwrm({ ...profile.iwrm, dataDir, onProgress: (m) => log(`  ${m}`) });
    mkdirSync(join(out, 'iwrm'), { recursive: true });
    await writeAtomic(join(out, 'iwrm', 'measurement.json'), `${JSON.stringify(r, null, 1)}\n`);
  }
  if (wanted('bloop-pareto') && !existsSync(join(out, 'bloop-pareto', 'measurement.json'))) {
    log(`bloop-pareto: Bloop vs surgery without an EMA over λ, ${JSON.stringify(profile.bloopPareto)}`);
    const r = await runBloopPareto({ ...profile.bloopPareto, dataDir, onProgress: (m) => log(`  ${m}`) });
    mkdirSync(join(out, 'bloop-pareto'), { recursive: true });
    await writeAtomic(join(out, 'bloop-pareto', 'measurement.json'), `${JSON.stringify(r, null, 1)}\n`);
  }
  if (wanted('adapters') && !existsSync(join(out, 'adapters', 'adapters.json'))) {
    log(`adapters: the bench:adapters table, ${JSON.stringify(profile.adapters)}`);
    const config = { ...adapterDefaults, ...profile.adapters, dataDir, out: join(out, 'adapters') };
    const r = await runAdapters(config, (m) => log(`  ${m}`));
    mkdirSync(join(out, 'adapters'), { recursive: true });
    await writeAtomic(join(out, 'adapters', 'adapters.json'), `${JSON.stringify(r, null, 1)}\n`);
  }

  // Report and claims from whatever the folder holds.
  // Every comparison in the folder counts, also ones added by hand (orthoptim bench --out <this folder>),
  // under its folder's name: the task's for a main comparison, `<study>-<task>` for a study's.
  const comparisons: Record<string, ComparisonSummary> = {};
  for (const entry of readdirSync(out, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const s = readJson<ComparisonSummary>(join(out, entry.name, 'summary.json'));
    if (s === null || s.format !== 'orthoptim-bench/2') continue;
    // A comparison that ran a substitute task (its data was missing) says nothing about the claim.
    if (s.fallback === null) comparisons[entry.name] = s;
    else log(`note: ${entry.name} ran ${s.task} instead (no data): left out of the claims`);
  }
  const ns = readJson<NsTimingSummary>(join(out, 'ns', 'summary.json'));
  const deepTanh = readJson<DeepTanhSummary>(join(out, 'deep-tanh', 'summary.json'));
  const projection = readJson<ProjectionSummary>(join(out, 'projection', 'measurement.json'));
  const subspaceMemory = readJson<StateBytesSummary>(join(out, 'subspace-memory', 'state-bytes.json'));
  const iwrm = readJson<IwrmSummary>(join(out, 'iwrm', 'measurement.json'));
  const bloopPareto = readJson<BloopParetoSummary>(join(out, 'bloop-pareto', 'measurement.json'));
  const adapters = readJson<AdapterTable>(join(out, 'adapters', 'adapters.json'));
  const rows = evaluateClaims({ comparisons, ns, deepTanh, projection, subspaceMemory, iwrm, bloopPareto, adapters }).filter(
    (r) => claim === null || claim.includes(r.id),
  );
  const m = machineInfo();
  const run = {
    command: claim === null ? `npm run bench:${profile.name}` : `npm run bench:${profile.name} -- --claim ${claim.join(',')}`,
    machine: `${m.cpu}, ${m.cores} cores, Node ${m.node}, tfjs ${m.tfjs}`,
    backend: m.backend,
    date: new Date().toISOString().slice(0, 10),
  };
  // The steps-to-target table shows the tasks' main comparisons (a study's folder is not its task's name).
  const main = Object.entries(comparisons).filter(([name, s]) => name === s.task).map(([, s]) => s);
  // With --claim, the chosen rows go into the existing file; every other row stays as it was there.
  const text =
    claim === null || claims === null
      ? renderClaims(rows, { ...run, comparisons: main })
      : mergeClaims(readFileSync(resolve(claims), 'utf8'), rows, run);
  await writeAtomic(join(out, 'CLAIMS.md'), text);
  const file: ClaimsFile = { format: 'orthoptim-claims/1', command: run.command, rows };
  await writeAtomic(join(out, 'claims.json'), `${JSON.stringify(file, null, 1)}\n`);
  if (claims !== null) await writeAtomic(resolve(claims), text);
  const report = await writeReport(out, { title: `orthoptim benchmarks (${profile.name} profile)` });
  log(`report: ${report.files.filter((f) => f.endsWith('.html') || f.endsWith('.md')).join(', ')}`);
  log(`claims: ${join(out, 'CLAIMS.md')}${claims === null ? '' : ` and ${resolve(claims)}`}`);
  for (const r of rows) log(`  ${r.verdict.padEnd(18)} ${r.claim}`);
  log(`done in ${formatDuration((performance.now() - started) / 1000)}`);
}

await main();
