/**
 * Exchanges (AMQP 0-9-1 §3.1.3, RabbitMQ extensions): direct, fanout, topic (`*`, `#`), headers
 * (x-match all/any/all-with-x/any-with-x, void values), the default exchange and amq.*, declare
 * (passive, durable, auto-delete, internal, alternate-exchange) with equivalence checks (406),
 * the reserved amq. prefix (403), delete if-unused, exchange.bind/unbind.
 */
import { describe, expect, it } from 'vitest';
import type { Channel, Message } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { closedWith, expectCode, isClosed } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();

/** Declare one exclusive queue per label, bound by `bind(label, queue)`; returns label -> queue. */
async function queues(ch: Channel, labels: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const l of labels) out.set(l, (await ch.assertQueue('', { exclusive: true })).queue);
  return out;
}

/** Drain every queue with basic.get; returns label -> bodies in order. */
async function drain(ch: Channel, qs: Map<string, string>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [label, q] of qs) {
    const got: string[] = [];
    for (;;) {
      const m = await ch.get(q, { noAck: true });
      if (m === false) break;
      got.push(m.content.toString());
    }
    out[label] = got;
  }
  return out;
}

/** Publish on a confirm channel so that everything is routed before we look. */
async function publishAll(conn: Awaited<ReturnType<typeof ctx.clients.connect>>, exchange: string,
  msgs: ReadonlyArray<readonly [string, string, Record<string, unknown>?]>): Promise<void> {
  const ch = await ctx.clients.confirmChannel(conn);
  for (const [key, body, headers] of msgs) ch.publish(exchange, key, Buffer.from(body), headers ? { headers } : {});
  await ch.waitForConfirms();
  await ch.close();
}

describe('exchange types', () => {
  it('direct routes on the exact routing key, to every queue bound with it', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('direct');
    await ch.assertExchange(ex, 'direct', { autoDelete: true });
    const qs = await queues(ch, ['a', 'b', 'ab']);
    await ch.bindQueue(qs.get('a')!, ex, 'red');
    await ch.bindQueue(qs.get('b')!, ex, 'green');
    await ch.bindQueue(qs.get('ab')!, ex, 'red');
    await ch.bindQueue(qs.get('ab')!, ex, 'green');
    await publishAll(conn, ex, [['red', 'r1'], ['green', 'g1'], ['blue', 'b1'], ['Red', 'R'], ['red', 'r2']]);
    expect(await drain(ch, qs)).toEqual({ a: ['r1', 'r2'], b: ['g1'], ab: ['r1', 'g1', 'r2'] });
  });

  it('fanout ignores the routing key and delivers one copy per queue', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('fanout');
    await ch.assertExchange(ex, 'fanout', { autoDelete: true });
    const qs = await queues(ch, ['x', 'y']);
    await ch.bindQueue(qs.get('x')!, ex, '');
    await ch.bindQueue(qs.get('y')!, ex, 'whatever');
    await ch.bindQueue(qs.get('y')!, ex, 'second-binding'); // still one copy
    await publishAll(conn, ex, [['', 'm1'], ['k', 'm2']]);
    expect(await drain(ch, qs)).toEqual({ x: ['m1', 'm2'], y: ['m1', 'm2'] });
  });

  it('topic matches * (one word) and # (zero or more words)', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('topic');
    await ch.assertExchange(ex, 'topic', { autoDelete: true });
    const patterns = ['*.orange.*', '*.*.rabbit', 'lazy.#', '#', 'a.#.b', '#.z', 'a.*', 'exact.key', '*', '#.#', 'a.#'];
    const qs = await queues(ch, patterns);
    for (const p of patterns) await ch.bindQueue(qs.get(p)!, ex, p);
    const keys = ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox', 'lazy.brown.fox',
      'lazy', 'quick.orange.male.rabbit', 'a.b', 'a.x.y.b', 'a', 'z', 'x.z', 'exact.key', '', 'a..b', 'orange'];
    await publishAll(conn, ex, keys.map((k) => [k, k] as const));
    expect(await drain(ch, qs)).toEqual({
      '*.orange.*': ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox'],
      '*.*.rabbit': ['quick.orange.rabbit'],
      'lazy.#': ['lazy.orange.elephant', 'lazy.brown.fox', 'lazy'],
      '#': keys,
      'a.#.b': ['a.b', 'a.x.y.b', 'a..b'],
      '#.z': ['z', 'x.z'],
      'a.*': ['a.b'],
      'exact.key': ['exact.key'],
      '*': ['lazy', 'a', 'z', 'orange'], // '*' needs exactly one word; '' has none
      '#.#': keys,
      'a.#': ['a.b', 'a.x.y.b', 'a', 'a..b'],
    });
  });

  it('headers: x-match all / any / all-with-x / any-with-x and void values', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('headers');
    await ch.assertExchange(ex, 'headers', { autoDelete: true });
    const bindings: Record<string, Record<string, unknown>> = {
      all: { 'x-match': 'all', format: 'pdf', type: 'report' },
      any: { 'x-match': 'any', format: 'pdf', type: 'report' },
      defaultAll: { format: 'pdf', type: 'report' },
      allWithX: { 'x-match': 'all-with-x', 'x-tag': 'on', format: 'pdf' },
      anyWithX: { 'x-match': 'any-with-x', 'x-tag': 'on' },
      allIgnoresX: { 'x-match': 'all', 'x-tag': 'on', format: 'pdf' },
      anyIgnoresX: { 'x-match': 'any', 'x-tag': 'on' },
      voidPresent: { 'x-match': 'all', format: null },
      numeric: { 'x-match': 'all', n: 42 },
      empty: { 'x-match': 'all' },
    };
    const qs = await queues(ch, Object.keys(bindings));
    for (const [label, args] of Object.entries(bindings)) await ch.bindQueue(qs.get(label)!, ex, '', args);
    await publishAll(conn, ex, [
      ['', 'pdf-report', { format: 'pdf', type: 'report' }],
      ['', 'pdf-only', { format: 'pdf' }],
      ['', 'zip-report', { format: 'zip', type: 'report' }],
      ['', 'pdf-tag', { format: 'pdf', 'x-tag': 'on' }],
      ['', 'tag-only', { 'x-tag': 'on' }],
      ['', 'none', {}],
      ['', 'n42', { n: 42 }],
      ['', 'n43', { n: 43 }],
    ]);
    expect(await drain(ch, qs)).toEqual({
      all: ['pdf-report'],
      any: ['pdf-report', 'pdf-only', 'zip-report', 'pdf-tag'],
      defaultAll: ['pdf-report'],
      allWithX: ['pdf-tag'],
      anyWithX: ['pdf-tag', 'tag-only'],
      allIgnoresX: ['pdf-report', 'pdf-only', 'pdf-tag'], // plain all/any skip x- keys of the binding
      anyIgnoresX: [],
      voidPresent: ['pdf-report', 'pdf-only', 'zip-report', 'pdf-tag'],
      numeric: ['n42'],
      empty: ['pdf-report', 'pdf-only', 'zip-report', 'pdf-tag', 'tag-only', 'none', 'n42', 'n43'],
    });
  });

  it('headers: integers of different field types compare by value; a string never equals a number', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('hdr-types');
    await ch.assertExchange(ex, 'headers', { autoDelete: true });
    const qs = await queues(ch, ['byte42', 'int42']);
    await ch.bindQueue(qs.get('byte42')!, ex, '', { 'x-match': 'all', n: 42 }); // amqplib: 'b'
    await ch.bindQueue(qs.get('int42')!, ex, '', { 'x-match': 'all', n: { '!': 'int32', value: 42 } }); // 'I'
    await publishAll(conn, ex, [['', 'as-byte', { n: 42 }], ['', 'as-int', { n: { '!': 'int32', value: 42 } }],
      ['', 'as-long', { n: { '!': 'int64', value: 42 } }], ['', 'as-string', { n: '42' }]]);
    // @cloudamqp/amqp-client encodes small integers as 'I'.
    const client = await ctx.clients.cloudamqp();
    const cch = await client.channel();
    await cch.confirmSelect();
    await cch.basicPublish(ex, '', 'cloud-int', { headers: { n: 42 } });
    const all = ['as-byte', 'as-int', 'as-long', 'cloud-int'];
    expect(await drain(ch, qs)).toEqual({ byte42: all, int42: all });
  });

  it('headers: timestamps, decimals, arrays, tables, binaries and floats match by value', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('hdr-complex');
    await ch.assertExchange(ex, 'headers', { autoDelete: true });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const h = (arr: unknown[]): Record<string, unknown> => ({
      ts: { '!': 'timestamp', value: 1_700_000_000 },
      dec: { '!': 'decimal', value: { places: 2, digits: 1234 } },
      arr,
      tbl: { k: 'v', n: 1 },
      bin: Buffer.from([1, 2, 3]),
      flt: 2.5,
    });
    await ch.bindQueue(q, ex, '', { 'x-match': 'all', ...h([1, 'a', true]) });
    await publishAll(conn, ex, [['', 'same', h([1, 'a', true])], ['', 'other-array', h([1, 'b', true])],
      ['', 'other-float', { ...h([1, 'a', true]), flt: 2.25 }]]);
    expect(await drain(ch, new Map([['q', q]]))).toEqual({ q: ['same'] });
  });

  it('headers: a binding is identified by its arguments; two bindings still deliver one copy', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const a = ctx.name('a');
    await ch.bindQueue(q, 'amq.headers', '', { 'x-match': 'any', [a]: 1 });
    await ch.bindQueue(q, 'amq.headers', '', { 'x-match': 'any', [`${a}-b`]: 2 });
    await ch.unbindQueue(q, 'amq.headers', '', { 'x-match': 'any', [a]: 999 }); // no such binding: nothing removed
    await publishAll(conn, 'amq.headers', [['', 'both', { [a]: 1, [`${a}-b`]: 2 }]]);
    await ch.unbindQueue(q, 'amq.headers', '', { 'x-match': 'any', [a]: 1 });
    await publishAll(conn, 'amq.headers', [['', 'a-only', { [a]: 1 }], ['', 'b-only', { [`${a}-b`]: 2 }]]);
    expect(await drain(ch, new Map([['q', q]]))).toEqual({ q: ['both', 'b-only'] });
  });

  it('topic: # in the middle and *.# edge cases', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const p = ctx.name('t').replace(/\./g, '_');
    const qs = await queues(ch, ['hashes', 'starHash']);
    await ch.bindQueue(qs.get('hashes')!, 'amq.topic', `${p}.#.#.z`);
    await ch.bindQueue(qs.get('starHash')!, 'amq.topic', `${p}.*.#`);
    const keys = [p, `${p}.z`, `${p}.a.z`, `${p}.a.b.z`, `${p}.z.z`, `${p}.a`];
    await publishAll(conn, 'amq.topic', keys.map((k) => [k, k.slice(p.length) || '(root)'] as const));
    expect(await drain(ch, qs)).toEqual({
      hashes: ['.z', '.a.z', '.a.b.z', '.z.z'],
      starHash: ['.z', '.a.z', '.a.b.z', '.z.z', '.a'],
    });
  });

  it('headers: an invalid x-match value is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const err = await expectCode(ch.bindQueue(q, 'amq.headers', '', { 'x-match': 'foo' }), 406);
    expect(err.message).toContain('Invalid x-match field value');
  });

  it('@cloudamqp/amqp-client routes through a headers exchange too', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const ex = ctx.name('hdr-cloud');
    await ch.exchangeDeclare(ex, 'headers', { autoDelete: true });
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.queueBind(q.name, ex, '', { 'x-match': 'any', a: 1, b: 'two' });
    await ch.confirmSelect();
    await ch.basicPublish(ex, '', 'hit', { headers: { b: 'two' } });
    await ch.basicPublish(ex, '', 'miss', { headers: { b: 'three' } });
    const m1 = await ch.basicGet(q.name, { noAck: true });
    const m2 = await ch.basicGet(q.name, { noAck: true });
    expect(m1?.bodyToString()).toBe('hit');
    expect(m2).toBeNull();
  });
});

describe('default exchange and amq.*', () => {
  it('the default exchange routes by queue name', async () => {
    const ch = await ctx.clients.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    ch.publish('', q, Buffer.from('direct to queue'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    const m = await ch.get(q, { noAck: true });
    expect(m && m.content.toString()).toBe('direct to queue');
    expect(m && m.fields.exchange).toBe('');
    expect(m && m.fields.routingKey).toBe(q);
  });

  it.each(['amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match'])('%s exists', async (name) => {
    const ch = await ctx.clients.channel();
    await ch.checkExchange(name);
  });

  it('amq.* have their types and are durable (equivalent redeclare is allowed)', async () => {
    const ch = await ctx.clients.channel();
    for (const [name, type] of [['amq.direct', 'direct'], ['amq.fanout', 'fanout'], ['amq.topic', 'topic'],
      ['amq.headers', 'headers'], ['amq.match', 'headers']] as const) {
      await ch.assertExchange(name, type, { durable: true });
    }
  });

  it('amq.match behaves as a headers exchange', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const tag = ctx.name('tag');
    await ch.bindQueue(q, 'amq.match', '', { 'x-match': 'all', tag });
    await publishAll(conn, 'amq.match', [['', 'yes', { tag }], ['', 'no', { tag: 'other' }]]);
    expect(await drain(ch, new Map([['q', q]]))).toEqual({ q: ['yes'] });
  });

  it('binding to the default exchange is refused with 403', async () => {
    const ch = await ctx.clients.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const err = await expectCode(ch.bindQueue(q, '', q), 403);
    expect(err.message).toContain('operation not permitted on the default exchange');
  });

  it('declaring the default exchange (by "" or amq.default) is refused with 403', async () => {
    const conn = await ctx.clients.connect();
    const e1 = await expectCode((await ctx.clients.channel(conn)).assertExchange('', 'direct'), 403);
    expect(e1.message).toContain('ACCESS_REFUSED - operation not permitted on the default exchange');
    const e2 = await expectCode((await ctx.clients.channel(conn)).assertExchange('amq.default', 'direct'), 403);
    expect(e2.message).toContain("ACCESS_REFUSED - exchange name 'amq.default' contains reserved prefix 'amq.*'");
  });

  it('deleting the default exchange is refused with 403', async () => {
    const ch = await ctx.clients.channel();
    await expectCode(ch.deleteExchange(''), 403);
  });

  it('declaring an amq.-prefixed exchange is refused with 403', async () => {
    const ch = await ctx.clients.channel();
    const name = `amq.${ctx.name('x')}`;
    const err = await expectCode(ch.assertExchange(name, 'direct'), 403);
    expect(err.message).toContain(`ACCESS_REFUSED - exchange name '${name}' contains reserved prefix 'amq.*'`);
    expect(err.classId).toBe(40);
    expect(err.methodId).toBe(10);
  });

  it('deleting amq.direct is refused with 403', async () => {
    const ch = await ctx.clients.channel();
    await expectCode(ch.deleteExchange('amq.direct'), 403);
  });
});

describe('exchange.declare', () => {
  it('passive declare of a missing exchange gets 404 and closes only the channel', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const name = ctx.name('missing');
    const err = await expectCode(ch.checkExchange(name), 404);
    expect(err.message).toContain(`NOT_FOUND - no exchange '${name}' in vhost '/'`);
    await closedWith(ch);
    const ch2 = await ctx.clients.channel(conn);
    await ch2.checkExchange('amq.direct');
  });

  it('@cloudamqp/amqp-client passive declare succeeds for an existing exchange', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await ch.exchangeDeclare('amq.topic', 'topic', { passive: true });
  });

  it.each([
    ['type', { type: 'direct' }, { type: 'fanout' }, "inequivalent arg 'type' for exchange '%s' in vhost '/': received 'fanout' but current is 'direct'"],
    ['durable', { type: 'direct', durable: false }, { type: 'direct', durable: true }, "inequivalent arg 'durable' for exchange '%s' in vhost '/': received 'true' but current is 'false'"],
    ['auto_delete', { type: 'direct', autoDelete: true }, { type: 'direct', autoDelete: false }, "inequivalent arg 'auto_delete' for exchange '%s' in vhost '/': received 'false' but current is 'true'"],
    ['alternate-exchange', { type: 'direct', alternateExchange: 'ae1' }, { type: 'direct', alternateExchange: 'ae2' }, "inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '/'"],
  ] as const)('redeclare with a different %s gets 406', async (_label, first, second, text) => {
    const ch = await ctx.clients.channel();
    const name = ctx.name('equiv');
    const { type: t1, ...o1 } = first;
    const { type: t2, ...o2 } = second;
    await ch.assertExchange(name, t1, { durable: false, ...o1 });
    try {
      // an equivalent redeclare is fine
      await ch.assertExchange(name, t1, { durable: false, ...o1 });
      const err = await expectCode(ch.assertExchange(name, t2, { durable: false, ...o2 }), 406);
      expect(err.message).toContain(`PRECONDITION_FAILED - ${text.replace('%s', name)}`);
    } finally {
      const ch2 = await ctx.clients.channel();
      await ch2.deleteExchange(name);
    }
  });

  it('passive declare does not check equivalence', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await ch.exchangeDeclare('amq.direct', 'fanout', { passive: true });
  });

  it('an internal exchange cannot be published to directly (403) but routes exchange-to-exchange', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const front = ctx.name('front');
    const internal = ctx.name('internal');
    await ch.exchangeDeclare(front, 'fanout', { autoDelete: true });
    await ch.exchangeDeclare(internal, 'fanout', { internal: true, autoDelete: true });
    await ch.exchangeBind(internal, front, '');
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.queueBind(q.name, internal, '');
    await ch.confirmSelect();
    await ch.basicPublish(front, '', 'via front');
    expect((await ch.basicGet(q.name, { noAck: true }))?.bodyToString()).toBe('via front');
    await ch.basicPublish(internal, '', 'direct').catch(() => undefined);
    await waitFor(() => ch.closed);
    const amqplibCh = await ctx.clients.channel();
    amqplibCh.publish(internal, '', Buffer.from('x'));
    const err = await closedWith(amqplibCh);
    expect(err?.code).toBe(403);
    expect(err?.message).toContain(`cannot publish to internal exchange '${internal}' in vhost '/'`);
    const cleanup = await client.channel();
    await cleanup.exchangeDelete(internal);
    await cleanup.exchangeDelete(front);
  });

  it('an auto-delete exchange disappears when its last binding goes', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('autodel');
    await ch.assertExchange(ex, 'direct', { autoDelete: true });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, ex, 'a');
    await ch.bindQueue(q, ex, 'b');
    await ch.unbindQueue(q, ex, 'a');
    await ch.checkExchange(ex); // one binding left
    await ch.unbindQueue(q, ex, 'b');
    await expectCode(ch.checkExchange(ex), 404);
  });

  it('an auto-delete exchange goes when its bound queue is deleted', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('autodel-q');
    await ch.assertExchange(ex, 'fanout', { autoDelete: true });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, ex, '');
    await ch.deleteQueue(q);
    await expectCode(ch.checkExchange(ex), 404);
  });
});

describe('exchange.delete', () => {
  it('deletes, and a deleted exchange is gone', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('del');
    await ch.assertExchange(ex, 'topic');
    await ch.deleteExchange(ex);
    await expectCode(ch.checkExchange(ex), 404);
  });

  it('if-unused refuses an exchange with bindings (406) and deletes one without', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('ifunused');
    await ch.assertExchange(ex, 'direct');
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, ex, 'k');
    const err = await expectCode(ch.deleteExchange(ex, { ifUnused: true }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - exchange '${ex}' in vhost '/' in use`);
    const ch2 = await ctx.clients.channel(conn); // the queue is exclusive to this connection
    await ch2.unbindQueue(q, ex, 'k');
    await ch2.deleteExchange(ex, { ifUnused: true });
    await expectCode(ch2.checkExchange(ex), 404);
  });

  it('if-unused counts an exchange used as a source of an exchange binding', async () => {
    const ch = await ctx.clients.channel();
    const src = ctx.name('src');
    const dst = ctx.name('dst');
    await ch.assertExchange(src, 'fanout');
    await ch.assertExchange(dst, 'fanout');
    await ch.bindExchange(dst, src, '');
    await expectCode(ch.deleteExchange(src, { ifUnused: true }), 406);
    const ch2 = await ctx.clients.channel();
    await ch2.deleteExchange(src);
    await ch2.deleteExchange(dst);
  });

  it('if-unused ignores bindings where the exchange is only the destination', async () => {
    const ch = await ctx.clients.channel();
    const src = ctx.name('src2');
    const dst = ctx.name('dst2');
    await ch.assertExchange(src, 'fanout');
    await ch.assertExchange(dst, 'fanout');
    await ch.bindExchange(dst, src, '');
    await ch.deleteExchange(dst, { ifUnused: true });
    await expectCode(ch.checkExchange(dst), 404);
    const ch2 = await ctx.clients.channel();
    await ch2.deleteExchange(src);
  });

  it('deleting an exchange removes its bindings: a re-created exchange routes nowhere', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('rebind');
    await ch.assertExchange(ex, 'fanout');
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, ex, '');
    await ch.deleteExchange(ex);
    await ch.assertExchange(ex, 'fanout', { autoDelete: true });
    await publishAll(conn, ex, [['', 'lost']]);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    await ch.deleteExchange(ex);
  });

  it('deleting a missing exchange is not an error (RabbitMQ is idempotent here)', async () => {
    const ch = await ctx.clients.channel();
    await ch.deleteExchange(ctx.name('never-existed'));
    expect(isClosed(ch)).toBe(false);
  });
});

describe('exchange.bind / exchange.unbind', () => {
  it('routes through exchange-to-exchange bindings and stops after unbind', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const src = ctx.name('e2e-src');
    const dst = ctx.name('e2e-dst');
    await ch.assertExchange(src, 'topic');
    await ch.assertExchange(dst, 'direct');
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, dst, 'orders.new');
    await ch.bindExchange(dst, src, 'orders.*');
    await publishAll(conn, src, [['orders.new', 'yes'], ['orders.old', 'dst has no binding'], ['other', 'no']]);
    await ch.unbindExchange(dst, src, 'orders.*');
    await publishAll(conn, src, [['orders.new', 'after unbind']]);
    expect(await drain(ch, new Map([['q', q]]))).toEqual({ q: ['yes'] });
    await ch.deleteExchange(src);
    await ch.deleteExchange(dst);
  });

  it('a mandatory message whose exchange bindings lead to no queue is returned', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const src = ctx.name('dead-src');
    const dst = ctx.name('dead-dst');
    await ch.assertExchange(src, 'fanout');
    await ch.assertExchange(dst, 'fanout');
    await ch.bindExchange(dst, src, '');
    const returns: string[] = [];
    ch.on('return', (m: Message) => returns.push(m.content.toString()));
    ch.publish(src, '', Buffer.from('dead end'), { mandatory: true });
    await ch.waitForConfirms();
    expect(returns).toEqual(['dead end']);
    await ch.deleteExchange(src);
    await ch.deleteExchange(dst);
  });

  it('a cycle of exchange bindings delivers each message once per queue', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const a = ctx.name('cyc-a');
    const b = ctx.name('cyc-b');
    await ch.assertExchange(a, 'fanout');
    await ch.assertExchange(b, 'fanout');
    await ch.bindExchange(b, a, '');
    await ch.bindExchange(a, b, '');
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, a, '');
    await ch.bindQueue(q, b, '');
    await publishAll(conn, a, [['', 'once']]);
    expect(await drain(ch, new Map([['q', q]]))).toEqual({ q: ['once'] });
    await ch.deleteExchange(a);
    await ch.deleteExchange(b);
  });

  it('binding from a missing source exchange gets 404', async () => {
    const ch = await ctx.clients.channel();
    const missing = ctx.name('missing-src');
    const err = await expectCode(ch.bindExchange('amq.fanout', missing, ''), 404);
    expect(err.message).toContain(`NOT_FOUND - no exchange '${missing}' in vhost '/'`);
  });

  it('binding to a missing destination exchange gets 404', async () => {
    const ch = await ctx.clients.channel();
    await expectCode(ch.bindExchange(ctx.name('missing-dst'), 'amq.fanout', ''), 404);
  });

  it('@cloudamqp/amqp-client exchangeBind/exchangeUnbind', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const src = ctx.name('cl-src');
    const dst = ctx.name('cl-dst');
    await ch.exchangeDeclare(src, 'fanout');
    await ch.exchangeDeclare(dst, 'fanout');
    await ch.exchangeBind(dst, src, '');
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.queueBind(q.name, dst, '');
    await ch.confirmSelect();
    await ch.basicPublish(src, '', 'through');
    expect((await ch.basicGet(q.name, { noAck: true }))?.bodyToString()).toBe('through');
    await ch.exchangeUnbind(dst, src, '');
    await ch.basicPublish(src, '', 'dropped');
    expect(await ch.basicGet(q.name, { noAck: true })).toBeNull();
    await ch.exchangeDelete(src);
    await ch.exchangeDelete(dst);
  });
});

describe('alternate-exchange', () => {
  it('an exchange reached through an exchange binding uses its own alternate exchange', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const src = ctx.name('ae-src');
    const dst = ctx.name('ae-dst');
    const ae = ctx.name('ae-of-dst');
    await ch.assertExchange(ae, 'fanout');
    await ch.assertExchange(dst, 'direct', { alternateExchange: ae });
    await ch.assertExchange(src, 'fanout');
    await ch.bindExchange(dst, src, '');
    const qs = await queues(ch, ['dst', 'ae']);
    await ch.bindQueue(qs.get('dst')!, dst, 'hit');
    await ch.bindQueue(qs.get('ae')!, ae, '');
    const returns: string[] = [];
    ch.on('return', (m: Message) => returns.push(m.content.toString()));
    ch.publish(src, 'hit', Buffer.from('hit'), { mandatory: true });
    ch.publish(src, 'miss', Buffer.from('miss'), { mandatory: true });
    await ch.waitForConfirms();
    expect(await drain(ch, qs)).toEqual({ dst: ['hit'], ae: ['miss'] });
    expect(returns).toEqual([]);
    for (const e of [src, dst, ae]) await ch.deleteExchange(e);
  });

  it('alternate exchanges chain; a cycle of them ends in a return', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const a = ctx.name('ae-a');
    const b = ctx.name('ae-b');
    const c = ctx.name('ae-c');
    await ch.assertExchange(c, 'fanout');
    await ch.assertExchange(b, 'direct', { alternateExchange: c });
    await ch.assertExchange(a, 'direct', { alternateExchange: b });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, c, '');
    ch.publish(a, 'nobody', Buffer.from('chained'));
    const x = ctx.name('ae-x');
    const y = ctx.name('ae-y');
    await ch.assertExchange(x, 'direct', { alternateExchange: y });
    await ch.assertExchange(y, 'direct', { alternateExchange: x });
    const returns: string[] = [];
    ch.on('return', (m: Message) => returns.push(m.content.toString()));
    ch.publish(x, 'nobody', Buffer.from('loop'), { mandatory: true });
    await ch.waitForConfirms();
    expect(await drain(ch, new Map([['q', q]]))).toEqual({ q: ['chained'] });
    expect(returns).toEqual(['loop']);
    for (const e of [a, b, c, x, y]) await ch.deleteExchange(e);
  });


  it('unroutable messages go to the alternate exchange; routable ones do not', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ae = ctx.name('ae');
    const main = ctx.name('main');
    await ch.assertExchange(ae, 'fanout', { autoDelete: true });
    await ch.assertExchange(main, 'direct', { autoDelete: true, alternateExchange: ae });
    const qs = await queues(ch, ['main', 'ae']);
    await ch.bindQueue(qs.get('main')!, main, 'known');
    await ch.bindQueue(qs.get('ae')!, ae, '');
    await publishAll(conn, main, [['known', 'routed'], ['unknown', 'to-ae']]);
    expect(await drain(ch, qs)).toEqual({ main: ['routed'], ae: ['to-ae'] });
  });

  it('a mandatory message routed by the alternate exchange is not returned', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const ae = ctx.name('ae-m');
    const main = ctx.name('main-m');
    await ch.assertExchange(ae, 'fanout', { autoDelete: true });
    await ch.assertExchange(main, 'direct', { autoDelete: true, alternateExchange: ae });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, ae, '');
    const returns: string[] = [];
    ch.on('return', (m: { content: Buffer }) => returns.push(m.content.toString()));
    ch.publish(main, 'nobody', Buffer.from('caught'), { mandatory: true });
    await ch.waitForConfirms();
    expect(returns).toEqual([]);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
  });

  it('a missing alternate exchange drops the message (and returns it when mandatory)', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const main = ctx.name('main-noae');
    await ch.assertExchange(main, 'direct', { autoDelete: true, alternateExchange: ctx.name('absent-ae') });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, main, 'k'); // keeps the auto-delete exchange alive
    const returns: string[] = [];
    ch.on('return', (m: { content: Buffer }) => returns.push(m.content.toString()));
    ch.publish(main, 'nobody', Buffer.from('lost'), { mandatory: true });
    ch.publish(main, 'nobody', Buffer.from('silently lost'));
    await ch.waitForConfirms();
    expect(returns).toEqual(['lost']);
  });
});
