/**
 * Policies on stream queues: max-length-bytes, stream-max-segment-size-bytes and max-age apply to
 * streams, and (RabbitMQ's rabbit_stream_queue:policy_precedence) a policy's value wins over the
 * queue's own argument; a policy set at runtime is applied to an existing stream at once.
 * Warren only: the reference applies stream retention asynchronously, in segments whose size counts
 * its own encoding, so the moment and the exact offsets differ (the differential retention scenario
 * compares what both guarantee).
 */
import { describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { waitFor } from '../../helpers/broker.js';
import { extensionOptions, type PolicyConfig } from '../extensions/extension-helpers.js';
import { fill } from '../helpers/clients.js';
import { useBroker } from '../helpers/setup.js';

const policies: PolicyConfig[] = [
  { name: 'P-stream-retention', pattern: '^Pstream-', applyTo: 'queues', priority: 1,
    definition: { 'max-length-bytes': 3000, 'stream-max-segment-size-bytes': 1000 } },
];
const ctx = useBroker(extensionOptions({ policies }));
const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';

async function firstOffset(q: string): Promise<number> {
  const ch = await ctx.clients.channel();
  await ch.prefetch(1000);
  const got: ConsumeMessage[] = [];
  await ch.consume(q, (m) => { if (m !== null) got.push(m); }, { arguments: { 'x-stream-offset': 'first' } });
  await waitFor(() => got.length > 0);
  await ch.close();
  return Number(got[0]!.properties.headers?.['x-stream-offset']);
}

async function publishEach(q: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fill(ctx.clients, q, [`${String(i).padStart(3, '0')}${'x'.repeat(200)}`]);
}

describe.skipIf(onReference)('stream retention from policies (Warren only: see the header)', () => {
  it('applies the policy, and the policy wins over the queue argument', async () => {
    const ch = await ctx.clients.channel();
    const q = `Pstream-${ctx.name('a')}`;
    // The argument alone would keep everything: the policy's 3000 bytes win.
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': 1_000_000_000 } });
    await publishEach(q, 30);
    expect(await firstOffset(q)).toBeGreaterThan(10);
    await ch.deleteQueue(q);
  });

  it('applies a policy set at runtime to an existing stream', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('later');
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': 1000 } });
    await publishEach(q, 30);
    expect(await firstOffset(q)).toBe(0);
    const broker = ctx.broker.warren!.broker;
    broker.policies.put('policy', '/', 'P-later', { pattern: `^${q}$`, definition: { 'max-length-bytes': 2000 }, priority: 5, 'apply-to': 'queues' });
    expect(await firstOffset(q)).toBeGreaterThan(15);
    broker.policies.delete('policy', '/', 'P-later');
    await ch.deleteQueue(q);
  });

  it('x-max-age drops closed segments once their newest message is older (the active one stays)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('aged');
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1s', 'x-stream-max-segment-size-bytes': 1000 } });
    await publishEach(q, 20);
    // Checked every max-age (at most a minute): poll, never sleep.
    await waitFor(async () => (await ch.checkQueue(q)).messageCount < 20, 15_000, 100);
    const left = (await ch.checkQueue(q)).messageCount;
    expect(left).toBeGreaterThan(0); // the active segment is never dropped
    expect(await firstOffset(q)).toBe(20 - left);
    await ch.deleteQueue(q);
  }, 30_000);
});
