/**
 * Browser speed (`npm run bench:browser`): in headless Chromium (Debian's, driven by playwright-core,
 * test/browser/harness.ts), on each of TensorFlow.js's cpu, wasm and webgl backends, the benchmark page
 * of the playground (web/bench.html, web/src/benchPage.ts) times Newton–Schulz (Jordan ×5) on 256² and
 * 1024² and one Muon step on the fashion-mnist MLP (784-512-512-10), each beside the same backend's
 * plain `tf.matMul` rate measured in the same rounds — the ratio is the number to read. One run writes
 * `bench.json` and `bench.md` under `--out` (default results/browser/).
 *
 * Headless Chromium has no GPU here: webgl runs on SwiftShader, a software GPU (the CPU, through
 * Vulkan emulation), so its numbers say what the webgl *code path* costs, not what a graphics card
 * would give. wasm runs single-threaded (the page is not cross-origin isolated, so no threads), with SIMD.
 * A full run took 5 minutes on a shared 2-core machine, 4 of them cpu's 1024² (35 s per call);
 * `--backends wasm,webgl` takes about 75 s.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAtomic } from '../src/node/fileSystem.js';
import { chromiumSkip, launchChromium } from '../test/browser/harness.js';
import { buildAndServeSite } from '../test/browser/site.js';
import type { BackendBench, BenchOptions } from '../web/src/benchTypes.js';
import { formatMs } from './timing.js';
import { machineDetails } from '../src/bench/machine.js';
import { formatTable } from '../src/bench/table.js';
import { commandLine, parseArgs as parseFlags, parseDecimal, usageError, type CommandSpec } from '../src/cli/args.js';

const knownBackends = ['cpu', 'wasm', 'webgl', 'webgpu'] as const;

/** The flags of `bench:browser`, parsed by src/cli/args.ts. */
const command = {
  name: 'npm run bench:browser --',
  summary:
    "Times Newton–Schulz (Jordan ×5) on n×n and a Muon step on the fashion-mnist MLP in headless Chromium, per backend, beside the backend's plain matMul rate. webgl runs on SwiftShader (a software GPU).",
  flags: {
    backends: { type: 'list', choices: knownBackends, default: ['cpu', 'wasm', 'webgl'], description: 'The tfjs backends to time.' },
    sizes: { type: 'list', valueName: 'N,...', default: ['256', '1024'], description: 'Sides n of the n×n Newton–Schulz inputs, integers in [2, 4096].' },
    'budget-ms': { type: 'number', default: 4000, valueName: 'MS', description: 'Time budget per measurement (ms, > 0).' },
    'no-muon': { type: 'boolean', description: 'Skip the Muon step.' },
    out: { type: 'string', default: 'results/browser', valueName: 'DIR', description: 'Folder for bench.json and bench.md.' },
  },
} as const satisfies CommandSpec;

interface Args {
  backends: string[];
  sizes: number[];
  budgetMs: number;
  muon: boolean;
  out: string;
}

/** Parses the flags; a UsageError naming the flag and value when one is bad. */
export function parseArgs(argv: readonly string[]): Args | 'help' {
  const parsed = parseFlags(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const sizes = f.sizes.map((v) => parseDecimal(v) ?? NaN);
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 4096)) throw usageError(command, `--sizes: expected integers in [2, 4096] like 256,1024, got '${f.sizes.join(',')}'`);
  if (f['budget-ms'] <= 0) throw usageError(command, `--budget-ms: expected a positive number of milliseconds, got ${f['budget-ms']}`);
  if (f.out === '') throw usageError(command, '--out needs a directory');
  return { backends: f.backends, sizes, budgetMs: f['budget-ms'], muon: !f['no-muon'], out: resolve(f.out) };
}

const gflops = (g: number) => `${g.toFixed(g >= 10 ? 1 : 2)} GFLOP/s`;

/** The Markdown table of one run. */
export function table(results: readonly BackendBench[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    const b = r.backend.running;
    for (const ns of r.ns) {
      rows.push([b, `newtonSchulz ${ns.n}² (Jordan ×${ns.steps})`, `${formatMs(ns.ns.median)} (${gflops(ns.nsGflops)})`, `${formatMs(ns.matMul.median)} for ${ns.n}³ (${gflops(ns.matMulGflops)})`, `${ns.ratio.toFixed(2)} (NS ÷ 15 matMuls)`]);
    }
    if (r.muon !== null) {
      const m = r.muon;
      rows.push([
        b,
        `muon step, MLP ${m.layers.join('-')} (adamw ${formatMs(m.adamwStep.median)})`,
        `${formatMs(m.muonStep.median)} (${(m.nsFlops / 1e9).toFixed(2)} GFLOP of NS → ${gflops(m.nsFlops / m.muonStep.median / 1e6)})`,
        `${formatMs(m.matMul.median)} for 512×784·784×512 (${gflops(m.matMulGflops)})`,
        `${m.ratio.toFixed(2)} (step ÷ its NS at matMul rate)`,
      ]);
    }
  }
  return formatTable(['backend', 'what', 'orthoptim (median)', 'plain tf.matMul (median)', 'ratio'], rows);
}

async function main(): Promise<number> {
  let usageCode = 0;
  const setExitCode = (code: number): void => void (usageCode = code);
  const args = commandLine(command, process.argv.slice(2), parseArgs, { stdout: process.stdout, stderr: process.stderr, setExitCode });
  if (args === null) return usageCode;
  const skip = chromiumSkip();
  if (skip !== false) {
    console.error(`bench:browser: ${skip.replace(/ — skipped$/, '')}`);
    return 1;
  }
  const started = Date.now();
  const site = await buildAndServeSite();
  const browser = await launchChromium();
  const results: BackendBench[] = [];
  let userAgent = '';
  try {
    const options: BenchOptions = { sizes: args.sizes, budgetMs: args.budgetMs, muon: args.muon };
    for (const backend of args.backends) {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${site.origin}/bench.html`);
      await page.waitForFunction(() => (globalThis as unknown as { orthoptimBench?: { ready: boolean } }).orthoptimBench?.ready === true);
      userAgent = await page.evaluate(() => (globalThis as unknown as { navigator: { userAgent: string } }).navigator.userAgent);
      process.stderr.write(`bench:browser: ${backend}…\n`);
      try {
        const r = (await page.evaluate(
          ([b, o]) => (globalThis as unknown as { orthoptimBench: { run(b: string, o: BenchOptions): Promise<unknown> } }).orthoptimBench.run(b, o),
          [backend, options] as const,
        )) as BackendBench;
        results.push(r);
        process.stderr.write(`${table([r])}\n`);
      } catch (e) {
        process.stderr.write(`bench:browser: ${backend} failed: ${(e as Error).message.split('\n')[0]}\n`);
        if (backend !== 'webgpu') throw e;
      }
      if (errors.length > 0) throw new Error(`bench:browser: errors on the page (${backend}): ${errors.join('; ')}`);
      await page.close();
    }
  } finally {
    await browser.close();
    await site.close();
  }
  const md = [
    '# Browser speed (headless Chromium)',
    '',
    `${userAgent}. **webgl runs on SwiftShader, a software GPU** (the CPU emulating one): its numbers are the webgl code path on this machine's CPU, not a graphics card. wasm: single-threaded (no cross-origin isolation), SIMD. cpu: plain JavaScript.`,
    '',
    'Each line: the median of interleaved rounds; the matMul is timed in the same rounds on the same backend. NS n²: a square Newton–Schulz step is three n×n products, so 15 for Jordan ×5 — a ratio of 1 is Newton–Schulz at the backend\'s matMul rate. Muon step: the hidden kernels\' Newton–Schulz products (the output layer goes to AdamW), the ratio the step\'s time over those products at the measured matMul rate.',
    '',
    table(results),
    '',
    ...results.map((r) => `- ${r.backend.running}: ${r.backend.note}${r.muon === null ? '' : `; tensors left by the timed steps: ${r.muon.leakedTensors}`}`),
    '',
  ].join('\n');
  mkdirSync(args.out, { recursive: true });
  const machine = await machineDetails();
  await writeAtomic(join(args.out, 'bench.json'), `${JSON.stringify({ userAgent, machine, softwareGpu: 'webgl runs on SwiftShader (software)', wallMs: Date.now() - started, results }, null, 1)}\n`);
  await writeAtomic(join(args.out, 'bench.md'), md);
  console.log(md);
  console.log(`written: ${join(args.out, 'bench.json')}, ${join(args.out, 'bench.md')}`);
  return 0;
}

process.exitCode = await main();
