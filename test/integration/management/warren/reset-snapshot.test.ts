/**
 * POST /api/warren/reset/{vhost}, GET /api/warren/snapshot/{vhost}, POST /api/warren/restore/{vhost}
 * (Warren's test endpoints): a vhost back to empty in one call (its connections closed with 320),
 * and its definitions plus messages saved to one JSON document and loaded back, seen through the
 * API and by amqplib clients. Each test works in a vhost of its own.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../helpers/broker.js';
import { enc, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p = 'rs') => m.ctx.name(p);

async function newVhost(): Promise<string> {
  const v = name('vh');
  expect((await api().put(`/api/vhosts/${enc(v)}`, {})).status).toBe(201);
  await api().put(`/api/permissions/${enc(v)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  return v;
}

function vhostUrl(v: string): string {
  return `${m.ctx.url}/${enc(v)}`;
}

describe('reset', () => {
  it('deletes every queue, non-default exchange, binding and policy, and closes the connections with 320', async () => {
    const v = await newVhost();
    const conn = await amqp.connect(vhostUrl(v));
    const closed = new Promise<string>((resolve) => {
      conn.on('error', (e: Error) => resolve(e.message));
      conn.on('close', (e?: Error) => resolve(e?.message ?? 'closed without error'));
    });
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('durable-q', { durable: true });
    await ch.assertQueue('transient-q', { durable: false });
    await ch.assertExchange('x1', 'topic');
    await ch.bindQueue('durable-q', 'x1', '#');
    await ch.bindExchange('amq.fanout', 'amq.direct', 'k');
    ch.sendToQueue('durable-q', Buffer.from('a'));
    ch.sendToQueue('transient-q', Buffer.from('b'));
    await ch.waitForConfirms();
    await ch.consume('transient-q', () => {});
    expect((await api().put(`/api/policies/${enc(v)}/p1`, { pattern: '.*', definition: { 'max-length': 10 } })).status).toBe(201);

    const r = await api().post(`/api/warren/reset/${enc(v)}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      connections_closed: 1, queues_deleted: 2, messages_deleted: 2, exchanges_deleted: 1, bindings_deleted: 2, policies_deleted: 1,
    });
    expect(await closed).toContain(`320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - vhost '${v}' is reset"`);
    expect(await api().list(`/api/queues/${enc(v)}`)).toEqual([]);
    const exchanges = (await api().list(`/api/exchanges/${enc(v)}`)).map((x) => x['name']);
    expect(exchanges.every((n) => n === '' || String(n).startsWith('amq.'))).toBe(true);
    expect(await api().list(`/api/bindings/${enc(v)}`)).toEqual([]);
    expect(await api().list(`/api/policies/${enc(v)}`)).toEqual([]);
    // The vhost works as a new one.
    const again = await m.ctx.clients.connect(); // default vhost: untouched
    await (await again.createChannel()).checkExchange('amq.direct');
    await api().delete(`/api/vhosts/${enc(v)}`);
  });

  it('needs the administrator tag', async () => {
    const v = await newVhost();
    const user = name('mgmt');
    await api().put(`/api/users/${user}`, { password: 'pw', tags: 'management' });
    await api().put(`/api/permissions/${enc(v)}/${user}`, { configure: '.*', write: '.*', read: '.*' });
    expect((await api().as(user, 'pw').post(`/api/warren/reset/${enc(v)}`)).status).toBe(401);
    expect((await api().post(`/api/warren/reset/${enc(name('none'))}`)).status).toBe(404);
    await api().delete(`/api/users/${user}`);
    await api().delete(`/api/vhosts/${enc(v)}`);
  });
});

describe('snapshot and restore', () => {
  it('round-trips definitions and messages (ready and unacked, properties, headers, binary bodies)', async () => {
    const v = await newVhost();
    const conn = await amqp.connect(vhostUrl(v));
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange('orders', 'direct', { durable: true });
      await ch.assertQueue('jobs', { durable: true, arguments: { 'x-max-priority': 3 } });
      await ch.assertQueue('audit', { durable: false });
      await ch.bindQueue('jobs', 'orders', 'new');
      await api().put(`/api/policies/${enc(v)}/lim`, { pattern: '^audit$', definition: { 'max-length': 100 }, 'apply-to': 'queues' });
      ch.publish('orders', 'new', Buffer.from('first'), { persistent: true, headers: { n: 1 }, contentType: 'text/plain', priority: 1 });
      ch.publish('orders', 'new', Buffer.from([0, 255, 7]), { persistent: true, messageId: 'bin' });
      ch.sendToQueue('audit', Buffer.from('log'), { headers: { who: 'me' } });
      await ch.waitForConfirms();
      // One delivery held unacked while the snapshot is taken: it is included, and stays unacked.
      await ch.prefetch(1);
      const held: string[] = [];
      await ch.consume('audit', (msg) => { if (msg !== null) held.push(msg.content.toString()); });
      await waitFor(() => held.length === 1);

      const snap = await api().obj(`/api/warren/snapshot/${enc(v)}`);
      expect(snap).toMatchObject({ warren_snapshot: 1, vhost: v });
      const defs = snap['definitions'] as Obj;
      expect((defs['queues'] as Obj[]).map((q) => q['name']).sort()).toEqual(['audit', 'jobs']);
      expect((defs['bindings'] as Obj[])).toEqual([expect.objectContaining({ source: 'orders', destination: 'jobs', routing_key: 'new' })]);
      const byQueue = Object.fromEntries((snap['messages'] as { queue: string; messages: Obj[] }[]).map((x) => [x.queue, x.messages]));
      expect(byQueue['jobs']!.map((x) => Buffer.from(String(x['payload']), 'base64').toString('latin1')))
        .toEqual(['first', Buffer.from([0, 255, 7]).toString('latin1')]);
      expect(byQueue['audit']).toEqual([expect.objectContaining({ routing_key: 'audit', properties: expect.objectContaining({ headers: { who: 'me' } }) })]);
      // Nothing changed by taking it.
      expect((await api().obj(`/api/queues/${enc(v)}/jobs`))['messages']).toBe(2);

      // Change the state, then restore.
      await ch.deleteQueue('jobs');
      await ch.assertQueue('extra');
      const text = JSON.stringify(snap);
      const r = await api().request('POST', `/api/warren/restore/${enc(v)}`, text);
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ connections_closed: 1, queues: 2, messages_restored: 3 });
    } finally {
      await conn.close().catch(() => {});
    }
    expect((await api().list(`/api/queues/${enc(v)}`)).map((q) => q['name']).sort()).toEqual(['audit', 'jobs']);
    expect((await api().obj(`/api/queues/${enc(v)}/jobs`))['arguments']).toEqual({ 'x-max-priority': 3 });
    expect((await api().list(`/api/policies/${enc(v)}`)).map((p) => p['name'])).toEqual(['lim']);
    const c2 = await amqp.connect(vhostUrl(v));
    try {
      const ch2 = await c2.createChannel();
      const a = await ch2.get('jobs', { noAck: true });
      if (a === false) throw new Error('no message');
      expect(a.content.toString()).toBe('first');
      expect(a.properties).toMatchObject({ headers: { n: 1 }, contentType: 'text/plain', priority: 1, deliveryMode: 2 });
      expect(a.fields).toMatchObject({ exchange: 'orders', routingKey: 'new', redelivered: false });
      const b = await ch2.get('jobs', { noAck: true });
      if (b === false) throw new Error('no message');
      expect([...b.content]).toEqual([0, 255, 7]);
      expect(b.properties.messageId).toBe('bin');
      // Routed again through the restored binding.
      ch2.publish('orders', 'new', Buffer.from('after'));
      await waitFor(async () => (await ch2.checkQueue('jobs')).messageCount === 1);
      const c = await ch2.get('audit', { noAck: true });
      expect(c !== false && c.content.toString()).toBe('log');
    } finally {
      await c2.close();
    }
    await api().delete(`/api/vhosts/${enc(v)}`);
  });

  it('streams: their messages come back (with new offsets, no stale x-stream-offset header)', async () => {
    const v = await newVhost();
    const conn = await amqp.connect(vhostUrl(v));
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('events', { durable: true, arguments: { 'x-queue-type': 'stream' } });
      for (const b of ['e1', 'e2']) ch.sendToQueue('events', Buffer.from(b), { headers: { k: b } });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    const snap = await api().obj(`/api/warren/snapshot/${enc(v)}`);
    const msgs = (snap['messages'] as { queue: string; messages: Obj[] }[])[0]!.messages;
    expect(msgs.map((x) => x['properties'])).toEqual([{ headers: { k: 'e1' } }, { headers: { k: 'e2' } }]);
    const r = await api().request('POST', `/api/warren/restore/${enc(v)}`, JSON.stringify(snap));
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ messages_restored: 2 });
    const p = await api().obj(`/api/queues/${enc(v)}/events/peek`);
    expect((p['messages'] as Obj[]).map((x) => [x['payload'], x['stream_offset']])).toEqual([['e1', 0], ['e2', 1]]);
    await api().delete(`/api/vhosts/${enc(v)}`);
  });

  it('refuses a document that is not a snapshot, changing nothing', async () => {
    const v = await newVhost();
    await api().put(`/api/queues/${enc(v)}/keep`, {});
    expect((await api().post(`/api/warren/restore/${enc(v)}`, { queues: [] })).status).toBe(400);
    expect((await api().post(`/api/warren/restore/${enc(v)}`, { warren_snapshot: 1, definitions: {}, messages: [{ queue: 'q', messages: [{ payload: '!', payload_encoding: 'base64' }] }] })).status).toBe(400);
    expect((await api().list(`/api/queues/${enc(v)}`)).map((q) => q['name'])).toEqual(['keep']);
    await api().delete(`/api/vhosts/${enc(v)}`);
  });
});
