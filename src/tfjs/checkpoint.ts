/**
 * Optimizer checkpoints for custom training loops: the optimizer's state, step count and options in a
 * directory — `manifest.json` (format version, optimizer name, options, step, parameters, slot paths
 * and shapes, sha256 of the data) and `state.bin` (the slots' float32 data, concatenated in manifest
 * order). Resuming from a checkpoint gives exactly the updates that not stopping would have given.
 *
 * Loading refuses, with a message saying what differs, a checkpoint of another optimizer, of other
 * parameter or slot shapes, of another format version, or whose data file is truncated or altered.
 *
 * {@link serializeCheckpoint} / {@link restoreCheckpoint} work anywhere (browsers included); the
 * directory form (`saveCheckpoint` / `loadCheckpoint`) lives in the Node-only entry `orthoptim/node`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamMeta } from '../core/transform.js';
import type { OptimizerConfig } from '../optimizers/definition.js';
import type { TransformOptimizer } from './optimizer.js';

/** The format name written into every manifest. */
export const CHECKPOINT_FORMAT = 'orthoptim-checkpoint';
/** The format version this code writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** One state slot in a manifest. */
export interface CheckpointSlot {
  readonly path: string;
  readonly shape: number[];
  readonly dtype: 'float32';
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** `manifest.json`. */
export interface CheckpointManifest {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: number;
  readonly optimizer: string;
  readonly className: string;
  readonly config: OptimizerConfig;
  readonly step: number;
  readonly skippedSteps: number;
  readonly params: ParamMeta[];
  readonly slots: CheckpointSlot[];
  readonly dataFile: string;
  readonly dataBytes: number;
  readonly sha256: string;
  readonly savedAt: string;
}

/** What {@link restoreCheckpoint} reports. */
export interface RestoreReport {
  /** The step the optimizer resumes at. */
  readonly step: number;
  /** Options that differ between the checkpoint and this optimizer (allowed: e.g. a new learning rate). */
  readonly configDifferences: string[];
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The checkpoint of an optimizer as a manifest and one byte array. */
export async function serializeCheckpoint(
  optimizer: TransformOptimizer,
  dataFile = 'state.bin',
): Promise<{ manifest: CheckpointManifest; data: Uint8Array }> {
  const slots = optimizer.stateSlots;
  const arrays = await Promise.all(slots.map((s) => s.variable.data() as Promise<Float32Array>));
  const total = arrays.reduce((n, a) => n + a.byteLength, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  const entries: CheckpointSlot[] = slots.map((s, i) => {
    const bytes = new Uint8Array(arrays[i].buffer, arrays[i].byteOffset, arrays[i].byteLength);
    data.set(bytes, offset);
    const entry: CheckpointSlot = {
      path: s.path,
      shape: [...s.variable.shape],
      dtype: 'float32',
      byteOffset: offset,
      byteLength: bytes.byteLength,
    };
    offset += bytes.byteLength;
    return entry;
  });
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    optimizer: optimizer.name,
    className: optimizer.getClassName(),
    config: optimizer.getConfig(),
    step: optimizer.step,
    skippedSteps: optimizer.skippedSteps,
    params: (optimizer.parameters ?? []).map((p) => ({ name: p.name, shape: [...p.shape] })),
    slots: entries,
    dataFile,
    dataBytes: total,
    sha256: await sha256Hex(data),
    savedAt: new Date().toISOString(),
  };
  return { manifest, data };
}

function configDifferences(saved: OptimizerConfig, here: OptimizerConfig): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(here)]);
  const out: string[] = [];
  for (const k of keys) {
    const a = JSON.stringify(saved[k] ?? null);
    const b = JSON.stringify(here[k] ?? null);
    if (a !== b) out.push(`${k}: ${a} in the checkpoint, ${b} here`);
  }
  return out;
}

/**
 * Restores a serialized checkpoint into `optimizer` (before its first step, or after — the state is
 * staged until the slots exist). Throws, and changes nothing, when the checkpoint does not fit.
 */
export async function restoreCheckpoint(
  optimizer: TransformOptimizer,
  manifest: CheckpointManifest,
  data: Uint8Array,
  source = 'checkpoint',
): Promise<RestoreReport> {
  if (manifest.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${source}: not an orthoptim checkpoint (format '${String(manifest.format)}')`);
  }
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `${source}: checkpoint format version ${manifest.version} is not supported (this orthoptim reads version ${CHECKPOINT_VERSION})`,
    );
  }
  if (manifest.optimizer !== optimizer.name) {
    throw new Error(
      `${source}: the checkpoint is of optimizer '${manifest.optimizer}', this optimizer is '${optimizer.name}'`,
    );
  }
  if (data.byteLength !== manifest.dataBytes) {
    throw new Error(
      `${source}: ${manifest.dataFile} is truncated or wrong: it has ${data.byteLength} bytes, the manifest says ${manifest.dataBytes}`,
    );
  }
  const hash = await sha256Hex(data);
  if (hash !== manifest.sha256) {
    throw new Error(`${source}: ${manifest.dataFile} is corrupt: sha256 ${hash}, the manifest says ${manifest.sha256}`);
  }
  for (const s of manifest.slots) {
    const count = s.shape.reduce((a, b) => a * b, 1);
    if (s.byteLength !== count * 4 || s.byteOffset + s.byteLength > data.byteLength) {
      throw new Error(`${source}: slot '${s.path}' does not fit its shape [${s.shape.join(', ')}]`);
    }
  }
  const tensors = manifest.slots.map((s) => {
    // Copy into a fresh, aligned buffer (a Node Buffer may be a view into a shared pool).
    const copy = new Uint8Array(s.byteLength);
    copy.set(data.subarray(s.byteOffset, s.byteOffset + s.byteLength));
    return tf.tensor(new Float32Array(copy.buffer), s.shape, 'float32');
  });
  try {
    optimizer.stageState(tensors, {
      source,
      paths: manifest.slots.map((s) => s.path),
      params: manifest.params,
    });
  } finally {
    tf.dispose(tensors);
  }
  optimizer.setStep(manifest.step);
  optimizer.skippedSteps = manifest.skippedSteps;
  return { step: manifest.step, configDifferences: configDifferences(manifest.config, optimizer.getConfig()) };
}
