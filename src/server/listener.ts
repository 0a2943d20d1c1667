/**
 * The AMQP listeners: plain TCP (amqp) and, when configured, TLS (amqps). Both accept sockets the
 * same way and start a Handshake on each (which builds the Connection once open); the rest of the
 * server never knows which transport a socket came from (a TLSSocket is a net.Socket: the frame
 * reader gets the decrypted chunks as views, and one corked flush per turn becomes one TLS write).
 *
 * TLS specifics (RabbitMQ's ssl_options semantics, see core/tls-options.ts): the TLS handshake has
 * its own deadline (`tlsHandshakeTimeout`, RabbitMQ's ssl_handshake_timeout) before the AMQP
 * handshake's starts; a socket that fails it (plain AMQP on the TLS port, garbage, a refused
 * certificate, a handshake that never completes) is dropped on its own and never reaches the
 * AMQP code. reloadTls() swaps the certificate, key and CA for new handshakes only
 * (tls.Server#setSecureContext): open connections keep going.
 *
 * close() sends 320 CONNECTION_FORCED to every open connection, drops sockets still handshaking
 * (AMQP or TLS), waits briefly for them to go, then stops listening.
 *
 * With `maxConnections` set, a client socket (either listener) accepted while that many are open
 * (in TLS or AMQP handshake, or open) is closed at once, before any byte is read or a handshake is
 * started for it, so a flood of connections degrades into refusals instead of running the process
 * out of file descriptors; refusals are logged at most once per 10 s with their count.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import { CoarseClock } from '../core/clock.js';
import { listenOn } from '../core/listen-on.js';
import { loadTlsContext, loadTlsServerOptions, peerVerdict, type TlsListenerSettings } from '../core/tls-options.js';
import { Connection, type ConnectionContext, type Session } from './connection.js';
import { Handshake } from './handshake.js';
import { OutboundFlusher } from './outbound-flusher.js';
import type { ServerConfig } from './server-config.js';
import { serverProperties } from './server-properties.js';
import { Transport } from './transport.js';

export class Listener {
  private readonly server: net.Server;
  private readonly ctx: ConnectionContext;
  private readonly clock = new CoarseClock();
  private tlsServer: tls.Server | undefined;
  private tlsSettings: TlsListenerSettings | undefined;
  /**
   * The TCP sockets under the TLS listener, from accept to close: those still in their TLS
   * handshake are not sessions yet, and close() must not wait for them.
   */
  private readonly tlsSockets = new Set<net.Socket>();
  /** Client sockets open on both listeners (counted only with a connection limit). */
  private clientSockets = 0;
  private refused = 0;
  private refusedLoggedAt = 0;

  constructor(broker: Broker, config: ServerConfig, logger: Logger) {
    this.clock.start();
    this.ctx = {
      broker, config, logger, flusher: new OutboundFlusher(), sessions: new Set(), clock: this.clock,
      serverProperties: serverProperties(config),
    };
    this.server = net.createServer({ noDelay: true }, (socket) => {
      if (this.admitSocket(socket)) this.accept(socket);
    });
    this.server.on('error', (err) => logger.error({ err }, 'listener error'));
  }

  /**
   * The global connection limit (ServerConfig.maxConnections, both listeners together): a socket
   * over it is destroyed at once; an admitted one counts until it closes.
   */
  private admitSocket(socket: net.Socket): boolean {
    const max = this.ctx.config.maxConnections;
    if (max <= 0) return true;
    if (this.clientSockets >= max) {
      socket.destroy();
      this.refused++;
      const now = Date.now();
      if (now - this.refusedLoggedAt >= 10_000) {
        this.refusedLoggedAt = now;
        this.ctx.logger.warn({ maxConnections: max, refused: this.refused },
          'connection limit reached: new client sockets are closed (--max-connections)');
        this.refused = 0;
      }
      return false;
    }
    this.clientSockets++;
    socket.once('close', () => { this.clientSockets--; });
    return true;
  }

  /**
   * A client socket ready for AMQP (for TLS: after its TLS handshake; `verifiedPeer` when its client
   * certificate was verified).
   */
  private accept(socket: net.Socket, verifiedPeer?: tls.TLSSocket): void {
    try {
      new Handshake(socket, this.ctx, verifiedPeer);
    } catch (err: unknown) {
      this.ctx.logger.error({ err }, 'failed to set up connection');
      socket.destroy();
    }
  }

  /** Every client socket not yet closed: handshaking, open or closing. */
  get connections(): ReadonlySet<Session> {
    return this.ctx.sessions;
  }

  /** The connections past connection.open and not closed. */
  *openConnections(): Iterable<Connection> {
    for (const s of this.ctx.sessions) {
      if (s instanceof Transport && s.owner instanceof Connection && !s.owner.isClosed) yield s.owner;
    }
  }

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  /**
   * Start the amqps listener. Throws TlsConfigError (bad files, key/certificate mismatch) before
   * listening, or the bind error. Resolves with the bound port.
   */
  listenTls(settings: TlsListenerSettings, host: string): Promise<number> {
    const logger = this.ctx.logger;
    const server = tls.createServer({
      ...loadTlsServerOptions(settings), noDelay: true, handshakeTimeout: this.ctx.config.tlsHandshakeTimeout,
    }, (socket) => {
      const verdict = peerVerdict(socket, settings.verify);
      if (verdict === 'refused') {
        // verify_peer: a certificate that does not verify is refused whether or not one is required.
        logger.info({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason: socket.authorizationError },
          'TLS client certificate refused');
        socket.destroy();
        return;
      }
      this.accept(socket, verdict === 'verified' ? socket : undefined);
    });
    server.on('connection', (raw: net.Socket) => {
      if (!this.admitSocket(raw)) return;
      this.tlsSockets.add(raw);
      raw.once('close', () => this.tlsSockets.delete(raw));
    });
    // A failed TLS handshake concerns that socket only. Node reports a handshake timeout here
    // without closing the socket (a client that never finishes would keep it forever): close it.
    server.on('tlsClientError', (err, socket) => {
      logger.debug({ err, remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` }, 'TLS handshake failed');
      socket.destroy();
    });
    server.on('error', (err) => logger.error({ err }, 'TLS listener error'));
    this.tlsServer = server;
    this.tlsSettings = settings;
    return listenOn(server, settings.port, host);
  }

  /**
   * Re-read the TLS certificate, key and CA files; new TLS handshakes use them, open connections
   * are untouched. Throws TlsConfigError and keeps the current ones when the files are bad. False
   * when there is no TLS listener.
   */
  reloadTls(): boolean {
    if (this.tlsServer === undefined || this.tlsSettings === undefined) return false;
    this.tlsServer.setSecureContext(loadTlsContext(this.tlsSettings));
    return true;
  }

  /**
   * Stop listening and close every connection with 320 CONNECTION_FORCED. Clients get `graceMs`
   * to answer close-ok; the sockets of those that do not (a stuck client that stopped reading) are
   * dropped then, so a shutdown is bounded. Reports how many closed cleanly and how many were dropped.
   */
  async close(reason = 'broker forced connection closure with reason \'shutdown\'', graceMs = 2000): Promise<ListenerCloseReport> {
    const closed = Promise.all([this.server, this.tlsServer].map((server) => new Promise<void>((resolve) => {
      if (server === undefined || !server.listening) resolve();
      else server.close(() => resolve());
    })));
    const connections = this.ctx.sessions.size;
    for (const c of [...this.ctx.sessions]) c.forceClose(reason);
    const deadline = Date.now() + graceMs;
    while (this.ctx.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const dropped = this.ctx.sessions.size;
    for (const c of [...this.ctx.sessions]) c.destroy();
    // What is left under the TLS listener never finished its TLS handshake.
    for (const s of this.tlsSockets) s.destroy();
    this.clock.stop();
    await closed;
    return { connections, closedCleanly: connections - dropped, dropped };
  }
}

/** What Listener.close did with the connections open when it was called. */
export interface ListenerCloseReport {
  readonly connections: number;
  /** Answered close-ok (or closed their socket) within the grace period. */
  readonly closedCleanly: number;
  /** Still open at the end of the grace period: their sockets were destroyed. */
  readonly dropped: number;
}
