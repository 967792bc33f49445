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
  const missing = engineMissing(engine);
  if (missing === null) return false;
  if (process.env.CI === 'true') throw new Error(`${missing} (CI=true: every optional dependency must be installed)`);
  return `${missing} — skipped`;
}
