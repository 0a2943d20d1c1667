/**
 * The broker model root: virtual hosts, users, the memory meter shared by all queues, and the
 * persistence bridge (absent only in pure in-memory unit tests). Socket-free; the server talks to
 * it, the CLI builds it from a typed config.
 *
 * The control plane's state lives here too, each part in its own store: permissions, runtime
 * parameters (with policies, operator policies and vhost limits as components), vhost metadata,
 * and the registry of open connections. Every change to any of them is durable the way a durable
 * declare is: it is journaled as a typed change record (definitionsChanged, before it is applied),
 * and callers that must answer only once it is durable wait with `afterDefinitionsSaved` (the
 * management API does, as the AMQP channel does for declare-ok).
 */
import type { Logger } from 'pino';
import type { DefinitionChange } from '../store/definition-changes.js';
import type { Definitions } from '../store/definitions.js';
import { UNRESTRICTED } from './access-control.js';
import { ConnectionRegistry } from './connection-registry.js';
import { ConnectionTracking } from './connection-tracking.js';
import { exportDefinitions, importDefinitions } from './definitions-codec.js';
import { vhostDefinition } from './definitions-control.js';
import { DirectReplyTo } from './direct-reply-to.js';
import { MemoryMeter } from './memory-meter.js';
import { ParameterStore } from './parameters.js';
import { PermissionStore } from './permission-store.js';
import type { DurableWaiter, Persistence } from './persistence.js';
import type { Policy } from './policy.js';
import { applyPolicies, asDefinitionChange, PolicyStore } from './policy-store.js';
import { BrokerStatistics } from './statistics.js';
import { registerSampleSources } from './statistics-sources.js';
import { UserStore } from './user-store.js';
import { Vhost } from './vhost.js';
import { VhostLimits } from './vhost-limits.js';

/** What RabbitMQ keeps about a vhost besides its contents (rabbit_vhost metadata). */
export interface VhostMetadata {
  description: string;
  tags: string[];
  /** x-queue-type for queues declared without one (stored; RabbitMQ 3.10 ignores it too). */
  defaultQueueType?: string;
  tracing: boolean;
}

export interface BrokerConfig {
  /** Bytes of held messages above which publishers are blocked. */
  memoryHighWatermark: number;
  /** Bytes of held messages above which queues page new messages out to disk. */
  pagingThreshold: number;
  /** Users created at first start (RabbitMQ's guest/guest, tagged administrator unless default_user_tags says otherwise). */
  defaultUser: { name: string; password: string; tags?: readonly string[] } | undefined;
  /** Users allowed to log in only from loopback addresses (RabbitMQ's loopback_users). */
  loopbackUsers: readonly string[];
  defaultVhost: string;
  /** Policies applied to queues and exchanges by name pattern. */
  policies: readonly Policy[];
  /** Consumer acknowledgement timeout in ms (RabbitMQ's consumer_timeout, 30 minutes); 0 disables. */
  consumerTimeout: number;
}

export const DEFAULT_BROKER_CONFIG: BrokerConfig = {
  memoryHighWatermark: 1024 * 1024 * 1024,
  pagingThreshold: 64 * 1024 * 1024,
  defaultUser: { name: 'guest', password: 'guest' },
  loopbackUsers: ['guest'],
  defaultVhost: '/',
  policies: [],
  consumerTimeout: 30 * 60 * 1000,
};

export class Broker {
  readonly vhosts = new Map<string, Vhost>();
  readonly vhostMetadata = new Map<string, VhostMetadata>();
  readonly users = new UserStore();
  readonly permissions = new PermissionStore();
  readonly parameters = new ParameterStore((name) => this.vhosts.has(name));
  readonly policies = new PolicyStore(this.parameters);
  readonly limits = new VhostLimits(this.parameters);
  /** Open connections per vhost and user, channels per user: connection and channel limits, vhost access. */
  readonly tracking = new ConnectionTracking((name) => this.vhosts.has(name), this.limits, this.users, this.permissions);
  /** Direct reply-to consumers (amq.rabbitmq.reply-to), registered by the server's channels. */
  readonly directReplyTo = new DirectReplyTo();
  /** Open connections, registered by the server; read and closed by management. */
  readonly connections = new ConnectionRegistry();
  readonly meter: MemoryMeter;
  /** Message statistics, churn counters and the rates sampler (management and Prometheus read them). */
  readonly statistics = new BrokerStatistics();

  constructor(readonly config: BrokerConfig, readonly persistence?: Persistence) {
    this.meter = new MemoryMeter(config.memoryHighWatermark);
    registerSampleSources(this);
    if (persistence !== undefined) persistence.exportDefinitions = () => exportDefinitions(this);
    this.addVhost(config.defaultVhost);
    if (config.defaultUser !== undefined) {
      this.users.add(config.defaultUser.name, config.defaultUser.password, [...(config.defaultUser.tags ?? ['administrator'])]);
      // RabbitMQ's default_permissions for the default user in the default vhost.
      this.permissions.restore({ user: config.defaultUser.name, vhost: config.defaultVhost, configure: '.*', write: '.*', read: '.*' });
    }
    this.policies.onVhostPoliciesChanged = (vhost) => {
      const v = this.vhosts.get(vhost);
      if (v !== undefined) applyPolicies(v, this.policies);
    };
    // Before the stores report changes: nothing is saved until recovery has loaded what is stored.
    this.applyConfigPolicies();
    const changed = (c: DefinitionChange) => this.definitionsChanged(c);
    this.users.onChange = changed;
    this.permissions.onChange = changed;
    this.parameters.onChange = (c) => this.definitionsChanged(asDefinitionChange(c));
  }

  addVhost(name: string): Vhost {
    let v = this.vhosts.get(name);
    if (v === undefined) {
      v = new Vhost(name, this.meter, this.persistence, []);
      v.policyResolver = this.policies;
      v.queueLimit = () => this.limits.limit(name, 'max-queues');
      v.statistics = this.statistics;
      v.publisher.replyTo = this.directReplyTo;
      const p = this.persistence;
      if (p !== undefined) v.listener = { definitionsChanged: (c) => p.definitionsChanged(c) };
      this.vhosts.set(name, v);
      if (!this.vhostMetadata.has(name)) this.vhostMetadata.set(name, { description: '', tags: [], tracing: false });
    }
    return v;
  }

  // ---- control plane: vhost lifecycle --------------------------------------------------------

  /**
   * Create a vhost, or update the metadata of an existing one (PUT /api/vhosts/{name}); true when
   * created. `grantTo` gets full permissions in a new vhost, as the management API grants its caller.
   */
  putVhost(name: string, metadata: VhostMetadata, grantTo?: string): boolean {
    const created = !this.vhosts.has(name);
    const old = this.vhostMetadata.get(name);
    this.vhostMetadata.set(name, { ...metadata, tags: [...metadata.tags] });
    try {
      this.definitionsChanged({ op: 'put', kind: 'vhosts', value: vhostDefinition(this, name) });
    } catch (e: unknown) {
      if (old === undefined) this.vhostMetadata.delete(name);
      else this.vhostMetadata.set(name, old);
      throw e;
    }
    this.addVhost(name);
    if (created && grantTo !== undefined && this.users.get(grantTo) !== undefined) {
      this.permissions.set({ user: grantTo, vhost: name, configure: '.*', write: '.*', read: '.*' });
    }
    return created;
  }

  /**
   * Delete a vhost and everything in it, durably: its connections are closed with 320, its queues
   * (with their messages), exchanges, bindings, policies, parameters and permissions go.
   * False when there was no such vhost.
   */
  deleteVhost(name: string): boolean {
    const v = this.vhosts.get(name);
    if (v === undefined) return false;
    this.connections.closeWhere((c) => c.vhost === name, `vhost '${name}' is deleted`);
    for (const q of [...v.queues.values()]) v.removeQueue(q);
    for (const x of [...v.exchanges.values()]) {
      if (x.name !== '' && !x.name.startsWith('amq.')) v.deleteExchange(x.name, false, UNRESTRICTED);
    }
    v.delayed.stop();
    v.retries.stop();
    v.halfMessages.stop();
    // Its counts stay in the broker's totals.
    this.statistics.retiredVhosts.add(v.stats);
    this.vhosts.delete(name);
    this.vhostMetadata.delete(name);
    this.parameters.clearVhost(name);
    this.permissions.forget({ vhost: name });
    this.definitionsChanged({ op: 'delete', kind: 'vhosts', value: { name } });
    return true;
  }

  /**
   * Delete a user and its permissions; its open connections are closed with 320 "user 'x' is
   * deleted", as rabbit_connection_tracking does on user_deleted.
   */
  deleteUser(name: string): boolean {
    if (this.users.get(name) === undefined) return false;
    this.permissions.forget({ user: name });
    const deleted = this.users.delete(name);
    this.connections.closeWhere((c) => c.user === name, `user '${name}' is deleted`);
    return deleted;
  }

  // ---- durability of control-plane changes ---------------------------------------------------

  /**
   * A durable definition is about to change: journal its typed record (DefinitionChange: put or
   * delete of one entry of a definitions.json list). Call it BEFORE applying the change: it throws
   * an AmqpError (406) when the change cannot be stored, and the change must then not be applied.
   * Wait for durability with afterDefinitionsSaved before answering.
   */
  definitionsChanged(change: DefinitionChange): void {
    this.persistence?.definitionsChanged(change);
  }

  /** Resolves once every change made so far is saved (at once without persistence). */
  afterDefinitionsSaved(): Promise<void> {
    const p = this.persistence;
    if (p === undefined) return Promise.resolve();
    return new Promise((resolve, reject) => p.afterDefinitionsSaved((err) => (err === null ? resolve() : reject(err))));
  }

  private dropDefaultsMissingFrom(defs: Definitions): void {
    const user = this.config.defaultUser?.name;
    if (user !== undefined) {
      if (!defs.users.some((u) => u.name === user)) this.deleteUser(user);
      else this.permissions.forget({ user });
    }
    const vhost = this.config.defaultVhost;
    if (!defs.vhosts.some((v) => v.name === vhost)) this.deleteVhost(vhost);
  }

  /**
   * Policies from configuration (`--policies`) are set at every start, over any saved policy of the
   * same name, as a definitions file loaded at boot is in RabbitMQ. Policies of vhosts that do not
   * exist (yet) are skipped here and set after recovery.
   */
  private applyConfigPolicies(logger?: Logger): void {
    for (const p of this.config.policies) {
      const vhost = p.vhost ?? '/';
      if (!this.vhosts.has(vhost)) {
        if (logger !== undefined) logger.warn({ policy: p.name, vhost }, 'policy for a vhost that does not exist: ignored');
        continue;
      }
      this.policies.put('policy', vhost, p.name, {
        pattern: p.pattern, definition: { ...p.definition }, priority: p.priority, 'apply-to': p.applyTo,
      });
    }
  }

  /** Stop timers (delayed deliveries). */
  close(): void {
    for (const v of this.vhosts.values()) {
      v.delayed.stop();
      v.retries.stop();
      v.halfMessages.stop();
    }
    this.statistics.sampler.stop();
  }

  /**
   * Tell `w` once every store write made so far is durable (or failed): publisher confirms and
   * tx.commit wait for the position a PublishResult names. Registrations in one turn share one fsync.
   */
  whenDurable(w: DurableWaiter): void {
    this.persistence?.whenDurable(w);
  }

  isLoopbackOnly(user: string): boolean {
    return this.config.loopbackUsers.includes(user);
  }

  /**
   * Rebuild the durable model after a restart: definitions, then each durable queue's entries
   * (left paged on disk, read back as consumers need them). Store indexes of queues that did not
   * survive (transient, exclusive) are dropped.
   */
  async recover(logger: Logger): Promise<void> {
    const p = this.persistence;
    if (p === undefined) return;
    const defs = await p.store.loadDefinitions();
    if (defs !== undefined) {
      // Warren's own saved definitions replace the first-start defaults (a deleted guest or '/'
      // stays deleted); a foreign file placed in the data dir is imported on top of them.
      p.definitionsLoading(); // what is being restored is journaled already
      try {
        if (defs.product_name === 'Warren') this.dropDefaultsMissingFrom(defs);
        importDefinitions(this, defs);
      } finally {
        p.definitionsLoaded();
      }
    } else {
      // First start: the defaults become a snapshot at once, so that from now on the data directory
      // says what it holds (a default deleted later stays deleted; see dropDefaultsMissingFrom).
      await p.store.saveDefinitions(exportDefinitions(this));
    }
    if (this.config.policies.length > 0) this.applyConfigPolicies(logger);
    const live = new Set<string>();
    const stored = new Set(p.store.queueNames());
    const transientPaged = p.takeTransientPaged();
    let messages = 0;
    for (const v of this.vhosts.values()) {
      for (const x of v.exchanges.values()) {
        if (x.transactional && x.durable) {
          // Pending half messages: one index per exchange.
          const key = v.halfMessages.storeKey(x);
          if (stored.has(key)) {
            live.add(key);
            v.halfMessages.recover(x, p.store.queue(key));
          }
          continue;
        }
        if (!x.delayed || !x.durable) continue;
        // The exchange's single index (older versions) and its lanes (one per delay).
        const prefix = v.delayed.storeKey(x);
        const keys = [...stored].filter((k) => k === prefix || k.startsWith(`${prefix}\u0000`));
        for (const k of keys) live.add(k);
        if (keys.length > 0) v.delayed.recover(x, keys, (k) => p.store.queue(k), (k) => transientPaged.has(k));
      }
      // Delayed retries: stored keys grouped by queue (one pass, not one scan per queue).
      const retryKeys = new Map<string, string[]>();
      for (const k of stored) {
        if (!k.startsWith(v.retries.keyPrefix)) continue;
        const lane = k.lastIndexOf('\u0000d');
        const base = lane > v.retries.keyPrefix.length && /^\d+$/.test(k.slice(lane + 2)) ? k.slice(0, lane) : k;
        const list = retryKeys.get(base);
        if (list === undefined) retryKeys.set(base, [k]);
        else list.push(k);
      }
      for (const q of v.queues.values()) {
        const keys = q.durable ? retryKeys.get(v.retries.storeKey(q)) : undefined;
        if (keys !== undefined) {
          for (const k of keys) live.add(k);
          v.retries.recover(q, keys, (k) => p.store.queue(k), (k) => transientPaged.has(k));
        }
      }
      for (const q of v.queues.values()) {
        // One index per priority level (level 0 under the queue's own key).
        let found = false;
        for (const key of q.backing.storeKeys()) {
          live.add(key);
          if (stored.has(key)) found = true;
        }
        if (!found) continue;
        q.recover((key) => (stored.has(key) ? p.store.queue(key) : undefined), (key) => transientPaged.has(key));
        messages += q.messageCount;
      }
    }
    for (const key of stored) if (!live.has(key)) p.store.deleteQueue(key);
    // Streams whose queue is gone (deleted just before a crash) go too.
    for (const key of p.store.streamNames()) if (!live.has(key)) p.store.deleteStream(key);
    logger.info({ queues: live.size, messages }, 'recovered durable state');
  }
}
