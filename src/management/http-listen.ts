/**
 * Listening and closing for the control plane's HTTP listeners (management API, Prometheus): one
 * request handler served over plain HTTP, HTTPS or both, as RabbitMQ runs `management.tcp.*` and
 * `management.ssl.*` (`prometheus.tcp.*` / `prometheus.ssl.*`) as separate listeners of one app.
 * listen/listenTls resolve with the bound port (0 picks a free one) or reject with the bind error
 * (EADDRINUSE when a RabbitMQ on the machine holds the port) or a TlsConfigError; close drops
 * keep-alive sockets. HTTPS follows core/tls-options.ts: TLS 1.2/1.3, verify none|peer,
 * fail_if_no_peer_cert; a client certificate that does not verify is refused before any request
 * is read. reloadTls swaps certificate/key/CA for new handshakes only.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { listenOn } from '../core/listen-on.js';
import { loadTlsContext, loadTlsServerOptions, peerVerdict, type TlsSettings } from '../core/tls-options.js';

function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Milliseconds an HTTPS client has to finish its TLS handshake (RabbitMQ's ssl_handshake_timeout). */
const TLS_HANDSHAKE_TIMEOUT_MS = 5000;

/** One handler on any number of HTTP and HTTPS servers. */
export class HttpListeners {
  private readonly plain: http.Server[] = [];
  private readonly secure: { server: https.Server; settings: TlsSettings }[] = [];

  constructor(private readonly handler: http.RequestListener, private readonly logger: Logger, private readonly what: string) {}

  /** A plain HTTP listener. */
  listen(port: number, host: string): Promise<number> {
    const server = http.createServer(this.handler);
    server.on('error', (err) => this.logger.error({ err }, `${this.what} listener error`));
    this.plain.push(server);
    return listenOn(server, port, host);
  }

  /** An HTTPS listener; throws TlsConfigError (unreadable or mismatched files) before listening. */
  listenTls(settings: TlsSettings, port: number, host: string): Promise<number> {
    const server = https.createServer({ ...loadTlsServerOptions(settings), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, this.handler);
    server.on('secureConnection', (socket) => {
      if (peerVerdict(socket, settings.verify) === 'refused') {
        this.logger.info({ remote: socket.remoteAddress, reason: socket.authorizationError }, `${this.what}: TLS client certificate refused`);
        socket.destroy();
      }
    });
    // Node reports a handshake timeout without closing the socket: close it.
    server.on('tlsClientError', (err, socket) => {
      this.logger.debug({ err }, `${this.what}: TLS handshake failed`);
      socket.destroy();
    });
    server.on('error', (err) => this.logger.error({ err }, `${this.what} HTTPS listener error`));
    this.secure.push({ server, settings });
    return listenOn(server, port, host);
  }

  /** Re-read every HTTPS listener's files (throws TlsConfigError, keeping the old ones); false when there is none. */
  reloadTls(): boolean {
    const contexts = this.secure.map((s) => loadTlsContext(s.settings));
    this.secure.forEach((s, i) => s.server.setSecureContext(contexts[i]!));
    return this.secure.length > 0;
  }

  async close(): Promise<void> {
    await Promise.all([...this.plain, ...this.secure.map((s) => s.server)].map((s) => closeHttp(s)));
  }
}

/**
 * A control-plane HTTP service (the management API, Prometheus): one request handler on the
 * listeners its owner opens (plain and/or TLS), with the listen/reload/close operations they share.
 */
export abstract class HttpService {
  private readonly listeners: HttpListeners;

  protected constructor(logger: Logger, what: string) {
    this.listeners = new HttpListeners((req, res) => this.onRequest(req, res), logger, what);
  }

  /** Serve one request (errors are the service's to answer). */
  protected abstract onRequest(req: http.IncomingMessage, res: http.ServerResponse): void;

  /** Listen over HTTP; resolves with the bound port (0 picks a free one). */
  listen(port: number, host: string): Promise<number> {
    return this.listeners.listen(port, host);
  }

  /** Listen over HTTPS (RabbitMQ's management.ssl.* / prometheus.ssl.*) as well or instead; resolves with the bound port. */
  listenTls(settings: TlsSettings, port: number, host: string): Promise<number> {
    return this.listeners.listenTls(settings, port, host);
  }

  /** Re-read the HTTPS certificate files (false without HTTPS; throws TlsConfigError keeping the old ones). */
  reloadTls(): boolean {
    return this.listeners.reloadTls();
  }

  close(): Promise<void> {
    return this.listeners.close();
  }
}
