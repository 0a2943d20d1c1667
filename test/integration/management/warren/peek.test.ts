/**
 * GET /api/queues/{vhost}/{name}/peek (Warren's test endpoint): unacked and ready messages, paged,
 * with properties, headers and bodies as POST .../get renders them, and no side effect at all
 * (counts, order and redelivered flags are what they were; consumers never see the peek). Covers
 * paged-out messages, priority queues, streams, and the read permission basic.get needs.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { startTestBroker, waitFor } from '../../../helpers/broker.js';
import { Api, enc, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p = 'peek') => m.ctx.name(p);

interface PeekBody {
  total: number;
  messages_ready: number;
  messages_unacknowledged: number;
  messages: Obj[];
  type: string;
}

async function peek(a: Api, queue: string, query = ''): Promise<PeekBody> {
  const r = await a.get(`/api/queues/%2F/${enc(queue)}/peek${query}`);
  expect(r.status, r.text).toBe(200);
  return r.body as PeekBody;
}

async function publish(url: string, queue: string, bodies: (string | Buffer)[], options: Record<string, unknown> = {}): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  for (const b of bodies) ch.sendToQueue(queue, typeof b === 'string' ? Buffer.from(b) : b, options);
  await ch.waitForConfirms();
  await conn.close();
}

describe('peek', () => {
  it('shows ready messages with properties, headers and bodies, and changes nothing', async () => {
    const q = name();
    expect((await api().put(`/api/queues/%2F/${q}`, {})).status).toBe(201);
    await publish(m.ctx.url, q, ['one'], { contentType: 'text/plain', headers: { k: 'v', n: 3 }, persistent: true, messageId: 'm1' });
    await publish(m.ctx.url, q, [Buffer.from([0, 1, 2, 255])]);
    const p = await peek(api(), q);
    expect(p).toMatchObject({ total: 2, messages_ready: 2, messages_unacknowledged: 0, type: 'classic' });
    expect(p.messages[0]).toMatchObject({
      position: 0, state: 'ready', exchange: '', routing_key: q, redelivered: false, delivery_count: 0,
      payload: 'one', payload_encoding: 'string', payload_bytes: 3, expires_at: null,
      properties: { content_type: 'text/plain', headers: { k: 'v', n: 3 }, delivery_mode: 2, message_id: 'm1' },
    });
    expect(p.messages[1]).toMatchObject({ position: 1, payload: Buffer.from([0, 1, 2, 255]).toString('base64'), payload_encoding: 'base64' });
    // base64 on request, truncate
    const b = await peek(api(), q, '?encoding=base64&truncate=2&count=1');
    expect(b.messages).toEqual([expect.objectContaining({ payload: Buffer.from('on').toString('base64'), payload_bytes: 3 })]);
    // Peek again: identical; then a consumer gets both, in order, not redelivered.
    expect(await peek(api(), q)).toEqual(p);
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    const got: { body: string; redelivered: boolean }[] = [];
    await ch.consume(q, (msg) => { if (msg !== null) got.push({ body: msg.content.toString('latin1'), redelivered: msg.fields.redelivered }); }, { noAck: true });
    await waitFor(() => got.length === 2);
    expect(got).toEqual([{ body: 'one', redelivered: false }, { body: Buffer.from([0, 1, 2, 255]).toString('latin1'), redelivered: false }]);
  });

  it('lists unacked deliveries first, with who holds them, then ready ones; pages with offset and count', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 5);
    await ch.prefetch(2);
    const held: number[] = [];
    const { consumerTag } = await ch.consume(q, (msg) => { if (msg !== null) held.push(msg.fields.deliveryTag); });
    await waitFor(() => held.length === 2);
    const p = await peek(api(), q);
    expect(p).toMatchObject({ total: 5, messages_ready: 3, messages_unacknowledged: 2 });
    expect(p.messages.map((x) => [x['state'], x['payload']])).toEqual([
      ['unacked', 'm0'], ['unacked', 'm1'], ['ready', 'm2'], ['ready', 'm3'], ['ready', 'm4'],
    ]);
    expect(p.messages[0]).toMatchObject({ delivery_tag: 1, consumer_tag: consumerTag, redelivered: false, delivery_count: 1 });
    expect(String(p.messages[0]!['channel'])).toMatch(/ \(1\)$/);
    expect((await peek(api(), q, '?offset=1&count=2')).messages.map((x) => x['payload'])).toEqual(['m1', 'm2']);
    expect((await peek(api(), q, '?state=ready&offset=1')).messages.map((x) => x['payload'])).toEqual(['m3', 'm4']);
    expect((await peek(api(), q, '?state=unacked')).messages.map((x) => x['payload'])).toEqual(['m0', 'm1']);
    expect((await peek(api(), q, '?offset=9')).messages).toEqual([]);
    // Nothing changed: acking goes on normally, in order, with no redelivery.
    ch.ack({ fields: { deliveryTag: 2 } } as never, true);
    await waitFor(() => held.length === 4);
    expect((await peek(api(), q)).messages.map((x) => [x['state'], x['payload'], x['redelivered']])).toEqual([
      ['unacked', 'm2', false], ['unacked', 'm3', false], ['ready', 'm4', false],
    ]);
  });

  it('a requeued message shows redelivered and its delivery count', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    ch.sendToQueue(q, Buffer.from('x'));
    const msg = await waitFor(async () => ch.get(q));
    if (msg === false) throw new Error('no message');
    ch.nack(msg, false, true);
    await waitFor(async () => (await peek(api(), q)).messages_ready === 1);
    expect((await peek(api(), q)).messages[0]).toMatchObject({ state: 'ready', redelivered: true, delivery_count: 1 });
  });

  it('priority queues: highest priority first', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { arguments: { 'x-max-priority': 5 } });
    for (const [body, priority] of [['low', 0], ['high', 5], ['mid', 2], ['high2', 5]] as const) ch.sendToQueue(q, Buffer.from(body), { priority });
    await ch.waitForConfirms();
    expect((await peek(api(), q)).messages.map((x) => x['payload'])).toEqual(['high', 'high2', 'mid', 'low']);
    expect((await peek(api(), q, '?offset=2&count=1')).messages.map((x) => x['payload'])).toEqual(['mid']);
  });

  it('streams: from the first offset, with stream_offset', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
    await ch.waitForConfirms();
    const p = await peek(api(), q, '?offset=1&count=2');
    expect(p).toMatchObject({ type: 'stream', total: 4 });
    expect(p.messages.map((x) => [x['payload'], x['stream_offset'], x['state']])).toEqual([['s1', 1, 'ready'], ['s2', 2, 'ready']]);
  });

  it('quorum queues: a returned message shows x-delivery-count as its next delivery will', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    ch.sendToQueue(q, Buffer.from('qq'));
    const msg = await waitFor(async () => ch.get(q));
    if (msg === false) throw new Error('no message');
    ch.nack(msg, false, true);
    await waitFor(async () => (await peek(api(), q)).messages_ready === 1);
    const p = await peek(api(), q);
    expect(p.type).toBe('quorum');
    expect(p.messages[0]).toMatchObject({ payload: 'qq', redelivered: true, delivery_count: 1, properties: { headers: { 'x-delivery-count': 1 } } });
  });

  it('refuses without read permission (as basic.get), 404 for a missing queue, 400 for bad paging', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, {});
    const user = name('peeker');
    expect((await api().put(`/api/users/${user}`, { password: 'pw', tags: 'management' })).status).toBe(201);
    expect((await api().put(`/api/permissions/%2F/${user}`, { configure: '.*', write: '.*', read: '^nothing$' })).status).toBe(201);
    const r = await api().as(user, 'pw').get(`/api/queues/%2F/${q}/peek`);
    expect(r.status).toBe(401);
    expect(String((r.body as Obj)['reason'])).toContain('refused for user');
    expect((await api().get(`/api/queues/%2F/${name()}/peek`)).status).toBe(404);
    expect((await api().get(`/api/queues/%2F/${q}/peek?offset=-1`)).status).toBe(400);
    expect((await api().get(`/api/queues/%2F/${q}/peek?state=later`)).status).toBe(400);
    await api().delete(`/api/users/${user}`);
  });
});

describe('peek on paged-out messages', () => {
  it('reads them from the store without paging them in', async () => {
    const b = await startTestBroker({ managementPort: 0, broker: { pagingThreshold: 1 } });
    try {
      const a = new Api(b.warren!.managementUrl!);
      const q = name();
      expect((await a.put(`/api/queues/%2F/${q}`, { durable: true })).status).toBe(201);
      await publish(b.url, q, Array.from({ length: 30 }, (_, i) => `p${i}`), { persistent: true, headers: { i: 1 } });
      const queue = b.warren!.broker.vhosts.get('/')!.queues.get(q)!;
      const used = b.warren!.broker.meter.used;
      const p = await peek(a, q, '?offset=10&count=15');
      expect(p.messages.map((x) => x['payload'])).toEqual(Array.from({ length: 15 }, (_, i) => `p${i + 10}`));
      expect(p.messages[0]).toMatchObject({ properties: { headers: { i: 1 }, delivery_mode: 2 }, redelivered: false });
      expect(queue.messageCount).toBe(30);
      expect(b.warren!.broker.meter.used).toBe(used);
      await a.delete(`/api/queues/%2F/${q}`);
    } finally {
      await b.close();
    }
  }, 30_000);
});
