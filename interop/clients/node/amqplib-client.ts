/**
 * Interop scenario for Node amqplib (the npm package the project already depends on).
 * Usage: node --import tsx amqplib-client.ts scenario [URL] | publish URL EXChannelANGE | consume URL QUEUE...
 * Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
 * amqplib has no public tx.select API, so this client's trace has no "tx" step (see README).
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type GetMessage, type Message, type MessageProperties } from 'amqplib';
import {
  ScenarioKit, canonicalBody, canonicalProps, emit, messageJson, present, sleep, urlFromArgv, waitUntil,
  type Observed,
} from './scenario-kit.js';

const CLIENT = 'amqplib';
const kit = new ScenarioKit(CLIENT);

async function drain(ch: Channel, q: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(q, { noAck: true });
    if (m === false) return out;
    out.push(m.content.toString());
  }
}

function withQuery(url: string, query: string): string {
  return url + (url.includes('?') ? '&' : '?') + query;
}

/** amqplib reports a server close as: ... 404 (NOT-FOUND) with message "NOT_FOUND - ..." */
function closeReason(err: unknown): Observed {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  const m = /with message "(.*)"$/s.exec(message);
  return { reply_code: typeof code === 'number' ? code : -1, reply_text: kit.clean(m?.[1] ?? message) };
}

async function openChannel(conn: ChannelModel): Promise<Channel> {
  const ch = await conn.createChannel();
  ch.on('error', () => { /* server closes are observed through the rejected promise */ });
  return ch;
}

async function scenario(url: string): Promise<void> {
  const conn = await amqp.connect(url);
  let connOpen = true;
  conn.on('close', () => { connOpen = false; });
  conn.on('error', () => { connOpen = false; });
  const ch = await openChannel(conn);
  await kit.step('connect', async () => ({ ok: true }));

  await kit.step('exchanges', async () => {
    for (const t of ['direct', 'fanout', 'topic', 'headers']) await ch.assertExchange(kit.name(`x-${t}`), t, { durable: false });
    for (const q of ['q-direct', 'q-fanout', 'q-topic', 'q-headers-all', 'q-headers-any']) await ch.assertQueue(kit.name(q), { durable: false });
    await ch.bindQueue(kit.name('q-direct'), kit.name('x-direct'), 'k1');
    await ch.bindQueue(kit.name('q-fanout'), kit.name('x-fanout'), 'ignored');
    await ch.bindQueue(kit.name('q-topic'), kit.name('x-topic'), 'a.*.c');
    await ch.bindQueue(kit.name('q-topic'), kit.name('x-topic'), 'x.#');
    await ch.bindQueue(kit.name('q-headers-all'), kit.name('x-headers'), '', { 'x-match': 'all', color: 'red', size: 'big' });
    await ch.bindQueue(kit.name('q-headers-any'), kit.name('x-headers'), '', { 'x-match': 'any', color: 'red', size: 'big' });
    for (const k of ['k1', 'k2']) ch.publish(kit.name('x-direct'), k, Buffer.from(k));
    ch.publish(kit.name('x-fanout'), 'x', Buffer.from('f1'));
    ch.publish(kit.name('x-fanout'), '', Buffer.from('f2'));
    for (const k of ['a.b.c', 'a.b', 'x', 'x.y.z', 'a.b.c.d']) ch.publish(kit.name('x-topic'), k, Buffer.from(k));
    const hs: [string, Record<string, string>][] = [['h-all', { color: 'red', size: 'big' }], ['h-one', { color: 'red' }], ['h-none', { color: 'blue' }]];
    for (const [b, h] of hs) ch.publish(kit.name('x-headers'), '', Buffer.from(b), { headers: h });
    return {
      direct: await drain(ch, kit.name('q-direct')),
      fanout: await drain(ch, kit.name('q-fanout')),
      topic: await drain(ch, kit.name('q-topic')),
      headers_all: await drain(ch, kit.name('q-headers-all')),
      headers_any: await drain(ch, kit.name('q-headers-any')),
    };
  });

  await kit.step('confirms', async () => {
    const c = await conn.createConfirmChannel();
    const returns: Observed[] = [];
    c.on('return', (m: Message) => {
      // basic.return carries reply-code/text, which amqplib's MessageFields type does not declare.
      const f = m.fields as Message['fields'] & { replyCode?: number; replyText?: string };
      returns.push({ reply_code: f.replyCode ?? -1, reply_text: f.replyText ?? '', exchange: m.fields.exchange,
        routing_key: kit.clean(m.fields.routingKey), body: m.content.toString() });
    });
    await c.assertQueue(kit.name('q-confirm'), { durable: false });
    let acks = 0;
    let nacks = 0;
    const settle = (err: unknown): void => { if (err) nacks++; else acks++; };
    c.publish('', kit.name('q-confirm'), Buffer.from('routable'), { mandatory: true }, settle);
    c.publish('', kit.name('missing'), Buffer.from('unroutable'), { mandatory: true }, settle);
    await c.waitForConfirms();
    await c.close();
    return { acks, nacks, returns, queued: await drain(ch, kit.name('q-confirm')) };
  });

  await kit.step('prefetch', async () => {
    const q = kit.name('q-prefetch');
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`p${i}`));
    const c = await openChannel(conn);
    await c.prefetch(2);
    const got: ConsumeMessage[] = [];
    const held: ConsumeMessage[] = [];
    const { consumerTag } = await c.consume(q, (m) => { if (m) { got.push(m); held.push(m); } }, { noAck: false });
    if (!(await waitUntil(() => got.length >= 2))) throw new Error('timed out');
    await sleep(300); // give the broker a chance to over-deliver
    const inFlight = got.length;
    const deadline = Date.now() + 5000;
    while (got.length < 5 && Date.now() < deadline) {
      for (const m of held.splice(0)) c.ack(m);
      await sleep(10);
    }
    for (const m of held.splice(0)) c.ack(m);
    await c.cancel(consumerTag);
    await c.close();
    return { bodies: got.map((m) => m.content.toString()), redelivered: got.map((m) => m.fields.redelivered), in_flight_before_ack: inFlight };
  });

  await kit.step('nack_requeue', async () => {
    const q = kit.name('q-nack');
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('n0'));
    const m1 = await ch.get(q, { noAck: false });
    if (m1 === false) throw new Error('no message');
    ch.nack(m1, false, true);
    const m2 = await ch.get(q, { noAck: false });
    if (m2 === false) throw new Error('no requeued message');
    ch.reject(m2, false);
    const m3 = await ch.get(q, { noAck: false });
    return {
      first: { body: m1.content.toString(), redelivered: m1.fields.redelivered },
      second: { body: m2.content.toString(), redelivered: m2.fields.redelivered },
      after_reject_empty: m3 === false,
    };
  });

  await kit.step('basic_get', async () => {
    const q = kit.name('q-get');
    await ch.assertQueue(q, { durable: false });
    const m0 = await ch.get(q);
    ch.sendToQueue(q, Buffer.from('g0'));
    ch.sendToQueue(q, Buffer.from('g1'));
    const out: Observed = { empty_first: m0 === false };
    for (const k of ['first', 'second']) {
      const m: GetMessage | false = await ch.get(q, { noAck: false });
      if (m === false) throw new Error('no message');
      ch.ack(m);
      out[k] = { body: m.content.toString(), message_count: m.fields.messageCount, redelivered: m.fields.redelivered };
    }
    out['empty_after'] = (await ch.get(q)) === false;
    return out;
  });

  await kit.step('rpc', async () => {
    const q = kit.name('q-rpc');
    const server = await openChannel(conn);
    await server.assertQueue(q, { durable: false });
    await server.consume(q, (m) => {
      if (!m) return;
      server.sendToQueue(m.properties.replyTo as string, Buffer.concat([Buffer.from('pong:'), m.content]), { correlationId: m.properties.correlationId as string });
      server.ack(m);
    });
    const client = await openChannel(conn);
    const { queue: replyQ } = await client.assertQueue('', { exclusive: true });
    const replies: ConsumeMessage[] = [];
    await client.consume(replyQ, (m) => { if (m) replies.push(m); }, { noAck: true });
    client.sendToQueue(q, Buffer.from('ping'), { replyTo: replyQ, correlationId: 'corr-1' });
    if (!(await waitUntil(() => replies.length > 0))) throw new Error('no rpc reply');
    await server.close();
    await client.close();
    const r = replies[0] as ConsumeMessage;
    return { reply: r.content.toString(), correlation_id: r.properties.correlationId as string };
  });

  await kit.step('heartbeat', async () => {
    const hb = await amqp.connect(withQuery(url, 'heartbeat=1'));
    let closed = false;
    hb.on('close', () => { closed = true; });
    hb.on('error', () => { closed = true; });
    await sleep(3500); // idle; amqplib's heartbeater keeps the connection alive
    const c = await hb.createChannel();
    const { queue } = await c.assertQueue('', { exclusive: true });
    c.sendToQueue(queue, Buffer.from('alive'));
    const m = await c.get(queue, { noAck: true });
    const alive = !closed && m !== false && m.content.toString() === 'alive';
    await hb.close();
    return { alive };
  });

  await kit.step('error_404', async () => {
    const c = await openChannel(conn);
    try {
      await c.checkQueue(kit.name('missing'));
      return { raised: false };
    } catch (err: unknown) {
      await sleep(50);
      return { ...closeReason(err), connection_open: connOpen };
    }
  });

  await kit.step('error_406', async () => {
    const c = await openChannel(conn);
    await c.assertQueue(kit.name('q-406'), { durable: false });
    try {
      await c.assertQueue(kit.name('q-406'), { durable: true });
      return { raised: false };
    } catch (err: unknown) {
      await sleep(50);
      return { ...closeReason(err), connection_open: connOpen };
    }
  });

  await kit.step('cleanup', async () => {
    const c = await openChannel(conn);
    for (const [sym, real] of kit.declared()) {
      if (sym.startsWith('x-')) await c.deleteExchange(real);
      else if (sym.startsWith('q-')) await c.deleteQueue(real);
    }
    await conn.close();
    return { ok: true };
  });
  kit.finish();
}

function propsJson(p: MessageProperties): Observed {
  const ts: unknown = p.timestamp;
  return present({
    content_type: p.contentType as string | undefined, content_encoding: p.contentEncoding as string | undefined,
    delivery_mode: p.deliveryMode as number | undefined, priority: p.priority as number | undefined,
    correlation_id: p.correlationId as string | undefined, reply_to: p.replyTo as string | undefined,
    expiration: p.expiration as string | undefined, message_id: p.messageId as string | undefined,
    timestamp: typeof ts === 'number' ? ts : undefined, type: p.type as string | undefined,
    user_id: p.userId as string | undefined, app_id: p.appId as string | undefined,
  });
}

/** Every field-table type amqplib can send (its typed {'!': type, value} notation for the exotic ones). */
function canonicalHeaders(): Record<string, unknown> {
  return {
    str: 'héllo wörld', int: 42, neg: -7, big: 1099511627776, bool_t: true, bool_f: false,
    double: 1.5, float: { '!': 'float', value: 2.5 }, i8: { '!': 'int8', value: -8 }, i16: { '!': 'int16', value: -300 },
    dec: { '!': 'decimal', value: { places: 2, digits: 12345 } }, ts: { '!': 'timestamp', value: 1700000000 },
    bytes: Buffer.from([0x00, 0xff, 0x10]), void: null, table: { k: 'v', n: 1 }, array: ['a', 1, true],
  };
}

async function publish(url: string, exchange: string): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const p = canonicalProps(CLIENT);
  const body = canonicalBody(CLIENT);
  const headers = canonicalHeaders();
  ch.publish(exchange, 'interop', body, {
    contentType: p.content_type, contentEncoding: p.content_encoding, deliveryMode: p.delivery_mode, priority: p.priority,
    correlationId: p.correlation_id, replyTo: p.reply_to, expiration: p.expiration, messageId: p.message_id,
    timestamp: p.timestamp, type: p.type, userId: p.user_id, appId: p.app_id, headers,
  });
  await ch.waitForConfirms();
  await conn.close();
  emit({ sent: messageJson(body, { ...p }, headers) });
}

async function consume(url: string, queues: string[]): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  for (const queue of queues) await consumeOne(ch, queue);
  await conn.close();
}

async function consumeOne(ch: Channel, queue: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = await ch.get(queue, { noAck: false });
    if (m !== false) {
      ch.ack(m);
      emit({ queue, received: messageJson(m.content, propsJson(m.properties), m.properties.headers ?? {}) });
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
  : Promise.reject(new Error('usage: amqplib-client.ts scenario [URL] | publish URL EXChannelANGE | consume URL QUEUE...'));
run.catch((err: unknown) => {
  emit({ error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
