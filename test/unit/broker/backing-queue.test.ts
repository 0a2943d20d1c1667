/**
 * The backing queue (broker/backing-queue.ts) under its queue: order, byte counts and the memory
 * meter's account; requeue to the original position or to the back; drop and purge settle in the
 * store; priority levels; paging to the store past the threshold and back in order; recovery of a
 * store index, transient messages of an earlier run dropped.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createBackingQueue } from '../../../src/broker/backing-queue.js';
import { MemoryMeter } from '../../../src/broker/memory-meter.js';
import { Message } from '../../../src/broker/message.js';
import { Persistence } from '../../../src/broker/persistence.js';
import { parseQueueArguments } from '../../../src/broker/queue-arguments.js';
import { Queue } from '../../../src/broker/queue.js';
import { EMPTY_TABLE, tableFrom, type FieldTable } from '../../../src/core/field-value.js';
import { CONTENT_CODEC } from '../../../src/server/content-codec.js';
import { MemoryStore } from '../../../src/store/memory-store.js';

const EMPTY_PROPS = Buffer.from([0, 0]);

function msg(body: string, persistent = false, priority = 0): Message {
  return new Message('', 'q', EMPTY_PROPS, Buffer.from(body), persistent ? 2 : 1, priority, undefined, -1, -1, CONTENT_CODEC, 0);
}

function setup(args: FieldTable = EMPTY_TABLE, opts: { persistence?: Persistence; durable?: boolean } = {}) {
  const meter = new MemoryMeter(1e12);
  const settings = parseQueueArguments(args, 'q', '/');
  const owner = new Queue('q', '/', { durable: opts.durable ?? false, exclusiveOwner: -1, autoDelete: false, arguments: args, settings },
    meter, opts.persistence);
  return { meter, owner, b: createBackingQueue(owner, settings, meter, opts.persistence) };
}

function persistence(pagingThreshold: number, store = new MemoryStore()): Persistence {
  return new Persistence(store, { pagingThreshold }, CONTENT_CODEC, pino({ level: 'silent' }));
}

const bodies = (b: ReturnType<typeof setup>['b']): string[] => {
  const out: string[] = [];
  while (b.head() !== undefined) out.push(b.fetch(true).msg.body.toString());
  return out;
};

describe('backing queue', () => {
  it('keeps publish order, counts messages and body bytes, and the meter from publish to ack', () => {
    const { meter, b } = setup();
    for (const s of ['a', 'bb', 'ccc']) b.publish(msg(s), Infinity);
    expect([b.length, b.bytes]).toEqual([3, 6]);
    const held = meter.used;
    expect(held).toBeGreaterThan(0);
    const e = b.fetch(false);
    expect([e.msg.body.toString(), e.deliveries, b.length, b.bytes, meter.used]).toEqual(['a', 1, 2, 5, held]);
    b.ack(e);
    expect(meter.used).toBeLessThan(held);
    expect(bodies(b)).toEqual(['bb', 'ccc']);
    expect(meter.used).toBe(0);
  });

  it('requeue puts an entry back in its original position, or at the back', () => {
    const { b } = setup();
    for (const s of ['1', '2', '3']) b.publish(msg(s), Infinity);
    const first = b.fetch(false);
    const second = b.fetch(false);
    b.requeue(second, false);
    b.requeue(first, false);
    expect(bodies(b)).toEqual(['1', '2', '3']);
    for (const s of ['4', '5']) b.publish(msg(s), Infinity);
    const four = b.fetch(false);
    const back = b.requeue(four, true);
    expect(back).not.toBe(four);
    expect(back.deliveries).toBe(1);
    expect(bodies(b)).toEqual(['5', '4']);
  });

  it('drop and purge remove messages for good', () => {
    const { meter, b } = setup();
    for (const s of ['x', 'y', 'z']) b.publish(msg(s), Infinity);
    expect(b.drop().msg.body.toString()).toBe('x');
    expect(b.purge()).toBe(2);
    expect([b.length, b.bytes, meter.used]).toEqual([0, 0, 0]);
  });

  it('x-max-priority: the highest level first, FIFO within a level', () => {
    const { b } = setup(tableFrom({ 'x-max-priority': 5 }));
    b.publish(msg('low', false, 1), Infinity);
    b.publish(msg('high', false, 9), Infinity);
    b.publish(msg('mid', false, 3), Infinity);
    b.publish(msg('high2', false, 5), Infinity);
    expect(b.canPage).toBe(false); // no store to page to
    expect(bodies(b)).toEqual(['high', 'high2', 'mid', 'low']);
  });

  it('pages new messages to the store past the threshold and reads them back in order', () => {
    const p = persistence(0);
    const { meter, b } = setup(EMPTY_TABLE, { persistence: p });
    expect(b.canPage).toBe(true);
    meter.add(1); // over the (zero) threshold: everything from now on is paged
    for (let i = 0; i < 600; i++) expect(b.publish(msg(`m${i}`), Infinity)).toBeUndefined();
    expect([b.length, b.bytes]).toEqual([600, 10 * 2 + 90 * 3 + 500 * 4]);
    meter.sub(1);
    const got = bodies(b);
    expect(got.length).toBe(600);
    expect(got.slice(0, 3)).toEqual(['m0', 'm1', 'm2']);
    expect(got[599]).toBe('m599');
    expect(p.store.queue('/\u0000q').count).toBe(0);
  });

  it('persistent messages of a durable queue are in the store index until acked; recovery reads them back', () => {
    const store = new MemoryStore();
    const p = persistence(1e12, store);
    const { b } = setup(EMPTY_TABLE, { persistence: p, durable: true });
    b.publish(msg('kept', true), Infinity);
    b.publish(msg('gone', false), Infinity);
    b.publish(msg('acked', true), Infinity);
    const index = store.queue('/\u0000q');
    expect(index.count).toBe(2);
    b.fetch(true);
    b.fetch(true);
    const e = b.fetch(false);
    expect(index.count).toBe(1);
    b.ack(e);
    expect(index.count).toBe(0);

    b.publish(msg('after restart', true), Infinity);
    const fresh = setup(EMPTY_TABLE, { persistence: p, durable: true });
    fresh.b.recover((k) => store.queue(k), () => false);
    expect(fresh.b.length).toBe(1);
    expect(bodies(fresh.b)).toEqual(['after restart']);
  });

  it('recovery drops transient messages an earlier run paged out', () => {
    const store = new MemoryStore();
    const earlier = persistence(0, store);
    const { meter, b } = setup(EMPTY_TABLE, { persistence: earlier, durable: true });
    meter.add(1);
    b.publish(msg('transient'), Infinity);
    b.publish(msg('persistent', true), Infinity);
    const later = persistence(1e12, store);
    const fresh = setup(EMPTY_TABLE, { persistence: later, durable: true });
    fresh.b.recover((k) => store.queue(k), () => true);
    expect(bodies(fresh.b)).toEqual(['persistent']);
  });
});
