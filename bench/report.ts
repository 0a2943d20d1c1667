/**
 * Rendering of a bench report: one plain-text table for the terminal and a markdown version for the
 * committed results file. Ratio = Warren / reference for every figure; the "better" column says
 * whether a ratio above 1 is good (throughput) or bad (latency, memory, time).
 */

export type TargetName = 'warren' | 'reference' | 'raw';

export interface Row {
  readonly scenario: string;
  readonly metric: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower' | 'info';
  readonly values: { [K in TargetName]?: number | undefined };
  /** Every run's figure when --repeat > 1 (values holds their median). */
  readonly samples: { [K in TargetName]?: number[] };
}

export interface BenchReport {
  readonly date: string;
  readonly commit: string;
  readonly machine: string;
  readonly node: string;
  readonly cpus: number;
  readonly client: string;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly backlogMessages: number;
  readonly repeat: number;
  readonly referenceUrl: string;
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
}

export function formatValue(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  switch (unit) {
    case 'B/s': return `${(v / 1048576).toFixed(v >= 1048576 * 100 ? 0 : 1)} MiB/s`;
    case 'ms': return `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;
    case 'MiB': return `${v.toFixed(1)} MiB`;
    case 'µs': return `${v.toFixed(2)} µs`;
    case 'cores': return `${v.toFixed(2)} cores`;
    case 'x': return `${v.toFixed(2)}x`;
    default: {
      const s = v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
      return `${s} ${unit}`;
    }
  }
}

function ratio(r: Row): string {
  const w = r.values.warren;
  const ref = r.values.reference;
  if (w === undefined || ref === undefined || ref === 0 || !Number.isFinite(w) || !Number.isFinite(ref)) return '';
  return `${(w / ref).toFixed(2)}`;
}

function cells(r: Row): string[] {
  const raw = r.values.raw;
  const warren = raw !== undefined ? `(raw) ${formatValue(raw, r.unit)}` : formatValue(r.values.warren, r.unit);
  const reference = raw !== undefined ? '' : formatValue(r.values.reference, r.unit);
  const better = r.better === 'info' ? '' : r.better === 'higher' ? '↑' : '↓';
  return [r.scenario, r.metric, warren, reference, ratio(r), better];
}

const HEAD = ['scenario', 'metric', 'warren', 'reference', 'W/R', 'good'];

function header(report: BenchReport): string[] {
  return [
    `Warren vs reference — ${report.date} — commit ${report.commit.slice(0, 12)} — ${report.machine} (${report.cpus} cpus, node ${report.node})`,
    `client ${report.client}; ${report.durationSeconds}s measure + ${report.warmupSeconds}s warm-up per scenario${report.repeat > 1 ? `, median of ${report.repeat} runs` : ''}; backlog ${report.backlogMessages} messages${report.quick ? '; QUICK' : ''}`,
    `W/R = Warren / reference; good: ↑ higher is better, ↓ lower is better. cpu = cores used during the measure window.`,
  ];
}

export function renderTable(report: BenchReport): string {
  const body = report.rows.map(cells);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((x, i) => (i >= 2 ? x.padStart(widths[i] ?? 0) : x.padEnd(widths[i] ?? 0))).join('  ');
  const out = [...header(report), '', line(HEAD), widths.map((w) => '-'.repeat(w)).join('  ')];
  let last = '';
  for (const c of body) {
    if (c[0] === last) c[0] = '';
    else last = c[0] ?? '';
    out.push(line(c));
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const out = [`# Bench results: ${report.machine}`, '', ...header(report).map((h) => `${h}  `), ''];
  out.push(`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (i >= 2 ? ' ---: ' : ' --- ')).join('|')}|`);
  for (const r of report.rows) out.push(`| ${cells(r).join(' | ')} |`);
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}
