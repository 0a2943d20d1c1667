/**
 * One AMQP channel of a connection: wire concerns only. It assembles commands from frames
 * (CommandAssembler), dispatches methods to broker operations (vhost declare/bind/delete and the
 * publish operation), and keeps what is scoped to the channel: confirm mode (Confirms), tx
 * buffering, channel.flow, the frames held behind a durable declare (HeldFrames), and its consuming
 * half (Deliveries: consumers, unacked deliveries, prefetch).
 *
 * States: open; closing (we sent channel.close: only close-ok, or a crossing close, is read);
 * draining (the client sent channel.close while confirms or a tx.commit still wait for the fsync:
 * they are written first, then close-ok, and nothing after it); closed.
 *
 * Invariants: the publish path is synchronous and allocates only the Message (and its two owned
 * buffers) and the queue entries; errors are thrown as AmqpError and mapped to a close by the
 * connection (Connection.fail), never handled here; no frame of this channel follows its
 * channel.close-ok.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { Confirms, NO_WAIT, type ConfirmSink } from '../broker/confirms.js';
import { REPLY_TO_PREFIX, REPLY_TO_QUEUE } from '../broker/direct-reply-to.js';
import { Message } from '../broker/message.js';
import type { DurableWaiter } from '../broker/persistence.js';
import { PublishResult } from '../broker/publish.js';
import { MessageStats, type GlobalCounters } from '../broker/statistics.js';
import { checkPublishedProperties } from '../broker/published-properties.js';
import { UserAccess } from '../broker/access-control.js';
import type { Vhost } from '../broker/vhost.js';
import { CommandAssembler, CONTENT, CONTENT_METHOD, METHOD } from '../protocol/command-assembler.js';
import { BasicFlag } from '../protocol/content-header.js';
import { CLASS_BASIC, CLASS_CONFIRM, CLASS_TX, CONFIRM_SELECT, FRAME_METHOD, TX_COMMIT, TX_ROLLBACK, TX_SELECT } from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import { decodeBasicProperties } from '../protocol/generated/properties.js';
import type { Connection } from './connection.js';
import { CONTENT_CODEC } from './content-codec.js';
import { Deliveries } from './deliveries.js';
import { HeldFrames } from './held-frames.js';

type ChannelState = 'open' | 'closing' | 'draining' | 'closed';

/** A publish or an ack buffered by a transaction until tx.commit. */
interface TxPublish { msg: Message; mandatory: boolean }
interface TxAck { tag: number; multiple: boolean; reject: boolean; requeue: boolean }

export class Channel implements DurableWaiter {
  state: ChannelState = 'open';
  /** Class/method of the last method received, for the close's class-id/method-id. */
  lastClassId = 0;
  lastMethodId = 0;
  /** Consumers, unacked deliveries, prefetch. */
  readonly deliveries = new Deliveries(this);
  /**
   * Message statistics of this channel and of its vhost, incremented side by side on the hot path
   * (plain field increments on objects held here: no lookup, no allocation).
   */
  readonly stats = new MessageStats();
  readonly vhostStats: MessageStats;
  private readonly globals: GlobalCounters;
  /** Highest publish sequence number confirmed or nacked so far (confirm counting). */
  private confirmedUpTo = 0;

  private readonly assembler: CommandAssembler;
  // basic.publish fields while its content is assembled (no object per publish).
  private pubExchange = '';
  private pubRoutingKey = '';
  private pubMandatory = false;
  private readonly result = new PublishResult();
  private lastDeclaredQueue = '';
  /**
   * This channel's permissions (the connection's user in its vhost): checked by every broker
   * operation the channel runs, with the decisions cached here and refreshed when permissions
   * change (rabbit_channel's permission cache).
   */
  private readonly access: UserAccess;
  /** Whether the user has the impersonator tag (may publish with another user_id); asked only then. */
  private readonly isImpersonator = (): boolean => this.conn.broker.users.get(this.conn.user)?.tags.includes('impersonator') === true;

  private confirmMode = false;
  private readonly confirms = new Confirms();
  private readonly confirmWriter: ConfirmSink = {
    ack: (seq, multiple) => {
      // One basic.ack (multiple) confirms every publish since the last confirm or nack.
      const n = seq - this.confirmedUpTo;
      this.confirmedUpTo = seq;
      this.stats.confirm += n;
      this.vhostStats.confirm += n;
      M.writeBasicAck(this.conn.writer, this.id, seq, multiple);
    },
    nack: (seq, multiple) => {
      this.confirmedUpTo = seq;
      M.writeBasicNack(this.conn.writer, this.id, seq, multiple, false);
    },
  };

  private txMode = false;
  private txPublishes: TxPublish[] = [];
  private txAcks: TxAck[] = [];
  /** Store position a tx.commit waits for before commit-ok (0: none waits). */
  private txCommitAt = 0;

  private readonly held = new HeldFrames();
  /** We asked the connection to stop reading because too many frames are held. */
  private holdingReads = false;

  constructor(readonly id: number, readonly conn: Connection, private readonly vhost: Vhost) {
    this.assembler = new CommandAssembler(conn.config.maxMessageSize);
    this.access = new UserAccess(conn.broker.permissions, conn.user, vhost.name);
    this.vhostStats = vhost.stats;
    this.globals = conn.broker.statistics.global;
  }

  /** What the management API shows about this channel (read off the hot path). */
  facts(): { confirm: boolean; transactional: boolean; unconfirmed: number; uncommitted: number; acksUncommitted: number } {
    return {
      confirm: this.confirmMode, transactional: this.txMode, unconfirmed: this.confirms.waiting,
      uncommitted: this.txPublishes.length, acksUncommitted: this.txAcks.length,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Frames

  onFrame(type: number, payload: Buffer, start: number, end: number): void {
    if (this.held.active) {
      this.held.hold(type, payload, start, end);
      if (!this.holdingReads && this.held.overLimit) {
        this.holdingReads = true;
        this.conn.holdReading();
      }
      return;
    }
    if (this.state !== 'open') {
      this.onFrameWhileClosing(type, payload, start, end);
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
      this.onContent();
    }
  }

  /** After our channel.close only close-ok (or a crossing close) counts; while draining nothing does. */
  private onFrameWhileClosing(type: number, payload: Buffer, start: number, end: number): void {
    if (this.state !== 'closing' || type !== FRAME_METHOD) return;
    const m = M.decodeMethod(payload, start, end);
    if (m.kind === 'channel.close-ok') this.conn.channelClosed(this);
    else if (m.kind === 'channel.close') {
      M.writeChannelCloseOk(this.conn.writer, this.id);
      this.conn.markDirty();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Methods

  private onMethod(m: M.Method): void {
    const d = this.deliveries;
    switch (m.kind) {
      case 'basic.publish': return this.onPublish(m);
      case 'basic.ack': return this.onSettle(m.deliveryTag, m.multiple, false, false);
      case 'basic.nack': return this.onSettle(m.deliveryTag, m.multiple, true, m.requeue);
      case 'basic.reject': return this.onSettle(m.deliveryTag, false, true, m.requeue);
      case 'basic.qos':
        if (m.prefetchSize !== 0) {
          throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${m.prefetchSize})`, m.classId, m.methodId, true);
        }
        M.writeBasicQosOk(this.w, this.id);
        return d.qos(m.prefetchCount, m.global);
      case 'basic.consume': return this.onConsume(m);
      case 'basic.cancel':
        d.cancel(m.consumerTag);
        if (!m.noWait) M.writeBasicCancelOk(this.w, this.id, m.consumerTag);
        return;
      case 'basic.get':
        return d.get(this.queue(m.queue), m.noAck);
      case 'basic.recover':
      case 'basic.recover-async':
        if (!m.requeue) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'requeue=false', m.classId, m.methodId, true);
        d.requeueAll();
        if (m.kind === 'basic.recover') M.writeBasicRecoverOk(this.w, this.id);
        return;
      case 'exchange.declare':
        this.vhost.declareExchange({
          name: m.exchange, type: m.type, passive: m.passive, durable: m.durable,
          autoDelete: m.autoDelete, internal: m.internal, args: m.arguments,
        }, this.access);
        return this.replyWhenSaved(m.noWait, () => M.writeExchangeDeclareOk(this.conn.writer, this.id));
      case 'exchange.delete':
        this.vhost.deleteExchange(m.exchange, m.ifUnused, this.access);
        return this.replyWhenSaved(m.noWait, () => M.writeExchangeDeleteOk(this.conn.writer, this.id));
      case 'exchange.bind':
        this.vhost.bindExchange(m.destination, m.source, m.routingKey, m.arguments, this.access);
        return this.replyWhenSaved(m.noWait, () => M.writeExchangeBindOk(this.conn.writer, this.id));
      case 'exchange.unbind':
        this.vhost.unbindExchange(m.destination, m.source, m.routingKey, m.arguments, this.access);
        return this.replyWhenSaved(m.noWait, () => M.writeExchangeUnbindOk(this.conn.writer, this.id));
      case 'queue.declare': return this.onQueueDeclare(m);
      case 'queue.bind':
        this.vhost.bindQueue(this.queueName(m.queue), m.exchange, m.routingKey, m.arguments, this.conn.id, this.access);
        return this.replyWhenSaved(m.noWait, () => M.writeQueueBindOk(this.conn.writer, this.id));
      case 'queue.unbind':
        this.vhost.unbindQueue(this.queueName(m.queue), m.exchange, m.routingKey, m.arguments, this.conn.id, this.access);
        return this.replyWhenSaved(false, () => M.writeQueueUnbindOk(this.conn.writer, this.id));
      case 'queue.purge': {
        const n = this.queue(m.queue).purge();
        if (!m.noWait) M.writeQueuePurgeOk(this.w, this.id, n);
        return;
      }
      case 'queue.delete': {
        const n = this.vhost.deleteQueue(this.queueName(m.queue), m.ifUnused, m.ifEmpty, this.conn.id, this.access);
        return this.replyWhenSaved(m.noWait, () => M.writeQueueDeleteOk(this.conn.writer, this.id, n));
      }
      case 'confirm.select':
        if (this.txMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'cannot switch from tx to confirm mode', CLASS_CONFIRM, CONFIRM_SELECT);
        this.confirmMode = true;
        if (!m.nowait) M.writeConfirmSelectOk(this.w, this.id);
        return;
      case 'tx.select':
        if (this.confirmMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'cannot switch from confirm to tx mode', CLASS_TX, TX_SELECT);
        this.txMode = true;
        M.writeTxSelectOk(this.w, this.id);
        return;
      case 'tx.commit': return this.onTxCommit();
      case 'tx.rollback':
        if (!this.txMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'channel is not transactional', CLASS_TX, TX_ROLLBACK);
        this.txPublishes = [];
        this.txAcks = [];
        M.writeTxRollbackOk(this.w, this.id);
        return;
      case 'channel.flow':
        if (!m.active) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'active=false', m.classId, m.methodId, true);
        M.writeChannelFlowOk(this.w, this.id, true);
        return;
      case 'channel.close': return this.onClose();
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

  /** The writer, marking the connection for a flush at the end of this turn. */
  private get w() {
    this.conn.markDirty();
    return this.conn.writer;
  }

  /** A queue name, or the channel's last declared queue for '' (RabbitMQ's shortcut). */
  private queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastDeclaredQueue === '') throw new AmqpError(ReplyCode.NOT_FOUND, 'no previously declared queue');
    return this.lastDeclaredQueue;
  }

  /** A queue this connection may use: 404 if missing, 405 if exclusive to another connection. */
  private queue(name: string) {
    return this.vhost.queueForRead(this.queueName(name), this.conn.id, this.access);
  }

  private onQueueDeclare(m: M.QueueDeclare): void {
    if (m.queue === REPLY_TO_QUEUE && m.passive) {
      // RabbitMQ answers a passive declare of the pseudo-queue with one consumer, always.
      if (!m.noWait) M.writeQueueDeclareOk(this.w, this.id, REPLY_TO_QUEUE, 0, 1);
      return;
    }
    const q = this.vhost.declareQueue({
      name: m.queue, passive: m.passive, durable: m.durable, exclusive: m.exclusive,
      autoDelete: m.autoDelete, args: m.arguments, connectionId: this.conn.id,
    }, this.access);
    this.lastDeclaredQueue = q.name;
    this.replyWhenSaved(m.noWait, () => M.writeQueueDeclareOk(this.conn.writer, this.id, q.name, q.messageCount, q.consumerCount));
  }

  private onConsume(m: M.BasicConsume): void {
    const d = this.deliveries;
    if (m.queue === REPLY_TO_QUEUE) {
      const tag = d.consumeReplies(m.consumerTag, m.noAck);
      if (!m.noWait) M.writeBasicConsumeOk(this.w, this.id, tag);
      return;
    }
    const q = this.queue(m.queue);
    const tag = d.consume(q, m.consumerTag, m.noAck, m.exclusive, m.arguments);
    if (!m.noWait) M.writeBasicConsumeOk(this.w, this.id, tag);
    q.dispatch();
  }

  private onSettle(tag: number, multiple: boolean, reject: boolean, requeue: boolean): void {
    if (this.txMode) {
      this.deliveries.checkTag(tag, multiple);
      this.txAcks.push({ tag, multiple, reject, requeue });
      return;
    }
    this.deliveries.settle(tag, multiple, reject, requeue);
  }

  // ------------------------------------------------------------------------------------------
  // Publishing

  private onPublish(m: M.BasicPublish): void {
    if (m.immediate) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'immediate=true', m.classId, m.methodId, true);
    // RabbitMQ checks the exchange when the method arrives (the content is then discarded).
    this.vhost.exchangeForPublish(m.exchange, m.routingKey, this.access);
    this.pubExchange = m.exchange;
    this.pubRoutingKey = m.routingKey;
    this.pubMandatory = m.mandatory;
  }

  /** The content of a basic.publish is complete: one Message, published now or at tx.commit. */
  private onContent(): void {
    const a = this.assembler;
    const peek = a.peek;
    // rabbit_channel:check_user_id_header and rabbit_basic:parse_expiration.
    checkPublishedProperties(peek.userId, peek.expiration, this.conn.user, this.isImpersonator);
    let msg = new Message(this.pubExchange, this.pubRoutingKey, a.properties, a.body, peek.deliveryMode, peek.priority,
      peek.expiration, peek.headersStart, peek.headersEnd, CONTENT_CODEC, this.conn.clock.now);
    a.take();
    if ((peek.flags & BasicFlag.replyTo) !== 0 && msg.properties.indexOf(REPLY_TO_BYTES) >= 0) msg = this.directReplyTo(msg);
    this.conn.onPublished();
    if (this.txMode) {
      this.txPublishes.push({ msg, mandatory: this.pubMandatory });
      return;
    }
    this.publishNow(msg, this.pubMandatory);
  }

  /** A request carrying reply_to=amq.rabbitmq.reply-to: point it at this channel's reply consumer. */
  private directReplyTo(msg: Message): Message {
    const props = decodeBasicProperties(msg.properties, 0, msg.properties.length);
    if (props.replyTo !== REPLY_TO_QUEUE) return msg;
    return msg.withChanges({ replyTo: REPLY_TO_PREFIX + this.deliveries.replyAddress() });
  }

  /**
   * Run the publish operation; mandatory returns precede the confirm, as in RabbitMQ. Returns the
   * store position the publish must wait for (tx.commit waits for the highest).
   */
  private publishNow(msg: Message, mandatory: boolean): number {
    const seq = this.confirmMode ? this.confirms.next() : 0;
    const x = this.vhost.exchanges.get(msg.exchange);
    const r = this.result;
    if (x === undefined) {
      // The exchange went away between publish and commit: unroutable.
      r.routed = r.refused = false;
      r.durableAt = NO_WAIT;
      r.message = msg;
    } else {
      this.vhost.publish(x, msg, r);
      if (r.pressure !== undefined) this.conn.flowFrom(r.pressure);
    }
    const st = this.stats;
    const vs = this.vhostStats;
    st.publish++;
    vs.publish++;
    if (!r.routed) {
      if (mandatory) {
        st.returnUnroutable++;
        vs.returnUnroutable++;
        if (r.returnText !== undefined) this.sendReturn(r.message ?? msg, r.returnCode, r.returnText);
        else this.sendReturn(r.message ?? msg, ReplyCode.NO_ROUTE, 'NO_ROUTE');
      } else {
        st.dropUnroutable++;
        vs.dropUnroutable++;
      }
      r.returnText = undefined;
    }
    r.message = undefined;
    if (seq !== 0) {
      this.globals.receivedConfirm++;
      // A persistent message in a durable queue (or a confirm queued behind one) is confirmed after the fsync.
      if (this.confirms.settle(seq, r.refused, r.durableAt)) this.conn.broker.whenDurable(this);
      else this.confirmsOwed();
    }
    return r.durableAt;
  }

  private sendReturn(msg: Message, code: number, text: string): void {
    const w = this.w;
    M.writeBasicReturn(w, this.id, code, text, msg.exchange, msg.routingKey);
    w.writeContent(this.id, CLASS_BASIC, msg.body.length, msg.properties, 0, msg.properties.length, msg.body);
  }

  // ------------------------------------------------------------------------------------------
  // Confirms and transactions

  /** Confirms are owed: the connection writes them (coalesced) just before its flush. */
  private confirmsOwed(): void {
    this.conn.markDirty();
    this.conn.needsConfirmFlush(this);
  }

  /** Called by the connection just before it flushes (and before any close): write owed confirms. */
  flushConfirms(): void {
    this.confirms.flush(this.confirmWriter);
  }

  /** The broker made every store write up to `position` durable (or failed to). */
  onDurable(position: number, err: Error | null): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.confirms.durable(position, err !== null);
    if (this.confirms.owed) this.confirmsOwed();
    if (this.state === 'draining' && this.confirms.waiting === 0) this.finishClose();
    if (this.txCommitAt !== 0 && (err !== null || position >= this.txCommitAt)) {
      this.txCommitAt = 0;
      this.resumeAfter(err === null ? null
        : new AmqpError(ReplyCode.INTERNAL_ERROR, `tx.commit could not be made durable: ${err.message}`, CLASS_TX, TX_COMMIT),
      () => M.writeTxCommitOk(this.conn.writer, this.id));
    }
  }

  private onTxCommit(): void {
    if (!this.txMode) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'channel is not transactional', CLASS_TX, TX_COMMIT);
    const publishes = this.txPublishes;
    const acks = this.txAcks;
    this.txPublishes = [];
    this.txAcks = [];
    let durableAt = NO_WAIT;
    for (const p of publishes) durableAt = Math.max(durableAt, this.publishNow(p.msg, p.mandatory));
    for (const a of acks) this.deliveries.settle(a.tag, a.multiple, a.reject, a.requeue);
    if (durableAt !== NO_WAIT) {
      // tx.commit is durable when it returns: answer after the fsync, and (as RabbitMQ's channel,
      // busy with the commit) handle the channel's next frames only after commit-ok.
      this.txCommitAt = durableAt;
      this.held.active = true;
      this.conn.broker.whenDurable(this);
      return;
    }
    M.writeTxCommitOk(this.w, this.id);
  }

  // ------------------------------------------------------------------------------------------
  // Durable definitions: declare-ok, bind-ok, delete-ok... are sent once the change is on disk
  // (as RabbitMQ commits before replying), holding the channel's later frames meanwhile.

  private replyWhenSaved(noWait: boolean, write: () => void): void {
    const p = this.conn.persistence;
    if (p === undefined || !p.definitionsPending) {
      if (!noWait) {
        write();
        this.conn.markDirty();
      }
      return;
    }
    if (noWait) return;
    this.held.active = true;
    p.afterDefinitionsSaved((err) => this.resumeAfter(err === null ? null
      : new AmqpError(ReplyCode.INTERNAL_ERROR, `could not save definitions: ${err.message}`, 0, 0, true), write));
  }

  /**
   * What the channel waited for (a definitions save, a tx.commit's fsync) is done: write the reply
   * (or fail with `err`), then replay the frames held meanwhile, in order.
   */
  private resumeAfter(err: AmqpError | null, write: () => void): void {
    this.held.active = false;
    if (this.state === 'closed') return this.releaseHeld();
    try {
      if (err !== null) {
        this.conn.fail(this.id, err);
        return this.releaseHeld();
      }
      if (this.state === 'open') {
        write();
        this.conn.markDirty();
      }
      const held = this.held;
      // Each replayed frame goes through the connection (its errors become closes there); one that
      // holds the channel again leaves the rest held, in place.
      while (!held.active && held.pending > 0 && !this.conn.isClosed) {
        const type = held.shift();
        this.conn.onFrame(type, this.id, held.payload, 0, held.payload.length);
      }
      if (!held.active) this.releaseHeld();
    } catch (e: unknown) {
      // Never leave the save loop or the channel stuck behind a failed reply.
      this.releaseHeld();
      this.conn.fail(this.id, e);
    }
  }

  private releaseHeld(): void {
    this.held.clear();
    if (this.holdingReads) {
      this.holdingReads = false;
      this.conn.releaseReading();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Timeouts and teardown

  /**
   * RabbitMQ's consumer acknowledgement timeout: a delivery unacked for longer than `timeoutMs`
   * closes the channel with 406.
   */
  checkAckTimeout(now: number, timeoutMs: number): void {
    if (this.state !== 'open') return;
    const oldest = this.deliveries.oldestDeliveredAt();
    if (oldest === undefined || now - oldest <= timeoutMs) return;
    this.conn.fail(this.id, new AmqpError(ReplyCode.PRECONDITION_FAILED,
      `delivery acknowledgement on channel ${this.id} timed out. Timeout value used: ${timeoutMs} ms. ` +
      'This timeout value can be configured, see consumers doc guide to learn more', 0, 0));
  }

  /**
   * The client's channel.close: release consumers and unacked deliveries now; answer close-ok once
   * every confirm owed is written, never before, nothing after.
   */
  private onClose(): void {
    // Not open any more: requeued deliveries must not come back to this channel.
    this.state = 'draining';
    this.stopWork();
    if (this.confirms.waiting === 0) this.finishClose();
  }

  private finishClose(): void {
    this.flushConfirms();
    this.state = 'closed';
    this.releaseHeld();
    this.conn.channelClosedByClient(this);
  }

  private stopWork(): void {
    this.assembler.reset();
    this.txPublishes = [];
    this.txAcks = [];
    this.deliveries.release();
  }

  /** Release everything: requeue unacked in order, cancel consumers, forget owed confirms. Idempotent. */
  release(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopWork();
    this.confirms.clear();
    this.releaseHeld();
  }

  /**
   * The server closes this channel (a soft error): confirms already owed go out first, then the
   * caller writes channel.close; until close-ok only close frames are read.
   */
  beginClose(): void {
    this.flushConfirms();
    this.release();
    this.state = 'closing';
  }
}

const REPLY_TO_BYTES = Buffer.from(REPLY_TO_QUEUE);

