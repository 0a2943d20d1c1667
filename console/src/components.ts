/**
 * Shared pieces of the console's pages: polling (live updates at the chosen refresh interval),
 * number formats, a sortable table with real <button> headers (keyboard accessible, aria-sort),
 * an SVG line chart fed by the samples the page has polled, badges and error boxes.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, type View } from './html.js';

const REFRESH_KEY = 'warren.refresh';
let refreshMs = Number(localStorage.getItem(REFRESH_KEY) ?? '5000') || 5000;
const refreshListeners = new Set<() => void>();

export function refreshInterval(): number {
  return refreshMs;
}

export function setRefreshInterval(ms: number): void {
  refreshMs = ms;
  localStorage.setItem(REFRESH_KEY, String(ms));
  for (const f of refreshListeners) f();
}

export interface Poll<T> {
  data: T | undefined;
  error: string | undefined;
  /** Load again now (after an action). */
  reload(): void;
}

/** Loads now and every refresh interval while mounted; `deps` restart it (another queue, ...). */
export function usePoll<T>(load: () => Promise<T>, deps: readonly unknown[] = []): Poll<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined }>({ data: undefined, error: undefined });
  const [tick, setTick] = useState(0);
  const [interval, setIntervalMs] = useState(refreshMs);
  useEffect(() => {
    const f = () => setIntervalMs(refreshMs);
    refreshListeners.add(f);
    return () => { refreshListeners.delete(f); };
  }, []);
  useEffect(() => {
    let live = true;
    const run = () => {
      load().then(
        (data) => { if (live) setState({ data, error: undefined }); },
        (e: unknown) => { if (live) setState((s) => ({ data: s.data, error: e instanceof Error ? e.message : String(e) })); },
      );
    };
    run();
    const timer = interval > 0 ? setInterval(run, interval) : undefined;
    return () => { live = false; if (timer !== undefined) clearInterval(timer); };
  }, [...deps, tick, interval]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Keeps the last `size` samples of a polled value (for rate charts). */
export function useHistory(sample: number[] | undefined, size = 60): number[][] {
  const ref = useRef<number[][]>([]);
  const last = useRef<number[] | undefined>(undefined);
  if (sample !== undefined && sample !== last.current) {
    last.current = sample;
    ref.current = [...ref.current, sample].slice(-size);
  }
  return ref.current;
}

export function fmtNum(n: unknown): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

export function fmtRate(n: unknown): string {
  if (typeof n !== 'number') return '—';
  return `${n < 10 && n !== 0 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')}/s`;
}

export function fmtBytes(n: unknown): string {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A nested number: rate(q, 'message_stats', 'publish_details', 'rate'). */
export function pick(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export function num(o: unknown, ...path: string[]): number {
  const v = pick(o, ...path);
  return typeof v === 'number' ? v : 0;
}

export function str(o: unknown, ...path: string[]): string {
  const v = pick(o, ...path);
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

export function ErrorBox({ error }: { error: string | undefined }): View {
  return error === undefined ? null : html`<p class="error" role="alert">${error}</p>`;
}

export function Badge({ text, title, kind }: { text: string; title?: string; kind?: string }): View {
  return html`<span class=${`badge ${kind ?? ''}`} title=${title ?? text}>${text}</span>`;
}

export interface Column<R> {
  key: string;
  label: string;
  /** What sorting compares (numbers numerically, strings alphabetically). */
  value: (row: R) => string | number;
  render?: (row: R) => View;
  numeric?: boolean;
}

interface TableProps<R> {
  columns: Column<R>[];
  rows: R[];
  rowKey: (row: R) => string;
  label: string;
  initialSort?: string;
  empty?: string;
}

/** A table sortable by any column (click or Enter on the header; again reverses). */
export function Table<R>({ columns, rows, rowKey, label, initialSort, empty }: TableProps<R>): View {
  const [sort, setSort] = useState<{ key: string; desc: boolean }>({ key: initialSort ?? columns[0]?.key ?? '', desc: false });
  const col = columns.find((c) => c.key === sort.key);
  const sorted = col === undefined ? rows : [...rows].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return sort.desc ? -c : c;
  });
  const header = (c: Column<R>) => {
    const active = c.key === sort.key;
    const aria = active ? (sort.desc ? 'descending' : 'ascending') : 'none';
    return html`<th aria-sort=${aria} class=${c.numeric === true ? 'num' : ''}>
      <button type="button" class="sort" onClick=${() => setSort({ key: c.key, desc: active ? !sort.desc : false })}>
        ${c.label}${active ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button></th>`;
  };
  return html`<div class="table-wrap"><table aria-label=${label}>
    <thead><tr>${columns.map(header)}</tr></thead>
    <tbody>
      ${sorted.length === 0
        ? html`<tr><td colspan=${columns.length} class="empty">${empty ?? 'Nothing here yet.'}</td></tr>`
        : sorted.map((r) => html`<tr key=${rowKey(r)}>${columns.map((c) =>
          html`<td class=${c.numeric === true ? 'num' : ''} data-label=${c.label}>${c.render !== undefined ? c.render(r) : String(c.value(r))}</td>`)}</tr>`)}
    </tbody></table></div>`;
}

export interface Series {
  label: string;
  className: string;
}

/** An SVG line chart of polled samples: one line per series (sample[i] is series i). */
export function Chart({ title, series, samples, format }: {
  title: string; series: Series[]; samples: number[][]; format: (n: number) => string;
}): View {
  const w = 600;
  const h = 140;
  // One sample draws as a flat line (a polyline needs two points).
  if (samples.length === 1) samples = [samples[0]!, samples[0]!];
  const max = Math.max(1, ...samples.flat());
  const x = (i: number) => (samples.length <= 1 ? w : (i / (samples.length - 1)) * w);
  const y = (v: number) => h - (v / max) * (h - 8);
  const last = samples[samples.length - 1];
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <svg viewBox=${`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label=${title}>
      <line x1="0" y1=${h - 0.5} x2=${w} y2=${h - 0.5} class="axis" />
      ${series.map((s, si) => html`<polyline class=${`line ${s.className}`} fill="none"
        points=${samples.map((p, i) => `${x(i).toFixed(1)},${y(p[si] ?? 0).toFixed(1)}`).join(' ')} />`)}
    </svg>
    <div class="legend">
      <span class="max">max ${format(max)}</span>
      ${series.map((s, si) => html`<span class=${`key ${s.className}`}>${s.label}: <strong>${format(last?.[si] ?? 0)}</strong></span>`)}
    </div>
  </figure>`;
}

/** Route links: #/queues, #/queue/%2F/jobs. */
export function href(...parts: string[]): string {
  return `#/${parts.map((p) => encodeURIComponent(p)).join('/')}`;
}
