/**
 * The report's orthogonality part (issue 14 item 6): when a comparison's logs hold `orthogonality`
 * lines (`orthoptim bench --orthogonality-every K`), the singular-value spectra of one weight matrix's
 * update over training (one panel per sampled step, one line per optimizer — Muon's flat, AdamW's
 * falling), its orthogonality error and stable rank against step per matrix, and a table of the last
 * sampled step. Definitions: `OrthogonalityLine` in `src/bench/results.ts`.
 * @module
 */
import type { OrthogonalityLine, RunRecord } from '../bench/results.js';
import type { ColorScale } from './curves.js';
import type { Block, Table } from './document.js';
import { formatNumber } from './format.js';
import { diagnosticOverStepSpec, spectrumSpec, type DiagnosticPoint, type SpectrumPoint } from './specs.js';
import type { ComparisonData } from './read.js';

/** Every orthogonality line of a run, with its label and seed. */
interface LabelledLines {
  label: string;
  seed: number;
  lines: OrthogonalityLine[];
}

function orthogonalityRuns(c: ComparisonData): LabelledLines[] {
  return c.summary.runs.flatMap((r: RunRecord) => {
    const lines = (c.logs.get(r.id) ?? []).filter((l): l is OrthogonalityLine => l.type === 'orthogonality');
    return lines.length > 0 ? [{ label: r.label, seed: r.seed, lines }] : [];
  });
}

/** Up to `max` of the sorted values: the first, the last and evenly spaced ones between. */
export function pickSteps(steps: readonly number[], max: number): number[] {
  const sorted = [...new Set(steps)].sort((a, b) => a - b);
  if (sorted.length <= max) return sorted;
  return [...new Set(Array.from({ length: max }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (max - 1))]))];
}

/**
 * The spectra figure's data: the matrix with the most singular values among those recorded with
 * spectra (first in log order on ties), each label's first-seed run, up to four sampled steps (those
 * every such run recorded). σ_i / σ_max ≤ 0 (a zero singular value) cannot go on the log axis and is
 * left out (counted in `dropped`).
 */
export function spectrumPoints(runs: readonly LabelledLines[], maxPanels = 4): { matrix: string; k: number; points: SpectrumPoint[]; dropped: number } | null {
  const withSpectra = runs.flatMap((r) => r.lines.filter((l) => Array.isArray(l.singularValues) && l.singularValues.length > 0));
  if (withSpectra.length === 0) return null;
  let best = withSpectra[0];
  for (const l of withSpectra) if (l.singularValues!.length > best.singularValues!.length) best = l;
  const matrix = best.name;
  const k = best.singularValues!.length;
  const labels = [...new Set(runs.map((r) => r.label))];
  const firstRuns = labels.flatMap((label) => {
    const rs = runs.filter((r) => r.label === label && r.lines.some((l) => l.name === matrix && l.singularValues !== undefined));
    return rs.length === 0 ? [] : [rs.reduce((a, b) => (b.seed < a.seed ? b : a))];
  });
  const stepSets = firstRuns.map((r) => new Set(r.lines.filter((l) => l.name === matrix && l.singularValues !== undefined).map((l) => l.step)));
  const common = [...stepSets[0]].filter((s) => stepSets.every((set) => set.has(s)));
  const steps = pickSteps(common, maxPanels);
  const points: SpectrumPoint[] = [];
  let dropped = 0;
  for (const r of firstRuns) {
    for (const l of r.lines) {
      if (l.name !== matrix || !steps.includes(l.step) || l.singularValues === undefined) continue;
      const top = l.singularValues[0];
      l.singularValues.forEach((s, i) => {
        const sigma = top > 0 ? s / top : 0;
        if (sigma > 0 && Number.isFinite(sigma)) points.push({ label: r.label, step: l.step, index: i + 1, sigma });
        else dropped++;
      });
    }
  }
  return { matrix, k, points, dropped };
}

/** One diagnostic of every matrix at every sampled step, per run (the spec averages over seeds). */
export function diagnosticPoints(runs: readonly LabelledLines[], value: (l: OrthogonalityLine) => number | null): DiagnosticPoint[] {
  return runs.flatMap((r) =>
    r.lines.flatMap((l) => {
      const v = value(l);
      return v === null || !Number.isFinite(v) ? [] : [{ label: r.label, matrix: l.name, step: l.step, value: v }];
    }),
  );
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The last sampled step of each label × matrix, mean over seeds. */
function lastStepTable(runs: readonly LabelledLines[]): Table {
  const labels = [...new Set(runs.map((r) => r.label))];
  const matrices = [...new Set(runs.flatMap((r) => r.lines.map((l) => l.name)))];
  const rows = labels.flatMap((label) =>
    matrices.flatMap((matrix) => {
      const finals = runs
        .filter((r) => r.label === label)
        .flatMap((r) => {
          const ls = r.lines.filter((l) => l.name === matrix);
          return ls.length === 0 ? [] : [ls.reduce((a, b) => (b.step > a.step ? b : a))];
        });
      if (finals.length === 0) return [];
      const f = finals[0];
      const k = Math.min(f.rows, f.cols);
      return [
        [
          { text: label },
          { text: `${matrix} (${f.rows}×${f.cols})` },
          { text: String(f.step) },
          { text: formatNumber(mean(finals.map((l) => l.orthogonalityError))) },
          { text: `${formatNumber(mean(finals.map((l) => l.stableRank)))} / ${k}` },
          { text: formatNumber(mean(finals.map((l) => l.sigmaMax))) },
          { text: formatNumber(mean(finals.map((l) => (l.sigmaMax > 0 ? l.sigmaMin / l.sigmaMax : 0)))) },
        ],
      ];
    }),
  );
  return {
    caption:
      'The last sampled update of each weight matrix, mean over seeds: orthogonality error ‖ÛÛᵀ − I‖_F/√k of Û = U/σ_max ' +
      '(0: all singular values equal), stable rank ‖U‖_F²/‖U‖₂² (of k = min side), spectral norm σ_max and σ_min/σ_max.',
    columns: [
      { header: 'optimizer' },
      { header: 'matrix' },
      { header: 'step', align: 'right' },
      { header: 'orthogonality error ↓', align: 'right' },
      { header: 'stable rank', align: 'right' },
      { header: 'σ_max', align: 'right' },
      { header: 'σ_min / σ_max', align: 'right' },
    ],
    rows,
  };
}

/**
 * The orthogonality blocks of a comparison section, or `[]` when its logs hold no orthogonality lines
 * (so reports of runs without them are unchanged).
 */
export function orthogonalityBlocks(c: ComparisonData, stem: string, color: ColorScale): Block[] {
  const runs = orthogonalityRuns(c);
  if (runs.length === 0) return [];
  const task = c.summary.task;
  const every = [...new Set(runs.flatMap((r) => r.lines.map((l) => l.step)))].sort((a, b) => a - b);
  const blocks: Block[] = [
    {
      kind: 'text',
      text:
        `Orthogonality of the updates: at ${every.length} sampled steps (${every.slice(0, 3).join(', ')}${every.length > 3 ? ', …' : ''}), ` +
        'each weight matrix\'s update U = W_after − W_before of that step was measured (src/linalg/diagnostics.ts: float64 from the ' +
        'read-back matrix, or Lanczos on the device for large ones).',
    },
  ];
  const spectra = spectrumPoints(runs);
  if (spectra !== null && spectra.points.length > 0) {
    const dropped = spectra.dropped > 0 ? ` ${spectra.dropped} zero singular values are left off the log axis.` : '';
    blocks.push({
      kind: 'figure',
      figure: {
        name: `${stem}-update-spectra`,
        title: `Singular-value spectra of the ${spectra.matrix} update`,
        caption:
          `Singular values σᵢ of the update of ${spectra.matrix} (${spectra.k} of them), divided by the largest, at sampled steps ` +
          `(one panel each), one line per optimizer (first seed); log axis. A flat line at 1 is an orthogonal update; a falling ` +
          `line concentrates the step in few directions. Newton–Schulz lifts only the directions of the momentum that are not ` +
          `too small against its Frobenius norm into its band (Jordan's 5 steps take σ_in = 1e-3 only to 0.47, spec muon-family.md §12.3); ` +
          `weaker ones stay proportionally small, so a Muon spectrum is flat at the top and falls at the tail.${dropped}`,
        spec: spectrumSpec({ title: `${task}: σᵢ / σ_max of the ${spectra.matrix} update (${spectra.k} singular values)`, points: spectra.points, color, k: spectra.k }),
      },
    });
  }
  const error = diagnosticPoints(runs, (l) => l.orthogonalityError);
  if (error.length > 0) {
    blocks.push({
      kind: 'figure',
      figure: {
        name: `${stem}-orthogonality-error`,
        title: 'Orthogonality error of the updates vs step',
        caption: 'Orthogonality error ‖ÛÛᵀ − I‖_F/√k of the normalized update Û = U/σ_max (k = min side; 0: orthogonal up to scale), per weight matrix, mean over seeds at each sampled step.',
        spec: diagnosticOverStepSpec({ title: `${task}: orthogonality error of the update`, points: error, color, yTitle: 'orthogonality error' }),
      },
    });
  }
  const rank = diagnosticPoints(runs, (l) => {
    const k = Math.min(l.rows, l.cols);
    return k > 0 ? l.stableRank / k : null;
  });
  if (rank.length > 0) {
    blocks.push({
      kind: 'figure',
      figure: {
        name: `${stem}-stable-rank`,
        title: 'Stable rank of the updates vs step',
        caption: 'Stable rank ‖U‖_F²/‖U‖₂² of each weight matrix\'s update as a fraction of its maximum k = min side (1: all singular values equal), mean over seeds at each sampled step.',
        spec: diagnosticOverStepSpec({ title: `${task}: stable rank of the update / k`, points: rank, color, yTitle: 'stable rank / k' }),
      },
    });
  }
  blocks.push({ kind: 'table', table: lastStepTable(runs) });
  return blocks;
}
