/**
 * The training of the checkpoint fault suite (test/robustness/checkpoint.test.ts), shared by the test and
 * by the child process it kills: adamw on a [3, 4] kernel and a [4] bias, with gradients that depend on
 * the step only — so the optimizer state after step n is the same however the run was interrupted.
 *
 * Run as `node --import tsx test/robustness/checkpointChild.ts --save-loop DIR`: resumes from the
 * checkpoint in DIR if there is one, then steps and saves into DIR forever, printing `saving N` before
 * and `saved N` after each save of step N — until it is killed.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { adamw, type TransformOptimizer } from '../../src/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/index.js';

export const SHAPES = [[3, 4], [4]];

/** The optimizer of the suite. */
export function makeOptimizer(): TransformOptimizer {
  return adamw({ learningRate: 0.01, weightDecay: 0.1 });
}

let uid = 0;
/** Fresh variables of {@link SHAPES}. */
export function makeVariables(): tf.Variable[] {
  return SHAPES.map((s) => tf.variable(tf.zeros(s), true, `ckfault${process.pid}_${uid++}`));
}

/** One step with the gradients of step `step` (a function of the step alone). */
export function trainStep(opt: TransformOptimizer, vars: tf.Variable[], step: number): void {
  const g = vars.map((v, i) => ({
    name: v.name,
    tensor: tf.tensor(Array.from({ length: v.size }, (_, k) => Math.sin(0.37 * step + 1.3 * i + 0.71 * k)), v.shape),
  }));
  opt.applyGradients(g);
  tf.dispose(g.map((x) => x.tensor));
}

async function saveLoop(dir: string): Promise<never> {
  await tf.setBackend('cpu');
  const opt = makeOptimizer();
  const vars = makeVariables();
  try {
    await loadCheckpoint(opt, dir);
  } catch (e) {
    if (!/no manifest\.json there/.test((e as Error).message)) throw e;
  }
  for (;;) {
    trainStep(opt, vars, opt.step);
    process.stdout.write(`saving ${opt.step}\n`);
    await saveCheckpoint(opt, dir);
    process.stdout.write(`saved ${opt.step}\n`);
  }
}

if (process.argv[2] === '--save-loop') {
  tf.env().set('PROD', true);
  await saveLoop(process.argv[3]);
}
