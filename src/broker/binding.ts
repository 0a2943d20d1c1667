/**
 * A binding from a source exchange to a destination (queue or exchange), with its routing key
 * and arguments. Equality (for duplicate detection and unbind) is on all four parts, as in RabbitMQ.
 */
import { tableEquals, type FieldTable } from '../core/field-value.js';
import type { Exchange } from './exchange.js';
import type { Queue } from './queue.js';

export type Destination = Queue | Exchange;

export class Binding {
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
