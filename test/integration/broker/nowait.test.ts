/**
 * The no-wait flag (AMQP 0-9-1 §1.8: "the server will not respond to the method"): declare, bind,
 * consume, cancel, purge, delete and confirm.select with no-wait send no *-ok, yet take effect in
 * order. Stock clients rarely set it, so this uses the raw client; the first frame after a batch of
 * no-wait methods must be the reply to the next synchronous method (or a delivery), never a stray -ok.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { waitFor } from '../../helpers/broker.js';
import { bits, methodFrame, rawHandshake, rawOpenChannel, rawPublish, short, shortstr, table } from '../helpers/raw-amqp.js';

const ctx = useBroker();

const queueDeclare = (ch: number, q: string, nowait: boolean, passive = false) =>
  methodFrame(ch, 50, 10, [short(0), shortstr(q), bits(passive, false, false, false, nowait), table()]);

describe('no-wait', () => {
  it('declare, bind, consume, cancel, purge and delete with no-wait answer nothing but take effect', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    const q = ctx.name('nowait-q');
    const ex = ctx.name('nowait-x');
    h.conn.send(Buffer.concat([
      methodFrame(1, 40, 10, [short(0), shortstr(ex), shortstr('fanout'), bits(false, false, true, false, true), table()]),
      queueDeclare(1, q, true),
      methodFrame(1, 50, 20, [short(0), shortstr(q), shortstr(ex), shortstr(''), bits(true), table()]),
      methodFrame(1, 60, 20, [short(0), shortstr(q), shortstr('ctag'), bits(false, true, false, true), table()]),
      rawPublish(1, ex, 'any', Buffer.from('first')),
    ]));
    const deliver = await h.conn.next();
    expect([deliver?.channel, deliver?.classId, deliver?.methodId]).toEqual([1, 60, 60]);
    expect(deliver!.payload.toString('utf8', 5, 5 + deliver!.payload[4]!)).toBe('ctag');
    await h.conn.next(); // header
    expect((await h.conn.next())?.payload.toString()).toBe('first');

    h.conn.send(Buffer.concat([
      methodFrame(1, 60, 30, [shortstr('ctag'), bits(true)]), // basic.cancel no-wait
      rawPublish(1, ex, 'any', Buffer.from('second')),
      rawPublish(1, ex, 'any', Buffer.from('third')),
    ]));
    // Passive declares until both messages are counted (RabbitMQ's count may lag a publish a little);
    // every reply must be a declare-ok: no cancel-ok, and no delivery to the cancelled consumer.
    await waitFor(async () => {
      h.conn.send(queueDeclare(1, q, false, true));
      const ok = await h.conn.next();
      expect([ok?.classId, ok?.methodId]).toEqual([50, 11]);
      expect(ok!.payload.toString('utf8', 5, 5 + ok!.payload[4]!)).toBe(q);
      expect(ok!.payload.readUInt32BE(9 + ok!.payload[4]!)).toBe(0); // consumer count
      return ok!.payload.readUInt32BE(5 + ok!.payload[4]!) === 2; // message count
    });

    h.conn.send(Buffer.concat([
      methodFrame(1, 50, 30, [short(0), shortstr(q), bits(true)]), // queue.purge no-wait
      queueDeclare(1, q, false, true),
    ]));
    const afterPurge = await h.conn.next();
    expect([afterPurge?.classId, afterPurge?.methodId]).toEqual([50, 11]);
    expect(afterPurge!.payload.readUInt32BE(5 + afterPurge!.payload[4]!)).toBe(0);

    h.conn.send(Buffer.concat([
      methodFrame(1, 50, 40, [short(0), shortstr(q), bits(false, false, true)]), // queue.delete no-wait
      methodFrame(1, 40, 20, [short(0), shortstr(ex), bits(false, true)]), // exchange.delete no-wait
      queueDeclare(1, q, false, true),
    ]));
    const gone = await h.conn.next();
    expect([gone?.classId, gone?.methodId]).toEqual([20, 40]); // channel.close 404: the queue is gone
    expect(gone!.payload.readUInt16BE(4)).toBe(404);
    h.conn.destroy();
  });

  it('confirm.select with no-wait: no select-ok, publishes still confirmed from tag 1', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    h.conn.send(Buffer.concat([
      methodFrame(1, 85, 10, [bits(true)]),
      rawPublish(1, 'amq.direct', ctx.name('nobody'), Buffer.from('x')),
    ]));
    const ack = await h.conn.next();
    expect([ack?.classId, ack?.methodId]).toEqual([60, 80]);
    expect(Number(ack!.payload.readBigUInt64BE(4))).toBe(1);
    h.conn.destroy();
  });

  it('exchange.bind and queue.unbind with no-wait', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    const q = ctx.name('nowait-q2');
    const src = ctx.name('nowait-src');
    const dst = ctx.name('nowait-dst');
    h.conn.send(Buffer.concat([
      methodFrame(1, 40, 10, [short(0), shortstr(src), shortstr('direct'), bits(false, false, false, false, true), table()]),
      methodFrame(1, 40, 10, [short(0), shortstr(dst), shortstr('fanout'), bits(false, false, false, false, true), table()]),
      queueDeclare(1, q, true),
      methodFrame(1, 40, 30, [short(0), shortstr(dst), shortstr(src), shortstr('k'), bits(true), table()]), // exchange.bind
      methodFrame(1, 50, 20, [short(0), shortstr(q), shortstr(dst), shortstr(''), bits(true), table()]),
      rawPublish(1, src, 'k', Buffer.from('via e2e')),
      methodFrame(1, 50, 50, [short(0), shortstr(q), shortstr(dst), shortstr(''), table()]), // queue.unbind (no no-wait in 0-9-1)
    ]));
    const unbindOk = await h.conn.next();
    expect([unbindOk?.classId, unbindOk?.methodId]).toEqual([50, 51]);
    h.conn.send(rawPublish(1, src, 'k', Buffer.from('after unbind')));
    await waitFor(async () => {
      h.conn.send(queueDeclare(1, q, false, true));
      const ok = await h.conn.next();
      expect([ok?.classId, ok?.methodId]).toEqual([50, 11]);
      return ok!.payload.readUInt32BE(5 + ok!.payload[4]!) === 1;
    });
    h.conn.send(Buffer.concat([
      methodFrame(1, 50, 40, [short(0), shortstr(q), bits(false, false, false)]),
      methodFrame(1, 40, 20, [short(0), shortstr(src), bits(false, false)]),
      methodFrame(1, 40, 20, [short(0), shortstr(dst), bits(false, false)]),
    ]));
    expect((await h.conn.next())?.methodId).toBe(41);
    expect((await h.conn.next())?.methodId).toBe(21);
    expect((await h.conn.next())?.methodId).toBe(21);
    h.conn.destroy();
  });
});
