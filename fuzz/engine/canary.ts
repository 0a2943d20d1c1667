/**
 * The canary: a well-behaved client (amqplib) living through the whole campaign. One connection
 * publishes numbered persistent messages with publisher confirms to its own durable queue; another
 * consumes them with manual acks. It checks what a user of a shared broker cares about: never
 * disconnected, every publish confirmed (no nack), every confirmed message delivered exactly once
 * and in order (one queue, one consumer: RabbitMQ's ordering guarantee), nothing lost at the end.
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';

export interface CanaryReport {
  published: number;
  confirmed: number;
  consumed: number;
  maxConfirmMs: number;
  problems: string[];
}

export class Canary {
  private pubConn: ChannelModel | undefined;
  private subConn: ChannelModel | undefined;
  private pub: ConfirmChannel | undefined;
  private sub: Channel | undefined;
  private next = 0;
  private confirmed = 0;
  private expected = 0;
  private consumed = 0;
  private maxConfirmMs = 0;
  private readonly inFlight = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly problems: string[] = [];

  constructor(private readonly url: string, readonly queue: string, private readonly maxInFlight = 100) {}

  async start(): Promise<void> {
    this.pubConn = await amqp.connect(this.url);
    this.subConn = await amqp.connect(this.url);
    for (const [c, label] of [[this.pubConn, 'publisher'], [this.subConn, 'consumer']] as const) {
      c.on('error', (e: Error) => this.problem(`${label} connection error: ${e.message}`));
      c.on('close', () => { if (!this.stopping) this.problem(`${label} connection closed by the broker`); });
    }
    this.pub = await this.pubConn.createConfirmChannel();
    this.sub = await this.subConn.createChannel();
    for (const [c, label] of [[this.pub, 'publisher'], [this.sub, 'consumer']] as const) {
      c.on('error', (e: Error) => this.problem(`${label} channel error: ${e.message}`));
      c.on('close', () => { if (!this.stopping) this.problem(`${label} channel closed by the broker`); });
    }
    await this.sub.assertQueue(this.queue, { durable: true });
    await this.sub.prefetch(50);
    await this.sub.consume(this.queue, (m) => this.onMessage(m), { noAck: false });
    this.timer = setInterval(() => this.publishSome(), 10);
  }

  private problem(p: string): void {
    if (this.problems.length < 20) this.problems.push(p);
  }

  private publishSome(): void {
    const ch = this.pub;
    if (ch === undefined || this.stopping) return;
    for (let k = 0; k < 5 && this.inFlight.size < this.maxInFlight; k++) {
      const seq = this.next++;
      this.inFlight.set(seq, Date.now());
      ch.publish('', this.queue, Buffer.from(String(seq)), { persistent: true }, (err: unknown) => {
        const sentAt = this.inFlight.get(seq);
        this.inFlight.delete(seq);
        if (err !== null && err !== undefined) this.problem(`publish ${seq} nacked`);
        else this.confirmed++;
        if (sentAt !== undefined) this.maxConfirmMs = Math.max(this.maxConfirmMs, Date.now() - sentAt);
      });
    }
  }

  private onMessage(m: ConsumeMessage | null): void {
    if (m === null) {
      if (!this.stopping) this.problem('consumer cancelled by the broker');
      return;
    }
    const seq = Number(m.content.toString());
    if (seq < this.expected) this.problem(`duplicate delivery of ${seq} (expected ${this.expected}, redelivered=${m.fields.redelivered})`);
    else if (seq > this.expected) this.problem(`gap: got ${seq}, expected ${this.expected} (messages lost or reordered)`);
    else this.consumed++;
    this.expected = Math.max(this.expected, seq + 1);
    this.sub?.ack(m);
  }

  /** Stop publishing, wait for every confirm and delivery (up to `timeoutMs`), delete the queue, disconnect. */
  async stop(timeoutMs: number): Promise<CanaryReport> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (this.inFlight.size > 0 || this.consumed < this.confirmed)) await new Promise((r) => setTimeout(r, 50));
    if (this.inFlight.size > 0) this.problem(`${this.inFlight.size} publishes never confirmed`);
    if (this.consumed < this.confirmed) this.problem(`lost: ${this.confirmed - this.consumed} confirmed messages never delivered`);
    this.stopping = true;
    try {
      await this.sub?.deleteQueue(this.queue);
    } catch (e: unknown) {
      this.problem(`deleting the canary queue: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.pubConn?.close().catch(() => undefined);
    await this.subConn?.close().catch(() => undefined);
    return { published: this.next, confirmed: this.confirmed, consumed: this.consumed, maxConfirmMs: this.maxConfirmMs, problems: this.problems };
  }
}
