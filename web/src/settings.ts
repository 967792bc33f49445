/**
 * The playground's settings, kept in the URL's query string so a view can be shared: every control
 * reads from and writes to one {@link Settings} object, and `history.replaceState` mirrors it into the
 * address bar. Parsing never throws: an unknown or out-of-range value falls back to its default and is
 * listed in `rejected`, which the page shows.
 */
import { createOptimizer, listOptimizers } from '../../src/index.js';

export const views = ['ns', 'race', 'spectra'] as const;
export type View = (typeof views)[number];
export const backends = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof backends)[number];
export const matrixKinds = ['gaussian', 'illConditioned', 'lowRank', 'gradient'] as const;
export type MatrixKind = (typeof matrixKinds)[number];
export const tableNames = ['jordan', 'you', 'polarExpress5', 'polarExpress8', 'turbo', 'root', 'custom'] as const;
export type TableName = (typeof tableNames)[number];
export const datasets = ['spiral', 'moons', 'fashion'] as const;
export type DatasetName = (typeof datasets)[number];
/** A racing optimizer: any registry name (createOptimizer, listOptimizers). */
export type Racer = string;
/** Every registered optimizer, in registration order: what the race can enter. */
export const racers: readonly Racer[] = listOptimizers().map((o) => o.name);
/** The racers entered by default. */
export const defaultRacers: readonly Racer[] = racers.filter((r) => ['muon', 'turboMuon', 'norMuon', 'adaMuon', 'adamw', 'sgd'].includes(r));

/** Learning rates the race starts from: Muon's authors' 0.02 for the Muon family, AdamW 3e-3, SGD 0.05. */
const chosenLearningRates: Readonly<Record<string, number>> = {
  muon: 0.02, turboMuon: 0.02, norMuon: 0.02, adaMuon: 0.02, adamw: 3e-3, adam: 3e-3, sgd: 0.05,
};

/** The learning rate a racer starts from: the table above, else the optimizer's own default. */
export function defaultLearningRate(name: Racer): number {
  const chosen = chosenLearningRates[name];
  if (chosen !== undefined) return chosen;
  const o = createOptimizer(name);
  try {
    const lr = (o.getConfig() as { learningRate?: unknown }).learningRate;
    return typeof lr === 'number' && lr > 0 ? lr : 0.01;
  } finally {
    o.dispose();
  }
}

/** The default learning rate of every registered optimizer. */
export const defaultLearningRates: Readonly<Record<Racer, number>> = Object.fromEntries(racers.map((r) => [r, defaultLearningRate(r)]));

export interface Settings {
  view: View;
  /** Requested backend; the page shows which one actually runs. */
  backend: BackendName;
  matrix: MatrixKind;
  rows: number;
  cols: number;
  seed: number;
  tables: TableName[];
  /** Steps for every table; 0 means each table's own default. */
  steps: number;
  /** The 'custom' table: rows "a,b,c;a,b,c…". */
  custom: string;
  data: DatasetName;
  racers: Racer[];
  lr: Record<Racer, number>;
  batch: number;
}

export const defaults: Settings = {
  view: 'ns',
  backend: 'webgl',
  matrix: 'gaussian',
  rows: 64,
  cols: 128,
  seed: 1,
  tables: ['jordan', 'you', 'polarExpress5', 'turbo'],
  steps: 0,
  custom: '3.4445,-4.775,2.0315;3.4445,-4.775,2.0315;3.4445,-4.775,2.0315;3.4445,-4.775,2.0315;3.4445,-4.775,2.0315',
  data: 'spiral',
  racers: [...defaultRacers],
  lr: { ...defaultLearningRates },
  batch: 64,
};

function oneOf<T extends string>(list: readonly T[], v: string | null, fallback: T, key: string, rejected: string[]): T {
  if (v === null) return fallback;
  if ((list as readonly string[]).includes(v)) return v as T;
  rejected.push(`${key}=${v}`);
  return fallback;
}

function intIn(v: string | null, lo: number, hi: number, fallback: number, key: string, rejected: string[]): number {
  if (v === null) return fallback;
  const n = Number(v);
  if (Number.isInteger(n) && n >= lo && n <= hi) return n;
  rejected.push(`${key}=${v}`);
  return fallback;
}

function listOf<T extends string>(list: readonly T[], v: string | null, fallback: T[], key: string, rejected: string[]): T[] {
  if (v === null) return [...fallback];
  const items = v.split(',').filter((x) => x !== '');
  const good = items.filter((x): x is T => (list as readonly string[]).includes(x));
  if (good.length !== items.length || good.length === 0) rejected.push(`${key}=${v}`);
  return good.length === 0 ? [...fallback] : list.filter((x) => good.includes(x));
}

/** Parses a query string into settings (defaults for what is absent or bad; bad values in `rejected`). */
export function parseSettings(search: string): { settings: Settings; rejected: string[] } {
  const q = new URLSearchParams(search);
  const rejected: string[] = [];
  const lr = { ...defaults.lr };
  for (const r of racers) {
    const v = q.get(`lr.${r}`);
    if (v === null) continue;
    const n = Number(v);
    if (Number.isFinite(n) && n > 0 && n <= 1) lr[r] = n;
    else rejected.push(`lr.${r}=${v}`);
  }
  const settings: Settings = {
    view: oneOf(views, q.get('view'), defaults.view, 'view', rejected),
    backend: oneOf(backends, q.get('backend'), defaults.backend, 'backend', rejected),
    matrix: oneOf(matrixKinds, q.get('matrix'), defaults.matrix, 'matrix', rejected),
    rows: intIn(q.get('rows'), 2, 512, defaults.rows, 'rows', rejected),
    cols: intIn(q.get('cols'), 2, 512, defaults.cols, 'cols', rejected),
    seed: intIn(q.get('seed'), 0, 2 ** 31 - 1, defaults.seed, 'seed', rejected),
    tables: listOf(tableNames, q.get('tables'), defaults.tables, 'tables', rejected),
    steps: intIn(q.get('steps'), 0, 20, defaults.steps, 'steps', rejected),
    custom: q.get('custom') ?? defaults.custom,
    data: oneOf(datasets, q.get('data'), defaults.data, 'data', rejected),
    racers: listOf(racers, q.get('racers'), defaults.racers, 'racers', rejected),
    lr,
    batch: intIn(q.get('batch'), 8, 512, defaults.batch, 'batch', rejected),
  };
  return { settings, rejected };
}

/** The query string for `s`: only what differs from the defaults, so shared links stay short. */
export function formatSettings(s: Settings): string {
  const q = new URLSearchParams();
  const put = (k: string, v: string, d: string) => {
    if (v !== d) q.set(k, v);
  };
  put('view', s.view, defaults.view);
  put('backend', s.backend, defaults.backend);
  put('matrix', s.matrix, defaults.matrix);
  put('rows', String(s.rows), String(defaults.rows));
  put('cols', String(s.cols), String(defaults.cols));
  put('seed', String(s.seed), String(defaults.seed));
  put('tables', s.tables.join(','), defaults.tables.join(','));
  put('steps', String(s.steps), String(defaults.steps));
  put('custom', s.custom, defaults.custom);
  put('data', s.data, defaults.data);
  put('racers', s.racers.join(','), defaults.racers.join(','));
  for (const r of racers) put(`lr.${r}`, String(s.lr[r]), String(defaults.lr[r]));
  put('batch', String(s.batch), String(defaults.batch));
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

/** Parses the custom table "a,b,c;a,b,c": a RangeError naming the row when one is not three numbers. */
export function parseCustomRows(text: string): [number, number, number][] {
  const rows = text.split(';').map((r) => r.trim()).filter((r) => r !== '');
  if (rows.length === 0) throw new RangeError('custom coefficients: give at least one row "a,b,c"');
  return rows.map((r, i) => {
    const v = r.split(',').map((x) => Number(x.trim()));
    if (v.length !== 3 || !v.every((x) => Number.isFinite(x))) {
      throw new RangeError(`custom coefficients: row ${i + 1} must be three numbers "a,b,c", got "${r}"`);
    }
    return [v[0], v[1], v[2]];
  });
}
