/**
 * One channel of an outbound link connection (amqp-client.ts): synchronous requests (declare,
 * bind, qos, consume, ...) answered in order, deliveries to consumers, publishing with publisher
 * confirms, acks/nacks to the peer, and the channel's close.
 *
 * Invariants:
 * - Requests may be pipelined: the peer answers a channel's synchronous methods in the order they
 *   were sent (AMQP 0-9-1 §4.2.2, RabbitMQ processes a channel's methods in order), so replies are
 *   matched to a FIFO of pending requests.
 * - A delivery's `properties` are the raw property bytes (flags + list) as the peer sent them and
 *   `body` is an owned buffer: forwarding them to another broker copies nothing and changes no byte;
 *   `decodeDeliveryProperties` decodes them when a link needs to look inside (headers).
 * - Confirms (after confirmSelect): every publish gets the next sequence number (1, 2, ...); each is
 *   settled exactly once, by the peer's basic.ack/basic.nack (`multiple` settles everything up to
 *   the tag) or, when the channel or connection dies first, as not confirmed (`ok` false).
 * - When the channel ends (the peer's channel.close with its code and text, our close, or the
 *   connection's end) every pending request is rejected with that ClientError, `closed` resolves
 *   with it and `onClose` is called once. An exception in a consumer callback closes the channel
 *   and is reported the same way; it never reaches the socket's event handlers.
 */
import type { FieldTable } from '../core/field-value.js';
import { EMPTY_TABLE } from '../core/field-value.js';
import { ASSEMBLING, CommandAssembler, CONTENT, METHOD } from '../protocol/command-assembler.js';
import type { FrameWriter } from '../protocol/frame-writer.js';
import { CLASS_BASIC } from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import { decodeBasicProperties, encodeBasicProperties, type BasicProperties } from '../protocol/generated/properties.js';
import type { ClientConnection } from './amqp-client.js';
import { asClientError, ClientError } from './client-error.js';

/** A message received by basic.deliver or basic.get-ok. */
export interface Delivery {
  readonly consumerTag: string;
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routingKey: string;
  /** Raw basic properties (flags + list), ready to be published again unchanged. */
  readonly properties: Buffer;
  readonly body: Buffer;
  /** basic.get-ok only: messages left in the queue. */
  readonly messageCount: number;
}

/** A message the peer returned (mandatory publish that could not be routed). */
export interface Returned {
  readonly replyCode: number;
  readonly replyText: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Buffer;
  readonly body: Buffer;
}

export interface QueueDeclareOptions {
  passive?: boolean;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  arguments?: FieldTable;
}

export interface ExchangeDeclareOptions {
  passive?: boolean;
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  arguments?: FieldTable;
}

export interface ConsumeOptions {
  consumerTag?: string;
  noAck?: boolean;
  exclusive?: boolean;
  arguments?: FieldTable;
  /** The peer cancelled the consumer (queue deleted...: consumer_cancel_notify). */
  onCancel?: () => void;
}

export interface QueueDeclared {
  readonly queue: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}

/** Decode a delivery's raw properties (allocates: for links that look inside). */
export function decodeDeliveryProperties(properties: Buffer): BasicProperties {
  return decodeBasicProperties(properties, 0, properties.length);
}

interface Pending {
  readonly expect: string;
  readonly resolve: (m: M.Method, d?: Delivery) => void;
  readonly reject: (e: ClientError) => void;
}

interface ConsumerEntry {
  readonly onDelivery: (d: Delivery) => void;
  readonly onCancel: (() => void) | undefined;
}

interface ConfirmWaiter {
  readonly upTo: number;
  ok: boolean;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (e: ClientError) => void;
}

const MAX_BODY = 536_870_912;
const EMPTY = Buffer.alloc(0);

export class ClientChannel {
  readonly closed: Promise<ClientError>;
  onClose: ((reason: ClientError) => void) | undefined;
  onReturn: ((r: Returned) => void) | undefined;
  /** Every confirm as it arrives (after the per-publish callbacks ran). */
  onConfirm: ((deliveryTag: number, multiple: boolean, ack: boolean) => void) | undefined;

  private state: 'opening' | 'open' | 'closing' | 'closed' = 'opening';
  private readonly pending: Pending[] = [];
  private readonly consumers = new Map<string, ConsumerEntry>();
  private readonly assembler = new CommandAssembler(MAX_BODY);
  private confirming = false;
  private nextSeq = 1;
  /** Unsettled publish sequence numbers (insertion order = sequence order) -> their callbacks. */
  private readonly unconfirmed = new Map<number, ((ok: boolean) => void) | null>();
  private waiters: ConfirmWaiter[] = [];
  private resolveClosed!: (e: ClientError) => void;
  private reason: ClientError | undefined;

  constructor(private readonly conn: ClientConnection, readonly id: number, private readonly w: FrameWriter) {
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Publishes not yet confirmed. */
  get unconfirmedCount(): number {
    return this.unconfirmed.size;
  }

  /** The socket can take more (see ClientConnection.writable). */
  get writable(): boolean {
    return this.conn.writable;
  }

  async open(): Promise<void> {
    await this.request('channel.open-ok', () => M.writeChannelOpen(this.w, this.id), true);
    this.state = 'open';
  }

  async declareQueue(queue: string, o: QueueDeclareOptions = {}): Promise<QueueDeclared> {
    const m = await this.request('queue.declare-ok', () => M.writeQueueDeclare(this.w, this.id, queue, o.passive === true,
      o.durable === true, o.exclusive === true, o.autoDelete === true, false, o.arguments ?? EMPTY_TABLE)) as M.QueueDeclareOk;
    return { queue: m.queue, messageCount: m.messageCount, consumerCount: m.consumerCount };
  }

  /** queue.declare passive: 404 (channel closed) when the queue does not exist. */
  checkQueue(queue: string): Promise<QueueDeclared> {
    return this.declareQueue(queue, { passive: true });
  }

  async deleteQueue(queue: string, o: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    const m = await this.request('queue.delete-ok', () => M.writeQueueDelete(this.w, this.id, queue, o.ifUnused === true,
      o.ifEmpty === true, false)) as M.QueueDeleteOk;
    return m.messageCount;
  }

  async purgeQueue(queue: string): Promise<number> {
    const m = await this.request('queue.purge-ok', () => M.writeQueuePurge(this.w, this.id, queue, false)) as M.QueuePurgeOk;
    return m.messageCount;
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable = EMPTY_TABLE): Promise<void> {
    await this.request('queue.bind-ok', () => M.writeQueueBind(this.w, this.id, queue, exchange, routingKey, false, args));
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable = EMPTY_TABLE): Promise<void> {
    await this.request('queue.unbind-ok', () => M.writeQueueUnbind(this.w, this.id, queue, exchange, routingKey, args));
  }

  async declareExchange(exchange: string, type: string, o: ExchangeDeclareOptions = {}): Promise<void> {
    await this.request('exchange.declare-ok', () => M.writeExchangeDeclare(this.w, this.id, exchange, type, o.passive === true,
      o.durable === true, o.autoDelete === true, o.internal === true, false, o.arguments ?? EMPTY_TABLE));
  }

  /** exchange.declare passive: 404 (channel closed) when the exchange does not exist. */
  checkExchange(exchange: string): Promise<void> {
    return this.declareExchange(exchange, 'direct', { passive: true });
  }

  async deleteExchange(exchange: string, o: { ifUnused?: boolean } = {}): Promise<void> {
    await this.request('exchange.delete-ok', () => M.writeExchangeDelete(this.w, this.id, exchange, o.ifUnused === true, false));
  }

  async bindExchange(destination: string, source: string, routingKey: string, args: FieldTable = EMPTY_TABLE): Promise<void> {
    await this.request('exchange.bind-ok', () => M.writeExchangeBind(this.w, this.id, destination, source, routingKey, false, args));
  }

  async unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable = EMPTY_TABLE): Promise<void> {
    await this.request('exchange.unbind-ok', () => M.writeExchangeUnbind(this.w, this.id, destination, source, routingKey, false, args));
  }

  /** basic.qos: prefetch count per consumer (global false) or per channel (global true). */
  async qos(prefetchCount: number, global = false, prefetchSize = 0): Promise<void> {
    await this.request('basic.qos-ok', () => M.writeBasicQos(this.w, this.id, prefetchSize, prefetchCount, global));
  }

  /** basic.consume; resolves with the consumer tag once consume-ok arrived. */
  async consume(queue: string, onDelivery: (d: Delivery) => void, o: ConsumeOptions = {}): Promise<string> {
    const tag = o.consumerTag ?? '';
    const entry: ConsumerEntry = { onDelivery, onCancel: o.onCancel };
    // Registered before consume-ok under the requested tag: deliveries may follow consume-ok at once.
    if (tag !== '') this.consumers.set(tag, entry);
    // The server's tag is registered when consume-ok is read, in the same turn: deliveries that
    // follow it in the same socket chunk must find their consumer.
    const m = await this.request('basic.consume-ok', () => M.writeBasicConsume(this.w, this.id, queue, tag, false,
      o.noAck === true, o.exclusive === true, false, o.arguments ?? EMPTY_TABLE), false,
    (r) => this.consumers.set((r as M.BasicConsumeOk).consumerTag, entry)) as M.BasicConsumeOk;
    return m.consumerTag;
  }

  async cancel(consumerTag: string): Promise<void> {
    await this.request('basic.cancel-ok', () => M.writeBasicCancel(this.w, this.id, consumerTag, false));
    this.consumers.delete(consumerTag);
  }

  /** basic.get: a message, or undefined when the queue is empty. */
  get(queue: string, noAck = false): Promise<Delivery | undefined> {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open') {
        reject(this.notOpen());
        return;
      }
      M.writeBasicGet(this.w, this.id, queue, noAck);
      this.conn.scheduleFlush();
      this.pending.push({
        expect: 'basic.get',
        resolve: (_m, d) => resolve(d),
        reject,
      });
    });
  }

  ack(deliveryTag: number, multiple = false): void {
    if (this.state !== 'open') return;
    M.writeBasicAck(this.w, this.id, deliveryTag, multiple);
    this.conn.scheduleFlush();
  }

  nack(deliveryTag: number, multiple = false, requeue = true): void {
    if (this.state !== 'open') return;
    M.writeBasicNack(this.w, this.id, deliveryTag, multiple, requeue);
    this.conn.scheduleFlush();
  }

  reject(deliveryTag: number, requeue = true): void {
    if (this.state !== 'open') return;
    M.writeBasicReject(this.w, this.id, deliveryTag, requeue);
    this.conn.scheduleFlush();
  }

  /** confirm.select: from now on every publish is confirmed by the peer. */
  async confirmSelect(): Promise<void> {
    await this.request('confirm.select-ok', () => M.writeConfirmSelect(this.w, this.id, false));
    this.confirming = true;
  }

  /**
   * basic.publish. Returns the publish's sequence number in confirm mode (0 otherwise);
   * `onConfirm(ok)` runs once when the peer acks (true) or nacks it, or the channel dies (false).
   * Throws a ClientError when the channel is not open.
   */
  publish(exchange: string, routingKey: string, body: Buffer, properties: BasicProperties | Buffer = EMPTY,
    o: { mandatory?: boolean } = {}, onConfirm?: (ok: boolean) => void): number {
    if (this.state !== 'open') throw this.notOpen();
    const props = Buffer.isBuffer(properties) ? (properties.length === 0 ? NO_PROPERTIES : properties) : encodeBasicProperties(properties);
    M.writeBasicPublish(this.w, this.id, exchange, routingKey, o.mandatory === true, false);
    this.w.writeContent(this.id, CLASS_BASIC, body.length, props, 0, props.length, body);
    this.conn.scheduleFlush();
    if (!this.confirming) {
      return 0;
    }
    const seq = this.nextSeq++;
    this.unconfirmed.set(seq, onConfirm ?? null);
    return seq;
  }

  /** Resolves when every publish made so far is settled: true if all were acked. */
  waitForConfirms(): Promise<boolean> {
    const upTo = this.nextSeq - 1;
    if (this.unconfirmedUpTo(upTo) === 0) return Promise.resolve(true);
    if (this.state === 'closed') return Promise.reject(this.reason!);
    return new Promise((resolve, reject) => this.waiters.push({ upTo, ok: true, resolve, reject }));
  }

  /** channel.close(200) and wait for close-ok. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') {
      await this.closed;
      return;
    }
    this.state = 'closing';
    M.writeChannelClose(this.w, this.id, 200, 'Goodbye', 0, 0);
    this.conn.scheduleFlush();
    await this.closed;
  }

  // ---- inbound (from the connection) ---------------------------------------------------------

  onFrame(type: number, payload: Buffer, start: number, end: number): void {
    const r = this.assembler.push(type, payload, start, end);
    if (r === ASSEMBLING) return;
    const m = this.assembler.method!;
    if (r === METHOD) {
      this.onMethod(m);
    } else if (r === CONTENT) {
      const properties = this.assembler.properties;
      const body = this.assembler.body;
      this.assembler.take();
      this.onContent(m, properties, body);
    }
  }

  /** The connection ended: this channel ends with it. */
  connectionClosed(reason: ClientError): void {
    this.finish(new ClientError(reason.message, 'channel', reason.code, reason.classId, reason.methodId, reason.errno));
  }

  private onMethod(m: M.Method): void {
    switch (m.kind) {
      case 'channel.close': {
        M.writeChannelCloseOk(this.w, this.id);
        this.conn.scheduleFlush();
        this.finish(new ClientError(m.replyText, 'channel', m.replyCode, m.classId, m.methodId));
        return;
      }
      case 'channel.close-ok':
        this.finish(this.reason ?? new ClientError('channel closed by the application', 'channel', 200));
        return;
      case 'channel.flow':
        M.writeChannelFlowOk(this.w, this.id, m.active);
        this.conn.scheduleFlush();
        return;
      case 'basic.ack':
      case 'basic.nack':
        this.settle(m.deliveryTag, m.multiple, m.kind === 'basic.ack');
        return;
      case 'basic.cancel': {
        const c = this.consumers.get(m.consumerTag);
        this.consumers.delete(m.consumerTag);
        if (!m.noWait) {
          M.writeBasicCancelOk(this.w, this.id, m.consumerTag);
          this.conn.scheduleFlush();
        }
        this.guard(() => c?.onCancel?.());
        return;
      }
      default:
        this.reply(m);
    }
  }

  private onContent(m: M.Method, properties: Buffer, body: Buffer): void {
    if (m.kind === 'basic.deliver') {
      const c = this.consumers.get(m.consumerTag);
      if (c === undefined || this.state === 'closed') return;
      const d: Delivery = {
        consumerTag: m.consumerTag, deliveryTag: m.deliveryTag, redelivered: m.redelivered,
        exchange: m.exchange, routingKey: m.routingKey, properties, body, messageCount: 0,
      };
      this.guard(() => c.onDelivery(d));
    } else if (m.kind === 'basic.get-ok') {
      const d: Delivery = {
        consumerTag: '', deliveryTag: m.deliveryTag, redelivered: m.redelivered,
        exchange: m.exchange, routingKey: m.routingKey, properties, body, messageCount: m.messageCount,
      };
      const head = this.pending.shift();
      head?.resolve(m, d);
    } else if (m.kind === 'basic.return') {
      const r: Returned = { replyCode: m.replyCode, replyText: m.replyText, exchange: m.exchange, routingKey: m.routingKey, properties, body };
      this.guard(() => this.onReturn?.(r));
    }
  }

  /** A synchronous reply: it answers the oldest pending request. */
  private reply(m: M.Method): void {
    const head = this.pending[0];
    if (head === undefined) return;
    const matches = head.expect === 'basic.get' ? m.kind === 'basic.get-empty' : m.kind === head.expect;
    if (!matches) {
      throw new ClientError(`unexpected ${m.kind} on channel ${this.id} (waiting for ${head.expect})`, 'connection', 505);
    }
    this.pending.shift();
    head.resolve(m);
  }

  private settle(tag: number, multiple: boolean, ack: boolean): void {
    if (multiple) {
      for (const [seq, cb] of this.unconfirmed) {
        if (seq > tag) break;
        this.unconfirmed.delete(seq);
        if (cb !== null) this.guard(() => cb(ack));
      }
    } else {
      const cb = this.unconfirmed.get(tag);
      this.unconfirmed.delete(tag);
      if (cb !== undefined && cb !== null) this.guard(() => cb(ack));
    }
    if (!ack) for (const w of this.waiters) if (w.upTo >= tag || multiple) w.ok = false;
    this.onConfirm?.(tag, multiple, ack);
    if (this.waiters.length > 0) {
      const still: ConfirmWaiter[] = [];
      for (const w of this.waiters) {
        if (this.unconfirmedUpTo(w.upTo) === 0) w.resolve(w.ok);
        else still.push(w);
      }
      this.waiters = still;
    }
  }

  private unconfirmedUpTo(upTo: number): number {
    for (const seq of this.unconfirmed.keys()) return seq <= upTo ? 1 : 0;
    return 0;
  }

  /** Send a synchronous method and wait for its reply (pipelined: see the header). */
  private request(expect: string, write: () => void, opening = false, onReply?: (m: M.Method) => void): Promise<M.Method> {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open' && !(opening && this.state === 'opening')) {
        reject(this.notOpen());
        return;
      }
      try {
        write();
      } catch (err) {
        reject(asClientError(err, 'channel'));
        return;
      }
      this.conn.scheduleFlush();
      this.pending.push({ expect, resolve: onReply === undefined ? resolve : (m) => { onReply(m); resolve(m); }, reject });
    });
  }

  /** Run application code; an exception closes the channel and is reported as its reason. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (err) {
      const e = asClientError(err, 'channel');
      const reason = new ClientError(`link callback failed: ${e.message}`, 'channel', 0);
      if (this.state === 'open') {
        this.state = 'closing';
        this.reason = reason;
        M.writeChannelClose(this.w, this.id, 200, 'Goodbye', 0, 0);
        this.conn.scheduleFlush();
      }
    }
  }

  private notOpen(): ClientError {
    return this.reason ?? new ClientError(`channel ${this.id} is not open`, 'channel');
  }

  private finish(reason: ClientError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.reason = reason;
    this.conn.releaseChannel(this.id);
    this.assembler.reset();
    const pending = this.pending.splice(0);
    for (const p of pending) p.reject(reason);
    const unconfirmed = [...this.unconfirmed.values()];
    this.unconfirmed.clear();
    for (const cb of unconfirmed) if (cb !== null) this.guardQuiet(() => cb(false));
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(reason);
    this.consumers.clear();
    this.resolveClosed(reason);
    this.guardQuiet(() => this.onClose?.(reason));
  }

  private guardQuiet(f: () => void): void {
    try {
      f();
    } catch {
      // The channel is already gone: nothing left to close.
    }
  }
}

/** Empty property list: flags word 0. */
const NO_PROPERTIES = Buffer.from([0, 0]);
