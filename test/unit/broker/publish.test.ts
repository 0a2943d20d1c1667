/**
 * The publish operation (broker/publish.ts), without sockets: routing through exchange types,
 * exchange-to-exchange bindings and alternate exchanges; CC/BCC (headers decoded only when they may
 * hold those keys); reject-publish refusals; delayed scheduling and release; direct reply-to; the
 * durable position a confirm must wait for; dead-lettering through the same operation.
 */
import { UNRESTRICTED } from '../../../src/broker/access-control.js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { Message } from '../../../src/broker/message.js';
import { Persistence } from '../../../src/broker/persistence.js';
import { NOT_WRITTEN, PublishResult } from '../../../src/broker/publish.js';
import type { Vhost } from '../../../src/broker/vhost.js';
import { EMPTY_TABLE, fv, tableFrom, type FieldTable } from '../../../src/core/field-value.js';
import { newPropertyPeek, peekBasicProperties } from '../../../src/protocol/content-header.js';
import { encodeBasicProperties, type BasicProperties } from '../../../src/protocol/generated/properties.js';
import { CONTENT_CODEC } from '../../../src/server/content-codec.js';
import { MemoryStore } from '../../../src/store/memory-store.js';

function broker(durable = false): { b: Broker; v: Vhost } {
  const persistence = durable
    ? new Persistence(new MemoryStore(), { pagingThreshold: 1e12 }, CONTENT_CODEC, pino({ level: 'silent' }))
    : undefined;
  const b = new Broker({ ...DEFAULT_BROKER_CONFIG }, persistence);
  return { b, v: b.vhosts.get('/')! };
}

let decodes = 0;
const countingCodec = { ...CONTENT_CODEC, decodeTable: (buf: Buffer, s: number, e: number) => { decodes++; return CONTENT_CODEC.decodeTable(buf, s, e); } };

function message(exchange: string, routingKey: string, props: BasicProperties = {}, body = 'hi'): Message {
  const raw = encodeBasicProperties(props);
  const peek = newPropertyPeek();
  peekBasicProperties(raw, 0, raw.length, peek);
  return new Message(exchange, routingKey, raw, Buffer.from(body), peek.deliveryMode, peek.priority, peek.expiration,
    peek.headersStart, peek.headersEnd, countingCodec, Date.now());
}

function declare(v: Vhost, name: string, args: FieldTable = EMPTY_TABLE, durable = false) {
  return v.declareQueue({ name, passive: false, durable, exclusive: false, autoDelete: false, args, connectionId: 1 }, UNRESTRICTED);
}

function exchange(v: Vhost, name: string, type: string, args: FieldTable = EMPTY_TABLE) {
  return v.declareExchange({ name, type, passive: false, durable: false, autoDelete: false, internal: false, args }, UNRESTRICTED);
}

const strings = (...s: string[]) => fv.array(s.map(fv.str));

describe('publish operation', () => {
  it('routes through the default exchange by queue name; unroutable otherwise', () => {
    const { v } = broker();
    const q = declare(v, 'q1');
    const r = new PublishResult();
    v.publish(v.exchanges.get('')!, message('', 'q1'), r);
    expect([r.routed, r.refused, r.queues, r.durableAt]).toEqual([true, false, 1, NOT_WRITTEN]);
    expect(q.messageCount).toBe(1);
    v.publish(v.exchanges.get('')!, message('', 'nowhere'), r);
    expect([r.routed, r.queues]).toEqual([false, 0]);
  });

  it('follows exchange-to-exchange bindings and alternate exchanges, each queue once', () => {
    const { v } = broker();
    const a = declare(v, 'a');
    const b = declare(v, 'b');
    exchange(v, 'ae', 'fanout');
    const x = exchange(v, 'x', 'direct', tableFrom({ 'alternate-exchange': 'ae' }));
    exchange(v, 'y', 'fanout');
    v.bindQueue('a', 'ae', '', EMPTY_TABLE, 1, UNRESTRICTED);
    v.bindExchange('y', 'x', 'k', EMPTY_TABLE, UNRESTRICTED);
    v.bindQueue('b', 'y', '', EMPTY_TABLE, 1, UNRESTRICTED);
    v.bindQueue('b', 'x', 'k', EMPTY_TABLE, 1, UNRESTRICTED);
    const r = new PublishResult();
    v.publish(x, message('x', 'k'), r);
    expect([r.routed, r.queues, a.messageCount, b.messageCount]).toEqual([true, 1, 0, 1]);
    v.publish(x, message('x', 'other'), r);
    expect([r.routed, r.queues, a.messageCount]).toEqual([true, 1, 1]);
  });

  it('CC and BCC add routing keys; BCC is removed from what queues get; other headers are not decoded', () => {
    const { v } = broker();
    const x = exchange(v, 'd', 'direct');
    for (const n of ['k1', 'k2', 'k3']) {
      declare(v, n);
      v.bindQueue(n, 'd', n, EMPTY_TABLE, 1, UNRESTRICTED);
    }
    const r = new PublishResult();
    decodes = 0;
    v.publish(x, message('d', 'k1', { headers: tableFrom({ trace: 'abc', n: 5 }) }), r);
    expect([r.queues, decodes]).toEqual([1, 0]);
    v.publish(x, message('d', 'k1', { headers: [{ key: 'CC', value: strings('k2') }, { key: 'BCC', value: strings('k3', 'k1') }] }), r);
    expect(r.queues).toBe(3);
    expect(decodes).toBe(1);
    const got = v.queues.get('k3')!.get(true)!;
    expect(got.msg.headers()?.map((e) => e.key)).toEqual(['CC']);
  });

  it('a CC header that is not an array is refused with 406, as RabbitMQ does', () => {
    const { v } = broker();
    declare(v, 'q');
    expect(() => v.publish(v.exchanges.get('')!, message('', 'q', { headers: tableFrom({ CC: 'q' }) }), new PublishResult()))
      .toThrow('PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}');
  });

  it('x-overflow reject-publish refuses; the message still counts as routed (a nack, not a return)', () => {
    const { v } = broker();
    declare(v, 'lim', tableFrom({ 'x-max-length': 1, 'x-overflow': 'reject-publish' }));
    const r = new PublishResult();
    v.publish(v.exchanges.get('')!, message('', 'lim'), r);
    expect([r.routed, r.refused]).toEqual([true, false]);
    v.publish(v.exchanges.get('')!, message('', 'lim'), r);
    expect([r.routed, r.refused, r.queues]).toEqual([true, true, 0]);
  });

  it('x-delayed-message: a positive x-delay waits, then the same operation delivers it', async () => {
    const { b, v } = broker();
    const q = declare(v, 'later');
    const x = exchange(v, 'dx', 'x-delayed-message', tableFrom({ 'x-delayed-type': 'fanout' }));
    v.bindQueue('later', 'dx', '', EMPTY_TABLE, 1, UNRESTRICTED);
    const r = new PublishResult();
    v.publish(x, message('dx', '', { headers: tableFrom({ 'x-delay': 20 }) }), r);
    expect([r.routed, r.queues, q.messageCount, v.delayed.size]).toEqual([true, 0, 0, 1]);
    v.publish(x, message('dx', '', {}), r);
    expect(q.messageCount).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect([q.messageCount, v.delayed.size]).toEqual([2, 0]);
    b.close();
  });

  it('direct reply-to: a reply goes to the registered consumer, and is unroutable without one', () => {
    const { b, v } = broker();
    const got: string[] = [];
    b.directReplyTo.register('tok', { deliverReply: (m) => got.push(m.body.toString()) });
    const r = new PublishResult();
    v.publish(v.exchanges.get('')!, message('', 'amq.rabbitmq.reply-to.tok', {}, 'answer'), r);
    expect([r.routed, got]).toEqual([true, ['answer']]);
    b.directReplyTo.unregister('tok');
    v.publish(v.exchanges.get('')!, message('', 'amq.rabbitmq.reply-to.tok'), r);
    expect(r.routed).toBe(false);
  });

  it('names the durable position only when the publish wrote to the store (persistent message, durable queue)', () => {
    const { v } = broker(true);
    declare(v, 'dq', EMPTY_TABLE, true);
    declare(v, 'tq');
    const r = new PublishResult();
    v.publish(v.exchanges.get('')!, message('', 'dq', { deliveryMode: 2 }), r);
    expect(r.durableAt).toBeGreaterThan(NOT_WRITTEN);
    v.publish(v.exchanges.get('')!, message('', 'dq', { deliveryMode: 1 }), r);
    expect(r.durableAt).toBe(NOT_WRITTEN);
    v.publish(v.exchanges.get('')!, message('', 'tq', { deliveryMode: 2 }), r);
    expect(r.durableAt).toBe(NOT_WRITTEN);
  });

  it('dead-lettering publishes through the same operation (CC kept for routing, x-death added)', () => {
    const { v } = broker();
    exchange(v, 'dlx', 'direct');
    declare(v, 'src', tableFrom({ 'x-dead-letter-exchange': 'dlx' }));
    declare(v, 'dead1');
    declare(v, 'dead2');
    v.bindQueue('dead1', 'dlx', 'src', EMPTY_TABLE, 1, UNRESTRICTED);
    v.bindQueue('dead2', 'dlx', 'copy', EMPTY_TABLE, 1, UNRESTRICTED);
    v.publish(v.exchanges.get('')!, message('', 'src', { headers: [{ key: 'CC', value: strings('copy') }] }), new PublishResult());
    const q = v.queues.get('src')!;
    const e = q.get(false)!;
    q.reject(e);
    expect([v.queues.get('dead1')!.messageCount, v.queues.get('dead2')!.messageCount]).toEqual([1, 1]);
    const dead = v.queues.get('dead1')!.get(true)!.msg;
    expect(dead.headers()?.map((h) => h.key)).toContain('x-death');
  });
});
