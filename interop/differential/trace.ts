/**
 * A trace is what a client observed while a scenario ran: an ordered list of events, each on a
 * named stream. Order is compared within a stream only (a stream is one source whose order the
 * broker guarantees, e.g. one channel's confirms and returns, or one consumer's deliveries), so
 * legitimately racy interleavings between streams never cause false differences.
 * Normalisation replaces what legitimately differs between two runs (the per-run unique name
 * suffix, server-generated queue names and consumer tags) with stable placeholders numbered by
 * first appearance; everything else is compared verbatim.
 */

export interface TraceEntry {
  readonly stream: string;
  readonly event: string;
  readonly data: unknown;
}

export type Trace = readonly TraceEntry[];

/** Server-generated names RabbitMQ produces (rabbit_guid: 22 base64url-ish characters). */
const GENERATED = [
  { re: /amq\.gen-[A-Za-z0-9_-]+/g, label: 'amq.gen-' },
  { re: /amq\.ctag-[A-Za-z0-9_-]+/g, label: 'amq.ctag-' },
  // Direct reply-to: the broker rewrites reply_to to a per-consumer token.
  { re: /amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/=._-]+/g, label: 'amq.rabbitmq.reply-to.' },
];

/**
 * Returns a copy of the trace with run ids, generated queue names and consumer tags replaced by
 * placeholders, grouped by stream (streams sorted by name, each keeping its own order).
 */
export function normaliseTrace(trace: Trace, runId: string): Trace {
  const seen = new Map<string, string>();
  const counters = new Map<string, number>();
  const normaliseString = (s: string): string => {
    let out = s.split(runId).join('{run}');
    for (const { re, label } of GENERATED) {
      out = out.replace(re, (m) => {
        let placeholder = seen.get(m);
        if (placeholder === undefined) {
          const n = (counters.get(label) ?? 0) + 1;
          counters.set(label, n);
          placeholder = `${label}{${n}}`;
          seen.set(m, placeholder);
        }
        return placeholder;
      });
    }
    return out;
  };
  const normaliseValue = (v: unknown): unknown => {
    if (typeof v === 'string') return normaliseString(v);
    if (Array.isArray(v)) return v.map(normaliseValue);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        // Known difference (README): Warren writes RabbitMQ 3.13's x-last-death-* headers; 3.10 does not.
        if (k.startsWith('x-last-death-')) continue;
        out[normaliseString(k)] = normaliseValue(x);
      }
      return out;
    }
    return v;
  };
  // Placeholders are numbered in recording (chronological) order, so a line missing near the end
  // of one trace does not renumber everything before it; the result is then grouped by stream.
  const normalised = trace.map((e) => ({ stream: normaliseString(e.stream), event: normaliseString(e.event), data: normaliseValue(e.data) }));
  return sortByStream(normalised);
}

/** Stable sort by stream name, keeping each stream's internal order. */
function sortByStream(trace: Trace): TraceEntry[] {
  const streams = [...new Set(trace.map((e) => e.stream))].sort();
  return streams.flatMap((s) => trace.filter((e) => e.stream === s));
}

/** One line per entry, with object keys sorted so property order never matters. */
export function renderEntry(e: TraceEntry): string {
  const data = e.data === undefined ? '' : ` ${stableStringify(e.data)}`;
  return `[${e.stream}] ${e.event}${data}`;
}

export function renderTrace(trace: Trace): string[] {
  return trace.map(renderEntry);
}

export function stableStringify(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `${v.toString()}n`;
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const keys = Object.keys(v).sort();
  const obj = v as Record<string, unknown>;
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}

export interface TraceComparison {
  readonly equal: boolean;
  /** A unified-style diff: ' ' common, '-' expected (reference) only, '+' actual only. */
  readonly diff: string;
}

/** Compares two normalised traces line by line (LCS), producing a readable diff. */
export function compareTraces(expected: Trace, actual: Trace, labels = { expected: 'reference', actual: 'warren' }): TraceComparison {
  const a = renderTrace(expected);
  const b = renderTrace(actual);
  if (a.length === b.length && a.every((line, i) => line === b[i])) return { equal: true, diff: '' };
  const ops = lcsDiff(a, b);
  const lines = [`--- ${labels.expected}`, `+++ ${labels.actual}`];
  // Unchanged lines far from any change are elided, unified-diff style, so long traces stay readable.
  const near = ops.map((op, i) => op.kind !== ' ' || ops.slice(Math.max(0, i - CONTEXT), i + CONTEXT + 1).some((o) => o.kind !== ' '));
  let skipped = 0;
  for (const [i, op] of ops.entries()) {
    if (near[i]) {
      if (skipped > 0) lines.push(`  … ${skipped} unchanged line${skipped === 1 ? '' : 's'}`);
      skipped = 0;
      lines.push(`${op.kind}${op.line}`);
    } else skipped++;
  }
  if (skipped > 0) lines.push(`  … ${skipped} unchanged line${skipped === 1 ? '' : 's'}`);
  return { equal: false, diff: lines.join('\n') };
}

/** Unchanged lines shown around each change. */
const CONTEXT = 3;

interface DiffOp {
  readonly kind: ' ' | '-' | '+';
  readonly line: string;
}

function lcsDiff(a: readonly string[], b: readonly string[]): DiffOp[] {
  const n = a.length;
  const m = b.length;
  // table[i][j] = LCS length of a[i..] and b[j..]; traces are small (hundreds of lines at most).
  const table: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const at = (i: number, j: number): number => table[i]?.[j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    const row = table[i];
    if (row === undefined) continue;
    for (let j = m - 1; j >= 0; j--) row[j] = a[i] === b[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
  }
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    const ai = a[i];
    const bj = b[j];
    if (i < n && j < m && ai === bj && ai !== undefined) {
      ops.push({ kind: ' ', line: ai });
      i++;
      j++;
    } else if (i < n && ai !== undefined && (j >= m || at(i + 1, j) >= at(i, j + 1))) {
      // Prefer the expected line first so a changed line reads as '-' then '+'.
      ops.push({ kind: '-', line: ai });
      i++;
    } else if (bj !== undefined) {
      ops.push({ kind: '+', line: bj });
      j++;
    } else break;
  }
  return ops;
}
