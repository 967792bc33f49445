import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../support/backend.js';
import { listOptimizers } from '../../src/index.js';
import { listTasks } from '../../src/bench/tasks/index.js';
import { main, optimizerSpecs, type Io } from '../../src/cli/main.js';
import { UsageError, parseArgs, type CommandSpec } from '../../src/cli/args.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs `orthoptim …argv` in-process, capturing both streams. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t), isTTY: false },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

let dir: string;
before(async () => {
  await useBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'orthoptim-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('orthoptim (in-process)', () => {
  it('--help prints the usage and exits 0', async () => {
    const top = await run('--help');
    assert.equal(top.code, 0);
    assert.match(top.stdout, /^Usage: orthoptim <command>/);
    assert.match(top.stdout, /bench/);
    const bench = await run('bench', '--help');
    assert.equal(bench.code, 0);
    assert.match(bench.stdout, /^Usage: orthoptim bench/);
    for (const flag of ['--task', '--optimizers', '--steps', '--batch', '--seed', '--seeds', '--sweep', '--sweep-points', '--sweep-steps', '--target', '--data-dir', '--download', '--backend', '--engine', '--out', '--checkpoint-every', '--fresh', '--lr', '--eval-every']) {
      assert.ok(bench.stdout.includes(flag), `bench --help mentions ${flag}`);
    }
    for (const t of listTasks()) assert.match(bench.stdout, new RegExp(`\\n  ${t.name} +\\S`), `bench --help lists ${t.name}`);
    assert.equal(bench.stderr, '');
  });

  it('no command: usage on stderr, exit 2', async () => {
    const r = await run();
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: orthoptim/);
  });

  it('an unknown flag exits 2 with the usage on stderr', async () => {
    const r = await run('bench', '--stepz', '3');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unknown flag --stepz; did you mean --steps\?/);
    assert.match(r.stderr, /Usage: orthoptim bench/);
  });

  it('an unknown optimizer exits 2 naming the known ones', async () => {
    const r = await run('bench', '--optimizers', 'muon,lion');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown optimizer 'lion'/);
    for (const o of listOptimizers()) assert.ok(r.stderr.includes(o.name), `names ${o.name}`);
  });

  it('malformed values exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--steps', 'abc'], /--steps must be an integer, got 'abc'/],
      [['--steps=1.5'], /--steps must be an integer/],
      [['--steps', '0'], /--steps must be >= 1/],
      [['--batch'], /--batch needs a value/],
      [['--task', 'cifar'], /unknown task 'cifar' \(known: fashion-mnist-mlp, mnist-mlp, synthetic/],
      [['--seeds', '0'], /--seeds must be >= 1/],
      [['--sweep-points', '3'], /--sweep-points and --sweep-steps need --sweep/],
      [['--sweep', '--lr', 'muon=0.1'], /--lr and --sweep exclude each other/],
      [['--engine', 'gpu'], /--engine must be one of auto, tfjs, workers, onnxruntime/],
      [['--target', 'low'], /--target must be a finite number/],
      [['--backend', 'webgl'], /--backend must be one of wasm, cpu/],
      [['--lr', 'muon:0.1'], /--lr entries are NAME=LR/],
      [['--lr', 'muon=-1'], /positive number/],
      [['--lr', 'sgd=0.1'], /not among --optimizers/],
      [['--seed', '1', '--seed', '2'], /--seed is given twice/],
      [['--download=maybe'], /--download is a switch/],
      [['extra'], /unexpected argument 'extra'/],
    ];
    for (const [args, message] of cases) {
      const r = await run('bench', ...args);
      assert.equal(r.code, 2, `${args.join(' ')} → exit 2`);
      assert.match(r.stderr, message);
    }
    assert.equal((await run('frobnicate')).code, 2);
  });

  it('report: a missing argument exits 2, a folder without results exits 1 saying so', async () => {
    const none = await run('report');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /which results folder\?/);
    const empty = await run('report', dir);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no results in/);
    const help = await run('help', 'report');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: orthoptim report RESULTS_DIR/);
  });

  it('list prints every optimizer with its summary and paper', async () => {
    const r = await run('list');
    assert.equal(r.code, 0);
    for (const o of listOptimizers()) {
      assert.ok(r.stdout.includes(o.name) && r.stdout.includes(o.summary) && r.stdout.includes(o.paper));
    }
  });

  it('a runtime error exits 1 with the message, and the stack only with --verbose', async () => {
    const args = ['bench', '--task', 'synthetic', '--steps', '1', '--batch', '100000', '--optimizers', 'adamw'];
    const quiet = await run(...args);
    assert.equal(quiet.code, 1);
    assert.match(quiet.stderr, /orthoptim: error: .*batch 100000 is larger than the training set/);
    assert.doesNotMatch(quiet.stderr, /\n\s+at /);
    const verbose = await run(...args, '--verbose');
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /\n\s+at /);
  });

  it('bench writes the summary and logs under --out/<task>; both optimizers start from the same loss', async () => {
    const out = join(dir, 'nested');
    const r = await run('bench', '--task', 'synthetic', '--steps', '5', '--batch', '16', '--optimizers', 'muon,adamw', '--eval-every', '0', '--engine', 'tfjs', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| optimizer +\| +lr +\| train loss/);
    assert.match(r.stdout, /\| muon +\| +0\.02 \|/);
    assert.match(r.stdout, /\| adamw +\| +0\.001 \|/);
    assert.ok(r.stderr.includes(`results: ${join(out, 'synthetic')}`));
    const json = JSON.parse(readFileSync(join(out, 'synthetic', 'summary.json'), 'utf8'));
    assert.equal(json.format, 'orthoptim-bench/2');
    assert.equal(json.task, 'synthetic');
    assert.equal(json.dataSource, 'synthetic');
    assert.equal(json.backend, 'wasm');
    assert.equal(json.steps, 5);
    assert.equal(json.batch, 16);
    assert.deepEqual(json.seeds, [0]);
    assert.deepEqual(json.command, ['orthoptim', 'bench', '--task', 'synthetic', '--steps', '5', '--batch', '16', '--optimizers', 'muon,adamw', '--eval-every', '0', '--engine', 'tfjs', '--out', out]);
    assert.equal(json.machine.node, process.version);
    assert.deepEqual(json.runs.map((x: { id: string }) => x.id), ['muon-s0', 'adamw-s0']);
    const first: number[] = [];
    for (const run of json.runs) {
      const lines = readFileSync(join(out, 'synthetic', run.log), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const steps = lines.filter((l) => l.type === 'step');
      assert.deepEqual(steps.map((l) => l.step), [1, 2, 3, 4, 5]);
      first.push(steps[0].loss);
      assert.deepEqual(lines.filter((l) => l.type === 'eval').map((l) => l.split), ['validation', 'test']);
      for (const k of ['trainLoss', 'validationLoss', 'testLoss', 'testMetric']) assert.equal(typeof run.final[k], 'number');
    }
    assert.equal(json.runs[0].options.learningRate, 0.02);
    assert.equal(json.runs[1].options.learningRate, 0.001);
    assert.equal(first[0], first[1], 'same init and first batch → same first loss');
    // The report of that folder: pages and plots.
    const rep = await run('report', out, '--no-png');
    assert.equal(rep.code, 0, rep.stderr);
    assert.ok(rep.stdout.includes(join(out, 'report', 'report.html')));
    assert.ok(existsSync(join(out, 'report', 'report.md')));
    assert.ok(existsSync(join(out, 'report', 'plots', 'synthetic-loss-vs-step.svg')));
    // The same command again keeps the finished runs.
    const again = await run('bench', '--task', 'synthetic', '--steps', '5', '--batch', '16', '--optimizers', 'muon,adamw', '--eval-every', '0', '--engine', 'tfjs', '--out', out);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /muon-s0 +finished earlier/);
  });

  it('--lr overrides the learning rates', async () => {
    const out = join(dir, 'lr');
    const r = await run('bench', '--task=synthetic', '--steps=2', '--batch=8', '--optimizers=adamw,sgd', '--lr', 'adamw=0.005,sgd=0.1', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(readFileSync(join(out, 'synthetic', 'summary.json'), 'utf8'));
    assert.equal(json.runs[0].options.learningRate, 0.005);
    assert.equal(json.runs[1].options.learningRate, 0.1);
    assert.equal(json.runs[1].options.momentum, 0.9, 'other bench defaults stay');
  });
});

describe('args', () => {
  const spec = {
    name: 'tool',
    summary: 'A tool.',
    flags: {
      count: { type: 'integer', default: 3, description: 'How many.' },
      rate: { type: 'number', description: 'A rate.' },
      name: { type: 'string', description: 'A name.' },
      loud: { type: 'boolean', description: 'Shout.' },
    },
  } as const satisfies CommandSpec;

  it('parses both forms, fills defaults, and types the values', () => {
    const r = parseArgs(['--count=5', '--rate', '1e-3', '--loud'], spec);
    assert.equal(r.help, false);
    if (r.help) return;
    const count: number = r.flags.count;
    const name: string | undefined = r.flags.name;
    assert.equal(count, 5);
    assert.equal(r.flags.rate, 1e-3);
    assert.equal(name, undefined);
    assert.equal(r.flags.loud, true);
    const d = parseArgs([], spec);
    assert.ok(!d.help && d.flags.count === 3 && d.flags.loud === false);
  });

  it('--help wins over bad flags; after -- everything is positional', () => {
    assert.equal(parseArgs(['--nope', '-h'], spec).help, true);
    assert.throws(() => parseArgs(['--', '--count'], spec), (e: unknown) => e instanceof UsageError && /unexpected argument '--count'/.test(e.message));
  });

  it('usage errors carry the usage text', () => {
    assert.throws(
      () => parseArgs(['--rate', 'fast'], spec),
      (e: unknown) => e instanceof UsageError && /--rate must be a finite number/.test(e.message) && e.usage.includes('--count N'),
    );
  });

  it('optimizerSpecs parses --optimizers and --lr', () => {
    assert.deepEqual(optimizerSpecs('muon,adamw', 'muon=0.05', 'usage'), [{ name: 'muon', options: { learningRate: 0.05 } }, { name: 'adamw' }]);
    assert.throws(() => optimizerSpecs('muon,muon', undefined, 'usage'), /listed twice/);
  });
});

describe('orthoptim (child process)', () => {
  it('runs a tiny benchmark end to end and exits 0', () => {
    const out = join(dir, 'smoke');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--task', 'synthetic', '--steps', '2', '--batch', '8', '--optimizers', 'adamw', '--eval-every', '0', '--engine', 'tfjs', '--out', out],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| adamw +\|/);
    assert.equal(JSON.parse(readFileSync(join(out, 'synthetic', 'summary.json'), 'utf8')).runs[0].id, 'adamw-s0');
  });
});
