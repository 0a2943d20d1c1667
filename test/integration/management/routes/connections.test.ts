/**
 * /api/connections, /api/channels, /api/consumers (and a queue's consumer_details): what the
 * server registers in the broker's connection registry, in RabbitMQ's shapes; closing a connection
 * through the API (320 CONNECTION_FORCED with X-Reason as the text) and deleting a vhost closes
 * its connections; non-monitoring users see only their own connections.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../helpers/broker.js';
import { closedWith } from '../../helpers/clients.js';
import { enc, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p: string) => m.ctx.name(p);

async function connectionNamed(provided: string): Promise<Obj> {
  const c = await waitFor(async () => (await api().list('/api/connections')).find((x) => x['user_provided_name'] === provided));
  return c!;
}

describe('connections, channels, consumers', () => {
  it('lists an AMQP connection with its channels and consumers', async () => {
    const provided = name('conn');
    const q = name('cq');
    const conn = await m.ctx.clients.connect('', { clientProperties: { connection_name: provided } });
    const ch = await conn.createChannel();
    await ch.prefetch(7);
    await ch.assertQueue(q, { durable: false });
    await ch.consume(q, () => {}, { consumerTag: 'ctag-1', arguments: { 'x-priority': 2 } });
    const confirm = await conn.createConfirmChannel();
    await confirm.prefetch(3, true);
    const c = await connectionNamed(provided);
    expect(c).toMatchObject({
      user: 'guest', vhost: '/', protocol: 'AMQP 0-9-1', auth_mechanism: 'PLAIN', channels: 2, state: 'running', ssl: false,
      type: 'network', peer_host: '127.0.0.1', host: '127.0.0.1', port: m.ctx.port, timeout: expect.any(Number),
      frame_max: expect.any(Number), channel_max: expect.any(Number), connected_at: expect.any(Number),
      client_properties: expect.objectContaining({ connection_name: provided, product: 'amqplib' }),
    });
    const cname = String(c['name']);
    expect(cname).toMatch(new RegExp(`^127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${m.ctx.port}$`));
    expect(await api().obj(`/api/connections/${enc(cname)}`)).toMatchObject({ name: cname });
    const channels = await api().list(`/api/connections/${enc(cname)}/channels`);
    expect(channels.map((x) => [x['number'], x['prefetch_count'], x['global_prefetch_count'], x['confirm'], x['consumer_count']]))
      .toEqual([[1, 7, 0, false, 1], [2, 0, 3, true, 0]]);
    expect(channels[0]).toMatchObject({
      name: `${cname} (1)`, connection_details: { name: cname, peer_host: '127.0.0.1' }, user: 'guest', vhost: '/',
      transactional: false, messages_unacknowledged: 0, state: 'running',
    });
    const one = await api().obj(`/api/channels/${enc(`${cname} (1)`)}`);
    expect((one['consumer_details'] as Obj[]).map((x) => x['consumer_tag'])).toEqual(['ctag-1']);
    expect((await api().list('/api/channels')).filter((x) => String(x['name']).startsWith(cname))).toHaveLength(2);
    const consumer = {
      consumer_tag: 'ctag-1', queue: { name: q, vhost: '/' }, ack_required: true, exclusive: false, active: true,
      activity_status: 'up', arguments: { 'x-priority': 2 }, prefetch_count: 7,
      channel_details: { connection_name: cname, name: `${cname} (1)`, number: 1, peer_host: '127.0.0.1', user: 'guest', node: expect.any(String), peer_port: expect.any(Number) },
    };
    expect((await api().list('/api/consumers/%2F')).filter((x) => (x['queue'] as Obj)['name'] === q)).toEqual([consumer]);
    expect((await api().obj(`/api/queues/%2F/${q}`))['consumer_details']).toEqual([consumer]);
    expect(await api().obj('/api/overview')).toMatchObject({ object_totals: expect.objectContaining({ connections: 1, channels: 2 }) });
    await conn.close();
    await waitFor(async () => (await api().list('/api/connections')).length === 0);
    expect((await api().get(`/api/connections/${enc(cname)}`)).status).toBe(404);
    expect((await api().get(`/api/channels/${enc(`${cname} (1)`)}`)).status).toBe(404);
  });

  it('DELETE closes the connection with 320 and the X-Reason text', async () => {
    const provided = name('closeme');
    const conn = await m.ctx.clients.connect('', { clientProperties: { connection_name: provided } });
    const c = await connectionNamed(provided);
    const r = await api().delete(`/api/connections/${enc(String(c['name']))}`, { 'X-Reason': 'bye now' });
    expect(r.status).toBe(204);
    const err = await closedWith(conn);
    expect(err?.message).toContain('320');
    expect(err?.message).toContain('CONNECTION_FORCED - bye now');
    expect((await api().delete(`/api/connections/${enc(String(c['name']))}`)).status).toBe(404);
  });

  it('deleting a vhost closes its connections', async () => {
    const v = name('vclose');
    await api().put(`/api/vhosts/${v}`, {});
    const conn = await amqp.connect(`${m.ctx.url}/${enc(v)}`);
    const closed = new Promise<Error | undefined>((resolve) => conn.on('close', (e?: Error) => resolve(e)));
    conn.on('error', () => {});
    await waitFor(async () => (await api().list(`/api/vhosts/${v}/connections`)).length === 1);
    expect((await api().delete(`/api/vhosts/${v}`)).status).toBe(204);
    expect((await closed)?.message).toContain(`CONNECTION_FORCED - vhost '${v}' is deleted`);
  });

  it('users without monitoring see only their own connections', async () => {
    const u = name('own');
    await api().put(`/api/users/${u}`, { password: 'pw', tags: 'management' });
    await api().put(`/api/permissions/%2F/${u}`, { configure: '.*', write: '.*', read: '.*' });
    const mine = await amqp.connect(m.ctx.url.replace('guest:guest', `${u}:pw`));
    const guests = await m.ctx.clients.connect();
    try {
      await waitFor(async () => (await api().list('/api/connections')).length === 2);
      const seen = await api().as(u, 'pw').list('/api/connections');
      expect(seen.map((c) => c['user'])).toEqual([u]);
    } finally {
      await mine.close();
      await guests.close();
      await api().delete(`/api/users/${u}`);
    }
  });
});
