#!/usr/bin/env node
/**
 * The `orthoptim` command.
 *
 * - `orthoptim bench` trains a small model once per optimizer, from the same initial weights on the
 *   same batches, prints a table of losses, accuracies and timings and writes the full record as JSON;
 * - `orthoptim list` prints the optimizers of the registry.
 *
 * Exit codes: 0 success, 1 runtime error (message only; the stack with `--verbose`), 2 usage error
 * (unknown command, flag, task or optimizer, malformed value, a `--data-dir` that is not a directory, a
 * dataset that is not found) — one line on stderr saying what is wrong, with "did you mean" where a name
 * is close to a known one, and "run \`orthoptim <command> --help\` for more".
 * {@link main} is exported so tests (and other programs) can run the command in-process.
 * @module
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { listOptimizers } from '../index.js';
// The command runs in Node: the native Newton–Schulz engines (onnxruntime, worker threads) are available.
import '../engines/node.js';
import { ProgressBar, formatDuration, type ProgressStream } from '../bench/progress.js';
import { defaultLearningRates, runComparison, type OptimizerSpec } from '../bench/runner.js';
import { comparisonCaption, comparisonTable, comparisonVerdict } from '../bench/table.js';
import { listTasks } from '../bench/tasks/index.js';
import { DataNotFoundError } from '../bench/data/locate.js';
import { UsageError, formatUsage, parseArgs, parseDecimal, suggestion, type CommandSpec } from './args.js';

/** Where the command writes: the process's streams, or fakes in tests. */
export interface Io {
  stdout: { write(text: string): unknown };
  /** Progress bars draw here (in place when it is a terminal). */
  stderr: ProgressStream;
}

const backends = ['wasm', 'cpu'] as const;
const engines = ['auto', 'tfjs', 'workers', 'onnxruntime'] as const;

function benchCommand(): CommandSpec<typeof benchFlags> {
  const taskLines = listTasks().map((t) => `  ${t.name.padEnd(20)} ${t.summary}`);
  const optimizerNames = listOptimizers().map((o) => o.name);
  const lrDefaults = Object.entries(defaultLearningRates)
    .map(([n, lr]) => `${n}=${String(lr)}`)
    .join(', ');
  return {
    name: 'orthoptim bench',
    summary:
      'Trains the same model with each optimizer — same initial weights, same batches in the same order, ' +
      'optionally after a learning-rate sweep per optimizer and over several seeds — and prints losses, ' +
      'the task\'s metric, steps to a target loss and ms/step; the record (JSON-lines logs per run, ' +
      'summary.json) goes to --out/<task>, and `orthoptim report` turns it into plots.',
    flags: benchFlags,
    notes: [
      ['Tasks (steps, batch and evaluation default to the task\'s own settings):', ...taskLines].join('\n'),
      `Optimizers: ${optimizerNames.join(', ')} (orthoptim list describes them).`,
      `Learning rates unless --lr, --sweep or the task say otherwise: ${lrDefaults}, else the optimizer's ` +
        'default; sgd uses momentum 0.9; optimizers with an auxiliary AdamW (muon and its family) send ' +
        'embeddings, the output layer and all vectors to it.',
      '--sweep trains each optimizer --sweep-steps steps at each of --sweep-points learning rates from ' +
        '1/10 to 10 times its default (log grid) on the first seed, keeps the one with the lowest ' +
        'validation loss, then runs every seed with it.',
      'Interrupted? Run the same command again: finished runs are kept, an unfinished one continues ' +
        'from its last checkpoint (--checkpoint-every); --fresh starts over.',
      'A named --task whose dataset is not found (see --data-dir, ORTHOPTIM_DATA_DIR, --download), or a ' +
        '--data-dir that is not a directory, is an error (exit 2) naming where it looked; only the default ' +
        'run (no --task, --data-dir or --download) may fall back to a task that needs no data, and the ' +
        'results record it.',
      'Numbers are decimal (0.02, 1e-3; integers also 3e2; not 0x10). A flag given twice takes its last ' +
        'value (npm start -- --steps 60 overrides the script\'s --steps).',
      'Example:\n  orthoptim bench --task fashion-mnist-mlp --optimizers muon,adamw --steps 300 --seeds 3 --sweep',
    ],
  };
}

const benchFlags = {
  task: { type: 'string', default: 'fashion-mnist-mlp', valueName: 'NAME', description: 'Task to train (see Tasks below).' },
  optimizers: {
    type: 'string',
    default: 'muon,adamw',
    valueName: 'A,B,…',
    description: 'Comma-separated optimizer names, as createOptimizer takes them.',
  },
  steps: { type: 'integer', min: 1, description: 'Training steps per run (default: the task\'s).' },
  batch: { type: 'integer', min: 1, description: 'Batch size (default: the task\'s).' },
  seed: {
    type: 'integer',
    default: 0,
    min: 0,
    description: 'First seed: initial weights, batch order, validation split and generated data.',
  },
  seeds: { type: 'integer', default: 1, min: 1, valueName: 'N', description: 'Runs per optimizer, seeds seed … seed+N−1 (mean ± std).' },
  'eval-every': {
    type: 'integer',
    min: 0,
    valueName: 'K',
    description: 'Evaluate on the validation split every K steps (0: only at the end; default: the task\'s).',
  },
  lr: {
    type: 'string',
    valueName: 'NAME=LR,…',
    description: 'Learning rates per optimizer, e.g. muon=0.02,adamw=1e-3 (for muon: the rate of its Muon matrices).',
  },
  sweep: { type: 'boolean', description: 'Choose each optimizer\'s learning rate by a sweep first (see below).' },
  'sweep-points': { type: 'integer', default: 5, min: 1, valueName: 'N', description: 'Learning rates tried by --sweep.' },
  'sweep-steps': { type: 'integer', min: 1, valueName: 'K', description: 'Steps per sweep trial (default: steps/5, at least 10).' },
  target: { type: 'number', valueName: 'LOSS', description: 'Training-loss target of steps-to-target (default: AdamW\'s final loss).' },
  'data-dir': {
    type: 'string',
    valueName: 'DIR',
    description: 'Directory holding the dataset files (or its mnist/, fashion-mnist/, cifar10-subset/, tinyshakespeare/ subdirectory).',
  },
  download: { type: 'boolean', description: 'Download the dataset (sha256-checked) when it is not found.' },
  backend: { type: 'string', default: 'wasm', choices: backends, description: 'TensorFlow.js backend.' },
  engine: {
    type: 'string',
    default: 'auto',
    choices: engines,
    description: 'Newton–Schulz engine for every optimizer: auto = onnxruntime when installed, else worker threads for large matrices, else tfjs.',
  },
  out: {
    type: 'string',
    default: 'results/bench',
    valueName: 'DIR',
    description: 'Results folder; this comparison goes to DIR/<task>.',
  },
  'checkpoint-every': { type: 'integer', default: 50, min: 0, valueName: 'K', description: 'Checkpoint unfinished runs every K steps (0: never).' },
  'orthogonality-every': {
    type: 'integer',
    min: 1,
    valueName: 'K',
    description:
      'Every K steps, log the orthogonality of each weight matrix\'s update (orthogonality error, σ_max, σ_min, stable rank) to the run logs; orthoptim report plots it (default: off).',
  },
  'orthogonality-spectrum': {
    type: 'boolean',
    description: 'With --orthogonality-every: log every singular value too (float64 on the host), for the report\'s spectra plot.',
  },
  fresh: { type: 'boolean', description: 'Discard what DIR/<task> holds instead of resuming.' },
  verbose: { type: 'boolean', description: 'Print stack traces of runtime errors.' },
} as const;

const listCommand: CommandSpec = {
  name: 'orthoptim list',
  summary: 'Lists the optimizers of the registry: name, summary and paper.',
  flags: {},
};

const reportCommand = {
  name: 'orthoptim report',
  summary:
    'Writes a Markdown report and a self-contained HTML page with tables and plots (SVG and PNG: loss vs step, ' +
    'loss vs wall-clock, metric, steps-to-target bars, NS time vs size; update spectra, orthogonality error and stable ' +
    'rank when the bench ran with --orthogonality-every) from a results folder of orthoptim bench.',
  flags: {
    out: { type: 'string', valueName: 'DIR', description: 'Output folder (default RESULTS_DIR/report).' },
    'no-png': { type: 'boolean', description: 'Write SVG plots only (no @resvg/resvg-js needed).' },
    title: { type: 'string', valueName: 'TEXT', description: 'Page title.' },
    verbose: { type: 'boolean', description: 'Print stack traces of runtime errors.' },
  },
  positionals: [{ name: 'RESULTS_DIR', description: 'A folder written by orthoptim bench --out (or npm run bench:quick).' }],
  notes: ['Example:\n  orthoptim bench --task synthetic --out results/demo && orthoptim report results/demo'],
} as const satisfies CommandSpec;

const commands: readonly { name: string; summary: string }[] = [
  { name: 'bench', summary: 'Compare optimizers on a task: same init, same batches; table, logs, summary.json.' },
  { name: 'report', summary: 'Markdown + HTML report with plots (SVG, PNG) from a results folder.' },
  { name: 'list', summary: 'List the optimizers (name, summary, paper).' },
  { name: 'help', summary: 'Show help for a command: orthoptim help bench.' },
];

function topUsage(): string {
  return [
    'Usage: orthoptim <command> [options]',
    '',
    'Muon and the orthogonalized-update optimizers for TensorFlow.js: benchmarks and tools.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`),
    '',
    'Options:',
    '  -h, --help      Show this help (orthoptim <command> --help: that command\'s options).',
    '  --version       Print the version.',
  ].join('\n');
}

function packageVersion(): string {
  // src/cli/main.ts and dist/cli/main.js are both two levels below the package root.
  const path = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

/** Parses `--optimizers` and `--lr` into optimizer specs; usage errors name what is wrong. */
export function optimizerSpecs(list: string, lr: string | undefined, usage: string): OptimizerSpec[] {
  const known = listOptimizers().map((o) => o.name);
  const fail = (message: string): never => {
    throw new UsageError(`orthoptim bench: ${message}`, usage, 'orthoptim bench');
  };
  const names = list.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) fail(`--optimizers has an empty name in '${list}' (known: ${known.join(', ')})`);
  for (const [i, n] of names.entries()) {
    if (!known.includes(n)) fail(`unknown optimizer '${n}' (known: ${known.join(', ')})${suggestion(n, known)}`);
    if (names.indexOf(n) !== i) fail(`optimizer '${n}' is listed twice in --optimizers`);
  }
  const rates = new Map<string, number>();
  if (lr !== undefined) {
    for (const entry of lr.split(',')) {
      const m = /^([^=\s]+)=(.*)$/.exec(entry);
      if (m === null) fail(`--lr entries are NAME=LR, e.g. --lr muon=0.02,adamw=1e-3; got '${entry}'`);
      const [, name, text] = m!;
      const value = parseDecimal(text);
      if (value === undefined || value <= 0) {
        fail(`--lr ${name}: the learning rate must be a positive decimal number (e.g. 0.02 or 1e-3), got '${text}'`);
      }
      if (!names.includes(name)) {
        fail(`--lr names '${name}', which is not among --optimizers (${names.join(', ')})${suggestion(name, names)}`);
      }
      if (rates.has(name)) fail(`--lr gives '${name}' twice`);
      rates.set(name, value!);
    }
  }
  return names.map((name) => (rates.has(name) ? { name, options: { learningRate: rates.get(name) } } : { name }));
}

async function bench(argv: readonly string[], io: Io): Promise<number> {
  const command = benchCommand();
  const parsed = parseArgs(argv, command);
  if (parsed.help) {
    io.stdout.write(`${formatUsage(command as CommandSpec)}\n`);
    return 0;
  }
  const usage = formatUsage(command as CommandSpec);
  const fail = (message: string): never => {
    throw new UsageError(`orthoptim bench: ${message}`, usage, command.name);
  };
  const f = parsed.flags;
  const taskNames = listTasks().map((t) => t.name);
  if (!taskNames.includes(f.task)) {
    fail(`unknown task '${f.task}' (known: ${taskNames.join(', ')})${suggestion(f.task, taskNames)}`);
  }
  const optimizers = optimizerSpecs(f.optimizers, f.lr, usage);
  const flagArgs = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const given = (flag: string): boolean => flagArgs.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
  if (!f.sweep && (given('sweep-points') || given('sweep-steps'))) fail('--sweep-points and --sweep-steps need --sweep');
  if (f.sweep && f.lr !== undefined) fail('--lr and --sweep exclude each other (the sweep chooses the learning rates)');
  if (f['orthogonality-spectrum'] && f['orthogonality-every'] === undefined) fail('--orthogonality-spectrum needs --orthogonality-every K');
  if (f['data-dir'] !== undefined) {
    let kind: string | null;
    try {
      kind = statSync(f['data-dir']).isDirectory() ? null : 'is not a directory';
    } catch {
      kind = 'does not exist';
    }
    if (kind !== null) fail(`--data-dir ${f['data-dir']} ${kind} (${resolve(f['data-dir'])})`);
  }
  // Only the default run may replace a task whose data is missing: a task or a data source asked for
  // by name is an error when its data is not found.
  const fallback = !given('task') && !given('data-dir') && !given('download');

  // Production mode: no per-op debug checks while timing, and no "install tfjs-node" banner on stderr.
  tf.enableProdMode();
  const wallStart = performance.now();
  const seeds = Array.from({ length: f.seeds }, (_, i) => f.seed + i);
  const outDir = resolve(f.out, f.task);
  io.stderr.write(
    `orthoptim bench: ${f.task}, ${optimizers.map((o) => o.name).join(' vs ')}, seed${seeds.length > 1 ? 's' : ''} ` +
      `${seeds.join(', ')}, backend ${f.backend}${f.sweep ? ', learning-rate sweep first' : ''}\n`,
  );
  let bar: ProgressBar | undefined;
  const width = Math.max(...optimizers.map((o) => o.name.length)) + 4;
  const { summary } = await runComparison({
    task: f.task,
    optimizers,
    steps: f.steps,
    batch: f.batch,
    seeds,
    evalEvery: f['eval-every'],
    sweep: f.sweep ? { points: f['sweep-points'], steps: f['sweep-steps'] } : null,
    target: f.target ?? null,
    backend: f.backend,
    engine: f.engine,
    outDir,
    checkpointEvery: f['checkpoint-every'],
    orthogonality: f['orthogonality-every'] === undefined ? null : { every: f['orthogonality-every'], spectrum: f['orthogonality-spectrum'] === true },
    resume: !f.fresh,
    dataDir: f['data-dir'],
    download: f.download,
    fallback,
    command: ['orthoptim', 'bench', ...argv],
    onProgress(e) {
      switch (e.type) {
        case 'data':
          if (e.fallback !== null) io.stderr.write(`warning: ${e.fallback.message}\n`);
          else io.stderr.write(`data: ${e.source}\n`);
          break;
        case 'sweepStart':
          bar = new ProgressBar({ label: `${e.label} lr`.padEnd(width), total: e.grid.length, stream: io.stderr });
          break;
        case 'sweepPoint':
          bar?.tick(1, `lr ${e.point.learningRate.toPrecision(3)}: val loss ${e.point.validationLoss?.toFixed(4) ?? 'diverged'}`);
          break;
        case 'sweepEnd':
          bar?.finish(e.learningRate === null ? 'every learning rate diverged' : `chose lr ${e.learningRate.toPrecision(3)}`);
          bar = undefined;
          break;
        case 'runStart':
          bar = new ProgressBar({ label: e.id.padEnd(width), total: e.steps, stream: io.stderr });
          if (e.fromStep > 0) bar.tick(e.fromStep, `resumed at step ${e.fromStep}`);
          break;
        case 'step':
          bar?.tick(1, `loss ${e.loss.toFixed(4)}`);
          break;
        case 'runEnd':
          if (e.skipped) {
            io.stderr.write(`${e.id.padEnd(width)} finished earlier (${e.run.log})\n`);
          } else {
            bar?.finish(
              `loss ${e.run.final.trainLoss.toFixed(4)}, val loss ${e.run.final.validationLoss.toFixed(4)}` +
                (e.run.diverged !== null ? ` (diverged at step ${e.run.diverged})` : ''),
            );
          }
          bar = undefined;
          break;
        case 'eval':
          break;
      }
    },
  });

  // Caption (data, learning rates, engines) and the verdict in words: src/bench/table.ts.
  const verdict = comparisonVerdict(summary);
  io.stdout.write(`\n${comparisonCaption(summary)}\n\n${comparisonTable(summary)}\n\n${verdict === '' ? '' : `${verdict}\n\n`}`);
  io.stderr.write(`results: ${outDir}\ndone in ${formatDuration((performance.now() - wallStart) / 1000)}\n`);
  return 0;
}

async function report(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv, reportCommand);
  if (parsed.help) {
    io.stdout.write(`${formatUsage(reportCommand)}\n`);
    return 0;
  }
  const dir = parsed.positionals[0];
  const usage = formatUsage(reportCommand);
  if (dir === undefined) throw new UsageError('orthoptim report: which results folder? (orthoptim report RESULTS_DIR)', usage, reportCommand.name);
  let problem: string | null;
  try {
    problem = statSync(dir).isDirectory() ? null : 'is not a directory (give the folder orthoptim bench --out wrote)';
  } catch {
    problem = 'does not exist (run `orthoptim bench` to create it)';
  }
  if (problem !== null) throw new UsageError(`orthoptim report: ${dir} ${problem}`, usage, reportCommand.name);
  // The plotting packages are loaded only here: the library does not depend on them.
  const { writeReport } = await import('../report/index.js');
  const f = parsed.flags;
  const out = await writeReport(resolve(dir), { out: f.out === undefined ? undefined : resolve(f.out), png: !f['no-png'], title: f.title });
  const pages = out.files.filter((p) => p.endsWith('.md') || p.endsWith('.html'));
  io.stdout.write(`${pages.join('\n')}\n`);
  io.stderr.write(`report: ${out.files.length} files (${out.files.filter((p) => p.endsWith('.png')).length} PNG, ${out.files.filter((p) => p.endsWith('.svg')).length} SVG)\n`);
  return 0;
}

function list(argv: readonly string[], io: Io): number {
  const parsed = parseArgs(argv, listCommand);
  if (parsed.help) {
    io.stdout.write(`${formatUsage(listCommand)}\n`);
    return 0;
  }
  const infos = listOptimizers();
  const width = Math.max(...infos.map((o) => o.name.length));
  const lines = infos.flatMap((o) => [
    `${o.name.padEnd(width)}  ${o.summary}`,
    `${' '.repeat(width)}  paper: ${o.paper}`,
  ]);
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/**
 * Runs the command with `argv` (the arguments after `orthoptim`) and resolves to the exit code; never
 * throws and never calls `process.exit`.
 */
export async function main(argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const [command, ...rest] = argv;
    switch (command) {
      case undefined:
        throw new UsageError(`orthoptim: which command? (${commands.map((c) => c.name).join(', ')})`, topUsage(), 'orthoptim');
      case '-h':
      case '--help':
        io.stdout.write(`${topUsage()}\n`);
        return 0;
      case '--version':
        io.stdout.write(`${packageVersion()}\n`);
        return 0;
      case 'help': {
        const topic = rest[0];
        if (topic === 'bench') return await bench(['--help'], io);
        if (topic === 'list') return list(['--help'], io);
        if (topic === 'report') return await report(['--help'], io);
        if (topic === undefined) {
          io.stdout.write(`${topUsage()}\n`);
          return 0;
        }
        const names = commands.map((c) => c.name).filter((n) => n !== 'help');
        throw new UsageError(`orthoptim help: unknown command '${topic}' (known: ${names.join(', ')})${suggestion(topic, names)}`, topUsage(), 'orthoptim');
      }
      case 'bench':
        return await bench(rest, io);
      case 'report':
        return await report(rest, io);
      case 'list':
        return list(rest, io);
      default: {
        if (command.startsWith('-')) {
          const options = ['--help', '--version'];
          throw new UsageError(
            `orthoptim: unknown option ${command} (before a command: ${options.join(', ')})${suggestion(command, options)}`,
            topUsage(),
            'orthoptim',
          );
        }
        const names = commands.map((c) => c.name);
        throw new UsageError(`orthoptim: unknown command '${command}' (known: ${names.join(', ')})${suggestion(command, names)}`, topUsage(), 'orthoptim');
      }
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${oneLine(`error: ${e.message} (run \`${e.command ?? 'orthoptim'} --help\` for more)`)}\n`);
      return 2;
    }
    if (e instanceof DataNotFoundError) {
      // The loaders' one-line form names the dataset, every directory searched and the flags that fix it.
      io.stderr.write(`${oneLine(`error: orthoptim bench: ${e.brief} (run \`orthoptim bench --help\` for more)`)}\n`);
      if (verbose) io.stderr.write(`${e.message}\n`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(`orthoptim: error: ${err.message}\n`);
    if (verbose && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
    else io.stderr.write('(run with --verbose for the stack trace)\n');
    return 1;
  }
}

/** The text on one line: a value with a newline in it (`--task $'a\\nb'`) cannot split an error message. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** True when this file is the program being run (directly, through tsx, or through the npm bin link). */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main(process.argv.slice(2));
}
