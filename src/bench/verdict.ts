/**
 * The one vocabulary for whether a paper's claim holds here, shared by CLAIMS.md (src/bench/claims.ts)
 * and the timing benchmarks' own checks (bench/orthogonalizers.ts judging the same Turbo claim on its
 * shapes): `reproduced`, `partly reproduced` (some checks hold, others not), `not reproduced`, and
 * `not testable here` (nothing measured that bears on it).
 * @module
 */

export type Verdict = 'reproduced' | 'partly reproduced' | 'not reproduced' | 'not testable here';

/** The verdict of a list of checks (each true when it holds): all, some, none, or no checks at all. */
export function verdictOf(checks: readonly boolean[]): Verdict {
  if (checks.length === 0) return 'not testable here';
  if (checks.every((c) => c)) return 'reproduced';
  if (checks.every((c) => !c)) return 'not reproduced';
  return 'partly reproduced';
}
