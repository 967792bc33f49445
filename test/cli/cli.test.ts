import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../support/backend.js';
import { listOptimizers } from '../../src/index.js';
import { listTasks } from '../../src/bench/tasks/index.js';
import { main, optimizerSpecs, type Io } from '../../src/cli/main.js';
import { UsageError, commandLine, formatUsage, narrowTo, parseArgs, parseDecimal, usageError, type CommandSpec } from '../../src/cli/args.js';

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

  it('no command: one line naming the commands, exit 2', async () => {
    const r = await run();
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: orthoptim: which command? (bench, report, list, help) (run `orthoptim --help` for more)\n');
  });

  it('an unknown flag exits 2 with one line: what is wrong, did you mean, where the help is', async () => {
    const r = await run('bench', '--stepz', '3');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'error: orthoptim bench: unknown flag --stepz; did you mean --steps? (run `orthoptim bench --help` for more)\n');
  });

  it('every usage error is one line pointing at the right --help, never the whole usage (issue 9 point 8)', async () => {
    const cases: [string[], string][] = [
      [['bench', '--steps', 'abc'], 'orthoptim bench'],
      [['bench', '--task', 'cifar'], 'orthoptim bench'],
      [['bench', '--optimizers', 'muon,lion'], 'orthoptim bench'],
      [['bench', 'extra'], 'orthoptim bench'],
      [['report', '--titel', 'x'], 'orthoptim report'],
      [['report'], 'orthoptim report'],
      [['list', '--all'], 'orthoptim list'],
      [['frobnicate'], 'orthoptim'],
      [['help', 'frobnicate'], 'orthoptim'],
      [[], 'orthoptim'],
    ];
    for (const [args, command] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')} → exit 2`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n');
      assert.equal(lines.length, 2, `${args.join(' ')}: one line, got ${JSON.stringify(r.stderr)}`);
      assert.equal(lines[1], '');
      assert.ok(lines[0].startsWith('error: '), lines[0]);
      assert.ok(lines[0].endsWith(`(run \`${command} --help\` for more)`), lines[0]);
      assert.doesNotMatch(r.stderr, /Usage:|Options:/);
    }
  });

  it('"did you mean" for subcommands, flags, task names, optimizer names and choices', async () => {
    const cases: [string[], RegExp][] = [
      [['bnech'], /unknown command 'bnech' \(known: bench, report, list, help\); did you mean bench\?/],
      [['--verison'], /unknown option --verison \(before a command: --help, --version\); did you mean --version\?/],
      [['help', 'reprot'], /unknown command 'reprot' \(known: bench, report, list\); did you mean report\?/],
      [['bench', '--optimisers', 'muon'], /unknown flag --optimisers; did you mean --optimizers\?/],
      [['bench', '--eval-evry=3'], /unknown flag --eval-evry; did you mean --eval-every\?/],
      [['bench', '-steps', '3'], /unknown option -steps \(flags are written --name\); did you mean --steps\?/],
      [['bench', '--task', 'synthetc'], /unknown task 'synthetc' .*; did you mean synthetic\?/],
      [['bench', '--task', 'Synthetic'], /; did you mean synthetic\?/],
      [['bench', '--task', 'fashion-mnist'], /; did you mean fashion-mnist-mlp\?/],
      [['bench', '--optimizers', 'muon,adamW'], /unknown optimizer 'adamW' .*; did you mean adamw\?/],
      [['bench', '--optimizers', 'muonn'], /unknown optimizer 'muonn' .*; did you mean muon\?/],
      [['bench', '--engine', 'worker'], /--engine must be one of auto, tfjs, workers, onnxruntime, got 'worker'; did you mean workers\?/],
      [['bench', '--lr', 'adamv=0.1'], /--lr names 'adamv', which is not among --optimizers \(muon, adamw\); did you mean adamw\?/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')} → exit 2`);
      assert.match(r.stderr, message, args.join(' '));
    }
    // Nothing close: no guess.
    assert.doesNotMatch((await run('bench', '--task', 'zzzzzz')).stderr, /did you mean/);
  });

  it('numbers are decimal only: 0x10, binary, octal, Infinity, empty and padded values are refused (issue 10 item 15)', async () => {
    const refused: [string[], RegExp][] = [
      [['--lr', 'muon=0x10'], /--lr muon: the learning rate must be a positive decimal number .*got '0x10'/],
      [['--lr', 'muon=0b1'], /got '0b1'/],
      [['--lr', 'muon=1_0'], /got '1_0'/],
      [['--lr', 'muon='], /got ''/],
      [['--lr', 'muon= 5'], /got ' 5'/],
      [['--lr', 'muon=Infinity'], /got 'Infinity'/],
      [['--steps', '0x10'], /--steps must be an integer in decimal digits .*got '0x10'/],
      [['--steps', '0o7'], /--steps must be an integer/],
      [['--steps', ''], /--steps must be an integer .*got ''/],
      [['--steps', ' 5 '], /--steps must be an integer .*got ' 5 '/],
      [['--steps', '1e-3'], /--steps must be an integer/],
      [['--steps', '1e400'], /--steps must be an integer/],
      [['--seed', '0x1'], /--seed must be an integer/],
      [['--target', '0x10'], /--target must be a finite decimal number .*got '0x10'/],
      [['--target', ''], /--target must be a finite decimal number/],
      [['--target', ' 0.5'], /--target must be a finite decimal number/],
      [['--target', 'Infinity'], /--target must be a finite decimal number/],
      [['--target', '1e400'], /--target must be a finite decimal number/],
    ];
    for (const [args, message] of refused) {
      const r = await run('bench', ...args);
      assert.equal(r.code, 2, `${JSON.stringify(args)} → exit 2`);
      assert.match(r.stderr, message, JSON.stringify(args));
    }
    assert.deepEqual(optimizerSpecs('muon,adamw', 'muon=2e-2,adamw=.001', 'usage'), [
      { name: 'muon', options: { learningRate: 0.02 } },
      { name: 'adamw', options: { learningRate: 0.001 } },
    ]);
  });

  it('report: a file is "not a directory", a missing path "does not exist", both exit 2', async () => {
    const file = join(dir, 'a-file.json');
    writeFileSync(file, '{}');
    const onFile = await run('report', file);
    assert.equal(onFile.code, 2);
    assert.equal(onFile.stderr, `error: orthoptim report: ${file} is not a directory (give the folder orthoptim bench --out wrote) (run \`orthoptim report --help\` for more)\n`);
    const missing = await run('report', join(dir, 'no-such-folder'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-folder does not exist/);
  });

  it('an explicit --data-dir that does not exist, or a named task whose data is missing, is one line and exit 2; nothing is written', async () => {
    const out = join(dir, 'no-data');
    const gone = await run('bench', '--task', 'mnist-mlp', '--data-dir', join(dir, 'nowhere'), '--out', out);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /^error: orthoptim bench: --data-dir \S*nowhere does not exist .*\(run `orthoptim bench --help` for more\)\n$/);
    const file = join(dir, 'data-file');
    writeFileSync(file, '');
    assert.match((await run('bench', '--data-dir', file, '--out', out)).stderr, /--data-dir \S*data-file is not a directory/);
    const empty = mkdtempSync(join(dir, 'empty-data-'));
    const r = await run('bench', '--task', 'mnist-mlp', '--data-dir', empty, '--steps', '1', '--optimizers', 'adamw', '--out', out);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0].includes(empty), `names where it looked: ${lines[0]}`);
    assert.match(lines[0], /MNIST.*not found/i);
    assert.match(lines[0], /\(run `orthoptim bench --help` for more\)$/);
    assert.doesNotMatch(r.stderr, /warning:|instead of/, 'no other task runs instead');
    assert.ok(!existsSync(out), 'nothing written');
  });

  it('an unknown optimizer exits 2 naming the known ones', async () => {
    const r = await run('bench', '--optimizers', 'muon,lion');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown optimizer 'lion'/);
    for (const o of listOptimizers()) assert.ok(r.stderr.includes(o.name), `names ${o.name}`);
  });

  it('malformed values exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--steps', 'abc'], /--steps must be an integer in decimal digits \(e\.g\. 300 or 3e2\), got 'abc'/],
      [['--steps=1.5'], /--steps must be an integer/],
      [['--steps', '0'], /--steps must be >= 1/],
      [['--batch'], /--batch needs a value/],
      [['--task', 'cifar'], /unknown task 'cifar' \(known: fashion-mnist-mlp, mnist-mlp, synthetic/],
      [['--seeds', '0'], /--seeds must be >= 1/],
      [['--sweep-points', '3'], /--sweep-points and --sweep-steps need --sweep/],
      [['--sweep', '--lr', 'muon=0.1'], /--lr and --sweep exclude each other/],
      [['--engine', 'gpu'], /--engine must be one of auto, tfjs, workers, onnxruntime/],
      [['--target', 'low'], /--target must be a finite decimal number/],
      [['--backend', 'webgl'], /--backend must be one of wasm, cpu/],
      [['--lr', 'muon:0.1'], /--lr entries are NAME=LR/],
      [['--lr', 'muon=-1'], /positive decimal number .*got '-1'/],
      [['--lr', 'sgd=0.1'], /not among --optimizers/],
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

  it('--lr overrides the learning rates; a flag given twice takes its last value (npm start -- --steps 60)', async () => {
    const out = join(dir, 'lr');
    const r = await run('bench', '--task=synthetic', '--steps=9', '--batch=8', '--optimizers=adamw,sgd', '--lr', 'adamw=0.005,sgd=0.1', '--out', out, '--steps', '2');
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(readFileSync(join(out, 'synthetic', 'summary.json'), 'utf8'));
    assert.equal(json.steps, 2, 'the later --steps wins');
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

  it('usage errors carry the usage text and the command whose --help to point at', () => {
    assert.throws(
      () => parseArgs(['--rate', 'fast'], spec),
      (e: unknown) =>
        e instanceof UsageError && /--rate must be a finite decimal number/.test(e.message) && e.usage.includes('--count N') && e.command === 'tool',
    );
  });

  it('a flag given twice takes its last value, each value still checked', () => {
    const r = parseArgs(['--count', '5', '--rate=1', '--count=7', '--rate', '2'], spec);
    assert.ok(!r.help && r.flags.count === 7 && r.flags.rate === 2);
    assert.throws(() => parseArgs(['--count', 'x', '--count', '7'], spec), /--count must be an integer/);
  });

  it('integers: decimal digits or scientific notation of a whole number; numbers: decimal only', () => {
    const ok: [string[], number | undefined, number | undefined][] = [
      [['--count', '300'], 300, undefined],
      [['--count', '+3'], 3, undefined],
      [['--count', '1e3'], 1000, undefined],
      [['--count', '2.5e1'], 25, undefined],
      [['--rate', '.5'], 3, 0.5],
      [['--rate', '3.'], 3, 3],
      [['--rate', '-2.5E+4'], 3, -25000],
      [['--rate', '1e-3'], 3, 0.001],
    ];
    for (const [args, count, rate] of ok) {
      const r = parseArgs(args, spec);
      assert.ok(!r.help);
      if (r.help) continue;
      assert.equal(r.flags.count, count, args.join(' '));
      assert.equal(r.flags.rate, rate, args.join(' '));
    }
    for (const bad of ['0x10', '0X1f', '0b11', '0o17', '1_000', 'Infinity', '-Infinity', 'NaN', '', ' ', ' 5', '5 ', '1e', 'e5', '.', '1.2.3', '1e400']) {
      assert.throws(() => parseArgs(['--rate', bad], spec), /--rate must be a finite decimal number/, JSON.stringify(bad));
      assert.throws(() => parseArgs(['--count', bad], spec), /--count must be an integer/, JSON.stringify(bad));
    }
    for (const fraction of ['1.5', '1e-3', '2.55e1']) assert.throws(() => parseArgs(['--count', fraction], spec), /--count must be an integer/);
    assert.throws(() => parseArgs(['--count', '1e20'], spec), /--count is too large/);
    assert.equal(parseDecimal('0x10'), undefined);
    assert.equal(parseDecimal('16'), 16);
  });

  it('list flags: comma-separated, trimmed, repeats dropped, each item checked against the choices; narrowTo types them', () => {
    const lists = {
      name: 'lists',
      summary: 'Lists.',
      flags: {
        engines: { type: 'list', choices: ['tfjs', 'workers', 'onnxruntime'], default: ['tfjs'], description: 'Engines.' },
        tags: { type: 'list', description: 'Free tags.' },
      },
    } as const satisfies CommandSpec;
    const r = parseArgs(['--engines', ' onnxruntime, tfjs,,onnxruntime', '--tags=a,b'], lists);
    assert.ok(!r.help);
    if (r.help) return;
    assert.deepEqual(r.flags.engines, ['onnxruntime', 'tfjs']);
    assert.deepEqual(r.flags.tags, ['a', 'b']);
    const d = parseArgs([], lists);
    assert.ok(!d.help && d.flags.tags === undefined);
    if (d.help) return;
    assert.deepEqual(d.flags.engines, ['tfjs']);
    d.flags.engines.push('x'); // the default is copied, not shared
    const again = parseArgs([], lists);
    assert.ok(!again.help && again.flags.engines.length === 1);
    const engines: ('tfjs' | 'workers' | 'onnxruntime')[] = narrowTo(r.flags.engines, ['tfjs', 'workers', 'onnxruntime'] as const);
    assert.deepEqual(engines, ['onnxruntime', 'tfjs']);
    assert.deepEqual(narrowTo(['a', 'gpu', 'b'], ['b', 'a'] as const), ['a', 'b']);
    assert.throws(() => parseArgs(['--engines', 'tfjs,gpu'], lists), (e: unknown) => e instanceof UsageError && /^lists: --engines: unknown 'gpu' \(one of tfjs, workers, onnxruntime\)$/.test(e.message));
    assert.throws(() => parseArgs(['--engines', 'worker'], lists), /did you mean workers\?/);
    assert.throws(() => parseArgs(['--engines', ', ,'], lists), /--engines needs at least one item of tfjs, workers, onnxruntime, got ', ,'/);
    assert.throws(() => parseArgs(['--engines'], lists), /--engines needs a value \(--engines A,B,\.\.\.\)/);
    assert.match(formatUsage(lists), /--engines A,B,\.\.\. +Engines\. Comma-separated, from: tfjs, workers, onnxruntime\. Default: tfjs\./);
  });

  it('commandLine: help to stdout, a usage error (its own checks too) as one line with exit code 2, else the settings', () => {
    const out: string[] = [];
    const err: string[] = [];
    const codes: number[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, setExitCode: (c: number) => codes.push(c) };
    const parse = (argv: readonly string[]): number | 'help' => {
      const p = parseArgs(argv, spec);
      if (p.help) return 'help';
      if (p.flags.count > 10) throw usageError(spec, `--count ${p.flags.count} is more than 10`);
      return p.flags.count;
    };
    assert.equal(commandLine(spec, ['--count', '4'], parse, io), 4);
    assert.deepEqual([out, err, codes], [[], [], []]);
    assert.equal(commandLine(spec, ['--help'], parse, io), null);
    assert.match(out.join(''), /^Usage: tool \[options\]/);
    assert.equal(commandLine(spec, ['--count', '11'], parse, io), null);
    assert.deepEqual(err, ['tool: --count 11 is more than 10\nrun `tool --help` for more\n']);
    assert.equal(commandLine(spec, ['--cout', '1'], parse, io), null);
    assert.match(err[1], /^tool: unknown flag --cout; did you mean --count\?\n/);
    assert.deepEqual(codes, [2, 2]);
    assert.throws(() => commandLine(spec, [], () => { throw new RangeError('not a usage error'); }, io), RangeError);
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
