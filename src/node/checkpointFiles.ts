/**
 * Optimizer checkpoints as files (Node only; the main entry stays free of `node:` modules): a directory
 * holding `manifest.json` and the data file of {@link serializeCheckpoint}.
 * @module
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  restoreCheckpoint,
  serializeCheckpoint,
  type CheckpointManifest,
  type RestoreReport,
} from '../tfjs/checkpoint.js';
import type { TransformOptimizer } from '../tfjs/optimizer.js';

/** Writes `manifest.json` and the data file into `dir` (created if needed). */
export async function saveCheckpoint(optimizer: TransformOptimizer, dir: string): Promise<CheckpointManifest> {
  const { manifest, data } = await serializeCheckpoint(optimizer);
  await fs.mkdir(dir, { recursive: true });
  // Data first, manifest last: a checkpoint with a manifest is complete.
  const dataPath = path.join(dir, manifest.dataFile);
  await fs.writeFile(`${dataPath}.tmp`, data);
  await fs.rename(`${dataPath}.tmp`, dataPath);
  const manifestPath = path.join(dir, 'manifest.json');
  await fs.writeFile(`${manifestPath}.tmp`, JSON.stringify(manifest, null, 1));
  await fs.rename(`${manifestPath}.tmp`, manifestPath);
  return manifest;
}

/** Reads a checkpoint directory written by {@link saveCheckpoint} into `optimizer`. */
export async function loadCheckpoint(optimizer: TransformOptimizer, dir: string): Promise<RestoreReport> {
  const manifestPath = path.join(dir, 'manifest.json');
  let text: string;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch {
    throw new Error(`checkpoint ${dir}: no manifest.json there`);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(text) as CheckpointManifest;
  } catch (e) {
    throw new Error(`checkpoint ${dir}: manifest.json is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  let data: Uint8Array;
  try {
    data = await fs.readFile(path.join(dir, manifest.dataFile));
  } catch {
    throw new Error(`checkpoint ${dir}: data file '${manifest.dataFile}' is missing`);
  }
  return restoreCheckpoint(optimizer, manifest, data, `checkpoint ${dir}`);
}
