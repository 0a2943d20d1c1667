/**
 * One client connection: the protocol-header and connection.* handshake (start, tune, open),
 * routing of frames to channels (an array indexed by channel number), heartbeats, the outbound
 * frame writer with per-turn batching and write backpressure, publisher blocking on memory
 * alarms, and teardown. Every error thrown while handling a frame reaches `fail()`, the one place
 * where errors become channel.close or connection.close (see close-mapping).
 * Invariants: after connection.close is sent, only close/close-ok are read; the socket is never
 * written after it is destroyed; nothing here crashes the process.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { AmqpError } from '../core/amqp-error.js';
import type { CoarseClock } from '../core/clock.js';
import { fieldBoolean, tableGet, type FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Broker } from '../broker/broker.js';
import type { Vhost } from '../broker/vhost.js';
import type { Persistence } from '../broker/persistence.js';
import { FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE } from '../protocol/frame-constants.js';
import { FrameReader, type FrameSink } from '../protocol/frame-reader.js';
import { FrameWriter } from '../protocol/frame-writer.js';
import * as M from '../protocol/generated/methods.js';
import { PROTOCOL_HEADER, checkProtocolHeader } from '../protocol/protocol-header.js';
import { payloadSnippet } from '../protocol/erlang-format.js';
import { MECHANISMS, parseCredentials } from './auth-mechanism.js';
import { Channel } from './channel.js';
import { dropsConnection, toAmqpError } from './close-mapping.js';
import type { OutboundFlusher } from './outbound-flusher.js';
import type { ServerConfig } from './server-config.js';

export interface ConnectionContext {
  readonly broker: Broker;
  readonly clock: CoarseClock;
  /** connection.start server-properties, built once per listener. */
  readonly serverProperties: FieldTable;
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly flusher: OutboundFlusher;
  readonly connections: Set<Connection>;
}

type State = 'header' | 'start-ok' | 'tune-ok' | 'open' | 'opened' | 'closing' | 'closed';

export interface ClientCapabilities {
  consumerCancelNotify: boolean;
  connectionBlocked: boolean;
  authenticationFailureClose: boolean;
}

let nextConnectionId = 1;

export class Connection implements FrameSink {
  readonly id = nextConnectionId++;
  readonly writer = new FrameWriter(64 * 1024);
  readonly config: ServerConfig;
  readonly broker: Broker;
  readonly persistence: Persistence | undefined;
  readonly clock: CoarseClock;
  capabilities: ClientCapabilities = { consumerCancelNotify: false, connectionBlocked: false, authenticationFailureClose: false };
  clientProperties: FieldTable = [];
  user = '';
  vhost: Vhost | undefined;

  private state: State = 'header';
  private readonly reader: FrameReader;
  private headerBytes: Buffer | undefined;
  private readonly channels: (Channel | undefined)[] = [];
  private channelMax: number;
  private heartbeat = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private receivedSinceTick = true;
  private sentSinceTick = false;
  private missedTicks = 0;
  private dirty = false;
  private openChannels = 0;
  private lastClassId = 0;
  private lastMethodId = 0;
  private tornDown = false;
  private writable = true;
  private readonly confirmChannels: Channel[] = [];
  private blocked = false;
  /** Channels holding frames past their limit (HeldFrames): reading stops while any does. */
  private holdingChannels = 0;
  private paused = false;
  private readonly unsubscribeAlarm: () => void;
  private childLog: Logger | undefined;
  readonly remote: string;

  constructor(private readonly socket: Socket, private readonly ctx: ConnectionContext) {
    this.config = ctx.config;
    this.broker = ctx.broker;
    this.persistence = ctx.broker.persistence;
    this.clock = ctx.clock;
    this.channelMax = ctx.config.channelMax;
    // Large body frames that span socket reads are copied once, straight into the message body.
    this.reader = new FrameReader(FRAME_MIN_SIZE, { bodyParts: true });
    this.writer.frameMax = FRAME_MIN_SIZE;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    ctx.connections.add(this);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => {
      this.log.debug({ err }, 'socket error');
      this.teardown();
    });
    socket.on('close', () => this.teardown());
    this.handshakeTimer = setTimeout(() => {
      if (this.state !== 'opened') {
        this.log.info('handshake timeout');
        this.destroy();
      }
    }, ctx.config.handshakeTimeout * 1000);
    this.unsubscribeAlarm = ctx.broker.meter.onChange((alarm) => this.onAlarm(alarm));
    if (ctx.logger.isLevelEnabled('debug')) this.log.debug('accepted connection');
  }

  /** A child logger tagged with this connection, built on first use (most connections never log). */
  private get log(): Logger {
    return (this.childLog ??= this.ctx.logger.child({ conn: this.id, remote: this.remote }));
  }

  // ------------------------------------------------------------------------------------------
  // Input

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    if (this.state === 'closed') return;
    try {
      if (this.state === 'header') {
        chunk = this.readProtocolHeader(chunk);
        if (chunk.length === 0) return;
      }
      this.reader.push(chunk, this);
    } catch (e: unknown) {
      // Errors thrown by the frame reader itself (framing) are connection errors, about no method.
      this.fail(0, e, false);
    }
    if (this.paused === false && this.blocked && this.state === 'opened') this.updateReading();
  }

  private readProtocolHeader(chunk: Buffer): Buffer {
    const have = this.headerBytes === undefined ? chunk : Buffer.concat([this.headerBytes, chunk]);
    const verdict = checkProtocolHeader(have);
    if (verdict === 'incomplete') {
      this.headerBytes = have;
      return EMPTY;
    }
    if (verdict === 'wrong') {
      // Spec 4.2.2: answer with the header we support and close.
      this.socket.end(PROTOCOL_HEADER);
      this.state = 'closed';
      return EMPTY;
    }
    this.headerBytes = undefined;
    this.state = 'start-ok';
    M.writeConnectionStart(this.writer, 0, 0, 9, this.ctx.serverProperties, MECHANISM_BYTES, LOCALE_BYTES);
    this.markDirty();
    return have.subarray(8);
  }

  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    if (this.state === 'closed') return;
    try {
      if (type === FRAME_HEARTBEAT) {
        if (channel !== 0) throw unexpectedFrame(type, payload, start, end);
        return;
      }
      if (this.state === 'closing') {
        if (channel === 0 && type === FRAME_METHOD) this.onClosingMethod(M.decodeMethod(payload, start, end));
        return;
      }
      if (this.state !== 'opened') {
        if (channel !== 0 || type !== FRAME_METHOD) {
          throw new AmqpError(ReplyCode.COMMAND_INVALID, 'unexpected frame before the connection is open', 0, 0, true);
        }
        const hm = M.decodeMethod(payload, start, end);
        this.lastClassId = hm.classId;
        this.lastMethodId = hm.methodId;
        this.onHandshakeMethod(hm);
        return;
      }
      if (channel === 0) {
        if (type !== FRAME_METHOD) throw unexpectedFrame(type, payload, start, end);
        const cm = M.decodeMethod(payload, start, end);
        this.lastClassId = cm.classId;
        this.lastMethodId = cm.methodId;
        this.onConnectionMethod(cm);
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
    this.channels[id] = new Channel(id, this, this.vhost!);
    this.openChannels++;
    M.writeChannelOpenOk(this.writer, id);
    this.markDirty();
  }

  // ------------------------------------------------------------------------------------------
  // Handshake

  private onHandshakeMethod(m: M.Method): void {
    if (this.state === 'start-ok' && m.kind === 'connection.start-ok') return this.onStartOk(m);
    if (this.state === 'tune-ok' && m.kind === 'connection.tune-ok') return this.onTuneOk(m);
    if (this.state === 'open' && m.kind === 'connection.open') return this.onOpen(m);
    if (m.kind === 'connection.close') return this.onConnectionMethod(m);
    throw new AmqpError(ReplyCode.COMMAND_INVALID, `unexpected method '${m.kind}' during handshake`, m.classId, m.methodId, true);
  }

  private onStartOk(m: M.ConnectionStartOk): void {
    this.clientProperties = m.clientProperties;
    const caps = tableGet(m.clientProperties, 'capabilities');
    if (caps !== undefined && caps.type === 'F') {
      this.capabilities = {
        consumerCancelNotify: fieldBoolean(tableGet(caps.value, 'consumer_cancel_notify')) === true,
        connectionBlocked: fieldBoolean(tableGet(caps.value, 'connection.blocked')) === true,
        authenticationFailureClose: fieldBoolean(tableGet(caps.value, 'authentication_failure_close')) === true,
      };
    }
    const creds = parseCredentials(m.mechanism, m.response);
    if (creds === 'unknown-mechanism') {
      throw new AmqpError(ReplyCode.COMMAND_INVALID, `unknown authentication mechanism '${m.mechanism}'`, m.classId, m.methodId, true);
    }
    const user = creds === undefined ? undefined : this.ctx.broker.users.authenticate(creds.user, creds.password);
    if (user === undefined) return this.refuseLogin(m.mechanism, `login refused for user '${creds?.user ?? ''}'`);
    if (this.ctx.broker.isLoopbackOnly(user.name) && !this.config.allowRemoteLoopbackUsers && !isLoopback(this.socket.remoteAddress)) {
      return this.refuseLogin(m.mechanism, `user '${user.name}' can only connect via localhost`);
    }
    this.user = user.name;
    this.state = 'tune-ok';
    M.writeConnectionTune(this.writer, 0, this.config.channelMax, this.config.frameMax, this.config.heartbeat);
    this.markDirty();
  }

  /** RabbitMQ: close with 403 when the client has authentication_failure_close, else just drop. */
  private refuseLogin(mechanism: string, why: string): void {
    this.log.warn({ user: why }, 'authentication failed');
    const err = new AmqpError(ReplyCode.ACCESS_REFUSED,
      `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`, 10, 11, true);
    if (this.capabilities.authenticationFailureClose) {
      this.sendConnectionClose(err);
    } else {
      this.flush();
      this.destroy();
    }
  }

  private onTuneOk(m: M.ConnectionTuneOk): void {
    const serverFrameMax = this.config.frameMax;
    const frameMax = m.frameMax === 0 ? serverFrameMax : m.frameMax;
    if (frameMax < FRAME_MIN_SIZE) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `frame_max=${frameMax} < ${FRAME_MIN_SIZE} min size`, m.classId, m.methodId, true);
    }
    if (serverFrameMax !== 0 && frameMax > serverFrameMax) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `frame_max=${frameMax} > ${serverFrameMax} max size`, m.classId, m.methodId, true);
    }
    const serverChannelMax = this.config.channelMax;
    const channelMax = m.channelMax === 0 ? serverChannelMax : m.channelMax;
    if (serverChannelMax !== 0 && channelMax > serverChannelMax) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED,
        `negotiated channel_max = ${channelMax} is higher than the maximum allowed value (${serverChannelMax})`,
        m.classId, m.methodId, true);
    }
    this.channelMax = channelMax === 0 ? 65535 : channelMax;
    this.reader.frameMax = frameMax;
    this.writer.frameMax = frameMax;
    this.heartbeat = m.heartbeat;
    this.state = 'open';
    this.startHeartbeat();
  }

  private onOpen(m: M.ConnectionOpen): void {
    const vhost = this.ctx.broker.vhosts.get(m.virtualHost);
    if (vhost === undefined) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `vhost ${m.virtualHost} not found`, m.classId, m.methodId, true);
    }
    this.vhost = vhost;
    this.state = 'opened';
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    M.writeConnectionOpenOk(this.writer, 0);
    this.markDirty();
    const timeout = this.ctx.broker.config.consumerTimeout;
    if (timeout > 0) {
      this.ackTimer = setInterval(() => {
        const now = Date.now();
        for (const ch of this.channels) if (ch !== undefined) ch.checkAckTimeout(now, timeout);
      }, Math.min(60_000, Math.max(20, Math.floor(timeout / 4))));
      this.ackTimer.unref();
    }
    if (this.ctx.logger.isLevelEnabled('debug')) this.log.debug({ user: this.user, vhost: vhost.name }, 'connection open');
  }

  // ------------------------------------------------------------------------------------------
  // Channel 0 after open

  private onConnectionMethod(m: M.Method): void {
    switch (m.kind) {
      case 'connection.close':
        this.flushOwedConfirms();
        M.writeConnectionCloseOk(this.writer, 0);
        this.destroy();
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
        return;
      default:
        throw new AmqpError(ReplyCode.CHANNEL_ERROR, 'unexpected method in connection state running', m.classId, m.methodId, true);
    }
  }

  private onClosingMethod(m: M.Method): void {
    if (m.kind === 'connection.close-ok') {
      this.destroy();
    } else if (m.kind === 'connection.close') {
      M.writeConnectionCloseOk(this.writer, 0);
      this.flush();
      this.destroy();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Channels

  /** The client closed a channel and the channel is done (owed confirms written): answer close-ok. */
  channelClosedByClient(ch: Channel): void {
    if (this.channels[ch.id] === ch) {
      this.channels[ch.id] = undefined;
      this.openChannels--;
    }
    M.writeChannelCloseOk(this.writer, ch.id);
    this.markDirty();
  }

  /** Our channel.close was acknowledged: the number can be reused. */
  channelClosed(ch: Channel): void {
    if (this.channels[ch.id] === ch) {
      this.channels[ch.id] = undefined;
      this.openChannels--;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Errors: the one place where an error becomes a close.

  fail(channel: number, e: unknown, aboutMethod = true): void {
    const err = toAmqpError(e, (internal) => this.log.error({ err: internal }, 'internal error'));
    if (dropsConnection(err)) {
      this.log.warn({ text: err.text }, 'closing connection abruptly');
      this.destroy();
      return;
    }
    const ch = channel === 0 ? undefined : this.channels[channel];
    if (err.classId < 0) {
      const known = aboutMethod && (ch !== undefined || channel === 0);
      err.classId = !known ? 0 : ch !== undefined ? ch.lastClassId : this.lastClassId;
      err.methodId = !known ? 0 : ch !== undefined ? ch.lastMethodId : this.lastMethodId;
    }
    if (!err.hard && ch !== undefined && this.state === 'opened') {
      ch.beginClose();
      M.writeChannelClose(this.writer, channel, err.code, err.text, err.classId, err.methodId);
      this.markDirty();
      return;
    }
    this.sendConnectionClose(err);
  }

  /** Send connection.close, then read only close-ok; give up on the client after a timeout. */
  sendConnectionClose(err: AmqpError): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.ctx.logger.isLevelEnabled('debug')) this.log.debug({ code: err.code, text: err.text }, 'closing connection');
    this.flushOwedConfirms();
    this.releaseChannels();
    this.state = 'closing';
    M.writeConnectionClose(this.writer, 0, err.code, err.text, Math.max(0, err.classId), Math.max(0, err.methodId));
    this.flush();
    this.closeTimer = setTimeout(() => this.destroy(), 3000);
  }

  // ------------------------------------------------------------------------------------------
  // Output

  markDirty(): void {
    if (!this.dirty) {
      this.dirty = true;
      this.ctx.flusher.add(this);
    }
  }

  needsConfirmFlush(ch: Channel): void {
    if (!this.confirmChannels.includes(ch)) this.confirmChannels.push(ch);
  }

  /** Whether deliveries may add more outbound bytes now. */
  canWrite(): boolean {
    return this.writable && this.writer.length < this.config.outboundHighWater;
  }

  /** Write the confirms channels owe, before anything that ends them (close frames) or at a flush. */
  private flushOwedConfirms(): void {
    if (this.confirmChannels.length > 0) {
      for (const ch of this.confirmChannels) ch.flushConfirms();
      this.confirmChannels.length = 0;
    }
  }

  flush(): void {
    this.dirty = false;
    this.flushOwedConfirms();
    if (this.writer.length === 0 || this.socket.destroyed) return;
    const wasFull = this.writer.length >= this.config.outboundHighWater;
    this.socket.cork();
    const ok = this.writer.flushTo(this.socket);
    this.socket.uncork();
    this.sentSinceTick = true;
    if (!ok) this.writable = false;
    else if (wasFull) setImmediate(() => this.resumeDeliveries());
  }

  private onDrain(): void {
    this.writable = true;
    this.resumeDeliveries();
  }

  private resumeDeliveries(): void {
    if (this.state !== 'opened') return;
    for (const ch of this.channels) {
      if (ch === undefined) continue;
      for (const c of ch.deliveries.consumers.values()) c.queue.dispatch();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Flow control: publishers are paused while the memory alarm is on.

  onPublished(): void {
    if (this.ctx.broker.meter.alarm && !this.blocked) this.block();
  }

  private block(): void {
    this.blocked = true;
    if (this.capabilities.connectionBlocked) {
      M.writeConnectionBlocked(this.writer, 0, 'low on memory');
      this.markDirty();
    }
  }

  /** A channel holds too many frames behind a durable declare: stop reading until it releases. */
  holdReading(): void {
    this.holdingChannels++;
    this.updateReading();
  }

  releaseReading(): void {
    this.holdingChannels--;
    this.updateReading();
  }

  /** Read the socket unless publishers are blocked (alarm) or a channel holds too many frames. */
  private updateReading(): void {
    const pause = (this.blocked && this.state === 'opened') || this.holdingChannels > 0;
    if (pause === this.paused || this.socket.destroyed) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  private onAlarm(alarm: boolean): void {
    if (alarm || !this.blocked) return;
    this.blocked = false;
    if (this.capabilities.connectionBlocked && this.state === 'opened') {
      M.writeConnectionUnblocked(this.writer, 0);
      this.markDirty();
    }
    this.updateReading();
  }

  // ------------------------------------------------------------------------------------------
  // Heartbeats (spec 4.2.7): send when idle for half the interval; drop the peer after two
  // silent intervals, as RabbitMQ does.

  private startHeartbeat(): void {
    if (this.heartbeat === 0) return;
    const halfMs = (this.heartbeat * 1000) / 2;
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), halfMs);
    this.heartbeatTimer.unref();
  }

  private heartbeatTick(): void {
    if (!this.sentSinceTick) {
      this.writer.writeHeartbeat();
      this.flush();
    }
    this.sentSinceTick = false;
    if (this.receivedSinceTick) {
      this.missedTicks = 0;
      this.receivedSinceTick = false;
    } else if (++this.missedTicks >= 4) {
      this.log.info({ timeout: this.heartbeat }, 'missed heartbeats from client, closing');
      this.destroy();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Teardown

  /** Server shutdown: 320 CONNECTION_FORCED to an open connection, plain close otherwise. */
  forceClose(reason: string): void {
    if (this.state === 'opened') {
      this.sendConnectionClose(new AmqpError(ReplyCode.CONNECTION_FORCED, reason, 0, 0, true));
    } else {
      this.destroy();
    }
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  private releaseChannels(): void {
    for (let i = 0; i < this.channels.length; i++) {
      const ch = this.channels[i];
      if (ch !== undefined) ch.release();
    }
    this.channels.length = 0;
    this.openChannels = 0;
    this.vhost?.dropExclusiveQueues(this.id);
  }

  /** Flush what is pending, half-close, and release everything; the socket is destroyed if the peer lingers. */
  destroy(): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      this.flushQuietly();
      this.socket.end();
      const s = this.socket;
      setTimeout(() => s.destroy(), 1000).unref();
    }
    this.teardown();
  }

  private flushQuietly(): void {
    try { this.flush(); } catch { /* the socket is going away */ }
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.state = 'closed';
    this.ctx.connections.delete(this);
    this.releaseChannels();
    this.unsubscribeAlarm();
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    if (this.ackTimer !== undefined) clearInterval(this.ackTimer);
    this.ackTimer = undefined;
    this.heartbeatTimer = this.handshakeTimer = this.closeTimer = undefined;
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.destroy();
  }
}

/** rabbit_reader's text for a frame that makes no sense where it arrived. */
function unexpectedFrame(type: number, payload: Buffer, start: number, end: number): AmqpError {
  return new AmqpError(ReplyCode.UNEXPECTED_FRAME, `type ${type}, ${payloadSnippet(payload, start, end)}`, 0, 0, true);
}

function isLoopback(addr: string | undefined): boolean {
  if (addr === undefined) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

const EMPTY = Buffer.alloc(0);
const MECHANISM_BYTES = Buffer.from(MECHANISMS);
const LOCALE_BYTES = Buffer.from('en_US');
