/**
 * Differential scenarios about exchanges and routing: declare equivalence, reserved names, the
 * default exchange, delete conditions, unknown types, internal exchanges, exchange-to-exchange
 * bindings, alternate exchanges, and the matching rules of direct, fanout, topic and headers.
 */
import type { Channel } from 'amqplib';
import { rpc } from '../amqp-internals.js';
import { scenario, type Scenario } from '../scenario.js';
import type { ScenarioContext } from '../scenario-context.js';
import { declareExchange, declareQueue, drain, open, openConfirm } from './helpers.js';

/**
 * Publishes each (routing key, headers) probe with confirms and mandatory, then drains every queue:
 * the trace shows which probes each binding matched and which were returned as unroutable.
 */
async function routeProbes(
  ctx: ScenarioContext,
  exchange: string,
  queues: ReadonlyArray<readonly [label: string, queue: string]>,
  probes: ReadonlyArray<{ readonly key: string; readonly headers?: Record<string, unknown>; readonly body: string }>,
): Promise<void> {
  // Messages routed to several queues are confirmed in no fixed order: record confirms as a set.
  const pub = await openConfirm(ctx, 'summary');
  for (const p of probes) pub.ch.publish(exchange, p.key, Buffer.from(p.body), { mandatory: true, headers: p.headers ?? {} });
  await ctx.waitConfirms(pub.ch, probes.length);
  const reader = await ctx.channel(pub.conn);
  for (const [label, q] of queues) await drain(ctx, reader, q, label);
}

export const exchangeScenarios: Scenario[] = [
  scenario('exchange-redeclare-inequivalent', 'redeclaring an exchange with another type/durable/auto_delete/internal/arguments is 406', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = ctx.name('x');
    await ctx.attempt('declare direct', () => ch.assertExchange(x, 'direct', { durable: false }), () => 'ok');
    const variants: Array<[string, string, Parameters<Channel['assertExchange']>[2]]> = [
      ['same', 'direct', { durable: false }],
      ['type topic', 'topic', { durable: false }],
      ['type fanout', 'fanout', { durable: false }],
      ['durable', 'direct', { durable: true }],
      ['auto_delete', 'direct', { durable: false, autoDelete: true }],
      ['internal', 'direct', { durable: false, internal: true }],
      ['alternate-exchange added', 'direct', { durable: false, alternateExchange: 'amq.fanout' }],
      ['unknown argument added', 'direct', { durable: false, arguments: { 'x-foo': 1 } }],
    ];
    for (const [label, type, opts] of variants) {
      const c = await ctx.channel(conn);
      await ctx.attempt(`redeclare ${label}`, () => c.assertExchange(x, type, opts), () => 'ok');
    }
  }),

  scenario('exchange-passive-declare', 'passive declare of a missing exchange is 404; of amq.* and existing ones is ok', async (ctx) => {
    const { conn, ch } = await open(ctx);
    await ctx.attempt('passive missing', () => ch.checkExchange(ctx.name('missing')), () => 'ok');
    const c = await ctx.channel(conn);
    for (const x of ['amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']) {
      await ctx.attempt(`passive ${x}`, () => c.checkExchange(x), () => 'ok');
    }
    const x = await declareExchange(ctx, c, 'x', 'topic');
    await ctx.attempt('passive existing', () => c.checkExchange(x), () => 'ok');
    await ctx.attempt('passive default exchange', () => c.checkExchange(''), () => 'ok');
  }),

  scenario('exchange-reserved-names', 'declaring amq.* exchanges is 403, also for existing built-ins; the default exchange cannot be redeclared', async (ctx) => {
    const { conn } = await open(ctx);
    const attempts: Array<[string, (c: Channel) => Promise<unknown>]> = [
      ['declare amq.custom', (c) => c.assertExchange(`amq.${ctx.name('x')}`, 'direct', { durable: false })],
      ['declare amq.direct (equivalent)', (c) => c.assertExchange('amq.direct', 'direct', { durable: true })],
      ['declare amq.direct (other type)', (c) => c.assertExchange('amq.direct', 'fanout', { durable: true })],
      ['declare default exchange', (c) => c.assertExchange('', 'direct', { durable: true })],
      ['delete default exchange', (c) => c.deleteExchange('')],
      ['delete amq.direct', (c) => c.deleteExchange('amq.direct')],
      ['delete amq.custom missing', (c) => c.deleteExchange(`amq.${ctx.name('x')}`)],
    ];
    for (const [label, op] of attempts) {
      const c = await ctx.channel(conn);
      await ctx.attempt(label, () => op(c), () => 'ok');
    }
  }),

  scenario('exchange-delete', 'exchange.delete if-unused with bindings is 406; delete of a missing exchange is ok', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct');
    const q = await declareQueue(ctx, ch, 'q');
    await ch.bindQueue(q, x, 'k');
    await ctx.attempt('delete if-unused with queue binding', () => ch.deleteExchange(x, { ifUnused: true }), () => 'ok');
    let c = await ctx.channel(conn);
    await c.unbindQueue(q, x, 'k');
    await ctx.attempt('delete if-unused after unbind', () => c.deleteExchange(x, { ifUnused: true }), () => 'ok');
    await ctx.attempt('passive after delete', () => c.checkExchange(x), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('delete missing', () => c.deleteExchange(ctx.name('missing')), () => 'ok');
    await ctx.attempt('delete missing if-unused', () => c.deleteExchange(ctx.name('missing'), { ifUnused: true }), () => 'ok');
    // As a source of an exchange-to-exchange binding the exchange is "in use"; as a destination?
    const src = await declareExchange(ctx, c, 'src', 'fanout');
    const dst = await declareExchange(ctx, c, 'dst', 'fanout');
    await c.bindExchange(dst, src, '');
    await ctx.attempt('delete if-unused destination of e2e binding', () => c.deleteExchange(dst, { ifUnused: true }), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('delete if-unused source of e2e binding', () => c.deleteExchange(src, { ifUnused: true }), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('delete source (bindings go with it)', () => c.deleteExchange(src), () => 'ok');
    await ctx.attempt('delete destination if-unused now', () => c.deleteExchange(dst, { ifUnused: true }), () => 'ok');
  }),

  scenario('exchange-queue-delete-removes-bindings', 'deleting a bound queue removes its bindings; deleting an exchange removes bindings to queues', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct');
    const q = await declareQueue(ctx, ch, 'q');
    await ch.bindQueue(q, x, 'k');
    await ch.deleteQueue(q);
    await ctx.attempt('delete exchange if-unused after its only queue was deleted', () => ch.deleteExchange(x, { ifUnused: true }), () => 'ok');
    const c = await ctx.channel(conn);
    const x2 = await declareExchange(ctx, c, 'x2', 'direct');
    const q2 = await declareQueue(ctx, c, 'q2');
    await c.bindQueue(q2, x2, 'k');
    await c.deleteExchange(x2);
    await declareExchange(ctx, c, 'x2', 'direct');
    const pub = await openConfirm(ctx);
    pub.ch.publish(x2, 'k', Buffer.from('after recreate'), { mandatory: true });
    await ctx.waitConfirms(pub.ch, 1);
    await drain(ctx, c, q2, 'q2');
  }),

  scenario('exchange-unknown-type', 'declaring an exchange of an unknown type closes the connection with 503', async (ctx) => {
    const { conn, ch } = await open(ctx);
    // The type is unique per run so no earlier run (or other client) can have left anything behind
    // under that name; RabbitMQ 3.10 answers "unknown exchange type" for it ("invalid" for '').
    await ctx.attempt('declare type x-nosuch-{run}', () => ch.assertExchange(ctx.name('x'), ctx.name('x-nosuch'), { durable: false }), () => 'ok');
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('exchange-publish-missing', 'publishing to a missing exchange closes the channel with 404 (no confirm for it)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    ch.publish(ctx.name('missing'), 'k', Buffer.from('x'));
    await ctx.waitChannelClosed(ch);
    const cc = await ctx.confirmChannel(conn);
    const q = await declareQueue(ctx, cc, 'q');
    cc.sendToQueue(q, Buffer.from('first'));
    await ctx.waitConfirms(cc, 1);
    cc.publish(ctx.name('missing'), 'k', Buffer.from('second'));
    await ctx.waitChannelClosed(cc);
    const c = await ctx.channel(conn);
    await drain(ctx, c, q);
  }),

  scenario('exchange-internal', 'publishing to an internal exchange is 403; it still routes via exchange-to-exchange bindings', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const internal = await declareExchange(ctx, ch, 'internal', 'fanout', { internal: true });
    const front = await declareExchange(ctx, ch, 'front', 'fanout');
    const q = await declareQueue(ctx, ch, 'q');
    await ch.bindQueue(q, internal, '');
    await ch.bindExchange(internal, front, '');
    const pub = await openConfirm(ctx);
    pub.ch.publish(front, 'k', Buffer.from('via front'));
    await ctx.waitConfirms(pub.ch, 1);
    pub.ch.publish(internal, 'k', Buffer.from('direct to internal'));
    await ctx.waitChannelClosed(pub.ch);
    await drain(ctx, ch, q);
    void conn;
  }),

  scenario('exchange-to-exchange', 'exchange.bind chains (with cycles) deliver once per queue; unbind and missing endpoints', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const a = await declareExchange(ctx, ch, 'a', 'topic');
    const b = await declareExchange(ctx, ch, 'b', 'direct');
    const c = await declareExchange(ctx, ch, 'c', 'fanout');
    const qb = await declareQueue(ctx, ch, 'qb');
    const qc = await declareQueue(ctx, ch, 'qc');
    await ch.bindExchange(b, a, 'k.*');
    await ch.bindExchange(c, a, '#');
    await ch.bindExchange(a, c, ''); // cycle a -> c -> a
    await ch.bindExchange(c, b, 'k.1'); // second path to c
    await ch.bindQueue(qb, b, 'k.1');
    await ch.bindQueue(qc, c, '');
    await routeProbes(ctx, a, [['qb', qb], ['qc', qc]], [{ key: 'k.1', body: 'k.1' }, { key: 'k.2', body: 'k.2' }, { key: 'x', body: 'x' }]);
    await ctx.attempt('unbind a->b', () => ch.unbindExchange(b, a, 'k.*'), () => 'ok');
    await ctx.attempt('unbind never bound', () => ch.unbindExchange(b, a, 'nope'), () => 'ok');
    await routeProbes(ctx, a, [['qb', qb], ['qc', qc]], [{ key: 'k.1', body: 'k.1 after unbind' }]);
    let e = await ctx.channel(conn);
    await ctx.attempt('bind from missing source', () => e.bindExchange(b, ctx.name('missing'), ''), () => 'ok');
    e = await ctx.channel(conn);
    await ctx.attempt('bind to missing destination', () => e.bindExchange(ctx.name('missing'), a, ''), () => 'ok');
    e = await ctx.channel(conn);
    await ctx.attempt('bind default exchange as source', () => e.bindExchange(b, '', 'k'), () => 'ok');
    e = await ctx.channel(conn);
    await ctx.attempt('bind default exchange as destination', () => e.bindExchange('', a, 'k'), () => 'ok');
  }),

  scenario('exchange-alternate', 'alternate-exchange receives unroutable messages (no basic.return); a missing AE means 312', async (ctx) => {
    const { ch } = await open(ctx);
    const ae = await declareExchange(ctx, ch, 'ae', 'fanout');
    const x = await declareExchange(ctx, ch, 'x', 'direct', { alternateExchange: ae });
    const xMissing = await declareExchange(ctx, ch, 'x-missing-ae', 'direct', { alternateExchange: ctx.name('nosuch') });
    const q = await declareQueue(ctx, ch, 'q');
    const qae = await declareQueue(ctx, ch, 'qae');
    await ch.bindQueue(q, x, 'k');
    await ch.bindQueue(qae, ae, '');
    await routeProbes(ctx, x, [['q', q], ['qae', qae]], [{ key: 'k', body: 'routed' }, { key: 'other', body: 'to ae' }]);
    await routeProbes(ctx, xMissing, [], [{ key: 'k', body: 'missing ae' }]);
  }),

  scenario('exchange-fanout', 'fanout delivers one copy to each bound queue regardless of key; a queue bound twice gets one copy', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'fanout');
    const qs = [await declareQueue(ctx, ch, 'q1'), await declareQueue(ctx, ch, 'q2'), await declareQueue(ctx, ch, 'q3')] as const;
    await ch.bindQueue(qs[0], x, '');
    await ch.bindQueue(qs[1], x, 'ignored');
    await ch.bindQueue(qs[2], x, 'a');
    await ch.bindQueue(qs[2], x, 'b');
    await routeProbes(ctx, x, [['q1', qs[0]], ['q2', qs[1]], ['q3', qs[2]]], [{ key: '', body: 'one' }, { key: 'zzz', body: 'two' }]);
  }),

  scenario('exchange-direct', 'direct routing: exact key match, several keys to one queue, one key to several queues, unroutable return', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct');
    const q1 = await declareQueue(ctx, ch, 'q1');
    const q2 = await declareQueue(ctx, ch, 'q2');
    await ch.bindQueue(q1, x, 'a');
    await ch.bindQueue(q1, x, 'b');
    await ch.bindQueue(q2, x, 'b');
    await ch.bindQueue(q2, x, '');
    await routeProbes(ctx, x, [['q1', q1], ['q2', q2]], ['a', 'b', '', 'A', 'a.b', 'c'].map((key) => ({ key, body: `key=${key}` })));
  }),

  scenario('exchange-default', 'default exchange routes by queue name; unknown name with mandatory is returned', async (ctx) => {
    const { ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await routeProbes(ctx, '', [['q', q]], [{ key: q, body: 'to q' }, { key: ctx.name('nosuch'), body: 'to nowhere' }, { key: '', body: 'empty key' }]);
  }),

  scenario('exchange-topic', 'topic matching: *, #, empty words, a.#.b, #.#, patterns against many keys', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'topic');
    const patterns = ['*', '#', 'a.*', 'a.#', '#.b', 'a.#.b', '*.b.*', 'a..b', '', '#.#', 'a.*.#', '*.*', 'a', '#.a.#'];
    const queues: Array<[string, string]> = [];
    for (const [i, p] of patterns.entries()) {
      const q = await declareQueue(ctx, ch, `q${i}`);
      await ch.bindQueue(q, x, p);
      queues.push([`pattern '${p}'`, q]);
    }
    const keys = ['', 'a', 'b', 'a.b', 'a.x.b', 'a.b.c', 'a..b', 'x.b.y', '.', 'a.x.y.b', 'b.a', 'a.b.b', 'ab', 'a.*', '#', 'a.#.b'];
    await routeProbes(ctx, x, queues, keys.map((key) => ({ key, body: `key='${key}'` })));
  }),

  scenario('exchange-headers', 'headers matching: x-match all/any/all-with-x/any-with-x, void values, types, default x-match', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'headers');
    const bindings: Array<[string, Record<string, unknown>]> = [
      ['all a=1 b=2', { 'x-match': 'all', a: 1, b: 2 }],
      ['any a=1 b=2', { 'x-match': 'any', a: 1, b: 2 }],
      ['default (all) a=1', { a: 1 }],
      ['all a=void', { 'x-match': 'all', a: null }],
      ['any a=str', { 'x-match': 'any', a: 'str' }],
      ['all x-k=v', { 'x-match': 'all', 'x-k': 'v' }],
      ['all-with-x x-k=v', { 'x-match': 'all-with-x', 'x-k': 'v' }],
      ['any-with-x x-k=v c=3', { 'x-match': 'any-with-x', 'x-k': 'v', c: 3 }],
      ['any no other keys', { 'x-match': 'any' }],
      ['all no other keys', { 'x-match': 'all' }],
    ];
    const queues: Array<[string, string]> = [];
    for (const [i, [label, args]] of bindings.entries()) {
      const q = await declareQueue(ctx, ch, `q${i}`);
      await ch.bindQueue(q, x, '', args);
      queues.push([label, q]);
    }
    const probes: Array<[string, Record<string, unknown>]> = [
      ['none', {}],
      ['a=1', { a: 1 }],
      ['a=1 b=2', { a: 1, b: 2 }],
      ['b=2', { b: 2 }],
      ['a=str', { a: 'str' }],
      ['a=void', { a: null }],
      ['a=1 as string', { a: '1' }],
      ['x-k=v', { 'x-k': 'v' }],
      ['x-k=v c=3', { 'x-k': 'v', c: 3 }],
      ['c=3', { c: 3 }],
      ['a=1 b=3', { a: 1, b: 3 }],
    ];
    await routeProbes(ctx, x, queues, probes.map(([body, headers]) => ({ key: '', headers, body })));
  }),

  scenario('exchange-headers-invalid-x-match', 'binding to a headers exchange with an invalid x-match value', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'headers');
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('bind x-match=nonsense', () => ch.bindQueue(q, x, '', { 'x-match': 'nonsense', a: 1 }), () => 'ok');
  }),

  scenario('exchange-auto-delete', 'an auto-delete exchange is deleted when its last binding is removed', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct', { autoDelete: true });
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('passive before any binding', () => ch.checkExchange(x), () => 'ok');
    await ch.bindQueue(q, x, 'a');
    await ch.bindQueue(q, x, 'b');
    await ch.unbindQueue(q, x, 'a');
    await ctx.attempt('passive with one binding left', () => ch.checkExchange(x), () => 'ok');
    await ch.unbindQueue(q, x, 'b');
    const c = await ctx.channel(conn);
    await ctx.attempt('passive after last unbind', () => c.checkExchange(x), () => 'ok');
  }),

  scenario('exchange-headers-typed-values', 'headers matching compares values across AMQP field types (byte/int/long/string/bool/float)', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'headers');
    const bindings: Array<[string, Record<string, unknown>]> = [
      ['n=1 (amqplib default int)', { n: 1 }],
      ['n=int32 1', { n: { '!': 'int32', value: 1 } }],
      ['n=long 1', { n: { '!': 'int64', value: 1 } }],
      ['n=string 1', { n: '1' }],
      ['f=double 1.5', { f: 1.5 }],
      ['b=true', { b: true }],
      ['l=[1,2]', { l: [1, 2] }],
    ];
    const queues: Array<[string, string]> = [];
    for (const [i, [label, args]] of bindings.entries()) {
      const q = await declareQueue(ctx, ch, `q${i}`);
      await ch.bindQueue(q, x, '', { 'x-match': 'all', ...args });
      queues.push([label, q]);
    }
    const probes: Array<[string, Record<string, unknown>]> = [
      ['n=1', { n: 1 }],
      ['n=byte 1', { n: { '!': 'byte', value: 1 } }],
      ['n=int32 1', { n: { '!': 'int32', value: 1 } }],
      ['n=long 1', { n: { '!': 'int64', value: 1 } }],
      ['n=float 1', { n: { '!': 'float', value: 1 } }],
      ['n="1"', { n: '1' }],
      ['f=1.5', { f: 1.5 }],
      ['f=float 1.5', { f: { '!': 'float', value: 1.5 } }],
      ['b=true', { b: true }],
      ['b=1', { b: 1 }],
      ['l=[1,2]', { l: [1, 2] }],
      ['l=[2,1]', { l: [2, 1] }],
    ];
    await routeProbes(ctx, x, queues, probes.map(([body, headers]) => ({ key: '', headers, body })));
  }),

  scenario('exchange-amq-default-alias', "'amq.default' as an exchange name (RabbitMQ 3.10: no such exchange, yet deleting it is 403)", async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await routeProbes(ctx, 'amq.default', [['q', q]], [{ key: q, body: 'via amq.default' }]);
    let c = await ctx.channel(conn);
    await ctx.attempt('passive amq.default', () => c.checkExchange('amq.default'), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('bind to amq.default', () => c.bindQueue(q, 'amq.default', 'k'), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('delete amq.default', () => c.deleteExchange('amq.default'), () => 'ok');
  }),

  scenario('exchange-passive-ignores-arguments', 'a passive exchange.declare ignores type, durable and arguments', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'topic');
    const passive = (c: Channel, type: string, durable: boolean) =>
      rpc(c, 'ExchangeDeclare', { exchange: x, type, ticket: 0, passive: true, durable, autoDelete: true, internal: true, nowait: false, arguments: { 'alternate-exchange': 'zzz' } }, 'ExchangeDeclareOk');
    await ctx.attempt('passive with other type', () => passive(ch, 'fanout', true), () => 'ok');
    await ctx.attempt('passive with unknown type', () => passive(ch, 'x-nosuch', false), () => 'ok');
    const c = await ctx.channel(conn);
    await ctx.attempt('passive queue declare with other flags', () =>
      rpc(c, 'QueueDeclare', { queue: ctx.name('missing'), ticket: 0, passive: true, durable: true, exclusive: true, autoDelete: true, nowait: false, arguments: {} }, 'QueueDeclareOk'), () => 'ok');
  }),

  scenario('exchange-declare-odd-types', "exchange types: the empty type and a capitalised unknown type are connection errors (503)", async (ctx) => {
    for (const [label, type] of [['empty', ''], ['Direct-{run}', ctx.name('Direct')]] as const) {
      const { conn, ch } = await open(ctx);
      await ctx.attempt(`declare type ${label}`, () => ch.assertExchange(ctx.name(`x-${label}`), type, { durable: false }), () => 'ok');
      await ctx.waitConnectionClosed(conn);
    }
  }),

  scenario('exchange-alternate-chains', 'alternate exchanges chain (AE of an AE) and an AE cycle ends in basic.return, not a loop', async (ctx) => {
    const { ch } = await open(ctx);
    const ae2 = await declareExchange(ctx, ch, 'ae2', 'fanout');
    const ae1 = await declareExchange(ctx, ch, 'ae1', 'direct', { alternateExchange: ae2 });
    const x = await declareExchange(ctx, ch, 'x', 'direct', { alternateExchange: ae1 });
    const q1 = await declareQueue(ctx, ch, 'q1');
    const q2 = await declareQueue(ctx, ch, 'q2');
    await ch.bindQueue(q1, ae1, 'k1');
    await ch.bindQueue(q2, ae2, '');
    await routeProbes(ctx, x, [['q1 (via ae1)', q1], ['q2 (via ae2)', q2]], [{ key: 'k1', body: 'caught by ae1' }, { key: 'k2', body: 'caught by ae2' }]);
    const a = ctx.name('cycle-a');
    const b = ctx.name('cycle-b');
    await ch.assertExchange(a, 'direct', { durable: false, alternateExchange: b });
    await ch.assertExchange(b, 'direct', { durable: false, alternateExchange: a });
    await routeProbes(ctx, a, [], [{ key: 'k', body: 'cycle' }]);
    const viaE2e = await declareExchange(ctx, ch, 'front', 'fanout');
    const empty = await declareExchange(ctx, ch, 'empty', 'direct');
    await ch.bindExchange(empty, viaE2e, '');
    await routeProbes(ctx, viaE2e, [], [{ key: 'k', body: 'e2e to nowhere' }]);
  }),

  scenario('exchange-binding-identity', 'binding arguments are part of a binding: unbinding needs the same arguments; one copy per queue', async (ctx) => {
    const { ch } = await open(ctx);
    const direct = await declareExchange(ctx, ch, 'direct', 'direct');
    const headers = await declareExchange(ctx, ch, 'headers', 'headers');
    const qd = await declareQueue(ctx, ch, 'qd');
    const qh = await declareQueue(ctx, ch, 'qh');
    await ch.bindQueue(qd, direct, 'k', { tag: 1 });
    await ch.bindQueue(qd, direct, 'k', { tag: 2 });
    await ch.bindQueue(qh, headers, '', { 'x-match': 'any', a: 1 });
    await routeProbes(ctx, direct, [['qd', qd]], [{ key: 'k', body: 'two bindings, one copy' }]);
    await ctx.attempt('unbind direct with tag 1', () => ch.unbindQueue(qd, direct, 'k', { tag: 1 }), () => 'ok');
    await routeProbes(ctx, direct, [['qd', qd]], [{ key: 'k', body: 'one binding left' }]);
    await ctx.attempt('unbind direct with tag 3 (no such binding)', () => ch.unbindQueue(qd, direct, 'k', { tag: 3 }), () => 'ok');
    await ctx.attempt('unbind direct without arguments', () => ch.unbindQueue(qd, direct, 'k'), () => 'ok');
    await routeProbes(ctx, direct, [['qd', qd]], [{ key: 'k', body: 'after unbinding without arguments' }]);
    await ctx.attempt('unbind headers without x-match', () => ch.unbindQueue(qh, headers, '', { a: 1 }), () => 'ok');
    await routeProbes(ctx, headers, [['qh', qh]], [{ key: '', headers: { a: 1 }, body: 'after unbind without x-match' }]);
    await ctx.attempt('unbind headers with the same arguments', () => ch.unbindQueue(qh, headers, '', { 'x-match': 'any', a: 1 }), () => 'ok');
    await routeProbes(ctx, headers, [['qh', qh]], [{ key: '', headers: { a: 1 }, body: 'after exact unbind' }]);
  }),

  scenario('exchange-self-binding', 'an exchange bound to itself, and an exchange that is its own alternate, route each message once', async (ctx) => {
    const { ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'topic');
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('bind x to itself', () => ch.bindExchange(x, x, '#'), () => 'ok');
    await ch.bindQueue(q, x, 'a.*');
    await routeProbes(ctx, x, [['q', q]], [{ key: 'a.b', body: 'once' }, { key: 'zzz', body: 'nowhere' }]);
    const self = ctx.name('self-ae');
    await ctx.attempt('declare exchange as its own alternate', () => ch.assertExchange(self, 'direct', { durable: false, alternateExchange: self }), () => 'ok');
    await routeProbes(ctx, self, [], [{ key: 'k', body: 'self ae' }]);
  }),
];
