/**
 * Frames pipelined behind a durable declare: the channel holds them until the declare-ok (the
 * definitions save) and replays them in order. Regression (issue 11): two durable declares and
 * then 400,000 basic.qos frames in one write used to crash the replay (`push(...frames.slice(i))`,
 * RangeError) and leave the definitions save loop stuck; every one must be answered, in order.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { bits, long, methodFrame, rawHandshake, rawOpenChannel, short, shortstr, table } from '../helpers/raw-amqp.js';

const ctx = useBroker();

describe('frames held behind a durable declare', () => {
  it('2 durable declares then 400,000 basic.qos in one write: all answered, in order', async () => {
    const h = await rawHandshake(ctx.port);
    const c = h.conn;
    await rawOpenChannel(c, 1);
    const q1 = ctx.name('held1');
    const q2 = ctx.name('held2');
    const n = 400_000;
    const qos = methodFrame(1, 60, 10, [long(0), short(7), bits(false)]);
    const parts = [
      methodFrame(1, 50, 10, [short(0), shortstr(q1), bits(false, true, false, false, false), table()]),
      methodFrame(1, 50, 10, [short(0), shortstr(q2), bits(false, true, false, false, false), table()]),
    ];
    const stream = Buffer.alloc(parts[0]!.length + parts[1]!.length + n * qos.length);
    let at = parts[0]!.copy(stream, 0);
    at += parts[1]!.copy(stream, at);
    for (let i = 0; i < n; i++) at += qos.copy(stream, at);
    c.send(stream);
    const first = await c.next(60_000);
    const second = await c.next(60_000);
    expect([first?.classId, first?.methodId, second?.classId, second?.methodId]).toEqual([50, 11, 50, 11]);
    for (let i = 0; i < n; i++) {
      const f = await c.next(60_000);
      if (f === undefined || f.classId !== 60 || f.methodId !== 11) throw new Error(`frame ${i}: expected basic.qos-ok, got ${f?.classId}.${f?.methodId}`);
    }
    // The channel (and the definitions save loop) still work.
    c.send(methodFrame(1, 50, 40, [short(0), shortstr(q1), bits(false, false, false)]));
    await c.expectMethod(50, 41, 10_000);
    c.send(methodFrame(1, 50, 40, [short(0), shortstr(q2), bits(false, false, false)]));
    await c.expectMethod(50, 41, 10_000);
    c.destroy();
  }, 120_000);
});
