/**
 * The consuming half of a channel: its consumers (and its direct reply-to consumer), the unacked
 * deliveries by delivery tag, prefetch (basic.qos per consumer and global), and settlement
 * (ack, nack, reject, recover). It is the DeliverySink its consumers' queues deliver through and
 * the ReplyConsumer of direct reply-to.
 *
 * Invariants: delivery tags grow by one per delivery of the channel (deliver, get-ok, reply);
 * the unacked map is in tag order, so `multiple` settles a prefix and recover requeues in order;
 * after release() nothing is delivered and every unacked entry is back in its queue.
 */
import { randomBytes } from 'node:crypto';
import { AmqpError } from '../core/amqp-error.js';
import { fieldIsInteger, tableGet, type FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import { Consumer } from '../broker/consumer.js';
import type { DeliverySink } from '../broker/delivery-sink.js';
import type { ReplyConsumer } from '../broker/direct-reply-to.js';
import type { Message } from '../broker/message.js';
import type { UnackedDelivery } from '../broker/connection-registry.js';
import type { Queue } from '../broker/queue.js';
import type { QueueEntry } from '../broker/queue-entry.js';
import { fieldTypeName } from '../broker/queue-arguments.js';
import { streamRejectRefused } from '../broker/stream-arguments.js';
import { CLASS_BASIC } from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import type { Channel } from './channel.js';

export class Deliveries implements DeliverySink, ReplyConsumer {
  readonly consumers = new Map<string, Consumer>();
  private readonly unacked = new Map<number, QueueEntry>();
  private nextTag = 1;
  /** basic.qos global=false: prefetch for consumers created from now on. */
  private consumerPrefetch = 0;
  /** basic.qos global=true: limit across the channel. */
  private channelPrefetch = 0;
  /** Queues whose consumers gained credit during the current method. */
  private readonly touched = new Set<Queue>();
  /** Token naming this channel's reply consumer (amq.rabbitmq.reply-to.<token>). */
  private replyToken: string | undefined;
  private replyTag = '';

  constructor(private readonly ch: Channel) {}

  get unackedCount(): number {
    return this.unacked.size;
  }

  /** Append the deliveries from `queue` held unacked here (peek; off the hot path). */
  unackedFrom(queue: object, channel: number, out: UnackedDelivery[]): void {
    for (const [deliveryTag, entry] of this.unacked) if (entry.queue === queue) out.push({ entry, channel, deliveryTag });
  }

  /** basic.qos prefetch: per consumer (global=false) and across the channel (global=true). */
  get prefetchCount(): number {
    return this.consumerPrefetch;
  }

  get globalPrefetchCount(): number {
    return this.channelPrefetch;
  }

  // --- qos / consume / cancel / get ---

  qos(prefetchCount: number, global: boolean): void {
    if (global) this.channelPrefetch = prefetchCount;
    else this.consumerPrefetch = prefetchCount;
    if (global) for (const c of this.consumers.values()) c.queue.dispatch();
  }

  /** basic.consume on `q`; returns the consumer tag (generated when empty). Delivery starts with dispatch(). */
  consume(q: Queue, tag: string, noAck: boolean, exclusive: boolean, args: FieldTable): string {
    const prio = tableGet(args, 'x-priority');
    if (prio !== undefined && !fieldIsInteger(prio)) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `invalid arg 'x-priority' for queue '${q.name}' in vhost '${q.vhost}': "expected integer, got ${fieldTypeName(prio)}"`);
    }
    if (tag === '') tag = generateTag();
    else if (this.consumers.has(tag) || tag === this.replyTag) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, -1, -1, true);
    }
    const c = new Consumer(tag, q, this, noAck, exclusive, this.consumerPrefetch, args, this.ch.conn.id);
    q.addConsumer(c);
    this.consumers.set(tag, c);
    return tag;
  }

  /** basic.consume on amq.rabbitmq.reply-to: a no-ack pseudo-consumer for RPC replies. */
  consumeReplies(tag: string, noAck: boolean): string {
    if (!noAck) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'reply consumer cannot acknowledge');
    if (this.replyToken !== undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'reply consumer already set');
    this.replyTag = tag !== '' ? tag : generateTag();
    this.replyToken = randomBytes(18).toString('base64url');
    this.ch.conn.broker.directReplyTo.register(this.replyToken, this);
    return this.replyTag;
  }

  /** reply_to for a request sent with reply_to=amq.rabbitmq.reply-to; 406 without a reply consumer. */
  replyAddress(): string {
    if (this.replyToken === undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'fast reply consumer does not exist');
    }
    return this.replyToken;
  }

  /** basic.cancel: unknown tags are fine (RabbitMQ answers cancel-ok anyway). */
  cancel(tag: string): void {
    if (this.replyToken !== undefined && tag === this.replyTag) {
      this.dropReplyConsumer();
      return;
    }
    const c = this.consumers.get(tag);
    if (c === undefined) return;
    this.consumers.delete(tag);
    c.queue.removeConsumer(c);
  }

  /** basic.get: get-ok with the head message, or get-empty. */
  get(q: Queue, noAck: boolean): void {
    const e = q.get(noAck);
    const w = this.ch.conn.writer;
    const qs = q.stats;
    const cs = this.ch.stats;
    const vs = this.ch.vhostStats;
    this.ch.conn.markDirty();
    if (e === undefined) {
      qs.getEmpty++;
      cs.getEmpty++;
      vs.getEmpty++;
      M.writeBasicGetEmpty(w, this.ch.id);
      return;
    }
    if (noAck) {
      qs.getNoAck++;
      cs.getNoAck++;
      vs.getNoAck++;
    } else {
      qs.get++;
      cs.get++;
      vs.get++;
    }
    if (e.deliveries > 1) {
      qs.redeliver++;
      cs.redeliver++;
      vs.redeliver++;
    }
    const tag = this.nextTag++;
    if (!noAck) this.track(tag, e);
    const msg = q.messageFor(e, true);
    M.writeBasicGetOk(w, this.ch.id, tag, e.deliveries > 1, msg.exchange, msg.routingKey, q.messageCount);
    w.writeContent(this.ch.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
  }

  private track(tag: number, e: QueueEntry): void {
    this.unacked.set(tag, e);
    e.deliveredAt = this.ch.conn.clock.now;
  }

  // --- DeliverySink ---

  /** basic.qos global=true prefetch (stream queues refuse consumers under it). */
  get globalPrefetch(): number {
    return this.channelPrefetch;
  }

  canDeliver(c: Consumer): boolean {
    if (this.ch.state !== 'open' || !this.ch.conn.canWrite()) return false;
    if (c.noAck) return true;
    if (c.prefetch > 0 && c.unacked >= c.prefetch) return false;
    return this.channelPrefetch === 0 || this.unacked.size < this.channelPrefetch;
  }

  deliver(c: Consumer, e: QueueEntry): void {
    const tag = this.nextTag++;
    const qs = e.queue.stats;
    const cs = this.ch.stats;
    const vs = this.ch.vhostStats;
    if (c.noAck) {
      qs.deliverNoAck++;
      cs.deliverNoAck++;
      vs.deliverNoAck++;
    } else {
      qs.deliver++;
      cs.deliver++;
      vs.deliver++;
      this.track(tag, e);
    }
    if (e.deliveries > 1) {
      qs.redeliver++;
      cs.redeliver++;
      vs.redeliver++;
    }
    const msg = e.queue.messageFor(e, false);
    const conn = this.ch.conn;
    const w = conn.writer;
    M.writeBasicDeliver(w, this.ch.id, c.tag, tag, e.deliveries > 1, msg.exchange, msg.routingKey);
    w.writeContent(this.ch.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
    conn.markDirty();
  }

  cancelledByBroker(c: Consumer): void {
    this.consumers.delete(c.tag);
    const conn = this.ch.conn;
    if (this.ch.state === 'open' && conn.capabilities.consumerCancelNotify) {
      M.writeBasicCancel(conn.writer, this.ch.id, c.tag, false);
      conn.markDirty();
    }
  }

  /** A reply published to amq.rabbitmq.reply-to.<our token>. */
  deliverReply(msg: Message): void {
    const conn = this.ch.conn;
    const w = conn.writer;
    M.writeBasicDeliver(w, this.ch.id, this.replyTag, this.nextTag++, false, msg.exchange, msg.routingKey);
    w.writeContent(this.ch.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
    conn.markDirty();
  }

  // --- settlement ---

  /** 406 for a tag that is not unacked (tag 0 with multiple means "all"). */
  checkTag(tag: number, multiple: boolean): void {
    if (multiple && tag === 0) return;
    if (!this.unacked.has(tag)) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `unknown delivery tag ${tag}`);
  }

  /** Ack or reject `tag` (and, with multiple, every earlier tag; tag 0 + multiple = all). */
  settle(tag: number, multiple: boolean, reject: boolean, requeue: boolean): void {
    this.checkTag(tag, multiple);
    const touched = this.touched;
    if (!multiple) {
      const e = this.unacked.get(tag)!;
      this.unacked.delete(tag);
      this.settleOne(e, reject, requeue);
      touched.add(e.queue);
    } else {
      const all = tag === 0;
      const batch: QueueEntry[] = [];
      for (const [t, e] of this.unacked) {
        if (!all && t > tag) break;
        batch.push(e);
        this.unacked.delete(t);
      }
      if (reject && requeue) {
        // Requeue newest first so each goes back to the head in original order.
        for (let i = batch.length - 1; i >= 0; i--) this.settleOne(batch[i]!, true, true);
      } else {
        // Acks and dead-letters in delivery order.
        for (let i = 0; i < batch.length; i++) this.settleOne(batch[i]!, reject, false);
      }
      for (const e of batch) touched.add(e.queue);
    }
    this.redispatch();
  }

  private settleOne(e: QueueEntry, reject: boolean, requeue: boolean): void {
    // A stream never takes a message back nor dead-letters it: RabbitMQ closes the connection (540).
    if (reject && e.queue.settings.queueType === 'stream') throw streamRejectRefused(e.queue.name, e.queue.vhost);
    if (!reject) {
      e.queue.stats.ack++;
      this.ch.stats.ack++;
      this.ch.vhostStats.ack++;
      e.queue.settle(e);
    } else if (requeue) {
      e.queue.requeue(e);
    } else {
      e.queue.reject(e);
    }
  }

  /** basic.recover requeue=true (and channel close): every unacked delivery back, in order. */
  requeueAll(): void {
    const entries = [...this.unacked.values()];
    this.unacked.clear();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      e.queue.requeue(e);
      this.touched.add(e.queue);
    }
    this.redispatch();
  }

  /** Deliver more from every queue whose credit changed. */
  private redispatch(): void {
    const touched = this.touched;
    if (touched.size === 0) return;
    for (const q of touched) q.dispatch();
    touched.clear();
    // Global prefetch frees credit for every consumer of the channel.
    if (this.channelPrefetch > 0) for (const c of this.consumers.values()) c.queue.dispatch();
  }

  /** Delivery time of the oldest unacked delivery, for the consumer acknowledgement timeout. */
  oldestDeliveredAt(): number | undefined {
    for (const e of this.unacked.values()) return e.deliveredAt;
    return undefined;
  }

  /** The channel is going: requeue unacked deliveries in order, cancel every consumer. Idempotent. */
  release(): void {
    this.dropReplyConsumer();
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    this.requeueAll();
    for (const c of consumers) c.queue.removeConsumer(c);
  }

  private dropReplyConsumer(): void {
    if (this.replyToken === undefined) return;
    this.ch.conn.broker.directReplyTo.unregister(this.replyToken);
    this.replyToken = undefined;
    this.replyTag = '';
  }
}

function generateTag(): string {
  return 'amq.ctag-' + randomBytes(16).toString('base64url').slice(0, 22);
}
