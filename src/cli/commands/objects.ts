/**
 * `warren declare|delete queue|exchange|binding|user|vhost|permission|topic-permission|vhost-limit|
 * user-limit|policy|shovel`: one management API
 * call each (RabbitMQ's PUT/POST/DELETE paths and bodies). Objects that live in a vhost use -V
 * (default '/'). A binding is deleted by finding its properties key among the bindings between
 * source and destination, as rabbitmqadmin does.
 */
import type { Command } from 'commander';
import { isDeepStrictEqual } from 'node:util';
import { seg } from '../management-client.js';
import { action, nonNegativeInt, type CommandContext, type Run } from './context.js';
import { CliError, EXIT } from './exit-codes.js';

/** Parse a JSON-object option (--arguments, --definition, --properties). */
export function jsonObject(text: string | undefined, option: string): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err: unknown) {
    throw new CliError(`${option} is not valid JSON: ${(err as Error).message}`, EXIT.usage);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CliError(`${option} must be a JSON object`, EXIT.usage);
  return v as Record<string, unknown>;
}

/** A limit's value: an integer (RabbitMQ refuses anything else with its own reason). */
function limitValue(text: string): number | string {
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

function done(ctx: CommandContext, text: string): void {
  if (!ctx.json) ctx.out.write(text + '\n');
}

function bindingPath(ctx: CommandContext, source: string, destination: string, type: string): string {
  if (type !== 'queue' && type !== 'exchange') throw new CliError(`--destination-type must be queue or exchange, not '${type}'`, EXIT.usage);
  return `/api/bindings/${seg(ctx.vhost)}/e/${seg(source)}/${type === 'queue' ? 'q' : 'e'}/${seg(destination)}`;
}

export function registerObjects(program: Command, run: Run): void {
  const declare = program.command('declare').description('create or update an object');
  const del = program.command('delete').description('delete an object');

  declare.command('queue').description('declare a queue (in -V, default /)')
    .argument('<name>')
    .option('--no-durable', 'transient queue (default durable, as rabbitmqadmin)')
    .option('--auto-delete', 'delete when its last consumer goes', false)
    .option('--type <type>', 'classic, quorum or stream (x-queue-type)')
    .option('--arguments <json>', 'queue arguments, e.g. \'{"x-max-length": 1000}\'')
    .action(action(run, async (ctx, [name], o) => {
      const args = jsonObject(o['arguments'] as string | undefined, '--arguments');
      if (typeof o['type'] === 'string') args['x-queue-type'] = o['type'];
      await ctx.client.put(`/api/queues/${seg(ctx.vhost)}/${seg(name!)}`, { durable: o['durable'] !== false, auto_delete: o['autoDelete'] === true, arguments: args });
      done(ctx, `queue '${name!}' declared in vhost '${ctx.vhost}'`);
    }));

  declare.command('exchange').description('declare an exchange (in -V, default /)')
    .argument('<name>')
    .option('--type <type>', 'direct, fanout, topic, headers, x-delayed-message...', 'direct')
    .option('--no-durable', 'transient exchange (default durable)')
    .option('--auto-delete', 'delete when its last binding goes', false)
    .option('--internal', 'clients cannot publish to it', false)
    .option('--arguments <json>', 'exchange arguments, e.g. \'{"alternate-exchange": "ae"}\'')
    .action(action(run, async (ctx, [name], o) => {
      await ctx.client.put(`/api/exchanges/${seg(ctx.vhost)}/${seg(name!)}`, {
        type: o['type'], durable: o['durable'] !== false, auto_delete: o['autoDelete'] === true, internal: o['internal'] === true,
        arguments: jsonObject(o['arguments'] as string | undefined, '--arguments'),
      });
      done(ctx, `exchange '${name!}' declared in vhost '${ctx.vhost}'`);
    }));

  const bindingOptions = (c: Command): Command => c
    .requiredOption('--source <exchange>', 'source exchange')
    .requiredOption('--destination <name>', 'destination queue or exchange')
    .option('--destination-type <type>', 'queue or exchange', 'queue')
    .option('--routing-key <key>', 'routing key', '')
    .option('--arguments <json>', 'binding arguments (headers exchanges)');

  bindingOptions(declare.command('binding').description('bind a queue or exchange to an exchange (in -V, default /)'))
    .action(action(run, async (ctx, _args, o) => {
      const path = bindingPath(ctx, o['source'] as string, o['destination'] as string, o['destinationType'] as string);
      await ctx.client.post(path, { routing_key: o['routingKey'], arguments: jsonObject(o['arguments'] as string | undefined, '--arguments') });
      done(ctx, `binding '${String(o['source'])}' -> '${String(o['destination'])}' (routing key '${String(o['routingKey'])}') declared in vhost '${ctx.vhost}'`);
    }));

  declare.command('user').description('create a user or change its password and tags')
    .argument('<name>')
    .argument('[password]', 'the new user\'s password (or --password-hash)')
    .option('--password-hash <hash>', 'RabbitMQ password hash (base64), instead of a password')
    .option('--tags <tags>', 'comma-separated tags: administrator, monitoring, policymaker, management', '')
    .action(action(run, async (ctx, [name, password], o) => {
      const body: Record<string, unknown> = { tags: o['tags'] };
      if (password !== undefined) body['password'] = password;
      else if (typeof o['passwordHash'] === 'string') body['password_hash'] = o['passwordHash'];
      else throw new CliError('give the user a password (second argument) or --password-hash', EXIT.usage);
      await ctx.client.put(`/api/users/${seg(name!)}`, body);
      done(ctx, `user '${name!}' declared`);
    }));

  declare.command('vhost').description('create a virtual host')
    .argument('<name>')
    .option('--description <text>', 'description')
    .option('--tags <tags>', 'comma-separated tags')
    .option('--default-queue-type <type>', 'classic, quorum or stream')
    .action(action(run, async (ctx, [name], o) => {
      const body: Record<string, unknown> = {};
      if (typeof o['description'] === 'string') body['description'] = o['description'];
      if (typeof o['tags'] === 'string') body['tags'] = o['tags'];
      if (typeof o['defaultQueueType'] === 'string') body['default_queue_type'] = o['defaultQueueType'];
      await ctx.client.put(`/api/vhosts/${seg(name!)}`, body);
      done(ctx, `vhost '${name!}' declared`);
    }));

  declare.command('permission').description('set a user\'s permissions in -V (default /)')
    .argument('<user>')
    .option('--configure <regexp>', 'resources the user may declare and delete', '.*')
    .option('--write <regexp>', 'resources the user may publish to / bind from', '.*')
    .option('--read <regexp>', 'resources the user may consume from / bind to', '.*')
    .action(action(run, async (ctx, [user], o) => {
      await ctx.client.put(`/api/permissions/${seg(ctx.vhost)}/${seg(user!)}`, { configure: o['configure'], write: o['write'], read: o['read'] });
      done(ctx, `permissions of '${user!}' in vhost '${ctx.vhost}' set`);
    }));

  declare.command('topic-permission').description('set a user\'s topic permission on a topic exchange in -V (default /)')
    .argument('<user>')
    .requiredOption('--exchange <name>', 'the topic exchange')
    .option('--write <regexp>', 'routing keys the user may publish with ({username}, {vhost} are expanded)', '.*')
    .option('--read <regexp>', 'routing keys the user may bind with', '.*')
    .action(action(run, async (ctx, [user], o) => {
      await ctx.client.put(`/api/topic-permissions/${seg(ctx.vhost)}/${seg(user!)}`, { exchange: o['exchange'], write: o['write'], read: o['read'] });
      done(ctx, `topic permission of '${user!}' on exchange '${String(o['exchange'])}' in vhost '${ctx.vhost}' set`);
    }));

  declare.command('vhost-limit').description('set a limit of -V (default /): max-connections or max-queues (negative: none)')
    .argument('<name>').argument('<value>')
    .action(action(run, async (ctx, [name, value]) => {
      await ctx.client.put(`/api/vhost-limits/${seg(ctx.vhost)}/${seg(name!)}`, { value: limitValue(value!) });
      done(ctx, `limit ${name!} of vhost '${ctx.vhost}' set to ${value!}`);
    }));

  declare.command('user-limit').description('set a limit of a user: max-connections or max-channels (negative: none)')
    .argument('<user>').argument('<name>').argument('<value>')
    .action(action(run, async (ctx, [user, name, value]) => {
      await ctx.client.put(`/api/user-limits/${seg(user!)}/${seg(name!)}`, { value: limitValue(value!) });
      done(ctx, `limit ${name!} of user '${user!}' set to ${value!}`);
    }));

  declare.command('policy').description('set a policy in -V (default /)')
    .argument('<name>')
    .requiredOption('--pattern <regexp>', 'names the policy applies to')
    .requiredOption('--definition <json>', 'e.g. \'{"max-length": 1000}\'')
    .option('--priority <n>', 'higher wins when several match', nonNegativeInt, 0)
    .option('--apply-to <what>', 'queues, exchanges or all', 'all')
    .action(action(run, async (ctx, [name], o) => {
      await ctx.client.put(`/api/policies/${seg(ctx.vhost)}/${seg(name!)}`, {
        pattern: o['pattern'], definition: jsonObject(o['definition'] as string, '--definition'), priority: o['priority'], 'apply-to': o['applyTo'],
      });
      done(ctx, `policy '${name!}' set in vhost '${ctx.vhost}'`);
    }));

  del.command('queue').description('delete a queue (in -V, default /)')
    .argument('<name>')
    .option('--if-unused', 'only if it has no consumers', false)
    .option('--if-empty', 'only if it holds no messages', false)
    .action(action(run, async (ctx, [name], o) => {
      const q = new URLSearchParams();
      if (o['ifUnused'] === true) q.set('if-unused', 'true');
      if (o['ifEmpty'] === true) q.set('if-empty', 'true');
      const query = q.size === 0 ? '' : `?${q.toString()}`;
      await ctx.client.delete(`/api/queues/${seg(ctx.vhost)}/${seg(name!)}${query}`);
      done(ctx, `queue '${name!}' deleted from vhost '${ctx.vhost}'`);
    }));

  del.command('exchange').description('delete an exchange (in -V, default /)')
    .argument('<name>')
    .option('--if-unused', 'only if it is not the source of a binding', false)
    .action(action(run, async (ctx, [name], o) => {
      await ctx.client.delete(`/api/exchanges/${seg(ctx.vhost)}/${seg(name!)}${o['ifUnused'] === true ? '?if-unused=true' : ''}`);
      done(ctx, `exchange '${name!}' deleted from vhost '${ctx.vhost}'`);
    }));

  bindingOptions(del.command('binding').description('delete the binding with this routing key and arguments (in -V, default /)'))
    .action(action(run, async (ctx, _args, o) => {
      const path = bindingPath(ctx, o['source'] as string, o['destination'] as string, o['destinationType'] as string);
      const args = jsonObject(o['arguments'] as string | undefined, '--arguments');
      const found = (await ctx.client.list(path)).find((b) => b['routing_key'] === o['routingKey'] && isDeepStrictEqual(b['arguments'] ?? {}, args));
      if (found === undefined) {
        throw new CliError(`no binding '${String(o['source'])}' -> '${String(o['destination'])}' with routing key '${String(o['routingKey'])}' in vhost '${ctx.vhost}'`, EXIT.notFound);
      }
      await ctx.client.delete(`${path}/${seg(String(found['properties_key']))}`);
      done(ctx, `binding '${String(o['source'])}' -> '${String(o['destination'])}' deleted from vhost '${ctx.vhost}'`);
    }));

  for (const [kind, path, what] of [
    ['user', (n: string) => `/api/users/${seg(n)}`, 'user'],
    ['vhost', (n: string) => `/api/vhosts/${seg(n)}`, 'vhost (and everything in it)'],
  ] as const) {
    del.command(kind).description(`delete a ${what}`).argument('<name>')
      .action(action(run, async (ctx, [name]) => {
        await ctx.client.delete(path(name!));
        done(ctx, `${kind} '${name!}' deleted`);
      }));
  }

  del.command('permission').description('clear a user\'s permissions in -V (default /)')
    .argument('<user>')
    .action(action(run, async (ctx, [user]) => {
      await ctx.client.delete(`/api/permissions/${seg(ctx.vhost)}/${seg(user!)}`);
      done(ctx, `permissions of '${user!}' in vhost '${ctx.vhost}' cleared`);
    }));

  del.command('topic-permission').description('clear a user\'s topic permissions in -V (default /): one exchange or all')
    .argument('<user>')
    .option('--exchange <name>', 'only this exchange\'s')
    .action(action(run, async (ctx, [user], o) => {
      const only = typeof o['exchange'] === 'string' ? `?exchange=${encodeURIComponent(o['exchange'])}` : '';
      await ctx.client.delete(`/api/topic-permissions/${seg(ctx.vhost)}/${seg(user!)}${only}`);
      done(ctx, `topic permissions of '${user!}' in vhost '${ctx.vhost}' cleared`);
    }));

  del.command('vhost-limit').description('remove a limit of -V (default /)')
    .argument('<name>')
    .action(action(run, async (ctx, [name]) => {
      await ctx.client.delete(`/api/vhost-limits/${seg(ctx.vhost)}/${seg(name!)}`);
      done(ctx, `limit ${name!} of vhost '${ctx.vhost}' removed`);
    }));

  del.command('user-limit').description('remove a limit of a user')
    .argument('<user>').argument('<name>')
    .action(action(run, async (ctx, [user, name]) => {
      await ctx.client.delete(`/api/user-limits/${seg(user!)}/${seg(name!)}`);
      done(ctx, `limit ${name!} of user '${user!}' removed`);
    }));

  del.command('policy').description('delete a policy in -V (default /)')
    .argument('<name>')
    .action(action(run, async (ctx, [name]) => {
      await ctx.client.delete(`/api/policies/${seg(ctx.vhost)}/${seg(name!)}`);
      done(ctx, `policy '${name!}' deleted from vhost '${ctx.vhost}'`);
    }));

  // Shovels are runtime parameters of component `shovel` (RabbitMQ: rabbitmqctl set_parameter shovel NAME JSON).
  declare.command('shovel').description('create or replace a dynamic shovel in -V (default /)')
    .argument('<name>')
    .requiredOption('--value <json>', 'the definition, e.g. \'{"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://host", "dest-queue": "a"}\'')
    .action(action(run, async (ctx, [name], o) => {
      await ctx.client.put(`/api/parameters/shovel/${seg(ctx.vhost)}/${seg(name!)}`, { value: jsonObject(o['value'] as string, '--value') });
      done(ctx, `shovel '${name!}' set in vhost '${ctx.vhost}'`);
    }));

  del.command('shovel').description('delete a dynamic shovel in -V (default /)')
    .argument('<name>')
    .action(action(run, async (ctx, [name]) => {
      await ctx.client.delete(`/api/parameters/shovel/${seg(ctx.vhost)}/${seg(name!)}`);
      done(ctx, `shovel '${name!}' deleted from vhost '${ctx.vhost}'`);
    }));
}
