/**
 * kill -9 during definitions churn (issue 16): three clients declare durable queues, bind them to a
 * durable direct exchange and delete some of them again, each waiting for the -ok; the broker is
 * killed at a random moment, restarted on the same data dir, and checked against what the clients
 * were told: every queue whose declare-ok arrived (and whose delete was never sent) exists with its
 * binding (bind-ok received: a message routed by its key reaches it), and every queue whose
 * delete-ok arrived is gone. Changes whose -ok never arrived may or may not be there. The journal is
 * what recovery replays here (a kill never writes a snapshot). WARREN_CRASH_ROUNDS rounds (default 3).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Channel } from 'amqplib';
import { killAllBrokers } from './helpers/broker-process.js';
import { watch } from './helpers/amqp-session.js';
import { Harness } from './helpers/harness.js';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 3);
const CLIENTS = 3;
/** Queues per client per round at most, so verification stays short on a busy machine. */
const MAX_PER_CLIENT = 150;
const EXCHANGE = 'dcrash.x';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the clients were told. */
const declared = new Set<string>(); // declare-ok received
const bound = new Set<string>(); // bind-ok received
const deleteSent = new Set<string>();
const deleted = new Set<string>(); // delete-ok received

function churn(h: Harness, round: number): { done: Promise<void>; stop: () => void } {
  let stopped = false;
  const runs: Array<Promise<void>> = [];
  for (let c = 0; c < CLIENTS; c++) {
    runs.push((async () => {
      let ch: Channel;
      try {
        ch = await h.session.channel(await h.session.connect());
      } catch {
        return;
      }
      try {
        for (let i = 0; !stopped && i < MAX_PER_CLIENT; i++) {
          const q = `dcrash.r${round}.c${c}.${i}`;
          await ch.assertQueue(q, { durable: true, arguments: { 'x-max-length': 1000 + i } });
          declared.add(q);
          await ch.bindQueue(q, EXCHANGE, q);
          bound.add(q);
          if (i % 3 === 2) {
            const victim = `dcrash.r${round}.c${c}.${i - 1}`;
            deleteSent.add(victim);
            await ch.deleteQueue(victim);
            deleted.add(victim);
          }
        }
      } catch {
        // the broker was killed under us
      }
    })());
  }
  return { done: Promise.all(runs).then(() => undefined), stop: () => { stopped = true; } };
}

/** One probe channel, reopened after each 404 (a passive declare of a missing queue closes it). */
async function exists(h: Harness, probe: { ch: Channel | undefined }, q: string): Promise<{ ok: boolean; messages: number }> {
  probe.ch ??= await h.session.channel();
  const ch = probe.ch;
  try {
    const r = await ch.checkQueue(q);
    return { ok: true, messages: r.messageCount };
  } catch {
    probe.ch = undefined;
    if (!watch(ch).closed) await ch.close().catch(() => undefined);
    return { ok: false, messages: 0 };
  }
}

describe('kill -9 during durable declare/bind/delete churn', () => {
  const h = new Harness();
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it(`keeps every definition whose -ok was received over ${ROUNDS} crashes`, async () => {
    await h.start();
    const setup = await h.session.channel();
    await setup.assertExchange(EXCHANGE, 'direct', { durable: true });
    await h.session.closeAll();

    for (let round = 1; round <= ROUNDS; round++) {
      const work = churn(h, round);
      await sleep(200 + Math.random() * 800); // the random kill moment
      await h.stop('SIGKILL');
      work.stop();
      await work.done;
      await h.start();

      const problems: string[] = [];
      const probe: { ch: Channel | undefined } = { ch: undefined };
      // One probe message per bound queue, routed by its key, then one pass of passive declares
      // (publishes and declares on one channel are handled in order).
      probe.ch = await h.session.channel();
      for (const q of bound) probe.ch.publish(EXCHANGE, q, Buffer.from('probe'));
      for (const q of declared) {
        const live = !deleteSent.has(q);
        const r = await exists(h, probe, q);
        if (live && !r.ok) problems.push(`${q}: declare-ok received, missing after the restart`);
        if (deleted.has(q) && r.ok) problems.push(`${q}: delete-ok received, back after the restart`);
        if (live && r.ok && bound.has(q) && r.messages !== 1) problems.push(`${q}: bind-ok received, but its key routed ${r.messages} messages to it`);
        if (r.ok && r.messages > 0) await probe.ch!.purgeQueue(q);
      }
      if (process.env['WARREN_DURABILITY_VERBOSE'] === '1') {
        console.log(`round ${round}: ${declared.size} declared, ${bound.size} bound, ${deleted.size} deleted (ok received)`);
      }
      expect(problems, `round ${round}\n${h.broker.tail(15)}`).toEqual([]);
      expect(declared.size, 'the clients got declare-oks').toBeGreaterThan(0);
      await h.session.closeAll();
    }
  }, 60_000 + ROUNDS * 60_000);
});
