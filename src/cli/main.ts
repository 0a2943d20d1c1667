#!/usr/bin/env node
/**
 * The `warren` command. `warren start` runs the broker in the foreground, configured by flags,
 * else environment variables (WARREN_*, and RabbitMQ's RABBITMQ_* where they mean something), else
 * a configuration file (--config: Warren keys or rabbitmq.conf keys), else defaults (settings.ts
 * has the table; a bad value anywhere stops the start with exit code 78). `warren config show`
 * prints what `start` would use and where each value comes from. SIGTERM/SIGINT close every
 * connection with 320 CONNECTION_FORCED within --shutdown-timeout and exit 0; SIGHUP reloads the
 * TLS certificate files (tls-flags.ts). This is the only module that reads argv and the environment.
 */
import { Command } from 'commander';
import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import type { Policy } from '../broker/policy.js';
import { importDefinitions } from '../broker/definitions-codec.js';
import type { Definitions } from '../store/definitions.js';
import { ConfigError } from './config-file.js';
import { formatConfig, loadEffectiveConfig, unusedKeysWarning, type EffectiveConfig } from './effective-config.js';
import { createLogging, type Logging } from './logging.js';
import { addSettingOptions, buildSettings } from './settings.js';
import { authSettingsFrom, TLS_GROUPS, tlsSettingsFrom } from './tls-flags.js';
import { maxFds } from './http-wiring.js';
import { startWarren, type Warren } from './warren.js';

const env = process.env;
const program = new Command('warren').description('Warren, an AMQP 0-9-1 message broker').version('0.1.0');
const SETTINGS = buildSettings({ maxConnections: defaultMaxConnections });

/** The exit code of a configuration that cannot be used (sysexits EX_CONFIG). */
const EX_CONFIG = 78;

/** --config and the settings' flags, on `start` and on `config show`; a bad flag value exits 78 too. */
function withSettings(cmd: Command): Command {
  cmd.exitOverride((err) => {
    if (err.code === 'commander.invalidArgument') process.exit(EX_CONFIG);
    process.exit(err.exitCode);
  });
  cmd.option('-c, --config <file>', 'configuration file or conf.d directory: Warren keys or rabbitmq.conf keys, key = value lines [env WARREN_CONFIG_FILE, RABBITMQ_CONFIG_FILE, RABBITMQ_CONFIG_FILES]');
  addSettingOptions(cmd, SETTINGS);
  return cmd;
}

/** The effective configuration, or exit 78 with the reason on stderr. */
function configOrExit(cmd: Command): EffectiveConfig {
  try {
    return loadEffectiveConfig(SETTINGS, cmd.opts(), env);
  } catch (err: unknown) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`warren: ${err.message}\n`);
    process.exit(EX_CONFIG);
  }
}

const start = withSettings(program.command('start').description('run the broker in the foreground'))
  .action(async (_opts: unknown, cmd: Command) => {
    const config = configOrExit(cmd);
    const s = config.settings;
    const logging = await createLogging({
      level: s.str('log-level'), format: s.str('log-format') === 'pretty' ? 'pretty' : 'json',
      ...(s.opt('log-file') === undefined ? {} : { file: s.str('log-file') }),
      fileSize: s.num('log-file-size'), fileCount: s.num('log-file-count'),
    });
    const logger = logging.logger;
    const unused = unusedKeysWarning(config);
    if (unused !== undefined) logger.warn({ file: config.file?.path, unused: config.file?.unused }, unused);
    else if (config.file !== undefined) logger.info({ file: config.file.path }, `configuration file ${config.file.path}`);
    try {
      let amqpTls, managementTls, prometheusTls;
      try {
        const values = s.camelRecord();
        amqpTls = tlsSettingsFrom(values, TLS_GROUPS.amqp);
        managementTls = tlsSettingsFrom(values, TLS_GROUPS.management, s.opt('management-host'));
        prometheusTls = tlsSettingsFrom(values, TLS_GROUPS.prometheus, s.opt('prometheus-host'));
      } catch (err: unknown) {
        process.stderr.write(`warren: ${(err as Error).message}\n`);
        process.exit(EX_CONFIG);
      }
      const queueMemoryBudget = s.num('queue-memory-budget');
      const managementPort = httpPort(s.raw('management-port'));
      const prometheusPort = httpPort(s.raw('prometheus-port'));
      const loadDefinitions = s.opt('load-definitions');
      const definitions = loadDefinitions === undefined ? undefined : readDefinitions(loadDefinitions);
      const warren = await startWarren({
        ...(managementTls === undefined ? {} : { managementTls }),
        ...(prometheusTls === undefined ? {} : { prometheusTls }),
        port: s.num('port'),
        host: s.str('host'),
        dataDir: s.str('data-dir'),
        logger,
        logLevelControl: logging.control,
        segmentSize: s.num('segment-size'),
        diskFreeLimit: s.num('disk-free-limit'),
        storeKind: s.str('store') === 'memory' ? 'memory' : 'file',
        ...(prometheusPort === undefined ? {} : {
          prometheusPort,
          // The default port may be RabbitMQ's on a developer machine: then run without metrics.
          prometheusBestEffort: s.source('prometheus-port') === 'default',
        }),
        ...(s.opt('prometheus-host') === undefined ? {} : { prometheusHost: s.str('prometheus-host') }),
        ...(managementPort === undefined ? {} : {
          managementPort,
          // The default port may be RabbitMQ's on a developer machine: then run without the API.
          managementBestEffort: s.source('management-port') === 'default',
        }),
        ...(s.opt('management-host') === undefined ? {} : { managementHost: s.str('management-host') }),
        server: {
          heartbeat: s.num('heartbeat'), frameMax: s.num('frame-max'), channelMax: s.num('channel-max'),
          product: s.str('product'), version: s.str('product-version'), allowRemoteLoopbackUsers: s.bool('allow-remote-guest'),
          ...(amqpTls === undefined ? {} : { tls: amqpTls }),
          ...authSettingsFrom(s.camelRecord()),
          maxMessageSize: s.num('max-message-size'), handshakeTimeout: s.num('handshake-timeout'),
          maxConnections: s.num('max-connections'),
        },
        broker: {
          memoryHighWatermark: Math.max(s.num('memory-high-watermark'), queueMemoryBudget * 2),
          pagingThreshold: queueMemoryBudget,
          consumerTimeout: s.num('consumer-timeout'),
          policies: s.opt('policies') === undefined ? [] : loadPolicies(s.str('policies')),
          // Created at the first start only (an existing data directory keeps its users and vhosts),
          // and not at all when definitions are loaded at start: RabbitMQ skips its default user
          // then (rabbitmq-server#4904), so an imported user list is not joined by guest/guest.
          defaultUser: definitions === undefined
            ? { name: s.str('default-user'), password: s.str('default-pass'), tags: s.list('default-user-tags') }
            : undefined,
          defaultVhost: s.str('default-vhost'),
          loopbackUsers: s.list('loopback-users'),
        },
      });
      if (definitions !== undefined) {
        // RabbitMQ's load_definitions: applied at every start, over what the data directory holds.
        importDefinitions(warren.broker, { ...EMPTY_DEFINITIONS, ...definitions }, 'apply');
        logger.info({ file: loadDefinitions }, `definitions loaded from ${loadDefinitions!}`);
      }
      installSignals(warren, logger, logging, s.num('shutdown-timeout'));
    } catch (err: unknown) {
      const busy = portInUse(err, [[s.num('port'), '--port'], [configuredPort(s.raw('management-port')), '--management-port'],
        [configuredPort(s.raw('prometheus-port')), '--prometheus-port']]);
      if (busy !== undefined) {
        // A port someone else holds (often a RabbitMQ on the same machine): one line, no stack.
        logger.fatal({ port: (err as { port?: number }).port }, busy);
        await logging.close();
        process.stderr.write(`warren: ${busy}\n`);
        process.exit(1);
      }
      logger.fatal({ err }, 'failed to start');
      await logging.close();
      process.exit(1);
    }
  });
void start;

const configCommand = program.command('config').description('the configuration `warren start` would use');
withSettings(configCommand.command('show')
  .description('print the effective configuration and where each value comes from (flag, env, file, default)')
  .option('--json', 'print JSON'))
  .action((opts: { json?: boolean }, cmd: Command) => {
    const config = configOrExit(cmd);
    process.stdout.write(formatConfig(config, SETTINGS, opts.json === true));
    const unused = unusedKeysWarning(config);
    if (unused !== undefined && opts.json !== true) process.stderr.write(`warning: ${unused}\n`);
  });

/** management-port / prometheus-port: 0 disables (undefined), 'free' asks for a free port (0). */
function httpPort(v: unknown): number | undefined {
  if (v === 'free') return 0;
  return v === 0 ? undefined : (v as number);
}

const EMPTY_DEFINITIONS: Definitions = { users: [], vhosts: [], permissions: [], policies: [], queues: [], exchanges: [], bindings: [] };

function readDefinitions(file: string): Partial<Definitions> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err: unknown) {
    throw new Error(`load_definitions: cannot read ${file}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`load_definitions: ${file} is not a definitions object`);
  return raw as Partial<Definitions>;
}

/**
 * SIGTERM/SIGINT: a bounded graceful stop. Clients get the shutdown timeout to answer the 320
 * close; those that do not are dropped; the store syncs; the report says what happened. Should the
 * store itself hang, the process exits anyway 5 s after the timeout (exit code 1). SIGHUP re-reads
 * the TLS certificate files.
 */
function installSignals(warren: Warren, logger: Logger, logging: Logging, timeoutS: number): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const connections = warren.listener.connections.size;
    logger.info({ signal, connections, timeoutS }, 'shutting down');
    const hard = setTimeout(() => {
      logger.error({ timeoutS }, 'shutdown did not finish in time: exiting without waiting for the store');
      logger.flush();
      process.exit(1);
    }, (timeoutS + 5) * 1000);
    hard.unref();
    warren.close({ graceMs: timeoutS * 1000 }).then(async (report) => {
      logger.info({ ...report }, `stopped: ${report.closedCleanly} of ${report.connections} connections closed cleanly, ${report.dropped} dropped`
        + `, ${report.store === 'file' ? 'message store synced' : 'memory store (nothing to sync)'}`
        + `${report.definitionsSnapshot ? ', definitions snapshot written' : ''}`);
      await logging.close();
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
}

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

/**
 * "port 5672 is in use (is RabbitMQ running?); use --port" for a listen error on a taken port
 * (naming the flag of the listener that failed), undefined for any other error.
 */
function portInUse(err: unknown, flags: readonly (readonly [number | undefined, string])[]): string | undefined {
  const e = err as { code?: unknown; port?: unknown };
  if (e === null || typeof e !== 'object' || e.code !== 'EADDRINUSE') return undefined;
  const port = typeof e.port === 'number' ? e.port : undefined;
  const flag = flags.find(([p]) => p !== undefined && p === port)?.[1];
  return `port ${port ?? '(unknown)'} is in use (is RabbitMQ running?); use ${flag ?? 'another port'}`;
}

function configuredPort(raw: unknown): number | undefined {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Commands of src/cli/commands (management API clients), loaded only when one of them runs. */
const ADMIN_COMMANDS = new Set([
  'list', 'declare', 'delete', 'purge', 'publish', 'get', 'close-connection', 'export', 'import', 'status', 'ping', 'check',
  'peek', 'inject', 'wait', 'reset', 'snapshot', 'restore',
]);

program.addHelpText('after', `
Management commands (over the management HTTP API; \`warren <command> --help\` for each):
  list <kind>            queues, exchanges, bindings, connections, channels, consumers, users, vhosts, permissions, policies,
                         topic-permissions, vhost-limits, user-limits
  declare|delete <kind>  queue, exchange, binding, user, vhost, permission, topic-permission, vhost-limit, user-limit, policy
  purge <queue>, publish, get <queue>, close-connection <name>, export <file>, import <file>
  ping, status, check <check>   health (exit 0 healthy, 69 not)
  peek <queue>, inject <queue>, wait <queue> --messages N|--empty|--consumers N, reset, snapshot <file>, restore <file>
                         Warren's test tools (no side effects for peek; reset/restore empty the vhost)
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
