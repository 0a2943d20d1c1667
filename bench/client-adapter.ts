/**
 * A thin client seam for the load generator: the same hot publish/consume loops drive either amqplib
 * or @cloudamqp/amqp-client, so the harness can measure which stock client is faster and use it.
 * Invariants: `publish` copies the body synchronously (callers may reuse small body buffers) and
 * returns false when the socket is above its high-water mark (the caller must wait for `onDrain`);
 * `onMessage` bodies are only valid during the callback.
 */
import amqplib from 'amqplib';
import type { Channel, ConfirmChannel, ChannelModel, ConsumeMessage, Message, Options } from 'amqplib';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { AMQPChannel, AMQPMessage, AMQPProperties } from '@cloudamqp/amqp-client';

export type ClientKind = 'amqplib' | 'cloudamqp';

export type HeaderTable = Record<string, string | number | boolean>;

export interface BenchChannel {
  /** Publishes one message; false means "stop until onDrain fires". */
  publish(exchange: string, routingKey: string, body: Buffer, persistent: boolean, headers: HeaderTable | undefined): boolean;
  onDrain(cb: () => void): void;
  /** Counts broker confirms (acks and nacks, expanded for `multiple`). Only after confirmSelect. */
  onConfirm(cb: (count: number, nacked: boolean) => void): void;
  consume(queue: string, noAck: boolean, onMessage: (body: Uint8Array, deliveryTag: number) => void): Promise<void>;
  ack(deliveryTag: number, multiple: boolean): void;
  prefetch(count: number): Promise<void>;
  /** Marks the start/end of a burst of publishes (lets a client cork its socket). */
  cork(): void;
  uncork(): void;
  /** Admin operations for the declare/delete churn scenario (transient, non-exclusive queue). */
  declareQueue(name: string): Promise<void>;
  deleteQueue(name: string): Promise<void>;
}

export interface BenchConnection {
  openChannel(confirm: boolean): Promise<BenchChannel>;
  close(): Promise<void>;
}

export function connect(kind: ClientKind, url: string): Promise<BenchConnection> {
  return kind === 'amqplib' ? AmqplibConnection.open(url) : CloudConnection.open(url);
}

function noop(): void {}

class AmqplibConnection implements BenchConnection {
  private constructor(private readonly model: ChannelModel) {
    // A broker-side close must not crash a worker; the scenario notices via missing progress.
    model.on('error', noop);
  }

  static async open(url: string): Promise<BenchConnection> {
    return new AmqplibConnection(await amqplib.connect(url, { noDelay: true }));
  }

  async openChannel(confirm: boolean): Promise<BenchChannel> {
    const ch = confirm ? await this.model.createConfirmChannel() : await this.model.createChannel();
    ch.on('error', noop);
    return new AmqplibChannel(ch, confirm);
  }

  async close(): Promise<void> {
    try { await this.model.close(); } catch { /* already closed */ }
  }
}

const PERSISTENT: Options.Publish = { persistent: true };
const TRANSIENT: Options.Publish = {};

class AmqplibChannel implements BenchChannel {
  private confirmCb: (count: number, nacked: boolean) => void = noop;
  /** One shared callback per channel (no closure per message): amqplib calls it once per confirmed publish. */
  private readonly confirmed = (err: unknown): void => { this.confirmCb(1, err !== null && err !== undefined); };
  private readonly ackMsg = { fields: { deliveryTag: 0 } };

  constructor(private readonly ch: Channel | ConfirmChannel, private readonly confirm: boolean) {}

  publish(exchange: string, routingKey: string, body: Buffer, persistent: boolean, headers: HeaderTable | undefined): boolean {
    const opts = headers === undefined ? (persistent ? PERSISTENT : TRANSIENT) : { persistent, headers };
    if (this.confirm) return (this.ch as ConfirmChannel).publish(exchange, routingKey, body, opts, this.confirmed);
    return this.ch.publish(exchange, routingKey, body, opts);
  }

  onDrain(cb: () => void): void { this.ch.once('drain', cb); }
  onConfirm(cb: (count: number, nacked: boolean) => void): void { this.confirmCb = cb; }

  async consume(queue: string, noAck: boolean, onMessage: (body: Uint8Array, deliveryTag: number) => void): Promise<void> {
    await this.ch.consume(queue, (msg: ConsumeMessage | null) => {
      if (msg !== null) onMessage(msg.content, msg.fields.deliveryTag);
    }, { noAck });
  }

  ack(deliveryTag: number, multiple: boolean): void {
    // amqplib only reads message.fields.deliveryTag; reuse one object instead of keeping messages.
    this.ackMsg.fields.deliveryTag = deliveryTag;
    this.ch.ack(this.ackMsg as unknown as Message, multiple);
  }

  async prefetch(count: number): Promise<void> { await this.ch.prefetch(count); }
  cork(): void {}
  uncork(): void {}
  async declareQueue(name: string): Promise<void> { await this.ch.assertQueue(name, { durable: false }); }
  async deleteQueue(name: string): Promise<void> { await this.ch.deleteQueue(name); }
}

class CloudConnection implements BenchConnection {
  private constructor(private readonly client: AMQPClient) {}

  static async open(url: string): Promise<BenchConnection> {
    const client = new AMQPClient(url, undefined, null);
    await client.connect();
    client.socket?.setNoDelay(true);
    return new CloudConnection(client);
  }

  async openChannel(confirm: boolean): Promise<BenchChannel> {
    const ch = await this.client.channel();
    if (confirm) await ch.confirmSelect();
    return new CloudChannel(this.client, ch, confirm);
  }

  async close(): Promise<void> {
    try { await this.client.close(); } catch { /* already closed */ }
  }
}

class CloudChannel implements BenchChannel {
  private confirmCb: (count: number, nacked: boolean) => void = noop;
  private readonly confirmed = (): void => { this.confirmCb(1, false); };
  private readonly nacked = (): void => { this.confirmCb(1, true); };
  private static readonly persistentProps: AMQPProperties = { deliveryMode: 2 };
  private static readonly transientProps: AMQPProperties = {};

  constructor(private readonly client: AMQPClient, private readonly ch: AMQPChannel, private readonly confirm: boolean) {}

  publish(exchange: string, routingKey: string, body: Buffer, persistent: boolean, headers: HeaderTable | undefined): boolean {
    const props = headers === undefined
      ? (persistent ? CloudChannel.persistentProps : CloudChannel.transientProps)
      : { deliveryMode: persistent ? 2 : 1, headers };
    // basicPublish encodes synchronously and resolves on confirm (confirm mode) or on socket write.
    const p = this.ch.basicPublish(exchange, routingKey, body, props);
    if (this.confirm) p.then(this.confirmed, this.nacked);
    else p.catch(noop);
    return this.client.socket?.writableNeedDrain !== true;
  }

  onDrain(cb: () => void): void {
    const s = this.client.socket;
    if (s === undefined) return;
    s.once('drain', cb);
  }

  onConfirm(cb: (count: number, nacked: boolean) => void): void { this.confirmCb = cb; }

  async consume(queue: string, noAck: boolean, onMessage: (body: Uint8Array, deliveryTag: number) => void): Promise<void> {
    await this.ch.basicConsume(queue, { noAck }, (msg: AMQPMessage) => {
      onMessage(msg.body ?? EMPTY, msg.deliveryTag);
    });
  }

  private acksCorked = false;
  private readonly uncorkAcks = (): void => { this.acksCorked = false; this.client.socket?.uncork(); };

  ack(deliveryTag: number, multiple: boolean): void {
    // The client writes every ack to the socket at once (a syscall each); cork until the current
    // read's deliveries are all handled so the acks of one read leave in one write.
    if (!this.acksCorked) {
      this.acksCorked = true;
      this.client.socket?.cork();
      process.nextTick(this.uncorkAcks);
    }
    this.ch.basicAck(deliveryTag, multiple).catch(noop);
  }

  async prefetch(count: number): Promise<void> { await this.ch.basicQos(count); }
  cork(): void { this.client.socket?.cork(); }
  uncork(): void { this.client.socket?.uncork(); }
  async declareQueue(name: string): Promise<void> { await this.ch.queueDeclare(name, { durable: false }); }
  async deleteQueue(name: string): Promise<void> { await this.ch.queueDelete(name); }
}

const EMPTY = new Uint8Array(0);
