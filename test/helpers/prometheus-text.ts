/**
 * A strict parser for Prometheus' text exposition format 0.0.4 (what RabbitMQ's plugin and Warren
 * serve), for tests. It throws on anything the format forbids or a scraper would choke on: a
 * missing final newline, malformed names, label values with bad escapes, duplicate label names,
 * HELP or TYPE given twice or after the family's samples, a family split into several blocks,
 * the same series twice, values that are not Go floats, negative counters.
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  type: PromType | undefined;
  help: string | undefined;
  readonly samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?Inf$|^NaN$/;
const TYPES = new Set<PromType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, PromFamily>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  lines.pop();
  const enter = (name: string, lineNo: number): PromFamily => {
    if (current !== name) {
      if (finished.has(name)) throw new Error(`line ${lineNo}: family ${name} appears in two separate blocks`);
      if (current !== undefined) finished.add(current);
      current = name;
    }
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { name, type: undefined, help: undefined, samples: [] }));
    return f;
  };
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line === '') return; // the format ignores empty lines
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${lineNo}: bad metric name '${name}'`);
      const f = enter(name, lineNo);
      if (f.samples.length > 0) throw new Error(`line ${lineNo}: ${kind} for ${name} after its samples`);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${lineNo}: second HELP for ${name}`);
        f.help = unescapeHelp(rest, lineNo);
      } else {
        if (f.type !== undefined) throw new Error(`line ${lineNo}: second TYPE for ${name}`);
        if (!TYPES.has(rest as PromType)) throw new Error(`line ${lineNo}: bad type '${rest}'`);
        f.type = rest as PromType;
      }
      return;
    }
    const s = parseSample(line, lineNo);
    const f = enter(familyOf(s.name, families, current), lineNo);
    if (f.type === 'counter' && s.value < 0) throw new Error(`line ${lineNo}: negative counter ${s.name}`);
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${lineNo}: duplicate series ${line}`);
    series.add(key);
    f.samples.push(s);
  });
  return families;
}

/** Histogram and summary samples (_bucket, _sum, _count) belong to their base family. */
function familyOf(name: string, families: Map<string, PromFamily>, current: string | undefined): string {
  if (current !== undefined && name !== current) {
    const f = families.get(current);
    if ((f?.type === 'histogram' || f?.type === 'summary') && /^(.*)_(bucket|sum|count)$/.exec(name)?.[1] === current) return current;
  }
  return name;
}

function parseSample(line: string, lineNo: number): PromSample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`line ${lineNo}: no value in '${line}'`);
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) throw new Error(`line ${lineNo}: bad metric name '${name}'`);
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0) throw new Error(`line ${lineNo}: bad labels`);
      const label = line.slice(i, eq);
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`line ${lineNo}: bad label name '${label}'`);
      if (label in labels) throw new Error(`line ${lineNo}: duplicate label '${label}'`);
      if (line[eq + 1] !== '"') throw new Error(`line ${lineNo}: unquoted label value`);
      let j = eq + 2;
      let value = '';
      for (;;) {
        const c = line[j];
        if (c === undefined) throw new Error(`line ${lineNo}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[j + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new Error(`line ${lineNo}: bad escape '\\${e ?? ''}' in label value`);
          j += 2;
          continue;
        }
        value += c;
        j++;
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`line ${lineNo}: expected , or } after label '${label}'`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`line ${lineNo}: expected one space before the value`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length > 2 || !FLOAT.test(parts[0]!)) throw new Error(`line ${lineNo}: bad value in '${line}'`);
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`line ${lineNo}: bad timestamp in '${line}'`);
  const raw = parts[0]!;
  const value = raw === 'NaN' ? NaN : /Inf$/.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
  return { name, labels, value };
}

function unescapeHelp(text: string, lineNo: number): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === 'n') return '\n';
    if (e === '\\') return '\\';
    throw new Error(`line ${lineNo}: bad escape '\\${e}' in HELP`);
  });
}

/** The one sample of an unlabelled (or single-series) family, for assertions. */
export function valueOf(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(name);
  return f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
