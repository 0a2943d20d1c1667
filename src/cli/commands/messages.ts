/**
 * Message commands over the management API: `purge QUEUE`, `publish` (POST .../publish, says
 * whether the message was routed), `get QUEUE` (POST .../get; by default ack_requeue_true, so the
 * messages stay in the queue: a peek, though RabbitMQ marks them redelivered), and
 * `close-connection NAME` (DELETE /api/connections/NAME with the reason in X-Reason).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { seg } from '../management-client.js';
import { action, nonNegativeInt, positiveInt, type Run } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { jsonObject } from './objects.js';
import { printRows } from './output.js';

const ACK_MODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'];

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** The payload to publish and its management-API encoding: text as string, other bytes as base64. */
export async function payloadOf(o: Record<string, unknown>): Promise<{ payload: string; encoding: string }> {
  let bytes: Buffer;
  if (typeof o['payload'] === 'string') {
    if (o['file'] !== undefined) throw new CliError('give either --payload or --file, not both', EXIT.usage);
    bytes = Buffer.from(o['payload']);
  } else if (typeof o['file'] === 'string') {
    try {
      bytes = o['file'] === '-' ? await readStdin() : await readFile(o['file']);
    } catch (err: unknown) {
      throw new CliError(`cannot read ${o['file']}: ${(err as Error).message}`, EXIT.notFound);
    }
  } else {
    bytes = Buffer.alloc(0);
  }
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? { payload: text, encoding: 'string' } : { payload: bytes.toString('base64'), encoding: 'base64' };
}

export function registerMessages(program: Command, run: Run): void {
  program.command('purge').description('remove every ready message from a queue (in -V, default /)')
    .argument('<queue>')
    .action(action(run, async (ctx, [queue]) => {
      await ctx.client.delete(`/api/queues/${seg(ctx.vhost)}/${seg(queue!)}/contents`);
      if (!ctx.json) ctx.out.write(`queue '${queue!}' purged\n`);
    }));

  program.command('publish').description('publish one message through an exchange (in -V, default /)')
    .option('-e, --exchange <name>', 'exchange (default: the default exchange)', '')
    .option('-k, --routing-key <key>', 'routing key (with the default exchange: the queue name)', '')
    .option('--payload <text>', 'message body')
    .option('--file <path>', 'read the body from a file (- for stdin)')
    .option('--properties <json>', 'e.g. \'{"delivery_mode": 2, "headers": {"a": 1}}\'')
    .action(action(run, async (ctx, _args, o) => {
      const { payload, encoding } = await payloadOf(o);
      const x = o['exchange'] === '' ? 'amq.default' : String(o['exchange']);
      const reply = await ctx.client.post(`/api/exchanges/${seg(ctx.vhost)}/${seg(x)}/publish`, {
        properties: jsonObject(o['properties'] as string | undefined, '--properties'),
        routing_key: o['routingKey'], payload, payload_encoding: encoding,
      }) as { routed?: unknown } | undefined;
      const routed = reply?.routed === true;
      if (ctx.json) ctx.out.write(JSON.stringify({ routed }) + '\n');
      else ctx.out.write(routed ? 'message published\n' : 'message published but NOT routed (no queue matched)\n');
    }));

  program.command('get').description('fetch messages from a queue (in -V, default /); by default they go back to the queue')
    .argument('<queue>')
    .option('-c, --count <n>', 'how many messages', positiveInt, 1)
    .option('--ackmode <mode>', ACK_MODES.join('|'), 'ack_requeue_true')
    .option('--encoding <enc>', 'auto (text when it is valid UTF-8) or base64', 'auto')
    .option('--truncate <bytes>', 'cut payloads longer than this', nonNegativeInt)
    .action(action(run, async (ctx, [queue], o) => {
      if (!ACK_MODES.includes(String(o['ackmode']))) throw new CliError(`--ackmode must be one of ${ACK_MODES.join(', ')}`, EXIT.usage);
      const body: Record<string, unknown> = { count: o['count'], ackmode: o['ackmode'], encoding: o['encoding'] };
      if (o['truncate'] !== undefined) body['truncate'] = o['truncate'];
      const msgs = await ctx.client.post(`/api/queues/${seg(ctx.vhost)}/${seg(queue!)}/get`, body);
      if (!Array.isArray(msgs)) throw new CliError('unexpected answer from the get endpoint', EXIT.software);
      printRows(ctx.out, msgs as Record<string, unknown>[],
        ['routing_key', 'exchange', 'message_count', 'payload', 'payload_bytes', 'payload_encoding', 'redelivered', 'properties'], ctx.output);
    }));

  program.command('close-connection').description('close a client connection (320 CONNECTION_FORCED) by its name as `list connections` shows it')
    .argument('<name>')
    .option('--reason <text>', 'reason the client sees', 'Closed via the warren command line')
    .action(action(run, async (ctx, [name], o) => {
      const r = await ctx.client.request('DELETE', `/api/connections/${seg(name!)}`, undefined, { 'x-reason': String(o['reason']) });
      if (r.status < 200 || r.status >= 300) throw ctx.client.httpError('DELETE', `/api/connections/${seg(name!)}`, r);
      if (!ctx.json) ctx.out.write(`connection '${name!}' closed\n`);
    }));
}
