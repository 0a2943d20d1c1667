/**
 * Writes Prometheus' text exposition format (version 0.0.4), the format RabbitMQ's
 * rabbitmq_prometheus plugin serves: per family one `# HELP` and one `# TYPE` line, then its
 * samples, each `name{label="value",...} value`.
 * Invariants: label values and help texts are escaped as the format requires (backslash,
 * double quote and newline in label values; backslash and newline in help); every family is
 * written in one contiguous block; values are finite numbers or NaN/+Inf/-Inf spelled as the
 * format spells them.
 */

export type MetricType = 'counter' | 'gauge' | 'untyped';

/** The content type of this format, as RabbitMQ's plugin sends it. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4';

/** Render `{a="x",b="y"}` from label pairs ('' for none). */
export function labelText(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return '';
  let s = '{';
  for (let i = 0; i < pairs.length; i++) {
    const [k, v] = pairs[i]!;
    if (i > 0) s += ',';
    s += `${k}="${escapeLabelValue(v)}"`;
  }
  return s + '}';
}

export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Accumulates families and samples; `text()` is the response body. */
export class ExpositionWriter {
  private readonly out: string[] = [];

  /** Start a family: its HELP and TYPE lines. Its samples must follow before the next family. */
  family(name: string, type: MetricType, help: string): void {
    this.out.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`);
  }

  /** One sample; `labels` is pre-rendered by labelText ('' for none). */
  sample(name: string, labels: string, value: number): void {
    this.out.push(`${name}${labels} ${formatValue(value)}\n`);
  }

  text(): string {
    return this.out.join('');
  }
}
