/**
 * The report as one self-contained HTML page: inline CSS, figures as inline SVG (ids prefixed per
 * figure so clip paths cannot collide), no script and nothing loaded from the network.
 * @module
 */
import type { Block, ReportDocument, Section, Table } from './document.js';
import { prefixSvgIds } from './render.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const css = `
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d1d1f; max-width: 1100px; margin: 2rem auto; padding: 0 1.2rem; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; margin-top: 2.6rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #666; font-size: .9rem; }
nav ul { padding-left: 1.2rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9rem; }
dl.facts dt { color: #555; font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.notice, .warning { border-left: 4px solid #e0a800; background: #fff8e1; padding: .5rem .8rem; margin: .8rem 0; }
.warning { border-color: #d9534f; background: #fdecea; }
table { border-collapse: collapse; margin: 1rem 0 .3rem; font-size: .88rem; }
th, td { border: 1px solid #ddd; padding: .25rem .55rem; }
th { background: #f5f5f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td strong { color: #0b5394; }
.caption { color: #555; font-size: .85rem; margin: .2rem 0 1rem; }
figure { margin: 1.4rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .85rem; max-width: 760px; }
.scroll { overflow-x: auto; }
`;

export function htmlTable(t: Table): string {
  const cls = (c: number) => (t.columns[c]?.align === 'right' ? ' class="num"' : '');
  const head = `<tr>${t.columns.map((c, i) => `<th${cls(i)}>${escapeHtml(c.header)}</th>`).join('')}</tr>`;
  const body = t.rows
    .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c.strong ? `<strong>${escapeHtml(c.text)}</strong>` : escapeHtml(c.text)}</td>`).join('')}</tr>`)
    .join('\n');
  const caption = t.caption ? `\n<p class="caption">${escapeHtml(t.caption)}</p>` : '';
  return `<div class="scroll"><table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table></div>${caption}`;
}

function block(b: Block): string {
  if (b.kind === 'table') return htmlTable(b.table);
  if (b.kind === 'text') return `<p>${escapeHtml(b.text)}</p>`;
  const f = b.figure;
  if (f.svg === undefined) return `<p class="warning"><strong>${escapeHtml(f.title)}</strong>: not drawn (${escapeHtml(f.error ?? 'unknown error')}).</p>`;
  return `<figure id="fig-${f.name}">\n${prefixSvgIds(f.svg, `${f.name}-`)}\n<figcaption>${escapeHtml(f.caption)}</figcaption>\n</figure>`;
}

function section(s: Section): string {
  const parts = [`<section id="${escapeHtml(s.id)}">`, `<h2>${escapeHtml(s.title)}</h2>`];
  for (const n of s.notices) parts.push(`<p class="notice"><strong>Notice:</strong> ${escapeHtml(n)}</p>`);
  if (s.facts.length > 0) {
    parts.push(`<dl class="facts">\n${s.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}\n</dl>`);
  }
  for (const b of s.blocks) parts.push(block(b));
  parts.push('</section>');
  return parts.join('\n');
}

/** The whole report as a self-contained HTML page. */
export function renderHtml(doc: ReportDocument): string {
  const nav =
    doc.sections.length > 1
      ? `<nav><ul>\n${doc.sections.map((s) => `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></li>`).join('\n')}\n</ul></nav>`
      : '';
  const warnings = doc.warnings.map((w) => `<p class="warning"><strong>Warning:</strong> ${escapeHtml(w)}</p>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.title)}</title>
<style>${css}</style>
</head>
<body>
<h1>${escapeHtml(doc.title)}</h1>
<p class="meta">Results: <code>${escapeHtml(doc.resultsDir)}</code> — generated ${escapeHtml(doc.generatedAt)} by <code>orthoptim report</code>.</p>
${nav}
${warnings}
${doc.sections.map(section).join('\n')}
</body>
</html>
`;
}
