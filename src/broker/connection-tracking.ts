/**
 * Who is connected where: open connections per vhost and per user, open channels per user
 * (RabbitMQ's rabbit_connection_tracking and rabbit_channel_tracking), and the checks that use
 * them, with rabbit_reader's codes and texts (530 NOT_ALLOWED, a connection error):
 * - connection.open (`admit`), in rabbit_reader's order: the vhost's max-connections (an unknown
 *   vhost is "vhost X not found" here), the user's max-connections, then access to the vhost (a
 *   permission entry in it);
 * - channel.open (`admitChannel`): the user's max-channels, across all the user's connections.
 * A limit of 0 refuses everything; a negative limit, or none, refuses nothing.
 * Invariant: every successful admit is paired with one `release` (and admitChannel with
 * `releaseChannel`) by the server when the connection (channel) goes, so the counts are exact.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { canAccessVhost } from './access-control.js';
import type { PermissionStore } from './permission-store.js';
import type { UserStore } from './user-store.js';
import type { VhostLimits } from './vhost-limits.js';

export class ConnectionTracking {
  private readonly perVhost = new Map<string, number>();
  private readonly perUser = new Map<string, number>();
  private readonly channelsPerUser = new Map<string, number>();

  constructor(
    private readonly vhostExists: (name: string) => boolean,
    private readonly limits: VhostLimits,
    private readonly users: UserStore,
    private readonly permissions: PermissionStore,
  ) {}

  /** rabbit_reader:handle_method0(connection.open): throws 530 when refused, else counts the connection. */
  admit(user: string, vhost: string): void {
    if (!this.vhostExists(vhost)) throw notAllowed(`vhost ${vhost} not found`);
    const vhostLimit = this.limits.limit(vhost, 'max-connections');
    if (vhostLimit !== undefined && count(this.perVhost, vhost) >= vhostLimit) {
      throw notAllowed(`access to vhost '${vhost}' refused for user '${user}': connection limit (${vhostLimit}) is reached`);
    }
    const userLimit = this.userLimit(user, 'max-connections');
    if (userLimit !== undefined && count(this.perUser, user) >= userLimit) {
      throw notAllowed(`connection refused for user '${user}': user connection limit (${userLimit}) is reached`);
    }
    if (!canAccessVhost(this.permissions, user, vhost)) throw notAllowed(`access to vhost '${vhost}' refused for user '${user}'`);
    add(this.perVhost, vhost, 1);
    add(this.perUser, user, 1);
  }

  release(user: string, vhost: string): void {
    add(this.perVhost, vhost, -1);
    add(this.perUser, user, -1);
  }

  /** rabbit_reader:create_channel: the user's max-channels over all its connections. */
  admitChannel(user: string): void {
    const limit = this.userLimit(user, 'max-channels');
    if (limit !== undefined && count(this.channelsPerUser, user) >= limit) {
      throw notAllowed(`number of channels opened for user '${user}' has reached the maximum allowed user limit of (${limit})`);
    }
    add(this.channelsPerUser, user, 1);
  }

  releaseChannel(user: string): void {
    add(this.channelsPerUser, user, -1);
  }

  connectionsIn(vhost: string): number {
    return count(this.perVhost, vhost);
  }

  connectionsOf(user: string): number {
    return count(this.perUser, user);
  }

  channelsOf(user: string): number {
    return count(this.channelsPerUser, user);
  }

  /** rabbit_auth_backend_internal:get_user_limit: negative means none. */
  private userLimit(user: string, key: 'max-connections' | 'max-channels'): number | undefined {
    const n = this.users.get(user)?.limits?.[key];
    return n !== undefined && n >= 0 ? n : undefined;
  }
}

function notAllowed(text: string): AmqpError {
  return new AmqpError(ReplyCode.NOT_ALLOWED, text);
}

function count(m: Map<string, number>, key: string): number {
  return m.get(key) ?? 0;
}

function add(m: Map<string, number>, key: string, n: number): void {
  const v = (m.get(key) ?? 0) + n;
  if (v <= 0) m.delete(key);
  else m.set(key, v);
}
