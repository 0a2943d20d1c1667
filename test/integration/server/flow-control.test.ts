/**
 * Flow control (issue 10): a publisher that outruns the consumers of the queue it feeds is read
 * more slowly (its connection shows state 'flow'), so an acking consumer keeps its share and the
 * queue stays bounded; a consumer that takes nothing does not hold the publisher for ever; nothing
 * is lost or reordered. Warren-only: RabbitMQ's credit flow bounds different things (it slows a
 * publisher the queue process cannot keep up with, whatever the consumers do), so the reference is
 * not an oracle for these counts. Assertions are counts and order, never timings.
 */
import { describe, expect, it } from 'vitest';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { tableGet } from '../../../src/core/field-value.js';
import { FLOW_SLACK, type Queue } from '../../../src/broker/queue.js';
import { useBroker } from '../helpers/setup.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();
const warrenOnly = process.env['WARREN_TEST_TARGET'] === 'reference' ? describe.skip : describe;

/** The broker-side queue (in-process broker). */
function brokerQueue(name: string): Queue {
  const q = ctx.broker.warren?.broker.vhosts.get('/')?.queues.get(name);
  if (q === undefined) throw new Error(`no queue ${name}`);
  return q;
}

/** The management state of the connection opened with this connection_name. */
function stateOf(connectionName: string): string | undefined {
  for (const c of ctx.broker.warren?.broker.connections.all() ?? []) {
    const s = c.snapshot();
    const v = tableGet(s.clientProperties, 'connection_name');
    if (v?.type === 'S' && v.value.toString() === connectionName) return s.state;
  }
  return undefined;
}

function numbered(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0x61);
  b.writeUInt32BE(i, 0);
  return b;
}

/** Publish n numbered bodies as fast as the client lets us (waiting only for 'drain'). */
async function flood(conn: ChannelModel, queue: string, n: number, size: number): Promise<void> {
  const ch = await ctx.clients.channel(conn);
  for (let i = 0; i < n; i++) {
    if (!ch.sendToQueue(queue, numbered(i, size))) await new Promise((r) => ch.once('drain', r));
  }
}

warrenOnly('flow control (skipped on the reference)', () => {
  it('a flooding publisher does not starve an acking consumer: the queue stays bounded, flow shows and clears, nothing lost or reordered', async () => {
    const q = ctx.name('flow');
    const admin = await ctx.clients.channel();
    await admin.assertQueue(q, { autoDelete: false });
    try {
      const consumer = await ctx.clients.channel();
      await consumer.prefetch(100);
      const queue = brokerQueue(q);
      const seen: number[] = [];
      let maxAhead = 0;
      let sawFlow = false;
      await consumer.consume(q, (m: ConsumeMessage | null) => {
        if (m === null) return;
        seen.push(m.content.readUInt32BE(0));
        // How far the publisher got ahead of this consumer (ready + unacked), as the broker counts it.
        maxAhead = Math.max(maxAhead, queue.stats.publish - seen.length);
        if (!sawFlow && stateOf('flow-publisher') === 'flow') sawFlow = true;
        consumer.ack(m);
      });

      const total = 6 * FLOW_SLACK;
      const pub = await ctx.clients.connect('', { clientProperties: { connection_name: 'flow-publisher' } });
      await flood(pub, q, total, 1024);
      await waitFor(() => seen.length >= total, 120_000);

      expect(seen.length).toBe(total);
      expect(seen.every((v, i) => v === i)).toBe(true);
      // Bounded by the slack plus what one read and the consumer's prefetch add, far below the total.
      expect(maxAhead).toBeLessThan(2 * FLOW_SLACK);
      expect(sawFlow).toBe(true);
      await waitFor(() => stateOf('flow-publisher') === 'running', 10_000);
    } finally {
      await admin.deleteQueue(q);
    }
  }, 180_000);

  it('a consumer that takes nothing does not hold the publisher: flow lifts, the backlog grows, and drains in order afterwards', async () => {
    const q = ctx.name('flow-stalled');
    const admin = await ctx.clients.channel();
    await admin.assertQueue(q, { autoDelete: false });
    try {
      const consumer = await ctx.clients.channel();
      await consumer.prefetch(10);
      const got: ConsumeMessage[] = [];
      let acking = false;
      await consumer.consume(q, (m) => {
        if (m === null) return;
        got.push(m);
        if (acking) consumer.ack(m);
      });
      await waitFor(() => got.length === 0 && brokerQueue(q).consumerCount === 1);

      const total = 3 * FLOW_SLACK;
      const pubConn = await ctx.clients.connect('', { clientProperties: { connection_name: 'flow-stalled-publisher' } });
      const pub = await ctx.clients.confirmChannel(pubConn);
      for (let i = 0; i < total; i++) pub.sendToQueue(q, numbered(i, 64));
      // The consumer holds its 10 and acks nothing: the publisher goes into flow...
      await waitFor(() => stateOf('flow-stalled-publisher') === 'flow', 30_000);
      // ...and out again once the queue sees its consumers are stalled: everything is confirmed.
      await pub.waitForConfirms();
      expect(stateOf('flow-stalled-publisher')).toBe('running');
      expect(brokerQueue(q).messageCount).toBe(total - 10);

      // The consumer wakes up: everything arrives, in order.
      acking = true;
      consumer.ackAll();
      await waitFor(() => got.length >= total, 60_000);
      expect(got.map((m) => m.content.readUInt32BE(0))).toEqual(Array.from({ length: total }, (_, i) => i));
    } finally {
      await admin.deleteQueue(q);
    }
  }, 120_000);

  it('a queue without consumers fills at full speed: no flow', async () => {
    const q = ctx.name('flow-backlog');
    const admin = await ctx.clients.channel();
    await admin.assertQueue(q, { autoDelete: false });
    try {
      const total = 3 * FLOW_SLACK;
      const pub = await ctx.clients.confirmChannel();
      for (let i = 0; i < total; i++) pub.sendToQueue(q, numbered(i, 64));
      await pub.waitForConfirms();
      const queue = brokerQueue(q);
      expect(queue.messageCount).toBe(total);
      expect(queue.pressing).toBe(false);
    } finally {
      await admin.deleteQueue(q);
    }
  }, 60_000);
});
