/**
 * One federation link (rabbit_federation_link_util's shared part): a supervised connection to one
 * upstream for one federated exchange or queue, reconnecting with back-off after any failure (bad
 * URI, refused login, refused socket, lost socket, channel error), its status as
 * /api/federation-links shows it, and the downstream half: republishing an upstream delivery into
 * the local vhost through the broker's one publish operation, acknowledging upstream as the
 * upstream's ack-mode says (on-confirm: once routed, and on disk for a persistent message that
 * reached a durable queue; on-publish: right after the local publish; no-ack: never).
 *
 * Invariants: nothing here throws into the broker (every failure ends in status `error` and a
 * retry); a stopped link never reconnects; timers are cleared on stop.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import { Message, type ContentCodec } from '../broker/message.js';
import { NOT_WRITTEN, PublishResult } from '../broker/publish.js';
import type { FieldTable, FieldValue } from '../core/field-value.js';
import { newPropertyPeek, peekBasicProperties } from '../protocol/content-header.js';
import { encodeBasicProperties, type BasicProperties } from '../protocol/generated/properties.js';
import { ClientConnection } from './amqp-client.js';
import { parseAmqpUri } from './amqp-uri.js';
import type { ClientChannel, Delivery } from './client-channel.js';
import { asClientError, type ClientError } from './client-error.js';
import { uriWithoutCredentials, type Upstream } from './federation-upstream.js';

/** What links need from the broker side (wired by the federation supervisor). */
export interface LinkContext {
  readonly broker: Broker;
  readonly codec: ContentCodec;
  readonly logger: Logger;
  /** This node's cluster name (cycle detection, upstream queue names). */
  clusterName(): string;
  /** RabbitMQ-style node name for the status. */
  readonly nodeName: string;
}

export type LinkStatus = 'starting' | 'running' | 'error';

/** Longest wait between attempts, whatever reconnect-delay and the back-off say (seconds). */
const MAX_BACKOFF_S = 60;

export abstract class FederationLink {
  status: LinkStatus = 'starting';
  error: string | undefined;
  timestamp = Date.now();
  readonly id: string;
  protected conn: ClientConnection | undefined;
  protected ch: ClientChannel | undefined;
  /** The upstream's cluster_name server property (x-received-from), once connected. */
  protected upstreamCluster: string | undefined;
  protected stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private attempt = 0;
  private readonly result = new PublishResult();
  private readonly peek = newPropertyPeek();

  constructor(
    protected readonly ctx: LinkContext,
    readonly vhost: string,
    /** The federated exchange's or queue's name. */
    readonly name: string,
    readonly upstream: Upstream,
    /** Name of the policy that federates it (connection name). */
    readonly policy: string | undefined,
    kind: 'exchange' | 'queue',
  ) {
    this.id = createHash('md5').update(`${kind}\u0000${vhost}\u0000${name}\u0000${upstream.name}`).digest('hex').slice(0, 8);
  }

  abstract get kind(): 'exchange' | 'queue';
  /** The exchange or queue on the upstream. */
  abstract get upstreamName(): string;
  /** Declare what the link needs upstream and start consuming; throws to fail the attempt. */
  protected abstract setUp(conn: ClientConnection, ch: ClientChannel): Promise<void>;
  /** Periodic check from the supervisor (bindings to mirror, demand to follow). */
  abstract tick(): void;
  /** Remove what the link declared upstream (a normal stop: the policy or upstream went). */
  protected abstract cleanUp(conn: ClientConnection): Promise<void>;

  /** The upstream URI of this attempt as configured. */
  get configuredUri(): string {
    return this.upstream.uris[this.attempt % this.upstream.uris.length]!;
  }

  /** As shown in the status and x-received-from: without credentials. */
  get displayUri(): string {
    return uriWithoutCredentials(this.configuredUri);
  }

  /**
   * The URI to connect to; one without a path names this link's own vhost (rabbit_federation_upstream: an
   * upstream URI without a vhost connects to the vhost of the same name upstream).
   */
  get currentUri(): string {
    const uri = this.configuredUri;
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(?:[?#].*)?$/.test(uri)
      ? uri.replace(/^([^?#]*)/, `$1/${encodeURIComponent(this.vhost)}`) : uri;
  }

  /** The vhost of the URI in use. */
  protected get upstreamVhost(): string {
    try {
      return parseAmqpUri(this.currentUri).vhost;
    } catch {
      return '/';
    }
  }

  start(): void {
    void this.connect();
  }

  /** Stop for good; `cleanUp` removes the upstream queue/exchange first (RabbitMQ on a normal shutdown). */
  async stop(cleanUp: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const conn = this.conn;
    this.conn = undefined;
    this.ch = undefined;
    if (conn === undefined || !conn.isOpen) return;
    try {
      if (cleanUp && this.upstream.resourceCleanupMode !== 'never') await this.cleanUp(conn);
    } catch (e: unknown) {
      this.ctx.logger.debug({ err: asClientError(e).message }, 'federation link clean-up failed');
    }
    await conn.close().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.report('starting');
    let conn: ClientConnection | undefined;
    try {
      conn = await ClientConnection.connect({
        uri: this.currentUri,
        connectionName: this.policy === undefined ? 'Federation link'
          : `Federation link (upstream: ${this.upstream.name}, policy: ${this.policy})`,
        timeoutMs: 15_000,
      });
      if (this.stopped) {
        await conn.close().catch(() => undefined);
        return;
      }
      this.conn = conn;
      const cn = conn.serverProperties.find((e) => e.key === 'cluster_name')?.value;
      this.upstreamCluster = cn?.type === 'S' ? cn.value.toString('utf8') : undefined;
      conn.onClose = (reason) => this.lost(reason);
      const ch = await conn.openChannel();
      this.ch = ch;
      const c = conn;
      ch.onClose = (reason) => {
        // A channel error (404 on a deleted upstream queue, 406...): restart the whole link.
        if (!reason.normal && this.conn === c) c.destroy(reason);
      };
      await this.setUp(conn, ch);
      if (this.stopped) return;
      this.failures = 0;
      this.report('running');
      this.ctx.logger.info({ vhost: this.vhost, [this.kind]: this.name, upstream: this.upstream.name },
        `Federation ${this.kind} '${this.name}' in vhost '${this.vhost}' connected to ${this.displayUri}`);
    } catch (e: unknown) {
      const err = asClientError(e);
      if (conn !== undefined) conn.destroy(err);
      this.lost(err);
    }
  }

  /** The connection is gone (or never came): report and try again later. */
  private lost(reason: ClientError): void {
    if (this.stopped || this.timer !== undefined) return;
    this.conn = undefined;
    this.ch = undefined;
    this.failures++;
    this.attempt++;
    this.report('error', describe(reason));
    this.ctx.logger.warn({ vhost: this.vhost, [this.kind]: this.name, upstream: this.upstream.name, reason: reason.message },
      `Federation ${this.kind} '${this.name}' in vhost '${this.vhost}': link to upstream '${this.upstream.name}' down`);
    // reconnect-delay, doubled after each further consecutive failure (capped).
    const base = Math.max(0.05, this.upstream.reconnectDelay);
    const delay = Math.min(Math.max(base, MAX_BACKOFF_S), base * 2 ** Math.min(this.failures - 1, 10));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay * 1000);
    this.timer.unref();
  }

  private report(status: LinkStatus, error?: string): void {
    this.status = status;
    this.error = error;
    this.timestamp = Date.now();
  }

  /**
   * Publish an upstream delivery locally to `exchange` with `routingKey`, its headers replaced by
   * `headers`, user_id dropped unless trust-user-id; then settle it upstream by the ack-mode.
   */
  protected republish(d: Delivery, props: BasicProperties, exchange: string, routingKey: string): void {
    const ch = this.ch;
    const v = this.ctx.broker.vhosts.get(this.vhost);
    const x = v?.exchanges.get(exchange);
    const ack = this.upstream.ackMode;
    if (v === undefined || x === undefined || ch === undefined) {
      if (ack !== 'no-ack') ch?.nack(d.deliveryTag, false, true);
      return;
    }
    if (!this.upstream.trustUserId) props.userId = undefined;
    const raw = encodeBasicProperties(props);
    const p = this.peek;
    peekBasicProperties(raw, 0, raw.length, p);
    const msg = new Message(exchange, routingKey, raw, d.body, p.deliveryMode, p.priority, p.expiration, p.headersStart,
      p.headersEnd, this.ctx.codec, Date.now());
    const r = this.result;
    r.routed = false;
    r.refused = false;
    r.durableAt = NOT_WRITTEN;
    r.queues = 0;
    r.message = undefined;
    try {
      v.publish(x, msg, r);
    } catch (e: unknown) {
      this.ctx.logger.warn({ err: asClientError(e).message }, 'federation: local publish failed');
      if (ack !== 'no-ack') ch.nack(d.deliveryTag, false, true);
      return;
    }
    if (ack === 'no-ack') return;
    const tag = d.deliveryTag;
    if (ack === 'on-publish' || r.durableAt === NOT_WRITTEN) {
      // A refused message (x-overflow reject-publish) is nacked as a publisher confirm would be.
      if (r.refused && ack === 'on-confirm') ch.nack(tag, false, false);
      else ch.ack(tag);
      return;
    }
    const refused = r.refused;
    this.ctx.broker.whenDurable({
      onDurable: (_seq, err) => {
        if (err !== null || refused) ch.nack(tag, false, false);
        else ch.ack(tag);
      },
    });
  }
}

/** A status error as RabbitMQ words the common ones (econnrefused, auth_failure...). */
function describe(e: ClientError): string {
  if (e.errno === 'ECONNREFUSED') return 'econnrefused';
  if (e.errno === 'ETIMEDOUT') return 'etimedout';
  if (e.errno === 'ENOTFOUND' || e.errno === 'EAI_AGAIN') return 'nxdomain';
  if (e.code === 403) return `{auth_failure,${JSON.stringify(e.message)}}`;
  return e.message;
}

/** Prepend `entry` to the array header `key` (rabbit_basic:prepend_table_header). */
export function prependTableHeader(headers: FieldTable | undefined, key: string, entry: FieldTable): FieldTable {
  const table = headers ?? [];
  const old = table.find((e) => e.key === key)?.value;
  const arr: FieldValue[] = [{ type: 'F', value: entry }];
  if (old?.type === 'A') arr.push(...old.value);
  const value: FieldValue = { type: 'A', value: arr };
  let replaced = false;
  const out = table.map((e) => {
    if (e.key !== key || replaced) return e;
    replaced = true;
    return { key, value };
  });
  if (!replaced) out.push({ key, value });
  return out;
}

/** The string value of `key` in a table, if it is one. */
export function tableText(t: FieldTable, key: string): string | undefined {
  const v = t.find((e) => e.key === key)?.value;
  return v?.type === 'S' ? v.value.toString('utf8') : undefined;
}
