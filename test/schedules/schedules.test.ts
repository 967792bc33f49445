import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
// The exact transformation tfjs-layers applies to an optimizer config when it reloads a saved model.
import { convertPythonicToTs } from '@tensorflow/tfjs-layers/dist/utils/serialization_utils.js';
import {
  asSchedule,
  constant,
  cosine,
  isSchedule,
  join,
  linear,
  linearWarmup,
  scheduleFromSpec,
  scheduleRange,
  warmupCosine,
  wsd,
  type Schedule,
  type ScheduleSpec,
} from '../../src/schedules/index.js';

/** Values agree to 1e-12 relative (closed forms evaluated in a different order may differ by an ulp). */
function close(actual: number, expected: number, what: string): void {
  const tol = 1e-12 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}

/** Checks `schedule` at each `[step, expected]` pair. */
function expectValues(schedule: Schedule, pairs: readonly (readonly [number, number])[]): void {
  for (const [step, expected] of pairs) close(schedule(step), expected, `step ${step}`);
}

/** ½(1 + cos πp), written out independently of the implementation. */
const halfCos = (p: number): number => (1 + Math.cos(Math.PI * p)) / 2;

void describe('constant', () => {
  void it('gives the value at every step', () => {
    const s = constant(0.02);
    for (const step of [0, 1, 7, 1e6]) assert.equal(s(step), 0.02);
    assert.deepEqual(s.spec, { kind: 'constant', value: 0.02 });
  });
});

void describe('linear', () => {
  void it('interpolates init → end over `steps`, then holds end', () => {
    const s = linear({ init: 1, end: 0, steps: 4 });
    expectValues(s, [
      [0, 1],
      [1, 0.75],
      [2, 0.5],
      [3, 0.25],
      [4, 0],
      [5, 0],
      [1000, 0],
    ]);
  });

  void it('works upwards, at fractional steps, and clamps negative steps to step 0', () => {
    const s = linear({ init: 0.1, end: 0.6, steps: 10 });
    expectValues(s, [
      [-3, 0.1],
      [0, 0.1],
      [2.5, 0.1 + 0.5 * 0.25],
      [7, 0.1 + 0.5 * 0.7],
      [10, 0.6],
      [11, 0.6],
    ]);
  });

  void it('with steps = 0 is already at end', () => {
    const s = linear({ init: 1, end: 0.3, steps: 0 });
    expectValues(s, [
      [0, 0.3],
      [5, 0.3],
    ]);
  });
});

void describe('linearWarmup', () => {
  void it('ramps from 0 to peak by default and holds peak', () => {
    const s = linearWarmup({ peak: 2, warmupSteps: 4 });
    expectValues(s, [
      [0, 0],
      [1, 0.5],
      [2, 1],
      [3, 1.5],
      [4, 2],
      [100, 2],
    ]);
    assert.deepEqual(s.spec, { kind: 'linearWarmup', peak: 2, warmupSteps: 4, init: 0 });
  });

  void it('starts from init when given; warmupSteps = 0 gives peak from step 0', () => {
    expectValues(linearWarmup({ peak: 1, warmupSteps: 4, init: 0.2 }), [
      [0, 0.2],
      [1, 0.4],
      [3, 0.8],
      [4, 1],
    ]);
    expectValues(linearWarmup({ peak: 1, warmupSteps: 0, init: 0.2 }), [
      [0, 1],
      [3, 1],
    ]);
  });
});

void describe('cosine', () => {
  void it('decays init → floor along a half cosine, then holds floor', () => {
    const s = cosine({ init: 1, decaySteps: 10, floor: 0.2 });
    expectValues(s, [
      [0, 1],
      [2, 0.2 + 0.8 * halfCos(0.2)],
      [5, 0.6], // half-way: (init + floor) / 2
      [8, 0.2 + 0.8 * halfCos(0.8)],
      [10, 0.2],
      [50, 0.2],
    ]);
    // Point symmetry about the midpoint: v(t) + v(T − t) = init + floor.
    for (const t of [1, 3, 4]) close(s(t) + s(10 - t), 1.2, `symmetry at ${t}`);
  });

  void it('defaults floor to 0, matching optax cosine_decay_schedule(1.0, 100) values', () => {
    const s = cosine({ init: 1, decaySteps: 100 });
    expectValues(s, [
      [0, 1],
      [25, 0.8535533905932737], // ½(1 + cos π/4) = ½ + √2/4
      [50, 0.5],
      [75, 0.14644660940672627], // ½ − √2/4
      [100, 0],
      [101, 0],
    ]);
    assert.deepEqual(s.spec, { kind: 'cosine', init: 1, decaySteps: 100, floor: 0 });
  });
});

void describe('warmupCosine', () => {
  // optax.warmup_cosine_decay_schedule(init_value=0, peak_value=1, warmup_steps=10, decay_steps=110, end_value=0.1)
  const s = warmupCosine({ peak: 1, warmupSteps: 10, decaySteps: 110, end: 0.1 });

  void it('warms up linearly from init (default 0) to peak at warmupSteps', () => {
    expectValues(s, [
      [0, 0],
      [1, 0.1],
      [5, 0.5],
      [9, 0.9],
      [10, 1],
    ]);
  });

  void it('decays over decaySteps − warmupSteps (decaySteps includes the warmup) and holds end', () => {
    expectValues(s, [
      [35, 0.1 + 0.9 * halfCos(0.25)],
      [35, 0.8681980515339464],
      [60, 0.55], // half-way through the decay: (peak + end) / 2
      [85, 0.1 + 0.9 * halfCos(0.75)],
      [110, 0.1],
      [111, 0.1],
      [10_000, 0.1],
    ]);
    assert.deepEqual(s.spec, { kind: 'warmupCosine', peak: 1, warmupSteps: 10, decaySteps: 110, init: 0, end: 0.1 });
  });

  void it('uses init, and with decaySteps = warmupSteps drops to end after the warmup', () => {
    expectValues(warmupCosine({ peak: 1, warmupSteps: 4, decaySteps: 4, init: 0.2, end: 0.05 }), [
      [0, 0.2],
      [2, 0.6],
      [4, 0.05],
      [9, 0.05],
    ]);
  });

  void it('with warmupSteps = 0 is a plain cosine from peak', () => {
    const a = warmupCosine({ peak: 0.5, warmupSteps: 0, decaySteps: 20, end: 0.1 });
    const b = cosine({ init: 0.5, decaySteps: 20, floor: 0.1 });
    for (let t = 0; t <= 25; t++) close(a(t), b(t), `step ${t}`);
  });
});

void describe('wsd', () => {
  // W = 10, S = 20, D = 40: warmup [0, 10), stable [10, 30), cooldown [30, 70), end from 70.
  const base = { peak: 1, warmupSteps: 10, stableSteps: 20, decaySteps: 40, end: 0.1 } as const;

  void it('warms up from init (default 0) and holds peak through the stable phase', () => {
    for (const cooldown of ['linear', 'cosine', 'oneMinusSqrt'] as const) {
      expectValues(wsd({ ...base, cooldown }), [
        [0, 0],
        [5, 0.5],
        [10, 1],
        [20, 1],
        [29, 1],
        [30, 1], // first cooldown step: progress 0
      ]);
    }
  });

  void it('linear cooldown', () => {
    expectValues(wsd({ ...base, cooldown: 'linear' }), [
      [40, 0.1 + 0.9 * 0.75],
      [50, 0.55],
      [69, 0.1 + 0.9 / 40],
      [70, 0.1],
      [500, 0.1],
    ]);
  });

  void it('cosine cooldown', () => {
    expectValues(wsd({ ...base, cooldown: 'cosine' }), [
      [40, 0.1 + 0.9 * halfCos(0.25)],
      [50, 0.55],
      [69, 0.1 + 0.9 * halfCos(39 / 40)],
      [70, 0.1],
      [500, 0.1],
    ]);
  });

  void it('1 − sqrt cooldown (the default, as in the WSD paper and pytorch_optimizer)', () => {
    const s = wsd(base);
    assert.equal(s.spec.kind === 'wsd' && s.spec.cooldown, 'oneMinusSqrt');
    expectValues(s, [
      [40, 0.55], // p = 1/4: 1 − √¼ = ½
      [50, 0.1 + 0.9 * (1 - Math.SQRT1_2)],
      [69, 0.1 + 0.9 * (1 - Math.sqrt(39 / 40))],
      [70, 0.1],
      [500, 0.1],
    ]);
  });

  void it("matches pytorch_optimizer's get_wsd_schedule multipliers when init = end = 0", () => {
    // get_wsd_scheduler_lambda(step, num_warmup_steps=2, num_stable_steps=3, num_decay_steps=4,
    // min_lr_ratio=0, cooldown_type='1-sqrt'), times peak = 1.
    const expected = [0, 0.5, 1, 1, 1, 1, 0.5, 1 - Math.SQRT1_2, 1 - Math.sqrt(0.75), 0, 0];
    const s = wsd({ peak: 1, warmupSteps: 2, stableSteps: 3, decaySteps: 4 });
    expected.forEach((v, t) => close(s(t), v, `step ${t}`));
  });

  void it('handles empty phases: no warmup, no stable phase, no cooldown', () => {
    expectValues(wsd({ peak: 2, warmupSteps: 0, stableSteps: 0, decaySteps: 4, cooldown: 'linear' }), [
      [0, 2],
      [2, 1],
      [4, 0],
    ]);
    expectValues(wsd({ peak: 2, warmupSteps: 2, stableSteps: 2, decaySteps: 0, end: 0.5 }), [
      [1, 1],
      [3, 2],
      [4, 0.5],
      [9, 0.5],
    ]);
  });
});

void describe('join', () => {
  const s = join(
    [linearWarmup({ peak: 1, warmupSteps: 5 }), linear({ init: 2, end: 1, steps: 10 }), cosine({ init: 0.5, decaySteps: 10 })],
    [5, 15],
  );

  void it('switches at each boundary, and schedule i+1 sees step − boundaries[i]', () => {
    expectValues(s, [
      [0, 0],
      [4, 0.8],
      [5, 2], // the second schedule at its own step 0
      [10, 1.5],
      [14, 1.1],
      [15, 0.5], // the third at its step 0
      [20, 0.25],
      [25, 0],
      [1000, 0],
    ]);
  });

  void it('with one schedule and no boundaries is that schedule', () => {
    const one = join([linear({ init: 1, end: 0, steps: 4 })], []);
    expectValues(one, [
      [0, 1],
      [2, 0.5],
      [8, 0],
    ]);
  });

  void it('nests the child specs', () => {
    assert.deepEqual(s.spec, {
      kind: 'join',
      schedules: [
        { kind: 'linearWarmup', peak: 1, warmupSteps: 5, init: 0 },
        { kind: 'linear', init: 2, end: 1, steps: 10 },
        { kind: 'cosine', init: 0.5, decaySteps: 10, floor: 0 },
      ],
      boundaries: [5, 15],
    });
  });
});

void describe('specs', () => {
  const all: Schedule[] = [
    constant(0.3),
    linear({ init: 0.9, end: 0.1, steps: 17 }),
    linearWarmup({ peak: 0.02, warmupSteps: 7, init: 0.001 }),
    cosine({ init: 1, decaySteps: 30, floor: 0.1 }),
    warmupCosine({ peak: 3e-4, warmupSteps: 5, decaySteps: 40, init: 1e-5, end: 3e-5 }),
    wsd({ peak: 0.02, warmupSteps: 5, stableSteps: 10, decaySteps: 20, cooldown: 'linear' }),
    wsd({ peak: 0.02, warmupSteps: 5, stableSteps: 10, decaySteps: 20, cooldown: 'cosine', end: 0.002 }),
    wsd({ peak: 0.02, warmupSteps: 5, stableSteps: 10, decaySteps: 20, init: 0.001, end: 0.002 }),
    join([linearWarmup({ peak: 1, warmupSteps: 3 }), wsd({ peak: 1, warmupSteps: 0, stableSteps: 10, decaySteps: 10 })], [3]),
  ];

  void it('round-trip through JSON with identical values at 50 steps', () => {
    for (const s of all) {
      const rebuilt = scheduleFromSpec(JSON.parse(JSON.stringify(s.spec)) as ScheduleSpec);
      assert.deepEqual(rebuilt.spec, s.spec);
      for (let t = 0; t < 50; t++) assert.equal(rebuilt(t), s(t), `${s.spec.kind} at step ${t}`);
    }
  });

  void it('survive the camelCasing tfjs-layers applies when it reloads an optimizer config', () => {
    for (const s of all) {
      const reloaded = convertPythonicToTs(JSON.parse(JSON.stringify(s.spec))) as unknown as ScheduleSpec;
      assert.deepEqual(reloaded, s.spec);
      const rebuilt = scheduleFromSpec(reloaded);
      for (let t = 0; t < 50; t++) assert.equal(rebuilt(t), s(t));
    }
  });

  void it('are frozen plain data', () => {
    const s = all[all.length - 1];
    assert.ok(Object.isFrozen(s.spec));
    assert.ok(s.spec.kind === 'join' && Object.isFrozen(s.spec.schedules[1]));
    assert.equal(typeof s.spec, 'object');
  });

  void it('isSchedule accepts schedules only', () => {
    for (const s of all) assert.equal(isSchedule(s), true);
    assert.equal(isSchedule((t: number) => t), false);
    assert.equal(isSchedule({ spec: { kind: 'constant', value: 1 } }), false);
    assert.equal(isSchedule(Object.assign(() => 1, { spec: { kind: 'exponential' } })), false);
    assert.equal(isSchedule(0.1), false);
  });
});

void describe('asSchedule', () => {
  void it('wraps a number as a constant and passes a schedule through', () => {
    const c = asSchedule(0.02, 'muon', 'learningRate');
    assert.equal(c(0), 0.02);
    assert.equal(c(123), 0.02);
    assert.deepEqual(c.spec, { kind: 'constant', value: 0.02 });
    const s = cosine({ init: 1, decaySteps: 10 });
    assert.equal(asSchedule(s, 'muon', 'learningRate'), s);
  });

  void it('rejects bad learning rates naming owner and option', () => {
    assert.throws(() => asSchedule(-1, 'muon', 'learningRate'), {
      name: 'RangeError',
      message: 'muon: learningRate must be in [0, inf), got -1',
    });
    assert.throws(() => asSchedule(Infinity, 'adamw', 'lr'), {
      name: 'RangeError',
      message: 'adamw: lr must be in [0, inf), got Infinity',
    });
    assert.throws(() => asSchedule('0.1' as unknown as number, 'muon', 'learningRate'), {
      name: 'RangeError',
      message: "muon: learningRate must be a number in [0, inf) or a Schedule, got '0.1'",
    });
    assert.throws(() => asSchedule(((t: number) => t) as unknown as number, 'muon', 'learningRate'), {
      name: 'RangeError',
      message: 'muon: learningRate must be a number in [0, inf) or a Schedule, got a function without a schedule spec',
    });
  });
});

void describe('asSchedule checks a schedule like a number (issue 10, item 9)', () => {
  const forged = (fn: (t: number) => number, spec: unknown) => Object.assign(fn, { spec }) as unknown as Schedule;

  void it('scheduleRange gives the extremes of every kind', () => {
    assert.deepEqual(scheduleRange(constant(-2).spec), { min: -2, max: -2 });
    assert.deepEqual(scheduleRange(linear({ init: 0.1, end: 0.5, steps: 3 }).spec), { min: 0.1, max: 0.5 });
    assert.deepEqual(scheduleRange(linearWarmup({ peak: 2, warmupSteps: 4 }).spec), { min: 0, max: 2 });
    assert.deepEqual(scheduleRange(cosine({ init: 1, decaySteps: 3, floor: 0.25 }).spec), { min: 0.25, max: 1 });
    assert.deepEqual(
      scheduleRange(warmupCosine({ peak: 3, warmupSteps: 2, decaySteps: 9, init: 1, end: -1 }).spec),
      { min: -1, max: 3 },
    );
    assert.deepEqual(scheduleRange(wsd({ peak: 5, warmupSteps: 1, stableSteps: 1, decaySteps: 1, init: 2, end: 1 }).spec), {
      min: 1,
      max: 5,
    });
    assert.deepEqual(scheduleRange(join([constant(4), linear({ init: 0, end: -3, steps: 2 })], [5]).spec), { min: -3, max: 4 });
  });

  void it('the range holds every value (sampled densely, every kind)', () => {
    for (const s of [
      cosine({ init: 1, decaySteps: 37, floor: 0.1 }),
      wsd({ peak: 0.02, warmupSteps: 5, stableSteps: 10, decaySteps: 20, init: 0.001, end: 0.002 }),
      warmupCosine({ peak: 3e-4, warmupSteps: 5, decaySteps: 40, init: 1e-5, end: 3e-5 }),
    ]) {
      const { min, max } = scheduleRange(s.spec);
      for (let t = 0; t <= 80; t += 0.25) assert.ok(s(t) >= min && s(t) <= max, `${s.spec.kind} at ${t}: ${s(t)}`);
    }
  });

  void it('refuses a schedule that goes below 0, as a negative number is refused', () => {
    assert.throws(() => asSchedule(constant(-0.1), 'sgd', 'learningRate'), {
      name: 'RangeError',
      message: 'sgd: learningRate must be ≥ 0 at every step, but its constant schedule reaches -0.1',
    });
    assert.throws(() => asSchedule(join([constant(0.1), constant(-0.1)], [10]), 'muon', 'learningRate'), {
      name: 'RangeError',
      message: 'muon: learningRate must be ≥ 0 at every step, but its join schedule reaches -0.1',
    });
  });

  void it('applies a bound to numbers and to the whole range of a schedule', () => {
    const bound = { max: 1, explain: (v: number) => `lr must be at most 1, got ${v}` };
    assert.equal(asSchedule(1, 'x', 'lr', bound)(0), 1);
    assert.throws(() => asSchedule(1.5, 'x', 'lr', bound), { name: 'RangeError', message: 'x: lr must be at most 1, got 1.5' });
    assert.throws(() => asSchedule(linear({ init: 0, end: 3, steps: 9 }), 'x', 'lr', bound), {
      name: 'RangeError',
      message: 'x: lr must be at most 1, got 3 (the largest value of its linear schedule)',
    });
  });

  void it('checks a foreign function against its spec, also just before a join boundary', () => {
    const real = join([constant(0.1), constant(0.01)], [777]);
    const wrong = forged((t) => (t < 776 ? 0.1 : 0.01), real.spec);
    assert.throws(() => asSchedule(wrong, 'muon', 'learningRate'), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /^muon: learningRate is a function whose spec does not describe it: at step 776 it gives 0\.01, /);
      return true;
    });
    const same = asSchedule(forged((t) => real(t), real.spec), 'muon', 'learningRate');
    for (const t of [0, 776, 777, 5000]) assert.equal(same(t), real(t));
    assert.deepEqual(same.spec, real.spec);
  });

  void it('checks each value of a foreign function when it is used', () => {
    const lr = asSchedule(forged((t) => (t === 7 ? -1 : 0.5), { kind: 'constant', value: 0.5 }), 'adamw', 'learningRate');
    assert.equal(lr(6), 0.5);
    assert.throws(() => lr(7), {
      name: 'RangeError',
      message: 'adamw: learningRate gave -1 at step 7; a learning rate must be a finite number ≥ 0',
    });
    const bounded = asSchedule(forged((t) => (t === 7 ? 2 : 0.5), { kind: 'constant', value: 0.5 }), 'x', 'lr', {
      max: 1,
      explain: (v: number) => `lr must be at most 1, got ${v}`,
    });
    assert.throws(() => bounded(7), { name: 'RangeError', message: 'x: lr must be at most 1, got 2 (at step 7)' });
  });

  void it('refuses a foreign function whose spec is invalid', () => {
    assert.throws(() => asSchedule(forged(() => 0.1, { kind: 'linear', init: 0.1, end: 0, steps: -3 }), 'muon', 'learningRate'), {
      name: 'RangeError',
      message: 'muon: learningRate carries an invalid schedule spec (linear: steps must be an integer in [0, inf), got -3)',
    });
  });
});

void describe('validation', () => {
  const cases: [string, () => unknown, string][] = [
    ['constant NaN', () => constant(NaN), 'constant: value must be in (-inf, inf), got NaN'],
    ['linear fractional steps', () => linear({ init: 1, end: 0, steps: 2.5 }), 'linear: steps must be an integer in [0, inf), got 2.5'],
    ['linear infinite end', () => linear({ init: 1, end: -Infinity, steps: 2 }), 'linear: end must be in (-inf, inf), got -Infinity'],
    [
      'linearWarmup negative warmup',
      () => linearWarmup({ peak: 1, warmupSteps: -2 }),
      'linearWarmup: warmupSteps must be an integer in [0, inf), got -2',
    ],
    ['cosine missing init', () => cosine({ decaySteps: 3 } as never), 'cosine: init must be in (-inf, inf), got undefined'],
    ['cosine NaN floor', () => cosine({ init: 1, decaySteps: 3, floor: NaN }), 'cosine: floor must be in (-inf, inf), got NaN'],
    [
      'warmupCosine negative warmup',
      () => warmupCosine({ peak: 1, warmupSteps: -1, decaySteps: 10 }),
      'warmupCosine: warmupSteps must be an integer in [0, inf), got -1',
    ],
    [
      'warmupCosine decaySteps < warmupSteps',
      () => warmupCosine({ peak: 1, warmupSteps: 10, decaySteps: 5 }),
      'warmupCosine: decaySteps must be an integer in [10, inf), got 5',
    ],
    [
      'wsd string step count',
      () => wsd({ peak: 1, warmupSteps: 1, stableSteps: '3' as unknown as number, decaySteps: 2 }),
      "wsd: stableSteps must be an integer in [0, inf), got '3'",
    ],
    [
      'wsd snake/dash cooldown',
      () => wsd({ peak: 1, warmupSteps: 1, stableSteps: 1, decaySteps: 2, cooldown: '1-sqrt' as never }),
      "wsd: cooldown must be one of 'linear', 'cosine', 'oneMinusSqrt', got '1-sqrt'",
    ],
    [
      'wsd unknown option',
      () => wsd({ peak: 1, warmupSteps: 1, stableSteps: 1, decaySteps: 2, minLrRatio: 0.1 } as never),
      "wsd: unknown option 'minLrRatio' (known: peak, warmupSteps, stableSteps, decaySteps, cooldown, init, end)",
    ],
    ['linear options missing', () => linear(undefined as never), 'linear: options must be an object, got undefined'],
    ['join empty', () => join([], []), 'join: schedules must be a non-empty list of schedules, got []'],
    [
      'join bare function',
      () => join([(() => 1) as unknown as Schedule], []),
      'join: schedules[0] must be a Schedule, got a function without a schedule spec',
    ],
    [
      'join too many boundaries',
      () => join([constant(1), constant(2)], [3, 4]),
      'join: boundaries must have 1 entry (one fewer than schedules), got [3,4]',
    ],
    [
      'join boundaries not increasing',
      () => join([constant(1), constant(2), constant(3)], [10, 10]),
      'join: boundaries[1] must be an integer in (10, inf), got 10',
    ],
    [
      'join negative boundary',
      () => join([constant(1), constant(2)], [-1]),
      'join: boundaries[0] must be an integer in [0, inf), got -1',
    ],
    [
      'scheduleFromSpec unknown kind',
      () => scheduleFromSpec({ kind: 'exponential', rate: 0.9 } as never),
      "scheduleFromSpec: kind must be one of 'constant', 'linear', 'linearWarmup', 'cosine', 'warmupCosine', 'wsd', 'join', got 'exponential'",
    ],
    [
      'scheduleFromSpec not an object',
      () => scheduleFromSpec(null as never),
      "scheduleFromSpec: spec must be an object with a 'kind', got null",
    ],
    [
      'scheduleFromSpec unknown key',
      () => scheduleFromSpec({ kind: 'constant', value: 1, warmup: 2 } as never),
      "constant: unknown option 'warmup' (known: kind, value)",
    ],
    [
      'scheduleFromSpec nested invalid child',
      () =>
        scheduleFromSpec({
          kind: 'join',
          schedules: [{ kind: 'constant', value: 1 }, { kind: 'cosine', init: 1, decaySteps: -4 }],
          boundaries: [3],
        }),
      'cosine: decaySteps must be an integer in [0, inf), got -4',
    ],
    [
      'scheduleFromSpec join without schedules',
      () => scheduleFromSpec({ kind: 'join', boundaries: [] } as never),
      'join: schedules must be a non-empty list of schedules, got undefined',
    ],
  ];
  for (const [name, make, message] of cases) {
    void it(`${name} throws a RangeError`, () => {
      assert.throws(make, { name: 'RangeError', message });
    });
  }
});
