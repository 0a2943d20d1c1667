/**
 * The seam through which message statistics reach the management JSON. Whoever keeps the counters
 * and the sampler (src/broker/statistics.ts, wired by the CLI) implements it; the renderers ask it
 * for `message_stats` and for the `*_details` of sampled gauges. Without a source (or while an object
 * has counted nothing) `message_stats` is left out and rates are 0, as RabbitMQ shows objects that
 * have no statistics yet.
 *
 * Objects are the broker's own (Queue, Exchange, Vhost), the registered connection
 * (ManagedConnection) and a channel snapshot's `ref`; the overview passes the Broker.
 */
import type { RateDetails, RatesQuery, StatsKind } from './message-stats.js';

export type MessageStatsJson = Record<string, number | RateDetails>;

export interface StatisticsSource {
  /** `message_stats` of one object, undefined to leave it out. */
  messageStats(kind: StatsKind, obj: object, query: RatesQuery): MessageStatsJson | undefined;
  /**
   * `<gauge>_details` (e.g. messages_ready_details) of a queue, vhost or the overview; undefined
   * renders `{rate: 0}`.
   */
  gaugeDetails?(kind: StatsKind, obj: object, gauge: string, query: RatesQuery): RateDetails | undefined;
}
