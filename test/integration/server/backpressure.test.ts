/**
 * Outbound backpressure (issue 2, "the hot path"): a consumer whose socket stops draining stops
 * receiving until it drains, while other consumers of the same queue keep getting messages; nothing
 * is lost or duplicated once it resumes. Warren-only: how far RabbitMQ keeps feeding a stuck
 * consumer depends on its credit flow, so the reference is not a useful oracle here.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { Inbox } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { bits, methodFrame, rawHandshake, rawOpenChannel, short, shortstr, table } from '../helpers/raw-amqp.js';

const ctx = useBroker();
const warrenOnly = process.env['WARREN_TEST_TARGET'] === 'reference' ? describe.skip : describe;

warrenOnly('a consumer that stops reading (skipped on the reference)', () => {
  it('is skipped while its socket is full; the others get the rest; nothing is lost once it reads again', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.name('stuck');
    await ch.assertQueue(q, { autoDelete: false });
    try {
      // The stuck consumer: a raw connection that never reads its socket (no-ack, no prefetch limit).
      const h = await rawHandshake(ctx.port);
      await rawOpenChannel(h.conn, 1);
      h.conn.send(methodFrame(1, 60, 20, [short(0), shortstr(q), shortstr('stuck'), bits(false, true, false, false), table()]));
      await h.conn.expectMethod(60, 21);
      h.conn.socket.pause();

      const fast = new Inbox();
      await ch.consume(q, fast.handler, { noAck: true });

      const total = 1500;
      const body = Buffer.alloc(16 * 1024, 3); // ~24 MB in all, far beyond socket buffers
      const pub = await ctx.clients.confirmChannel(conn);
      for (let i = 0; i < total; i++) pub.sendToQueue(q, body);
      await pub.waitForConfirms();

      // The healthy consumer gets everything the stuck one could not take.
      await waitFor(async () => fast.messages.length > total / 2 && (await ch.checkQueue(q)).messageCount === 0, 20_000);

      // Resume reading: the stuck consumer's share arrives, and together nothing is missing.
      let stuckGot = 0;
      h.conn.socket.resume();
      await waitFor(async () => {
        for (;;) {
          const f = await h.conn.next(20).catch(() => undefined);
          if (f === undefined) break;
          if (f.classId === 60 && f.methodId === 60) stuckGot++;
        }
        return stuckGot + fast.messages.length >= total;
      }, 20_000);
      expect(stuckGot + fast.messages.length).toBe(total);
      h.conn.destroy();
    } finally {
      await ch.deleteQueue(q);
    }
  });
});
