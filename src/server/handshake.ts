/**
 * The connection handshake (AMQP 0-9-1 §2.2.4): protocol header -> connection.start ->
 * start-ok (SASL login, client properties and capabilities) -> tune -> tune-ok (channel_max,
 * frame_max, heartbeat) -> open (virtual host) -> open-ok. Like LavinMQ's connection factory, the
 * Connection is built only once the handshake succeeds, from what was negotiated, so the running
 * connection never sees a pre-open state; until then this object owns the socket's Transport.
 *
 * RabbitMQ's rules kept here: a refused login is answered with 403 when the client announced
 * authentication_failure_close, else the socket is just closed (rabbit_reader); tune-ok values are
 * validated as rabbit_reader:validate_negotiated_integer_value does (0 means "no limit", which is
 * above any server limit; frame_max at least 4096), refused with 530 about connection.tune;
 * connection.open is admitted by the broker's ConnectionTracking in rabbit_reader's order (vhost
 * max-connections or "vhost X not found", the user's max-connections, access to the vhost), each
 * refusal a 530 about connection.open; the whole handshake must finish within `handshakeTimeout`
 * seconds.
 *
 * Before login a client can make the broker hold little: the frame reader accepts frames of at most
 * FRAME_MIN_SIZE until tune-ok raises the limit (RabbitMQ's initial frame_max), and the outbound
 * buffer only ever holds connection.start/tune/close.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AmqpError } from '../core/amqp-error.js';
import { LongTimer } from '../core/long-timer.js';
import { fieldBoolean, tableGet, type FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import {
  CLASS_CONNECTION, CONNECTION_START_OK, CONNECTION_TUNE, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE,
} from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import type { Login } from '../broker/user-store.js';
import { certificateLoginName, KNOWN_MECHANISMS, offeredMechanisms, parseCredentials } from './auth-mechanism.js';
import { dropsConnection, toAmqpError } from './close-mapping.js';
import { Connection, unexpectedFrame, type ClientCapabilities, type ConnectionContext, type Negotiated } from './connection.js';
import { Transport, type TransportOwner } from './transport.js';

type Step = 'start-ok' | 'tune-ok' | 'open' | 'done';


export class Handshake implements TransportOwner {
  private readonly transport: Transport;
  private step: Step = 'start-ok';
  /** A LongTimer: handshakeTimeout is configuration, and any value must wait as long as it says. */
  private readonly timer: LongTimer;
  private capabilities: ClientCapabilities = { consumerCancelNotify: false, connectionBlocked: false, authenticationFailureClose: false };
  private clientProperties: FieldTable = [];
  private mechanism = '';
  private user = '';
  /** The method being handled, for errors that name it (RabbitMQ reports connection.open's 530s with it). */
  private classId = 0;
  private methodId = 0;
  private channelMax = 0;
  private frameMax = 0;
  private heartbeat = 0;

  /** What connection.start offered on this socket. */
  private readonly mechanisms: string[];

  /**
   * `verifiedPeer`: the TLS socket itself when its client certificate was verified against the CA
   * (EXTERNAL may then be offered and read the certificate), else undefined.
   */
  constructor(socket: Socket, private readonly ctx: ConnectionContext, private readonly verifiedPeer?: TLSSocket) {
    this.mechanisms = offeredMechanisms(ctx.config.authMechanisms, verifiedPeer !== undefined);
    this.transport = new Transport(socket, {
      flusher: ctx.flusher, logger: ctx.logger, sessions: ctx.sessions, outboundHighWater: ctx.config.outboundHighWater,
    }, this);
    this.timer = new LongTimer(() => {
      ctx.logger.info({ remote: this.transport.remote }, 'handshake timeout');
      this.transport.destroy();
    }, false);
    this.timer.fireIn(ctx.config.handshakeTimeout * 1000);
  }

  onProtocolHeader(): void {
    M.writeConnectionStart(this.transport.writer, 0, 0, 9, this.ctx.serverProperties, Buffer.from(this.mechanisms.join(' ')), LOCALE_BYTES);
    this.transport.markDirty();
  }

  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    if (type === FRAME_HEARTBEAT) {
      if (channel !== 0) throw unexpectedFrame(type, payload, start, end);
      return;
    }
    if (channel !== 0 || type !== FRAME_METHOD) {
      throw new AmqpError(ReplyCode.COMMAND_INVALID, 'unexpected frame before the connection is open', 0, 0, true);
    }
    const m = M.decodeMethod(payload, start, end);
    this.classId = m.classId;
    this.methodId = m.methodId;
    if (this.step === 'start-ok' && m.kind === 'connection.start-ok') return this.onStartOk(m);
    if (this.step === 'tune-ok' && m.kind === 'connection.tune-ok') return this.onTuneOk(m);
    if (this.step === 'open' && m.kind === 'connection.open') return this.onOpen(m);
    if (m.kind === 'connection.close') return this.transport.closeOk();
    throw new AmqpError(ReplyCode.COMMAND_INVALID, `unexpected method '${m.kind}' during handshake`, m.classId, m.methodId, true);
  }

  onError(_channel: number, e: unknown, aboutMethod: boolean): void {
    const err = toAmqpError(e, (internal) => this.ctx.logger.error({ err: internal, remote: this.transport.remote }, 'internal error'));
    if (dropsConnection(err)) {
      this.transport.destroy();
      return;
    }
    if (err.classId < 0) {
      err.classId = aboutMethod ? this.classId : 0;
      err.methodId = aboutMethod ? this.methodId : 0;
    }
    this.transport.sendClose(err);
  }

  onClosed(): void {
    this.timer.cancel();
  }

  /** Shutdown before the connection is open: nothing to tell the client, just go. */
  forceClose(): void {
    this.transport.destroy();
  }

  // ------------------------------------------------------------------------------------------

  private onStartOk(m: M.ConnectionStartOk): void {
    this.clientProperties = m.clientProperties;
    this.mechanism = m.mechanism;
    const caps = tableGet(m.clientProperties, 'capabilities');
    if (caps !== undefined && caps.type === 'F') {
      this.capabilities = {
        consumerCancelNotify: fieldBoolean(tableGet(caps.value, 'consumer_cancel_notify')) === true,
        connectionBlocked: fieldBoolean(tableGet(caps.value, 'connection.blocked')) === true,
        authenticationFailureClose: fieldBoolean(tableGet(caps.value, 'authentication_failure_close')) === true,
      };
    }
    // rabbit_reader:auth_mechanism_to_module: unknown names, then known ones this socket was not offered.
    if (!KNOWN_MECHANISMS.includes(m.mechanism)) {
      throw new AmqpError(ReplyCode.COMMAND_INVALID, `unknown authentication mechanism '${m.mechanism}'`, m.classId, m.methodId, true);
    }
    if (!this.mechanisms.includes(m.mechanism)) {
      throw new AmqpError(ReplyCode.COMMAND_INVALID, `invalid authentication mechanism '${m.mechanism}'`, m.classId, m.methodId, true);
    }
    const users = this.ctx.broker.users;
    let login: Login;
    if (m.mechanism === 'EXTERNAL') {
      // rabbit_auth_mechanism_ssl: the response is ignored; the verified certificate names the user.
      const cert = certificateLoginName(this.verifiedPeer!, this.ctx.config.certLoginFrom);
      login = 'refused' in cert ? { refused: cert.refused } : users.loginWithoutPassword(cert.name);
    } else {
      const creds = parseCredentials(m.mechanism, m.response);
      login = creds === undefined ? { refused: 'malformed response' } : users.login(creds.user, creds.password);
    }
    this.loggedIn(login, m.mechanism);
  }

  /**
   * The mechanism's verdict (rabbit_reader:auth_phase): a refusal, or the user, who must then pass
   * the loopback rule (RabbitMQ's loopback_users) before tune is sent.
   */
  private loggedIn(login: Login, mechanism: string): void {
    const broker = this.ctx.broker;
    const churn = broker.statistics.churn;
    churn.authAttempts++;
    const user = login.user;
    if (user === undefined) {
      churn.authFailed++;
      return this.refuseLogin(mechanism, login.refused);
    }
    if (broker.isLoopbackOnly(user.name) && !this.ctx.config.allowRemoteLoopbackUsers && !isLoopback(this.transport.remoteAddress)) {
      churn.authFailed++;
      return this.refuseLogin(mechanism, `user '${user.name}' can only connect via localhost`);
    }
    churn.authSucceeded++;
    this.user = user.name;
    this.step = 'tune-ok';
    const c = this.ctx.config;
    M.writeConnectionTune(this.transport.writer, 0, c.channelMax, c.frameMax, c.heartbeat);
    this.transport.markDirty();
  }

  /** RabbitMQ: close with 403 when the client has authentication_failure_close, else just drop. */
  private refuseLogin(mechanism: string, why: string): void {
    this.ctx.logger.warn({ remote: this.transport.remote, mechanism, reason: why }, 'authentication failed');
    if (this.capabilities.authenticationFailureClose) {
      this.transport.sendClose(new AmqpError(ReplyCode.ACCESS_REFUSED,
        `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
        CLASS_CONNECTION, CONNECTION_START_OK, true));
    } else {
      this.transport.destroy();
    }
  }

  private onTuneOk(m: M.ConnectionTuneOk): void {
    const c = this.ctx.config;
    negotiable('frame_max', FRAME_MIN_SIZE, c.frameMax, m.frameMax);
    negotiable('channel_max', 1, c.channelMax, m.channelMax);
    this.frameMax = m.frameMax === 0 ? c.frameMax : m.frameMax;
    this.channelMax = m.channelMax === 0 ? 65535 : m.channelMax;
    this.heartbeat = m.heartbeat;
    this.transport.reader.frameMax = this.frameMax;
    this.transport.writer.frameMax = this.frameMax;
    this.step = 'open';
  }

  private onOpen(m: M.ConnectionOpen): void {
    const broker = this.ctx.broker;
    // Limits and vhost access (530s); counted from here until the Connection is released.
    broker.tracking.admit(this.user, m.virtualHost);
    const vhost = broker.vhosts.get(m.virtualHost)!;
    this.step = 'done';
    this.timer.cancel();
    M.writeConnectionOpenOk(this.transport.writer, 0);
    this.transport.markDirty();
    const negotiated: Negotiated = {
      user: this.user, vhost, channelMax: this.channelMax, frameMax: this.frameMax, heartbeat: this.heartbeat,
      capabilities: this.capabilities, clientProperties: this.clientProperties, authMechanism: this.mechanism,
    };
    // From the next frame on (even later in the same socket chunk) the open connection reads.
    this.transport.owner = new Connection(this.transport, negotiated, this.ctx);
  }
}

/**
 * rabbit_reader:validate_negotiated_integer_value: a client value of 0 means "no limit", which is
 * higher than any server limit; a non-zero value under `min` is too low.
 */
function negotiable(field: 'frame_max' | 'channel_max', min: number, server: number, client: number): void {
  let problem: string | undefined;
  if (client !== 0 && client < min) problem = `is lower than the minimum allowed value (${min})`;
  else if (server !== 0 && (client === 0 || client > server)) problem = `is higher than the maximum allowed value (${server})`;
  if (problem === undefined) return;
  const detail = field === 'channel_max' && client === 0 ? ' (no limit)' : '';
  throw new AmqpError(ReplyCode.NOT_ALLOWED, `negotiated ${field} = ${client}${detail} ${problem}`, CLASS_CONNECTION, CONNECTION_TUNE, true);
}

function isLoopback(addr: string | undefined): boolean {
  if (addr === undefined) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

const LOCALE_BYTES = Buffer.from('en_US');
