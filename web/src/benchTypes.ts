/**
 * What the benchmark page (benchPage.ts) returns to bench/browser.ts: plain data, no DOM, so the Node
 * script can import the types.
 */
import type { Stats } from '../../src/bench/stats.js';

export interface NsRow {
  readonly n: number;
  readonly steps: number;
  readonly ns: Stats;
  readonly matMul: Stats;
  readonly nsGflops: number;
  readonly matMulGflops: number;
  /** NS median ÷ (15 × matMul median): 1 = Newton–Schulz at the backend's matMul rate. */
  readonly ratio: number;
}

export interface MuonRow {
  readonly layers: readonly number[];
  readonly muonStep: Stats;
  readonly adamwStep: Stats;
  /** Flops of Muon's Newton–Schulz products in one step (hidden kernels; the head goes to AdamW). */
  readonly nsFlops: number;
  /** The matMul measured beside it: 512×784 · 784×512. */
  readonly matMul: Stats;
  readonly matMulGflops: number;
  /** muon step median ÷ (nsFlops at the matMul rate). */
  readonly ratio: number;
  readonly leakedTensors: number;
}

export interface BackendBench {
  /** What started (web/src/backend.ts BackendStatus). */
  readonly backend: { readonly requested: string; readonly running: string; readonly available: readonly string[]; readonly note: string };
  readonly ns: NsRow[];
  readonly muon: MuonRow | null;
  readonly wallMs: number;
}

export interface BenchOptions {
  readonly sizes: readonly number[];
  /** Time budget per measurement (ms) that sizes the repeats; at least 3 repeats are always taken. */
  readonly budgetMs: number;
  readonly muon: boolean;
}
