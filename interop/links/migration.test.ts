/**
 * The migration path of README "Migrating to a RabbitMQ cluster", run against the reference standing
 * in for the cluster, with a live publisher and a live consumer that never stop:
 *  1. export the vhost's definitions from Warren, 2. create the vhost on RabbitMQ and import them,
 *  3. shovel every queue's backlog across (on-confirm), 4. switch the publisher, then the consumer,
 *  5. wait for Warren's queues to drain, 6. verify the counts.
 * Proves: every confirmed message is consumed (the live queue) or waiting on RabbitMQ (the backlog
 * queue), and none twice (nothing failed here, so on-confirm has nothing to redeliver).
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, waitFor, type TestBroker } from '../../test/helpers/broker.js';
import { referenceManagement } from '../../test/helpers/reference-plugins.js';
import { depth, drain } from '../../test/integration/links/link-helpers.js';
import { managementApi, type ManagementApi } from './http-json.js';

const TIMEOUT = 240_000;

/** Publishes p0, p1, ... to exchange `orders` (key eu.<n>) with confirms, to whichever broker it is pointed at. */
class LivePublisher {
  readonly confirmed: string[] = [];
  private stopped = false;
  private target: string;
  private loop: Promise<void> | undefined;
  private n = 0;
  constructor(url: string) { this.target = url; }
  start(): void { this.loop = this.run(); }
  switchTo(url: string): void { this.target = url; }
  async stop(): Promise<void> { this.stopped = true; await this.loop; }
  private async run(): Promise<void> {
    let url = '';
    let c: amqp.ChannelModel | undefined;
    let ch: amqp.ConfirmChannel | undefined;
    while (!this.stopped) {
      if (url !== this.target) {
        await c?.close();
        url = this.target;
        c = await amqp.connect(url);
        ch = await c.createConfirmChannel();
      }
      const batch: string[] = [];
      for (let i = 0; i < 50; i++) {
        const id = `p${this.n++}`;
        ch!.publish('orders', `eu.${id}`, Buffer.from(id), { persistent: true, messageId: id });
        batch.push(id);
      }
      await ch!.waitForConfirms();
      this.confirmed.push(...batch);
      await new Promise((r) => setTimeout(r, 5));
    }
    await c?.close();
  }
}

/** Consumes orders.eu, acking each message as it records it. */
class LiveConsumer {
  readonly received: string[] = [];
  private c: amqp.ChannelModel | undefined;
  async consumeFrom(url: string): Promise<void> {
    const old = this.c;
    const c = await amqp.connect(url);
    const ch = await c.createChannel();
    await ch.prefetch(50);
    await ch.consume('orders.eu', (m) => {
      if (m === null) return;
      this.received.push(m.content.toString());
      ch.ack(m);
    });
    this.c = c;
    // Switching: the old connection goes after the new one consumes; what it had unacked is requeued on Warren and shovelled.
    await old?.close();
  }
  async stop(): Promise<void> { await this.c?.close(); }
}

let warren: TestBroker;
let ref: string | undefined;
let refApi: ManagementApi | undefined;
let skip: string | undefined;
const vhost = uniqueName('migrate');
const v = encodeURIComponent(vhost);

beforeAll(async () => {
  warren = await startTestBroker({ managementPort: 0 });
  ref = await referenceUrl();
  const mgmt = await referenceManagement();
  if (ref === undefined) skip = 'reference RabbitMQ not reachable';
  else if ('skip' in mgmt) skip = mgmt.skip;
  else refApi = managementApi(mgmt.url);
}, 120_000);
afterAll(async () => {
  await refApi?.delete(`/api/vhosts/${v}`);
  await warren.close();
});

it('moves a live vhost from Warren to RabbitMQ without losing or duplicating a message', async (ctx) => {
  if (skip !== undefined) return ctx.skip(skip);
  const w = managementApi(warren.warren!.managementUrl!);
  // Warren's topology: a topic exchange, a live queue and a backlog queue nobody consumes yet.
  expect((await w.put(`/api/vhosts/${v}`, {})).status).toBe(201);
  await w.put(`/api/permissions/${v}/guest`, { configure: '.*', write: '.*', read: '.*' });
  await w.put(`/api/exchanges/${v}/orders`, { type: 'topic', durable: true });
  for (const q of ['orders.eu', 'orders.audit']) await w.put(`/api/queues/${v}/${q}`, { durable: true });
  await w.post(`/api/bindings/${v}/e/orders/q/orders.eu`, { routing_key: 'eu.*' });
  await w.post(`/api/bindings/${v}/e/orders/q/orders.audit`, { routing_key: '#' });
  const warrenUrl = `${warren.url}/${v}`;
  const refVhostUrl = `${ref!}/${v}`;

  const publisher = new LivePublisher(warrenUrl);
  const consumer = new LiveConsumer();
  await consumer.consumeFrom(warrenUrl);
  publisher.start();
  await waitFor(() => publisher.confirmed.length >= 1000, 60_000, 10);

  // 1-2. Export the vhost's definitions from Warren and import them into RabbitMQ.
  const defs = (await w.get(`/api/definitions/${v}`)).json as { queues: { name: string }[] };
  expect(defs.queues.map((q) => q.name).sort()).toEqual(['orders.audit', 'orders.eu']);
  expect((await refApi!.put(`/api/vhosts/${v}`, {})).status).toBe(201);
  await refApi!.put(`/api/permissions/${v}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const imported = await refApi!.post(`/api/definitions/${v}`, defs);
  expect(imported.status, imported.text).toBeLessThan(300);

  // 3. One on-confirm shovel per queue, Warren -> RabbitMQ, same queue name.
  for (const q of defs.queues) {
    const r = await w.put(`/api/parameters/shovel/${v}/migrate-${q.name}`, { value: {
      'src-uri': 'amqp://', 'src-queue': q.name, 'dest-uri': refVhostUrl, 'dest-queue': q.name, 'ack-mode': 'on-confirm',
    } });
    expect(r.status, r.text).toBe(201);
  }
  await waitFor(async () => ((await w.get(`/api/shovels/${v}`)).json as { state: string }[]).every((s) => s.state === 'running'), 60_000, 50);

  // 4. Switch the publisher, then the consumer, while everything keeps running.
  await waitFor(() => publisher.confirmed.length >= 2000, 60_000, 10);
  publisher.switchTo(refVhostUrl);
  const switchedAt = publisher.confirmed.length;
  await waitFor(() => publisher.confirmed.length >= switchedAt + 500, 60_000, 10);
  await consumer.consumeFrom(refVhostUrl);
  await waitFor(() => publisher.confirmed.length >= switchedAt + 1500, 60_000, 10);
  await publisher.stop();

  // 5. Warren's queues drain into RabbitMQ; the consumer catches up.
  await waitFor(async () => (await depth(warrenUrl, 'orders.eu')) === 0 && (await depth(warrenUrl, 'orders.audit')) === 0, 120_000, 100);
  const total = publisher.confirmed.length;
  await waitFor(() => new Set(consumer.received).size >= total, 120_000, 50);
  await consumer.stop();
  for (const q of defs.queues) expect((await w.delete(`/api/parameters/shovel/${v}/migrate-${q.name}`)).status).toBe(204);

  // 6. Verify: nothing lost, nothing twice.
  const missingLive = publisher.confirmed.filter((id) => !consumer.received.includes(id));
  expect(missingLive).toEqual([]);
  expect(consumer.received.length).toBe(total);
  const audit = await drain(refVhostUrl, 'orders.audit');
  expect(audit.length).toBe(total);
  expect(new Set(audit)).toEqual(new Set(publisher.confirmed));
  expect(await depth(refVhostUrl, 'orders.eu')).toBe(0);
}, TIMEOUT);
