/**
 * The TCP listener: accepts sockets and starts a Handshake on each (which builds the Connection
 * once open). close() sends 320 CONNECTION_FORCED to every open connection, drops sockets still
 * handshaking, waits briefly for them to go, then stops listening.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import { CoarseClock } from '../core/clock.js';
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

  constructor(broker: Broker, config: ServerConfig, logger: Logger) {
    this.clock.start();
    this.ctx = {
      broker, config, logger, flusher: new OutboundFlusher(), sessions: new Set(), clock: this.clock,
      serverProperties: serverProperties(config),
    };
    this.server = net.createServer({ noDelay: true }, (socket) => {
      try {
        new Handshake(socket, this.ctx);
      } catch (err: unknown) {
        logger.error({ err }, 'failed to set up connection');
        socket.destroy();
      }
    });
    this.server.on('error', (err) => logger.error({ err }, 'listener error'));
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
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  async close(reason = 'broker forced connection closure with reason \'shutdown\''): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of [...this.ctx.sessions]) c.forceClose(reason);
    const deadline = Date.now() + 2000;
    while (this.ctx.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of [...this.ctx.sessions]) c.destroy();
    this.clock.stop();
    await closed;
  }
}
