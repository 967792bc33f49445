/**
 * Reading a results directory (the layout of `src/bench/results.ts`) for the report: every
 * `<task>/summary.json` with its JSON-lines logs, the optional `ns/summary.json`, and the optional
 * `deep-tanh/summary.json` (read as loosely structured data). Every problem names the file, and for a
 * log the line, that is wrong.
 * @module
 */
import type { ClaimsFile } from '../bench/claims.js';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ComparisonSummary, LogLine, NsTimingSummary } from '../bench/results.js';

/** The format tag of a comparison summary this report reads. */
export const comparisonFormat = 'orthoptim-bench/2';
/** The format tag of a Newton–Schulz timing summary this report reads. */
export const nsFormat = 'orthoptim-ns/1';
/** The schema tag of `results/bench-ns.json`, written by `npm run bench:ns` (`bench/ns.ts`). */
export const benchNsSchema = 'orthoptim/bench-ns@1';

/** A results file that cannot be read as the format says; `file` (and `line` for a log) say where. */
export class ResultsFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    problem: string,
  ) {
    super(`${line === null ? file : `${file}:${line}`}: ${problem}`);
    this.name = 'ResultsFormatError';
  }
}

/** One task comparison: its summary and the parsed log of each run (by run id). */
export interface ComparisonData {
  /** Folder name under the results directory. */
  folder: string;
  /** Absolute path of the folder. */
  dir: string;
  summary: ComparisonSummary;
  logs: Map<string, LogLine[]>;
}

/** A summary written by another experiment (e.g. deep-tanh), rendered generically. */
export interface ExtraData {
  folder: string;
  dir: string;
  file: string;
  data: Record<string, unknown>;
}

/** Everything the report draws from. */
export interface ResultsData {
  dir: string;
  comparisons: ComparisonData[];
  ns: NsTimingSummary | null;
  extras: ExtraData[];
  /** `claims.json` (the claims script's verdicts), when the folder has one. */
  claims: ClaimsFile | null;
  /** Things that did not stop the report but that a reader should know (missing logs, unfinished runs). */
  warnings: string[];
}

/** Folders that hold generic experiment summaries rather than comparisons. */
const extraFolders = new Set(['deep-tanh']);

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ResultsFormatError(file, null, `cannot read: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ResultsFormatError(file, null, `not valid JSON: ${(error as Error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A number, or `null` (how the results files write non-finite numbers). */
function isNumberOrNull(value: unknown): value is number | null {
  return value === null || typeof value === 'number';
}

function requireFields(file: string, where: string, value: Record<string, unknown>, fields: Record<string, string>): void {
  for (const [key, kind] of Object.entries(fields)) {
    const v = value[key];
    const ok =
      kind === 'array' ? Array.isArray(v) : kind === 'object' ? isRecord(v) : kind === 'number?' ? isNumberOrNull(v) : typeof v === kind;
    if (!ok) {
      const got = v === undefined ? 'missing' : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;
      throw new ResultsFormatError(file, null, `${where}${key} must be ${kind === 'number?' ? 'a number or null' : `a ${kind}`}, got ${got}`);
    }
  }
}

function checkComparison(file: string, data: Record<string, unknown>): ComparisonSummary {
  requireFields(file, '', data, {
    task: 'string',
    model: 'string',
    metric: 'object',
    splits: 'object',
    machine: 'object',
    steps: 'number',
    batch: 'number',
    seeds: 'array',
    runs: 'array',
    aggregates: 'array',
  });
  (data.runs as unknown[]).forEach((run, i) => {
    if (!isRecord(run)) throw new ResultsFormatError(file, null, `runs[${i}] must be an object`);
    requireFields(file, `runs[${i}].`, run, { id: 'string', label: 'string', log: 'string', seed: 'number', final: 'object', timing: 'object' });
  });
  (data.aggregates as unknown[]).forEach((agg, i) => {
    if (!isRecord(agg)) throw new ResultsFormatError(file, null, `aggregates[${i}] must be an object`);
    requireFields(file, `aggregates[${i}].`, agg, { label: 'string', trainLoss: 'object', validationLoss: 'object', msPerStep: 'object' });
  });
  return data as unknown as ComparisonSummary;
}

function checkNs(file: string, data: Record<string, unknown>): NsTimingSummary {
  requireFields(file, '', data, { rows: 'array' });
  (data.rows as unknown[]).forEach((row, i) => {
    if (!isRecord(row)) throw new ResultsFormatError(file, null, `rows[${i}] must be an object`);
    requireFields(file, `rows[${i}].`, row, { method: 'string', rows: 'number', cols: 'number', ms: 'number?' });
  });
  return data as unknown as NsTimingSummary;
}

/**
 * The Newton–Schulz timing of a `bench-ns.json` (schema `orthoptim/bench-ns@1`, `bench/ns.ts`'s
 * `BenchResult`) as the report's {@link NsTimingSummary}: per shape in `ns.shapes`, one row for the
 * orthoptim NS call (`ns.median`, method `ns×<steps>`) and one for its plain matmuls (`matmul.median`,
 * method `matmul`). Only the fields used are checked; a wrong one is a {@link ResultsFormatError}
 * naming the file and the field.
 */
export function nsFromBenchNs(file: string, data: Record<string, unknown>): NsTimingSummary {
  if (data.schema !== benchNsSchema) {
    throw new ResultsFormatError(file, null, `schema is ${JSON.stringify(data.schema) ?? 'missing'}, expected '${benchNsSchema}'`);
  }
  requireFields(file, '', data, { machine: 'object', ns: 'object' });
  const machine = data.machine as Record<string, unknown>;
  const ns = data.ns as Record<string, unknown>;
  requireFields(file, 'ns.', ns, { shapes: 'array' });
  const rows: NsTimingSummary['rows'] = [];
  (ns.shapes as unknown[]).forEach((shape, i) => {
    const where = `ns.shapes[${i}].`;
    if (!isRecord(shape)) throw new ResultsFormatError(file, null, `ns.shapes[${i}] must be an object`);
    requireFields(file, where, shape, { shape: 'array', steps: 'number', ns: 'object', matmul: 'object' });
    const dims = shape.shape as unknown[];
    if (dims.length !== 2 || !dims.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) {
      throw new ResultsFormatError(file, null, `${where}shape must be [rows, cols] of positive integers, got ${JSON.stringify(dims)}`);
    }
    for (const key of ['ns', 'matmul'] as const) {
      requireFields(file, `${where}${key}.`, shape[key] as Record<string, unknown>, { median: 'number' });
    }
    const [r, c] = dims as number[];
    rows.push({ method: `ns×${shape.steps as number}`, rows: r, cols: c, ms: (shape.ns as { median: number }).median, error: null });
    rows.push({ method: 'matmul', rows: r, cols: c, ms: (shape.matmul as { median: number }).median, error: null });
  });
  const text = (key: string) => (typeof machine[key] === 'string' ? (machine[key] as string) : '—');
  const num = (key: string) => (typeof machine[key] === 'number' ? (machine[key] as number) : NaN);
  return {
    format: nsFormat,
    backend: text('backend'),
    engine: 'tfjs',
    machine: {
      cpu: text('cpuModel'),
      cores: num('cores'),
      memoryGiB: num('totalMemGiB'),
      platform: text('platform'),
      arch: text('arch'),
      node: text('node'),
      tfjs: text('tfjsCore'),
      backend: text('backend'),
    } as unknown as NsTimingSummary['machine'],
    rows,
  };
}

/**
 * Parses a run's JSON-lines log. Blank lines are allowed (a trailing newline); any other line must be
 * a JSON `step`, `eval` or `orthogonality` record, else the error names the file and the 1-based line.
 */
export function parseLog(file: string, text: string): LogLine[] {
  const out: LogLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw) as unknown;
    } catch (error) {
      throw new ResultsFormatError(file, i + 1, `malformed JSON line (${(error as Error).message}): ${raw.slice(0, 80)}`);
    }
    if (!isRecord(value)) throw new ResultsFormatError(file, i + 1, 'a log line must be a JSON object');
    const bad = (what: string) => new ResultsFormatError(file, i + 1, `${what}: ${raw.slice(0, 80)}`);
    // Steps are 1-based counts (see `LogLine`); anything else is a corrupted or edited log.
    if (!Number.isSafeInteger(value.step) || (value.step as number) < 1) {
      throw bad(`step must be a positive integer, got ${JSON.stringify(value.step) ?? 'nothing'}`);
    }
    if (value.type === 'orthogonality') {
      const numbers = ['rows', 'cols', 'orthogonalityError', 'sigmaMax', 'sigmaMin', 'stableRank', 'frobeniusNorm'];
      const wrong = numbers.find((k) => !isNumberOrNull(value[k]));
      if (typeof value.name !== 'string' || wrong !== undefined) {
        throw bad(`an orthogonality line needs a name and numeric ${numbers.join(', ')}${wrong === undefined ? '' : ` (${wrong} is not)`}`);
      }
      const sv = value.singularValues;
      if (sv !== undefined && !(Array.isArray(sv) && sv.every((x) => isNumberOrNull(x)))) throw bad('singularValues must be a list of numbers');
      out.push(value as unknown as LogLine);
      continue;
    }
    if (typeof value.step !== 'number' || !isNumberOrNull(value.loss) || !isNumberOrNull(value.wallMs)) {
      throw bad('a log line needs numeric step, loss (or null) and wallMs');
    }
    if (value.type === 'step') {
      if (!isNumberOrNull(value.optimizerMs)) throw bad('a step line needs optimizerMs');
    } else if (value.type === 'eval') {
      if ((value.split !== 'validation' && value.split !== 'test') || !isNumberOrNull(value.metric)) {
        throw bad("an eval line needs split 'validation' or 'test' and a metric");
      }
    } else {
      throw bad(`unknown line type ${JSON.stringify(value.type)} (expected 'step', 'eval' or 'orthogonality')`);
    }
    out.push(value as unknown as LogLine);
  }
  if (out.length === 0) throw new ResultsFormatError(file, null, 'the log is empty (no step or eval line)');
  return out;
}

/** Whether `path` is `folder` itself or below it (both absolute and normalized). */
function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The absolute path of a run's log, which must lie below the comparison folder `dir`: `log` is a path
 * relative to it (as the runner writes `logs/<run-id>.jsonl`), and neither `..` nor a symbolic link may
 * lead outside it — a results folder is data from anywhere, and the report must never read (let alone
 * print) a file the folder does not hold. Throws a {@link ResultsFormatError} naming `summaryFile`.
 */
export function logPath(summaryFile: string, dir: string, index: number, log: string): string {
  const outside = () =>
    new ResultsFormatError(summaryFile, null, `runs[${index}].log ${JSON.stringify(log)} points outside the folder ${dir}; a log must be a path below it`);
  if (log === '' || isAbsolute(log) || log.includes('\0')) throw outside();
  const path = resolve(dir, log);
  if (!isInside(dir, path)) throw outside();
  if (existsSync(path) && !isInside(realpathSync(dir), realpathSync(path))) throw outside();
  return path;
}

function readComparison(folder: string, dir: string, file: string, summary: ComparisonSummary, warnings: string[]): ComparisonData {
  const logs = new Map<string, LogLine[]>();
  for (const [index, run] of summary.runs.entries()) {
    const logFile = logPath(file, dir, index, run.log);
    if (!existsSync(logFile)) {
      warnings.push(`${folder}: the log of run ${run.id} (${logFile}) is missing; its curves are left out`);
      continue;
    }
    let text: string;
    try {
      text = readFileSync(logFile, 'utf8');
    } catch (error) {
      throw new ResultsFormatError(logFile, null, `cannot read the log of run ${run.id}: ${(error as Error).message}`);
    }
    logs.set(run.id, parseLog(logFile, text));
  }
  if (summary.runs.length === 0) warnings.push(`${file}: no runs recorded`);
  return { folder, dir, summary, logs };
}

/**
 * Reads a results directory. Throws when the directory does not exist, holds no results at all, or
 * holds a file in the wrong format (a {@link ResultsFormatError} naming it).
 */
export function readResults(resultsDir: string): ResultsData {
  const dir = resolve(resultsDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`results directory ${dir} does not exist (run \`orthoptim bench\` to create it)`);
  }
  const data: ResultsData = { dir, comparisons: [], ns: null, extras: [], claims: null, warnings: [] };
  const claimsFile = join(dir, 'claims.json');
  if (existsSync(claimsFile)) {
    const json = readJson(claimsFile);
    if (!isRecord(json) || json.format !== 'orthoptim-claims/1') {
      throw new ResultsFormatError(claimsFile, null, `format is ${JSON.stringify(isRecord(json) ? json.format : json)}, expected 'orthoptim-claims/1'`);
    }
    if (!Array.isArray(json.rows) || !json.rows.every((r) => isRecord(r) && typeof r.claim === 'string' && typeof r.verdict === 'string')) {
      throw new ResultsFormatError(claimsFile, null, 'rows must be a list of claims, each with claim and verdict');
    }
    data.claims = json as unknown as ClaimsFile;
  }
  // `npm run bench:ns` writes results/bench-ns.json; an `ns/summary.json` (read below) takes precedence.
  const benchNsFile = join(dir, 'bench-ns.json');
  if (existsSync(benchNsFile)) {
    const json = readJson(benchNsFile);
    if (!isRecord(json)) throw new ResultsFormatError(benchNsFile, null, 'must hold a JSON object');
    data.ns = nsFromBenchNs(benchNsFile, json);
  }
  const folders = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const folder of folders) {
    const sub = join(dir, folder);
    const file = join(sub, 'summary.json');
    if (!existsSync(file)) {
      if (existsSync(join(sub, 'logs'))) {
        data.warnings.push(`${folder}: logs but no summary.json (an unfinished comparison?); left out`);
      }
      continue;
    }
    const json = readJson(file);
    if (!isRecord(json)) throw new ResultsFormatError(file, null, 'must hold a JSON object');
    const format = json.format;
    if (extraFolders.has(folder)) {
      data.extras.push({ folder, dir: sub, file, data: json });
    } else if (folder === 'ns') {
      if (format !== nsFormat) {
        throw new ResultsFormatError(file, null, `format is ${JSON.stringify(format)}, expected '${nsFormat}'`);
      }
      data.ns = checkNs(file, json);
    } else {
      if (format !== comparisonFormat) {
        throw new ResultsFormatError(
          file,
          null,
          `format is ${JSON.stringify(format)}, expected '${comparisonFormat}' (a comparison written by \`orthoptim bench\`)`,
        );
      }
      data.comparisons.push(readComparison(folder, sub, file, checkComparison(file, json), data.warnings));
    }
  }
  if (data.comparisons.length === 0 && data.ns === null && data.extras.length === 0 && data.claims === null) {
    throw new Error(
      `no results in ${dir}: expected <task>/summary.json (written by \`orthoptim bench\`), ns/summary.json, bench-ns.json (written by \`npm run bench:ns\`) or deep-tanh/summary.json`,
    );
  }
  return data;
}
