/**
 * `bench:engines` section 3: Gram Newton–Schulz (`form: 'gram'`) against the standard form on the tfjs
 * engine — time, flops of each form, and how far the outputs are apart.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { newtonSchulz, resolveNewtonSchulz } from '../../src/index.js';
import { formatMs, measureRounds, now, repeatsFor, sync, timeOnce } from '../timing.js';
import { makeInput } from '../../src/bench/inputs.js';
import { relativeError } from '../../src/bench/relativeError.js';
import { type GramConfig, type GramResult, type GramShape } from './settings.js';
import { gramFlopsSpec } from './common.js';
import { gramFlops, standardFlops } from '../../src/linalg/flops.js';

/** Section 3. */
export async function runGramSection(config: GramConfig, log: (msg: string) => void = () => {}): Promise<GramResult> {
  const start = now();
  const standard = resolveNewtonSchulz({ coefficients: 'jordan', engine: 'tfjs' });
  const gram = resolveNewtonSchulz({ coefficients: 'jordan', engine: 'tfjs', form: 'gram', gramRestarts: config.restarts });
  const steps = standard.steps;
  const shapes: GramShape[] = [];
  for (let s = 0; s < config.shapes.length; s++) {
    const shapeStart = now();
    const budgetMs = Math.max(0, config.budgetMs - (shapeStart - start)) / (config.shapes.length - s);
    const shape = config.shapes[s];
    const input = makeInput(shape, config.seed);
    try {
      const call = async (ns: typeof standard) => {
        const x = tf.add(input, 0);
        await sync(x);
        const r = await timeOnce(() => newtonSchulz(x, ns));
        x.dispose();
        return r.ms;
      };
      const outS = newtonSchulz(input, standard);
      const outG = newtonSchulz(input, gram);
      const d = relativeError(await outG.data(), await outS.data());
      tf.dispose([outS, outG]);
      let roundIndex = 0;
      const round = async (): Promise<Record<'standard' | 'gram', number>> => {
        if (roundIndex++ % 2 === 0) {
          const a = await call(standard);
          return { standard: a, gram: await call(gram) };
        }
        const g = await call(gram);
        return { gram: g, standard: await call(standard) };
      };
      const m = await measureRounds(round, {
        warmup: Math.max(1, config.warmup),
        repeats: (warm) => repeatsFor(budgetMs - (now() - shapeStart), warm, config.minRepeats, config.maxRepeats),
      });
      const sf = standardFlops(shape[0], shape[1], steps);
      const gf = gramFlops(shape[0], shape[1], steps, config.restarts);
      const r: GramShape = {
        shape,
        k: Math.min(...shape),
        n: Math.max(...shape),
        repeats: m.rounds.length,
        standard: { ms: m.stats.standard, flops: sf, flopsSpec: sf },
        gram: { ms: m.stats.gram, flops: gf, flopsSpec: gramFlopsSpec(shape) },
        timeRatio: m.stats.gram.median / m.stats.standard.median,
        flopRatio: gf / sf,
        maxRelDiff: d.maxRel,
        relFrobenius: d.frobenius,
      };
      shapes.push(r);
      log(`  gram ${shape.join('x')}: standard ${formatMs(r.standard.ms.median)}, gram ${formatMs(r.gram.ms.median)} (×${r.timeRatio.toFixed(2)}; flops ×${r.flopRatio.toFixed(2)})`);
    } finally {
      input.dispose();
    }
  }
  return { restarts: [...config.restarts], steps, shapes, wallMs: now() - start };
}
