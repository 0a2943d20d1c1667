/**
 * How the management commands print: an aligned table with a header row (the default), or JSON
 * (`--json`), with `--columns a,b.c` choosing fields (dotted paths reach into nested objects, as
 * the management API's own `columns` parameter does). Output goes to the given stream so tests
 * and scripts get exactly what a person sees.
 */
import type { Writable } from 'node:stream';

export interface OutputOptions {
  json: boolean;
  /** Comma-separated column list, or undefined for the command's default columns. */
  columns: string | undefined;
}

/** The value at a dotted path (`message_stats.publish_details.rate`). */
export function pick(row: unknown, path: string): unknown {
  let v: unknown = row;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A cell's text: strings as they are, lists of strings comma-joined, other objects as compact JSON, nothing as ''. */
export function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  return JSON.stringify(v);
}

export function columnsOf(opts: OutputOptions, defaults: readonly string[]): string[] {
  if (opts.columns === undefined || opts.columns.trim() === '') return [...defaults];
  return opts.columns.split(',').map((c) => c.trim()).filter((c) => c !== '');
}

/** Columns padded to their widest cell, two spaces apart, header first; trailing spaces trimmed. */
export function formatTable(rows: readonly unknown[], columns: readonly string[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(pick(r, c)).replace(/\n/g, '\\n')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: readonly string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd() + '\n';
  return line(columns) + cells.map(line).join('');
}

/** Print a list: a table of the chosen columns, or JSON (the chosen columns only when given). */
export function printRows(out: Writable, rows: readonly Record<string, unknown>[], defaults: readonly string[], opts: OutputOptions): void {
  const columns = columnsOf(opts, defaults);
  if (opts.json) {
    const shown = opts.columns === undefined ? rows : rows.map((r) => Object.fromEntries(columns.map((c) => [c, pick(r, c)])));
    out.write(JSON.stringify(shown, null, 2) + '\n');
    return;
  }
  out.write(formatTable(rows, columns));
}

/** Print one object: JSON, or `key: value` lines for the chosen fields. */
export function printObject(out: Writable, obj: unknown, fields: readonly string[], opts: OutputOptions): void {
  if (opts.json) {
    out.write(JSON.stringify(obj, null, 2) + '\n');
    return;
  }
  const chosen = columnsOf(opts, fields);
  const width = Math.max(...chosen.map((f) => f.length));
  for (const f of chosen) out.write(`${(f + ':').padEnd(width + 1)} ${cell(pick(obj, f))}\n`);
}
