/**
 * Registers every recipe of `optimizers/` as a `tf.Optimizer` class (`tf.serialization.registerClass`, so
 * `tf.loadLayersModel` rebuilds it from a saved model), a factory (`muon(options)`) and a
 * `createOptimizer` name — the one place where recipes meet TensorFlow.js. The recipes themselves export
 * a definition and a pure transform (`muonTransform(options)`) and know nothing of tfjs. The order here
 * is `listOptimizers()`'s.
 * @module
 */
import { defineOptimizer, registeredDefinitions } from './registry.js';
import { sgdDefinition } from '../optimizers/sgd.js';
import { adamDefinition, adamwDefinition } from '../optimizers/adam.js';
import { muonDefinition } from '../optimizers/muon.js';
import { adaGODefinition } from '../optimizers/adaGO.js';
import { auonDefinition, hybridAuonDefinition } from '../optimizers/auon.js';
import { turboMuonDefinition } from '../optimizers/turboMuon.js';
import { norMuonDefinition } from '../optimizers/norMuon.js';
import { adaMuonDefinition } from '../optimizers/adaMuon.js';
import { rootDefinition } from '../optimizers/root.js';
import { asgoDefinition } from '../optimizers/asgo.js';
import { orthogonalSgdmDefinition } from '../optimizers/orthogonalSgdm.js';
import { normalizedSgdDefinition, scionDefinition, signumDefinition } from '../optimizers/scion.js';
import { dion2Definition, dionDefinition } from '../optimizers/dion.js';
import { dogDefinition, dowgDefinition, ldogDefinition } from '../optimizers/dog.js';
import { alrSmagDefinition, polyakSgdDefinition } from '../optimizers/polyak.js';
import { scheduleFreeAdamwDefinition, scheduleFreeSgdDefinition } from '../optimizers/scheduleFree.js';
import { psgdKronDefinition } from '../optimizers/psgdKron.js';
import { galoreDefinition, onlineSubspaceDescentDefinition } from '../optimizers/subspace.js';
import { dctAdamwDefinition } from '../optimizers/dct.js';
import { subsetNormDefinition, subspaceMomentumDefinition } from '../optimizers/subsetNorm.js';
import { accumulateDefinition, averagedDefinition, cautiousDefinition, lookaheadDefinition } from '../optimizers/wrappers.js';

/**
 * SGD as torch.optim.SGD — see {@link sgdDefinition}.
 * @example
 * model.compile({ optimizer: sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), loss: 'meanSquaredError' });
 */
export const sgd = defineOptimizer(sgdDefinition);
/** Adam as torch.optim.Adam — see {@link adamDefinition}. */
export const adam = defineOptimizer(adamDefinition);
/**
 * AdamW as torch.optim.AdamW — see {@link adamwDefinition}.
 * @example
 * model.compile({ optimizer: adamw({ learningRate: 3e-4, weightDecay: 0.1 }), loss: 'categoricalCrossentropy' });
 */
export const adamw = defineOptimizer(adamwDefinition);
/**
 * Muon — see {@link muonDefinition}.
 * @example
 * model.compile({ optimizer: muon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const muon = defineOptimizer(muonDefinition);
/**
 * AdaGO — see {@link adaGODefinition}.
 * @example
 * model.compile({ optimizer: adaGO({ learningRate: 0.05, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const adaGO = defineOptimizer(adaGODefinition);
/** AuON — see {@link auonDefinition}. */
export const auon = defineOptimizer(auonDefinition);
/** Hybrid-AuON — see {@link hybridAuonDefinition}. */
export const hybridAuon = defineOptimizer(hybridAuonDefinition);
/**
 * Turbo-Muon — see {@link turboMuonDefinition}.
 * @example
 * model.compile({ optimizer: turboMuon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const turboMuon = defineOptimizer(turboMuonDefinition);
/**
 * NorMuon — see {@link norMuonDefinition}.
 * @example
 * model.compile({ optimizer: norMuon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const norMuon = defineOptimizer(norMuonDefinition);
/**
 * AdaMuon — see {@link adaMuonDefinition}.
 * @example
 * model.compile({ optimizer: adaMuon({ learningRate: 1e-3, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const adaMuon = defineOptimizer(adaMuonDefinition);
/**
 * ROOT — see {@link rootDefinition}.
 * @example
 * model.compile({ optimizer: root({ learningRate: 1e-3, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const root = defineOptimizer(rootDefinition);
/** ASGO — see {@link asgoDefinition}. */
export const asgo = defineOptimizer(asgoDefinition);
/**
 * Orthogonal-SGDM — see {@link orthogonalSgdmDefinition}.
 * @example
 * model.compile({ optimizer: orthogonalSgdm({ learningRate: 1e-3, momentum: 0.9 }), loss: 'categoricalCrossentropy' });
 */
export const orthogonalSgdm = defineOptimizer(orthogonalSgdmDefinition);
/**
 * Scion — see {@link scionDefinition}.
 * @example
 * model.compile({ optimizer: scion({ learningRate: 0.05, groups: [{ match: ['dense_Dense3/kernel'], norm: 'sign', radius: 16 }] }), loss: 'categoricalCrossentropy' });
 */
export const scion = defineOptimizer(scionDefinition);
/**
 * Normalized SGD with momentum — see {@link normalizedSgdDefinition}.
 * @example
 * model.compile({ optimizer: normalizedSgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
 */
export const normalizedSgd = defineOptimizer(normalizedSgdDefinition);
/**
 * Signum — see {@link signumDefinition}.
 * @example
 * model.compile({ optimizer: signum({ learningRate: 0.001 }), loss: 'meanSquaredError' });
 */
export const signum = defineOptimizer(signumDefinition);
/**
 * Dion — see {@link dionDefinition}.
 * @example
 * model.compile({ optimizer: dion({ learningRate: 0.01, rankFraction: 0.25, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const dion = defineOptimizer(dionDefinition);
/** Dion2 — see {@link dion2Definition}. */
export const dion2 = defineOptimizer(dion2Definition);
/** DoG — see {@link dogDefinition}. */
export const dog = defineOptimizer(dogDefinition);
/** L-DoG — see {@link ldogDefinition}. */
export const ldog = defineOptimizer(ldogDefinition);
/** DoWG — see {@link dowgDefinition}. */
export const dowg = defineOptimizer(dowgDefinition);
/**
 * ALR-SMAG — see {@link alrSmagDefinition}; needs the loss (`minimize(f)`, `model.fit`, or `applyGradients(grads, { loss })`).
 * @example
 * model.compile({ optimizer: alrSmag({ learningRate: 0.1, momentum: 0.9 }), loss: 'categoricalCrossentropy' });
 */
export const alrSmag = defineOptimizer(alrSmagDefinition);
/** Polyak SGD — see {@link polyakSgdDefinition}; needs the loss (`minimize(f)`, `model.fit`, or `applyGradients(grads, { loss })`). */
export const polyakSgd = defineOptimizer(polyakSgdDefinition);
/** Schedule-free SGD — see {@link scheduleFreeSgdDefinition}; evaluate inside `withAveragedWeights(optimizer, fn)`. */
export const scheduleFreeSgd = defineOptimizer(scheduleFreeSgdDefinition);
/**
 * Schedule-free AdamW — see {@link scheduleFreeAdamwDefinition}; evaluate inside `withAveragedWeights(optimizer, fn)`.
 * @example
 * model.compile({ optimizer: scheduleFreeAdamw({ learningRate: 0.0025, warmupSteps: 100 }), loss: 'categoricalCrossentropy' });
 */
export const scheduleFreeAdamw = defineOptimizer(scheduleFreeAdamwDefinition);
/**
 * PSGD Kron — see {@link psgdKronDefinition}.
 * @example
 * model.compile({ optimizer: psgdKron({ learningRate: 1e-3, seed: 1 }), loss: 'categoricalCrossentropy' });
 */
export const psgdKron = defineOptimizer(psgdKronDefinition);
/**
 * GaLore — see {@link galoreDefinition}.
 * @example
 * model.compile({ optimizer: galore({ learningRate: 0.01, rank: 16, updateGap: 200 }), loss: 'categoricalCrossentropy' });
 */
export const galore = defineOptimizer(galoreDefinition);
/**
 * Online Subspace Descent — see {@link onlineSubspaceDescentDefinition}.
 * @example
 * model.compile({ optimizer: onlineSubspaceDescent({ learningRate: 0.01, rank: 16 }), loss: 'categoricalCrossentropy' });
 */
export const onlineSubspaceDescent = defineOptimizer(onlineSubspaceDescentDefinition);
/**
 * DCT-AdamW — see {@link dctAdamwDefinition}.
 * @example
 * model.compile({ optimizer: dctAdamw({ learningRate: 1e-3, rankFraction: 0.125 }), loss: 'categoricalCrossentropy' });
 */
export const dctAdamw = defineOptimizer(dctAdamwDefinition);
/**
 * AdamSN (Subset-Norm step size) — see {@link subsetNormDefinition}.
 * @example
 * model.compile({ optimizer: subsetNorm({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy' });
 */
export const subsetNorm = defineOptimizer(subsetNormDefinition);
/**
 * AdamSNSM (Subset-Norm + Subspace-Momentum) — see {@link subspaceMomentumDefinition}.
 * @example
 * model.compile({ optimizer: subspaceMomentum({ learningRate: 1e-2, rankFraction: 0.125, updateProjGap: 200 }), loss: 'categoricalCrossentropy' });
 */
export const subspaceMomentum = defineOptimizer(subspaceMomentumDefinition);
/**
 * Lookahead over any registered optimizer (`createOptimizer('lookahead', …)`) — see {@link lookaheadDefinition}.
 * @example
 * model.compile({ optimizer: lookaheadOptimizer({ inner: 'adamw', innerOptions: { learningRate: 1e-3 }, k: 5, alpha: 0.5 }), loss: 'meanSquaredError' });
 */
export const lookaheadOptimizer = defineOptimizer(lookaheadDefinition(registeredDefinitions));
/** Gradient accumulation over any registered optimizer (`createOptimizer('accumulate', …)`) — see {@link accumulateDefinition}. */
export const accumulateOptimizer = defineOptimizer(accumulateDefinition(registeredDefinitions));
/** Cautious masking over any registered optimizer (`createOptimizer('cautious', …)`) — see {@link cautiousDefinition}. */
export const cautiousOptimizer = defineOptimizer(cautiousDefinition(registeredDefinitions));
/**
 * Iterate averaging over any registered optimizer (`createOptimizer('averaged', …)`) — see {@link averagedDefinition}.
 * @example
 * const opt = averagedOptimizer({ inner: 'dog', average: 'polynomial', gamma: 8 });
 * model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
 * const accuracy = withAveragedWeights(opt, () => model.evaluate(xTest, yTest));
 */
export const averagedOptimizer = defineOptimizer(averagedDefinition(registeredDefinitions));
