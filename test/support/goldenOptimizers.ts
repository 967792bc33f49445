/**
 * One place that says how each golden file's PyTorch hyper-parameters map onto an orthoptim optimizer
 * (no Node module: the browser test page uses it too). Replay-only options restore the references'
 * documented quirks (golden README): `convScale: 'torchKernel'` for Muon-family conv scales, NorMuon's 4-D
 * reading, AuON's explicit routes.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { GoldenFile } from './goldenCore.js';
import { adam, adamw, adaMuon, auon, dog, hybridAuon, ldog, muon, norMuon, root, sgd, turboMuon } from '../../src/index.js';

type Hp = Record<string, unknown>;
export type GoldenOptimizer = (g: GoldenFile) => tf.Optimizer;

/** The auxiliary AdamW of a `*_aux_adam` file: its second parameter group. */
function auxiliaryAdam(g: GoldenFile) {
  const [, a] = g.effective_hyperparams as Hp[];
  const betas = a.betas as number[];
  return {
    adamwLearningRate: a.lr as number,
    adamwBeta1: betas[0],
    adamwBeta2: betas[1],
    adamwEpsilon: a.eps as number,
    adamwWeightDecay: a.weight_decay as number,
  };
}

/** The matrix group's hyper-parameters: `hyperparams`, or the first group of `effective_hyperparams`. */
function matrixGroup(g: GoldenFile): Hp {
  return g.effective_hyperparams ? (g.effective_hyperparams as Hp[])[0] : (g.hyperparams as Hp);
}

function torchAdam(factory: typeof adam): GoldenOptimizer {
  return (g) => {
    const hp = g.effective_hyperparams as Hp;
    const betas = hp.betas as number[];
    return factory({
      learningRate: hp.lr as number,
      beta1: betas[0],
      beta2: betas[1],
      epsilon: hp.eps as number,
      weightDecay: hp.weight_decay as number,
      amsgrad: hp.amsgrad as boolean,
    });
  };
}

function muonFamily(g: GoldenFile) {
  const m = matrixGroup(g);
  return {
    learningRate: m.lr as number,
    momentum: m.momentum as number,
    weightDecay: m.weight_decay as number,
    ...(g.effective_hyperparams ? auxiliaryAdam(g) : {}),
  };
}

/** Golden method name → the optimizer that replays it. */
export const goldenOptimizers: Record<string, GoldenOptimizer> = {
  muon: (g) => muon({ ...muonFamily(g), nesterov: g.injected?.['muon_update.nesterov'] !== false, convScale: 'torchKernel' }),
  muon_aux_adam: (g) => muon({ ...muonFamily(g), convScale: 'torchKernel' }),
  turbo_muon: (g) => turboMuon({ ...muonFamily(g), variant: matrixGroup(g).variant as 'turbo' | 'standard', convScale: 'torchKernel' }),
  turbo_muon_aux_adam: (g) =>
    turboMuon({ ...muonFamily(g), variant: matrixGroup(g).variant as 'turbo' | 'standard', convScale: 'torchKernel' }),
  normuon: (g) =>
    norMuon({
      ...muonFamily(g),
      beta2: matrixGroup(g).beta2 as number,
      nesterov: g.injected?.['normuon_update.nesterov'] !== false,
      convScale: 'torchKernel',
    }),
  normuon_aux_adam: (g) => norMuon({ ...muonFamily(g), beta2: matrixGroup(g).beta2 as number, convScale: 'torchKernel' }),
  adamuon: (g) => {
    const hp = g.hyperparams as Hp;
    return adaMuon({
      learningRate: hp.lr as number,
      momentum: hp.momentum as number,
      nesterov: hp.nesterov as boolean,
      nsSteps: hp.ns_steps as number,
      epsilon: hp.eps as number,
      weightDecay: hp.weight_decay as number,
      convScale: 'torchKernel',
    });
  },
  auon: (g) => {
    const hp = g.hyperparams as Hp;
    return auon({
      learningRate: hp.lr as number,
      momentum: hp.momentum as number,
      weightDecay: hp.weight_decay as number,
      gamma: hp.gamma as number,
      paramLabels: g.param_order!.map(() => 'matrix' as const),
    });
  },
  hybrid_auon: (g) => {
    const hp = g.hyperparams as Hp;
    return hybridAuon({
      learningRate: hp.lr as number,
      momentum: hp.momentum as number,
      weightDecay: hp.weight_decay as number,
      gamma: hp.gamma as number,
      paramLabels: g.param_order!.map(() => 'matrix' as const),
      nsSteps: hp.ns_steps as number,
      convScale: 'torchKernel',
    });
  },
  root: (g) => {
    const hp = g.hyperparams as Hp;
    const betas = hp.adamw_betas as number[];
    return root({
      learningRate: hp.lr as number,
      weightDecay: hp.wd as number,
      momentum: hp.momentum as number,
      nesterov: hp.nesterov as boolean,
      nsSteps: hp.root_steps as number,
      adamwBeta1: betas[0],
      adamwBeta2: betas[1],
      adamwEpsilon: hp.adamw_eps as number,
      paramLabels: g.param_order!.map((p) => ((hp.root_params as string[]).includes(p) ? 'matrix' : 'adamw')),
    });
  },
  torch_adam: torchAdam(adam),
  torch_adamw: torchAdam(adamw),
  torch_sgd: (g) => {
    const hp = g.effective_hyperparams as Hp;
    return sgd({
      learningRate: hp.lr as number,
      momentum: hp.momentum as number,
      dampening: hp.dampening as number,
      nesterov: hp.nesterov as boolean,
      weightDecay: hp.weight_decay as number,
    });
  },
  dog: (g) => dog(dogOptions(g)),
  ldog: (g) => ldog(dogOptions(g)),
};

/** formll/dog's hyper-parameters (`reps_rel`, `lr`, `weight_decay`, `eps`, `init_eta`) as DoG options. */
function dogOptions(g: GoldenFile) {
  const hp = g.hyperparams as Hp;
  return {
    learningRate: hp.lr as number,
    repsRel: hp.reps_rel as number,
    initEta: (hp.init_eta as number | undefined) ?? null,
    epsilon: hp.eps as number,
    weightDecay: hp.weight_decay as number,
  };
}
