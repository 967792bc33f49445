/**
 * What every `bench/*.ts` script does around its own work: run `main` only when the file is the
 * process's entry (so tests can import the script's functions), print a failure's stack and exit 1, and
 * write the report and the JSON record side by side, atomically.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomic } from '../node/fileSystem.js';

/**
 * Runs `main` when the module at `moduleUrl` (pass `import.meta.url`) is the script node was started
 * with; an error it throws is printed (stack) to stderr and sets exit code 1.
 */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  const invokedPath = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
  if (invokedPath !== fileURLToPath(moduleUrl)) return;
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}

/**
 * Writes `<out>/<name>.md` (the report) and `<out>/<name>.json` (the record), each atomically, creating
 * `out`; returns the folder's absolute path.
 */
export async function writeReportFiles(out: string, name: string, report: string, record: unknown): Promise<string> {
  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  await writeAtomic(resolve(dir, `${name}.md`), `${report}\n`);
  await writeAtomic(resolve(dir, `${name}.json`), `${JSON.stringify(record, null, 1)}\n`);
  return dir;
}
