/**
 * Shared by test/distributed/dionDataParallel.test.ts and its worker (dionTrain.worker.ts): a tanh MLP
 * 6 → 16 → 16 → 3 (three kernels, three biases, plain variables) trained `steps` steps by `minimize`
 * through `distributed(dion({ rankFraction: 0.25 }), comm)`, each rank on its rows of a fixed global
 * batch of 12 (ranks start from different values: the start-up broadcast fixes them); or, with no
 * communicator, plain `dion` on the whole batch (the one-process reference). Returns the parameters,
 * each Dion matrix's momentum (this rank's own), the names distributed() left to the optimizer and the
 * bytes counted per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dion } from '../../src/tfjs/register.js';
import { distributed } from '../../src/tfjs/distributed.js';
import { countingCommunicator, type Communicator } from '../../src/linalg/communicator.js';
import { isTransformOptimizer } from '../../src/tfjs/optimizer.js';
import { gaussian } from '../support/random.js';

export const GLOBAL = 12;
const WIDTHS = [6, 16, 16, 3];

export interface DionTrainResult {
  params: Record<string, number[]>;
  /** The Dion group's momentum slots, in parameter order (this rank's local momentum). */
  momentum: number[][];
  reduced: string[];
  /** Steps applied and skipped (non-finite gradients). */
  iterations: number;
  skipped: number;
  /** What synchronizeState averaged, and the Dion momenta right after it. */
  synced?: { paths: string[]; momentum: number[][] };
  /** allReduce bytes / calls per step after the first (null without a communicator). */
  traffic: { bytes: number; calls: number; other: number } | null;
  error?: { name: string; message: string };
}

export interface DionTrainOptions {
  readonly steps: number;
  /** Rank whose gradient of `nanStep` gets a NaN (through its loss). */
  readonly nanRank?: number;
  readonly nanStep?: number;
  readonly powerIters?: number;
  readonly nonFinite?: 'throw' | 'skip' | 'ignore';
  /** Before this step, `synchronizeState()` (distributed only). */
  readonly syncAt?: number;
  /** Suffix of the variable names (unique per run in a thread; the same on every rank of a run). */
  readonly tag?: string;
}

export function trainDion(comm: Communicator | null, o: DionTrainOptions): DionTrainResult {
  const rank = comm?.rank ?? 0;
  const size = comm?.size ?? 1;
  const per = GLOBAL / size;
  const x = tf.tensor2d(gaussian(GLOBAL * 6, 101).slice(rank * per * 6, (rank + 1) * per * 6), [per, 6]);
  const y = tf.tensor2d(gaussian(GLOBAL * 3, 102).slice(rank * per * 3, (rank + 1) * per * 3), [per, 3]);
  const seed = 7 + (comm === null ? 0 : rank);
  const vars: tf.Variable[] = [];
  for (let l = 0; l + 1 < WIDTHS.length; l++) {
    const [i, n] = [WIDTHS[l], WIDTHS[l + 1]];
    vars.push(tf.tidy(() => tf.variable(tf.tensor2d(Float32Array.from(gaussian(i * n, seed + l), (v) => v / Math.sqrt(i)), [i, n]), true, `dion_k${l}_${o.tag ?? 'x'}`)));
    vars.push(tf.tidy(() => tf.variable(tf.tensor1d(Float32Array.from(gaussian(n, seed + 50 + l), (v) => 0.1 * v)), true, `dion_b${l}_${o.tag ?? 'x'}`)));
  }
  const momentaOf = () =>
    isTransformOptimizer(inner) ? inner.stateSlots.filter((s) => /^matrix\/0\/momentum\/\d+$/.test(s.path)).map((s) => Array.from(s.variable.dataSync())) : [];
  let poison = false;
  const loss = () =>
    tf.tidy(() => {
      let h: tf.Tensor = x;
      for (let l = 0; l < vars.length / 2; l++) {
        h = tf.add(tf.matMul(h, vars[2 * l]), vars[2 * l + 1]);
        if (2 * l + 2 < vars.length) h = tf.tanh(h);
      }
      const value = tf.losses.meanSquaredError(y, h) as tf.Scalar;
      return poison ? (tf.mul(value, NaN) as tf.Scalar) : value;
    });
  const inner = dion({ learningRate: 0.02, rankFraction: 0.25, adamwLearningRate: 1e-3, powerIters: o.powerIters ?? 1, ...(o.nonFinite ? { nonFinite: o.nonFinite } : {}) });
  const counted = comm === null ? null : countingCommunicator(comm);
  const opt = counted === null ? inner : distributed(inner, counted);
  let traffic: DionTrainResult['traffic'] = null;
  let synced: DionTrainResult['synced'];
  let error: DionTrainResult['error'];
  try {
    for (let step = 0; step < o.steps; step++) {
      poison = o.nanStep === step && o.nanRank === rank;
      if (step === 1) counted?.reset();
      if (step === o.syncAt && 'synchronizeState' in opt) synced = { paths: opt.synchronizeState(), momentum: momentaOf() };
      opt.minimize(loss, false, vars);
    }
    if (counted !== null) {
      const t = counted.traffic();
      const other = Object.entries(t.bytes).reduce((a, [k, b]) => a + (k === 'allReduce' ? 0 : b), 0);
      traffic = { bytes: t.bytes.allReduce / (o.steps - 1), calls: t.calls.allReduce / (o.steps - 1), other };
    }
  } catch (e) {
    error = { name: (e as Error).name, message: (e as Error).message.replaceAll(`_${o.tag ?? 'x'}'`, "'") };
  }
  if (!isTransformOptimizer(inner)) throw new Error('dion is not an orthoptim optimizer');
  const momentum = momentaOf();
  const params = Object.fromEntries(vars.map((v) => [v.name.slice(0, v.name.lastIndexOf('_')), Array.from(v.dataSync())]));
  const iterations = inner.iterations;
  const skipped = inner.skippedSteps;
  const reduced = 'reducedByOptimizer' in opt ? opt.reducedByOptimizer.map((n) => n.slice(0, n.lastIndexOf('_'))) : [];
  opt.dispose();
  tf.dispose([x, y, ...vars]);
  return { params, momentum, reduced, iterations, skipped, traffic, ...(synced ? { synced } : {}), ...(error ? { error } : {}) };
}
