/**
 * The open client connections, as the control plane sees them: the server registers each
 * connection once it is open (and removes it when it goes); management lists them, their channels
 * and consumers from snapshots, and closes them (DELETE /api/connections, vhost deletion) through
 * `close`, never touching a socket. Snapshots are built on demand, off the hot path.
 * Invariant: a registered connection is open (past connection.open-ok) until `remove`.
 */
import type { FieldTable } from '../core/field-value.js';
import type { Consumer } from './consumer.js';
import type { QueueEntry } from './queue-entry.js';

/** One connection's facts, with RabbitMQ's management field names where they map one to one. */
export interface ConnectionSnapshot {
  /** RabbitMQ's name: "<peer host>:<peer port> -> <host>:<port>". */
  readonly name: string;
  readonly user: string;
  readonly vhost: string;
  readonly host: string;
  readonly port: number;
  readonly peerHost: string;
  readonly peerPort: number;
  /** "AMQP 0-9-1" */
  readonly protocol: string;
  readonly authMechanism: string;
  readonly ssl: boolean;
  readonly channels: number;
  readonly channelMax: number;
  readonly frameMax: number;
  /** Negotiated heartbeat, seconds. */
  readonly heartbeat: number;
  readonly clientProperties: FieldTable;
  /** ms since the epoch. */
  readonly connectedAt: number;
  /** running, blocked (publishing while an alarm is on), blocking, closing. */
  readonly state: string;
  readonly recvOct: number;
  readonly recvCnt: number;
  readonly sendOct: number;
  readonly sendCnt: number;
}

export interface ChannelSnapshot {
  /** The channel itself, for identity (statistics lookups); opaque to readers. */
  readonly ref: object;
  readonly number: number;
  readonly user: string;
  readonly vhost: string;
  readonly prefetchCount: number;
  readonly globalPrefetchCount: number;
  readonly confirm: boolean;
  readonly transactional: boolean;
  readonly messagesUnacknowledged: number;
  readonly messagesUnconfirmed: number;
  readonly messagesUncommitted: number;
  readonly acksUncommitted: number;
  /** running, flow, starting, closing. */
  readonly state: string;
  /** The channel's consumers (broker objects: queue, tag, ack mode, prefetch, arguments). */
  readonly consumers: readonly Consumer[];
  /** ms since the epoch when the channel last did something, undefined while busy. */
  readonly idleSince: number | undefined;
}

/** A delivery a channel holds unacked. */
export interface UnackedDelivery {
  readonly entry: QueueEntry;
  /** The channel number. */
  readonly channel: number;
  readonly deliveryTag: number;
}

/** What the server registers for each open connection. */
export interface ManagedConnection {
  /** Unique for the life of the process. */
  readonly id: number;
  snapshot(): ConnectionSnapshot;
  channels(): ChannelSnapshot[];
  /** The deliveries from `queue` its channels hold unacked (peek; off the hot path). */
  unackedFrom(queue: object): UnackedDelivery[];
  /** Close with 320 CONNECTION_FORCED and `reason` as the reply text (after "CONNECTION_FORCED - "). */
  close(reason: string): void;
}

export class ConnectionRegistry {
  private readonly open = new Map<number, ManagedConnection>();

  add(c: ManagedConnection): void {
    this.open.set(c.id, c);
  }

  remove(c: ManagedConnection): void {
    this.open.delete(c.id);
  }

  get size(): number {
    return this.open.size;
  }

  all(): ManagedConnection[] {
    return [...this.open.values()];
  }

  /** The connection with this management name, if open. */
  byName(name: string): ManagedConnection | undefined {
    for (const c of this.open.values()) if (c.snapshot().name === name) return c;
    return undefined;
  }

  /** Close every connection matching `filter` with 320 and `reason`; returns how many. */
  closeWhere(filter: (s: ConnectionSnapshot) => boolean, reason: string): number {
    let n = 0;
    for (const c of this.all()) {
      if (!filter(c.snapshot())) continue;
      c.close(reason);
      n++;
    }
    return n;
  }
}
