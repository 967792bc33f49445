/**
 * Learning-rate schedules: pure functions `(step) => value` that also carry a plain-JSON
 * {@link ScheduleSpec}, so an optimizer's config (saved with a tfjs-layers model) can rebuild them with
 * {@link scheduleFromSpec}.
 *
 * `step` is the number of optimizer steps already applied — 0 on the first step — exactly like the
 * `count` optax passes to its schedules. Every schedule holds its last value after its end, and any step
 * below 0 gives the step-0 value. Fractional steps are allowed and follow the same closed forms.
 *
 * Shapes follow optax (`optax/schedules/_schedule.py`: `constant_schedule`, `linear_schedule`,
 * `cosine_decay_schedule`, `warmup_cosine_decay_schedule`, `join_schedules`) and, for warmup–stable–decay,
 * pytorch_optimizer's `get_wsd_schedule` (`pytorch_optimizer/lr_scheduler/wsd.py`) and the WSD paper,
 * "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations" (Hägele et al., 2024).
 *
 * Specs are flat camelCase objects whose string values are single camelCase words, because tfjs-layers
 * camelCases every key and string value of an optimizer config when it reloads a model.
 * @module
 */
import { checkChoice, checkKnownKeys, checkNumber, nonNegative, showValue, type Interval } from '../core/options.js';

/** The cooldown shapes of {@link wsd}: `linear`, `cosine` (half period), and `oneMinusSqrt` (the WSD paper's `1-sqrt`). */
export type WsdCooldown = 'linear' | 'cosine' | 'oneMinusSqrt';

/**
 * The serializable description of a {@link Schedule}: plain JSON, camelCase keys, single-word enum values.
 * {@link scheduleFromSpec} turns it back into the schedule. Specs made by this module have every default
 * filled in, so a saved spec keeps its meaning even if a default changes.
 */
export type ScheduleSpec =
  | { kind: 'constant'; value: number }
  | { kind: 'linear'; init: number; end: number; steps: number }
  | { kind: 'linearWarmup'; peak: number; warmupSteps: number; init?: number }
  | { kind: 'cosine'; init: number; decaySteps: number; floor?: number }
  | { kind: 'warmupCosine'; peak: number; warmupSteps: number; decaySteps: number; init?: number; end?: number }
  | {
      kind: 'wsd';
      peak: number;
      warmupSteps: number;
      stableSteps: number;
      decaySteps: number;
      cooldown?: WsdCooldown;
      init?: number;
      end?: number;
    }
  | { kind: 'join'; schedules: ScheduleSpec[]; boundaries: number[] };

/** A learning-rate schedule: call it with the number of steps already applied; `spec` rebuilds it. */
export interface Schedule {
  (step: number): number;
  /** The plain-JSON description of this schedule (frozen). */
  readonly spec: ScheduleSpec;
}

/** What an optimizer accepts as a learning rate: a fixed number or a {@link Schedule}. */
export type LearningRate = number | Schedule;

/** Options of {@link linear}. */
export interface LinearOptions {
  /** Value at step 0. */
  readonly init: number;
  /** Value at step `steps` and after. */
  readonly end: number;
  /** Length of the transition (non-negative integer). */
  readonly steps: number;
}

/** Options of {@link linearWarmup}. */
export interface LinearWarmupOptions {
  /** Value reached at step `warmupSteps` and held after. */
  readonly peak: number;
  /** Length of the warmup (non-negative integer); 0 means `peak` from step 0. */
  readonly warmupSteps: number;
  /** Value at step 0 (default 0). */
  readonly init?: number;
}

/** Options of {@link cosine}. */
export interface CosineOptions {
  /** Value at step 0. */
  readonly init: number;
  /** Length of the decay (non-negative integer). */
  readonly decaySteps: number;
  /** Value at step `decaySteps` and after (default 0). */
  readonly floor?: number;
}

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** Value at step `warmupSteps`, the top of the schedule. */
  readonly peak: number;
  /** Length of the linear warmup (non-negative integer). */
  readonly warmupSteps: number;
  /** Total length, warmup included, as optax's `decay_steps` (integer ≥ `warmupSteps`). */
  readonly decaySteps: number;
  /** Value at step 0 (default 0). */
  readonly init?: number;
  /** Value at step `decaySteps` and after (default 0). */
  readonly end?: number;
}

/** Options of {@link wsd}. */
export interface WsdOptions {
  /** Value held during the stable phase. */
  readonly peak: number;
  /** Length of the linear warmup (non-negative integer). */
  readonly warmupSteps: number;
  /** Length of the stable phase at `peak` (non-negative integer). */
  readonly stableSteps: number;
  /** Length of the cooldown (non-negative integer). */
  readonly decaySteps: number;
  /** Cooldown shape (default `'oneMinusSqrt'`, the WSD paper's recommendation and pytorch_optimizer's default). */
  readonly cooldown?: WsdCooldown;
  /** Value at step 0 (default 0). */
  readonly init?: number;
  /** Value at the end of the cooldown and after (default 0). */
  readonly end?: number;
}

const KINDS = ['constant', 'linear', 'linearWarmup', 'cosine', 'warmupCosine', 'wsd', 'join'] as const;
const COOLDOWNS: readonly WsdCooldown[] = ['linear', 'cosine', 'oneMinusSqrt'];
const finite: Interval = {};
const stepCount: Interval = { min: 0, integer: true };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The schedules this module made. Their values follow their (validated) spec by construction, so
 * {@link asSchedule} trusts them; any other function carrying a spec is checked against it.
 */
const madeHere = new WeakSet<object>();

function makeSchedule(spec: ScheduleSpec, fn: (step: number) => number): Schedule {
  // Steps below 0 give the step-0 value, as optax's clipping of `count` does.
  const schedule = (step: number): number => fn(step < 0 ? 0 : step);
  Object.defineProperty(schedule, 'spec', { value: deepFreeze(spec), enumerable: true });
  madeHere.add(schedule);
  return schedule as Schedule;
}

/** Options objects must be objects: a clear error instead of a TypeError on `undefined.peak`. */
function checkOptions(owner: string, o: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new RangeError(`${owner}: options must be an object, got ${o === null ? 'null' : typeof o}`);
  }
  checkKnownKeys(owner, o, known);
  return o as Record<string, unknown>;
}

/** Fraction of a transition of length `n` done after `t ≥ 0` steps, at most 1; a zero-length one is done. */
function progress(t: number, n: number): number {
  return n === 0 ? 1 : Math.min(t / n, 1);
}

/** `a + (b - a)·p`, written so that p = 0 gives exactly `a` and p = 1 gives exactly `b`. */
function lerp(a: number, b: number, p: number): number {
  return p === 1 ? b : a + (b - a) * p;
}

/** optax's half-period cosine factor `½(1 + cos πp)`: 1 at p = 0, ½ at p = ½, 0 at p = 1. */
function halfCosine(p: number): number {
  return p === 1 ? 0 : 0.5 * (1 + Math.cos(Math.PI * p));
}

/**
 * The same value at every step (optax `constant_schedule`).
 * @param value - Any finite number.
 */
export function constant(value: number): Schedule {
  checkNumber('constant', 'value', value, finite);
  return makeSchedule({ kind: 'constant', value }, () => value);
}

/**
 * Linear interpolation from `init` to `end` over `steps` steps, then `end` (optax `linear_schedule` with
 * `transition_begin = 0`): value(t) = init + (end − init)·min(max(t, 0), steps)/steps. Step 0 gives
 * `init`, step `steps` and later give `end`. With `steps = 0` every step gives `end` (optax instead
 * returns `init` for a non-positive transition; here a zero-length transition is already over, which
 * is what a zero-length warmup inside {@link join} needs).
 */
export function linear(o: LinearOptions): Schedule {
  const r = checkOptions('linear', o, ['init', 'end', 'steps']);
  const init = checkNumber('linear', 'init', r.init, finite);
  const end = checkNumber('linear', 'end', r.end, finite);
  const steps = checkNumber('linear', 'steps', r.steps, stepCount);
  return makeSchedule({ kind: 'linear', init, end, steps }, (t) => lerp(init, end, progress(t, steps)));
}

/**
 * Linear warmup from `init` (default 0) to `peak` over `warmupSteps` steps, then `peak` forever — the
 * warmup half of optax's `warmup_*` schedules. Step 0 gives `init`, step `warmupSteps` and later give
 * `peak`; `warmupSteps = 0` gives `peak` from step 0.
 */
export function linearWarmup(o: LinearWarmupOptions): Schedule {
  const r = checkOptions('linearWarmup', o, ['peak', 'warmupSteps', 'init']);
  const peak = checkNumber('linearWarmup', 'peak', r.peak, finite);
  const warmupSteps = checkNumber('linearWarmup', 'warmupSteps', r.warmupSteps, stepCount);
  const init = checkNumber('linearWarmup', 'init', r.init ?? 0, finite);
  return makeSchedule({ kind: 'linearWarmup', peak, warmupSteps, init }, (t) =>
    lerp(init, peak, progress(t, warmupSteps)),
  );
}

/**
 * Half-period cosine decay from `init` to `floor` (default 0) over `decaySteps` steps, then `floor`
 * (optax `cosine_decay_schedule` with `alpha = floor/init`, `exponent = 1`):
 * value(t) = floor + (init − floor)·½(1 + cos(π·min(t, decaySteps)/decaySteps)).
 * Step 0 gives `init`, step `decaySteps/2` gives `(init + floor)/2`, step `decaySteps` and later give
 * `floor`. With `decaySteps = 0` every step gives `floor` (optax returns `init` there).
 */
export function cosine(o: CosineOptions): Schedule {
  const r = checkOptions('cosine', o, ['init', 'decaySteps', 'floor']);
  const init = checkNumber('cosine', 'init', r.init, finite);
  const decaySteps = checkNumber('cosine', 'decaySteps', r.decaySteps, stepCount);
  const floor = checkNumber('cosine', 'floor', r.floor ?? 0, finite);
  return makeSchedule({ kind: 'cosine', init, decaySteps, floor }, (t) =>
    lerp(floor, init, halfCosine(progress(t, decaySteps))),
  );
}

/**
 * Linear warmup then cosine decay, with optax's `warmup_cosine_decay_schedule` semantics: `decaySteps`
 * is the total length *including* the warmup.
 * - 0 ≤ t < warmupSteps: init + (peak − init)·t/warmupSteps (step 0 gives `init`, default 0);
 * - warmupSteps ≤ t < decaySteps: end + (peak − end)·½(1 + cos(π(t − warmupSteps)/(decaySteps − warmupSteps)))
 *   (step `warmupSteps` gives `peak`);
 * - t ≥ decaySteps: `end` (default 0).
 *
 * With `decaySteps = warmupSteps` there is no decay: `end` from step `warmupSteps` on (optax holds `peak`).
 */
export function warmupCosine(o: WarmupCosineOptions): Schedule {
  const owner = 'warmupCosine';
  const r = checkOptions(owner, o, ['peak', 'warmupSteps', 'decaySteps', 'init', 'end']);
  const peak = checkNumber(owner, 'peak', r.peak, finite);
  const warmupSteps = checkNumber(owner, 'warmupSteps', r.warmupSteps, stepCount);
  const decaySteps = checkNumber(owner, 'decaySteps', r.decaySteps, { min: warmupSteps, integer: true });
  const init = checkNumber(owner, 'init', r.init ?? 0, finite);
  const end = checkNumber(owner, 'end', r.end ?? 0, finite);
  const decayLength = decaySteps - warmupSteps;
  return makeSchedule({ kind: owner, peak, warmupSteps, decaySteps, init, end }, (t) =>
    t < warmupSteps
      ? lerp(init, peak, progress(t, warmupSteps))
      : lerp(end, peak, halfCosine(progress(t - warmupSteps, decayLength))),
  );
}

/**
 * Warmup–stable–decay (WSD, "trapezoidal"), the schedule of Hägele et al. 2024, "Scaling Laws and
 * Compute-Optimal Training Beyond Fixed Training Durations", with the cooldown shapes of
 * pytorch_optimizer's `get_wsd_schedule`. With W = warmupSteps, S = stableSteps, D = decaySteps:
 * - 0 ≤ t < W: init + (peak − init)·t/W (step 0 gives `init`, default 0);
 * - W ≤ t < W + S: `peak`;
 * - W + S ≤ t < W + S + D, with p = (t − W − S)/D: end + (peak − end)·f(p), where f(p) is `1 − p`
 *   (`linear`), `½(1 + cos πp)` (`cosine`) or `1 − √p` (`oneMinusSqrt`, the default); step W + S gives `peak`;
 * - t ≥ W + S + D: `end` (default 0).
 *
 * pytorch_optimizer's `linear` and `1-sqrt` cooldowns fall to 0 and then jump to `min_lr_ratio`; here
 * every shape ends continuously at `end`. With `end = 0` (and `init = 0`) the two agree.
 */
export function wsd(o: WsdOptions): Schedule {
  const r = checkOptions('wsd', o, ['peak', 'warmupSteps', 'stableSteps', 'decaySteps', 'cooldown', 'init', 'end']);
  const peak = checkNumber('wsd', 'peak', r.peak, finite);
  const warmupSteps = checkNumber('wsd', 'warmupSteps', r.warmupSteps, stepCount);
  const stableSteps = checkNumber('wsd', 'stableSteps', r.stableSteps, stepCount);
  const decaySteps = checkNumber('wsd', 'decaySteps', r.decaySteps, stepCount);
  const cooldown = checkChoice('wsd', 'cooldown', r.cooldown ?? 'oneMinusSqrt', COOLDOWNS);
  const init = checkNumber('wsd', 'init', r.init ?? 0, finite);
  const end = checkNumber('wsd', 'end', r.end ?? 0, finite);
  const shape: (p: number) => number =
    cooldown === 'linear' ? (p) => 1 - p : cooldown === 'cosine' ? halfCosine : (p) => 1 - Math.sqrt(p);
  const decayStart = warmupSteps + stableSteps;
  return makeSchedule(
    { kind: 'wsd', peak, warmupSteps, stableSteps, decaySteps, cooldown, init, end },
    (t) => {
      if (t < warmupSteps) return lerp(init, peak, progress(t, warmupSteps));
      if (t < decayStart) return peak;
      const p = progress(t - decayStart, decaySteps);
      return p === 1 ? end : lerp(end, peak, shape(p));
    },
  );
}

/**
 * Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` on `step − boundaries[0]`, and so on
 * (optax `join_schedules`): for `boundaries[i−1] ≤ t < boundaries[i]`, `value(t) = schedules[i](t − boundaries[i−1])`.
 * At a boundary the next schedule starts from its own step 0; the last one runs forever.
 * @param schedules - At least one schedule.
 * @param boundaries - Strictly increasing non-negative integers, one fewer than `schedules`.
 */
export function join(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  if (!Array.isArray(schedules) || schedules.length === 0) {
    throw new RangeError(`join: schedules must be a non-empty list of schedules, got ${describeValue(schedules)}`);
  }
  schedules.forEach((s, i) => {
    if (!isSchedule(s)) {
      throw new RangeError(`join: schedules[${i}] must be a Schedule, got ${describeValue(s)}`);
    }
  });
  if (!Array.isArray(boundaries) || boundaries.length !== schedules.length - 1) {
    const n = schedules.length - 1;
    throw new RangeError(
      `join: boundaries must have ${n} ${n === 1 ? 'entry' : 'entries'} (one fewer than schedules), ` +
        `got ${describeValue(boundaries)}`,
    );
  }
  boundaries.forEach((b, i) => {
    const iv: Interval = i === 0 ? stepCount : { min: boundaries[i - 1], minInclusive: false, integer: true };
    checkNumber('join', `boundaries[${i}]`, b, iv);
  });
  const parts = [...schedules];
  const starts = [...boundaries];
  const spec: ScheduleSpec = {
    kind: 'join',
    schedules: parts.map((s) => structuredClone(s.spec)),
    boundaries: [...starts],
  };
  return makeSchedule(spec, (t) => {
    let i = 0;
    while (i < starts.length && t >= starts[i]) i++;
    return i === 0 ? parts[0](t) : parts[i](t - starts[i - 1]);
  });
}

function describeValue(x: unknown): string {
  return typeof x === 'function' ? 'a function without a schedule spec' : showValue(x);
}

function specField(spec: Record<string, unknown>): Record<string, unknown> {
  const { kind: _kind, ...rest } = spec;
  return rest;
}

/**
 * Rebuilds a schedule from its spec — the inverse of `schedule.spec`, also after a JSON round trip or a
 * tfjs-layers reload. Validates every field exactly as the constructors do (same `RangeError`s), rejects
 * unknown keys, and throws a `RangeError` naming an unknown `kind`.
 */
export function scheduleFromSpec(spec: ScheduleSpec): Schedule {
  const s: unknown = spec;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) {
    throw new RangeError(`scheduleFromSpec: spec must be an object with a 'kind', got ${describeValue(s)}`);
  }
  const r = s as Record<string, unknown>;
  const kind = checkChoice('scheduleFromSpec', 'kind', r.kind, KINDS);
  switch (kind) {
    case 'constant':
      checkKnownKeys('constant', r, ['kind', 'value']);
      return constant(r.value as number);
    case 'linear':
      return linear(specField(r) as unknown as LinearOptions);
    case 'linearWarmup':
      return linearWarmup(specField(r) as unknown as LinearWarmupOptions);
    case 'cosine':
      return cosine(specField(r) as unknown as CosineOptions);
    case 'warmupCosine':
      return warmupCosine(specField(r) as unknown as WarmupCosineOptions);
    case 'wsd':
      return wsd(specField(r) as unknown as WsdOptions);
    case 'join': {
      checkKnownKeys('join', r, ['kind', 'schedules', 'boundaries']);
      if (!Array.isArray(r.schedules)) {
        throw new RangeError(`join: schedules must be a non-empty list of schedules, got ${describeValue(r.schedules)}`);
      }
      return join(
        r.schedules.map((child: ScheduleSpec) => scheduleFromSpec(child)),
        r.boundaries as number[],
      );
    }
  }
}

/**
 * True for a {@link Schedule}: a function carrying a `spec` object whose `kind` is a known schedule kind.
 * A bare `(step) => number` is not a schedule, because it could not be saved with an optimizer's config.
 */
export function isSchedule(x: unknown): x is Schedule {
  if (typeof x !== 'function') return false;
  const spec: unknown = (x as { spec?: unknown }).spec;
  return (
    typeof spec === 'object' &&
    spec !== null &&
    (KINDS as readonly unknown[]).includes((spec as { kind?: unknown }).kind)
  );
}

/**
 * The smallest and largest value a (validated) spec ever gives. Every kind interpolates between its
 * value parameters with weights in [0, 1] (`lerp`, `½(1 + cos πp)`, `1 − √p`), so the extremes are among
 * them: `value`; `init`, `end`; `init`, `peak`; `init`, `floor`; `init`, `peak`, `end`; a join's children.
 */
export function scheduleRange(spec: ScheduleSpec): { min: number; max: number } {
  const values: number[] = [];
  const visit = (s: ScheduleSpec): void => {
    switch (s.kind) {
      case 'constant':
        values.push(s.value);
        break;
      case 'linear':
        values.push(s.init, s.end);
        break;
      case 'linearWarmup':
        values.push(s.init ?? 0, s.peak);
        break;
      case 'cosine':
        values.push(s.init, s.floor ?? 0);
        break;
      case 'warmupCosine':
      case 'wsd':
        values.push(s.init ?? 0, s.peak, s.end ?? 0);
        break;
      case 'join':
        s.schedules.forEach(visit);
        break;
    }
  };
  visit(spec);
  return { min: Math.min(...values), max: Math.max(...values) };
}

/**
 * An upper bound a learning rate gets from another option — e.g. decoupled weight decay λ, which
 * multiplies the weights by `1 − η·λ` each step, needs `η ≤ 1/λ`.
 */
export interface LearningRateBound {
  /** The largest value allowed. */
  readonly max: number;
  /** The message (after `owner: `) for a value above `max`, naming every option involved. */
  readonly explain: (value: number) => string;
}

/** Steps at which a foreign schedule's function is compared with its spec: the start, and every scale. */
const PROBE_STEPS = [0, 1, 2, 3, 5, 10, 30, 100, 300, 1000, 3000, 1e4, 1e5, 1e6];

/** The step where a join switches schedules, and the step before it (where foreign functions often differ). */
function probeSteps(spec: ScheduleSpec): number[] {
  const steps = new Set(PROBE_STEPS);
  const visit = (s: ScheduleSpec, offset: number): void => {
    if (s.kind !== 'join') {
      const lengths = Object.entries(s)
        .filter(([k]) => k !== 'kind' && /steps$/i.test(k))
        .map(([, v]) => v as number);
      let at = offset;
      for (const n of lengths) {
        steps.add(offset + n).add(offset + Math.floor(n / 2));
        at += n;
      }
      steps.add(at);
      return;
    }
    s.schedules.forEach((child, i) => visit(child, offset + (i === 0 ? 0 : s.boundaries[i - 1])));
    for (const b of s.boundaries) steps.add(offset + b - 1).add(offset + b);
  };
  visit(spec, 0);
  return [...steps].sort((a, b) => a - b);
}

/** Whether two schedule values agree (to 1e-6 relative: a function may compute the same closed form otherwise). */
function agree(a: number, b: number): boolean {
  return typeof a === 'number' && Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Normalizes an optimizer's learning-rate option, checking it the way every other option is checked —
 * when the optimizer is made, naming `owner` and `option`:
 * - a number becomes {@link constant} after checking it is finite and ≥ 0
 *   (`RangeError: muon: learningRate must be in [0, inf), got -1`) and at most `bound.max`;
 * - a {@link Schedule} made by this module is returned as is, after checking that its whole range (see
 *   {@link scheduleRange}) is ≥ 0 and at most `bound.max` — `constant(-0.1)` is refused like `-0.1`;
 * - any other function carrying a spec (a hand-made or foreign schedule) must have a spec that
 *   {@link scheduleFromSpec} accepts, with that range, and give the spec's values (compared at a set of
 *   steps) — a config saved with it rebuilds the spec, so a function that strays from its spec would
 *   train differently after a reload. It is returned wrapped: each value it gives at a step is checked
 *   (finite, ≥ 0, at most `bound.max`), and a bad one throws a `RangeError` naming the step, from inside
 *   the optimizer's step before any parameter or state is written;
 * - anything else throws a `RangeError`.
 * @param owner - The optimizer or transform name used in messages, e.g. `'muon'`.
 * @param option - The option name used in messages, e.g. `'learningRate'`.
 * @param bound - An upper bound from another option (weight decay, a constrained update), if any.
 */
export function asSchedule(lr: LearningRate, owner: string, option: string, bound?: LearningRateBound): Schedule {
  const checkMax = (value: number, where: string): void => {
    if (bound !== undefined && value > bound.max) throw new RangeError(`${owner}: ${bound.explain(value)}${where}`);
  };
  if (typeof lr === 'number') {
    checkNumber(owner, option, lr, nonNegative);
    checkMax(lr, '');
    return constant(lr);
  }
  if (!isSchedule(lr)) {
    throw new RangeError(`${owner}: ${option} must be a number in [0, inf) or a Schedule, got ${describeValue(lr)}`);
  }
  const foreign = !madeHere.has(lr);
  let spec: ScheduleSpec = lr.spec;
  let rebuilt: Schedule | null = null;
  if (foreign) {
    try {
      rebuilt = scheduleFromSpec(spec);
    } catch (e) {
      throw new RangeError(`${owner}: ${option} carries an invalid schedule spec (${(e as Error).message})`, { cause: e });
    }
    spec = rebuilt.spec;
  }
  const range = scheduleRange(spec);
  if (!(range.min >= 0)) {
    throw new RangeError(
      `${owner}: ${option} must be ≥ 0 at every step, but its ${spec.kind} schedule reaches ${range.min}`,
    );
  }
  checkMax(range.max, ` (the largest value of its ${spec.kind} schedule)`);
  if (rebuilt === null) return lr;
  const fn = lr;
  for (const t of probeSteps(spec)) {
    const got = fn(t);
    const want = rebuilt(t);
    if (!agree(got, want)) {
      throw new RangeError(
        `${owner}: ${option} is a function whose spec does not describe it: at step ${t} it gives ` +
          `${describeValue(got)}, its spec ${JSON.stringify(spec)} gives ${want}; make schedules with constant(), ` +
          `linear(), linearWarmup(), cosine(), warmupCosine(), wsd(), join() or scheduleFromSpec()`,
      );
    }
  }
  const checked = (step: number): number => {
    const value = fn(step);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `${owner}: ${option} gave ${describeValue(value)} at step ${step}; a learning rate must be a finite number ≥ 0`,
      );
    }
    checkMax(value, ` (at step ${step})`);
    return value;
  };
  Object.defineProperty(checked, 'spec', { value: fn.spec, enumerable: true });
  return checked as Schedule;
}
