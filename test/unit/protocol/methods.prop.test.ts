/**
 * Property tests (fast-check) of the generated method codec: every spec method round-trips through
 * its writer and decodeMethod.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import {
  decodeMethod, methodHasContent, methodIsSynchronous, methodName, methodResponses, writeBasicDeliver, writeBasicGetEmpty, writeChannelClose, writeConnectionStart, writeMethod, type Method,
} from '../../../src/protocol/generated/methods.js';
import { allMethods, methodArb } from './arbitraries.js';

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

describe('generated method codec (property)', () => {
  for (const { cls, m } of allMethods) {
    it(`round-trips ${cls.name}.${m.name}`, () => {
      fc.assert(fc.property(methodArb(cls, m), fc.integer({ min: 0, max: 65535 }), (method, channel) => {
        const frame = splitFrame(encode(method, channel));
        expect(frame.type).toBe(1);
        expect(frame.channel).toBe(channel);
        // decode from a view with junk around it: start/end must be honoured
        const padded = Buffer.concat([Buffer.from([9, 9, 9]), frame.payload, Buffer.from([9])]);
        const decoded = decodeMethod(padded, 3, 3 + frame.payload.length);
        expect(decoded).toEqual(method);
        expect(Object.keys(decoded)).toEqual(Object.keys(method));
      }), { numRuns: 60 });
    });
  }
});
