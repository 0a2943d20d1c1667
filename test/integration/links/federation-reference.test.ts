/**
 * Federation between Warren and the reference RabbitMQ (its rabbitmq_federation plugin enabled from
 * here, idempotently): a central RabbitMQ exchange reaches an edge Warren (Warren's link declares on
 * RabbitMQ the plugin's own upstream queue and x-federation-upstream exchange), and RabbitMQ federates
 * an exchange from Warren (RabbitMQ's link falls back to a fanout internal exchange on Warren), and a
 * Warren queue federated from a RabbitMQ queue moves messages only while a local consumer exists. Unique
 * names; everything created on the reference is deleted (its own vhost for the second and third cases).
 */
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';
import { referenceFederation } from '../../helpers/reference-plugins.js';

const TIMEOUT = 120_000;
const WAIT = 45_000;
const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(base + path, { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** Whether `name` exists on the reference (a passive declare on a throwaway channel). */
async function exists(conn: ChannelModel, kind: 'queue' | 'exchange', name: string): Promise<boolean> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    if (kind === 'queue') await ch.checkQueue(name);
    else await ch.checkExchange(name);
    await ch.close();
    return true;
  } catch {
    return false;
  }
}

describe('federation Warren <-> reference RabbitMQ', () => {
  let ref: string | undefined;
  let mgmt: string | undefined;
  let skip = '';
  let edge: TestBroker;
  let edgeApi: string;
  let refConn: ChannelModel;
  let refCh: Channel;
  let edgeConn: ChannelModel;
  let edgeCh: Channel;
  const cluster = uniqueName('warren-edge');

  beforeAll(async () => {
    ref = await referenceUrl();
    if (ref === undefined) { skip = 'no reference broker reachable'; return; }
    const f = await referenceFederation();
    if ('skip' in f) { skip = f.skip; return; }
    mgmt = f.url;
    edge = await startTestBroker({ managementPort: 0, server: { clusterName: cluster } });
    edgeApi = edge.warren!.managementUrl!;
    refConn = await amqplib.connect(ref);
    refConn.on('error', () => undefined);
    refCh = await refConn.createChannel();
    edgeConn = await amqplib.connect(edge.url);
    edgeCh = await edgeConn.createChannel();
  }, TIMEOUT);

  afterAll(async () => {
    await edgeConn?.close().catch(() => undefined);
    await refConn?.close().catch(() => undefined);
    await edge?.close();
  }, TIMEOUT);

  it('a central RabbitMQ exchange reaches the edge Warren', async (ctx) => {
    if (skip !== '') ctx.skip(skip);
    const x = uniqueName('fed.central');
    const up = uniqueName('central');
    await refCh.assertExchange(x, 'topic', { durable: false, autoDelete: false });
    try {
      await edgeCh.assertExchange(x, 'topic', { durable: false });
      const q = (await edgeCh.assertQueue('', { exclusive: true })).queue;
      await edgeCh.bindQueue(q, x, 'k.*');
      const got: ConsumeMessage[] = [];
      await edgeCh.consume(q, (m) => { if (m !== null) got.push(m); }, { noAck: true });
      expect((await call(edgeApi, 'PUT', `/api/parameters/federation-upstream/%2f/${up}`,
        { value: { uri: ref!, 'reconnect-delay': 0.5, expires: 300000 } })).status).toBeLessThan(300);
      expect((await call(edgeApi, 'PUT', `/api/policies/%2f/${up}`,
        { pattern: `^${x.replace(/\./g, '\\.')}$`, definition: { 'federation-upstream': up }, 'apply-to': 'exchanges' })).status).toBeLessThan(300);
      await waitFor(async () => {
        const ls = (await call(edgeApi, 'GET', '/api/federation-links')).json as Record<string, unknown>[];
        return ls.some((l) => l['exchange'] === x && l['status'] === 'running');
      }, WAIT, 100);
      // What the plugin itself would have declared on RabbitMQ: the queue and an x-federation-upstream exchange.
      const uq = `federation: ${x} -> ${cluster}`;
      expect(await exists(refConn, 'queue', uq)).toBe(true);
      const internal = (await call(mgmt!, 'GET', `/api/exchanges/%2f/${encodeURIComponent(`${uq} B`)}`)).json as Record<string, unknown>;
      expect(internal['type']).toBe('x-federation-upstream');
      expect(internal['arguments']).toMatchObject({ 'x-max-hops': 1, 'x-downstream-name': cluster, 'x-downstream-vhost': '/' });
      await waitFor(async () => {
        const bs = (await call(mgmt!, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as { routing_key: string }[];
        return bs.some((b) => b.routing_key === 'k.*');
      }, WAIT, 100);

      refCh.publish(x, 'k.1', Buffer.from('from the centre'), { persistent: true });
      await waitFor(() => got.length >= 1, WAIT, 20);
      expect(got[0]!.content.toString()).toBe('from the centre');
      const rf = got[0]!.properties.headers?.['x-received-from'] as Record<string, unknown>[];
      expect(rf).toHaveLength(1);
      expect(rf[0]).toMatchObject({ exchange: x, redelivered: false, vhost: '/' });
      expect(typeof rf[0]!['cluster-name']).toBe('string');

      // Removing the policy stops the link and removes what it declared on RabbitMQ.
      await call(edgeApi, 'DELETE', `/api/policies/%2f/${up}`);
      await waitFor(async () => !(await exists(refConn, 'queue', uq)), WAIT, 100);
      await call(edgeApi, 'DELETE', `/api/parameters/federation-upstream/%2f/${up}`);
    } finally {
      await refCh.deleteExchange(x).catch(() => undefined);
    }
  }, TIMEOUT);

  it('RabbitMQ federates an exchange from the edge Warren (the other way)', async (ctx) => {
    if (skip !== '') ctx.skip(skip);
    const vhost = uniqueName('fedvh');
    const x = uniqueName('fed.edge');
    const vh = encodeURIComponent(vhost);
    expect((await call(mgmt!, 'PUT', `/api/vhosts/${vh}`)).status).toBeLessThan(300);
    try {
      await call(mgmt!, 'PUT', `/api/permissions/${vh}/guest`, { configure: '.*', write: '.*', read: '.*' });
      await edgeCh.assertExchange(x, 'direct', { durable: true });
      await call(mgmt!, 'PUT', `/api/exchanges/${vh}/${encodeURIComponent(x)}`, { type: 'direct', durable: true });
      await call(mgmt!, 'PUT', `/api/queues/${vh}/sink`, { durable: false });
      await call(mgmt!, 'POST', `/api/bindings/${vh}/e/${encodeURIComponent(x)}/q/sink`, { routing_key: 'edge' });
      expect((await call(mgmt!, 'PUT', `/api/parameters/federation-upstream/${vh}/edge`,
        { value: { uri: `${edge.url}/%2F`, 'reconnect-delay': 1 } })).status).toBeLessThan(300);
      expect((await call(mgmt!, 'PUT', `/api/policies/${vh}/fed`,
        { pattern: `^${x.replace(/\./g, '\\.')}$`, definition: { 'federation-upstream': 'edge' }, 'apply-to': 'exchanges' })).status).toBeLessThan(300);
      let last: unknown;
      await waitFor(async () => {
        const ls = (await call(mgmt!, 'GET', `/api/federation-links/${vh}`)).json as Record<string, unknown>[];
        last = ls;
        return ls.some((l) => l['exchange'] === x && l['status'] === 'running');
      }, WAIT, 200).catch((e: unknown) => { throw new Error(`${String(e)}: ${JSON.stringify(last)}`); });
      // RabbitMQ's link bound its queue on Warren (through a fanout: Warren has no x-federation-upstream).
      await waitFor(async () => {
        const bs = (await call(edgeApi, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as { routing_key: string }[];
        return bs.some((b) => b.routing_key === 'edge');
      }, WAIT, 100);
      edgeCh.publish(x, 'edge', Buffer.from('from the edge'));
      const msg = await waitFor(async () => {
        const r = await call(mgmt!, 'POST', `/api/queues/${vh}/sink/get`, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' });
        const list = r.json as { payload: string; properties: { headers?: Record<string, unknown> } }[];
        return list.length > 0 ? list[0] : undefined;
      }, WAIT, 200);
      expect(msg!.payload).toBe('from the edge');
      const rf = msg!.properties.headers?.['x-received-from'] as Record<string, unknown>[];
      expect(rf[0]).toMatchObject({ 'cluster-name': cluster, redelivered: false });
    } finally {
      await call(mgmt!, 'DELETE', `/api/vhosts/${vh}`);
      await edgeCh.deleteExchange(x).catch(() => undefined);
    }
  }, TIMEOUT);
  it('a Warren queue federated from a RabbitMQ queue moves messages only while a local consumer exists', async (ctx) => {
    if (skip !== '') ctx.skip(skip);
    const vhost = uniqueName('fedqvh');
    const vh = encodeURIComponent(vhost);
    const qn = uniqueName('fed.q');
    const up = uniqueName('refq');
    expect((await call(mgmt!, 'PUT', `/api/vhosts/${vh}`)).status).toBeLessThan(300);
    let vconn: ChannelModel | undefined;
    try {
      expect((await call(mgmt!, 'PUT', `/api/permissions/${vh}/guest`, { configure: '.*', write: '.*', read: '.*' })).status).toBeLessThan(300);
      const r = new URL(ref!);
      const upUri = `amqp://${r.username}:${r.password}@${r.host}/${vh}`;
      vconn = await amqplib.connect(upUri);
      vconn.on('error', () => undefined);
      const vch = await vconn.createChannel();
      await vch.assertQueue(qn, { durable: true });
      for (let i = 0; i < 5; i++) vch.sendToQueue(qn, Buffer.from(`m${i}`), { persistent: true });
      await waitFor(async () => (await vch.checkQueue(qn)).messageCount === 5, WAIT, 50);
      await edgeCh.assertQueue(qn, { durable: true });
      expect((await call(edgeApi, 'PUT', `/api/parameters/federation-upstream/%2f/${up}`,
        { value: { uri: upUri, 'reconnect-delay': 0.5, 'prefetch-count': 10 } })).status).toBeLessThan(300);
      expect((await call(edgeApi, 'PUT', `/api/policies/%2f/${up}`,
        { pattern: `^${qn.replace(/\./g, '\\.')}$`, definition: { 'federation-upstream': up }, 'apply-to': 'queues' })).status).toBeLessThan(300);
      await waitFor(async () => {
        const ls = (await call(edgeApi, 'GET', '/api/federation-links')).json as Record<string, unknown>[];
        return ls.some((l) => l['queue'] === qn && l['status'] === 'running');
      }, WAIT, 100);
      // Running, but no local consumer: the link does not consume on RabbitMQ, nothing moved.
      let q = await vch.checkQueue(qn);
      expect(q).toMatchObject({ messageCount: 5, consumerCount: 0 });
      // A local consumer: the link consumes upstream and all five arrive, in order.
      const got: ConsumeMessage[] = [];
      const tag = (await edgeCh.consume(qn, (m) => { if (m !== null) got.push(m); }, { noAck: true })).consumerTag;
      await waitFor(() => got.length >= 5, WAIT, 20);
      expect(got.map((m) => m.content.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      const rf = got[0]!.properties.headers?.['x-received-from'] as Record<string, unknown>[];
      expect(rf[0]).toMatchObject({ virtual_host: vhost, queue: qn, redelivered: false });
      await waitFor(async () => (await vch.checkQueue(qn)).messageCount === 0, WAIT, 50);
      // The local consumer leaves: the link stops consuming upstream, what is published there stays there.
      await edgeCh.cancel(tag);
      await waitFor(async () => (await vch.checkQueue(qn)).consumerCount === 0, WAIT, 50);
      for (let i = 5; i < 8; i++) vch.sendToQueue(qn, Buffer.from(`m${i}`), { persistent: true });
      await waitFor(async () => (await vch.checkQueue(qn)).messageCount === 3, WAIT, 50);
      q = await vch.checkQueue(qn);
      expect(q).toMatchObject({ messageCount: 3, consumerCount: 0 });
      expect((await edgeCh.checkQueue(qn)).messageCount).toBe(0);
      expect(got).toHaveLength(5);
      // And a consumer again gets them.
      await edgeCh.consume(qn, (m) => { if (m !== null) got.push(m); }, { noAck: true });
      await waitFor(() => got.length >= 8, WAIT, 20);
      expect(got.slice(5).map((m) => m.content.toString())).toEqual(['m5', 'm6', 'm7']);
      await call(edgeApi, 'DELETE', `/api/policies/%2f/${up}`);
      await call(edgeApi, 'DELETE', `/api/parameters/federation-upstream/%2f/${up}`);
    } finally {
      await vconn?.close().catch(() => undefined);
      await call(mgmt!, 'DELETE', `/api/vhosts/${vh}`);
      await edgeCh.deleteQueue(qn).catch(() => undefined);
    }
  }, TIMEOUT);
});
