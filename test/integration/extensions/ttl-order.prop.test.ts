/**
 * Property test for TTL ordering (issue 5): for any sequence of messages with mixed per-message TTLs
 * (already expired, far future, none) in a queue with or without a queue TTL, once the short TTLs have
 * passed, draining with basic.get yields exactly the live messages in publish order, and the expired
 * ones are dead-lettered in publish order (each is discarded when it reaches the head).
 * Runs few cases (each one is a round trip through a real broker) and never asserts timings.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { useBroker } from '../helpers/setup.js';
import { roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { drain } from './extension-helpers.js';

const ctx = useBroker();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Ttl = 'short' | 'long' | 'none';
const SHORT = '5';
const LONG = '600000';

describe('TTL ordering (property)', () => {
  it('live messages drain in publish order; expired ones are dead-lettered in publish order', async () => {
    const ch = await ctx.clients.confirmChannel();
    await fc.assert(fc.asyncProperty(
      fc.array(fc.constantFrom<Ttl>('short', 'long', 'none'), { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      async (ttls, queueTtl) => {
        const q = ctx.name('ttl-prop');
        const dead = ctx.name('ttl-prop-dead');
        await ch.assertQueue(dead, { exclusive: true });
        await ch.assertQueue(q, {
          exclusive: true,
          arguments: {
            'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead,
            ...(queueTtl ? { 'x-message-ttl': 600_000 } : {}),
          },
        });
        ttls.forEach((ttl, i) => {
          ch.sendToQueue(q, Buffer.from(`${i}:${ttl}`), ttl === 'none' ? {} : { expiration: ttl === 'short' ? SHORT : LONG });
        });
        await ch.waitForConfirms();
        await sleep(40); // past every short TTL
        const live = ttls.map((t, i) => `${i}:${t}`).filter((b) => !b.endsWith(':short'));
        const expired = ttls.map((t, i) => `${i}:${t}`).filter((b) => b.endsWith(':short'));
        expect(await drain(ch, q)).toEqual(live);
        await waitFor(async () => (await ch.checkQueue(dead)).messageCount === expired.length);
        expect(await drain(ch, dead)).toEqual(expired);
        await roundTrip(ch);
        await ch.deleteQueue(q);
        await ch.deleteQueue(dead);
      },
    ), { numRuns: 15 });
  });
});
