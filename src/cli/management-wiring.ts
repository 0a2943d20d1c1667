/**
 * Wires the management HTTP API (src/management) to a running broker: facts about this node
 * (names, versions, listeners, free disk), the message codec (protocol/ lives on this side of the
 * layer rule) and the listener itself. Imported lazily by startWarren, only when the API is
 * enabled, so `warren start --management-port 0` loads none of it.
 */
import { brokerStatisticsSource } from '../management/broker-statistics.js';
import { defaultNodeName, ManagementApp, type Listener as ListenerFact, type NodeInfo } from '../management/management-app.js';
import { ManagementServer } from '../management/management-server.js';
import { managementRouter } from '../management/routes/index.js';
import type { StatisticsSource } from '../management/statistics-source.js';
import { diskFree, maxFds, openFds, type HttpWiringOptions } from './http-wiring.js';
import { MANAGEMENT_CODEC } from './management-codec.js';

export interface ManagementWiringOptions extends HttpWiringOptions {
  /** The bound AMQP port. */
  amqpPort: number;
  /** Other listeners to report (Prometheus). */
  otherListeners?: ListenerFact[];
  statistics?: StatisticsSource;
}

export interface RunningManagement {
  readonly port: number;
  readonly app: ManagementApp;
  close(): Promise<void>;
}

export async function startManagement(o: ManagementWiringOptions): Promise<RunningManagement> {
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
  };
  const app = new ManagementApp(o.broker, node, MANAGEMENT_CODEC, o.statistics ?? brokerStatisticsSource(o.broker));
  const server = new ManagementServer(app, managementRouter(), o.logger);
  const port = await server.listen(o.port, o.host);
  listeners.push({ protocol: 'http', host: o.host, port });
  o.logger.info({ host: o.host, port }, `Management API on http://${o.host}:${port}/api/`);
  return { port, app, close: () => server.close() };
}
