/**
 * A consumer far behind reads a stream from disk with bounded memory (issue 15): publish
 * WARREN_STREAM_MESSAGES (default 100k) 1 KiB messages with confirms into a stream, then replay them
 * all from `first` with two consumers, one fast and one slow, watching the broker child's VmRSS. A
 * stream holds nothing in memory (deliveries are read back through each consumer's cursor, a chunk
 * and a run of records at a time), so the bound is generous on purpose: the broker must stay far
 * below the stream's size (a broker holding the stream in memory needs more than its bytes).
 * Warren only: the reference's memory is not this process tree's to measure.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { killAllBrokers } from './helpers/broker-process.js';
import { isIntact, makeBody } from './helpers/amqp-session.js';
import { Harness } from './helpers/harness.js';
import { waitFor } from '../../helpers/broker.js';

const N = Number(process.env['WARREN_STREAM_MESSAGES'] ?? 100_000);
const BODY = 1024;
const MIB = 1024 * 1024;

describe(`a ${N}-message stream read from the start (Warren only)`, () => {
  const h = new Harness({ segmentSize: 4 * MIB });
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it('replays everything with the broker RSS far below the stream size', async () => {
    const b = await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('big', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    const baseline = b.rssBytes();
    let peak = baseline;
    const sampler = setInterval(() => { peak = Math.max(peak, b.rssBytes()); }, 100);
    try {
      for (let i = 0; i < N; i += 500) {
        for (let s = i; s < Math.min(i + 500, N); s++) ch.sendToQueue('big', makeBody('big', s, BODY));
        await ch.waitForConfirms();
      }
      const readers = [{ prefetch: 1000, slow: false }, { prefetch: 10, slow: true }].map(async ({ prefetch, slow }) => {
        const c = await h.session.channel();
        await c.prefetch(prefetch);
        let n = 0;
        let bad = 0;
        await c.consume('big', (m: ConsumeMessage | null) => {
          if (m === null) return;
          if (!isIntact(m.content)) bad++;
          n++;
          if (slow) setImmediate(() => c.ack(m));
          else c.ack(m);
        }, { arguments: { 'x-stream-offset': 'first' } });
        await waitFor(() => n >= N, 120_000);
        return bad;
      });
      expect(await Promise.all(readers)).toEqual([0, 0]);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    console.log(`stream of ${N} x ${BODY} B: broker RSS ${Math.round(baseline / MIB)} -> peak ${Math.round(peak / MIB)} MiB`);
    expect(growth, 'RSS growth while publishing and replaying').toBeLessThan(Math.max(96 * MIB, (N * BODY) / 4));
  }, 240_000);
});
