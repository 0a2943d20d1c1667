/**
 * Federation Warren -> Warren (src/links/federation*.ts): a "central" Warren is the upstream of an
 * "edge" Warren. Federated exchanges carry what is published centrally to the edge's bindings (and
 * only what those bindings want), with x-received-from; two-way federation with max-hops 1 delivers
 * each message once on each side (no echo); a link survives the loss of its socket (a TCP proxy in
 * between is cut) and reconnects; federated queues move messages to where consumers are; bad
 * configurations are refused with RabbitMQ's texts or reported in /api/federation-links, never crash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';

const TIMEOUT = 90_000;
const WAIT = 30_000;

interface Side { b: TestBroker; conn: ChannelModel; ch: Channel; api: string }

async function side(clusterName: string): Promise<Side> {
  const b = await startTestBroker({ managementPort: 0, server: { clusterName } });
  const conn = await amqplib.connect(b.url);
  const ch = await conn.createChannel();
  return { b, conn, ch, api: b.warren!.managementUrl! };
}

const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function api(s: Side, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(s.api + path, {
    method, headers: { ...auth, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) as unknown };
}

type LinkRow = Record<string, unknown>;
async function links(s: Side): Promise<LinkRow[]> {
  return (await api(s, 'GET', '/api/federation-links')).json as LinkRow[];
}

async function linkState(s: Side, name: string): Promise<LinkRow | undefined> {
  return (await links(s)).find((l) => l['exchange'] === name || l['queue'] === name);
}

async function upstream(s: Side, name: string, value: Record<string, unknown>): Promise<void> {
  const r = await api(s, 'PUT', `/api/parameters/federation-upstream/%2f/${encodeURIComponent(name)}`, { value });
  expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
}

async function policy(s: Side, name: string, pattern: string, definition: Record<string, unknown>, applyTo = 'all'): Promise<void> {
  const r = await api(s, 'PUT', `/api/policies/%2f/${encodeURIComponent(name)}`, { pattern, definition, 'apply-to': applyTo });
  expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
}

/** Collects what a queue delivers. */
async function collect(ch: Channel, queue: string): Promise<ConsumeMessage[]> {
  const got: ConsumeMessage[] = [];
  await ch.consume(queue, (m) => { if (m !== null) got.push(m); }, { noAck: true });
  return got;
}

/** A TCP proxy to `port` whose connections can all be cut at once (network loss). */
async function proxy(port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstreamSocket = net.connect(port, '127.0.0.1');
    for (const s of [client, upstreamSocket]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { sockets.delete(s); client.destroy(); upstreamSocket.destroy(); });
    }
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('federation Warren -> Warren', () => {
  let central: Side;
  let edge: Side;

  beforeAll(async () => {
    central = await side('warren-central');
    edge = await side('warren-edge');
  }, TIMEOUT);

  afterAll(async () => {
    for (const s of [edge, central]) {
      await s?.conn.close().catch(() => undefined);
      await s?.b.close();
    }
  }, TIMEOUT);

  it('a central exchange reaches the edge: only what edge bindings want, with x-received-from; unbinding stops it', async () => {
    const x = uniqueName('fed.x');
    const up = uniqueName('up');
    await edge.ch.assertExchange(x, 'topic', { durable: true });
    const q = (await edge.ch.assertQueue('', { exclusive: true })).queue;
    await edge.ch.bindQueue(q, x, 'a.*');
    await upstream(edge, up, { uri: central.b.url, 'reconnect-delay': 0.2, expires: 600000 });
    await policy(edge, up, `^${x.replace(/\./g, '\\.')}$`, { 'federation-upstream': up }, 'exchanges');
    const row = await waitFor(async () => {
      const l = await linkState(edge, x);
      return l?.['status'] === 'running' ? l : undefined;
    }, WAIT, 50);
    expect(row).toMatchObject({
      exchange: x, upstream_exchange: x, type: 'exchange', vhost: '/', upstream: up, status: 'running',
      uri: central.b.url.replace(/\/\/[^@]*@/, '//'),
    });
    // The upstream side: the exchange (declared like ours), the link's queue and its binding key.
    const qName = `federation: ${x} -> warren-edge`;
    const cq = await api(central, 'GET', `/api/queues/%2f/${encodeURIComponent(qName)}`);
    expect(cq.status).toBe(200);
    expect((cq.json as { arguments: Record<string, unknown> }).arguments).toEqual({ 'x-expires': 600000, 'x-internal-purpose': 'federation' });
    await waitFor(async () => {
      const bs = (await api(central, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as { routing_key: string }[];
      return bs.some((b) => b.routing_key === 'a.*');
    }, WAIT, 50);

    const got = await collect(edge.ch, q);
    central.ch.publish(x, 'c.d', Buffer.from('not wanted'));
    central.ch.publish(x, 'a.b', Buffer.from('hello'), { headers: { h: 1 } });
    await waitFor(() => got.length >= 1, WAIT, 20);
    expect(got[0]!.content.toString()).toBe('hello');
    expect(got[0]!.fields.routingKey).toBe('a.b');
    expect(got[0]!.properties.headers?.['h']).toBe(1);
    const rf = got[0]!.properties.headers?.['x-received-from'] as Record<string, unknown>[];
    expect(rf).toEqual([{ uri: central.b.url.replace(/\/\/[^@]*@/, '//'), exchange: x, redelivered: false, 'cluster-name': 'warren-central', vhost: '/' }]);
    // Nothing for c.d arrived: publish a marker after it and see only hello + marker.
    central.ch.publish(x, 'a.marker', Buffer.from('marker'));
    await waitFor(() => got.length >= 2, WAIT, 20);
    expect(got.map((m) => m.content.toString())).toEqual(['hello', 'marker']);

    // Unbinding locally removes the upstream binding (the link mirrors bindings).
    await edge.ch.unbindQueue(q, x, 'a.*');
    await waitFor(async () => {
      const bs = (await api(central, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as { routing_key: string }[];
      return !bs.some((b) => b.routing_key === 'a.*');
    }, WAIT, 50);

    // Removing the policy stops the link and removes its upstream queue (a normal shutdown).
    expect((await api(edge, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`)).status).toBe(204);
    await waitFor(async () => (await api(central, 'GET', `/api/queues/%2f/${encodeURIComponent(qName)}`)).status === 404, WAIT, 50);
    expect(await linkState(edge, x)).toBeUndefined();
  }, TIMEOUT);

  it('two-way federation with max-hops 1: each side gets a message once, no echo', async () => {
    const x = uniqueName('fed.both');
    const up = uniqueName('up');
    const sides = [central, edge];
    const got: ConsumeMessage[][] = [];
    for (const [i, s] of sides.entries()) {
      const other = sides[1 - i]!;
      await s.ch.assertExchange(x, 'fanout', { durable: false });
      const q = (await s.ch.assertQueue('', { exclusive: true })).queue;
      await s.ch.bindQueue(q, x, '');
      got.push(await collect(s.ch, q));
      await upstream(s, up, { uri: other.b.url, 'max-hops': 1, 'reconnect-delay': 0.2 });
      await policy(s, up, `^${x.replace(/\./g, '\\.')}$`, { 'federation-upstream-set': 'all' }, 'exchanges');
    }
    for (const s of sides) await waitFor(async () => (await linkState(s, x))?.['status'] === 'running', WAIT, 50);
    // Each link's upstream binding exists before publishing (the fanout binding mirrored).
    for (const s of sides) {
      await waitFor(async () => ((await api(s, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as unknown[]).length >= 2, WAIT, 50);
    }
    central.ch.publish(x, '', Buffer.from('from-central'));
    edge.ch.publish(x, '', Buffer.from('from-edge'));
    await waitFor(() => got[0]!.length >= 2 && got[1]!.length >= 2, WAIT, 20);
    // Markers: anything echoed would have been routed before them on the same path.
    central.ch.publish(x, '', Buffer.from('m1'));
    edge.ch.publish(x, '', Buffer.from('m2'));
    await waitFor(() => got[0]!.length >= 4 && got[1]!.length >= 4, WAIT, 20);
    for (const g of got) expect(g.map((m) => m.content.toString()).sort()).toEqual(['from-central', 'from-edge', 'm1', 'm2']);
    for (const s of sides) await api(s, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`);
    for (const s of sides) await api(s, 'DELETE', `/api/parameters/federation-upstream/%2f/${encodeURIComponent(up)}`);
  }, TIMEOUT);

  it('the link survives the loss of its socket and reconnects', async () => {
    const p = await proxy(central.b.port);
    try {
      const x = uniqueName('fed.loss');
      const up = uniqueName('up');
      await edge.ch.assertExchange(x, 'direct', { durable: true });
      const q = (await edge.ch.assertQueue('', { exclusive: true })).queue;
      await edge.ch.bindQueue(q, x, 'k');
      const got = await collect(edge.ch, q);
      await upstream(edge, up, { uri: `amqp://guest:guest@127.0.0.1:${p.port}`, 'reconnect-delay': 0.2 });
      await policy(edge, up, `^${x.replace(/\./g, '\\.')}$`, { 'federation-upstream': up }, 'exchanges');
      await waitFor(async () => (await linkState(edge, x))?.['status'] === 'running', WAIT, 50);
      await waitFor(async () => ((await api(central, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as unknown[]).length >= 1, WAIT, 50);
      central.ch.publish(x, 'k', Buffer.from('before'));
      await waitFor(() => got.length >= 1, WAIT, 20);

      p.cut();
      // While the edge is cut off, the upstream queue keeps what is published centrally.
      central.ch.publish(x, 'k', Buffer.from('during'));
      await waitFor(async () => (await linkState(edge, x))?.['status'] === 'running', WAIT, 50);
      await waitFor(() => got.length >= 2, WAIT, 20);
      central.ch.publish(x, 'k', Buffer.from('after'));
      await waitFor(() => got.length >= 3, WAIT, 20);
      expect(got.map((m) => m.content.toString())).toEqual(['before', 'during', 'after']);
      await api(edge, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`);
      await api(edge, 'DELETE', `/api/parameters/federation-upstream/%2f/${encodeURIComponent(up)}`);
    } finally {
      await p.close();
    }
  }, TIMEOUT);

  it('a deleted upstream queue (basic.cancel) restarts the link, which declares it again', async () => {
    const x = uniqueName('fed.cancel');
    const up = uniqueName('up');
    await edge.ch.assertExchange(x, 'fanout', { durable: false });
    const q = (await edge.ch.assertQueue('', { exclusive: true })).queue;
    await edge.ch.bindQueue(q, x, '');
    const got = await collect(edge.ch, q);
    await upstream(edge, up, { uri: central.b.url, 'reconnect-delay': 0.2 });
    await policy(edge, up, `^${x.replace(/\./g, '\\.')}$`, { 'federation-upstream': up }, 'exchanges');
    const qName = encodeURIComponent(`federation: ${x} -> warren-edge`);
    await waitFor(async () => (await linkState(edge, x))?.['status'] === 'running', WAIT, 50);
    expect((await api(central, 'DELETE', `/api/queues/%2f/${qName}`)).status).toBe(204);
    await waitFor(async () => (await api(central, 'GET', `/api/queues/%2f/${qName}`)).status === 200
      && (await linkState(edge, x))?.['status'] === 'running', WAIT, 50);
    // Running again means the queue, its internal exchange and the binding are all back.
    central.ch.publish(x, '', Buffer.from('again'));
    await waitFor(() => got.length > 0, WAIT, 20);
    expect(got[0]!.content.toString()).toBe('again');
    await api(edge, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`);
    await api(edge, 'DELETE', `/api/parameters/federation-upstream/%2f/${encodeURIComponent(up)}`);
  }, TIMEOUT);

  it('a federated queue fetches from the upstream queue only while local consumers wait', async () => {
    const qn = uniqueName('fed.q');
    const up = uniqueName('up');
    await central.ch.assertQueue(qn, { durable: true });
    for (let i = 0; i < 5; i++) central.ch.sendToQueue(qn, Buffer.from(`m${i}`));
    await edge.ch.assertQueue(qn, { durable: true });
    await upstream(edge, up, { uri: central.b.url, 'reconnect-delay': 0.2, 'prefetch-count': 10 });
    await policy(edge, up, `^${qn.replace(/\./g, '\\.')}$`, { 'federation-upstream': up }, 'queues');
    const row = await waitFor(async () => {
      const l = await linkState(edge, qn);
      return l?.['status'] === 'running' ? l : undefined;
    }, WAIT, 50);
    expect(row).toMatchObject({ queue: qn, upstream_queue: qn, type: 'queue', consumer_tag: `federation-link-${up}` });
    // No local consumer: nothing moves.
    const before = (await central.ch.checkQueue(qn)).messageCount;
    expect(before).toBe(5);
    const got = await collect(edge.ch, qn);
    await waitFor(() => got.length >= 5, WAIT, 20);
    expect(got.map((m) => m.content.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const rf = got[0]!.properties.headers?.['x-received-from'] as Record<string, unknown>[];
    expect(rf[0]).toMatchObject({ virtual_host: '/', queue: qn, redelivered: false, 'visit-count': 1 });
    expect(got[0]!.properties.headers?.['x-original-routing-key']).toBe(qn);
    await waitFor(async () => (await central.ch.checkQueue(qn)).messageCount === 0, WAIT, 50);
    await api(edge, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`);
    await central.ch.deleteQueue(qn);
    await edge.ch.deleteQueue(qn);
  }, TIMEOUT);

  it('max-hops 2: a message crosses two links (central -> edge -> leaf), its binding propagating back to central', async () => {
    const leaf = await side('warren-leaf');
    try {
      const x = uniqueName('fed.chain');
      const up = uniqueName('up');
      // edge federates x from central; leaf federates x from edge; both with max-hops 2.
      for (const [down, from] of [[edge, central], [leaf, edge]] as const) {
        await down.ch.assertExchange(x, 'fanout', { durable: false });
        await upstream(down, up, { uri: from.b.url, 'max-hops': 2, 'reconnect-delay': 0.2 });
        await policy(down, up, `^${x.replace(/\./g, '\\.')}$`, { 'federation-upstream': up }, 'exchanges');
      }
      const q = (await leaf.ch.assertQueue('', { exclusive: true })).queue;
      await leaf.ch.bindQueue(q, x, '');
      const got = await collect(leaf.ch, q);
      await waitFor(async () => (await linkState(leaf, x))?.['status'] === 'running' && (await linkState(edge, x))?.['status'] === 'running', WAIT, 50);
      // The leaf's binding propagated to edge (x-bound-from hops 2) and from edge on to central (hops 1).
      await waitFor(async () => ((await api(central, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as unknown[]).length >= 1, WAIT, 50);
      central.ch.publish(x, '', Buffer.from('two hops'));
      await waitFor(() => got.length >= 1, WAIT, 20);
      const rf = got[0]!.properties.headers?.['x-received-from'] as Record<string, unknown>[];
      expect(rf.map((e) => e['cluster-name'])).toEqual(['warren-edge', 'warren-central']);
      for (const s of [edge, leaf]) {
        await api(s, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`);
        await api(s, 'DELETE', `/api/parameters/federation-upstream/%2f/${encodeURIComponent(up)}`);
      }
    } finally {
      await leaf.conn.close().catch(() => undefined);
      await leaf.b.close();
    }
  }, TIMEOUT);

  it('the upstream and policy are durable: after a restart of the edge the link comes back', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-fed-restart-'));
    try {
      const x = uniqueName('fed.restart');
      const up = uniqueName('up');
      let e = await startTestBroker({ managementPort: 0, dataDir, server: { clusterName: 'warren-restart' } });
      let s: Side = { b: e, conn: await amqplib.connect(e.url), ch: undefined as unknown as Channel, api: e.warren!.managementUrl! };
      s.ch = await s.conn.createChannel();
      await s.ch.assertExchange(x, 'fanout', { durable: true });
      await s.ch.assertQueue(x, { durable: true });
      await s.ch.bindQueue(x, x, '');
      await upstream(s, up, { uri: central.b.url, 'reconnect-delay': 0.2, expires: 600000 });
      await policy(s, up, `^${x.replace(/\./g, '\\.')}$`, { 'federation-upstream': up }, 'exchanges');
      await waitFor(async () => (await linkState(s, x))?.['status'] === 'running', WAIT, 50);
      await s.conn.close();
      await e.close();
      // While the edge is down the upstream queue buffers.
      await waitFor(async () => ((await api(central, 'GET', `/api/exchanges/%2f/${encodeURIComponent(x)}/bindings/source`)).json as unknown[]).length >= 1, WAIT, 50);
      central.ch.publish(x, '', Buffer.from('while down'));
      e = await startTestBroker({ managementPort: 0, dataDir, server: { clusterName: 'warren-restart' } });
      s = { b: e, conn: await amqplib.connect(e.url), ch: undefined as unknown as Channel, api: e.warren!.managementUrl! };
      s.ch = await s.conn.createChannel();
      await waitFor(async () => (await linkState(s, x))?.['status'] === 'running', WAIT, 50);
      const got = await collect(s.ch, x);
      await waitFor(() => got.length >= 1, WAIT, 20);
      expect(got[0]!.content.toString()).toBe('while down');
      await api(s, 'DELETE', `/api/policies/%2f/${encodeURIComponent(up)}`);
      await waitFor(async () => (await api(central, 'GET', `/api/queues/%2f/${encodeURIComponent(`federation: ${x} -> warren-restart`)}`)).status === 404, WAIT, 50);
      await central.ch.deleteExchange(x);
      await s.conn.close();
      await e.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, TIMEOUT);

  it('bad configurations: refused with RabbitMQ\'s texts, or reported in the link status; the broker keeps running', async () => {
    const bad = async (path: string, body: unknown): Promise<string> => {
      const r = await api(edge, 'PUT', path, body);
      expect(r.status).toBe(400);
      // The API escapes < and > in reasons, as RabbitMQ's does (&lt;&lt;"x"&gt;&gt;).
      return (r.json as { reason: string }).reason.replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    };
    const p = '/api/parameters/federation-upstream/%2f/val';
    expect(await bad(p, { value: {} })).toContain('Key "uri" not found in val');
    expect(await bad(p, { value: { uri: 5 } })).toContain('uri should be list, actually was 5');
    expect(await bad(p, { value: { uri: 'foo://x' } })).toContain('"foo://x" not a valid URI');
    expect(await bad(p, { value: { uri: 'amqp://h', 'max-hops': 'x' } })).toContain('max-hops should be a number, actually was <<"x">>');
    expect(await bad(p, { value: { uri: 'amqp://h', 'ack-mode': 'bogus' } }))
      .toContain('ack-mode should be one of [<<"no-ack">>,<<"on-publish">>,<<"on-confirm">>], actually was <<"bogus">>');
    expect(await bad(p, { value: { uri: 'amqp://h', 'trust-user-id': 'yes' } })).toContain('trust-user-id should be boolean, actually was <<"yes">>');
    expect(await bad(p, { value: { uri: 'amqp://h', foo: 1 } })).toContain('Unrecognised terms [{<<"foo">>,1}] in val');
    expect(await bad('/api/parameters/federation-upstream-set/%2f/s', { value: [{ upstream: 5 }] })).toContain('upstream should be binary, actually was 5');
    const pol = '/api/policies/%2f/pv';
    expect(await bad(pol, { pattern: '^zzz', definition: { 'federation-upstream': 5 } })).toContain('5 is not a valid federation upstream name');
    expect(await bad(pol, { pattern: '^zzz', definition: { 'federation-upstream': 'a', 'federation-upstream-set': 'b' } }))
      .toContain('cannot specify federation-upstream, federation-upstream-set or federation-upstream-pattern together');

    // Valid but unusable: a refused port and a refused login are link errors, retried.
    const refused = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => { const port = (s.address() as net.AddressInfo).port; s.close(() => resolve(port)); });
    });
    const x1 = uniqueName('fed.refused');
    const x2 = uniqueName('fed.login');
    const u1 = uniqueName('up');
    const u2 = uniqueName('up');
    await edge.ch.assertExchange(x1, 'fanout', { durable: false });
    await edge.ch.assertExchange(x2, 'fanout', { durable: false });
    await upstream(edge, u1, { uri: `amqp://127.0.0.1:${refused}`, 'reconnect-delay': 0.1 });
    await upstream(edge, u2, { uri: central.b.url.replace('guest:guest', 'guest:wrong'), 'reconnect-delay': 0.1 });
    await policy(edge, u1, `^${x1.replace(/\./g, '\\.')}$`, { 'federation-upstream': u1 }, 'exchanges');
    await policy(edge, u2, `^${x2.replace(/\./g, '\\.')}$`, { 'federation-upstream': u2 }, 'exchanges');
    const e1 = await waitFor(async () => { const l = await linkState(edge, x1); return l?.['status'] === 'error' ? l : undefined; }, WAIT, 50);
    expect(e1!['error']).toBe('econnrefused');
    const e2 = await waitFor(async () => { const l = await linkState(edge, x2); return l?.['status'] === 'error' ? l : undefined; }, WAIT, 50);
    expect(String(e2!['error'])).toContain('ACCESS_REFUSED');
    // The broker is fine: a client still works, and removing the upstream stops the links.
    const t = await edge.conn.createChannel();
    await t.checkExchange(x1);
    await t.close();
    for (const u of [u1, u2]) {
      await api(edge, 'DELETE', `/api/policies/%2f/${encodeURIComponent(u)}`);
      await api(edge, 'DELETE', `/api/parameters/federation-upstream/%2f/${encodeURIComponent(u)}`);
    }
    await waitFor(async () => (await linkState(edge, x1)) === undefined && (await linkState(edge, x2)) === undefined, WAIT, 50);
  }, TIMEOUT);
});
