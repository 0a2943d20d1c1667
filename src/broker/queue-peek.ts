/**
 * Peek (a Warren test endpoint, issue 14): a page of a queue's messages, unacked and ready, with no
 * side effect at all. RabbitMQ can only show messages by consuming and requeueing them (which sets
 * redelivered and may reorder them); peek reads the backing queue in place, paged messages from the
 * store into fresh objects, stream messages through a reader of its own, and unacked deliveries
 * from the channels holding them (through the connection registry). Nothing here is on the hot path.
 *
 * Order: unacked deliveries first (they left the head earliest; in queue order, by entry seq), then
 * the ready messages in delivery order (priority queues: highest level first).
 * Invariant: no counter, flag, position, timer or memory account of the queue changes.
 */
import type { ConnectionRegistry, ManagedConnection } from './connection-registry.js';
import type { Message } from './message.js';
import type { Queue } from './queue.js';
import { StreamQueue } from './stream-queue.js';

export type PeekState = 'all' | 'ready' | 'unacked';

export interface PeekedMessage {
  readonly state: 'ready' | 'unacked';
  readonly msg: Message;
  /** What the redelivered flag is (unacked) or would be on the next delivery (ready). */
  readonly redelivered: boolean;
  /** Deliveries so far. */
  readonly deliveries: number;
  /** ms since the epoch, Infinity for never. */
  readonly expiresAt: number;
  /** Streams: the message's offset. */
  readonly streamOffset: number | undefined;
  /** Unacked: who holds it. */
  readonly holder: { connection: ManagedConnection; channel: number; deliveryTag: number; consumerTag: string | null } | undefined;
}

export interface PeekPage {
  /** How many messages the selected state holds. */
  readonly total: number;
  readonly messages: PeekedMessage[];
}

/** Deliveries of `q` held unacked by any channel, in queue order. */
function unackedOf(q: Queue, connections: ConnectionRegistry): PeekedMessage[] {
  const held: PeekedMessage[] = [];
  const seqs: number[] = [];
  for (const c of connections.all()) {
    for (const u of c.unackedFrom(q)) {
      const e = u.entry;
      seqs.push(e.seq);
      held.push({
        state: 'unacked', msg: q.messageFor(e, false), redelivered: e.deliveries > 1, deliveries: e.deliveries,
        expiresAt: e.expiresAt, streamOffset: q instanceof StreamQueue ? e.seq : undefined,
        holder: { connection: c, channel: u.channel, deliveryTag: u.deliveryTag, consumerTag: e.consumer?.tag ?? null },
      });
    }
  }
  const order = held.map((_, i) => i).sort((a, b) => seqs[a]! - seqs[b]!);
  return order.map((i) => held[i]!);
}

/** Ready messages `offset`.. (`count` at most) of `q`, in delivery order. */
function readyOf(q: Queue, offset: number, count: number): PeekedMessage[] {
  if (q instanceof StreamQueue) {
    return q.peek(offset, count).map((m) => ({
      state: 'ready', msg: m.msg, redelivered: false, deliveries: 0, expiresAt: Infinity, streamOffset: m.offset, holder: undefined,
    }));
  }
  return q.backing.peek(offset, count).map((r) => ({
    state: 'ready',
    // As its next delivery would show it (quorum queues: x-delivery-count once it has been returned).
    msg: q.deliveredForm(r.msg, r.deliveries + 1, false),
    redelivered: r.deliveries > 0, deliveries: r.deliveries, expiresAt: r.expiresAt, streamOffset: undefined, holder: undefined,
  }));
}

/** A page of `q`'s messages in the selected state, from position `offset`, `count` at most. */
export function peekQueue(q: Queue, connections: ConnectionRegistry, state: PeekState, offset: number, count: number): PeekPage {
  const ready = q.messageCount;
  if (state === 'ready') return { total: ready, messages: readyOf(q, offset, count) };
  const unacked = unackedOf(q, connections);
  if (state === 'unacked') return { total: unacked.length, messages: unacked.slice(offset, offset + count) };
  const first = unacked.slice(offset, offset + count);
  const rest = count - first.length;
  const fromReady = Math.max(0, offset - unacked.length);
  return { total: unacked.length + ready, messages: rest > 0 ? first.concat(readyOf(q, fromReady, rest)) : first };
}
