/**
 * kill -9 while every queue kind pages (issue 16), over WARREN_CRASH_ROUNDS rounds (default 3):
 * with a 64 KiB queue memory budget, publishers with confirms feed a priority queue, a TTL +
 * max-length + dead-letter queue (limits far enough that nothing expires or overflows here), a
 * quorum queue with a delivery limit, and a durable x-delayed-message exchange; consumers ack most
 * deliveries. After each kill and restart, per queue:
 *   - every confirmed message not acked is there exactly once, intact (nothing confirmed is lost);
 *   - nothing is invented; a message found gone once never comes back;
 *   - the priority queue comes back highest priority first, publish order within a priority;
 *   - the TTL queue comes back in publish order (its messages keep their original expiry);
 *   - delayed messages confirmed before the kill are all delivered once due.
 * Unconfirmed publishes may or may not be there; acks just before the kill may be lost.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';
import { killAllBrokers } from './helpers/broker-process.js';
import { getAll, isIntact, makeBody, parseBody, watch } from './helpers/amqp-session.js';
import { Harness } from './helpers/harness.js';
import { waitFor } from '../../helpers/broker.js';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 3);
const BODY = 1024;
const MAX_PER_ROUND = 1500;
const WINDOW = 100;
const DELAY_MS = 300;

interface Kind {
  queue: string;
  args: Record<string, unknown>;
  priority: (seq: number) => number;
}

const KINDS: Kind[] = [
  { queue: 'kc.priority', args: { 'x-max-priority': 5 }, priority: (s) => s % 7 },
  { queue: 'kc.ttl', args: { 'x-message-ttl': 3_600_000, 'x-max-length': 1_000_000, 'x-dead-letter-exchange': 'kc.dlx' }, priority: () => 0 },
  { queue: 'kc.quorum', args: { 'x-queue-type': 'quorum', 'x-delivery-limit': 100 }, priority: () => 0 },
];
const DELAYED_X = 'kc.delayed';
const DELAYED_Q = 'kc.delayed-out';

interface Model { next: number; tried: Set<number>; confirmed: Set<number>; ackSent: Set<number>; gone: Set<number> }
const model = new Map<string, Model>([...KINDS.map((k) => k.queue), DELAYED_Q].map((q) => [q, {
  next: 0, tried: new Set<number>(), confirmed: new Set<number>(), ackSent: new Set<number>(), gone: new Set<number>(),
}]));
const m = (q: string): Model => model.get(q)!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function publisher(h: Harness, target: string, send: (ch: ConfirmChannel, seq: number, cb: (err: unknown) => void) => void,
  stopped: () => boolean): Promise<void> {
  return (async () => {
    const mm = m(target);
    let ch: ConfirmChannel;
    try {
      ch = await h.session.confirmChannel(await h.session.connect());
    } catch {
      return;
    }
    try {
      for (let n = 0; n < MAX_PER_ROUND && !stopped(); n += WINDOW) {
        for (let i = 0; i < WINDOW; i++) {
          const seq = mm.next++;
          mm.tried.add(seq);
          send(ch, seq, (err) => { if (err === null || err === undefined) mm.confirmed.add(seq); });
        }
        await ch.waitForConfirms();
      }
    } catch {
      // killed
    }
  })();
}

function consumer(h: Harness, q: string, stopped: () => boolean): Promise<void> {
  return (async () => {
    const mm = m(q);
    try {
      const ch = await h.session.channel(await h.session.connect());
      await ch.prefetch(50);
      await ch.consume(q, (msg) => {
        if (msg === null || stopped() || watch(ch).closed) return;
        if (Math.random() < 0.7) {
          const id = parseBody(msg.content);
          if (id !== undefined) mm.ackSent.add(id.seq);
          try { ch.ack(msg); } catch { /* gone */ }
        }
      });
    } catch {
      // killed
    }
  })();
}

async function verify(h: Harness, round: number): Promise<string[]> {
  const problems: string[] = [];
  const ch: Channel = await h.session.channel();
  for (const q of [...KINDS.map((k) => k.queue), DELAYED_Q]) {
    const mm = m(q);
    const msgs: GetMessage[] = await getAll(ch, q, 'keep');
    const seen = new Set<number>();
    const order: Array<{ seq: number; priority: number }> = [];
    for (const msg of msgs) {
      const id = parseBody(msg.content);
      if (id === undefined || id.tag !== q || !isIntact(msg.content)) {
        problems.push(`${q}: invented or corrupt body`);
        continue;
      }
      if (!mm.tried.has(id.seq)) problems.push(`${q}#${id.seq}: never published`);
      if (mm.gone.has(id.seq)) problems.push(`${q}#${id.seq}: came back after being gone`);
      if (seen.has(id.seq)) problems.push(`${q}#${id.seq}: duplicate`);
      seen.add(id.seq);
      order.push({ seq: id.seq, priority: msg.properties.priority ?? 0 });
    }
    if (q === 'kc.priority') {
      for (let i = 1; i < order.length; i++) {
        const a = order[i - 1]!;
        const b = order[i]!;
        const pa = Math.min(a.priority, 5);
        const pb = Math.min(b.priority, 5);
        if (pb > pa || (pb === pa && b.seq < a.seq)) problems.push(`${q}: #${b.seq} (p${b.priority}) after #${a.seq} (p${a.priority})`);
      }
    } else if (q === 'kc.ttl') {
      for (let i = 1; i < order.length; i++) if (order[i]!.seq < order[i - 1]!.seq) problems.push(`${q}: out of order at #${order[i]!.seq}`);
    }
    const missing = [...mm.confirmed].filter((s) => !mm.ackSent.has(s) && !seen.has(s));
    if (missing.length > 0) problems.push(`${q}: ${missing.length} confirmed, unacked messages missing after round ${round}: #${missing.slice(0, 8).join(', #')}`);
    for (const s of mm.tried) if (!seen.has(s)) mm.gone.add(s);
  }
  await ch.close();
  return problems;
}

describe('kill -9 while priority, TTL + max-length, quorum queues and delayed messages page', () => {
  const h = new Harness({ queueMemoryBudget: 64 * 1024 });
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it(`keeps every confirmed, unacked message over ${ROUNDS} crashes`, async () => {
    await h.start();
    const setup = await h.session.channel();
    await setup.assertExchange('kc.dlx', 'fanout', { durable: true });
    for (const k of KINDS) await setup.assertQueue(k.queue, { durable: true, arguments: k.args });
    await setup.assertExchange(DELAYED_X, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
    await setup.assertQueue(DELAYED_Q, { durable: true });
    await setup.bindQueue(DELAYED_Q, DELAYED_X, 'k');
    await h.session.closeAll();

    for (let round = 1; round <= ROUNDS; round++) {
      let stop = false;
      const stopped = (): boolean => stop;
      const runs: Array<Promise<void>> = [];
      for (const k of KINDS) {
        runs.push(publisher(h, k.queue, (ch, seq, cb) =>
          ch.sendToQueue(k.queue, makeBody(k.queue, seq, BODY), { persistent: true, priority: k.priority(seq) }, cb), stopped));
        runs.push(consumer(h, k.queue, stopped));
      }
      runs.push(publisher(h, DELAYED_Q, (ch, seq, cb) =>
        ch.publish(DELAYED_X, 'k', makeBody(DELAYED_Q, seq, BODY), { persistent: true, headers: { 'x-delay': DELAY_MS } }, cb), stopped));
      await sleep(300 + Math.random() * 1200); // the random kill moment
      await h.stop('SIGKILL');
      stop = true;
      await Promise.all(runs);
      await h.start();
      // Let the delayed messages fall due (each keeps its original due time): poll, never sleep a fixed time.
      const probe = await h.session.channel();
      await waitFor(async () => (await probe.checkQueue(DELAYED_Q)).messageCount >= m(DELAYED_Q).confirmed.size, 20_000);
      await probe.close();
      const problems = await verify(h, round);
      expect(problems, `round ${round}\n${h.broker.tail(15)}`).toEqual([]);
      await h.session.closeAll();
    }
    const confirmed = [...model.values()].reduce((n, mm) => n + mm.confirmed.size, 0);
    expect(confirmed, 'the publishers got confirms').toBeGreaterThan(0);
  }, 60_000 + ROUNDS * 30_000);

  it('transient messages paged out before a kill -9 are gone at the restart, and not counted', async () => {
    if (!h.started || !h.broker.running) await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('kc.transient', { durable: true, arguments: { 'x-max-priority': 3 } });
    for (let seq = 0; seq < 400; seq += WINDOW) {
      for (let s = seq; s < seq + WINDOW; s++) {
        ch.sendToQueue('kc.transient', makeBody('kc.transient', s, BODY), { persistent: s % 4 === 0, priority: s % 3 });
      }
      await ch.waitForConfirms(); // 400 KiB: paged out past the 64 KiB budget
    }
    await h.restart('SIGKILL');
    const after = await h.session.channel();
    expect((await after.checkQueue('kc.transient')).messageCount, 'declare-ok count right after the restart').toBe(100);
    const got = await getAll(after, 'kc.transient', 'ack');
    expect(got.map((g) => parseBody(g.content)?.seq).filter((s) => s === undefined || s % 4 !== 0)).toEqual([]);
    expect(got).toHaveLength(100);
  }, 120_000);
});
