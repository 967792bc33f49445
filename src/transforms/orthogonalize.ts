/**
 * The orthogonalizing geometry of Muon and its shape scale factors.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { matrixShape, newtonSchulzAll, type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';

/**
 * Replaces each update by its Newton–Schulz orthogonalization (see {@link newtonSchulz}); tensors of
 * rank ≥ 3 are orthogonalized as their flattened `[fanIn, fanOut]` matrix (a conv kernel
 * `[kh, kw, in, out]` → `[kh·kw·in, out]`, as KellerJordan/Muon flattens `[out, in·kh·kw]`).
 * All matrices of a step are orthogonalized together ({@link newtonSchulzAll}), so a native engine is
 * called once per step. A parameter of rank < 2 is an error: route it elsewhere with `partition`.
 */
export function orthogonalize(ns: ResolvedNewtonSchulz, owner = 'orthogonalize'): GradientTransformation {
  return {
    init: () => null,
    update(updates, state, ctx) {
      updates.forEach((u, i) => {
        if (u.rank < 2) {
          const meta = ctx.metas[i];
          throw new Error(
            `${owner}: parameter '${meta.name}' has shape [${meta.shape.join(', ')}]; orthogonalization needs a matrix ` +
              `(rank >= 2). Route vectors and scalars to AdamW (muon does this by default).`,
          );
        }
      });
      return { updates: newtonSchulzAll(updates, ns), state };
    },
  };
}

/** Shape scale rules (spec §1.3), in fan-in/fan-out terms of the flattened matrix. */
export type ShapeRule = 'jordan' | 'moonlight' | 'spectral' | 'none';

/**
 * How a rank-4 kernel's fan-in/fan-out are read by the `jordan` rule: `'flattened'` (default: from the
 * `[kh·kw·in, out]` matrix) or `'kernel'` — KellerJordan/Muon's reference computes
 * `max(1, grad.size(-2)/grad.size(-1))` on the 4-D PyTorch tensor, i.e. `kh/kw` (a known bug, spec §1.3,
 * ultralytics PR #25846); kept only to replay the reference exactly.
 */
export type ConvScale = 'flattened' | 'kernel';

/** The factor a rule gives a parameter of this shape. */
export function shapeScale(meta: ParamMeta, rule: ShapeRule, options: { rms?: number; convScale?: ConvScale } = {}): number {
  if (rule === 'none' || meta.shape.length < 2) return 1;
  const [fanIn, fanOut] = matrixShape(meta.shape);
  switch (rule) {
    case 'jordan':
      if (options.convScale === 'kernel' && meta.shape.length === 4) {
        return Math.sqrt(Math.max(1, meta.shape[0] / meta.shape[1]));
      }
      return Math.sqrt(Math.max(1, fanOut / fanIn));
    case 'moonlight':
      return (options.rms ?? 0.2) * Math.sqrt(Math.max(fanIn, fanOut));
    case 'spectral':
      return Math.sqrt(fanOut / fanIn);
  }
}

/**
 * Multiplies each update by its shape factor: `jordan` `max(1, fanOut/fanIn)^½` (KellerJordan/Muon),
 * `moonlight` `rms·√max(fanIn, fanOut)` with rms 0.2 (Liu et al., "Muon is Scalable for LLM Training",
 * arXiv 2502.16982: matches AdamW's update RMS), `spectral` `√(fanOut/fanIn)` (microsoft/dion
 * `adjust_lr_spectral_norm`), `none`.
 */
export function scaleByShape(rule: ShapeRule, options: { rms?: number; convScale?: ConvScale } = {}): GradientTransformation {
  if (rule === 'none') return stateless((u) => u);
  return stateless((u, _p, meta) => {
    const s = shapeScale(meta, rule, options);
    return s === 1 ? u : tf.mul(u, s);
  });
}
