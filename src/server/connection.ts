/**
 * One open client connection (built by the Handshake once connection.open succeeded, from what it
 * negotiated): routing of frames to channels (an array indexed by channel number), channel 0's
 * methods once open, heartbeats, the consumer acknowledgement timeout, publisher blocking on
 * alarms, flow control (reading stops while a queue this connection published into is pressing, see
 * Queue), and the one place where errors become closes (`fail`, see close-mapping): soft errors
 * close the channel, hard ones (and any error on channel 0) the connection.
 * The socket, framing, batching of writes and the close sequencing are the Transport's.
 * Invariants: the connection is open from construction until it is released (its channels and
 * exclusive queues go then); nothing here crashes the process.
 */
import type { Logger } from 'pino';
import { AmqpError } from '../core/amqp-error.js';
import type { CoarseClock } from '../core/clock.js';
import type { FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Broker } from '../broker/broker.js';
import type { Persistence } from '../broker/persistence.js';
import type { FlowWaiter, Queue } from '../broker/queue.js';
import { MessageStats } from '../broker/statistics.js';
import type { Vhost } from '../broker/vhost.js';
import { payloadSnippet } from '../protocol/erlang-format.js';
import type { FrameWriter } from '../protocol/frame-writer.js';
import { FRAME_HEARTBEAT, FRAME_METHOD } from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import { Channel } from './channel.js';
import { dropsConnection, toAmqpError } from './close-mapping.js';
import { ConnectionHandle } from './managed-connection.js';
import type { OutboundFlusher } from './outbound-flusher.js';
import { HEARTBEAT_DEAD, HEARTBEAT_SEND, Heartbeat, heartbeatTickMs } from './heartbeat.js';
import type { ServerConfig } from './server-config.js';
import type { Transport, TransportOwner } from './transport.js';

/** One client socket as the listener sees it, from accept to close (handshaking, open or closing). */
export interface Session {
  /** Server shutdown: 320 CONNECTION_FORCED to an open connection, a plain close otherwise. */
  forceClose(reason: string): void;
  destroy(): void;
}

export interface ConnectionContext {
  readonly broker: Broker;
  readonly clock: CoarseClock;
  /** connection.start server-properties, built once per listener. */
  readonly serverProperties: FieldTable;
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly flusher: OutboundFlusher;
  /** Every client socket of the listener (shutdown closes them; tests count them for leaks). */
  readonly sessions: Set<Session>;
}

export interface ClientCapabilities {
  consumerCancelNotify: boolean;
  connectionBlocked: boolean;
  authenticationFailureClose: boolean;
}

/** What the handshake negotiated. */
export interface Negotiated {
  readonly user: string;
  readonly vhost: Vhost;
  /** 65535 when the client asked for no limit. */
  readonly channelMax: number;
  readonly frameMax: number;
  /** Seconds; 0 disables heartbeats. */
  readonly heartbeat: number;
  readonly capabilities: ClientCapabilities;
  readonly clientProperties: FieldTable;
  readonly authMechanism: string;
}

let nextConnectionId = 1;

/**
 * While in flow, how often the pressing queue's progress is checked: consumers that took nothing
 * over a whole period are stalled, and the queue lifts its limit (a backlog grows instead).
 */
const FLOW_CHECK_MS = 1000;

export class Connection implements TransportOwner, FlowWaiter {
  readonly id = nextConnectionId++;
  readonly writer: FrameWriter;
  readonly config: ServerConfig;
  readonly broker: Broker;
  readonly persistence: Persistence | undefined;
  readonly clock: CoarseClock;
  readonly user: string;
  readonly vhost: Vhost;
  readonly capabilities: ClientCapabilities;
  readonly clientProperties: FieldTable;
  readonly channelMax: number;
  readonly heartbeat: number;
  readonly connectedAt = Date.now();

  private readonly channels: (Channel | undefined)[] = [];
  private openChannels = 0;
  private lastClassId = 0;
  private lastMethodId = 0;
  private released = false;
  /** Channels with confirms to write before the next flush (or close). */
  private readonly confirmChannels: Channel[] = [];
  private blocked = false;
  /** Channels holding frames past their limit (HeldFrames): reading stops while any does. */
  private holdingChannels = 0;
  /** Flow control: the pressing queue reading waits for (undefined: not in flow). */
  private flowQueue: Queue | undefined;
  private flowTimer: NodeJS.Timeout | undefined;
  /** flowQueue.taken at the last progress check. */
  private flowTaken = 0;
  /** Times this connection went into flow (management, tests). */
  flowCount = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly heartbeatPolicy = new Heartbeat();
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribeAlarm: () => void;
  private childLog: Logger | undefined;
  /** Message counts of this connection's closed channels (the open ones keep their own). */
  private readonly closedChannelStats = new MessageStats();
  /** This connection in the broker's registry (the management API reads and closes it there). */
  private readonly handle: ConnectionHandle;

  constructor(private readonly transport: Transport, n: Negotiated, private readonly ctx: ConnectionContext) {
    this.writer = transport.writer;
    this.config = ctx.config;
    this.broker = ctx.broker;
    this.persistence = ctx.broker.persistence;
    this.clock = ctx.clock;
    this.user = n.user;
    this.vhost = n.vhost;
    this.capabilities = n.capabilities;
    this.clientProperties = n.clientProperties;
    this.channelMax = n.channelMax;
    this.heartbeat = n.heartbeat;
    ctx.broker.statistics.churn.connectionsOpened++;
    this.unsubscribeAlarm = ctx.broker.meter.onChange((alarm) => this.onAlarm(alarm));
    this.startHeartbeat();
    const timeout = ctx.broker.config.consumerTimeout;
    if (timeout > 0) {
      // The check period is at most 60 s, whatever the timeout: always within a Node timer's 2^31-1 ms.
      this.ackTimer = setInterval(() => {
        const now = Date.now();
        for (const ch of this.channels) if (ch !== undefined) ch.checkAckTimeout(now, timeout);
      }, Math.min(60_000, Math.max(20, Math.floor(timeout / 4))));
      this.ackTimer.unref();
    }
    this.handle = new ConnectionHandle(this, transport, n.authMechanism);
    ctx.broker.connections.add(this.handle);
    if (ctx.logger.isLevelEnabled('debug')) this.log.debug({ user: this.user, vhost: this.vhost.name }, 'connection open');
  }

  /** The open channels, for management snapshots. */
  openChannelList(): Channel[] {
    return this.channels.filter((ch): ch is Channel => ch !== undefined);
  }

  /** A child logger tagged with this connection, built on first use (most connections never log). */
  private get log(): Logger {
    return (this.childLog ??= this.ctx.logger.child({ conn: this.id, remote: this.transport.remote }));
  }

  get remote(): string {
    return this.transport.remote;
  }

  get isClosed(): boolean {
    return this.released;
  }

  // ------------------------------------------------------------------------------------------
  // Input

  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    if (this.released) return;
    try {
      if (type === FRAME_HEARTBEAT) {
        if (channel !== 0) throw unexpectedFrame(type, payload, start, end);
        return;
      }
      if (channel === 0) {
        if (type !== FRAME_METHOD) throw unexpectedFrame(type, payload, start, end);
        const m = M.decodeMethod(payload, start, end);
        this.lastClassId = m.classId;
        this.lastMethodId = m.methodId;
        this.onConnectionMethod(m);
        return;
      }
      const ch = this.channels[channel];
      if (ch === undefined) {
        this.openChannel(channel, type, payload, start, end);
        return;
      }
      ch.onFrame(type, payload, start, end);
    } catch (e: unknown) {
      this.fail(channel, e);
    }
  }

  onError(channel: number, e: unknown, aboutMethod: boolean): void {
    this.fail(channel, e, aboutMethod);
  }

  private onConnectionMethod(m: M.Method): void {
    switch (m.kind) {
      case 'connection.close':
        this.flushOwedConfirms();
        this.transport.closeOk();
        return;
      case 'connection.update-secret':
        // RabbitMQ 3.8+: a client refreshes its credentials (e.g. an OAuth token). Warren's users
        // authenticate once, with passwords, so the new secret is accepted as RabbitMQ's internal
        // backend accepts it, and the connection goes on.
        M.writeConnectionUpdateSecretOk(this.writer, 0);
        this.markDirty();
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
        return;
      default:
        throw new AmqpError(ReplyCode.CHANNEL_ERROR, 'unexpected method in connection state running', m.classId, m.methodId, true);
    }
  }

  private openChannel(id: number, type: number, payload: Buffer, start: number, end: number): void {
    if (type !== FRAME_METHOD) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, 'expected method frame, got non method frame instead', 0, 0, true);
    }
    const m = M.decodeMethod(payload, start, end);
    if (m.kind !== 'channel.open') {
      throw new AmqpError(ReplyCode.CHANNEL_ERROR, `expected 'channel.open'`, m.classId, m.methodId, true);
    }
    // rabbit_reader:create_channel limits the number of open channels, not their numbers.
    if (this.openChannels >= this.channelMax) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED,
        `number of channels opened (${this.openChannels}) has reached the negotiated channel_max (${this.channelMax})`, 0, 0, true);
    }
    // Then the user's max-channels over all its connections (530, about no method).
    this.broker.tracking.admitChannel(this.user);
    this.channels[id] = new Channel(id, this, this.vhost);
    this.openChannels++;
    this.broker.statistics.churn.channelsOpened++;
    M.writeChannelOpenOk(this.writer, id);
    this.markDirty();
  }

  // ------------------------------------------------------------------------------------------
  // Channels

  /** The client closed a channel and the channel is done (owed confirms written): answer close-ok. */
  channelClosedByClient(ch: Channel): void {
    this.channelClosed(ch);
    M.writeChannelCloseOk(this.writer, ch.id);
    this.markDirty();
  }

  /** Our channel.close was acknowledged (or the client's answered): the number can be reused. */
  channelClosed(ch: Channel): void {
    if (this.channels[ch.id] === ch) {
      this.channels[ch.id] = undefined;
      this.openChannels--;
      this.channelGone(ch);
    }
  }

  /** A channel left the table: its counts stay with the connection. */
  private channelGone(ch: Channel): void {
    this.broker.tracking.releaseChannel(this.user);
    this.closedChannelStats.add(ch.stats);
    this.broker.statistics.churn.channelsClosed++;
  }

  /** This connection's message counts: its closed channels' and its open channels' (a fresh object). */
  get stats(): MessageStats {
    const s = new MessageStats();
    s.add(this.closedChannelStats);
    for (const ch of this.channels) if (ch !== undefined) s.add(ch.stats);
    return s;
  }

  // ------------------------------------------------------------------------------------------
  // Errors: the one place where an error becomes a close.

  fail(channel: number, e: unknown, aboutMethod = true): void {
    const err = toAmqpError(e, (internal) => this.log.error({ err: internal }, 'internal error'));
    if (dropsConnection(err)) {
      this.log.warn({ text: err.text }, 'closing connection abruptly');
      this.transport.destroy();
      return;
    }
    const ch = channel === 0 ? undefined : this.channels[channel];
    if (err.classId < 0) {
      const known = aboutMethod && (ch !== undefined || channel === 0);
      err.classId = !known ? 0 : ch !== undefined ? ch.lastClassId : this.lastClassId;
      err.methodId = !known ? 0 : ch !== undefined ? ch.lastMethodId : this.lastMethodId;
    }
    if (!err.hard && ch !== undefined && !this.released) {
      ch.beginClose();
      M.writeChannelClose(this.writer, channel, err.code, err.text, err.classId, err.methodId);
      this.markDirty();
      return;
    }
    this.sendConnectionClose(err);
  }

  /** Release every channel, send connection.close, then read only close-ok (the Transport's job). */
  sendConnectionClose(err: AmqpError): void {
    if (this.released) return;
    if (this.ctx.logger.isLevelEnabled('debug')) this.log.debug({ code: err.code, text: err.text }, 'closing connection');
    this.flushOwedConfirms();
    this.release();
    this.transport.sendClose(err);
  }

  // ------------------------------------------------------------------------------------------
  // Output

  markDirty(): void {
    this.transport.markDirty();
  }

  /** Whether deliveries may add more outbound bytes now. */
  canWrite(): boolean {
    return this.transport.canWrite();
  }

  needsConfirmFlush(ch: Channel): void {
    if (!this.confirmChannels.includes(ch)) this.confirmChannels.push(ch);
  }

  /** Write the confirms channels owe, before anything that ends them (close frames) or at a flush. */
  private flushOwedConfirms(): void {
    if (this.confirmChannels.length > 0) {
      for (const ch of this.confirmChannels) ch.flushConfirms();
      this.confirmChannels.length = 0;
    }
  }

  beforeFlush(): void {
    this.flushOwedConfirms();
  }

  /** The socket drained: deliver again to this connection's consumers. */
  onWritable(): void {
    if (this.released) return;
    for (const ch of this.channels) {
      if (ch === undefined) continue;
      for (const c of ch.deliveries.consumers.values()) c.queue.dispatch();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Flow control: publishers are paused while an alarm is on (connection.blocked when the client
  // supports it); a channel holding too many frames behind a durable declare stops reading too.

  onPublished(): void {
    if (this.broker.meter.alarm && !this.blocked) this.block();
  }

  private block(): void {
    this.blocked = true;
    if (this.capabilities.connectionBlocked) {
      M.writeConnectionBlocked(this.writer, 0, 'low on memory');
      this.markDirty();
    }
    this.updateReading();
  }

  private onAlarm(alarm: boolean): void {
    if (alarm || !this.blocked) return;
    this.blocked = false;
    if (this.capabilities.connectionBlocked && !this.released) {
      M.writeConnectionUnblocked(this.writer, 0);
      this.markDirty();
    }
    this.updateReading();
  }

  /** Publishers paused by an alarm (management's 'blocked'). */
  get isBlocked(): boolean {
    return this.blocked;
  }

  /** In flow: reading waits for a pressing queue's consumers (management's 'flow'). */
  get inFlow(): boolean {
    return this.flowQueue !== undefined;
  }

  /**
   * A publish went into a pressing queue: stop reading until it is relieved (one queue at a time;
   * the next publish finds the next pressing one). Not when this connection consumes from that
   * queue itself: its acks would be the ones left unread.
   */
  flowFrom(q: Queue): void {
    if (this.flowQueue !== undefined || this.released) return;
    for (const c of q.consumers) if (c.connectionId === this.id) return;
    this.flowQueue = q;
    this.flowTaken = q.taken;
    this.flowCount++;
    q.waitForRelief(this);
    this.flowTimer = setInterval(this.flowCheck, FLOW_CHECK_MS);
    this.flowTimer.unref();
    if (this.ctx.logger.isLevelEnabled('debug')) this.log.debug({ queue: q.name, ready: q.messageCount }, 'flow: reading paused');
    this.updateReading();
  }

  onRelieved(q: Queue): void {
    if (q === this.flowQueue) this.endFlow();
  }

  private readonly flowCheck = (): void => {
    const q = this.flowQueue;
    if (q === undefined) return;
    if (q.relieved) this.endFlow();
    else if (q.taken === this.flowTaken) q.flowStalled(); // relieves: onRelieved ends the flow
    else this.flowTaken = q.taken;
  };

  private endFlow(): void {
    const q = this.flowQueue;
    if (q === undefined) return;
    this.flowQueue = undefined;
    q.stopWaiting(this);
    if (this.flowTimer !== undefined) clearInterval(this.flowTimer);
    this.flowTimer = undefined;
    if (this.released) return;
    if (this.ctx.logger.isLevelEnabled('debug')) this.log.debug({ queue: q.name, ready: q.messageCount }, 'flow: reading resumed');
    this.updateReading();
  }

  holdReading(): void {
    this.holdingChannels++;
    this.updateReading();
  }

  releaseReading(): void {
    this.holdingChannels--;
    this.updateReading();
  }

  private updateReading(): void {
    this.transport.setReading(!this.blocked && this.holdingChannels === 0 && this.flowQueue === undefined);
  }

  // ------------------------------------------------------------------------------------------
  // Heartbeats (spec 4.2.7): the policy is heartbeat.ts (at most half the interval silent, the
  // peer dropped after two silent intervals, as RabbitMQ does).

  private startHeartbeat(): void {
    if (this.heartbeat === 0) return;
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), heartbeatTickMs(this.heartbeat));
    this.heartbeatTimer.unref();
  }

  private heartbeatTick(): void {
    const t = this.transport;
    const action = this.heartbeatPolicy.tick(t.sentSinceTick, t.receivedSinceTick);
    t.sentSinceTick = t.receivedSinceTick = false;
    if (action === HEARTBEAT_SEND) {
      this.writer.writeHeartbeat();
      t.flush(); // counts as sent: an idle connection gets one heartbeat every two ticks
    } else if (action === HEARTBEAT_DEAD) {
      this.log.info({ timeout: this.heartbeat }, 'missed heartbeats from client, closing');
      t.destroy();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Teardown

  forceClose(reason: string): void {
    if (!this.released) this.sendConnectionClose(new AmqpError(ReplyCode.CONNECTION_FORCED, reason, 0, 0, true));
    else this.transport.destroy();
  }

  destroy(): void {
    this.transport.destroy();
  }

  /** The socket is going (or the client closed): release everything. */
  onClosed(): void {
    this.release();
  }

  /** Channels (unacked requeued, consumers cancelled), exclusive queues, timers. Idempotent. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.broker.connections.remove(this.handle);
    for (let i = 0; i < this.channels.length; i++) {
      const ch = this.channels[i];
      if (ch === undefined) continue;
      ch.release();
      this.channelGone(ch);
    }
    this.channels.length = 0;
    this.broker.statistics.churn.connectionsClosed++;
    this.broker.tracking.release(this.user, this.vhost.name);
    this.openChannels = 0;
    this.vhost.dropExclusiveQueues(this.id);
    this.unsubscribeAlarm();
    this.endFlow();
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.ackTimer !== undefined) clearInterval(this.ackTimer);
    this.heartbeatTimer = this.ackTimer = undefined;
  }
}

/** rabbit_reader's text for a frame that makes no sense where it arrived. */
export function unexpectedFrame(type: number, payload: Buffer, start: number, end: number): AmqpError {
  return new AmqpError(ReplyCode.UNEXPECTED_FRAME, `type ${type}, ${payloadSnippet(payload, start, end)}`, 0, 0, true);
}
