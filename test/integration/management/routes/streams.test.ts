/**
 * Stream queues in the management API: type "stream", members/online/readers and messages as
 * RabbitMQ 3.10 shows them, 3.13's committed_offset and segments (and Warren's first_offset), consumers with
 * their stream offset and lag (a Warren addition), and the refusals of purge and get. Runs against the
 * reference too (WARREN_TEST_TARGET=reference) for the fields RabbitMQ has.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../helpers/broker.js';
import { useManagement } from '../api-client.js';

const m = useManagement();
const api = () => m.api();

describe('stream queues in /api/queues', () => {
  it('shows type stream, the committed offset, segments and consumers with their offsets', { timeout: 40_000 }, async () => {
    const q = m.ctx.name('mgmt-stream');
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    const consumer = await conn.createChannel();
    await consumer.prefetch(4);
    await consumer.consume(q, () => {}, { consumerTag: 'reader', arguments: { 'x-stream-offset': 'first' } });
    // The reference shows counts from statistics emitted every few seconds: poll.
    await waitFor(async () => {
      const o = await api().obj(`/api/queues/%2F/${q}`);
      return o['consumers'] === 1 && o['messages'] === 10;
    }, 20_000, 200);
    const shown = await api().obj(`/api/queues/%2F/${q}`);
    expect(shown).toMatchObject({ name: q, type: 'stream', durable: true, arguments: { 'x-queue-type': 'stream' } });
    expect(shown).toMatchObject({ members: [expect.any(String)], online: [expect.any(String)], messages: 10, messages_ready: 10 });
    if (!m.ctx.isReference) {
      expect(shown).toMatchObject({ committed_offset: 9, segments: 1, first_offset: 0, messages_ready: 10 });
      const details = shown['consumer_details'] as Array<Record<string, unknown>>;
      expect(details[0]).toMatchObject({ consumer_tag: 'reader', prefetch_count: 4, offset: 4, offset_lag: 6, arguments: { 'x-stream-offset': 'first' } });
    }
    const purge = await api().delete(`/api/queues/%2F/${q}/contents`);
    expect(purge.status).toBeGreaterThanOrEqual(400);
    await conn.createChannel().then((c) => c.deleteQueue(q));
  });
});
