/**
 * A consumer: a subscription of one channel (its delivery sink) to one queue.
 * `unacked` counts deliveries not yet settled, for per-consumer prefetch (basic.qos global=false).
 */
import type { FieldTable } from '../core/field-value.js';
import type { DeliverySink } from './delivery-sink.js';
import type { Queue } from './queue.js';

export class Consumer {
  unacked = 0;

  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly sink: DeliverySink,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** Per-consumer prefetch limit, 0 = unlimited. */
    readonly prefetch: number,
    readonly args: FieldTable,
    /** Owning connection id, for exclusive-queue checks and cleanup. */
    readonly connectionId: number,
  ) {}
}
