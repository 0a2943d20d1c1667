/**
 * Generated method codec by example (every method round-trips through writeMethod -> decodeMethod
 * in methods.prop.test.ts): positional writers produce the same bytes, and malformed/unknown input fails the way
 * RabbitMQ does (FRAME_ERROR "cannot decode <<...>>" with the method's ids; 503 for unknown ids).
 */
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { ReplyCode } from '../../../src/core/reply-code.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import {
  decodeMethod, methodHasContent, methodIsSynchronous, methodName, methodResponses, writeBasicDeliver, writeBasicGetEmpty, writeChannelClose, writeConnectionStart, writeMethod, type Method,
} from '../../../src/protocol/generated/methods.js';

/** Frame bytes -> [type, channel, payload]. */
function splitFrame(buf: Buffer): { type: number; channel: number; payload: Buffer } {
  const size = buf.readUInt32BE(3);
  expect(buf.length).toBe(size + 8);
  expect(buf[size + 7]).toBe(0xce);
  return { type: buf[0]!, channel: buf.readUInt16BE(1), payload: buf.subarray(7, 7 + size) };
}

function encode(m: Method, channel = 7): Buffer {
  const w = new FrameWriter(64);
  writeMethod(w, channel, m);
  return w.peekPending();
}

function decodeError(payload: Buffer): AmqpError {
  try {
    decodeMethod(payload, 0, payload.length);
  } catch (e) {
    expect(e).toBeInstanceOf(AmqpError);
    return e as AmqpError;
  }
  throw new Error('expected decodeMethod to throw');
}

describe('generated method codec', () => {
  it('names, content and synchronous flags', () => {
    expect(methodName(60, 40)).toBe('basic.publish');
    expect(methodName(85, 10)).toBe('confirm.select');
    expect(methodName(60, 999)).toBe('unknown');
    expect(methodHasContent(60, 40)).toBe(true);
    expect(methodHasContent(60, 71)).toBe(true);
    expect(methodHasContent(60, 72)).toBe(false);
    expect(methodIsSynchronous(50, 10)).toBe(true);
    expect(methodIsSynchronous(60, 40)).toBe(false);
    expect(methodResponses(60, 70)).toEqual(['basic.get-ok', 'basic.get-empty']);
  });

  it('positional writers write the spec layout', () => {
    const w = new FrameWriter(16);
    writeBasicDeliver(w, 3, 'ctag', 2 ** 40 + 5, true, 'ex', 'rk');
    const f = splitFrame(w.peekPending());
    expect([...f.payload]).toEqual([0, 60, 0, 60, 4, 99, 116, 97, 103, 0, 0, 1, 0, 0, 0, 0, 5, 1, 2, 101, 120, 2, 114, 107]);
    expect(decodeMethod(f.payload, 0, f.payload.length)).toEqual({
      kind: 'basic.deliver', classId: 60, methodId: 60, consumerTag: 'ctag', deliveryTag: 2 ** 40 + 5, redelivered: true, exchange: 'ex', routingKey: 'rk',
    });
    const w2 = new FrameWriter();
    writeBasicGetEmpty(w2, 1);
    expect([...splitFrame(w2.peekPending()).payload]).toEqual([0, 60, 0, 72, 0]);
    const w3 = new FrameWriter();
    writeChannelClose(w3, 1, 404, "NOT_FOUND - no queue 'q'", 50, 10);
    expect(decodeMethod(splitFrame(w3.peekPending()).payload, 0, splitFrame(w3.peekPending()).payload.length)).toMatchObject({
      kind: 'channel.close', replyCode: 404, failingClassId: 50, failingMethodId: 10,
    });
    const w4 = new FrameWriter();
    writeConnectionStart(w4, 0, 0, 9, [], Buffer.from('PLAIN AMQPLAIN'), Buffer.from('en_US'));
    expect(decodeMethod(splitFrame(w4.peekPending()).payload, 0, splitFrame(w4.peekPending()).payload.length)).toMatchObject({
      kind: 'connection.start', versionMajor: 0, versionMinor: 9, serverProperties: [],
    });
  });

  it('consecutive bits share one octet; a non-bit field starts a new group', () => {
    const w = new FrameWriter();
    writeMethod(w, 1, {
      kind: 'queue.declare', classId: 50, methodId: 10, reserved1: 0, queue: 'q', passive: false, durable: true,
      exclusive: false, autoDelete: true, noWait: true, arguments: [],
    });
    const p = splitFrame(w.peekPending()).payload;
    expect([...p]).toEqual([0, 50, 0, 10, 0, 0, 1, 113, 0b11010, 0, 0, 0, 0]);
  });

  it('rejects truncated arguments, trailing octets and bad tables like RabbitMQ (501 cannot decode)', () => {
    // basic.qos without its bit octet (probed against RabbitMQ 3.10: "FRAME_ERROR - cannot decode <<0,0,0,0,0,1>>")
    let e = decodeError(Buffer.from([0, 60, 0, 10, 0, 0, 0, 0, 0, 1]));
    expect(e.code).toBe(ReplyCode.FRAME_ERROR);
    expect(e.text).toBe('FRAME_ERROR - cannot decode <<0,0,0,0,0,1>>');
    expect([e.classId, e.methodId]).toEqual([60, 10]);
    e = decodeError(Buffer.from([0, 60, 0, 10, 0, 0, 0, 0, 0, 1, 0, 7]));
    expect(e.text).toBe('FRAME_ERROR - cannot decode <<0,0,0,0,0,1,0,7>>');
    e = decodeError(Buffer.from([0, 50, 0, 10, 0, 0, 3, 97]));
    expect(e.text).toBe('FRAME_ERROR - cannot decode <<0,0,3,97>>');
    expect([e.classId, e.methodId]).toEqual([50, 10]);
    // queue.declare whose arguments table holds an unknown tag 'Z'
    e = decodeError(Buffer.from([0, 50, 0, 10, 0, 0, 1, 113, 0, 0, 0, 0, 4, 1, 120, 90, 0]));
    expect(e.code).toBe(ReplyCode.FRAME_ERROR);
    expect([e.classId, e.methodId]).toEqual([50, 10]);
  });

  it('rejects unknown class/method ids with COMMAND_INVALID and a too-short payload as a frame error', () => {
    let e = decodeError(Buffer.from([0, 60, 3, 231]));
    expect(e.code).toBe(ReplyCode.COMMAND_INVALID);
    expect([e.classId, e.methodId]).toEqual([60, 999]);
    e = decodeError(Buffer.from([0, 99, 0, 10]));
    expect(e.code).toBe(ReplyCode.COMMAND_INVALID);
    e = decodeError(Buffer.from([0, 60]));
    expect(e.code).toBe(ReplyCode.FRAME_ERROR);
    expect(e.text).toBe('FRAME_ERROR - type 1, all octets = <<0,60>>: unknown_frame');
  });

  it('refuses longlong values beyond 2^53 with SYNTAX_ERROR on decode and encode', () => {
    const e = decodeError(Buffer.from([0, 60, 0, 80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]));
    expect(e.code).toBe(ReplyCode.SYNTAX_ERROR);
    expect([e.classId, e.methodId]).toEqual([60, 80]);
    const w = new FrameWriter();
    writeBasicGetEmpty(w, 1);
    const before = w.length;
    expect(() => writeMethod(w, 1, { kind: 'basic.ack', classId: 60, methodId: 80, deliveryTag: 2 ** 53, multiple: false }))
      .toThrow(AmqpError);
    expect(w.length).toBe(before); // the failed frame was rolled back
  });

  it('a shortstr over 255 bytes is refused and the frame rolled back', () => {
    const w = new FrameWriter();
    expect(() => writeBasicDeliver(w, 1, 'x'.repeat(256), 1, false, '', '')).toThrow(AmqpError);
    expect(() => writeBasicDeliver(w, 1, 'é'.repeat(128), 1, false, '', '')).toThrow(AmqpError);
    expect(w.length).toBe(0);
    writeBasicDeliver(w, 1, 'é'.repeat(127), 1, false, '', '');
    const f = splitFrame(w.peekPending());
    expect(decodeMethod(f.payload, 0, f.payload.length)).toMatchObject({ consumerTag: 'é'.repeat(127) });
  });
});
