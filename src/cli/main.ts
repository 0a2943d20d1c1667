#!/usr/bin/env node
/**
 * The `warren` command. `warren start` runs the broker in the foreground; flags override
 * environment variables (WARREN_PORT, WARREN_HOST, WARREN_DATA_DIR, WARREN_LOG_LEVEL, ...), which
 * override defaults (0.0.0.0:5672, ./data, info). SIGTERM/SIGINT close every connection with
 * 320 CONNECTION_FORCED and exit 0. This is the only module that reads argv and the environment.
 *
 * Start-up cost matters (target: spawn -> accepting connections in under 300 ms): `warren start
 * [options]` is parsed with node:util's parseArgs and logs through the small pino-compatible
 * json-logger; commander is imported only for help, version and argument errors, from the same
 * option table, so those texts stay commander's.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Policy } from '../broker/policy.js';
import { createJsonLogger } from './json-logger.js';
import { startWarren } from './warren.js';

const env = process.env;

class BadValue extends Error {}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new BadValue('not a non-negative integer');
  return n;
}

interface OptionSpec {
  /** commander flags text, e.g. '-p, --port <n>'. */
  readonly flags: string;
  readonly long: string;
  readonly short?: string;
  readonly description: string;
  readonly env: string;
  /** Boolean switch (no value). */
  readonly flag?: boolean;
  readonly int?: boolean;
  readonly fallback?: string | number;
}

/** The `start` options, in help order. Defaults come from the environment, then `fallback`. */
const START_OPTIONS: readonly OptionSpec[] = [
  { flags: '-p, --port <n>', long: 'port', short: 'p', env: 'WARREN_PORT', int: true, fallback: 5672, description: 'TCP port (0 picks a free one) [env WARREN_PORT]' },
  { flags: '-H, --host <addr>', long: 'host', short: 'H', env: 'WARREN_HOST', fallback: '0.0.0.0', description: 'address to listen on [env WARREN_HOST]' },
  { flags: '-d, --data-dir <dir>', long: 'data-dir', short: 'd', env: 'WARREN_DATA_DIR', fallback: './data', description: 'data directory [env WARREN_DATA_DIR]' },
  { flags: '-l, --log-level <lvl>', long: 'log-level', short: 'l', env: 'WARREN_LOG_LEVEL', fallback: 'info', description: 'trace|debug|info|warn|error|silent [env WARREN_LOG_LEVEL]' },
  { flags: '--memory-high-watermark <bytes>', long: 'memory-high-watermark', env: 'WARREN_MEMORY_HIGH_WATERMARK', int: true, fallback: 512 * 1024 * 1024, description: 'block publishers above this many held message bytes [env WARREN_MEMORY_HIGH_WATERMARK]' },
  { flags: '--heartbeat <s>', long: 'heartbeat', env: 'WARREN_HEARTBEAT', int: true, fallback: 60, description: 'heartbeat interval offered to clients [env WARREN_HEARTBEAT]' },
  { flags: '--frame-max <bytes>', long: 'frame-max', env: 'WARREN_FRAME_MAX', int: true, fallback: 131072, description: 'largest frame offered to clients [env WARREN_FRAME_MAX]' },
  { flags: '--channel-max <n>', long: 'channel-max', env: 'WARREN_CHANNEL_MAX', int: true, fallback: 2047, description: 'most channels per connection [env WARREN_CHANNEL_MAX]' },
  { flags: '--product <name>', long: 'product', env: 'WARREN_PRODUCT', fallback: 'Warren', description: 'server-properties product [env WARREN_PRODUCT]' },
  { flags: '--product-version <v>', long: 'product-version', env: 'WARREN_PRODUCT_VERSION', fallback: '3.13.7', description: 'server-properties version (clients compare it with RabbitMQ versions) [env WARREN_PRODUCT_VERSION]' },
  { flags: '--segment-size <bytes>', long: 'segment-size', env: 'WARREN_SEGMENT_SIZE', int: true, fallback: 8 * 1024 * 1024, description: 'message segment file size [env WARREN_SEGMENT_SIZE]' },
  { flags: '--queue-memory-budget <bytes>', long: 'queue-memory-budget', env: 'WARREN_QUEUE_MEMORY_BUDGET', int: true, fallback: 64 * 1024 * 1024, description: 'held message bytes above which queues page to disk [env WARREN_QUEUE_MEMORY_BUDGET]' },
  { flags: '--disk-free-limit <bytes>', long: 'disk-free-limit', env: 'WARREN_DISK_FREE_LIMIT', int: true, fallback: 50_000_000, description: 'block publishers while free disk is under this [env WARREN_DISK_FREE_LIMIT]' },
  { flags: '--store <kind>', long: 'store', env: 'WARREN_STORE', fallback: 'file', description: 'file (durable) or memory [env WARREN_STORE]' },
  { flags: '--consumer-timeout <ms>', long: 'consumer-timeout', env: 'WARREN_CONSUMER_TIMEOUT', int: true, fallback: 30 * 60 * 1000, description: 'unacked delivery timeout, 0 disables [env WARREN_CONSUMER_TIMEOUT]' },
  { flags: '--policies <file>', long: 'policies', env: 'WARREN_POLICIES', description: 'JSON file with policies (array, or definitions with "policies") [env WARREN_POLICIES]' },
  { flags: '--allow-remote-guest', long: 'allow-remote-guest', env: 'WARREN_ALLOW_REMOTE_GUEST', flag: true, description: 'let guest log in from non-loopback addresses [env WARREN_ALLOW_REMOTE_GUEST=1]' },
];

type StartValues = Record<string, string | number | boolean | undefined>;

/** Environment default of one option (an invalid integer throws, as the commander version did at start-up). */
function envDefault(o: OptionSpec): string | number | boolean | undefined {
  const v = env[o.env];
  if (o.flag === true) return v === '1';
  if (v === undefined || v === '') return o.fallback;
  return o.int === true ? int(v) : v;
}

/**
 * The common case, `warren start [--option value ...]`, parsed with node:util (commander costs
 * ~13 ms and ~2 MiB at start-up). Anything else (help, version, an unknown option, a bad value)
 * returns undefined and is handled by the full commander program, so its texts are unchanged.
 */
function parseStartFast(argv: readonly string[]): StartValues | undefined {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const o of START_OPTIONS) options[o.long] = o.short === undefined ? { type: o.flag === true ? 'boolean' : 'string' } : { type: 'string', short: o.short };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv.slice(2), options, allowPositionals: true, strict: true });
  } catch {
    return undefined;
  }
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'start') return undefined;
  const out: StartValues = {};
  for (const o of START_OPTIONS) {
    const v = parsed.values[o.long];
    if (v === undefined) {
      out[o.long] = envDefault(o);
      continue;
    }
    if (typeof v !== (o.flag === true ? 'boolean' : 'string')) return undefined;
    if (o.int === true) {
      try {
        out[o.long] = int(v as string);
      } catch {
        return undefined;
      }
    } else {
      out[o.long] = v as string | boolean;
    }
  }
  return out;
}

/** Help, version and argument errors: the commander program built from the same table (loaded lazily). */
async function runCommander(argv: readonly string[]): Promise<void> {
  const { Command, InvalidArgumentError } = await import('commander');
  const parseInt = (value: string): number => {
    try {
      return int(value);
    } catch (e: unknown) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
  const program = new Command('warren').description('Warren, an AMQP 0-9-1 message broker').version('0.1.0');
  const start = program.command('start').description('run the broker in the foreground');
  for (const o of START_OPTIONS) {
    const d = envDefault(o);
    if (o.int === true) start.option(o.flags, o.description, parseInt, d as number);
    else if (o.flag === true) start.option(o.flags, o.description, d as boolean);
    else if (d === undefined) start.option(o.flags, o.description);
    else start.option(o.flags, o.description, d as string);
  }
  start.action(async (opts: Record<string, unknown>) => {
    const values: StartValues = {};
    for (const o of START_OPTIONS) {
      const camel = o.long.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      values[o.long] = opts[camel] as string | number | boolean | undefined;
    }
    await runStart(values);
  });
  await program.parseAsync(argv as string[]);
}

async function runStart(o: StartValues): Promise<void> {
  const num = (k: string): number => o[k] as number;
  const str = (k: string): string => o[k] as string;
  const logger = createJsonLogger(str('log-level'), { app: 'warren' });
  const policies = o['policies'];
  try {
    const warren = await startWarren({
      port: num('port'),
      host: str('host'),
      dataDir: str('data-dir'),
      logger,
      segmentSize: num('segment-size'),
      diskFreeLimit: num('disk-free-limit'),
      storeKind: str('store') === 'memory' ? 'memory' : 'file',
      server: {
        heartbeat: num('heartbeat'), frameMax: num('frame-max'), channelMax: num('channel-max'),
        product: str('product'), version: str('product-version'), allowRemoteLoopbackUsers: o['allow-remote-guest'] === true,
      },
      broker: {
        memoryHighWatermark: Math.max(num('memory-high-watermark'), num('queue-memory-budget') * 2),
        pagingThreshold: num('queue-memory-budget'),
        consumerTimeout: num('consumer-timeout'),
        policies: typeof policies === 'string' ? loadPolicies(policies) : [],
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
  } catch (err: unknown) {
    logger.fatal({ err }, 'failed to start');
    logger.flush();
    process.exit(1);
  }
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

process.on('uncaughtException', (err) => {
  // A bug must not take every connection down: log it and keep serving.
  console.error('uncaught exception', err);
});

function main(argv: readonly string[]): Promise<void> {
  const fast = parseStartFast(argv);
  return fast === undefined ? runCommander(argv) : runStart(fast);
}

main(process.argv).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
