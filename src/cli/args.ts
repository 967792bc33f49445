/**
 * A small, strict command-line flag parser: `--name value` and `--name=value`, typed flags with
 * defaults, boolean switches, and `--help`/`-h`. Anything it does not understand — an unknown flag, a
 * missing or malformed value, a stray argument — is a {@link UsageError} naming the command, which the
 * CLI prints as one line (what is wrong, and "run `<command> --help` for more") before exiting with
 * code 2. A flag given twice takes its last value, so `npm start -- --steps 60` overrides a `--steps`
 * that the script passes.
 *
 * Numbers are decimal only ({@link parseDecimal}): `Number()` would read `0x10` as 16, `0b1`, `0o7`,
 * `Infinity`, `''` and `' 5 '` too.
 * @module
 */

/** A flag's description in the help text, and its placeholder (`--steps N`). */
interface FlagBase {
  readonly description: string;
  /** Placeholder shown in the help text (default: the type, upper-cased). */
  readonly valueName?: string;
}

/** A switch: `--download` is true, absent is false; `--download=false` is accepted too. */
export interface BooleanFlag extends FlagBase {
  readonly type: 'boolean';
}

export interface StringFlag extends FlagBase {
  readonly type: 'string';
  readonly default?: string;
  /** The only values allowed. */
  readonly choices?: readonly string[];
}

/**
 * A whole number in decimal notation, e.g. `--steps 300`; scientific notation that denotes a whole
 * number is accepted too (`1e3` is 1000, `1.5` and `1e-3` are refused).
 */
export interface IntegerFlag extends FlagBase {
  readonly type: 'integer';
  readonly default?: number;
  readonly min?: number;
}

/** A finite decimal number, plain or scientific (`0.02`, `.5`, `1e-3`, `-2.5E+4`); see {@link parseDecimal}. */
export interface NumberFlag extends FlagBase {
  readonly type: 'number';
  readonly default?: number;
  readonly min?: number;
}

/**
 * A comma-separated list, e.g. `--engines tfjs,onnxruntime`: items are trimmed, empty items and repeats
 * dropped (first one kept, so the order is the user's), at least one item required, each one of
 * `choices` when given. Narrow the strings to a union type with {@link narrowTo} (checked, not cast).
 */
export interface ListFlag extends FlagBase {
  readonly type: 'list';
  readonly default?: readonly string[];
  /** The only items allowed. */
  readonly choices?: readonly string[];
}

export type FlagSpec = BooleanFlag | StringFlag | IntegerFlag | NumberFlag | ListFlag;

/** Flags by name, without the leading `--` (kebab-case: `data-dir`). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<F extends FlagSpec> = F extends BooleanFlag
  ? boolean
  : F extends IntegerFlag | NumberFlag
    ? number
    : F extends ListFlag
      ? string[]
      : string;

/** Parsed values: flags with a default (and booleans) always have a value, the others may be undefined. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends BooleanFlag
    ? boolean
    : S[K] extends { readonly default: string | number | readonly string[] }
      ? ValueOf<S[K]>
      : ValueOf<S[K]> | undefined;
};

/** A (sub)command: its flags and what its help text says. */
export interface CommandSpec<S extends FlagSpecs = FlagSpecs> {
  /** Full command name as typed, e.g. `orthoptim bench`. */
  readonly name: string;
  /** One line: what it does. */
  readonly summary: string;
  readonly flags: S;
  /** Positional arguments accepted, in order (default none). */
  readonly positionals?: readonly { readonly name: string; readonly description: string }[];
  /** Paragraphs after the flag list (examples, notes). */
  readonly notes?: readonly string[];
}

/**
 * A mistake in the command line. `usage` is the help text of the command concerned; `command` the
 * command whose `--help` shows it (the CLI prints `run \`<command> --help\` for more` after the message,
 * not the whole usage).
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The outcome of {@link parseArgs}: help requested, or the values. */
export type ParsedArgs<S extends FlagSpecs> =
  | { readonly help: true }
  | { readonly help: false; readonly flags: FlagValues<S>; readonly positionals: string[] };

function placeholder(spec: FlagSpec): string {
  if (spec.type === 'boolean') return '';
  return spec.valueName ?? (spec.type === 'string' ? 'VALUE' : spec.type === 'list' ? 'A,B,...' : spec.type === 'integer' ? 'N' : 'X');
}

function defaultText(spec: FlagSpec): string | undefined {
  if (spec.type === 'boolean' || spec.default === undefined) return undefined;
  return spec.type === 'list' ? spec.default.join(',') : String(spec.default);
}

/** Wraps `text` to lines of at most `width` characters, each prefixed by `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** The help text of a command: synopsis, flags with their defaults and choices, notes. */
export function formatUsage(command: CommandSpec, options: { notes?: boolean } = {}): string {
  const positionals = (command.positionals ?? []).map((p) => ` ${p.name}`).join('');
  const out = [`Usage: ${command.name}${positionals} [options]`, '', command.summary, ''];
  if (command.positionals !== undefined && command.positionals.length > 0) {
    out.push('Arguments:');
    for (const p of command.positionals) out.push(`  ${p.name.padEnd(22)} ${p.description}`);
    out.push('');
  }
  out.push('Options:');
  const entries: [string, string][] = Object.entries(command.flags).map(([name, spec]) => {
    const value = placeholder(spec);
    const extras: string[] = [];
    if (spec.type === 'string' && spec.choices !== undefined) extras.push(`One of: ${spec.choices.join(', ')}.`);
    if (spec.type === 'list' && spec.choices !== undefined) extras.push(`Comma-separated, from: ${spec.choices.join(', ')}.`);
    const d = defaultText(spec);
    if (d !== undefined) extras.push(`Default: ${d}.`);
    const description = [spec.description, ...extras].join(' ');
    return [`--${name}${value === '' ? '' : ` ${value}`}`, description];
  });
  entries.push(['-h, --help', 'Show this help and exit.']);
  const column = Math.min(30, Math.max(...entries.map(([f]) => f.length)) + 4);
  for (const [flag, description] of entries) {
    const text = wrap(description, 100, ' '.repeat(column));
    if (flag.length + 2 <= column - 2) {
      out.push(`  ${flag.padEnd(column - 2)}${(text[0] ?? '').trimStart()}`, ...text.slice(1));
    } else {
      out.push(`  ${flag}`, ...text);
    }
  }
  if (options.notes !== false) for (const note of command.notes ?? []) out.push('', note);
  return out.join('\n');
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment: Levenshtein's insert, delete
 * and substitute, plus swapping two neighbours, each costing 1), for "did you mean" hints — so `bnech`
 * is 1 from `bench`.
 */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
      row.push(d);
    }
    before = previous;
    previous = row;
  }
  return previous[b.length];
}

/**
 * `; did you mean X?` when one of `known` is close to `given`, else ''. Close: the same ignoring case, the
 * only name that starts with `given` (at least 3 characters: `cifar` → `cifar10-cnn`), or the nearest by
 * edit distance when it is at most a third of the name's length (at least 1).
 */
export function suggestion(given: string, known: readonly string[], prefix = ''): string {
  const hint = (name: string): string => `; did you mean ${prefix}${name}?`;
  const lower = given.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return hint(sameCase);
  const extending = known.filter((k) => k.toLowerCase().startsWith(lower));
  if (lower.length >= 3 && extending.length === 1) return hint(extending[0]);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? hint(best) : '';
}

/** Decimal numbers: digits with an optional point and exponent; no hex/octal/binary, no spaces, no `Infinity`. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The value of `text` when it is a finite number in decimal notation (`0.02`, `.5`, `3.`, `1e-3`,
 * `-2.5E+4`), else undefined. Refused, unlike `Number()`: `0x10`, `0b1`, `0o7`, `1_000`, `Infinity`,
 * `''`, `' 5 '`, and numbers that overflow (`1e400`).
 */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}

function convert(name: string, spec: FlagSpec, raw: string, fail: (message: string) => never): string | number | boolean | string[] {
  switch (spec.type) {
    case 'list': {
      const items: string[] = [];
      for (const item of raw.split(',').map((p) => p.trim())) {
        if (item === '' || items.includes(item)) continue;
        if (spec.choices !== undefined && !spec.choices.includes(item)) {
          return fail(`--${name}: unknown '${item}' (one of ${spec.choices.join(', ')})${suggestion(item, spec.choices)}`);
        }
        items.push(item);
      }
      if (items.length === 0) return fail(`--${name} needs at least one item${spec.choices === undefined ? '' : ` of ${spec.choices.join(', ')}`}, got '${raw}'`);
      return items;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      return fail(`--${name} is a switch: give it alone, or as --${name}=true / --${name}=false, not '${raw}'`);
    case 'string':
      if (spec.choices !== undefined && !spec.choices.includes(raw)) {
        return fail(`--${name} must be one of ${spec.choices.join(', ')}, got '${raw}'${suggestion(raw, spec.choices)}`);
      }
      return raw;
    case 'integer': {
      const v = parseDecimal(raw);
      if (v === undefined || !Number.isInteger(v)) return fail(`--${name} must be an integer in decimal digits (e.g. 300 or 3e2), got '${raw}'`);
      if (!Number.isSafeInteger(v)) return fail(`--${name} is too large: '${raw}'`);
      if (spec.min !== undefined && v < spec.min) return fail(`--${name} must be >= ${spec.min}, got ${v}`);
      return v;
    }
    case 'number': {
      const v = parseDecimal(raw);
      if (v === undefined) return fail(`--${name} must be a finite decimal number (e.g. 0.5 or 1e-3), got '${raw}'`);
      if (spec.min !== undefined && v < spec.min) return fail(`--${name} must be >= ${spec.min}, got ${v}`);
      return v;
    }
  }
}

/**
 * Parses `argv` (the arguments after the command name) against `command`. `--help` or `-h` anywhere
 * before `--` wins over everything else. After `--`, every argument is positional. A flag given twice
 * takes its last value (each value is still checked).
 */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], command: CommandSpec<S>): ParsedArgs<S> {
  const end = argv.indexOf('--');
  const flagPart = end < 0 ? argv : argv.slice(0, end);
  if (flagPart.includes('--help') || flagPart.includes('-h')) return { help: true };

  const fail = (message: string): never => {
    throw new UsageError(`${command.name}: ${message}`, formatUsage(command as CommandSpec), command.name);
  };
  const names = Object.keys(command.flags);
  const given = new Map<string, string | number | boolean | string[]>();
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (end >= 0 && i >= end) {
      if (i > end) positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      const bare = arg.slice(1).split('=')[0];
      fail(`unknown option ${arg} (flags are written --name)${suggestion(bare, names, '--')}`);
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = Object.hasOwn(command.flags, name) ? command.flags[name] : undefined;
    if (spec === undefined) fail(`unknown flag --${name}${suggestion(name, names, '--')}`);
    let raw: string;
    if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else if (spec!.type === 'boolean') {
      raw = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--') || (end >= 0 && i + 1 >= end)) {
        fail(`--${name} needs a value (--${name} ${placeholder(spec!)})`);
      }
      raw = next;
      i++;
    }
    given.set(name, convert(name, spec!, raw, fail));
  }

  const allowed = command.positionals?.length ?? 0;
  if (positionals.length > allowed) {
    fail(
      allowed === 0
        ? `unexpected argument '${positionals[0]}' (this command takes only --flags)`
        : `unexpected argument '${positionals[allowed]}'`,
    );
  }

  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.flags)) {
    flags[name] = given.has(name) ? given.get(name) : spec.type === 'boolean' ? false : spec.type === 'list' && spec.default !== undefined ? [...spec.default] : spec.default;
  }
  return { help: false, flags: flags as FlagValues<S>, positionals };
}

/**
 * The {@link UsageError} {@link parseArgs} throws, for checks a command makes after parsing (a value's
 * form, two flags that contradict): `command.name: message`, with the command's usage.
 */
export function usageError(command: CommandSpec, message: string): UsageError {
  return new UsageError(`${command.name}: ${message}`, formatUsage(command), command.name);
}

/**
 * The items of `values` that are one of `allowed`, in the order of `values`, typed as `allowed`'s
 * union: how a `list` or `string` flag checked against `choices` becomes e.g. `EngineName[]` without a
 * cast (an item not in `allowed` is dropped; `choices` has already refused it).
 */
export function narrowTo<T extends string>(values: readonly string[], allowed: readonly T[]): T[] {
  return values.flatMap((v) => allowed.filter((a) => a === v));
}

/**
 * A bench script's or tool's command line, end to end: `parse(argv)` (which calls {@link parseArgs} and
 * may throw {@link usageError}s of its own checks) returns the settings, or `'help'`. Help goes to
 * stdout; a {@link UsageError} is one line on stderr with where the help is, and exit code 2. Returns
 * null when the command should stop there (help printed, or a usage error), else the settings.
 */
export function commandLine<T>(
  command: CommandSpec,
  argv: readonly string[],
  parse: (argv: readonly string[]) => T | 'help',
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown }; setExitCode(code: number): void } = {
    stdout: process.stdout,
    stderr: process.stderr,
    setExitCode: (code) => {
      process.exitCode = code;
    },
  },
): T | null {
  let parsed: T | 'help';
  try {
    parsed = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`${e.message}\nrun \`${e.command ?? command.name} --help\` for more\n`);
    io.setExitCode(2);
    return null;
  }
  if (parsed === 'help') {
    io.stdout.write(`${formatUsage(command)}\n`);
    return null;
  }
  return parsed;
}
