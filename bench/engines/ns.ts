/**
 * `bench:engines` section 2: `newtonSchulz(x, {engine})` per shape and engine, "× of the limit", the
 * targets, and where the workers engine's time goes (`--workers-profile`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { describeEngine, newtonSchulz, resolveNewtonSchulz, type EngineName } from '../../src/index.js';
import { PROFILE_PHASES, WorkersEngine, type WorkersProfile } from '../../src/engines/workers.js';
import { formatMs, measureRounds, now, repeatsFor, sync, timeOnce } from '../timing.js';
import { stats } from '../../src/bench/stats.js';
import { type Shape } from '../timing.js';
import { makeInput } from '../../src/bench/inputs.js';
import { relativeError } from '../../src/bench/relativeError.js';
import { type EngineNsConfig, type EngineNsResult, type EngineNsRow, type EngineNsShape, type MatmulRates, type WorkersBreakdown, targetShapes, targetXLimit } from './settings.js';
import { availability, sameShape } from './common.js';
import { standardFlops } from '../../src/linalg/flops.js';

/** One shape: first calls, exactness, then interleaved rounds (engine order rotated each round). */
async function benchEngineShape(
  shape: Shape,
  config: EngineNsConfig,
  engines: readonly EngineName[],
  rates: MatmulRates,
  budgetMs: number,
  log: (msg: string) => void,
): Promise<EngineNsShape> {
  const start = now();
  const ns = resolveNewtonSchulz({ coefficients: 'jordan' });
  const steps = ns.steps;
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  const flops = standardFlops(shape[0], shape[1], steps);
  const backend = tf.getBackend();
  const input = makeInput(shape, config.seed);
  const usable = engines.filter((e) => availability(e).ok);
  const callOnce = async (engine: EngineName, keep: boolean) => {
    const x = tf.add(input, 0); // a fresh tensor per call (tfjs-wasm caches packed right operands)
    await sync(x);
    const r = await timeOnce(() => newtonSchulz(x, { ...ns, engine }), keep);
    x.dispose();
    return r;
  };
  const first = new Map<EngineName, { ms: number; data: Float32Array }>();
  try {
    for (const engine of usable) {
      const { ms, out } = await callOnce(engine, true);
      first.set(engine, { ms, data: (await out!.data()) as Float32Array });
      out!.dispose();
    }
    let roundIndex = 0;
    const round = async (): Promise<Record<string, number>> => {
      const times: Record<string, number> = {};
      const shift = roundIndex++ % Math.max(1, usable.length);
      for (let i = 0; i < usable.length; i++) {
        const engine = usable[(i + shift) % usable.length];
        times[engine] = (await callOnce(engine, false)).ms;
      }
      return times;
    };
    const measured = await measureRounds(round, {
      warmup: Math.max(1, config.warmup),
      repeats: (warm) => repeatsFor(budgetMs - (now() - start), warm, config.minRepeats, config.maxRepeats),
    });
    const idealMs = flops / (rates.limit * 1e6);
    const ref = first.get('tfjs')?.data;
    const target = targetShapes.some((s) => sameShape(s, shape)) ? targetXLimit : null;
    const rows: EngineNsRow[] = engines.map((engine) => {
      const description = describeEngine(engine, backend, k * n);
      const a = availability(engine);
      const f = first.get(engine);
      if (!a.ok || f === undefined) {
        return {
          engine, description, status: 'unavailable', reason: a.ok ? 'not run' : a.reason, firstCallMs: NaN, ms: null,
          gflops: NaN, xLimit: NaN, xLimitOfMins: NaN, xOwnMatmul: NaN, target: target?.[engine] ?? null, holds: null, maxRelDiffToTfjs: NaN,
          check: { frobenius: NaN, sample: [] },
        };
      }
      const ms = measured.stats[engine];
      const xLimit = ms.median / idealMs;
      let sq = 0;
      for (const v of f.data) sq += v * v;
      const t = target?.[engine] ?? null;
      return {
        engine,
        description,
        status: 'measured',
        firstCallMs: f.ms,
        ms,
        gflops: flops / (ms.median * 1e6),
        xLimit,
        xLimitOfMins: ms.min / (flops / (rates.peak * 1e6)),
        xOwnMatmul: ms.median / (flops / ((rates.own[engine] ?? NaN) * 1e6)),
        target: t,
        holds: t === null || !Number.isFinite(xLimit) ? null : xLimit <= t,
        maxRelDiffToTfjs: ref === undefined ? NaN : relativeError(f.data, ref).maxRel,
        check: { frobenius: Math.sqrt(sq), sample: Array.from(f.data.slice(0, 8)) },
      };
    });
    log(
      `  NS ${shape.join('x')}: ` +
        rows.map((r) => `${r.engine} ${r.ms === null ? 'n/a' : `${formatMs(r.ms.median)} (×${r.xLimit.toFixed(2)})`}`).join(', ') +
        ` (${measured.rounds.length} repeats, ${formatMs(now() - start)})`,
    );
    let breakdown: WorkersBreakdown | undefined;
    if ((config.workersProfile ?? 0) > 0 && usable.includes('workers')) {
      breakdown = await workersBreakdown((await input.data()) as Float32Array, shape, config.workersProfile!);
      log(`  workers breakdown ${shape.join('x')}: wall ${formatMs(breakdown.wallMs)}; ` +
        breakdown.threads.map((t, i) => `thread ${i}: ${PROFILE_PHASES.map((p) => `${p} ${t[p].toFixed(0)}`).join(' ')}`).join(' | '));
    }
    return {
      shape, k, n, steps, flops, idealMs,
      repeats: measured.rounds.length, warmupRoundMs: measured.warmupRoundMs, rows,
      ...(breakdown === undefined ? {} : { workersBreakdown: breakdown }),
    };
  } finally {
    input.dispose();
  }
}

/**
 * The workers engine's time on one shape by thread and phase: `calls` calls (after one untimed) of a
 * separate `WorkersEngine({profile: true})` with the default options on the raw float32 data.
 */
export async function workersBreakdown(input: Float32Array, shape: Shape, calls: number): Promise<WorkersBreakdown> {
  const engine = new WorkersEngine({ profile: true });
  const ns = resolveNewtonSchulz({ coefficients: 'jordan' });
  const iteration = { steps: Array.from({ length: ns.steps }, () => [3.4445, -4.775, 2.0315] as const), normScale: 1, eps: 1e-7 };
  const matrix = { rows: shape[0], cols: shape[1], data: input };
  try {
    engine.run([matrix], iteration);
    const walls: number[] = [];
    const runs: WorkersProfile[][] = [];
    for (let c = 0; c < calls; c++) {
      const t0 = now();
      engine.run([matrix], iteration);
      walls.push(now() - t0);
      runs.push(engine.lastProfile ?? []);
    }
    const median = (v: number[]) => stats(v).median;
    const threads = (runs[0] ?? []).map((_, t) =>
      Object.fromEntries(PROFILE_PHASES.map((p) => [p, median(runs.map((r) => r[t]?.[p] ?? NaN))])) as WorkersProfile,
    );
    return { calls, wallMs: median(walls), threads };
  } finally {
    await engine.shutdown();
  }
}

/** Section 2: every shape, the budget split over the shapes still to run. */
export async function runEngineNsSection(
  config: EngineNsConfig,
  engines: readonly EngineName[],
  rates: MatmulRates,
  log: (msg: string) => void = () => {},
): Promise<EngineNsResult> {
  const start = now();
  const shapes: EngineNsShape[] = [];
  for (let i = 0; i < config.shapes.length; i++) {
    const left = config.budgetMs - (now() - start);
    shapes.push(await benchEngineShape(config.shapes[i], config, engines, rates, Math.max(0, left) / (config.shapes.length - i), log));
  }
  const startup = shapes.length === 0 ? [] : shapes[0].rows.flatMap((r) =>
    r.ms === null ? [] : [{ engine: r.engine, coldMs: r.firstCallMs, warmMs: r.ms.median, startupMs: r.firstCallMs - r.ms.median }],
  );
  return { shapes, startup, wallMs: now() - start };
}
