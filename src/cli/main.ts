#!/usr/bin/env node
/**
 * The `warren` command. `warren start` runs the broker in the foreground; flags override
 * environment variables (WARREN_PORT, WARREN_HOST, WARREN_DATA_DIR, WARREN_LOG_LEVEL, ...), which
 * override defaults (0.0.0.0:5672, ./data, info). SIGTERM/SIGINT close every connection with
 * 320 CONNECTION_FORCED and exit 0; SIGHUP reloads the TLS certificate files (tls-flags.ts). This
 * is the only module that reads argv and the environment.
 */
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { readFileSync } from 'node:fs';
import type { Policy } from '../broker/policy.js';
import { addAuthFlags, addTlsFlags, authSettingsFrom, TLS_GROUPS, tlsSettingsFrom } from './tls-flags.js';
import { DEFAULT_SERVER_CONFIG } from '../server/server-config.js';
import { maxFds } from './http-wiring.js';
import { startWarren } from './warren.js';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a non-negative integer');
  return n;
}

const env = process.env;
const program = new Command('warren').description('Warren, an AMQP 0-9-1 message broker').version('0.1.0');

const start = program
  .command('start')
  .description('run the broker in the foreground')
  .option('-p, --port <n>', 'TCP port (0 picks a free one) [env WARREN_PORT]', int, env['WARREN_PORT'] ? int(env['WARREN_PORT']) : 5672)
  .option('-H, --host <addr>', 'address to listen on [env WARREN_HOST]', env['WARREN_HOST'] ?? '0.0.0.0')
  .option('-d, --data-dir <dir>', 'data directory [env WARREN_DATA_DIR]', env['WARREN_DATA_DIR'] ?? './data')
  .option('-l, --log-level <lvl>', 'trace|debug|info|warn|error|silent [env WARREN_LOG_LEVEL]', env['WARREN_LOG_LEVEL'] ?? 'info')
  .option('--memory-high-watermark <bytes>', 'block publishers above this many held message bytes [env WARREN_MEMORY_HIGH_WATERMARK]',
    int, env['WARREN_MEMORY_HIGH_WATERMARK'] ? int(env['WARREN_MEMORY_HIGH_WATERMARK']) : 512 * 1024 * 1024)
  .option('--heartbeat <s>', 'heartbeat interval offered to clients [env WARREN_HEARTBEAT]', int,
    env['WARREN_HEARTBEAT'] ? int(env['WARREN_HEARTBEAT']) : 60)
  .option('--frame-max <bytes>', 'largest frame offered to clients [env WARREN_FRAME_MAX]', int,
    env['WARREN_FRAME_MAX'] ? int(env['WARREN_FRAME_MAX']) : 131072)
  .option('--channel-max <n>', 'most channels per connection [env WARREN_CHANNEL_MAX]', int,
    env['WARREN_CHANNEL_MAX'] ? int(env['WARREN_CHANNEL_MAX']) : 2047)
  .option('--product <name>', 'server-properties product [env WARREN_PRODUCT]', env['WARREN_PRODUCT'] ?? 'RabbitMQ')
  .option('--product-version <v>', 'server-properties version (clients compare it with RabbitMQ versions) [env WARREN_PRODUCT_VERSION]',
    env['WARREN_PRODUCT_VERSION'] ?? '3.13.7')
  .option('--segment-size <bytes>', 'message segment file size [env WARREN_SEGMENT_SIZE]', int,
    env['WARREN_SEGMENT_SIZE'] ? int(env['WARREN_SEGMENT_SIZE']) : 8 * 1024 * 1024)
  .option('--queue-memory-budget <bytes>', 'held message bytes above which queues page to disk [env WARREN_QUEUE_MEMORY_BUDGET]', int,
    env['WARREN_QUEUE_MEMORY_BUDGET'] ? int(env['WARREN_QUEUE_MEMORY_BUDGET']) : 64 * 1024 * 1024)
  .option('--disk-free-limit <bytes>', 'block publishers while free disk is under this [env WARREN_DISK_FREE_LIMIT]', int,
    env['WARREN_DISK_FREE_LIMIT'] ? int(env['WARREN_DISK_FREE_LIMIT']) : 50_000_000)
  .option('--store <kind>', 'file (durable) or memory [env WARREN_STORE]', env['WARREN_STORE'] ?? 'file')
  .option('--consumer-timeout <ms>', 'unacked delivery timeout, 0 disables [env WARREN_CONSUMER_TIMEOUT]', int,
    env['WARREN_CONSUMER_TIMEOUT'] ? int(env['WARREN_CONSUMER_TIMEOUT']) : 30 * 60 * 1000)
  .option('--policies <file>', 'JSON file with policies (array, or definitions with "policies") [env WARREN_POLICIES]',
    env['WARREN_POLICIES'])
  .option('--allow-remote-guest', 'let guest log in from non-loopback addresses [env WARREN_ALLOW_REMOTE_GUEST=1]',
    env['WARREN_ALLOW_REMOTE_GUEST'] === '1')
  .option('--prometheus-port <n>', 'Prometheus metrics port, 0 disables [env WARREN_PROMETHEUS_PORT]', int,
    env['WARREN_PROMETHEUS_PORT'] ? int(env['WARREN_PROMETHEUS_PORT']) : 15692)
  .option('--prometheus-host <addr>', 'Prometheus listen address (default: --host) [env WARREN_PROMETHEUS_HOST]',
    env['WARREN_PROMETHEUS_HOST'])
  .option('--management-port <n>', 'management HTTP API port, 0 disables [env WARREN_MANAGEMENT_PORT]', int,
    env['WARREN_MANAGEMENT_PORT'] ? int(env['WARREN_MANAGEMENT_PORT']) : 15672)
  .option('--management-host <addr>', 'management API listen address (default: --host) [env WARREN_MANAGEMENT_HOST]',
    env['WARREN_MANAGEMENT_HOST'])
  .option('--default-user <name>', 'user created at first start, administrator with full permissions in --default-vhost [env WARREN_DEFAULT_USER]',
    env['WARREN_DEFAULT_USER'] ?? 'guest')
  .option('--default-pass <password>', 'that user\'s password [env WARREN_DEFAULT_PASS]', env['WARREN_DEFAULT_PASS'] ?? 'guest')
  .option('--default-vhost <name>', 'virtual host created at first start [env WARREN_DEFAULT_VHOST]', env['WARREN_DEFAULT_VHOST'] ?? '/')
  .option('--max-message-size <bytes>', 'largest message body accepted (406 above it) [env WARREN_MAX_MESSAGE_SIZE]', int,
    env['WARREN_MAX_MESSAGE_SIZE'] ? int(env['WARREN_MAX_MESSAGE_SIZE']) : DEFAULT_SERVER_CONFIG.maxMessageSize)
  .option('--max-connections <n>', 'client sockets accepted at once, further ones closed at once (default: 90% of the open-file limit) [env WARREN_MAX_CONNECTIONS]',
    int, env['WARREN_MAX_CONNECTIONS'] ? int(env['WARREN_MAX_CONNECTIONS']) : undefined)
  .option('--handshake-timeout <s>', 'seconds a client has to finish the AMQP handshake [env WARREN_HANDSHAKE_TIMEOUT]', int,
    env['WARREN_HANDSHAKE_TIMEOUT'] ? int(env['WARREN_HANDSHAKE_TIMEOUT']) : DEFAULT_SERVER_CONFIG.handshakeTimeout)
  .action(async (opts: {
    port: number; host: string; dataDir: string; logLevel: string; memoryHighWatermark: number; heartbeat: number;
    frameMax: number; channelMax: number; product: string; productVersion: string; allowRemoteGuest: boolean;
    segmentSize: number; queueMemoryBudget: number; diskFreeLimit: number; store: string;
    consumerTimeout: number; policies?: string; prometheusPort: number; prometheusHost?: string;
    managementPort: number; managementHost?: string; defaultUser: string; defaultPass: string; defaultVhost: string;
    maxMessageSize: number; maxConnections?: number; handshakeTimeout: number;
  }, cmd: Command) => {
    const logger = pino({ level: opts.logLevel, base: { app: 'warren' } });
    try {
      const flags = cmd.opts();
      const amqpTls = tlsSettingsFrom(flags, TLS_GROUPS.amqp);
      const managementTls = tlsSettingsFrom(flags, TLS_GROUPS.management, opts.managementHost);
      const prometheusTls = tlsSettingsFrom(flags, TLS_GROUPS.prometheus, opts.prometheusHost);
      const warren = await startWarren({
        ...(managementTls === undefined ? {} : { managementTls }),
        ...(prometheusTls === undefined ? {} : { prometheusTls }),
        port: opts.port,
        host: opts.host,
        dataDir: opts.dataDir,
        logger,
        segmentSize: opts.segmentSize,
        diskFreeLimit: opts.diskFreeLimit,
        storeKind: opts.store === 'memory' ? 'memory' : 'file',
        ...(opts.prometheusPort === 0 ? {} : {
          prometheusPort: opts.prometheusPort,
          // The default port may be RabbitMQ's on a developer machine: then run without metrics.
          prometheusBestEffort: cmd.getOptionValueSource('prometheusPort') !== 'cli' && env['WARREN_PROMETHEUS_PORT'] === undefined,
        }),
        ...(opts.prometheusHost === undefined ? {} : { prometheusHost: opts.prometheusHost }),
        ...(opts.managementPort === 0 ? {} : {
          managementPort: opts.managementPort,
          // The default port may be RabbitMQ's on a developer machine: then run without the API.
          managementBestEffort: cmd.getOptionValueSource('managementPort') !== 'cli' && env['WARREN_MANAGEMENT_PORT'] === undefined,
        }),
        ...(opts.managementHost === undefined ? {} : { managementHost: opts.managementHost }),
        server: {
          heartbeat: opts.heartbeat, frameMax: opts.frameMax, channelMax: opts.channelMax,
          product: opts.product, version: opts.productVersion, allowRemoteLoopbackUsers: opts.allowRemoteGuest,
          ...(amqpTls === undefined ? {} : { tls: amqpTls }),
          ...authSettingsFrom(flags),
          maxMessageSize: opts.maxMessageSize, handshakeTimeout: opts.handshakeTimeout,
          maxConnections: opts.maxConnections ?? defaultMaxConnections(),
        },
        broker: {
          memoryHighWatermark: Math.max(opts.memoryHighWatermark, opts.queueMemoryBudget * 2),
          pagingThreshold: opts.queueMemoryBudget,
          consumerTimeout: opts.consumerTimeout,
          policies: opts.policies === undefined ? [] : loadPolicies(opts.policies),
          // Created at the first start only (an existing data directory keeps its users and vhosts).
          defaultUser: { name: opts.defaultUser, password: opts.defaultPass },
          defaultVhost: opts.defaultVhost,
        },
      });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        warren.close().then(() => {
          logger.info('stopped');
          logger.flush();
          process.exit(0);
        }, (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          process.exit(1);
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // SIGHUP re-reads the TLS certificate files (a renewal): new handshakes use them, open
      // connections stay; bad files are logged and the certificates in use are kept.
      process.on('SIGHUP', () => {
        try {
          const reloaded = warren.reloadTls();
          logger.info({ listeners: reloaded }, reloaded.length > 0 ? 'TLS certificates reloaded' : 'SIGHUP: no TLS listener to reload');
        } catch (err: unknown) {
          logger.error({ err }, 'TLS certificate reload failed: the certificates in use are kept');
        }
      });
    } catch (err: unknown) {
      logger.fatal({ err }, 'failed to start');
      logger.flush();
      process.exit(1);
    }
  });

for (const group of Object.values(TLS_GROUPS)) addTlsFlags(start, group, env);
addAuthFlags(start, env);

/**
 * Sockets the listener accepts at once when --max-connections is not given: 90% of the open-file
 * limit, as RabbitMQ derives its socket limit from it, so the rest stays for segment files and the
 * management API and a flood of connections is refused instead of running the process out of
 * descriptors. 0 (no limit) where the limit is unknown.
 */
function defaultMaxConnections(): number {
  const fds = maxFds();
  return fds === undefined ? 0 : Math.max(1, Math.floor(fds * 0.9) - 2);
}

/** Policies from a JSON file: an array of policies, or a definitions document with a "policies" list. */
function loadPolicies(file: string): Policy[] {
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const list = Array.isArray(raw) ? raw : (raw as { policies?: unknown }).policies;
  if (!Array.isArray(list)) throw new Error(`${file}: expected an array of policies or a "policies" list`);
  return list.map((p: Record<string, unknown>) => ({
    name: String(p['name']),
    pattern: String(p['pattern']),
    applyTo: (p['apply-to'] ?? p['applyTo'] ?? 'all') as Policy['applyTo'],
    priority: Number(p['priority'] ?? 0),
    definition: (p['definition'] ?? {}) as Policy['definition'],
    vhost: String(p['vhost'] ?? '/'),
  }));
}

/** Commands of src/cli/commands (management API clients), loaded only when one of them runs. */
const ADMIN_COMMANDS = new Set([
  'list', 'declare', 'delete', 'purge', 'publish', 'get', 'close-connection', 'export', 'import', 'status', 'ping', 'check',
]);

program.addHelpText('after', `
Management commands (over the management HTTP API; \`warren <command> --help\` for each):
  list <kind>            queues, exchanges, bindings, connections, channels, consumers, users, vhosts, permissions, policies,
                         topic-permissions, vhost-limits, user-limits
  declare|delete <kind>  queue, exchange, binding, user, vhost, permission, topic-permission, vhost-limit, user-limit, policy
  purge <queue>, publish, get <queue>, close-connection <name>, export <file>, import <file>
  ping, status, check <check>   health (exit 0 healthy, 69 not)
Options for them: --url (WARREN_MANAGEMENT_URL), -u/--user, -p/--password, -V/--vhost, --json, --columns`);

/** The command word, skipping the management commands' global options (which may come first). */
function commandWord(argv: readonly string[]): string | undefined {
  const withValue = new Set(['--url', '-u', '--user', '-p', '--password', '-V', '--vhost', '--columns', '--timeout']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (withValue.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

if (ADMIN_COMMANDS.has(commandWord(process.argv.slice(2)) ?? '')) {
  const { runAdmin } = await import('./commands/index.js');
  const code = await runAdmin(process.argv.slice(2));
  // Exit once stdout is flushed (idle keep-alive HTTP sockets must not hold the process).
  process.stdout.write('', () => process.exit(code));
} else {
  process.on('uncaughtException', (err) => {
    // A bug must not take every connection down: log it and keep serving.
    console.error('uncaught exception', err);
  });

  program.parseAsync(process.argv).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
