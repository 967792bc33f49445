/**
 * Rendering of Vega-Lite specs: compiled by `vega-lite`, drawn to SVG server-side by `vega` (the
 * headless `renderer: 'none'` view), rasterized to PNG by `@resvg/resvg-js`. The three packages are
 * optional: they are loaded with dynamic `import()` only when a report is written, and a missing one
 * is named in the error.
 * @module
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

type VegaModule = typeof import('vega');
type VegaLiteModule = typeof import('vega-lite');
type ResvgModule = typeof import('@resvg/resvg-js');

const installHint = 'npm install --save-dev vega vega-lite @resvg/resvg-js';

/** Imports an optional plotting package; a missing one is an `Error` naming it and the install command. */
export async function importPlotting<T>(name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`orthoptim report needs the package '${name}' to draw plots; install it: ${installHint}`, { cause: error });
    }
    throw error;
  }
}

/** The plotting packages, loaded once. */
export interface Renderers {
  vega: VegaModule;
  vegaLite: VegaLiteModule;
  /** `null` when PNGs are not wanted or `@resvg/resvg-js` cannot load here (see `pngSkipped`). */
  resvg: ResvgModule | null;
  /** When PNGs were wanted but `@resvg/resvg-js` is missing: one line saying so and how to get it. */
  pngSkipped: string | null;
}

/**
 * Loads `vega`, `vega-lite` and, when `png`, `@resvg/resvg-js`; throws naming a missing `vega` or
 * `vega-lite`. A missing `@resvg/resvg-js` (an optional dependency: `npm ci --omit=optional` drops it
 * or its native binary) only drops the PNGs: `resvg` is null and `pngSkipped` says why.
 * `importResvg` is the import (replaceable to test its absence).
 */
export async function loadRenderers(png: boolean, importResvg: () => Promise<ResvgModule> = () => import('@resvg/resvg-js')): Promise<Renderers> {
  const vega = await importPlotting('vega', () => import('vega'));
  const vegaLite = await importPlotting('vega-lite', () => import('vega-lite'));
  if (!png) return { vega, vegaLite, resvg: null, pngSkipped: null };
  try {
    return { vega, vegaLite, resvg: await importResvg(), pngSkipped: null };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    const what = (error as Error).message.split('\n')[0];
    return {
      vega,
      vegaLite,
      resvg: null,
      pngSkipped: `orthoptim report: PNGs skipped (SVGs written): @resvg/resvg-js cannot load here (${what}); install it: npm install --save-dev @resvg/resvg-js`,
    };
  }
}

/**
 * A Vega logger that keeps messages instead of printing them: the report runs quietly, and a problem
 * Vega only logs (a data file that does not load) fails the figure.
 */
function collectingLogger() {
  let level = 2;
  const errors: string[] = [];
  const warnings: string[] = [];
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      errors.push(text(args));
      return logger;
    },
    warn(...args: unknown[]) {
      warnings.push(text(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return { logger, errors, warnings };
}

/**
 * Draws a spec to SVG. A Vega-Lite spec is compiled first; a spec whose `$schema` names plain Vega is
 * parsed directly. Data URLs (only in specs written by other experiments) load from `baseDir` as files,
 * never from the network. Throws when Vega reports an error while drawing.
 */
export async function renderSvg(r: Renderers, spec: Record<string, unknown>, baseDir?: string): Promise<string> {
  const schema = typeof spec.$schema === 'string' ? spec.$schema : '';
  const isVega = /\/schema\/vega\/v\d/.test(schema);
  const log = collectingLogger();
  const vegaSpec = isVega ? spec : r.vegaLite.compile(spec as never, { logger: log.logger as never }).spec;
  const loader = r.vega.loader({ mode: 'file', baseURL: baseDir === undefined ? '' : `${baseDir}/` });
  const view = new r.vega.View(r.vega.parse(vegaSpec as never), { renderer: 'none', loader, logger: log.logger as never });
  try {
    const svg = await view.toSVG();
    // Vega only warns when a data file fails to load; a plot without its data is an error here.
    const problems = [...log.errors, ...log.warnings.filter((w) => w.startsWith('Loading failed'))];
    if (problems.length > 0) throw new Error(problems.join('; '));
    return svg;
  } finally {
    view.finalize();
  }
}

/** A sans-serif font for the PNG's text (resvg draws no text without a font). */
export interface FontChoice {
  files: string[];
  family: string | null;
}

/** Regular (and bold) files of common sans-serif families, with the family name resvg knows them by. */
const fontCandidates: { family: string; regular: string; bold: string }[] = [
  { family: 'DejaVu Sans', regular: 'DejaVuSans.ttf', bold: 'DejaVuSans-Bold.ttf' },
  { family: 'Liberation Sans', regular: 'LiberationSans-Regular.ttf', bold: 'LiberationSans-Bold.ttf' },
  { family: 'Noto Sans', regular: 'NotoSans-Regular.ttf', bold: 'NotoSans-Bold.ttf' },
  { family: 'Arial', regular: 'Arial.ttf', bold: 'Arial Bold.ttf' },
  { family: 'Arial', regular: 'arial.ttf', bold: 'arialbd.ttf' },
];

function fontDirs(): string[] {
  return [
    '/usr/share/fonts',
    '/usr/local/share/fonts',
    join(homedir(), '.fonts'),
    join(homedir(), '.local/share/fonts'),
    '/System/Library/Fonts',
    '/Library/Fonts',
    'C:\\Windows\\Fonts',
  ];
}

/** Every file below `dir` (to depth 4) by base name. */
function indexFonts(dir: string, into: Map<string, string>, depth = 0): void {
  if (depth > 4 || !existsSync(dir)) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) indexFonts(path, into, depth + 1);
    else if (!into.has(e.name)) into.set(e.name, path);
  }
}

let cachedFont: FontChoice | undefined;

/**
 * The font for PNG text: `ORTHOPTIM_REPORT_FONT` (a .ttf/.otf path) when set, else the first of
 * DejaVu Sans, Liberation Sans, Noto Sans, Arial found in the usual font folders; `family: null`
 * when none is found (resvg then falls back to whatever system font it finds, if any).
 */
export function chooseFont(): FontChoice {
  if (cachedFont) return cachedFont;
  const env = process.env.ORTHOPTIM_REPORT_FONT;
  if (env && existsSync(env)) return (cachedFont = { files: [env], family: null });
  const index = new Map<string, string>();
  for (const dir of fontDirs()) indexFonts(dir, index);
  for (const c of fontCandidates) {
    const regular = index.get(c.regular);
    if (regular === undefined) continue;
    const bold = index.get(c.bold);
    return (cachedFont = { files: bold === undefined ? [regular] : [regular, bold], family: c.family });
  }
  return (cachedFont = { files: [], family: null });
}

/** Rasterizes an SVG to PNG at `scale` × its size on a white background. */
export function svgToPng(r: Renderers, svg: string, scale = 2): Buffer {
  if (!r.resvg) throw new Error('svgToPng: renderers were loaded without @resvg/resvg-js (png: false)');
  const font = chooseFont();
  const resvg = new r.resvg.Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font:
      font.family !== null
        ? { loadSystemFonts: false, fontFiles: font.files, defaultFontFamily: font.family, sansSerifFamily: font.family }
        : { loadSystemFonts: true, fontFiles: font.files },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/**
 * Prefixes every `id` in an SVG (and the `url(#…)` / `href="#…"` references to it) so that several
 * SVGs inlined in one HTML page cannot collide on clip-path ids.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) ids.add(m[1]);
  if (ids.size === 0) return svg;
  return svg.replace(/\bid="([^"]+)"|url\(#([^)]+)\)|href="#([^"]+)"/g, (whole, id?: string, url?: string, href?: string) => {
    if (id !== undefined) return ids.has(id) ? `id="${prefix}${id}"` : whole;
    if (url !== undefined) return ids.has(url) ? `url(#${prefix}${url})` : whole;
    if (href !== undefined) return ids.has(href) ? whole.replace(`#${href}`, `#${prefix}${href}`) : whole;
    return whole;
  });
}
