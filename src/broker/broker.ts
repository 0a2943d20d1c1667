/**
 * The broker model root: virtual hosts, users, the memory meter shared by all queues, and the
 * persistence bridge (absent only in pure in-memory unit tests). Socket-free; the server talks to
 * it, the CLI builds it from a typed config.
 */
import type { Logger } from 'pino';
import { exportDefinitions, importDefinitions } from './definitions-codec.js';
import { DelayedDelivery } from './delayed-delivery.js';
import { MemoryMeter } from './memory-meter.js';
import type { Persistence } from './persistence.js';
import type { Policy } from './policy.js';
import { UserStore } from './user-store.js';
import { Vhost } from './vhost.js';

export interface BrokerConfig {
  /** Bytes of held messages above which publishers are blocked. */
  memoryHighWatermark: number;
  /** Bytes of held messages above which queues page new messages out to disk. */
  pagingThreshold: number;
  /** Users created at first start (RabbitMQ's guest/guest). */
  defaultUser: { name: string; password: string } | undefined;
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
  readonly users = new UserStore();
  readonly meter: MemoryMeter;

  constructor(readonly config: BrokerConfig, readonly persistence?: Persistence) {
    this.meter = new MemoryMeter(config.memoryHighWatermark);
    if (persistence !== undefined) persistence.exportDefinitions = () => exportDefinitions(this);
    this.addVhost(config.defaultVhost);
    if (config.defaultUser !== undefined) {
      this.users.add(config.defaultUser.name, config.defaultUser.password, ['administrator']);
    }
  }

  addVhost(name: string): Vhost {
    let v = this.vhosts.get(name);
    if (v === undefined) {
      v = new Vhost(name, this.meter, this.persistence, this.config.policies);
      const p = this.persistence;
      if (p !== undefined) v.listener = { definitionsChanged: () => p.definitionsChanged() };
      this.vhosts.set(name, v);
    }
    return v;
  }

  /** Stop timers (delayed deliveries). */
  close(): void {
    for (const v of this.vhosts.values()) v.delayed.stop();
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
      importDefinitions(this, defs);
      p.definitionsLoaded();
    }
    const live = new Set<string>();
    const stored = new Set(p.store.queueNames());
    const transientPaged = p.takeTransientPaged();
    let messages = 0;
    for (const v of this.vhosts.values()) {
      for (const x of v.exchanges.values()) {
        if (!x.delayed || !x.durable) continue;
        const key = DelayedDelivery.storeKey(x);
        live.add(key);
        if (stored.has(key)) v.delayed.recover(x, p.store.queue(key));
      }
      for (const q of v.queues.values()) {
        live.add(q.storeKey);
        if (stored.has(q.storeKey)) {
          const index = p.store.queue(q.storeKey);
          q.recover(index, transientPaged.has(q.storeKey));
          messages += index.count;
        }
      }
    }
    for (const key of stored) if (!live.has(key)) p.store.deleteQueue(key);
    logger.info({ queues: live.size, messages }, 'recovered durable state');
  }
}
