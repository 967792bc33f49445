/**
 * `npm run bench:distributed` (issue 17 item 6): data-parallel step time with 1 and 2 ranks and the bytes
 * each optimizer's collectives carry per step, on MLPs of the fashion-mnist shape (784-512-512-10, 0.67 M
 * parameters) and the issue's 5 M-parameter one (784-2048-2048-10, 5.8 M), on synthetic data.
 *
 * How it runs: this script is the **launcher**; it starts itself as the program (`--worker`) once alone
 * (`singleRankCommunicator`, 1 rank) and once under `mpirun --allow-run-as-root --oversubscribe -np 2`
 * (`mpiCommunicator`, 2 ranks on this host), reads what the workers write, and prints / writes the table.
 * Rows:
 * - `adamw DDP`: `distributed(adamw(), comm)` — the full gradient all-reduced (PyTorch DDP);
 * - `muon DDP`: `distributed(muon(), comm)` — the same all-reduce, every rank runs every Newton–Schulz;
 * - `muon sharded`: `distributed(muon(), comm, { shardOptimizerState: true })` — the all-reduce, each
 *   rank's Newton–Schulz on its matrices (src/tfjs/distributed.ts), then an all-gather of the new values
 *   (KellerJordan/Muon `muon.py` distributed Muon; ZeRO-1);
 * - `dion r=¼` (bytes only, not timed): Dion's distributed step (microsoft/dion `dion_reference.py`)
 *   all-reduces, per matrix and power iteration, P (`pDim×r`) and R (`qDim×r`) instead of the gradient;
 *   computed from the Q shapes in `dion({ rankFraction: 0.25 })`'s state after one step, plus a full
 *   all-reduce of the non-matrix parameters (AdamW).
 * Bytes are counted by a Communicator wrapper around the real one (payload of each collective: an
 * all-reduce of n floats counts 4n, an all-gather 4·(total gathered)), per step after a warm-up step
 * (which also runs the start-up broadcast). The N-host column is a **model, not a measurement**: ring
 * collectives (an all-reduce moves 2(N−1)/N of its payload per rank, an all-gather (N−1)/N) at the
 * all-reduce bus bandwidth measured here between the 2 local ranks (shared memory), or `--bandwidth-gbps`.
 *
 * Output: the table on stdout and `<out>/distributed.md`, `<out>/distributed.json`.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/bench/runner.js';
import { formatTable } from '../src/bench/table.js';
import { machineDetails } from '../src/bench/machine.js';
import { adamw, dion, muon } from '../src/tfjs/register.js';
import { distributed } from '../src/tfjs/distributed.js';
import { isTransformOptimizer } from '../src/tfjs/optimizer.js';
import { singleRankCommunicator, type Communicator } from '../src/linalg/communicator.js';
import { mpiCommunicator } from '../src/node/mpi.js';
import { writeAtomic } from '../src/node/fileSystem.js';
import { mulberry32 } from '../src/core/random.js';
import { commandLine, parseArgs, usageError, type CommandSpec } from '../src/cli/args.js';

const MODELS: Record<string, readonly number[]> = {
  'fashion-mlp': [784, 512, 512, 10],
  'mlp-5m': [784, 2048, 2048, 10],
};
const ROWS = ['adamw DDP', 'muon DDP', 'muon sharded'] as const;

const command = {
  name: 'npm run bench:distributed --',
  summary: 'Data-parallel step time on 1 and 2 ranks (mpirun) and bytes communicated per step: AdamW DDP, Muon DDP, sharded Muon, Dion r=¼.',
  flags: {
    models: { type: 'list', default: ['fashion-mlp', 'mlp-5m'], description: `MLP shapes (${Object.keys(MODELS).join(', ')}).` },
    rows: { type: 'list', default: [...ROWS], description: `Timed optimizers (${ROWS.join(', ')}).` },
    steps: { type: 'integer', default: 2, min: 1, description: 'Timed steps per row (after one warm-up step).' },
    'steps-large': { type: 'integer', default: 1, min: 1, description: 'Timed steps per row on a model over 2 M parameters (mlp-5m).' },
    skip: { type: 'list', default: ['mlp-5m:muon DDP'], description: "model:row pairs not run (default: Muon DDP on the 5 M model, whose one-rank step is Muon sharded's; keeps the bench under 3 min). --skip '' runs all." },
    batch: { type: 'integer', default: 128, min: 2, description: 'Global batch (each of N ranks gets batch/N rows).' },
    ranks: { type: 'integer', default: 2, min: 2, description: 'Ranks of the mpirun run.' },
    backend: { type: 'string', choices: ['wasm', 'cpu'], default: 'wasm', description: 'TensorFlow.js backend.' },
    hosts: { type: 'list', default: ['2', '4', '8', '16'], description: 'N of the modelled communication time (ring collectives).' },
    'bandwidth-gbps': { type: 'number', min: 0.001, description: 'Bus bandwidth of the model in Gbit/s (default: measured between the local ranks).' },
    out: { type: 'string', default: 'results/distributed', valueName: 'DIR', description: 'Folder for distributed.md and distributed.json.' },
    worker: { type: 'string', choices: ['', 'single', 'mpi'], default: '', description: 'Internal: run as the program (single process or one MPI rank).' },
    'worker-out': { type: 'string', valueName: 'DIR', description: 'Internal: where a worker writes rank<r>.json.' },
  },
  notes: ['The script launches mpirun itself; the N-host column is a model from the measured bandwidth, not a measurement.'],
} as const satisfies CommandSpec;

interface Config {
  models: string[];
  rows: string[];
  steps: number;
  stepsLarge: number;
  skip: string[];
  batch: number;
  ranks: number;
  backend: 'wasm' | 'cpu';
  hosts: number[];
  bandwidthGbps: number | undefined;
  out: string;
  worker: '' | 'single' | 'mpi';
  workerOut: string | undefined;
}

function parseConfig(argv: readonly string[]): Config | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const badModel = f.models.find((m) => MODELS[m] === undefined);
  if (badModel !== undefined) throw usageError(command, `unknown model '${badModel}' (known: ${Object.keys(MODELS).join(', ')})`);
  const badRow = f.rows.find((r) => !(ROWS as readonly string[]).includes(r));
  if (badRow !== undefined) throw usageError(command, `unknown row '${badRow}' (known: ${ROWS.join(', ')})`);
  const hosts = f.hosts.map(Number);
  if (hosts.some((h) => !Number.isInteger(h) || h < 2)) throw usageError(command, `--hosts must list integers ≥ 2, got ${f.hosts.join(',')}`);
  if (f.batch % f.ranks !== 0) throw usageError(command, `--batch ${f.batch} does not split into ${f.ranks} equal shards`);
  return {
    models: [...f.models],
    rows: [...f.rows],
    steps: f.steps,
    stepsLarge: f['steps-large'],
    skip: f.skip.filter((x) => x !== ''),
    batch: f.batch,
    ranks: f.ranks,
    backend: f.backend === 'cpu' ? 'cpu' : 'wasm',
    hosts,
    bandwidthGbps: f['bandwidth-gbps'],
    out: f.out,
    worker: f.worker === 'single' || f.worker === 'mpi' ? f.worker : '',
    workerOut: f['worker-out'],
  };
}

/** Payload bytes per collective kind, counted around a real communicator. */
interface Counts {
  allReduce: number;
  allGather: number;
  broadcast: number;
}

function counting(c: Communicator): Communicator & { counts: Counts; reset(): void } {
  const counts: Counts = { allReduce: 0, allGather: 0, broadcast: 0 };
  return {
    rank: c.rank,
    size: c.size,
    kind: c.kind,
    counts,
    reset() {
      counts.allReduce = counts.allGather = counts.broadcast = 0;
    },
    allReduce(d, op) {
      counts.allReduce += 4 * d.length;
      return c.allReduce(d, op);
    },
    allGather(d, k) {
      const out = c.allGather(d, k);
      counts.allGather += 4 * out.length;
      return out;
    },
    reduceScatter: (d, k, op) => c.reduceScatter(d, k, op),
    allToAll: (d, k) => c.allToAll(d, k),
    broadcast(d, root) {
      counts.broadcast += 4 * d.length;
      return c.broadcast(d, root);
    },
    barrier: () => c.barrier(),
    allGatherHash: (h) => c.allGatherHash(h),
  };
}

function gaussian(n: number, seed: number, scale: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  return out;
}

function mlpVariables(widths: readonly number[], tag: string): tf.Variable[] {
  const vars: tf.Variable[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const [i, o] = [widths[l], widths[l + 1]];
    vars.push(tf.variable(tf.tensor2d(gaussian(i * o, 11 + l, Math.sqrt(2 / i)), [i, o]), true, `${tag}_k${l}`));
    vars.push(tf.variable(tf.zeros([o]), true, `${tag}_b${l}`));
  }
  return vars;
}

interface RowResult {
  model: string;
  row: string;
  parameters: number;
  msPerStep: number[];
  bytesPerStep: Counts;
  stateBytes: number;
}

interface WorkerResult {
  rank: number;
  size: number;
  rows: RowResult[];
  dion: { model: string; matrixBytes: number; otherBytes: number }[];
  busBandwidthGBps: number | null;
}

async function runWorker(config: Config): Promise<void> {
  await useBackend(config.backend);
  const base = config.worker === 'mpi' ? mpiCommunicator({ timeoutMs: 300_000 }) : singleRankCommunicator();
  const comm = counting(base);
  const { rank, size } = comm;
  const rows: RowResult[] = [];
  const dionRows: WorkerResult['dion'] = [];
  for (const model of config.models) {
    const widths = MODELS[model];
    const per = config.batch / size;
    const x = tf.tensor2d(gaussian(per * widths[0], 1000 + rank, 1), [per, widths[0]]);
    const labels = tf.oneHot(tf.tensor1d(Int32Array.from({ length: per }, (_, k) => (k * 7 + rank) % widths[widths.length - 1]), 'int32'), widths[widths.length - 1]);
    const large = widths.slice(1).reduce((a, w, l) => a + (widths[l] + 1) * w, 0) > 2e6;
    const steps = large ? config.stepsLarge : config.steps;
    for (const row of config.rows) {
      if (config.skip.includes(`${model}:${row}`)) continue;
      const vars = mlpVariables(widths, `${model}_${row.replace(/ /g, '')}`);
      const loss = () =>
        tf.tidy(() => {
          let h: tf.Tensor = x;
          for (let l = 0; l < vars.length / 2; l++) {
            h = tf.add(tf.matMul(h, vars[2 * l]), vars[2 * l + 1]);
            if (2 * l + 2 < vars.length) h = tf.relu(h);
          }
          return tf.losses.softmaxCrossEntropy(labels, h) as tf.Scalar;
        });
      const inner = row === 'adamw DDP' ? adamw({ learningRate: 1e-3 }) : muon({ learningRate: 0.02 });
      const opt = distributed(inner, comm, { shardOptimizerState: row === 'muon sharded' });
      opt.minimize(loss, false, vars); // warm-up: start-up hash + broadcast, state creation
      comm.barrier();
      comm.reset();
      const ms: number[] = [];
      for (let s = 0; s < steps; s++) {
        comm.barrier();
        const t = performance.now();
        opt.minimize(loss, false, vars);
        vars[0].dataSync();
        ms.push(performance.now() - t);
      }
      const c = comm.counts;
      rows.push({
        model,
        row,
        parameters: vars.reduce((a, v) => a + v.size, 0),
        msPerStep: ms,
        bytesPerStep: { allReduce: c.allReduce / steps, allGather: c.allGather / steps, broadcast: c.broadcast / steps },
        stateBytes: opt.stateBytes(),
      });
      process.stderr.write(`rank ${rank}/${size}: ${model} ${row}: ${ms.map((m) => m.toFixed(0)).join(', ')} ms\n`);
      opt.dispose();
      tf.dispose(vars);
    }
    if (size === 1) {
      // Dion's traffic from its state: per matrix, P (pDim×r) and R (qDim×r) all-reduced per power iteration
      const vars = mlpVariables(widths, `${model}_dion`);
      const opt = dion({ rankFraction: 0.25 });
      opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: tf.onesLike(v) })));
      if (!isTransformOptimizer(opt)) throw new Error('dion is not an orthoptim optimizer');
      // the Q slots (`matrix/…/q/k`, k-th matrix of the Dion group), in parameter order
      const qs = opt.stateSlots.filter((s) => /\/q\/\d+$/.test(s.path)).map((s) => s.variable);
      const matrices = vars.filter((v) => v.rank === 2);
      if (qs.length !== matrices.length) throw new Error(`dion: ${qs.length} Q slots for ${matrices.length} matrices (${opt.stateSlots.map((s) => s.path).join(', ')})`);
      const matrixBytes = matrices.reduce((acc, v, k) => acc + 4 * ((v.shape[0] ?? 0) + (v.shape[1] ?? 0)) * (qs[k].shape[1] ?? 0), 0);
      const otherBytes = vars.filter((v) => v.rank !== 2).reduce((acc, v) => acc + 4 * v.size, 0);
      dionRows.push({ model, matrixBytes, otherBytes });
      opt.dispose();
      tf.dispose(vars);
    }
    tf.dispose([x, labels]);
  }
  // all-reduce bus bandwidth between the ranks: 4 × 16 MiB
  let busBandwidthGBps: number | null = null;
  if (size > 1) {
    const data = new Float32Array(4 * 2 ** 20);
    comm.allReduce(data);
    comm.barrier();
    const t = performance.now();
    for (let k = 0; k < 4; k++) base.allReduce(data);
    const s = (performance.now() - t) / 4 / 1000;
    busBandwidthGBps = ((2 * (size - 1)) / size) * (4 * data.length) / s / 1e9;
  }
  const result: WorkerResult = { rank, size, rows, dion: dionRows, busBandwidthGBps };
  writeFileSync(join(config.workerOut!, `rank${rank}.json`), JSON.stringify(result));
}

const median = (a: readonly number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const mb = (b: number) => (b / 2 ** 20).toFixed(2);

function report(config: Config, one: WorkerResult, many: WorkerResult[], wallSeconds: number) {
  const n = many.length;
  const bw = config.bandwidthGbps !== undefined ? config.bandwidthGbps / 8 : (many[0].busBandwidthGBps ?? NaN);
  const ringSeconds = (c: Counts, hosts: number) => (((2 * (hosts - 1)) / hosts) * c.allReduce + ((hosts - 1) / hosts) * c.allGather) / (bw * 1e9);
  const lines: string[] = [];
  const table: string[][] = [];
  const json: Record<string, unknown>[] = [];
  for (const model of config.models) {
    const widths = MODELS[model];
    const full = 4 * widths.slice(1).reduce((a, w, l) => a + (widths[l] + 1) * w, 0);
    for (const row of config.rows) {
      if (config.skip.includes(`${model}:${row}`)) continue;
      const r1 = one.rows.find((r) => r.model === model && r.row === row)!;
      const rn = many.map((w) => w.rows.find((r) => r.model === model && r.row === row)!);
      const t1 = median(r1.msPerStep);
      // the step of N ranks is the slowest rank's
      const tn = Math.max(...rn.map((r) => median(r.msPerStep)));
      const c = rn[0].bytesPerStep;
      const bytes = c.allReduce + c.allGather + c.broadcast;
      table.push([
        model,
        row,
        t1.toFixed(0),
        tn.toFixed(0),
        (t1 / tn).toFixed(2),
        mb(c.allReduce),
        mb(c.allGather),
        (bytes / full).toFixed(2),
        rn.map((r) => mb(r.stateBytes)).join(' / '),
        ...config.hosts.map((h) => (1000 * ringSeconds(c, h)).toFixed(1)),
      ]);
      json.push({ model, row, parameters: r1.parameters, msPerStep1: r1.msPerStep, msPerStepN: rn.map((r) => r.msPerStep), bytesPerStep: c, stateBytesPerRank: rn.map((r) => r.stateBytes), stateBytes1: r1.stateBytes, modelledCommMs: Object.fromEntries(config.hosts.map((h) => [h, 1000 * ringSeconds(c, h)])) });
    }
    const d = one.dion.find((x) => x.model === model);
    if (d === undefined) continue;
    const dc: Counts = { allReduce: d.matrixBytes + d.otherBytes, allGather: 0, broadcast: 0 };
    table.push([model, 'dion r=¼ (from state shapes)', '–', '–', '–', mb(dc.allReduce), '0.00', (dc.allReduce / full).toFixed(2), '–', ...config.hosts.map((h) => (1000 * ringSeconds(dc, h)).toFixed(1))]);
    json.push({ model, row: 'dion r=1/4', computedFrom: 'Q shapes of dion({rankFraction: 0.25}) state', bytesPerStep: dc, matrixBytes: d.matrixBytes, otherBytes: d.otherBytes, ratioToFullAllReduce: dc.allReduce / full });
  }
  const columns = [
    { header: 'model' },
    { header: 'optimizer' },
    { header: 'ms/step 1 rank', align: 'right' as const },
    { header: `ms/step ${n} ranks`, align: 'right' as const },
    { header: 'ratio', align: 'right' as const },
    { header: 'all-reduce MiB/step', align: 'right' as const },
    { header: 'all-gather MiB/step', align: 'right' as const },
    { header: '÷ full all-reduce', align: 'right' as const },
    { header: `state MiB per rank (${n})`, align: 'right' as const },
    ...config.hosts.map((h) => ({ header: `model: comm ms, ${h} hosts`, align: 'right' as const })),
  ];
  lines.push(formatTable(columns, table));
  lines.push('');
  lines.push(
    `Global batch ${config.batch} (${config.batch / n} rows per rank with ${n} ranks), ${config.backend} backend, median of ${config.steps} steps (${config.stepsLarge} on a model over 2 M parameters) after a warm-up${config.skip.length > 0 ? `, not run: ${config.skip.join(', ')}` : ''}; ` +
      `${n} ranks = mpirun -np ${n} on this host (${cpus().length} CPUs shared with other jobs: the ${n}-rank time includes contention). ` +
      `Bytes: payload per rank per step counted around the communicator. "÷ full all-reduce": bytes ÷ 4·parameters. ` +
      `**Model, not measured**: the comm ms columns are ring collectives (all-reduce 2(N−1)/N, all-gather (N−1)/N of the payload per rank) at ` +
      `${(bw * 8).toFixed(1)} Gbit/s (${config.bandwidthGbps !== undefined ? '--bandwidth-gbps' : `all-reduce bus bandwidth measured between the ${n} local ranks over shared memory`}); ` +
      `latency, overlap with compute and the compute itself are left out. Wall time ${wallSeconds.toFixed(0)} s.`,
  );
  return { text: lines.join('\n'), json: { config, busBandwidthGBps: many[0].busBandwidthGBps, modelBandwidthGBps: bw, rows: json, wallSeconds } };
}

async function main(): Promise<void> {
  const config = commandLine(command, process.argv.slice(2), parseConfig);
  if (config === null) return;
  if (config.worker !== '') {
    await runWorker(config);
    return;
  }
  const t0 = performance.now();
  const self = fileURLToPath(import.meta.url);
  const pass = process.argv.slice(2);
  const tmp = mkdtempSync(join(tmpdir(), 'orthoptim-bench-distributed-'));
  const program = [process.execPath, '--import', 'tsx', self, ...pass];
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    mkdirSync(join(tmp, 'one'));
    mkdirSync(join(tmp, 'many'));
    log('1 rank …');
    const a = spawnSync(program[0], [...program.slice(1), '--worker', 'single', '--worker-out', join(tmp, 'one')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (a.status !== 0) throw new Error(`the single-rank run failed (exit ${a.status})`);
    log(`${config.ranks} ranks (mpirun) …`);
    const b = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(config.ranks), ...program, '--worker', 'mpi', '--worker-out', join(tmp, 'many')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, OMPI_MCA_rmaps_base_oversubscribe: '1' },
    });
    if (b.error !== undefined || b.status !== 0) throw new Error(`the mpirun run failed (${b.error?.message ?? `exit ${b.status}`}); is Open MPI installed and npm run build:mpi done?`);
    const read = (dir: string, r: number) => JSON.parse(readFileSync(join(tmp, dir, `rank${r}.json`), 'utf8')) as WorkerResult;
    const one = read('one', 0);
    const many = Array.from({ length: config.ranks }, (_, r) => read('many', r));
    const { text, json } = report(config, one, many, (performance.now() - t0) / 1000);
    process.stdout.write(`${text}\n`);
    const dir = resolve(config.out);
    mkdirSync(dir, { recursive: true });
    await writeAtomic(resolve(dir, 'distributed.md'), `${text}\n`);
    await writeAtomic(resolve(dir, 'distributed.json'), `${JSON.stringify({ ...json, machine: await machineDetails(), workers: { one, many } }, null, 1)}\n`);
    log(`wrote ${dir}/distributed.md and distributed.json`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
