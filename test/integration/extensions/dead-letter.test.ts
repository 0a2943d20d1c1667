/**
 * Dead lettering (rabbitmq.com/docs/dlx) with RabbitMQ 3.10's observable details: which events
 * dead-letter (reject/nack with requeue=false, expiry, maxlen; never requeue=true), routing with and
 * without x-dead-letter-routing-key (original routing keys incl. CC), the x-death header byte-typed
 * exactly as the reference writes it (array of tables; count is a signed 64-bit 'l', time an AMQP
 * timestamp 'T', strings 'S'; one entry per queue+reason, the matching entry's count incremented and
 * moved to the front while its other fields keep the FIRST death's values), x-first-death-*,
 * expiration moved into original-expiration, CC/BCC removed, cycle detection, and the retry with
 * exponential backoff pattern built from per-level TTL delay queues, end to end.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox, roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { drain, getEventually, getUnacked, nowSeconds, typedGet, untype, xDeathOf, type Typed, type XDeath } from './extension-helpers.js';

const ctx = useBroker();

/**
 * x-death order: the entry of the most recent death is first. The order of the OTHER entries is not
 * defined by RabbitMQ 3.10 (it regroups them through an Erlang dict, i.e. in hash order); 3.13+
 * keeps them most-recent-first. So: exact first entry, the rest compared as a set.
 */
function expectDeaths(deaths: XDeath[], first: [string, string, number], others: Array<[string, string, number]>): void {
  const rows = deaths.map((d): [string, string, number] => [d.queue, d.reason, d.count]);
  expect(rows[0]).toEqual(first);
  const key = (r: [string, string, number]): string => r.join('|');
  expect(rows.slice(1).map(key).sort()).toEqual(others.map(key).sort());
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('what gets dead-lettered', () => {
  it.each([
    ['basic.reject requeue=false', 'reject'],
    ['basic.nack requeue=false', 'nack'],
    ['basic.nack multiple requeue=false', 'nack-multiple'],
  ] as const)('%s dead-letters to the DLX with the x-dead-letter-routing-key', async (_label, how) => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('dl-src');
    const dead = ctx.name('dl-dst');
    const dlx = ctx.name('dlx');
    await ch.assertExchange(dlx, 'direct', { autoDelete: true });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, 'dead-key');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead-key' } });
    ch.sendToQueue(q, Buffer.from('m1'));
    ch.sendToQueue(q, Buffer.from('m2'));
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: false });
    const [m1, m2] = await inbox.count(2);
    if (m1 === undefined || m2 === undefined) throw new Error('two deliveries expected');
    if (how === 'reject') { ch.reject(m1, false); ch.reject(m2, false); }
    if (how === 'nack') { ch.nack(m1, false, false); ch.nack(m2, false, false); }
    if (how === 'nack-multiple') ch.nack(m2, true, false);
    const a = await getEventually(ch, dead);
    const b = await getEventually(ch, dead);
    expect([a.content.toString(), b.content.toString()]).toEqual(['m1', 'm2']);
    expect(a.fields.exchange).toBe(dlx);
    expect(a.fields.routingKey).toBe('dead-key');
    expect(a.fields.redelivered).toBe(false);
    expect(xDeathOf(a)).toHaveLength(1);
    expect(xDeathOf(a)[0]).toMatchObject({ count: 1, reason: 'rejected', queue: q, exchange: '', 'routing-keys': [q] });
    await ch.deleteExchange(dlx);
  });

  it('a message taken with basic.get and rejected is dead-lettered too', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('dl-get');
    const dead = ctx.name('dl-get-dst');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('h'));
    const got = await getUnacked(ch, q);
    ch.reject(got, false);
    expect((await getEventually(ch, dead)).content.toString()).toBe('h');
  });

  it('requeue=true never dead-letters', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('dl-requeue');
    const dead = ctx.name('dl-requeue-dst');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('r'));
    const inbox = new Inbox();
    const { consumerTag } = await ch.consume(q, inbox.handler, { noAck: false });
    const [m] = await inbox.count(1);
    if (m === undefined) throw new Error('delivery expected');
    await ch.cancel(consumerTag);
    ch.nack(m, false, true);
    await roundTrip(ch);
    const again = await getEventually(ch, q);
    expect(again.fields.redelivered).toBe(true);
    expect(again.properties.headers?.['x-death']).toBeUndefined();
    expect((await ch.checkQueue(dead)).messageCount).toBe(0);
  });

  it('without x-dead-letter-routing-key the original routing keys are used (CC keys included)', async () => {
    const ch = await ctx.clients.channel();
    const src = ctx.name('dl-keys');
    const dlx = ctx.name('dlx-keys');
    const byKey = ctx.name('dl-by-key');
    const byCc = ctx.name('dl-by-cc');
    await ch.assertExchange(dlx, 'direct', { autoDelete: true });
    await ch.assertQueue(byKey, { exclusive: true });
    await ch.assertQueue(byCc, { exclusive: true });
    await ch.bindQueue(byKey, dlx, 'orig');
    await ch.bindQueue(byCc, dlx, 'cc-key');
    await ch.assertQueue(src, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx } });
    await ch.bindQueue(src, 'amq.direct', 'orig');
    ch.publish('amq.direct', 'orig', Buffer.from('k'), { CC: ['cc-key'] });
    const m = await getUnacked(ch, src);
    ch.nack(m, false, false);
    const viaKey = await getEventually(ch, byKey);
    const viaCc = await getEventually(ch, byCc);
    expect(viaKey.fields.routingKey).toBe('orig');
    expect(viaCc.fields.routingKey).toBe('orig');
    expect(xDeathOf(viaKey)[0]).toMatchObject({ exchange: 'amq.direct', 'routing-keys': ['orig', 'cc-key'] });
    // Without x-dead-letter-routing-key the CC header is kept (RabbitMQ only removes it when the
    // routing key is replaced, so the copy is not routed to the CC keys again).
    expect(viaKey.properties.headers?.['CC']).toEqual(['cc-key']);
    await ch.unbindQueue(src, 'amq.direct', 'orig');
    await ch.deleteExchange(dlx);
  });

  it('with x-dead-letter-routing-key the CC header is removed (x-death keeps the CC keys)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('dl-cc');
    const dead = ctx.name('dl-cc-dst');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('c'), { CC: ['nowhere-1'], BCC: ['nowhere-2'], headers: { keep: 'me' } });
    const m = await getUnacked(ch, q);
    expect(m.properties.headers?.['CC']).toEqual(['nowhere-1']);
    expect(m.properties.headers?.['BCC']).toBeUndefined();
    ch.reject(m, false);
    const d = await getEventually(ch, dead);
    expect(d.properties.headers?.['CC']).toBeUndefined();
    expect(d.properties.headers?.['BCC']).toBeUndefined();
    expect(d.properties.headers?.['keep']).toBe('me');
    // BCC keys are not recorded either: they never reach the stored message.
    expect(xDeathOf(d)[0]?.['routing-keys']).toEqual([q, 'nowhere-1']);
  });

  it('a DLX that does not exist drops the message silently (channel stays open)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('dl-missing');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': ctx.name('no-such-x') } });
    ch.sendToQueue(q, Buffer.from('lost'));
    const m = await getUnacked(ch, q);
    ch.reject(m, false);
    await roundTrip(ch);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });

  it('message properties are kept; expiration is removed and stored as original-expiration', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('dl-props');
    const dead = ctx.name('dl-props-dst');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('p'), {
      expiration: '600000', contentType: 'text/plain', correlationId: 'corr-1', messageId: 'mid-1',
      persistent: true, priority: 3, headers: { app: 'kept' },
    });
    const m = await getUnacked(ch, q);
    ch.reject(m, false);
    const d = await getEventually(ch, dead);
    expect(d.properties).toMatchObject({ contentType: 'text/plain', correlationId: 'corr-1', messageId: 'mid-1', deliveryMode: 2, priority: 3 });
    expect(d.properties.expiration).toBeUndefined();
    expect(d.properties.headers?.['app']).toBe('kept');
    expect(xDeathOf(d)[0]?.['original-expiration']).toBe('600000');
  });
});

describe('the x-death header', () => {
  /** Type-tagged value helpers, matching what RabbitMQ 3.10 writes. */
  const S = (v: string): Typed => ({ t: 'S', v });
  const l = (v: number): Typed => ({ t: 'l', v });

  it('after one dead-lettering: exact field types and values, x-first-death-*', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('xd-one');
    const dead = ctx.name('xd-one-dst');
    const dlx = ctx.name('xd-one-dlx');
    await ch.assertExchange(dlx, 'direct', { autoDelete: true });
    await ch.assertQueue(dead, { exclusive: false });
    await ch.bindQueue(dead, dlx, 'to-dead');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'to-dead' } });
    await ch.bindQueue(q, 'amq.topic', `${q}.#`);
    try {
      const before = nowSeconds();
      ch.publish('amq.topic', `${q}.created`, Buffer.from('body'), { expiration: '100000', headers: { app: 'x' } });
      const m = await getUnacked(ch, q);
      ch.reject(m, false);
      await waitFor(async () => (await ch.checkQueue(dead)).messageCount === 1);
      const got = await typedGet(ctx.port, dead);
      if (got === undefined) throw new Error('dead-lettered message expected');
      expect(got.exchange).toBe(dlx);
      expect(got.routingKey).toBe('to-dead');
      expect(got.expiration).toBeUndefined();
      const xd = got.headers['x-death'];
      expect(xd?.t).toBe('A');
      const entries = xd?.v as Typed[];
      expect(entries).toHaveLength(1);
      const entry = entries[0];
      expect(entry?.t).toBe('F');
      const fields = entry?.v as { [k: string]: Typed };
      expect(Object.keys(fields).sort()).toEqual(['count', 'exchange', 'original-expiration', 'queue', 'reason', 'routing-keys', 'time']);
      expect(fields['count']).toEqual(l(1));
      expect(fields['reason']).toEqual(S('rejected'));
      expect(fields['queue']).toEqual(S(q));
      expect(fields['exchange']).toEqual(S('amq.topic'));
      expect(fields['routing-keys']).toEqual({ t: 'A', v: [S(`${q}.created`)] });
      expect(fields['original-expiration']).toEqual(S('100000'));
      expect(fields['time']?.t).toBe('T');
      const time = fields['time']?.v as number;
      expect(time).toBeGreaterThanOrEqual(before - 1);
      expect(time).toBeLessThanOrEqual(nowSeconds() + 1);
      expect(got.headers['x-first-death-exchange']).toEqual(S('amq.topic'));
      expect(got.headers['x-first-death-queue']).toEqual(S(q));
      expect(got.headers['x-first-death-reason']).toEqual(S('rejected'));
      expect(got.headers['app']).toBeDefined();
      if (ctx.isReference) {
        // RabbitMQ 3.10 writes no x-last-death-* (they arrived in 3.13).
        expect(Object.keys(got.headers).filter((k) => k.startsWith('x-last-death'))).toEqual([]);
      } else {
        // Warren writes them as RabbitMQ 3.13+ does (issue 5): the most recent death.
        expect(got.headers['x-last-death-exchange']).toEqual(S('amq.topic'));
        expect(got.headers['x-last-death-queue']).toEqual(S(q));
        expect(got.headers['x-last-death-reason']).toEqual(S('rejected'));
      }
    } finally {
      await ch.unbindQueue(q, 'amq.topic', `${q}.#`);
      await ch.deleteQueue(dead);
      await ch.deleteExchange(dlx);
    }
  });

  it('amqplib sees time as a timestamp and count as a number', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('xd-amqplib');
    const dead = ctx.name('xd-amqplib-dst');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('t'));
    const m = await getUnacked(ch, q);
    ch.reject(m, false);
    const d = await getEventually(ch, dead);
    const [death] = xDeathOf(d);
    expect(death?.count).toBe(1);
    expect(death?.time).toEqual({ '!': 'timestamp', value: expect.any(Number) as unknown });
    expect(death).not.toHaveProperty('original-expiration');
  });

  it('@cloudamqp/amqp-client decodes x-death time as a Date (AMQP timestamp)', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = ctx.name('xd-cloud');
    const dead = ctx.name('xd-cloud-dst');
    await ch.queueDeclare(dead, { exclusive: true });
    await ch.queueDeclare(q, { exclusive: true }, { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead });
    await ch.basicPublish('', q, 'cloud', { expiration: '60000' });
    let m = await ch.basicGet(q, { noAck: false });
    await waitFor(async () => m !== null || (m = await ch.basicGet(q, { noAck: false })) !== null);
    await m?.reject(false);
    let d = await ch.basicGet(dead, { noAck: true });
    await waitFor(async () => d !== null || (d = await ch.basicGet(dead, { noAck: true })) !== null);
    const xd = d?.properties.headers?.['x-death'] as Array<Record<string, unknown>> | undefined;
    expect(xd?.[0]?.['time']).toBeInstanceOf(Date);
    expect(xd?.[0]).toMatchObject({ count: 1, reason: 'rejected', queue: q, exchange: '', 'routing-keys': [q], 'original-expiration': '60000' });
  });

  it('after repeated dead-lettering: one entry per queue+reason, count incremented, latest first, first-death fields kept', async () => {
    // q1 --reject--> dlx --> q2 --reject--> '' (q1) --reject--> dlx --> q2
    const ch = await ctx.clients.channel();
    const q1 = ctx.name('xd-a');
    const q2 = ctx.name('xd-b');
    const dlx = ctx.name('xd-dlx');
    await ch.assertExchange(dlx, 'direct', { autoDelete: true });
    await ch.assertQueue(q1, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'to-b' } });
    await ch.assertQueue(q2, { exclusive: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q1 } });
    await ch.bindQueue(q2, dlx, 'to-b');
    await ch.bindQueue(q1, 'amq.direct', q1);
    try {
      ch.publish('amq.direct', q1, Buffer.from('loop'), { expiration: '100000' });
      const rejectFrom = async (queue: string): Promise<void> => {
        const m = await getUnacked(ch, queue);
        ch.reject(m, false);
      };
      await rejectFrom(q1);
      await rejectFrom(q2);
      // Second visit to q1: it carries both entries, q2's first (most recent).
      const again = await getUnacked(ch, q1);
      const mid = xDeathOf(again);
      expect(mid.map((d) => [d.queue, d.reason, d.count])).toEqual([[q2, 'rejected', 1], [q1, 'rejected', 1]]);
      expect(mid[0]).toMatchObject({ exchange: dlx, 'routing-keys': ['to-b'] });
      expect(mid[0]).not.toHaveProperty('original-expiration');
      expect(again.properties.expiration).toBeUndefined();
      const firstTime = (mid[1]?.time as { value: number }).value;
      ch.reject(again, false);
      await waitFor(async () => (await ch.checkQueue(q2)).messageCount === 1);
      const got = await typedGet(ctx.port, q2);
      if (got === undefined) throw new Error('message expected in q2');
      const entries = (got.headers['x-death']?.v as Typed[]).map((e) => untype(e) as Record<string, unknown>);
      expect(entries.map((e) => [e['queue'], e['reason'], e['count']])).toEqual([[q1, 'rejected', 2], [q2, 'rejected', 1]]);
      // The incremented entry keeps the values of q1's FIRST death: published via amq.direct with
      // routing key q1 and expiration 100000 (the second arrival came via '' without expiration).
      expect(entries[0]).toMatchObject({ exchange: 'amq.direct', 'routing-keys': [q1], 'original-expiration': '100000', time: firstTime });
      const countField = ((got.headers['x-death']?.v as Typed[])[0]?.v as { [k: string]: Typed })['count'];
      expect(countField).toEqual({ t: 'l', v: 2 });
      expect(untype(got.headers['x-first-death-queue'] ?? { t: 'V', v: null })).toBe(q1);
      expect(untype(got.headers['x-first-death-exchange'] ?? { t: 'V', v: null })).toBe('amq.direct');
      expect(untype(got.headers['x-first-death-reason'] ?? { t: 'V', v: null })).toBe('rejected');
      if (!ctx.isReference) {
        expect(untype(got.headers['x-last-death-queue'] ?? { t: 'V', v: null })).toBe(q1);
        expect(untype(got.headers['x-last-death-reason'] ?? { t: 'V', v: null })).toBe('rejected');
        expect(untype(got.headers['x-last-death-exchange'] ?? { t: 'V', v: null })).toBe('');
      }
    } finally {
      await ch.unbindQueue(q1, 'amq.direct', q1);
      await ch.deleteQueue(q2);
      await ch.deleteExchange(dlx);
    }
  });

  it('different reasons in the same queue get separate entries', async () => {
    // q (TTL via per-message expiration) expires a message into q2, which rejects it back to q,
    // where it is rejected: entries (q, rejected), (q2, rejected), (q, expired).
    const ch = await ctx.clients.channel();
    const q = ctx.name('xd-reasons');
    const q2 = ctx.name('xd-reasons-2');
    await ch.assertQueue(q2, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q } });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q2 } });
    ch.sendToQueue(q, Buffer.from('r'), { expiration: '5' });
    const m = await getUnacked(ch, q2);
    expect(xDeathOf(m).map((d) => [d.queue, d.reason])).toEqual([[q, 'expired']]);
    ch.reject(m, false);
    const back = await getUnacked(ch, q);
    ch.reject(back, false);
    const final = await getEventually(ch, q2);
    expectDeaths(xDeathOf(final), [q, 'rejected', 1], [[q2, 'rejected', 1], [q, 'expired', 1]]);
    expect(final.properties.headers?.['x-first-death-reason']).toBe('expired');
  });
});

describe('cycle detection', () => {
  it('a message expiring around a cycle without rejections is dropped instead of re-entering a queue', async () => {
    // a (message expiration 5 ms) --expired--> b (queue TTL 5 ms) --expired--> fanout {a, witness}.
    // Routing back into a would close a fully automatic cycle: RabbitMQ drops that copy, while the
    // witness (not in x-death) still gets one. a has no TTL of its own, so a copy that did arrive
    // there would stay visible.
    const ch = await ctx.clients.channel();
    const a = ctx.name('cyc-a');
    const b = ctx.name('cyc-b');
    const witness = ctx.name('cyc-witness');
    const back = ctx.name('cyc-back');
    await ch.assertExchange(back, 'fanout', { autoDelete: true });
    await ch.assertQueue(a, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b } });
    await ch.assertQueue(b, { exclusive: true, arguments: { 'x-message-ttl': 5, 'x-dead-letter-exchange': back } });
    await ch.assertQueue(witness, { exclusive: true });
    await ch.bindQueue(a, back, '');
    await ch.bindQueue(witness, back, '');
    ch.sendToQueue(a, Buffer.from('cycle'), { expiration: '5' });
    const w = await getEventually(ch, witness);
    expect(xDeathOf(w).map((d) => [d.queue, d.reason])).toEqual([[b, 'expired'], [a, 'expired']]);
    for (let i = 0; i < 5; i++) {
      await sleep(40);
      expect((await ch.checkQueue(a)).messageCount).toBe(0);
    }
    expect((await ch.checkQueue(b)).messageCount).toBe(0);
    await ch.deleteExchange(back);
  });

  it('a queue dead-lettering expired messages to itself drops them (a cycle of one)', async () => {
    // q (TTL 10 ms) dead-letters to a fanout bound to q itself and to a witness: the witness gets
    // exactly one copy; the copy back into q is dropped, so the witness never gets a second one.
    const ch = await ctx.clients.channel();
    const q = ctx.name('cyc-self');
    const witness = ctx.name('cyc-self-witness');
    const fan = ctx.name('cyc-self-fan');
    await ch.assertExchange(fan, 'fanout', { autoDelete: true });
    await ch.assertQueue(witness, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 10, 'x-dead-letter-exchange': fan } });
    await ch.bindQueue(q, fan, '');
    await ch.bindQueue(witness, fan, '');
    ch.sendToQueue(q, Buffer.from('self'));
    await waitFor(async () => (await ch.checkQueue(witness)).messageCount === 1);
    for (let i = 0; i < 5; i++) {
      await sleep(40);
      expect((await ch.checkQueue(witness)).messageCount).toBe(1);
    }
    const w = await getEventually(ch, witness);
    expect(xDeathOf(w).map((d) => [d.queue, d.reason, d.count])).toEqual([[q, 'expired', 1]]);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    await ch.deleteExchange(fan);
  });

  it('a cycle containing a rejection is not a cycle: the message goes round again', async () => {
    const ch = await ctx.clients.channel();
    const a = ctx.name('cyc-rej-a');
    const b = ctx.name('cyc-rej-b');
    await ch.assertQueue(a, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b } });
    await ch.assertQueue(b, { exclusive: true, arguments: { 'x-message-ttl': 5, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a } });
    ch.sendToQueue(a, Buffer.from('round'));
    for (let round = 1; round <= 3; round++) {
      const m = await getUnacked(ch, a);
      if (round > 1) expect(xDeathOf(m).find((d) => d.queue === a)?.count).toBe(round - 1);
      ch.reject(m, false);
    }
  });
});

describe('retry with exponential backoff (DLX + per-level TTL delay queues)', () => {
  /**
   * The topology applications build on RabbitMQ, with rejections only:
   *   work-x (direct) --task, retry1.task, retry2.task--> work (DLX retry-x, routing key kept)
   *   retry-x --task--> delay-1 (TTL d) ; --retry1.task--> delay-2 (TTL 2d) ; --retry2.task--> delay-3 (TTL 4d)
   *   delay-k (DLX work-x, routing key retry<k>.task) ; --retry3.task--> parking
   */
  async function topology(delay: number) {
    const ch = await ctx.clients.channel();
    const workX = ctx.name('work-x');
    const retryX = ctx.name('retry-x');
    const work = ctx.name('work');
    const parking = ctx.name('parking');
    const delays = [1, 2, 3].map((k) => ctx.name(`delay-${k}`));
    await ch.assertExchange(workX, 'direct', { autoDelete: false });
    await ch.assertExchange(retryX, 'direct', { autoDelete: false });
    await ch.assertQueue(work, { exclusive: true, arguments: { 'x-dead-letter-exchange': retryX } });
    for (const key of ['task', 'retry1.task', 'retry2.task', 'retry3.task']) await ch.bindQueue(work, workX, key);
    for (const [i, d] of delays.entries()) {
      const level = i + 1;
      await ch.assertQueue(d, {
        exclusive: true,
        arguments: { 'x-message-ttl': delay * 2 ** i, 'x-dead-letter-exchange': workX, 'x-dead-letter-routing-key': `retry${level}.task` },
      });
      await ch.bindQueue(d, retryX, level === 1 ? 'task' : `retry${level - 1}.task`);
    }
    await ch.assertQueue(parking, { exclusive: true });
    await ch.bindQueue(parking, retryX, 'retry3.task');
    const cleanup = async (): Promise<void> => {
      await ch.deleteExchange(workX);
      await ch.deleteExchange(retryX);
    };
    return { ch, workX, work, parking, delays, cleanup };
  }

  it('the consumer rejects three times, then succeeds; each attempt comes back through the next delay level', async () => {
    const { ch, workX, work, delays, parking, cleanup } = await topology(20);
    try {
      const attempts: ConsumeMessage[] = [];
      let done: ConsumeMessage | undefined;
      await ch.consume(work, (m) => {
        if (m === null) return;
        attempts.push(m);
        if (attempts.length <= 3) ch.reject(m, false);
        else { ch.ack(m); done = m; }
      }, { noAck: false });
      ch.publish(workX, 'task', Buffer.from('job-1'), { messageId: 'job-1', persistent: true });
      await waitFor(() => done !== undefined, 10_000);
      expect(attempts.map((m) => m.fields.routingKey)).toEqual(['task', 'retry1.task', 'retry2.task', 'retry3.task']);
      expect(attempts.map((m) => m.content.toString())).toEqual(['job-1', 'job-1', 'job-1', 'job-1']);
      expect(attempts.map((m) => m.properties.messageId)).toEqual(['job-1', 'job-1', 'job-1', 'job-1']);
      // The retry count the application reads: the work queue's 'rejected' entry.
      expect(attempts.map((m) => (m.properties.headers?.['x-death'] === undefined ? 0 : xDeathOf(m).find((d) => d.queue === work && d.reason === 'rejected')?.count))).toEqual([0, 1, 2, 3]);
      const final = done;
      if (final === undefined) throw new Error('unreachable');
      const [d1 = '', d2 = '', d3 = ''] = delays;
      expectDeaths(xDeathOf(final), [d3, 'expired', 1], [[work, 'rejected', 3], [d2, 'expired', 1], [d1, 'expired', 1]]);
      expect(xDeathOf(final).find((d) => d.queue === work)).toMatchObject({ exchange: workX, 'routing-keys': ['task'] });
      expect(final.properties.headers?.['x-first-death-queue']).toBe(work);
      expect(final.properties.headers?.['x-first-death-reason']).toBe('rejected');
      expect((await ch.checkQueue(parking)).messageCount).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('a message failing every attempt ends in the parking lot after the last level', async () => {
    const { ch, workX, work, parking, cleanup } = await topology(10);
    try {
      let seen = 0;
      await ch.consume(work, (m) => {
        if (m === null) return;
        seen++;
        ch.reject(m, false);
      }, { noAck: false });
      ch.publish(workX, 'task', Buffer.from('poison'));
      const parked = await getEventually(ch, parking, 10_000);
      expect(parked.content.toString()).toBe('poison');
      expect(seen).toBe(4);
      expect(xDeathOf(parked).find((d) => d.queue === work)?.count).toBe(4);
      expect(await drain(ch, parking)).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});
