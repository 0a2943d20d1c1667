/**
 * FrameReader examples: zero-copy for frames inside one chunk; oversize, bad frame-end and unknown
 * type give RabbitMQ's FRAME_ERROR texts. Chunking properties:
 * frame-reader-split.prop.test.ts; damaged streams: frame-reader.prop.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { ReplyCode } from '../../../src/core/reply-code.js';
import { FRAME_BODY_PART, FrameReader, type FrameSink } from '../../../src/protocol/frame-reader.js';

interface Frame { type: number; channel: number; payload: Buffer }

function frameBytes(f: Frame, end = 0xce): Buffer {
  const b = Buffer.alloc(f.payload.length + 8);
  b[0] = f.type;
  b.writeUInt16BE(f.channel, 1);
  b.writeUInt32BE(f.payload.length, 3);
  f.payload.copy(b, 7);
  b[b.length - 1] = end;
  return b;
}

class Collect implements FrameSink {
  frames: Frame[] = [];
  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    this.frames.push({ type, channel, payload: Buffer.from(payload.subarray(start, end)) });
  }
}

function feed(reader: FrameReader, chunks: Buffer[]): Frame[] {
  const sink = new Collect();
  for (const c of chunks) reader.push(c, sink);
  return sink.frames;
}

function errorOf(fn: () => void): AmqpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AmqpError);
    return e as AmqpError;
  }
  throw new Error('expected an AmqpError');
}

describe('FrameReader', () => {

  it('frames inside one chunk are views of that chunk (zero-copy)', () => {
    const chunk = Buffer.concat([frameBytes({ type: 1, channel: 1, payload: Buffer.from([1, 2, 3]) }), frameBytes({ type: 3, channel: 1, payload: Buffer.from([4]) })]);
    const seen: { buf: Buffer; start: number; end: number }[] = [];
    new FrameReader(4096).push(chunk, { onFrame: (_t, _c, buf, start, end) => { seen.push({ buf, start, end }); } });
    expect(seen.map((s) => [s.buf === chunk, s.start, s.end])).toEqual([[true, 7, 10], [true, 18, 19]]);
  });

  it('a frame straddling chunks is assembled in one reused buffer', () => {
    const reader = new FrameReader(131072);
    const bufs = new Set<Buffer>();
    const sink: FrameSink = { onFrame: (_t, _c, buf) => { bufs.add(buf); } };
    for (let i = 0; i < 5; i++) {
      const f = frameBytes({ type: 3, channel: 1, payload: Buffer.alloc(3000, i) });
      reader.push(f.subarray(0, 1000), sink);
      reader.push(f.subarray(1000), sink);
    }
    expect(bufs.size).toBe(1);
  });

  it('frameMax: payload up to frameMax accepted (RabbitMQ fudge), larger refused as soon as the header is in', () => {
    const ok = frameBytes({ type: 3, channel: 1, payload: Buffer.alloc(4096) });
    expect(feed(new FrameReader(4096), [ok])).toHaveLength(1);
    const reader = new FrameReader(4096);
    const big = Buffer.alloc(7);
    big[0] = 1;
    big.writeUInt16BE(1, 1);
    big.writeUInt32BE(4097, 3);
    const e = errorOf(() => feed(reader, [big.subarray(0, 3), big.subarray(3)]));
    expect(e.code).toBe(ReplyCode.FRAME_ERROR);
    expect(e.text).toBe('FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,4097,4088}');
    // settable after tune
    const r2 = new FrameReader(4096);
    r2.frameMax = 131072;
    expect(feed(r2, [frameBytes({ type: 3, channel: 1, payload: Buffer.alloc(100000) })])).toHaveLength(1);
  });

  it('bad frame-end octet (RabbitMQ text)', () => {
    const f = frameBytes({ type: 1, channel: 1, payload: Buffer.from([0, 60, 0, 10, 0, 0, 0, 0, 0, 1, 0]) }, 0);
    for (const chunks of [[f], [f.subarray(0, 5), f.subarray(5)]]) {
      const e = errorOf(() => feed(new FrameReader(4096), chunks));
      expect(e.code).toBe(ReplyCode.FRAME_ERROR);
      expect(e.text).toBe('FRAME_ERROR - type 1, all octets = <<0,60,0,10,0,0,0,0,0,1,0>>: {invalid_frame_end_marker,0}');
    }
  });

  it('unknown frame type and non-empty heartbeat (RabbitMQ texts)', () => {
    let e = errorOf(() => feed(new FrameReader(4096), [frameBytes({ type: 5, channel: 1, payload: Buffer.from([1, 2, 3]) })]));
    expect(e.text).toBe('FRAME_ERROR - type 5, all octets = <<1,2,3>>: unknown_frame');
    e = errorOf(() => feed(new FrameReader(4096), [frameBytes({ type: 5, channel: 0, payload: Buffer.from('hello world, long payload here') })]));
    expect(e.text).toBe('FRAME_ERROR - type 5, first 16 octets = <<"hello world, lon">>: unknown_frame');
    e = errorOf(() => feed(new FrameReader(4096), [frameBytes({ type: 8, channel: 0, payload: Buffer.from([1]) })]));
    expect(e.text).toBe('FRAME_ERROR - type 8, all octets = <<1>>: unknown_frame');
  });

  it('sink exceptions propagate', () => {
    const reader = new FrameReader(4096);
    expect(() => reader.push(frameBytes({ type: 3, channel: 1, payload: Buffer.from([1]) }), { onFrame: () => { throw new Error('boom'); } }))
      .toThrow('boom');
  });
});

describe('FrameReader bodyParts (large straddling body frames passed on in pieces)', () => {

  it('only body frames of 4096+ octets on channels > 0 come in pieces; others are whole, as without bodyParts', () => {
    const frames: Frame[] = [
      { type: 3, channel: 1, payload: Buffer.alloc(4095, 1) },
      { type: 3, channel: 0, payload: Buffer.alloc(5000, 2) },
      { type: 2, channel: 1, payload: Buffer.alloc(5000, 3) },
      { type: 3, channel: 1, payload: Buffer.alloc(4096, 4) },
    ];
    const stream = Buffer.concat(frames.map((f) => frameBytes(f)));
    const types: number[] = [];
    const reader = new FrameReader(0, { bodyParts: true });
    for (let p = 0; p < stream.length; p += 1000) reader.push(stream.subarray(p, p + 1000), { onFrame: (t) => { types.push(t); } });
    expect(types.slice(0, 3)).toEqual([3, 3, 2]);
    expect(types.slice(3, -1).every((t) => t === FRAME_BODY_PART)).toBe(true);
    expect(types.length).toBeGreaterThan(4);
    expect(types[types.length - 1]).toBe(3);
  });

  it('bad frame-end: the same FRAME_ERROR text, and the final FRAME_BODY piece is never delivered', () => {
    const payload = Buffer.from('hello world, long payload here'.repeat(200));
    const f = frameBytes({ type: 3, channel: 1, payload }, 7);
    const whole = errorOf(() => feed(new FrameReader(0), [f.subarray(0, 100), f.subarray(100)]));
    expect(whole.text).toBe('FRAME_ERROR - type 3, first 16 octets = <<"hello world, lon">>: {invalid_frame_end_marker,7}');
    for (const cut of [3, 8, 10, 30, 4000, f.length - 1]) {
      const types: number[] = [];
      const reader = new FrameReader(0, { bodyParts: true });
      const e = errorOf(() => {
        reader.push(f.subarray(0, cut), { onFrame: (t) => { types.push(t); } });
        reader.push(f.subarray(cut), { onFrame: (t) => { types.push(t); } });
      });
      expect(e.text).toBe(whole.text);
      expect(types.every((t) => t === FRAME_BODY_PART)).toBe(true);
    }
  });
});
