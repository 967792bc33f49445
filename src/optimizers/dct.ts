/**
 * DCT-AdamW: AdamW with states of rank r on dynamically selected DCT columns (no SVD).
 * @module
 */
import { chain } from '../core/transform.js';
import { boolean, integer, nonNegative, nullableNumber, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByDctAdam } from '../transforms/dct.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

const schema = {
  /** Learning rate or schedule (default 1e-3; the reference has no default). */
  learningRate: learningRate(1e-3),
  /**
   * DCT columns r kept per matrix, an integer ≥ 1, capped at the matrix's short side (default 128, the
   * rank of the low-rank baselines' LLaMA-60M runs; the reference has no default).
   */
  rank: integer(128, 1),
  /** When set, a fraction in (0, 1]: `r = ⌈rankFraction·n⌉` per matrix with short side n, instead of `rank` (default null). */
  rankFraction: nullableNumber({ min: 0, minInclusive: false, max: 1 }),
  /** Re-select the columns at step 1 and every `updateProjGap` steps, an integer ≥ 1 (default 1: every step). */
  updateProjGap: integer(1, 1),
  /** Rotate the moments into the newly selected columns (default false, as the reference). */
  rotateSubspace: boolean(false),
  /** Error feedback: carry the part of the gradient outside the selected columns to the next step (default false; full-size state). */
  errorFeedback: boolean(false),
  /** Norm scoring the columns of `G·Q`: 1 or 2 (default 1, the reference's `ell_norm`). */
  ellNorm: integer(1, 1, 2),
  /** A matrix with a side of at least this many gets full AdamW, an integer ≥ 1 (default 32000, the reference's `max_shape`). */
  maxShape: integer(32000, 1),
  /** First-moment decay β₁ in [0, 1) (default 0.9). */
  beta1: unit(0.9),
  /** Second-moment decay β₂ in [0, 1) (default 0.999). */
  beta2: unit(0.999),
  /** Added to `√v̂` (default 1e-8). */
  epsilon: positive(1e-8),
  /** Decoupled weight decay λ ≥ 0, times the learning rate (default 0; the reference has no default). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
};

/** Options of {@link dctAdamwDefinition}. */
export interface DctAdamwOptions extends OptionsOf<typeof schema> {}
/** {@link DctAdamwOptions} with every default filled in. */
export interface ResolvedDctAdamw extends ResolvedOf<typeof schema> {}

/**
 * DCT-AdamW (Modoranu et al., "FFT-based Dynamic Subspace Selection for Low-Rank Adaptive Optimization of
 * Large Language Models", arXiv 2505.17967), as IST-DASLab/ISTA-DASLab-Optimizers
 * `ista_daslab_optimizers/fft_low_rank/dct_adamw.py` `DCTAdamW` (`proj = 'dct'`, `sim_type = 'matmul'`):
 * `W ← W(1 − ηλ) − η·Adam(G·Q[:, idx])·Q[:, idx]ᵀ`, the columns idx of the orthonormal DCT-II basis Q chosen
 * by the ℓ1 norms of `G·Q` every `updateProjGap` steps — see `scaleByDctAdam`. 1-D parameters, conv kernels
 * and matrices with a side ≥ maxShape get AdamW. State per m×n matrix (short side n, long side N):
 * 2·N·r + r floats (+ m·n with error feedback), against AdamW's 2·m·n.
 */
export const dctAdamwDefinition: OptimizerDefinition<DctAdamwOptions, ResolvedDctAdamw> = recipe({
  name: 'dctAdamw',
  className: 'orthoptim.DctAdamw',
  summary: 'DCT-AdamW: AdamW on the gradient projected onto its top-r DCT columns (low-rank states, no SVD)',
  paper: 'Modoranu, Safaryan, Schultheis, Ryabinin, Chumachenko, Alistarh, "FFT-based Dynamic Subspace Selection for Low-Rank Adaptive Optimization of Large Language Models" (arXiv 2505.17967)',
  reference: 'IST-DASLab/ISTA-DASLab-Optimizers:ista_daslab_optimizers/fft_low_rank/dct_adamw.py#DCTAdamW',
  schema,
  build: (r) =>
    chain(
      scaleByDctAdam({
        rank: r.rank,
        rankFraction: r.rankFraction,
        updateProjGap: r.updateProjGap,
        rotateSubspace: r.rotateSubspace,
        errorFeedback: r.errorFeedback,
        norm: r.ellNorm as 1 | 2,
        maxShape: r.maxShape,
        beta1: r.beta1,
        beta2: r.beta2,
        epsilon: r.epsilon,
      }),
      addDecayedWeights(r.weightDecay),
      scaleByLearningRate(r.schedule),
    ),
});

/** DCT-AdamW's transform (no tf.Optimizer), validated as {@link dctAdamwDefinition}. */
export const dctAdamwTransform = recipeTransform(dctAdamwDefinition);
