/**
 * What the control plane's HTTP listeners (management API, Prometheus) are wired with, and the
 * node facts both read (free disk of the data directory, file descriptors).
 */
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { ServerConfig } from '../server/server-config.js';

export interface HttpWiringOptions {
  broker: Broker;
  serverConfig: ServerConfig;
  dataDir: string;
  diskFreeLimit: number;
  logger: Logger;
  port: number;
  host: string;
  /** Warren's own version (product_version, build info). */
  version: string;
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
