/**
 * The default StatisticsSource: the broker's own counters (src/broker/statistics.ts). An object
 * that carries a `stats: MessageStats` field (queues, exchanges, vhosts, channels, connections, as
 * the hot path gets its counters) gets `message_stats` rendered from it and from the sampler's
 * history; the overview sums the vhosts'. Objects without counters (yet) get none, as RabbitMQ
 * shows objects that have no statistics.
 */
import type { Broker } from '../broker/broker.js';
import { MessageStats } from '../broker/statistics.js';
import { gaugeDetails, messageStatsJson, type RateDetails, type RatesQuery, type StatsKind } from './message-stats.js';
import type { MessageStatsJson, StatisticsSource } from './statistics-source.js';

function statsOf(obj: object): MessageStats | undefined {
  const s = (obj as { stats?: unknown }).stats;
  return s instanceof MessageStats ? s : undefined;
}

/** The object the sampler keeps a history for: a registry handle stands for its `ref`. */
function keyOf(obj: object): object {
  const ref = (obj as { ref?: unknown }).ref;
  return typeof ref === 'object' && ref !== null ? ref : obj;
}

export function brokerStatisticsSource(broker: Broker): StatisticsSource {
  const sampler = broker.statistics.sampler;
  const totals = new MessageStats();
  return {
    messageStats(kind: StatsKind, obj: object, query: RatesQuery): MessageStatsJson | undefined {
      if (obj === broker) {
        const vhosts = [...broker.vhosts.values()].flatMap((v) => {
          const s = statsOf(v);
          return s === undefined ? [] : [{ stats: s }];
        });
        if (vhosts.length === 0) return undefined;
        return messageStatsJson(broker.statistics.totals(vhosts, totals), sampler.history(broker), kind, query);
      }
      const stats = statsOf(obj);
      return stats === undefined ? undefined : messageStatsJson(stats, sampler.history(keyOf(obj)), kind, query);
    },
    gaugeDetails(_kind: StatsKind, obj: object, gauge: string, query: RatesQuery): RateDetails | undefined {
      const h = sampler.history(keyOf(obj));
      return h === undefined ? undefined : gaugeDetails(h, sampler.gaugeField(h, gauge), query);
    },
  };
}
