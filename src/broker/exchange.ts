/**
 * An exchange: its declared properties and the bindings it is the source of, indexed by its
 * type's router. The default exchange ("") routes by queue name and holds no bindings.
 */
import { fieldString, type FieldTable } from '../core/field-value.js';
import { Binding, type Destination } from './binding.js';
import type { Message } from './message.js';
import { createRouter, type Router } from './router.js';

export class Exchange {
  /** Bindings with this exchange as source. */
  readonly bindings: Binding[] = [];
  readonly router: Router;
  /** Name of the alternate exchange (argument "alternate-exchange"), if any. */
  readonly alternate: string | undefined;
  deleted = false;

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly type: string,
    readonly durable: boolean,
    readonly autoDelete: boolean,
    readonly internal: boolean,
    readonly args: FieldTable,
  ) {
    this.router = createRouter(type);
    this.alternate = fieldString(args.find((e) => e.key === 'alternate-exchange')?.value);
  }

  findBinding(destination: Destination, routingKey: string, args: FieldTable): Binding | undefined {
    for (const b of this.bindings) if (b.sameAs(destination, routingKey, args)) return b;
    return undefined;
  }

  addBinding(b: Binding): void {
    this.router.add(b);
    this.bindings.push(b);
  }

  removeBinding(b: Binding): void {
    const i = this.bindings.indexOf(b);
    if (i < 0) return;
    this.bindings.splice(i, 1);
    this.router.remove(b);
  }

  route(msg: Message, out: Destination[]): void {
    this.router.route(msg, out);
  }
}
