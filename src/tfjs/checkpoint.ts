/**
 * Optimizer checkpoints for custom training loops: the optimizer's state, step count and options as a
 * manifest (format version, optimizer name, options, step, parameters, slot paths and shapes, sha256 of
 * the data, and a sha256 of the manifest itself) and one byte array (the slots' float32 data,
 * concatenated in manifest order). Resuming from a checkpoint gives exactly the updates that not
 * stopping would have given.
 *
 * Nothing in a manifest is trusted: every field is checked against the schema below (types, integer
 * ranges, slots laid end to end from byte 0, byte lengths that fit the shapes, a data file name that
 * stays in its directory), the manifest's own digest must match, and the data must have the recorded
 * length and sha256. Loading refuses, with a {@link CheckpointError} saying what is wrong, a damaged or
 * edited checkpoint; and, saying what differs, one of another optimizer, of other parameter or slot
 * shapes, or of an unknown format version. Nothing about the optimizer changes unless all of it fits:
 * state and step count are applied together (at the first step when the state waits for it).
 *
 * Version 2 (written now) adds `manifestSha256` and allows `params: null` (saved before a first step).
 * Version 1 manifests are still read, through the same schema checks — but they carry no digest of
 * their own, so an edit that keeps them well-formed (another `step` digit, a renamed parameter) cannot
 * be detected; save again to upgrade. No change to a version-2 manifest can make it a valid version 1.
 *
 * A checkpoint may also carry the EMA state of a main/auxiliary gradient surgery (`bloop()`, `odice()`:
 * `{ surgery }` to {@link serializeCheckpoint} and {@link restoreCheckpoint}), in the manifest's optional
 * `surgery` field (name, options, step count and its slots, laid after the optimizer's in the same data
 * bytes, under the same sha256 and manifest digest). Restoring checks both parts before writing either: a
 * checkpoint with surgery state restored without a surgery, a surgery given for a checkpoint without its
 * state, another surgery's state or EMA shapes that do not fit the parameters are refused with a
 * {@link CheckpointError}, and neither the optimizer nor the surgery changes. (An orthoptim from before
 * this field refuses such a manifest as having an unknown field rather than drop the EMA.)
 *
 * {@link serializeCheckpoint} / {@link restoreCheckpoint} work anywhere (browsers included); the
 * directory form (`saveCheckpoint` / `loadCheckpoint`) lives in the Node-only entry `orthoptim/node`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamMeta } from '../core/transform.js';
import type { OptimizerConfig } from '../optimizers/definition.js';
import { GradientSurgery } from './bloop.js';
import { isTransformOptimizer, type NamedTensor, type TransformOptimizer } from './optimizer.js';

/** The format name written into every manifest. */
export const CHECKPOINT_FORMAT = 'orthoptim-checkpoint';
/** The format version this code writes. */
export const CHECKPOINT_VERSION = 2;
/** The format versions this code reads. */
export const CHECKPOINT_VERSIONS_READ: readonly number[] = [1, 2];

/** One state slot in a manifest. */
export interface CheckpointSlot {
  readonly path: string;
  readonly shape: number[];
  readonly dtype: 'float32';
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** The gradient surgery's part of a manifest (`bloop()` / `odice()` EMA state). */
export interface CheckpointSurgery {
  /** The surgery's name (`'bloop'`, `'odice'`). */
  readonly name: string;
  /** Its resolved options when saved (differences are reported, as the optimizer's are). */
  readonly config: Record<string, unknown>;
  /** Directions committed (steps taken) when saved. */
  readonly iterations: number;
  /** Its EMA slots (`emaMain/<i>`, then `emaAux/<i>` for pcgrad), after the optimizer's in the data. */
  readonly slots: CheckpointSlot[];
}

/** Options of {@link serializeCheckpoint} and {@link restoreCheckpoint}. */
export interface CheckpointOptions {
  /** A `bloop()` / `odice()` surgery whose EMA state is saved / restored with the optimizer's. */
  readonly surgery?: GradientSurgery;
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
  /** The parameters the state was made for; null when not known (saved before a first step). */
  readonly params: ParamMeta[] | null;
  readonly slots: CheckpointSlot[];
  readonly dataFile: string;
  readonly dataBytes: number;
  readonly sha256: string;
  readonly savedAt: string;
  /** sha256 of the canonical JSON (keys sorted, no spaces) of the manifest without this field (version 2; absent in version 1). */
  readonly manifestSha256?: string;
  /** The gradient surgery's state, when saved with `{ surgery }` (version 2 only). */
  readonly surgery?: CheckpointSurgery;
}

/** What {@link restoreCheckpoint} reports. */
export interface RestoreReport {
  /** The step the optimizer resumes at. */
  readonly step: number;
  /** Options that differ between the checkpoint and this optimizer (allowed: e.g. a new learning rate). */
  readonly configDifferences: string[];
}

/** A checkpoint that is damaged, edited, incomplete or not one at all; `source` says which. */
export class CheckpointError extends Error {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
    this.name = 'CheckpointError';
  }
}

/** Lower-case hex sha256 (Web Crypto: Node 20 and browsers). */
async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Canonical JSON of a JSON value: object keys sorted by UTF-16 code units, no whitespace, strings and
 * numbers as `JSON.stringify` writes them — the rules of RFC 8785 (JCS) for the values a manifest holds.
 * Two manifests that parse to the same value have the same canonical form, whatever their layout.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The digest a version-2 manifest carries in `manifestSha256`: over everything else in it. */
export async function checkpointManifestDigest(manifest: object): Promise<string> {
  const rest: Record<string, unknown> = { ...(manifest as Record<string, unknown>) };
  delete rest.manifestSha256;
  return sha256Hex(new TextEncoder().encode(canonicalJson(rest)));
}

/** A data file name: one plain name inside the checkpoint's directory (no separators, no leading dot). */
const DATA_FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;

/** Whether `name` is a data file name a manifest may hold (it cannot lead out of the directory). */
export function isCheckpointDataFileName(name: unknown): name is string {
  return typeof name === 'string' && DATA_FILE_NAME.test(name);
}

/** `value` for a message: JSON, shortened. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** What `value` is, for a message: `null`, `an array`, `a Float32Array`, `an object`, `a string`. */
function kind(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (value as object).constructor?.name;
  return name === undefined || name === 'Object' ? 'an object' : `a ${name}`;
}

/**
 * The schema of a manifest, checked field by field — written out rather than generated, so each
 * message names the field, what it must be and what it is. Throws {@link CheckpointError}.
 */
class ManifestReader {
  constructor(private readonly source: string) {}

  fail(message: string): never {
    throw new CheckpointError(this.source, `manifest.json: ${message}`);
  }

  /** `value` as an object holding only `keys`; `name` says which object (`slots[2]`, or '' for the manifest). */
  object(value: unknown, name: string, keys: readonly string[]): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(`${name || 'the manifest'} must be an object, got ${shown(value)}`);
    }
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.fail(`unknown field '${name ? `${name}.` : ''}${k}'`);
    return o;
  }

  /** `o[key]`, which must be there, and its name for messages (`slots[2].byteOffset`). */
  field(o: Record<string, unknown>, key: string, at: string): [unknown, string] {
    const name = at ? `${at}.${key}` : key;
    if (o[key] === undefined) this.fail(`${name} is missing`);
    return [o[key], name];
  }

  string(o: Record<string, unknown>, key: string, at = '', nonEmpty = true): string {
    const [v, name] = this.field(o, key, at);
    if (typeof v !== 'string' || (nonEmpty && v.length === 0)) {
      this.fail(`${name} must be a${nonEmpty ? ' non-empty' : ''} string, got ${shown(v)}`);
    }
    return v;
  }

  count(o: Record<string, unknown>, key: string, at = ''): number {
    const [v, name] = this.field(o, key, at);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) {
      this.fail(`${name} must be a non-negative integer, got ${shown(v)}`);
    }
    return v;
  }

  shape(o: Record<string, unknown>, key: string, at: string): number[] {
    const [v, name] = this.field(o, key, at);
    if (!Array.isArray(v) || v.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
      this.fail(`${name} must be an array of non-negative integers, got ${shown(v)}`);
    }
    if (!Number.isSafeInteger(4 * v.reduce((a: number, b: number) => a * b, 1))) this.fail(`${name} ${shown(v)} is too large`);
    return [...(v as number[])];
  }

  hex64(o: Record<string, unknown>, key: string): string {
    const [v, name] = this.field(o, key, '');
    if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) this.fail(`${name} must be 64 lower-case hex digits (a sha256), got ${shown(v)}`);
    return v;
  }
}

const MANIFEST_KEYS_V1 = [
  'format', 'version', 'optimizer', 'className', 'config', 'step', 'skippedSteps', 'params', 'slots',
  'dataFile', 'dataBytes', 'sha256', 'savedAt',
] as const;
const MANIFEST_KEYS_V2 = [...MANIFEST_KEYS_V1, 'manifestSha256', 'surgery'] as const;

/**
 * Reads a list of slots laid end to end from byte `start` (`at` names the list: `slots`,
 * `surgery.slots`); `pathRequired`: a slot's path must not be ''. Returns the slots and the byte after them.
 */
function readSlots(r: ManifestReader, raw: unknown, at: string, start: number, pathRequired: boolean): { slots: CheckpointSlot[]; end: number } {
  if (!Array.isArray(raw)) r.fail(`${at} must be an array, got ${shown(raw)}`);
  let end = start;
  const slots: CheckpointSlot[] = raw.map((s, i) => {
    const name = `${at}[${i}]`;
    const o = r.object(s, name, ['path', 'shape', 'dtype', 'byteOffset', 'byteLength']);
    // '' = not known (state staged by setWeights and saved before a first step): not checked at restore.
    const path = r.string(o, 'path', name, pathRequired);
    const shape = r.shape(o, 'shape', name);
    const [dtype] = r.field(o, 'dtype', name);
    if (dtype !== 'float32') r.fail(`${name}.dtype must be 'float32', got ${shown(dtype)}`);
    const byteOffset = r.count(o, 'byteOffset', name);
    const byteLength = r.count(o, 'byteLength', name);
    // Slots lie end to end, in order: no gap, no overlap, no reordering.
    if (byteOffset !== end) {
      const after = i === 0 ? (start === 0 ? 'the first slot' : "right after the optimizer's slots") : `right after ${at}[${i - 1}]`;
      r.fail(`${name}.byteOffset must be ${end} (${after}), got ${byteOffset}`);
    }
    const expected = 4 * shape.reduce((a, b) => a * b, 1);
    if (byteLength !== expected) {
      r.fail(`${name}.byteLength must be ${expected} (shape [${shape.join(', ')}], float32), got ${byteLength}`);
    }
    end += byteLength;
    return { path, shape, dtype: 'float32', byteOffset, byteLength };
  });
  return { slots, end };
}

/**
 * Checks a parsed manifest against the schema of its version (and, for version 2, its own digest) and
 * returns it typed. Throws {@link CheckpointError} naming the first field that is wrong.
 */
export async function validateCheckpointManifest(value: unknown, source = 'checkpoint'): Promise<CheckpointManifest> {
  const r: ManifestReader = new ManifestReader(source);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) r.fail(`the manifest must be an object, got ${shown(value)}`);
  const raw = value as Record<string, unknown>;
  if (raw.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(source, `not an orthoptim checkpoint (format ${shown(raw.format)})`);
  }
  const version = raw.version;
  if (typeof version !== 'number' || !CHECKPOINT_VERSIONS_READ.includes(version)) {
    throw new CheckpointError(
      source,
      `checkpoint format version ${shown(version)} is not supported (this orthoptim reads versions ${CHECKPOINT_VERSIONS_READ.join(' and ')})`,
    );
  }
  const m = r.object(raw, '', version === 1 ? MANIFEST_KEYS_V1 : MANIFEST_KEYS_V2);
  if (version >= 2) {
    const claimed = r.hex64(m, 'manifestSha256');
    const actual = await checkpointManifestDigest(m);
    if (actual !== claimed) {
      throw new CheckpointError(source, `manifest.json has been altered: its sha256 is ${actual}, manifestSha256 says ${claimed}`);
    }
  }
  const optimizer = r.string(m, 'optimizer');
  const className = r.string(m, 'className');
  const [config] = r.field(m, 'config', '');
  if (config === null || typeof config !== 'object' || Array.isArray(config)) r.fail(`config must be an object, got ${shown(config)}`);
  const step = r.count(m, 'step');
  const skippedSteps = r.count(m, 'skippedSteps');

  const [rawParams] = r.field(m, 'params', '');
  let params: ParamMeta[] | null = null;
  if (rawParams !== null || version === 1) {
    if (!Array.isArray(rawParams)) r.fail(`params must be an array${version >= 2 ? ' or null' : ''}, got ${shown(rawParams)}`);
    params = rawParams.map((p, i) => {
      const o = r.object(p, `params[${i}]`, ['name', 'shape']);
      return { name: r.string(o, 'name', `params[${i}]`), shape: r.shape(o, 'shape', `params[${i}]`) };
    });
  }

  const [rawSlots] = r.field(m, 'slots', '');
  const read = readSlots(r, rawSlots, 'slots', 0, false);
  const slots = read.slots;
  let end = read.end;
  let surgery: CheckpointSurgery | undefined;
  if (m.surgery !== undefined) {
    const o = r.object(m.surgery, 'surgery', ['name', 'config', 'iterations', 'slots']);
    const name = r.string(o, 'name', 'surgery');
    const [sconfig] = r.field(o, 'config', 'surgery');
    if (sconfig === null || typeof sconfig !== 'object' || Array.isArray(sconfig)) r.fail(`surgery.config must be an object, got ${shown(sconfig)}`);
    const iterations = r.count(o, 'iterations', 'surgery');
    const [rawSurgerySlots] = r.field(o, 'slots', 'surgery');
    const sread = readSlots(r, rawSurgerySlots, 'surgery.slots', end, true);
    end = sread.end;
    surgery = { name, config: sconfig as Record<string, unknown>, iterations, slots: sread.slots };
  }
  const [dataFile] = r.field(m, 'dataFile', '');
  if (!isCheckpointDataFileName(dataFile)) {
    r.fail(`dataFile must be a file name inside the checkpoint directory, got ${shown(dataFile)}`);
  }
  const dataBytes = r.count(m, 'dataBytes');
  if (dataBytes !== end) r.fail(`dataBytes must be ${end} (the slots' total${surgery === undefined ? '' : ", the surgery's included"}), got ${dataBytes}`);
  const sha256 = r.hex64(m, 'sha256');
  const savedAt = r.string(m, 'savedAt', '', false);
  return {
    format: CHECKPOINT_FORMAT,
    version,
    optimizer,
    className,
    config: config as OptimizerConfig,
    step,
    skippedSteps,
    params,
    slots,
    dataFile,
    dataBytes,
    sha256,
    savedAt,
    ...(version >= 2 ? { manifestSha256: m.manifestSha256 as string } : {}),
    ...(surgery === undefined ? {} : { surgery }),
  };
}

function checkSurgeryOption(fn: string, options: unknown): GradientSurgery | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object, got ${kind(options)}`);
  for (const k of Object.keys(options)) if (k !== 'surgery') throw new RangeError(`${fn}: unknown option '${k}'`);
  const surgery = (options as CheckpointOptions).surgery;
  if (surgery !== undefined && !(surgery instanceof GradientSurgery)) {
    throw new TypeError(`${fn}: surgery must be a gradient surgery (bloop() or odice()), got ${kind(surgery)}`);
  }
  return surgery;
}

function checkOptimizer(optimizer: unknown, fn: string): asserts optimizer is TransformOptimizer {
  if (!isTransformOptimizer(optimizer)) {
    throw new TypeError(`${fn}: optimizer must be an orthoptim optimizer, got ${kind(optimizer)}`);
  }
}

/**
 * The checkpoint of an optimizer as a manifest and one byte array. The state is taken when this is
 * called (steps taken while the data is read do not leak in); a restore still waiting for the first
 * step is saved as it was staged.
 */
export async function serializeCheckpoint(
  optimizer: TransformOptimizer,
  dataFile = 'state.bin',
  options?: CheckpointOptions,
): Promise<{ manifest: CheckpointManifest; data: Uint8Array }> {
  checkOptimizer(optimizer, 'serializeCheckpoint');
  if (!isCheckpointDataFileName(dataFile)) {
    throw new RangeError(`serializeCheckpoint: dataFile must be a plain file name (letters, digits, '.', '_', '-'), got ${shown(dataFile)}`);
  }
  const surgery = checkSurgeryOption('serializeCheckpoint', options);
  const snapshot = optimizer.snapshotState();
  // The surgery's state at the call too: its iteration count, then its EMA slots (copies).
  const surgeryWeights = surgery === undefined ? [] : surgery.getWeights();
  const surgeryIterations = surgery === undefined ? 0 : surgery.iterations;
  const surgerySlots = surgeryWeights.slice(1).map((w) => ({ path: w.name.slice(`${surgery!.name}/`.length), tensor: w.tensor }));
  if (surgeryWeights.length > 0) surgeryWeights[0].tensor.dispose();
  const config = optimizer.getConfig();
  const all = [...snapshot.slots, ...surgerySlots];
  let arrays: Float32Array[];
  try {
    arrays = await Promise.all(all.map((s) => s.tensor.data() as Promise<Float32Array>));
  } finally {
    tf.dispose(all.map((s) => s.tensor));
  }
  const total = arrays.reduce((n, a) => n + a.byteLength, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  const entries: CheckpointSlot[] = all.map((s, i) => {
    const bytes = new Uint8Array(arrays[i].buffer, arrays[i].byteOffset, arrays[i].byteLength);
    data.set(bytes, offset);
    const entry: CheckpointSlot = {
      path: s.path,
      shape: [...s.tensor.shape],
      dtype: 'float32',
      byteOffset: offset,
      byteLength: bytes.byteLength,
    };
    offset += bytes.byteLength;
    return entry;
  });
  const optimizerEntries = entries.slice(0, snapshot.slots.length);
  const unsigned: Omit<CheckpointManifest, 'manifestSha256'> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    optimizer: optimizer.name,
    className: optimizer.getClassName(),
    // Through JSON: the digest is over what a reader will parse (undefined values dropped).
    config: JSON.parse(JSON.stringify(config)) as OptimizerConfig,
    step: snapshot.step,
    skippedSteps: snapshot.skippedSteps,
    params: snapshot.params,
    slots: optimizerEntries,
    dataFile,
    dataBytes: total,
    sha256: await sha256Hex(data),
    savedAt: new Date().toISOString(),
    ...(surgery === undefined
      ? {}
      : {
          surgery: {
            name: surgery.name,
            config: JSON.parse(JSON.stringify(surgery.config)) as Record<string, unknown>,
            iterations: surgeryIterations,
            slots: entries.slice(snapshot.slots.length),
          },
        }),
  };
  const manifest: CheckpointManifest = { ...unsigned, manifestSha256: await checkpointManifestDigest(unsigned) };
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

/** The bytes of `data` (a Uint8Array — a Node Buffer is one — or an ArrayBuffer); anything else is a TypeError. */
function asBytes(data: unknown): Uint8Array {
  const tag = Object.prototype.toString.call(data);
  if (tag === '[object Uint8Array]') return data as Uint8Array;
  if (tag === '[object ArrayBuffer]') return new Uint8Array(data as ArrayBuffer);
  throw new TypeError(`restoreCheckpoint: data must be a Uint8Array or an ArrayBuffer, got ${kind(data)}`);
}

/**
 * Restores a serialized checkpoint into `optimizer` (before its first step, or after — the state is
 * staged until the slots exist), and with `{ surgery }` the gradient surgery's EMA state saved with it.
 * Throws, and changes nothing (neither the optimizer nor the surgery), when the checkpoint is damaged or
 * does not fit: {@link CheckpointError} for a bad manifest or data, surgery state missing on either side,
 * another surgery's or EMA shapes unlike the parameters'; an `Error` saying what differs for a mismatch
 * with this optimizer; a `TypeError` for arguments of the wrong kind.
 */
export async function restoreCheckpoint(
  optimizer: TransformOptimizer,
  manifest: CheckpointManifest,
  data: Uint8Array | ArrayBuffer,
  source = 'checkpoint',
  options?: CheckpointOptions,
): Promise<RestoreReport> {
  checkOptimizer(optimizer, 'restoreCheckpoint');
  if (manifest === null || typeof manifest !== 'object') {
    throw new TypeError(`restoreCheckpoint: manifest must be an object, got ${String(manifest)}`);
  }
  const bytes = asBytes(data);
  const surgery = checkSurgeryOption('restoreCheckpoint', options);
  const m = await validateCheckpointManifest(manifest, source);
  if (m.optimizer !== optimizer.name) {
    throw new CheckpointError(source, `the checkpoint is of optimizer '${m.optimizer}', this optimizer is '${optimizer.name}'`);
  }
  const saved = m.surgery;
  if (saved !== undefined && surgery === undefined) {
    throw new CheckpointError(
      source,
      `the checkpoint holds the state of gradient surgery '${saved.name}' (${saved.iterations} steps): pass that surgery as { surgery } to restore it; nothing was restored`,
    );
  }
  if (saved === undefined && surgery !== undefined) {
    throw new CheckpointError(source, `the checkpoint holds no gradient-surgery state (it was saved without { surgery }), but a '${surgery.name}' surgery was given; nothing was restored`);
  }
  if (saved !== undefined && surgery !== undefined && saved.name !== surgery.name) {
    throw new CheckpointError(source, `the checkpoint holds the state of gradient surgery '${saved.name}', the surgery given is '${surgery.name}'; nothing was restored`);
  }
  if (bytes.byteLength !== m.dataBytes) {
    throw new CheckpointError(
      source,
      `${m.dataFile} is truncated or wrong: it has ${bytes.byteLength} bytes, the manifest says ${m.dataBytes}`,
    );
  }
  const hash = await sha256Hex(bytes);
  if (hash !== m.sha256) {
    throw new CheckpointError(source, `${m.dataFile} is corrupt: sha256 ${hash}, the manifest says ${m.sha256}`);
  }
  const tensorOf = (s: CheckpointSlot) => {
    // Copy into a fresh, aligned buffer (a Node Buffer may be a view into a shared pool).
    const copy = new Uint8Array(s.byteLength);
    copy.set(bytes.subarray(s.byteOffset, s.byteOffset + s.byteLength));
    return tf.tensor(new Float32Array(copy.buffer), s.shape, 'float32');
  };
  const tensors = m.slots.map(tensorOf);
  const surgeryWeights: NamedTensor[] =
    saved === undefined
      ? []
      : [{ name: `${saved.name}/iterations`, tensor: tf.scalar(saved.iterations) }, ...saved.slots.map((s) => ({ name: `${saved.name}/${s.path}`, tensor: tensorOf(s) }))];
  // Version 1 wrote `params: []` before a first step: that is "no parameters known", as null in version 2.
  const params = m.params === null || (m.params.length === 0 && m.slots.length === 0) ? undefined : m.params;
  try {
    if (surgery !== undefined && saved !== undefined) {
      // Everything about the surgery is checked before the optimizer's state is written.
      try {
        surgery.checkWeights(surgeryWeights, 'restoreCheckpoint');
      } catch (e) {
        throw new CheckpointError(source, `gradient surgery '${saved.name}': ${(e as Error).message}; nothing was restored`, { cause: e });
      }
      checkSurgeryShapes(source, saved, m.params);
    }
    optimizer.stageState(tensors, {
      source,
      paths: m.slots.some((s) => s.path === '') ? undefined : m.slots.map((s) => s.path),
      params,
      step: m.step,
      skippedSteps: m.skippedSteps,
    });
    if (surgery !== undefined) surgery.setWeights(surgeryWeights);
  } finally {
    tf.dispose([...tensors, ...surgeryWeights.map((w) => w.tensor)]);
  }
  const differences = configDifferences(m.config, optimizer.getConfig());
  if (surgery !== undefined && saved !== undefined) {
    differences.push(...configDifferences(saved.config as OptimizerConfig, surgery.config as unknown as OptimizerConfig).map((d) => `surgery.${d}`));
  }
  return { step: m.step, configDifferences: differences };
}

/**
 * The surgery's EMA tensors are one per parameter the optimizer steps, in its order (the surgery hands
 * the optimizer its direction for exactly those): when the checkpoint knows the parameters, the count and
 * shapes must match.
 */
function checkSurgeryShapes(source: string, saved: CheckpointSurgery, params: readonly ParamMeta[] | null): void {
  if (params === null) return;
  for (const prefix of ['emaMain/', 'emaAux/']) {
    const slots = saved.slots.filter((s) => s.path.startsWith(prefix));
    if (slots.length === 0) continue;
    if (slots.length !== params.length) {
      throw new CheckpointError(source, `gradient surgery '${saved.name}': ${slots.length} ${prefix.slice(0, -1)} tensors for ${params.length} parameters; nothing was restored`);
    }
    slots.forEach((s, i) => {
      if (!tf.util.arraysEqual(s.shape, [...params[i].shape])) {
        throw new CheckpointError(
          source,
          `gradient surgery '${saved.name}': ${s.path} has shape [${s.shape.join(', ')}], parameter ${i} ('${params[i].name}') [${params[i].shape.join(', ')}]; nothing was restored`,
        );
      }
    });
  }
}
