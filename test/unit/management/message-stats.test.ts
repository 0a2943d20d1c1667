import { describe, expect, it } from 'vitest';
import { MessageStats, StatsSampler } from '../../../src/broker/statistics.js';
import { gaugeDetails, messageStatsJson, ratesQuery, RENDERED_KEYS } from '../../../src/management/message-stats.js';

describe('messageStatsJson', () => {
  it('is absent while nothing was counted (RabbitMQ leaves message_stats out)', () => {
    expect(messageStatsJson(new MessageStats(), undefined, 'queue')).toBeUndefined();
  });

  it('renders the keys RabbitMQ shows per kind, with deliver_get derived and *_details.rate', () => {
    let now = 0;
    const sampler = new StatsSampler({ now: () => now });
    const s = new MessageStats();
    sampler.addSource({ objects: () => [s], stats: (o) => o });
    now = 5000; sampler.sample();
    s.publish = 10; s.deliver = 3; s.getNoAck = 2; s.ack = 1; s.publishIn = 7;
    now = 10000; sampler.sample();
    const q = messageStatsJson(s, sampler.history(s), 'queue')!;
    expect(Object.keys(q).filter((k) => !k.endsWith('_details')).sort()).toEqual(
      ['ack', 'deliver', 'deliver_get', 'deliver_no_ack', 'get', 'get_empty', 'get_no_ack', 'publish', 'redeliver']);
    expect(q['publish']).toBe(10);
    expect(q['publish_details']).toEqual({ rate: 2 });
    expect(q['deliver_get']).toBe(5);
    expect(q['deliver_get_details']).toEqual({ rate: 1 });
    const x = messageStatsJson(s, sampler.history(s), 'exchange')!;
    expect(x).toEqual({ publish_in: 7, publish_in_details: { rate: 1.4 }, publish_out: 0, publish_out_details: { rate: 0 } });
    for (const kind of ['channel', 'connection', 'vhost', 'overview'] as const) {
      expect(RENDERED_KEYS[kind]).toContain('confirm');
      expect(RENDERED_KEYS[kind]).toContain('return_unroutable');
    }
  });

  it('adds samples, avg_rate and avg with msg_rates_age/msg_rates_incr', () => {
    let now = 0;
    const sampler = new StatsSampler({ now: () => now });
    const s = new MessageStats();
    sampler.addSource({ objects: () => [s], stats: (o) => o });
    for (let i = 1; i <= 4; i++) { s.publish = i * 10; now = i * 5000; sampler.sample(); }
    const q = ratesQuery(new URLSearchParams('msg_rates_age=10&msg_rates_incr=5'));
    expect(q).toEqual({ msgRates: { ageMs: 10000, incrMs: 5000 } });
    const json = messageStatsJson(s, sampler.history(s), 'vhost', q)!;
    expect(json['publish_details']).toEqual({
      rate: 2,
      samples: [{ sample: 40, timestamp: 20000 }, { sample: 30, timestamp: 15000 }, { sample: 20, timestamp: 10000 }],
      avg_rate: 2,
      avg: 30,
    });
    expect(ratesQuery(new URLSearchParams('msg_rates_age=x&msg_rates_incr=5'))).toEqual({});
  });

  it('renders gauge details from a sampled gauge', () => {
    let now = 0;
    const sampler = new StatsSampler({ now: () => now });
    const q = { stats: new MessageStats(), ready: 10 };
    sampler.addSource({ objects: () => [q], stats: (o) => o.stats, gauges: ['messages_ready'], readGauges: (o, out, at) => { out[at] = o.ready; } });
    now = 5000; sampler.sample();
    q.ready = 20;
    now = 10000; sampler.sample();
    const h = sampler.history(q);
    expect(gaugeDetails(h, sampler.gaugeField(h!, 'messages_ready'))).toEqual({ rate: 2 });
    expect(gaugeDetails(undefined, undefined)).toEqual({ rate: 0 });
    expect(gaugeDetails(undefined, undefined, ratesQuery(new URLSearchParams('lengths_age=60&lengths_incr=5'))))
      .toEqual({ rate: 0, samples: [], avg_rate: 0, avg: 0 });
  });
});
