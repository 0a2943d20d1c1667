/**
 * Warren's test commands over its test endpoints (README "Test endpoints"):
 *   warren peek QUEUE      GET .../peek: unacked and ready messages, no side effect
 *   warren inject QUEUE    POST .../inject: a message straight into the queue
 *   warren wait QUEUE      GET .../wait: until --messages N / --empty / --consumers N, exit 75 at --wait-timeout
 *   warren reset           POST /api/warren/reset/{vhost}
 *   warren snapshot FILE   GET /api/warren/snapshot/{vhost} to FILE (- for stdout)
 *   warren restore FILE    POST /api/warren/restore/{vhost} from FILE (- for stdin)
 * All in -V (default /).
 */
import type { Command } from 'commander';
import { seg } from '../management-client.js';
import { action, nonNegativeInt, positiveInt, type Run } from './context.js';
import { readInput, writeOutput } from './definitions.js';
import { CliError, EXIT } from './exit-codes.js';
import { payloadOf } from './messages.js';
import { jsonObject } from './objects.js';
import { printObject, printRows } from './output.js';

const RESET_FIELDS = ['connections_closed', 'queues_deleted', 'messages_deleted', 'exchanges_deleted', 'bindings_deleted', 'policies_deleted'];

async function readDocument(file: string): Promise<unknown> {
  const text = await readInput(file);
  try {
    return JSON.parse(text);
  } catch (err: unknown) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`, EXIT.dataerr);
  }
}

export function registerTestTools(program: Command, run: Run): void {
  program.command('peek').description('show a queue\'s unacked and ready messages without consuming them (in -V, default /)')
    .argument('<queue>')
    .option('--offset <n>', 'start at this position', nonNegativeInt, 0)
    .option('-c, --count <n>', 'how many messages', positiveInt, 20)
    .option('--state <state>', 'all, ready or unacked', 'all')
    .option('--encoding <enc>', 'auto (text when it is valid UTF-8) or base64', 'auto')
    .option('--truncate <bytes>', 'cut payloads longer than this', nonNegativeInt)
    .action(action(run, async (ctx, [queue], o) => {
      const q = new URLSearchParams({ offset: String(o['offset']), count: String(o['count']), state: String(o['state']), encoding: String(o['encoding']) });
      if (o['truncate'] !== undefined) q.set('truncate', String(o['truncate']));
      const page = await ctx.client.get(`/api/queues/${seg(ctx.vhost)}/${seg(queue!)}/peek?${q}`) as { messages?: unknown; total?: unknown };
      if (!Array.isArray(page.messages)) throw new CliError('unexpected answer from the peek endpoint', EXIT.software);
      printRows(ctx.out, page.messages as Record<string, unknown>[],
        ['position', 'state', 'routing_key', 'exchange', 'redelivered', 'payload', 'payload_encoding', 'properties'], ctx.output);
    }));

  program.command('inject').description('put a message straight into a queue, without an exchange (in -V, default /)')
    .argument('<queue>')
    .option('--payload <text>', 'message body')
    .option('--file <path>', 'read the body from a file (- for stdin)')
    .option('--properties <json>', 'e.g. \'{"delivery_mode": 2, "headers": {"a": 1}}\'')
    .option('-k, --routing-key <key>', 'routing key consumers see (default: the queue name)')
    .action(action(run, async (ctx, [queue], o) => {
      const { payload, encoding } = await payloadOf(o);
      const body: Record<string, unknown> = {
        properties: jsonObject(o['properties'] as string | undefined, '--properties'), payload, payload_encoding: encoding,
      };
      if (typeof o['routingKey'] === 'string') body['routing_key'] = o['routingKey'];
      const reply = await ctx.client.post(`/api/queues/${seg(ctx.vhost)}/${seg(queue!)}/inject`, body) as { enqueued?: unknown };
      const enqueued = reply.enqueued === true;
      if (ctx.json) ctx.out.write(JSON.stringify({ enqueued }) + '\n');
      else ctx.out.write(enqueued ? `message injected into '${queue!}'\n` : `message NOT enqueued: queue '${queue!}' refused it (overflow)\n`);
      return enqueued ? EXIT.ok : EXIT.dataerr;
    }));

  program.command('wait').description('wait until a queue holds N messages, is empty, or has N consumers (in -V, default /); exit 75 on timeout')
    .argument('<queue>')
    .option('--messages <n>', 'at least this many messages (ready + unacked)', nonNegativeInt)
    .option('--empty', 'no messages at all')
    .option('--consumers <n>', 'exactly this many consumers', nonNegativeInt)
    .option('--wait-timeout <ms>', 'give up after this long', nonNegativeInt, 30_000)
    .action(action(run, async (ctx, [queue], o) => {
      const q = new URLSearchParams();
      if (o['messages'] !== undefined) q.set('messages', String(o['messages']));
      if (o['empty'] === true) q.set('empty', 'true');
      if (o['consumers'] !== undefined) q.set('consumers', String(o['consumers']));
      if ([...q.keys()].length === 0) throw new CliError('say what to wait for: --messages N, --empty or --consumers N', EXIT.usage);
      const timeout = Number(o['waitTimeout']);
      q.set('timeout', String(timeout));
      const client = ctx.clientAllowing(timeout);
      const path = `/api/queues/${seg(ctx.vhost)}/${seg(queue!)}/wait?${q}`;
      const r = await client.request('GET', path);
      const body = r.body as Record<string, unknown> | undefined;
      if (r.status === 408) {
        if (ctx.json) ctx.out.write(JSON.stringify(body) + '\n');
        throw new CliError(String(body?.['reason'] ?? 'timed out'), EXIT.tempfail);
      }
      if (r.status !== 200) throw client.httpError('GET', path, r);
      printObject(ctx.out, body, ['queue', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers', 'waited_ms'], ctx.output);
    }));

  program.command('reset').description('empty a vhost (-V, default /): close its connections, delete its queues, exchanges, bindings, policies')
    .action(action(run, async (ctx) => {
      const r = await ctx.client.post(`/api/warren/reset/${seg(ctx.vhost)}`, {});
      printObject(ctx.out, r, RESET_FIELDS, ctx.output);
    }));

  program.command('snapshot').description('save a vhost\'s (-V, default /) definitions and messages to FILE (- for stdout)')
    .argument('<file>')
    .action(action(run, async (ctx, [file]) => {
      const doc = await ctx.client.get(`/api/warren/snapshot/${seg(ctx.vhost)}`);
      if (!await writeOutput(ctx, file!, doc)) return;
      const n = ((doc as { messages?: { messages: unknown[] }[] }).messages ?? []).reduce((a, q) => a + q.messages.length, 0);
      if (!ctx.json) ctx.out.write(`snapshot of vhost '${ctx.vhost}' (${n} messages) written to ${file!}\n`);
    }));

  program.command('restore').description('reset a vhost (-V, default /) and load a snapshot FILE (- for stdin) into it')
    .argument('<file>')
    .action(action(run, async (ctx, [file]) => {
      const doc = await readDocument(file!);
      const r = await ctx.client.post(`/api/warren/restore/${seg(ctx.vhost)}`, doc);
      printObject(ctx.out, r, [...RESET_FIELDS, 'queues', 'messages_restored'], ctx.output);
    }));
}
