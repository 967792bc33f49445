/**
 * Validation of optimizer options, torch.optim style: every option is checked when the optimizer is made,
 * and a bad one throws a `RangeError` that names the optimizer, the option, the allowed range and the
 * value given — e.g. `RangeError: muon: momentum must be in [0, 1), got 1.2`.
 * @module
 */

/** A value as error messages show it: strings quoted, numbers as JS prints them, objects as JSON. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Interval notation used in messages and checks. */
export interface Interval {
  readonly min?: number;
  readonly max?: number;
  /** Whether `min` itself is allowed (default true). */
  readonly minInclusive?: boolean;
  /** Whether `max` itself is allowed (default true). */
  readonly maxInclusive?: boolean;
  /** Only integers allowed. */
  readonly integer?: boolean;
}

function describe(iv: Interval): string {
  const lo = iv.min === undefined ? '(-inf' : `${iv.minInclusive === false ? '(' : '['}${iv.min}`;
  const hi = iv.max === undefined ? 'inf)' : `${iv.max}${iv.maxInclusive === false ? ')' : ']'}`;
  return `${iv.integer ? 'an integer ' : ''}in ${lo}, ${hi}`;
}

/** Throws `RangeError` unless `value` is a finite number inside `iv`. Returns the value. */
export function checkNumber(optimizer: string, option: string, value: unknown, iv: Interval): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!iv.integer || Number.isInteger(value)) &&
    (iv.min === undefined || (iv.minInclusive === false ? value > iv.min : value >= iv.min)) &&
    (iv.max === undefined || (iv.maxInclusive === false ? value < iv.max : value <= iv.max));
  if (!ok) {
    throw new RangeError(`${optimizer}: ${option} must be ${describe(iv)}, got ${showValue(value)}`);
  }
  return value;
}

/** Common intervals. */
export const nonNegative: Interval = { min: 0 };
export const positive: Interval = { min: 0, minInclusive: false };
export const unitOpen: Interval = { min: 0, max: 1, maxInclusive: false };

/** Throws `RangeError` unless `value` is one of `allowed`. */
export function checkChoice<T extends string>(
  optimizer: string,
  option: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(
      `${optimizer}: ${option} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${showValue(value)}`,
    );
  }
  return value as T;
}

/** Throws `RangeError` unless `value` is a boolean. */
export function checkBoolean(optimizer: string, option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new RangeError(`${optimizer}: ${option} must be true or false, got ${showValue(value)}`);
  }
  return value;
}

/**
 * Throws `RangeError` naming every key of `options` that is not in `known`. A key in `renamed` (an old
 * name → its new name) is named with the new one: `norMuon: unknown option 'convRule' (renamed: did you
 * mean 'convScale'?)`.
 */
export function checkKnownKeys(
  optimizer: string,
  options: object,
  known: readonly string[],
  renamed: Readonly<Record<string, string>> = {},
): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  const old = unknown.find((k) => Object.prototype.hasOwnProperty.call(renamed, k));
  if (old !== undefined) {
    throw new RangeError(`${optimizer}: unknown option '${old}' (renamed: did you mean '${renamed[old]}'?)`);
  }
  if (unknown.length > 0) {
    throw new RangeError(
      `${optimizer}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} ` +
        `(known: ${known.join(', ')})`,
    );
  }
}
