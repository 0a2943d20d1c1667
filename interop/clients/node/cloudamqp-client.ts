/**
 * Interop scenario for Node @cloudamqp/amqp-client (the npm package the project already depends on).
 * Usage: node --import tsx cloudamqp-client.ts scenario [URL] | publish URL EXAMQPChannelANGE | consume URL QUEUE...
 * Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
 */
import { AMQPClient, type AMQPBaseClient, type AMQPChannel, type AMQPMessage, type AMQPProperties, type Field } from '@cloudamqp/amqp-client';
import {
  ScenarioKit, canonicalBody, canonicalProps, emit, messageJson, present, sleep, urlFromArgv, waitUntil,
  type Observed,
} from './scenario-kit.js';

const CLIENT = 'cloudamqp';
const kit = new ScenarioKit(CLIENT);

function text(m: AMQPMessage): string {
  return m.bodyToString() ?? '';
}

async function drain(ch: AMQPChannel, q: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.basicGet(q, { noAck: true });
    if (m === null) return out;
    out.push(text(m));
  }
}

function withQuery(url: string, query: string): string {
  return url + (url.includes('?') ? '&' : '?') + query;
}

async function connect(url: string): Promise<AMQPBaseClient> {
  return new AMQPClient(url, undefined, null).connect();
}

/** The client reports a server channel.close as "channel N closed: <reply text> (<code>)". */
function closeReason(err: unknown, conn: AMQPBaseClient): Observed {
  const message = err instanceof Error ? err.message : String(err);
  const m = /closed: (.*) \((\d+)\)$/s.exec(message);
  return { reply_code: m ? Number(m[2]) : -1, reply_text: kit.clean(m?.[1] ?? message), connection_open: !conn.closed };
}

async function scenario(url: string): Promise<void> {
  const conn = await connect(url);
  const ch = await conn.channel();
  await kit.step('connect', async () => ({ ok: !conn.closed }));

  await kit.step('exchanges', async () => {
    for (const t of ['direct', 'fanout', 'topic', 'headers'] as const) await ch.exchangeDeclare(kit.name(`x-${t}`), t);
    for (const q of ['q-direct', 'q-fanout', 'q-topic', 'q-headers-all', 'q-headers-any']) await ch.queueDeclare(kit.name(q));
    await ch.queueBind(kit.name('q-direct'), kit.name('x-direct'), 'k1');
    await ch.queueBind(kit.name('q-fanout'), kit.name('x-fanout'), 'ignored');
    await ch.queueBind(kit.name('q-topic'), kit.name('x-topic'), 'a.*.c');
    await ch.queueBind(kit.name('q-topic'), kit.name('x-topic'), 'x.#');
    await ch.queueBind(kit.name('q-headers-all'), kit.name('x-headers'), '', { 'x-match': 'all', color: 'red', size: 'big' });
    await ch.queueBind(kit.name('q-headers-any'), kit.name('x-headers'), '', { 'x-match': 'any', color: 'red', size: 'big' });
    for (const k of ['k1', 'k2']) await ch.basicPublish(kit.name('x-direct'), k, k);
    await ch.basicPublish(kit.name('x-fanout'), 'x', 'f1');
    await ch.basicPublish(kit.name('x-fanout'), '', 'f2');
    for (const k of ['a.b.c', 'a.b', 'x', 'x.y.z', 'a.b.c.d']) await ch.basicPublish(kit.name('x-topic'), k, k);
    const hs: [string, Record<string, string>][] = [['h-all', { color: 'red', size: 'big' }], ['h-one', { color: 'red' }], ['h-none', { color: 'blue' }]];
    for (const [b, h] of hs) await ch.basicPublish(kit.name('x-headers'), '', b, { headers: h });
    return {
      direct: await drain(ch, kit.name('q-direct')),
      fanout: await drain(ch, kit.name('q-fanout')),
      topic: await drain(ch, kit.name('q-topic')),
      headers_all: await drain(ch, kit.name('q-headers-all')),
      headers_any: await drain(ch, kit.name('q-headers-any')),
    };
  });

  await kit.step('confirms', async () => {
    const c = await conn.channel();
    const returns: Observed[] = [];
    c.onReturn = (m: AMQPMessage): void => {
      returns.push({ reply_code: m.replyCode ?? -1, reply_text: m.replyText ?? '', exchange: m.exchange,
        routing_key: kit.clean(m.routingKey), body: text(m) });
    };
    await c.confirmSelect();
    await c.queueDeclare(kit.name('q-confirm'));
    let acks = 0;
    let nacks = 0;
    const settle = (p: Promise<number>): Promise<void> => p.then(() => { acks++; }, () => { nacks++; });
    await Promise.all([
      settle(c.basicPublish('', kit.name('q-confirm'), 'routable', {}, true)),
      settle(c.basicPublish('', kit.name('missing'), 'unroutable', {}, true)),
    ]);
    await c.close();
    return { acks, nacks, returns, queued: await drain(ch, kit.name('q-confirm')) };
  });

  await kit.step('prefetch', async () => {
    const q = kit.name('q-prefetch');
    await ch.queueDeclare(q);
    for (let i = 0; i < 5; i++) await ch.basicPublish('', q, `p${i}`);
    const c = await conn.channel();
    await c.basicQos(2);
    const got: AMQPMessage[] = [];
    const held: AMQPMessage[] = [];
    const consumer = await c.basicConsume(q, { noAck: false }, (m) => { got.push(m); held.push(m); });
    if (!(await waitUntil(() => got.length >= 2))) throw new Error('timed out');
    await sleep(300); // give the broker a chance to over-deliver
    const inFlight = got.length;
    const deadline = Date.now() + 5000;
    while (got.length < 5 && Date.now() < deadline) {
      for (const m of held.splice(0)) await m.ack();
      await sleep(10);
    }
    for (const m of held.splice(0)) await m.ack();
    await consumer.cancel();
    await c.close();
    return { bodies: got.map(text), redelivered: got.map((m) => m.redelivered), in_flight_before_ack: inFlight };
  });

  await kit.step('nack_requeue', async () => {
    const q = kit.name('q-nack');
    await ch.queueDeclare(q);
    await ch.basicPublish('', q, 'n0');
    const m1 = await ch.basicGet(q, { noAck: false });
    if (m1 === null) throw new Error('no message');
    await m1.nack(true);
    const m2 = await ch.basicGet(q, { noAck: false });
    if (m2 === null) throw new Error('no requeued message');
    await m2.reject(false);
    const m3 = await ch.basicGet(q, { noAck: false });
    return {
      first: { body: text(m1), redelivered: m1.redelivered },
      second: { body: text(m2), redelivered: m2.redelivered },
      after_reject_empty: m3 === null,
    };
  });

  await kit.step('basic_get', async () => {
    const q = kit.name('q-get');
    await ch.queueDeclare(q);
    const m0 = await ch.basicGet(q, { noAck: false });
    await ch.basicPublish('', q, 'g0');
    await ch.basicPublish('', q, 'g1');
    const out: Observed = { empty_first: m0 === null };
    for (const k of ['first', 'second']) {
      const m = await ch.basicGet(q, { noAck: false });
      if (m === null) throw new Error('no message');
      await m.ack();
      out[k] = { body: text(m), message_count: m.messageCount ?? -1, redelivered: m.redelivered };
    }
    out['empty_after'] = (await ch.basicGet(q, { noAck: false })) === null;
    return out;
  });

  await kit.step('rpc', async () => {
    const q = kit.name('q-rpc');
    const server = await conn.channel();
    await server.queueDeclare(q);
    await server.basicConsume(q, { noAck: false }, async (m) => {
      const props: AMQPProperties = {};
      if (m.properties.correlationId !== undefined) props.correlationId = m.properties.correlationId;
      await server.basicPublish('', m.properties.replyTo ?? '', `pong:${text(m)}`, props);
      await m.ack();
    });
    const client = await conn.channel();
    const { name: replyQ } = await client.queueDeclare('', { exclusive: true });
    const replies: AMQPMessage[] = [];
    await client.basicConsume(replyQ, { noAck: true }, (m) => { replies.push(m); });
    await client.basicPublish('', q, 'ping', { replyTo: replyQ, correlationId: 'corr-1' });
    if (!(await waitUntil(() => replies.length > 0))) throw new Error('no rpc reply');
    await server.close();
    await client.close();
    const r = replies[0] as AMQPMessage;
    return { reply: text(r), correlation_id: r.properties.correlationId ?? '' };
  });

  await kit.step('tx', async () => {
    const q = kit.name('q-tx');
    await ch.queueDeclare(q);
    const t = await conn.channel();
    await t.txSelect();
    await t.basicPublish('', q, 'tx-rollback');
    await t.txRollback();
    const afterRollback = (await ch.queueDeclare(q, { passive: true })).messageCount;
    await t.basicPublish('', q, 'tx-commit');
    await t.txCommit();
    const afterCommit = (await ch.queueDeclare(q, { passive: true })).messageCount;
    await t.close();
    return { after_rollback: afterRollback, after_commit: afterCommit, bodies: await drain(ch, q) };
  });

  await kit.step('heartbeat', async () => {
    const hb = await connect(withQuery(url, 'heartbeat=1'));
    await sleep(3500); // idle; the client's heartbeat timer keeps the connection alive
    const c = await hb.channel();
    const { name } = await c.queueDeclare('', { exclusive: true });
    await c.basicPublish('', name, 'alive');
    const m = await c.basicGet(name, { noAck: true });
    const alive = !hb.closed && m !== null && text(m) === 'alive';
    await hb.close();
    return { alive };
  });

  await kit.step('error_404', async () => {
    const c = await conn.channel();
    try {
      await c.queueDeclare(kit.name('missing'), { passive: true });
      return { raised: false };
    } catch (err: unknown) {
      return closeReason(err, conn);
    }
  });

  await kit.step('error_406', async () => {
    const c = await conn.channel();
    await c.queueDeclare(kit.name('q-406'), { durable: false });
    try {
      await c.queueDeclare(kit.name('q-406'), { durable: true });
      return { raised: false };
    } catch (err: unknown) {
      return closeReason(err, conn);
    }
  });

  await kit.step('cleanup', async () => {
    const c = await conn.channel();
    for (const [sym, real] of kit.declared()) {
      if (sym.startsWith('x-')) await c.exchangeDelete(real);
      else if (sym.startsWith('q-')) await c.queueDelete(real);
    }
    await conn.close();
    return { ok: true };
  });
  kit.finish();
}

function propsJson(p: AMQPProperties): Observed {
  return present({
    content_type: p.contentType, content_encoding: p.contentEncoding, delivery_mode: p.deliveryMode, priority: p.priority,
    correlation_id: p.correlationId, reply_to: p.replyTo, expiration: p.expiration, message_id: p.messageId,
    timestamp: p.timestamp ? Math.floor(p.timestamp.getTime() / 1000) : undefined, type: p.type, user_id: p.userId, app_id: p.appId,
  });
}

/** Every field-table type this client can send from JS values (it has no decimal encoder; 1.5 goes out as float32). */
function canonicalHeaders(): Record<string, Field> {
  return {
    str: 'héllo wörld', int: 42, neg: -7, big: 1099511627776, bigint: 1099511627777n, bool_t: true, bool_f: false,
    float: 1.5, ts: new Date(1700000000 * 1000), bytes: new Uint8Array([0x00, 0xff, 0x10]), void: null,
    table: { k: 'v', n: 1 }, array: ['a', 1, true],
  };
}

async function publish(url: string, exchange: string): Promise<void> {
  const conn = await connect(url);
  const ch = await conn.channel();
  await ch.confirmSelect();
  const p = canonicalProps(CLIENT);
  const body = canonicalBody(CLIENT);
  const headers = canonicalHeaders();
  await ch.basicPublish(exchange, 'interop', new Uint8Array(body), {
    contentType: p.content_type, contentEncoding: p.content_encoding, deliveryMode: p.delivery_mode, priority: p.priority,
    correlationId: p.correlation_id, replyTo: p.reply_to, expiration: p.expiration, messageId: p.message_id,
    timestamp: new Date(p.timestamp * 1000), type: p.type, userId: p.user_id, appId: p.app_id, headers,
  });
  await conn.close();
  emit({ sent: messageJson(body, { ...p }, headers) });
}

async function consume(url: string, queues: string[]): Promise<void> {
  const conn = await connect(url);
  const ch = await conn.channel();
  for (const queue of queues) await consumeOne(ch, queue);
  await conn.close();
}

async function consumeOne(ch: AMQPChannel, queue: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = await ch.basicGet(queue, { noAck: false });
    if (m !== null) {
      await m.ack();
      const body = m.body instanceof Uint8Array ? m.body : new Uint8Array();
      emit({ queue, received: messageJson(body, propsJson(m.properties), m.properties.headers ?? {}) });
      return;
    }
    if (Date.now() > deadline) {
      emit({ queue, error: `no message in ${queue}` });
      return;
    }
    await sleep(50);
  }
}

const mode = process.argv[2] ?? 'scenario';
const run = mode === 'scenario' ? scenario(urlFromArgv(3))
  : mode === 'publish' ? publish(urlFromArgv(3), process.argv[4] ?? '')
  : mode === 'consume' ? consume(urlFromArgv(3), process.argv.slice(4))
  : Promise.reject(new Error('usage: cloudamqp-client.ts scenario [URL] | publish URL EXAMQPChannelANGE | consume URL QUEUE...'));
run.catch((err: unknown) => {
  emit({ error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
