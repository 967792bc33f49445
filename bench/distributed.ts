/**
 * `npm run bench:distributed` (issue 17 items 4 and 6): data-parallel step time with 1 and 2 ranks and
 * the bytes each optimizer's collectives carry per step, **measured** by a counting communicator
 * (`countingCommunicator`), on MLPs of the fashion-mnist shape (784-512-512-10, 0.67 M parameters),
 * the issue's 5 M-parameter one (784-2048-2048-10, 5.8 M), both on synthetic data, and the character
 * transformer of `bench:fit` / `shakespeare-char-small` (2 blocks, width 64, 4 heads, context 64, GELU
 * MLP ×4, vocabulary 65; `charTransformerLogits` from src/bench/tasks/shakespeare.ts) on random
 * characters (global batch 16 windows there).
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
 * - `dion DDP r=¼`: `distributed(dion({ rankFraction: 0.25 }), comm)` — data-parallel Dion (microsoft/dion
 *   `dion_reference.py`, `compressed_all_reduce`): each matrix's P (`pDim×r`) and R (`qDim×r`)
 *   all-reduced instead of its gradient, each rank's momentum its own; the biases (AdamW) all-reduced
 *   as usual; plus one float per matrix (max|B|) and a non-finite flag per step.
 * Bytes: the payload each rank hands to each collective per step after a warm-up step (which also runs
 * the start-up broadcast): an all-reduce of n floats counts 4n, an all-gather the whole gathered
 * result. For Dion the table also gives what the factors' shapes predict (`Σ (m + n)·r` over the
 * compressed matrices, + the rest) and the paper's `2r/n` (Ahn et al. 2025: factors of an n×n matrix at
 * rank r ÷ its gradient). The N-host columns are a **model, not a measurement**: ring collectives (an
 * all-reduce moves 2(N−1)/N of its payload per rank, an all-gather (N−1)/N) at the all-reduce bus
 * bandwidth measured here between the 2 local ranks (shared memory), or `--bandwidth-gbps`.
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
import { countingCommunicator, singleRankCommunicator, type CountingCommunicator } from '../src/linalg/communicator.js';
import { charTransformerLogits, charTransformerParams, type CharTransformerConfig } from '../src/bench/tasks/shakespeare.js';
import { sparseSoftmaxCrossEntropy } from '../src/bench/tasks/ops.js';
import { mpiCommunicator } from '../src/node/mpi.js';
import { writeAtomic } from '../src/node/fileSystem.js';
import { mulberry32 } from '../src/core/random.js';
import { commandLine, parseArgs, usageError, type CommandSpec } from '../src/cli/args.js';

/** An MLP (layer widths) or the character transformer. */
type ModelSpec = { kind: 'mlp'; widths: readonly number[] } | { kind: 'transformer'; config: CharTransformerConfig; windows: number };

const CHAR_SMALL: CharTransformerConfig = { vocab: 65, layers: 2, width: 64, heads: 4, context: 64, mlpRatio: 4, activation: 'gelu' };

const MODELS: Record<string, ModelSpec> = {
  'fashion-mlp': { kind: 'mlp', widths: [784, 512, 512, 10] },
  'mlp-5m': { kind: 'mlp', widths: [784, 2048, 2048, 10] },
  'char-transformer': { kind: 'transformer', config: CHAR_SMALL, windows: 16 },
};
const ROWS = ['adamw DDP', 'muon DDP', 'muon sharded', 'dion DDP r=¼'] as const;

const command = {
  name: 'npm run bench:distributed --',
  summary: 'Data-parallel step time on 1 and 2 ranks (mpirun) and bytes communicated per step: AdamW DDP, Muon DDP, sharded Muon, Dion r=¼.',
  flags: {
    models: { type: 'list', default: ['fashion-mlp', 'mlp-5m', 'char-transformer'], description: `Models (${Object.keys(MODELS).join(', ')}).` },
    rows: { type: 'list', default: [...ROWS], description: `Timed optimizers (${ROWS.join(', ')}).` },
    steps: { type: 'integer', default: 2, min: 1, description: 'Timed steps per row (after one warm-up step).' },
    'steps-large': { type: 'integer', default: 1, min: 1, description: 'Timed steps per row on a model over 2 M parameters (mlp-5m).' },
    skip: {
      type: 'list',
      default: ['mlp-5m:muon DDP', 'mlp-5m:dion DDP r=¼'],
      description:
        "model:row pairs not run (default: Muon DDP on the 5 M model, whose one-rank step is Muon sharded's, and Dion there, ≈ 13 s a step; keeps the bench under 3 min). --skip '' runs all (≈ 200 s here).",
    },
    batch: { type: 'integer', default: 128, min: 2, description: 'Global batch of the MLPs (each of N ranks gets batch/N rows); the transformer takes 16 windows of 64 characters.' },
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
  const badModel = f.models.find((m) => !Object.hasOwn(MODELS, m));
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

/** Payload bytes per collective kind per step (countingCommunicator). */
interface Counts {
  allReduce: number;
  allGather: number;
  broadcast: number;
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

/** A model's variables, loss on this rank's shard, and the names that Muon / Dion leave to AdamW. */
interface BenchModel {
  vars: tf.Variable[];
  loss: () => tf.Scalar;
  exclude: string[];
  parameters: number;
  large: boolean;
  data: tf.Tensor[];
}

function buildModel(spec: ModelSpec, tag: string, rank: number, size: number, batch: number): BenchModel {
  if (spec.kind === 'mlp') {
    const widths = spec.widths;
    const per = batch / size;
    const classes = widths[widths.length - 1];
    const x = tf.tensor2d(gaussian(per * widths[0], 1000 + rank, 1), [per, widths[0]]);
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: per }, (_, k) => (k * 7 + rank) % classes), 'int32'), classes));
    const vars = mlpVariables(widths, tag);
    const loss = () =>
      tf.tidy(() => {
        let h: tf.Tensor = x;
        for (let l = 0; l < vars.length / 2; l++) {
          h = tf.add(tf.matMul(h, vars[2 * l]), vars[2 * l + 1]);
          if (2 * l + 2 < vars.length) h = tf.relu(h);
        }
        return tf.losses.softmaxCrossEntropy(labels, h) as tf.Scalar;
      });
    const parameters = vars.reduce((a, v) => a + v.size, 0);
    return { vars, loss, exclude: [], parameters, large: parameters > 2e6, data: [x, labels] };
  }
  const c = spec.config;
  if (spec.windows % size !== 0) throw new Error(`${spec.windows} windows do not split into ${size} ranks`);
  const per = spec.windows / size;
  const T = c.context;
  const rand = mulberry32(2000 + rank);
  const ids = Int32Array.from({ length: per * (T + 1) }, () => Math.floor(rand() * c.vocab));
  const windows = (offset: number) => Int32Array.from({ length: per * T }, (_, k) => ids[Math.floor(k / T) * (T + 1) + (k % T) + offset]);
  const inputs = tf.tensor2d(windows(0), [per, T], 'int32');
  const targets = tf.tensor1d(windows(1), 'int32');
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9) as tf.Tensor2D);
  const vars = charTransformerParams(c, 5).map((p) => tf.tidy(() => tf.variable(tf.tensor(p.values, [...p.shape], 'float32'), true, `${tag}_${p.name}`)));
  const loss = () => tf.tidy(() => sparseSoftmaxCrossEntropy(charTransformerLogits(c, vars, inputs, mask), targets));
  const parameters = vars.reduce((a, v) => a + v.size, 0);
  // the embeddings and the head go to AdamW, as bench:fit's roles route them
  return { vars, loss, exclude: ['embed/', 'head/'], parameters, large: false, data: [inputs, targets, mask] };
}

interface RowResult {
  model: string;
  row: string;
  parameters: number;
  msPerStep: number[];
  bytesPerStep: Counts;
  stateBytes: number;
  /** Dion: bytes per step the factors' shapes predict (Σ (m + n)·r of its compressed matrices, the rest in full). */
  predictedBytes?: number;
}

interface WorkerResult {
  rank: number;
  size: number;
  rows: RowResult[];
  busBandwidthGBps: number | null;
}

async function runWorker(config: Config): Promise<void> {
  await useBackend(config.backend);
  const base = config.worker === 'mpi' ? mpiCommunicator({ timeoutMs: 300_000 }) : singleRankCommunicator();
  const comm: CountingCommunicator = countingCommunicator(base);
  const { rank, size } = comm;
  const rows: RowResult[] = [];
  for (const model of config.models) {
    for (const row of config.rows) {
      if (config.skip.includes(`${model}:${row}`)) continue;
      const m = buildModel(MODELS[model], `${model}_${row.replace(/[^a-z]/g, '')}`, rank, size, config.batch);
      const steps = m.large ? config.stepsLarge : config.steps;
      const exclude = m.exclude.length > 0 ? { exclude: m.exclude } : {};
      const inner =
        row === 'adamw DDP'
          ? adamw({ learningRate: 1e-3 })
          : row === 'dion DDP r=¼'
            ? dion({ learningRate: 0.01, rankFraction: 0.25, ...exclude })
            : muon({ learningRate: 0.02, ...exclude });
      const opt = distributed(inner, comm, { shardOptimizerState: row === 'muon sharded' });
      opt.minimize(m.loss, false, m.vars); // warm-up: start-up hash + broadcast, state creation
      comm.barrier();
      comm.reset();
      const ms: number[] = [];
      for (let s = 0; s < steps; s++) {
        comm.barrier();
        const t = performance.now();
        opt.minimize(m.loss, false, m.vars);
        m.vars[0].dataSync();
        ms.push(performance.now() - t);
      }
      const b = comm.traffic().bytes;
      // the barriers of the timing loop carry no payload
      let predictedBytes: number | undefined;
      if (row === 'dion DDP r=¼' && isTransformOptimizer(inner)) {
        // Q of the k-th Dion matrix is `matrix/…/q/k` ([qDim, r]); its P is [pDim, r]
        const qs = inner.stateSlots.filter((slot) => /\/q\/\d+$/.test(slot.path)).map((slot) => slot.variable.shape);
        const reduced = new Set(opt.reducedByOptimizer);
        const matrices = m.vars.filter((v) => v.rank >= 2 && !m.exclude.some((e) => v.name.includes(e)));
        if (qs.length !== matrices.length) throw new Error(`dion: ${qs.length} Q slots for ${matrices.length} matrices`);
        let floats = 0;
        for (const v of m.vars) if (!reduced.has(v.name)) floats += v.size;
        matrices.forEach((v, k) => {
          const [qDim, r] = [qs[k][0] ?? 0, qs[k][1] ?? 0];
          if (reduced.has(v.name)) floats += (v.size / qDim + qDim) * r + 1; // P, R, max|B|
        });
        predictedBytes = 4 * (floats + 1); // + the non-finite flag
      }
      rows.push({
        model,
        row,
        parameters: m.parameters,
        msPerStep: ms,
        bytesPerStep: { allReduce: b.allReduce / steps, allGather: b.allGather / steps, broadcast: b.broadcast / steps },
        stateBytes: opt.stateBytes(),
        ...(predictedBytes !== undefined ? { predictedBytes } : {}),
      });
      process.stderr.write(`rank ${rank}/${size}: ${model} ${row}: ${ms.map((x) => x.toFixed(0)).join(', ')} ms\n`);
      opt.dispose();
      tf.dispose([...m.vars, ...m.data]);
    }
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
  const result: WorkerResult = { rank, size, rows, busBandwidthGBps };
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
    for (const row of config.rows) {
      if (config.skip.includes(`${model}:${row}`)) continue;
      const r1 = one.rows.find((r) => r.model === model && r.row === row)!;
      const rn = many.map((w) => w.rows.find((r) => r.model === model && r.row === row)!);
      const full = 4 * r1.parameters;
      const t1 = median(r1.msPerStep);
      // the step of N ranks is the slowest rank's
      const tn = Math.max(...rn.map((r) => median(r.msPerStep)));
      const c = rn[0].bytesPerStep;
      const bytes = c.allReduce + c.allGather + c.broadcast;
      const dion = r1.predictedBytes !== undefined;
      table.push([
        model,
        row,
        t1.toFixed(0),
        tn.toFixed(0),
        (t1 / tn).toFixed(2),
        mb(c.allReduce),
        mb(c.allGather),
        (bytes / full).toFixed(2),
        dion ? (r1.predictedBytes! / full).toFixed(2) : '–',
        dion ? '0.50' : '–',
        rn.map((r) => mb(r.stateBytes)).join(' / '),
        ...config.hosts.map((h) => (1000 * ringSeconds(c, h)).toFixed(1)),
      ]);
      json.push({
        model,
        row,
        parameters: r1.parameters,
        msPerStep1: r1.msPerStep,
        msPerStepN: rn.map((r) => r.msPerStep),
        bytesPerStep: c,
        bytesPerStep1: r1.bytesPerStep,
        ratioToFullAllReduce: bytes / full,
        ...(dion ? { predictedBytes: r1.predictedBytes, predictedRatio: r1.predictedBytes! / full, paperRatio: 0.5 } : {}),
        stateBytesPerRank: rn.map((r) => r.stateBytes),
        stateBytes1: r1.stateBytes,
        modelledCommMs: Object.fromEntries(config.hosts.map((h) => [h, 1000 * ringSeconds(c, h)])),
      });
    }
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
    { header: 'from factor shapes', align: 'right' as const },
    { header: 'paper 2r/n', align: 'right' as const },
    { header: `state MiB per rank (${n})`, align: 'right' as const },
    ...config.hosts.map((h) => ({ header: `model: comm ms, ${h} hosts`, align: 'right' as const })),
  ];
  lines.push(formatTable(columns, table));
  lines.push('');
  lines.push(
    `Global batch ${config.batch} for the MLPs (${config.batch / n} rows per rank with ${n} ranks), 16 windows of 64 characters for the transformer, ${config.backend} backend, median of ${config.steps} steps (${config.stepsLarge} on a model over 2 M parameters) after a warm-up${config.skip.length > 0 ? `, not run: ${config.skip.join(', ')}` : ''}; ` +
      `${n} ranks = mpirun -np ${n} on this host (${cpus().length} CPUs shared with other jobs: the ${n}-rank time includes contention). ` +
      `Bytes: **measured**, the payload per rank per step counted by countingCommunicator around the real communicator (an all-gather: the whole gathered result). "÷ full all-reduce": bytes ÷ 4·parameters. ` +
      `Dion: "from factor shapes" is Σ (m + n)·r over its compressed matrices plus the other parameters in full (+ one max per matrix and a flag), "paper 2r/n" the paper's ratio for an n×n matrix at rank r = n/4 (Ahn et al. 2025); ` +
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
