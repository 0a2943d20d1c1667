/**
 * amqplib plumbing for the durability suites: connections that survive the broker dying under them
 * (every connection and channel has 'error'/'close' listeners, so a kill -9 never becomes an
 * unhandled 'error' event), self-checking message bodies, confirmed publishing and reading a queue
 * to the end with basic.get.
 * Invariants: every connection opened through a Session is closed by its closeAll(); a body made by
 * makeBody(tag, seq, size) is fully determined by its arguments, so a delivered body either equals
 * it byte for byte (intact) or was invented/corrupted.
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, GetMessage, Options } from 'amqplib';
import type { EventEmitter } from 'node:events';
import { waitFor } from '../../../helpers/broker.js';

/** amqplib's server-close errors carry the reply code. */
export interface AmqpErr extends Error {
  code?: number | string;
}

export interface Watched {
  errors: AmqpErr[];
  closed: boolean;
  blocked: string[];
  unblocked: number;
}

const watched = new WeakMap<EventEmitter, Watched>();

/** Record errors/close/blocked of an amqplib connection or channel (idempotent). */
export function watch(e: EventEmitter): Watched {
  let w = watched.get(e);
  if (w === undefined) {
    const nw: Watched = { errors: [], closed: false, blocked: [], unblocked: 0 };
    w = nw;
    watched.set(e, nw);
    e.on('error', (err: AmqpErr) => { nw.errors.push(err); });
    e.on('close', (err?: AmqpErr) => {
      nw.closed = true;
      if (err !== undefined && !nw.errors.includes(err)) nw.errors.push(err);
    });
    e.on('blocked', (reason: string) => { nw.blocked.push(reason); });
    e.on('unblocked', () => { nw.unblocked++; });
  }
  return w;
}

/** Wait until the connection/channel closed; the first error it reported (the server's close), if any. */
export async function closedWith(e: EventEmitter, timeoutMs = 10_000): Promise<AmqpErr | undefined> {
  const w = watch(e);
  await waitFor(() => w.closed, timeoutMs);
  return w.errors[0];
}

export class Session {
  private readonly models = new Set<ChannelModel>();

  constructor(readonly url: string) {}

  async connect(socketOptions: Record<string, unknown> = {}): Promise<ChannelModel> {
    // noDelay: an ack followed by a basic.get would otherwise wait out Nagle + delayed ACK (~40 ms each).
    const c = await amqp.connect(this.url, { noDelay: true, ...socketOptions });
    watch(c);
    this.models.add(c);
    c.on('close', () => this.models.delete(c));
    return c;
  }

  async channel(conn?: ChannelModel): Promise<Channel> {
    const ch = await (conn ?? (await this.connect())).createChannel();
    watch(ch);
    return ch;
  }

  async confirmChannel(conn?: ChannelModel): Promise<ConfirmChannel> {
    const ch = await (conn ?? (await this.connect())).createConfirmChannel();
    watch(ch);
    return ch;
  }

  async closeAll(): Promise<void> {
    const models = [...this.models];
    this.models.clear();
    await Promise.all(models.map(async (m) => {
      try {
        await m.close();
      } catch {
        // already closed (the broker was killed or closed it)
      }
    }));
  }
}

const HEADER_RE = /^([A-Za-z0-9_.:-]+)#(\d+)\|/;

/**
 * A self-checking body: "<tag>#<seq>|" then filler derived from tag and seq, `size` bytes in all
 * (at least the header). Two different (tag, seq) never give the same bytes.
 */
export function makeBody(tag: string, seq: number, size = 64): Buffer {
  const head = Buffer.from(`${tag}#${seq}|`, 'latin1');
  const out = Buffer.alloc(Math.max(size, head.length));
  head.copy(out, 0);
  let x = (seq * 2654435761 + tag.length * 97) >>> 0;
  for (let i = head.length; i < out.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 0x21 + ((x >>> 16) % 94); // printable, so a failing diff stays readable
  }
  return out;
}

/** The (tag, seq) a body claims to be, or undefined when it has no header. */
export function parseBody(body: Buffer): { tag: string; seq: number } | undefined {
  const m = HEADER_RE.exec(body.subarray(0, 80).toString('latin1'));
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  return { tag: m[1], seq: Number(m[2]) };
}

/** True when the body is exactly what makeBody produced for the (tag, seq) it claims. */
export function isIntact(body: Buffer): boolean {
  const id = parseBody(body);
  return id !== undefined && body.equals(makeBody(id.tag, id.seq, body.length));
}

export const PERSISTENT: Options.Publish = { persistent: true };

/** Publish bodies to the default exchange and wait for every confirm (throws on a nack). */
export async function sendConfirmed(ch: ConfirmChannel, queue: string, bodies: readonly Buffer[],
  options: Options.Publish = PERSISTENT): Promise<void> {
  for (const b of bodies) ch.sendToQueue(queue, b, options);
  await ch.waitForConfirms();
}

/** Publish to an exchange with confirms. */
export async function publishConfirmed(ch: ConfirmChannel, exchange: string, routingKey: string,
  bodies: readonly Buffer[], options: Options.Publish = PERSISTENT): Promise<void> {
  for (const b of bodies) ch.publish(exchange, routingKey, b, options);
  await ch.waitForConfirms();
}

export type Settle = 'ack' | 'requeue' | 'keep';

/**
 * basic.get until the queue is empty. `ack` acks each message, `requeue` nacks them all with
 * requeue at the end (they go back in order), `keep` leaves them unacked (closing the channel
 * requeues them).
 */
export async function getAll(ch: Channel, queue: string, settle: Settle = 'ack', limit = 1_000_000): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (let i = 0; i < limit; i++) {
    const m = await ch.get(queue, { noAck: false });
    if (m === false) break;
    out.push(m);
    if (settle === 'ack') ch.ack(m);
  }
  if (settle === 'requeue' && out.length > 0) ch.nackAll(true);
  if (settle === 'ack' || settle === 'requeue') await ch.checkQueue(queue); // round trip: settles processed
  return out;
}

/** "<tag>#<seq>" of each message, for readable order assertions. */
export function ids(msgs: ReadonlyArray<{ content: Buffer }>): string[] {
  return msgs.map((m) => {
    const id = parseBody(m.content);
    return id === undefined ? `?${m.content.subarray(0, 20).toString('latin1')}` : `${id.tag}#${id.seq}`;
  });
}

/** Run `fn` and return the AMQP reply code it failed with (undefined when it succeeded). */
export async function replyCodeOf(fn: () => Promise<unknown>): Promise<number | string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (err: unknown) {
    return (err as AmqpErr).code ?? 'no-code';
  }
}
