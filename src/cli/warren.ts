/**
 * Composition root used by the CLI and by tests: builds the broker and the listener from a typed
 * config and starts listening. Nothing here reads argv or the environment (cli/main does), so
 * several brokers can run in one process (tests run in parallel).
 */
import { mkdir } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { join } from 'node:path';
import { Broker, DEFAULT_BROKER_CONFIG, type BrokerConfig } from '../broker/broker.js';
import { DiskAlarm } from '../broker/disk-alarm.js';
import { Persistence } from '../broker/persistence.js';
import { CONTENT_CODEC } from '../server/content-codec.js';
import { FileStore, MemoryStore, type Store } from '../store/index.js';
import { Listener } from '../server/listener.js';
import { DEFAULT_SERVER_CONFIG, type ServerConfig } from '../server/server-config.js';

/** Warren's own version (the package version), for build info and `warren --version`. */
export const WARREN_VERSION = '0.1.0';

export interface WarrenOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  logLevel?: string;
  /** 'file' (default): durable segments under dataDir; 'memory': nothing survives the process. */
  storeKind?: 'file' | 'memory';
  /** Message segment file size in bytes (tiny in tests to exercise rollover). */
  segmentSize?: number;
  /** Publishers are blocked while free disk is under this many bytes (RabbitMQ's disk_free_limit, 50 MB). */
  diskFreeLimit?: number;
  /** A logger to use instead of building one (the CLI passes its own). */
  logger?: Logger;
  server?: Partial<ServerConfig>;
  broker?: Partial<BrokerConfig>;
  /** Prometheus metrics port (RabbitMQ's 15692); undefined (the default here) disables, 0 picks a free one. */
  prometheusPort?: number;
  /** Prometheus listen address (default: the AMQP host). */
  prometheusHost?: string;
  /**
   * When the Prometheus port is already taken (a RabbitMQ on the same machine holds 15692), log a
   * warning and run without Prometheus instead of failing. The CLI sets it for its default port.
   */
  prometheusBestEffort?: boolean;
  /** Management HTTP API port (RabbitMQ's 15672); undefined (the default here) disables, 0 picks a free one. */
  managementPort?: number;
  /** Management API listen address (default: the AMQP host). */
  managementHost?: string;
  /** As prometheusBestEffort, for the management port (a RabbitMQ on the machine holds 15672). */
  managementBestEffort?: boolean;
}

export interface Warren {
  readonly port: number;
  readonly host: string;
  /** amqp://guest:guest@<host>:<port> (loopback when listening on all interfaces). */
  readonly url: string;
  readonly broker: Broker;
  readonly listener: Listener;
  readonly logger: Logger;
  /** The bound Prometheus port, undefined when Prometheus is disabled. */
  readonly prometheusPort: number | undefined;
  /** The bound management API port, undefined when the API is disabled. */
  readonly managementPort: number | undefined;
  /** http://<host>:<port> of the management API (append /api/...), undefined when disabled. */
  readonly managementUrl: string | undefined;
  /** Close every connection with 320 CONNECTION_FORCED and stop listening. */
  close(): Promise<void>;
}

export async function startWarren(options: WarrenOptions = {}): Promise<Warren> {
  const logger = options.logger ?? pino({ level: options.logLevel ?? 'info', base: { app: 'warren' } });
  const serverConfig: ServerConfig = {
    ...DEFAULT_SERVER_CONFIG,
    ...options.server,
    host: options.host ?? options.server?.host ?? DEFAULT_SERVER_CONFIG.host,
    port: options.port ?? options.server?.port ?? DEFAULT_SERVER_CONFIG.port,
  };
  const brokerConfig: BrokerConfig = { ...DEFAULT_BROKER_CONFIG, ...options.broker };
  const dataDir = options.dataDir ?? './data';
  await mkdir(dataDir, { recursive: true });
  const started = performance.now();
  const store: Store = options.storeKind === 'memory'
    ? new MemoryStore()
    : await FileStore.open({ dir: join(dataDir, 'store'), logger, ...(options.segmentSize === undefined ? {} : { segmentSize: options.segmentSize }) });
  const persistence = new Persistence(store, { pagingThreshold: brokerConfig.pagingThreshold }, CONTENT_CODEC, logger);
  if (store.kind === 'file') persistence.markerFile = join(dataDir, 'store', 'transient-paged.json');
  const broker = new Broker(brokerConfig, persistence);
  await broker.recover(logger);
  // Rates and short histories for the management API (every 5 s; stopped by broker.close()).
  broker.statistics.sampler.start();
  const diskAlarm = new DiskAlarm(store, broker.meter, options.diskFreeLimit ?? 50_000_000, logger);
  diskAlarm.start();
  const listener = new Listener(broker, serverConfig, logger);
  const port = await listener.listen(serverConfig.port, serverConfig.host);
  const stopCore = async () => {
    diskAlarm.stop();
    await listener.close();
    broker.close();
    await persistence.close();
  };
  let prometheus: { port: number; close(): Promise<void> } | undefined;
  if (options.prometheusPort !== undefined) {
    try {
      // Loaded only when enabled: `warren start` without Prometheus imports none of it.
      prometheus = await (await import('./prometheus-wiring.js')).startPrometheus({
        broker, listener, serverConfig, dataDir, logger, diskFreeLimit: options.diskFreeLimit ?? 50_000_000,
        port: options.prometheusPort, host: options.prometheusHost ?? serverConfig.host, version: WARREN_VERSION,
      });
    } catch (err: unknown) {
      if (options.prometheusBestEffort === true && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        logger.warn({ port: options.prometheusPort },
          `Prometheus port ${options.prometheusPort} is in use (is RabbitMQ running?): metrics disabled; use --prometheus-port`);
      } else {
        await stopCore();
        throw err;
      }
    }
  }
  let management: { port: number; close(): Promise<void> } | undefined;
  if (options.managementPort !== undefined) {
    try {
      // Loaded only when enabled, like Prometheus.
      management = await (await import('./management-wiring.js')).startManagement({
        broker, serverConfig, amqpPort: port, dataDir, logger, diskFreeLimit: options.diskFreeLimit ?? 50_000_000,
        port: options.managementPort, host: options.managementHost ?? serverConfig.host, version: WARREN_VERSION,
        otherListeners: prometheus === undefined ? [] : [{ protocol: 'http/prometheus', host: options.prometheusHost ?? serverConfig.host, port: prometheus.port }],
      });
    } catch (err: unknown) {
      if (options.managementBestEffort === true && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        logger.warn({ port: options.managementPort },
          `Management port ${options.managementPort} is in use (is RabbitMQ running?): management API disabled; use --management-port`);
      } else {
        await prometheus?.close();
        await stopCore();
        throw err;
      }
    }
  }
  logger.debug({ ms: Math.round(performance.now() - started) }, 'startup');
  const host = serverConfig.host;
  const connectHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const managementHost = options.managementHost ?? host;
  const managementConnectHost = managementHost === '0.0.0.0' || managementHost === '::' ? '127.0.0.1'
    : managementHost.includes(':') ? `[${managementHost}]` : managementHost;
  logger.info({ host, port, dataDir }, `Warren listening on ${host}:${port}`);
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    url: `amqp://guest:guest@${connectHost}:${port}`,
    broker,
    listener,
    logger,
    prometheusPort: prometheus?.port,
    managementPort: management?.port,
    managementUrl: management === undefined ? undefined : `http://${managementConnectHost}:${management.port}`,
    close: () => (closing ??= (async () => {
      await management?.close();
      await prometheus?.close();
      await stopCore();
    })()),
  };
}
