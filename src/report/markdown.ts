/**
 * The report as Markdown: facts as a two-column list, tables as padded GitHub tables, figures as
 * images linking `plots/<name>.svg` (next to `report.md`) with the PNG linked beside.
 * @module
 */
import { formatTable } from '../bench/table.js';
import type { Block, ReportDocument, Section, Table } from './document.js';

/** Escapes Markdown emphasis and link characters in running text. */
function escapeText(text: string): string {
  return text.replace(/([\\*_`[\]<>])/g, '\\$1');
}

export function markdownTable(t: Table): string {
  const rows = t.rows.map((r) => r.map((c) => (c.strong && c.text !== '' ? `**${c.text}**` : c.text)));
  const table = formatTable(t.columns, rows);
  return t.caption ? `${table}\n\n_${escapeText(t.caption)}_` : table;
}

function block(b: Block, png: boolean): string {
  if (b.kind === 'table') return markdownTable(b.table);
  if (b.kind === 'text') return escapeText(b.text);
  const f = b.figure;
  if (f.svg === undefined) return `**${escapeText(f.title)}**: not drawn (${escapeText(f.error ?? 'unknown error')}).`;
  const link = png ? ` ([PNG](plots/${f.name}.png))` : '';
  return `![${escapeText(f.title)}](plots/${f.name}.svg)\n\n_${escapeText(f.caption)}_${link}`;
}

function section(s: Section, png: boolean): string {
  const parts = [`## ${escapeText(s.title)}`];
  for (const n of s.notices) parts.push(`> **Notice:** ${escapeText(n)}`);
  if (s.facts.length > 0) parts.push(s.facts.map(([k, v]) => `- **${escapeText(k)}:** ${escapeText(v)}`).join('\n'));
  for (const b of s.blocks) parts.push(block(b, png));
  return parts.join('\n\n');
}

/** The whole report as Markdown. */
export function renderMarkdown(doc: ReportDocument, options: { png: boolean }): string {
  const parts = [`# ${escapeText(doc.title)}`, `Results: \`${doc.resultsDir}\` — generated ${doc.generatedAt} by \`orthoptim report\`.`];
  if (doc.sections.length > 1) parts.push(doc.sections.map((s) => `- [${escapeText(s.title)}](#${s.id})`).join('\n'));
  if (doc.warnings.length > 0) parts.push(doc.warnings.map((w) => `> **Warning:** ${escapeText(w)}`).join('\n>\n'));
  for (const s of doc.sections) parts.push(`<a id="${s.id}"></a>\n\n${section(s, options.png)}`);
  return `${parts.join('\n\n')}\n`;
}
