/**
 * One AMQP channel of a connection: assembles publish commands (method -> header -> body, kept
 * as data, not closures), runs the channel's methods against the broker model, and is the
 * DeliverySink its consumers deliver through. Holds the channel-scoped state: unacked deliveries
 * (by delivery tag, in tag order), prefetch, confirm mode, transactions.
 * Invariants: the publish/deliver path is synchronous and allocates only the Message, its two
 * owned buffers and the queue entries; errors are thrown as AmqpError and mapped to a close by
 * the connection (close-mapping), never handled here.
 */
import { randomBytes } from 'node:crypto';
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Consumer } from '../broker/consumer.js';
import { Consumer as ConsumerImpl } from '../broker/consumer.js';
import type { DeliverySink } from '../broker/delivery-sink.js';
import { Message } from '../broker/message.js';
import { CONTENT_CODEC } from './content-codec.js';
import type { Queue } from '../broker/queue.js';
import type { QueueEntry } from '../broker/queue-entry.js';
import type { Vhost } from '../broker/vhost.js';
import type { DurableWaiter, Persistence } from '../broker/persistence.js';
import { Confirms, NO_WAIT, type ConfirmSink } from '../broker/confirms.js';
import { CommandAssembler, CONTENT, CONTENT_METHOD, METHOD } from '../protocol/command-assembler.js';
import { BasicFlag } from '../protocol/content-header.js';
import { FRAME_METHOD } from '../protocol/frame-constants.js';
import * as M from '../protocol/generated/methods.js';
import { decodeBasicProperties } from '../protocol/generated/properties.js';
import { fieldIsInteger, tableGet } from '../core/field-value.js';
import { stringArray } from '../broker/dead-letter.js';
import { delayOf } from '../broker/delayed-delivery.js';
import { fieldTypeName } from '../broker/queue-arguments.js';
import type { Exchange } from '../broker/exchange.js';
import type { Connection } from './connection.js';

const CLASS_BASIC = 60;


/** Reused per-channel scratch objects (one channel processes one frame at a time). */
interface PendingPublish {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
}

interface TxPublish {
  msg: Message;
  mandatory: boolean;
}

interface TxAck {
  kind: 'ack' | 'reject';
  tag: number;
  multiple: boolean;
  requeue: boolean;
}

type ChannelState = 'open' | 'closing' | 'closed';

export class Channel implements DeliverySink, DurableWaiter {
  state: ChannelState = 'open';
  /** Class/method of the last method received, for the close's class-id/method-id. */
  lastClassId = 0;
  lastMethodId = 0;

  // --- content assembly (publish) ---
  private readonly assembler: CommandAssembler;
  private readonly publish: PendingPublish = { exchange: '', routingKey: '', mandatory: false };

  // --- consumers and acks ---
  readonly consumers = new Map<string, Consumer>();
  private readonly unacked = new Map<number, QueueEntry>();
  private nextDeliveryTag = 1;
  /** basic.qos global=false: prefetch for consumers created from now on. */
  private consumerPrefetch = 0;
  /** basic.qos global=true: limit across the channel. */
  private channelPrefetch = 0;
  private readonly touchedQueues = new Set<Queue>();
  private lastDeclaredQueue = '';

  // --- confirms ---
  private confirmMode = false;
  private readonly confirms = new Confirms();
  private readonly confirmWriter: ConfirmSink = {
    ack: (seq, multiple) => M.writeBasicAck(this.conn.writer, this.id, seq, multiple),
    nack: (seq, multiple) => M.writeBasicNack(this.conn.writer, this.id, seq, multiple, false),
  };
  private txCommitWaiting = false;

  // --- transactions ---
  private txMode = false;
  private txPublishes: TxPublish[] = [];
  private txAcks: TxAck[] = [];

  private readonly routed: Queue[] = [];

  // --- direct reply-to ---
  /** Token naming this channel's reply consumer (amq.rabbitmq.reply-to.<token>). */
  replyToken: string | undefined;
  private replyTag = '';

  private readonly persistence: Persistence | undefined;

  constructor(readonly id: number, private readonly conn: Connection, private readonly vhost: Vhost) {
    this.persistence = conn.persistence;
    this.assembler = new CommandAssembler(conn.config.maxMessageSize);
  }

  // ------------------------------------------------------------------------------------------
  // Frames

  onFrame(type: number, payload: Buffer, start: number, end: number): void {
    if (this.held !== undefined) {
      // A reply waits for the definitions save: keep later frames, in order, until it is sent.
      this.held.push({ type, payload: Buffer.from(payload.subarray(start, end)) });
      return;
    }
    if (this.state === 'closing') {
      // After channel.close, drop everything but close-ok (and answer a crossing close).
      if (type === FRAME_METHOD) {
        const m = M.decodeMethod(payload, start, end);
        if (m.kind === 'channel.close-ok') this.conn.channelClosed(this);
        else if (m.kind === 'channel.close') M.writeChannelCloseOk(this.conn.writer, this.id), this.conn.markDirty();
      }
      return;
    }
    const a = this.assembler;
    const r = a.push(type, payload, start, end);
    if (r === METHOD || r === CONTENT_METHOD) {
      const m = a.method!;
      this.lastClassId = m.classId;
      this.lastMethodId = m.methodId;
      this.onMethod(m);
    } else if (r === CONTENT) {
      this.completePublish();
    }
  }

  private completePublish(): void {
    const p = this.publish;
    const a = this.assembler;
    const peek = a.peek;
    // rabbit_channel:check_user_id_header and rabbit_basic:parse_expiration.
    if (peek.userId !== undefined && peek.userId !== this.conn.user) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `user_id property set to '${peek.userId}' but authenticated user was '${this.conn.user}'`);
    }
    if (peek.expiration !== undefined) checkExpiration(peek.expiration);
    let msg = new Message(p.exchange, p.routingKey, a.properties, a.body, peek.deliveryMode, peek.priority,
      peek.expiration, peek.headersStart, peek.headersEnd, CONTENT_CODEC, this.conn.clock.now);
    a.take();
    if ((peek.flags & BasicFlag.replyTo) !== 0 && msg.properties.indexOf(REPLY_TO_BYTES) >= 0) msg = this.directReplyTo(msg);
    this.conn.onPublished();
    if (this.txMode) {
      this.txPublishes.push({ msg, mandatory: p.mandatory });
      return;
    }
    this.routeAndConfirm(msg, p.mandatory);
  }

  /** Route one complete message; mandatory returns precede the confirm, as in RabbitMQ. */
  private routeAndConfirm(msg: Message, mandatory: boolean): void {
    const seq = this.confirmMode ? this.confirms.next() : 0;
    const p = this.persistence;
    const writeBefore = p === undefined ? 0 : p.store.writeSeq;
    const x = this.vhost.exchanges.get(msg.exchange);
    const out = this.routed;
    let refused = false;
    let replied = false;
    out.length = 0;
    if (x === undefined) {
      // The exchange went away between publish and commit: unroutable.
    } else if (x.name === '' && msg.routingKey.startsWith(REPLY_TO_PREFIX)) {
      replied = this.conn.deliverReply(msg);
    } else {
      this.vhost.route(x, msg, out);
      if (msg.headersStart >= 0) msg = this.senderSelected(x, msg, out);
    }
    if (out.length === 0) {
      if (mandatory && !replied) this.sendReturn(msg, ReplyCode.NO_ROUTE, 'NO_ROUTE');
    } else {
      const delay = x !== undefined && x.delayed ? delayOf(msg) : 0;
      if (delay > 0) {
        this.vhost.delayed.schedule(x!, msg, msg.publishedAt + delay);
      } else {
        for (let i = 0; i < out.length; i++) if (!out[i]!.enqueue(msg)) refused = true;
      }
      out.length = 0;
    }
    if (seq === 0) return;
    const wrote = p !== undefined && p.store.writeSeq !== writeBefore;
    if (this.confirms.settle(seq, refused, wrote ? p!.store.writeSeq : NO_WAIT)) {
      // Persistent message in a durable queue (or a confirm queued behind one): ack after the fsync.
      p!.whenDurable(this);
      return;
    }
    this.conn.markDirty();
    this.conn.needsConfirmFlush(this);
  }

  /**
   * Sender-selected distribution: CC and BCC headers (arrays of strings) add routing keys; BCC is
   * removed from the message before delivery.
   */
  private senderSelected(x: Exchange, msg: Message, out: Queue[]): Message {
    const h = msg.headers();
    if (h === undefined) return msg;
    for (const key of ['CC', 'BCC']) {
      const v = tableGet(h, key);
      if (v !== undefined && v.type !== 'A') {
        throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
          `invalid message: {unacceptable_type_in_header,"${key}",${fieldTypeName(v)}}`, CLASS_BASIC, 40);
      }
    }
    const cc = stringArray(tableGet(h, 'CC'));
    const bcc = stringArray(tableGet(h, 'BCC'));
    if (cc.length === 0 && bcc.length === 0) return msg;
    const all = new Set(out);
    const extra: Queue[] = [];
    const original = msg.routingKey;
    for (const key of [...cc, ...bcc]) {
      msg.routingKey = key;
      this.vhost.route(x, msg, extra);
      for (const q of extra) all.add(q);
    }
    msg.routingKey = original;
    out.length = 0;
    for (const q of all) out.push(q);
    if (tableGet(h, 'BCC') === undefined) return msg;
    return msg.withChanges({ headers: h.filter((e) => e.key !== 'BCC') });
  }

  /** A request carrying reply_to=amq.rabbitmq.reply-to: point it at this channel's reply consumer. */
  private directReplyTo(msg: Message): Message {
    const props = decodeBasicProperties(msg.properties, 0, msg.properties.length);
    if (props.replyTo !== REPLY_TO_QUEUE) return msg;
    if (this.replyToken === undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'fast reply consumer does not exist', CLASS_BASIC, 40);
    }
    return msg.withChanges({ replyTo: REPLY_TO_PREFIX + this.replyToken });
  }

  /** The store made everything up to `writeSeq` durable (or failed to). */
  onDurable(writeSeq: number, err: Error | null): void {
    if (this.state === 'closed') return;
    this.confirms.durable(writeSeq, err !== null);
    if (this.txCommitWaiting) {
      this.txCommitWaiting = false;
      if (err !== null) {
        this.conn.fail(this.id, new AmqpError(ReplyCode.INTERNAL_ERROR, `tx.commit could not be made durable: ${err.message}`, 90, 20));
        return;
      }
      M.writeTxCommitOk(this.conn.writer, this.id);
    }
    this.conn.markDirty();
    this.conn.needsConfirmFlush(this);
  }

  private sendReturn(msg: Message, code: number, text: string): void {
    const w = this.conn.writer;
    M.writeBasicReturn(w, this.id, code, text, msg.exchange, msg.routingKey);
    w.writeContent(this.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
    this.conn.markDirty();
  }

  /** Called by the connection just before it flushes: write pending confirms (acks coalesce as 'multiple'). */
  flushConfirms(): void {
    this.confirms.flush(this.confirmWriter);
  }

  // ------------------------------------------------------------------------------------------
  // Durable definitions: declare-ok, bind-ok, delete-ok... are sent once the change is on disk
  // (as RabbitMQ commits before replying), holding the channel's later frames meanwhile.

  private held: { type: number; payload: Buffer }[] | undefined;

  private replyWhenSaved(write: () => void): void {
    const p = this.persistence;
    if (p === undefined || !p.definitionsPending) {
      write();
      this.conn.markDirty();
      return;
    }
    this.held = [];
    p.afterDefinitionsSaved((err) => {
      const frames = this.held ?? [];
      this.held = undefined;
      if (this.state !== 'open') return;
      if (err !== null) {
        this.conn.fail(this.id, new AmqpError(ReplyCode.INTERNAL_ERROR, `could not save definitions: ${err.message}`, 0, 0, true));
        return;
      }
      write();
      this.conn.markDirty();
      for (let i = 0; i < frames.length; i++) {
        // Replaying a frame may hold the channel again: keep the rest for that reply.
        const again = this.held as { type: number; payload: Buffer }[] | undefined;
        if (again !== undefined) {
          again.push(...frames.slice(i));
          break;
        }
        const f = frames[i]!;
        this.conn.onFrame(f.type, this.id, f.payload, 0, f.payload.length);
      }
    });
  }

  // ------------------------------------------------------------------------------------------
  // Methods

  private onMethod(m: M.Method): void {
    switch (m.kind) {
      case 'basic.publish': return this.onPublish(m);
      case 'basic.ack': return this.onAck(m.deliveryTag, m.multiple);
      case 'basic.nack': return this.onReject(m.deliveryTag, m.multiple, m.requeue);
      case 'basic.reject': return this.onReject(m.deliveryTag, false, m.requeue);
      case 'basic.qos': return this.onQos(m);
      case 'basic.consume': return this.onConsume(m);
      case 'basic.cancel': return this.onCancel(m);
      case 'basic.get': return this.onGet(m);
      case 'basic.recover': return this.onRecover(m.requeue, true);
      case 'basic.recover-async': return this.onRecover(m.requeue, false);
      case 'exchange.declare': return this.onExchangeDeclare(m);
      case 'exchange.delete': return this.onExchangeDelete(m);
      case 'exchange.bind': return this.onExchangeBind(m);
      case 'exchange.unbind': return this.onExchangeUnbind(m);
      case 'queue.declare': return this.onQueueDeclare(m);
      case 'queue.bind': return this.onQueueBind(m);
      case 'queue.unbind': return this.onQueueUnbind(m);
      case 'queue.purge': return this.onQueuePurge(m);
      case 'queue.delete': return this.onQueueDelete(m);
      case 'confirm.select': return this.onConfirmSelect(m.nowait);
      case 'tx.select': return this.onTxSelect();
      case 'tx.commit': return this.onTxCommit();
      case 'tx.rollback': return this.onTxRollback();
      case 'channel.flow': return this.onFlow(m.active);
      case 'channel.close':
        this.conn.closeChannelByClient(this);
        return;
      case 'channel.open':
        throw new AmqpError(ReplyCode.CHANNEL_ERROR, `second 'channel.open' seen`, m.classId, m.methodId, true);
      case 'channel.close-ok':
        // A close-ok nobody asked for: RabbitMQ closes the connection with 503.
        throw new AmqpError(ReplyCode.COMMAND_INVALID, 'unimplemented method', m.classId, m.methodId, true);
      default:
        throw new AmqpError(ReplyCode.COMMAND_INVALID, `unexpected method '${m.kind}' on channel ${this.id}`,
          m.classId, m.methodId, true);
    }
  }

  private get w() {
    this.conn.markDirty();
    return this.conn.writer;
  }

  private onPublish(m: M.BasicPublish): void {
    if (m.immediate) {
      throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'immediate=true', m.classId, m.methodId, true);
    }
    // RabbitMQ checks the exchange when the method arrives (the content is then discarded).
    this.vhost.exchangeForPublish(m.exchange);
    const p = this.publish;
    p.exchange = m.exchange;
    p.routingKey = m.routingKey;
    p.mandatory = m.mandatory;
  }

  // --- acknowledgements ---

  private onAck(tag: number, multiple: boolean): void {
    if (this.txMode) {
      this.checkTag(tag, multiple);
      this.txAcks.push({ kind: 'ack', tag, multiple, requeue: false });
      return;
    }
    this.settle(tag, multiple, false, false);
  }

  private onReject(tag: number, multiple: boolean, requeue: boolean): void {
    if (this.txMode) {
      this.checkTag(tag, multiple);
      this.txAcks.push({ kind: 'reject', tag, multiple, requeue });
      return;
    }
    this.settle(tag, multiple, true, requeue);
  }

  private checkTag(tag: number, multiple: boolean): void {
    if (multiple && tag === 0) return;
    if (!this.unacked.has(tag)) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `unknown delivery tag ${tag}`);
    }
  }

  /** Ack or reject `tag` (and, with multiple, every earlier tag; tag 0 + multiple = all). */
  private settle(tag: number, multiple: boolean, reject: boolean, requeue: boolean): void {
    this.checkTag(tag, multiple);
    const touched = this.touchedQueues;
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
    if (!reject) e.queue.settle(e);
    else if (requeue) e.queue.requeue(e);
    else e.queue.reject(e);
  }

  /** Deliver more from every queue whose credit changed. */
  private redispatch(): void {
    const touched = this.touchedQueues;
    if (touched.size === 0) return;
    for (const q of touched) q.dispatch();
    touched.clear();
    // Global prefetch frees credit for every consumer of the channel.
    if (this.channelPrefetch > 0) for (const c of this.consumers.values()) c.queue.dispatch();
  }

  private onRecover(requeue: boolean, sync: boolean): void {
    if (!requeue) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'requeue=false', CLASS_BASIC, sync ? 110 : 100, true);
    this.requeueAll();
    if (sync) M.writeBasicRecoverOk(this.w, this.id);
  }

  /** Return every unacked delivery to its queue, original order preserved. */
  requeueAll(): void {
    const entries = [...this.unacked.values()];
    this.unacked.clear();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      e.queue.requeue(e);
      this.touchedQueues.add(e.queue);
    }
    this.redispatch();
  }

  // --- qos / consume / get ---

  private onQos(m: M.BasicQos): void {
    if (m.prefetchSize !== 0) {
      throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${m.prefetchSize})`, m.classId, m.methodId, true);
    }
    if (m.global) this.channelPrefetch = m.prefetchCount;
    else this.consumerPrefetch = m.prefetchCount;
    M.writeBasicQosOk(this.w, this.id);
    if (m.global) for (const c of this.consumers.values()) c.queue.dispatch();
  }

  private queueNameOrLast(name: string, classId: number, methodId: number): string {
    if (name !== '') return name;
    if (this.lastDeclaredQueue === '') {
      throw new AmqpError(ReplyCode.NOT_FOUND, 'no previously declared queue', classId, methodId);
    }
    return this.lastDeclaredQueue;
  }

  private onConsume(m: M.BasicConsume): void {
    if (m.queue === REPLY_TO_QUEUE) return this.onReplyConsume(m);
    const q = this.vhost.queueFor(this.queueNameOrLast(m.queue, m.classId, m.methodId), this.conn.id);
    const prio = tableGet(m.arguments, 'x-priority');
    if (prio !== undefined && !fieldIsInteger(prio)) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `invalid arg 'x-priority' for queue '${q.name}' in vhost '${q.vhost}': "expected integer, got ${fieldTypeName(prio)}"`);
    }
    let tag = m.consumerTag;
    if (tag === '') tag = 'amq.ctag-' + randomBytes(16).toString('base64url').slice(0, 22);
    else if (this.consumers.has(tag)) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, m.classId, m.methodId, true);
    }
    const c = new ConsumerImpl(tag, q, this, m.noAck, m.exclusive, this.consumerPrefetch, m.arguments, this.conn.id);
    q.addConsumer(c);
    this.consumers.set(tag, c);
    if (!m.noWait) M.writeBasicConsumeOk(this.w, this.id, tag);
    q.dispatch();
  }

  /** basic.consume on amq.rabbitmq.reply-to: a no-ack pseudo-consumer for RPC replies. */
  private onReplyConsume(m: M.BasicConsume): void {
    if (!m.noAck) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'reply consumer cannot acknowledge', m.classId, m.methodId);
    if (this.replyToken !== undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'reply consumer already set', m.classId, m.methodId);
    }
    const tag = m.consumerTag !== '' ? m.consumerTag : 'amq.ctag-' + randomBytes(16).toString('base64url').slice(0, 22);
    this.replyTag = tag;
    this.replyToken = randomBytes(18).toString('base64url');
    this.conn.registerReplyChannel(this.replyToken, this);
    if (!m.noWait) M.writeBasicConsumeOk(this.w, this.id, tag);
  }

  /** A reply published to amq.rabbitmq.reply-to.<our token>. */
  deliverReply(msg: Message): void {
    const w = this.conn.writer;
    M.writeBasicDeliver(w, this.id, this.replyTag, this.nextDeliveryTag++, false, msg.exchange, msg.routingKey);
    w.writeContent(this.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
    this.conn.markDirty();
  }

  private dropReplyConsumer(): void {
    if (this.replyToken === undefined) return;
    this.conn.unregisterReplyChannel(this.replyToken);
    this.replyToken = undefined;
    this.replyTag = '';
  }

  private onCancel(m: M.BasicCancel): void {
    if (this.replyToken !== undefined && m.consumerTag === this.replyTag) {
      this.dropReplyConsumer();
      if (!m.noWait) M.writeBasicCancelOk(this.w, this.id, m.consumerTag);
      return;
    }
    const c = this.consumers.get(m.consumerTag);
    if (c !== undefined) {
      this.consumers.delete(m.consumerTag);
      c.queue.removeConsumer(c);
    }
    if (!m.noWait) M.writeBasicCancelOk(this.w, this.id, m.consumerTag);
  }

  private onGet(m: M.BasicGet): void {
    const q = this.vhost.queueFor(this.queueNameOrLast(m.queue, m.classId, m.methodId), this.conn.id);
    const e = q.get(m.noAck);
    const w = this.w;
    if (e === undefined) {
      M.writeBasicGetEmpty(w, this.id);
      return;
    }
    const tag = this.nextDeliveryTag++;
    if (!m.noAck) {
      this.unacked.set(tag, e);
      e.deliveredAt = this.conn.clock.now;
    }
    const msg = q.messageFor(e, true);
    M.writeBasicGetOk(w, this.id, tag, e.deliveries > 1, msg.exchange, msg.routingKey, q.messageCount);
    w.writeContent(this.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
  }

  // --- DeliverySink ---

  canDeliver(c: Consumer): boolean {
    if (this.state !== 'open' || !this.conn.canWrite()) return false;
    if (c.noAck) return true;
    if (c.prefetch > 0 && c.unacked >= c.prefetch) return false;
    return this.channelPrefetch === 0 || this.unacked.size < this.channelPrefetch;
  }

  deliver(c: Consumer, e: QueueEntry): void {
    const tag = this.nextDeliveryTag++;
    if (!c.noAck) {
      this.unacked.set(tag, e);
      e.deliveredAt = this.conn.clock.now;
    }
    const msg = e.queue.messageFor(e, false);
    const w = this.conn.writer;
    M.writeBasicDeliver(w, this.id, c.tag, tag, e.deliveries > 1, msg.exchange, msg.routingKey);
    w.writeContent(this.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
    this.conn.markDirty();
  }

  cancelledByBroker(c: Consumer): void {
    this.consumers.delete(c.tag);
    if (this.state === 'open' && this.conn.capabilities.consumerCancelNotify) {
      M.writeBasicCancel(this.w, this.id, c.tag, false);
    }
  }

  // --- exchanges ---

  private onExchangeDeclare(m: M.ExchangeDeclare): void {
    this.vhost.declareExchange({
      name: m.exchange, type: m.type, passive: m.passive, durable: m.durable,
      autoDelete: m.autoDelete, internal: m.internal, args: m.arguments,
    });
    if (!m.noWait) this.replyWhenSaved(() => M.writeExchangeDeclareOk(this.conn.writer, this.id));
  }

  private onExchangeDelete(m: M.ExchangeDelete): void {
    this.vhost.deleteExchange(m.exchange, m.ifUnused);
    if (!m.noWait) this.replyWhenSaved(() => M.writeExchangeDeleteOk(this.conn.writer, this.id));
  }

  private onExchangeBind(m: M.ExchangeBind): void {
    this.vhost.bindExchange(m.destination, m.source, m.routingKey, m.arguments);
    if (!m.noWait) this.replyWhenSaved(() => M.writeExchangeBindOk(this.conn.writer, this.id));
  }

  private onExchangeUnbind(m: M.ExchangeUnbind): void {
    this.vhost.unbindExchange(m.destination, m.source, m.routingKey, m.arguments);
    if (!m.noWait) this.replyWhenSaved(() => M.writeExchangeUnbindOk(this.conn.writer, this.id));
  }

  // --- queues ---

  private onQueueDeclare(m: M.QueueDeclare): void {
    if (m.queue === REPLY_TO_QUEUE && m.passive) {
      // RabbitMQ answers a passive declare of the pseudo-queue with one consumer, always.
      if (!m.noWait) M.writeQueueDeclareOk(this.w, this.id, REPLY_TO_QUEUE, 0, 1);
      return;
    }
    const q = this.vhost.declareQueue({
      name: m.queue, passive: m.passive, durable: m.durable, exclusive: m.exclusive,
      autoDelete: m.autoDelete, args: m.arguments, connectionId: this.conn.id,
    });
    this.lastDeclaredQueue = q.name;
    if (!m.noWait) this.replyWhenSaved(() => M.writeQueueDeclareOk(this.conn.writer, this.id, q.name, q.messageCount, q.consumerCount));
  }

  private onQueueBind(m: M.QueueBind): void {
    const name = this.queueNameOrLast(m.queue, m.classId, m.methodId);
    this.vhost.bindQueue(name, m.exchange, m.routingKey, m.arguments, this.conn.id);
    if (!m.noWait) this.replyWhenSaved(() => M.writeQueueBindOk(this.conn.writer, this.id));
  }

  private onQueueUnbind(m: M.QueueUnbind): void {
    const name = this.queueNameOrLast(m.queue, m.classId, m.methodId);
    this.vhost.unbindQueue(name, m.exchange, m.routingKey, m.arguments, this.conn.id);
    this.replyWhenSaved(() => M.writeQueueUnbindOk(this.conn.writer, this.id));
  }

  private onQueuePurge(m: M.QueuePurge): void {
    const q = this.vhost.queueFor(this.queueNameOrLast(m.queue, m.classId, m.methodId), this.conn.id);
    const n = q.purge();
    if (!m.noWait) M.writeQueuePurgeOk(this.w, this.id, n);
  }

  private onQueueDelete(m: M.QueueDelete): void {
    const name = this.queueNameOrLast(m.queue, m.classId, m.methodId);
    const n = this.vhost.deleteQueue(name, m.ifUnused, m.ifEmpty, this.conn.id);
    if (!m.noWait) this.replyWhenSaved(() => M.writeQueueDeleteOk(this.conn.writer, this.id, n));
  }

  // --- confirms and transactions ---

  private onConfirmSelect(nowait: boolean): void {
    if (this.txMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'cannot switch from tx to confirm mode', 85, 10);
    this.confirmMode = true;
    if (!nowait) M.writeConfirmSelectOk(this.w, this.id);
  }

  private onTxSelect(): void {
    if (this.confirmMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'cannot switch from confirm to tx mode', 90, 10);
    this.txMode = true;
    M.writeTxSelectOk(this.w, this.id);
  }

  private onTxCommit(): void {
    if (!this.txMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'channel is not transactional', 90, 20);
    const publishes = this.txPublishes;
    const acks = this.txAcks;
    this.txPublishes = [];
    this.txAcks = [];
    const store = this.persistence?.store;
    const writeBefore = store === undefined ? 0 : store.writeSeq;
    for (const p of publishes) this.routeAndConfirm(p.msg, p.mandatory);
    for (const a of acks) this.settle(a.tag, a.multiple, a.kind === 'reject', a.requeue);
    if (store !== undefined && store.writeSeq !== writeBefore) {
      // tx.commit is durable when it returns: answer after the fsync.
      this.txCommitWaiting = true;
      this.persistence!.whenDurable(this);
      return;
    }
    M.writeTxCommitOk(this.w, this.id);
  }

  private onTxRollback(): void {
    if (!this.txMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'channel is not transactional', 90, 30);
    this.txPublishes = [];
    this.txAcks = [];
    M.writeTxRollbackOk(this.w, this.id);
  }

  private onFlow(active: boolean): void {
    if (!active) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'active=false', 20, 20, true);
    M.writeChannelFlowOk(this.w, this.id, true);
  }

  /**
   * RabbitMQ's consumer acknowledgement timeout: a delivery unacked for longer than `timeoutMs`
   * closes the channel with 406.
   */
  checkAckTimeout(now: number, timeoutMs: number): void {
    if (this.state !== 'open' || this.unacked.size === 0) return;
    const oldest = this.unacked.values().next().value as QueueEntry;
    if (now - oldest.deliveredAt <= timeoutMs) return;
    this.conn.fail(this.id, new AmqpError(ReplyCode.PRECONDITION_FAILED,
      `delivery acknowledgement on channel ${this.id} timed out. Timeout value used: ${timeoutMs} ms. ` +
      'This timeout value can be configured, see consumers doc guide to learn more', 0, 0));
  }

  // --- teardown ---

  /** Release everything: requeue unacked in order, cancel consumers. Idempotent. */
  release(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.assembler.reset();
    this.txPublishes = [];
    this.txAcks = [];
    this.dropReplyConsumer();
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    this.requeueAll();
    for (const c of consumers) c.queue.removeConsumer(c);
  }

  /** The server closes this channel (soft error): stop work, wait for close-ok. */
  beginClose(): void {
    this.release();
    this.state = 'closing';
  }
}

const EMPTY = Buffer.alloc(0);

/** Direct reply-to (RabbitMQ's amq.rabbitmq.reply-to pseudo-queue). */
export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';
export const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to.';
const REPLY_TO_BYTES = Buffer.from(REPLY_TO_QUEUE);

/** The expiration property must be a non-negative integer in decimal (milliseconds). */
function checkExpiration(value: string): void {
  if (!/^[+-]?\d+$/.test(value)) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid expiration '${value}': no_integer`);
  }
  const n = Number(value);
  if (n < 0) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid expiration '${value}': {value_negative,${n}}`);
}
