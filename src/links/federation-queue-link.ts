/**
 * A federated queue's link to one upstream (rabbit_federation_queue_link): the upstream queue is
 * declared like the local one (durable, auto-delete, arguments) and consumed with x-priority -1
 * (so the upstream's own consumers come first; the upstream must announce consumer_priorities)
 * only while there is demand here: the local queue has a consumer of priority >= 0 and is empty
 * (rabbit_federation_queue: run / pause). Deliveries are republished to the local queue through
 * the default exchange, with x-received-from prepended (uri, virtual_host, queue, redelivered,
 * visit-count), the first hop recording x-original-exchange / x-original-routing-key and CC moved
 * to x-original-cc. Queue federation has no hop limit: a message may move back and forth.
 *
 * Demand is read by the supervisor's tick (a few times a second), never from the publish path.
 */
import { fieldNumber, fv, type FieldTable, type FieldValue } from '../core/field-value.js';
import type { ClientConnection } from './amqp-client.js';
import { decodeDeliveryProperties, type ClientChannel, type Delivery } from './client-channel.js';
import { ClientError } from './client-error.js';
import { FederationLink, prependTableHeader, tableText, type LinkContext } from './federation-link.js';
import type { Upstream } from './federation-upstream.js';

const ROUTING_HEADER = 'x-received-from';

export class FederationQueueLink extends FederationLink {
  private consuming = false;
  private busy = false;

  constructor(ctx: LinkContext, vhost: string, queue: string, upstream: Upstream, policy: string | undefined) {
    super(ctx, vhost, queue, upstream, policy, 'queue');
  }

  get kind(): 'queue' { return 'queue'; }
  get upstreamName(): string { return this.upstream.queue ?? this.name; }
  get consumerTag(): string { return this.upstream.consumerTag ?? `federation-link-${this.upstream.name}`; }

  protected async setUp(conn: ClientConnection, ch: ClientChannel): Promise<void> {
    const q = this.ctx.broker.vhosts.get(this.vhost)?.queues.get(this.name);
    if (q === undefined) throw new ClientError(`queue '${this.name}' is gone`, 'connection');
    const caps = conn.serverProperties.find((e) => e.key === 'capabilities')?.value;
    const prio = caps?.type === 'F' ? caps.value.find((e) => e.key === 'consumer_priorities')?.value : undefined;
    if (prio?.type !== 't' || !prio.value) throw new ClientError('upstream_lacks_consumer_priorities', 'connection');
    await ch.declareQueue(this.upstreamName, { durable: q.durable, autoDelete: q.autoDelete, arguments: q.options.arguments });
    if (this.upstream.ackMode !== 'no-ack') await ch.qos(this.upstream.prefetchCount);
    this.consuming = false;
    this.tick();
  }

  /** Follow demand: consume upstream while local consumers wait on an empty queue, else cancel. */
  tick(): void {
    const ch = this.ch;
    if (ch === undefined || !ch.isOpen || this.busy) return;
    const q = this.ctx.broker.vhosts.get(this.vhost)?.queues.get(this.name);
    const demand = q !== undefined && q.messageCount === 0 && q.consumers.some((c) => c.priority >= 0);
    if (demand === this.consuming) return;
    this.busy = true;
    const op = demand
      ? ch.consume(this.upstreamName, (d) => this.deliver(d), {
        consumerTag: this.consumerTag, noAck: this.upstream.ackMode === 'no-ack',
        arguments: [{ key: 'x-priority', value: fv.int(-1) }],
        onCancel: () => this.restart(),
      })
      : ch.cancel(this.consumerTag);
    op.then(() => { this.consuming = demand; }, () => undefined).finally(() => { this.busy = false; });
  }

  /** basic.cancel from the upstream (its queue was deleted): drop the connection; the link reconnects. */
  private restart(): void {
    this.conn?.destroy(new ClientError('basic.cancel from the upstream', 'connection'));
  }

  private deliver(d: Delivery): void {
    const props = decodeDeliveryProperties(d.properties);
    let headers: FieldTable = props.headers ?? [];
    const been = headers.find((e) => e.key === ROUTING_HEADER)?.value;
    const info: FieldTable = [
      { key: 'uri', value: fv.str(this.displayUri) },
      { key: 'virtual_host', value: fv.str(this.upstreamVhost) },
      { key: 'queue', value: fv.str(this.upstreamName) },
    ];
    let count = 0;
    if (been?.type === 'A') {
      // update_visit_count: take this upstream's previous entry out, counting its visits.
      const rest: FieldValue[] = [];
      for (const v of been.value) {
        if (v.type === 'F' && ['uri', 'virtual_host', 'queue'].every((k) => tableText(v.value, k) === tableText(info, k))) {
          count = fieldNumber(v.value.find((e) => e.key === 'visit-count')?.value) ?? 0;
        } else {
          rest.push(v);
        }
      }
      headers = headers.map((e) => (e.key === ROUTING_HEADER ? { key: e.key, value: { type: 'A', value: rest } } : e));
    } else {
      headers = [...headers.filter((e) => e.key !== 'x-original-exchange' && e.key !== 'x-original-routing-key'),
        { key: 'x-original-exchange', value: fv.str(d.exchange) },
        { key: 'x-original-routing-key', value: fv.str(d.routingKey) }];
    }
    headers = headers.map((e) => (e.key === 'CC' ? { key: 'x-original-cc', value: e.value } : e));
    props.headers = prependTableHeader(headers, ROUTING_HEADER,
      [...info, { key: 'redelivered', value: fv.bool(d.redelivered) }, { key: 'visit-count', value: fv.long(count + 1) }]);
    this.republish(d, props, '', this.name);
  }

  protected async cleanUp(): Promise<void> {
    // The upstream queue is the user's own: never deleted (RabbitMQ leaves it too).
  }
}
