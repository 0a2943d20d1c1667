/**
 * An exchange: its declared properties and the bindings it is the source of, indexed by its
 * type's router. The default exchange ("") routes by queue name and holds no bindings.
 */
import { fieldString, tableGet, type FieldTable } from '../core/field-value.js';
import { Binding, type Destination } from './binding.js';
import type { Message } from './message.js';
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { parseHalfSettings, type HalfSettings } from './half-messages.js';
import { MessageStats } from './statistics.js';
import { createRouter, EXCHANGE_TYPES, type Router } from './router.js';

export class Exchange {
  /** Bindings with this exchange as source (unordered: removal swaps the last one in). */
  readonly bindings: Binding[] = [];
  /** The same bindings by destination, for duplicate checks and unbind. */
  private readonly byDestination = new Map<Destination, Binding[]>();
  readonly router: Router;
  /** Name of the alternate exchange (argument "alternate-exchange", else a policy's), if any. */
  alternate: string | undefined;
  deleted = false;
  readonly delayed: boolean;
  /** x-transactional: published messages become half messages (half-messages.ts) until decided. */
  readonly transactional: boolean;
  /** x-transactional's check-back settings (its arguments), undefined for other types. */
  readonly half: HalfSettings | undefined;
  /** publish_in / publish_out (RabbitMQ's exchange message_stats), counted by the publish operation. */
  readonly stats = new MessageStats();

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly type: string,
    readonly durable: boolean,
    readonly autoDelete: boolean,
    readonly internal: boolean,
    readonly args: FieldTable,
  ) {
    // x-delayed-message exchanges route like their x-delayed-type once a message is due.
    this.delayed = type === 'x-delayed-message';
    this.transactional = type === 'x-transactional';
    this.router = createRouter(this.delayed ? delayedType(args) : this.transactional ? wrappedType(args) : type);
    this.half = this.transactional ? parseHalfSettings(args) : undefined;
    this.alternate = fieldString(args.find((e) => e.key === 'alternate-exchange')?.value);
  }

  findBinding(destination: Destination, routingKey: string, args: FieldTable): Binding | undefined {
    const list = this.byDestination.get(destination);
    if (list === undefined) return undefined;
    for (const b of list) if (b.sameAs(destination, routingKey, args)) return b;
    return undefined;
  }

  addBinding(b: Binding): void {
    this.router.add(b);
    b.slot = this.bindings.length;
    this.bindings.push(b);
    const list = this.byDestination.get(b.destination);
    if (list === undefined) this.byDestination.set(b.destination, [b]);
    else list.push(b);
  }

  removeBinding(b: Binding): void {
    const i = b.slot;
    if (i < 0 || this.bindings[i] !== b) return;
    const last = this.bindings.pop()!;
    if (last !== b) {
      this.bindings[i] = last;
      last.slot = i;
    }
    b.slot = -1;
    const list = this.byDestination.get(b.destination);
    if (list !== undefined) {
      const j = list.indexOf(b);
      if (j >= 0) list.splice(j, 1);
      if (list.length === 0) this.byDestination.delete(b.destination);
    }
    this.router.remove(b);
  }

  route(msg: Message, out: Destination[]): void {
    this.router.route(msg, out);
  }
}

/** The plugin's rule: x-delayed-type must name an existing exchange type. */
function delayedType(args: FieldTable): string {
  const t = fieldString(tableGet(args, 'x-delayed-type'));
  if (t === undefined || !EXCHANGE_TYPES.has(t) || t === 'x-delayed-message') {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, "Invalid argument, 'x-delayed-type' must be an existing exchange type");
  }
  return t;
}

/**
 * x-transactional's x-transactional-type names the routing type a committed message follows
 * (direct when absent), as x-delayed-type does for delayed exchanges.
 */
function wrappedType(args: FieldTable): string {
  const v = tableGet(args, 'x-transactional-type');
  if (v === undefined) return 'direct';
  const t = fieldString(v);
  if (t === undefined || !EXCHANGE_TYPES.has(t) || t === 'x-delayed-message' || t === 'x-transactional') {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, "Invalid argument, 'x-transactional-type' must be direct, fanout, topic or headers");
  }
  return t;
}
