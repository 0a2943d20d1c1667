/**
 * The embedding API (issue 14): `startBroker()` runs a real Warren inside the calling process for a
 * test run (a vitest/jest global setup, a script), on ephemeral ports, with the in-memory store by
 * default, and hands back what a test needs: the AMQP and management URLs, `reset()` between tests
 * and `close()`. Nothing is read from argv or the environment; logs are silent unless asked for.
 * A file store (`store: 'file'`) without a `dataDir` lives in a temporary directory removed by close().
 * Invariant: after close() resolves, no socket, timer or file of this broker is left.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resetVhost, type ResetResult } from '../broker/vhost-reset.js';
import { startWarren, type Warren } from './warren.js';

export interface StartBrokerOptions {
  /** AMQP port; 0 (the default) picks a free one. */
  port?: number;
  /** Management API port; 0 (the default) picks a free one; null runs without the API. */
  managementPort?: number | null;
  /** Listen address of both (default 127.0.0.1). */
  host?: string;
  /** 'memory' (default): nothing touches the disk; 'file': durable segments under dataDir. */
  store?: 'memory' | 'file';
  /** With store 'file': where (default: a temporary directory, removed by close()). */
  dataDir?: string;
  /** The default user and vhost, created at start (default guest/guest and /). */
  user?: string;
  password?: string;
  vhost?: string;
  /** pino level (default 'silent'; 'info' shows "Server startup complete"). */
  logLevel?: string;
}

export interface RunningBroker {
  /** amqp://user:password@host:port[/vhost] */
  readonly amqpUrl: string;
  /** http://host:port of the management API (append /api/...); '' when it is disabled. */
  readonly managementUrl: string;
  /** The AMQP port. */
  readonly port: number;
  /** The management port, undefined when disabled. */
  readonly managementPort: number | undefined;
  /** The Warren behind it (its broker, listener, logger), for what the URLs do not reach. */
  readonly warren: Warren;
  /**
   * Every vhost back to empty (or only `vhost`): connections closed with 320, queues, non-default
   * exchanges, bindings and policies deleted (as POST /api/warren/reset/{vhost}). Users, vhosts and
   * permissions stay.
   */
  reset(vhost?: string): Promise<ResetResult[]>;
  /** Close every connection (320) and stop listening; removes a temporary data directory. */
  close(): Promise<void>;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const temp = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'warren-')) : undefined;
  const dataDir = options.dataDir ?? temp!;
  const managementPort = options.managementPort === null ? undefined : options.managementPort ?? 0;
  let warren: Warren;
  try {
    warren = await startWarren({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      dataDir,
      storeKind: options.store ?? 'memory',
      logLevel: options.logLevel ?? 'silent',
      ...(managementPort === undefined ? {} : { managementPort }),
      broker: {
        defaultUser: { name: options.user ?? 'guest', password: options.password ?? 'guest', tags: ['administrator'] },
        defaultVhost: options.vhost ?? '/',
      },
    });
  } catch (err: unknown) {
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    amqpUrl: warren.url,
    managementUrl: warren.managementUrl ?? '',
    port: warren.port,
    managementPort: warren.managementPort,
    warren,
    reset: async (vhost?: string) => {
      const broker = warren.broker;
      const names = vhost === undefined ? [...broker.vhosts.keys()] : [vhost];
      const results = names.map((v) => resetVhost(broker, v));
      await broker.afterDefinitionsSaved();
      return results;
    },
    close: () => (closing ??= (async () => {
      await warren.close();
      if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    })()),
  };
}
