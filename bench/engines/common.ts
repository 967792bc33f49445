/**
 * What the `bench:engines` sections share: the spec's Gram flop formula (the counts as implemented are
 * the library's, src/linalg/flops.ts), whether an engine is available, and the targets checked
 * on the measured rows.
 * @module
 */
import { listEngines, type EngineName } from '../../src/index.js';
import { type Shape } from '../timing.js';
import { type EngineNsResult, type TargetCheck } from './settings.js';

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

/** The targets, checked on the measured rows that have one (engine × shape). */
export function targetChecks(ns: Pick<EngineNsResult, 'shapes'> | null): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const s of ns?.shapes ?? []) {
    for (const r of s.rows) {
      if (r.target !== null && r.holds !== null) out.push({ engine: r.engine, shape: s.shape, xLimit: r.xLimit, target: r.target, holds: r.holds });
    }
  }
  return out;
}
