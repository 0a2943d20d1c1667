/**
 * Renders broker message statistics as RabbitMQ's management JSON: the `message_stats` object of
 * queues, exchanges, channels, connections, vhosts and the overview (`publish: 3,
 * publish_details: {rate: 0.6}`, ...), and the `*_details` of sampled gauges (`messages_details`).
 * With RabbitMQ's `msg_rates_age`/`msg_rates_incr` (or `lengths_age`/`lengths_incr`) query
 * parameters, details also carry `samples`, `avg_rate` and `avg` (rabbit_mgmt_stats' format).
 * Reads counters and sampler histories only; never on the hot path.
 */
import {
  counterField, type MessageStatKey, type MessageStats, type StatSample, type StatsHistory,
} from '../broker/statistics.js';

export type StatsKind = 'queue' | 'exchange' | 'channel' | 'connection' | 'vhost' | 'overview';

/** A rendered key: a counter, or RabbitMQ's derived deliver_get. */
type RenderedKey = MessageStatKey | 'deliver_get';

/** Which keys RabbitMQ shows for each kind of object (3.10's management JSON). */
const ALL_BUT_EXCHANGE: readonly RenderedKey[] = [
  'publish', 'confirm', 'return_unroutable', 'drop_unroutable', 'get', 'get_no_ack', 'deliver', 'deliver_no_ack',
  'redeliver', 'ack', 'deliver_get', 'get_empty',
];
const KEYS: Record<StatsKind, readonly RenderedKey[]> = {
  queue: ['publish', 'get', 'get_no_ack', 'deliver', 'deliver_no_ack', 'redeliver', 'ack', 'deliver_get', 'get_empty'],
  exchange: ['publish_in', 'publish_out'],
  channel: ALL_BUT_EXCHANGE,
  connection: ALL_BUT_EXCHANGE,
  vhost: ALL_BUT_EXCHANGE,
  overview: ALL_BUT_EXCHANGE,
};

/** deliver_get is the sum of these counters, as in RabbitMQ. */
const DELIVER_GET: readonly MessageStatKey[] = ['deliver', 'deliver_no_ack', 'get', 'get_no_ack'];

/** RabbitMQ's `*_details`: the current rate, and samples with averages when asked for. */
export interface RateDetails {
  rate: number;
  samples?: StatSample[];
  avg_rate?: number;
  avg?: number;
}

/** Sample ranges asked for with RabbitMQ's query parameters (milliseconds). */
export interface RatesQuery {
  msgRates?: { ageMs: number; incrMs: number };
  lengths?: { ageMs: number; incrMs: number };
}

/** RabbitMQ's `msg_rates_age`/`msg_rates_incr` and `lengths_age`/`lengths_incr` (seconds). */
export function ratesQuery(params: URLSearchParams): RatesQuery {
  const q: RatesQuery = {};
  const range = (age: string, incr: string) => {
    const a = Number(params.get(age));
    const i = Number(params.get(incr));
    return params.has(age) && params.has(incr) && a > 0 && i > 0 ? { ageMs: a * 1000, incrMs: i * 1000 } : undefined;
  };
  const m = range('msg_rates_age', 'msg_rates_incr');
  const l = range('lengths_age', 'lengths_incr');
  if (m !== undefined) q.msgRates = m;
  if (l !== undefined) q.lengths = l;
  return q;
}

/**
 * The `message_stats` object for one object, or undefined while it has counted nothing (RabbitMQ
 * then leaves `message_stats` out).
 */
export function messageStatsJson(stats: MessageStats, history: StatsHistory | undefined, kind: StatsKind,
  query: RatesQuery = {}): Record<string, number | RateDetails> | undefined {
  if (stats.isZero()) return undefined;
  const out: Record<string, number | RateDetails> = {};
  for (const key of KEYS[kind]) {
    const fields = key === 'deliver_get' ? DELIVER_GET.map(counterField) : [counterField(key)];
    let count = 0;
    for (const k of key === 'deliver_get' ? DELIVER_GET : [key]) count += stats.value(k);
    out[key] = count;
    out[`${key}_details`] = details(history, fields, query.msgRates);
  }
  return out;
}

/** `*_details` for one gauge field of a history (e.g. a queue's messages_ready). */
export function gaugeDetails(history: StatsHistory | undefined, field: number | undefined, query: RatesQuery = {}): RateDetails {
  return details(history, field === undefined ? [] : [field], query.lengths);
}

/** Details of the sum of `fields` (one field, or deliver_get's four). */
function details(h: StatsHistory | undefined, fields: readonly number[], range: RatesQuery['msgRates']): RateDetails {
  if (h === undefined || fields.length === 0) {
    return range === undefined ? { rate: 0 } : { rate: 0, samples: [], avg_rate: 0, avg: 0 };
  }
  let rate = 0;
  for (const f of fields) rate += h.rate(f);
  const d: RateDetails = { rate: round(rate) };
  if (range === undefined) return d;
  let samples: StatSample[] = [];
  for (const f of fields) {
    const s = h.samples(f, range.ageMs, range.incrMs);
    if (samples.length === 0) samples = s;
    else for (let i = 0; i < s.length && i < samples.length; i++) samples[i]!.sample += s[i]!.sample;
  }
  d.samples = samples;
  const first = samples[samples.length - 1];
  const last = samples[0];
  const span = first !== undefined && last !== undefined ? (last.timestamp - first.timestamp) / 1000 : 0;
  d.avg_rate = span > 0 ? round((last!.sample - first!.sample) / span) : 0;
  d.avg = samples.length > 0 ? round(samples.reduce((a, s) => a + s.sample, 0) / samples.length) : 0;
  return d;
}

/** RabbitMQ shows rates with one decimal place. */
function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Every counter key (for tests and tools that want them all). */
export const RENDERED_KEYS: Readonly<Record<StatsKind, readonly string[]>> = KEYS;
