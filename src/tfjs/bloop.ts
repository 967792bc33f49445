/**
 * Bloop and ODICE for custom training loops: a main loss, an auxiliary loss, one gradient each, and the
 * EMA-projected direction to any optimizer (Hsieh et al., "Careful with that Scalpel: Improving Gradient
 * Surgery with an EMA", ICML 2024 — reference apple/ml-bloop `src/bloop/optim.py`, `src/bloop/utils.py`;
 * Mao et al., "ODICE", ICLR 2024 — reference maoliyuan/ODICE-Pytorch `odice.py`
 * `orthogonal_true_g_update`). The math is in `transforms/surgery.ts`.
 *
 * `const s = bloop({lambda: 0.1}); s.step({main, aux}, optimizer)` runs one `tf.variableGrads` per loss
 * (the same variables, as `jacobianDescent`), updates the EMA of the main gradient, and hands
 * `d = g + λ·(a − c·e)` to `optimizer.applyGradients`. The EMA lives in non-trainable variables inside
 * the object (`getWeights`/`setWeights` carry it through a checkpoint) and is written only after the
 * optimizer step succeeded: a step that throws leaves it as it was. A checkpoint holds it too:
 * `serializeCheckpoint(optimizer, file, { surgery })` / `restoreCheckpoint(…, { surgery })` (and
 * `saveCheckpoint` / `loadCheckpoint` of `orthoptim/node`) save and restore the optimizer's state and the
 * surgery's together, so a resumed run takes exactly the steps the uninterrupted one would.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkChoice, checkKnownKeys, checkNumber, nonNegative, positive, showValue } from '../core/options.js';
import {
  GradientEma,
  bloopDirection,
  mixedDirection,
  pcgradDirection,
  type EmaInit,
  type EpsMode,
} from '../transforms/surgery.js';
import { objectiveGradients, type LossFunction, type MissingGradients } from './jacobianDescent.js';
import { isTransformOptimizer, type NamedTensor } from './optimizer.js';

/** Which direction a {@link GradientSurgery} computes (apple/ml-bloop's function names, camelCase). */
export type SurgeryVariant = 'bloop' | 'dynamicBarrier' | 'pcgrad' | 'mixed';

/** Options of {@link bloop} (apple/ml-bloop's names: `ema` is ρ, `lambda` its `lbda`). */
export interface BloopOptions {
  /** ρ in [0, 1], the weight of the new main gradient in the EMA (default 0.1; 1 keeps no memory). */
  readonly ema?: number;
  /** λ ≥ 0, the weight of the auxiliary gradient (default 0.1). */
  readonly lambda?: number;
  /** The guard in the ratio's denominator (default 1e-7). */
  readonly eps?: number;
  /** `'add'` (default): `‖e‖² + eps`; `'max'`: `max(‖e‖², eps)` (ODICE). */
  readonly epsMode?: EpsMode;
  /** The EMA's start: `'grad'` (default, the reference's signature: the first main gradient) or `'zeros'` (its README). */
  readonly init?: EmaInit;
  /**
   * `'bloop'` (default), `'dynamicBarrier'` (the ratio clipped above at 1/λ), `'pcgrad'` (PCGrad with
   * EMAs of both gradients), `'mixed'` (`g + λa`, no surgery).
   */
  readonly variant?: SurgeryVariant;
  /** `d = (1 − λc)·g + λa` (apple/ml-bloop `use_ratio_only`; bloop and dynamicBarrier only). */
  readonly ratioOnly?: boolean;
  /** Scale the direction by `1/(1 + λ)` (default false; see `transforms/surgery.ts` on the reference's quirk). */
  readonly rescale?: boolean;
}

/** The options of a {@link GradientSurgery}, every default filled in. */
export interface ResolvedBloop {
  readonly ema: number;
  readonly lambda: number;
  readonly eps: number;
  readonly epsMode: EpsMode;
  readonly init: EmaInit;
  readonly variant: SurgeryVariant;
  readonly ratioOnly: boolean;
  readonly rescale: boolean;
}

/** The losses of one {@link GradientSurgery.step}. */
export interface SurgeryObjectives {
  readonly main: LossFunction;
  readonly aux: LossFunction;
  /**
   * A third loss whose gradient is added to the direction as it is, not projected (ODICE's
   * `(1 − Λ)·mean V` term). Optional.
   */
  readonly unprojected?: LossFunction;
}

/** Options of {@link GradientSurgery.step}. */
export interface SurgeryStepOptions {
  /** The variables to differentiate (default: every trainable variable). */
  readonly varList?: tf.Variable[];
  /** As `jacobianDescent`: `'error'` (default) or `'zero'` for a variable one loss does not reach. */
  readonly missingGradients?: MissingGradients;
}

/** What one {@link GradientSurgery.step} computed. */
export interface SurgeryStepResult {
  /** The main and auxiliary (and unprojected) losses before the step. */
  readonly losses: { readonly main: number; readonly aux: number; readonly unprojected?: number };
  /** The projection ratio c (for pcgrad: the auxiliary gradient's, clipped at ≤ 0; for mixed: 0). */
  readonly ratio: number;
  /** The variables stepped, in order. */
  readonly variables: readonly string[];
}

/** What {@link GradientSurgery} computes before it writes anything. */
interface Prepared {
  readonly direction: tf.Tensor[];
  readonly ratio: tf.Scalar;
  readonly eMain: tf.Tensor[];
  readonly eAux: tf.Tensor[];
}

const keys = ['ema', 'lambda', 'eps', 'epsMode', 'init', 'variant', 'ratioOnly', 'rescale'];

function resolve(owner: string, o: BloopOptions): ResolvedBloop {
  if (o === null || typeof o !== 'object') throw new TypeError(`${owner}: options must be an object, got ${showValue(o)}`);
  checkKnownKeys(owner, o, keys);
  const r: ResolvedBloop = {
    ema: checkNumber(owner, 'ema', o.ema ?? 0.1, { min: 0, max: 1 }),
    lambda: checkNumber(owner, 'lambda', o.lambda ?? 0.1, nonNegative),
    eps: checkNumber(owner, 'eps', o.eps ?? 1e-7, positive),
    epsMode: checkChoice(owner, 'epsMode', o.epsMode ?? 'add', ['add', 'max'] as const),
    init: checkChoice(owner, 'init', o.init ?? 'grad', ['grad', 'zeros'] as const),
    variant: checkChoice(owner, 'variant', o.variant ?? 'bloop', ['bloop', 'dynamicBarrier', 'pcgrad', 'mixed'] as const),
    ratioOnly: checkBoolean(owner, 'ratioOnly', o.ratioOnly ?? false),
    rescale: checkBoolean(owner, 'rescale', o.rescale ?? false),
  };
  if (r.ratioOnly && (r.variant === 'pcgrad' || r.variant === 'mixed')) {
    throw new RangeError(`${owner}: ratioOnly applies to the bloop and dynamicBarrier variants, got variant '${r.variant}'`);
  }
  if (r.variant === 'dynamicBarrier' && r.lambda === 0) {
    throw new RangeError(`${owner}: the dynamicBarrier variant clips the ratio at 1/lambda and needs lambda > 0, got 0`);
  }
  return r;
}

/**
 * A main/auxiliary gradient surgery with its EMA state: {@link bloop} and {@link odice} make one.
 * `direction` is the tensor-level form (gradients in, direction out, EMA advanced); `step` computes the
 * gradients from two losses and applies the direction with an optimizer.
 */
export class GradientSurgery {
  readonly config: ResolvedBloop;
  private readonly mainEma: GradientEma;
  private readonly auxEma: GradientEma;
  private steps = 0;

  constructor(
    readonly name: string,
    options: BloopOptions,
  ) {
    this.config = resolve(name, options);
    this.mainEma = new GradientEma(name, this.config.init);
    this.auxEma = new GradientEma(name, this.config.init);
  }

  /** How many directions have been committed (steps taken). */
  get iterations(): number {
    return this.steps;
  }

  /**
   * The direction for main gradients `g` and auxiliary gradients `a` (one tensor per parameter, same
   * shapes) and the ratio c; the EMA advances. The caller owns the returned tensors. Throws a `RangeError`
   * before anything is written when the lists or shapes do not match (each other, or the EMA's).
   */
  direction(g: readonly tf.Tensor[], a: readonly tf.Tensor[]): { direction: tf.Tensor[]; ratio: tf.Scalar } {
    const out = this.prepare(g, a);
    this.commit(out);
    return { direction: out.direction, ratio: out.ratio };
  }

  /** The direction, the ratio and the new EMAs (not yet written). */
  private prepare(g: readonly tf.Tensor[], a: readonly tf.Tensor[]): Prepared {
    if (g.length !== a.length) throw new RangeError(`${this.name}: ${g.length} main gradients against ${a.length} auxiliary`);
    g.forEach((gi, i) => {
      if (!tf.util.arraysEqual(gi.shape, a[i].shape)) {
        throw new RangeError(`${this.name}: main gradient ${i} has shape [${gi.shape.join(', ')}], auxiliary [${a[i].shape.join(', ')}]`);
      }
    });
    const c = this.config;
    if (c.variant === 'mixed') return { direction: mixedDirection(g, a, c), ratio: tf.scalar(0), eMain: [], eAux: [] };
    const eMain = this.mainEma.next(g, c.ema);
    let eAux: tf.Tensor[] = [];
    try {
      if (c.variant === 'pcgrad') {
        // apple/ml-bloop init_pcgrad: with init 'grad' the auxiliary EMA also starts from the main gradient.
        eAux = this.auxEma.next(a, c.ema, g);
        return { ...pcgradDirection(g, a, eMain, eAux, c), eMain, eAux };
      }
      const out = bloopDirection(g, a, eMain, {
        lambda: c.lambda,
        eps: c.eps,
        epsMode: c.epsMode,
        ratioOnly: c.ratioOnly,
        rescale: c.rescale,
        ...(c.variant === 'dynamicBarrier' ? { ratioUpperBound: 1 / c.lambda } : {}),
      });
      return { ...out, eMain, eAux };
    } catch (e) {
      tf.dispose([...eMain, ...eAux]);
      throw e;
    }
  }

  /** Writes the new EMAs, counts the step, and frees them. */
  private commit(p: Prepared): void {
    try {
      if (p.eMain.length > 0) this.mainEma.commit(p.eMain);
      if (p.eAux.length > 0) this.auxEma.commit(p.eAux);
      this.steps++;
    } finally {
      tf.dispose([...p.eMain, ...p.eAux]);
    }
  }

  /**
   * One step: gradients of `main` and `aux` (and `unprojected`) over the same variables, the direction
   * (plus the unprojected gradient) to `optimizer.applyGradients` (an orthoptim optimizer also gets the
   * main loss as the step's loss), then the EMA advances. Throws the named errors of `jacobianDescent`
   * (`NonScalarLossError`, `ObjectiveVariablesMismatchError`) before anything is written; if the optimizer
   * throws, the EMA stays as it was.
   */
  step(objectives: SurgeryObjectives, optimizer: tf.Optimizer, options: SurgeryStepOptions = {}): SurgeryStepResult {
    const owner = `${this.name}.step`;
    checkKnownKeys(owner, options, ['varList', 'missingGradients']);
    if (objectives === null || typeof objectives !== 'object' || typeof objectives.main !== 'function' || typeof objectives.aux !== 'function') {
      throw new TypeError(`${owner}: objectives must be {main, aux} loss functions (and optionally unprojected), got ${showValue(objectives)}`);
    }
    const extra = objectives.unprojected;
    if (extra !== undefined && typeof extra !== 'function') {
      throw new TypeError(`${owner}: unprojected must be a loss function, got ${showValue(extra)}`);
    }
    const missing = checkChoice(owner, 'missingGradients', options.missingGradients ?? 'error', ['error', 'zero'] as const);
    const losses = extra === undefined ? [objectives.main, objectives.aux] : [objectives.main, objectives.aux, extra];
    const grads = objectiveGradients(owner, losses, options.varList, missing);
    try {
      const prepared = this.prepare(grads.grads[0], grads.grads[1]);
      const ratio = prepared.ratio.dataSync()[0];
      const step: tf.NamedTensorMap = {};
      try {
        grads.names.forEach((n, k) => {
          step[n] = extra === undefined ? tf.clone(prepared.direction[k]) : tf.add(prepared.direction[k], grads.grads[2][k]);
        });
        if (isTransformOptimizer(optimizer)) optimizer.applyGradients(step, { loss: grads.values[0] });
        else optimizer.applyGradients(step);
      } catch (e) {
        tf.dispose([...prepared.eMain, ...prepared.eAux]);
        throw e;
      } finally {
        tf.dispose([...prepared.direction, prepared.ratio, ...Object.values(step)]);
      }
      this.commit(prepared);
      return {
        losses: { main: grads.values[0], aux: grads.values[1], ...(extra === undefined ? {} : { unprojected: grads.values[2] }) },
        ratio,
        variables: grads.names,
      };
    } finally {
      for (const gs of grads.grads) tf.dispose(gs);
    }
  }

  /**
   * The state as `{name, tensor}` copies (the caller disposes them): `${name}/iterations` (a scalar),
   * then `${name}/emaMain/i` (and `${name}/emaAux/i` for pcgrad), one per parameter position; only the
   * iteration count before the first step.
   */
  getWeights(): NamedTensor[] {
    const out: NamedTensor[] = [{ name: `${this.name}/iterations`, tensor: tf.scalar(this.steps) }];
    this.mainEma.variables?.forEach((v, i) => out.push({ name: `${this.name}/emaMain/${i}`, tensor: tf.clone(v) }));
    this.auxEma.variables?.forEach((v, i) => out.push({ name: `${this.name}/emaAux/${i}`, tensor: tf.clone(v) }));
    return out;
  }

  /**
   * Restores what {@link GradientSurgery.getWeights} returned (the tensors are copied, the caller keeps
   * them). Throws a `RangeError` naming what does not fit (another surgery's names, a missing EMA), and
   * writes nothing then; shapes are checked against the gradients at the next step.
   */
  setWeights(weights: readonly NamedTensor[]): void {
    const { iterations, main, aux } = this.parseWeights(weights, `${this.name}.setWeights`);
    if (main.length > 0) this.mainEma.restore(main.map((w) => w.tensor));
    else this.mainEma.dispose();
    if (aux.length > 0) this.auxEma.restore(aux.map((w) => w.tensor));
    else this.auxEma.dispose();
    this.steps = iterations;
  }

  /**
   * What {@link GradientSurgery.setWeights} checks, without writing anything: throws the same
   * `RangeError` (`owner` names the caller in it) when `weights` do not fit this surgery. A checkpoint
   * restore runs this before it writes the optimizer's state, so that either both are restored or neither.
   */
  checkWeights(weights: readonly NamedTensor[], owner = `${this.name}.setWeights`): void {
    this.parseWeights(weights, owner);
  }

  private parseWeights(weights: readonly NamedTensor[], owner: string): { iterations: number; main: NamedTensor[]; aux: NamedTensor[] } {
    if (!Array.isArray(weights) || weights.length === 0) throw new RangeError(`${owner}: expected a list starting with ${this.name}/iterations, got ${showValue(weights)}`);
    const [head, ...rest] = weights;
    if (head.name !== `${this.name}/iterations` || head.tensor.size !== 1) {
      throw new RangeError(`${owner}: the first entry must be the scalar ${this.name}/iterations, got '${head.name}'`);
    }
    const iterations = head.tensor.dataSync()[0];
    if (!Number.isInteger(iterations) || iterations < 0) throw new RangeError(`${owner}: iterations must be a non-negative integer, got ${iterations}`);
    const main = rest.filter((w) => w.name.startsWith(`${this.name}/emaMain/`));
    const aux = rest.filter((w) => w.name.startsWith(`${this.name}/emaAux/`));
    const unknown = rest.filter((w) => !main.includes(w) && !aux.includes(w));
    if (unknown.length > 0) throw new RangeError(`${owner}: unknown entries ${unknown.map((w) => `'${w.name}'`).join(', ')}`);
    main.forEach((w, i) => {
      if (w.name !== `${this.name}/emaMain/${i}`) throw new RangeError(`${owner}: expected '${this.name}/emaMain/${i}', got '${w.name}'`);
    });
    aux.forEach((w, i) => {
      if (w.name !== `${this.name}/emaAux/${i}`) throw new RangeError(`${owner}: expected '${this.name}/emaAux/${i}', got '${w.name}'`);
    });
    const wantsAux = this.config.variant === 'pcgrad';
    const stateless = this.config.variant === 'mixed';
    if ((main.length === 0) !== (iterations === 0) && !stateless) {
      throw new RangeError(`${owner}: ${iterations} iterations with ${main.length} EMA tensors`);
    }
    if (!stateless && wantsAux && aux.length !== main.length) {
      throw new RangeError(`${owner}: pcgrad needs an auxiliary EMA per main EMA tensor, got ${aux.length} and ${main.length}`);
    }
    if (!wantsAux && aux.length > 0) throw new RangeError(`${owner}: variant '${this.config.variant}' keeps no auxiliary EMA`);
    const bad = [...main, ...aux].find((w) => !(w.tensor instanceof tf.Tensor) || w.tensor.isDisposed || w.tensor.dtype !== 'float32');
    if (bad !== undefined) throw new RangeError(`${owner}: '${bad.name}' must be a live float32 tensor`);
    return { iterations, main, aux };
  }

  /** Frees the EMA variables (the next step starts from `init` again). */
  dispose(): void {
    this.mainEma.dispose();
    this.auxEma.dispose();
  }
}

/**
 * Bloop (apple/ml-bloop): `e ← e + ρ·(g − e)`, `c = ⟨e, a⟩/(‖e‖² + eps)`, `d = g + λ·(a − c·e)` with
 * global dot products, fed to any optimizer; defaults ρ = 0.1, λ = 0.1, eps = 1e-7, init 'grad' (the
 * reference's `init_bloop` signature). Variants: `variant: 'dynamicBarrier' | 'pcgrad' | 'mixed'`,
 * `ratioOnly`.
 *
 * @example
 * const surgery = bloop({ lambda: 0.1 });
 * surgery.step({ main: () => taskLoss(), aux: () => smoothnessLoss() }, adam({ learningRate: 1e-3 }));
 */
export function bloop(options: BloopOptions = {}): GradientSurgery {
  return new GradientSurgery('bloop', options);
}

/** Options of {@link odice}. */
export interface OdiceOptions {
  /** η ≥ 0, the weight of the backward (auxiliary) gradient (ODICE's default 1.0). */
  readonly eta?: number;
}

/**
 * ODICE's orthogonal-gradient update (maoliyuan/ODICE-Pytorch `orthogonal_true_g_update`): with g the
 * forward-residual gradient (main) and a the backward-residual gradient (aux, without η),
 * `c = ⟨g, a⟩ / max(‖g‖², 1e-10)` and `d = g + η·(a − c·g)` — Bloop with ρ = 1 (no EMA), λ = η,
 * `epsMode 'max'`, eps 1e-10. The reference's `(1 − c)·g_f + g_b` with `g_b = η·a` is the same vector.
 * Its Λ (default 0.8) weights the losses, not the surgery: `main = Λ·mean f*(forward residual)`,
 * `aux = Λ·mean f*(backward residual)` and `unprojected = (1 − Λ)·mean V`, which the reference adds
 * without projecting it.
 */
export function odice(options: OdiceOptions = {}): GradientSurgery {
  if (options === null || typeof options !== 'object') throw new TypeError(`odice: options must be an object, got ${showValue(options)}`);
  checkKnownKeys('odice', options, ['eta']);
  const eta = checkNumber('odice', 'eta', options.eta ?? 1, nonNegative);
  return new GradientSurgery('odice', { ema: 1, lambda: eta, eps: 1e-10, epsMode: 'max', init: 'grad' });
}
