/**
 * The files of a results folder that a later {@link runComparison} reads back — an unfinished run's
 * checkpoint, finished runs' records, sweeps and logs — written atomically and read so that a damaged,
 * truncated or edited file is an error naming the file and what is wrong: never resumed weights that
 * differ from those saved, never a raw `JSON.parse` or `RangeError` message. Everything a resume reads
 * is checked before anything is written.
 *
 * An unfinished run's checkpoint, `checkpoints/<id>/`:
 * - `params-<step>.bin`: the parameters at step `<step>`, float32 in the machine's byte order (little
 *   endian everywhere Node runs), in the task's parameter order;
 * - `optimizer-<step>/`: the optimizer's checkpoint ({@link saveCheckpoint}: its own schema and sha256s);
 * - `run.json`, the pointer, written last: {@link RUN_CHECKPOINT_FORMAT}, the run id, the step, the
 *   timers, the parameter file with its size and sha256, the optimizer folder, and `sha256` — the sha256
 *   of the canonical JSON ({@link canonicalJson}, RFC 8785's rules) of all the other fields, so an edited
 *   step or timer is caught as surely as a flipped byte.
 *
 * Each file goes to a temporary name, is flushed and renamed into place ({@link writeAtomic}). Until the
 * new `run.json` is in place, the old one names the previous pair, which is removed only afterwards, so
 * a kill at any instant leaves a checkpoint that resumes. The step read back is also checked against
 * the optimizer checkpoint's own step and the number of timer entries.
 *
 * Checkpoints written before this format (`params.bin` and a `run.json` without checksum) are refused
 * with a message naming the way out — delete that run's checkpoint folder (that run restarts at step 0;
 * finished runs are kept) or start over with `--fresh` (`resume: false`): their weights cannot be
 * checked, and resuming unchecked weights is what this format exists to prevent.
 * @module
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, canonicalJson } from '../tfjs/checkpoint.js';
import type { TransformOptimizer } from '../tfjs/optimizer.js';
import { loadCheckpoint, saveCheckpoint } from '../node/checkpointFiles.js';
import { sha256, writeAtomic } from '../node/fileSystem.js';
import type { LogLine, RunRecord, SweepPoint } from './results.js';

/** The `format` of a run checkpoint's `run.json`. */
export const RUN_CHECKPOINT_FORMAT = 'orthoptim-bench-checkpoint/2';

/** The pointer file of a run checkpoint. */
export const RUN_CHECKPOINT_FILE = 'run.json';

/** A results file (settings, run record, sweep, log) that is missing, damaged or not what it should be; `file` names it. */
export class ResultsFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'ResultsFileError';
  }
}

/** Where a run has got to: the step and the timers that continue from it. */
export interface RunTimers {
  step: number;
  wallMs: number;
  evalMs: number;
  stepMs: number[];
  optimizerMs: number[];
}

/** What `run.json` holds. */
export interface RunCheckpoint extends RunTimers {
  format: typeof RUN_CHECKPOINT_FORMAT;
  id: string;
  params: { file: string; bytes: number; sha256: string };
  optimizer: string;
  sha256: string;
}

/** What the run that resumes expects of its checkpoint. */
export interface RunCheckpointExpectation {
  id: string;
  /** The run's total steps: a checkpoint lies strictly before them. */
  steps: number;
  /** Number of float32 parameters of the task. */
  parameters: number;
}

/** JSON with a trailing newline (non-finite numbers become null, as JSON.stringify writes them). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}

const SHA256 = /^[0-9a-f]{64}$/;

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return typeof value;
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isDuration = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Reads and parses a JSON file; `null` when it does not exist. Errors name the file; `fail` builds them. */
function readJson(file: string, fail: (message: string, cause?: unknown) => Error): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fail(`cannot be read (${(e as Error).message})`, e);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw fail(text.trim() === '' ? 'is empty' : 'is not valid JSON (truncated or damaged)', e);
  }
}

/** `fail` for a missing field or one of the wrong type: names the field and what it holds. */
function fieldReader(o: Record<string, unknown>, fail: (message: string) => Error) {
  return <T>(name: string, ok: (v: unknown) => v is T, what: string): T => {
    if (!Object.hasOwn(o, name)) throw fail(`field '${name}' is missing`);
    const v = o[name];
    if (!ok(v)) throw fail(`field '${name}' must be ${what}, got ${describe(v)}`);
    return v;
  };
}

/**
 * Writes the checkpoint of run `id` into `dir`: parameters, optimizer state and timers, `run.json`
 * last; then removes the previous pair (see the module comment).
 */
export async function writeRunCheckpoint(
  dir: string,
  id: string,
  variables: readonly tf.Variable[],
  optimizer: TransformOptimizer,
  timers: RunTimers,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const arrays = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));
  const all = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    all.set(a, offset);
    offset += a.length;
  }
  const bytes = new Uint8Array(all.buffer);
  const paramsFile = `params-${timers.step}.bin`;
  const optimizerDir = `optimizer-${timers.step}`;
  await writeAtomic(join(dir, paramsFile), bytes);
  await saveCheckpoint(optimizer, join(dir, optimizerDir));
  const body: Omit<RunCheckpoint, 'sha256'> = {
    format: RUN_CHECKPOINT_FORMAT,
    id,
    step: timers.step,
    wallMs: timers.wallMs,
    evalMs: timers.evalMs,
    stepMs: [...timers.stepMs],
    optimizerMs: [...timers.optimizerMs],
    params: { file: paramsFile, bytes: bytes.byteLength, sha256: sha256(bytes) },
    optimizer: optimizerDir,
  };
  await writeAtomic(join(dir, RUN_CHECKPOINT_FILE), toJson({ ...body, sha256: sha256(canonicalJson(body)) }));
  // Only now that run.json names the new pair: the previous pair (and files of earlier versions) go.
  for (const name of readdirSync(dir)) {
    if (name !== RUN_CHECKPOINT_FILE && name !== paramsFile && name !== optimizerDir) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/**
 * Reads and checks `run.json` and the parameter file of the checkpoint in `dir`; null when there is no
 * `run.json` (the run starts at step 0). Throws {@link CheckpointError} naming the file and what is
 * wrong for anything else that is not exactly what {@link writeRunCheckpoint} wrote. Writes nothing.
 */
export function readRunCheckpoint(dir: string, expect: RunCheckpointExpectation): { checkpoint: RunCheckpoint; params: Float32Array } | null {
  const file = join(dir, RUN_CHECKPOINT_FILE);
  const wayOut = `delete ${dir} to restart run ${expect.id} from step 0 (finished runs are kept), or start over (--fresh)`;
  const fail = (source: string, message: string, cause?: unknown): CheckpointError =>
    new CheckpointError(source, `${message}; ${wayOut}`, cause === undefined ? undefined : { cause });
  const value = readJson(file, (m, cause) => fail(file, m, cause));
  if (value === null) return null;
  if (!isObject(value)) throw fail(file, `must hold a JSON object, got ${describe(value)}`);
  if (!Object.hasOwn(value, 'format') && Object.hasOwn(value, 'step') && !Object.hasOwn(value, 'params')) {
    throw fail(file, 'is a checkpoint of an earlier orthoptim, without the checksums that let a resume check the parameters');
  }
  const field = fieldReader(value, (m) => fail(file, m));
  field('format', (v): v is string => v === RUN_CHECKPOINT_FORMAT, `'${RUN_CHECKPOINT_FORMAT}'`);
  const id = field('id', (v): v is string => typeof v === 'string', 'a string');
  if (id !== expect.id) throw fail(file, `belongs to run '${id}', not '${expect.id}'`);
  const last = expect.steps - 1;
  const step = field('step', (v): v is number => isCount(v) && v >= 1 && v <= last, `an integer from 1 to ${last} (the run has ${expect.steps} steps)`);
  field('wallMs', isDuration, 'a finite number >= 0');
  field('evalMs', isDuration, 'a finite number >= 0');
  const timings = (v: unknown): v is number[] => Array.isArray(v) && v.length === step && v.every(isDuration);
  field('stepMs', timings, `${step} finite numbers >= 0 (one per step)`);
  field('optimizerMs', timings, `${step} finite numbers >= 0 (one per step)`);
  const bytes = expect.parameters * 4;
  const params = field(
    'params',
    (v): v is RunCheckpoint['params'] =>
      isObject(v) &&
      typeof v.file === 'string' &&
      /^params-\d+\.bin$/.test(v.file) &&
      v.bytes === bytes &&
      typeof v.sha256 === 'string' &&
      SHA256.test(v.sha256),
    `{file: 'params-<step>.bin', bytes: ${bytes} (the task's ${expect.parameters} float32 parameters), sha256: 64 hex digits}`,
  );
  field('optimizer', (v): v is string => typeof v === 'string' && /^optimizer-\d+$/.test(v), "'optimizer-<step>'");
  const digest = field('sha256', (v): v is string => typeof v === 'string' && SHA256.test(v), '64 hex digits');
  const body = Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'sha256'));
  if (sha256(canonicalJson(body)) !== digest) {
    throw fail(file, 'was edited or damaged: its sha256 does not match its contents');
  }

  const paramsPath = join(dir, params.file);
  let data: Buffer;
  try {
    data = readFileSync(paramsPath);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw fail(paramsPath, missing ? `is missing (${RUN_CHECKPOINT_FILE} names it)` : `cannot be read (${(e as Error).message})`, e);
  }
  if (data.byteLength !== params.bytes) {
    throw fail(paramsPath, `is truncated or padded: ${data.byteLength} bytes, ${RUN_CHECKPOINT_FILE} records ${params.bytes}`);
  }
  const actual = sha256(data);
  if (actual !== params.sha256) {
    throw fail(paramsPath, `is damaged: its sha256 is ${actual}, ${RUN_CHECKPOINT_FILE} records ${params.sha256}`);
  }
  const values = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { checkpoint: value as unknown as RunCheckpoint, params: values };
}

/**
 * Loads the optimizer checkpoint that `checkpoint` names into `optimizer` and checks that it is at the
 * same step ({@link loadCheckpoint} checks the rest and throws {@link CheckpointError} naming it).
 */
export async function loadRunOptimizer(dir: string, checkpoint: RunCheckpoint, optimizer: TransformOptimizer): Promise<void> {
  const path = join(dir, checkpoint.optimizer);
  const report = await loadCheckpoint(optimizer, path);
  if (report.step !== checkpoint.step) {
    throw new CheckpointError(
      path,
      `holds the optimizer at step ${report.step}, ${RUN_CHECKPOINT_FILE} says step ${checkpoint.step}; delete ${dir} to restart that run from step 0, or start over (--fresh)`,
    );
  }
}

const LOG_TYPES = new Set(['step', 'eval', 'orthogonality']);

/**
 * Reads a JSON-lines log. Every line must be a JSON object with `type` 'step', 'eval' or 'orthogonality' and an integer
 * `step` ≥ 0; errors name `file:line`. With `tornTail`, a last line without its newline that does not
 * parse is dropped (a kill while it was appended); a missing file is an error unless `optional`.
 */
export function readLog(file: string, options: { tornTail?: boolean; optional?: boolean } = {}): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && options.optional === true) return [];
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ResultsFileError(file, missing ? 'is missing' : `cannot be read (${(e as Error).message})`, { cause: e });
  }
  const lines = text.split('\n');
  const torn = !text.endsWith('\n') && lines[lines.length - 1] !== '';
  const out: LogLine[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line) as unknown;
    } catch {
      if (options.tornTail === true && torn && i === lines.length - 1) break;
      throw new ResultsFileError(`${file}:${i + 1}`, 'not a JSON line (truncated or damaged)');
    }
    if (!isObject(value) || !LOG_TYPES.has(value.type as string) || !isCount(value.step)) {
      throw new ResultsFileError(`${file}:${i + 1}`, `not a log line ({type: 'step' | 'eval' | 'orthogonality', step: integer >= 0, ...}): ${describe(value)}`);
    }
    out.push(value as unknown as LogLine);
  }
  return out;
}

/**
 * The log lines up to `step` for a resume, checked to hold every step 1 … `step` in order (errors name
 * the file). Writes nothing.
 */
export function logUpTo(file: string, step: number): LogLine[] {
  const kept = readLog(file, { tornTail: true, optional: true }).filter((l) => l.step <= step);
  const steps = kept.filter((l) => l.type === 'step').map((l) => l.step);
  if (steps.length !== step || steps.some((s, i) => s !== i + 1)) {
    const held = steps.length === 0 ? 'no step lines' : `${steps.length} step lines (steps ${steps[0]} … ${steps[steps.length - 1]})`;
    throw new ResultsFileError(
      file,
      `holds ${held} up to the checkpoint, which is at step ${step}: the log does not belong to the checkpoint; delete the run's checkpoint folder to restart it from step 0, or start over (--fresh)`,
    );
  }
  return kept;
}

const FINAL_KEYS = ['trainLoss', 'validationLoss', 'validationMetric', 'testLoss', 'testMetric'] as const;
const TIMING_KEYS = ['msPerStep', 'msPerStepOptimizer', 'medianMsPerStep', 'medianMsPerStepOptimizer', 'trainSeconds', 'evalSeconds'] as const;

/**
 * Reads the record of finished run `id` (`runs/<id>.json`); null when it does not exist. Errors name the
 * file and the field. Its `log` must be `logs/<id>.jsonl` (no path out of the folder).
 */
export function readRunRecord(file: string, id: string): RunRecord | null {
  const wayOut = 'delete it to rerun that run, or start over (--fresh)';
  const fail = (m: string, cause?: unknown): ResultsFileError => new ResultsFileError(file, `${m}; ${wayOut}`, cause === undefined ? undefined : { cause });
  const value = readJson(file, fail);
  if (value === null) return null;
  if (!isObject(value)) throw fail(`must hold a JSON object, got ${describe(value)}`);
  const field = fieldReader(value, fail);
  const isString = (v: unknown): v is string => typeof v === 'string';
  const numberOrNull = (v: unknown): v is number | null => v === null || typeof v === 'number';
  if (field('id', isString, 'a string') !== id) throw fail(`is the record of run '${String(value.id)}', not '${id}'`);
  field('optimizer', isString, 'a string');
  field('label', isString, 'a string');
  field('log', (v): v is string => v === `logs/${id}.jsonl`, `'logs/${id}.jsonl'`);
  for (const [name, keys] of [
    ['final', FINAL_KEYS],
    ['timing', TIMING_KEYS],
  ] as const) {
    const o = field(name, isObject, 'an object');
    for (const k of keys) {
      if (!numberOrNull(o[k])) throw fail(`field '${name}.${k}' must be a number, got ${describe(o[k])}`);
    }
  }
  return value as unknown as RunRecord;
}

/** Reads a sweep's points (`runs/sweep-<label>.json`); null when it does not exist. Errors name the file. */
export function readSweep(file: string): SweepPoint[] | null {
  const fail = (m: string, cause?: unknown): ResultsFileError =>
    new ResultsFileError(file, `${m}; delete it to sweep again, or start over (--fresh)`, cause === undefined ? undefined : { cause });
  const value = readJson(file, fail);
  if (value === null) return null;
  if (!isObject(value)) throw fail(`must hold a JSON object, got ${describe(value)}`);
  const points = fieldReader(value, fail)(
    'points',
    (v): v is SweepPoint[] =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every(
        (p) =>
          isObject(p) &&
          typeof p.learningRate === 'number' &&
          p.learningRate > 0 &&
          (p.validationLoss === null || typeof p.validationLoss === 'number'),
      ),
    'a non-empty list of {learningRate: number > 0, validationLoss: number | null}',
  );
  return points;
}

/** Reads `settings.json` of a results folder; null when it does not exist. Errors name the file. */
export function readSettings(file: string): Record<string, unknown> | null {
  const fail = (m: string, cause?: unknown): ResultsFileError =>
    new ResultsFileError(file, `${m}; use another output folder, or start over (--fresh)`, cause === undefined ? undefined : { cause });
  const value = readJson(file, fail);
  if (value === null) return null;
  if (!isObject(value)) throw fail(`must hold a JSON object, got ${describe(value)}`);
  return value;
}
