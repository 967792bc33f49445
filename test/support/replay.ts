/**
 * Replays a golden optimizer trajectory, by file name, through an orthoptim optimizer (in TensorFlow.js
 * layout) and returns the worst normwise deviation over all steps and parameters, without re-syncing.
 * The replay itself is `replayGoldenFile` in goldenCore.ts (which the browser page uses too).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { loadGolden, replayGoldenFile, type GoldenFile, type ReplayResult } from './golden.js';

export type { ReplayResult } from './goldenCore.js';

export function replayGolden(name: string, makeOptimizer: (g: GoldenFile) => tf.Optimizer): ReplayResult {
  return replayGoldenFile(loadGolden(name), makeOptimizer);
}
