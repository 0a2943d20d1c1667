/**
 * Wires the management HTTP API (src/management) to a running broker: facts about this node
 * (names, versions, listeners, free disk), the message codec (protocol/ lives on this side of the
 * layer rule), the web console's built files and the listener itself. Imported lazily by
 * startWarren, only when the API is enabled, so `warren start --management-port 0` loads none of it.
 */
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerStatisticsSource } from '../management/broker-statistics.js';
import { ConsoleAssets } from '../management/console-assets.js';
import { defaultNodeName, ManagementApp, type Listener as ListenerFact, type LogLevelControl, type NodeInfo } from '../management/management-app.js';
import { ManagementServer } from '../management/management-server.js';
import { managementRouter } from '../management/routes/index.js';
import type { StatisticsSource } from '../management/statistics-source.js';
import { diskFree, listenHttpAndHttps, maxFds, openFds, type HttpWiringOptions } from './http-wiring.js';
import { MANAGEMENT_CODEC } from './management-codec.js';

export interface ManagementWiringOptions extends HttpWiringOptions {
  /** The bound AMQP port. */
  amqpPort: number;
  /** Other listeners to report (Prometheus). */
  otherListeners?: ListenerFact[];
  statistics?: StatisticsSource;
  /** Serves GET/PUT /api/warren/log-level. */
  logLevel?: LogLevelControl;
}

export interface RunningManagement {
  /** The HTTP port, undefined when only HTTPS runs. */
  readonly port: number | undefined;
  /** The HTTPS port (RabbitMQ's management.ssl.port), undefined without HTTPS. */
  readonly tlsPort: number | undefined;
  readonly app: ManagementApp;
  /** Re-read the HTTPS certificate files (false without HTTPS). */
  reloadTls(): boolean;
  close(): Promise<void>;
}

/** Undefined when the only listener asked for was busy (see HttpWiringOptions.busyWarning). */
export async function startManagement(o: ManagementWiringOptions): Promise<RunningManagement | undefined> {
  const listeners: ListenerFact[] = [
    { protocol: 'amqp', host: o.serverConfig.host, port: o.amqpPort },
    ...(o.otherListeners ?? []),
  ];
  const node: NodeInfo = {
    name: defaultNodeName(),
    product: o.serverConfig.product,
    productVersion: o.version,
    rabbitmqVersion: o.serverConfig.version,
    clusterName: o.serverConfig.clusterName,
    startedAt: Date.now(),
    listeners,
    diskFree: () => diskFree(o.dataDir),
    diskFreeLimit: o.diskFreeLimit,
    fds: () => ({ used: openFds(), total: maxFds() }),
    allowRemoteLoopbackUsers: o.serverConfig.allowRemoteLoopbackUsers,
    maxMessageSize: o.serverConfig.maxMessageSize,
    ...(o.logLevel === undefined ? {} : { logLevel: o.logLevel }),
  };
  const app = new ManagementApp(o.broker, node, MANAGEMENT_CODEC, o.statistics ?? brokerStatisticsSource(o.broker));
  const server = new ManagementServer(app, managementRouter(), o.logger, new ConsoleAssets(consoleDirectory()));
  const bound = await listenHttpAndHttps(server, o);
  if (bound === undefined) return undefined;
  const { port, tlsPort } = bound;
  if (port !== undefined) {
    listeners.push({ protocol: 'http', host: o.host, port });
    o.logger.info({ host: o.host, port }, `Management API on http://${o.host}:${port}/api/`);
  }
  if (tlsPort !== undefined) {
    const host = o.tls?.host ?? o.host;
    listeners.push({ protocol: 'https', host, port: tlsPort });
    o.logger.info({ host, port: tlsPort }, `Management API on https://${host}:${tlsPort}/api/`);
  }
  return { port, tlsPort, app, reloadTls: () => server.reloadTls(), close: () => server.close() };
}

/**
 * Where `npm run build` puts the web console: dist/console in the package, found from this file
 * whether it runs built (dist/src/cli) or from source (src/cli, under vitest or tsx).
 */
export function consoleDirectory(): string {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return basename(root) === 'dist' ? join(root, 'console') : join(root, 'dist', 'console');
}
