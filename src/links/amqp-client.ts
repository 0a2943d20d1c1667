/**
 * An outbound AMQP 0-9-1 client connection for the links (shovels, federation), built on Warren's
 * own codec (src/protocol): one socket (net or TLS), the handshake as a client (protocol header,
 * start-ok with PLAIN or EXTERNAL, tune-ok, open), heartbeats, channels (client-channel.ts) and the
 * close sequence.
 *
 * Rules kept (AMQP 0-9-1 §2.2.4, RabbitMQ's amqp_network_connection):
 * - tune: channel_max and frame_max are the smaller of the two sides, 0 meaning "no limit"; the
 *   heartbeat likewise (the Erlang client's rule), the URI's `heartbeat` (default 60 s) ours.
 * - Capabilities announced: publisher_confirms, exchange_exchange_bindings, basic.nack,
 *   consumer_cancel_notify, connection.blocked, authentication_failure_close (so a refused login
 *   is a 403 connection.close, not a silent socket close), per_consumer_qos.
 * - A heartbeat is sent when nothing was written for heartbeat/2 seconds; the peer is declared
 *   dead after two heartbeat intervals of silence (the socket is destroyed, the error reported).
 * - Every way the connection ends (our close, the peer's connection.close, a socket error, a
 *   missed heartbeat, a handshake timeout) is reported once through `closed` (a promise that
 *   resolves with a ClientError; code 200 for a normal close) and `onClose`; pending requests of
 *   every channel are rejected with the same error. Nothing is thrown from socket callbacks.
 * - Writes are batched per turn (one flush in a microtask); `writable` says whether the socket's
 *   buffer is below its high-water mark and `onDrain` fires when it empties again.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { FieldTable } from '../core/field-value.js';
import { tableFrom } from '../core/field-value.js';
import { FrameReader, type FrameSink } from '../protocol/frame-reader.js';
import { FrameWriter } from '../protocol/frame-writer.js';
import { FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE } from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import { PROTOCOL_HEADER } from '../protocol/protocol-header.js';
import { parseAmqpUri, redactedUri, type AmqpEndpoint } from './amqp-uri.js';
import { ClientChannel } from './client-channel.js';
import { asClientError, ClientError } from './client-error.js';

export interface ConnectOptions {
  /** An AMQP URI or an endpoint parsed from one (a direct endpoint must be resolved by the caller). */
  readonly uri: string | AmqpEndpoint;
  /** Shown by the peer as the connection's name (client property connection_name). */
  readonly connectionName?: string;
  /** Extra client properties (merged over the defaults). */
  readonly clientProperties?: Readonly<Record<string, unknown>>;
  /** Connect + handshake deadline in ms (default: the URI's connection_timeout, else 30000). */
  readonly timeoutMs?: number;
  /** Heartbeat we ask for in seconds when the URI says nothing (default 60). */
  readonly heartbeat?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_HEARTBEAT = 60;
const CLOSE_OK_TIMEOUT_MS = 5_000;
const OUR_FRAME_MAX = 131072;
const OUR_CHANNEL_MAX = 2047;

type State = 'handshake' | 'open' | 'closing' | 'closed';

export class ClientConnection implements FrameSink {
  /** Resolves once, when the connection is gone, with why (code 200 for our own normal close). */
  readonly closed: Promise<ClientError>;
  /** Called once when the connection is gone (after `closed` resolves... in the same turn). */
  onClose: ((reason: ClientError) => void) | undefined;
  /** connection.blocked / unblocked from the peer (reason, or undefined when unblocked). */
  onBlocked: ((blocked: boolean, reason: string | undefined) => void) | undefined;
  /** The socket drained after `writable` was false. */
  onDrain: (() => void) | undefined;

  serverProperties: FieldTable = [];
  channelMax = 0;
  frameMax = FRAME_MIN_SIZE;
  heartbeat = 0;
  blocked = false;
  readonly endpoint: AmqpEndpoint;

  private state: State = 'handshake';
  private readonly reader = new FrameReader(FRAME_MIN_SIZE);
  private readonly writer = new FrameWriter(16384);
  private readonly channels: (ClientChannel | undefined)[] = [];
  private flushScheduled = false;
  private wroteSinceTick = false;
  private readSinceTick = false;
  private silentTicks = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private resolveClosed!: (e: ClientError) => void;
  private handshakeDone: ((err: ClientError | undefined) => void) | undefined;
  private closeReason: ClientError | undefined;

  private constructor(private readonly socket: net.Socket, endpoint: AmqpEndpoint, private readonly options: ConnectOptions) {
    this.endpoint = endpoint;
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    // The writer must never split a body into frames the peer refuses: start at the minimum.
    this.writer.frameMax = FRAME_MIN_SIZE;
  }

  /** Connect, log in and open the vhost; rejects with a ClientError (refused, 403, 530, timeout...). */
  static connect(options: ConnectOptions): Promise<ClientConnection> {
    let ep: AmqpEndpoint;
    try {
      ep = typeof options.uri === 'string' ? parseAmqpUri(options.uri) : options.uri;
    } catch (err) {
      return Promise.reject(asClientError(err));
    }
    if (ep.direct) return Promise.reject(new ClientError('a direct URI (amqp://) must be resolved to a listener first', 'connection'));
    let socket: net.Socket;
    try {
      socket = ep.tls ? tls.connect(tlsOptions(ep)) : net.connect({ host: ep.host, port: ep.port });
    } catch (err) {
      return Promise.reject(asClientError(err));
    }
    socket.setNoDelay(true);
    const conn = new ClientConnection(socket, ep, options);
    return conn.start();
  }

  private start(): Promise<ClientConnection> {
    const s = this.socket;
    const timeoutMs = this.options.timeoutMs ?? this.endpoint.connectionTimeout ?? DEFAULT_TIMEOUT_MS;
    const p = new Promise<ClientConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new ClientError(`timed out after ${timeoutMs} ms connecting to ${this.where()}`, 'connection', 0, 0, 0, 'ETIMEDOUT'));
      }, timeoutMs);
      this.handshakeDone = (err) => {
        clearTimeout(timer);
        this.handshakeDone = undefined;
        if (err === undefined) resolve(this);
        else reject(err);
      };
    });
    s.on(this.endpoint.tls ? 'secureConnect' : 'connect', () => {
      s.write(PROTOCOL_HEADER);
    });
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', (err) => this.fail(asClientError(err)));
    s.on('close', () => this.fail(new ClientError(`connection to ${this.where()} closed by the peer`, 'connection', 0, 0, 0, 'ECONNRESET')));
    s.on('drain', () => this.onDrain?.());
    return p;
  }

  /** host:port, for messages. */
  where(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** The URI without its password. */
  get displayUri(): string {
    return redactedUri(this.endpoint.uri);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** False while the socket's write buffer is above its high-water mark. */
  get writable(): boolean {
    return !this.socket.writableNeedDrain;
  }

  /** Open a channel (channel.open / open-ok). */
  async openChannel(): Promise<ClientChannel> {
    if (this.state !== 'open') throw this.closeReason ?? new ClientError('connection is not open', 'connection');
    let id = 1;
    const max = this.channelMax === 0 ? 65535 : this.channelMax;
    while (id <= max && this.channels[id] !== undefined) id++;
    if (id > max) throw new ClientError(`no free channel (channel_max ${max})`, 'connection');
    const ch = new ClientChannel(this, id, this.writer);
    this.channels[id] = ch;
    await ch.open();
    return ch;
  }

  /** connection.close(200) and wait for close-ok (or a timeout); resolves once the socket is gone. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'open' || this.state === 'handshake') {
      this.state = 'closing';
      this.closeReason = new ClientError('connection closed by the application', 'connection', 200);
      M.writeConnectionClose(this.writer, 0, 200, 'Goodbye', 0, 0);
      this.scheduleFlush();
      this.closeTimer = setTimeout(() => this.fail(this.closeReason!), CLOSE_OK_TIMEOUT_MS);
    }
    await this.closed;
  }

  /** Drop the socket at once (tests simulate network loss with it); reported as `reason`. */
  destroy(reason?: ClientError): void {
    this.fail(reason ?? new ClientError(`connection to ${this.where()} destroyed`, 'connection', 0, 0, 0, 'ECONNRESET'));
  }

  // ---- used by ClientChannel -------------------------------------------------------------------

  /** Pending frames go out in one write at the end of this turn. */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.state === 'closed' || this.socket.destroyed) return;
      if (this.writer.length > 0) {
        this.wroteSinceTick = true;
        this.writer.flushTo(this.socket);
      }
    });
  }

  /** A channel is closed for good: its number may be reused. */
  releaseChannel(id: number): void {
    this.channels[id] = undefined;
  }

  // ---- inbound -----------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.readSinceTick = true;
    if (this.state === 'handshake' && this.serverProperties.length === 0 && chunk.length >= 4 && chunk.toString('latin1', 0, 4) === 'AMQP') {
      this.fail(new ClientError(`${this.where()} refused the protocol version (it answered with its own protocol header)`, 'connection'));
      return;
    }
    try {
      this.reader.push(chunk, this);
    } catch (err) {
      this.fail(asClientError(err));
    }
  }

  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    if (type === FRAME_HEARTBEAT) return;
    if (channel === 0) {
      if (type !== FRAME_METHOD) throw new ClientError(`unexpected frame type ${type} on channel 0`, 'connection');
      this.onConnectionMethod(M.decodeMethod(payload, start, end));
      return;
    }
    const ch = this.channels[channel];
    if (ch === undefined) return; // a frame for a channel we forgot (after its close): ignored
    ch.onFrame(type, payload, start, end);
  }

  private onConnectionMethod(m: M.Method): void {
    if (this.state === 'closing' && m.kind !== 'connection.close' && m.kind !== 'connection.close-ok') return;
    switch (m.kind) {
      case 'connection.start':
        this.onStart(m);
        return;
      case 'connection.secure':
        throw new ClientError('the server asked for a SASL challenge (connection.secure), which PLAIN does not answer', 'connection');
      case 'connection.tune':
        this.onTune(m);
        return;
      case 'connection.open-ok':
        this.state = 'open';
        this.startHeartbeats();
        this.handshakeDone?.(undefined);
        return;
      case 'connection.close': {
        M.writeConnectionCloseOk(this.writer, 0);
        this.writer.flushTo(this.socket);
        const reason = new ClientError(m.replyText, 'connection', m.replyCode, m.classId, m.methodId);
        this.socket.end();
        this.fail(this.state === 'closing' && this.closeReason !== undefined ? this.closeReason : reason);
        return;
      }
      case 'connection.close-ok':
        this.fail(this.closeReason ?? new ClientError('connection closed', 'connection', 200));
        return;
      case 'connection.blocked':
        this.blocked = true;
        this.onBlocked?.(true, m.reason);
        return;
      case 'connection.unblocked':
        this.blocked = false;
        this.onBlocked?.(false, undefined);
        return;
      case 'connection.update-secret':
        return;
      default:
        throw new ClientError(`unexpected ${m.kind} on channel 0`, 'connection');
    }
  }

  private onStart(m: M.ConnectionStart): void {
    this.serverProperties = m.serverProperties;
    const offered = m.mechanisms.toString('utf8').split(' ');
    const mech = this.endpoint.authMechanism;
    if (!offered.includes(mech)) {
      throw new ClientError(`${this.where()} does not offer ${mech} (offers ${offered.join(', ')})`, 'connection', 0);
    }
    const response = mech === 'PLAIN'
      ? Buffer.from(`\u0000${this.endpoint.username}\u0000${this.endpoint.password}`, 'utf8')
      : Buffer.alloc(0);
    const props = tableFrom({
      product: 'Warren',
      version: '0.1.0',
      platform: `Node.js ${process.version}`,
      information: 'Warren link (shovel / federation)',
      capabilities: {
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        'basic.nack': true,
        consumer_cancel_notify: true,
        'connection.blocked': true,
        authentication_failure_close: true,
        per_consumer_qos: true,
      },
      ...(this.options.connectionName !== undefined ? { connection_name: this.options.connectionName } : {}),
      ...(this.options.clientProperties ?? {}),
    });
    M.writeConnectionStartOk(this.writer, 0, props, mech, response, 'en_US');
    this.scheduleFlush();
  }

  private onTune(m: M.ConnectionTune): void {
    const pick = (client: number, server: number): number => (client === 0 || server === 0 ? Math.max(client, server) : Math.min(client, server));
    this.channelMax = pick(this.endpoint.channelMax ?? OUR_CHANNEL_MAX, m.channelMax);
    this.frameMax = pick(this.endpoint.frameMax ?? OUR_FRAME_MAX, m.frameMax);
    this.heartbeat = pick(this.endpoint.heartbeat ?? this.options.heartbeat ?? DEFAULT_HEARTBEAT, m.heartbeat);
    M.writeConnectionTuneOk(this.writer, 0, this.channelMax, this.frameMax, this.heartbeat);
    this.writer.frameMax = this.frameMax;
    this.reader.frameMax = this.frameMax;
    M.writeConnectionOpen(this.writer, 0, this.endpoint.vhost);
    this.scheduleFlush();
  }

  private startHeartbeats(): void {
    if (this.heartbeat <= 0) return;
    const tickMs = Math.max(500, (this.heartbeat * 1000) / 2);
    this.heartbeatTimer = setInterval(() => {
      if (this.state !== 'open') return;
      if (!this.wroteSinceTick) {
        this.writer.writeHeartbeat();
        this.writer.flushTo(this.socket);
      }
      this.wroteSinceTick = false;
      if (this.readSinceTick) {
        this.silentTicks = 0;
      } else if (++this.silentTicks >= 4) {
        // Two heartbeat intervals without a byte: the peer (or the network) is gone.
        this.fail(new ClientError(`missed heartbeats from ${this.where()}`, 'connection', 0, 0, 0, 'ETIMEDOUT'));
        return;
      }
      this.readSinceTick = false;
    }, tickMs);
    this.heartbeatTimer.unref();
  }

  /** The end, whatever caused it: report once, reject everything pending, drop the socket. */
  private fail(reason: ClientError): void {
    if (this.state === 'closed') return;
    const wasHandshake = this.state === 'handshake';
    this.state = 'closed';
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.closeTimer);
    let r = reason;
    if (wasHandshake && r.code === 0 && this.serverProperties.length > 0 && r.errno === 'ECONNRESET') {
      // A peer that just drops the socket during the handshake refused us (an old broker's
      // way of saying ACCESS_REFUSED without authentication_failure_close).
      r = new ClientError(`${this.where()} closed the connection during the handshake (login refused?)`, 'connection', 0, 0, 0, 'ECONNRESET');
    }
    this.closeReason = r;
    if (!this.socket.destroyed) {
      if (r.code !== 0) this.socket.end();
      this.socket.destroy();
    }
    for (const ch of this.channels) ch?.connectionClosed(r);
    this.channels.length = 0;
    this.handshakeDone?.(r);
    this.resolveClosed(r);
    try {
      this.onClose?.(r);
    } catch {
      // A listener's mistake must not leave the connection half-closed.
    }
  }
}

function tlsOptions(ep: AmqpEndpoint): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = {
    host: ep.host,
    port: ep.port,
    rejectUnauthorized: ep.verifyPeer,
  };
  if (ep.serverName !== false && !net.isIP(ep.host)) o.servername = ep.serverName ?? ep.host;
  else if (typeof ep.serverName === 'string') o.servername = ep.serverName;
  if (ep.caFile !== undefined) o.ca = readFileSync(ep.caFile);
  if (ep.certFile !== undefined) o.cert = readFileSync(ep.certFile);
  if (ep.keyFile !== undefined) o.key = readFileSync(ep.keyFile);
  if (ep.keyPassword !== undefined) o.passphrase = ep.keyPassword;
  return o;
}

