/**
 * Newton–Schulz coefficient tables as data. Each row `(a, b, c)` is one step of the odd quintic
 * `p(σ) = aσ + bσ³ + cσ⁵` applied to the singular values; a table with fewer rows than steps repeats
 * its last row. Each preset also carries the input normalization its authors use:
 * `X / (‖X‖_F · normScale + eps)`.
 *
 * Sources (values restated from ../shared/specs/muon-family.md §2):
 * - `jordan`: KellerJordan/Muon `muon.py` `zeropower_via_newtonschulz5`.
 * - `you`: Jiacheng You's tuned 5 steps, Dao-AILab/gram-newton-schulz `coefficients.py` (`YOU_COEFFICIENTS`),
 *   also microsoft/dion `dion/muon.py`.
 * - `polarExpress5`: Amsel et al., "The Polar Express" (arXiv 2505.16932), the 5-step table of
 *   KellerJordan/modded-nanogpt `train_gpt.py` and microsoft/dion `dion/polar_express.py`
 *   (ℓ = 1e-3, safety 0.02, cushion 0.02), input ÷ (1.02‖X‖_F + 1e-6).
 * - `polarExpress8`: NoahAmsel/PolarExpress `polar_express/basic.py`, stored without safety; every row
 *   except the last is divided `(a/1.01, b/1.01³, c/1.01⁵)`, input ÷ (1.01‖X‖_F + 1e-7).
 * - `turbo`: the released Turbo-Muon default (Boissin et al., "Turbo-Muon: Accelerating
 *   Orthogonality-Based Optimization with Pre-Conditioning", arXiv 2512.04632;
 *   thib-s/flash-newton-schulz@10b6c36 `turbo_muon_torch.py#newton_schulz`, `ns_consts[-iter:]` with
 *   iter = 4): the last four rows of You's table, 4 steps, AOL preconditioning instead of the Frobenius
 *   normalization (spec §3.1), ε = 1e-7 (the function default; the optimizer passes 1e-6).
 * - `root`: ROOT's per-shape table (He et al., "ROOT: Robust Orthogonalized Optimizer for Neural Network
 *   Training", arXiv 2511.20626; huawei-noah/noah-research `ROOT/examples/example_train.py`), resolved
 *   for each matrix by {@link rootCoefficientTable}; Jordan's row for every other shape.
 *
 * A table whose scalar map can let singular values escape (spec §8.2) is reported once through
 * {@link setStabilityWarningHandler} (default `console.warn`); see {@link coefficientStability}.
 * @module
 */

/** One Newton–Schulz step: `σ ↦ aσ + bσ³ + cσ⁵`. */
export type QuinticCoefficients = readonly [number, number, number];

/**
 * How the input is brought to spectral norm ≤ 1 before the first step: `'frobenius'` divides by
 * `‖X‖_F·normScale + eps` (Muon, Polar Express); `'aol'` scales each row of the wide `X` by
 * `1/√max(Σ_j |XXᵀ|_ij, eps)` (Prach & Lampert's AOL rescaling, arXiv 2208.03160, as Turbo-Muon uses it,
 * spec §3.1), reusing the first step's Gram matrix.
 */
export type Preconditioning = 'frobenius' | 'aol';

/** A named coefficient schedule with the normalization its authors use. */
export interface CoefficientTable {
  /** Preset name, or `'custom'`. */
  readonly name: string;
  /** One row per step; steps past the end reuse the last row. */
  readonly rows: readonly QuinticCoefficients[];
  /** Number of steps the authors run (the default `steps`). */
  readonly defaultSteps: number;
  /** Input is divided by `‖X‖_F · normScale + eps`. */
  readonly normScale: number;
  /** Default `eps` of that normalization (for `'aol'`: the floor of the row sums). */
  readonly eps: number;
  /** The preconditioning the authors pair the table with (absent: `'frobenius'`). */
  readonly precondition?: Preconditioning;
  /**
   * A table chosen per matrix shape (ROOT): when present, Newton–Schulz runs each `rows × cols` matrix
   * with `perShape(rows, cols)` instead of this table's own rows (which are then the fallback).
   */
  readonly perShape?: (rows: number, cols: number) => CoefficientTable;
}

/** Names of the built-in tables (single camelCase words so they survive tfjs-layers config reloads). */
export type CoefficientPreset = 'jordan' | 'you' | 'polarExpress5' | 'polarExpress8' | 'turbo' | 'root';

const JORDAN: QuinticCoefficients = [3.4445, -4.775, 2.0315];

const YOU: readonly QuinticCoefficients[] = [
  [4.0848, -6.8946, 2.927],
  [3.9505, -6.3029, 2.6377],
  [3.7418, -5.5913, 2.3037],
  [2.8769, -3.1427, 1.2046],
  [2.8366, -3.0525, 1.2012],
];

const POLAR_EXPRESS_5: readonly QuinticCoefficients[] = [
  [8.156554524902461, -22.48329292557795, 15.878769915207462],
  [4.042929935166739, -2.808917465908714, 0.5000178451051316],
  [3.8916678022926607, -2.772484153217685, 0.5060648178503393],
  [3.285753657755655, -2.3681294933425376, 0.46449024233003106],
  [2.3465413258596377, -1.7097828382687081, 0.42323551169305323],
];

/** The published 8-step list, before the 1.01 safety division. */
const POLAR_EXPRESS_8_RAW: readonly QuinticCoefficients[] = [
  [8.28721201814563, -23.595886519098837, 17.300387312530933],
  [4.107059111542203, -2.9478499167379106, 0.5448431082926601],
  [3.9486908534822946, -2.908902115962949, 0.5518191394370137],
  [3.3184196573706015, -2.488488024314874, 0.51004894012372],
  [2.300652019954817, -1.6689039845747493, 0.4188073119525673],
  [1.891301407787398, -1.2679958271945868, 0.37680408948524835],
  [1.8750014808534479, -1.2500016453999487, 0.3750001645474248],
  [1.875, -1.25, 0.375],
];

/** `p(x) → p(x / s)`: divides a, b, c by s, s³, s⁵ (Polar Express safety factor). */
export function withSafety(row: QuinticCoefficients, s: number): QuinticCoefficients {
  return [row[0] / s, row[1] / s ** 3, row[2] / s ** 5];
}

const POLAR_EXPRESS_8 = POLAR_EXPRESS_8_RAW.map((row, i) =>
  i < POLAR_EXPRESS_8_RAW.length - 1 ? withSafety(row, 1.01) : row,
);

const JORDAN_TABLE: CoefficientTable = { name: 'jordan', rows: [JORDAN], defaultSteps: 5, normScale: 1, eps: 1e-7 };

/**
 * ROOT's published per-shape rows, keyed `min×max` of the matrix (spec §8.2; "Coefficients for ROOT used
 * with 4 shapes used in this toy-train script"). The 2048×2048 row is not stable (see
 * {@link coefficientStability}).
 */
const ROOT_ROWS: ReadonlyMap<string, QuinticCoefficients> = new Map<string, QuinticCoefficients>([
  ['2048x2048', [3.4916, -4.8224, 2.1095]],
  ['2048x3072', [3.4509, -4.579, 1.9325]],
  ['2048x8192', [2.9794, -3.6674, 1.6207]],
  ['2048x16384', [3.1943, -3.8221, 1.5322]],
]);

const ROOT_TABLES: ReadonlyMap<string, CoefficientTable> = new Map(
  [...ROOT_ROWS].map(([key, row]): [string, CoefficientTable] => [
    key,
    { name: `root${key}`, rows: [row], defaultSteps: 5, normScale: 1, eps: 1e-7 },
  ]),
);

/**
 * ROOT's coefficient table for a matrix of this shape (He et al., arXiv 2511.20626;
 * huawei-noah/noah-research@aa0f80c8 `ROOT/examples/example_train.py#root5`): the published row for the
 * key `(min(m, n), max(m, n))` — 2048×2048, 2048×3072, 2048×8192, 2048×16384 — run for 5 steps on the
 * Frobenius-normalized input (`‖X‖_F + 1e-7`), and Jordan's table (the `jordan` preset itself) for every
 * other shape. The key is symmetric, so the TensorFlow.js `[fanIn, fanOut]` layout and PyTorch's
 * `[out, in]` give the same table.
 *
 * The 2048×2048 row is unstable (max of p on [0, 1] is 1.22459, above its repelling fixed point 1.22355,
 * spec §8.2): resolving it reports once through {@link setStabilityWarningHandler}.
 *
 * @param shape - A matrix shape `[rows, cols]`; a longer shape is read as its flattened
 *   `[prod(shape[:-1]), shape[-1]]` matrix (a conv kernel `[kh, kw, in, out]` → `[kh·kw·in, out]`).
 * @throws RangeError for a shape of rank < 2.
 * @example
 * rootCoefficientTable([3072, 2048]).rows // [[3.4509, -4.579, 1.9325]]
 */
export function rootCoefficientTable(shape: readonly number[]): CoefficientTable {
  if (shape.length < 2) {
    throw new RangeError(`rootCoefficientTable: need a matrix shape (rank >= 2), got [${shape.join(', ')}]`);
  }
  const cols = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const table = ROOT_TABLES.get(`${Math.min(rows, cols)}x${Math.max(rows, cols)}`) ?? JORDAN_TABLE;
  warnIfUnstable(table);
  return table;
}

const PRESETS: { readonly [K in CoefficientPreset]: CoefficientTable } = {
  jordan: JORDAN_TABLE,
  you: { name: 'you', rows: YOU, defaultSteps: 5, normScale: 1, eps: 1e-7 },
  polarExpress5: { name: 'polarExpress5', rows: POLAR_EXPRESS_5, defaultSteps: 5, normScale: 1.02, eps: 1e-6 },
  polarExpress8: { name: 'polarExpress8', rows: POLAR_EXPRESS_8, defaultSteps: 8, normScale: 1.01, eps: 1e-7 },
  turbo: { name: 'turbo', rows: YOU.slice(-4), defaultSteps: 4, normScale: 1, eps: 1e-7, precondition: 'aol' },
  root: {
    name: 'root',
    rows: [JORDAN],
    defaultSteps: 5,
    normScale: 1,
    eps: 1e-7,
    perShape: (rows, cols) => rootCoefficientTable([rows, cols]),
  },
};

/** All preset names. */
export const coefficientPresets: readonly CoefficientPreset[] = Object.keys(PRESETS) as CoefficientPreset[];

/**
 * A coefficient table: a preset name, a table object, or a user list of rows
 * (`[[a, b, c], …]`, normalized like Jordan's: `‖X‖_F + 1e-7`).
 */
export type CoefficientsOption = CoefficientPreset | CoefficientTable | readonly QuinticCoefficients[];

/**
 * Resolves a coefficients option to a table; throws `RangeError` on an unknown name or a malformed table.
 * A table that {@link coefficientStability} finds unsafe is reported once (per distinct rows) through the
 * handler of {@link setStabilityWarningHandler}; it is still returned — the caller decides.
 */
export function coefficientTable(option: CoefficientsOption, owner = 'newtonSchulz'): CoefficientTable {
  if (typeof option === 'string') return presetTable(option, owner);
  const table: CoefficientTable = Array.isArray(option)
    ? { name: 'custom', rows: option as readonly QuinticCoefficients[], defaultSteps: option.length, normScale: 1, eps: 1e-7 }
    : (option as CoefficientTable);
  if (
    table.rows.length === 0 ||
    !table.rows.every((r) => Array.isArray(r) && r.length === 3 && r.every((x) => Number.isFinite(x)))
  ) {
    throw new RangeError(`${owner}: coefficients must be a non-empty list of finite [a, b, c] rows, got ${JSON.stringify(table.rows)}`);
  }
  if (!(table.normScale > 0) || !(table.eps >= 0)) {
    throw new RangeError(`${owner}: coefficient table needs normScale > 0 and eps >= 0`);
  }
  if (table.precondition !== undefined && table.precondition !== 'frobenius' && table.precondition !== 'aol') {
    throw new RangeError(`${owner}: coefficient table precondition must be 'frobenius' or 'aol', got '${String(table.precondition)}'`);
  }
  warnIfUnstable(table);
  return table;
}

/** Row used at step `i` (0-based): the table's row, or its last row past the end. */
export function coefficientsAt(table: CoefficientTable, i: number): QuinticCoefficients {
  return table.rows[Math.min(i, table.rows.length - 1)];
}

// ---------------------------------------------------------------------------------------------------
// Stability of a schedule (spec §8.2)

/** What {@link coefficientStability} finds about one row `p(σ) = aσ + bσ³ + cσ⁵`. */
export interface RowStability {
  /** The row. */
  readonly coefficients: QuinticCoefficients;
  /** `max_{σ∈[0,1]} p(σ)` (spec §8.2: Jordan 1.20237, ROOT 2048×2048 1.22459). */
  readonly maxOnUnit: number;
  /** Where that maximum is reached. */
  readonly argmaxOnUnit: number;
  /**
   * p's repelling fixed point: the largest positive root of `p(σ) = σ` (Jordan 1.26373, ROOT 2048×2048
   * 1.22355); `null` when there is none.
   */
  readonly fixedPoint: number | null;
  /**
   * The largest positive root of `|p(σ)| = σ`: beyond it `|p(σ)| > σ` and repeating the row diverges.
   * For every published row (c > 0, no root of `p(σ) = −σ`) it equals {@link RowStability.fixedPoint};
   * `Infinity` when `|p(σ)| < σ` for all σ > 0, 0 when `|p(σ)| > σ` for all σ > 0.
   */
  readonly escapeRadius: number;
  /**
   * Spec §8.2's test for this row on its own: `maxOnUnit ≥ escapeRadius`, i.e. this row repeated from
   * σ ∈ [0, 1] lets singular values escape. True for ROOT's 2048×2048 row — and, by design, for the first
   * row of the Polar Express tables, whose output the later rows take in (see {@link TableStability.safe}).
   */
  readonly exceedsFixedPoint: boolean;
  /** Bound on the σ this row receives in the table: 1 for the first row, the previous `outputBound` after. */
  readonly inputBound: number;
  /**
   * Bound on the σ it returns: `max |p|` on `[0, inputBound]`; for the last row, which repeats for every
   * step past the end of the table, the bound of the interval it keeps invariant (`Infinity` if none).
   */
  readonly outputBound: number;
}

/** What {@link coefficientStability} finds about a table. */
export interface TableStability {
  /** Per-row analysis, in order. */
  readonly rows: readonly RowStability[];
  /**
   * Whether repeated steps keep every singular value bounded: following the reachable interval
   * `[0, u]` from u = 1 (the input after Frobenius or AOL preconditioning, σ ≤ 1) through the rows, the
   * last row — repeated for every step past the end — keeps an interval `[0, u*]` invariant with
   * `u* < escapeRadius`. For a one-row table (Jordan, ROOT) this is spec §8.2's test
   * `max_{[0,1]} p < fixed point`. Jordan, You, Polar Express and Turbo are safe; ROOT's 2048×2048 row
   * is not.
   */
  readonly safe: boolean;
  /** Indices of rows that let σ escape: the repeated last row when the table is unsafe, else empty. */
  readonly unsafeRows: readonly number[];
}

const p = (r: QuinticCoefficients, x: number): number => {
  const x2 = x * x;
  return x * (r[0] + x2 * (r[1] + r[2] * x2));
};

/** Positive roots y of `α y² + β y + γ = 0` (α may be 0). */
function positiveQuadraticRoots(alpha: number, beta: number, gamma: number): number[] {
  let roots: number[];
  if (alpha === 0) {
    roots = beta === 0 ? [] : [-gamma / beta];
  } else {
    const disc = beta * beta - 4 * alpha * gamma;
    if (disc < 0) return [];
    const sq = Math.sqrt(disc);
    // numerically stable pair
    const q = -0.5 * (beta + (beta >= 0 ? sq : -sq));
    roots = q === 0 ? [0] : [q / alpha, gamma / q];
  }
  return roots.filter((y) => Number.isFinite(y) && y > 0);
}

/** Candidates for the extrema of p on [0, u]: the ends and the critical points inside. */
function extremaOn(r: QuinticCoefficients, u: number): { max: number; argmax: number; maxAbs: number } {
  // p'(σ) = a + 3bσ² + 5cσ⁴ = 0 → 5c y² + 3b y + a = 0 with y = σ².
  const xs = [0, u, ...positiveQuadraticRoots(5 * r[2], 3 * r[1], r[0]).map(Math.sqrt).filter((x) => x < u)];
  let max = -Infinity;
  let argmax = 0;
  let maxAbs = 0;
  for (const x of xs) {
    const v = p(r, x);
    if (v > max) {
      max = v;
      argmax = x;
    }
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  return { max, argmax, maxAbs };
}

function escapeRadius(r: QuinticCoefficients): { fixedPoint: number | null; radius: number } {
  const [a, b, c] = r;
  // p(σ) = ±σ, σ > 0 → c y² + b y + (a ∓ 1) = 0 with y = σ².
  const plus = positiveQuadraticRoots(c, b, a - 1).map(Math.sqrt);
  const minus = positiveQuadraticRoots(c, b, a + 1).map(Math.sqrt);
  const fixedPoint = plus.length > 0 ? Math.max(...plus) : null;
  const all = [...plus, ...minus];
  if (all.length > 0) return { fixedPoint, radius: Math.max(...all) };
  // No crossing: |p(σ)| − σ has one sign on (0, ∞); read it at σ = 1.
  return { fixedPoint, radius: Math.abs(p(r, 1)) < 1 ? Infinity : 0 };
}

/**
 * Whether a coefficient schedule keeps singular values bounded (spec §8.2). For each row
 * `p(σ) = aσ + bσ³ + cσ⁵`: `max_{[0,1]} p`, its repelling fixed point (the largest positive root of
 * `p(σ) = σ`) and spec §8.2's per-row test; for the table: whether the reachable σ stay below the
 * escape radius of the row that repeats (see {@link TableStability.safe}). Everything is closed-form
 * (critical points and fixed points are roots of quadratics in σ²), in float64.
 *
 * Jordan: max 1.20237 < fixed point 1.26373, safe. ROOT 2048×2048: 1.22459 ≥ 1.22355, unsafe — on real
 * matrices its outputs reach σ ≈ 1.26 and, for unlucky inputs, much more.
 *
 * @param table - A preset name, table or rows (as {@link coefficientTable} takes; not reported).
 */
export function coefficientStability(table: CoefficientsOption | CoefficientTable): TableStability {
  const rows =
    typeof table === 'string'
      ? presetTable(table, 'coefficientStability').rows
      : Array.isArray(table)
        ? (table as readonly QuinticCoefficients[])
        : (table as CoefficientTable).rows;
  const out: RowStability[] = [];
  let u = 1;
  let safe = true;
  rows.forEach((r, i) => {
    const unit = extremaOn(r, 1);
    const { fixedPoint, radius } = escapeRadius(r);
    const inputBound = u;
    let outputBound: number;
    if (i < rows.length - 1) {
      outputBound = extremaOn(r, u).maxAbs;
    } else {
      // The last row repeats: grow [0, u] to the smallest interval it keeps invariant, or fail.
      outputBound = Infinity;
      let bound = u;
      for (let it = 0; it < 1000 && bound < radius; it++) {
        const m = extremaOn(r, bound).maxAbs;
        if (m <= bound) {
          outputBound = bound;
          break;
        }
        bound = m;
      }
      if (outputBound === Infinity && bound < radius) outputBound = bound; // creeping towards a bound < radius
      safe = outputBound < radius;
      if (!safe) outputBound = Infinity;
    }
    out.push({
      coefficients: r,
      maxOnUnit: unit.max,
      argmaxOnUnit: unit.argmax,
      fixedPoint,
      escapeRadius: radius,
      exceedsFixedPoint: unit.max >= radius,
      inputBound,
      outputBound,
    });
    u = outputBound;
  });
  return { rows: out, safe, unsafeRows: safe ? [] : [rows.length - 1] };
}

function presetTable(name: string, owner: string): CoefficientTable {
  const t = Object.prototype.hasOwnProperty.call(PRESETS, name) ? PRESETS[name as CoefficientPreset] : undefined;
  if (t === undefined) {
    throw new RangeError(
      `${owner}: coefficients must be one of ${coefficientPresets.map((q) => `'${q}'`).join(', ')} or a table, got '${name}'`,
    );
  }
  return t;
}

let stabilityWarning: (message: string, table: CoefficientTable) => void = (message) => console.warn(message);
const reported = new Set<string>();

/**
 * Sets who hears about unstable coefficient tables (default: `console.warn`). `null` restores the
 * default. Each distinct table (by its rows) is reported once per process; setting a handler also
 * forgets which tables were reported, so the new handler hears about them again.
 */
export function setStabilityWarningHandler(handler: ((message: string, table: CoefficientTable) => void) | null): void {
  stabilityWarning = handler ?? ((message) => console.warn(message));
  reported.clear();
}

function warnIfUnstable(table: CoefficientTable): void {
  const key = JSON.stringify(table.rows);
  if (reported.has(key)) return;
  reported.add(key);
  const st = coefficientStability(table);
  if (st.safe) return;
  const i = st.unsafeRows[0];
  const r = st.rows[i];
  stabilityWarning(
    `orthoptim: Newton–Schulz coefficients '${table.name}' are unstable: row ${i} [${r.coefficients.join(', ')}], ` +
      `repeated on singular values up to ${r.inputBound.toPrecision(6)}, can push them past its escape radius ` +
      `${r.escapeRadius.toPrecision(6)} (max of p on [0, 1]: ${r.maxOnUnit.toPrecision(6)}; repelling fixed point: ` +
      `${r.fixedPoint === null ? 'none' : r.fixedPoint.toPrecision(6)}), spec muon-family.md §8.2.`,
    table,
  );
}
