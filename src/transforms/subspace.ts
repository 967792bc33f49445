/**
 * Low-rank projected optimizers: GaLore's fixed-gap projector and Online Subspace Descent's online one,
 * sharing one transform — project the gradient onto r directions, run Adam there, project back.
 *
 * Layout. Every rule is written for the flattened TensorFlow.js matrix `G = [fanIn, fanOut]` (a Dense
 * kernel as stored, a conv kernel `[kh, kw, in, out]` → `[kh·kw·in, out]`). The projector `P` (d×r,
 * orthonormal columns when made) sits on the *smaller* side, as GaLore's `proj_type='std'` does on
 * torch's `[out, in]` weight (`shape[0] >= shape[1]` → right projector on `in`): on fan-in when
 * `fanOut ≥ fanIn` (`'rows'`: `R = PᵀG`, r×fanOut; back `P·N`), on fan-out otherwise (`'cols'`:
 * `R = G·P`, fanIn×r; back `N·Pᵀ`). Adam's moments then have the size of R: r × the larger side.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation, ParamMeta, StateTree } from '../core/transform.js';
import { deriveSeed } from '../core/random.js';
import { matrixShape } from '../linalg/newtonSchulz.js';
import { rangeFinder } from '../linalg/rangeFinder.js';
import { saturate } from '../linalg/scale.js';
import { frobeniusNorm } from './auon.js';
import { hostScalar, hostScalars } from './hostScalar.js';

/** Which side of `G = [fanIn, fanOut]` the projector spans: `'rows'` = fan-in, `'cols'` = fan-out. */
export type SubspaceSide = 'rows' | 'cols';

/** How a matrix is laid out for a projected optimizer. */
export interface SubspaceLayout {
  readonly fanIn: number;
  readonly fanOut: number;
  /** The side P spans (the smaller one; fan-in on ties, as GaLore's right projector on a square weight). */
  readonly side: SubspaceSide;
  /** Length of P's side (P is d×r). */
  readonly d: number;
  /** Length of the other side (Adam's moments are r×other or other×r). */
  readonly other: number;
  /** The rank r. */
  readonly rank: number;
}

/** How the rank of each matrix is chosen: `rank`, or `⌈rankFraction·min(fanIn, fanOut)⌉` when set. */
export interface SubspaceRankOptions {
  readonly rank: number;
  readonly rankFraction: number | null;
}

/** The rank of a fanIn×fanOut matrix (may exceed min(fanIn, fanOut): {@link subspaceLayout} refuses it). */
export function subspaceRank(fanIn: number, fanOut: number, o: SubspaceRankOptions): number {
  return o.rankFraction === null ? o.rank : Math.max(1, Math.ceil(o.rankFraction * Math.min(fanIn, fanOut)));
}

/**
 * The layout of a parameter of this shape (rank ≥ 2, flattened to `[fanIn, fanOut]`).
 * @throws RangeError when the shape is not a matrix or the rank exceeds min(fanIn, fanOut).
 */
export function subspaceLayout(shape: readonly number[], o: SubspaceRankOptions, owner = 'subspace', name = 'parameter'): SubspaceLayout {
  if (shape.length < 2) {
    throw new RangeError(`${owner}: parameter '${name}' has shape [${shape.join(', ')}]; a projected optimizer needs a matrix (rank >= 2). Route vectors and scalars to AdamW.`);
  }
  const [fanIn, fanOut] = matrixShape(shape);
  const side: SubspaceSide = fanOut >= fanIn ? 'rows' : 'cols';
  const d = side === 'rows' ? fanIn : fanOut;
  const rank = subspaceRank(fanIn, fanOut, o);
  if (rank > d) {
    throw new RangeError(
      `${owner}: rank ${rank} is more than min(fanIn, fanOut) = ${d} of parameter '${name}' [${shape.join(', ')}]; lower the rank or route it to AdamW`,
    );
  }
  return { fanIn, fanOut, side, d, other: side === 'rows' ? fanOut : fanIn, rank };
}

/** `R`: `PᵀG` (r×fanOut) on the rows side, `G·P` (fanIn×r) on the cols side. Explicit transposes (wasm). */
export function projectToSubspace(g: tf.Tensor2D, p: tf.Tensor2D, side: SubspaceSide): tf.Tensor2D {
  return side === 'rows' ? tf.matMul(tf.transpose(p), g) : tf.matMul(g, p);
}

/** Back to the matrix: `P·N` on the rows side, `N·Pᵀ` on the cols side. */
export function projectFromSubspace(n: tf.Tensor2D, p: tf.Tensor2D, side: SubspaceSide): tf.Tensor2D {
  return side === 'rows' ? tf.matMul(p, n) : tf.matMul(n, tf.transpose(p));
}

/**
 * Online Subspace Descent's projector loss on the normalized gradient `Ĝ = G/‖G‖` (0 for G = 0):
 * `L(P) = ‖PPᵀĜ − Ĝ‖²_F` on the rows side, `‖ĜPPᵀ − Ĝ‖²_F` on the cols side — written directly (the
 * reference's `torch.norm(…) ** 2`), as the oracle of {@link onlinePcaGradient}. Not tidied.
 */
export function onlinePcaLoss(p: tf.Tensor2D, g: tf.Tensor2D, side: SubspaceSide): tf.Scalar {
  const norm = frobeniusNorm(g);
  const gn = tf.div(g, tf.where(tf.greater(norm, 0), norm, tf.onesLike(norm)));
  const pp = tf.matMul(p, tf.transpose(p));
  const e = tf.sub(side === 'rows' ? tf.matMul(pp, gn) : tf.matMul(gn, pp), gn);
  return tf.sum(tf.square(e));
}

/**
 * `∇_P L` of {@link onlinePcaLoss} from the projection `R` (already needed for Adam), in O(d·other·r):
 * with `Ĝ` oriented d×other (`Ĝᵀ` on the cols side) and `E = P·PᵀĜ − Ĝ`, `∇ = 2(E·ĜᵀP + Ĝ·EᵀP)` — the
 * spec's `2·P·(EᵀĜ + ĜᵀE)` in the right-projector layout; checked against `tf.grad`. E is formed
 * explicitly, as the reference's autograd does, so that ∇ is exactly 0 when P spans Ĝ exactly (P = I at
 * r = d): a shorter form through `PᵀĜĜᵀP` leaves rounding noise there, which P's AdamW would normalize
 * into full-size steps. Only thin (·×r) matrices are transposed. Not tidied.
 */
export function onlinePcaGradientFrom(g: tf.Tensor2D, p: tf.Tensor2D, r: tf.Tensor2D, side: SubspaceSide): tf.Tensor2D {
  const norm = frobeniusNorm(g);
  const inv = tf.where(tf.greater(norm, 0), tf.div(1, norm), tf.zerosLike(norm));
  const gn = tf.mul(g, inv) as tf.Tensor2D;
  const rn = tf.mul(r, inv) as tf.Tensor2D;
  if (side === 'rows') {
    // Ĝ d×o, R̂ = PᵀĜ (r×o), E = P·R̂ − Ĝ (d×o); E·ĜᵀP = E·R̂ᵀ; Ĝ·EᵀP = Ĝ·(PᵀE)ᵀ
    const e = tf.sub(tf.matMul(p, rn), gn) as tf.Tensor2D;
    const first = tf.matMul(e, tf.transpose(rn));
    const second = tf.matMul(gn, tf.transpose(tf.matMul(tf.transpose(p), e)));
    return tf.mul(tf.add(first, second), 2) as tf.Tensor2D;
  }
  // Ĝ o×d (the transpose of the d×o orientation), R̂ = ĜP (o×r), Eᵀ = R̂·Pᵀ − Ĝ (o×d);
  // E·(ĜP) = (R̂ᵀ·Eᵀ)ᵀ and Ĝᵀ·(EᵀP) = ((EᵀP)ᵀ·Ĝ)ᵀ
  const et = tf.sub(tf.matMul(rn, tf.transpose(p)), gn) as tf.Tensor2D;
  const first = tf.transpose(tf.matMul(tf.transpose(rn), et));
  const second = tf.transpose(tf.matMul(tf.transpose(tf.matMul(et, p)), gn));
  return tf.mul(tf.add(first, second), 2) as tf.Tensor2D;
}

/** {@link onlinePcaGradientFrom} computing the projection itself. Not tidied. */
export function onlinePcaGradient(p: tf.Tensor2D, g: tf.Tensor2D, side: SubspaceSide): tf.Tensor2D {
  return onlinePcaGradientFrom(g, p, projectToSubspace(g, p, side), side);
}

/** How the projector changes: GaLore's refresh every `updateGap` steps, or OSD's online AdamW step. */
export type ProjectorUpdate = 'refresh' | 'online';

/** P's initial values instead of the range finder's (`shape = [d, r]`, row-major). */
export type InitialProjector = (meta: ParamMeta, shape: readonly [number, number], index: number) => tf.Tensor | ArrayLike<number>;

/** Options of {@link scaleBySubspaceAdam}. */
export interface ScaleBySubspaceAdamOptions extends SubspaceRankOptions {
  /** `'refresh'` (GaLore) or `'online'` (Online Subspace Descent). */
  readonly projector: ProjectorUpdate;
  /** GaLore: steps between refreshes of P (`update_proj_gap`). OSD: only through `projectorLearningRate`. */
  readonly updateGap: number;
  /** The back-projected direction is multiplied by this (GaLore/OSD `scale`). */
  readonly scale: number;
  /** Inner Adam (transformers' AdamW form, which galore_torch copies). */
  readonly beta1: number;
  readonly beta2: number;
  /** Added to `√v` before the bias correction (transformers/GaLore form). */
  readonly epsilon: number;
  /** Range finder (linalg/rangeFinder.ts) in place of the reference's SVD. */
  readonly powerIters: number;
  readonly oversample: number;
  /** Seed of the range finder's probes (an integer in [0, 2²⁴], kept in the state as a float32). */
  readonly seed: number;
  /** OSD: P's AdamW (torch.optim.AdamW; the reference's defaults 0.9, 0.999, 1e-8, 0.01). */
  readonly projectorBeta1?: number;
  readonly projectorBeta2?: number;
  readonly projectorEpsilon?: number;
  readonly projectorWeightDecay?: number;
  /** OSD: P's learning rate at a step (the reference: `(1/updateGap)·(α_t/α_0)`). Default `1/updateGap`. */
  readonly projectorLearningRate?: (step: number) => number;
  /** P at the start instead of the range finder on the first gradient (no refresh at step 0 then). */
  readonly initialProjector?: InitialProjector;
  /** Optimizer name for error messages. */
  readonly owner?: string;
}

/** The largest seed and step count a float32 state slot holds exactly. */
export const SUBSPACE_MAX_SEED = 2 ** 24;

interface SubspaceState {
  count: tf.Scalar;
  seed: tf.Scalar;
  projector: tf.Tensor2D[];
  mu: tf.Tensor2D[];
  nu: tf.Tensor2D[];
  projectorMu?: tf.Tensor2D[];
  projectorNu?: tf.Tensor2D[];
}

/** The user's initial P, checked: `d·r` finite values, as a float32 `[d, r]` tensor. */
function initialProjectorOf(owner: string, fn: InitialProjector, meta: ParamMeta, shape: [number, number], index: number): tf.Tensor2D {
  const got = fn(meta, shape, index);
  const values = got instanceof tf.Tensor ? got.dataSync() : got;
  const n = shape[0] * shape[1];
  if (values === null || typeof values !== 'object' || values.length !== n) {
    throw new RangeError(
      `${owner}: initialProjector('${meta.name}') must give ${n} values (shape [${shape.join(', ')}]), got ${values === null || typeof values !== 'object' ? typeof values : `${values.length}`}`,
    );
  }
  for (let k = 0; k < n; k++) {
    if (!Number.isFinite(values[k])) throw new RangeError(`${owner}: initialProjector('${meta.name}') has a non-finite value at ${k}`);
  }
  return tf.tensor2d(Float32Array.from(values as ArrayLike<number>), shape);
}

/**
 * GaLore (Zhao, Zhang, Chen, Wang, Anandkumar, Tian, "GaLore: Memory-Efficient LLM Training by Gradient
 * Low-Rank Projection", ICML 2024, arXiv 2403.03507; jiaweizzhao/GaLore `galore_torch/adamw.py` and
 * `galore_projector.py`, `proj_type='std'`) and Online Subspace Descent (Liang, Liu, Chen, Liu,
 * "Memory-Efficient LLM Training with Online Subspace Descent", NeurIPS 2024, arXiv 2408.12857;
 * kyleliang919/Online-Subspace-Descent `galore_torch/galore_projector.py` `proj_type='continuous'` and
 * `adamw.py`; spec `seed-methods.md` B4). For each matrix (layout in the module notes), at step t
 * (t = 1, 2, … counted by this transform):
 * ```
 * refresh:  t = 1 or t−1 ≡ 0 (mod updateGap):  P ← rangeFinder(G)           (GaLore; moments kept)
 * online:   t = 1:                             P ← rangeFinder(G)           (OSD)
 * R = PᵀG (or G·P);  m ← β₁m + (1−β₁)R;  v ← β₂v + (1−β₂)R²
 * out = scale · (√(1−β₂ᵗ)/(1−β₁ᵗ)) · P·(m / (√v + ε))    (or (…)·Pᵀ)
 * online, t ≥ 2, after the step:  P ← AdamW_P(P, ∇_P ‖PPᵀĜ − Ĝ‖²),  Ĝ = G/‖G‖, lr_P = projectorLearningRate
 * ```
 * The recipe multiplies `out` by −lr and adds decoupled decay. As in the references, the moments are
 * kept (not rotated) when P changes; OSD's P is updated with the P this step used (the reference's
 * `ortho_matrix_optim.step()` runs in `project_back`), its AdamW skipping the first step (no gradient
 * yet) and counting its own steps from there, with torch AdamW's form (decay `P ← P(1 − lr_P·λ)` first,
 * ε after the bias correction). The reference's SVD is the seeded range finder (q power iterations, p
 * extra probes; probes for matrix i at step t from `mulberry32(deriveSeed(seed, 'subspace/i/t'))`).
 * `initialProjector` replaces the first P (tests, replays: with `P = I` and r = d this is Adam).
 *
 * State: `{ count, seed, projector: [P (d×r)], mu, nu: [Adam moments, the shape of R] }` and, online,
 * `projectorMu, projectorNu` (d×r). Per matrix: `2·r·other + d·r` floats (+ `2·d·r` online), against
 * Adam's `2·d·other`. `count` and `seed` are kept on the host too (./hostScalar.ts): a step reads nothing
 * back for them, except the first step after a restore (one 2-element read).
 */
export function scaleBySubspaceAdam(options: ScaleBySubspaceAdamOptions): GradientTransformation {
  const owner = options.owner ?? 'subspace';
  const { projector: mode, updateGap, scale, beta1, beta2, epsilon, seed } = options;
  const online = mode === 'online';
  const pBeta1 = options.projectorBeta1 ?? 0.9;
  const pBeta2 = options.projectorBeta2 ?? 0.999;
  const pEpsilon = options.projectorEpsilon ?? 1e-8;
  const pDecay = options.projectorWeightDecay ?? 0.01;
  const pLr = options.projectorLearningRate ?? (() => 1 / updateGap);
  const layoutOf = (meta: ParamMeta) => subspaceLayout(meta.shape, options, owner, meta.name);
  let cache: { metas: readonly ParamMeta[]; layouts: SubspaceLayout[] } | undefined;
  const layoutsFor = (metas: readonly ParamMeta[]) => {
    if (cache?.metas !== metas) cache = { metas, layouts: metas.map(layoutOf) };
    return cache.layouts;
  };
  const momentShape = (l: SubspaceLayout): [number, number] => (l.side === 'rows' ? [l.rank, l.other] : [l.other, l.rank]);
  return {
    init(metas) {
      const ls = metas.map(layoutOf);
      const projector = ls.map((l, i) =>
        options.initialProjector
          ? initialProjectorOf(owner, options.initialProjector, metas[i], [l.d, l.rank], i)
          : (tf.zeros([l.d, l.rank]) as tf.Tensor2D),
      );
      const state: { [key: string]: StateTree } = {
        count: hostScalar(0),
        seed: hostScalar(seed),
        projector,
        mu: ls.map((l) => tf.zeros(momentShape(l))),
        nu: ls.map((l) => tf.zeros(momentShape(l))),
      };
      if (online) {
        state.projectorMu = ls.map((l) => tf.zeros([l.d, l.rank]));
        state.projectorNu = ls.map((l) => tf.zeros([l.d, l.rank]));
      }
      return state;
    },
    update(updates, state, ctx) {
      const s = state as unknown as SubspaceState;
      const ls = layoutsFor(ctx.metas);
      const [count, storedSeed] = hostScalars([s.count, s.seed]);
      const t = count + 1;
      const refresh = count === 0 ? options.initialProjector === undefined : !online && count % updateGap === 0;
      const stepSize = (scale * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      const projector: tf.Tensor2D[] = [];
      const mu: tf.Tensor2D[] = [];
      const nu: tf.Tensor2D[] = [];
      const projectorMu: tf.Tensor2D[] = [];
      const projectorNu: tf.Tensor2D[] = [];
      const lrP = online && count > 0 ? pLr(ctx.step) : 0;
      // One tidy per matrix: its temporaries (E, Ĝ, the range finder's) are freed before the next
      // matrix starts, so a step's peak memory is one matrix's worth above the state, not all of them.
      const out = updates.map((update, i) => {
        const l = ls[i];
        const stepP = online && count > 0;
        const kept = tf.tidy(() => {
          const g = tf.reshape(update, [l.fanIn, l.fanOut]) as tf.Tensor2D;
          let p = s.projector[i];
          if (refresh) {
            const oriented = l.side === 'rows' ? g : (tf.transpose(g) as tf.Tensor2D);
            p = rangeFinder(oriented, l.rank, {
              powerIters: options.powerIters,
              oversample: options.oversample,
              seed: deriveSeed(storedSeed, `subspace/${i}/${count}`),
            });
          }
          const r = projectToSubspace(g, p, l.side);
          const m = tf.add(tf.mul(s.mu[i], beta1), tf.mul(r, 1 - beta1));
          // saturated at float32's maximum instead of Inf (linalg/scale.ts `saturate`, as scaleByAdam)
          const v = saturate(tf.add(tf.mul(s.nu[i], beta2), tf.mul(tf.square(r), 1 - beta2)));
          const n = tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon)), stepSize) as tf.Tensor2D;
          const direction = tf.reshape(projectFromSubspace(n, p, l.side), update.shape);
          if (!stepP) return [direction, m, v, p];
          // torch.optim.AdamW on P (step t_P = count: P's optimizer had no gradient at step 1)
          const grad = onlinePcaGradientFrom(g, p, r, l.side);
          const decayed = pDecay > 0 ? tf.mul(p, 1 - lrP * pDecay) : p;
          const pm = tf.add(tf.mul(s.projectorMu![i], pBeta1), tf.mul(grad, 1 - pBeta1));
          const pv = saturate(tf.add(tf.mul(s.projectorNu![i], pBeta2), tf.mul(tf.square(grad), 1 - pBeta2)));
          const bc1 = 1 - pBeta1 ** count;
          const bc2Sqrt = Math.sqrt(1 - pBeta2 ** count);
          const delta = tf.div(tf.div(pm, bc1), tf.add(tf.div(tf.sqrt(pv), bc2Sqrt), pEpsilon));
          return [direction, m, v, tf.sub(decayed, tf.mul(delta, lrP)), pm, pv];
        });
        mu.push(kept[1] as tf.Tensor2D);
        nu.push(kept[2] as tf.Tensor2D);
        projector.push(kept[3] as tf.Tensor2D);
        if (online) {
          projectorMu.push((stepP ? kept[4] : s.projectorMu![i]) as tf.Tensor2D);
          projectorNu.push((stepP ? kept[5] : s.projectorNu![i]) as tf.Tensor2D);
        }
        return kept[0];
      });
      const next: { [key: string]: StateTree } = { count: hostScalar(t), seed: s.seed, projector, mu, nu };
      if (online) {
        next.projectorMu = projectorMu;
        next.projectorNu = projectorNu;
      }
      return { updates: out, state: next };
    },
  };
}

/**
 * Adam in transformers' AdamW form, which galore_torch/adamw.py copies (`denom = √v + ε`, step size
 * `√(1−β₂ᵗ)/(1−β₁ᵗ)`): `out = (√(1−β₂ᵗ)/(1−β₁ᵗ))·m/(√v + ε)` — ε before the bias correction, unlike
 * torch's `m̂/(√v̂ + ε)` ({@link scaleByAdam} in adam.ts). GaLore and OSD run their non-projected
 * parameters (vectors, small matrices) with it. State `{ mu, nu }`; t = `ctx.step + 1`, as scaleByAdam.
 */
export function scaleByAdamTransformersForm(options: { beta1: number; beta2: number; epsilon: number }): GradientTransformation {
  const { beta1, beta2, epsilon } = options;
  return {
    init: (metas) => ({ mu: metas.map((m) => tf.zeros([...m.shape])), nu: metas.map((m) => tf.zeros([...m.shape])) }),
    update(updates, state, ctx) {
      const s = state as { mu: tf.Tensor[]; nu: tf.Tensor[] };
      const t = ctx.step + 1;
      const stepSize = Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t);
      const mu = updates.map((g, i) => tf.add(tf.mul(s.mu[i], beta1), tf.mul(g, 1 - beta1)));
      const nu = updates.map((g, i) => saturate(tf.add(tf.mul(s.nu[i], beta2), tf.mul(tf.square(g), 1 - beta2))));
      const out = mu.map((m, i) => tf.mul(tf.div(m, tf.add(tf.sqrt(nu[i]), epsilon)), stepSize));
      return { updates: out, state: { mu, nu } };
    },
  };
}
