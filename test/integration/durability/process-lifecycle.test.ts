/**
 * The broker as a child process (`warren start`, the build output): it reports the port it picked
 * for --port 0, SIGTERM closes every connection with 320 CONNECTION_FORCED and exits 0 (graceful
 * shutdown flushes everything, issue 3), and after a kill -9 it starts again on the same data dir
 * ("the broker starts even after an unclean shutdown"). Also lists the durability flags this build
 * offers (the other durability suites skip or leave out the ones it lacks).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hasFlag, killAllBrokers, supportedFlags } from './helpers/broker-process.js';
import { closedWith } from './helpers/amqp-session.js';
import { Harness } from './helpers/harness.js';

const harnesses: Harness[] = [];
function harness(): Harness {
  const h = new Harness();
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
  await killAllBrokers();
});

describe('warren start as a child process', () => {
  it('listens on the port it logs for --port 0, and serves AMQP there', async () => {
    const h = harness();
    const b = await h.start();
    expect(b.port).toBeGreaterThan(0);
    const line = b.logs.find((r) => r.msg === `Warren listening on 127.0.0.1:${b.port}`);
    expect(line?.port).toBe(b.port);
    const ch = await h.session.channel();
    const q = await ch.assertQueue('', { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen-/);
  });

  it('SIGTERM: every client sees 320 CONNECTION_FORCED, the process exits 0', async () => {
    const h = harness();
    const b = await h.start();
    const c1 = await h.session.connect();
    const c2 = await h.session.connect();
    const ch = await h.session.channel(c1);
    await ch.assertQueue('lifecycle.sigterm', { durable: true });
    await ch.consume('lifecycle.sigterm', () => undefined);
    const status = await b.stop();
    expect(status).toEqual({ code: 0, signal: null });
    for (const c of [c1, c2]) {
      const err = await closedWith(c);
      expect(err?.code).toBe(320);
      expect(err?.message).toContain('CONNECTION_FORCED');
    }
  });

  it('starts again on the same data dir after kill -9, and after SIGTERM', async () => {
    const h = harness();
    await h.start();
    const conn = await h.session.connect();
    await (await h.session.channel(conn)).assertQueue('lifecycle.kill', { durable: true });
    await h.stop('SIGKILL');
    expect(h.exits[0]?.signal).toBe('SIGKILL');
    const b2 = await h.start();
    expect(b2.port).toBeGreaterThan(0);
    await (await h.session.channel()).checkExchange('amq.direct');
    await h.restart('SIGTERM');
    await (await h.session.channel()).checkExchange('amq.fanout');
  });

  it('offers the durability flags the suites use (--segment-size, --queue-memory-budget)', () => {
    const wanted = ['--segment-size', '--queue-memory-budget'];
    const missing = wanted.filter((f) => !hasFlag(f));
    expect(missing, `warren start --help lists: ${[...supportedFlags()].join(' ')}`).toEqual([]);
  });
});
