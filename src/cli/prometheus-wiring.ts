/**
 * Wires the Prometheus listener (management/prometheus.ts) to a running broker: what it reads
 * about the process and the node (RSS, file descriptors, free disk, alarms, uptime) and the open
 * connections. Imported lazily by startWarren, only when Prometheus is enabled, so `warren start`
 * without it loads none of this.
 */
import { hostname } from 'node:os';
import { PrometheusListener } from '../management/prometheus.js';
import type { NodeFacts, PrometheusSource } from '../management/prometheus-metrics.js';
import { diskFree, listenHttpAndHttps, maxFds, openFds, type HttpWiringOptions } from './http-wiring.js';

export type PrometheusWiringOptions = HttpWiringOptions;

export interface RunningPrometheus {
  /** The HTTP port, undefined when only HTTPS runs. */
  readonly port: number | undefined;
  /** The HTTPS port (RabbitMQ's prometheus.ssl.port), undefined without HTTPS. */
  readonly tlsPort: number | undefined;
  /** Re-read the HTTPS certificate files (false without HTTPS). */
  reloadTls(): boolean;
  close(): Promise<void>;
}

/** Undefined when the only listener asked for was busy (see HttpWiringOptions.busyWarning). */
export async function startPrometheus(o: PrometheusWiringOptions): Promise<RunningPrometheus | undefined> {
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
    // The management registry's open connections (snapshots of them and their channels).
    connections: () => o.broker.connections.all(),
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
  const bound = await listenHttpAndHttps(listener, o);
  if (bound === undefined) return undefined;
  const { port, tlsPort } = bound;
  if (port !== undefined) o.logger.info({ host: o.host, port }, `Prometheus metrics on http://${o.host}:${port}/metrics`);
  if (tlsPort !== undefined) {
    const host = o.tls?.host ?? o.host;
    o.logger.info({ host, port: tlsPort }, `Prometheus metrics on https://${host}:${tlsPort}/metrics`);
  }
  return { port, tlsPort, reloadTls: () => listener.reloadTls(), close: () => listener.close() };
}

