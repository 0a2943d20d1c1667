/**
 * Dead-lettering as RabbitMQ 3.x does it (rabbit_dead_letter): the message leaves its queue with an
 * updated x-death header — one entry per (queue, reason) with count, reason, queue, time, exchange,
 * routing-keys and original-expiration, the newest first — plus x-first-death-{reason,queue,exchange}
 * set once; its expiration is removed; it is republished to the dead-letter exchange with the
 * dead-letter routing key or its original routing keys. Cycles of automatic dead-lettering (no
 * rejection on the way) are detected per target queue and dropped.
 */
import { fieldString, fv, tableGet, type FieldEntry, type FieldTable, type FieldValue } from '../core/field-value.js';
import type { Message } from './message.js';

export interface DeadLetter {
  msg: Message;
  /** Routing keys to publish the dead-lettered message with. */
  routingKeys: string[];
  /** The updated x-death entries, newest first (for cycle detection). */
  deaths: FieldTable[];
}

export function makeDeadLetter(msg: Message, queue: string, reason: string, dlx: string, dlrk: string | undefined,
  nowSeconds: number): DeadLetter {
  const headers = msg.headers() ?? [];
  const cc = stringArray(tableGet(headers, 'CC'));
  const originalKeys = [msg.routingKey, ...cc];
  const old = tableGet(headers, 'x-death');
  const deaths: FieldTable[] = old !== undefined && old.type === 'A'
    ? old.value.filter((v): v is { type: 'F'; value: FieldTable } => v.type === 'F').map((v) => v.value)
    : [];
  const i = deaths.findIndex((d) => fieldString(tableGet(d, 'queue')) === queue && fieldString(tableGet(d, 'reason')) === reason);
  if (i >= 0) {
    const d = deaths[i]!;
    const count = tableGet(d, 'count');
    const n = count !== undefined && 'value' in count && typeof count.value !== 'object' && typeof count.value !== 'boolean'
      ? Number(count.value) : 0;
    const updated = d.map((e): FieldEntry => (e.key === 'count' ? { key: 'count', value: fv.long(n + 1) } : e));
    deaths.splice(i, 1);
    deaths.unshift(updated);
  } else {
    const entry: FieldEntry[] = [
      { key: 'count', value: fv.long(1) },
      { key: 'reason', value: fv.str(reason) },
      { key: 'queue', value: fv.str(queue) },
      { key: 'time', value: { type: 'T', value: nowSeconds } },
      { key: 'exchange', value: fv.str(msg.exchange) },
      { key: 'routing-keys', value: fv.array(originalKeys.map(fv.str)) },
    ];
    if (msg.expiration !== undefined) entry.push({ key: 'original-expiration', value: fv.str(msg.expiration) });
    deaths.unshift(entry);
  }
  // With a dead-letter routing key the CC header goes (its keys stay in x-death's routing-keys).
  const drop = (k: string) => k === 'x-death' || k.startsWith('x-last-death-') || (dlrk !== undefined && k === 'CC');
  const out: FieldEntry[] = headers.filter((h) => !drop(h.key));
  out.push({ key: 'x-death', value: fv.array(deaths.map((d) => fv.table(d))) });
  if (tableGet(headers, 'x-first-death-reason') === undefined) {
    out.push({ key: 'x-first-death-exchange', value: fv.str(msg.exchange) });
    out.push({ key: 'x-first-death-queue', value: fv.str(queue) });
    out.push({ key: 'x-first-death-reason', value: fv.str(reason) });
  }
  // RabbitMQ 3.13+ also records the most recent death.
  out.push({ key: 'x-last-death-exchange', value: fv.str(msg.exchange) });
  out.push({ key: 'x-last-death-queue', value: fv.str(queue) });
  out.push({ key: 'x-last-death-reason', value: fv.str(reason) });
  const routingKeys = dlrk !== undefined ? [dlrk] : originalKeys;
  const dead = msg.withChanges({ headers: out, dropExpiration: true }, dlx, routingKeys[0]!);
  return { msg: dead, routingKeys, deaths };
}

/**
 * rabbit_dead_letter:is_cycle: the target queue appears in x-death and every death from the newest
 * back to (and including) that queue's entry was automatic (not a rejection).
 */
export function isCycle(targetQueue: string, deaths: readonly FieldTable[]): boolean {
  for (let i = 0; i < deaths.length; i++) {
    const d = deaths[i]!;
    if (fieldString(tableGet(d, 'queue')) === targetQueue) {
      for (let j = 0; j <= i; j++) if (fieldString(tableGet(deaths[j]!, 'reason')) === 'rejected') return false;
      return true;
    }
  }
  return false;
}

export function stringArray(v: FieldValue | undefined): string[] {
  if (v === undefined || v.type !== 'A') return [];
  const out: string[] = [];
  for (const x of v.value) if (x.type === 'S') out.push(x.value.toString('utf8'));
  return out;
}
