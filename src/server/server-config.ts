/**
 * The server's typed configuration (built by the CLI from flags/env; tests pass it directly).
 * Defaults mirror RabbitMQ's where a client can observe them.
 */
import type { TlsListenerSettings } from '../core/tls-options.js';
import { DEFAULT_AUTH_MECHANISMS, type CertLoginFrom } from './auth-mechanism.js';

export interface ServerConfig {
  host: string;
  port: number;
  /**
   * Advertised in connection.start. Clients gate behaviour on product and version (kombu uses
   * RabbitMQ's per-consumer prefetch only when product is "RabbitMQ"), so Warren identifies as a
   * current RabbitMQ by default and names itself in `platform` and `information` (see README).
   */
  product: string;
  version: string;
  platform: string;
  clusterName: string;
  /** Offered in connection.tune. 0 would mean "no limit"; RabbitMQ offers 2047 / 131072 / 60. */
  channelMax: number;
  frameMax: number;
  heartbeat: number;
  /**
   * Largest message body accepted (RabbitMQ's max_message_size: 16 MiB since RabbitMQ 4.0, 128 MiB
   * in 3.x). A larger body-size in a content header is refused with 406 before any of it is read.
   */
  maxMessageSize: number;
  /** Let loopback-only users (guest) log in from anywhere. */
  allowRemoteLoopbackUsers: boolean;
  /** Seconds a client has to finish the handshake (RabbitMQ's handshake_timeout, 10 s). */
  handshakeTimeout: number;
  /**
   * Client sockets open at once (handshaking or open); further ones are closed as soon as they are
   * accepted. 0: no limit. The CLI defaults it to 90% of the open-file limit.
   */
  maxConnections: number;
  /** Pending outbound bytes per connection above which deliveries pause until flushed. */
  outboundHighWater: number;
  /**
   * The amqps listener (RabbitMQ's listeners.ssl.default + ssl_options.*); none when absent. Its
   * port: 5671 from the CLI when a certificate is given, 0 (a free one) in tests.
   */
  tls?: TlsListenerSettings;
  /** Milliseconds a client has to finish the TLS handshake (RabbitMQ's ssl_handshake_timeout, 5000). */
  tlsHandshakeTimeout: number;
  /**
   * SASL mechanisms that may be offered (RabbitMQ's auth_mechanisms): PLAIN, AMQPLAIN, EXTERNAL.
   * Each socket is offered those it allows (EXTERNAL needs a verified client certificate).
   */
  authMechanisms: readonly string[];
  /** Where EXTERNAL takes the user name from (RabbitMQ's ssl_cert_login_from). */
  certLoginFrom: CertLoginFrom;
}

export const DEFAULT_SERVER_CONFIG: ServerConfig = {
  host: '0.0.0.0',
  port: 5672,
  product: 'RabbitMQ',
  version: '3.13.7',
  platform: `Warren on Node.js ${process.version}`,
  clusterName: 'warren@localhost',
  channelMax: 2047,
  frameMax: 131072,
  heartbeat: 60,
  maxMessageSize: 16 * 1024 * 1024,
  allowRemoteLoopbackUsers: false,
  handshakeTimeout: 10,
  maxConnections: 0,
  outboundHighWater: 256 * 1024,
  tlsHandshakeTimeout: 5000,
  authMechanisms: DEFAULT_AUTH_MECHANISMS,
  certLoginFrom: 'common_name',
};
