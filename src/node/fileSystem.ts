/**
 * A TensorFlow.js IO handler for model files on Node's file system — for users of tfjs-core +
 * tfjs-layers on the wasm or cpu backend, who have no `file://` handler (that one comes with
 * `@tensorflow/tfjs-node`, which many cannot install).
 *
 * ```ts
 * await model.save(fileSystem('model/'), { includeOptimizer: true });
 * const again = await tf.loadLayersModel(fileSystem('model/'));   // or fileSystem('model/model.json')
 * ```
 *
 * The files are the tfjs-layers format that `tf.loadLayersModel` and tfjs-node's `file://` handler read:
 * `model.json` (topology, training config, weights manifest) and `weights.bin` (every weight, optimizer
 * weights included, in manifest order). Each file is written to a temporary name, flushed to disk and
 * renamed into place, weights first; `model.json` also records the weights' byte length and SHA-256, so a
 * crash between the two renames (new weights beside an old `model.json`) is detected on load instead of
 * loading mismatched weights.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/** The name of the weights file this handler writes. */
export const WEIGHTS_FILE = 'weights.bin';
/** The name of the model file this handler writes. */
export const MODEL_FILE = 'model.json';

/** The extra field of `model.json` that pins the weights file (ignored by other readers). */
interface WeightsPin {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** Lower-case hex sha256 of `data` (also used by the bench runner's results files). */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` to `file` atomically: a temporary file beside it, fsync, rename. */
export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

function modelDir(target: string): { dir: string; modelFile: string } {
  if (path.basename(target) === MODEL_FILE) return { dir: path.dirname(target), modelFile: target };
  return { dir: target, modelFile: path.join(target, MODEL_FILE) };
}

/**
 * An IO handler that saves a model into, or loads it from, a directory (`model.json` + `weights.bin`).
 * `target` is the directory, or the path of its `model.json`; saving creates the directory.
 */
export function fileSystem(target: string): tf.io.IOHandler {
  if (typeof target !== 'string' || target.length === 0) {
    throw new TypeError(`fileSystem: the target must be a directory path (a non-empty string), got ${String(target)}`);
  }
  const { dir, modelFile } = modelDir(target);

  async function save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new TypeError(`fileSystem(${target}): binary model topologies are not supported (a layers model saves JSON)`);
    }
    const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const bytes = new Uint8Array(weightData);
    const pin: WeightsPin = { file: WEIGHTS_FILE, bytes: bytes.byteLength, sha256: sha256(bytes) };
    const modelJson: Record<string, unknown> = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
      ...(artifacts.trainingConfig === undefined ? {} : { trainingConfig: artifacts.trainingConfig }),
      ...(artifacts.signature === undefined ? {} : { signature: artifacts.signature }),
      ...(artifacts.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: artifacts.userDefinedMetadata }),
      ...(artifacts.modelInitializer === undefined ? {} : { modelInitializer: artifacts.modelInitializer }),
      ...(artifacts.initializerSignature === undefined ? {} : { initializerSignature: artifacts.initializerSignature }),
      orthoptimWeights: pin,
    };
    const text = JSON.stringify(modelJson);
    await fs.mkdir(dir, { recursive: true });
    const stat = await fs.stat(modelFile).catch(() => null);
    if (stat?.isDirectory()) throw new Error(`fileSystem(${target}): ${modelFile} is a directory; nothing was written`);
    await writeAtomic(path.join(dir, WEIGHTS_FILE), bytes);
    await writeAtomic(modelFile, text);
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        modelTopologyBytes: Buffer.byteLength(JSON.stringify(artifacts.modelTopology ?? null)),
        weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
        weightDataBytes: bytes.byteLength,
      },
    };
  }

  async function load(): Promise<tf.io.ModelArtifacts> {
    let text: string;
    try {
      text = await fs.readFile(modelFile, 'utf8');
    } catch (e) {
      throw new Error(`fileSystem(${target}): cannot read ${modelFile} (${(e as Error).message})`, { cause: e });
    }
    let json: tf.io.ModelJSON & { orthoptimWeights?: WeightsPin };
    try {
      json = JSON.parse(text) as typeof json;
    } catch (e) {
      throw new Error(`fileSystem(${target}): ${modelFile} is not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (json === null || typeof json !== 'object' || json.modelTopology === undefined) {
      throw new Error(`fileSystem(${target}): ${modelFile} has no modelTopology: not a TensorFlow.js model file`);
    }
    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of manifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = path.resolve(dir, p);
          const rel = path.relative(path.resolve(dir), file);
          if (rel.startsWith('..') || path.isAbsolute(rel)) {
            throw new Error(`fileSystem(${target}): weights path '${p}' points outside ${dir}`);
          }
          try {
            buffers.push(await fs.readFile(file));
          } catch (e) {
            throw new Error(`fileSystem(${target}): cannot read the weights file ${file} (${(e as Error).message})`, { cause: e });
          }
        }
      }
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      const data = new Uint8Array(total);
      let offset = 0;
      for (const b of buffers) {
        data.set(b, offset);
        offset += b.byteLength;
      }
      const pin = json.orthoptimWeights;
      if (pin !== undefined && (pin.bytes !== data.byteLength || pin.sha256 !== sha256(data))) {
        throw new Error(
          `fileSystem(${target}): ${WEIGHTS_FILE} does not belong to ${MODEL_FILE} (${data.byteLength} bytes, ` +
            `sha256 ${sha256(data)}; model.json expects ${pin.bytes} bytes, sha256 ${pin.sha256}) — ` +
            'a save was interrupted or the files were mixed',
        );
      }
      return [specs, data.buffer];
    });
  }

  return { save, load };
}
