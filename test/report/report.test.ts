import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import type { Aggregate, ComparisonSummary, LogLine, NsTimingSummary, RunRecord, Stat } from '../../src/bench/results.js';
import { colorScale, restrictScale, smooth } from '../../src/report/curves.js';
import { buildDocument, lossAxis } from '../../src/report/document.js';
import { logDomain } from '../../src/report/specs.js';
import { formatNumber, formatStat, formatSteps, readResults, ResultsFormatError, writeReport, type ReportOutput } from '../../src/report/index.js';
import { importPlotting, loadRenderers, prefixSvgIds, svgToPng } from '../../src/report/render.js';
import { optionalSkip, packageMissing } from '../support/engines.js';

/** `@resvg/resvg-js` is optional (`npm ci --omit=optional` drops it): PNG checks skip without it, except under CI=true. */
const pngSkip = optionalSkip(await packageMissing('@resvg/resvg-js'));

let scratch = '';
let count = 0;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-report-test-'));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const dir = join(scratch, `${count++}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------------
// Fixture: a results directory written the way the runner writes one.

/** Mean and sample standard deviation, computed here independently of the report. */
function stat(values: number[]): Stat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n };
}

interface RunSpec {
  label: string;
  seed: number;
  lr: number;
  /** Loss decays from 2.3 at this rate per step. */
  rate: number;
  final: RunRecord['final'];
  msPerStep: number;
  msPerStepOptimizer: number;
  stepsToTarget: number | null;
  diverged?: number;
}

const steps = 60;
const evalEvery = 20;

function logOf(r: RunSpec): LogLine[] {
  const lines: LogLine[] = [];
  for (let step = 1; step <= steps; step++) {
    const noise = 0.05 * Math.sin(step * 1.7 + r.seed);
    lines.push({ type: 'step', step, loss: 2.3 * Math.exp(-r.rate * step) + 0.1 + noise, wallMs: step * r.msPerStep, optimizerMs: r.msPerStepOptimizer });
    if (step % evalEvery === 0) {
      const metric = 1 - Math.exp(-r.rate * step * 2) * 0.9;
      lines.push({ type: 'eval', step, split: 'validation', loss: 2.3 * Math.exp(-r.rate * step), metric, wallMs: step * r.msPerStep, examples: 100 });
    }
  }
  lines.push({ type: 'eval', step: steps, split: 'test', loss: r.final.testLoss, metric: r.final.testMetric, wallMs: steps * r.msPerStep, examples: 200 });
  return lines;
}

function writeComparison(dir: string, task: string, specs: RunSpec[], target: ComparisonSummary['target']): ComparisonSummary {
  mkdirSync(join(dir, task, 'logs'), { recursive: true });
  const runs: RunRecord[] = specs.map((r) => {
    const id = `${r.label}-s${r.seed}`;
    const log = `logs/${id}.jsonl`;
    writeFileSync(join(dir, task, log), logOf(r).map((l) => JSON.stringify(l)).join('\n') + '\n');
    return {
      id,
      optimizer: r.label,
      label: r.label,
      seed: r.seed,
      learningRate: r.lr,
      options: { learningRate: r.lr },
      log,
      final: r.final,
      timing: {
        msPerStep: r.msPerStep,
        msPerStepOptimizer: r.msPerStepOptimizer,
        medianMsPerStep: r.msPerStep,
        medianMsPerStepOptimizer: r.msPerStepOptimizer,
        trainSeconds: (steps * r.msPerStep) / 1000,
        evalSeconds: 0.1,
      },
      stepsToTarget: r.stepsToTarget,
      secondsToTarget: r.stepsToTarget === null ? null : (r.stepsToTarget * r.msPerStep) / 1000,
      resumed: false,
      diverged: r.diverged ?? null,
    };
  });
  const labels = [...new Set(specs.map((r) => r.label))];
  const aggregates: Aggregate[] = labels.map((label) => {
    const mine = runs.filter((r) => r.label === label);
    const reached = mine.map((r) => r.stepsToTarget).filter((s): s is number => s !== null);
    const noneReached: Stat = { mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
    return {
      label,
      optimizer: label,
      learningRate: mine[0].learningRate,
      trainLoss: stat(mine.map((r) => r.final.trainLoss)),
      validationLoss: stat(mine.map((r) => r.final.validationLoss)),
      validationMetric: stat(mine.map((r) => r.final.validationMetric)),
      testLoss: stat(mine.map((r) => r.final.testLoss)),
      testMetric: stat(mine.map((r) => r.final.testMetric)),
      msPerStep: stat(mine.map((r) => r.timing.msPerStep)),
      msPerStepOptimizer: stat(mine.map((r) => r.timing.msPerStepOptimizer)),
      stepsToTarget: reached.length ? stat(reached) : noneReached,
      secondsToTarget: noneReached,
      // The runner tries the default rate × each factor of the grid, in grid order.
      sweep: [0.5, 1, 2].map((f, i) => ({
        learningRate: mine[0].learningRate! * f,
        validationLoss: label === 'muon' ? [0.9, 0.7, null][i] : [0.9, 0.5, 0.7][i],
      })),
    };
  });
  const summary: ComparisonSummary = {
    format: 'orthoptim-bench/2',
    task,
    requestedTask: task === 'synthetic' ? 'fashion-mnist-mlp' : task,
    taskSummary: 'a fixture task',
    model: '8-16-4 ReLU MLP',
    metric: { name: 'accuracy', label: 'validation accuracy', higherIsBetter: true },
    dataSource: task === 'synthetic' ? 'generated' : '/data/fashion-mnist',
    fallback: task === 'synthetic' ? 'fashion-mnist not found: ran the synthetic task instead' : null,
    splits: { train: 900, validation: 100, test: 200 },
    parameters: 212,
    backend: 'wasm',
    engine: 'tfjs',
    steps,
    batch: 32,
    seeds: [...new Set(specs.map((r) => r.seed))],
    evalEvery,
    sweep: { grid: [0.5, 1, 2], steps: 10 },
    target,
    timingMethod: 'applyGradients + read-back',
    machine: { cpu: 'Fixture CPU @ 3GHz', cores: 2, memoryGiB: 8, platform: 'linux', arch: 'x64', node: 'v20.20.2', tfjs: '4.22.0', backend: 'wasm' },
    command: ['orthoptim', 'bench', task],
    startedAt: '2025-01-01T00:00:00.000Z',
    wallSeconds: 12.5,
    runs,
    aggregates,
  };
  writeFileSync(join(dir, task, 'summary.json'), JSON.stringify(summary, null, 2));
  return summary;
}

const mainRuns: RunSpec[] = [
  { label: 'muon', seed: 1, lr: 0.02, rate: 0.08, final: { trainLoss: 0.2311, validationLoss: 0.3342, validationMetric: 0.9121, testLoss: 0.3411, testMetric: 0.9034 }, msPerStep: 12.5, msPerStepOptimizer: 4.1, stepsToTarget: 21 },
  { label: 'muon', seed: 2, lr: 0.02, rate: 0.07, final: { trainLoss: 0.2477, validationLoss: 0.3518, validationMetric: 0.9066, testLoss: 0.3599, testMetric: 0.8981 }, msPerStep: 13.1, msPerStepOptimizer: 4.4, stepsToTarget: 25 },
  { label: 'adamw', seed: 1, lr: 0.01, rate: 0.03, final: { trainLoss: 0.4102, validationLoss: 0.4821, validationMetric: 0.8712, testLoss: 0.4933, testMetric: 0.8655 }, msPerStep: 10.2, msPerStepOptimizer: 1.9, stepsToTarget: 47 },
  { label: 'adamw', seed: 2, lr: 0.01, rate: 0.025, final: { trainLoss: 0.4388, validationLoss: 0.5012, validationMetric: 0.8599, testLoss: 0.5144, testMetric: 0.8523 }, msPerStep: 10.6, msPerStepOptimizer: 2.0, stepsToTarget: null },
];

const nsSummary: NsTimingSummary = {
  format: 'orthoptim-ns/1',
  backend: 'wasm',
  engine: 'tfjs',
  machine: { cpu: 'Fixture CPU @ 3GHz', cores: 2, memoryGiB: 8, platform: 'linux', arch: 'x64', node: 'v20.20.2', tfjs: '4.22.0', backend: 'wasm' },
  rows: [64, 128, 256].flatMap((n) => [
    { method: 'jordan×5', rows: n, cols: n, ms: 1e-4 * n ** 2.6, error: 0.2 },
    { method: 'turbo×4', rows: n, cols: n, ms: 0.8e-4 * n ** 2.6, error: 0.21 },
  ]),
};

/** Writes the full fixture: a two-optimizer two-seed comparison, a one-optimizer one-seed one, ns, deep-tanh. */
function writeFixture(dir: string): { main: ComparisonSummary } {
  const main = writeComparison(dir, 'fashion-mnist-mlp', mainRuns, { value: 0.8, rule: 'fixture rule', smoothing: 3 });
  writeComparison(dir, 'synthetic', [{ ...mainRuns[0] }], null);
  mkdirSync(join(dir, 'ns'));
  writeFileSync(join(dir, 'ns', 'summary.json'), JSON.stringify(nsSummary));
  mkdirSync(join(dir, 'deep-tanh'));
  writeFileSync(
    join(dir, 'deep-tanh', 'summary.json'),
    JSON.stringify({
      format: 'orthoptim-deep-tanh/1',
      title: 'Deep tanh at criticality',
      depths: 3,
      plots: [
        {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          name: 'fluctuation-vs-depth',
          title: 'preactivation fluctuation vs depth',
          data: { values: [{ depth: 2, v: 0.1, init: 'gaussian' }, { depth: 8, v: 0.5, init: 'gaussian' }, { depth: 2, v: 0.1, init: 'orthogonal' }, { depth: 8, v: 0.12, init: 'orthogonal' }] },
          mark: 'line',
          encoding: { x: { field: 'depth', type: 'quantitative', title: 'depth L' }, y: { field: 'v', type: 'quantitative', title: 'fluctuation' }, color: { field: 'init' } },
        },
        { title: 'broken plot', spec: { mark: 'line', data: { url: 'missing.csv' }, encoding: { x: { field: 'a', type: 'quantitative' } } } },
        { title: 'invalid plot', spec: { mark: 'notamark', data: { values: [] } } },
      ],
      settings: { preset: 'quick', widths: [64] },
      findings: [{ claim: 'orthogonal stays flat', verdict: 'reproduced' }],
      table: [
        { init: 'gaussian', depth: 8, fluctuation: 0.5 },
        { init: 'orthogonal', depth: 8, fluctuation: 0.12 },
      ],
    }),
  );
  return { main };
}

// ---------------------------------------------------------------------------------------------------
// A PNG decoder that checks the container: signature, chunk CRCs, IHDR, the inflated size.

interface DecodedPng {
  width: number;
  height: number;
  bytesPerPixel: number;
  /** Unfiltered pixel bytes, row after row. */
  pixels: Uint8Array;
}

function decodePng(file: string): DecodedPng {
  const buf = readFileSync(file);
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file}: PNG signature`);
  let offset = 8;
  let ihdr: Buffer | null = null;
  const idat: Buffer[] = [];
  let ended = false;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    const crc = buf.readUInt32BE(offset + 8 + length);
    assert.equal(crc32(buf.subarray(offset + 4, offset + 8 + length)) >>> 0, crc, `${file}: CRC of chunk ${type}`);
    if (type === 'IHDR') ihdr = body;
    if (type === 'IDAT') idat.push(body);
    if (type === 'IEND') ended = true;
    offset += 12 + length;
  }
  assert.ok(ended, `${file}: IEND chunk`);
  assert.ok(ihdr, `${file}: IHDR chunk`);
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const bitDepth = ihdr[8];
  const colorType = ihdr[9];
  assert.equal(bitDepth, 8, `${file}: bit depth`);
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  assert.ok(channels, `${file}: colour type ${colorType}`);
  assert.ok(width > 100 && height > 50, `${file}: ${width}×${height}`);
  const raw = inflateSync(Buffer.concat(idat));
  const bpp = channels;
  const stride = width * bpp;
  assert.equal(raw.length, height * (1 + stride), `${file}: inflated IDAT size`);
  // Undo the per-row filters (PNG spec §9) to compare pixels.
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (1 + stride)];
    const src = raw.subarray(y * (1 + stride) + 1, (y + 1) * (1 + stride));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? pixels[y * stride + x - bpp] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? pixels[(y - 1) * stride + x - bpp] : 0;
      let v: number;
      if (filter === 0) v = src[x];
      else if (filter === 1) v = src[x] + a;
      else if (filter === 2) v = src[x] + b;
      else if (filter === 3) v = src[x] + ((a + b) >> 1);
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = src[x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else throw new Error(`${file}: row ${y} has filter ${filter}`);
      pixels[y * stride + x] = v & 0xff;
    }
  }
  return { width, height, bytesPerPixel: bpp, pixels };
}

/** Pixels that differ from the top-left one (the background). */
function nonBackground(png: DecodedPng): number {
  const { pixels, bytesPerPixel: bpp } = png;
  let count = 0;
  for (let i = 0; i < pixels.length; i += bpp) {
    for (let k = 0; k < bpp; k++) {
      if (pixels[i + k] !== pixels[k]) {
        count++;
        break;
      }
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------------

const expectedPlots = [
  'fashion-mnist-mlp-loss-vs-step',
  'fashion-mnist-mlp-loss-vs-time',
  'fashion-mnist-mlp-validation-metric',
  'fashion-mnist-mlp-steps-to-target',
  'synthetic-loss-vs-step',
  'synthetic-loss-vs-time',
  'synthetic-validation-metric',
  'ns-time-vs-size',
  'fluctuation-vs-depth',
];

describe('writeReport on a fixture results directory', () => {
  let dir = '';
  let out = '';
  let report: ReportOutput;
  let main: ComparisonSummary;
  const logged: string[] = [];

  before(async () => {
    dir = freshDir('results');
    main = writeFixture(dir).main;
    out = join(dir, 'report');
    report = await writeReport(dir, { log: (line) => logged.push(line) });
  });

  it('writes report.md, report.html and an SVG and a PNG per plot (the PNGs only where @resvg/resvg-js loads), and nothing else', () => {
    const kinds = pngSkip === false ? ['svg', 'png'] : ['svg'];
    const want = [join(out, 'report.md'), join(out, 'report.html'), ...expectedPlots.flatMap((p) => kinds.map((k) => join(out, 'plots', `${p}.${k}`)))];
    assert.deepEqual([...report.files].sort(), want.sort());
    for (const f of want) assert.ok(existsSync(f), f);
    assert.equal(readdirSync(join(out, 'plots')).length, expectedPlots.length * kinds.length);
    assert.deepEqual(logged, pngSkip === false ? [] : [report.pngSkipped]);
    assert.equal(readFileSync(join(out, 'report.md'), 'utf8'), report.markdown);
    assert.equal(readFileSync(join(out, 'report.html'), 'utf8'), report.html);
  });

  it('every PNG decodes (signature, CRCs, IHDR, IDAT size) and is not blank', { skip: pngSkip }, () => {
    for (const p of expectedPlots) {
      const png = decodePng(join(out, 'plots', `${p}.png`));
      const svg = readFileSync(join(out, 'plots', `${p}.svg`), 'utf8');
      const svgWidth = Number(/<svg[^>]*\bwidth="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);
      assert.equal(png.width, Math.round(2 * svgWidth), `${p}: PNG is the SVG at 2×`);
      // Lines, bands, axes and text: far more than a few stray pixels differ from the background.
      assert.ok(nonBackground(png) > 0.005 * png.width * png.height, `${p}: PNG is blank`);
    }
  });

  it('SVGs are well-formed-looking and carry the axis titles and optimizer names', () => {
    const read = (p: string) => readFileSync(join(out, 'plots', `${p}.svg`), 'utf8');
    for (const p of expectedPlots) {
      const svg = read(p);
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, p);
      assert.match(svg, /<\/svg>\s*$/, p);
      const opens = (svg.match(/<g\b/g) ?? []).length;
      const closes = (svg.match(/<\/g>/g) ?? []).length;
      assert.equal(opens, closes, `${p}: balanced <g> tags`);
    }
    const has = (p: string, ...texts: string[]) => {
      const svg = read(p);
      for (const t of texts) assert.ok(svg.includes(`>${t}</text>`), `${p}: text "${t}"`);
    };
    has('fashion-mnist-mlp-loss-vs-step', 'step', 'training loss (smoothed)', 'muon', 'adamw', 'optimizer', 'target 0.8000');
    has('fashion-mnist-mlp-loss-vs-time', 'training wall-clock (s)', 'training loss (smoothed)', 'muon', 'adamw');
    has('fashion-mnist-mlp-validation-metric', 'step', 'validation accuracy', 'muon', 'adamw');
    has('fashion-mnist-mlp-steps-to-target', 'steps to target', 'muon', 'adamw', '23', '47 (1/2 reached)');
    has('ns-time-vs-size', 'matrix size n (n × n)', 'time per call (ms)', 'jordan×5', 'turbo×4');
    has('fluctuation-vs-depth', 'depth L', 'fluctuation', 'orthogonal');
  });

  it('gives each optimizer one colour in every plot, also where it is the only one drawn', () => {
    const read = (p: string) => readFileSync(join(out, 'plots', `${p}.svg`), 'utf8');
    const scale = colorScale(['muon', 'adamw']);
    const muon = scale.range[scale.domain.indexOf('muon')];
    const adamw = scale.range[scale.domain.indexOf('adamw')];
    assert.notEqual(muon, adamw);
    for (const p of expectedPlots.filter((n) => n.startsWith('fashion'))) {
      assert.ok(read(p).includes(muon) && read(p).includes(adamw), p);
    }
    // The synthetic comparison ran muon alone: it keeps muon's colour, not the palette's first.
    for (const p of expectedPlots.filter((n) => n.startsWith('synthetic'))) {
      assert.ok(read(p).includes(muon), p);
      assert.ok(!read(p).includes(adamw), p);
    }
    assert.deepEqual(restrictScale(scale, ['muon']), { domain: ['muon'], range: [muon] });
  });

  it('the Markdown table holds the fixture means ± stds, computed here', () => {
    const md = report.markdown;
    const f = (x: number) => x.toPrecision(4);
    const g = (x: number) => x.toPrecision(2);
    for (const label of ['muon', 'adamw']) {
      const runs = mainRuns.filter((r) => r.label === label);
      const row = md.split('\n').find((l) => l.startsWith(`| ${label} `) && l.includes(' ± '));
      assert.ok(row, `a table row for ${label}`);
      for (const key of ['trainLoss', 'validationLoss', 'validationMetric', 'testMetric'] as const) {
        const s = stat(runs.map((r) => r.final[key]));
        assert.ok(row.includes(`${f(s.mean)} ± ${g(s.std)}`), `${label} ${key}: ${f(s.mean)} ± ${g(s.std)} in ${row}`);
      }
      const ms = stat(runs.map((r) => r.msPerStep));
      assert.ok(row.includes(`${f(ms.mean)} ± ${g(ms.std)}`), `${label} ms/step`);
      const opt = stat(runs.map((r) => r.msPerStepOptimizer));
      assert.ok(row.includes(`${f(opt.mean)} ± ${g(opt.std)}`), `${label} optimizer ms/step`);
    }
    // Steps to target: muon 21 and 25 → 23 ± 3; adamw reached once of two.
    assert.match(md, /\| muon .*\*\*23 ± 3\*\* \|/);
    assert.match(md, /\| adamw .* 47 \(1\/2 reached\) \|/);
    // The best validation metric (muon's, higher is better) is bold.
    const muonMetric = stat(mainRuns.filter((r) => r.label === 'muon').map((r) => r.final.validationMetric));
    assert.ok(md.includes(`**${f(muonMetric.mean)} ± ${g(muonMetric.std)}**`));
    // Header facts, the fallback notice, the sweep table (muon diverged at 0.01; its chosen 0.02 is bold).
    assert.ok(md.includes('- **machine:** Fixture CPU @ 3GHz (2 cores, 8 GiB), linux/x64, Node v20.20.2, tfjs 4.22.0'));
    assert.ok(md.includes('- **splits:** train 900, validation 100, test 200'));
    assert.ok(md.includes('- **seeds:** 1, 2'));
    assert.ok(md.includes('> **Notice:** fashion-mnist not found: ran the synthetic task instead'));
    assert.match(md, /\| optimizer \| +lr × 0\.5 \| +lr × 1 \| +lr × 2 \|/);
    assert.match(md, /\| muon +\| +0\.9000 \(lr 0\.01\) \| \*\*0\.7000 \(lr 0\.02\)\*\* \| +diverged \(lr 0\.04\) \|/);
    assert.match(md, /\| adamw +\| +0\.9000 \(lr 0\.005\) \| \*\*0\.5000 \(lr 0\.01\)\*\* \| +0\.7000 \(lr 0\.02\) \|/);
    assert.ok(md.includes('(plots/fashion-mnist-mlp-loss-vs-step.svg)'));
    assert.ok(md.includes('loss smoothed per run by a trailing 3-step window mean; log-scale loss axis.'));
    assert.ok(md.includes('(fixture rule, loss smoothed over 3 steps)'));
    // NS and the generic deep-tanh section; its broken plot is reported, not fatal.
    assert.match(md, new RegExp(`\\| jordan×5 +\\| 256×256 +\\| +${(1e-4 * 256 ** 2.6).toPrecision(4)} +\\| +0\\.2000 \\|`));
    assert.match(md, /\| orthogonal +\| +8 \| +0\.1200 \|/);
    assert.match(md, /\*\*broken plot\*\*: not drawn \(.*missing\.csv/);
    assert.match(md, /\*\*invalid plot\*\*: not drawn \(/);
    assert.ok(md.includes('- **settings.preset:** quick'));
    assert.match(md, /\| orthogonal stays flat \| reproduced \|\n\n_findings_/);
    assert.equal(main.aggregates.length, 2);
  });

  it('the HTML page is self-contained: inline CSS and SVG, no script, nothing fetched', () => {
    const html = report.html;
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<style>[^<]+<\/style>/);
    assert.equal((html.match(/<svg\b/g) ?? []).length, expectedPlots.length);
    assert.doesNotMatch(html, /<script|<link|<img|\bsrc=|href="https?:|url\(['"]?https?:|@import/i);
    assert.ok(html.includes('<strong>Notice:</strong> fashion-mnist not found'));
    // Clip-path ids are unique across the inlined SVGs.
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('writeReport options and errors', () => {
  it('png: false writes only SVGs; out and title are honoured', async () => {
    const dir = freshDir('nopng');
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 2), null);
    const out = join(dir, 'elsewhere');
    const r = await writeReport(dir, { out, png: false, title: 'My title' });
    assert.ok(r.files.every((f) => f.startsWith(out) && !f.endsWith('.png')));
    assert.ok(r.files.some((f) => f.endsWith('mnist-mlp-loss-vs-step.svg')));
    assert.ok(r.markdown.startsWith('# My title\n'));
    assert.ok(r.markdown.includes('No steps-to-target'));
    assert.ok(!r.markdown.includes('[PNG]'));
  });

  it('claims.json becomes the first section: the verdict table and why each verdict', async () => {
    const dir = freshDir('claims');
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 2), null);
    const row = (claim: string, verdict: string, headline: string) => ({
      id: claim, claim, paper: 'long paper text', paperShort: 'short paper', headline, setting: 's', ours: 'o', verdict, why: `because ${claim}`,
    });
    writeFileSync(
      join(dir, 'claims.json'),
      JSON.stringify({ format: 'orthoptim-claims/1', command: 'npm run bench:quick', rows: [row('A wins', 'reproduced', '2× fewer steps'), row('B wins', 'not reproduced', '')] }),
    );
    const r = await writeReport(dir, { png: false });
    const claimsAt = r.markdown.indexOf('Claims of the seed papers');
    assert.ok(claimsAt > 0 && claimsAt < r.markdown.indexOf('mnist-mlp'), 'the claims come first');
    assert.match(r.markdown, /\| A wins +\| short paper +\| 2× fewer steps +\| \*\*reproduced\*\* +\|/);
    assert.match(r.markdown, /\| B wins +\| short paper +\| — +\| not reproduced +\|/);
    assert.ok(r.markdown.includes('B wins — not reproduced: because B wins.'));
    assert.ok(r.html.includes('because A wins'));
    writeFileSync(join(dir, 'claims.json'), JSON.stringify({ format: 'other', rows: [] }));
    await assert.rejects(writeReport(dir, { png: false }), /claims\.json.*expected 'orthoptim-claims\/1'/);
  });

  it('an optimizer that never reached the target is marked "not reached" in the table and the bars', async () => {
    const dir = freshDir('notreached');
    const runs = mainRuns.map((r) => (r.label === 'adamw' ? { ...r, stepsToTarget: null } : r));
    runs[3] = { ...runs[3], diverged: 17 };
    writeComparison(dir, 'mnist-mlp', runs, { value: 0.8, rule: 'fixture rule', smoothing: 3 });
    const r = await writeReport(dir, { png: false });
    assert.match(r.markdown, /\| adamw .*\| +not reached \|/);
    const svg = readFileSync(join(dir, 'report', 'plots', 'mnist-mlp-steps-to-target.svg'), 'utf8');
    assert.ok(svg.includes('>not reached</text>'));
    assert.ok(svg.includes('>23</text>'));
    assert.ok(r.markdown.includes('adamw (seed 2) stopped at step 17: the training loss was not finite.'));
  });

  it('a wrong format tag names the file', async () => {
    const dir = freshDir('badformat');
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 1), null);
    const file = join(dir, 'mnist-mlp', 'summary.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('orthoptim-bench/2', 'orthoptim-bench/1'));
    await assert.rejects(writeReport(dir), (e: Error) => {
      assert.ok(e instanceof ResultsFormatError);
      assert.ok(e.message.startsWith(`${file}: format is "orthoptim-bench/1", expected 'orthoptim-bench/2'`), e.message);
      return true;
    });
    const ns = freshDir('badns');
    mkdirSync(join(ns, 'ns'));
    writeFileSync(join(ns, 'ns', 'summary.json'), JSON.stringify({ ...nsSummary, format: 'nope' }));
    await assert.rejects(writeReport(ns), new RegExp(`${join(ns, 'ns', 'summary.json')}: format is "nope", expected 'orthoptim-ns/1'`));
  });

  it('a malformed JSON-lines log names the file and the line', async () => {
    const dir = freshDir('badlog');
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 1), null);
    const log = join(dir, 'mnist-mlp', 'logs', 'muon-s1.jsonl');
    const lines = readFileSync(log, 'utf8').split('\n');
    lines[6] = '{"type":"step","step":7,"loss":0.5,'; // truncated by a crash
    writeFileSync(log, lines.join('\n'));
    await assert.rejects(writeReport(dir), (e: Error) => {
      assert.ok(e instanceof ResultsFormatError);
      assert.equal(e.file, log);
      assert.equal(e.line, 7);
      assert.ok(e.message.startsWith(`${log}:7: malformed JSON line`), e.message);
      return true;
    });
    lines[6] = '{"type":"stop","step":7,"loss":0.5,"wallMs":1}';
    writeFileSync(log, lines.join('\n'));
    await assert.rejects(writeReport(dir), new RegExp(`muon-s1\\.jsonl:7: unknown line type "stop"`));
  });

  it('a summary missing a field names the file and the field', async () => {
    const dir = freshDir('badfield');
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 1), null);
    const file = join(dir, 'mnist-mlp', 'summary.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    delete json.runs[0].log;
    writeFileSync(file, JSON.stringify(json));
    await assert.rejects(writeReport(dir), (e: Error) => e.message === `${file}: runs[0].log must be a string, got missing`);
  });

  it('an empty or missing directory gives a clear error', async () => {
    const empty = freshDir('empty');
    await assert.rejects(writeReport(empty), /^Error: no results in .*-empty: expected <task>\/summary\.json/);
    await assert.rejects(writeReport(join(empty, 'nope')), /results directory .*nope does not exist/);
    assert.deepEqual(readdirSync(empty), [], 'nothing written for an empty directory');
  });

  it('a missing log is a warning, not a failure', async () => {
    const dir = freshDir('missinglog');
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 2), null);
    rmSync(join(dir, 'mnist-mlp', 'logs', 'muon-s2.jsonl'));
    const r = await writeReport(dir, { png: false });
    assert.match(r.markdown, /> \*\*Warning:\*\* mnist-mlp: the log of run muon-s2 .* is missing/);
  });
});

describe('report pieces', () => {
  it('smooth: debiased EMA keeps a constant, follows a step; window mean; nulls pass through', () => {
    assert.deepEqual(
      smooth([2, 2, 2], { kind: 'ema', beta: 0.9 }).map((v) => Number(v?.toFixed(12))),
      [2, 2, 2],
    );
    const ema = smooth([0, 1, null, 1], { kind: 'ema', beta: 0.5 });
    // m1 = 0 → 0/0.5 = 0; m2 = 0.5 → 0.5/0.75; null; m3 = 0.75 → 0.75/0.875.
    assert.deepEqual(ema, [0, 0.5 / 0.75, null, 0.75 / 0.875]);
    assert.deepEqual(smooth([1, 3, 5, null, 7], { kind: 'window', size: 2 }), [1, 2, 4, null, 7]);
  });

  it('numbers: four significant digits, no exponent below 1e5, std with two digits, missing as —', () => {
    assert.deepEqual(
      [0.123456, 12.3456, 1085.3, 12345.6, 123456.7, 0.00012345, 8, null, Number.NaN].map(formatNumber),
      ['0.1235', '12.35', '1085', '12346', '1.23e+5', '1.23e-4', '8', '—', '—'],
    );
    const st = (mean: number, std: number, n: number) => ({ mean, std, min: mean - std, max: mean + std, n });
    assert.equal(formatStat(st(1085.3, 141.2, 2)), '1085 ± 141');
    assert.equal(formatStat(st(0.9093, 0.003889, 2)), '0.9093 ± 0.0039');
    assert.equal(formatStat(st(0.5, 0, 1)), '0.5000');
    assert.equal(formatStat(st(Number.NaN, Number.NaN, 0)), '—');
    assert.equal(formatSteps(st(23, 2.83, 2), 2), '23 ± 3');
    assert.equal(formatSteps(st(47, 0, 1), 2), '47 (1/2 reached)');
    assert.equal(formatSteps({ mean: null, std: null, min: null, max: null, n: 0 } as never, 2), 'not reached');
  });

  it('a missing plotting package is named with the command that installs it', async () => {
    const missing = 'orthoptim-no-such-plotting-package';
    await assert.rejects(
      importPlotting(missing, () => import(missing)),
      new RegExp(`needs the package '${missing}' to draw plots; install it: npm install --save-dev vega vega-lite @resvg/resvg-js`),
    );
    // Other import failures are not disguised as a missing package.
    await assert.rejects(
      importPlotting('x', () => Promise.reject(new TypeError('boom'))),
      /^TypeError: boom$/,
    );
  });

  it('a missing @resvg/resvg-js only drops the PNGs: one line naming it and the install command', async () => {
    const absent = () => Promise.reject(Object.assign(new Error("Cannot find module '@resvg/resvg-js-linux-x64-gnu'\nRequire stack: …"), { code: 'MODULE_NOT_FOUND' }));
    const r = await loadRenderers(true, absent);
    assert.equal(r.resvg, null);
    assert.equal(
      r.pngSkipped,
      "orthoptim report: PNGs skipped (SVGs written): @resvg/resvg-js cannot load here (Cannot find module '@resvg/resvg-js-linux-x64-gnu'); install it: npm install --save-dev @resvg/resvg-js",
    );
    assert.throws(() => svgToPng(r, '<svg xmlns="http://www.w3.org/2000/svg"/>'), /without @resvg\/resvg-js/);
    // Any other failure of the native binding is not hidden.
    await assert.rejects(loadRenderers(true, () => Promise.reject(new Error('bad ELF'))), /bad ELF/);
    assert.equal((await loadRenderers(false, absent)).pngSkipped, null);
  });

  it('prefixSvgIds renames ids and their references only', () => {
    const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><use href="#clip1"/><a href="#other"/></g></svg>';
    assert.equal(
      prefixSvgIds(svg, 'p-'),
      '<svg><defs><clipPath id="p-clip1"><rect/></clipPath></defs><g clip-path="url(#p-clip1)"><use href="#p-clip1"/><a href="#other"/></g></svg>',
    );
  });

  it('PNG text is drawn: a font is found and a text-only SVG rasterizes to visible pixels', { skip: pngSkip }, async () => {
    const r = await loadRenderers(true);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><text x="10" y="40" font-family="sans-serif" font-size="24">step</text></svg>';
    const file = join(freshDir('text'), 'text.png');
    writeFileSync(file, svgToPng(r, svg));
    const png = decodePng(file);
    assert.ok(nonBackground(png) > 200, `text pixels: ${nonBackground(png)}`);
  });
});

// ---------------------------------------------------------------------------------------------------
// Issue 10 item 8: the report trusts no path or number in a results folder.

describe('readResults: untrusted results folders', () => {
  /** A one-run comparison whose `runs[0]` is changed by `edit`. */
  function withRun(name: string, edit: (run: Record<string, unknown>) => void): { dir: string; file: string } {
    const dir = freshDir(name);
    writeComparison(dir, 'mnist-mlp', mainRuns.slice(0, 1), null);
    const file = join(dir, 'mnist-mlp', 'summary.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    edit(json.runs[0]);
    writeFileSync(file, JSON.stringify(json));
    return { dir, file };
  }

  it('a log field outside the results folder is refused, naming the file and the field', () => {
    const secret = join(scratch, `secret-${count++}.jsonl`);
    writeFileSync(secret, `${JSON.stringify({ type: 'step', step: 1, loss: 42, wallMs: 1, optimizerMs: 1 })}\n`);
    for (const log of [secret, '../../secret.jsonl', '/etc/passwd', 'logs/../../../etc/passwd', '..']) {
      const { dir, file } = withRun('escape', (run) => {
        run.log = log === '../../secret.jsonl' ? join('..', '..', secret.slice(scratch.length + 1)) : log;
      });
      assert.throws(
        () => readResults(dir),
        (e: Error) => {
          assert.ok(e instanceof ResultsFormatError, String(e));
          assert.equal(e.file, file);
          assert.match(e.message, /runs\[0\]\.log .* outside the folder/);
          assert.ok(!e.message.includes('root:'), 'no content of the outside file is shown');
          return true;
        },
        log,
      );
    }
  });

  it('a log that is a symbolic link to a file outside the folder is refused', () => {
    const { dir, file } = withRun('symlink', () => undefined);
    const log = join(dir, 'mnist-mlp', 'logs', 'muon-s1.jsonl');
    rmSync(log);
    const secret = join(scratch, `outside-${count++}.jsonl`);
    writeFileSync(secret, `${JSON.stringify({ type: 'step', step: 1, loss: 42, wallMs: 1, optimizerMs: 1 })}\n`);
    symlinkSync(secret, log);
    assert.throws(() => readResults(dir), (e: Error) => e instanceof ResultsFormatError && e.file === file && /outside the folder/.test(e.message));
  });

  it('an empty log is an error naming the log file', () => {
    const { dir } = withRun('emptylog', () => undefined);
    const log = join(dir, 'mnist-mlp', 'logs', 'muon-s1.jsonl');
    for (const text of ['', '\n\n  \n']) {
      writeFileSync(log, text);
      assert.throws(() => readResults(dir), (e: Error) => e instanceof ResultsFormatError && e.file === log && e.line === null && /empty/.test(e.message));
    }
  });

  it('a negative, zero, fractional or non-finite step is an error naming the file and the line', () => {
    const { dir } = withRun('badstep', () => undefined);
    const log = join(dir, 'mnist-mlp', 'logs', 'muon-s1.jsonl');
    const good = readFileSync(log, 'utf8').split('\n');
    for (const step of ['-3', '0', '2.5', '1e400', '"7"']) {
      const lines = [...good];
      lines[4] = `{"type":"step","step":${step},"loss":0.5,"wallMs":1,"optimizerMs":1}`;
      writeFileSync(log, lines.join('\n'));
      assert.throws(
        () => readResults(dir),
        (e: Error) => {
          assert.ok(e instanceof ResultsFormatError, String(e));
          assert.equal(e.file, log);
          assert.equal(e.line, 5);
          assert.match(e.message, /step must be a positive integer/);
          return true;
        },
        step,
      );
    }
  });

  it('garbage bytes and a truncated summary name the file', () => {
    const { dir, file } = withRun('garbage', () => undefined);
    const log = join(dir, 'mnist-mlp', 'logs', 'muon-s1.jsonl');
    writeFileSync(log, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x7b]));
    assert.throws(() => readResults(dir), (e: Error) => e instanceof ResultsFormatError && e.file === log && e.line === 1);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    assert.throws(() => readResults(dir), (e: Error) => e instanceof ResultsFormatError && e.file === file && /not valid JSON/.test(e.message));
  });
});

// ---------------------------------------------------------------------------------------------------
// Plot specs (issue 9 point 9): log-scale loss axes holding the target rule; NS time vs size iff timed.

type Layer = { mark?: unknown; encoding?: Record<string, { field?: string; scale?: Record<string, unknown> }>; layer?: Layer[]; data?: { values: Record<string, unknown>[] } };

function figureSpec(doc: ReturnType<typeof buildDocument>, name: string): { layer: Layer[] } | undefined {
  for (const s of doc.sections) {
    for (const b of s.blocks) if (b.kind === 'figure' && b.figure.name === name) return b.figure.spec as unknown as { layer: Layer[] };
  }
  return undefined;
}

function figureNames(doc: ReturnType<typeof buildDocument>): string[] {
  return doc.sections.flatMap((s) => s.blocks.flatMap((b) => (b.kind === 'figure' ? [b.figure.name] : [])));
}

/** Every y scale of a spec's layers (nested ones included). */
function yScales(layers: Layer[]): Record<string, unknown>[] {
  return layers.flatMap((l) => [...(l.encoding?.y?.scale ? [l.encoding.y.scale] : []), ...(l.layer ? yScales(l.layer) : [])]);
}

describe('report plot specs', () => {
  it('logDomain: holds every value, pads by 5 % of the decades (at least ×1.1), null when a value is ≤ 0', () => {
    const [lo, hi] = logDomain([0.1, 1000, 5]) ?? [Number.NaN, Number.NaN];
    // 4 decades → 0.2 decade of padding on each side.
    assert.ok(Math.abs(Math.log10(lo) - (-1.2)) < 1e-12, String(lo));
    assert.ok(Math.abs(Math.log10(hi) - 3.2) < 1e-12, String(hi));
    const [lo1, hi1] = logDomain([2, 2]) ?? [Number.NaN, Number.NaN];
    assert.ok(Math.abs(lo1 - 2 / 1.1) < 1e-12 && Math.abs(hi1 - 2.2) < 1e-12, `${lo1} ${hi1}`);
    assert.equal(logDomain([1, 0]), null);
    assert.equal(logDomain([1, -0.5]), null);
    assert.equal(logDomain([]), null);
    // Non-finite values (a diverged run) do not stretch the axis.
    assert.deepEqual(logDomain([1, Number.POSITIVE_INFINITY, 10]), logDomain([1, 10]));
  });

  it('lossAxis: log with the target inside the domain, even below every curve; linear (holding it) when a loss ≤ 0', () => {
    const pts = [{ label: 'a', x: 1, mean: 2, min: 1.5, max: 2.5, n: 2 }, { label: 'a', x: 2, mean: 1, min: 0.8, max: 1.2, n: 2 }];
    const a = lossAxis('loss', pts, 0.01);
    assert.equal(a.log, true);
    assert.ok(a.domain && a.domain[0] < 0.01 && a.domain[1] > 2.5, JSON.stringify(a.domain));
    const above = lossAxis('loss', pts, 10);
    assert.ok(above.domain && above.domain[1] > 10, JSON.stringify(above.domain));
    const lin = lossAxis('loss', [...pts, { label: 'a', x: 3, mean: 0, min: -0.1, max: 0.1, n: 2 }], 0.5);
    assert.equal(lin.log, false);
    assert.ok(lin.domain && lin.domain[0] < -0.1 && lin.domain[1] > 2.5, JSON.stringify(lin.domain));
    const linTarget = lossAxis('loss', [{ label: 'a', x: 1, mean: 0, min: 0, max: 1, n: 1 }], 5);
    assert.ok(linTarget.domain && linTarget.domain[1] > 5, JSON.stringify(linTarget.domain));
  });

  it('the fixture loss plots: log y scale on every layer, domain holds the target rule, the rule layer drawn at the target', () => {
    const dir = freshDir('specs');
    writeFixture(dir);
    const doc = buildDocument(readResults(dir), 'specs');
    for (const name of ['fashion-mnist-mlp-loss-vs-step', 'fashion-mnist-mlp-loss-vs-time']) {
      const spec = figureSpec(doc, name);
      assert.ok(spec, name);
      const scales = yScales(spec.layer);
      assert.ok(scales.length >= 3, `${name}: ${scales.length} y scales`);
      for (const sc of scales) {
        assert.equal(sc.type, 'log', name);
        const d = sc.domain as [number, number];
        assert.ok(d[0] > 0 && d[0] < 0.8 && d[1] > 2.3, `${name}: ${JSON.stringify(d)}`);
      }
      const rules = spec.layer.filter((l) => l.layer?.some((k) => (k.mark as { type?: string } | undefined)?.type === 'rule'));
      assert.equal(rules.length, 1, name);
      assert.equal(rules[0].data?.values[0].y, 0.8);
    }
    // No target: no rule layer, still a log axis.
    const plain = figureSpec(doc, 'synthetic-loss-vs-step');
    assert.ok(plain);
    assert.equal(plain.layer.filter((l) => l.layer !== undefined).length, 0);
    assert.ok(yScales(plain.layer).every((sc) => sc.type === 'log'));
  });

  it('a loss ≤ 0 falls back to a linear axis that still holds the rule, and the caption says so', () => {
    const dir = freshDir('specs-linear');
    writeFixture(dir);
    const log = join(dir, 'fashion-mnist-mlp', 'logs', 'muon-s1.jsonl');
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
    const steps = lines.filter((l) => l.type === 'step');
    (steps[steps.length - 1] as { loss: number }).loss = -0.25;
    writeFileSync(log, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const doc = buildDocument(readResults(dir), 'specs');
    const spec = figureSpec(doc, 'fashion-mnist-mlp-loss-vs-step');
    assert.ok(spec);
    for (const sc of yScales(spec.layer)) {
      assert.equal(sc.type, undefined);
      const d = sc.domain as [number, number];
      assert.ok(d[0] < 0 && d[0] < 0.8 && d[1] > 0.8, JSON.stringify(d));
    }
    const captions = doc.sections.flatMap((s) => s.blocks.flatMap((b) => (b.kind === 'figure' && b.figure.name === 'fashion-mnist-mlp-loss-vs-step' ? [b.figure.caption] : [])));
    assert.match(captions[0], /linear loss axis \(some loss is not positive\)/);
  });

  it('the NS time-vs-size plot (log–log) is present iff the results hold NS timing', () => {
    const dir = freshDir('specs-ns');
    writeFixture(dir);
    const withNs = buildDocument(readResults(dir), 'ns');
    const spec = figureSpec(withNs, 'ns-time-vs-size') as unknown as { layer?: Layer[]; encoding?: Record<string, { scale?: Record<string, unknown> }> } | undefined;
    assert.ok(spec, 'ns-time-vs-size');
    const enc = spec.encoding ?? spec.layer?.[0]?.encoding;
    assert.equal(enc?.x?.scale?.type, 'log');
    assert.equal(enc?.y?.scale?.type, 'log');
    rmSync(join(dir, 'ns'), { recursive: true });
    assert.ok(!figureNames(buildDocument(readResults(dir), 'no ns')).includes('ns-time-vs-size'));
  });

  it('a bench-ns.json (orthoptim/bench-ns@1, from npm run bench:ns) in the folder gives the NS rows and plot', async () => {
    const dir = freshDir('bench-ns');
    // The fields bench/ns.ts's BenchResult writes (checked against a real `npm run bench:ns` file), trimmed.
    const stats = (median: number) => ({ median, min: median * 0.9, max: median * 1.2, mean: median, iqr: 0.1, n: 5 });
    const shape = (n: number, ns: number, mm: number) => ({ shape: [n, n], k: n, n, steps: 5, ns: stats(ns), matmul: stats(mm) });
    const bench = {
      schema: 'orthoptim/bench-ns@1',
      machine: { cpuModel: 'Test CPU', cores: 2, totalMemGiB: 8, platform: 'linux', arch: 'x64', node: 'v20.0.0', tfjsCore: '4.22.0', backend: 'wasm' },
      quick: true,
      ns: { coefficients: 'jordan', shapes: [shape(64, 1.5, 1.25), shape(256, 12, 10)], wallMs: 100 },
      wallMs: 100,
    };
    writeFileSync(join(dir, 'bench-ns.json'), JSON.stringify(bench));
    const data = readResults(dir);
    assert.deepEqual(
      data.ns?.rows.map((r) => [r.method, r.rows, r.cols, r.ms]),
      [['ns×5', 64, 64, 1.5], ['matmul', 64, 64, 1.25], ['ns×5', 256, 256, 12], ['matmul', 256, 256, 10]],
    );
    assert.equal(data.ns?.backend, 'wasm');
    assert.ok(figureNames(buildDocument(data, 'bench-ns')).includes('ns-time-vs-size'));
    // A malformed file names itself and the field, and writes nothing.
    const bad = freshDir('bench-ns-bad');
    const file = join(bad, 'bench-ns.json');
    writeFileSync(file, JSON.stringify({ ...bench, ns: { shapes: [{ ...shape(64, 1, 1), ns: { median: 'fast' } }] } }));
    await assert.rejects(writeReport(bad), (e: Error) => {
      assert.ok(e instanceof ResultsFormatError);
      assert.equal(e.message, `${file}: ns.shapes[0].ns.median must be a number, got string`);
      return true;
    });
    writeFileSync(file, JSON.stringify({ ...bench, schema: 'orthoptim/bench-ns@0' }));
    assert.throws(() => readResults(bad), new RegExp(`schema is "orthoptim/bench-ns@0", expected 'orthoptim/bench-ns@1'`));
    assert.deepEqual(readdirSync(bad), ['bench-ns.json']);
  });
});
