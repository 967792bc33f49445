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
 * @module
 */

/** One Newton–Schulz step: `σ ↦ aσ + bσ³ + cσ⁵`. */
export type QuinticCoefficients = readonly [number, number, number];

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
  /** Default `eps` of that normalization. */
  readonly eps: number;
}

/** Names of the built-in tables (single camelCase words so they survive tfjs-layers config reloads). */
export type CoefficientPreset = 'jordan' | 'you' | 'polarExpress5' | 'polarExpress8';

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

const PRESETS: { readonly [K in CoefficientPreset]: CoefficientTable } = {
  jordan: { name: 'jordan', rows: [JORDAN], defaultSteps: 5, normScale: 1, eps: 1e-7 },
  you: { name: 'you', rows: YOU, defaultSteps: 5, normScale: 1, eps: 1e-7 },
  polarExpress5: { name: 'polarExpress5', rows: POLAR_EXPRESS_5, defaultSteps: 5, normScale: 1.02, eps: 1e-6 },
  polarExpress8: { name: 'polarExpress8', rows: POLAR_EXPRESS_8, defaultSteps: 8, normScale: 1.01, eps: 1e-7 },
};

/** All preset names. */
export const coefficientPresets: readonly CoefficientPreset[] = Object.keys(PRESETS) as CoefficientPreset[];

/**
 * A coefficient table: a preset name, a table object, or a user list of rows
 * (`[[a, b, c], …]`, normalized like Jordan's: `‖X‖_F + 1e-7`).
 */
export type CoefficientsOption = CoefficientPreset | CoefficientTable | readonly QuinticCoefficients[];

/** Resolves a coefficients option to a table; throws `RangeError` on an unknown name or a malformed table. */
export function coefficientTable(option: CoefficientsOption, owner = 'newtonSchulz'): CoefficientTable {
  if (typeof option === 'string') {
    const t = PRESETS[option];
    if (t === undefined) {
      throw new RangeError(
        `${owner}: coefficients must be one of ${coefficientPresets.map((p) => `'${p}'`).join(', ')} or a table, got '${String(option)}'`,
      );
    }
    return t;
  }
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
  return table;
}

/** Row used at step `i` (0-based): the table's row, or its last row past the end. */
export function coefficientsAt(table: CoefficientTable, i: number): QuinticCoefficients {
  return table.rows[Math.min(i, table.rows.length - 1)];
}
