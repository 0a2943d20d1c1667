/**
 * POST /api/exchanges/{vhost}/{name}/publish and /api/aliveness-test: messages published over HTTP
 * reach AMQP consumers with their properties, routed/unrouted is reported, a persistent message is
 * on disk when the answer comes (it survives a restart), and bad input gets RabbitMQ's reasons with
 * nothing published.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestBroker } from '../../../helpers/broker.js';
import { Api, errorOf, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p: string) => m.ctx.name(p);
const msg = (extra: Obj = {}) => ({ properties: {}, routing_key: '', payload: 'p', payload_encoding: 'string', ...extra });

describe('publish', () => {
  it('routes through the exchange; AMQP consumers get the message and its properties', async () => {
    const x = name('px');
    const q = name('pq');
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'topic' });
    await api().put(`/api/queues/%2F/${q}`, {});
    await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, { routing_key: 'a.#' });
    const props = { content_type: 'text/plain', headers: { h: 'v', n: 2 }, delivery_mode: 2, priority: 3, message_id: 'm1', timestamp: 1700000000 };
    const r = await api().post(`/api/exchanges/%2F/${x}/publish`, msg({ routing_key: 'a.b', payload: 'hello', properties: props }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ routed: true });
    expect((await api().post(`/api/exchanges/%2F/${x}/publish`, msg({ routing_key: 'z' }))).body).toEqual({ routed: false });
    expect((await api().post(`/api/exchanges/%2F/${x}/publish`, msg({ routing_key: 'a.c', payload: 'AAEC', payload_encoding: 'base64' }))).body)
      .toEqual({ routed: true });
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    const first = await ch.get(q, { noAck: true });
    expect(first && first.content.toString()).toBe('hello');
    expect(first && first.properties).toMatchObject({ contentType: 'text/plain', headers: { h: 'v', n: 2 }, deliveryMode: 2, priority: 3, messageId: 'm1', timestamp: 1700000000 });
    const second = await ch.get(q, { noAck: true });
    expect(second && [...second.content]).toEqual([0, 1, 2]);
    // The default exchange is amq.default in the path.
    expect((await api().post('/api/exchanges/%2F/amq.default/publish', msg({ routing_key: q }))).body).toEqual({ routed: true });
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(1);
  });

  it('refuses what a channel refuses, with RabbitMQ\'s reasons, and publishes nothing', async () => {
    const q = name('rq');
    await api().put(`/api/queues/%2F/${q}`, {});
    const x = name('ix');
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'direct', internal: true });
    const cases: [string, unknown, number, unknown][] = [
      ['amq.default', { routing_key: q, payload: 'p', payload_encoding: 'string' }, 400, '[{key_missing,properties}]'],
      ['amq.default', { properties: {}, routing_key: q, payload: 'p' }, 400, '[{key_missing,payload_encoding}]'],
      ['amq.default', msg({ routing_key: q, payload_encoding: 'weird' }), 400, ['unsupported_encoding', 'weird']],
      ['amq.default', msg({ routing_key: q, payload: '!!!', payload_encoding: 'base64' }), 400, ['not_base64', '!!!']],
      ['amq.default', msg({ routing_key: q, properties: { delivery_mode: 'x' } }), 400, ['not_int', 'delivery_mode']],
      ['amq.default', msg({ routing_key: q, properties: { expiration: 1000 } }), 400, ['not_string', 'expiration']],
      ['amq.default', msg({ routing_key: q, properties: { headers: 'x' } }), 400, ['not_table', 'headers']],
      ['amq.default', msg({ routing_key: q, properties: { user_id: 'bob' } }), 400,
        "406 PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'"],
      ['amq.default', msg({ routing_key: q, properties: { expiration: 'abc' } }), 400, "406 PRECONDITION_FAILED - invalid expiration 'abc': no_integer"],
      ['no-such-exchange', msg({ routing_key: q }), 400, "404 NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'"],
      [x, msg({ routing_key: q }), 400, `403 ACCESS_REFUSED - cannot publish to internal exchange '${x}' in vhost '/'`],
      ['amq.default', '{bad', 400, 'not_json'],
    ];
    for (const [exchange, body, status, reason] of cases) {
      const r = await api().post(`/api/exchanges/%2F/${exchange}/publish`, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(errorOf(r).reason, JSON.stringify(body)).toEqual(reason);
    }
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(0);
    expect((await api().post('/api/exchanges/no-such-vhost/amq.default/publish', msg())).body).toEqual({ error: 'not_authorised', reason: 'Access refused.' });
  });

  it('aliveness test', async () => {
    expect(await api().obj('/api/aliveness-test/%2F')).toEqual({ status: 'ok' });
    expect((await api().obj('/api/queues/%2F/aliveness-test'))['messages']).toBe(0);
    expect((await api().get('/api/aliveness-test/no-such-vhost')).status).toBe(404);
  });
});

describe('publish durability', () => {
  it('a persistent message published to a durable queue survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-mgmt-pub-'));
    try {
      let b = await startTestBroker({ dataDir: dir, managementPort: 0 });
      let a = new Api(b.warren!.managementUrl!);
      await a.put('/api/queues/%2F/dq', { durable: true });
      expect((await a.post('/api/exchanges/%2F/amq.default/publish', msg({ routing_key: 'dq', payload: 'kept', properties: { delivery_mode: 2 } }))).body)
        .toEqual({ routed: true });
      await b.close();
      b = await startTestBroker({ dataDir: dir, managementPort: 0 });
      a = new Api(b.warren!.managementUrl!);
      const got = (await a.post('/api/queues/%2F/dq/get', { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).body as Obj[];
      expect(got.map((g) => g['payload'])).toEqual(['kept']);
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
