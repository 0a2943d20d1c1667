/**
 * Shovels between Warren and the reference RabbitMQ 3.10, both ways, with on-confirm:
 * - Warren's shovel moving Warren -> reference and reference -> Warren, sockets destroyed mid-transfer;
 * - the reference's own rabbitmq_shovel pulling from Warren (Warren as a source for RabbitMQ's client);
 * - the same invalid definitions refused by both with the same reasons, and the same /api/shovels shape.
 * Skips with the reason when the reference (or its shovel plugin) is not available.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, waitFor, type TestBroker } from '../../test/helpers/broker.js';
import { referenceShovels } from '../../test/helpers/reference-plugins.js';
import { depth, drain, publish } from '../../test/integration/links/link-helpers.js';
import { managementApi, type ManagementApi } from './http-json.js';

const TIMEOUT = 180_000;




async function deleteQueues(url: string, queues: string[]): Promise<void> {
  const c = await amqp.connect(url);
  for (const q of queues) {
    const ch = await c.createChannel();
    await ch.deleteQueue(q).catch(() => undefined);
    await ch.close().catch(() => undefined);
  }
  await c.close().catch(() => undefined);
}

function expectAllOnce(bodies: string[], total: number, maxDuplicates: number): void {
  const unique = new Set(bodies);
  expect(Array.from({ length: total }, (_, i) => `m${i}`).filter((m) => !unique.has(m))).toEqual([]);
  expect(bodies.length - total).toBeLessThanOrEqual(maxDuplicates);
}

let warren: TestBroker;
let ref: string | undefined;
let refApi: ManagementApi | undefined;
let skip: string | undefined;
let wApi: ManagementApi;
const refQueues: string[] = [];

beforeAll(async () => {
  warren = await startTestBroker({ managementPort: 0 });
  wApi = managementApi(warren.warren!.managementUrl!);
  ref = await referenceUrl();
  if (ref === undefined) {
    skip = 'reference RabbitMQ not reachable';
    return;
  }
  const plugin = await referenceShovels();
  if ('skip' in plugin) skip = plugin.skip;
  else refApi = managementApi(plugin.url);
}, 120_000);
afterAll(async () => {
  if (ref !== undefined) await deleteQueues(ref, refQueues);
  await warren.close();
});

describe('Warren\'s shovels with the reference at the other end', () => {
  it('Warren -> reference and reference -> Warren, on-confirm, sockets destroyed mid-transfer', async (ctx) => {
    if (ref === undefined) return ctx.skip('reference RabbitMQ not reachable');
    const total = 3000;
    const wq = uniqueName('w-src');
    const rq = uniqueName('ref-dest');
    const back = uniqueName('w-back');
    refQueues.push(rq);
    await publish(warren.url, wq, total);
    const out = uniqueName('to-ref');
    const home = uniqueName('from-ref');
    expect((await wApi.put(`/api/parameters/shovel/%2f/${out}`, { value: {
      'src-uri': 'amqp://', 'src-queue': wq, 'dest-uri': ref, 'dest-queue': rq, 'src-prefetch-count': 200, 'reconnect-delay': 0.1,
    } })).status).toBe(201);
    const worker = () => warren.warren!.shovels.worker('/', out)!;
    for (let i = 1; i <= 3; i++) {
      await waitFor(() => worker().state === 'running' && worker().counters.acked >= i * 400, 120_000, 2);
      if (worker().counters.acked < total) worker().destroyConnections();
    }
    await waitFor(async () => (await depth(warren.url, wq)) === 0 && (await depth(ref!, rq)) >= total, 120_000, 100);
    await wApi.delete(`/api/parameters/shovel/%2f/${out}`);
    // ... and back home: the reference as the source.
    await wApi.put(`/api/parameters/shovel/%2f/${home}`, { value: {
      'src-uri': ref, 'src-queue': rq, 'dest-uri': 'amqp://', 'dest-queue': back, 'ack-mode': 'on-confirm',
    } });
    await waitFor(async () => (await depth(ref!, rq)) === 0, 120_000, 100);
    await waitFor(() => warren.warren!.shovels.worker('/', home)!.counters.acked >= total, 60_000, 20);
    await wApi.delete(`/api/parameters/shovel/%2f/${home}`);
    expectAllOnce(await drain(warren.url, back), total, 3 * 200);
  }, TIMEOUT);
});

describe('the reference\'s rabbitmq_shovel with Warren at the other end', () => {
  it('RabbitMQ\'s shovel plugin drains a Warren queue into the reference (Warren as its source)', async (ctx) => {
    if (skip !== undefined) return ctx.skip(skip);
    const total = 2000;
    const wq = uniqueName('w-for-rabbit');
    const rq = uniqueName('rabbit-pulled');
    refQueues.push(rq);
    await publish(warren.url, wq, total);
    const name = uniqueName('ref-shovel');
    const put = await refApi!.put(`/api/parameters/shovel/%2f/${name}`, { value: {
      'src-uri': warren.url, 'src-queue': wq, 'dest-uri': 'amqp://', 'dest-queue': rq, 'ack-mode': 'on-confirm',
      'src-delete-after': 'queue-length',
    } });
    expect(put.status, put.text).toBe(201);
    try {
      await waitFor(async () => (await refApi!.get(`/api/parameters/shovel/%2f/${name}`)).status === 404, 120_000, 200);
      expect(await depth(warren.url, wq)).toBe(0);
      expectAllOnce(await drain(ref!, rq), total, 0);
    } finally {
      await refApi!.delete(`/api/parameters/shovel/%2f/${name}`);
    }
  }, TIMEOUT);

  it('the same definitions are refused with the same reasons; /api/shovels has the same shape', async (ctx) => {
    if (skip !== undefined) return ctx.skip(skip);
    const name = uniqueName('probe');
    const values: unknown[] = [
      { 'src-uri': 'amqp://' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'src-exchange': 'x' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'dest-queue': 'b', 'dest-exchange': 'c' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'ack-mode': 'bogus' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'src-delete-after': 'x' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'src-delete-after': 5, 'ack-mode': 'no-ack' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'prefetch-count': 'x' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'src-prefetch-count': 'x', 'reconnect-delay': 'y' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'add-forward-headers': 'x' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'dest-add-timestamp-header': 1 },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 7 },
      { 'src-uri': 5, 'dest-uri': 'amqp://', 'src-queue': 'a' },
      { 'src-uri': 'amqp://', 'dest-uri': 'amqp://', 'src-queue': 'a', 'bogus-key': true, 'other': 'x' },
    ];
    for (const value of values) {
      const [w, r] = await Promise.all([
        wApi.put(`/api/parameters/shovel/%2f/${name}`, { value }),
        refApi!.put(`/api/parameters/shovel/%2f/${name}`, { value }),
      ]);
      expect({ value, status: w.status, body: w.json }).toEqual({ value, status: r.status, body: r.json });
    }
    // A running shovel in each, same keys in the status.
    const q = uniqueName('shape');
    refQueues.push(q, `${q}-dest`);
    const value = { 'src-uri': 'amqp://', 'src-queue': q, 'dest-uri': 'amqp://', 'dest-queue': `${q}-dest` };
    await Promise.all([wApi.put(`/api/parameters/shovel/%2f/${name}`, { value }), refApi!.put(`/api/parameters/shovel/%2f/${name}`, { value })]);
    try {
      const running = async (api: ManagementApi) => waitFor(async () => {
        const s = ((await api.get('/api/shovels/%2f')).json as Record<string, unknown>[]).find((x) => x['name'] === name);
        return s?.['state'] === 'running' ? s : undefined;
      }, 60_000, 100);
      const [ws, rs] = await Promise.all([running(wApi), running(refApi!)]);
      expect(Object.keys(ws!).sort()).toEqual(Object.keys(rs!).sort());
      const { node: _n1, timestamp: _t1, ...wRest } = ws!;
      const { node: _n2, timestamp: _t2, ...rRest } = rs!;
      expect(wRest).toEqual(rRest);
      expect((await wApi.delete(`/api/shovels/vhost/%2f/${name}/restart`)).status).toBe((await refApi!.delete(`/api/shovels/vhost/%2f/${name}/restart`)).status);
      const missing = uniqueName('none');
      expect((await wApi.delete(`/api/shovels/vhost/%2f/${missing}/restart`)).status).toBe((await refApi!.delete(`/api/shovels/vhost/%2f/${missing}/restart`)).status);
    } finally {
      await wApi.delete(`/api/parameters/shovel/%2f/${name}`);
      await refApi!.delete(`/api/parameters/shovel/%2f/${name}`);
    }
  }, TIMEOUT);
});
