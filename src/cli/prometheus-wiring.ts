/**
 * Wires the Prometheus listener (management/prometheus.ts) to a running broker: what it reads
 * about the process and the node (RSS, file descriptors, free disk, alarms, uptime) and the open
 * connections. Imported lazily by startWarren, only when Prometheus is enabled, so `warren start`
 * without it loads none of this.
 */
import { hostname } from 'node:os';
import { PrometheusListener } from '../management/prometheus.js';
import type { NodeFacts, PrometheusSource, ScrapedConnection } from '../management/prometheus-metrics.js';
import type { Listener } from '../server/listener.js';
import { diskFree, maxFds, openFds, type HttpWiringOptions } from './http-wiring.js';

export interface PrometheusWiringOptions extends HttpWiringOptions {
  listener: Listener;
}

export interface RunningPrometheus {
  readonly port: number;
  close(): Promise<void>;
}

export async function startPrometheus(o: PrometheusWiringOptions): Promise<RunningPrometheus> {
  const meter = o.broker.meter;
  const source: PrometheusSource = {
    broker: o.broker,
    identity: {
      rabbitmqVersion: o.serverConfig.version,
      productName: o.serverConfig.product,
      productVersion: o.version,
      // The node name the management API reports (management-app.ts defaultNodeName).
      node: `warren@${hostname()}`,
      cluster: o.serverConfig.clusterName,
      clusterId: `warren-cluster-id-${o.serverConfig.clusterName}`,
    },
    connections: () => connectionsOf(o.listener),
    node: (): NodeFacts => {
      const rss = process.memoryUsage.rss();
      return {
        residentMemoryBytes: rss,
        // Publishers are blocked when held message bytes pass the watermark: the RSS at which that
        // happens is the watermark plus what the process holds besides messages.
        residentMemoryLimitBytes: meter.highWatermark + Math.max(0, rss - meter.used),
        diskFreeBytes: diskFree(o.dataDir),
        diskFreeLimitBytes: o.diskFreeLimit,
        openFds: openFds(),
        maxFds: maxFds(),
        uptimeSeconds: Math.floor(process.uptime()),
        memoryAlarm: meter.memoryAlarmOn,
        diskAlarm: meter.diskAlarmOn,
      };
    },
  };
  const listener = new PrometheusListener(source, o.logger);
  const port = await listener.listen(o.port, o.host);
  o.logger.info({ host: o.host, port }, `Prometheus metrics on http://${o.host}:${port}/metrics`);
  return { port, close: () => listener.close() };
}

function* connectionsOf(listener: Listener): Iterable<ScrapedConnection> {
  for (const c of listener.openConnections()) yield { id: c.id, snapshot: () => ({}), channels: () => [] };
}
