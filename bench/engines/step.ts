/**
 * `bench:engines` section 4: ms per `applyGradients` of `muon({engine})` and `turboMuon({engine})` per
 * engine beside `adamw()`, on an MLP with four 1024×1024 hidden kernels.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { adamw, describeEngine, muon, turboMuon, type EngineName } from '../../src/index.js';
import { formatMs, measureRounds, now, repeatsFor, sync } from '../timing.js';
import { type EngineStepConfig, type StepResult, type StepRow } from './settings.js';
import { availability } from './common.js';
import { standardFlops } from '../../src/linalg/flops.js';

let stepInstance = 0;

/** Section 4: ms per `applyGradients` of `adamw()`, `muon({engine})` and `turboMuon({engine})` on an MLP (fixed gradients). */
export async function runEngineStepSection(
  config: EngineStepConfig,
  engines: readonly EngineName[],
  limitGflops: number = NaN,
  log: (msg: string) => void = () => {},
): Promise<StepResult> {
  const start = now();
  const id = stepInstance++;
  const params: { name: string; shape: number[] }[] = [];
  for (let l = 1; l < config.layers.length; l++) {
    params.push({ name: `dense_${l}/kernel`, shape: [config.layers[l - 1], config.layers[l]] });
    params.push({ name: `dense_${l}/bias`, shape: [config.layers[l]] });
  }
  const nsFlopsPerStep = params
    .filter((p) => p.shape.length === 2)
    .reduce((s, p) => s + standardFlops(p.shape[0], p.shape[1], 5), 0);
  const grads = params.map((p, i) => tf.randomNormal(p.shape, 0, 0.01, 'float32', config.seed + i));
  const inits = params.map((p, i) => tf.randomNormal(p.shape, 0, 1 / Math.sqrt(p.shape[0]), 'float32', config.seed + 1000 + i));
  const backend = tf.getBackend();
  interface Contender {
    name: string;
    engine: EngineName | null;
    optimizer: tf.Optimizer;
    vars: tf.Variable[];
    firstStepMs: number;
  }
  const contenders: Contender[] = [];
  const unavailable: StepRow[] = [];
  const make = (name: string, engine: EngineName | null, optimizer: tf.Optimizer, tag: string): Contender => ({
    name,
    engine,
    optimizer,
    vars: params.map((p, i) => tf.variable(inits[i], true, `bench_engines${id}_${tag}/${p.name}`)),
    firstStepMs: NaN,
  });
  contenders.push(make('adamw()', null, adamw(), 'adamw'));
  for (const engine of engines) {
    const a = availability(engine);
    // Muon, and Turbo-Muon (AOL preconditioning + 4 steps; its "× of the limit" is taken against Muon's NS flops).
    for (const [recipe, factory] of [['muon', muon], ['turboMuon', turboMuon]] as const) {
      const name = `${recipe}({engine: '${engine}'})`;
      if (a.ok) contenders.push(make(name, engine, factory({ engine }), `${recipe}_${engine}`));
      else {
        unavailable.push({
          name, engine, description: describeEngine(engine, backend), status: 'unavailable', reason: a.reason,
          firstStepMs: NaN, msPerStep: null, ratioToAdamw: NaN, xLimitNs: NaN, leakedTensorsPerStep: NaN,
        });
      }
    }
  }
  const growth = new Map<string, number>();
  let recording = false;
  const stepOnce = async (c: Contender): Promise<number> => {
    const named = c.vars.map((v, i) => ({ name: v.name, tensor: grads[i] }));
    const count = tf.memory().numTensors;
    const t0 = now();
    c.optimizer.applyGradients(named);
    await sync(c.vars[c.vars.length - 1]);
    const ms = now() - t0;
    if (recording) growth.set(c.name, (growth.get(c.name) ?? 0) + tf.memory().numTensors - count);
    return ms;
  };
  let roundIndex = 0;
  const round = async (): Promise<Record<string, number>> => {
    const times: Record<string, number> = {};
    const shift = roundIndex++ % contenders.length;
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + shift) % contenders.length];
      times[c.name] = await stepOnce(c);
    }
    return times;
  };
  try {
    let warmRoundMs = 0;
    for (let w = 0; w < Math.max(1, config.warmup); w++) {
      const t0 = now();
      const times = await round();
      warmRoundMs = now() - t0;
      if (w === 0) for (const c of contenders) c.firstStepMs = times[c.name];
    }
    log(`  step: warm-up round ${formatMs(warmRoundMs)}`);
    recording = true;
    const steps = repeatsFor(config.budgetMs, warmRoundMs, config.minSteps, config.maxSteps);
    const m = await measureRounds(round, { warmup: 0, repeats: steps });
    const base = m.stats['adamw()'].median;
    const rows: StepRow[] = contenders.map((c) => ({
      name: c.name,
      engine: c.engine,
      description: c.engine === null ? `no orthogonalization (backend ${backend})` : describeEngine(c.engine, backend),
      status: 'measured',
      firstStepMs: c.firstStepMs,
      msPerStep: m.stats[c.name],
      ratioToAdamw: m.stats[c.name].median / base,
      xLimitNs: c.engine === null ? NaN : m.stats[c.name].median / (nsFlopsPerStep / (limitGflops * 1e6)),
      leakedTensorsPerStep: (growth.get(c.name) ?? 0) / Math.max(1, steps),
    }));
    rows.push(...unavailable);
    log(`  step: ${rows.map((r) => `${r.name} ${r.msPerStep === null ? 'n/a' : formatMs(r.msPerStep.median)}`).join(', ')}`);
    return {
      layers: [...config.layers],
      params,
      totalParams: params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
      nsFlopsPerStep,
      warmup: Math.max(1, config.warmup),
      steps,
      rows,
      wallMs: now() - start,
    };
  } finally {
    for (const c of contenders) {
      c.optimizer.dispose();
      tf.dispose(c.vars);
    }
    tf.dispose([...grads, ...inits]);
  }
}
