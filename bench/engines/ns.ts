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
import {
  type EngineNsConfig, type EngineNsResult, type EngineNsRow, type EngineNsShape, type MatmulRates, type NsIteration, type WorkersBreakdown,
  nsTargets, variantName,
} from './settings.js';
import { availability, sameShape } from './common.js';
import { standardFlops } from '../../src/linalg/flops.js';
import type { MatmulProbe } from './limit.js';

/** One row of a shape: an engine and the iteration it runs. */
interface Variant {
  readonly engine: EngineName;
  readonly iteration: NsIteration;
  readonly name: string;
}

/** The settings of each iteration ({@link NsIteration}). */
function iterationSettings(iteration: NsIteration): ReturnType<typeof resolveNewtonSchulz> {
  return resolveNewtonSchulz({ coefficients: iteration === 'jordan' ? 'jordan' : 'turbo' });
}

/**
 * The rows of a shape: Jordan's iteration on every engine of the run, then Turbo-Muon's on
 * `config.turbo` (those of the run's engines); with `rows: 'targets'`, only those with a target there.
 */
export function shapeVariants(shape: Shape, config: EngineNsConfig, engines: readonly EngineName[]): Variant[] {
  const all: Variant[] = [
    ...engines.map((engine) => ({ engine, iteration: 'jordan' as const })),
    ...engines.filter((e) => config.turbo?.includes(e) === true).map((engine) => ({ engine, iteration: 'turbo' as const })),
  ].map((v) => ({ ...v, name: variantName(v.engine, v.iteration) }));
  if (config.rows !== 'targets') return all;
  return all.filter((v) => nsTargets.some((t) => t.engine === v.engine && t.iteration === v.iteration && sameShape(t.shape, shape)));
}

/** One shape: first calls, exactness, then interleaved rounds (row order rotated each round). */
async function benchEngineShape(
  shape: Shape,
  config: EngineNsConfig,
  engines: readonly EngineName[],
  rates: MatmulRates,
  budgetMs: number,
  log: (msg: string) => void,
  limitProbe?: MatmulProbe,
): Promise<EngineNsShape> {
  const start = now();
  const steps = iterationSettings('jordan').steps;
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  const flops = standardFlops(shape[0], shape[1], steps);
  const backend = tf.getBackend();
  const input = makeInput(shape, config.seed);
  const variants = shapeVariants(shape, config, engines);
  const usable = variants.filter((v) => availability(v.engine).ok);
  const callOnce = async (v: Variant, keep: boolean) => {
    const x = tf.add(input, 0); // a fresh tensor per call (tfjs-wasm caches packed right operands)
    await sync(x);
    const r = await timeOnce(() => newtonSchulz(x, { ...iterationSettings(v.iteration), engine: v.engine }), keep);
    x.dispose();
    return r;
  };
  const first = new Map<string, { ms: number; data: Float32Array }>();
  try {
    for (const v of usable) {
      const { ms, out } = await callOnce(v, true);
      first.set(v.name, { ms, data: (await out!.data()) as Float32Array });
      out!.dispose();
    }
    let roundIndex = 0;
    const round = async (): Promise<Record<string, number>> => {
      const times: Record<string, number> = {};
      const shift = roundIndex++ % Math.max(1, usable.length);
      for (let i = 0; i < usable.length; i++) {
        const v = usable[(i + shift) % usable.length];
        times[v.name] = (await callOnce(v, false)).ms;
      }
      // the limit's product under this round's load ('limit' is no row name: those are engine names)
      if (limitProbe !== undefined) times.limit = await limitProbe.once();
      return times;
    };
    const measured = await measureRounds(round, {
      warmup: Math.max(1, config.warmup),
      repeats: (warm) => repeatsFor(budgetMs - (now() - start), warm, config.minRepeats, config.maxRepeats),
    });
    const idealMs = flops / (rates.limit * 1e6);
    const limitInRoundsGflops = limitProbe === undefined ? NaN : limitProbe.flops / (measured.stats.limit.median * 1e6);
    const rows: EngineNsRow[] = variants.map(({ engine, iteration, name }) => {
      const description = describeEngine(engine, backend, k * n);
      const a = availability(engine);
      const f = first.get(name);
      const t = nsTargets.find((x) => x.engine === engine && x.iteration === iteration && sameShape(x.shape, shape))?.max ?? null;
      // the reference: the tfjs engine's output of the same iteration, when the run timed it
      const ref = first.get(variantName('tfjs', iteration))?.data;
      if (!a.ok || f === undefined) {
        return {
          engine, iteration, name, description, status: 'unavailable', reason: a.ok ? 'not run' : a.reason, firstCallMs: NaN, ms: null,
          gflops: NaN, xLimit: NaN, xLimitOfMins: NaN, xOwnMatmul: NaN, target: t, holds: null, maxRelDiffToTfjs: NaN,
          check: { frobenius: NaN, sample: [] },
        };
      }
      const ms = measured.stats[name];
      const xLimit = ms.median / idealMs;
      let sq = 0;
      for (const v of f.data) sq += v * v;
      return {
        engine,
        iteration,
        name,
        description,
        status: 'measured',
        firstCallMs: f.ms,
        ms,
        gflops: flops / (ms.median * 1e6),
        xLimit,
        xLimitOfMins: ms.min / (flops / (rates.peak * 1e6)),
        xLimitInRounds: ms.median / (flops / (limitInRoundsGflops * 1e6)),
        xOwnMatmul: ms.median / (flops / ((rates.own[engine] ?? NaN) * 1e6)),
        target: t,
        holds: t === null || !Number.isFinite(xLimit) ? null : xLimit <= t,
        maxRelDiffToTfjs: ref === undefined ? NaN : relativeError(f.data, ref).maxRel,
        check: { frobenius: Math.sqrt(sq), sample: Array.from(f.data.slice(0, 8)) },
      };
    });
    log(
      `  NS ${shape.join('x')}: ` +
        rows.map((r) => `${r.name} ${r.ms === null ? 'n/a' : `${formatMs(r.ms.median)} (×${r.xLimit.toFixed(2)})`}`).join(', ') +
        (limitProbe === undefined ? '' : `; limit in rounds ${limitInRoundsGflops.toFixed(1)} GFLOP/s`) +
        ` (${measured.rounds.length} repeats, ${formatMs(now() - start)})`,
    );
    let breakdown: WorkersBreakdown | undefined;
    if ((config.workersProfile ?? 0) > 0 && usable.some((v) => v.engine === 'workers')) {
      breakdown = await workersBreakdown((await input.data()) as Float32Array, shape, config.workersProfile!);
      log(`  workers breakdown ${shape.join('x')}: wall ${formatMs(breakdown.wallMs)}; ` +
        breakdown.threads.map((t, i) => `thread ${i}: ${PROFILE_PHASES.map((p) => `${p} ${t[p].toFixed(0)}`).join(' ')}`).join(' | '));
    }
    return {
      shape, k, n, steps, flops, idealMs,
      repeats: measured.rounds.length, warmupRoundMs: measured.warmupRoundMs, rows,
      ...(limitProbe === undefined ? {} : { limitInRoundsGflops }),
      ...(breakdown === undefined ? {} : { workersBreakdown: breakdown }),
    };
  } finally {
    input.dispose();
  }
}

/**
 * The workers engine's time on one shape by rank and phase: `calls` calls (after one untimed) of a
 * separate `WorkersEngine({profile: true})` with the default options on the raw float32 data — the
 * calling thread's share last, where it takes one (`callingThread`).
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
    return { calls, wallMs: median(walls), threads, callingThread: engine.lastMainThreadTasks > 0 };
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
  limitProbe?: MatmulProbe,
): Promise<EngineNsResult> {
  const start = now();
  const shapes: EngineNsShape[] = [];
  for (let i = 0; i < config.shapes.length; i++) {
    const left = config.budgetMs - (now() - start);
    shapes.push(await benchEngineShape(config.shapes[i], config, engines, rates, Math.max(0, left) / (config.shapes.length - i), log, limitProbe));
  }
  // the first call ever per engine: its first row on the first shape (later rows find it started)
  const startup = shapes.length === 0 ? [] : shapes[0].rows.filter((r, i, all) => all.findIndex((x) => x.engine === r.engine) === i).flatMap((r) =>
    r.ms === null ? [] : [{ engine: r.engine, coldMs: r.firstCallMs, warmMs: r.ms.median, startupMs: r.firstCallMs - r.ms.median }],
  );
  return { shapes, startup, wallMs: now() - start };
}
