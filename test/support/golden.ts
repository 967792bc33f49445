/**
 * Reading the golden set in test/fixtures/golden (step-by-step trajectories recorded from the authors' PyTorch code).
 * Format and tolerances: test/fixtures/golden/README.md. Tensors there are in PyTorch layout; the library
 * works in TensorFlow.js layout, so replays convert on the way in and out (2-D: transpose; 4-D conv
 * `[out, in, kh, kw]` → `[kh, kw, in, out]`, i.e. permutation (2, 3, 1, 0)).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
/** The golden set: `test/fixtures/golden` in the repository (a copy of the public set, with its README and provenance); `ORTHOPTIM_GOLDEN_DIR` overrides it. */
export const goldenDir = resolve(repoRoot, process.env.ORTHOPTIM_GOLDEN_DIR ?? 'test/fixtures/golden');

export * from './goldenCore.js';
import type { GoldenFile } from './goldenCore.js';

/** Golden file names (without .json) starting with `prefix + '__'`. */
export function goldenCases(prefix: string): string[] {
  if (!existsSync(goldenDir)) return [];
  const manifest = JSON.parse(readFileSync(resolve(goldenDir, 'MANIFEST.json'), 'utf8')) as { files: { file: string; method: string }[] };
  return manifest.files.filter((f) => f.method === prefix).map((f) => f.file.replace(/\.json$/, ''));
}

/**
 * True when the golden directory exists. Otherwise skips the test with a message — except under
 * CI=true, where missing data is a failure.
 */
export function requireGolden(t: TestContext): boolean {
  if (existsSync(resolve(goldenDir, 'MANIFEST.json'))) return true;
  const msg = `missing golden files at ${goldenDir}: the repository's test/fixtures/golden is missing (or ORTHOPTIM_GOLDEN_DIR points elsewhere)`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}

export function loadGolden(name: string): GoldenFile {
  return JSON.parse(readFileSync(resolve(goldenDir, `${name}.json`), 'utf8')) as GoldenFile;
}
