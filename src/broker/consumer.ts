/**
 * A consumer: a subscription of one channel (its delivery sink) to one queue.
 * `unacked` counts deliveries not yet settled, for per-consumer prefetch (basic.qos global=false).
 */
import { fieldNumber, tableGet, type FieldTable } from '../core/field-value.js';
import type { DeliverySink } from './delivery-sink.js';
import type { Queue } from './queue.js';

export class Consumer {
  unacked = 0;
  /** Consumer priority (argument x-priority, default 0): higher priorities are served first. */
  readonly priority: number;

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
  ) {
    this.priority = fieldNumber(tableGet(args, 'x-priority')) ?? 0;
  }
}
