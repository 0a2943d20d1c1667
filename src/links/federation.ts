/**
 * Federation, built in (RabbitMQ's rabbitmq_federation plugin, configured the same way): registers
 * the runtime-parameter components `federation-upstream` and `federation-upstream-set` and the
 * policy keys, and keeps one link per (federated exchange or queue, upstream) running: an exchange
 * or queue is federated when the policy that applies to it names upstreams. A reconcile pass starts
 * the links that should exist and stops the others (the exchange, queue, policy or upstream went, or
 * the upstream's definition changed: that link restarts with the new one); it runs right after a
 * federation parameter changes and every second, which also catches policy changes and deletions.
 * A faster tick lets each link follow its local state (exchange bindings to mirror, queue demand).
 *
 * Invariants: with no `federation-upstream` parameter in any vhost the passes cost one map lookup;
 * nothing here runs on the publish path; close() stops every link without removing anything
 * upstream (an edge restart must not drop what the upstream queue buffers meanwhile), while a link
 * stopped because its policy or upstream went removes its upstream queue and internal exchange.
 */
import type { Broker } from '../broker/broker.js';
import { invalid } from '../broker/control-error.js';
import type { RuntimeParameter } from '../broker/parameters.js';
import { fieldString, tableGet } from '../core/field-value.js';
import { FederationExchangeLink } from './federation-exchange-link.js';
import type { FederationLink, LinkContext } from './federation-link.js';
import { FederationQueueLink } from './federation-queue-link.js';
import {
  checkPolicyDefinition, POLICY_KEY_CHECKS, UPSTREAM_COMPONENT, UPSTREAM_SET_COMPONENT, upstreamsFor,
  validateUpstream, validateUpstreamSet, type UpstreamSource,
} from './federation-upstream.js';

type JsonValue = RuntimeParameter['value'];

const RECONCILE_MS = 1000;
const TICK_MS = 200;

interface Entry { readonly link: FederationLink; readonly config: string }

/** One row of /api/federation-links (rabbit_federation_mgmt's format). */
export type FederationLinkStatus = Record<string, string | number | boolean>;

export class Federation {
  private readonly links = new Map<string, Entry>();
  private readonly reconcileTimer: NodeJS.Timeout;
  private readonly tickTimer: NodeJS.Timeout;
  private scheduled = false;
  private closed = false;
  private readonly source: UpstreamSource;

  constructor(private readonly broker: Broker, private readonly ctx: LinkContext) {
    const params = broker.parameters;
    this.source = {
      upstream: (vhost, name) => params.get(UPSTREAM_COMPONENT, vhost, name)?.value,
      upstreamSet: (vhost, name) => params.get(UPSTREAM_SET_COMPONENT, vhost, name)?.value,
      upstreamNames: (vhost) => params.list(UPSTREAM_COMPONENT, vhost).map((p) => p.name),
    };
    for (const [key, check] of POLICY_KEY_CHECKS) broker.policies.registerKey(key, check);
    broker.policies.registerDefinitionCheck(checkPolicyDefinition);
    const component = (validate: (name: string, v: JsonValue) => string[]) => ({
      validate: (_vhost: string, name: string, value: JsonValue) => {
        const errors = validate(name, value);
        if (errors.length > 0) throw invalid(errors.join('\n'));
      },
      changed: () => this.schedule(),
    });
    params.registerComponent(UPSTREAM_COMPONENT, component(validateUpstream));
    params.registerComponent(UPSTREAM_SET_COMPONENT, component(validateUpstreamSet));
    this.reconcileTimer = setInterval(() => this.reconcile(), RECONCILE_MS);
    this.reconcileTimer.unref();
    this.tickTimer = setInterval(() => { for (const e of this.links.values()) e.link.tick(); }, TICK_MS);
    this.tickTimer.unref();
    this.schedule();
  }

  /** Reconcile soon (coalesced): a parameter changed. */
  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.reconcile();
    });
  }

  /** Start the links policies ask for, stop the rest. */
  reconcile(): void {
    if (this.closed) return;
    const want = new Map<string, { make: () => FederationLink; config: string }>();
    if (this.broker.parameters.list(UPSTREAM_COMPONENT).length > 0) {
      for (const v of this.broker.vhosts.values()) {
        if (this.broker.parameters.list(UPSTREAM_COMPONENT, v.name).length === 0) continue;
        for (const x of v.exchanges.values()) {
          if (x.name === '' || isInternalPurpose(x.args)) continue;
          const e = this.broker.policies.effective(v.name, x.name, 'exchanges');
          for (const u of upstreamsFor(e.definition, v.name, this.source)) {
            want.set(`exchange\u0000${v.name}\u0000${x.name}\u0000${u.name}`, {
              config: JSON.stringify(u),
              make: () => new FederationExchangeLink(this.ctx, v.name, x.name, u, e.policy?.name),
            });
          }
        }
        for (const q of v.queues.values()) {
          if (isInternalPurpose(q.options.arguments) || q.exclusive) continue;
          const e = this.broker.policies.effective(v.name, q.name, 'queues');
          for (const u of upstreamsFor(e.definition, v.name, this.source)) {
            want.set(`queue\u0000${v.name}\u0000${q.name}\u0000${u.name}`, {
              config: JSON.stringify(u),
              make: () => new FederationQueueLink(this.ctx, v.name, q.name, u, e.policy?.name),
            });
          }
        }
      }
    }
    for (const [key, entry] of this.links) {
      const w = want.get(key);
      if (w !== undefined && w.config === entry.config) continue;
      this.links.delete(key);
      void entry.link.stop(true);
    }
    for (const [key, w] of want) {
      if (this.links.has(key)) continue;
      const link = w.make();
      this.links.set(key, { link, config: w.config });
      link.start();
    }
  }

  /** /api/federation-links rows, optionally of one vhost. */
  status(vhost?: string): FederationLinkStatus[] {
    const out: FederationLinkStatus[] = [];
    for (const { link } of this.links.values()) {
      if (vhost !== undefined && link.vhost !== vhost) continue;
      const row: FederationLinkStatus = { node: this.ctx.nodeName };
      if (link instanceof FederationQueueLink) {
        row['queue'] = link.name;
        row['upstream_queue'] = link.upstreamName;
        row['consumer_tag'] = link.consumerTag;
      } else {
        row['exchange'] = link.name;
        row['upstream_exchange'] = link.upstreamName;
      }
      Object.assign(row, {
        type: link.kind, vhost: link.vhost, upstream: link.upstream.name, id: link.id, status: link.status,
        ...(link.error === undefined ? {} : { error: link.error }),
        ...(link.status === 'running' ? { local_connection: `Federation link (upstream: ${link.upstream.name})` } : {}),
        uri: link.displayUri,
        timestamp: new Date(link.timestamp).toISOString().replace('T', ' ').slice(0, 19),
      });
      out.push(row);
    }
    return out;
  }

  /** Stop every link, leaving the upstream side as it is (see the header). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reconcileTimer);
    clearInterval(this.tickTimer);
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((e) => e.link.stop(false)));
  }
}

function isInternalPurpose(args: readonly { key: string }[] & Parameters<typeof tableGet>[0]): boolean {
  return fieldString(tableGet(args, 'x-internal-purpose')) !== undefined;
}
