/**
 * Tiny Shakespeare (Karpathy's char-rnn corpus, `data/tinyshakespeare/input.txt`: 1,115,394 characters,
 * 65 distinct) as a character-level token stream, the corpus of nanoGPT's `shakespeare_char` benchmark.
 *
 * Found like MNIST (see `locate.ts`): the `dataDir` option alone when given, else `ORTHOPTIM_DATA_DIR` (each as the
 * directory itself, then its `tinyshakespeare/` subdirectory), then the download cache; downloaded only
 * when asked, from char-rnn's repository, and checked against a pinned SHA-256.
 *
 * Splits: nanoGPT (`data/shakespeare_char/prepare.py`) and char-rnn train on the first 90 % and validate
 * on the last 10 %. Our runner also reports a test metric, so the held-out 10 % is cut in two: its
 * first half is the validation split, its second half the test split. All splits are contiguous spans of
 * the text (no shuffling: a character-level language model reads running text).
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataNotFoundError, briefNotFound, type SearchedPlace } from './locate.js';

/** Where the corpus comes from, and what it must hash to (see `../shared/data/tinyshakespeare/SOURCES.md`). */
export const shakespeareSource = {
  url: 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
  fileName: 'input.txt',
  bytes: 1115394,
  sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
} as const;

/** The corpus's directory name under a data root or the cache root. */
export const shakespeareDirName = 'tinyshakespeare';

/** A contiguous span `[start, end)` of the token stream. */
export interface TextSpan {
  start: number;
  end: number;
}

/** Train / validation / test spans of a text of `length` characters (see the module note). */
export interface TextSplits {
  train: TextSpan;
  validation: TextSpan;
  test: TextSpan;
}

/**
 * The splits of a `length`-character text: train `[0, ⌊0.9·length⌋)`, then the rest halved: validation
 * `[⌊0.9·length⌋, mid)`, test `[mid, length)` with `mid` the floor of the midpoint. For Tiny Shakespeare:
 * 1,003,854 / 55,770 / 55,770 characters.
 */
export function textSplits(length: number): TextSplits {
  const trainEnd = Math.floor(0.9 * length);
  const mid = trainEnd + Math.floor((length - trainEnd) / 2);
  return { train: { start: 0, end: trainEnd }, validation: { start: trainEnd, end: mid }, test: { start: mid, end: length } };
}

/** A text as characters: its sorted vocabulary and every character's index in it. */
export interface CharText {
  text: string;
  /** The distinct characters (Unicode code points), sorted by code point; token `i` is `vocab[i]`. */
  vocab: string[];
  /** The text as vocabulary indices, one per code point (Uint8Array when the vocabulary has ≤ 256 entries). */
  tokens: Uint8Array | Uint16Array;
}

/** Encodes `text` character by character (code points) over its own sorted vocabulary. */
export function encodeChars(text: string): CharText {
  const chars = Array.from(text);
  const vocab = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  if (vocab.length > 65536) throw new RangeError(`encodeChars: ${vocab.length} distinct characters exceed 65,536`);
  const index = new Map(vocab.map((c, i) => [c, i]));
  const tokens = vocab.length <= 256 ? new Uint8Array(chars.length) : new Uint16Array(chars.length);
  for (let i = 0; i < chars.length; i++) tokens[i] = index.get(chars[i])!;
  return { text, vocab, tokens };
}

/** Tiny Shakespeare as loaded: where from, the text, its characters and its splits. */
export interface ShakespeareData extends CharText {
  /** The directory `input.txt` was read from. */
  dir: string;
  /** SHA-256 of the file read (equal to {@link shakespeareSource}`.sha256` for the canonical corpus). */
  sha256: string;
  splits: TextSplits;
}

export interface LoadShakespeareOptions {
  /** A directory holding `input.txt`, or holding it in a `tinyshakespeare/` subdirectory. */
  dataDir?: string;
  /** Download into the cache when the file is found nowhere (default false: fail with a `DataNotFoundError`). */
  download?: boolean;
  /** Root of the download cache (default `ORTHOPTIM_CACHE_DIR`, else `~/.cache/orthoptim`). */
  cacheDir?: string;
  /** The fetch used for downloading (default the global one); injectable for tests. */
  fetch?: typeof fetch;
}

function envDir(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : resolve(value);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The download cache of the corpus: `<root>/tinyshakespeare`, the root as for MNIST (`datasetCacheDir`). */
export function shakespeareCacheDir(cacheDir?: string): string {
  const root = cacheDir !== undefined ? resolve(cacheDir) : (envDir('ORTHOPTIM_CACHE_DIR') ?? join(homedir(), '.cache', 'orthoptim'));
  return join(root, shakespeareDirName);
}

/** Looks for `input.txt` in the search order of the module note; stops at the first directory holding it. */
export function searchShakespeare(dataDir?: string, cacheDir?: string): { found: string | undefined; searched: SearchedPlace[] } {
  const places: { dir: string; source: string }[] = [];
  const addRoot = (root: string, source: string): void => {
    places.push({ dir: root, source }, { dir: join(root, shakespeareDirName), source });
  };
  // An explicit directory is the only place looked at (see DataNotFoundError).
  if (dataDir !== undefined) {
    addRoot(resolve(dataDir), 'dataDir option');
  } else {
    const fromEnv = envDir('ORTHOPTIM_DATA_DIR');
    if (fromEnv !== undefined) addRoot(fromEnv, 'ORTHOPTIM_DATA_DIR');
    places.push({ dir: shakespeareCacheDir(cacheDir), source: 'download cache' });
  }
  const searched: SearchedPlace[] = [];
  for (const place of places) {
    const here = existsSync(place.dir);
    const has = here && isFile(join(place.dir, shakespeareSource.fileName));
    searched.push({ ...place, missing: here ? (has ? [] : [shakespeareSource.fileName]) : undefined });
    if (has) return { found: place.dir, searched };
  }
  return { found: undefined, searched };
}

function notFoundMessage(searched: SearchedPlace[], cacheDir: string): string {
  const where = (p: SearchedPlace): string =>
    p.missing === undefined ? 'no such directory' : p.missing.length === 0 ? 'found' : `no ${shakespeareSource.fileName}`;
  return [
    `Tiny Shakespeare not found: no directory searched holds ${shakespeareSource.fileName}.`,
    'Searched, in order:',
    ...searched.map((p) => `  ${p.dir}  (${p.source}: ${where(p)})`),
    'To fix it, do one of:',
    `  - set ORTHOPTIM_DATA_DIR to a directory holding ${shakespeareSource.fileName}, or holding it in a ${shakespeareDirName}/ subdirectory;`,
    `  - pass --download (loadShakespeare: download: true) to download it, sha256-checked, from ${shakespeareSource.url} into ${cacheDir}.`,
  ].join('\n');
}

/**
 * Tiny Shakespeare is on none of the searched paths: a `DataNotFoundError` (so the task registry can
 * fall back to a task without data) whose message lists each place looked at and how to fix it.
 */
export class ShakespeareNotFoundError extends DataNotFoundError {
  constructor(searched: SearchedPlace[], cacheDir: string) {
    const dirs = searched.map((p) => p.dir);
    super(shakespeareDirName, dirs, notFoundMessage(searched, cacheDir), briefNotFound('Tiny Shakespeare', dirs, 'pass --data-dir DIR, set ORTHOPTIM_DATA_DIR, or --download'));
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Downloads `input.txt` into `dir` (created if needed) unless a file with the pinned SHA-256 is there;
 * returns `dir`. The body is checked (size and SHA-256) before it is written, through a temporary file
 * renamed into place, so a reader never sees a partial or wrong file.
 */
export async function downloadShakespeare(dir: string, fetchFile: typeof fetch = globalThis.fetch): Promise<string> {
  const { url, fileName } = shakespeareSource;
  const dest = join(dir, fileName);
  if (isFile(dest) && sha256(await readFile(dest)) === shakespeareSource.sha256) return dir;
  let body: Uint8Array;
  try {
    const response = await fetchFile(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trimEnd());
    body = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new Error(`${fileName}: could not download ${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const actual = sha256(body);
  if (actual !== shakespeareSource.sha256) {
    throw new Error(
      `${fileName}: sha256 mismatch: expected ${shakespeareSource.sha256}, got ${actual} (${body.length} bytes downloaded from ${url}; nothing was written)`,
    );
  }
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${fileName}.${process.pid}.download`);
  try {
    await writeFile(temp, body);
    await rename(temp, dest);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  return dir;
}

/**
 * Loads Tiny Shakespeare from the first directory that holds `input.txt` (downloading it first only
 * when `download` is true), encodes it over its sorted character vocabulary and computes its splits.
 * Any `input.txt` is accepted (its digest is returned in `sha256`); only downloads are checked.
 */
export async function loadShakespeare(options: LoadShakespeareOptions = {}): Promise<ShakespeareData> {
  const { found, searched } = searchShakespeare(options.dataDir, options.cacheDir);
  let dir = found;
  if (dir === undefined) {
    const cache = shakespeareCacheDir(options.cacheDir);
    if (options.download !== true) throw new ShakespeareNotFoundError(searched, cache);
    dir = await downloadShakespeare(cache, options.fetch);
  }
  const bytes = await readFile(join(dir, shakespeareSource.fileName));
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const encoded = encodeChars(text);
  if (encoded.tokens.length < 100) {
    throw new Error(`${join(dir, shakespeareSource.fileName)}: ${encoded.tokens.length} characters is too short to split into train/validation/test`);
  }
  return { dir, sha256: sha256(bytes), ...encoded, splits: textSplits(encoded.tokens.length) };
}
