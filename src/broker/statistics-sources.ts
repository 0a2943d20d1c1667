/**
 * What the statistics sampler follows in a broker, and with which gauges: the broker itself (the
 * overview: every vhost's counts, queue totals), each vhost, queue and exchange, and each open
 * connection and channel of the connection registry. The management API and the console read the
 * histories by the same objects (sampler.history(queue), sampler.history(broker), ...).
 * Runs every 5 s, off the hot path: it walks the objects and copies their counters.
 */
import type { Broker } from './broker.js';
import type { Exchange } from './exchange.js';
import type { Queue } from './queue.js';
import { MessageStats, type SampleSource } from './statistics.js';
import type { Vhost } from './vhost.js';

/** The gauges sampled with queues, vhosts and the overview (RabbitMQ's `*_details` of lengths). */
export const LENGTH_GAUGES = ['messages', 'messages_ready', 'messages_unacknowledged'] as const;

/** Samples kept: the overview and vhosts 10 minutes (RabbitMQ's global retention), other objects 1 minute. */
const OVERVIEW_SAMPLES = 120;
const VHOST_SAMPLES = 120;

function readQueueLengths(queues: Iterable<Queue>, out: Float64Array, at: number): void {
  let ready = 0;
  let unacked = 0;
  for (const q of queues) {
    ready += q.messageCount;
    unacked += q.unackedCount;
  }
  out[at] = ready + unacked;
  out[at + 1] = ready;
  out[at + 2] = unacked;
}

function* allQueues(broker: Broker): Iterable<Queue> {
  for (const v of broker.vhosts.values()) yield* v.queues.values();
}

function* allExchanges(broker: Broker): Iterable<Exchange> {
  for (const v of broker.vhosts.values()) yield* v.exchanges.values();
}

const ZERO = new MessageStats();

function statsOf(obj: object): MessageStats {
  const s = (obj as { stats?: unknown }).stats;
  return s instanceof MessageStats ? s : ZERO;
}

function* allChannels(broker: Broker): Iterable<object> {
  for (const c of broker.connections.all()) for (const ch of c.channels()) yield ch.ref;
}

export function registerSampleSources(broker: Broker): void {
  const sampler = broker.statistics.sampler;
  const totals = new MessageStats();
  const overview: SampleSource<Broker> = {
    objects: () => [broker],
    stats: (b) => b.statistics.totals(b.vhosts.values(), totals),
    gauges: LENGTH_GAUGES,
    readGauges: (b, out, at) => readQueueLengths(allQueues(b), out, at),
    keep: OVERVIEW_SAMPLES,
  };
  const vhosts: SampleSource<Vhost> = {
    objects: () => broker.vhosts.values(),
    stats: (v) => v.stats,
    gauges: LENGTH_GAUGES,
    readGauges: (v, out, at) => readQueueLengths(v.queues.values(), out, at),
    keep: VHOST_SAMPLES,
  };
  const queues: SampleSource<Queue> = {
    objects: () => allQueues(broker),
    stats: (q) => q.stats,
    gauges: LENGTH_GAUGES,
    readGauges: (q, out, at) => readQueueLengths([q], out, at),
  };
  const exchanges: SampleSource<Exchange> = { objects: () => allExchanges(broker), stats: (x) => x.stats };
  // Connections and channels carry `stats` once the server registers them (the registry's objects).
  const connections: SampleSource<object> = { objects: () => broker.connections.all(), stats: statsOf };
  const channels: SampleSource<object> = { objects: () => allChannels(broker), stats: statsOf };
  for (const s of [overview, vhosts, queues, exchanges, connections, channels] as SampleSource<object>[]) sampler.addSource(s);
}
