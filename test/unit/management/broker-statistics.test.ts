/**
 * The default statistics source: objects carrying `stats` counters get RabbitMQ's message_stats,
 * others none; the overview sums the vhosts' counters.
 */
import { describe, expect, it } from 'vitest';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { MessageStats } from '../../../src/broker/statistics.js';
import { brokerStatisticsSource } from '../../../src/management/broker-statistics.js';

describe('brokerStatisticsSource', () => {
  it('renders message_stats from an object\'s counters, none without them', () => {
    const broker = new Broker({ ...DEFAULT_BROKER_CONFIG });
    const source = brokerStatisticsSource(broker);
    const counted = { stats: new MessageStats() };
    counted.stats.publish = 3;
    expect(source.messageStats('queue', counted, {})).toMatchObject({ publish: 3, publish_details: { rate: 0 } });
    expect(source.messageStats('queue', {}, {})).toBeUndefined();
    expect(source.messageStats('overview', broker, {})).toBeUndefined();
    const v = broker.vhosts.get('/')!;
    const vstats = new MessageStats();
    vstats.deliver = 2;
    Object.assign(v, { stats: vstats });
    expect(source.messageStats('overview', broker, {})).toMatchObject({ deliver: 2, deliver_get: 2 });
    expect(source.gaugeDetails?.('queue', counted, 'messages', {})).toBeUndefined();
  });
});
