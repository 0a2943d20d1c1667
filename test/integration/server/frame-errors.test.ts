/**
 * Frame-level rule violations over a raw socket (AMQP 0-9-1 §2.3.5, §4.2.3-4.2.6 and the hard-error
 * reply codes): bad frame-end (501), oversized frames (501), unknown frame types (501), methods on an
 * unopened channel (504), content frames without a publish (505), channel_max (530), unimplemented
 * methods (503, 540). Invariant checked after every case: the broker process survives and a separate
 * connection opened beforehand keeps working.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Channel } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox } from '../helpers/clients.js';
import {
  FRAME_BODY, FRAME_HEADER, type RawConnection, bits, bodyFrame, frame, headerFrame, long, longlong,
  methodFrame, rawHandshake, rawOpenChannel, rawPublish, short, shortstr, table,
} from '../helpers/raw-amqp.js';

const ctx = useBroker();

/** A bystander connection that must stay healthy through every bad input. */
let bystander: Channel;
let bystanderQueue: string;

beforeEach(async () => {
  bystander = await ctx.clients.channel();
  bystanderQueue = (await bystander.assertQueue('', { exclusive: true })).queue;
});

afterEach(async () => {
  // The broker is still alive and the other connection still routes and delivers.
  const inbox = new Inbox();
  await bystander.consume(bystanderQueue, inbox.handler, { noAck: true });
  bystander.sendToQueue(bystanderQueue, Buffer.from('still alive'));
  await inbox.count(1);
  expect(inbox.bodies()).toEqual(['still alive']);
});

async function opened(opts: Parameters<typeof rawHandshake>[1] = {}): Promise<RawConnection> {
  const h = await rawHandshake(ctx.port, opts);
  await rawOpenChannel(h.conn, 1);
  return h.conn;
}

describe('frame errors -> 501 FRAME_ERROR', () => {
  it('a frame whose frame-end octet is not 0xCE', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(frame(1, 0, Buffer.from([0, 10, 0, 40]), 0x00));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
    expect(close?.replyText).toMatch(/^FRAME_ERROR - /);
  });

  it('a body frame larger than the negotiated frame_max', async () => {
    const c = await opened({ frameMax: 4096 });
    c.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr('nowhere'), bits(false, false)]),
      headerFrame(1, 60, 10_000),
      bodyFrame(1, Buffer.alloc(10_000)),
    ]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
    expect(close?.replyText).toMatch(/^FRAME_ERROR - /);
  });

  it('a frame header announcing 4 GiB is refused without buffering it', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(Buffer.from([1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
  });

  it('an unknown frame type', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(frame(9, 0, Buffer.from([1, 2, 3])));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
  });

  it('ASCII garbage after the handshake', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(Buffer.from('this is not an AMQP frame at all, garbage garbage garbage'));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
  });

  it('a method frame too short to hold class and method ids', async () => {
    const c = await opened();
    c.send(frame(1, 1, Buffer.from([0, 60])));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
  });

  it('a heartbeat frame with a payload', async () => {
    const c = await opened();
    c.send(frame(8, 0, Buffer.from([1, 2])));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
  });

  it('method arguments cut short', async () => {
    const c = await opened();
    c.send(frame(1, 1, Buffer.from([0, 50, 0, 10, 0])));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
    expect([close?.classId, close?.methodId]).toEqual([50, 10]);
  });
});

describe('channel errors -> 504 CHANNEL_ERROR', () => {
  it('a method on a channel that was never opened', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(5, 50, 10, [short(0), shortstr('x'), bits(false, false, false, true, false), table()]));
    const close = await h.conn.expectConnectionClose();
    expect(close).toEqual({ replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'", classId: 50, methodId: 10 });
  });

  it('a second channel.open on an open channel', async () => {
    const c = await opened();
    c.send(methodFrame(1, 20, 10, [shortstr('')]));
    const close = await c.expectConnectionClose();
    expect(close).toEqual({ replyCode: 504, replyText: "CHANNEL_ERROR - second 'channel.open' seen", classId: 20, methodId: 10 });
  });

  it('channel.open on channel 0', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(0, 20, 10, [shortstr('')]));
    const close = await h.conn.expectConnectionClose();
    expect(close).toEqual({ replyCode: 504, replyText: 'CHANNEL_ERROR - unexpected method in connection state running', classId: 20, methodId: 10 });
  });

  it('basic.qos on channel 0', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(0, 60, 10, [long(0), short(1), bits(false)]));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(504);
    expect([close?.classId, close?.methodId]).toEqual([60, 10]);
  });

  it('an unsolicited connection.close-ok while running', async () => {
    const c = await opened();
    c.send(methodFrame(0, 10, 51));
    const close = await c.expectConnectionClose();
    expect(close).toEqual({ replyCode: 504, replyText: 'CHANNEL_ERROR - unexpected method in connection state running', classId: 10, methodId: 51 });
  });

  it('a method on a channel after it was closed', async () => {
    const c = await opened();
    c.send(methodFrame(1, 20, 40, [short(200), shortstr('bye'), short(0), short(0)]));
    await c.expectMethod(20, 41);
    c.send(methodFrame(1, 50, 10, [short(0), shortstr(''), bits(false, false, true, true, false), table()]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(504);
  });
});

describe('unexpected frames -> 505 UNEXPECTED_FRAME', () => {
  it('a content header without a basic.publish', async () => {
    const c = await opened();
    c.send(headerFrame(1, 60, 3));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
    expect(close?.replyText).toMatch(/^UNEXPECTED_FRAME - /);
  });

  it('a body frame without a basic.publish', async () => {
    const c = await opened();
    c.send(bodyFrame(1, Buffer.from('abc')));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
  });

  it('a method where the content header should be', async () => {
    const c = await opened();
    c.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr('x'), bits(false, false)]),
      methodFrame(1, 20, 10, [shortstr('')]),
    ]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
    expect([close?.classId, close?.methodId]).toEqual([60, 40]);
  });

  it('a body frame after a content header announcing an empty body', async () => {
    const c = await opened();
    c.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr('x'), bits(false, false)]),
      headerFrame(1, 60, 0),
      bodyFrame(1, Buffer.from('x')),
    ]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
  });

  it('a content header for another class than basic', async () => {
    const c = await opened();
    c.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr('x'), bits(false, false)]),
      headerFrame(1, 50, 1),
    ]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
    expect([close?.classId, close?.methodId]).toEqual([60, 40]);
  });

  it('a heartbeat frame on a non-zero channel', async () => {
    const c = await opened();
    c.send(frame(8, 1, Buffer.alloc(0)));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
  });

  it('a content header on an unopened channel', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(frame(FRAME_HEADER, 3, Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0])));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(505);
  });
});

describe('530 NOT_ALLOWED: channel_max', () => {
  it('opening more channels than the negotiated channel_max closes the connection', async () => {
    const h = await rawHandshake(ctx.port, { channelMax: 2 });
    await rawOpenChannel(h.conn, 1);
    await rawOpenChannel(h.conn, 2);
    h.conn.send(methodFrame(3, 20, 10, [shortstr('')]));
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(530);
    expect(close?.replyText).toBe('NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)');
  });

  it('a closed channel frees its slot under channel_max', async () => {
    const h = await rawHandshake(ctx.port, { channelMax: 1 });
    await rawOpenChannel(h.conn, 1);
    h.conn.send(methodFrame(1, 20, 40, [short(200), shortstr('bye'), short(0), short(0)]));
    await h.conn.expectMethod(20, 41);
    await rawOpenChannel(h.conn, 1);
    h.conn.destroy();
  });
});

describe('frame_max on the way out', () => {
  it('the server splits a large delivery into body frames no larger than the client negotiated', async () => {
    const q = (await bystander.assertQueue('', { exclusive: false, autoDelete: false })).queue;
    try {
      const body = Buffer.alloc(20_000, 7);
      const c = await opened({ frameMax: 4096 });
      c.send(rawPublish(1, '', q, body, 4096));
      // basic.get until the message is there (publish and get are on the same channel, so in order).
      c.send(methodFrame(1, 60, 70, [short(0), shortstr(q), bits(true)]));
      const getOk = await c.next();
      expect([getOk?.classId, getOk?.methodId]).toEqual([60, 71]);
      const header = await c.next();
      expect(header?.type).toBe(FRAME_HEADER);
      let got = 0;
      while (got < body.length) {
        const f = await c.next();
        expect(f?.type).toBe(FRAME_BODY);
        expect(f!.payload.length + 8).toBeLessThanOrEqual(4096);
        got += f!.payload.length;
      }
      expect(got).toBe(body.length);
      c.destroy();
    } finally {
      await bystander.deleteQueue(q);
    }
  });

  it('amqplib with frameMax=4096 round-trips a 100 kB message', async () => {
    const conn = await ctx.clients.connect('frameMax=4096');
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const body = Buffer.alloc(100_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    ch.sendToQueue(q, body);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    const [m] = await inbox.count(1);
    expect(m!.content.equals(body)).toBe(true);
  });
});

describe('503 COMMAND_INVALID and 540 NOT_IMPLEMENTED', () => {
  it('a server-only method sent by the client (queue.declare-ok) gets 503', async () => {
    const c = await opened();
    c.send(methodFrame(1, 50, 11, [shortstr('x'), long(0), long(0)]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(503);
    expect([close?.classId, close?.methodId]).toEqual([50, 11]);
  });

  it('an unsolicited channel.close-ok gets 503', async () => {
    const c = await opened();
    c.send(methodFrame(1, 20, 41));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(503);
    expect([close?.classId, close?.methodId]).toEqual([20, 41]);
  });

  it('an unknown exchange type gets 503', async () => {
    const c = await opened();
    c.send(methodFrame(1, 40, 10, [short(0), shortstr(ctx.name('ex-bad-type')), shortstr('foo'), bits(false, false, false, false, false), table()]));
    const close = await c.expectConnectionClose();
    expect(close?.replyCode).toBe(503);
    expect(close?.replyText).toBe("COMMAND_INVALID - invalid exchange type 'foo'");
  });

  it('channel.flow active=false gets 540 (RabbitMQ does not implement it); active=true gets flow-ok', async () => {
    const c = await opened();
    c.send(methodFrame(1, 20, 20, [bits(true)]));
    const ok = await c.expectMethod(20, 21);
    expect(ok.payload[4]).toBe(1);
    c.send(methodFrame(1, 20, 20, [bits(false)]));
    const close = await c.expectConnectionClose();
    expect(close).toEqual({ replyCode: 540, replyText: 'NOT_IMPLEMENTED - active=false', classId: 20, methodId: 20 });
  });

  it('basic.publish immediate=true gets 540', async () => {
    const c = await opened();
    c.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr('x'), bits(false, true)]),
      headerFrame(1, 60, 0),
    ]));
    const close = await c.expectConnectionClose();
    expect(close).toEqual({ replyCode: 540, replyText: 'NOT_IMPLEMENTED - immediate=true', classId: 60, methodId: 40 });
  });

  it('basic.qos with prefetch_size != 0 gets 540', async () => {
    const c = await opened();
    c.send(methodFrame(1, 60, 10, [long(100), short(0), bits(false)]));
    const close = await c.expectConnectionClose();
    expect(close).toEqual({ replyCode: 540, replyText: 'NOT_IMPLEMENTED - prefetch_size!=0 (100)', classId: 60, methodId: 10 });
  });

  it('basic.recover and recover-async with requeue=false get 540', async () => {
    for (const methodId of [110, 100]) {
      const c = await opened();
      c.send(methodFrame(1, 60, methodId, [bits(false)]));
      const close = await c.expectConnectionClose();
      expect(close).toEqual({ replyCode: 540, replyText: 'NOT_IMPLEMENTED - requeue=false', classId: 60, methodId });
      c.destroy();
    }
  });
});

describe('inputs that must never crash the broker', () => {
  it('unknown class or method ids end the connection (RabbitMQ drops the socket)', async () => {
    for (const [classId, methodId] of [[60, 99], [99, 10]] as const) {
      const c = await opened();
      c.send(methodFrame(1, classId, methodId, []));
      const close = await c.expectConnectionClose();
      if (close !== undefined) expect(close.replyCode).toBeGreaterThanOrEqual(500);
      c.destroy();
    }
  });

  it('a field table with an unknown value type ends the connection', async () => {
    const c = await opened();
    const args = Buffer.concat([
      Buffer.from([0, 50, 0, 10, 0, 0, 5]), Buffer.from('q-bad'), Buffer.from([0x08]),
      Buffer.from([0, 0, 0, 3, 1, 0x61, 0x51]), // table {a: <type 'Q'>}
    ]);
    c.send(frame(1, 1, args));
    const close = await c.expectConnectionClose();
    if (close !== undefined) expect(close.replyCode).toBeGreaterThanOrEqual(500);
  });

  it.each([
    ['a truncated headers table', Buffer.from([0x20, 0x00, 0, 0, 0, 50, 1, 0x61])],
    ['an unknown field type in headers', Buffer.from([0x20, 0x00, 0, 0, 0, 3, 1, 0x61, 0x51])],
    ['property flags with no property data', Buffer.from([0xff, 0xfc])],
  ])('malformed content properties (%s) that routing must decode: a hard error, 541 on RabbitMQ', async (_label, props) => {
    const c = await opened();
    const header = Buffer.concat([Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), props]);
    c.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr('amq.headers'), shortstr(''), bits(false, false)]),
      frame(FRAME_HEADER, 1, header),
      bodyFrame(1, Buffer.from('x')),
    ]));
    const close = await c.expectConnectionClose();
    if (ctx.isReference) expect(close?.replyCode).toBe(541);
    else expect([501, 502, 541]).toContain(close?.replyCode); // 502 SYNTAX_ERROR would fit the spec better
  });

  it('a basic method on channel 0 closes the connection with a hard error', async () => {
    const h = await rawHandshake(ctx.port);
    h.conn.send(methodFrame(0, 50, 10, [short(0), shortstr('x'), bits(false, false, false, true, false), table()]));
    const close = await h.conn.expectConnectionClose();
    // RabbitMQ 3.10 answers 541 INTERNAL_ERROR here; any hard error code is acceptable.
    expect(close?.replyCode).toBeGreaterThanOrEqual(500);
  });

  it('random bytes in many shapes, on many connections, leave the broker serving', async () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 20; i++) {
      const c = await opened();
      const len = 1 + rnd(64);
      const junk = Buffer.alloc(len);
      for (let j = 0; j < len; j++) junk[j] = rnd(256);
      // Half the time, wrap the junk in a well-formed method frame so it reaches the method decoder.
      c.send(i % 2 === 0 ? junk : frame(1, 1, Buffer.concat([Buffer.from([0, 60, 0, 40]), junk])));
      c.send(methodFrame(1, 60, 80, [longlong(1), bits(false)])); // something that needs an answer
      await c.next(1000).catch(() => undefined); // a close, a channel error, or silence: all fine

      c.destroy();
    }
  });
});
