/**
 * `bench:engines` section 1, the matmul limit: the best float32 matmul rate of size×size products on
 * tfjs-wasm, on onnxruntime (a one-`MatMul` ONNX graph) and on worker threads (`./limit.worker.ts`).
 * @module
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { type EngineName } from '../../src/index.js';
import { matMulModel, type OnnxRuntime, type OrtSession } from '../../src/engines/onnxGraph.js';
import { loadOnnxRuntime } from '../../src/engines/onnxruntime.js';
import { formatMs, now, repeatsFor, sync, timeOnce } from '../timing.js';
import { stats, type Stats } from '../../src/bench/stats.js';
import { seededUniform } from '../../src/bench/inputs.js';
import type { LimitWorkerData } from './limit.worker.js';
import { SyncWorker, waitAll } from '../../src/engines/bridge.js';
import { type LimitConfig, type LimitResult, type LimitRow } from './settings.js';

/** One way of multiplying the limit's matrices, set up once and timed repeatedly. */
export interface MatmulProbe {
  readonly engine: EngineName;
  readonly method: string;
  readonly threads: number;
  /** size·size · size·size flops. */
  readonly flops: number;
  /** One product on a fresh right operand (prepared untimed); returns its wall time in ms. */
  once(): Promise<number>;
  close(): Promise<void>;
}

/** Warm-up products (the last one timed sizes the repeats), then the recorded ones. */
async function repeated(config: LimitConfig, probe: MatmulProbe): Promise<Stats> {
  let warm = 0;
  for (let i = 0; i < Math.max(1, config.warmup); i++) warm = await probe.once();
  const repeats = repeatsFor(config.budgetMs, warm, config.minRepeats, config.maxRepeats);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await probe.once());
  return stats(times);
}

/** tfjs-wasm `tf.matMul` on the calling thread. */
function tfjsProbe(size: number): MatmulProbe {
  const a = tf.randomNormal([size, size], 0, 1, 'float32', 1);
  const b = tf.randomNormal([size, size], 0, 1, 'float32', 2);
  return {
    engine: 'tfjs',
    method: `tf.matMul ${size}×${size} on tfjs-wasm (fresh right operand)`,
    threads: 1,
    flops: 2 * size ** 3,
    async once() {
      const fresh = tf.add(b, 0);
      await sync(fresh);
      const { ms } = await timeOnce(() => tf.matMul(a, fresh));
      fresh.dispose();
      return ms;
    },
    close() {
      tf.dispose([a, b]);
      return Promise.resolve();
    },
  };
}

/** A one-MatMul ONNX graph on onnxruntime-node. */
async function onnxProbe(ort: OnnxRuntime, size: number, threads: number, spinning: boolean): Promise<MatmulProbe> {
  const session: OrtSession = await ort.InferenceSession.create(matMulModel(), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } },
  });
  const a = new ort.Tensor('float32', seededUniform(size * size, 1), [size, size]);
  const bData = seededUniform(size * size, 2);
  return {
    engine: 'onnxruntime',
    method: `one-MatMul ONNX graph ${size}×${size}, ${spinning ? 'spinning' : 'non-spinning'} threads`,
    threads,
    flops: 2 * size ** 3,
    async once() {
      // a new tensor on the same data: onnxruntime keeps nothing of an input between runs, and a 16 MB
      // copy per product would only feed the garbage collector (which then competes for the 2 cores)
      const b = new ort.Tensor('float32', bData, [size, size]);
      const t0 = now();
      const out = await session.run({ A: a, B: b });
      const ms = now() - t0;
      if ((out.Y.data as Float32Array).length !== size * size) throw new Error('onnxruntime MatMul: wrong output size');
      return ms;
    },
    close: () => session.release(),
  };
}

/** The worker threads' module (`./limit.worker.ts`; SyncWorker runs the .ts through tsx when unbuilt). */
const LIMIT_WORKER = new URL('./limit.worker.js', import.meta.url);

/** Worker threads each multiplying A by its share of B's columns; the wall time of all of them. */
function workersProbe(size: number, threads: number): MatmulProbe {
  const base = Math.floor(size / threads);
  const cols = Array.from({ length: threads }, (_, r) => base + (r < size % threads ? 1 : 0));
  const workers = cols.map(
    (c, rank) => new SyncWorker(LIMIT_WORKER, { name: `limit worker ${rank}`, workerData: { size, cols: c, rank } satisfies LimitWorkerData }),
  );
  // Every thread at once: post to all, then wait for all (the first call starts the threads).
  const all = (method: string): void => {
    for (const w of workers) w.post(method);
    for (const r of waitAll(workers, () => undefined)) if ('error' in r) throw r.error;
  };
  return {
    engine: 'workers',
    method: `${threads} worker threads on tfjs-wasm, each A·B_j on 1/${threads} of the columns (wall time)`,
    threads,
    flops: 2 * size ** 3,
    once() {
      all('prepare');
      const t0 = now();
      all('go');
      return Promise.resolve(now() - t0);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * A probe doing the same product as a limit row (`row.engine` and `row.method`, e.g. the best one) — for
 * timing the limit again inside other sections' rounds (`EngineNsConfig.limitInRounds`). Close it after use.
 */
export async function probeLike(config: LimitConfig, row: Pick<LimitRow, 'engine' | 'method' | 'threads'>): Promise<MatmulProbe> {
  if (row.engine === 'tfjs') return tfjsProbe(config.size);
  if (row.engine === 'workers') return workersProbe(config.size, row.threads);
  const l = loadOnnxRuntime();
  if (!l.ok) throw new Error(`limit probe: ${l.reason}`);
  return onnxProbe(l.ort, config.size, row.threads, !row.method.includes('non-spinning'));
}

/** Section 1: the best float32 matmul rate of size×size products, per engine. */
export async function runLimitSection(
  config: LimitConfig,
  engines: readonly EngineName[],
  log: (msg: string) => void = () => {},
): Promise<LimitResult> {
  const start = now();
  const flops = 2 * config.size ** 3;
  const rows: LimitRow[] = [];
  const skipped: { engine: EngineName; reason: string }[] = [];
  const open: (() => Promise<MatmulProbe>)[] = [];
  if (engines.includes('tfjs')) open.push(() => Promise.resolve(tfjsProbe(config.size)));
  if (engines.includes('onnxruntime')) {
    const l = loadOnnxRuntime();
    if (!l.ok) skipped.push({ engine: 'onnxruntime', reason: l.reason });
    else {
      const threads = config.onnxThreads ?? os.availableParallelism();
      for (const spinning of [true, false]) open.push(() => onnxProbe(l.ort, config.size, threads, spinning));
    }
  }
  if (engines.includes('workers')) {
    if (config.workerThreads < 1) skipped.push({ engine: 'workers', reason: 'workerThreads = 0' });
    else open.push(() => Promise.resolve(workersProbe(config.size, config.workerThreads)));
  }
  for (const make of open) {
    const probe = await make();
    try {
      const ms = await repeated(config, probe);
      const row = {
        engine: probe.engine, method: probe.method, threads: probe.threads, ms,
        gflops: flops / (ms.median * 1e6), peakGflops: flops / (ms.min * 1e6), xLimit: NaN,
      };
      rows.push(row);
      log(`  limit: ${probe.method}: ${formatMs(ms.median)} (${row.gflops.toFixed(1)} GFLOP/s; best ${formatMs(ms.min)})`);
    } finally {
      await probe.close();
    }
  }
  const bestOf = (rate: (r: LimitRow) => number) => {
    let b: LimitRow | null = null;
    for (const r of rows) if (b === null || rate(r) > rate(b)) b = r;
    return b === null ? null : { engine: b.engine, method: b.method, gflops: rate(b) };
  };
  const best = bestOf((r) => r.gflops);
  const limit = best?.gflops ?? NaN;
  return {
    size: config.size,
    flops,
    rows: rows.map((r) => ({ ...r, xLimit: limit / r.gflops })),
    skipped,
    best,
    peak: bestOf((r) => r.peakGflops),
    wallMs: now() - start,
  };
}
