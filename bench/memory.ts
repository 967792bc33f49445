/**
 * `npm run bench:memory`: the optimizer state of every registered optimizer ÷ AdamW's (on the whole
 * model and on its hidden matrices) and the peak `tf.memory().numBytes` during a step, on the
 * fashion-mnist MLP and the small character transformer (issue 13 item 4; what is measured and how:
 * `src/bench/memory.ts`). Newton–Schulz runs on the tfjs engine (no `orthoptim/engines` loaded), so every
 * byte an optimizer allocates is a tfjs tensor that `tf.memory()` counts.
 *
 * Output: the tables on stdout and `<out>/memory.md`, `<out>/memory.json`.
 * @module
 */
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { version_layers } from '@tensorflow/tfjs-layers';
import { listOptimizers } from '../src/index.js';
import { useBackend } from '../src/bench/runner.js';
import { getTask, listTasks, loadTask } from '../src/bench/tasks/index.js';
import { memoryColumns, memoryTable, taskMemory, type TaskMemory } from '../src/bench/memory.js';
import { machineDetails, type MachineDetails } from '../src/bench/machine.js';
import { commandLine, parseArgs, usageError, type CommandSpec } from '../src/cli/args.js';
import { runIfMain, writeReportFiles } from '../src/bench/script.js';

const backends = ['wasm', 'cpu'] as const;

const command = {
  name: 'npm run bench:memory --',
  summary: 'Optimizer state bytes ÷ AdamW\'s (all parameters, hidden matrices) and peak tf.memory() bytes of a step, per task and optimizer.',
  flags: {
    tasks: {
      type: 'list',
      default: ['fashion-mnist-mlp', 'shakespeare-char-small'],
      description: 'Benchmark tasks (registered names).',
    },
    optimizers: { type: 'list', description: 'Registered optimizer names (default: every one, listOptimizers()).' },
    baseline: { type: 'string', default: 'adamw', description: 'The optimizer the ratios divide by.' },
    backend: { type: 'string', choices: backends, default: 'wasm', description: 'TensorFlow.js backend.' },
    batch: { type: 'integer', min: 1, description: "Batch size (default: each task's)." },
    seed: { type: 'integer', default: 0, min: 0, description: 'Seed of the data split and the initial parameters.' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'Directory holding the datasets (also searched: ORTHOPTIM_DATA_DIR, the cache).' },
    out: { type: 'string', default: 'results/memory', valueName: 'DIR', description: 'Folder for memory.md and memory.json.' },
  },
  notes: ['Byte counts do not depend on the machine; the first step (state creation) and two more are run per optimizer.'],
} as const satisfies CommandSpec;

export interface MemoryBenchConfig {
  readonly tasks: readonly string[];
  readonly optimizers: readonly string[];
  readonly baseline: string;
  readonly backend: (typeof backends)[number];
  readonly batch: number | undefined;
  readonly seed: number;
  readonly dataDir: string | undefined;
  readonly out: string;
}

export interface MemoryBenchResult {
  readonly config: MemoryBenchConfig;
  readonly machine: MachineDetails;
  readonly columns: string;
  readonly tasks: readonly TaskMemory[];
  readonly wallSeconds: number;
}

export function parseMemoryArgs(argv: readonly string[]): MemoryBenchConfig | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const knownTasks = listTasks().map((t) => t.name);
  const badTask = f.tasks.find((t) => !knownTasks.includes(t));
  if (badTask !== undefined) throw usageError(command, `unknown task '${badTask}' (known: ${knownTasks.join(', ')})`);
  const known = listOptimizers().map((o) => o.name);
  const optimizers = f.optimizers ?? known;
  const bad = [...optimizers, f.baseline].find((o) => !known.includes(o));
  if (bad !== undefined) throw usageError(command, `unknown optimizer '${bad}' (known: ${known.join(', ')})`);
  const backend = backends.find((b) => b === f.backend) ?? 'wasm';
  // The baseline comes first, also when not asked for: the ratios need it.
  const names = [f.baseline, ...optimizers.filter((o) => o !== f.baseline)];
  return { tasks: f.tasks, optimizers: names, baseline: f.baseline, backend, batch: f.batch, seed: f.seed, dataDir: f['data-dir'], out: f.out };
}

export async function runMemoryBench(config: MemoryBenchConfig, log: (line: string) => void): Promise<MemoryBenchResult> {
  const t0 = performance.now();
  await useBackend(config.backend);
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  const tasks: TaskMemory[] = [];
  for (const name of config.tasks) {
    const { task, instance } = await loadTask(getTask(name), { seed: config.seed, dataDir: config.dataDir });
    try {
      const batch = config.batch ?? task.defaults.batch;
      log(`${task.name}: ${instance.model}, batch ${batch}, ${config.optimizers.length} optimizers`);
      tasks.push(
        await taskMemory(task.name, instance, config.optimizers, {
          batch,
          seed: config.seed,
          baseline: config.baseline,
          onRow: (label, ms) => log(`  ${label} (${(ms / 1000).toFixed(1)} s)`),
        }),
      );
    } finally {
      instance.dispose();
    }
  }
  return { config, machine, columns: memoryColumns, tasks, wallSeconds: (performance.now() - t0) / 1000 };
}

export function renderMemoryReport(r: MemoryBenchResult): string {
  const m = r.machine;
  return [
    '# bench:memory — optimizer state and peak tf.memory() bytes of a step',
    '',
    `Backend ${m.backend}, tfjs ${m.tfjsCore}, Node ${m.node}, ${m.date}; Newton–Schulz on the tfjs engine; seed ${r.config.seed}.`,
    '',
    r.columns,
    '',
    ...r.tasks.flatMap((t) => [memoryTable(t), '']),
  ].join('\n');
}

async function main(): Promise<void> {
  const config = commandLine(command, process.argv.slice(2), parseMemoryArgs);
  if (config === null) return;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const result = await runMemoryBench(config, log);
  const report = renderMemoryReport(result);
  process.stdout.write(`${report}\n`);
  const dir = await writeReportFiles(config.out, 'memory', report, result);
  log(`wrote ${dir}/memory.md and memory.json (${result.wallSeconds.toFixed(0)} s)`);
}

runIfMain(import.meta.url, main);
