/**
 * Dynamic shovels Warren -> Warren (in-process brokers on port 0): created through
 * /api/parameters/shovel, status in /api/shovels, queue and exchange sources, the direct URI,
 * forward and timestamp headers, src-delete-after, restart, durability across a restart, sockets
 * destroyed mid-transfer with nothing lost, and bad configurations reported in the status.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depth, drain, freePort, publish } from './link-helpers.js';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';

const TIMEOUT = 120_000;
const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

async function api(b: TestBroker, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${b.warren!.managementUrl!}${path}`, {
    method, headers: { authorization: AUTH, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

type Status = Record<string, unknown>;
async function shovelStatus(b: TestBroker, name: string): Promise<Status | undefined> {
  const r = await api(b, 'GET', '/api/shovels');
  return (r.json as Status[]).find((s) => s['name'] === name);
}

async function putShovel(b: TestBroker, name: string, value: Record<string, unknown>, vhost = '/'): Promise<void> {
  const r = await api(b, 'PUT', `/api/parameters/shovel/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, { value });
  expect(r.status, r.text).toBeLessThan(300);
}



/** Drain a queue: the bodies, in order. */


let a: TestBroker;
let b: TestBroker;
beforeAll(async () => {
  a = await startTestBroker({ managementPort: 0 });
  b = await startTestBroker({ managementPort: 0 });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

describe('shovels Warren -> Warren', () => {
  it('moves a backlog and live messages queue to queue with on-confirm; status as rabbitmq_shovel_management', async () => {
    const name = uniqueName('sh');
    const src = uniqueName('src');
    const dest = uniqueName('dest');
    await publish(a.url, src, 300);
    await putShovel(a, name, { 'src-uri': a.url, 'src-queue': src, 'dest-uri': b.url, 'dest-queue': dest, 'ack-mode': 'on-confirm', 'src-prefetch-count': 50 });
    await waitFor(async () => (await depth(b.url, dest)) === 300, 60_000, 50);
    expect(await depth(a.url, src)).toBe(0);
    const s = await shovelStatus(a, name);
    expect(s).toMatchObject({
      name, vhost: '/', type: 'dynamic', state: 'running', src_protocol: 'amqp091', dest_protocol: 'amqp091',
      src_queue: src, dest_queue: dest, src_uri: a.url.replace('guest:guest@', ''), dest_uri: b.url.replace('guest:guest@', ''),
    });
    expect(String(s!['timestamp'])).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(s!['node']).toMatch(/^warren@/);
    expect((await api(a, 'GET', '/api/shovels/%2f')).json).toHaveLength(1);
    await publish(a.url, src, 50, 300);
    await waitFor(async () => (await depth(b.url, dest)) === 350, 60_000, 50);
    const bodies = await drain(b.url, dest);
    expect(bodies).toEqual(Array.from({ length: 350 }, (_, i) => `m${i}`));
    // restart (rabbit_shovel_util:restart_shovel), then delete through the shovel API
    const sessions = a.warren!.shovels.worker('/', name)!.counters.sessions;
    expect((await api(a, 'DELETE', `/api/shovels/vhost/%2f/${name}/restart`)).status).toBe(204);
    await waitFor(async () => (await shovelStatus(a, name))?.['state'] === 'running', 30_000, 50);
    expect(a.warren!.shovels.worker('/', name)!.counters.sessions).toBeGreaterThanOrEqual(1);
    void sessions;
    expect((await api(a, 'DELETE', '/api/shovels/vhost/%2f/nope/restart')).status).toBe(404);
    expect((await api(a, 'DELETE', `/api/shovels/vhost/%2f/${name}`)).status).toBe(204);
    expect(await shovelStatus(a, name)).toBeUndefined();
    expect((await api(a, 'GET', `/api/parameters/shovel/%2f/${name}`)).status).toBe(404);
  }, TIMEOUT);

  it('the direct URI amqp:// with an exchange source, forward and timestamp headers, on-publish', async () => {
    const name = uniqueName('sh-x');
    const dest = uniqueName('dest');
    await putShovel(b, name, {
      'src-uri': 'amqp://', 'src-exchange': 'amq.topic', 'src-exchange-key': 'a.#', 'dest-uri': 'amqp://', 'dest-queue': dest,
      'ack-mode': 'on-publish', 'add-forward-headers': true, 'dest-add-timestamp-header': true,
    });
    await waitFor(async () => (await shovelStatus(b, name))?.['state'] === 'running', 30_000, 50);
    expect(await shovelStatus(b, name)).toMatchObject({ src_exchange: 'amq.topic', src_exchange_key: 'a.#', dest_queue: dest, src_uri: 'amqp://' });
    const c = await amqp.connect(b.url);
    const ch = await c.createConfirmChannel();
    ch.publish('amq.topic', 'a.b', Buffer.from('hello'), { headers: { mine: 1 } });
    ch.publish('amq.topic', 'z.b', Buffer.from('not routed'));
    await ch.waitForConfirms();
    await waitFor(async () => (await ch.checkQueue(dest)).messageCount === 1, 30_000, 50);
    const m = await ch.get(dest, { noAck: true });
    expect(m && m.content.toString()).toBe('hello');
    const h = (m as amqp.GetMessage).properties.headers!;
    expect(h['mine']).toBe(1);
    expect(typeof h['x-shovelled-timestamp']).toBe('number');
    expect(h['x-shovelled']).toEqual([{
      'shovelled-by': expect.any(String), 'shovel-type': 'dynamic', 'shovel-name': name, 'shovel-vhost': '/',
      'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-exchange': 'amq.topic', 'src-exchange-key': 'a.#', 'dest-queue': dest,
    }]);
    await c.close();
    expect((await api(b, 'DELETE', `/api/parameters/shovel/%2f/${name}`)).status).toBe(204);
  }, TIMEOUT);

  it('src-delete-after queue-length moves what the queue held, then deletes itself', async () => {
    const name = uniqueName('sh-once');
    const src = uniqueName('src');
    const dest = uniqueName('dest');
    await publish(a.url, src, 40);
    await putShovel(a, name, { 'src-uri': a.url, 'src-queue': src, 'dest-uri': b.url, 'dest-queue': dest, 'src-delete-after': 'queue-length', 'src-prefetch-count': 7 });
    await waitFor(async () => (await api(a, 'GET', `/api/parameters/shovel/%2f/${name}`)).status === 404, 60_000, 50);
    expect(await depth(b.url, dest)).toBe(40);
    expect(await shovelStatus(a, name)).toBeUndefined();
  }, TIMEOUT);

  it('loses nothing when its sockets are destroyed again and again mid-transfer (on-confirm)', async () => {
    const name = uniqueName('sh-net');
    const src = uniqueName('src');
    const dest = uniqueName('dest');
    const total = 2000;
    await publish(a.url, src, total);
    await putShovel(a, name, { 'src-uri': a.url, 'src-queue': src, 'dest-uri': b.url, 'dest-queue': dest, 'reconnect-delay': 0.05, 'src-prefetch-count': 100 });
    const worker = () => a.warren!.shovels.worker('/', name)!;
    for (let i = 0; i < 5; i++) {
      await waitFor(() => worker().state === 'running' && worker().counters.forwarded > i * 200, 60_000, 5);
      worker().destroyConnections();
    }
    await waitFor(async () => (await depth(a.url, src)) === 0 && worker().state === 'running', 60_000, 50);
    const bodies = await drain(b.url, dest);
    const unique = new Set(bodies);
    expect(unique.size).toBe(total);
    // Duplicates only of what was in flight (at most prefetch per failure).
    expect(bodies.length - total).toBeLessThanOrEqual(5 * 100);
    expect(worker().counters.sessions).toBeGreaterThanOrEqual(6);
    await api(a, 'DELETE', `/api/parameters/shovel/%2f/${name}`);
  }, TIMEOUT);

  it('starts from a definitions import (POST /api/definitions, as warren import and load_definitions use)', async () => {
    const name = uniqueName('sh-defs');
    const src = uniqueName('src');
    const dest = uniqueName('dest');
    const r = await api(a, 'POST', '/api/definitions', { parameters: [{
      component: 'shovel', vhost: '/', name, value: { 'src-uri': 'amqp://', 'src-queue': src, 'dest-uri': b.url, 'dest-queue': dest },
    }] });
    expect(r.status, r.text).toBeLessThan(300);
    await waitFor(async () => (await shovelStatus(a, name))?.['state'] === 'running', 30_000, 50);
    await publish(a.url, src, 5);
    await waitFor(async () => (await depth(b.url, dest)) === 5, 30_000, 50);
    const exported = (await api(a, 'GET', '/api/definitions')).json as { parameters: { component: string; name: string }[] };
    expect(exported.parameters.some((p) => p.component === 'shovel' && p.name === name)).toBe(true);
    expect((await api(a, 'DELETE', `/api/parameters/shovel/%2f/${name}`)).status).toBe(204);
  }, TIMEOUT);

  it('comes back after a broker restart (the parameter is durable)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-shovel-'));
    const name = uniqueName('sh-durable');
    const src = uniqueName('src');
    const dest = uniqueName('dest');
    let c = await startTestBroker({ managementPort: 0, dataDir });
    try {
      await putShovel(c, name, { 'src-uri': 'amqp://', 'src-queue': src, 'dest-uri': b.url, 'dest-queue': dest });
      await waitFor(async () => (await shovelStatus(c, name))?.['state'] === 'running', 30_000, 50);
      await c.close();
      c = await startTestBroker({ managementPort: 0, dataDir });
      await waitFor(async () => (await shovelStatus(c, name))?.['state'] === 'running', 30_000, 50);
      await publish(c.url, src, 10);
      await waitFor(async () => (await depth(b.url, dest)) === 10, 30_000, 50);
    } finally {
      await c.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, TIMEOUT);
});

describe('shovel configurations that cannot work are reported, never fatal', () => {
  it('unreachable host, wrong password and a missing exchange: starting with the reason; missing queues are declared', async () => {
    const port = await freePort();
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['unreachable', { 'src-uri': `amqp://127.0.0.1:${port}`, 'src-queue': 'q', 'dest-uri': 'amqp://' }, /ECONNREFUSED/],
      ['password', { 'src-uri': a.url.replace('guest:guest', 'guest:wrong'), 'src-queue': 'q', 'dest-uri': 'amqp://' }, /ACCESS_REFUSED - Login was refused/],
      ['vhost', { 'src-uri': `${a.url}/no-such-vhost`, 'src-queue': 'q', 'dest-uri': 'amqp://' }, /NOT_ALLOWED/],
      ['exchange', { 'src-uri': 'amqp://', 'src-exchange': uniqueName('missing-x'), 'dest-uri': 'amqp://' }, /NOT_FOUND - no exchange/],
    ];
    const names = cases.map(([n]) => uniqueName(`bad-${n}`));
    for (let i = 0; i < cases.length; i++) await putShovel(b, names[i]!, { ...cases[i]![1], 'reconnect-delay': 0.2 });
    for (let i = 0; i < cases.length; i++) {
      const s = await waitFor(async () => {
        const st = await shovelStatus(b, names[i]!);
        return st?.['reason'] !== undefined ? st : undefined;
      }, 30_000, 50);
      expect(s!['state'], cases[i]![0]).toBe('starting');
      expect(String(s!['reason']), cases[i]![0]).toMatch(cases[i]![2]);
      expect(s!['src_uri']).toBeUndefined();
    }
    // reconnect-delay 0: terminated with the reason, no retry
    const once = uniqueName('bad-once');
    await putShovel(b, once, { 'src-uri': `amqp://127.0.0.1:${port}`, 'src-queue': 'q', 'dest-uri': 'amqp://', 'reconnect-delay': 0 });
    const t = await waitFor(async () => {
      const st = await shovelStatus(b, once);
      return st?.['state'] === 'terminated' ? st : undefined;
    }, 30_000, 50);
    expect(String(t!['reason'])).toMatch(/ECONNREFUSED/);
    // Missing source and destination queues are declared (durable), as RabbitMQ's ensure_queue does.
    const src = uniqueName('auto-src');
    const dest = uniqueName('auto-dest');
    const auto = uniqueName('auto');
    await putShovel(b, auto, { 'src-uri': 'amqp://', 'src-queue': src, 'dest-uri': a.url, 'dest-queue': dest });
    await waitFor(async () => (await shovelStatus(b, auto))?.['state'] === 'running', 30_000, 50);
    const q = await api(a, 'GET', `/api/queues/%2f/${dest}`);
    expect((q.json as Record<string, unknown>)['durable']).toBe(true);
    for (const n of [...names, once, auto]) await api(b, 'DELETE', `/api/parameters/shovel/%2f/${n}`);
    // The broker is fine.
    expect((await api(b, 'GET', '/api/overview')).status).toBe(200);
  }, TIMEOUT);

  it('refuses invalid definitions with the shovel plugin\'s reasons', async () => {
    const bad = async (value: unknown) => {
      const r = await api(a, 'PUT', '/api/parameters/shovel/%2f/probe', { value });
      expect(r.status).toBe(400);
      return (r.json as { reason: string }).reason;
    };
    expect(await bad({ 'src-uri': 'amqp://' })).toBe("Validation failed\n\nMust specify 'src-exchange' or 'src-queue'\nKey \"dest-uri\" not found in probe\n");
    expect(await bad({ 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'src-exchange': 'x' }))
      .toBe("Validation failed\n\nCannot specify 'src-exchange' and 'src-queue'\n");
    expect(await bad({ 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'ack-mode': 'bogus' }))
      .toBe('Validation failed\n\nack-mode should be one of [&lt;&lt;"no-ack"&gt;&gt;,&lt;&lt;"on-publish"&gt;&gt;,&lt;&lt;"on-confirm"&gt;&gt;], actually was &lt;&lt;"bogus"&gt;&gt;\n');
    expect(await bad({ 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'src-delete-after': 5, 'ack-mode': 'no-ack' }))
      .toBe("Validation failed\n\nCannot specify 'no-ack' and numerical 'delete-after'\n");
    expect(await bad({ 'src-uri': 5, 'dest-uri': 'amqp://', 'src-queue': 'a' })).toBe('Validation failed\n\nsrc-uri should be list, actually was 5\n');
    expect(await bad({ 'src-uri': 'foo://x', 'dest-uri': 'amqp://', 'src-queue': 'a' })).toMatch(/^Validation failed\n\n"foo:\/\/x" not a valid URI: /);
  }, TIMEOUT);
});
