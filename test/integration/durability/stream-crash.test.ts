/**
 * Streams under kill -9 (issue 15: "survives restarts and kill -9 like every durable queue"): a
 * publisher with confirms appends numbered, self-checking bodies to a stream (small segments, so
 * several segments are closed and summarized during a round), also fanned out to a durable classic
 * queue, while a consumer with server-side offset tracking reads and acks; the broker child process
 * is killed at a random moment, restarted on the same data dir, and the stream is read from `first`:
 *   - offsets are dense from 0 and bodies are intact and in publish order (nothing invented);
 *   - every confirmed message is there, at the offset it had before the kill when it was seen then;
 *   - the tracked consumer resumes at an offset it had not acked before the kill.
 * Warren only: the shared reference broker cannot be killed by a test.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { killAllBrokers } from './helpers/broker-process.js';
import { isIntact, makeBody, parseBody } from './helpers/amqp-session.js';
import { Harness } from './helpers/harness.js';
import { waitFor } from '../../helpers/broker.js';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 4);
const STREAM = 'crash.stream';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a stream across kill -9 (Warren only: the reference cannot be killed by a test)', () => {
  const h = new Harness();
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it('keeps every confirmed message at its offset, densely, and resumes tracked consumers', async () => {
    await h.start();
    const confirmed = new Set<number>();
    const offsetOf = new Map<number, number>();
    let next = 0;
    /** Lowest offset the tracked consumer was given and did not ack in the previous round (it must get it again). */
    let firstUnacked = Infinity;
    for (let round = 1; round <= ROUNDS; round++) {
      const pubConn = await h.session.connect();
      const ch = await h.session.confirmChannel(pubConn);
      await ch.assertQueue(STREAM, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': 64 * 1024 } });
      await ch.assertQueue('crash.stream-copy', { durable: true });
      await ch.bindQueue(STREAM, 'amq.fanout', '');
      await ch.bindQueue('crash.stream-copy', 'amq.fanout', '');
      // the tracked reader: resumes after what it acked in earlier rounds
      const reader = await h.session.channel(await h.session.connect());
      await reader.prefetch(50);
      const resumedAt: number[] = [];
      let unacked = Infinity;
      await reader.consume(STREAM, (m: ConsumeMessage | null) => {
        if (m === null) return;
        const o = Number(m.properties.headers?.['x-stream-offset']);
        resumedAt.push(o);
        if (Math.random() < 0.98) reader.ack(m);
        else unacked = Math.min(unacked, o);
      }, { consumerTag: 'tracker', arguments: { 'x-stream-offset': 'first', 'x-stream-automatic-offset-tracking': true } });
      let stop = false;
      const publisher = (async () => {
        while (!stop) {
          const batch: number[] = [];
          for (let i = 0; i < 20; i++) {
            const seq = next++;
            batch.push(seq);
            ch.publish('amq.fanout', '', makeBody('s', seq, 300), { persistent: true });
          }
          try {
            await ch.waitForConfirms();
            for (const s of batch) confirmed.add(s);
          } catch {
            return; // the broker is gone
          }
        }
      })();
      await waitFor(() => resumedAt.length > 0 || confirmed.size > 0, 10_000);
      // Never past a message it did not ack (tracking stores the last offset acked in order).
      if (resumedAt.length > 0) expect(resumedAt[0]!).toBeLessThanOrEqual(firstUnacked);
      await sleep(100 + Math.random() * 400);
      stop = true;
      await h.stop('SIGKILL');
      await publisher;
      await h.start();
      // read everything back from first
      const conn = await h.session.connect();
      const c = await h.session.channel(conn);
      await c.prefetch(1000);
      const got: Array<{ offset: number; seq: number; intact: boolean }> = [];
      await c.consume(STREAM, (m: ConsumeMessage | null) => {
        if (m === null) return;
        got.push({ offset: Number(m.properties.headers?.['x-stream-offset']), seq: parseBody(m.content)?.seq ?? -1, intact: isIntact(m.content) });
        c.ack(m);
      }, { arguments: { 'x-stream-offset': 'first' } });
      const count = (await c.checkQueue(STREAM)).messageCount;
      await waitFor(() => got.length >= count, 30_000);
      expect(got.map((g) => g.offset)).toEqual(got.map((_, i) => i));
      expect(got.every((g) => g.intact)).toBe(true);
      for (let i = 1; i < got.length; i++) expect(got[i]!.seq).toBeGreaterThan(got[i - 1]!.seq);
      const present = new Map(got.map((g) => [g.seq, g.offset]));
      for (const s of confirmed) {
        expect(present.has(s), `confirmed message ${s} lost in round ${round}`).toBe(true);
        const before = offsetOf.get(s);
        if (before !== undefined) expect(present.get(s), `message ${s} moved`).toBe(before);
        offsetOf.set(s, present.get(s)!);
      }
      firstUnacked = unacked; // redelivered (and perhaps acked) in the next round
      await h.session.closeAll();
    }
    expect(confirmed.size).toBeGreaterThan(0);
  }, 180_000);
});
