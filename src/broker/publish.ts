/**
 * The publish operation: one synchronous broker call that takes a complete Message from an
 * exchange to its queues. Every door into the broker uses it: the AMQP channel's basic.publish
 * (and tx.commit), dead-lettering, and the release of delayed messages (and later the management
 * API), so the route-then-enqueue rules exist once:
 *
 * 1. Direct reply-to: the default exchange with routing key amq.rabbitmq.reply-to.<token> goes
 *    straight to the requester's consumer (DirectReplyTo), no queue.
 * 2. Routing: the exchange type's strategy, exchange-to-exchange bindings and alternate exchanges
 *    (each exchange visited once, each queue listed once), for the routing key plus the CC and BCC
 *    headers (sender-selected distribution; BCC is removed from what queues get). The headers table
 *    is decoded only when its raw bytes may hold a CC or BCC key (or a headers binding asks).
 * 3. x-delayed-message exchanges keep a message with a positive x-delay until it is due (it is then
 *    released through this same operation, without the delay).
 * 4. Enqueue into every matched queue; a queue may refuse (x-overflow reject-publish).
 * 5. x-transactional exchanges (Warren's half messages) take the message aside instead
 *    (half-messages.ts); a commit releases it through this operation, like a due delayed message.
 *
 * The answer goes into a caller-owned PublishResult (no allocation per message): routed or not
 * (mandatory returns), refused or not (confirm nacks), and the durable store position a publisher
 * confirm or tx.commit must wait for. The broker knows durability (persistent message, durable
 * queue, paging); callers never look at the store.
 *
 * Invariants: no per-message arrays or closures on the common path (scratch arrays and sets are
 * reused and left empty); the message object is shared by every queue, never copied per queue.
 */
import { AmqpError } from '../core/amqp-error.js';
import { tableGet } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Destination } from './binding.js';
import { stringArray } from './dead-letter.js';
import { delayOf, type DelayedDelivery } from './delayed-delivery.js';
import { REPLY_TO_PREFIX, type DirectReplyTo } from './direct-reply-to.js';
import type { Exchange } from './exchange.js';
import type { HalfMessages } from './half-messages.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import { Queue } from './queue.js';
import { fieldTypeName } from './queue-arguments.js';

/** PublishResult.durableAt when the publish wrote nothing to the store. */
export const NOT_WRITTEN = 0;

/** The outcome of one publish; the caller owns one and passes it to every publish. */
export class PublishResult {
  /** Some queue (or a direct reply-to consumer, or a delayed exchange) took the message. */
  routed = false;
  /** A queue refused it (x-overflow reject-publish[-dlx]): the publisher is nacked. */
  refused = false;
  /** Store position that must be durable before the publish is confirmed; NOT_WRITTEN if none. */
  durableAt = NOT_WRITTEN;
  /** Queues that enqueued it (statistics). */
  queues = 0;
  /** The message as the queues got it (BCC removed), for a mandatory return. */
  message: Message | undefined;
  /** A queue it went into is pressing (flow control, see Queue): the publisher should slow down. */
  pressure: Queue | undefined;
  /**
   * Set only when not routed for a reason other than NO_ROUTE (a refused half-message publish or
   * decision): the basic.return's reply code and text. The reader clears them after use.
   */
  returnCode = 0;
  returnText: string | undefined;
}

/** What routing reads from a vhost. */
export interface PublishTopology {
  readonly exchanges: ReadonlyMap<string, Exchange>;
  readonly queues: ReadonlyMap<string, Queue>;
}

/** Dead-lettering leaves out queues that would close an automatic dead-letter cycle. */
export type QueueFilter = (q: Queue) => boolean;

const CC_KEY = Buffer.from([2, 0x43, 0x43]);
const BCC_KEY = Buffer.from([3, 0x42, 0x43, 0x43]);

export class Publisher {
  /** Direct reply-to consumers (set by the broker; absent in bare vhosts of unit tests). */
  replyTo: DirectReplyTo | undefined;

  // Reused scratch: never allocate per published message.
  private readonly targets: Queue[] = [];
  private readonly scratch: Destination[] = [];
  private readonly work: Exchange[] = [];
  private readonly seenExchanges = new Set<Exchange>();
  private readonly seenQueues = new Set<Queue>();

  constructor(
    private readonly topology: PublishTopology,
    private readonly persistence: Persistence | undefined,
    private readonly delayed: DelayedDelivery<Exchange>,
    private readonly half: HalfMessages,
  ) {}

  /** Publish `msg` to exchange `x` (see the header); returns `result`, filled in. */
  publish(x: Exchange, msg: Message, result: PublishResult, filter?: QueueFilter): PublishResult {
    return this.run(x, msg, result, filter, true);
  }

  /** A delayed message is due: deliver it through its exchange now. */
  release(x: Exchange, msg: Message, result: PublishResult): PublishResult {
    return this.run(x, msg, result, undefined, false);
  }

  private run(x: Exchange, msg: Message, result: PublishResult, filter: QueueFilter | undefined, mayDelay: boolean): PublishResult {
    result.routed = false;
    result.refused = false;
    result.durableAt = NOT_WRITTEN;
    result.queues = 0;
    result.message = msg;
    result.pressure = undefined;
    // The exchange went away (between a tx publish and its commit): unroutable.
    if (x.deleted) return result;
    if (x.name === '' && msg.routingKey.startsWith(REPLY_TO_PREFIX)) {
      result.routed = this.replyTo !== undefined && this.replyTo.deliver(msg.routingKey, msg);
      return result;
    }
    // Released delayed messages were counted when they were published.
    if (mayDelay) {
      x.stats.publishIn++;
      // Half messages and decisions (a committed message is released: not taken aside again).
      if (x.transactional) return this.half.publish(x, msg, result);
    }
    const out = this.targets;
    this.route(x, msg, out);
    if (msg.headersMayContain(CC_KEY) || msg.headersMayContain(BCC_KEY)) {
      msg = this.senderSelected(x, msg, out);
      result.message = msg;
    }
    if (filter !== undefined) {
      let n = 0;
      for (let i = 0; i < out.length; i++) if (filter(out[i]!)) out[n++] = out[i]!;
      out.length = n;
    }
    if (out.length === 0) return result;
    result.routed = true;
    const p = this.persistence;
    const before = p === undefined ? 0 : p.writePosition;
    const delay = mayDelay && x.delayed ? delayOf(msg) : 0;
    if (delay > 0) {
      this.delayed.schedule(x, msg, msg.publishedAt + delay);
    } else {
      for (let i = 0; i < out.length; i++) {
        const q = out[i]!;
        if (q.enqueue(msg)) {
          q.stats.publish++;
          result.queues++;
          if (q.pressing) result.pressure = q;
        } else {
          result.refused = true;
        }
      }
      // RabbitMQ counts publish_out once per queue the message reached.
      x.stats.publishOut += result.queues;
    }
    out.length = 0;
    if (p !== undefined && p.writePosition !== before) result.durableAt = p.writePosition;
    return result;
  }

  /**
   * Route `msg` from `x` into `out` (cleared first): follows exchange-to-exchange bindings and
   * alternate exchanges, each exchange visited once, each queue listed once.
   */
  route(x: Exchange, msg: Message, out: Queue[]): void {
    out.length = 0;
    if (x.name === '') {
      const q = this.topology.queues.get(msg.routingKey);
      if (q !== undefined) out.push(q);
      return;
    }
    const work = this.work;
    const seenX = this.seenExchanges;
    const seenQ = this.seenQueues;
    const scratch = this.scratch;
    work.length = 0;
    work.push(x);
    seenX.add(x);
    while (work.length > 0) {
      const cur = work.pop()!;
      scratch.length = 0;
      cur.route(msg, scratch);
      const matched = scratch.length;
      for (let i = 0; i < matched; i++) {
        const d = scratch[i]!;
        if (d instanceof Queue) {
          if (!seenQ.has(d)) { seenQ.add(d); out.push(d); }
        } else if (!seenX.has(d)) {
          seenX.add(d);
          work.push(d);
        }
      }
      if (matched === 0 && cur.alternate !== undefined) {
        const ae = this.topology.exchanges.get(cur.alternate);
        if (ae !== undefined && !seenX.has(ae)) { seenX.add(ae); work.push(ae); }
      }
    }
    seenX.clear();
    seenQ.clear();
    scratch.length = 0;
  }

  /**
   * Sender-selected distribution: CC and BCC headers (arrays of strings) add routing keys; BCC is
   * removed from the message the queues get. RabbitMQ refuses other types with 406.
   */
  private senderSelected(x: Exchange, msg: Message, out: Queue[]): Message {
    const h = msg.headers();
    if (h === undefined) return msg;
    const cc = tableGet(h, 'CC');
    const bcc = tableGet(h, 'BCC');
    for (const [key, v] of [['CC', cc], ['BCC', bcc]] as const) {
      if (v !== undefined && v.type !== 'A') {
        throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid message: {unacceptable_type_in_header,"${key}",${fieldTypeName(v)}}`);
      }
    }
    const keys = [...stringArray(cc), ...stringArray(bcc)];
    if (keys.length > 0) {
      const all = new Set(out);
      const extra: Queue[] = [];
      const original = msg.routingKey;
      for (const key of keys) {
        msg.routingKey = key;
        this.route(x, msg, extra);
        for (const q of extra) all.add(q);
      }
      msg.routingKey = original;
      out.length = 0;
      for (const q of all) out.push(q);
    }
    if (bcc === undefined) return msg;
    return msg.withChanges({ headers: h.filter((e) => e.key !== 'BCC') });
  }
}
