#!/usr/bin/env node
/**
 * The `orthoptim` command.
 *
 * - `orthoptim bench` trains a small model once per optimizer, from the same initial weights on the
 *   same batches, prints a table of losses, accuracies and timings and writes the full record as JSON;
 * - `orthoptim list` prints the optimizers of the registry.
 *
 * Exit codes: 0 success, 1 runtime error (message only; the stack with `--verbose`), 2 usage error
 * (unknown command, flag, task or optimizer, malformed value), with the usage text on stderr.
 * {@link main} is exported so tests (and other programs) can run the command in-process.
 * @module
 */
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { listOptimizers } from '../index.js';
import { ProgressBar, formatDuration, type ProgressStream } from '../bench/progress.js';
import { benchDefaults, runComparison, type ComparisonResult, type OptimizerSpec } from '../bench/runner.js';
import { comparisonTable } from '../bench/table.js';
import { listTasks } from '../bench/tasks.js';
import { UsageError, errorUsage, formatUsage, parseArgs, suggestion, type CommandSpec } from './args.js';

/** Where the command writes: the process's streams, or fakes in tests. */
export interface Io {
  stdout: { write(text: string): unknown };
  /** Progress bars draw here (in place when it is a terminal). */
  stderr: ProgressStream;
}

const backends = ['wasm', 'cpu'] as const;

function benchCommand(): CommandSpec<typeof benchFlags> {
  const taskLines = listTasks().map((t) => `  ${t.name.padEnd(20)} ${t.summary}`);
  const optimizerNames = listOptimizers().map((o) => o.name);
  const lrDefaults = optimizerNames
    .map((n) => [n, benchDefaults(n).learningRate] as const)
    .filter(([, lr]) => lr !== undefined)
    .map(([n, lr]) => `${n}=${String(lr)}`)
    .join(', ');
  return {
    name: 'orthoptim bench',
    summary:
      'Trains the same model with each optimizer — same initial weights, same batches in the same order — ' +
      'and prints final train loss, test accuracy and loss, and ms/step in total and inside the optimizer.',
    flags: benchFlags,
    notes: [
      ['Tasks:', ...taskLines].join('\n'),
      `Optimizers: ${optimizerNames.join(', ')} (orthoptim list describes them).`,
      `Learning rates unless --lr says otherwise: ${lrDefaults}; sgd uses momentum 0.9; muon trains the ` +
        'output layer kernel and all vectors with its auxiliary AdamW (lr 3e-4).',
      'When a dataset is not found (see --data-dir, ORTHOPTIM_DATA_DIR, --download), the embedded synthetic ' +
        'task runs instead, and the results file records it.',
      'Example:\n  orthoptim bench --task fashion-mnist-mlp --optimizers muon,adamw --steps 300 --lr muon=0.02,adamw=1e-3',
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
  steps: { type: 'integer', default: 300, min: 1, description: 'Training steps per optimizer.' },
  batch: { type: 'integer', default: 128, min: 1, description: 'Batch size.' },
  seed: {
    type: 'integer',
    default: 0,
    min: 0,
    description: 'Seed of the initial weights, the batch order and the synthetic data.',
  },
  'eval-every': {
    type: 'integer',
    default: 100,
    min: 0,
    valueName: 'K',
    description: 'Evaluate on the test set every K steps (0: only after the last step, which is always evaluated).',
  },
  lr: {
    type: 'string',
    valueName: 'NAME=LR,…',
    description: 'Learning rates per optimizer, e.g. muon=0.02,adamw=1e-3 (for muon: the rate of its Muon matrices).',
  },
  'data-dir': {
    type: 'string',
    valueName: 'DIR',
    description: 'Directory holding the dataset files (or a mnist/ or fashion-mnist/ subdirectory).',
  },
  download: { type: 'boolean', description: 'Download the dataset (sha256-checked) when it is not found.' },
  backend: { type: 'string', default: 'wasm', choices: backends, description: 'TensorFlow.js backend.' },
  out: {
    type: 'string',
    valueName: 'FILE',
    description: 'Results JSON path (default: results/bench-<task>-<timestamp>.json).',
  },
  verbose: { type: 'boolean', description: 'Print stack traces of runtime errors.' },
} as const;

const listCommand: CommandSpec = {
  name: 'orthoptim list',
  summary: 'Lists the optimizers of the registry: name, summary and paper.',
  flags: {},
};

const commands: readonly { name: string; summary: string }[] = [
  { name: 'bench', summary: 'Compare optimizers on a small task: same init, same batches; table + JSON.' },
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
    throw new UsageError(`orthoptim bench: ${message}`, usage);
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
      const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(entry);
      if (m === null) fail(`--lr entries are NAME=LR, e.g. --lr muon=0.02,adamw=1e-3; got '${entry}'`);
      const [, name, text] = m!;
      const value = Number(text);
      if (!Number.isFinite(value) || value <= 0) fail(`--lr ${name}: the learning rate must be a positive number, got '${text}'`);
      if (!names.includes(name)) {
        fail(`--lr names '${name}', which is not among --optimizers (${names.join(', ')})`);
      }
      if (rates.has(name)) fail(`--lr gives '${name}' twice`);
      rates.set(name, value);
    }
  }
  return names.map((name) => (rates.has(name) ? { name, options: { learningRate: rates.get(name) } } : { name }));
}

/** `results/bench-<task>-<timestamp>.json`, with a timestamp safe in file names. */
function defaultOutPath(task: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  return `results/bench-${task}-${stamp}.json`;
}

/** JSON with two-space indentation, but arrays of numbers on one line (the per-step losses). */
export function resultsJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s*(-?[\d.eE+-]+|null)(?:,\s*(?:-?[\d.eE+-]+|null))*\s*\]/g, (m) =>
    m.replace(/\s+/g, ''),
  ) + '\n';
}

async function bench(argv: readonly string[], io: Io): Promise<number> {
  const command = benchCommand();
  const parsed = parseArgs(argv, command);
  if (parsed.help) {
    io.stdout.write(`${formatUsage(command as CommandSpec)}\n`);
    return 0;
  }
  const usage = errorUsage(command as CommandSpec);
  const f = parsed.flags;
  const taskNames = listTasks().map((t) => t.name);
  if (!taskNames.includes(f.task)) {
    throw new UsageError(
      `orthoptim bench: unknown task '${f.task}' (known: ${taskNames.join(', ')})${suggestion(f.task, taskNames)}`,
      usage,
    );
  }
  const optimizers = optimizerSpecs(f.optimizers, f.lr, usage);

  // Production mode: no per-op debug checks while timing, and no "install tfjs-node" banner on stderr.
  tf.enableProdMode();
  const started = new Date();
  const wallStart = performance.now();
  io.stderr.write(
    `orthoptim bench: ${f.task}, ${optimizers.map((o) => o.name).join(' vs ')}, ${f.steps} steps of batch ${f.batch}, ` +
      `seed ${f.seed}, backend ${f.backend}\n`,
  );
  let bar: ProgressBar | undefined;
  const result: ComparisonResult = await runComparison({
    task: f.task,
    optimizers,
    steps: f.steps,
    batch: f.batch,
    seed: f.seed,
    backend: f.backend,
    evalEvery: f['eval-every'],
    dataDir: f['data-dir'],
    download: f.download,
    onProgress(e) {
      switch (e.type) {
        case 'data':
          if (e.fallback !== null) io.stderr.write(`warning: ${e.fallback.message}\n`);
          else io.stderr.write(`data: ${e.source}\n`);
          break;
        case 'runStart':
          bar = new ProgressBar({ label: e.optimizer.padEnd(Math.max(...optimizers.map((o) => o.name.length))), total: e.steps, stream: io.stderr });
          break;
        case 'step':
          bar?.tick(1, `loss ${e.loss.toFixed(4)}`);
          break;
        case 'runEnd':
          bar?.finish(
            `loss ${e.run.final.trainLoss.toFixed(4)}, test acc ${(100 * e.run.final.testAccuracy).toFixed(2)}%`,
          );
          bar = undefined;
          break;
        case 'eval':
          break;
      }
    },
  });

  const out = resolve(f.out ?? defaultOutPath(result.task, started));
  mkdirSync(dirname(out), { recursive: true });
  const record = { ...result, command: ['orthoptim', 'bench', ...argv] };
  writeFileSync(out, resultsJson(record));

  let title = `${result.task} (${result.dataSource})`;
  if (result.fallback !== null) title = `${result.task} (instead of ${result.requestedTask}: no data found)`;
  else if (result.dataSource === 'synthetic') title = `${result.task} (data generated from the seed)`;
  io.stdout.write(
    `\n${title}, ${result.steps} steps × batch ${result.batch}, seed ${result.seed}, backend ${result.backend}\n\n` +
      `${comparisonTable(result)}\n\n`,
  );
  io.stderr.write(`results: ${out}\ndone in ${formatDuration((performance.now() - wallStart) / 1000)}\n`);
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
        io.stderr.write(`${topUsage()}\n`);
        return 2;
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
        if (topic === undefined) {
          io.stdout.write(`${topUsage()}\n`);
          return 0;
        }
        throw new UsageError(`orthoptim help: unknown command '${topic}'`, topUsage());
      }
      case 'bench':
        return await bench(rest, io);
      case 'list':
        return list(rest, io);
      default: {
        const names = commands.map((c) => c.name);
        const what = command.startsWith('-') ? `unknown option ${command}` : `unknown command '${command}'`;
        throw new UsageError(`orthoptim: ${what}${suggestion(command, names)}`, topUsage());
      }
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`error: ${e.message}\n\n${e.usage}\n`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(`orthoptim: error: ${err.message}\n`);
    if (verbose && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
    else io.stderr.write('(run with --verbose for the stack trace)\n');
    return 1;
  }
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
