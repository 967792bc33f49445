/**
 * Makes the embedded Fashion-MNIST subset, `data/fashion-mnist-subset/` (see
 * `src/bench/data/fashionSubset.ts` for how the examples are chosen and why the output is
 * byte-reproducible):
 *
 *   npx tsx scripts/make-fashion-subset.ts [--source DIR] [--out DIR] [--seed N] [--train-per-class N] [--test-per-class N]
 *
 * `--source` defaults to the Debian package's directory (`apt-get install dataset-fashion-mnist`:
 * /usr/share/datasets/fashion-mnist), `--out` to data/fashion-mnist-subset, the rest to the committed
 * settings (seed 0, 1,000 train and 200 test images per class). Prints one line per file: name,
 * examples, gz bytes, sha256 of the gz file, IDX bytes, sha256 of the IDX content (the digest the
 * loader pins).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { debianFashionMnistDir } from '../src/bench/data/locate.js';
import { fashionSubsetSettings, makeFashionSubset } from '../src/bench/data/fashionSubset.js';

const { values } = parseArgs({
  options: {
    source: { type: 'string', default: debianFashionMnistDir },
    out: { type: 'string', default: 'data/fashion-mnist-subset' },
    seed: { type: 'string', default: String(fashionSubsetSettings.seed) },
    'train-per-class': { type: 'string', default: String(fashionSubsetSettings.trainPerClass) },
    'test-per-class': { type: 'string', default: String(fashionSubsetSettings.testPerClass) },
  },
  strict: true,
});

function integer(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new RangeError(`make-fashion-subset: --${name} must be a whole number, got '${text}'`);
  return Number(text);
}

try {
  const written = makeFashionSubset({
    source: resolve(values.source),
    out: resolve(values.out),
    seed: integer('seed', values.seed),
    trainPerClass: integer('train-per-class', values['train-per-class']),
    testPerClass: integer('test-per-class', values['test-per-class']),
  });
  for (const f of written) {
    process.stdout.write(`${f.name}\t${f.count}\t${f.gzBytes}\t${f.gzSha256}\t${f.idxBytes}\t${f.idxSha256}\n`);
  }
} catch (e) {
  process.stderr.write(`make-fashion-subset: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
}
