/**
 * Expirations longer than a Node timer can hold (2^31-1 ms) are legal (RabbitMQ accepts up to 10
 * years) and must neither fire early nor keep an idle broker busy: before LongTimer, each queue
 * holding such a message re-armed a 1 ms timer forever (200 queues: 68% of a core, idle).
 * The test fills many queues with long per-message expirations, x-message-ttl, x-expires and long
 * x-delay messages, closes its client, and measures the CPU time the broker process consumes while
 * nothing happens. The bound is generous (a quarter of the window); an idle broker uses ~1%.
 * Warren-only: the reference's CPU cannot be measured from here.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';

const ctx = useBroker();
const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';
const QUEUES = 200;
const LONG = 2 ** 32 - 1;
const WINDOW_MS = 2000;

describe.skipIf(onReference)('timers beyond 2^31-1 ms (skipped on the reference: its CPU is not measurable from here)', () => {
  it(`an idle broker with ${QUEUES} queues of far-off expirations stays idle, and nothing expires early`, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const names: string[] = [];
    const ex = ctx.name('long-delay');
    await ch.assertExchange(ex, 'x-delayed-message', { autoDelete: false, arguments: { 'x-delayed-type': 'fanout' } });
    for (let i = 0; i < QUEUES; i++) {
      const q = ctx.name('long');
      names.push(q);
      const args = i % 2 === 0 ? { 'x-message-ttl': LONG + i } : { 'x-expires': LONG + i };
      await ch.assertQueue(q, { durable: false, exclusive: false, autoDelete: false, arguments: args });
      ch.sendToQueue(q, Buffer.from(`m${i}`), { expiration: String(LONG) });
      if (i < 10) await ch.bindQueue(q, ex, '');
    }
    for (let i = 0; i < 50; i++) ch.publish(ex, '', Buffer.from(`d${i}`), { headers: { 'x-delay': LONG * (i + 1) } });
    await ch.waitForConfirms();
    await conn.close();

    const before = process.cpuUsage();
    const started = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS)); // a measurement window, not a wait for an outcome
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(before);
    const cpuMs = (used.user + used.system) / 1000;
    console.log(`idle broker: ${cpuMs.toFixed(0)} ms CPU in ${elapsedMs.toFixed(0)} ms`);
    expect(cpuMs, `broker used ${cpuMs.toFixed(0)} ms of CPU in ${elapsedMs.toFixed(0)} ms while idle`).toBeLessThan(elapsedMs / 4);

    // Nothing expired or was released early: every queue still holds its message.
    const check = await ctx.clients.channel();
    for (const q of names) {
      const ok = await check.checkQueue(q);
      expect(ok.messageCount, q).toBe(1);
    }
    for (const q of names) await check.deleteQueue(q);
    await check.deleteExchange(ex);
  });
});
