/**
 * The broker model root: virtual hosts, users, and the memory meter shared by all queues.
 * Socket-free; the server talks to it, the CLI builds it from a typed config.
 */
import { MemoryMeter } from './memory-meter.js';
import { UserStore } from './user-store.js';
import { Vhost } from './vhost.js';

export interface BrokerConfig {
  /** Bytes of held messages above which publishers are blocked. */
  memoryHighWatermark: number;
  /** Users created at first start (RabbitMQ's guest/guest). */
  defaultUser: { name: string; password: string } | undefined;
  /** Users allowed to log in only from loopback addresses (RabbitMQ's loopback_users). */
  loopbackUsers: readonly string[];
  defaultVhost: string;
}

export const DEFAULT_BROKER_CONFIG: BrokerConfig = {
  memoryHighWatermark: 512 * 1024 * 1024,
  defaultUser: { name: 'guest', password: 'guest' },
  loopbackUsers: ['guest'],
  defaultVhost: '/',
};

export class Broker {
  readonly vhosts = new Map<string, Vhost>();
  readonly users = new UserStore();
  readonly meter: MemoryMeter;

  constructor(readonly config: BrokerConfig) {
    this.meter = new MemoryMeter(config.memoryHighWatermark);
    this.addVhost(config.defaultVhost);
    if (config.defaultUser !== undefined) {
      this.users.add(config.defaultUser.name, config.defaultUser.password, ['administrator']);
    }
  }

  addVhost(name: string): Vhost {
    let v = this.vhosts.get(name);
    if (v === undefined) {
      v = new Vhost(name, this.meter);
      this.vhosts.set(name, v);
    }
    return v;
  }

  isLoopbackOnly(user: string): boolean {
    return this.config.loopbackUsers.includes(user);
  }
}
