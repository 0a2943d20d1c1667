/**
 * POST /api/queues/{vhost}/{name}/inject and GET .../wait (Warren's test endpoints): a message put
 * straight into a queue (no exchange, no binding) reaches an amqplib consumer with its properties,
 * headers and body, under the queue's own rules; wait long-polls until a queue holds N messages, is
 * empty, or has N consumers, and answers 408 with the counts at its timeout.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../helpers/broker.js';
import { enc, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p = 'tk') => m.ctx.name(p);

describe('inject', () => {
  it('puts a message into a queue with no binding; consumers see it as published', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { durable: true });
    const r = await api().post(`/api/queues/%2F/${enc(q)}/inject`, {
      properties: { content_type: 'application/json', headers: { trace: 'abc', n: 7 }, delivery_mode: 2, correlation_id: 'c1' },
      payload: '{"a":1}', payload_encoding: 'string',
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ enqueued: true });
    await api().post(`/api/queues/%2F/${enc(q)}/inject`, { payload: Buffer.from([1, 2, 3]).toString('base64'), payload_encoding: 'base64', routing_key: 'rk' });
    const first = await ch.get(q, { noAck: true });
    if (first === false) throw new Error('no message');
    expect(first.content.toString()).toBe('{"a":1}');
    expect(first.fields).toMatchObject({ exchange: '', routingKey: q, redelivered: false });
    expect(first.properties).toMatchObject({ contentType: 'application/json', headers: { trace: 'abc', n: 7 }, deliveryMode: 2, correlationId: 'c1' });
    const second = await ch.get(q, { noAck: true });
    if (second === false) throw new Error('no message');
    expect([...second.content]).toEqual([1, 2, 3]);
    expect(second.fields.routingKey).toBe('rk');
  });

  it('the queue rules apply: x-max-length with reject-publish refuses ({"enqueued": false})', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${enc(q)}`, { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    expect((await api().post(`/api/queues/%2F/${enc(q)}/inject`, { payload: 'a' })).body).toEqual({ enqueued: true });
    expect((await api().post(`/api/queues/%2F/${enc(q)}/inject`, { payload: 'b' })).body).toEqual({ enqueued: false });
    expect(((await api().obj(`/api/queues/%2F/${enc(q)}`)))['messages']).toBe(1);
  });

  it('404 for a missing queue, 401 without write permission on it, 400 for a bad payload', async () => {
    expect((await api().post(`/api/queues/%2F/${name()}/inject`, { payload: 'x' })).status).toBe(404);
    const q = name();
    await api().put(`/api/queues/%2F/${enc(q)}`, {});
    expect((await api().post(`/api/queues/%2F/${enc(q)}/inject`, { payload: '!!', payload_encoding: 'base64' })).status).toBe(400);
    const user = name('injector');
    await api().put(`/api/users/${user}`, { password: 'pw', tags: 'management' });
    await api().put(`/api/permissions/%2F/${user}`, { configure: '.*', write: '^nothing$', read: '.*' });
    const r = await api().as(user, 'pw').post(`/api/queues/%2F/${enc(q)}/inject`, { payload: 'x' });
    expect(r.status).toBe(401);
    expect(((await api().obj(`/api/queues/%2F/${enc(q)}`)))['messages']).toBe(0);
    await api().delete(`/api/users/${user}`);
  });
});

describe('wait', () => {
  it('answers once the queue holds N messages (published while waiting)', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    const waiting = api().get(`/api/queues/%2F/${enc(q)}/wait?messages=3&timeout=20000`);
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    const r = await waiting;
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ queue: q, messages: 3, messages_ready: 3, consumers: 0, exists: true });
  });

  it('empty and consumers', async () => {
    const q = name();
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    const empty = api().get(`/api/queues/%2F/${enc(q)}/wait?empty=true&timeout=20000`);
    const consumers = api().get(`/api/queues/%2F/${enc(q)}/wait?consumers=1&timeout=20000`);
    const { consumerTag } = await ch.consume(q, (msg) => { if (msg !== null) ch.ack(msg); });
    expect((await empty).status).toBe(200);
    expect((await consumers).body).toMatchObject({ consumers: 1 });
    await ch.cancel(consumerTag);
    expect((await api().get(`/api/queues/%2F/${enc(q)}/wait?consumers=0&timeout=20000`)).body).toMatchObject({ consumers: 0, messages: 0 });
  });

  it('408 with the counts and what was awaited at the timeout; 400 without a condition; 404 for no queue', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${enc(q)}`, {});
    const r = await api().get(`/api/queues/%2F/${enc(q)}/wait?messages=10&timeout=50`);
    expect(r.status).toBe(408);
    const body = r.body as Obj;
    expect(body).toMatchObject({ error: 'timeout', messages: 0, consumers: 0, queue: q });
    expect(String(body['reason'])).toContain('waited for messages >= 10');
    expect((await api().get(`/api/queues/%2F/${enc(q)}/wait`)).status).toBe(400);
    expect((await api().get(`/api/queues/%2F/${name()}/wait?empty=true`)).status).toBe(404);
  });
});
