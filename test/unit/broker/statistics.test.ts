import { describe, expect, it } from 'vitest';
import {
  BrokerStatistics, counterField, MESSAGE_STAT_COUNT, MESSAGE_STAT_KEYS, MessageStats, StatsHistory, StatsSampler,
} from '../../../src/broker/statistics.js';

function statsWith(values: Partial<Record<keyof MessageStats, number>>): MessageStats {
  const s = new MessageStats();
  Object.assign(s, values);
  return s;
}

describe('MessageStats', () => {
  it('reads its counters in MESSAGE_STAT_KEYS order and by RabbitMQ name', () => {
    const s = new MessageStats();
    let n = 1;
    for (const k of Object.keys(s) as (keyof MessageStats)[]) (s as unknown as Record<string, number>)[k] = n++;
    const out = new Float64Array(MESSAGE_STAT_COUNT + 2);
    s.read(out, 2);
    MESSAGE_STAT_KEYS.forEach((key, i) => expect(out[2 + i], key).toBe(s.value(key)));
    expect(new Set(out.subarray(2)).size).toBe(MESSAGE_STAT_COUNT);
  });

  it('adds, clears and knows when nothing was counted', () => {
    const a = statsWith({ publish: 2, ack: 1 });
    const b = statsWith({ publish: 3, dropUnroutable: 4 });
    expect(new MessageStats().isZero()).toBe(true);
    a.add(b);
    expect(a.publish).toBe(5);
    expect(a.ack).toBe(1);
    expect(a.dropUnroutable).toBe(4);
    expect(a.isZero()).toBe(false);
    a.clear();
    expect(a.isZero()).toBe(true);
  });

  it('has only integer fields (a stable shape the hot path increments)', () => {
    const s = new MessageStats();
    expect(Object.keys(s)).toHaveLength(MESSAGE_STAT_COUNT);
    for (const v of Object.values(s)) expect(v).toBe(0);
  });
});

describe('BrokerStatistics', () => {
  it('totals are retired vhosts plus live ones', () => {
    const bs = new BrokerStatistics();
    bs.retiredVhosts.publish = 10;
    const out = new MessageStats();
    out.ack = 99;
    bs.totals([{ stats: statsWith({ publish: 1, ack: 2 }) }, { stats: statsWith({ publish: 4 }) }], out);
    expect(out.publish).toBe(15);
    expect(out.ack).toBe(2);
  });
});

describe('StatsHistory', () => {
  it('keeps the last `keep` samples in a ring and computes the rate of the two newest', () => {
    const h = new StatsHistory(3, 2);
    expect(h.rate(0)).toBe(0);
    for (let i = 0; i < 5; i++) {
      const at = h.push(i * 5000);
      h.row()[at] = i * 50;
      h.row()[at + 1] = 7;
    }
    expect(h.length).toBe(3);
    expect(h.value(0, 0)).toBe(200);
    expect(h.value(2, 0)).toBe(100);
    expect(h.time(0)).toBe(20000);
    expect(h.rate(0)).toBe(10);
    expect(h.rate(1)).toBe(0);
  });

  it('samples at now, now - incr, ... within age, newest first, from the latest sample at or before each time', () => {
    const h = new StatsHistory(10, 1);
    for (let i = 0; i < 4; i++) h.row()[h.push(1000 + i * 5000)] = i;
    // samples at 1000, 6000, 11000, 16000 with values 0..3
    expect(h.samples(0, 10000, 5000)).toEqual([
      { sample: 3, timestamp: 16000 }, { sample: 2, timestamp: 11000 }, { sample: 1, timestamp: 6000 },
    ]);
    expect(h.samples(0, 60000, 5000).map((s) => s.sample)).toEqual([3, 2, 1, 0]);
    expect(h.samples(0, 7000, 3000).map((s) => [s.sample, s.timestamp])).toEqual([[3, 16000], [2, 13000], [1, 10000]]);
    expect(h.samples(0, 60000, 0)).toEqual([]);
    expect(new StatsHistory(2, 1).samples(0, 60000, 5000)).toEqual([]);
  });
});

describe('StatsSampler', () => {
  interface Obj { stats: MessageStats; ready: number }

  function setup() {
    let now = 100_000;
    const objs: Obj[] = [];
    const sampler = new StatsSampler({ now: () => now, keep: 4 });
    sampler.addSource<Obj>({
      objects: () => objs,
      stats: (o) => o.stats,
      gauges: ['messages_ready'],
      readGauges: (o, out, at) => { out[at] = o.ready; },
    });
    return { objs, sampler, tick: (ms = 5000) => { now += ms; sampler.sample(); } };
  }

  it('allocates no history for an object that has counted nothing', () => {
    const { objs, sampler, tick } = setup();
    const idle = { stats: new MessageStats(), ready: 0 };
    objs.push(idle);
    tick();
    tick();
    expect(sampler.history(idle)).toBeUndefined();
  });

  it('gives a correct first rate: counters started at zero at the previous tick', () => {
    const { objs, sampler, tick } = setup();
    const o = { stats: new MessageStats(), ready: 0 };
    objs.push(o);
    tick();
    o.stats.publish = 500;
    tick();
    const h = sampler.history(o)!;
    expect(h.rate(counterField('publish'))).toBe(100);
    o.stats.publish = 600;
    o.stats.ack = 50;
    tick();
    expect(h.rate(counterField('publish'))).toBe(20);
    expect(h.rate(counterField('ack'))).toBe(10);
  });

  it('samples gauges, and a gauge alone starts a history (a recovered queue)', () => {
    const { objs, sampler, tick } = setup();
    const o = { stats: new MessageStats(), ready: 1000 };
    objs.push(o);
    tick();
    const h = sampler.history(o)!;
    const f = sampler.gaugeField(h, 'messages_ready')!;
    expect(f).toBe(MESSAGE_STAT_COUNT);
    expect(h.rate(f)).toBe(0);
    o.ready = 900;
    tick();
    expect(h.rate(f)).toBe(-20);
    expect(sampler.gaugeField(h, 'nope')).toBeUndefined();
  });

  it('keeps only `keep` samples per object and the source may ask for more', () => {
    let now = 0;
    const sampler = new StatsSampler({ now: () => now, keep: 2 });
    const a = { stats: statsWith({ publish: 1 }) };
    const b = { stats: statsWith({ publish: 1 }) };
    sampler.addSource({ objects: () => [a], stats: (o) => o.stats });
    sampler.addSource({ objects: () => [b], stats: (o) => o.stats, keep: 5 });
    for (let i = 0; i < 6; i++) { now += 5000; sampler.sample(); }
    expect(sampler.history(a)!.length).toBe(2);
    expect(sampler.history(b)!.length).toBe(5);
  });

  it('runs on an unref-ed timer that start/stop control', () => {
    const sampler = new StatsSampler({ intervalMs: 10 });
    sampler.start();
    sampler.start();
    sampler.stop();
    sampler.stop();
  });
});
