/**
 * What every management route works with: the broker (its snapshots and operations), facts about
 * this node given by the composition root (names, versions, listeners, resource limits), the
 * message codec (properties <-> JSON, supplied by the CLI from protocol/, which management may not
 * import), and an optional statistics source (message_stats and rates, supplied by whoever keeps
 * the counters). Also the shared rules: which vhosts a user may see, and waiting for a change to
 * be saved before answering (as declare-ok waits).
 */
import { hostname } from 'node:os';
import { UserAccess } from '../broker/access-control.js';
import type { Broker } from '../broker/broker.js';
import type { ContentCodec } from '../broker/message.js';
import type { User } from '../broker/user-store.js';
import type { Vhost } from '../broker/vhost.js';
import type { JsonValue } from '../broker/definitions-control.js';
import { HttpError, notFound } from './http-error.js';
import type { ShovelStatusSource } from './link-status.js';
import type { StatisticsSource } from './statistics-source.js';

/** The basic properties as RabbitMQ's management JSON names them (all optional). */
export type PropertiesJson = { [key: string]: JsonValue };

/** Converts message properties between their wire bytes and RabbitMQ's management JSON. */
export interface MessageCodec {
  /** The codec Messages carry (header decoding, property rewriting). */
  readonly content: ContentCodec;
  /** Wire property bytes -> {content_type, headers, delivery_mode, ...}. */
  propertiesToJson(properties: Buffer): PropertiesJson;
  /** Validated JSON properties -> wire bytes, with what routing needs to know about them. */
  encodeProperties(p: PropertiesJson): EncodedProperties;
}

export interface EncodedProperties {
  properties: Buffer;
  deliveryMode: number;
  priority: number;
  expiration: string | undefined;
  headersStart: number;
  headersEnd: number;
}

export interface Listener {
  protocol: string;
  host: string;
  port: number;
}

/** Facts about this node the broker does not know (the CLI fills them in). */
export interface NodeInfo {
  /** RabbitMQ-style node name (warren@<host>). */
  name: string;
  /** product_name / product_version in the overview. */
  product: string;
  productVersion: string;
  /** The RabbitMQ version Warren presents itself as (rabbitmq_version, management_version). */
  rabbitmqVersion: string;
  /** Default cluster name (a global parameter `cluster_name` overrides it). */
  clusterName: string;
  /** ms since the epoch. */
  startedAt: number;
  /** AMQP (and other) listeners; the management listener adds itself. */
  listeners: Listener[];
  /** Free disk bytes now, undefined when unknown (memory store). */
  diskFree(): number | undefined;
  diskFreeLimit: number;
  /** Open file descriptors and their limit, undefined where the OS does not say. */
  fds(): { used: number | undefined; total: number | undefined };
  /** Whether loopback-only users (guest) may use the API from elsewhere. */
  allowRemoteLoopbackUsers: boolean;
  /** Largest message body a publish may carry (the AMQP listener's max_message_size); undefined: no limit. */
  maxMessageSize?: number;
  /** The process's log level, read and changed by PUT /api/warren/log-level; absent: no such route. */
  logLevel?: LogLevelControl;
}

/** Reads and changes the level of every logger of the process (the CLI builds it). */
export interface LogLevelControl {
  readonly levels: readonly string[];
  get(): string;
  set(level: string): void;
}

export function defaultNodeName(): string {
  return `warren@${hostname()}`;
}

export class ManagementApp {
  /** The federation links' rows for /api/federation-links (set by the CLI, which owns the links). */
  federationStatus: ((vhost?: string) => readonly Readonly<Record<string, unknown>>[]) | undefined;

  constructor(
    readonly broker: Broker,
    readonly node: NodeInfo,
    readonly codec: MessageCodec,
    public statistics: StatisticsSource | undefined,
  ) {}

  /** The shovels' status and restart (src/links, wired by the CLI); undefined: none run here. */
  shovels: ShovelStatusSource | undefined;

  static isAdmin(user: User): boolean {
    return user.tags.includes('administrator');
  }

  /**
   * rabbit_mgmt_util:is_authorized_vhost, for routes naming a vhost: administrators, and users with
   * a permission entry in it (monitoring users see every vhost in listings, but act only in these).
   */
  canUseVhost(user: User, vhost: string): boolean {
    return user.tags.includes('administrator') || this.broker.permissions.get(user.name, vhost) !== undefined;
  }

  /**
   * rabbit_access_control:check_vhost_access, as the API's internal AMQP connection (publish, get)
   * meets it: a permission entry in the vhost, whatever the user's tags.
   */
  canOpenVhost(user: User, vhost: string): boolean {
    return this.broker.permissions.get(user.name, vhost) !== undefined;
  }

  /** Administrators and monitoring users see every vhost; others the vhosts they have permissions in. */
  canSeeVhost(user: User, vhost: string): boolean {
    if (user.tags.includes('administrator') || user.tags.includes('monitoring')) return true;
    return this.broker.permissions.get(user.name, vhost) !== undefined;
  }

  visibleVhosts(user: User): Vhost[] {
    return [...this.broker.vhosts.values()].filter((v) => this.canSeeVhost(user, v.name));
  }

  /** The vhosts a list covers: one (404 if missing) or every visible one. */
  vhostsFor(user: User, vhost: string | undefined): Vhost[] {
    if (vhost === undefined) return this.visibleVhosts(user);
    return [this.vhost(vhost)];
  }

  /**
   * The user's permissions in a vhost, for the broker operations a request runs: the same checks
   * an AMQP channel of that user makes (RabbitMQ runs them through rabbit_channel too).
   */
  access(user: User, vhost: string): UserAccess {
    return new UserAccess(this.broker.permissions, user.name, vhost);
  }

  /** The vhost, or 404 Object Not Found. */
  vhost(name: string): Vhost {
    const v = this.broker.vhosts.get(name);
    if (v === undefined) throw notFound();
    return v;
  }

  /** The vhost a write goes to, or 404 vhost_not_found (RabbitMQ's answer to a PUT into no vhost). */
  vhostForWrite(name: string): Vhost {
    const v = this.broker.vhosts.get(name);
    if (v === undefined) throw new HttpError(404, 'not_found', 'vhost_not_found');
    return v;
  }

  clusterName(): string {
    const p = this.broker.parameters.getGlobal('cluster_name')?.value;
    return typeof p === 'string' ? p : this.node.clusterName;
  }

  /** Resolves once the changes made so far are saved (a durable change answers after this). */
  saved(): Promise<void> {
    return this.broker.afterDefinitionsSaved();
  }
}
