/**
 * The gradient-transformation interface (optax style) over an ordered list of named parameters.
 *
 * An optimizer is a short pipeline: `chain(momentum, orthogonalize, scaleByShape, decay, lr)`. Each stage
 * is a pair of pure functions: `init(params) → state` and `update(updates, state, ctx) → {updates, state}`.
 * State is explicit: a tree of tensors that the TensorFlow.js adapter keeps in `tf.Variable`s and assigns
 * once per step, after every stage has run — so a step that throws writes nothing.
 *
 * Parameters are keyed by *position* (the order tfjs-layers hands gradients over), never by variable
 * name: a model reloaded in the same process gets renamed variables (`kernel` → `kernel_1`).
 *
 * Updates follow optax's sign convention: the final updates are *added* to the parameters, so the last
 * stage of a recipe is usually `scaleByLearningRate(lr)`, which multiplies by `-lr`.
 *
 * @module
 */
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';

/** What a transform knows about one parameter: its name (for routing and messages) and its shape. */
export interface ParamMeta {
  /** The variable's name, e.g. `dense_Dense1/kernel`. */
  readonly name: string;
  /** The variable's shape in TensorFlow.js layout (Dense kernel `[fanIn, fanOut]`, Conv2D `[kh, kw, in, out]`). */
  readonly shape: readonly number[];
}

/**
 * A node of optimizer state: a tensor, a missing slot (`null`), or a record / list of nodes.
 * Per-parameter slots are lists aligned with the parameter list the transform was initialised with.
 */
export type StateTree = Tensor | null | StateTree[] | { [key: string]: StateTree };

/** Everything a transform may read during one step besides the incoming updates and its own state. */
export interface StepContext {
  /** Number of steps applied before this one (0 on the first step). */
  readonly step: number;
  /** Current parameter values, aligned with the updates. */
  readonly params: readonly Tensor[];
  /** Names and shapes, aligned with the updates. */
  readonly metas: readonly ParamMeta[];
  /**
   * The current minibatch loss, when the caller supplies one: `minimize(f)` and `model.fit` (which calls
   * `minimize`) do, `applyGradients(grads, { loss })` does when given it; otherwise absent. Only a
   * transform that declares {@link GradientTransformation.needsLoss} reads it. The optimizer hands over a
   * float32 scalar tensor (on the device, never read back); a transform used on its own may get a number.
   */
  readonly loss?: Scalar | number;
  /**
   * The data-parallel ranks this step runs on, when a transform reduces its own gradients (see
   * {@link GradientTransformation.reducesOwnGradients}): `distributed(optimizer, comm)` hands its
   * communicator over here and leaves the claimed parameters' gradients *local* (this rank's batch
   * only); every other update arrives averaged over the ranks. Absent in a single process.
   */
  readonly dataParallel?: DataParallelGroup;
}

/**
 * The collectives a transform may call across data-parallel ranks: the part of linalg's `Communicator`
 * it needs (declared here so that `core` imports nothing above it; every Communicator is one). SPMD:
 * every rank makes the same calls with the same lengths and receives bit-identical results.
 */
export interface DataParallelGroup {
  readonly rank: number;
  readonly size: number;
  /** Element-wise reduction of every rank's `data`; `'mean'` is the sum ÷ size. */
  allReduce(data: Float32Array, op?: 'sum' | 'mean' | 'max'): Float32Array;
}

/** Result of one `update`: the transformed updates and the new state (same tree shape as the old one). */
export interface UpdateResult {
  readonly updates: Tensor[];
  readonly state: StateTree;
}

/**
 * A gradient transformation. `init` creates the state for a parameter list; `update` maps the incoming
 * updates (initially the gradients) to new updates and a new state. Both run inside a `tf.tidy` owned
 * by the caller: transforms allocate freely and never dispose their inputs.
 */
export interface GradientTransformation {
  init(metas: readonly ParamMeta[]): StateTree;
  update(updates: readonly Tensor[], state: StateTree, ctx: StepContext): UpdateResult;
  /**
   * Whether `update` reads `ctx.loss` (the Polyak step sizes do). An optimizer refuses a step that comes
   * without a loss before it computes or writes anything; combinators (`chain`, `partition`, the
   * wrappers) declare it when any transform inside does. Absent means false.
   */
  readonly needsLoss?: boolean;
  /**
   * The data-parallel seam (issue 17 item 4): which of these parameters' gradients this transform
   * reduces across ranks itself, from the *local* gradient, when `ctx.dataParallel` is given — Dion
   * all-reduces its low-rank factors P and R instead of the gradient (microsoft/dion
   * `dion_reference.py`, `compressed_all_reduce`). `distributed()` all-reduces only the others. The
   * answer must be a pure function of the metas (every rank computes the same). Absent: none. `chain`
   * takes its first transform's answer (a later one would see updates an earlier one made from local
   * gradients); `partition` asks each label's transform about its parameters; other combinators and
   * wrappers do not pass it on, so their parameters are averaged as usual — always correct, only
   * without the saving.
   */
  reducesOwnGradients?(metas: readonly ParamMeta[]): boolean[];
}

/** `t`'s {@link GradientTransformation.reducesOwnGradients} answer, or none claimed. */
export function reducedGradients(t: GradientTransformation, metas: readonly ParamMeta[]): boolean[] {
  if (t.reducesOwnGradients === undefined) return metas.map(() => false);
  const claims = t.reducesOwnGradients(metas);
  if (!Array.isArray(claims) || claims.length !== metas.length) {
    throw new Error(`reducesOwnGradients: expected ${metas.length} flags, got ${Array.isArray(claims) ? claims.length : typeof claims}`);
  }
  return claims.map((c) => c === true);
}

/** Whether any of `transforms` reads the loss (see {@link GradientTransformation.needsLoss}). */
export function needsLoss(...transforms: readonly GradientTransformation[]): boolean {
  return transforms.some((t) => t.needsLoss === true);
}

/**
 * Thrown when a loss-aware step gets no loss: `applyGradients(grads)` alone knows only the gradients.
 * Nothing was computed or written.
 */
export class LossRequiredError extends Error {
  constructor(readonly owner: string) {
    super(
      `${owner} needs the loss: use minimize(f) / model.fit, or applyGradients(grads, { loss }) ` +
        `(no parameter or optimizer state was changed)`,
    );
    this.name = 'LossRequiredError';
  }
}

/** The transform that changes nothing and keeps no state. */
export function identity(): GradientTransformation {
  return {
    init: () => null,
    update: (updates, state) => ({ updates: [...updates], state }),
  };
}

/**
 * A transform without state, from a per-parameter function.
 * @param fn maps one update (with its parameter, meta and the step context) to the new update.
 */
export function stateless(
  fn: (update: Tensor, param: Tensor, meta: ParamMeta, ctx: StepContext) => Tensor,
): GradientTransformation {
  return {
    init: () => null,
    update: (updates, state, ctx) => ({
      updates: updates.map((u, i) => fn(u, ctx.params[i], ctx.metas[i], ctx)),
      state,
    }),
  };
}

/** Applies transforms one after another; the state is the list of their states. */
export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  const first = transforms[0];
  return {
    needsLoss: needsLoss(...transforms),
    ...(first?.reducesOwnGradients !== undefined ? { reducesOwnGradients: (metas: readonly ParamMeta[]) => reducedGradients(first, metas) } : {}),
    init: (metas) => transforms.map((t) => t.init(metas)),
    update(updates, state, ctx) {
      const states = state as StateTree[];
      const next: StateTree[] = [];
      let current: readonly Tensor[] = updates;
      transforms.forEach((t, i) => {
        const r = t.update(current, states[i], ctx);
        current = r.updates;
        next.push(r.state);
      });
      return { updates: [...current], state: next };
    },
  };
}

/** How `partition` labels parameters: a function of the meta (and position), or a name → label map. */
export type ParamLabels =
  | ((meta: ParamMeta, index: number) => string)
  | { readonly [name: string]: string };

/** Resolves the label of every parameter; throws when a label has no transform. */
export function resolveLabels(
  labels: ParamLabels,
  metas: readonly ParamMeta[],
  known: readonly string[],
): string[] {
  return metas.map((m, i) => {
    const label = typeof labels === 'function' ? labels(m, i) : labels[m.name];
    if (label === undefined) {
      throw new Error(`partition: no label for parameter '${m.name}' (labels are: ${known.join(', ')})`);
    }
    if (!known.includes(label)) {
      throw new Error(
        `partition: parameter '${m.name}' has label '${label}', which has no transform (known: ${known.join(', ')})`,
      );
    }
    return label;
  });
}

/**
 * Routes each parameter to the transform of its label (optax's `partition`): Muon for hidden matrices,
 * AdamW for the rest, and so on. Each inner transform sees only its own parameters, in order. The state
 * is a record keyed by label. Labels are resolved once, at `init`.
 */
export function partition(
  transforms: { readonly [label: string]: GradientTransformation },
  labels: ParamLabels,
): GradientTransformation {
  const known = Object.keys(transforms);
  // Labels depend only on the metas; cache them per metas list (set at init, reused every step).
  let cache: { metas: readonly ParamMeta[]; groups: Map<string, number[]> } | undefined;
  const groupsFor = (metas: readonly ParamMeta[]): Map<string, number[]> => {
    if (cache?.metas !== metas) {
      const resolved = resolveLabels(labels, metas, known);
      const groups = new Map<string, number[]>();
      for (const label of known) groups.set(label, []);
      resolved.forEach((label, i) => groups.get(label)?.push(i));
      cache = { metas, groups };
    }
    return cache.groups;
  };
  const claiming = Object.values(transforms).some((t) => t.reducesOwnGradients !== undefined);
  return {
    needsLoss: needsLoss(...Object.values(transforms)),
    ...(claiming
      ? {
          reducesOwnGradients(metas: readonly ParamMeta[]) {
            const claims = metas.map(() => false);
            for (const [label, idx] of groupsFor(metas)) {
              reducedGradients(transforms[label], idx.map((i) => metas[i])).forEach((c, j) => (claims[idx[j]] = c));
            }
            return claims;
          },
        }
      : {}),
    init(metas) {
      const groups = groupsFor(metas);
      const state: { [key: string]: StateTree } = {};
      for (const label of known) {
        const idx = groups.get(label) ?? [];
        state[label] = transforms[label].init(idx.map((i) => metas[i]));
      }
      return state;
    },
    update(updates, state, ctx) {
      const groups = groupsFor(ctx.metas);
      const out: Tensor[] = new Array<Tensor>(updates.length);
      const next: { [key: string]: StateTree } = {};
      const states = state as { [key: string]: StateTree };
      for (const label of known) {
        const idx = groups.get(label) ?? [];
        const sub: StepContext = {
          step: ctx.step,
          params: idx.map((i) => ctx.params[i]),
          metas: idx.map((i) => ctx.metas[i]),
          loss: ctx.loss,
          ...(ctx.dataParallel !== undefined ? { dataParallel: ctx.dataParallel } : {}),
        };
        const r = transforms[label].update(
          idx.map((i) => updates[i]),
          states[label],
          sub,
        );
        r.updates.forEach((u, j) => (out[idx[j]] = u));
        next[label] = r.state;
      }
      return { updates: out, state: next };
    },
  };
}
