/**
 * FrameWriter: method frames, content header + body splitting at frameMax - 8, zero body -> no body
 * frame, large bodies passed by reference, flushed bytes never overwritten, heartbeat (random frames
 * and body sizes: frame-writer.prop.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../../../src/protocol/frame-reader.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import { decodeMethod, writeBasicDeliver } from '../../../src/protocol/generated/methods.js';

interface F { type: number; channel: number; payload: Buffer }

function parse(bytes: Buffer): F[] {
  const out: F[] = [];
  new FrameReader(0).push(bytes, { onFrame: (type, channel, p, s, e) => { out.push({ type, channel, payload: Buffer.from(p.subarray(s, e)) }); } });
  return out;
}

class Sink {
  chunks: Buffer[] = [];
  result = true;
  write(c: Buffer): boolean {
    this.chunks.push(c);
    return this.result;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

describe('FrameWriter', () => {

  it('passes bodies of 64 KiB or more by reference and flushes in order', () => {
    const w = new FrameWriter(1024);
    w.frameMax = 131072;
    const body = Buffer.alloc(200000, 1);
    w.writeHeartbeat();
    w.writeContent(1, 60, body.length, Buffer.from([0, 0]), 0, 2, body);
    w.writeHeartbeat();
    expect(w.length).toBe(8 + (7 + 14 + 1) + 2 * (131064 + 8) - (2 * 131064 - 200000) + 8);
    const sink = new Sink();
    expect(w.flushTo(sink)).toBe(true);
    expect(w.length).toBe(0);
    expect(sink.chunks.some((c) => c.buffer === body.buffer)).toBe(true);
    const frames = parse(sink.bytes);
    expect(frames.map((f) => f.type)).toEqual([8, 2, 3, 3, 8]);
    expect(Buffer.concat([frames[2]!.payload, frames[3]!.payload]).equals(body)).toBe(true);
    expect(w.flushTo(sink)).toBe(true); // nothing pending
  });

  it('passes small body frames (>= 3 KiB) by reference too: a 1 MiB body in 8 KiB frames is not copied', () => {
    const w = new FrameWriter(1024);
    w.frameMax = 8192;
    const body = Buffer.alloc(1 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    w.writeContent(3, 60, body.length, Buffer.from([0, 0]), 0, 2, body);
    const sink = new Sink();
    w.flushTo(sink);
    const byRef = sink.chunks.filter((c) => c.buffer === body.buffer);
    // every full frame by reference; the 1,024-octet tail frame is copied
    expect(byRef.reduce((n, c) => n + c.length, 0)).toBe(body.length - (body.length % 8184));
    const frames = parse(sink.bytes);
    expect(frames).toHaveLength(1 + Math.ceil(body.length / 8184));
    expect(Buffer.concat(frames.slice(1).map((f) => f.payload)).equals(body)).toBe(true);
  });

  it('never overwrites bytes already handed to the writer (socket may hold them)', () => {
    const w = new FrameWriter(1024);
    const sink = new Sink();
    const snapshots: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      writeBasicDeliver(w, 1, `consumer-${i}`, i + 1, false, 'ex', 'rk'.repeat(i % 50));
      if (i % 3 === 0) {
        sink.result = i % 2 === 0;
        expect(w.flushTo(sink)).toBe(sink.result);
        const last = sink.chunks[sink.chunks.length - 1]!;
        snapshots.push(Buffer.from(last));
      }
    }
    w.flushTo(sink);
    // every chunk still holds what it held when written
    let k = 0;
    for (let i = 0; i < sink.chunks.length - 1; i++) expect(sink.chunks[i]!.equals(snapshots[k++]!)).toBe(true);
    const frames = parse(sink.bytes);
    expect(frames).toHaveLength(200);
    frames.forEach((f, i) => {
      expect(decodeMethod(f.payload, 0, f.payload.length)).toMatchObject({ consumerTag: `consumer-${i}`, deliveryTag: i + 1 });
    });
  });

  it('zero-length body: header only; heartbeat bytes', () => {
    const w = new FrameWriter();
    w.writeContent(2, 60, 0, Buffer.from([0, 0]), 0, 2, Buffer.alloc(0));
    expect(parse(w.peekPending()).map((f) => f.type)).toEqual([2]);
    const h = new FrameWriter();
    h.writeHeartbeat();
    expect([...h.peekPending()]).toEqual([8, 0, 0, 0, 0, 0, 0, 0xce]);
  });
});
