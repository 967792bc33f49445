/**
 * Optimizer checkpoints as files (Node only; the main entry stays free of `node:` modules): a directory
 * holding `manifest.json` and the data file of {@link serializeCheckpoint}.
 *
 * Replacing a checkpoint is atomic — a versioned pair with the pointer written last: the data goes to a
 * new file of its own (`state.<pid>.<random>.bin`, flushed to disk), then `manifest.json`, which names
 * that file, is written to a temporary name, flushed and renamed over the old one, and the directory is
 * flushed; only then is the previous data file removed. At every instant `manifest.json` names a
 * complete data file, so a crash or `kill -9` at any point leaves the previous checkpoint or the new
 * one, never neither. The directory may hold other files (the bench runner keeps `params.bin` and
 * `run.json` beside them); they are left alone. Saves to one directory from one process run one after
 * the other, each writing the state it had when called; saves from several processes never remove each
 * other's files (a left-over file is removed by a later save once the process that wrote it has ended).
 *
 * Version-1 checkpoints (`manifest.json` + `state.bin`, written before this layout) are read as before.
 * @module
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CheckpointError,
  restoreCheckpoint,
  serializeCheckpoint,
  validateCheckpointManifest,
  type CheckpointManifest,
  type CheckpointOptions,
  type RestoreReport,
} from '../tfjs/checkpoint.js';
import { isTransformOptimizer, type TransformOptimizer } from '../tfjs/optimizer.js';
import { writeAtomic } from './fileSystem.js';

/** The manifest's file name inside a checkpoint directory. */
export const CHECKPOINT_MANIFEST = 'manifest.json';

/** Files this module writes and may remove when left over: data files and temporary manifests, with the writer's pid. */
const OWN_FILE = /^(?:state\.(\d+)\.[0-9a-f]{16}\.bin|manifest\.json\.(\d+)\.[0-9a-f]{8}\.tmp)$/;
/** The data file of a version-1 checkpoint. */
const LEGACY_DATA_FILE = 'state.bin';

/** How often a load reads the manifest again when savers in other processes keep replacing the checkpoint. */
const MAX_LOAD_ATTEMPTS = 1000;

/** Per directory, the save or load now running in this process: the next one waits for it. */
const queue = new Map<string, Promise<unknown>>();

function serialized<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  const previous = queue.get(key) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(work);
  queue.set(key, run);
  const clear = () => {
    if (queue.get(key) === run) queue.delete(key);
  };
  run.then(clear, clear);
  return run;
}

function checkArguments(fn: string, optimizer: unknown, dir: unknown): asserts dir is string {
  if (!isTransformOptimizer(optimizer)) {
    throw new TypeError(`${fn}: optimizer must be an orthoptim optimizer, got ${optimizer === null ? 'null' : typeof optimizer}`);
  }
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new TypeError(`${fn}: dir must be a directory path (a non-empty string), got ${String(dir)}`);
  }
}

/** Whether process `pid` still runs (this one does: its own files are never taken for left-overs). */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Flushes the directory entry of the rename (POSIX); where a directory cannot be opened (Windows), nothing to do. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(dir, 'r');
  } catch (e) {
    if (['EISDIR', 'EPERM', 'EACCES'].includes((e as NodeJS.ErrnoException).code ?? '')) return;
    throw e;
  }
  try {
    await handle.sync();
  } catch (e) {
    if (!['EINVAL', 'ENOTSUP', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await handle.close();
  }
}

/** The data file the manifest now in `dir` names, if it is readable and names a plain file. */
async function currentDataFile(manifestPath: string): Promise<string | null> {
  try {
    const m = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as { dataFile?: unknown };
    return typeof m.dataFile === 'string' && !m.dataFile.includes('/') && !m.dataFile.includes('\\') ? m.dataFile : null;
  } catch {
    return null;
  }
}

/**
 * Writes the optimizer's checkpoint into `dir` (created if needed), replacing the one there atomically;
 * with `{ surgery }`, a `bloop()` / `odice()` surgery's EMA state goes into the same checkpoint.
 * Resolves once the new checkpoint is on disk; the state written is the state at the call.
 */
export async function saveCheckpoint(optimizer: TransformOptimizer, dir: string, options?: CheckpointOptions): Promise<CheckpointManifest> {
  checkArguments('saveCheckpoint', optimizer, dir);
  const source = `checkpoint ${dir}`;
  const dataFile = `state.${process.pid}.${randomBytes(8).toString('hex')}.bin`;
  // Taken now, before waiting for earlier saves: the state at the call.
  const serialized_ = serializeCheckpoint(optimizer, dataFile, options);
  serialized_.catch(() => undefined); // its error is thrown below, when the save's turn comes
  return serialized(dir, async () => {
    const { manifest, data } = await serialized_;
    const manifestPath = path.join(dir, CHECKPOINT_MANIFEST);
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new CheckpointError(source, `cannot create the directory (${(e as Error).message})`, { cause: e });
    }
    const existing = await fs.lstat(manifestPath).catch(() => null);
    if (existing !== null && !existing.isFile()) {
      throw new CheckpointError(source, `${CHECKPOINT_MANIFEST} is not a file; nothing was written`);
    }
    const previous = existing === null ? null : await currentDataFile(manifestPath);
    const dataPath = path.join(dir, dataFile);
    try {
      const handle = await fs.open(dataPath, 'wx');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await writeAtomic(manifestPath, JSON.stringify(manifest, null, 1));
    } catch (e) {
      await fs.rm(dataPath, { force: true });
      throw new CheckpointError(source, `could not write the checkpoint (${(e as Error).message}); the previous one is unchanged`, { cause: e });
    }
    await fsyncDirectory(dir);
    // The new checkpoint is in place: the previous data file and files left by ended writers can go.
    const names = await fs.readdir(dir);
    for (const name of names) {
      if (name === dataFile) continue;
      const own = OWN_FILE.exec(name);
      const replaced = name === previous && (own !== null || name === LEGACY_DATA_FILE);
      const leftOver = own !== null && !isAlive(Number(own[1] ?? own[2]));
      if (replaced || leftOver) await fs.rm(path.join(dir, name), { force: true });
    }
    return manifest;
  });
}

async function readManifest(dir: string, source: string): Promise<CheckpointManifest> {
  const manifestPath = path.join(dir, CHECKPOINT_MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CheckpointError(source, `no ${CHECKPOINT_MANIFEST} there`, { cause: e });
    if (code === 'EISDIR') throw new CheckpointError(source, `${CHECKPOINT_MANIFEST} is not a file`, { cause: e });
    throw new CheckpointError(source, `cannot read ${CHECKPOINT_MANIFEST} (${(e as Error).message})`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(source, `${CHECKPOINT_MANIFEST} is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return validateCheckpointManifest(parsed, source);
}

/** The data file's bytes, or null when it is not there; a file that is not a regular file is refused. */
async function readDataFile(dir: string, name: string, source: string): Promise<Uint8Array | null> {
  const file = path.join(dir, name);
  // The schema allows plain names only; this keeps the promise should that ever change.
  if (path.dirname(path.resolve(file)) !== path.resolve(dir)) {
    throw new CheckpointError(source, `data file '${name}' is outside the checkpoint directory`);
  }
  const stat = await fs.lstat(file).catch(() => null);
  if (stat === null) return null;
  if (!stat.isFile()) throw new CheckpointError(source, `data file '${name}' is not a regular file`);
  try {
    return await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CheckpointError(source, `cannot read data file '${name}' (${(e as Error).message})`, { cause: e });
  }
}

/**
 * Reads the checkpoint in `dir` (written by {@link saveCheckpoint}, this version's layout or version 1's)
 * into `optimizer`, and with `{ surgery }` the surgery's EMA state saved with it. Throws
 * {@link CheckpointError} for a missing, damaged or edited checkpoint or surgery state missing on either
 * side, and changes nothing then.
 */
export async function loadCheckpoint(optimizer: TransformOptimizer, dir: string, options?: CheckpointOptions): Promise<RestoreReport> {
  checkArguments('loadCheckpoint', optimizer, dir);
  const source = `checkpoint ${dir}`;
  return serialized(dir, async () => {
    // Another process may replace the checkpoint between the two reads (and remove the data file the
    // manifest just read names): then the manifest names a newer file, which is read instead — as often
    // as a saver that keeps saving replaces it (a fixed two tries lost that race under load). The same
    // manifest naming a missing file twice in a row is a broken checkpoint.
    let missing: string | null = null;
    for (let attempt = 0; ; attempt++) {
      const manifest = await readManifest(dir, source);
      const data = await readDataFile(dir, manifest.dataFile, source);
      if (data === null) {
        if (manifest.dataFile !== missing && attempt < MAX_LOAD_ATTEMPTS) {
          missing = manifest.dataFile;
          continue;
        }
        throw new CheckpointError(
          source,
          manifest.dataFile === missing
            ? `data file '${manifest.dataFile}' is missing`
            : `data file '${manifest.dataFile}' is missing: the checkpoint was replaced ${attempt} times while it was read`,
        );
      }
      return restoreCheckpoint(optimizer, manifest, data, source, options);
    }
  });
}
