/**
 * One rule for every test that needs a native engine: when the engine cannot run here (e.g. the
 * optional `onnxruntime-node` was left out by `npm ci --omit=optional`), the test is skipped with a
 * message naming what is missing — except under CI=true, where CI installs every optional dependency, so
 * a missing engine is a failure (the test file stops at import with the reason).
 */
import { onnxRuntimeAvailability } from '../../src/engines/onnxruntime.js';
import { workersAvailability } from '../../src/engines/workers.js';

export type NativeEngine = 'onnxruntime' | 'workers';

/** Why `engine` cannot run here, or null when it can. */
export function engineMissing(engine: NativeEngine): string | null {
  const status = engine === 'onnxruntime' ? onnxRuntimeAvailability() : workersAvailability();
  return status.ok ? null : `the ${engine} engine cannot run here: ${status.reason}`;
}

/**
 * `false` when `engine` can run (a test's `{ skip }` option), else the skip message — or, under CI=true,
 * throws it.
 */
export function engineSkip(engine: NativeEngine): false | string {
  return optionalSkip(engineMissing(engine));
}

/**
 * The one rule for anything optional a test needs (a native engine, an optional package such as
 * `@resvg/resvg-js`): `missing` is why it cannot be used here, or null when it can. Returns `false`
 * (a test's `{ skip }`) when present, else the skip message — or, under CI=true, throws it.
 */
export function optionalSkip(missing: string | null): false | string {
  if (missing === null) return false;
  if (process.env.CI === 'true') throw new Error(`${missing} (CI=true: every optional dependency must be installed)`);
  return `${missing} — skipped`;
}

/** Why the optional package `name` cannot be imported here, or null when it can. */
export async function packageMissing(name: string): Promise<string | null> {
  try {
    await import(name);
    return null;
  } catch (error) {
    return `the optional package ${name} cannot load here (${(error as Error).message.split('\n')[0]}); install it: npm install --save-dev ${name}`;
  }
}
