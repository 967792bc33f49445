/**
 * What the `bench:engines` sections share: the spec's Gram flop formula (the counts as implemented are
 * the library's, src/linalg/flops.ts), whether an engine is available, and the targets checked
 * on the measured rows.
 * @module
 */
import { listEngines, type EngineName } from '../../src/index.js';
import { type Shape } from '../timing.js';
import { type EngineNsResult, type NsTarget, type TargetCheck, nsTargets } from './settings.js';

/** The spec's §13.1 dense count for Gram NS with 5 steps and one restart: 8k²n + 32k³. */
export function gramFlopsSpec(shape: Shape): number {
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  return 8 * k * k * n + 32 * k ** 3;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

export function availability(engine: EngineName): { ok: true } | { ok: false; reason: string } {
  const e = listEngines().find((x) => x.name === engine);
  if (e === undefined) return { ok: false, reason: 'not registered' };
  return e.available ? { ok: true } : { ok: false, reason: e.reason ?? 'unavailable' };
}

/**
 * The targets ({@link nsTargets}), one check each for every target whose shape the run measured:
 * held (× of the limit ≤ the target), missed, or `holds: null` where its row was not measured (engine
 * unavailable, row not run, or no limit to divide by). Targets on shapes the run skipped are left out.
 */
export function targetChecks(ns: Pick<EngineNsResult, 'shapes'> | null, targets: readonly NsTarget[] = nsTargets): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const t of targets) {
    const s = ns?.shapes.find((x) => sameShape(x.shape, t.shape));
    if (s === undefined) continue;
    const r = s.rows.find((x) => x.engine === t.engine && (x.iteration ?? 'jordan') === t.iteration);
    const measured = r !== undefined && r.ms !== null && Number.isFinite(r.xLimit);
    out.push({
      engine: t.engine,
      iteration: t.iteration,
      label: t.label,
      shape: t.shape,
      xLimit: measured ? r.xLimit : NaN,
      target: t.max,
      holds: measured ? r.xLimit <= t.max : null,
      ms: measured ? r.ms!.median : NaN,
      xOwnMatmul: measured ? r.xOwnMatmul : NaN,
      xLimitInRounds: measured ? (r.xLimitInRounds ?? NaN) : NaN,
    });
  }
  return out;
}
