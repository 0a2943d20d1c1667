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
import { StoreMemoryWatch } from '../broker/store-memory-watch.js';
import { Persistence } from '../broker/persistence.js';
import { TlsConfigError, type TlsListenerSettings } from '../core/tls-options.js';
import { CONTENT_CODEC } from '../server/content-codec.js';
import { FileStore, MemoryStore, type Store } from '../store/index.js';
import { Listener, type ListenerCloseReport } from '../server/listener.js';
import { defaultNodeName, type LogLevelControl } from '../management/management-app.js';
import { Federation } from '../links/federation.js';
import { parseAmqpUri } from '../links/amqp-uri.js';
import { Shovels } from '../links/shovels.js';
import { hostname } from 'node:os';
import type { RunningManagement } from './management-wiring.js';
import type { RunningPrometheus } from './prometheus-wiring.js';
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
  /**
   * HTTPS for the management API (RabbitMQ's management.ssl.*; the CLI's port is 15671), next to
   * the HTTP listener or instead of it (managementPort undefined).
   */
  managementTls?: TlsListenerSettings;
  /** HTTPS for Prometheus (RabbitMQ's prometheus.ssl.*; the CLI's port is 15691), as managementTls. */
  prometheusTls?: TlsListenerSettings;
  /** The log level control the management API's /api/warren/log-level uses (the CLI's logging.ts). */
  logLevelControl?: LogLevelControl;
}

export interface Warren {
  readonly port: number;
  readonly host: string;
  /**
   * amqp://<default user>:<password>@<host>:<port>[/<default vhost>] (loopback when listening on
   * all interfaces): guest/guest and / unless configured otherwise.
   */
  readonly url: string;
  readonly broker: Broker;
  readonly listener: Listener;
  readonly logger: Logger;
  /** The dynamic shovels (runtime parameter component `shovel`). */
  readonly shovels: Shovels;
  /** The bound Prometheus port, undefined when Prometheus is disabled. */
  readonly prometheusPort: number | undefined;
  /** The bound management API port, undefined when the API is disabled. */
  readonly managementPort: number | undefined;
  /** http://<host>:<port> of the management API (append /api/...), undefined when disabled. */
  readonly managementUrl: string | undefined;
  /** The bound amqps port, undefined without TLS (server.tls). */
  readonly tlsPort: number | undefined;
  /** amqps://guest:guest@<host>:<tlsPort>, undefined without TLS. */
  readonly tlsUrl: string | undefined;
  /** The bound management HTTPS port and its https://<host>:<port> URL, undefined without HTTPS. */
  readonly managementTlsPort: number | undefined;
  readonly managementTlsUrl: string | undefined;
  /** The bound Prometheus HTTPS port, undefined without HTTPS. */
  readonly prometheusTlsPort: number | undefined;
  /**
   * Re-read every TLS listener's certificate, key and CA files (what SIGHUP does): new handshakes
   * use them, open connections stay. Returns the listeners reloaded ('amqp', 'management',
   * 'prometheus'); throws TlsConfigError naming those whose files are bad (they keep their old
   * certificates; the others are reloaded).
   */
  reloadTls(): string[];
  /**
   * Stop listening, close every connection with 320 CONNECTION_FORCED (clients get `graceMs`,
   * default 2 s, to answer; the rest are dropped), sync the store and report what was done.
   */
  close(options?: { graceMs?: number }): Promise<ShutdownReport>;
}

/** What a shutdown did: connections closed cleanly or dropped, what the store flushed. */
export interface ShutdownReport extends ListenerCloseReport {
  /** A definitions snapshot was written (the journal had changes since the last one). */
  readonly definitionsSnapshot: boolean;
  /** 'file': pending message writes were synced to disk before the store closed. */
  readonly store: 'file' | 'memory';
  readonly ms: number;
}

function amqpUrl(config: BrokerConfig, host: string, port: number): string {
  const user = config.defaultUser ?? { name: 'guest', password: 'guest' };
  const vhost = config.defaultVhost === '/' ? '' : `/${encodeURIComponent(config.defaultVhost)}`;
  return `amqp://${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@${host}:${port}${vhost}`;
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
  const storeMemory = new StoreMemoryWatch(store, broker.meter);
  storeMemory.start();
  const listener = new Listener(broker, serverConfig, logger);
  // Federation links (src/links): AMQP clients inside the broker, configured by parameters and policies.
  const federation = new Federation(broker, {
    broker, codec: CONTENT_CODEC, logger, nodeName: defaultNodeName(),
    clusterName: () => {
      const p = broker.parameters.getGlobal('cluster_name')?.value;
      return typeof p === 'string' ? p : serverConfig.clusterName;
    },
  });
  const stopCore = async (graceMs?: number): Promise<ShutdownReport> => {
    const began = performance.now();
    await federation.close();
    diskAlarm.stop();
    storeMemory.stop();
    const closed = await listener.close(undefined, graceMs);
    broker.close();
    const flushed = await persistence.close();
    return {
      ...closed, ...flushed,
      store: store.kind, ms: Math.round(performance.now() - began),
    };
  };
  let port: number;
  let tlsPort: number | undefined;
  try {
    port = await listener.listen(serverConfig.port, serverConfig.host);
    const tls = serverConfig.tls;
    if (tls !== undefined) {
      tlsPort = await listener.listenTls(tls, tls.host ?? serverConfig.host);
      logger.info({ host: tls.host ?? serverConfig.host, port: tlsPort }, `Warren listening for amqps on ${tls.host ?? serverConfig.host}:${tlsPort}`);
    }
  } catch (err: unknown) {
    await stopCore();
    throw err;
  }
  // Links (shovels) are AMQP clients inside the broker: started once the listener is up, so the
  // direct URI `amqp://` can reach it. It connects as the default user (see README, Shovels).
  const directUser = brokerConfig.defaultUser ?? { name: 'guest', password: 'guest' };
  const directHost = connectable(serverConfig.host);
  const shovels = new Shovels(broker, {
    nodeName: `warren@${hostname()}`,
    logger,
    resolveDirect: (vhost) => parseAmqpUri(`amqp://${encodeURIComponent(directUser.name)}:${encodeURIComponent(directUser.password)}@${directHost}:${port}/${encodeURIComponent(vhost)}`),
  });
  shovels.register();
  const stopAll = async (graceMs?: number): Promise<ShutdownReport> => {
    await shovels.close();
    return stopCore(graceMs);
  };
  const prometheusHost = options.prometheusHost ?? serverConfig.host;
  let prometheus: RunningPrometheus | undefined;
  if (options.prometheusPort !== undefined || options.prometheusTls !== undefined) {
    try {
      // Loaded only when enabled: `warren start` without Prometheus imports none of it.
      prometheus = await (await import('./prometheus-wiring.js')).startPrometheus({
        broker, serverConfig, dataDir, logger, diskFreeLimit: options.diskFreeLimit ?? 50_000_000,
        ...(options.prometheusPort === undefined ? {} : { port: options.prometheusPort }),
        ...(options.prometheusTls === undefined ? {} : { tls: options.prometheusTls }),
        ...(options.prometheusBestEffort === true ? {
          busyWarning: `Prometheus port ${options.prometheusPort} is in use (is RabbitMQ running?): metrics disabled; use --prometheus-port`,
        } : {}),
        host: prometheusHost, version: WARREN_VERSION,
      });
    } catch (err: unknown) {
      await stopAll();
      throw err;
    }
  }
  let management: RunningManagement | undefined;
  if (options.managementPort !== undefined || options.managementTls !== undefined) {
    const otherListeners = [
      ...(tlsPort === undefined ? [] : [{ protocol: 'amqp/ssl', host: serverConfig.tls?.host ?? serverConfig.host, port: tlsPort }]),
      ...(prometheus?.port === undefined ? [] : [{ protocol: 'http/prometheus', host: prometheusHost, port: prometheus.port }]),
      ...(prometheus?.tlsPort === undefined ? [] : [{ protocol: 'https/prometheus', host: options.prometheusTls?.host ?? prometheusHost, port: prometheus.tlsPort }]),
    ];
    try {
      // Loaded only when enabled, like Prometheus.
      management = await (await import('./management-wiring.js')).startManagement({
        broker, serverConfig, amqpPort: port, dataDir, logger, diskFreeLimit: options.diskFreeLimit ?? 50_000_000,
        ...(options.managementPort === undefined ? {} : { port: options.managementPort }),
        ...(options.managementTls === undefined ? {} : { tls: options.managementTls }),
        ...(options.logLevelControl === undefined ? {} : { logLevel: options.logLevelControl }),
        ...(options.managementBestEffort === true ? {
          busyWarning: `Management port ${options.managementPort} is in use (is RabbitMQ running?): management API disabled; use --management-port`,
        } : {}),
        host: options.managementHost ?? serverConfig.host, version: WARREN_VERSION, otherListeners,
      });
      if (management !== undefined) management.app.shovels = shovels;
    } catch (err: unknown) {
      await prometheus?.close();
      await stopAll();
      throw err;
    }
    if (management !== undefined) management.app.federationStatus = (vhost) => federation.status(vhost);
  }
  logger.debug({ ms: Math.round(performance.now() - started) }, 'startup');
  const host = serverConfig.host;
  const connectHost = connectable(host);
  const managementConnectHost = connectable(options.managementHost ?? host);
  const managementTlsConnectHost = connectable(options.managementTls?.host ?? options.managementHost ?? host);
  const tlsConnectHost = connectable(serverConfig.tls?.host ?? host);
  logger.info({ host, port, dataDir }, `Warren listening on ${host}:${port}`);
  // RabbitMQ's readiness line, which tools and scripts wait for, with where to connect.
  const ports = [`amqp ${host}:${port}`,
    ...(tlsPort === undefined ? [] : [`amqps ${serverConfig.tls?.host ?? host}:${tlsPort}`]),
    ...(management?.port === undefined ? [] : [`management ${options.managementHost ?? host}:${management.port}`]),
    ...(management?.tlsPort === undefined ? [] : [`management/https ${options.managementTls?.host ?? options.managementHost ?? host}:${management.tlsPort}`]),
    ...(prometheus?.port === undefined ? [] : [`prometheus ${prometheusHost}:${prometheus.port}`]),
    ...(prometheus?.tlsPort === undefined ? [] : [`prometheus/https ${options.prometheusTls?.host ?? prometheusHost}:${prometheus.tlsPort}`])];
  logger.info({ port, managementPort: management?.port, prometheusPort: prometheus?.port, tlsPort },
    `Server startup complete; listening on ${ports.join(', ')}`);
  let closing: Promise<ShutdownReport> | undefined;
  return {
    port,
    host,
    url: amqpUrl(brokerConfig, connectHost, port),
    broker,
    listener,
    logger,
    shovels,
    prometheusPort: prometheus?.port,
    managementPort: management?.port,
    managementUrl: management?.port === undefined ? undefined : `http://${managementConnectHost}:${management.port}`,
    tlsPort,
    tlsUrl: tlsPort === undefined ? undefined : `amqps://guest:guest@${tlsConnectHost}:${tlsPort}`,
    managementTlsPort: management?.tlsPort,
    managementTlsUrl: management?.tlsPort === undefined ? undefined : `https://${managementTlsConnectHost}:${management.tlsPort}`,
    prometheusTlsPort: prometheus?.tlsPort,
    reloadTls: () => {
      const reloaded: string[] = [];
      const failed: string[] = [];
      const attempt = (name: string, reload: () => boolean) => {
        try {
          if (reload()) reloaded.push(name);
        } catch (err: unknown) {
          failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      attempt('amqp', () => listener.reloadTls());
      attempt('management', () => management?.reloadTls() ?? false);
      attempt('prometheus', () => prometheus?.reloadTls() ?? false);
      if (failed.length > 0) throw new TlsConfigError(`TLS reload failed (old certificates kept) for ${failed.join('; ')}`);
      return reloaded;
    },
    close: (o) => (closing ??= (async () => {
      await management?.close();
      await prometheus?.close();
      return stopAll(o?.graceMs);
    })()),
  };
}

/** A listen address as a client would connect to it (the wildcard addresses mean loopback). */
function connectable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}
