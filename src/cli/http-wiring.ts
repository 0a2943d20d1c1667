/**
 * What the control plane's HTTP listeners (management API, Prometheus) are wired with, how both
 * listen (plain HTTP, HTTPS or both, as RabbitMQ's `*.tcp.*` / `*.ssl.*` listeners), and the node
 * facts both read (free disk of the data directory, file descriptors).
 */
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { TlsListenerSettings, TlsSettings } from '../core/tls-options.js';
import type { ServerConfig } from '../server/server-config.js';

export interface HttpWiringOptions {
  broker: Broker;
  serverConfig: ServerConfig;
  dataDir: string;
  diskFreeLimit: number;
  logger: Logger;
  /** Plain HTTP port; none when undefined (HTTPS only). */
  port?: number;
  host: string;
  /** The HTTPS listener (its host defaults to `host`). */
  tls?: TlsListenerSettings;
  /**
   * When the plain port is taken (a RabbitMQ on the machine holds the default port), log this
   * warning and go on without it instead of failing. The CLI sets it for its default ports.
   */
  busyWarning?: string;
  /** Warren's own version (product_version, build info). */
  version: string;
}

/** Where a control-plane listener listens: HTTP, HTTPS, or both. */
export interface HttpListenTarget {
  listen(port: number, host: string): Promise<number>;
  listenTls(settings: TlsSettings, port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export interface BoundHttp {
  readonly port: number | undefined;
  readonly tlsPort: number | undefined;
}

/**
 * Start `target`'s HTTPS and HTTP listeners as `o` asks. Undefined when none could start (the
 * plain port was busy with `busyWarning` and no HTTPS was asked for); any other failure closes
 * what was started and throws.
 */
export async function listenHttpAndHttps(target: HttpListenTarget, o: HttpWiringOptions): Promise<BoundHttp | undefined> {
  try {
    const tlsPort = o.tls === undefined ? undefined : await target.listenTls(o.tls, o.tls.port, o.tls.host ?? o.host);
    let port: number | undefined;
    if (o.port !== undefined) {
      try {
        port = await target.listen(o.port, o.host);
      } catch (err: unknown) {
        if (o.busyWarning === undefined || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        o.logger.warn({ port: o.port }, o.busyWarning);
      }
    }
    if (port === undefined && tlsPort === undefined) {
      await target.close();
      return undefined;
    }
    return { port, tlsPort };
  } catch (err: unknown) {
    await target.close();
    throw err;
  }
}

/** Free bytes on the data directory's file system, undefined when it cannot be read. */
export function diskFree(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** Open file descriptors (Linux: entries of /proc/self/fd, minus the one listing them). */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/** The soft limit on open files (Linux: /proc/self/limits). */
export function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}
