/**
 * Shared helpers for the RabbitMQ-extension suites: the Warren-only broker options these suites rely
 * on (broker.consumerTimeout, broker.policies), setting the same policies on the reference broker via
 * rabbitmqctl, a typed basic.get over a raw socket (so the x-death header's field TYPES, not only its
 * values, can be compared with what RabbitMQ writes), and small consumption helpers.
 * Invariants: every policy set on the reference is cleared by the returned cleanup; raw connections go
 * through raw-amqp (closed by the per-test hook in setup.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import type { WarrenOptions } from '../../../src/cli/warren.js';
import { waitFor } from '../../helpers/broker.js';
import {
  FRAME_BODY, FRAME_HEADER, FRAME_METHOD, bits, methodFrame, rawHandshake, rawOpenChannel, short, shortstr,
  type RawConnection,
} from '../helpers/raw-amqp.js';

const exec = promisify(execFile);

/** A policy as the lead's config takes it; `definition` uses RabbitMQ's policy keys (message-ttl, max-length...). */
export interface PolicyConfig {
  name: string;
  pattern: string;
  applyTo: 'queues' | 'exchanges' | 'all';
  priority: number;
  definition: Record<string, string | number | boolean>;
}

/** The broker options these suites use beyond the core config (implemented by the lead under these names). */
export interface ExtensionBrokerOptions {
  /** Consumer acknowledgement timeout in milliseconds (RabbitMQ's consumer_timeout). */
  consumerTimeout?: number;
  /** Policies applied by name pattern, as RabbitMQ's `rabbitmqctl set_policy` would. */
  policies?: PolicyConfig[];
}

/** WarrenOptions carrying the extension options (BrokerConfig's consumerTimeout and policies). */
export function extensionOptions(broker: ExtensionBrokerOptions): WarrenOptions {
  return { broker };
}

/** Set policies on the reference broker with rabbitmqctl; returns a cleanup that clears them. */
export async function setReferencePolicies(policies: readonly PolicyConfig[]): Promise<() => Promise<void>> {
  for (const p of policies) {
    await exec('rabbitmqctl', [
      'set_policy', '--apply-to', p.applyTo, '--priority', String(p.priority),
      p.name, p.pattern, JSON.stringify(p.definition),
    ], { timeout: 30_000 });
  }
  return async () => {
    for (const p of policies) {
      await exec('rabbitmqctl', ['clear_policy', p.name], { timeout: 30_000 }).catch(() => undefined);
    }
  };
}

/** Whether rabbitmqctl can reach the reference (policy tests skip on the reference otherwise). */
export async function rabbitmqctlWorks(): Promise<boolean> {
  try {
    await exec('rabbitmqctl', ['list_policies'], { timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** A field value with its AMQP type tag kept (§4.2.5 / RabbitMQ's field types: S, l, T, A, F, I, ...). */
export type Typed =
  | { t: 'F'; v: { [k: string]: Typed } }
  | { t: 'A'; v: Typed[] }
  | { t: string; v: string | number | boolean | null };

class TypedReader {
  pos = 0;
  constructor(readonly b: Buffer) {}
  u8(): number { return this.b.readUInt8(this.pos++); }
  u16(): number { const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v; }
  u32(): number { const v = this.b.readUInt32BE(this.pos); this.pos += 4; return v; }
  u64(): number { const v = Number(this.b.readBigUInt64BE(this.pos)); this.pos += 8; return v; }
  sstr(): string { const n = this.u8(); const s = this.b.toString('utf8', this.pos, this.pos + n); this.pos += n; return s; }
  lstr(): string { const n = this.u32(); const s = this.b.toString('utf8', this.pos, this.pos + n); this.pos += n; return s; }
  table(): { [k: string]: Typed } {
    const end = this.pos + 4 + this.u32();
    const out: { [k: string]: Typed } = {};
    while (this.pos < end) {
      const k = this.sstr();
      out[k] = this.value();
    }
    return out;
  }
  value(): Typed {
    const t = String.fromCharCode(this.u8());
    const b = this.b;
    switch (t) {
      case 't': return { t, v: this.u8() !== 0 };
      case 'b': { const v = b.readInt8(this.pos); this.pos += 1; return { t, v }; }
      case 'B': return { t, v: this.u8() };
      case 's': { const v = b.readInt16BE(this.pos); this.pos += 2; return { t, v }; }
      case 'u': return { t, v: this.u16() };
      case 'I': { const v = b.readInt32BE(this.pos); this.pos += 4; return { t, v }; }
      case 'i': return { t, v: this.u32() };
      case 'l': { const v = Number(b.readBigInt64BE(this.pos)); this.pos += 8; return { t, v }; }
      case 'T': return { t, v: this.u64() };
      case 'f': { const v = b.readFloatBE(this.pos); this.pos += 4; return { t, v }; }
      case 'd': { const v = b.readDoubleBE(this.pos); this.pos += 8; return { t, v }; }
      case 'D': { const scale = this.u8(); const v = b.readInt32BE(this.pos); this.pos += 4; return { t, v: v / 10 ** scale }; }
      case 'S': return { t, v: this.lstr() };
      case 'x': return { t, v: this.lstr() };
      case 'A': {
        const end = this.pos + 4 + this.u32();
        const out: Typed[] = [];
        while (this.pos < end) out.push(this.value());
        return { t, v: out };
      }
      case 'F': return { t, v: this.table() };
      case 'V': return { t, v: null };
      default: throw new Error(`unknown field type ${t}`);
    }
  }
}

/** What a raw basic.get returned: the routing facts and the headers table with type tags. */
export interface TypedGet {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  expiration: string | undefined;
  headers: { [k: string]: Typed };
  body: string;
}

/**
 * basic.get (no-ack) over a raw connection, keeping every header's type tag. Returns undefined on
 * get-empty. The caller closes nothing: raw connections are destroyed by setup.ts's afterEach.
 */
export async function typedGet(port: number, queue: string): Promise<TypedGet | undefined> {
  const { conn } = await rawHandshake(port);
  try {
    await rawOpenChannel(conn, 1);
    conn.send(methodFrame(1, 60, 70, [short(0), shortstr(queue), bits(true)]));
    const reply = await nextMethodOrContent(conn);
    if (reply.classId === 60 && reply.methodId === 72) return undefined; // get-empty
    if (!(reply.classId === 60 && reply.methodId === 71)) throw new Error(`unexpected method ${reply.classId}.${reply.methodId}`);
    const r = new TypedReader(reply.payload);
    r.pos = 4 + 8; // class, method, delivery-tag
    const redelivered = r.u8() !== 0;
    const exchange = r.sstr();
    const routingKey = r.sstr();
    const header = await nextMethodOrContent(conn);
    if (header.type !== FRAME_HEADER) throw new Error('expected a content header');
    const h = new TypedReader(header.payload);
    h.pos = 4;
    const bodySize = h.u64();
    const flags = h.u16();
    let headers: { [k: string]: Typed } = {};
    let expiration: string | undefined;
    // Property order and flag bits of basic's content header (AMQP 0-9-1 §4.2.6.1, class basic).
    if (flags & 0x8000) h.sstr(); // content-type
    if (flags & 0x4000) h.sstr(); // content-encoding
    if (flags & 0x2000) headers = h.table();
    if (flags & 0x1000) h.u8(); // delivery-mode
    if (flags & 0x0800) h.u8(); // priority
    if (flags & 0x0400) h.sstr(); // correlation-id
    if (flags & 0x0200) h.sstr(); // reply-to
    if (flags & 0x0100) expiration = h.sstr();
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < bodySize) {
      const f = await nextMethodOrContent(conn);
      if (f.type !== FRAME_BODY) throw new Error('expected a body frame');
      chunks.push(f.payload);
      got += f.payload.length;
    }
    return { exchange, routingKey, redelivered, expiration, headers, body: Buffer.concat(chunks).toString() };
  } finally {
    conn.destroy();
  }
}

async function nextMethodOrContent(conn: RawConnection): Promise<{ type: number; classId: number; methodId: number; payload: Buffer }> {
  for (;;) {
    const f = await conn.next();
    if (f === undefined) throw new Error('raw connection closed');
    if (f.type === FRAME_METHOD && f.classId === 20 && f.methodId === 40) throw new Error(`channel closed: ${f.payload.toString('latin1')}`);
    if (f.type === FRAME_METHOD || f.type === FRAME_HEADER || f.type === FRAME_BODY) return f;
  }
}

/** Strip the type tags (for value comparisons). */
export function untype(x: Typed): unknown {
  if (x.t === 'F') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x.v as { [k: string]: Typed })) o[k] = untype(v);
    return o;
  }
  if (x.t === 'A') return (x.v as Typed[]).map(untype);
  return x.v;
}

/** basic.get until a message arrives (TTL/DLX tests: the broker moves messages asynchronously). */
export async function getEventually(ch: Channel, queue: string, timeoutMs = 5000): Promise<GetMessage> {
  let got: GetMessage | undefined;
  await waitFor(async () => {
    const m = await ch.get(queue, { noAck: true });
    if (m !== false) got = m;
    return got !== undefined;
  }, timeoutMs, 20);
  if (got === undefined) throw new Error('unreachable');
  return got;
}

/** Drain a queue with basic.get (no-ack) and return the bodies in order. */
export async function drain(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m.content.toString());
  }
}

/** The x-death header of a delivered message (amqplib decodes it into plain objects). */
export interface XDeath {
  count: number;
  exchange: string;
  queue: string;
  reason: string;
  'routing-keys': string[];
  time: unknown;
  'original-expiration'?: string;
}

export function xDeathOf(m: ConsumeMessage | GetMessage): XDeath[] {
  const h = m.properties.headers as Record<string, unknown> | undefined;
  const xd = h?.['x-death'];
  if (!Array.isArray(xd)) throw new Error('message has no x-death header');
  return xd as XDeath[];
}

/** Current unix time in seconds (x-death time is a second-resolution AMQP timestamp). */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** basic.get with acknowledgement until a message arrives; the caller acks/rejects it. */
export async function getUnacked(ch: Channel, queue: string, timeoutMs = 5000): Promise<GetMessage> {
  let got: GetMessage | undefined;
  await waitFor(async () => {
    const m = await ch.get(queue, { noAck: false });
    if (m !== false) got = m;
    return got !== undefined;
  }, timeoutMs, 20);
  if (got === undefined) throw new Error('unreachable');
  return got;
}
