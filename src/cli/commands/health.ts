/**
 * Health and status commands, usable as compose/Kubernetes health checks without curl, with
 * rabbitmq-diagnostics' exit codes (0 healthy; 69 unavailable or check failed; 75 timeout):
 * - `warren ping`: the broker answers its management API.
 * - `warren status`: what is running and how it is doing (exit 0 only when the broker answers).
 * - `warren check alarms|local-alarms|virtual-hosts|ready|port-listener PORT|protocol-listener PROTO`:
 *   the management API's /api/health/checks/*.
 * - `warren check port-connectivity`: opens a TCP connection to every listener the broker reports
 *   (rabbitmq-diagnostics check_port_connectivity).
 */
import type { Command } from 'commander';
import net from 'node:net';
import { seg } from '../management-client.js';
import { action, type CommandContext, type Run } from './context.js';
import { CliError, EXIT } from './exit-codes.js';

interface Listener {
  protocol?: string;
  ip_address?: string;
  port?: number;
}

interface Overview {
  node?: string;
  cluster_name?: string;
  product_name?: string;
  product_version?: string;
  rabbitmq_version?: string;
  listeners?: Listener[];
  object_totals?: Record<string, number>;
  queue_totals?: Record<string, unknown>;
}

/** Health check endpoints by the name `warren check` takes; `arg` completes the path. */
const CHECKS: Readonly<Record<string, { path: string; arg?: string }>> = {
  alarms: { path: 'alarms' },
  'local-alarms': { path: 'local-alarms' },
  'virtual-hosts': { path: 'virtual-hosts' },
  ready: { path: 'ready-to-serve-clients' },
  'port-listener': { path: 'port-listener', arg: 'port' },
  'protocol-listener': { path: 'protocol-listener', arg: 'protocol' },
};

async function overview(ctx: CommandContext): Promise<Overview> {
  return (await ctx.client.get('/api/overview')) as Overview;
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (err: string | undefined) => { s.destroy(); resolve(err); };
    s.setTimeout(timeoutMs, () => done('timed out'));
    s.once('connect', () => done(undefined));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** Where to reach a listener: its own address unless it listens on every interface. */
function listenerHost(l: Listener, apiHost: string): string {
  const ip = l.ip_address ?? '';
  return ip === '' || ip === '0.0.0.0' || ip === '::' ? apiHost : ip;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']] as const;
  const shown = parts.filter(([n], i) => n > 0 || i === parts.length - 1);
  return shown.map(([n, u]) => `${n}${u}`).join(' ');
}

function mib(n: unknown): string {
  return typeof n === 'number' ? `${(n / 1048576).toFixed(1)} MiB` : '?';
}

export function registerHealth(program: Command, run: Run): void {
  program.command('ping').description('check that the broker answers (exit 0), else exit 69')
    .action(action(run, async (ctx) => {
      const o = await overview(ctx);
      if (ctx.json) ctx.out.write(JSON.stringify({ result: 'ok', node: o.node }) + '\n');
      else ctx.out.write(`Ping succeeded: ${o.node ?? 'the broker'} at ${ctx.client.where} answers\n`);
    }));

  program.command('status').description('what the broker runs and how it is doing; exit 0 only when it answers')
    .action(action(run, async (ctx) => {
      const o = await overview(ctx);
      const node = o.node === undefined ? undefined : await ctx.client.get(`/api/nodes/${seg(o.node)}`).catch(() => undefined) as Record<string, unknown> | undefined;
      if (ctx.json) {
        ctx.out.write(JSON.stringify({ overview: o, node }, null, 2) + '\n');
        return;
      }
      const t = o.object_totals ?? {};
      const q = o.queue_totals ?? {};
      const alarms = node === undefined ? '?' : [node['mem_alarm'] === true ? 'memory' : '', node['disk_free_alarm'] === true ? 'disk' : ''].filter((a) => a !== '').join(', ') || 'none';
      const lines = [
        `Status of node ${o.node ?? '?'} (cluster ${o.cluster_name ?? '?'})`,
        `Product:     ${o.product_name ?? '?'} ${o.product_version ?? ''} (RabbitMQ ${o.rabbitmq_version ?? '?'} compatible)`.replace('  (', ' ('),
        ...(node === undefined ? [] : [
          `Uptime:      ${typeof node['uptime'] === 'number' ? duration(node['uptime']) : '?'}`,
          `Memory:      ${mib(node['mem_used'])} used, publishers blocked above ${mib(node['mem_limit'])}`,
          `Disk:        ${mib(node['disk_free'])} free, publishers blocked under ${mib(node['disk_free_limit'])}`,
          `Descriptors: ${String(node['fd_used'] ?? '?')} of ${String(node['fd_total'] ?? '?')}`,
        ]),
        `Alarms:      ${alarms}`,
        `Listeners:   ${(o.listeners ?? []).map((l) => `${l.protocol ?? '?'} ${l.ip_address ?? '?'}:${l.port ?? '?'}`).join(', ') || 'none'}`,
        `Totals:      ${['connections', 'channels', 'consumers', 'queues', 'exchanges'].map((k) => `${t[k] ?? 0} ${k}`).join(', ')}`,
        `Messages:    ${String(q['messages'] ?? 0)} (${String(q['messages_ready'] ?? 0)} ready, ${String(q['messages_unacknowledged'] ?? 0)} unacknowledged)`,
      ];
      ctx.out.write(lines.join('\n') + '\n');
    }));

  program.command('check').description(`health checks: port-connectivity, ${Object.keys(CHECKS).join(', ')}; exit 0 when healthy, 69 when not`)
    .argument('<check>')
    .argument('[arg]', 'the port (port-listener) or protocol (protocol-listener)')
    .action(action(run, async (ctx, [check, arg]) => {
      if (check === 'port-connectivity') return portConnectivity(ctx);
      const c = CHECKS[check!];
      if (c === undefined) throw new CliError(`unknown check '${check!}': use port-connectivity, ${Object.keys(CHECKS).join(', ')}`, EXIT.usage);
      if (c.arg !== undefined && arg === undefined) throw new CliError(`check ${check!} needs a ${c.arg}`, EXIT.usage);
      const path = `/api/health/checks/${c.path}${c.arg === undefined ? '' : `/${seg(arg!)}`}`;
      const r = await ctx.client.request('GET', path);
      const body = (r.body ?? {}) as Record<string, unknown>;
      if (r.status === 200) {
        ctx.out.write(ctx.json ? JSON.stringify(body) + '\n' : `check ${check!} passed\n`);
        return EXIT.ok;
      }
      if (r.status !== 503) throw ctx.client.httpError('GET', path, r);
      // 503: the check ran and failed.
      if (ctx.json) ctx.out.write(JSON.stringify(body) + '\n');
      else {
        const details = Object.entries(body).filter(([k]) => k !== 'status' && k !== 'reason').map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
        ctx.io.err.write(`check ${check!} failed: ${String(body['reason'] ?? 'HTTP 503')}${details.length > 0 ? ` (${details.join(', ')})` : ''}\n`);
      }
      return EXIT.unavailable;
    }));
}

/** rabbitmq-diagnostics check_port_connectivity: a TCP connection to every reported listener. */
async function portConnectivity(ctx: CommandContext): Promise<number> {
  const o = await overview(ctx);
  const apiHost = new URL(ctx.client.base).hostname.replace(/^\[|\]$/g, '');
  const listeners = (o.listeners ?? []).filter((l) => typeof l.port === 'number' && l.protocol !== 'clustering');
  const results = await Promise.all(listeners.map(async (l) => {
    const host = listenerHost(l, apiHost);
    return { protocol: l.protocol ?? '?', host, port: l.port!, error: await tcpConnect(host, l.port!, ctx.client.options.timeoutMs) };
  }));
  const failed = results.filter((r) => r.error !== undefined);
  if (ctx.json) ctx.out.write(JSON.stringify({ result: failed.length === 0 ? 'ok' : 'error', node: o.node, listeners: results }) + '\n');
  if (failed.length > 0) {
    if (!ctx.json) {
      ctx.io.err.write(`connection to ports of node ${o.node ?? '?'} failed: ${failed.map((f) => `${f.protocol} ${f.host}:${f.port} (${f.error!})`).join(', ')}\n`);
    }
    return EXIT.unavailable;
  }
  if (!ctx.json) ctx.out.write(`Successfully connected to ports ${results.map((r) => r.port).join(', ')} on node ${o.node ?? '?'}.\n`);
  return EXIT.ok;
}
