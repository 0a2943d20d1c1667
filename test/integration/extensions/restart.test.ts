/**
 * Extension state that must survive a broker restart where RabbitMQ's does: durable queues keep
 * their x-arguments (and keep enforcing them), persistent messages keep their per-message expiration
 * (one that passed while the broker was down is expired, i.e. dead-lettered, not delivered), their
 * priority order and their x-death headers, and an x-expires queue still expires.
 * Warren-only: the shared reference broker cannot be restarted by a test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { startTestBroker, uniqueName, waitFor } from '../../helpers/broker.js';
import { drain, getEventually, xDeathOf } from './extension-helpers.js';

const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';
const REASON = 'the shared reference broker cannot be restarted by a test';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run `before` on a broker, restart it on the same data dir, run `after`. */
async function acrossRestart(
  before: (ch: ConfirmChannel, conn: ChannelModel) => Promise<void>,
  after: (ch: ConfirmChannel, conn: ChannelModel) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-ext-restart-'));
  try {
    for (const phase of [before, after]) {
      const broker = await startTestBroker({ dataDir });
      try {
        const conn = await amqp.connect(broker.url);
        try {
          conn.on('error', () => undefined);
          const ch = await conn.createConfirmChannel();
          ch.on('error', () => undefined); // a test may provoke a channel error on purpose
          await phase(ch, conn);
        } finally {
          await conn.close().catch(() => undefined);
        }
      } finally {
        await broker.close();
      }
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe.skipIf(onReference)(`across a restart (skipped on the reference: ${REASON})`, () => {
  it('queue arguments are kept and still enforced', async () => {
    const q = uniqueName('rs-args');
    const args = { 'x-max-length': 2, 'x-message-ttl': 600_000, 'x-max-priority': 3, 'x-overflow': 'drop-head' };
    await acrossRestart(async (ch) => {
      await ch.assertQueue(q, { durable: true, arguments: args });
    }, async (ch) => {
      await ch.assertQueue(q, { durable: true, arguments: args }); // equivalent: no 406
      for (const b of ['1', '2', '3']) ch.sendToQueue(q, Buffer.from(b), { persistent: true });
      await ch.waitForConfirms();
      expect(await drain(ch, q)).toEqual(['2', '3']);
      await ch.deleteQueue(q);
    });
  });

  it('a redeclare with different arguments after the restart is still inequivalent (406)', async () => {
    const q = uniqueName('rs-equiv');
    await acrossRestart(async (ch) => {
      await ch.assertQueue(q, { durable: true, arguments: { 'x-message-ttl': 1000 } });
    }, async (ch) => {
      await expect(ch.assertQueue(q, { durable: true, arguments: { 'x-message-ttl': 2000 } })).rejects.toMatchObject({ code: 406 });
    });
    // the second phase's channel closed with 406; the data dir (and the queue) are gone with it
  });

  it('a persistent message whose expiration passed while the broker was down is dead-lettered, not delivered', async () => {
    const q = uniqueName('rs-ttl');
    const dead = uniqueName('rs-ttl-dead');
    await acrossRestart(async (ch) => {
      await ch.assertQueue(dead, { durable: true });
      await ch.assertQueue(q, { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
      ch.sendToQueue(q, Buffer.from('stale'), { persistent: true, expiration: '300' });
      ch.sendToQueue(q, Buffer.from('fresh'), { persistent: true, expiration: '600000' });
      await ch.waitForConfirms();
      await sleep(400); // let the short expiration pass (the broker may also be down by then)
    }, async (ch) => {
      const d = await getEventually(ch, dead);
      expect(d.content.toString()).toBe('stale');
      expect(xDeathOf(d)[0]).toMatchObject({ reason: 'expired', queue: q, 'original-expiration': '300' });
      expect(await drain(ch, q)).toEqual(['fresh']);
      await ch.deleteQueue(q);
      await ch.deleteQueue(dead);
    });
  });

  it('a dead-lettered persistent message keeps its x-death header', async () => {
    const q = uniqueName('rs-xd');
    const dead = uniqueName('rs-xd-dead');
    await acrossRestart(async (ch) => {
      await ch.assertQueue(dead, { durable: true });
      await ch.assertQueue(q, { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
      ch.sendToQueue(q, Buffer.from('x'), { persistent: true });
      await ch.waitForConfirms();
      let m: false | amqp.GetMessage = false;
      await waitFor(async () => (m = await ch.get(q, { noAck: false })) !== false);
      if (m === false) throw new Error('unreachable');
      ch.reject(m, false);
      await waitFor(async () => (await ch.checkQueue(dead)).messageCount === 1);
    }, async (ch) => {
      const d = await getEventually(ch, dead);
      expect(xDeathOf(d)).toHaveLength(1);
      expect(xDeathOf(d)[0]).toMatchObject({ count: 1, reason: 'rejected', queue: q, exchange: '', 'routing-keys': [q] });
      expect(xDeathOf(d)[0]?.time).toEqual({ '!': 'timestamp', value: expect.any(Number) as unknown });
      expect(d.properties.headers?.['x-first-death-queue']).toBe(q);
      await ch.deleteQueue(q);
      await ch.deleteQueue(dead);
    });
  });

  it('a priority queue delivers in priority order after the restart', async () => {
    const q = uniqueName('rs-prio');
    await acrossRestart(async (ch) => {
      await ch.assertQueue(q, { durable: true, arguments: { 'x-max-priority': 5 } });
      for (const [b, p] of [['low', 1], ['high', 5], ['mid', 3], ['high2', 5]] as const) {
        ch.sendToQueue(q, Buffer.from(b), { persistent: true, priority: p });
      }
      await ch.waitForConfirms();
    }, async (ch) => {
      expect(await drain(ch, q)).toEqual(['high', 'high2', 'mid', 'low']);
      await ch.deleteQueue(q);
    });
  });

  it('an x-expires queue still expires after the restart', async () => {
    const q = uniqueName('rs-expires');
    await acrossRestart(async (ch) => {
      await ch.assertQueue(q, { durable: true, arguments: { 'x-expires': 300 } });
    }, async (_ch, conn) => {
      // queue.bind probes existence without renewing the lease (a passive declare would renew it).
      await waitFor(async () => {
        const probe = await conn.createChannel();
        probe.on('error', () => undefined);
        try {
          await probe.bindQueue(q, 'amq.direct', `probe-${q}`);
          await probe.close();
          return false;
        } catch {
          return true;
        }
      });
    });
  });
});
