/**
 * Client bookkeeping for the integration suites: opens amqplib and @cloudamqp/amqp-client
 * connections, records every error a connection or channel emits (amqplib throws on an 'error'
 * event without a listener), and closes everything in `closeAll()` so no test leaks a connection.
 * Invariant: every connection opened through a Clients instance is closed by its closeAll().
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { EventEmitter } from 'node:events';
import { waitFor } from '../../helpers/broker.js';

/** The shape amqplib gives server-sent closes: reply code plus the class/method that caused it. */
export interface AmqpErr extends Error {
  code?: number;
  classId?: number;
  methodId?: number;
}

interface Tracked {
  errors: AmqpErr[];
  closed: boolean;
  closeErr: AmqpErr | undefined;
}

const state = new WeakMap<EventEmitter, Tracked>();

function track(e: EventEmitter): Tracked {
  let t = state.get(e);
  if (t === undefined) {
    const nt: Tracked = { errors: [], closed: false, closeErr: undefined };
    t = nt;
    state.set(e, nt);
    e.on('error', (err: AmqpErr) => { nt.errors.push(err); });
    e.on('close', (err?: AmqpErr) => {
      nt.closed = true;
      if (err !== undefined) nt.closeErr = err;
    });
  }
  return t;
}

/** Errors an amqplib connection or channel has emitted so far. */
export function errorsOf(e: EventEmitter): AmqpErr[] {
  return track(e).errors;
}

/** Wait until the amqplib channel or connection has closed; returns the error that closed it, if any. */
export async function closedWith(e: EventEmitter, timeoutMs = 5000): Promise<AmqpErr | undefined> {
  const t = track(e);
  await waitFor(() => t.closed, timeoutMs);
  return t.errors[0] ?? t.closeErr;
}

export function isClosed(e: EventEmitter): boolean {
  return track(e).closed;
}

/** Await an operation that must fail with the given AMQP reply code; returns the error. */
export async function expectCode(p: Promise<unknown>, code: number): Promise<AmqpErr> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected a ${code} error, but the operation succeeded`);
  const ae = err as AmqpErr;
  if (ae.code !== code) throw new Error(`expected reply code ${code}, got ${String(ae.code)}: ${ae.message}`);
  return ae;
}

export class Clients {
  private readonly models = new Set<ChannelModel>();
  private readonly cloud = new Set<AMQPClient>();

  constructor(private readonly url: () => string) {}

  /** amqplib connection to the broker under test (optionally with extra URL query, e.g. "heartbeat=1"). */
  async connect(query = '', socketOptions: Record<string, unknown> = {}): Promise<ChannelModel> {
    const base = this.url();
    const url = query === '' ? base : `${base}${base.includes('?') ? '&' : '?'}${query}`;
    const c = await amqp.connect(url, socketOptions);
    this.adopt(c);
    return c;
  }

  /** amqplib connection from an options object (to pick vhost, credentials, frameMax...). */
  async connectWith(opts: Options.Connect, socketOptions: Record<string, unknown> = {}): Promise<ChannelModel> {
    const u = new URL(this.url());
    const c = await amqp.connect({
      protocol: 'amqp',
      hostname: u.hostname,
      port: Number(u.port),
      username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      ...opts,
    }, socketOptions);
    this.adopt(c);
    return c;
  }

  adopt(c: ChannelModel): void {
    track(c);
    this.models.add(c);
    c.on('close', () => this.models.delete(c));
  }

  async channel(conn?: ChannelModel): Promise<Channel> {
    const c = conn ?? (await this.connect());
    const ch = await c.createChannel();
    track(ch);
    return ch;
  }

  async confirmChannel(conn?: ChannelModel): Promise<ConfirmChannel> {
    const c = conn ?? (await this.connect());
    const ch = await c.createConfirmChannel();
    track(ch);
    return ch;
  }

  /** @cloudamqp/amqp-client connection. */
  async cloudamqp(vhostPath = ''): Promise<AMQPClient> {
    const client = new AMQPClient(this.url() + vhostPath, undefined, null);
    await client.connect();
    this.cloud.add(client);
    return client;
  }

  async closeAll(): Promise<void> {
    const models = [...this.models];
    this.models.clear();
    await Promise.all(models.map(async (m) => {
      try {
        await m.close();
      } catch {
        // already closed by the server
      }
    }));
    const cloud = [...this.cloud];
    this.cloud.clear();
    await Promise.all(cloud.map(async (c) => {
      if (c.closed) return;
      try {
        await c.close();
      } catch {
        // already closed
      }
    }));
  }
}

/** Collects messages from an amqplib consumer callback, for waitFor-style assertions. */
export class Inbox {
  readonly messages: ConsumeMessage[] = [];
  cancelled = false;
  readonly handler = (m: ConsumeMessage | null): void => {
    if (m === null) this.cancelled = true;
    else this.messages.push(m);
  };

  bodies(): string[] {
    return this.messages.map((m) => m.content.toString());
  }

  async count(n: number, timeoutMs = 5000): Promise<ConsumeMessage[]> {
    await waitFor(() => this.messages.length >= n, timeoutMs);
    return this.messages;
  }
}

/** Publish `bodies` to the queue and wait until they are all enqueued (confirms make publish synchronous). */
export async function fill(clients: Clients, queue: string, bodies: readonly string[], conn?: ChannelModel): Promise<void> {
  const ch = await clients.confirmChannel(conn);
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b));
  await ch.waitForConfirms();
  await ch.close();
}

/** Poll until a queue reports `n` ready messages. */
export async function waitForMessageCount(ch: Channel, queue: string, n: number): Promise<void> {
  await waitFor(async () => (await ch.checkQueue(queue)).messageCount === n);
}

/** Sleep-free "let the broker process what was sent": a round trip on the channel. */
export async function roundTrip(ch: Channel): Promise<void> {
  await ch.checkExchange('amq.direct');
}
