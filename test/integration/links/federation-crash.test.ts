/**
 * kill -9 of the upstream of a federated exchange during a transfer (ack-mode on-confirm): the upstream
 * is a child-process Warren restarted on the same port and data dir, the downstream an in-process
 * Warren whose link reconnects. A publisher at the upstream publishes persistent messages with
 * confirms before, across (reconnecting, resuming after its last confirmed batch) and after the kill.
 * Every confirmed message reaches the downstream queue at least once, first copies in publish order;
 * duplicates only of the link's unacknowledged window at the kill and of the publisher's unconfirmed
 * batch (which it publishes again). Count-based: no timing is asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { afterEach, expect, it } from 'vitest';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';
import { depth, drain, freePort, kill9, spawnWarren } from './link-helpers.js';

const TIMEOUT = 300_000;
const TOTAL = 6_000;
const BATCH = 100;
const PREFETCH = 100;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(base + path, {
    method, headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) as unknown };
}

/**
 * Publishes m0..m<TOTAL-1> persistent to exchange `x` in confirmed batches; on a lost connection it
 * reconnects (the broker restarting) and publishes again from the first unconfirmed batch.
 * `confirmed` is the number of messages confirmed so far (a prefix).
 */
function publisher(url: string, x: string): { confirmed: () => number; done: Promise<void>; stop: () => void } {
  let confirmed = 0;
  let stopped = false;
  const run = async (): Promise<void> => {
    while (confirmed < TOTAL && !stopped) {
      let conn: amqplib.ChannelModel | undefined;
      try {
        conn = await amqplib.connect(url);
        conn.on('error', () => undefined);
        const ch = await conn.createConfirmChannel();
        ch.on('error', () => undefined);
        while (confirmed < TOTAL && !stopped) {
          const end = Math.min(confirmed + BATCH, TOTAL);
          for (let i = confirmed; i < end; i++) ch.publish(x, 'k', Buffer.from(`m${i}`), { persistent: true });
          await ch.waitForConfirms();
          confirmed = end;
        }
        await conn.close();
      } catch {
        await conn?.close().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100)); // reconnect pacing, not an assertion
      }
    }
  };
  return { confirmed: () => confirmed, done: run(), stop: () => { stopped = true; } };
}

it('kill -9 of the upstream mid-transfer: every confirmed message arrives downstream, in order', async () => {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-fed-crash-'));
  let child = await spawnWarren(port, dataDir);
  cleanups.push(async () => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) await kill9(child);
    await rm(dataDir, { recursive: true, force: true });
  });
  const edge: TestBroker = await startTestBroker({ managementPort: 0, server: { clusterName: 'warren-crash-edge' } });
  cleanups.push(() => edge.close());
  const edgeApi = edge.warren!.managementUrl!;
  const upUrl = `amqp://guest:guest@127.0.0.1:${port}`;
  const x = uniqueName('fed.crash');
  const dq = uniqueName('fed.crash.q');
  const up = uniqueName('up');

  // The exchange exists durable on both sides; the downstream queue is durable and bound.
  const setup = await amqplib.connect(upUrl);
  await (await setup.createChannel()).assertExchange(x, 'direct', { durable: true });
  await setup.close();
  const ec = await amqplib.connect(edge.url);
  const ech = await ec.createChannel();
  await ech.assertExchange(x, 'direct', { durable: true });
  await ech.assertQueue(dq, { durable: true });
  await ech.bindQueue(dq, x, 'k');
  await ec.close();

  expect((await api(edgeApi, 'PUT', `/api/parameters/federation-upstream/%2f/${up}`, {
    value: { uri: upUrl, 'ack-mode': 'on-confirm', 'prefetch-count': PREFETCH, 'reconnect-delay': 0.1 },
  })).status).toBeLessThan(300);
  expect((await api(edgeApi, 'PUT', `/api/policies/%2f/${up}`, {
    pattern: `^${x.replace(/\./g, '\\.')}$`, definition: { 'federation-upstream': up }, 'apply-to': 'exchanges',
  })).status).toBeLessThan(300);
  const running = async () => ((await api(edgeApi, 'GET', '/api/federation-links')).json as Record<string, unknown>[])
    .some((l) => l['exchange'] === x && l['status'] === 'running');
  await waitFor(running, 120_000, 50);
  // The upstream queue is bound on the upstream before anything is published (the link is running).
  const pub = publisher(upUrl, x);
  cleanups.push(async () => { pub.stop(); await pub.done; });

  await waitFor(async () => (await depth(edge.url, dq)) >= 500, 120_000, 20);
  const deliveredAtKill = await depth(edge.url, dq);
  await kill9(child);
  const confirmedAtKill = pub.confirmed();
  // The kill came mid-transfer and mid-publish (else this test would prove nothing).
  expect(confirmedAtKill).toBeLessThan(TOTAL);
  child = await spawnWarren(port, dataDir);
  await pub.done;
  expect(pub.confirmed()).toBe(TOTAL);
  await waitFor(running, 120_000, 50);
  const upstreamQueue = `federation: ${x} -> warren-crash-edge`;
  await waitFor(async () => (await depth(upUrl, upstreamQueue)) === 0 && (await depth(edge.url, dq)) >= TOTAL, 180_000, 100);
  await api(edgeApi, 'DELETE', `/api/policies/%2f/${up}`);

  const bodies = (await drain(edge.url, dq)).map((b) => Number(b.slice(1)));
  const seen = new Set<number>();
  const firsts: number[] = [];
  const dups: number[] = [];
  for (const i of bodies) {
    if (seen.has(i)) dups.push(i);
    else firsts.push(i);
    seen.add(i);
  }
  const missing = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => !seen.has(i));
  expect(missing).toEqual([]);
  // One publisher, one link, one queue: first copies arrive in publish order.
  expect(firsts).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
  // Duplicates: what the link had delivered but not yet acknowledged upstream when the upstream died
  // (at most the prefetch window before what had arrived), and the publisher's unconfirmed batch.
  // Nothing older than that window, nothing published after the restart, is duplicated.
  expect(dups.filter((i) => i < deliveredAtKill - PREFETCH - BATCH || i >= confirmedAtKill + BATCH)).toEqual([]);
  console.log(`upstream killed with ${deliveredAtKill} delivered, ${confirmedAtKill} confirmed of ${TOTAL}; ${dups.length} duplicates`);
}, TIMEOUT);
