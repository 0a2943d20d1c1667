/**
 * One dynamic shovel at work (RabbitMQ's rabbit_shovel_worker with rabbit_amqp091_shovel at both
 * ends): consume from the source queue (or a server-named exclusive queue bound to the source
 * exchange), publish every delivery to the destination, acknowledge at the source as the ack mode
 * says, and start over after any failure.
 *
 * Rules kept:
 * - on-confirm: the destination channel is in confirm mode and a message is acked at the source
 *   only when the destination confirmed it (a nack from the destination nacks it at the source,
 *   requeued). Whatever dies, source, destination or the network between, an unconfirmed message
 *   is still unacked at the source and comes back: nothing is lost, a message may arrive twice.
 *   on-publish acks at the source once handed to the destination socket; no-ack consumes with no
 *   acknowledgements at all (fastest, loses what is in flight).
 * - Resources as rabbit_shovel_parameters declares them: a source or destination queue is checked
 *   passively and declared durable (with src-queue-args/dest-queue-args) when missing; a source
 *   exchange gets an exclusive server-named queue bound with src-exchange-key.
 * - Publishing: dest-queue -> default exchange with the queue as key; dest-exchange -> that exchange
 *   with dest-exchange-key, else the message's own key; neither -> the message's own exchange and
 *   key. Properties pass byte for byte unless headers are added: x-shovelled (a table prepended to
 *   the array: shovelled-by, shovel-type, shovel-name, shovel-vhost, src-uri, dest-uri, then the
 *   source and destination names) and x-shovelled-timestamp (seconds), or dest-publish-properties.
 * - src-delete-after: queue-length transfers as many messages as the queue held when the shovel
 *   started, N transfers N; then (every transfer settled) the shovel is done and the supervisor
 *   deletes its parameter, as RabbitMQ does.
 * - States as rabbit_shovel_status: starting (connecting, or waiting to reconnect: `reason` keeps the
 *   last failure, a Warren addition), running, terminated (reconnect-delay 0 after a failure).
 *   Reconnection waits reconnect-delay, doubled after each consecutive failure up to 60 s (or the
 *   delay itself when larger); a session that reached running resets the back-off.
 * - Nothing here throws into the broker: every failure ends the session and is reported.
 */
import type { Logger } from 'pino';
import type { FieldEntry, FieldTable, FieldValue } from '../core/field-value.js';
import { fv, tableFrom } from '../core/field-value.js';
import type { BasicProperties } from '../protocol/generated/properties.js';
import { ClientConnection } from './amqp-client.js';
import { parseAmqpUri, type AmqpEndpoint } from './amqp-uri.js';
import { decodeDeliveryProperties, type ClientChannel, type Delivery } from './client-channel.js';
import { asClientError, ClientError } from './client-error.js';
import type { ShovelConfig } from './shovel-config.js';

export type ShovelState = 'starting' | 'running' | 'terminated';

export interface ShovelHost {
  /** The network endpoint for RabbitMQ's direct URI `amqp://` (this broker, the shovel's vhost). */
  resolveDirect(vhost: string): AmqpEndpoint;
  clusterName(): string;
  readonly logger: Logger;
  /** src-delete-after reached and everything settled: delete the parameter. */
  finished(vhost: string, name: string): void;
}

const MAX_BACKOFF_S = 60;

/** Counters a test (and the status) can read. */
export interface ShovelCounters {
  /** Messages published to the destination. */
  forwarded: number;
  /** Messages acknowledged at the source (on-confirm/on-publish). */
  acked: number;
  /** Destination nacks (requeued at the source). */
  nacked: number;
  /** Sessions started. */
  sessions: number;
}

interface Session {
  src?: ClientConnection;
  dest?: ClientConnection;
  srcCh?: ClientChannel;
  destCh?: ClientChannel;
  end: (reason: ClientError | undefined) => void;
}

export class ShovelWorker {
  state: ShovelState = 'starting';
  reason: string | undefined;
  /** When the state last changed (ms). */
  since = Date.now();
  readonly counters: ShovelCounters = { forwarded: 0, acked: 0, nacked: 0, sessions: 0 };

  private stopped = false;
  private session: Session | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private uriTurn = 0;

  constructor(readonly vhost: string, readonly name: string, readonly config: ShovelConfig, private readonly host: ShovelHost) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop for good: the session's connections are closed (unacked messages go back to the source). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.session?.end(undefined);
    await this.loop;
  }

  /** Drop the session's sockets at once, as a network failure would (tests). */
  destroyConnections(): void {
    const s = this.session;
    s?.src?.destroy();
    s?.dest?.destroy();
  }

  /** The URIs of the source and destination as the status shows them (no credentials). */
  displayUri(which: 'src' | 'dest'): string {
    const uris = which === 'src' ? this.config.srcUris : this.config.destUris;
    return withoutCredentials(uris[0] ?? '');
  }

  private setState(state: ShovelState, reason?: string): void {
    if (this.state !== state || this.reason !== reason) this.since = Date.now();
    this.state = state;
    this.reason = reason;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.setState('starting', this.reason);
      let reason: ClientError | undefined;
      let reachedRunning = false;
      try {
        const r = await this.runSession(() => { reachedRunning = true; failures = 0; });
        reason = r;
      } catch (e) {
        reason = asClientError(e);
      }
      if (this.stopped) return;
      if (reason === undefined) {
        // src-delete-after reached: the supervisor deletes the parameter (which stops us).
        this.host.finished(this.vhost, this.name);
        return;
      }
      const text = describe(reason);
      this.host.logger.warn({ shovel: this.name, vhost: this.vhost, reason: text }, 'shovel failed');
      if (this.config.reconnectDelay <= 0) {
        this.setState('terminated', text);
        return;
      }
      if (!reachedRunning) failures++;
      this.setState('starting', text);
      const base = this.config.reconnectDelay;
      const delay = Math.min(base * 2 ** Math.max(0, failures - 1), Math.max(base, MAX_BACKOFF_S));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay * 1000);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
      this.wake = undefined;
    }
  }

  private endpoint(uris: readonly string[]): AmqpEndpoint {
    const uri = uris[this.uriTurn % uris.length]!;
    const ep = parseAmqpUri(uri);
    return ep.direct ? this.host.resolveDirect(this.vhost) : ep;
  }

  /** One session: resolves with why it ended (undefined: the work is done). */
  private runSession(onRunning: () => void): Promise<ClientError | undefined> {
    this.counters.sessions++;
    return new Promise((resolve) => {
      let ended = false;
      const s: Session = {
        end: (reason) => {
          if (ended) return;
          ended = true;
          this.session = undefined;
          void this.teardown(s).then(() => resolve(reason));
        },
      };
      this.session = s;
      this.startSession(s, onRunning).catch((e: unknown) => s.end(asClientError(e)));
    });
  }

  private async startSession(s: Session, onRunning: () => void): Promise<void> {
    const c = this.config;
    const connectionName = `Shovel ${this.name}`;
    this.uriTurn++;
    const lost = (what: string) => (r: ClientError) => s.end(r.code === 200 ? undefined : prefixed(what, r));
    s.src = await ClientConnection.connect({ uri: this.endpoint(c.srcUris), connectionName });
    s.src.onClose = lost('source');
    if (this.stopped) return s.end(undefined);
    s.dest = await ClientConnection.connect({ uri: this.endpoint(c.destUris), connectionName });
    s.dest.onClose = lost('destination');
    if (this.stopped) return s.end(undefined);

    const srcCh = await s.src.openChannel();
    s.srcCh = srcCh;
    let queue: string;
    let queueLength = 0;
    if (c.srcQueue !== undefined) {
      queueLength = await ensureQueue(s.src, c.srcQueue, c.srcQueueArgs);
      queue = c.srcQueue;
    } else {
      queue = (await srcCh.declareQueue('', { exclusive: true })).queue;
      await srcCh.bindQueue(queue, c.srcExchange!, c.srcExchangeKey);
    }
    const destCh = await s.dest.openChannel();
    s.destCh = destCh;
    if (c.destQueue !== undefined) await ensureQueue(s.dest, c.destQueue, c.destQueueArgs);
    if (c.ackMode === 'on-confirm') await destCh.confirmSelect();
    srcCh.onClose = lost('source channel');
    destCh.onClose = lost('destination channel');

    let remaining = c.deleteAfter === 'never' ? Infinity : c.deleteAfter === 'queue-length' ? queueLength : c.deleteAfter;
    if (remaining === 0) return s.end(undefined);
    let unsettled = 0;
    let consumerTag = '';
    const settledOne = () => {
      unsettled--;
      if (remaining === 0 && unsettled === 0) s.end(undefined);
    };
    const addHeaders = c.addForwardHeaders || c.addTimestampHeader || Object.keys(c.publishProperties).length > 0;
    const forwardTable = c.addForwardHeaders ? this.forwardTable() : undefined;
    const onDelivery = (d: Delivery) => {
      if (remaining <= 0) return; // beyond src-delete-after: left unacked, requeued when we close
      remaining--;
      const exchange = c.destQueue !== undefined ? '' : c.destExchange ?? d.exchange;
      const key = c.destQueue !== undefined ? c.destQueue : c.destExchangeKey ?? d.routingKey;
      const props: BasicProperties | Buffer = addHeaders ? this.rewrite(d.properties, forwardTable) : d.properties;
      const tag = d.deliveryTag;
      try {
        if (c.ackMode === 'on-confirm') {
          unsettled++;
          destCh.publish(exchange, key, d.body, props, {}, (ok) => {
            if (ok) {
              srcCh.ack(tag);
              this.counters.acked++;
            } else if (destCh.isOpen) {
              srcCh.nack(tag, false, true);
              this.counters.nacked++;
              remaining++;
            }
            settledOne();
          });
        } else {
          destCh.publish(exchange, key, d.body, props);
          if (c.ackMode === 'on-publish') {
            srcCh.ack(tag);
            this.counters.acked++;
          }
        }
        this.counters.forwarded++;
      } catch (e) {
        s.end(prefixed('destination', asClientError(e)));
        return;
      }
      if (remaining === 0) {
        if (consumerTag !== '') srcCh.cancel(consumerTag).catch(() => undefined);
        if (unsettled === 0) s.end(undefined);
      }
    };
    await srcCh.qos(c.prefetchCount);
    consumerTag = await srcCh.consume(queue, onDelivery, {
      noAck: c.ackMode === 'no-ack',
      onCancel: () => s.end(new ClientError(`source consumer cancelled by the server (queue '${queue}' deleted?)`, 'channel')),
    });
    if (remaining === 0 && unsettled === 0) return s.end(undefined);
    this.setState('running');
    onRunning();
    this.host.logger.info({ shovel: this.name, vhost: this.vhost }, 'shovel running');
  }

  private async teardown(s: Session): Promise<void> {
    const close = async (c: ClientConnection | undefined) => {
      if (c === undefined) return;
      c.onClose = undefined;
      await Promise.race([c.close(), new Promise<void>((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
      c.destroy();
    };
    await Promise.all([close(s.src), close(s.dest)]);
  }

  /** The x-shovelled entry (rabbit_shovel_util:update_headers), fixed for the shovel's life. */
  private forwardTable(): FieldTable {
    const c = this.config;
    const entries: Record<string, string> = {
      'shovelled-by': this.host.clusterName(),
      'shovel-type': 'dynamic',
      'shovel-name': this.name,
      'shovel-vhost': this.vhost,
      'src-uri': this.displayUri('src'),
      'dest-uri': this.displayUri('dest'),
    };
    if (c.srcQueue !== undefined) entries['src-queue'] = c.srcQueue;
    else {
      entries['src-exchange'] = c.srcExchange!;
      entries['src-exchange-key'] = c.srcExchangeKey;
    }
    if (c.destExchange !== undefined) entries['dest-exchange'] = c.destExchange;
    if (c.destExchangeKey !== undefined) entries['dest-exchange-key'] = c.destExchangeKey;
    if (c.destQueue !== undefined) entries['dest-queue'] = c.destQueue;
    return tableFrom(entries);
  }

  private rewrite(raw: Buffer, forward: FieldTable | undefined): BasicProperties {
    const p = decodeDeliveryProperties(raw);
    applyPublishProperties(p, this.config.publishProperties);
    let headers: FieldEntry[] = [...(p.headers ?? [])];
    if (forward !== undefined) {
      const i = headers.findIndex((e) => e.key === 'x-shovelled');
      const old = i >= 0 ? headers[i]!.value : undefined;
      const prior: readonly FieldValue[] = old !== undefined && old.type === 'A' ? old.value : [];
      const entry: FieldEntry = { key: 'x-shovelled', value: fv.array([fv.table(forward), ...prior]) };
      if (i >= 0) headers[i] = entry;
      else headers.push(entry);
    }
    if (this.config.addTimestampHeader) {
      headers = headers.filter((e) => e.key !== 'x-shovelled-timestamp');
      headers.push({ key: 'x-shovelled-timestamp', value: fv.long(Math.floor(Date.now() / 1000)) });
    }
    p.headers = headers;
    return p;
  }
}

/** ensure_queue: passive declare, and a durable declare on its own channel when it is missing. */
async function ensureQueue(conn: ClientConnection, queue: string, args: Readonly<Record<string, unknown>>): Promise<number> {
  const ch = await conn.openChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } catch (e) {
    if (!(e instanceof ClientError) || e.code !== 404) throw e;
    const ch2 = await conn.openChannel();
    const declared = await ch2.declareQueue(queue, { durable: true, arguments: tableFrom(args) });
    await ch2.close().catch(() => undefined);
    return declared.messageCount;
  } finally {
    if (ch.isOpen) await ch.close().catch(() => undefined);
  }
}

const PROPERTY_NAMES: Readonly<Record<string, keyof BasicProperties>> = {
  content_type: 'contentType', content_encoding: 'contentEncoding', delivery_mode: 'deliveryMode', priority: 'priority',
  correlation_id: 'correlationId', reply_to: 'replyTo', expiration: 'expiration', message_id: 'messageId',
  timestamp: 'timestamp', type: 'type', user_id: 'userId', app_id: 'appId', cluster_id: 'clusterId',
};

function applyPublishProperties(p: BasicProperties, set: Readonly<Record<string, unknown>>): void {
  const target = p as Record<string, unknown>;
  for (const [k, v] of Object.entries(set)) {
    const field = PROPERTY_NAMES[k];
    if (field !== undefined && (typeof v === 'string' || typeof v === 'number')) target[field] = v;
  }
}

function prefixed(what: string, r: ClientError): ClientError {
  return new ClientError(`${what}: ${r.message}`, r.scope, r.code, r.classId, r.methodId, r.errno);
}

function describe(r: ClientError): string {
  return r.message;
}

/** amqp_uri:remove_credentials: the URI without user and password. */
export function withoutCredentials(uri: string): string {
  return uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/?#]*@/, '$1');
}
