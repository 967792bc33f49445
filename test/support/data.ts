/**
 * Where tests find datasets, and how they behave when one is missing: locally the test is skipped with
 * a message saying how to provide the data; under CI=true missing data fails the run, so a CI job
 * without its data can never pass by skipping everything.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared data root: `ORTHOPTIM_DATA_DIR`, else `../shared/data`, relative to the repository root. */
export const testDataDir = resolve(repoRoot, process.env.ORTHOPTIM_DATA_DIR ?? '../shared/data');

/**
 * True when `path` exists. Otherwise skips `t` (or, under CI=true, throws) with a message naming
 * `what` is missing and where it was expected.
 */
export function requireData(t: TestContext, what: string, path: string): boolean {
  if (existsSync(path)) return true;
  const msg = `missing ${what} at ${path}: set ORTHOPTIM_DATA_DIR=/path/to/shared/data (default ../shared/data from the repository root)`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}
