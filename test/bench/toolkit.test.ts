/**
 * The bench toolkit's one-concern modules (issue 11 item 7): statistics, relative error, inputs, tables
 * with plain-string headers, and the machine description.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { median, quantile, stat, stats } from '../../src/bench/stats.js';
import { relFrobenius, relativeError } from '../../src/bench/relativeError.js';
import { gaussian64, makeInput, seededUniform } from '../../src/bench/inputs.js';
import { formatTable } from '../../src/bench/table.js';
import { machineDetails, machineInfo } from '../../src/bench/machine.js';
import { verdictOf } from '../../src/bench/verdict.js';
import { writeReportFiles } from '../../src/bench/script.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

await useBackend('cpu');

describe('bench toolkit', () => {
  it('median and quantiles interpolate linearly; stats and stat by hand', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.equal(quantile([0, 10, 20, 30, 40], 0.25), 10);
    assert.equal(quantile([0, 10], 0.75), 7.5);
    const s = stats([5, 1, 4, 2, 3]);
    assert.deepEqual({ ...s }, { median: 3, min: 1, max: 5, mean: 3, iqr: 2, n: 5, samples: [5, 1, 4, 2, 3] });
    const t = stat([1, null, 3, NaN, 5]);
    assert.deepEqual(t, { mean: 3, std: 2, min: 1, max: 5, n: 3 }); // sample std of 1, 3, 5
    assert.deepEqual(stat([7]), { mean: 7, std: 0, min: 7, max: 7, n: 1 });
    assert.equal(stat([null]).n, 0);
  });

  it('relative error: max|a−b|/max|b| and ‖a−b‖/‖b‖; a zero reference gives the plain differences; lengths must agree', () => {
    const e = relativeError([1, 2, 2], [1, 2, 4]); // diff (0, 0, −2): max 2 / 4, sqrt(4 / 21)
    assert.equal(e.maxRel, 0.5);
    assert.equal(e.frobenius, Math.sqrt(4 / 21));
    assert.equal(relFrobenius([3, 4], [0, 0]), 5);
    assert.deepEqual(relativeError([0, -3], [0, 0]), { maxRel: 3, frobenius: 3 });
    assert.throws(() => relativeError([1, 2], [1]), (err: unknown) => err instanceof RangeError && /relativeError: 2 values against a reference of 1/.test(err.message));
  });

  it('inputs are seeded: the same seed gives the same numbers, another seed others', async () => {
    const a = makeInput([3, 4], 42);
    const b = makeInput([3, 4], 42);
    const c = makeInput([3, 4], 43);
    assert.deepEqual(a.shape, [3, 4]);
    assert.deepEqual(await a.data(), await b.data());
    assert.notDeepEqual(await a.data(), await c.data());
    tf.dispose([a, b, c]);
    const u = seededUniform(1000, 1);
    assert.deepEqual(u, seededUniform(1000, 1));
    assert.ok(u.every((x) => x >= -1 && x < 1));
    assert.ok(Math.abs(u.reduce((s, x) => s + x, 0) / u.length) < 0.1, 'uniform on [−1, 1): mean near 0');
    const g = gaussian64(20, 50, 3);
    const mean = g.reduce((s, x) => s + x, 0) / g.length;
    const variance = g.reduce((s, x) => s + (x - mean) ** 2, 0) / g.length;
    assert.ok(Math.abs(mean) < 0.1 && Math.abs(variance - 1) < 0.15, `N(0, 1): mean ${mean}, variance ${variance}`);
    assert.deepEqual(gaussian64(20, 50, 3), g);
  });

  it('formatTable takes plain headers (left-aligned) beside Column objects, and escapes | in cells', () => {
    assert.equal(
      formatTable(['what', { header: 'ms', align: 'right' }], [['max|Δ|', '1.5'], ['x', '12']]),
      ['| what     |  ms |', '| :------- | --: |', '| max\\|Δ\\| | 1.5 |', '| x        |  12 |'].join('\n'),
    );
  });

  it('one verdict vocabulary: all checks hold, some, none, or nothing measured', () => {
    assert.equal(verdictOf([true, true]), 'reproduced');
    assert.equal(verdictOf([true, false, true]), 'partly reproduced');
    assert.equal(verdictOf([false]), 'not reproduced');
    assert.equal(verdictOf([]), 'not testable here');
  });

  it('machine: the summary form and the detailed form describe the same machine', async () => {
    const short = machineInfo();
    const long = await machineDetails({ wasm: '4.22.0' });
    assert.equal(short.cores, long.cores);
    assert.equal(short.backend, 'cpu');
    assert.equal(long.backend, 'cpu');
    assert.equal(long.tfjsBackendWasm, '4.22.0');
    assert.equal(long.tfjsLayers, null);
    assert.equal(short.cpu, long.cpuModel.trim());
    assert.equal(long.loadAverage.length, 3);
  });
});

describe('bench script helpers (src/bench/script.ts)', () => {
  it('writeReportFiles writes <name>.md and <name>.json into a new folder and returns it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'orthoptim-script-'));
    try {
      const dir = await writeReportFiles(join(root, 'a', 'b'), 'bench-x', '# report', { ms: [1, 2] });
      assert.equal(dir, join(root, 'a', 'b'));
      assert.equal(readFileSync(join(dir, 'bench-x.md'), 'utf8'), '# report\n');
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'bench-x.json'), 'utf8')), { ms: [1, 2] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runIfMain runs main only for the entry script: help exits 0, a usage error 2, importing runs nothing', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', ...args], { encoding: 'utf8', timeout: 60_000 });
    const help = run('bench/fitTarget.ts', '--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: npm run bench:fit:target/);
    const bad = run('bench/fitTarget.ts', '--steps', '0');
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--steps/);
    const imported = run('-e', "await import('./bench/fitTarget.ts'); console.log('imported')", '--input-type=module');
    assert.equal(imported.status, 0, imported.stderr);
    assert.equal(imported.stdout.trim(), 'imported');
  });
});
