/**
 * Differential scenarios about channels and connections: channel.flow, frames on channels that
 * are not open, reopening an open channel, a channel error leaving siblings alone, a connection
 * error closing everything, and operations on channels after close.
 */
import { credentials } from 'amqplib';
import { defs, methodId, rpc, sendRawBytes, sendRawMethod } from '../amqp-internals.js';
import { scenario, type Scenario } from '../scenario.js';
import { counts, declareQueue, drain, open, publishConfirmed } from './helpers.js';

/** A frame header + payload + frame-end, for malformed-input scenarios. */
function frame(type: number, channel: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}

export const channelScenarios: Scenario[] = [
  scenario('channel-flow', 'channel.flow active=true is acknowledged; active=false (RabbitMQ: not implemented)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    await ctx.attempt('channel.flow active=true', () => rpc(ch, 'ChannelFlow', { active: true }, 'ChannelFlowOk'), (ok) => ok);
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('channel.flow active=false', () => rpc(ch2, 'ChannelFlow', { active: false }, 'ChannelFlowOk'), (ok) => ok);
  }),

  scenario('channel-error-isolated', 'a channel error closes only that channel; siblings and their consumers keep working', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const c = await ctx.consume(ch, q, { label: 'c', noAck: true });
    const bad = await ctx.channel(conn);
    await ctx.attempt('error on sibling', () => bad.checkQueue(ctx.name('missing')), () => 'ok');
    await publishConfirmed(ctx, conn, '', q, ['after sibling error']);
    await ctx.waitDeliveries(c, 1);
    await ctx.attempt('use closed channel', async () => bad.checkQueue(q), () => 'ok');
    await counts(ctx, ch, q);
  }),

  scenario('channel-unopened-frame', 'a method on a channel that was never opened closes the connection (504 CHANNEL_ERROR)', async (ctx) => {
    const { conn } = await open(ctx);
    sendRawMethod(conn, 7, 'QueueDeclare', { ticket: 0, queue: ctx.name('q'), passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('channel-open-twice', 'channel.open on an already open channel closes the connection', async (ctx) => {
    const { conn } = await open(ctx);
    sendRawMethod(conn, 1, 'ChannelOpen', { outOfBand: '' });
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('channel-content-without-method', 'a content header with no preceding basic.publish is a connection error (505 UNEXPECTED_FRAME)', async (ctx) => {
    const { conn } = await open(ctx);
    const props = Buffer.alloc(14);
    props.writeUInt16BE(60, 0); // class basic
    props.writeUInt16BE(0, 2); // weight
    props.writeUInt32BE(0, 4); // body size hi
    props.writeUInt32BE(5, 8); // body size lo
    props.writeUInt16BE(0, 12); // no property flags
    sendRawBytes(conn, frame(2, 1, props));
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('channel-unknown-method', 'an unknown class/method id closes the connection', async (ctx) => {
    const { conn } = await open(ctx);
    const payload = Buffer.alloc(4);
    payload.writeUInt16BE(60, 0);
    payload.writeUInt16BE(999, 2);
    sendRawBytes(conn, frame(1, 1, payload));
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('channel-method-on-channel-zero', 'a channel-class method on channel 0 closes the connection', async (ctx) => {
    const { conn } = await open(ctx);
    const encoded = defs.encodeMethod(methodId('BasicQos'), 0, { prefetchSize: 0, prefetchCount: 1, global: false });
    sendRawBytes(conn, encoded);
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('channel-bad-frame-end', 'a frame with a wrong frame-end octet closes the connection (501 FRAME_ERROR)', async (ctx) => {
    const { conn } = await open(ctx);
    const good = defs.encodeMethod(methodId('BasicQos'), 1, { prefetchSize: 0, prefetchCount: 1, global: false });
    const bad = Buffer.from(good);
    bad[bad.length - 1] = 0x00;
    sendRawBytes(conn, bad);
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('channel-close-unacked-other-consumer', 'closing a consumer channel hands its unacked messages to a consumer on another channel', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ch.prefetch(2);
    const first = await ctx.consume(ch, q, { label: 'first' });
    await publishConfirmed(ctx, conn, '', q, ['m1', 'm2', 'm3', 'm4']);
    await ctx.waitDeliveries(first, 2);
    const other = await ctx.channel(conn);
    await other.prefetch(10);
    const second = await ctx.consume(other, q, { label: 'second', noAck: true });
    await ctx.waitDeliveries(second, 2);
    await ch.close();
    await ctx.waitDeliveries(second, 4);
  }),

  scenario('connection-close-with-consumers', 'closing a connection with exclusive/auto-delete queues and consumers cleans up server side', async (ctx) => {
    const a = await open(ctx);
    const q = await declareQueue(ctx, a.ch, 'q', { autoDelete: true });
    const excl = await declareQueue(ctx, a.ch, 'excl', { exclusive: true });
    await a.ch.consume(q, () => {});
    await a.ch.consume(excl, () => {});
    await ctx.closeConnection(a.conn);
    await ctx.waitQueueGone(q);
    await ctx.waitQueueGone(excl);
    const b = await open(ctx);
    await ctx.attempt('auto-delete queue after owner connection closed', () => b.ch.checkQueue(q), () => 'ok');
  }),

  scenario('connection-channel-max', 'opening a channel above the negotiated channel_max is a connection error', async (ctx) => {
    const u = new URL(ctx.url);
    u.searchParams.set('channelMax', '3');
    const conn = await ctx.connectUrl(u.toString());
    const channels = [await ctx.channel(conn), await ctx.channel(conn), await ctx.channel(conn)];
    for (const [i, ch] of channels.entries()) await ctx.attempt(`channel ${i + 1} works`, () => ch.checkExchange('amq.direct'), () => 'ok');
    // amqplib refuses to allocate a fourth channel itself, so the open goes out raw.
    sendRawMethod(conn, 4, 'ChannelOpen', { outOfBand: '' });
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('connection-frame-too-large', 'a frame larger than the negotiated frame_max is a connection error (501 FRAME_ERROR)', async (ctx) => {
    const conn = await ctx.connect({ frameMax: 4096 });
    const ch = await ctx.channel(conn);
    await ch.checkExchange('amq.direct');
    const publish = defs.encodeMethod(methodId('BasicPublish'), 1, { ticket: 0, exchange: 'amq.direct', routingKey: 'k', mandatory: false, immediate: false });
    const header = Buffer.alloc(14);
    header.writeUInt16BE(60, 0);
    header.writeUInt32BE(0, 4);
    header.writeUInt32BE(5000, 8);
    sendRawBytes(conn, Buffer.concat([publish, frame(2, 1, header), frame(3, 1, Buffer.alloc(5000, 1))]));
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('connection-tune-and-capabilities', "the server's tune proposal (frame_max, channel_max, heartbeat) and its capabilities table", async (ctx) => {
    // frameMax=0 / channelMax=0 / no heartbeat preference make amqplib adopt the server's values.
    const u = new URL(ctx.url);
    u.searchParams.set('frameMax', '0');
    u.searchParams.set('channelMax', '0');
    const conn = await ctx.connectUrl(u.toString());
    const raw = conn.connection as unknown as { frameMax: number; channelMax: number; heartbeat: number; serverProperties: Record<string, unknown> };
    ctx.record('tune', { frameMax: raw.frameMax, channelMax: raw.channelMax, heartbeat: raw.heartbeat });
    const props = raw.serverProperties;
    ctx.record('server-properties keys', Object.keys(props).sort());
    ctx.record('capabilities', props['capabilities']);
    await ctx.closeConnection(conn);
  }),

  scenario('channel-malformed-frames', 'malformed frame sequences each close the connection with the code RabbitMQ uses', async (ctx) => {
    const setup = await open(ctx);
    const q = await declareQueue(ctx, setup.ch, 'q');
    const publish = (ch: number) => defs.encodeMethod(methodId('BasicPublish'), ch, { ticket: 0, exchange: '', routingKey: q, mandatory: false, immediate: false });
    const header = (size: number) => {
      const h = Buffer.alloc(14);
      h.writeUInt16BE(60, 0);
      h.writeUInt32BE(size, 8);
      return h;
    };
    const cases: Array<[string, Buffer]> = [
      ['body longer than announced', Buffer.concat([publish(1), frame(2, 1, header(5)), frame(3, 1, Buffer.alloc(10, 1))])],
      ['body frame without header', Buffer.concat([publish(1), frame(3, 1, Buffer.alloc(5, 1))])],
      ['method instead of body', Buffer.concat([publish(1), frame(2, 1, header(5)), publish(1)])],
      ['heartbeat on channel 1', frame(8, 1, Buffer.alloc(0))],
      ['unknown frame type 9', frame(9, 1, Buffer.alloc(4))],
      ['header with wrong class id', Buffer.concat([publish(1), frame(2, 1, Buffer.from(header(5)).fill(0, 0, 2).fill(50, 1, 2))])],
      ['truncated method payload', frame(1, 1, Buffer.from([0, 60, 0, 40, 0]))],
    ];
    for (const [label, bytes] of cases) {
      const conn = await ctx.connect();
      const ch = await ctx.channel(conn);
      await ch.checkExchange('amq.direct');
      ctx.record('send', label);
      sendRawBytes(conn, bytes);
      // An RPC behind the bad bytes shows whether the broker closed or carried on.
      const probe = await ctx.channel(conn).catch(() => undefined);
      if (probe !== undefined) await ctx.attempt(`rpc after '${label}'`, () => probe.checkExchange('amq.direct'), () => 'ok');
      await ctx.closeConnection(conn);
    }
    // What became of the message whose body overran its header (RabbitMQ 3.10 accepts it).
    await drain(ctx, setup.ch, q);
  }),

  scenario('connection-auth-and-vhost', 'refused logins (403, with authentication_failure_close) and unknown vhosts (530); AMQPLAIN works', async (ctx) => {
    const variant = (edit: (u: URL) => void): string => {
      const u = new URL(ctx.url);
      u.searchParams.set('heartbeat', '0');
      edit(u);
      return u.toString();
    };
    const attempts: Array<[string, string]> = [
      ['wrong password', variant((u) => { u.password = 'wrong'; })],
      ['unknown user', variant((u) => { u.username = 'nobody-at-all'; })],
      ['unknown vhost', variant((u) => { u.pathname = '/no-such-vhost'; })],
    ];
    for (const [label, url] of attempts) {
      await ctx.attempt(label, async () => {
        const conn = await ctx.connectUrl(url);
        await ctx.closeConnection(conn);
      }, () => 'connected');
    }
    const u = new URL(ctx.url);
    await ctx.attempt('AMQPLAIN login', async () => {
      const conn = await ctx.connectUrlWith(variant(() => {}), { credentials: credentials.amqplain(decodeURIComponent(u.username), decodeURIComponent(u.password)) });
      const ch = await ctx.channel(conn);
      await ch.checkExchange('amq.direct');
      await ctx.closeConnection(conn);
    }, () => 'connected');
  }),

  scenario('connection-missed-heartbeats', 'a client that stops sending heartbeats is disconnected by the broker', async (ctx) => {
    const u = new URL(ctx.url);
    u.searchParams.set('heartbeat', '1');
    const conn = await ctx.connectUrl(u.toString());
    const ch = await ctx.channel(conn);
    await ch.checkExchange('amq.direct');
    // Silence amqplib's heartbeater (it would also give up on the server's beats; neither is wanted).
    const raw = conn.connection as unknown as { heartbeater: { clear(): void } | null };
    raw.heartbeater?.clear();
    await ctx.waitFor('the broker to drop the connection', () => ctx.isConnectionClosed(conn), 8000);
  }),
];
