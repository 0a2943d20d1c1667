/**
 * Frames as data for the fuzzer: a trace is a protocol header plus a list of frames (type, channel,
 * payload, and optional overrides of the size field and frame-end octet that mutations set), so
 * mutators can work on whole frames before the trace is serialised to bytes. Method payloads come
 * from Warren's generated writers (valid by construction); content headers and bodies are built here.
 */
import type { FieldTable, FieldValue } from '../../src/core/field-value.js';
import { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD } from '../../src/protocol/frame-constants.js';
import { FrameWriter } from '../../src/protocol/frame-writer.js';

export { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD };
export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
  /** Written in the size field instead of payload.length (a size mismatch). */
  sizeOverride?: number;
  /** Written instead of 0xCE. */
  endOverride?: number;
}

/** The one method frame `write` produces (channel and payload taken from the writer's output). */
export function methodFrame(write: (w: FrameWriter) => void): Frame {
  const w = new FrameWriter(256);
  write(w);
  const bytes = w.peekPending();
  return { type: bytes[0]!, channel: bytes.readUInt16BE(1), payload: Buffer.from(bytes.subarray(7, bytes.length - 1)) };
}

/** A basic content header: class 60, weight 0, body size (u64 as a bigint to reach 2^64-1), property bytes. */
export function contentHeader(channel: number, bodySize: bigint, properties: Buffer, classId = 60): Frame {
  const p = Buffer.alloc(12 + properties.length);
  p.writeUInt16BE(classId, 0);
  p.writeUInt16BE(0, 2);
  p.writeBigUInt64BE(BigInt.asUintN(64, bodySize), 4);
  properties.copy(p, 12);
  return { type: FRAME_HEADER, channel, payload: p };
}

export const bodyFrame = (channel: number, payload: Buffer): Frame => ({ type: FRAME_BODY, channel, payload });
export const heartbeatFrame = (): Frame => ({ type: FRAME_HEARTBEAT, channel: 0, payload: Buffer.alloc(0) });

/** Frames of a trace to bytes, overrides applied. */
export function serialise(header: Buffer, frames: readonly Frame[]): Buffer {
  let n = header.length;
  for (const f of frames) n += f.payload.length + 8;
  const out = Buffer.allocUnsafe(n);
  let p = header.copy(out, 0);
  for (const f of frames) {
    out[p] = f.type & 0xff;
    out.writeUInt16BE(f.channel & 0xffff, p + 1);
    out.writeUInt32BE((f.sizeOverride ?? f.payload.length) >>> 0, p + 3);
    p += 7;
    p += f.payload.copy(out, p);
    out[p++] = (f.endOverride ?? FRAME_END) & 0xff;
  }
  return out;
}

/**
 * A table nested `depth` levels: { k: { k: ... } }, or alternating tables and arrays. Built from the
 * inside out (the encoder walks it iteratively, so any depth encodes).
 */
export function nestedTable(depth: number, withArrays: boolean): FieldTable {
  let v: FieldValue = { type: 't', value: true };
  for (let i = 0; i < depth; i++) {
    v = withArrays && i % 2 === 1 ? { type: 'A', value: [v] } : { type: 'F', value: [{ key: 'k', value: v }] };
  }
  return [{ key: 'deep', value: v }];
}

/** A flat table of about `bytes` encoded bytes (many short-string entries). */
export function hugeTable(bytes: number): FieldTable {
  const out: { key: string; value: FieldValue }[] = [];
  const value: FieldValue = { type: 'S', value: Buffer.alloc(16, 0x61) };
  // one entry: key length 1 + key (~6) + tag 1 + length 4 + 16 bytes
  for (let i = 0; i * 28 < bytes; i++) out.push({ key: `k${i}`, value });
  return out;
}
