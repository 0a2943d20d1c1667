/**
 * What the broker's connection registry holds for one open connection (ManagedConnection): the
 * management API reads snapshots of it and of its channels, and closes it, without touching the
 * socket. Built by the Connection when it opens, removed when it is released. Snapshots are built
 * on demand (off the hot path).
 */
import type { ChannelSnapshot, ConnectionSnapshot, ManagedConnection, UnackedDelivery } from '../broker/connection-registry.js';
import type { Connection } from './connection.js';
import type { Channel } from './channel.js';
import type { Transport } from './transport.js';

/** RabbitMQ's address form: IPv4-mapped IPv6 shown as IPv4. */
function host(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function endpoint(address: string, port: number): string {
  const h = host(address);
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

export class ConnectionHandle implements ManagedConnection {
  readonly id: number;
  /** RabbitMQ's connection name, "<peer>:<port> -> <host>:<port>", fixed at open. */
  readonly name: string;
  /** The connection itself, for identity (statistics histories are kept per connection). */
  readonly ref: object;

  constructor(private readonly conn: Connection, private readonly transport: Transport, private readonly authMechanism: string) {
    this.id = conn.id;
    this.ref = conn;
    const f = transport.socketFacts();
    this.name = `${endpoint(f.remoteAddress, f.remotePort)} -> ${endpoint(f.localAddress, f.localPort)}`;
  }

  snapshot(): ConnectionSnapshot {
    const c = this.conn;
    const f = this.transport.socketFacts();
    return {
      name: this.name, user: c.user, vhost: c.vhost.name, host: host(f.localAddress), port: f.localPort,
      peerHost: host(f.remoteAddress), peerPort: f.remotePort, protocol: 'AMQP 0-9-1', authMechanism: this.authMechanism,
      ssl: false, channels: c.openChannelList().length, channelMax: c.channelMax, frameMax: c.writer.frameMax,
      heartbeat: c.heartbeat, clientProperties: c.clientProperties, connectedAt: c.connectedAt,
      // rabbit_reader's states: flow while reading waits for queues, blocked while an alarm holds it.
      state: c.isClosed ? 'closing' : c.isBlocked ? 'blocked' : c.inFlow ? 'flow' : 'running', recvOct: f.bytesRead, recvCnt: 0, sendOct: f.bytesWritten, sendCnt: 0,
    };
  }

  channels(): ChannelSnapshot[] {
    return this.conn.openChannelList().map((ch) => channelSnapshot(this.conn, ch));
  }

  unackedFrom(queue: object): UnackedDelivery[] {
    const out: UnackedDelivery[] = [];
    for (const ch of this.conn.openChannelList()) ch.deliveries.unackedFrom(queue, ch.id, out);
    return out;
  }

  /** The connection's message counters (its channels', open and closed). */
  get stats(): object {
    return this.conn.stats;
  }

  close(reason: string): void {
    this.conn.forceClose(reason);
  }
}

function channelSnapshot(conn: Connection, ch: Channel): ChannelSnapshot {
  const f = ch.facts();
  const d = ch.deliveries;
  return {
    ref: ch, number: ch.id, user: conn.user, vhost: conn.vhost.name, prefetchCount: d.prefetchCount,
    globalPrefetchCount: d.globalPrefetchCount, confirm: f.confirm, transactional: f.transactional,
    messagesUnacknowledged: d.unackedCount, messagesUnconfirmed: f.unconfirmed, messagesUncommitted: f.uncommitted,
    acksUncommitted: f.acksUncommitted, state: ch.state === 'open' ? 'running' : 'closing',
    consumers: [...d.consumers.values()], idleSince: undefined,
  };
}
