/**
 * The interface through which queues hand messages to consumers. The server's channel
 * implements it; the broker never sees sockets or frames.
 */
import type { Consumer } from './consumer.js';
import type { QueueEntry } from './queue-entry.js';

export interface DeliverySink {
  /** Whether `consumer` may take one more message now (prefetch credit, flow, socket room). */
  canDeliver(consumer: Consumer): boolean;
  /** Deliver the entry (already counted as delivered by the queue); the sink keeps it until settled unless no-ack. */
  deliver(consumer: Consumer, entry: QueueEntry): void;
  /** basic.qos global=true prefetch of the consumer's channel (stream queues refuse it). */
  readonly globalPrefetch?: number;
  /** The broker cancelled the consumer (its queue was deleted). */
  cancelledByBroker(consumer: Consumer): void;
}
