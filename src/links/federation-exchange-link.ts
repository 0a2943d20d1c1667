/**
 * A federated exchange's link to one upstream (rabbit_federation_exchange_link). On the upstream:
 * the upstream exchange (declared like the local one when missing), a durable queue
 * `federation: <upstream exchange> -> <cluster name>[:<local exchange>]` with x-expires /
 * x-message-ttl / x-internal-purpose, and an internal auto-delete exchange `<queue> A|B` (type
 * x-federation-upstream with x-max-hops / x-downstream-name / x-downstream-vhost when the upstream
 * knows that type, else fanout — a Warren upstream answers 503 to the unknown type, as RabbitMQ's
 * link expects) bound to the queue. Every distinct (routing key, arguments) of the local exchange's
 * bindings is mirrored as an exchange-to-exchange binding upstream -> internal exchange, its
 * arguments carrying x-bound-from so bindings obey max-hops like messages do. The suffix alternates
 * A/B on each start so the new internal exchange has all its bindings before the old one goes.
 *
 * Deliveries are republished to the local exchange with their routing key and x-received-from
 * prepended, unless the message already made max-hops hops or already passed through this node
 * (rabbit_federation_util:should_forward, checked here too because a fanout upstream filters nothing).
 */
import { fieldNumber, fv, tableEquals, type FieldTable, type FieldValue } from '../core/field-value.js';
import { decodeDeliveryProperties, type ClientChannel, type Delivery } from './client-channel.js';
import { ClientConnection } from './amqp-client.js';
import { ClientError } from './client-error.js';
import { FederationLink, prependTableHeader, tableText, type LinkContext } from './federation-link.js';
import type { Upstream } from './federation-upstream.js';

const ROUTING_HEADER = 'x-received-from';
const BINDING_HEADER = 'x-bound-from';
const PURPOSE: FieldTable = [{ key: 'x-internal-purpose', value: fv.str('federation') }];

interface Bound { readonly key: string; readonly args: FieldTable; readonly upstreamArgs: FieldTable }

export class FederationExchangeLink extends FederationLink {
  private queue = '';
  private internal = '';
  private suffix = 'A';
  private bound: Bound[] = [];
  private syncing = false;

  constructor(ctx: LinkContext, vhost: string, exchange: string, upstream: Upstream, policy: string | undefined) {
    super(ctx, vhost, exchange, upstream, policy, 'exchange');
  }

  get kind(): 'exchange' { return 'exchange'; }
  get upstreamName(): string { return this.upstream.exchange ?? this.name; }

  protected async setUp(conn: ClientConnection, ch: ClientChannel): Promise<void> {
    const x = this.ctx.broker.vhosts.get(this.vhost)?.exchanges.get(this.name);
    if (x === undefined) throw new ClientError(`exchange '${this.name}' is gone`, 'connection');
    const ux = this.upstreamName;
    const cluster = this.ctx.clusterName();
    const uvhost = this.upstreamVhost;
    const downPart = uvhost === this.vhost ? (this.name === ux ? '' : `:${this.name}`) : `:${this.vhost}:${this.name}`;
    this.queue = `federation: ${ux} -> ${cluster}${downPart}`;
    // The upstream exchange: declared like ours when it does not exist yet.
    if (!(await exists(conn, (c) => c.checkExchange(ux)))) {
      await ch.declareExchange(ux, x.type, { durable: x.durable, autoDelete: x.autoDelete, internal: x.internal, arguments: x.args });
    }
    const args: FieldTable = [
      ...(this.upstream.expires === undefined ? [] : [{ key: 'x-expires', value: fv.long(Math.floor(this.upstream.expires)) }]),
      ...(this.upstream.messageTtl === undefined ? [] : [{ key: 'x-message-ttl', value: fv.long(Math.floor(this.upstream.messageTtl)) }]),
      ...PURPOSE,
    ];
    await ch.declareQueue(this.queue, { durable: true, arguments: args });
    // A/B: the previous start left "<queue> B" (RabbitMQ starts with B)? then A now.
    const old = (await exists(conn, (c) => c.checkExchange(`${this.queue} B`))) ? 'B' : 'A';
    this.suffix = old === 'A' ? 'B' : 'A';
    this.internal = `${this.queue} ${this.suffix}`;
    await disposable(conn, (c) => c.deleteExchange(this.internal));
    await this.declareInternal(conn, ch, cluster);
    await ch.bindQueue(this.queue, this.internal, '');
    this.bound = [];
    await this.syncBindings(ch);
    await disposable(conn, (c) => c.deleteExchange(`${this.queue} ${old}`));
    const noAck = this.upstream.ackMode === 'no-ack';
    if (!noAck) await ch.qos(this.upstream.prefetchCount);
    // basic.cancel (the upstream queue was deleted): restart the link, which declares it again.
    await ch.consume(this.queue, (d) => this.deliver(d), {
      noAck, onCancel: () => conn.destroy(new ClientError('basic.cancel from the upstream', 'connection')),
    });
  }

  /** x-federation-upstream when the upstream has it (a throwaway connection: 503 closes it), else fanout. */
  private async declareInternal(conn: ClientConnection, ch: ClientChannel, cluster: string): Promise<void> {
    const xfu: FieldTable = [
      { key: 'x-max-hops', value: fv.long(this.upstream.maxHops) },
      { key: 'x-downstream-name', value: fv.str(cluster) },
      { key: 'x-downstream-vhost', value: fv.str(this.vhost) },
      ...PURPOSE,
    ];
    const opts = { durable: true, internal: true, autoDelete: true };
    let probe: ClientConnection | undefined;
    try {
      probe = await ClientConnection.connect({ uri: this.currentUri, connectionName: 'Disposable exchange federation link connection', timeoutMs: 15_000 });
      const pc = await probe.openChannel();
      await pc.declareExchange(this.internal, 'x-federation-upstream', { ...opts, arguments: xfu });
      await probe.close().catch(() => undefined);
      return;
    } catch (e: unknown) {
      probe?.destroy();
      if (!(e instanceof ClientError) || e.code !== 503) throw e;
    }
    if (!conn.isOpen) throw new ClientError('upstream connection lost', 'connection');
    await ch.declareExchange(this.internal, 'fanout', { ...opts, arguments: PURPOSE });
  }

  tick(): void {
    const ch = this.ch;
    if (ch === undefined || this.status !== 'running' || this.syncing) return;
    this.syncing = true;
    this.syncBindings(ch).catch(() => undefined).finally(() => { this.syncing = false; });
  }

  /** Mirror the local exchange's distinct (key, args) bindings upstream; drop the ones gone. */
  private async syncBindings(ch: ClientChannel): Promise<void> {
    const x = this.ctx.broker.vhosts.get(this.vhost)?.exchanges.get(this.name);
    if (x === undefined) return;
    const want: { key: string; args: FieldTable }[] = [];
    for (const b of x.bindings) {
      if (!want.some((w) => w.key === b.routingKey && tableEquals(w.args, b.args))) want.push({ key: b.routingKey, args: b.args });
    }
    const ux = this.upstreamName;
    for (const w of want) {
      if (this.bound.some((b) => b.key === w.key && tableEquals(b.args, w.args))) continue;
      const upstreamArgs = this.updateBinding(w.args);
      if (upstreamArgs === undefined) continue;
      await ch.bindExchange(this.internal, ux, w.key, upstreamArgs);
      this.bound.push({ key: w.key, args: w.args, upstreamArgs });
    }
    for (const b of [...this.bound]) {
      if (want.some((w) => w.key === b.key && tableEquals(w.args, b.args))) continue;
      await ch.unbindExchange(this.internal, ux, b.key, b.upstreamArgs);
      this.bound.splice(this.bound.indexOf(b), 1);
    }
  }

  /**
   * The binding's arguments as sent upstream (rabbit_federation_exchange_link:update_binding): hops
   * counts down from the most restrictive max-hops passed; 0 (or a binding that already came from
   * the upstream) stops here.
   */
  private updateBinding(args: FieldTable): FieldTable | undefined {
    const prev = args.find((e) => e.key === BINDING_HEADER)?.value;
    let hops = this.upstream.maxHops;
    if (prev?.type === 'A' && prev.value.length > 0) {
      const first = prev.value[0]!;
      const prevHops = first.type === 'F' ? fieldNumber(first.value.find((e) => e.key === 'hops')?.value) ?? 0 : 0;
      hops = alreadySeen(this.upstreamCluster, this.upstreamVhost, prev.value) ? 0 : Math.min(prevHops - 1, this.upstream.maxHops);
    }
    if (hops <= 0) return undefined;
    const info: FieldTable = [
      { key: 'cluster-name', value: fv.str(this.ctx.clusterName()) },
      { key: 'vhost', value: fv.str(this.vhost) },
      { key: 'exchange', value: fv.str(`${this.vhost}:${this.name} ${this.suffix}`) },
      { key: 'hops', value: { type: 's', value: hops } },
    ];
    return prependTableHeader(args, BINDING_HEADER, info);
  }

  private deliver(d: Delivery): void {
    const props = decodeDeliveryProperties(d.properties);
    const received = props.headers?.find((e) => e.key === ROUTING_HEADER)?.value;
    if (received?.type === 'A' && (received.value.length >= this.upstream.maxHops
      || alreadySeen(this.ctx.clusterName(), this.vhost, received.value))) {
      // Drop it, but acknowledge it (rabbit_federation_link_util:forward).
      if (this.upstream.ackMode !== 'no-ack') this.ch?.ack(d.deliveryTag);
      return;
    }
    const entry: FieldTable = [
      { key: 'uri', value: fv.str(this.displayUri) },
      { key: 'exchange', value: fv.str(this.name) },
      { key: 'redelivered', value: fv.bool(d.redelivered) },
      ...(this.upstreamCluster === undefined ? [] : [{ key: 'cluster-name', value: fv.str(this.upstreamCluster) }]),
      { key: 'vhost', value: fv.str(this.upstreamVhost) },
    ];
    props.headers = prependTableHeader(props.headers, ROUTING_HEADER, entry);
    this.republish(d, props, this.name, d.routingKey);
  }

  protected async cleanUp(conn: ClientConnection): Promise<void> {
    if (this.queue === '') return;
    await disposable(conn, (c) => c.deleteQueue(this.queue));
    await disposable(conn, (c) => c.deleteExchange(this.internal));
  }
}

/** Whether a header array holds this node (cluster-name + vhost) already (rabbit_federation_util:already_seen). */
function alreadySeen(cluster: string | undefined, vhost: string, list: readonly FieldValue[]): boolean {
  if (cluster === undefined) return false;
  return list.some((v) => v.type === 'F' && tableText(v.value, 'cluster-name') === cluster && tableText(v.value, 'vhost') === vhost);
}

/** Run one request on a throwaway channel (a failure closes only that channel); true when it succeeded. */
async function exists(conn: ClientConnection, f: (c: ClientChannel) => Promise<unknown>): Promise<boolean> {
  const c = await conn.openChannel();
  try {
    await f(c);
    return true;
  } catch (e: unknown) {
    if (e instanceof ClientError && e.scope === 'channel' && e.code === 404) return false;
    throw e;
  } finally {
    if (c.isOpen) await c.close().catch(() => undefined);
  }
}

/** A request whose failure does not matter (deleting what may not exist). */
async function disposable(conn: ClientConnection, f: (c: ClientChannel) => Promise<unknown>): Promise<void> {
  const c = await conn.openChannel();
  try {
    await f(c);
  } catch {
    // ignored, as rabbit_federation_link_util:disposable_channel_call does
  } finally {
    if (c.isOpen) await c.close().catch(() => undefined);
  }
}

export { exists as upstreamExists, disposable as disposableCall };
