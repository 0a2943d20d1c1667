/**
 * The recorder a differential scenario runs against: it opens amqplib connections and channels
 * that report what the client observes into one trace (server-sent closes with code, text,
 * class and method; returns; confirms expanded per sequence number; server cancels; deliveries;
 * get results; outcomes of operations), gives names unique to this run but logically identical
 * across runs, and cleans every declared queue and exchange up afterwards, even after a failure.
 * Invariants: the scenario only awaits, never sleeps a fixed time; every wait has a timeout that
 * turns into a trace entry instead of a hang.
 */
import { createHash } from 'node:crypto';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type Message, type Options, type SocketOptions } from 'amqplib';
import { channelNumber, methodName, tapFrames, type DecodedFrame } from './amqp-internals.js';
import type { TraceEntry } from './trace.js';

const CONNECTION_CLOSE = 10 << 16 | 50;
const CHANNEL_CLOSE = 20 << 16 | 40;
const QUEUE_DECLARE_OK = 50 << 16 | 11;

/** Thrown by waits that time out; the runner records it and stops the scenario. */
export class ScenarioAbort extends Error {
  override readonly name = 'ScenarioAbort';
}

interface ConnectionState {
  readonly label: string;
  closingByClient: boolean;
  closeFrameSeen: boolean;
  closed: boolean;
}

interface ChannelState {
  readonly stream: string;
  closed: boolean;
  readonly confirmed: Map<number, 'ack' | 'nack'>;
  readonly confirmMode: ConfirmRecording;
}

/**
 * How a confirm channel records confirms: 'ordered' records each (expanded) ack/nack as it
 * arrives, interleaved with basic.return; 'summary' records one sorted entry per waitConfirms
 * (for messages routed to several queues RabbitMQ's confirm order is not deterministic).
 */
export type ConfirmRecording = 'ordered' | 'summary';

export interface DescribeOptions {
  /** Include message properties (default true). */
  readonly properties?: boolean;
}

export interface ConsumeOptions extends Options.Consume {
  /** Name of this consumer in the trace (default: c<n>). */
  readonly label?: string;
  /** Trace stream for its deliveries (default: "consumer:<label>"); false records none. */
  readonly stream?: string | false;
  /** Called after the delivery is recorded (e.g. to ack it). */
  readonly onMessage?: (msg: Message) => void;
  /** Record properties of each delivery (default false: body and fields only). */
  readonly withProperties?: boolean;
}

export interface Consumer {
  readonly label: string;
  readonly consumerTag: string;
  readonly messages: Message[];
  /** Set when the server cancelled this consumer (basic.cancel from the broker). */
  cancelled: boolean;
}

export class ScenarioContext {
  readonly trace: TraceEntry[] = [];
  private readonly names = new Set<string>();
  private readonly generatedQueues = new Set<string>();
  private readonly connections: ChannelModel[] = [];
  private readonly connectionState = new WeakMap<ChannelModel, ConnectionState>();
  private readonly channelState = new WeakMap<Channel, ChannelState>();
  private consumerCount = 0;
  private probe: Promise<ChannelModel> | undefined;

  constructor(
    /** The broker under test, amqp://… */
    readonly url: string,
    /** Unique to this run; normalised to {run} in the trace. */
    readonly runId: string,
    /** Default timeout of each wait, ms. */
    readonly waitTimeoutMs = 4000,
  ) {}

  /** A queue/exchange name unique to this run: `<prefix>-<runId>`; cleaned up at the end. */
  name(prefix: string): string {
    const n = `${prefix}-${this.runId}`;
    this.names.add(n);
    return n;
  }

  /** Appends an event to the trace (stream "main" unless given). */
  record(event: string, data?: unknown, stream = 'main'): void {
    this.trace.push({ stream, event, data });
  }

  /** Opens a connection whose server-sent closes and unexpected losses are recorded. */
  async connect(options: { readonly frameMax?: number; readonly heartbeat?: number } = {}): Promise<ChannelModel> {
    const u = new URL(this.url);
    if (options.frameMax !== undefined) u.searchParams.set('frameMax', String(options.frameMax));
    u.searchParams.set('heartbeat', String(options.heartbeat ?? 0));
    return this.connectUrl(u.toString());
  }

  /** Like connect, with full control of the URL (e.g. channelMax); heartbeats stay as given. */
  async connectUrl(url: string): Promise<ChannelModel> {
    return this.connectUrlWith(url, {});
  }

  /** Like connectUrl, with amqplib socket options (e.g. other SASL credentials). */
  async connectUrlWith(url: string, socketOptions: SocketOptions): Promise<ChannelModel> {
    const label = `c${this.connections.length + 1}`;
    const model = await connect(url, { timeout: this.waitTimeoutMs, ...socketOptions });
    const state: ConnectionState = { label, closingByClient: false, closeFrameSeen: false, closed: false };
    this.connections.push(model);
    this.connectionState.set(model, state);
    tapFrames(model, (f) => this.observeFrame(state, f));
    // amqplib emits 'error' for server closes; the tap has recorded it already. Without a listener
    // EventEmitter would throw inside amqplib's frame loop.
    model.on('error', () => {});
    model.on('close', () => {
      state.closed = true;
      if (!state.closingByClient && !state.closeFrameSeen) this.record('connection.lost', { connection: label }, label);
    });
    return model;
  }

  private observeFrame(conn: ConnectionState, f: DecodedFrame): void {
    if (f.id === CONNECTION_CLOSE && f.channel === 0) {
      conn.closeFrameSeen = true;
      this.record('connection.close', closeFields(f), conn.label);
    } else if (f.id === CHANNEL_CLOSE) {
      this.record('channel.close', closeFields(f), `${conn.label}.ch${f.channel}`);
    } else if (f.id === QUEUE_DECLARE_OK) {
      const q = f.fields?.['queue'];
      if (typeof q === 'string' && q.startsWith('amq.gen-')) this.generatedQueues.add(q);
    }
  }

  /** Closes a connection from the client side (recorded as nothing: it is the scenario's act). */
  async closeConnection(model: ChannelModel): Promise<void> {
    const state = this.connectionState.get(model);
    if (state === undefined || state.closed) return;
    state.closingByClient = true;
    try {
      await model.close();
    } catch (err) {
      this.record('connection.close-failed', describeError(err));
    }
  }

  /** Opens a channel; its returns, confirms and server cancels go to stream `c<n>.ch<m>`. */
  async channel(model: ChannelModel): Promise<Channel> {
    const ch = await model.createChannel();
    this.watchChannel(model, ch, 'ordered');
    return ch;
  }

  /** Opens a channel in confirm mode (confirm.select done by amqplib). */
  async confirmChannel(model: ChannelModel, confirms: ConfirmRecording = 'ordered'): Promise<ConfirmChannel> {
    const ch = await model.createConfirmChannel();
    this.watchChannel(model, ch, confirms);
    return ch;
  }

  /** The trace stream of a channel: `c<conn>.ch<number>`. */
  streamOf(ch: Channel): string {
    const s = this.channelState.get(ch);
    if (s === undefined) throw new Error('channel not opened through the scenario context');
    return s.stream;
  }

  private watchChannel(model: ChannelModel, ch: Channel, confirmMode: ConfirmRecording): void {
    const conn = this.connectionState.get(model);
    const stream = `${conn?.label ?? 'c?'}.ch${channelNumber(ch)}`;
    const state: ChannelState = { stream, closed: false, confirmed: new Map(), confirmMode };
    this.channelState.set(ch, state);
    ch.on('error', () => {});
    ch.on('close', () => {
      state.closed = true;
    });
    ch.on('return', (msg: Message) => {
      const f = msg.fields as unknown as { replyCode: number; replyText: string };
      this.record('basic.return', { replyCode: f.replyCode, replyText: f.replyText, ...describeMessage(msg, { properties: false }) }, stream);
    });
    const confirm = (kind: 'ack' | 'nack') => (fields: { deliveryTag: number; multiple: boolean }) => {
      // Expand `multiple` so brokers that batch confirms differently still compare equal.
      const tags = fields.multiple ? rangeTo(fields.deliveryTag).filter((t) => !state.confirmed.has(t)) : [fields.deliveryTag];
      for (const tag of tags) {
        if (state.confirmed.has(tag)) this.record(`confirm.duplicate-${kind}`, { seq: tag }, stream);
        state.confirmed.set(tag, kind);
        if (confirmMode === 'ordered') this.record(`confirm.${kind}`, { seq: tag }, stream);
      }
    };
    ch.on('ack', confirm('ack'));
    ch.on('nack', confirm('nack'));
  }

  /** Waits until `count` publishes on this confirm channel have been acked or nacked. */
  async waitConfirms(ch: Channel, count: number): Promise<void> {
    const state = this.channelState.get(ch);
    if (state === undefined) throw new Error('channel not opened through the scenario context');
    await this.waitFor(`${count} confirms on ${state.stream}`, () => state.confirmed.size >= count || state.closed);
    if (state.confirmMode === 'summary') {
      const sorted = [...state.confirmed.entries()].sort((a, b) => a[0] - b[0]);
      const tags = (kind: 'ack' | 'nack') => ranges(sorted.filter(([, k]) => k === kind).map(([t]) => t));
      this.record('confirms', { ack: tags('ack'), nack: tags('nack') }, state.stream);
    }
  }

  /** Waits until the channel is closed (by the server, typically after an async error). */
  async waitChannelClosed(ch: Channel): Promise<void> {
    const state = this.channelState.get(ch);
    if (state === undefined) throw new Error('channel not opened through the scenario context');
    await this.waitFor(`channel ${state.stream} to close`, () => state.closed);
  }

  /** Waits until the connection is closed. */
  async waitConnectionClosed(model: ChannelModel): Promise<void> {
    const state = this.connectionState.get(model);
    if (state === undefined) throw new Error('connection not opened through the scenario context');
    await this.waitFor(`connection ${state.label} to close`, () => state.closed);
  }

  isConnectionClosed(model: ChannelModel): boolean {
    return this.connectionState.get(model)?.closed ?? true;
  }

  isClosed(ch: Channel): boolean {
    return this.channelState.get(ch)?.closed ?? true;
  }

  /** Polls `check` until truthy; on timeout aborts the scenario with a recorded reason. */
  async waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = this.waitTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      if (Date.now() > deadline) throw new ScenarioAbort(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Runs one operation and records its outcome under `label`: `{ok: summary}` or `{error: code}`.
   * Returns the result, or undefined when it failed (the close itself is recorded by the tap).
   */
  async attempt<T>(label: string, op: () => Promise<T>, summarise: (v: T) => unknown = () => true): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // A broker that never answers must show up as a readable abort, not as a hung test.
      const v = await Promise.race([
        op(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ScenarioAbort(`no reply to '${label}' within ${this.waitTimeoutMs} ms`)), this.waitTimeoutMs);
        }),
      ]);
      this.record(label, { ok: summarise(v) });
      return v;
    } catch (err) {
      if (err instanceof ScenarioAbort) throw err;
      this.record(label, describeError(err));
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts a consumer that records every delivery (and the server's cancel) on its stream. */
  async consume(ch: Channel, queue: string, options: ConsumeOptions = {}): Promise<Consumer> {
    const label = options.label ?? `consumer${++this.consumerCount}`;
    const stream = options.stream ?? `consumer:${label}`;
    const messages: Message[] = [];
    const { label: _l, stream: _s, onMessage, withProperties, ...amqpOptions } = options;
    const consumer: Consumer = { label, consumerTag: '', messages, cancelled: false };
    const ok = await ch.consume(
      queue,
      (msg) => {
        if (msg === null) {
          consumer.cancelled = true;
          this.record('basic.cancel (from server)', { consumer: label }, stream === false ? `consumer:${label}` : stream);
          return;
        }
        messages.push(msg);
        if (stream !== false) this.record('deliver', { consumer: label, ...describeMessage(msg, { properties: withProperties ?? false }) }, stream);
        onMessage?.(msg);
      },
      amqpOptions,
    );
    (consumer as { consumerTag: string }).consumerTag = ok.consumerTag;
    return consumer;
  }

  /** Waits until the consumer has received `count` messages in total. */
  async waitDeliveries(consumer: Consumer, count: number, timeoutMs = this.waitTimeoutMs): Promise<void> {
    await this.waitFor(`${count} deliveries to ${consumer.label}`, () => consumer.messages.length >= count, timeoutMs);
  }

  /** basic.get, recording `get-empty` or the message (with message-count). */
  async get(ch: Channel, queue: string, options: Options.Get & DescribeOptions = {}, label = 'basic.get'): Promise<Message | undefined> {
    const r = await this.attempt(label, () => ch.get(queue, { noAck: options.noAck ?? false }), (m) =>
      m === false ? 'get-empty' : describeMessage(m, { properties: options.properties ?? false }),
    );
    return r === undefined || r === false ? undefined : r;
  }

  /**
   * Whether a queue exists, asked over a private connection that is never recorded, so polling
   * for an asynchronous deletion (auto-delete, exclusive owner gone) leaves no trace of how many
   * polls it took. "Exists" includes "exists but exclusive to another connection" (405).
   */
  async queueExists(queue: string): Promise<boolean> {
    this.probe ??= connect(this.url, { timeout: this.waitTimeoutMs }).then((m) => {
      m.on('error', () => {});
      return m;
    });
    const model = await this.probe;
    const ch = await openQuiet(model);
    try {
      await ch.checkQueue(queue);
      await ch.close();
      return true;
    } catch (err) {
      return (err as { code?: unknown }).code !== 404;
    }
  }

  /** Polls until the queue no longer exists (a passive declare on a private connection is 404). */
  async waitQueueGone(queue: string): Promise<void> {
    await this.waitFor(`queue ${queue} to be deleted`, async () => !(await this.queueExists(queue)));
  }

  /** Closes every connection and deletes every queue and exchange the scenario named. */
  async cleanup(): Promise<void> {
    await Promise.all(this.connections.map((c) => this.closeConnection(c).catch(() => {})));
    if (this.probe !== undefined) await this.probe.then((m) => m.close()).catch(() => {});
    const leftovers = [...this.names, ...this.generatedQueues];
    if (leftovers.length === 0) return;
    let model: ChannelModel | undefined;
    try {
      model = await connect(this.url, { timeout: this.waitTimeoutMs });
      model.on('error', () => {});
      let ch = await openQuiet(model);
      for (const n of leftovers) {
        for (const del of [(c: Channel) => c.deleteQueue(n), (c: Channel) => c.deleteExchange(n)]) {
          try {
            await del(ch);
          } catch {
            ch = await openQuiet(model);
          }
        }
      }
    } catch {
      // Best effort: a broken broker must not hide the scenario's real result.
    } finally {
      await model?.close().catch(() => {});
    }
  }
}

async function openQuiet(model: ChannelModel): Promise<Channel> {
  const ch = await model.createChannel();
  ch.on('error', () => {});
  return ch;
}

/** Sorted integers as compact ranges: [1,2,3,5] -> "1-3,5" ("" when empty). */
function ranges(sorted: readonly number[]): string {
  const out: string[] = [];
  let start: number | undefined;
  let prev: number | undefined;
  for (const v of [...sorted, Number.NaN]) {
    if (start !== undefined && prev !== undefined && v === prev + 1) {
      prev = v;
      continue;
    }
    if (start !== undefined && prev !== undefined) out.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = v;
    prev = v;
  }
  return out.join(',');
}

function rangeTo(n: number): number[] {
  return Array.from({ length: Math.max(0, n) }, (_, i) => i + 1);
}

function closeFields(f: DecodedFrame): Record<string, unknown> {
  const fields = f.fields ?? {};
  const classId = Number(fields['classId'] ?? 0);
  const methodIdValue = Number(fields['methodId'] ?? 0);
  let method = `${classId}/${methodIdValue}`;
  if (classId !== 0) {
    try {
      method = `${methodName((classId << 16) | methodIdValue)} (${classId}/${methodIdValue})`;
    } catch {
      // unknown class/method ids stay numeric
    }
  }
  return { replyCode: fields['replyCode'], replyText: fields['replyText'], method };
}

/** What a failed operation looked like to the client. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; classId?: unknown; methodId?: unknown };
    if (typeof e.code === 'number') return { error: e.code };
    return { error: `${e.name}: ${e.message.split('\n')[0] ?? ''}` };
  }
  return { error: String(err) };
}

/** A delivery, return or get-ok as the client sees it, in comparable form. */
export function describeMessage(msg: Message, options: DescribeOptions = {}): Record<string, unknown> {
  const f = msg.fields as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { body: describeBody(msg.content) };
  for (const k of ['exchange', 'routingKey', 'redelivered', 'deliveryTag', 'messageCount']) {
    if (f[k] !== undefined) out[k] = f[k];
  }
  if (options.properties ?? true) {
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(msg.properties)) if (v !== undefined) props[k] = plain(v);
    const headers = props['headers'];
    if (headers !== null && typeof headers === 'object' && 'x-death' in headers) {
      // x-death carries the wall-clock time of each death: the only header that legitimately differs.
      const h = headers as Record<string, unknown>;
      const deaths = h['x-death'];
      if (Array.isArray(deaths)) {
        h['x-death'] = deaths.map((d: unknown) => (d !== null && typeof d === 'object' && 'time' in d ? { ...d, time: '{time}' } : d));
      }
    }
    out['properties'] = props;
  }
  return out;
}

function describeBody(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (body.length <= 200 && /^[\x20-\x7e]*$/.test(text)) return text;
  return { length: body.length, sha256: createHash('sha256').update(body).digest('hex').slice(0, 16) };
}

/** Field-table values as plain JSON-able data (Buffers become hex, typed wrappers kept). */
function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { bytes: v.toString('hex') };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'bigint') return `${v.toString()}n`;
  if (v instanceof Date) return { date: v.getTime() };
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}
