/**
 * What the `bench:engines` sections share: flop counts of the standard and Gram Newton–Schulz forms,
 * whether an engine is available, and the targets checked on the measured rows.
 * @module
 */
import { listEngines, type EngineName } from '../../src/index.js';
import { type Shape } from '../timing.js';
import { type EngineNsResult, type TargetCheck } from './settings.js';

/** Standard NS: steps·(4k²n + 2k³) (spec §13.1; k = min side, n = max side). */
export function standardFlops(shape: Shape, steps: number): number {
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  return steps * (4 * k * k * n + 2 * k ** 3);
}

/**
 * Gram NS as `newtonSchulzGramTall` computes it (dense GEMM flops): `R = XXᵀ` (2k²n); per step
 * `W = R(cR + bI) + aI` (2k³), `Q ← Q·W` (2k³, not at the first step or after a restart),
 * `R ← W(RW)` (4k³, not before a restart or after the last step); a restart `X ← QX`, `R ← XXᵀ` (4k²n);
 * the end `X ← QX` (2k²n). 5 steps, restart after step 2: 8k²n + 28k³.
 */
export function gramFlops(shape: Shape, steps: number, restarts: readonly number[]): number {
  const k = Math.min(shape[0], shape[1]);
  const n = Math.max(shape[0], shape[1]);
  const at = new Set(restarts);
  let flops = 2 * k * k * n;
  let haveQ = false;
  for (let i = 0; i < steps; i++) {
    if (i > 0 && at.has(i) && haveQ) {
      flops += 4 * k * k * n;
      haveQ = false;
    }
    flops += 2 * k ** 3;
    if (haveQ) flops += 2 * k ** 3;
    haveQ = true;
    if (i + 1 < steps && !at.has(i + 1)) flops += 4 * k ** 3;
  }
  return haveQ ? flops + 2 * k * k * n : flops;
}

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
