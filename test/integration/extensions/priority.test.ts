/**
 * Priority queues (rabbitmq.com/docs/priority): a queue declared with x-max-priority delivers higher
 * priorities first and FIFO within one priority; messages without a priority count as 0; priorities
 * above the maximum are treated as the maximum (the property itself is delivered unchanged); a
 * queue without x-max-priority ignores the property. Also the priority work queue of issue 5's
 * "done means": competing consumers with prefetch 1 drain a backlog in priority order.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { expectCode } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { drain } from './extension-helpers.js';

const ctx = useBroker();

async function publishAll(queue: string, msgs: ReadonlyArray<[string, number | undefined]>): Promise<void> {
  const ch = await ctx.clients.confirmChannel();
  for (const [body, priority] of msgs) {
    ch.sendToQueue(queue, Buffer.from(body), priority === undefined ? {} : { priority });
  }
  await ch.waitForConfirms();
  await ch.close();
}

describe('x-max-priority', () => {
  it('delivers higher priorities first, FIFO within a priority, no priority = 0', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prio');
    await ch.assertQueue(q, { exclusive: false, arguments: { 'x-max-priority': 10 } });
    try {
      await publishAll(q, [['p1-a', 1], ['none-a', undefined], ['p5-a', 5], ['p10', 10], ['p5-b', 5], ['p0', 0], ['p1-b', 1], ['none-b', undefined]]);
      expect(await drain(ch, q)).toEqual(['p10', 'p5-a', 'p5-b', 'p1-a', 'p1-b', 'none-a', 'p0', 'none-b']);
    } finally {
      await ch.deleteQueue(q);
    }
  });

  it('priorities above the maximum are treated as the maximum; the property is delivered unchanged', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prio-cap');
    await ch.assertQueue(q, { exclusive: false, arguments: { 'x-max-priority': 5 } });
    try {
      await publishAll(q, [['p5', 5], ['p9', 9], ['p200', 200], ['p4', 4]]);
      const got: Array<[string, number | undefined]> = [];
      for (;;) {
        const m = await ch.get(q, { noAck: true });
        if (m === false) break;
        got.push([m.content.toString(), m.properties.priority as number | undefined]);
      }
      expect(got).toEqual([['p5', 5], ['p9', 9], ['p200', 200], ['p4', 4]]);
    } finally {
      await ch.deleteQueue(q);
    }
  });

  it('a queue without x-max-priority ignores message priority (plain FIFO)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prio-none');
    await ch.assertQueue(q, { exclusive: false });
    try {
      await publishAll(q, [['low', 0], ['high', 9], ['mid', 5]]);
      expect(await drain(ch, q)).toEqual(['low', 'high', 'mid']);
    } finally {
      await ch.deleteQueue(q);
    }
  });

  it('a requeued message goes back in priority order', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prio-requeue');
    await ch.assertQueue(q, { exclusive: false, arguments: { 'x-max-priority': 10 } });
    try {
      await publishAll(q, [['high', 9], ['low', 1]]);
      const first = await ch.get(q, { noAck: false });
      expect(first !== false && first.content.toString()).toBe('high');
      await publishAll(q, [['mid', 5]]);
      if (first !== false) ch.nack(first, false, true);
      await waitFor(async () => (await ch.checkQueue(q)).messageCount === 3);
      expect(await drain(ch, q)).toEqual(['high', 'mid', 'low']);
    } finally {
      await ch.deleteQueue(q);
    }
  });

  it('with x-max-length, drop-head drops the message that would be delivered next (the highest priority)', async () => {
    // RabbitMQ 3.10 observed: the "head" of a priority queue is its next delivery, so overflow
    // drops (and dead-letters) high-priority messages first, not the oldest ones.
    const ch = await ctx.clients.channel();
    const q = ctx.name('prio-maxlen');
    const dead = ctx.name('prio-maxlen-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { 'x-max-priority': 5, 'x-max-length': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
    });
    await publishAll(q, [['a-p1', 1], ['b-p5', 5], ['c-p1', 1], ['d-p3', 3]]);
    expect(await drain(ch, q)).toEqual(['a-p1', 'c-p1']);
    await waitFor(async () => (await ch.checkQueue(dead)).messageCount === 2);
    expect(await drain(ch, dead)).toEqual(['b-p5', 'd-p3']);
  });

  it('priority work queue: competing consumers with prefetch 1 take the backlog in priority order', async () => {
    const q = ctx.name('prio-work');
    const setup = await ctx.clients.channel();
    await setup.assertQueue(q, { durable: false, arguments: { 'x-max-priority': 3 } });
    try {
      const jobs: Array<[string, number]> = [];
      for (let i = 0; i < 12; i++) jobs.push([`job-${i}-p${i % 4}`, i % 4]);
      await publishAll(q, jobs);
      const perWorker: string[][] = [[], []];
      const workers = await Promise.all([0, 1].map(async (w) => {
        const ch = await ctx.clients.channel();
        await ch.prefetch(1);
        await ch.consume(q, (m: ConsumeMessage | null) => {
          if (m === null) return;
          perWorker[w]?.push(m.content.toString());
          ch.ack(m);
        }, { noAck: false });
        return ch;
      }));
      await waitFor(() => (perWorker[0]?.length ?? 0) + (perWorker[1]?.length ?? 0) === 12);
      const prio = (b: string): number => Number(b.slice(b.lastIndexOf('p') + 1));
      // The backlog was queued before the workers started. Each worker sees its share in priority
      // order (deliveries on one connection keep the server's order; across two connections the
      // interleaving is not observable), and together they got every job once.
      for (const seq of perWorker) {
        const ps = seq.map(prio);
        expect([...ps].sort((a, b) => b - a)).toEqual(ps);
      }
      expect([...(perWorker[0] ?? []), ...(perWorker[1] ?? [])].sort()).toEqual(jobs.map(([b]) => b).sort());
      for (const w of workers) await w.close();
    } finally {
      await setup.deleteQueue(q);
    }
  });

  it.each([
    [256, '{max_value_exceeded,256}'],
    [-1, '{value_negative,-1}'],
  ])('x-max-priority %d is refused with 406', async (value, detail) => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prio-bad');
    const err = await expectCode(ch.assertQueue(q, { arguments: { 'x-max-priority': value } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '${q}' in vhost '/': ${detail}`);
  });
});
