/**
 * `bench:engines` rendering: the Markdown tables of every section and the report of a run.
 * @module
 */
import { PROFILE_PHASES } from '../../src/engines/workers.js';
import { formatMs } from '../timing.js';
import { formatTable } from '../../src/bench/table.js';
import { type EngineSectionsResult, type EnginesBenchResult, matmulRates, nsTargets } from './settings.js';

const fmtX = (v: number): string => (Number.isFinite(v) ? `×${v.toFixed(2)}` : '—');
const fmtG = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—');
const fmtE = (v: number): string => (Number.isFinite(v) ? v.toExponential(1) : '—');
const fmtGflop = (flops: number): string => (flops / 1e9).toFixed(2);
const verdict = (h: boolean | null): string => (h === null ? '—' : h ? 'yes' : '**no**');
const targetText = nsTargets.map((t) => `${t.label} ≤ ×${t.max} at ${t.shape.join('×')}`).join('; ');

/** The markdown tables of the engine sections. */
export function renderEngineSections(r: EngineSectionsResult): string {
  const out: string[] = [];
  const load = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' ');
  out.push(
    `## Native Newton–Schulz engines on ${r.backend}\n\n` +
      `Load average (1/5/15 min) ${load(r.loadAverage.start)} at the start, ${load(r.loadAverage.end)} at the end (shared machine). ` +
      `Engines: ${r.available.map((e) => `${e.name} ${e.available ? 'available' : `unavailable (${e.reason ?? ''})`}`).join(', ')}.`,
  );
  const rates = matmulRates(r.limit);
  const limitGflops = rates.limit;
  if (r.limit !== null) {
    const l = r.limit;
    out.push(
      `### The matmul limit: float32 ${l.size}×${l.size}·${l.size}×${l.size} (${fmtGflop(l.flops)} GFLOP), measured in this run`,
      formatTable(
        ['engine', 'how', 'threads', 'reps', 'time (median)', 'IQR', 'min', 'GFLOP/s (median)', 'GFLOP/s (min)', '× of the limit'],
        l.rows.map((x) => [
          x.engine, x.method, String(x.threads), String(x.ms.n), formatMs(x.ms.median), formatMs(x.ms.iqr), formatMs(x.ms.min),
          x.gflops === l.best?.gflops ? `**${fmtG(x.gflops)}**` : fmtG(x.gflops), fmtG(x.peakGflops), fmtX(x.xLimit),
        ]),
      ),
      (l.best === null ? 'no limit measured' : `**limit = ${fmtG(l.best.gflops)} GFLOP/s** (${l.best.engine}: ${l.best.method}; median).`) +
        (l.peak === null ? '' : ` Peak (fastest single product): ${fmtG(l.peak.gflops)} GFLOP/s (${l.peak.engine}: ${l.peak.method}).`) +
        (l.skipped.length ? ` Skipped: ${l.skipped.map((s) => `${s.engine} (${s.reason})`).join('; ')}.` : ''),
    );
  }
  if (r.ns !== null) {
    out.push(
      `### Newton–Schulz (Jordan, 5 steps; "· turbo": Turbo-Muon's 4 steps with AOL) per engine\n\n` +
        'Median warm time (the first call on each shape apart; native engines include the copies off and onto the backend), ' +
        "form 'auto' (onnxruntime: the Gram form where it does fewer flops), " +
        'flops = 5·(4k²n + 2k³) for every row (the 5-step Jordan count, Turbo-Muon and the Gram form included), ' +
        '"× of the limit" = median time ÷ (flops / limit), "min ÷ peak" = minimum time ÷ (flops / peak) ' +
        `(both sides least disturbed by other load). Targets (issue 16, judged on "× of the limit"): ${targetText}. ` +
        '"× own matmul" = time ÷ (flops / the engine\'s own plain-matmul rate in the limit section): its overhead over its kernels. ' +
        '"max rel. Δ" = max|out − tfjs| / max|tfjs|.',
      formatTable(
        [
          'shape', 'GFLOP', 'at the limit', 'engine', 'reps', 'time (median)', 'IQR', 'GFLOP/s',
          '× of the limit', 'target', 'holds', 'min ÷ peak', '× own matmul', 'first call', 'max rel. Δ vs tfjs',
        ],
        r.ns.shapes.flatMap((s) =>
          s.rows.map((x) => [
            s.shape.join('×'), fmtGflop(s.flops), formatMs(s.idealMs), x.name ?? x.engine,
            x.ms === null ? '—' : String(x.ms.n),
            x.ms === null ? `unavailable: ${x.reason ?? ''}` : `**${formatMs(x.ms.median)}**`,
            x.ms === null ? '—' : formatMs(x.ms.iqr),
            fmtG(x.gflops), `**${fmtX(x.xLimit)}**`, x.target === null ? '—' : `≤ ×${x.target}`, verdict(x.holds),
            fmtX(x.xLimitOfMins), fmtX(x.xOwnMatmul), formatMs(x.firstCallMs), x.engine === 'tfjs' ? '(ref)' : fmtE(x.maxRelDiffToTfjs),
          ]),
        ),
      ),
      `Engines as resolved: ${[...new Set(r.ns.shapes.flatMap((s) => s.rows.map((x) => x.description)))].join('; ')}.`,
    );
    if (r.ns.startup.length) {
      out.push(
        `Start-up (first call ever, on ${r.ns.shapes[0].shape.join('×')}, minus the warm median there):\n\n` +
          formatTable(
            ['engine', 'first call', 'warm median', 'start-up'],
            r.ns.startup.map((s) => [s.engine, formatMs(s.coldMs), formatMs(s.warmMs), formatMs(s.startupMs)]),
          ),
      );
    }
    const broken = r.ns.shapes.filter((s) => s.workersBreakdown !== undefined);
    if (broken.length) {
      out.push(
        '### Where the workers engine\'s time goes\n\n' +
          'Median ms per phase and thread over the profiled calls (a separate engine with the default options): ' +
          '`in`/`out` copies between the call\'s shared buffer and the thread\'s wasm heap; per step `transpose` (JS), ' +
          '`gram` (X_jᵀX_j), `copy` (partial Gram into shared memory), `wait` (barriers), `sum` (all-reduce, norm), ' +
          '`poly` (A_r·A), `combine` (P rows), `update` (X_j·P). "products" = gram + poly + update.',
        formatTable(
          ['shape', 'wall (median)', 'thread', ...PROFILE_PHASES, 'products', 'other'],
          broken.flatMap((s) =>
            s.workersBreakdown!.threads.map((t, i, list) => {
              const products = t.gram + t.poly + t.update;
              const all = PROFILE_PHASES.reduce((sum, p) => sum + t[p], 0);
              return [
                s.shape.join('×'), formatMs(s.workersBreakdown!.wallMs),
                s.workersBreakdown!.callingThread && i === list.length - 1 ? `${i} (calling thread)` : String(i),
                ...PROFILE_PHASES.map((p) => t[p].toFixed(1)), products.toFixed(1), (all - products).toFixed(1),
              ];
            }),
          ),
        ),
      );
    }
    if (r.targets.length) {
      out.push(
        '### Targets (issue 16 point 4)\n\n' +
          `"× of the limit" as above (5-step Jordan flops ÷ this run's limit). "own matmul floor": the engine's own plain ${r.limit?.size ?? ''}² ` +
          'matmul rate as × of the limit — about the best an engine built on those kernels can do; "× own matmul": the row\'s time ' +
          'over that rate (its overhead over its kernels); "× of the limit in rounds" (with `--targets-only`): the same time over the ' +
          "limit method's rate timed inside the rows' own rounds, under the same load (shown, not judged).\n\n" +
          formatTable(
            ['target', 'shape', 'time (median)', '× of the limit', 'target', 'held', '× of the limit in rounds', '× own matmul', 'own matmul floor'],
            r.targets.map((t) => [
              t.label, t.shape.join('×'), Number.isFinite(t.ms) ? formatMs(t.ms) : '—', `**${fmtX(t.xLimit)}**`, `≤ ×${t.target}`,
              t.holds === null ? 'not measured' : t.holds ? 'held' : '**missed**',
              fmtX(t.xLimitInRounds ?? NaN), fmtX(t.xOwnMatmul), fmtX(rates.limit / (rates.own[t.engine] ?? NaN)),
            ]),
          ),
      );
    }
  }
  if (r.gram !== null) {
    const g = r.gram;
    out.push(
      `### Gram Newton–Schulz vs standard (tfjs engine, Jordan, ${g.steps} steps, restart after step ${g.restarts.join(', ')})\n\n` +
        'Flops as implemented (dense): standard 20k²n + 10k³; Gram 8k²n + 28k³ (the spec\'s §13.1 count, 8k²n + 32k³, also shown). ' +
        '"max rel. Δ" = max|gram − standard| / max|standard|.',
      formatTable(
        ['shape', 'reps', 'standard', 'gram', 'gram ÷ standard (time)', 'GFLOP standard', 'GFLOP gram (spec)', 'gram ÷ standard (flops)', 'GFLOP/s std / gram', 'max rel. Δ', 'rel. Δ (F)'],
        g.shapes.map((s) => [
          s.shape.join('×'), String(s.repeats), formatMs(s.standard.ms.median), formatMs(s.gram.ms.median),
          `**${s.timeRatio.toFixed(2)}**`, fmtGflop(s.standard.flops), `${fmtGflop(s.gram.flops)} (${fmtGflop(s.gram.flopsSpec)})`,
          s.flopRatio.toFixed(2),
          `${fmtG(s.standard.flops / (s.standard.ms.median * 1e6))} / ${fmtG(s.gram.flops / (s.gram.ms.median * 1e6))}`,
          fmtE(s.maxRelDiff), fmtE(s.relFrobenius),
        ]),
      ),
    );
  }
  if (r.step !== null) {
    const s = r.step;
    const kernels = s.params.filter((p) => p.shape.length === 2).map((p) => p.shape.join('×'));
    const idealNs = s.nsFlopsPerStep / (limitGflops * 1e6);
    out.push(
      `### Optimizer step per engine: MLP ${s.layers.join('→')}\n\n` +
        `${s.totalParams.toLocaleString('en-US')} parameters: kernels ${kernels.join(', ')} (all orthogonalized by muon) and ` +
        `${s.params.length - kernels.length} biases (muon's auxiliary AdamW). Fixed gradients; median of ${s.steps} steps after ${s.warmup} ` +
        `warm-up rounds (first step apart: state creation; the engines were already started by the sections above). ` +
        `NS per muon step: ${fmtGflop(s.nsFlopsPerStep)} GFLOP = ${formatMs(idealNs)} at the limit; ` +
        '"step × of the limit" = median step time ÷ that (the whole step against its NS flops alone).',
      formatTable(
        ['optimizer', 'engine (describeEngine)', 'first step', 'ms/step (median)', 'IQR', '÷ adamw', 'step × of the limit', 'tensors leaked/step'],
        s.rows.map((x) => [
          x.name, x.description, formatMs(x.firstStepMs),
          x.msPerStep === null ? `unavailable: ${x.reason ?? ''}` : `**${formatMs(x.msPerStep.median)}**`,
          x.msPerStep === null ? '—' : formatMs(x.msPerStep.iqr),
          Number.isFinite(x.ratioToAdamw) ? `${x.ratioToAdamw.toFixed(1)}×` : '—',
          fmtX(x.xLimitNs),
          Number.isFinite(x.leakedTensorsPerStep) ? String(x.leakedTensorsPerStep) : '—',
        ]),
      ),
    );
  }
  const walls = [
    r.limit && `limit ${formatMs(r.limit.wallMs)}`,
    r.ns && `NS ${formatMs(r.ns.wallMs)}`,
    r.gram && `Gram ${formatMs(r.gram.wallMs)}`,
    r.step && `step ${formatMs(r.step.wallMs)}`,
  ].filter((x): x is string => typeof x === 'string');
  out.push(`engine sections: ${formatMs(r.wallMs)} (${walls.join(', ')})`);
  return out.join('\n\n');
}

/** The markdown report of `bench:engines`. */
export function renderEnginesReport(r: EnginesBenchResult): string {
  const m = r.machine;
  const head =
    `${m.cpuModel}, ${m.cores} cores, Node ${m.node}, tfjs-core ${m.tfjsCore}` +
    `${m.tfjsBackendWasm ? `, tfjs-backend-wasm ${m.tfjsBackendWasm}` : ''}` +
    `${Object.keys(m.backendFlags).length ? ` (${Object.entries(m.backendFlags).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''}, ${m.date}` +
    `${r.quick ? ' — quick mode' : ''}`;
  return `${renderEngineSections(r.engines).replace('\n\n', `\n\n${head}\n\n`)}\n\ntotal wall time ${formatMs(r.wallMs)}`;
}
