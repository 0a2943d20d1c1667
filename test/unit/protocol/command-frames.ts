/**
 * Frame payload builders for the command assembler tests (method payloads from the generated
 * writers, content headers and bodies by hand).
 */
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import { writeBasicPublish, writeBasicQos } from '../../../src/protocol/generated/methods.js';

/** The payload of the one method frame `write` appends. */
export function methodPayload(write: (w: FrameWriter) => void): Buffer {
  const w = new FrameWriter();
  write(w);
  const frame = w.peekPending();
  return Buffer.from(frame.subarray(7, frame.length - 1));
}

export const basicPublish = (exchange: string, routingKey: string): Buffer =>
  methodPayload((w) => writeBasicPublish(w, 1, exchange, routingKey, false, false));

export const qos = (n: number): Buffer => methodPayload((w) => writeBasicQos(w, 1, 0, n, false));

export function headerPayload(classId: number, bodySize: number, properties: Buffer): Buffer {
  const p = Buffer.alloc(12 + properties.length);
  p.writeUInt16BE(classId, 0);
  p.writeUInt16BE(0, 2);
  p.writeBigUInt64BE(BigInt(bodySize), 4);
  properties.copy(p, 12);
  return p;
}

export const bodyPayload = (s: string): Buffer => Buffer.from(s);

/** A whole frame (type, channel, size, payload, frame-end). */
export function frameBytes(type: number, channel: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(payload.length + 8);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[b.length - 1] = 0xce;
  return b;
}
