/**
 * `warren list <kind>`: queues, exchanges, bindings, connections, channels, consumers, users,
 * vhosts, permissions, policies, topic permissions, vhost and user limits, shovels, from the management API's list endpoints. Vhost-scoped kinds list
 * every vhost (with a vhost column) unless -V names one, as rabbitmqadmin does.
 */
import type { Command } from 'commander';
import { seg } from '../management-client.js';
import { action, type Run } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { printRows } from './output.js';

interface Listable {
  /** Path of every object, and of one vhost's (undefined: not vhost-scoped). */
  all: string;
  inVhost?: (vhost: string) => string;
  columns: readonly string[];
}

const LISTABLE: Readonly<Record<string, Listable>> = {
  queues: {
    all: '/api/queues', inVhost: (v) => `/api/queues/${seg(v)}`,
    columns: ['name', 'type', 'messages_ready', 'messages_unacknowledged', 'messages', 'consumers', 'state'],
  },
  exchanges: {
    all: '/api/exchanges', inVhost: (v) => `/api/exchanges/${seg(v)}`,
    columns: ['name', 'type', 'durable', 'auto_delete', 'internal'],
  },
  bindings: {
    all: '/api/bindings', inVhost: (v) => `/api/bindings/${seg(v)}`,
    columns: ['source', 'destination', 'destination_type', 'routing_key', 'arguments'],
  },
  connections: { all: '/api/connections', columns: ['name', 'user', 'vhost', 'channels', 'state'] },
  channels: { all: '/api/channels', columns: ['name', 'user', 'vhost', 'consumer_count', 'messages_unacknowledged', 'prefetch_count', 'confirm'] },
  consumers: {
    all: '/api/consumers', inVhost: (v) => `/api/consumers/${seg(v)}`,
    columns: ['queue.name', 'consumer_tag', 'channel_details.name', 'ack_required', 'prefetch_count', 'exclusive'],
  },
  users: { all: '/api/users', columns: ['name', 'tags'] },
  vhosts: { all: '/api/vhosts', columns: ['name', 'messages', 'messages_ready', 'messages_unacknowledged'] },
  permissions: {
    all: '/api/permissions', inVhost: (v) => `/api/vhosts/${seg(v)}/permissions`,
    columns: ['user', 'vhost', 'configure', 'write', 'read'],
  },
  policies: {
    all: '/api/policies', inVhost: (v) => `/api/policies/${seg(v)}`,
    columns: ['name', 'pattern', 'apply-to', 'priority', 'definition'],
  },
  'topic-permissions': {
    all: '/api/topic-permissions', inVhost: (v) => `/api/vhosts/${seg(v)}/topic-permissions`,
    columns: ['user', 'vhost', 'exchange', 'write', 'read'],
  },
  'vhost-limits': { all: '/api/vhost-limits', inVhost: (v) => `/api/vhost-limits/${seg(v)}`, columns: ['vhost', 'value'] },
  'user-limits': { all: '/api/user-limits', columns: ['user', 'value'] },
  shovels: { all: '/api/shovels', inVhost: (v) => `/api/shovels/${seg(v)}`, columns: ['name', 'vhost', 'state', 'src_uri', 'dest_uri', 'reason'] },
};

export const LIST_KINDS: readonly string[] = Object.keys(LISTABLE);

export function registerList(program: Command, run: Run): void {
  program
    .command('list')
    .description(`list objects: ${LIST_KINDS.join(', ')}`)
    .argument('<kind>', LIST_KINDS.join('|'))
    .action(action(run, async (ctx, [kind]) => {
      const l = LISTABLE[kind!];
      if (l === undefined) throw new CliError(`unknown kind '${kind!}': use one of ${LIST_KINDS.join(', ')}`, EXIT.usage);
      const v = ctx.vhostOption;
      const rows = await ctx.client.list(v !== undefined && l.inVhost !== undefined ? l.inVhost(v) : l.all);
      // Without -V, vhost-scoped lists span every vhost: show which (permissions already do).
      const columns = l.inVhost !== undefined && v === undefined && !l.columns.includes('vhost') ? ['vhost', ...l.columns] : l.columns;
      printRows(ctx.out, rows, columns, ctx.output);
    }));
}
