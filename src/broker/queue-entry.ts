/**
 * One message's place in one queue. Created once per (message, queue); the unacked table of the
 * consuming channel holds the same object, so settling or requeueing needs no lookup.
 * `seq` orders the queue (requeued entries go back to their original position).
 */
import type { Consumer } from './consumer.js';
import type { Message } from './message.js';
import type { Queue } from './queue.js';

export class QueueEntry {
  /** The consumer holding it unacked, or null (ready, or fetched by basic.get). */
  consumer: Consumer | null = null;
  /** When it expires (ms since the epoch; Infinity = never): min of queue and message TTL. */
  expiresAt = Infinity;
  /** When it was last delivered (ms), for the consumer acknowledgement timeout. */
  deliveredAt = 0;

  constructor(
    readonly queue: Queue,
    readonly msg: Message,
    /** Position in the queue (queue-local, increasing in queue order). */
    readonly seq: number,
    /** Times delivered so far; redelivered = deliveries > 1 at delivery. */
    public deliveries: number,
    /** Seq in the queue's store index, -1 when the entry is memory-only. */
    readonly storeSeq: number,
  ) {}
}
