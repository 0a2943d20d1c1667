/**
 * Connection handshake (AMQP 0-9-1 §2.2.4, §4.2.2): protocol header negotiation, connection.start's
 * server-properties and capabilities, PLAIN and AMQPLAIN login, refused logins, tune/tune-ok
 * (frame_max, channel_max, heartbeat), heartbeats and missed-heartbeat detection, connection.open
 * with vhosts, and connection.close from the client. Expectations are RabbitMQ 3.10's.
 */
import { describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { waitFor } from '../../helpers/broker.js';
import { useBroker } from '../helpers/setup.js';
import {
  PROTOCOL_HEADER, amqplainResponse, bits, decodeClose, long, longstr, methodFrame, plainResponse,
  rawConnect, rawHandshake, rawOpenChannel, short, shortstr, table,
} from '../helpers/raw-amqp.js';

const ctx = useBroker();

describe('protocol header', () => {
  it.each([
    ['AMQP 0-9-2', Buffer.from('AMQP\x00\x00\x09\x02')],
    ['AMQP 0-10', Buffer.from('AMQP\x01\x01\x00\x0a')],
    ['garbage', Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])],
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  ])('answers a wrong header (%s) with the 0-9-1 header and closes', async (_label, header) => {
    const c = await rawConnect(ctx.port);
    c.send(header);
    const got = await c.rawBytes(8);
    await c.closed;
    expect(got.subarray(0, 8)).toEqual(PROTOCOL_HEADER);
    expect(got.length).toBe(8);
  });

  it('starts with connection.start version 0-9 on the right header', async () => {
    const c = await rawConnect(ctx.port);
    c.send(PROTOCOL_HEADER);
    const start = await c.expectMethod(10, 10);
    expect(start.channel).toBe(0);
    expect(start.payload[4]).toBe(0); // version-major
    expect(start.payload[5]).toBe(9); // version-minor
    c.destroy();
  });

  it('a header delivered one byte at a time still works', async () => {
    const c = await rawConnect(ctx.port);
    for (const b of PROTOCOL_HEADER) {
      c.send(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await c.expectMethod(10, 10);
    c.destroy();
  });
});

describe('server properties', () => {
  it('carries product, version, platform, copyright, information, cluster_name and the capabilities', async () => {
    const h = await rawHandshake(ctx.port, {}, false);
    const p = h.serverProperties;
    for (const key of ['product', 'version', 'platform', 'copyright', 'information', 'cluster_name']) {
      expect(typeof p[key], key).toBe('string');
    }
    expect(p['capabilities']).toEqual({
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    });
    expect(h.mechanisms.split(' ')).toEqual(expect.arrayContaining(['PLAIN', 'AMQPLAIN']));
    // Clients gate behaviour on product and version (kombu uses per-consumer prefetch only for
    // "RabbitMQ"): Warren identifies as a current RabbitMQ and names itself in platform/information.
    expect(p['product']).toBe('RabbitMQ');
    if (!ctx.isReference) {
      expect(p['version']).toMatch(/^3\.13\.\d+$/);
      expect(p['platform']).toContain('Warren');
      expect(p['information']).toContain('Warren');
    }
    h.conn.destroy();
  });

  it('accepts client-properties with nested tables, arrays, floats, longs, voids and binary strings', async () => {
    const h = await rawHandshake(ctx.port, {
      clientProperties: {
        product: 'raw', version: '1', platform: 'test', information: Buffer.from([0, 1, 2]),
        capabilities: { authentication_failure_close: true, consumer_cancel_notify: true, 'connection.blocked': false },
        numbers: [1, -2, 2 ** 40, 1.5, null, true, 'x', { nested: [[]] }],
        connection_name: 'warren integration',
      },
    });
    await rawOpenChannel(h.conn, 1);
    h.conn.destroy();
  });

  it('amqplib sees the same server properties', async () => {
    const c = await ctx.clients.connect();
    const sp = c.connection.serverProperties;
    expect(typeof sp.product).toBe('string');
    expect(typeof sp.version).toBe('string');
    expect(typeof sp.platform).toBe('string');
    expect((sp as unknown as { capabilities: Record<string, boolean> }).capabilities['publisher_confirms']).toBe(true);
    expect(sp.product).toBe('RabbitMQ');
  });
});

describe('authentication', () => {
  it('PLAIN login with guest/guest (amqplib default)', async () => {
    const c = await ctx.clients.connect();
    const ch = await ctx.clients.channel(c);
    await ch.checkExchange('amq.direct');
  });

  it('AMQPLAIN login through amqplib credentials.amqplain', async () => {
    const c = await ctx.clients.connect('', { credentials: amqp.credentials.amqplain('guest', 'guest') });
    const ch = await ctx.clients.channel(c);
    await ch.checkExchange('amq.direct');
  });

  it('AMQPLAIN login by hand (raw start-ok)', async () => {
    const h = await rawHandshake(ctx.port, { mechanism: 'AMQPLAIN', response: amqplainResponse('guest', 'guest') });
    await rawOpenChannel(h.conn, 1);
    h.conn.destroy();
  });

  it('@cloudamqp/amqp-client logs in', async () => {
    const c = await ctx.clients.cloudamqp();
    const ch = await c.channel();
    await ch.exchangeDeclare('amq.direct', 'direct', { passive: true });
  });

  it.each([
    ['PLAIN', plainResponse('guest', 'wrong')],
    ['AMQPLAIN', amqplainResponse('guest', 'wrong')],
    ['PLAIN', plainResponse('no-such-user', 'guest')],
  ])('a refused %s login gets connection.close 403 ACCESS_REFUSED (authentication_failure_close)', async (mech, response) => {
    const c = await rawConnect(ctx.port);
    c.send(PROTOCOL_HEADER);
    await c.expectMethod(10, 10);
    c.send(methodFrame(0, 10, 11, [
      table({ capabilities: { authentication_failure_close: true } }),
      shortstr(mech), longstr(response), shortstr('en_US'),
    ]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(403);
    expect(close?.replyText).toBe(
      `ACCESS_REFUSED - Login was refused using authentication mechanism ${mech}. For details see the broker logfile.`,
    );
    await c.closed;
  });

  it('a refused login without authentication_failure_close just closes the socket', async () => {
    const c = await rawConnect(ctx.port);
    c.send(PROTOCOL_HEADER);
    await c.expectMethod(10, 10);
    c.send(methodFrame(0, 10, 11, [table({}), shortstr('PLAIN'), longstr(plainResponse('guest', 'wrong')), shortstr('en_US')]));
    expect(await c.expectConnectionClose(10_000)).toBeUndefined();
    expect(c.socketClosed).toBe(true);
  });

  it('amqplib reports a wrong password as a 403 error', async () => {
    const u = new URL(ctx.url);
    u.password = 'wrong';
    // amqplib only surfaces the close text of a refused handshake, not a code.
    await expect(amqp.connect(u.toString())).rejects.toThrow(/ACCESS.REFUSED/);
  });

  it('@cloudamqp/amqp-client fails to connect with a wrong password', async () => {
    const u = new URL(ctx.url);
    u.password = 'wrong';
    const c = new AMQPClient(u.toString(), undefined, null);
    await expect(c.connect()).rejects.toThrow(/ACCESS_REFUSED - Login was refused.*\(403\)/);
  });

  it('an unknown mechanism or a malformed PLAIN response never gets a connection', async () => {
    const cases = [['FOO', plainResponse('guest', 'guest')], ['PLAIN', Buffer.from('garbage')]] as const;
    await Promise.all(cases.map(async ([mech, resp]) => {
      const c = await rawConnect(ctx.port);
      c.send(PROTOCOL_HEADER);
      await c.expectMethod(10, 10);
      c.send(methodFrame(0, 10, 11, [
        table({ capabilities: { authentication_failure_close: true } }), shortstr(mech), longstr(resp), shortstr('en_US'),
      ]));
      // RabbitMQ closes the socket (after a delay) without tune; a connection.close is acceptable too.
      const f = await c.next(10_000);
      if (f !== undefined) {
        expect([f.classId, f.methodId]).toEqual([10, 50]);
        expect(decodeClose(f).replyCode).toBeGreaterThanOrEqual(400);
      }
      c.destroy();
    }));
  });
});

describe('tune and heartbeats', () => {
  it('connection.tune proposes channel_max, frame_max and heartbeat', async () => {
    const h = await rawHandshake(ctx.port, {}, false);
    expect(h.tune.frameMax).toBeGreaterThanOrEqual(4096);
    expect(h.tune.channelMax).toBeGreaterThan(0);
    expect(h.tune.heartbeat).toBeGreaterThanOrEqual(0);
    if (!ctx.isReference) {
      // Warren proposes RabbitMQ's defaults.
      expect(h.tune).toEqual({ channelMax: 2047, frameMax: 131072, heartbeat: 60 });
    }
    h.conn.destroy();
  });

  it('amqplib negotiates the heartbeat and frame_max it asks for', async () => {
    const c = await ctx.clients.connect('heartbeat=5&frameMax=16384');
    const conn = c.connection as unknown as { heartbeat: number; frameMax: number };
    expect(conn.heartbeat).toBe(5);
    expect(conn.frameMax).toBe(16384);
  });

  it('@cloudamqp/amqp-client negotiates heartbeat, frame_max and channel_max', async () => {
    const client = new AMQPClient(`${ctx.url}?heartbeat=7&frameMax=8192&channelMax=10`, undefined, null);
    await client.connect();
    try {
      expect(client.heartbeat).toBe(7);
      expect(client.frameMax).toBe(8192);
      expect(client.channelMax).toBe(10);
    } finally {
      await client.close();
    }
  });

  it('sends heartbeats when asked and drops a client that sends none', async () => {
    const h = await rawHandshake(ctx.port, { heartbeat: 1 });
    await waitFor(() => h.conn.heartbeats >= 1, 10_000);
    // The client stays silent: the server must detect the missed heartbeats and close the socket.
    await waitFor(() => h.conn.socketClosed, 15_000);
  });

  it('a client that keeps sending heartbeats stays connected', async () => {
    const h = await rawHandshake(ctx.port, { heartbeat: 1 });
    const timer = setInterval(() => h.conn.send(Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce])), 300);
    try {
      await waitFor(() => h.conn.heartbeats >= 4, 10_000);
      expect(h.conn.socketClosed).toBe(false);
      await rawOpenChannel(h.conn, 1);
    } finally {
      clearInterval(timer);
      h.conn.destroy();
    }
  });

  it.each([
    ['channel_max 0 ("no limit") above the server\'s', { channelMax: 0 }, 'NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)'],
    ['channel_max above the server\'s', { channelMax: 3000 }, 'NOT_ALLOWED - negotiated channel_max = 3000 is higher than the maximum allowed value (2047)'],
    ['frame_max 0 ("no limit") above the server\'s', { frameMax: 0 }, 'NOT_ALLOWED - negotiated frame_max = 0 is higher than the maximum allowed value (131072)'],
    ['frame_max above the server\'s', { frameMax: 200000 }, 'NOT_ALLOWED - negotiated frame_max = 200000 is higher than the maximum allowed value (131072)'],
    ['frame_max below 4096', { frameMax: 100 }, 'NOT_ALLOWED - negotiated frame_max = 100 is lower than the minimum allowed value (4096)'],
  ] as const)('tune-ok with %s is refused as RabbitMQ refuses it', async (_label, tune: { channelMax?: number; frameMax?: number }, text) => {
    const c = await rawConnect(ctx.port);
    c.send(PROTOCOL_HEADER);
    await c.expectMethod(10, 10);
    c.send(methodFrame(0, 10, 11, [table({ capabilities: { authentication_failure_close: true } }), shortstr('PLAIN'),
      longstr(plainResponse('guest', 'guest')), shortstr('en_US')]));
    await c.expectMethod(10, 30);
    c.send(methodFrame(0, 10, 31, [short(tune.channelMax ?? 2047), long(tune.frameMax ?? 131072), short(0)]));
    c.send(methodFrame(0, 10, 40, [shortstr('/'), shortstr(''), bits(false)]));
    const close = await c.expectConnectionClose(10_000);
    // RabbitMQ 3.10 closes the socket without a word (after 3 s); 3.11+ send this connection.close
    // about connection.tune, as Warren does.
    if (ctx.isReference) expect(close === undefined || close.replyCode === 530).toBe(true);
    else expect(close).toEqual({ replyCode: 530, replyText: text, classId: 10, methodId: 30 });
  });

  it('heartbeat 0 disables heartbeats: the connection stays usable', async () => {
    const c = await ctx.clients.connect('heartbeat=0');
    expect((c.connection as unknown as { heartbeat: number }).heartbeat).toBe(0);
    const ch = await ctx.clients.channel(c);
    await ch.checkExchange('amq.fanout');
  });
});

describe('connection.open and vhosts', () => {
  it('opens the default vhost "/"', async () => {
    const h = await rawHandshake(ctx.port, { vhost: '/' });
    await rawOpenChannel(h.conn, 1);
    h.conn.destroy();
  });

  it('an unknown vhost gets connection.close 530 NOT_ALLOWED', async () => {
    const h = await rawHandshake(ctx.port, {}, false);
    h.conn.send(methodFrame(0, 10, 40, [shortstr('no-such-vhost'), shortstr(''), bits(false)]));
    const close = await h.conn.expectConnectionClose();
    expect(close).toEqual({ replyCode: 530, replyText: 'NOT_ALLOWED - vhost no-such-vhost not found', classId: 10, methodId: 40 });
  });

  it('amqplib and amqp-client fail to open an unknown vhost', async () => {
    await expect(amqp.connect(`${ctx.url}/no-such-vhost`)).rejects.toThrow(/ConnectionClose|NOT_ALLOWED/);
    const c = new AMQPClient(`${ctx.url}/no-such-vhost`, undefined, null);
    await expect(c.connect()).rejects.toThrow('NOT_ALLOWED - vhost no-such-vhost not found (530)');
  });
});

describe('connection.update-secret', () => {
  it('is answered with update-secret-ok (RabbitMQ 3.8+ lets clients refresh a token); the connection stays usable', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(0, 10, 70, [longstr('a-new-token'), shortstr('token refresh')]));
    const ok = await h.conn.next();
    expect([ok?.channel, ok?.classId, ok?.methodId]).toEqual([0, 10, 71]);
    await rawOpenChannel(h.conn, 1);
    h.conn.destroy();
  });
});

describe('connection.close', () => {
  it('client-initiated close gets close-ok; the socket stays for the client to close (a second close gets close-ok too)', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    h.conn.send(methodFrame(0, 10, 50, [short(200), shortstr('bye'), short(0), short(0)]));
    await h.conn.expectMethod(10, 51);
    // RabbitMQ leaves closing the socket to the client after close-ok, so a client that closes from
    // several threads at once sees its other closes answered, never an EOF.
    h.conn.send(methodFrame(0, 10, 50, [short(200), shortstr('bye again'), short(0), short(0)]));
    const again = await h.conn.next();
    expect([again?.channel, again?.classId, again?.methodId]).toEqual([0, 10, 51]);
    h.conn.destroy();
  });

  it('amqplib and amqp-client close cleanly', async () => {
    const c = await amqp.connect(ctx.url);
    let err: unknown = 'none';
    c.on('close', (e?: unknown) => { err = e; });
    await c.close();
    expect(err).toBeUndefined();
    const client = new AMQPClient(ctx.url, undefined, null);
    await client.connect();
    await client.close();
    expect(client.closed).toBe(true);
  });

  it('methods after tune-ok in the wrong state are refused: a second connection.open gets 504', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(0, 10, 40, [shortstr('/'), shortstr(''), bits(false)]));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(504);
    expect(close?.classId).toBe(10);
    expect(close?.methodId).toBe(40);
  });

  it('after a server-sent connection.close, other frames are ignored until close-ok; then the server closes', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(5, 20, 40, [short(200), shortstr('x'), short(0), short(0)])); // channel 5 was never opened
    const close = await h.conn.next();
    expect([close?.channel, close?.classId, close?.methodId]).toEqual([0, 10, 50]);
    // Not close-ok: ignored (no channel.open-ok, no second close).
    h.conn.send(methodFrame(1, 20, 10, [shortstr('')]));
    h.conn.send(methodFrame(0, 10, 50, [short(200), shortstr('client close'), short(0), short(0)]));
    h.conn.send(methodFrame(0, 10, 51));
    const after = await h.conn.next(10_000);
    // RabbitMQ answers a crossing connection.close with close-ok; anything else must not come.
    if (after !== undefined) expect([after.classId, after.methodId]).toEqual([10, 51]);
    await h.conn.closed;
  });

  it('a stray tune-ok after open gets 504 CHANNEL_ERROR', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(0, 10, 31, [short(0), long(131072), short(0)]));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(504);
  });
});
