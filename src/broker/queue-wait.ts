/**
 * Wait-for (a Warren test endpoint, issue 14): resolve once a queue holds at least N messages, is
 * empty, or has exactly N consumers (every condition given must hold), or report the counts at the
 * timeout, so tests stop sleeping. The queue is looked up by name at every check (a queue deleted
 * meanwhile counts as empty with no consumers; one redeclared is the new one).
 *
 * How: one check now, then one per CHECK_MS on a timer until the deadline; each check reads three
 * integers. Nothing is added to the publish/deliver path (a hook there would cost every message of
 * every queue for the sake of a test helper), and no loop spins: between checks the event loop is free.
 */
import type { Vhost } from './vhost.js';

/** Interval between checks while waiting. */
export const CHECK_MS = 10;

export interface WaitCondition {
  /** messages (ready + unacked) >= this */
  readonly messages?: number | undefined;
  /** ready + unacked = 0 */
  readonly empty?: boolean | undefined;
  /** consumers = this */
  readonly consumers?: number | undefined;
}

export interface QueueCounts {
  readonly messages: number;
  readonly messagesReady: number;
  readonly messagesUnacknowledged: number;
  readonly consumers: number;
  /** False once the queue is gone (counts are then 0). */
  readonly exists: boolean;
}

export interface WaitOutcome {
  readonly met: boolean;
  readonly counts: QueueCounts;
  readonly waitedMs: number;
}

function countsOf(v: Vhost, name: string): QueueCounts {
  const q = v.queues.get(name);
  if (q === undefined) return { messages: 0, messagesReady: 0, messagesUnacknowledged: 0, consumers: 0, exists: false };
  const ready = q.messageCount;
  const unacked = q.unackedCount;
  return { messages: ready + unacked, messagesReady: ready, messagesUnacknowledged: unacked, consumers: q.consumerCount, exists: true };
}

export function conditionHolds(c: WaitCondition, n: QueueCounts): boolean {
  if (c.messages !== undefined && n.messages < c.messages) return false;
  if (c.empty === true && n.messages !== 0) return false;
  if (c.consumers !== undefined && n.consumers !== c.consumers) return false;
  return true;
}

/** A readable statement of the condition ("messages >= 10 and consumers = 0"). */
export function describeCondition(c: WaitCondition): string {
  const parts: string[] = [];
  if (c.messages !== undefined) parts.push(`messages >= ${c.messages}`);
  if (c.empty === true) parts.push('empty');
  if (c.consumers !== undefined) parts.push(`consumers = ${c.consumers}`);
  return parts.length === 0 ? 'nothing' : parts.join(' and ');
}

export function waitForQueue(v: Vhost, name: string, c: WaitCondition, timeoutMs: number): Promise<WaitOutcome> {
  const started = Date.now();
  const first = countsOf(v, name);
  if (conditionHolds(c, first)) return Promise.resolve({ met: true, counts: first, waitedMs: 0 });
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const n = countsOf(v, name);
      const waited = Date.now() - started;
      const met = conditionHolds(c, n);
      if (!met && waited < timeoutMs) return;
      clearInterval(timer);
      resolve({ met, counts: n, waitedMs: waited });
    }, CHECK_MS);
  });
}
