/**
 * Differential scenarios about queues: declare equivalence (406), passive declares (404), reserved
 * names (403), exclusivity (405), server-named queues, purge/delete counts and conditions,
 * auto-delete and exclusive lifetimes, bind/unbind errors.
 */
import { sendMethod } from '../amqp-internals.js';
import { scenario, type Scenario } from '../scenario.js';
import { bodies, counts, declareQueue, drain, open, publishConfirmed } from './helpers.js';

export const queueScenarios: Scenario[] = [
  scenario('queue-redeclare-inequivalent', 'redeclaring a queue with another durable/exclusive/auto_delete/arguments value is 406', async (ctx) => {
    const { conn } = await open(ctx);
    const q = ctx.name('q');
    const variants: Array<[string, Parameters<import('amqplib').Channel['assertQueue']>[1]]> = [
      ['same', { durable: false, arguments: { 'x-message-ttl': 1000 } }],
      ['durable', { durable: true, arguments: { 'x-message-ttl': 1000 } }],
      ['auto_delete', { durable: false, autoDelete: true, arguments: { 'x-message-ttl': 1000 } }],
      ['exclusive', { durable: false, exclusive: true, arguments: { 'x-message-ttl': 1000 } }],
      ['arguments-changed', { durable: false, arguments: { 'x-message-ttl': 2000 } }],
      ['arguments-missing', { durable: false }],
      ['arguments-extra', { durable: false, arguments: { 'x-message-ttl': 1000, 'x-max-length': 5 } }],
      ['unknown-argument-added', { durable: false, arguments: { 'x-message-ttl': 1000, 'x-whatever': 'a' } }],
    ];
    const first = await ctx.channel(conn);
    await ctx.attempt('declare original', () => first.assertQueue(q, { durable: false, arguments: { 'x-message-ttl': 1000 } }), (ok) => ok);
    for (const [label, opts] of variants) {
      const ch = await ctx.channel(conn);
      await ctx.attempt(`redeclare ${label}`, () => ch.assertQueue(q, opts), (ok) => ok);
      if (!ctx.isClosed(ch)) await ch.close();
    }
  }),

  scenario('queue-passive-declare', 'passive declare of a missing queue is 404; of an existing one returns counts', async (ctx) => {
    const { conn, ch } = await open(ctx);
    await ctx.attempt('passive missing', () => ch.checkQueue(ctx.name('missing')));
    const ch2 = await ctx.channel(conn);
    const q = await declareQueue(ctx, ch2, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 2));
    await ctx.attempt('passive existing', () => ch2.checkQueue(q), (ok) => ok);
  }),

  scenario('queue-declare-counts', 'declare-ok carries ready message count and consumer count', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    await ctx.attempt('redeclare with 3 messages', () => ch.assertQueue(q, { durable: false }), (ok) => ok);
    const cch = await ctx.channel(conn);
    await cch.prefetch(1);
    const c = await ctx.consume(cch, q, { label: 'c' });
    await ctx.waitDeliveries(c, 1);
    await ctx.attempt('redeclare with consumer and 1 unacked', () => ch.assertQueue(q, { durable: false }), (ok) => ok);
  }),

  scenario('queue-purge', 'purge-ok counts ready messages only; purge of a missing queue is 404', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 5));
    await ctx.get(ch, q);
    await ctx.attempt('purge with 1 unacked', () => ch.purgeQueue(q), (ok) => ok);
    await ctx.attempt('purge again', () => ch.purgeQueue(q), (ok) => ok);
    await ch.close();
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('purge after unacked requeued', () => ch2.purgeQueue(q), (ok) => ok);
    await ctx.attempt('purge missing', () => ch2.purgeQueue(ctx.name('missing')), (ok) => ok);
  }),

  scenario('queue-delete-if-empty', 'queue.delete if-empty on a non-empty queue is 406; delete-ok counts messages', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 2));
    await ctx.attempt('delete if-empty', () => ch.deleteQueue(q, { ifEmpty: true }), (ok) => ok);
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('delete', () => ch2.deleteQueue(q), (ok) => ok);
    await ctx.attempt('passive after delete', () => ch2.checkQueue(q));
    const ch3 = await ctx.channel(conn);
    const q2 = await declareQueue(ctx, ch3, 'q2');
    await ctx.attempt('delete empty if-empty', () => ch3.deleteQueue(q2, { ifEmpty: true }), (ok) => ok);
  }),

  scenario('queue-delete-if-unused', 'queue.delete if-unused with a consumer is 406; after cancel it succeeds', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 1));
    const cch = await ctx.channel(conn);
    const c = await ctx.consume(cch, q, { label: 'c', consumerTag: 'tag1' });
    await ctx.waitDeliveries(c, 1);
    await ctx.attempt('delete if-unused', () => ch.deleteQueue(q, { ifUnused: true }), (ok) => ok);
    await ctx.attempt('cancel', () => cch.cancel('tag1'), (ok) => ok);
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('delete if-unused after cancel', () => ch2.deleteQueue(q, { ifUnused: true, ifEmpty: true }), (ok) => ok);
    await ctx.attempt('delete if-unused after cancel, not if-empty', () => ch2.deleteQueue(q, { ifUnused: true }), (ok) => ok);
  }),

  scenario('queue-delete-missing', 'deleting a missing queue (plain, if-empty, if-unused)', async (ctx) => {
    const { ch } = await open(ctx);
    await ctx.attempt('delete missing', () => ch.deleteQueue(ctx.name('missing')), (ok) => ok);
    await ctx.attempt('delete missing if-empty', () => ch.deleteQueue(ctx.name('missing'), { ifEmpty: true }), (ok) => ok);
    await ctx.attempt('delete missing if-unused', () => ch.deleteQueue(ctx.name('missing'), { ifUnused: true }), (ok) => ok);
  }),

  scenario('queue-server-named', 'queue.declare with an empty name returns amq.gen-… names usable via the default exchange', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const a = await ctx.attempt('declare server-named exclusive', () => ch.assertQueue('', { exclusive: true }), (ok) => ok);
    const b = await ctx.attempt('declare server-named non-durable', () => ch.assertQueue('', { durable: false }), (ok) => ok);
    if (a === undefined || b === undefined) return;
    await publishConfirmed(ctx, conn, '', a.queue, ['to-a']);
    await publishConfirmed(ctx, conn, '', b.queue, ['to-b1', 'to-b2']);
    await ctx.get(ch, a.queue);
    await ctx.get(ch, b.queue);
    await ctx.attempt('passive declare of generated name', () => ch.checkQueue(b.queue), (ok) => ok);
    await ctx.attempt('delete generated', () => ch.deleteQueue(b.queue), (ok) => ok);
  }),

  scenario('queue-reserved-amq-prefix', 'declaring a queue named amq.* is 403; passive declare of one is 404', async (ctx) => {
    const { conn, ch } = await open(ctx);
    await ctx.attempt('declare amq.*', () => ch.assertQueue(`amq.${ctx.name('q')}`, { durable: false }));
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('passive amq.*', () => ch2.checkQueue(`amq.${ctx.name('q')}`));
    const ch3 = await ctx.channel(conn);
    await ctx.attempt('declare exactly amq.', () => ch3.assertQueue('amq.', { durable: false }));
  }),

  scenario('queue-name-lengths', 'a 255-byte queue name is accepted and echoed; names with odd characters work', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const base = ctx.name('long');
    const long = base + 'x'.repeat(255 - base.length);
    await ctx.attempt('declare 255-byte name', () => ch.assertQueue(long, { durable: false }), (ok) => ({ sameName: ok.queue === long, length: ok.queue.length }));
    await ctx.attempt('delete 255-byte name', () => ch.deleteQueue(long), (ok) => ok);
    const odd = ctx.name('odd name/ünï.#*');
    await ctx.attempt('declare odd characters', () => ch.assertQueue(odd, { durable: false }), (ok) => ok);
    await publishConfirmed(ctx, conn, '', odd, ['x']);
    await drain(ctx, ch, odd);
  }),

  scenario('queue-exclusive-other-connection', 'another connection touching an exclusive queue gets 405 RESOURCE_LOCKED', async (ctx) => {
    const owner = await open(ctx);
    const q = await declareQueue(ctx, owner.ch, 'q', { exclusive: true });
    const other = await ctx.connect();
    const ops: Array<[string, (ch: import('amqplib').Channel) => Promise<unknown>]> = [
      ['declare', (ch) => ch.assertQueue(q, { durable: false, exclusive: true })],
      ['declare non-exclusive', (ch) => ch.assertQueue(q, { durable: false })],
      ['passive declare', (ch) => ch.checkQueue(q)],
      ['consume', (ch) => ch.consume(q, () => {})],
      ['get', (ch) => ch.get(q)],
      ['purge', (ch) => ch.purgeQueue(q)],
      ['delete', (ch) => ch.deleteQueue(q)],
      ['bind', (ch) => ch.bindQueue(q, 'amq.direct', q)],
    ];
    for (const [label, op] of ops) {
      const ch = await ctx.channel(other);
      await ctx.attempt(label, () => op(ch), () => 'ok');
    }
    const ch = await ctx.channel(other);
    ch.sendToQueue(q, Buffer.from('published by other'));
    await ctx.attempt('owner counts (publish from another connection is allowed)', async () => {
      await ctx.waitFor('message from other connection', async () => (await owner.ch.checkQueue(q)).messageCount === 1);
      return owner.ch.checkQueue(q);
    }, (ok) => ok);
  }),

  scenario('queue-exclusive-gone-after-close', 'an exclusive queue is deleted when its connection closes', async (ctx) => {
    const owner = await open(ctx);
    const q = await declareQueue(ctx, owner.ch, 'q', { exclusive: true });
    const other = await ctx.connect();
    let ch = await ctx.channel(other);
    await ctx.attempt('other sees it as locked', () => ch.checkQueue(q));
    await ctx.closeConnection(owner.conn);
    await ctx.waitQueueGone(q);
    ch = await ctx.channel(other);
    await ctx.attempt('passive after owner closed', () => ch.checkQueue(q));
  }),

  scenario('queue-auto-delete', 'an auto-delete queue lives until its last consumer cancels, not before its first', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q', { autoDelete: true });
    await ctx.attempt('passive before any consumer', () => ch.checkQueue(q), (ok) => ok);
    const cch = await ctx.channel(conn);
    await cch.consume(q, () => {}, { consumerTag: 'one' });
    await cch.consume(q, () => {}, { consumerTag: 'two' });
    await cch.cancel('one');
    await ctx.attempt('passive with one consumer left', () => ch.checkQueue(q), (ok) => ok);
    await cch.cancel('two');
    await ctx.waitQueueGone(q);
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('passive after last cancel', () => ch2.checkQueue(q));
  }),

  scenario('queue-bind-errors', 'binding a missing queue or to a missing exchange is 404; binding to the default exchange is 403', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('bind missing queue', () => ch.bindQueue(ctx.name('missing-q'), 'amq.direct', 'k'));
    let c = await ctx.channel(conn);
    await ctx.attempt('bind to missing exchange', () => c.bindQueue(q, ctx.name('missing-x'), 'k'));
    c = await ctx.channel(conn);
    await ctx.attempt('bind both missing', () => c.bindQueue(ctx.name('missing-q'), ctx.name('missing-x'), 'k'));
    c = await ctx.channel(conn);
    await ctx.attempt('bind to default exchange', () => c.bindQueue(q, '', 'k'));
    c = await ctx.channel(conn);
    await ctx.attempt('unbind from default exchange', () => c.unbindQueue(q, '', q));
    c = await ctx.channel(conn);
    await ctx.attempt('bind to amq.direct', () => c.bindQueue(q, 'amq.direct', q), () => 'ok');
    await ctx.attempt('bind again (idempotent)', () => c.bindQueue(q, 'amq.direct', q), () => 'ok');
    await ctx.attempt('unbind', () => c.unbindQueue(q, 'amq.direct', q), () => 'ok');
  }),

  scenario('queue-unbind-nonexistent', 'unbinding a binding, queue or exchange that does not exist (RabbitMQ 3.x: unbind-ok)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('unbind never-bound key', () => ch.unbindQueue(q, 'amq.direct', 'nope'), () => 'ok');
    await ctx.attempt('unbind with arguments never bound', () => ch.unbindQueue(q, 'amq.headers', '', { a: 1 }), () => 'ok');
    let c = await ctx.channel(conn);
    await ctx.attempt('unbind missing exchange', () => c.unbindQueue(q, ctx.name('missing-x'), 'k'), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('unbind missing queue', () => c.unbindQueue(ctx.name('missing-q'), 'amq.direct', 'k'), () => 'ok');
  }),

  scenario('queue-missing-consume-get', 'basic.consume / basic.get on a missing queue is 404', async (ctx) => {
    const { conn, ch } = await open(ctx);
    await ctx.attempt('consume missing', () => ch.consume(ctx.name('missing'), () => {}), () => 'ok');
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('get missing', () => ch2.get(ctx.name('missing')), () => 'ok');
    const ch3 = await ctx.channel(conn);
    ch3.sendToQueue(ctx.name('missing'), Buffer.from('dropped'));
    await ctx.attempt('channel still usable after publish to missing queue', () => ch3.assertQueue('', { exclusive: true }), () => 'ok');
  }),

  scenario('queue-empty-name-shortcuts', "an empty queue name means the channel's last declared queue (bind, publish, get, purge, delete)", async (ctx) => {
    const { conn, ch } = await open(ctx);
    const ok = await ctx.attempt('declare server-named', () => ch.assertQueue('', { exclusive: true }), (v) => v);
    if (ok === undefined) return;
    const x = ctx.name('x');
    await ch.assertExchange(x, 'direct', { durable: false });
    await ctx.attempt("bind ''", () => ch.bindQueue('', x, 'k'), () => 'ok');
    await publishConfirmed(ctx, conn, x, 'k', ['via binding of last queue']);
    await ctx.get(ch, '', {}, "basic.get ''");
    await ctx.attempt("purge ''", () => ch.purgeQueue(''), (v) => v);
    await ctx.attempt("delete ''", () => ch.deleteQueue(''), (v) => v);
    await ctx.attempt("passive declare '' (no shortcut for passive)", () => ch.checkQueue(''), (v) => v);
    const fresh = await ctx.channel(conn);
    await ctx.attempt("basic.get '' with no queue declared on the channel", () => fresh.get(''), () => 'ok');
    const fresh2 = await ctx.channel(conn);
    await ctx.attempt("bind '' with no queue declared on the channel", () => fresh2.bindQueue('', x, 'k'), () => 'ok');
  }),

  scenario('queue-nowait-methods', 'methods sent with nowait=true get no reply (a stray reply would break the next RPC)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = ctx.name('q');
    const x = ctx.name('x');
    sendMethod(ch, 'ExchangeDeclare', { exchange: x, type: 'fanout', ticket: 0, passive: false, durable: false, autoDelete: false, internal: false, nowait: true, arguments: {} });
    sendMethod(ch, 'QueueDeclare', { queue: q, ticket: 0, passive: false, durable: false, exclusive: false, autoDelete: false, nowait: true, arguments: {} });
    sendMethod(ch, 'QueueBind', { queue: q, exchange: x, routingKey: '', ticket: 0, nowait: true, arguments: {} });
    await ctx.attempt('exchange exists', () => ch.checkExchange(x), () => 'ok');
    await publishConfirmed(ctx, conn, x, '', ['a', 'b']);
    await ctx.attempt('queue counts', () => ch.checkQueue(q), (v) => v);
    sendMethod(ch, 'QueuePurge', { queue: q, ticket: 0, nowait: true });
    await ctx.attempt('queue counts after nowait purge', () => ch.checkQueue(q), (v) => v);
    const ch2 = await ctx.channel(conn);
    sendMethod(ch2, 'QueueDelete', { queue: q, ticket: 0, ifUnused: false, ifEmpty: false, nowait: true });
    sendMethod(ch2, 'ExchangeDelete', { exchange: x, ticket: 0, ifUnused: false, nowait: true });
    await ctx.attempt('queue gone', () => ch2.checkQueue(q), () => 'ok');
  }),

  scenario('queue-invalid-arguments', 'queue.declare with ill-typed or out-of-range x-arguments is 406', async (ctx) => {
    const { conn } = await open(ctx);
    const cases: Array<[string, Record<string, unknown>]> = [
      ['x-message-ttl string', { 'x-message-ttl': 'soon' }],
      ['x-message-ttl negative', { 'x-message-ttl': -1 }],
      ['x-expires zero', { 'x-expires': 0 }],
      ['x-max-length negative', { 'x-max-length': -1 }],
      ['x-max-priority too big', { 'x-max-priority': 300 }],
      ['x-dead-letter-exchange number', { 'x-dead-letter-exchange': 5 }],
      ['x-overflow unknown', { 'x-overflow': 'explode' }],
      ['x-queue-type unknown', { 'x-queue-type': 'nonsense' }],
    ];
    for (const [label, args] of cases) {
      const ch = await ctx.channel(conn);
      await ctx.attempt(label, () => ch.assertQueue(ctx.name(`q-${label.replace(/ /g, '-')}`), { durable: false, arguments: args }), (v) => v);
    }
  }),

  scenario('queue-redeclare-exclusive-owner', 'the owner redeclaring its exclusive queue with exclusive=false / other flags', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q', { exclusive: true });
    const variants: Array<[string, import('amqplib').Options.AssertQueue]> = [
      ['same', { durable: false, exclusive: true }],
      ['exclusive=false', { durable: false, exclusive: false }],
      ['auto_delete=true', { durable: false, exclusive: true, autoDelete: true }],
    ];
    for (const [label, opts] of variants) {
      const c = await ctx.channel(conn);
      await ctx.attempt(`redeclare ${label}`, () => c.assertQueue(q, opts), (v) => v);
    }
  }),

  scenario('queue-delete-with-unacked', 'deleting a queue with unacked deliveries: count, server cancel, later acks of its messages', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 4));
    await ch.prefetch(2);
    const c = await ctx.consume(ch, q, { label: 'c' });
    await ctx.waitDeliveries(c, 2);
    const other = await ctx.channel(conn);
    await ctx.attempt('delete queue with 2 unacked', () => other.deleteQueue(q), (v) => v);
    await ctx.waitFor('server cancel', () => c.cancelled);
    const first = c.messages[0];
    if (first === undefined) return;
    ch.ack(first);
    await ctx.attempt('channel still usable after acking a message of the deleted queue', () => ch.checkExchange('amq.direct'), () => 'ok');
    const second = c.messages[1];
    if (second === undefined) return;
    ch.nack(second, false, true);
    await ctx.attempt('channel still usable after nack-requeue to the deleted queue', () => ch.checkExchange('amq.direct'), () => 'ok');
    await ctx.attempt('queue is gone', () => other.checkQueue(q), () => 'ok');
  }),
];
