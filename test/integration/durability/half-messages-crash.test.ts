/**
 * kill -9 with half messages and delayed retries pending (issue 18), broker as a child process:
 *   - every confirmed half message still undecided is pending after the restart (a commit then
 *     routes it, exactly once), every confirmed commit was delivered exactly once, every confirmed
 *     rollback stays gone (a commit for it is refused: the transaction is unknown);
 *   - a check request sent before the kill is counted: the next one after the restart says 2;
 *   - retries of persistent messages in a durable x-retry-delays queue come back after the
 *     restart with x-retry-count 1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ConfirmChannel } from 'amqplib';
import { killAllBrokers } from './helpers/broker-process.js';
import { getAll, makeBody, parseBody } from './helpers/amqp-session.js';
import { Harness } from './helpers/harness.js';
import { waitFor } from '../../helpers/broker.js';

const X = 'hc.payments';
const Q = 'hc.billing';
const CHECKS = 'hc.checks';
const JOBS = 'hc.jobs';
const N = 60;

/** Publish with a confirm: true when acked. */
function confirmed(ch: ConfirmChannel, key: string, body: Buffer, options: Record<string, unknown>): Promise<boolean> {
  return new Promise((resolve) => { ch.publish(X, key, body, options, (err) => resolve(err === null || err === undefined)); });
}
const decision = (txid: string, d: 'commit' | 'rollback') => ({ messageId: txid, headers: { 'x-transaction': d } });

describe('half messages and retries across kill -9', () => {
  const h = new Harness();
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it('pending half messages, decisions, check counts and waiting retries survive kill -9', async () => {
    await h.start();
    let ch = await h.session.confirmChannel();
    await ch.assertExchange(X, 'x-transactional', { durable: true, arguments: { 'x-check-after': 1500, 'x-check-limit': 50 } });
    await ch.assertQueue(Q, { durable: true });
    await ch.assertQueue(CHECKS, { durable: true });
    await ch.bindQueue(Q, X, 'pay');
    await ch.assertQueue(JOBS, { durable: true, arguments: { 'x-retry-delays': [1500] } });
    // Half messages: tx-0..9 committed, tx-10..19 rolled back, the rest undecided; one with reply_to.
    const acks = await Promise.all(Array.from({ length: N }, (_, i) => confirmed(ch, 'pay', makeBody('tx', i, 512),
      { messageId: `tx-${i}`, persistent: true, ...(i === N - 1 ? { replyTo: CHECKS } : {}) })));
    expect(acks.every(Boolean)).toBe(true);
    const decided = await Promise.all(Array.from({ length: 20 }, (_, i) => confirmed(ch, '', Buffer.alloc(0),
      decision(`tx-${i}`, i < 10 ? 'commit' : 'rollback'))));
    expect(decided.every(Boolean)).toBe(true);
    // Retries: five persistent jobs rejected once.
    for (let i = 0; i < 5; i++) ch.sendToQueue(JOBS, makeBody('job', i, 64), { persistent: true });
    await ch.waitForConfirms();
    const jobs = await getAll(ch, JOBS, 'keep');
    expect(jobs).toHaveLength(5);
    for (const j of jobs) ch.nack(j, false, false);
    // The first check request of tx-59 is on disk before the kill.
    await waitFor(async () => (await ch.checkQueue(CHECKS)).messageCount >= 1, 10_000);
    await h.syncBarrier();
    await h.restart('SIGKILL');

    ch = await h.session.confirmChannel();
    // Committed before the kill: there, once each; nothing undecided leaked into the queue.
    const billed = await getAll(ch, Q, 'ack');
    expect(billed.map((m) => parseBody(m.content)?.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // Rolled back before the kill: unknown now (nacked), nothing routed.
    expect(await confirmed(ch, '', Buffer.alloc(0), decision('tx-10', 'commit'))).toBe(false);
    // The check count goes on from the one stored before the kill (no second "1").
    const counts: number[] = [];
    await waitFor(async () => {
      for (const c of await getAll(ch, CHECKS, 'ack')) {
        expect(c.properties.messageId).toBe(`tx-${N - 1}`);
        counts.push(Number(c.properties.headers?.['x-check-count']));
      }
      return Math.max(0, ...counts) >= 2;
    }, 15_000, 100);
    expect(new Set(counts).size).toBe(counts.length);
    // Undecided: still pending; commit them all.
    const commits = await Promise.all(Array.from({ length: N - 20 }, (_, i) => confirmed(ch, '', Buffer.alloc(0), decision(`tx-${i + 20}`, 'commit'))));
    expect(commits.every(Boolean)).toBe(true);
    const after = await getAll(ch, Q, 'ack');
    expect(after.map((m) => parseBody(m.content)?.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: N - 20 }, (_, i) => i + 20));
    // Retries come back after the restart.
    const back = await waitFor(async () => {
      const got = await getAll(ch, JOBS, 'ack');
      return got.length > 0 ? got : undefined;
    }, 15_000, 100);
    const all = [...back!, ...(await waitFor(async () => {
      const more = await getAll(ch, JOBS, 'ack');
      return back!.length + more.length >= 5 ? more : undefined;
    }, 15_000, 100))!];
    expect(all.map((m) => parseBody(m.content)?.seq).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(all.every((m) => m.properties.headers?.['x-retry-count'] === 1)).toBe(true);
  }, 120_000);
});
