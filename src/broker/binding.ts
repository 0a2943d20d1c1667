/**
 * A binding from a source exchange to a destination (queue or exchange), with its routing key
 * and arguments. Equality (for duplicate detection and unbind) is on all four parts, as in RabbitMQ.
 * `slot`/`routeSlot` are its positions in its exchange's list and its router's list (-1 when not
 * there): removing one of 10,000 bindings must not scan the other 9,999.
 */
import { tableEquals, type FieldTable } from '../core/field-value.js';
import type { Exchange } from './exchange.js';
import type { Queue } from './queue.js';

export type Destination = Queue | Exchange;

export class Binding {
  /** Index in source.bindings. */
  slot = -1;
  /** Index in the router's flat list (fanout, headers). */
  routeSlot = -1;

  constructor(
    readonly source: Exchange,
    readonly destination: Destination,
    readonly routingKey: string,
    readonly args: FieldTable,
  ) {}

  sameAs(destination: Destination, routingKey: string, args: FieldTable): boolean {
    return this.destination === destination && this.routingKey === routingKey && tableEquals(this.args, args);
  }
}
