/**
 * The dynamic shovels of a broker (RabbitMQ's rabbit_shovel_dyn_worker_sup_sup + rabbit_shovel_status):
 * registers the runtime parameter component `shovel` (validation in shovel-config.ts), runs one
 * ShovelWorker per parameter, replaces it when the parameter changes and stops it when the parameter
 * is cleared (or its vhost deleted). Parameters are durable with the definitions, so shovels come back
 * after a restart: the component is registered once the AMQP listener is up and the stored
 * parameters are replayed to it.
 *
 * Status (rabbit_shovel_mgmt's JSON): node, timestamp ("YYYY-MM-DD hh:mm:ss", local time of the last
 * state change), name, vhost, type "dynamic", state, and while running the source and destination
 * (src_uri, src_protocol, dest_protocol, dest_uri, src_queue | src_exchange + src_exchange_key,
 * dest_queue | dest_exchange + dest_exchange_key); `reason` when the last attempt failed.
 * Invariant: nothing a shovel does can throw into the broker (workers report, never throw).
 */
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { JsonValue } from '../broker/definitions-control.js';
import { SHOVEL_PARAMETER_COMPONENT } from '../broker/parameters.js';
import type { AmqpEndpoint } from './amqp-uri.js';
import { ShovelWorker } from './shovel.js';
import { parseShovel, validateShovel } from './shovel-config.js';

export const SHOVEL_COMPONENT = SHOVEL_PARAMETER_COMPONENT;

export interface ShovelsOptions {
  /** RabbitMQ-style node name for the status (warren@host). */
  readonly nodeName: string;
  /** `amqp://` (direct): this broker's listener, logged in as a user allowed in `vhost`. */
  readonly resolveDirect: (vhost: string) => AmqpEndpoint;
  readonly logger: Logger;
}

export type ShovelStatus = { [key: string]: string | number };

export class Shovels {
  private readonly workers = new Map<string, ShovelWorker>();
  private closed = false;

  constructor(private readonly broker: Broker, private readonly options: ShovelsOptions) {}

  /** Register the `shovel` component: stored shovels start now. */
  register(): void {
    this.broker.parameters.registerComponent(SHOVEL_COMPONENT, {
      validate: (_vhost, name, value) => validateShovel(name, value),
      changed: (vhost, name, value) => this.changed(vhost, name, value),
    });
  }

  private changed(vhost: string, name: string, value: JsonValue | undefined): void {
    const key = keyOf(vhost, name);
    const old = this.workers.get(key);
    if (old !== undefined) {
      this.workers.delete(key);
      void old.stop();
    }
    if (value === undefined || this.closed) return;
    const worker = new ShovelWorker(vhost, name, parseShovel(value), {
      resolveDirect: this.options.resolveDirect,
      clusterName: () => this.clusterName(),
      logger: this.options.logger,
      finished: (v, n) => this.finished(v, n),
    });
    this.workers.set(key, worker);
    worker.start();
  }

  /** src-delete-after reached: RabbitMQ deletes the shovel's parameter. */
  private finished(vhost: string, name: string): void {
    this.options.logger.info({ shovel: name, vhost }, 'shovel finished its work and is deleted');
    try {
      this.broker.parameters.clear(SHOVEL_COMPONENT, vhost, name);
    } catch (e) {
      this.options.logger.warn({ shovel: name, vhost, err: e }, 'could not delete the finished shovel');
    }
  }

  private clusterName(): string {
    const p = this.broker.parameters.getGlobal('cluster_name');
    return typeof p?.value === 'string' ? p.value : this.options.nodeName;
  }

  /** The worker of a shovel (tests read its counters). */
  worker(vhost: string, name: string): ShovelWorker | undefined {
    return this.workers.get(keyOf(vhost, name));
  }

  /** Every shovel's status, optionally of one vhost, ordered by vhost and name. */
  status(vhost?: string): ShovelStatus[] {
    const out: ShovelStatus[] = [];
    for (const w of this.workers.values()) {
      if (vhost !== undefined && w.vhost !== vhost) continue;
      out.push(this.statusOf(w));
    }
    return out.sort((a, b) => String(a['vhost']).localeCompare(String(b['vhost'])) || String(a['name']).localeCompare(String(b['name'])));
  }

  private statusOf(w: ShovelWorker): ShovelStatus {
    const s: ShovelStatus = {
      node: this.options.nodeName, timestamp: formatTimestamp(w.since), name: w.name, vhost: w.vhost, type: 'dynamic', state: w.state,
    };
    if (w.reason !== undefined) s['reason'] = w.reason;
    if (w.state === 'running') {
      const c = w.config;
      s['src_uri'] = w.displayUri('src');
      s['src_protocol'] = 'amqp091';
      s['dest_protocol'] = 'amqp091';
      s['dest_uri'] = w.displayUri('dest');
      if (c.srcQueue !== undefined) s['src_queue'] = c.srcQueue;
      else {
        s['src_exchange'] = c.srcExchange!;
        s['src_exchange_key'] = c.srcExchangeKey;
      }
      if (c.destQueue !== undefined) s['dest_queue'] = c.destQueue;
      if (c.destExchange !== undefined) s['dest_exchange'] = c.destExchange;
      if (c.destExchangeKey !== undefined) s['dest_exchange_key'] = c.destExchangeKey;
    }
    return s;
  }

  /** rabbit_shovel_util:restart_shovel: false when there is no such shovel. */
  restart(vhost: string, name: string): boolean {
    const p = this.broker.parameters.get(SHOVEL_COMPONENT, vhost, name);
    if (p === undefined || !this.workers.has(keyOf(vhost, name))) return false;
    this.options.logger.info({ shovel: name, vhost }, 'shovel will be restarted');
    this.changed(vhost, name, p.value);
    return true;
  }

  /** Stop every shovel (broker shutdown): their connections close, unacked messages stay at the source. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(all.map((w) => w.stop()));
  }
}

function keyOf(vhost: string, name: string): string {
  return `${vhost}\u0000${name}`;
}

function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
